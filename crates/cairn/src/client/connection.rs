//! How the client reaches a Cairn server: signed requests, retries and server errors.
//!
//! Every request is signed with SLS signature V1 (`cairn_protocol::signing`). Project-scoped
//! calls go to the endpoint itself and name their project in the `x-log-project` header (the
//! server also accepts the project as the Host's first label), so loopback and IP endpoints
//! work without DNS tricks. A non-2xx answer becomes an [`ApiError`] whose message is the
//! server's `errorCode: errorMessage`.

use std::fmt;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::Value;

use super::credentials::{is_loopback, parse_endpoint};
pub use super::credentials::{ConnectionOptions, Credentials};

/// Tries for a retried request (the first one included).
const MAX_TRIES: u32 = 5;
/// Wait before the first retry; doubled after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Percent-encodes a query component: RFC 3986 unreserved characters stay, all else is `%XX`
/// (a space is `%20`, never `+`).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Checks a name that goes into a request path as is (a policy, role, job or invitation):
/// 1-128 letters, digits or `. _ @ -`, not only dots, so that it needs no encoding.
pub fn path_name<'a>(kind: &str, text: &'a str) -> Result<&'a str> {
    let valid = (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
        && !text.bytes().all(|b| b == b'.');
    if !valid {
        anyhow::bail!("invalid {kind} {text:?}: use 1-128 letters, digits or . _ @ -");
    }
    Ok(text)
}

/// An error the server answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// SLS-style error code, e.g. `ProjectNotExist`.
    pub code: String,
    /// What went wrong, in the server's words.
    pub message: String,
    /// The server's `x-log-requestid`, for its logs.
    pub request_id: Option<String>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        match &self.request_id {
            // A server-side failure is worth reporting; the request id finds it in the logs.
            Some(id) if self.status >= 500 => write!(f, " (request id {id})"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// Reads `{"errorCode","errorMessage"}`; a body of another shape keeps its text.
    fn from_response(status: u16, request_id: Option<String>, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Body {
            error_code: String,
            #[serde(default)]
            error_message: String,
        }
        match serde_json::from_slice::<Body>(body) {
            Ok(parsed) => Self {
                status,
                code: parsed.error_code,
                message: parsed.error_message,
                request_id,
            },
            Err(_) => {
                let text: String = String::from_utf8_lossy(body)
                    .trim()
                    .chars()
                    .take(300)
                    .collect();
                Self {
                    status,
                    code: format!("HTTP{status}"),
                    message: if text.is_empty() {
                        "(no error body)".to_owned()
                    } else {
                        text
                    },
                    request_id,
                }
            }
        }
    }
}

/// One API call to make.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    method: Method,
    project: Option<String>,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    raw_size: usize,
    retry: bool,
}

impl ApiRequest {
    /// A call with no body; `path` starts with `/`.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Self {
            method,
            project: None,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            raw_size: 0,
            retry: false,
        }
    }

    /// Addresses a project (sent as `x-log-project`).
    pub fn project(mut self, project: &str) -> Self {
        self.project = Some(project.to_owned());
        self
    }

    /// Adds a query parameter (given decoded; encoded when sent).
    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    /// Sends `value` as a JSON body.
    pub fn json(mut self, value: &Value) -> Result<Self> {
        self.body = serde_json::to_vec(value)?;
        self.raw_size = self.body.len();
        self.headers
            .push(("Content-Type".to_owned(), "application/json".to_owned()));
        Ok(self)
    }

    /// Sends `raw` compressed with `kind`, declaring its content type and raw size.
    pub fn compressed(
        mut self,
        content_type: &str,
        kind: cairn_protocol::compression::CompressionType,
        raw: &[u8],
    ) -> Self {
        self.body = cairn_protocol::compression::compress(kind, raw);
        self.raw_size = raw.len();
        self.headers
            .push(("Content-Type".to_owned(), content_type.to_owned()));
        if let Some(name) = kind.as_header() {
            self.headers
                .push(("x-log-compresstype".to_owned(), name.to_owned()));
        }
        self
    }

    /// Retries the call on 5xx answers and network failures other than a refused connection
    /// (for idempotent calls and PutLogs).
    pub fn retried(mut self) -> Self {
        self.retry = true;
        self
    }
}

/// A successful answer.
#[derive(Debug)]
pub struct ApiResponse {
    /// The body, as received.
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// The body as JSON; an empty body is `null`.
    pub fn json(&self) -> Result<Value> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).context("the server's answer is not valid JSON")
    }
}

/// A signed-request client for one server and AccessKey.
pub struct Client {
    http: reqwest::Client,
    endpoint: Url,
    credentials: Credentials,
}

/// What one attempt came to.
enum Attempt {
    Done(ApiResponse),
    Transient(anyhow::Error),
    Failed(anyhow::Error),
}

impl Client {
    /// A client for the server and credentials the options name.
    pub fn connect(options: &ConnectionOptions) -> Result<Self> {
        let endpoint = parse_endpoint(&options.endpoint)?;
        let credentials = options.resolve_credentials()?;
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("cairn-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120));
        if is_loopback(&endpoint) {
            // An HTTP_PROXY meant for the outside world must not swallow local calls.
            builder = builder.no_proxy();
        }
        let http = builder.build().context("cannot set up the HTTP client")?;
        Ok(Self {
            http,
            endpoint,
            credentials,
        })
    }

    /// Sends a request, retrying if it asks for it; a non-2xx answer is an [`ApiError`].
    pub async fn send(&self, request: ApiRequest) -> Result<ApiResponse> {
        let tries = if request.retry { MAX_TRIES } else { 1 };
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match self.attempt(&request).await {
                Attempt::Done(response) => return Ok(response),
                Attempt::Failed(error) => return Err(error),
                Attempt::Transient(error) if attempt >= tries => return Err(error),
                Attempt::Transient(error) => {
                    eprintln!(
                        "warning: {error:#}; retrying in {:.1}s (try {}/{tries})",
                        backoff.as_secs_f64(),
                        attempt + 1
                    );
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        }
    }

    async fn attempt(&self, request: &ApiRequest) -> Attempt {
        let mut extra = request.headers.clone();
        extra.push(("x-log-bodyrawsize".to_owned(), request.raw_size.to_string()));
        if let Some(project) = &request.project {
            extra.push(("x-log-project".to_owned(), project.clone()));
        }
        // Temporary credentials add their security token here, before signing.
        let signed = self.credentials.sign_v1(
            request.method.as_str(),
            &request.path,
            &request.query,
            extra,
            &request.body,
            SystemTime::now(),
        );
        let mut url = self.endpoint.clone();
        url.set_path(&request.path);
        if !request.query.is_empty() {
            let query: Vec<String> = request
                .query
                .iter()
                .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
                .collect();
            url.set_query(Some(&query.join("&")));
        }
        let mut builder = self.http.request(request.method.clone(), url);
        for (name, value) in signed {
            builder = builder.header(name, value);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body.clone());
        }
        let what = format!("{} {}", request.method, request.path);
        let response = match builder.send().await {
            Ok(response) => response,
            Err(error) => {
                let endpoint = &self.endpoint;
                if error.is_connect() {
                    // Nothing listens there: fail fast rather than retry a server that is not up.
                    let cause = root_cause(&error);
                    return Attempt::Failed(anyhow::anyhow!(
                        "cannot connect to {endpoint}: {cause} (is `cairn serve` running there?)"
                    ));
                }
                let failed = error.is_builder();
                let error =
                    anyhow::Error::new(error).context(format!("{what} to {endpoint} failed"));
                return if failed {
                    Attempt::Failed(error)
                } else {
                    Attempt::Transient(error)
                };
            }
        };
        let status = response.status();
        let request_id = response
            .headers()
            .get("x-log-requestid")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let compression = header("x-log-compresstype");
        let raw_size = header("x-log-bodyrawsize").and_then(|v| v.trim().parse::<usize>().ok());
        let body = match response.bytes().await {
            Ok(body) => body.to_vec(),
            Err(error) => {
                let error =
                    anyhow::Error::new(error).context(format!("reading the answer to {what}"));
                return Attempt::Transient(error);
            }
        };
        if !status.is_success() {
            let error =
                anyhow::Error::new(ApiError::from_response(status.as_u16(), request_id, &body));
            return if status.is_server_error() {
                Attempt::Transient(error)
            } else {
                Attempt::Failed(error)
            };
        }
        // The client asks for no compression, but reads a compressed answer all the same.
        match decompress_answer(compression.as_deref(), raw_size, body) {
            Ok(body) => Attempt::Done(ApiResponse { body }),
            Err(error) => Attempt::Failed(error.context(format!("reading the answer to {what}"))),
        }
    }
}

/// Largest decompressed answer accepted.
const MAX_ANSWER_BYTES: usize = 512 * 1024 * 1024;

/// An answer body as sent, or decompressed if `x-log-compresstype` says so.
fn decompress_answer(
    compression: Option<&str>,
    raw_size: Option<usize>,
    body: Vec<u8>,
) -> Result<Vec<u8>> {
    use cairn_protocol::compression::{decompress, CompressionType};
    let kind = CompressionType::from_header(compression)?;
    if kind == CompressionType::None {
        return Ok(body);
    }
    Ok(decompress(kind, &body, raw_size, MAX_ANSWER_BYTES)?)
}

/// The innermost cause of an error, e.g. "Connection refused (os error 111)".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_answers_are_read() {
        use cairn_protocol::compression::{compress, CompressionType};
        let json = br#"{"meta":{},"data":[]}"#.to_vec();
        assert_eq!(
            decompress_answer(None, None, json.clone()).expect("raw"),
            json
        );
        let lz4 = compress(CompressionType::Lz4, &json);
        let read = decompress_answer(Some("lz4"), Some(json.len()), lz4).expect("lz4");
        assert_eq!(read, json);
        assert!(decompress_answer(Some("brotli"), None, json).is_err());
    }

    #[test]
    fn path_names_need_no_encoding() {
        assert_eq!(path_name("role", "ops-Reader_1").ok(), Some("ops-Reader_1"));
        for bad in ["", "a/b", "a b", "a?b", "..", "..%2F", &"x".repeat(129)] {
            assert!(path_name("role", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(
            percent_encode("error and status:500"),
            "error%20and%20status%3A500"
        );
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(percent_encode("é+&="), "%C3%A9%2B%26%3D");
    }

    #[test]
    fn put_logs_bodies_are_lz4_blocks_the_server_can_read() {
        use cairn_model::{Field, LogEntry, LogGroupData, LogTime};
        use cairn_protocol::compression::{decompress, CompressionType};
        let group = LogGroupData {
            topic: bytes::Bytes::from_static(b"t"),
            logs: vec![LogEntry {
                time: LogTime::new(1_704_067_200, 7),
                contents: vec![Field::new("content", "hello hello hello hello")],
            }],
            ..LogGroupData::default()
        };
        let raw = cairn_protocol::encode_log_group(&group);
        let request = ApiRequest::new(Method::POST, "/logstores/app/shards/lb")
            .project("demo")
            .compressed("application/x-protobuf", CompressionType::Lz4, &raw);
        assert_eq!(request.raw_size, raw.len());
        assert!(request
            .headers
            .contains(&("x-log-compresstype".to_owned(), "lz4".to_owned())));
        let body = decompress(
            CompressionType::Lz4,
            &request.body,
            Some(request.raw_size),
            1 << 20,
        )
        .expect("decompresses");
        assert_eq!(
            cairn_protocol::decode_log_group(bytes::Bytes::copy_from_slice(&body))
                .expect("decodes"),
            group
        );
    }

    #[test]
    fn server_errors_keep_code_and_message() {
        let body = br#"{"errorCode":"ProjectNotExist","errorMessage":"project p does not exist"}"#;
        let error = ApiError::from_response(404, Some("r1".to_owned()), body);
        assert_eq!(
            error.to_string(),
            "ProjectNotExist: project p does not exist"
        );
        let odd = ApiError::from_response(502, Some("r2".to_owned()), b"Bad Gateway");
        assert_eq!(odd.to_string(), "HTTP502: Bad Gateway (request id r2)");
    }
}
