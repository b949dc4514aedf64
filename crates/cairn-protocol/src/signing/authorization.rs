//! The `Authorization` header: parsing it, and verifying a request against it.
//!
//! Invariants: [`parse_authorization`] never panics and returns only well-formed credentials
//! (non-empty id and signature; for V4 an 8-digit date, a region, service `sls` and the
//! `aliyun_v4_request` terminator). [`verify`] compares signatures in constant time and also
//! binds the body: for V1 through `Content-MD5`, for V4 through the payload hash.

use base64::Engine as _;
use hmac::Mac;

use super::{header_value, v1, v4, SigningRequest};
use crate::error::ProtocolError;

/// The credentials and signature an `Authorization` header carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// `LOG <AccessKeyId>:<base64 signature>`.
    V1 {
        /// The AccessKey id.
        access_key_id: String,
        /// The base64 HMAC-SHA1 signature, as sent.
        signature: String,
    },
    /// `SLS4-HMAC-SHA256 Credential=<id>/<yyyymmdd>/<region>/sls/aliyun_v4_request,
    /// Signature=<hex>`.
    V4 {
        /// The AccessKey id.
        access_key_id: String,
        /// The scope date, `yyyymmdd`.
        date: String,
        /// The scope region, e.g. `cn-hangzhou`.
        region: String,
        /// The hex HMAC-SHA256 signature, as sent.
        signature: String,
    },
}

impl Authorization {
    /// The AccessKey id the request claims, whichever the version.
    pub fn access_key_id(&self) -> &str {
        match self {
            Self::V1 { access_key_id, .. } | Self::V4 { access_key_id, .. } => access_key_id,
        }
    }
}

/// Parses an `Authorization` header value (V1 `LOG ...` or V4 `SLS4-HMAC-SHA256 ...`).
pub fn parse_authorization(header: &str) -> Result<Authorization, ProtocolError> {
    let header = header.trim();
    let invalid = |why: &str| ProtocolError::InvalidAuthorization(why.to_owned());
    let (scheme, rest) = header
        .split_once(' ')
        .ok_or_else(|| invalid("expected `<scheme> <credentials>`"))?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("LOG") {
        // Base64 never contains ':', so the last ':' separates id and signature.
        let (id, signature) = rest
            .rsplit_once(':')
            .ok_or_else(|| invalid("expected `LOG <AccessKeyId>:<Signature>`"))?;
        let (id, signature) = (id.trim(), signature.trim());
        if id.is_empty() || signature.is_empty() {
            return Err(invalid("empty AccessKeyId or signature"));
        }
        return Ok(Authorization::V1 {
            access_key_id: id.to_owned(),
            signature: signature.to_owned(),
        });
    }
    if !scheme.eq_ignore_ascii_case(v4::ALGORITHM) {
        return Err(invalid("unknown scheme (expected LOG or SLS4-HMAC-SHA256)"));
    }
    let mut credential = None;
    let mut signature = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(value) = part.strip_prefix("Credential=") {
            credential = Some(value.trim());
        } else if let Some(value) = part.strip_prefix("Signature=") {
            signature = Some(value.trim());
        }
        // Other parts (such as a SignedHeaders list) are not part of SLS V4; ignore them.
    }
    let credential = credential.ok_or_else(|| invalid("V4 without Credential="))?;
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("V4 without Signature="))?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [id, date, region, service, terminator] = parts.as_slice() else {
        return Err(invalid(
            "V4 Credential must be <id>/<yyyymmdd>/<region>/sls/aliyun_v4_request",
        ));
    };
    if id.is_empty() || region.is_empty() {
        return Err(invalid("V4 Credential has an empty AccessKeyId or region"));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("V4 Credential date must be yyyymmdd"));
    }
    if *service != v4::SERVICE || *terminator != v4::SCOPE_TERMINATOR {
        return Err(invalid(
            "V4 Credential scope must end in /sls/aliyun_v4_request",
        ));
    }
    Ok(Authorization::V4 {
        access_key_id: (*id).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        signature: signature.to_owned(),
    })
}

/// Checks that `req` was signed with `secret` as `auth` says, in constant time.
///
/// Also refuses (as [`ProtocolError::SignatureMismatch`]) a V1 request whose body does not
/// match its `Content-MD5`, or that has a body but no `Content-MD5`; and a V4 request whose
/// `x-log-date` is absent or not on the credential's date. The AccessKey id is not checked
/// here: the caller found `secret` by it.
pub fn verify(
    secret: &str,
    auth: &Authorization,
    req: &SigningRequest,
) -> Result<(), ProtocolError> {
    match auth {
        Authorization::V1 { signature, .. } => {
            check_content_md5(req)?;
            let expected = base64::engine::general_purpose::STANDARD
                .decode(signature)
                .map_err(|_| ProtocolError::SignatureMismatch)?;
            v1::keyed_mac(secret, req)
                .verify_slice(&expected)
                .map_err(|_| ProtocolError::SignatureMismatch)
        }
        Authorization::V4 {
            date,
            region,
            signature,
            ..
        } => {
            let date_time = header_value(req.headers, "x-log-date")
                .filter(|value| value.starts_with(date.as_str()))
                .ok_or(ProtocolError::SignatureMismatch)?;
            let expected = hex::decode(signature).map_err(|_| ProtocolError::SignatureMismatch)?;
            let mut tried: Vec<String> = Vec::with_capacity(v4::Dialect::ALL.len());
            for dialect in v4::Dialect::ALL {
                let canonical = v4::canonical_request_in(req, dialect);
                if tried.contains(&canonical) {
                    continue;
                }
                let mac = v4::keyed_mac(secret, date, region, date_time, &canonical);
                if mac.verify_slice(&expected).is_ok() {
                    return Ok(());
                }
                tried.push(canonical);
            }
            Err(ProtocolError::SignatureMismatch)
        }
    }
}

/// The body is bound to a V1 signature only through `Content-MD5`: it must be present when
/// there is a body, and match the body whenever present.
fn check_content_md5(req: &SigningRequest) -> Result<(), ProtocolError> {
    match req.header("content-md5") {
        Some(sent) if sent.eq_ignore_ascii_case(&v1::content_md5(req.body)) => Ok(()),
        Some(_) => Err(ProtocolError::SignatureMismatch),
        None if req.body.is_empty() => Ok(()),
        None => Err(ProtocolError::SignatureMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_v1() {
        assert_eq!(
            parse_authorization("LOG AKID:XTCYkh6u4ZHTLQDWY+HynBC7xHQ="),
            Ok(Authorization::V1 {
                access_key_id: "AKID".into(),
                signature: "XTCYkh6u4ZHTLQDWY+HynBC7xHQ=".into(),
            })
        );
    }

    #[test]
    fn parses_v4() {
        let header = "SLS4-HMAC-SHA256 Credential=acsddda21dsd/20220808/cn-hangzhou/sls/\
                      aliyun_v4_request,Signature=a98f5632";
        assert_eq!(
            parse_authorization(header),
            Ok(Authorization::V4 {
                access_key_id: "acsddda21dsd".into(),
                date: "20220808".into(),
                region: "cn-hangzhou".into(),
                signature: "a98f5632".into(),
            })
        );
        let spaced = "SLS4-HMAC-SHA256 Credential=a/20220808/r/sls/aliyun_v4_request, \
                      Signature=00";
        assert!(parse_authorization(spaced).is_ok());
    }

    #[test]
    fn refuses_malformed_headers() {
        for bad in [
            "",
            "LOG",
            "LOG AKID",
            "LOG :sig",
            "LOG AKID:",
            "Basic dXNlcjpwYXNz",
            "SLS4-HMAC-SHA256 Signature=00",
            "SLS4-HMAC-SHA256 Credential=a/20220808/r/sls/aliyun_v4_request",
            "SLS4-HMAC-SHA256 Credential=a/2022080/r/sls/aliyun_v4_request,Signature=00",
            "SLS4-HMAC-SHA256 Credential=a/20220808/r/oss/aliyun_v4_request,Signature=00",
            "SLS4-HMAC-SHA256 Credential=a/20220808/sls/aliyun_v4_request,Signature=00",
            "SLS4-HMAC-SHA256 Credential=/20220808/r/sls/aliyun_v4_request,Signature=00",
        ] {
            assert!(
                matches!(
                    parse_authorization(bad),
                    Err(ProtocolError::InvalidAuthorization(_))
                ),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn v4_accepts_the_python_sdk_dialect() {
        // Python signs x-log-meta-* and encodes non-ASCII query values by code point.
        let headers = vec![
            ("x-log-date".to_string(), "20240101T000000Z".to_string()),
            ("x-log-meta-user".to_string(), "me".to_string()),
            ("Host".to_string(), "p.example".to_string()),
        ];
        let query = vec![("query".to_string(), "é and 中".to_string())];
        let req = SigningRequest {
            method: "GET",
            path: "/logstores/s",
            query: &query,
            headers: &headers,
            body: b"",
        };
        let python = v4::canonical_request_in(&req, v4::Dialect::Python);
        assert_ne!(python, v4::canonical_request(&req));
        assert!(python.contains("query=%E9%20and%20%4E2D\n"));
        assert!(python.contains("x-log-meta-user:me\n"));
        let tag = v4::keyed_mac("SECRET", "20240101", "r", "20240101T000000Z", &python)
            .finalize()
            .into_bytes();
        let auth = Authorization::V4 {
            access_key_id: "AKID".into(),
            date: "20240101".into(),
            region: "r".into(),
            signature: hex::encode(tag),
        };
        assert_eq!(verify("SECRET", &auth, &req), Ok(()));
        assert_eq!(
            verify("OTHER", &auth, &req),
            Err(ProtocolError::SignatureMismatch)
        );
    }

    #[test]
    fn v1_body_must_match_content_md5() {
        let headers = vec![("Content-MD5".to_string(), v1::content_md5(b"body"))];
        let req = SigningRequest {
            method: "POST",
            path: "/",
            query: &[],
            headers: &headers,
            body: b"body",
        };
        assert_eq!(check_content_md5(&req), Ok(()));
        let tampered = SigningRequest {
            body: b"other",
            ..req
        };
        assert_eq!(
            check_content_md5(&tampered),
            Err(ProtocolError::SignatureMismatch)
        );
        let unsigned_body = SigningRequest {
            headers: &[],
            ..req
        };
        assert_eq!(
            check_content_md5(&unsigned_body),
            Err(ProtocolError::SignatureMismatch)
        );
    }
}
