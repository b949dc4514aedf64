//! Signature V1: `base64(HMAC-SHA1(AccessKeySecret, StringToSign))`.
//!
//! ```text
//! StringToSign = VERB "\n" Content-MD5 "\n" Content-Type "\n" Date "\n"
//!                CanonicalizedLOGHeaders CanonicalizedResource
//! ```
//! * `Content-MD5`, `Content-Type`: the header values as sent (`""` when absent). Signers put
//!   the UPPERCASE hex MD5 of the body as sent there; [`super::verify`] checks it against the
//!   body separately.
//! * `Date`: the `Date` header, or `x-log-date` when `Date` is absent.
//! * CanonicalizedLOGHeaders: every `x-log-*` / `x-acs-*` header except `x-log-date` (the
//!   Python SDK adds it after signing) and `x-log-meta-*`, as `name:value\n`, names lower-case,
//!   sorted by name.
//! * CanonicalizedResource: the path, then, if there is any query parameter, `?` and the
//!   DECODED `k=v` pairs sorted by key, joined by `&` (the Go SDK writes the values of a
//!   repeated key back to back, `k=v1k=v2`, and so does this).

use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha1::Sha1;

use super::{canonical_header_pairs, v1_date, SigningRequest};

/// HMAC-SHA1 keyed with an AccessKey secret.
pub(crate) type HmacSha1 = Hmac<Sha1>;

/// The text V1 signs for `req`.
pub fn string_to_sign(req: &SigningRequest) -> String {
    let mut text = String::with_capacity(256);
    text.push_str(req.method);
    text.push('\n');
    text.push_str(req.header("content-md5").unwrap_or(""));
    text.push('\n');
    text.push_str(req.header("content-type").unwrap_or(""));
    text.push('\n');
    text.push_str(v1_date(req.headers).unwrap_or(""));
    text.push('\n');
    for (name, value) in canonical_header_pairs(req.headers, is_signed_header) {
        text.push_str(&name);
        text.push(':');
        text.push_str(value);
        text.push('\n');
    }
    push_canonical_resource(&mut text, req.path, req.query);
    text
}

/// The V1 signature (base64) of `req` under `secret`.
pub fn sign(secret: &str, req: &SigningRequest) -> String {
    let tag = keyed_mac(secret, req).finalize().into_bytes();
    base64::engine::general_purpose::STANDARD.encode(tag)
}

/// The `Content-MD5` value signers send for `body`: UPPERCASE hex MD5.
pub fn content_md5(body: &[u8]) -> String {
    hex::encode_upper(Md5::digest(body))
}

/// An HMAC-SHA1 over `req`'s StringToSign, ready to finalize or verify.
pub(crate) fn keyed_mac(secret: &str, req: &SigningRequest) -> HmacSha1 {
    let mut mac =
        HmacSha1::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(string_to_sign(req).as_bytes());
    mac
}

/// Whether a (lower-case) header name is part of CanonicalizedLOGHeaders.
fn is_signed_header(name: &str) -> bool {
    (name.starts_with("x-log-") || name.starts_with("x-acs-"))
        && name != "x-log-date"
        && !name.starts_with("x-log-meta-")
}

/// Appends the path and, when there are query parameters, `?` and the sorted decoded pairs.
fn push_canonical_resource(text: &mut String, path: &str, query: &[(String, String)]) {
    text.push_str(path);
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<&(String, String)> = query.iter().collect();
    // Stable: the values of a repeated key keep their order.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    text.push('?');
    let mut previous_key: Option<&str> = None;
    for (key, value) in pairs {
        if previous_key.is_some_and(|previous| previous != key) {
            text.push('&');
        }
        text.push_str(key);
        text.push('=');
        text.push_str(value);
        previous_key = Some(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn canonical_headers_skip_x_log_date_and_meta_and_others() {
        let headers = owned(&[
            ("X-Log-BodyRawSize", "10"),
            ("x-log-date", "Mon, 01 Jan 2024 00:00:00 GMT"),
            ("x-log-meta-a", "1"),
            ("x-acs-security-token", " tok "),
            ("Host", "p.example"),
            ("Date", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ]);
        let req = SigningRequest {
            method: "GET",
            path: "/",
            query: &[],
            headers: &headers,
            body: b"",
        };
        assert_eq!(
            string_to_sign(&req),
            "GET\n\n\nMon, 01 Jan 2024 00:00:00 GMT\n\
             x-acs-security-token:tok\nx-log-bodyrawsize:10\n/"
        );
    }

    #[test]
    fn repeated_query_keys_are_written_back_to_back() {
        let query = owned(&[("b", "2"), ("a", "x"), ("b", "1")]);
        let mut text = String::new();
        push_canonical_resource(&mut text, "/logstores", &query);
        assert_eq!(text, "/logstores?a=x&b=2b=1");
    }

    #[test]
    fn content_md5_is_upper_hex() {
        assert_eq!(content_md5(b""), "D41D8CD98F00B204E9800998ECF8427E");
    }
}
