//! Client-side signing: the complete header list a Cairn client (CLI, tests) sends.
//!
//! Both functions take the caller's headers, fill in what SLS requires (without overriding a
//! `Content-Type`, `x-log-apiversion` or `x-log-bodyrawsize` the caller set), sign, and return
//! the full list, `Authorization` last. The transport adds `Host` and `Content-Length`; V1
//! does not sign them. V4 signs `Host` when the list has one, and the server signs the `Host`
//! it receives, so V4 callers must pass the `Host` they will send.

use std::time::SystemTime;

use super::{v1, v4, SigningRequest};

/// The SLS API version every SDK announces.
const API_VERSION: &str = "0.6.0";
/// The `Content-Type` used when the caller gives none.
const DEFAULT_CONTENT_TYPE: &str = "application/json";

/// Signs a request with V1 and returns every header to send: the caller's `headers` plus
/// `Date`, `Content-MD5` (when `body` is non-empty), `Content-Type` (default
/// `application/json`), `x-log-apiversion: 0.6.0`, `x-log-signaturemethod: hmac-sha1`,
/// `x-log-bodyrawsize` (default `body.len()`: set it yourself for a compressed body) and
/// `Authorization: LOG <id>:<signature>`. `query` holds DECODED values.
#[allow(clippy::too_many_arguments)] // The shape other crates were written against.
pub fn sign_request_v1(
    access_key_id: &str,
    secret: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: Vec<(String, String)>,
    body: &[u8],
    now: SystemTime,
) -> Vec<(String, String)> {
    let mut headers = headers;
    set(&mut headers, "Date", httpdate::fmt_http_date(now));
    if body.is_empty() {
        remove(&mut headers, "Content-MD5");
    } else {
        set(&mut headers, "Content-MD5", v1::content_md5(body));
    }
    fill_common(&mut headers, body);
    set(
        &mut headers,
        "x-log-signaturemethod",
        "hmac-sha1".to_owned(),
    );
    remove(&mut headers, "Authorization");
    let request = SigningRequest {
        method,
        path,
        query,
        headers: &headers,
        body,
    };
    let signature = v1::sign(secret, &request);
    headers.push((
        "Authorization".to_owned(),
        format!("LOG {access_key_id}:{signature}"),
    ));
    headers
}

/// Signs a request with V4 for `region` and returns every header to send: the caller's
/// `headers` (include `Host`) plus `x-log-date`, `x-log-content-sha256`, `Content-Type`
/// (default `application/json`), `x-log-apiversion: 0.6.0`, `x-log-bodyrawsize` (default
/// `body.len()`) and `Authorization: SLS4-HMAC-SHA256 Credential=...,Signature=...`.
#[allow(clippy::too_many_arguments)] // Mirrors `sign_request_v1`, plus the region.
pub fn sign_request_v4(
    access_key_id: &str,
    secret: &str,
    region: &str,
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: Vec<(String, String)>,
    body: &[u8],
    now: SystemTime,
) -> Vec<(String, String)> {
    let mut headers = headers;
    let date_time = chrono::DateTime::<chrono::Utc>::from(now)
        .format(v4::DATE_TIME_FORMAT)
        .to_string();
    let date = date_time.get(..8).unwrap_or(&date_time).to_owned();
    set(&mut headers, "x-log-date", date_time);
    set(
        &mut headers,
        "x-log-content-sha256",
        v4::content_sha256(body),
    );
    fill_common(&mut headers, body);
    remove(&mut headers, "Authorization");
    let request = SigningRequest {
        method,
        path,
        query,
        headers: &headers,
        body,
    };
    let signature = v4::sign(secret, &request, region);
    headers.push((
        "Authorization".to_owned(),
        format!(
            "{} Credential={access_key_id}/{},Signature={signature}",
            v4::ALGORITHM,
            v4::scope(&date, region)
        ),
    ));
    headers
}

/// Adds the headers both versions send unless the caller set them.
fn fill_common(headers: &mut Vec<(String, String)>, body: &[u8]) {
    set_default(headers, "Content-Type", DEFAULT_CONTENT_TYPE.to_owned());
    set_default(headers, "x-log-apiversion", API_VERSION.to_owned());
    set_default(headers, "x-log-bodyrawsize", body.len().to_string());
}

/// Replaces every header named `name` (any case) with one `name: value`.
fn set(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    remove(headers, name);
    headers.push((name.to_owned(), value));
}

/// Adds `name: value` unless a header named `name` (any case) is already there.
fn set_default(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    if !headers
        .iter()
        .any(|(key, _)| key.eq_ignore_ascii_case(name))
    {
        headers.push((name.to_owned(), value));
    }
}

/// Removes every header named `name` (any case).
fn remove(headers: &mut Vec<(String, String)>, name: &str) {
    headers.retain(|(key, _)| !key.trim().eq_ignore_ascii_case(name));
}
