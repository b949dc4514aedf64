//! SLS request signing: the `Authorization` header, signature V1 and V4, and request times.
//!
//! * V1 (the default of every SDK and of the agent): `Authorization: LOG <AccessKeyId>:<sig>`,
//!   `sig = base64(HMAC-SHA1(secret, StringToSign))`; see [`v1`].
//! * V4 (opt-in): `Authorization: SLS4-HMAC-SHA256 Credential=<id>/<yyyymmdd>/<region>/sls/
//!   aliyun_v4_request,Signature=<hex>`; see [`v4`].
//!
//! A [`SigningRequest`] is the request exactly as it travels: header values as sent (names in
//! any case), query values *decoded*, the body as sent (compressed, if it is). The server
//! builds one from the HTTP request and calls [`parse_authorization`], [`request_time`] (to
//! refuse stale requests) and [`verify`]; Cairn's clients call [`sign_request_v1`] or
//! [`sign_request_v4`].
//!
//! Invariants: signature comparison is constant-time ([`hmac::Mac::verify_slice`]); a header
//! that appears more than once counts by its first occurrence, as `HeaderMap::get` reads it;
//! header values are compared trimmed, as HTTP servers hand them over.

mod authorization;
mod client;
pub mod v1;
pub mod v4;

pub use authorization::{parse_authorization, verify, Authorization};
pub use client::{sign_request_v1, sign_request_v4};

use crate::error::ProtocolError;

/// A request as the verifier (server) or signer (client) sees it.
#[derive(Debug, Clone, Copy)]
pub struct SigningRequest<'a> {
    /// The HTTP method, upper case (`GET`, `POST`, ...).
    pub method: &'a str,
    /// The path as sent, without the query (`/logstores/store/shards/lb`).
    pub path: &'a str,
    /// The query parameters with their values percent-DECODED, in any order.
    pub query: &'a [(String, String)],
    /// The request headers, names in any case, values as sent.
    pub headers: &'a [(String, String)],
    /// The body as sent (compressed, if it is).
    pub body: &'a [u8],
}

impl SigningRequest<'_> {
    /// The first value of header `name` (matched without regard to case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_value(self.headers, name)
    }
}

/// The first value of header `name` in `headers` (case-insensitive name), trimmed.
pub(crate) fn header_value<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
}

/// The date V1 signs and is timed by: `Date`, or `x-log-date` when `Date` is absent or empty
/// (the Python SDK copies `Date` there for proxies that drop `Date`).
pub(crate) fn v1_date(headers: &[(String, String)]) -> Option<&str> {
    header_value(headers, "date")
        .filter(|value| !value.is_empty())
        .or_else(|| header_value(headers, "x-log-date"))
}

/// Headers whose lower-cased name passes `keep`, lower-cased, trimmed, first occurrence only,
/// sorted by name. The common core of V1's and V4's canonical header lists.
pub(crate) fn canonical_header_pairs(
    headers: &[(String, String)],
    keep: impl Fn(&str) -> bool,
) -> Vec<(String, &str)> {
    let mut pairs: Vec<(String, &str)> = Vec::new();
    for (name, value) in headers {
        let name = name.trim().to_ascii_lowercase();
        if keep(&name) && !pairs.iter().any(|(seen, _)| *seen == name) {
            pairs.push((name, value.trim()));
        }
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

/// The request's time in Unix seconds, for a freshness check.
///
/// V1 reads `Date` (RFC 1123, `Mon, 01 Jan 2024 00:00:00 GMT`), falling back to `x-log-date`
/// (the Python SDK copies `Date` there for proxies that drop `Date`). V4 reads `x-log-date`
/// (`20240101T000000Z`).
pub fn request_time(
    auth: &Authorization,
    headers: &[(String, String)],
) -> Result<i64, ProtocolError> {
    match auth {
        Authorization::V1 { .. } => {
            let value = v1_date(headers).ok_or_else(|| {
                ProtocolError::InvalidDate("neither Date nor x-log-date is present".into())
            })?;
            parse_http_date(value).or_else(|_| parse_compact_date(value))
        }
        Authorization::V4 { .. } => {
            let value = header_value(headers, "x-log-date").ok_or_else(|| {
                ProtocolError::InvalidDate("x-log-date is required with V4 signatures".into())
            })?;
            parse_compact_date(value)
        }
    }
}

/// Parses an HTTP date (RFC 1123, or the looser RFC 2822 forms such as a one-digit day).
fn parse_http_date(value: &str) -> Result<i64, ProtocolError> {
    if let Ok(time) = httpdate::parse_http_date(value) {
        return match time.duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs())
                .map_err(|_| ProtocolError::InvalidDate(format!("{value:?} is out of range"))),
            Err(before) => i64::try_from(before.duration().as_secs())
                .map(|secs| -secs)
                .map_err(|_| ProtocolError::InvalidDate(format!("{value:?} is out of range"))),
        };
    }
    chrono::DateTime::parse_from_rfc2822(value)
        .map(|time| time.timestamp())
        .map_err(|e| ProtocolError::InvalidDate(format!("{value:?}: {e}")))
}

/// Parses the V4 `x-log-date` form `yyyymmddTHHMMSSZ` (UTC).
fn parse_compact_date(value: &str) -> Result<i64, ProtocolError> {
    chrono::NaiveDateTime::parse_from_str(value, v4::DATE_TIME_FORMAT)
        .map(|time| time.and_utc().timestamp())
        .map_err(|e| ProtocolError::InvalidDate(format!("{value:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn v1() -> Authorization {
        Authorization::V1 {
            access_key_id: "AKID".into(),
            signature: "x".into(),
        }
    }

    fn v4() -> Authorization {
        Authorization::V4 {
            access_key_id: "AKID".into(),
            date: "20240101".into(),
            region: "cn-hangzhou".into(),
            signature: "00".into(),
        }
    }

    #[test]
    fn v1_time_comes_from_date_then_x_log_date() {
        let with_date = headers(&[("Date", "Mon, 01 Jan 2024 00:00:00 GMT")]);
        assert_eq!(request_time(&v1(), &with_date), Ok(1_704_067_200));
        let proxied = headers(&[("x-log-date", "Mon, 01 Jan 2024 00:01:00 GMT")]);
        assert_eq!(request_time(&v1(), &proxied), Ok(1_704_067_260));
        let loose = headers(&[("date", "Sun, 3 Jan 2010 08:33:47 GMT")]);
        assert_eq!(request_time(&v1(), &loose), Ok(1_262_507_627));
        assert!(matches!(
            request_time(&v1(), &headers(&[])),
            Err(ProtocolError::InvalidDate(_))
        ));
        assert!(matches!(
            request_time(&v1(), &headers(&[("Date", "yesterday")])),
            Err(ProtocolError::InvalidDate(_))
        ));
    }

    #[test]
    fn v4_time_comes_from_x_log_date() {
        let h = headers(&[
            ("X-Log-Date", "20240101T000000Z"),
            ("Date", "Tue, 02 Jan 2024 00:00:00 GMT"),
        ]);
        assert_eq!(request_time(&v4(), &h), Ok(1_704_067_200));
        assert!(matches!(
            request_time(
                &v4(),
                &headers(&[("Date", "Mon, 01 Jan 2024 00:00:00 GMT")])
            ),
            Err(ProtocolError::InvalidDate(_))
        ));
        assert!(matches!(
            request_time(&v4(), &headers(&[("x-log-date", "2024-01-01")])),
            Err(ProtocolError::InvalidDate(_))
        ));
    }

    #[test]
    fn headers_are_found_in_any_case_and_trimmed() {
        let h = headers(&[
            ("Content-Type", " application/json "),
            ("content-type", "x"),
        ]);
        assert_eq!(header_value(&h, "CONTENT-TYPE"), Some("application/json"));
        assert_eq!(header_value(&h, "missing"), None);
    }
}
