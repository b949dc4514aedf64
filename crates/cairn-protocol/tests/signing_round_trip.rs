//! Signing with the client helpers, then verifying: valid requests pass, any tampering with a
//! signed part fails, unsigned parts may change.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_protocol::signing::{
    parse_authorization, request_time, sign_request_v1, sign_request_v4, v1, v4, verify,
    Authorization, SigningRequest,
};
use cairn_protocol::ProtocolError;

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> &'h str {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header"))
}

const DATE: &str = "Mon, 01 Jan 2024 00:00:00 GMT";

// ---- Round trips through the client helpers. ----

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

#[test]
fn v1_client_headers_verify_and_tampering_is_caught() {
    let query = owned(&[("type", "log"), ("query", "a and b")]);
    let body = b"{\"x\":1}";
    let headers = sign_request_v1(
        "AKID",
        "SECRET",
        "POST",
        "/logstores/s/logs",
        &query,
        owned(&[
            ("x-log-compresstype", "lz4"),
            ("content-type", "application/json"),
        ]),
        body,
        at(1_704_067_200),
    );
    assert_eq!(header(&headers, "Date"), DATE);
    assert_eq!(header(&headers, "Content-MD5"), v1::content_md5(body));
    assert_eq!(header(&headers, "x-log-apiversion"), "0.6.0");
    assert_eq!(header(&headers, "x-log-signaturemethod"), "hmac-sha1");
    assert_eq!(header(&headers, "x-log-bodyrawsize"), "7");
    assert_eq!(
        headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .count(),
        1
    );
    let auth = parse_authorization(header(&headers, "Authorization")).expect("valid");
    assert_eq!(auth.access_key_id(), "AKID");
    let req = SigningRequest {
        method: "POST",
        path: "/logstores/s/logs",
        query: &query,
        headers: &headers,
        body,
    };
    assert_eq!(verify("SECRET", &auth, &req), Ok(()));
    assert_eq!(request_time(&auth, &headers), Ok(1_704_067_200));

    let mismatch = Err(ProtocolError::SignatureMismatch);
    assert_eq!(
        verify(
            "SECRET",
            &auth,
            &SigningRequest {
                body: b"{\"x\":2}",
                ..req
            }
        ),
        mismatch
    );
    assert_eq!(
        verify(
            "SECRET",
            &auth,
            &SigningRequest {
                method: "PUT",
                ..req
            }
        ),
        mismatch
    );
    let other_query = owned(&[("type", "log"), ("query", "a or b")]);
    let tampered = SigningRequest {
        query: &other_query,
        ..req
    };
    assert_eq!(verify("SECRET", &auth, &tampered), mismatch);
    let mut other_headers = headers.clone();
    other_headers.push(("x-log-extra".into(), "1".into()));
    let tampered = SigningRequest {
        headers: &other_headers,
        ..req
    };
    assert_eq!(verify("SECRET", &auth, &tampered), mismatch);
    // Headers V1 does not sign may change freely.
    let mut unsigned = headers.clone();
    unsigned.push(("User-Agent".into(), "anything".into()));
    unsigned.push(("x-log-date".into(), DATE.into()));
    let req = SigningRequest {
        headers: &unsigned,
        ..req
    };
    assert_eq!(verify("SECRET", &auth, &req), Ok(()));
}

#[test]
fn v1_garbage_signature_is_a_mismatch() {
    let headers = owned(&[("Date", DATE)]);
    let req = SigningRequest {
        method: "GET",
        path: "/",
        query: &[],
        headers: &headers,
        body: b"",
    };
    for signature in ["not base64!", "AAAA", ""] {
        let auth = Authorization::V1 {
            access_key_id: "AKID".into(),
            signature: signature.into(),
        };
        assert_eq!(
            verify("SECRET", &auth, &req),
            Err(ProtocolError::SignatureMismatch)
        );
    }
}

#[test]
fn v4_client_headers_verify_and_tampering_is_caught() {
    let query = owned(&[
        ("type", "log"),
        ("query", "status:500 and 你好"),
        ("empty", ""),
    ]);
    let body = b"payload";
    let headers = sign_request_v4(
        "AKID",
        "SECRET",
        "cn-hangzhou",
        "POST",
        "/logstores/s/shards/lb",
        &query,
        owned(&[("Host", "proj.example.com"), ("x-log-meta-a", "b")]),
        body,
        at(1_704_067_200),
    );
    assert_eq!(header(&headers, "x-log-date"), "20240101T000000Z");
    assert_eq!(
        header(&headers, "x-log-content-sha256"),
        v4::content_sha256(body)
    );
    let auth = parse_authorization(header(&headers, "Authorization")).expect("valid");
    assert!(matches!(
        &auth,
        Authorization::V4 { access_key_id, date, region, .. }
            if access_key_id == "AKID" && date == "20240101" && region == "cn-hangzhou"
    ));
    let req = SigningRequest {
        method: "POST",
        path: "/logstores/s/shards/lb",
        query: &query,
        headers: &headers,
        body,
    };
    assert_eq!(verify("SECRET", &auth, &req), Ok(()));
    assert_eq!(request_time(&auth, &headers), Ok(1_704_067_200));

    let mismatch = Err(ProtocolError::SignatureMismatch);
    assert_eq!(verify("OTHER", &auth, &req), mismatch);
    assert_eq!(
        verify(
            "SECRET",
            &auth,
            &SigningRequest {
                body: b"payloaD",
                ..req
            }
        ),
        mismatch
    );
    assert_eq!(
        verify("SECRET", &auth, &SigningRequest { path: "/x", ..req }),
        mismatch
    );
    let mut moved_host = headers.clone();
    for (name, value) in &mut moved_host {
        if name == "Host" {
            *value = "other.example.com".into();
        }
    }
    assert_eq!(
        verify(
            "SECRET",
            &auth,
            &SigningRequest {
                headers: &moved_host,
                ..req
            }
        ),
        mismatch
    );
    // The credential's date must be the x-log-date's date.
    let wrong_day = match auth.clone() {
        Authorization::V4 {
            access_key_id,
            region,
            signature,
            ..
        } => Authorization::V4 {
            access_key_id,
            date: "20240102".into(),
            region,
            signature,
        },
        Authorization::V1 { .. } => unreachable!(),
    };
    assert_eq!(verify("SECRET", &wrong_day, &req), mismatch);
}
