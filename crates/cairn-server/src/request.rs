//! An incoming API request, read whole and parsed once.
//!
//! SLS routes on the Host header (the project is its first label), the path and the `type`
//! query parameter, and signs over the body as sent; so every API request is buffered (bounded
//! by [`MAX_BODY_BYTES`]) and turned into an [`ApiRequest`] before anything else looks at it.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::http::{HeaderMap, Method};
use bytes::Bytes;
use cairn_model::ProjectName;

use crate::error::ApiError;

/// The largest body accepted as sent on the wire (SLS's limit: 10 MB).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// The largest body accepted after decompression (SLS's limit: 50 MB).
pub const MAX_RAW_BODY_BYTES: usize = 50 * 1024 * 1024;

/// A buffered request with decoded query parameters.
#[derive(Debug)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// The path, percent-decoded, without the query.
    pub path: String,
    /// Query parameters with decoded values, in the order sent.
    pub query: Vec<(String, String)>,
    /// Headers with lowercase names.
    pub headers: Vec<(String, String)>,
    /// The body as sent (compressed when the client compressed it).
    pub body: Bytes,
    /// The project named by the Host's first label or `x-log-project`, if any.
    pub project: Option<String>,
    /// The client's address.
    pub peer: SocketAddr,
}

impl ApiRequest {
    /// Buffers and parses a request; refuses bodies over [`MAX_BODY_BYTES`].
    pub async fn read(
        request: axum::http::Request<Body>,
        peer: SocketAddr,
        endpoint_domains: &[String],
    ) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let declared = content_length(&parts.headers);
        let body = read_bounded_body(body, declared).await?;
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let query = parse_query(parts.uri.query().unwrap_or(""));
        let path = percent_encoding::percent_decode_str(parts.uri.path())
            .decode_utf8_lossy()
            .into_owned();
        let project = project_from_host(header(&headers, "host"), endpoint_domains)
            .or_else(|| header(&headers, "x-log-project").map(str::to_owned))
            .filter(|p| !p.is_empty());
        Ok(Self {
            method: parts.method,
            path,
            query,
            headers,
            body,
            project,
            peer,
        })
    }

    /// A header's value by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// A query parameter's value; the first if repeated.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The project this request addresses, validated.
    pub fn project_name(&self) -> Result<ProjectName, ApiError> {
        let Some(project) = &self.project else {
            return Err(ApiError::parameter_invalid(
                "this API needs a project: address it as <project>.<endpoint> in the Host header or send x-log-project",
            ));
        };
        ProjectName::parse(project).map_err(|_| ApiError::project_not_exist(project))
    }

    /// The client's IP address.
    pub fn source_ip(&self) -> IpAddr {
        self.peer.ip()
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Bytes of an oversized body the server reads and discards so the client, which writes its
/// whole body before reading the answer, receives `PostBodyTooLarge` rather than a reset
/// connection. Past this the connection is closed.
const MAX_DISCARDED_BYTES: u64 = 64 * 1024 * 1024;

/// Reads the body up to [`MAX_BODY_BYTES`]; an oversized body is drained (bounded) and refused.
async fn read_bounded_body(body: Body, declared: Option<u64>) -> Result<Bytes, ApiError> {
    use futures::StreamExt;
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64 + MAX_DISCARDED_BYTES) {
        return Err(body_too_large(declared.unwrap_or_default()));
    }
    let mut stream = body.into_data_stream();
    let mut buffer = bytes::BytesMut::with_capacity(
        declared.map_or(0, |length| length.min(MAX_BODY_BYTES as u64) as usize),
    );
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ApiError::post_body_invalid(format!("the request body could not be read: {error}"))
        })?;
        total += chunk.len() as u64;
        if total > MAX_BODY_BYTES as u64 + MAX_DISCARDED_BYTES {
            break;
        }
        if total <= MAX_BODY_BYTES as u64 {
            buffer.extend_from_slice(&chunk);
        }
    }
    if total > MAX_BODY_BYTES as u64 {
        return Err(body_too_large(declared.unwrap_or(total)));
    }
    Ok(buffer.freeze())
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn body_too_large(length: u64) -> ApiError {
    ApiError::post_body_too_large(format!(
        "the request body is {length} bytes, over the limit of {MAX_BODY_BYTES} bytes"
    ))
}

/// Splits a query string into decoded pairs (`+` is a space, as form encoding has it).
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(key), decode_component(value))
        })
        .collect()
}

fn decode_component(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// The project in a Host header.
///
/// A host equal to one of the server's `endpoint_domains` is the bare endpoint;
/// `<project>.<domain>` names a project. Any other host names a project by its first label,
/// unless it is an IP address or a single label (`127.0.0.1:7480`, `localhost`).
fn project_from_host(host: Option<&str>, endpoint_domains: &[String]) -> Option<String> {
    let host = host?.trim();
    if host.starts_with('[') {
        return None; // IPv6 literal: never a project host
    }
    let without_port = host
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(host, |(name, _)| name)
        .to_ascii_lowercase();
    if without_port.parse::<IpAddr>().is_ok() {
        return None;
    }
    for domain in endpoint_domains {
        if without_port == *domain {
            return None;
        }
        if let Some(prefix) = without_port.strip_suffix(domain.as_str()) {
            if let Some(project) = prefix.strip_suffix('.') {
                return project.split('.').next().map(str::to_owned);
            }
        }
    }
    let (first, rest) = without_port.split_once('.')?;
    if rest.is_empty() {
        return None;
    }
    Some(first.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_comes_from_the_first_host_label() {
        let domains = ["localhost".to_owned(), "logs.example.com".to_owned()];
        let project = |host| project_from_host(Some(host), &domains);
        assert_eq!(project("proj.127.0.0.1"), Some("proj".into()));
        assert_eq!(
            project("web-logs.cn-hangzhou.log.example.org:7480"),
            Some("web-logs".into())
        );
        assert_eq!(project("127.0.0.1:7480"), None);
        assert_eq!(project("127.0.0.1"), None);
        assert_eq!(project("localhost:7480"), None);
        assert_eq!(project("app.localhost:7480"), Some("app".into()));
        assert_eq!(project("[::1]:7480"), None);
        assert_eq!(project("logs.example.com"), None);
        assert_eq!(project("LOGS.example.com:443"), None);
        assert_eq!(project("audit.logs.example.com"), Some("audit".into()));
        assert_eq!(project_from_host(None, &domains), None);
    }

    #[test]
    fn query_values_are_decoded() {
        let pairs = parse_query("query=error%20and%20status%3A500&type=log&flag&x=a+b");
        assert_eq!(pairs[0], ("query".into(), "error and status:500".into()));
        assert_eq!(pairs[1], ("type".into(), "log".into()));
        assert_eq!(pairs[2], ("flag".into(), String::new()));
        assert_eq!(pairs[3], ("x".into(), "a b".into()));
    }
}
