//! API responses: a status, a body and the SLS headers every client expects.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::error::ApiError;

/// A successful API answer, before the request id is attached.
#[derive(Debug)]
pub struct ApiResponse {
    status: StatusCode,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

impl ApiResponse {
    /// 200 with an empty body.
    pub fn empty() -> Self {
        Self {
            status: StatusCode::OK,
            content_type: "application/json",
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// 200 with a JSON body.
    pub fn json(value: &serde_json::Value) -> Self {
        Self {
            body: Bytes::from(value.to_string()),
            ..Self::empty()
        }
    }

    /// 200 with a binary body of the given content type.
    pub fn bytes(content_type: &'static str, body: Vec<u8>) -> Self {
        Self {
            content_type,
            body: Bytes::from(body),
            ..Self::empty()
        }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// The final HTTP response with `x-log-requestid` and `x-log-time`.
    pub fn into_http(self, request_id: &str) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        insert(headers, "content-type", self.content_type);
        for (name, value) in &self.headers {
            insert(headers, name, value);
        }
        insert_common(headers, request_id);
        response
    }
}

impl ApiError {
    /// The SLS error response: `{"errorCode","errorMessage"}` with the request id.
    pub fn into_http(self, request_id: &str) -> Response {
        let body = serde_json::json!({
            "errorCode": self.code,
            "errorMessage": self.message,
            "requestId": request_id,
        });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        insert(headers, "content-type", "application/json");
        insert_common(headers, request_id);
        response
    }
}

fn insert_common(headers: &mut axum::http::HeaderMap, request_id: &str) {
    insert(headers, "x-log-requestid", request_id);
    insert(
        headers,
        "x-log-time",
        &chrono::Utc::now().timestamp().to_string(),
    );
    insert(headers, "server", "cairn");
}

fn insert(headers: &mut axum::http::HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
        headers.insert(name, value);
    }
}
