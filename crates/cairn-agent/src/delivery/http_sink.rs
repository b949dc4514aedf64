//! [`HttpLogSink`]: PutLogs over HTTP, the way loongcollector's exactly-once mode sends it.
//!
//! ```text
//! POST {endpoint}/logstores/{logstore}/shards/route?key=<producer key>&seqid=<sequence>
//! x-log-project: <project>              (the endpoint is not a per-project host)
//! Content-Type: application/x-protobuf
//! x-log-compresstype: lz4               (raw LZ4 block of the LogGroup protobuf)
//! x-log-bodyrawsize: <protobuf length>
//! x-acs-security-token: <token>         (STS credentials only; added before signing)
//! Date, Content-MD5, x-log-apiversion, x-log-signaturemethod, Authorization: LOG id:sig
//! ```
//!
//! Responses map onto [`SinkError`] as loongcollector's `SendResult.cpp` does: 2xx is
//! [`PutOutcome::Acked`]; `InvalidSequenceId` is [`PutOutcome::AlreadyCommitted`]; network
//! errors, timeouts, 5xx, 408, 429, `ServerBusy`, quota errors, `Unauthorized`,
//! `SignatureNotMatch` and `RequestTimeExpired` (expired tokens, clock skew) are transient;
//! every other 4xx is a rejection of the data. A write with no credentials available yet is
//! transient (the control loop has not fetched tokens).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use cairn_model::LogGroupData;
use cairn_protocol::compression::{compress, CompressionType};

use super::sink::{LogSink, PutOutcome, SinkError, WriteCredentials, WriteTarget};

/// Supplies write credentials per target; the control loop implements it with the
/// heartbeat's scoped tokens.
pub trait CredentialSource: Send + Sync {
    /// The credentials to write to `target` with, if any are known now.
    fn credentials_for(&self, target: &WriteTarget) -> Option<WriteCredentials>;
}

/// The same credentials for every target (tests, single-account setups).
#[derive(Debug, Clone)]
pub struct StaticCredentials(pub WriteCredentials);

impl CredentialSource for StaticCredentials {
    fn credentials_for(&self, _target: &WriteTarget) -> Option<WriteCredentials> {
        Some(self.0.clone())
    }
}

/// Error codes worth retrying whatever their HTTP status.
const TRANSIENT_CODES: [&str; 9] = [
    "ServerBusy",
    "InternalServerError",
    "RequestTimeout",
    "WriteQuotaExceed",
    "ShardWriteQuotaExceed",
    "Unauthorized",
    "SignatureNotMatch",
    "RequestTimeExpired",
    "ExceedQuota",
];

/// PutLogs over plain HTTP (see the module docs).
pub struct HttpLogSink {
    endpoint: String,
    credentials: Arc<dyn CredentialSource>,
    client: reqwest::Client,
}

impl std::fmt::Debug for HttpLogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpLogSink")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl HttpLogSink {
    /// A sink writing to `endpoint` (`http://host:port`) with a 30 s request timeout.
    pub fn new(endpoint: String, credentials: Arc<dyn CredentialSource>) -> Self {
        Self::with_timeout(endpoint, credentials, Duration::from_secs(30))
    }

    /// A sink whose requests time out after `timeout`.
    pub fn with_timeout(
        endpoint: String,
        credentials: Arc<dyn CredentialSource>,
        timeout: Duration,
    ) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "http client options refused; using defaults");
                reqwest::Client::new()
            });
        Self {
            endpoint,
            credentials,
            client,
        }
    }

    fn url(
        &self,
        target: &WriteTarget,
        producer_key: &str,
        sequence: u64,
    ) -> Result<reqwest::Url, SinkError> {
        let mut url =
            reqwest::Url::parse(&self.endpoint).map_err(|error| SinkError::Transient {
                reason: format!("bad endpoint {:?}: {error}", self.endpoint),
            })?;
        url.path_segments_mut()
            .map_err(|()| SinkError::Transient {
                reason: format!("endpoint {:?} cannot take a path", self.endpoint),
            })?
            .pop_if_empty()
            .extend(["logstores", target.logstore.as_str(), "shards", "route"]);
        url.query_pairs_mut()
            .append_pair("key", producer_key)
            .append_pair("seqid", &sequence.to_string());
        Ok(url)
    }
}

#[async_trait]
impl LogSink for HttpLogSink {
    async fn put(
        &self,
        target: &WriteTarget,
        producer_key: &str,
        sequence: u64,
        group: &LogGroupData,
    ) -> Result<PutOutcome, SinkError> {
        let Some(credentials) = self.credentials.credentials_for(target) else {
            return Err(SinkError::Transient {
                reason: format!("no write credentials for project {}", target.project),
            });
        };
        let url = self.url(target, producer_key, sequence)?;
        let raw = cairn_protocol::encode_log_group(group);
        let body = compress(CompressionType::Lz4, &raw);
        let mut headers = vec![
            ("x-log-project".to_owned(), target.project.clone()),
            (
                "Content-Type".to_owned(),
                "application/x-protobuf".to_owned(),
            ),
            ("x-log-compresstype".to_owned(), "lz4".to_owned()),
            ("x-log-bodyrawsize".to_owned(), raw.len().to_string()),
        ];
        if let Some(token) = &credentials.security_token {
            headers.push(("x-acs-security-token".to_owned(), token.clone()));
        }
        let query = vec![
            ("key".to_owned(), producer_key.to_owned()),
            ("seqid".to_owned(), sequence.to_string()),
        ];
        let signed = cairn_protocol::signing::sign_request_v1(
            &credentials.access_key_id,
            &credentials.access_key_secret,
            "POST",
            url.path(),
            &query,
            headers,
            &body,
            SystemTime::now(),
        );
        let mut request = self.client.post(url).body(body);
        for (name, value) in &signed {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send().await.map_err(|error| SinkError::Transient {
            reason: format!("request failed: {error}"),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(PutOutcome::Acked);
        }
        let request_id = response
            .headers()
            .get("x-log-requestid")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = response.bytes().await.unwrap_or_default();
        let (code, message) = parse_error(&body);
        tracing::debug!(
            status = status.as_u16(),
            code,
            message,
            request_id,
            "put logs failed"
        );
        classify(status.as_u16(), code, message)
    }
}

/// `{"errorCode","errorMessage"}`, leniently: anything else gives empty strings.
fn parse_error(body: &[u8]) -> (String, String) {
    #[derive(serde::Deserialize, Default)]
    struct ErrorBody {
        #[serde(rename = "errorCode", default)]
        code: String,
        #[serde(rename = "errorMessage", default)]
        message: String,
    }
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    (parsed.code, parsed.message)
}

/// Maps a failed response onto an outcome or error (see the module docs).
fn classify(status: u16, code: String, message: String) -> Result<PutOutcome, SinkError> {
    if code == "InvalidSequenceId" {
        return Ok(PutOutcome::AlreadyCommitted);
    }
    let transient =
        status >= 500 || status == 408 || status == 429 || TRANSIENT_CODES.contains(&code.as_str());
    if transient {
        return Err(SinkError::Transient {
            reason: format!("http {status} {code}: {message}"),
        });
    }
    let code = if code.is_empty() {
        format!("http {status}")
    } else {
        code
    };
    Err(SinkError::Rejected {
        code,
        reason: message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_classified() {
        let c = |status, code: &str| classify(status, code.to_owned(), String::new());
        assert_eq!(
            c(400, "InvalidSequenceId"),
            Ok(PutOutcome::AlreadyCommitted)
        );
        assert!(matches!(
            c(503, "ServerBusy"),
            Err(SinkError::Transient { .. })
        ));
        assert!(matches!(c(500, ""), Err(SinkError::Transient { .. })));
        assert!(matches!(
            c(401, "Unauthorized"),
            Err(SinkError::Transient { .. })
        ));
        assert!(matches!(
            c(403, "WriteQuotaExceed"),
            Err(SinkError::Transient { .. })
        ));
        assert!(matches!(
            c(400, "PostBodyInvalid"),
            Err(SinkError::Rejected { .. })
        ));
        assert!(matches!(
            c(404, "LogStoreNotExist"),
            Err(SinkError::Rejected { .. })
        ));
        assert_eq!(parse_error(b"not json"), (String::new(), String::new()));
    }
}
