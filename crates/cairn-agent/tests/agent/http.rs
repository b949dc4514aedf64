//! `HttpLogSink` against a small real HTTP server that verifies the V1 signature, decodes the
//! LZ4 body and dedupes (key, seqid) like Cairn's server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes as BodyBytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_agent::delivery::{
    CredentialSource, HttpLogSink, LogSink, PutOutcome, SinkError, StaticCredentials,
    WriteCredentials, WriteTarget,
};
use cairn_model::{Field, LogEntry, LogGroupData, LogTime};
use cairn_protocol::compression::{decompress, CompressionType};
use cairn_protocol::signing::{parse_authorization, verify, SigningRequest};

#[derive(Default)]
struct Peer {
    last: HashMap<String, u64>,
    received: Vec<(String, u64, LogGroupData)>,
    busy: bool,
}

type Shared = Arc<Mutex<Peer>>;

fn error(status: StatusCode, code: &str) -> Response {
    let body = format!(r#"{{"errorCode":"{code}","errorMessage":"test"}}"#);
    (status, [("x-log-requestid", "r1")], body).into_response()
}

async fn handle(State(peer): State<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
        return error(StatusCode::BAD_REQUEST, "PostBodyInvalid");
    };
    let body: BodyBytes = body;
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let url = reqwest::Url::parse(&format!("http://peer{}", parts.uri)).expect("uri");
    let query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let request = SigningRequest {
        method: parts.method.as_str(),
        path: url.path(),
        query: &query,
        headers: &headers,
        body: &body,
    };
    let Some(auth) = header("authorization").and_then(|h| parse_authorization(&h).ok()) else {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    let signed = auth.access_key_id() == "AKID" && verify("SECRET", &auth, &request).is_ok();
    let shaped = url.path() == "/logstores/store/shards/route"
        && header("x-log-project").as_deref() == Some("proj")
        && header("content-type").as_deref() == Some("application/x-protobuf")
        && header("x-log-compresstype").as_deref() == Some("lz4")
        && header("x-acs-security-token").as_deref() == Some("TOKEN");
    if !signed || !shaped {
        return error(StatusCode::FORBIDDEN, "SignatureNotMatch");
    }
    let raw_size = header("x-log-bodyrawsize").and_then(|v| v.parse().ok());
    let Ok(raw) = decompress(CompressionType::Lz4, &body, raw_size, 1 << 20) else {
        return error(StatusCode::BAD_REQUEST, "PostBodyInvalid");
    };
    let Ok(group) = cairn_protocol::decode_log_group(raw.into()) else {
        return error(StatusCode::BAD_REQUEST, "PostBodyInvalid");
    };
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let (Some(key), Some(seq)) = (
        param("key"),
        param("seqid").and_then(|s| s.parse::<u64>().ok()),
    ) else {
        return error(StatusCode::BAD_REQUEST, "ParameterInvalid");
    };
    let mut peer = peer.lock().expect("peer");
    if peer.busy {
        return error(StatusCode::SERVICE_UNAVAILABLE, "ServerBusy");
    }
    if peer.last.get(&key).is_some_and(|last| seq <= *last) {
        return error(StatusCode::BAD_REQUEST, "InvalidSequenceId");
    }
    if group
        .logs
        .iter()
        .any(|l| l.contents.iter().any(|f| &f.value[..] == b"bad"))
    {
        return error(StatusCode::BAD_REQUEST, "PostBodyInvalid");
    }
    peer.last.insert(key.clone(), seq);
    peer.received.push((key, seq, group));
    (StatusCode::OK, [("x-log-requestid", "r2")]).into_response()
}

fn group(value: &str) -> LogGroupData {
    LogGroupData {
        topic: "t".into(),
        source: "10.0.0.1".into(),
        tags: vec![Field::new("host", "h1")],
        logs: vec![LogEntry {
            time: LogTime::new(1_700_000_000, 5),
            contents: vec![Field::new("content", value)],
        }],
    }
}

fn credentials_again() -> Arc<StaticCredentials> {
    Arc::new(StaticCredentials(WriteCredentials {
        access_key_id: "AKID".into(),
        access_key_secret: "SECRET".into(),
        security_token: None,
    }))
}

struct NoCredentials;

impl CredentialSource for NoCredentials {
    fn credentials_for(&self, _target: &WriteTarget) -> Option<WriteCredentials> {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_sink_signs_compresses_and_maps_replays_to_already_committed() {
    let peer: Shared = Arc::default();
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(peer.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let credentials = Arc::new(StaticCredentials(WriteCredentials {
        access_key_id: "AKID".into(),
        access_key_secret: "SECRET".into(),
        security_token: Some("TOKEN".into()),
    }));
    let sink = HttpLogSink::new(endpoint.clone(), credentials);
    let target = WriteTarget {
        project: "proj".into(),
        logstore: "store".into(),
    };
    let key = "host-1:nginx:2049:77:00000000deadbeef";
    assert_eq!(
        sink.put(&target, key, 1, &group("one")).await,
        Ok(PutOutcome::Acked)
    );
    assert_eq!(
        sink.put(&target, key, 2, &group("two")).await,
        Ok(PutOutcome::Acked)
    );
    assert_eq!(
        sink.put(&target, key, 2, &group("two")).await,
        Ok(PutOutcome::AlreadyCommitted),
        "a replay is answered InvalidSequenceId"
    );
    assert!(matches!(
        sink.put(&target, key, 3, &group("bad")).await,
        Err(SinkError::Rejected { code, .. }) if code == "PostBodyInvalid"
    ));
    peer.lock().expect("peer").busy = true;
    assert!(matches!(
        sink.put(&target, key, 3, &group("three")).await,
        Err(SinkError::Transient { .. })
    ));
    peer.lock().expect("peer").busy = false;

    let received = peer.lock().expect("peer").received.clone();
    assert_eq!(received.len(), 2);
    assert_eq!((received[0].0.as_str(), received[0].1), (key, 1));
    assert_eq!(received[1].2, group("two"));

    let anonymous = HttpLogSink::new(endpoint, Arc::new(NoCredentials));
    let unreachable = HttpLogSink::new("http://127.0.0.1:1".into(), credentials_again());
    assert!(matches!(
        anonymous.put(&target, key, 9, &group("x")).await,
        Err(SinkError::Transient { .. })
    ));
    assert!(matches!(
        unreachable.put(&target, key, 9, &group("x")).await,
        Err(SinkError::Transient { .. })
    ));
}
