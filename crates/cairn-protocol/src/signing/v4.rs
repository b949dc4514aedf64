//! Signature V4: `hex(HMAC-SHA256(SigningKey, StringToSign))`, as the Go and Python SDKs do it.
//!
//! ```text
//! CanonicalRequest = METHOD "\n" PATH "\n" CanonicalQuery "\n"
//!                    CanonicalHeaders "\n" SignedHeaders "\n" hex(sha256(body))
//! StringToSign     = "SLS4-HMAC-SHA256\n" x-log-date "\n" Scope "\n" hex(sha256(CanonicalRequest))
//! Scope            = yyyymmdd "/" region "/sls/aliyun_v4_request"
//! SigningKey       = HMAC chain: ("aliyun_v4" + secret) -> yyyymmdd -> region -> "sls"
//!                    -> "aliyun_v4_request"
//! ```
//! * CanonicalQuery: keys sorted (byte order), each `key=percentEncode(value)`, or just `key`
//!   when the value is empty; joined by `&`. Keys are NOT encoded; a repeated key counts by its
//!   first value. percentEncode keeps `A-Z a-z 0-9 - _ . ~` and writes every other UTF-8 byte
//!   as `%XX` (upper-case hex), so a space is `%20`.
//! * CanonicalHeaders: `host`, `content-type`, every `x-log-*` (but `x-log-meta-*`) and
//!   `x-acs-*` header, lower-case names, trimmed values, sorted, each `name:value\n`;
//!   SignedHeaders lists the same names joined by `;`. `x-log-date` and
//!   `x-log-content-sha256` are among them.
//! * `yyyymmdd` is the first 8 characters of `x-log-date` (`yyyymmddTHHMMSSZ`).
//!
//! That is the Go SDK (`signature_v4.go`). The current Python SDK differs in two corners,
//! which [`super::verify`] also accepts: it signs `x-log-meta-*` headers too, and it encodes a
//! non-ASCII character as `%` + the hex of its code point rather than of its UTF-8 bytes.

use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest as _, Sha256};

use super::{canonical_header_pairs, header_value, SigningRequest};

/// The algorithm name that opens a V4 `Authorization` header and the StringToSign.
pub const ALGORITHM: &str = "SLS4-HMAC-SHA256";
/// The last element of a V4 credential scope.
pub const SCOPE_TERMINATOR: &str = "aliyun_v4_request";
/// The service element of a V4 credential scope.
pub const SERVICE: &str = "sls";
/// The `x-log-date` format for V4 (`chrono` syntax): `20240101T000000Z`.
pub const DATE_TIME_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Characters percentEncode writes as `%XX`: all but RFC 3986's unreserved set.
const QUERY_VALUE_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// HMAC-SHA256, the V4 primitive.
type HmacSha256 = Hmac<Sha256>;

/// The ways real clients build the canonical request; they differ only in rare corners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// The Go SDK, and the documented algorithm.
    Go,
    /// The Python SDK's `AuthV4`: signs `x-log-meta-*`; encodes non-ASCII by code point.
    Python,
}

impl Dialect {
    /// Every dialect, the documented one first.
    pub(crate) const ALL: [Dialect; 2] = [Dialect::Go, Dialect::Python];
}

/// The canonical request V4 hashes and signs, for `req` (the headers as sent, including
/// `x-log-date` and `x-log-content-sha256`).
pub fn canonical_request(req: &SigningRequest) -> String {
    canonical_request_in(req, Dialect::Go)
}

/// The V4 signature (lower-case hex) of `req` under `secret` for `region`, dated by the
/// request's `x-log-date` header (an absent header signs as an empty date).
pub fn sign(secret: &str, req: &SigningRequest, region: &str) -> String {
    let date_time = header_value(req.headers, "x-log-date").unwrap_or("");
    let date = date_time.get(..8).unwrap_or(date_time);
    let canonical = canonical_request(req);
    let tag = keyed_mac(secret, date, region, date_time, &canonical)
        .finalize()
        .into_bytes();
    hex::encode(tag)
}

/// The credential scope: `yyyymmdd/region/sls/aliyun_v4_request`.
pub fn scope(date: &str, region: &str) -> String {
    format!("{date}/{region}/{SERVICE}/{SCOPE_TERMINATOR}")
}

/// The `x-log-content-sha256` value for `body`: lower-case hex SHA-256 (of `""` when empty).
pub fn content_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The text V4 signs: algorithm, date-time, scope and the hash of the canonical request.
pub fn string_to_sign(date_time: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{date_time}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// An HMAC-SHA256 over the StringToSign, keyed with the derived signing key, ready to
/// finalize or verify.
pub(crate) fn keyed_mac(
    secret: &str,
    date: &str,
    region: &str,
    date_time: &str,
    canonical_request: &str,
) -> HmacSha256 {
    let mut key = hmac_sha256(format!("aliyun_v4{secret}").as_bytes(), date.as_bytes());
    for part in [region, SERVICE, SCOPE_TERMINATOR] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC accepts keys of any length");
    let text = string_to_sign(date_time, &scope(date, region), canonical_request);
    mac.update(text.as_bytes());
    mac
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// The canonical request as `dialect` builds it.
pub(crate) fn canonical_request_in(req: &SigningRequest, dialect: Dialect) -> String {
    let mut text = String::with_capacity(512);
    text.push_str(req.method);
    text.push('\n');
    text.push_str(req.path);
    text.push('\n');
    push_canonical_query(&mut text, req.query, dialect);
    text.push('\n');
    let headers = canonical_header_pairs(req.headers, |name| is_signed_header(name, dialect));
    for (name, value) in &headers {
        text.push_str(name);
        text.push(':');
        text.push_str(value);
        text.push('\n');
    }
    text.push('\n');
    let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    text.push_str(&names.join(";"));
    text.push('\n');
    text.push_str(&content_sha256(req.body));
    text
}

/// Whether a (lower-case) header name is signed in V4.
fn is_signed_header(name: &str, dialect: Dialect) -> bool {
    if dialect == Dialect::Go && name.starts_with("x-log-meta-") {
        return false;
    }
    name.starts_with("x-log-")
        || name.starts_with("x-acs-")
        || name == "host"
        || name == "content-type"
}

/// Appends the sorted, encoded query (first value of each key).
fn push_canonical_query(text: &mut String, query: &[(String, String)], dialect: Dialect) {
    let mut pairs: Vec<&(String, String)> = Vec::with_capacity(query.len());
    for pair in query {
        if !pairs.iter().any(|seen| seen.0 == pair.0) {
            pairs.push(pair);
        }
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    for (index, (key, value)) in pairs.into_iter().enumerate() {
        if index > 0 {
            text.push('&');
        }
        text.push_str(key);
        if !value.is_empty() {
            text.push('=');
            push_encoded_value(text, value, dialect);
        }
    }
}

/// percentEncode of one query value, in `dialect`'s way.
fn push_encoded_value(text: &mut String, value: &str, dialect: Dialect) {
    match dialect {
        Dialect::Go => text.extend(utf8_percent_encode(value, QUERY_VALUE_ESCAPES)),
        Dialect::Python => {
            for c in value.chars() {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~') {
                    text.push(c);
                } else {
                    text.push_str(&format!("%{:02X}", u32::from(c)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(value: &str, dialect: Dialect) -> String {
        let mut text = String::new();
        push_encoded_value(&mut text, value, dialect);
        text
    }

    /// The Go SDK's own `percentEncode` cases (`signature_v4_test.go`, TestSignV4Case6).
    #[test]
    fn percent_encoding_matches_the_go_sdk() {
        assert_eq!(
            encoded("123abc!@#$%^&*()-=_+ ~|\\/", Dialect::Go),
            "123abc%21%40%23%24%25%5E%26%2A%28%29-%3D_%2B%20~%7C%5C%2F"
        );
        assert_eq!(
            encoded("!@#$%^&*()=-+ ~./_[()]%20你好\u{0}\u{0111}❤😓", Dialect::Go),
            "%21%40%23%24%25%5E%26%2A%28%29%3D-%2B%20~.%2F_%5B%28%29%5D%2520%E4%BD%A0%E5%A5%BD\
             %00%C4%91%E2%9D%A4%F0%9F%98%93"
        );
    }

    #[test]
    fn python_dialect_differs_only_for_non_ascii() {
        let ascii = "a b~c*d/e+f";
        assert_eq!(encoded(ascii, Dialect::Python), encoded(ascii, Dialect::Go));
        assert_eq!(encoded("é中", Dialect::Python), "%E9%4E2D");
    }

    #[test]
    fn empty_values_list_only_the_key_and_repeats_keep_the_first() {
        let query = vec![
            ("b".to_string(), "".to_string()),
            ("a".to_string(), "x y".to_string()),
            ("a".to_string(), "ignored".to_string()),
        ];
        let mut text = String::new();
        push_canonical_query(&mut text, &query, Dialect::Go);
        assert_eq!(text, "a=x%20y&b");
    }

    #[test]
    fn scope_and_empty_body_hash() {
        assert_eq!(
            scope("20240101", "cn-hangzhou"),
            "20240101/cn-hangzhou/sls/aliyun_v4_request"
        );
        assert_eq!(
            content_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
