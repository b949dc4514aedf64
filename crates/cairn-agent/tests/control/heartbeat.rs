//! The heartbeat client: the request it builds, and rounds against a real HTTP server that
//! checks signatures and answers with configs, tokens, memberships and `ReportFullState`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use cairn_agent::control::{
    AgentSettings, ControlClient, ControlError, HeldConfig, HeldStatus, HostIdentity,
};
use cairn_protocol::agent::{
    request_flags, response_flags, CommonResponse, ConfigDetail, ConfigStatus, FetchConfigRequest,
    FetchConfigResponse, GroupMembership, HeartbeatRequest, HeartbeatResponse, WriteToken,
};
use cairn_protocol::signing::{parse_authorization, verify, Authorization, SigningRequest};

use super::support::settings;

/// One request the server received.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The test server's state: what it received and what it answers, per path.
#[derive(Default)]
struct Script {
    received: Vec<Received>,
    answers: HashMap<String, VecDeque<(u16, Vec<u8>)>>,
}

type Shared = Arc<Mutex<Script>>;

async fn answer(
    State(script): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut script = script.lock().expect("lock");
    let headers = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let path = uri.path().to_owned();
    script.received.push(Received {
        path: path.clone(),
        headers,
        body: body.to_vec(),
    });
    let (status, body) = script
        .answers
        .get_mut(&path)
        .and_then(VecDeque::pop_front)
        .unwrap_or((404, b"no scripted answer".to_vec()));
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
        body,
    )
        .into_response()
}

/// Starts the server; returns its endpoint and the shared script.
async fn server() -> (String, Shared) {
    let script: Shared = Arc::default();
    let app = axum::Router::new()
        .route("/Agent/Heartbeat", axum::routing::post(answer))
        .route("/Agent/FetchPipelineConfig", axum::routing::post(answer))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), script)
}

fn push(script: &Shared, path: &str, status: u16, body: Vec<u8>) {
    script
        .lock()
        .expect("lock")
        .answers
        .entry(path.to_owned())
        .or_default()
        .push_back((status, body));
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
}

fn identity() -> HostIdentity {
    HostIdentity {
        authorized_accounts: vec!["1234567890123456".into(), "2000000000000001".into()],
        user_defined_ids: vec!["web-frontend".into()],
        hostname: "web-7".into(),
        ip: "10.0.0.7".into(),
        ignored_users: Vec::new(),
    }
}

fn held() -> Vec<HeldConfig> {
    vec![
        HeldConfig {
            name: "1234567890123456/web/nginx".into(),
            version: 3,
            status: HeldStatus::Applied,
            message: String::new(),
        },
        HeldConfig {
            name: "1234567890123456/web/broken".into(),
            version: 1,
            status: HeldStatus::Failed,
            message: "bad regex".into(),
        },
    ]
}

fn detail(name: &str, version: i64, body: &[u8]) -> ConfigDetail {
    ConfigDetail {
        name: name.into(),
        version,
        detail: body.to_vec(),
        extra: HashMap::from([("project".to_owned(), b"web".to_vec())]),
    }
}

fn ok() -> Option<CommonResponse> {
    Some(CommonResponse {
        status: 0,
        error_message: Vec::new(),
    })
}

/// Checks that `request` carries a valid V1 signature of the agent credential.
fn assert_signed(request: &Received, settings: &AgentSettings) {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "application/x-protobuf");
    assert!(!header("content-md5").is_empty() && !header("date").is_empty());
    let authorization = header("authorization");
    let signature = authorization
        .strip_prefix(&format!("LOG {}:", settings.access_key_id))
        .unwrap_or_else(|| panic!("V1 header shape: {authorization}"));
    assert!(
        signature.len() == 28 && signature.ends_with('='),
        "{signature}"
    );
    let auth = parse_authorization(&authorization).expect("parses");
    assert!(
        matches!(&auth, Authorization::V1 { access_key_id, .. } if *access_key_id == settings.access_key_id)
    );
    let signed = SigningRequest {
        method: "POST",
        path: &request.path,
        query: &[],
        headers: &request.headers,
        body: &request.body,
    };
    verify(&settings.access_key_secret, &auth, &signed).expect("signature verifies");
    assert!(verify("wrong-secret", &auth, &signed).is_err());
}

#[test]
fn the_request_carries_the_identity_and_the_held_configs() {
    let root = tempfile::tempdir().expect("tempdir");
    let settings = settings("http://127.0.0.1:1", root.path());
    let mut client = ControlClient::new(&settings, http());
    let request = client.build_heartbeat(&identity(), &held());
    let decoded = HeartbeatRequest::from_bytes(&request.to_bytes()).expect("decodes");
    assert_eq!(decoded, request);
    let request_id = String::from_utf8(decoded.request_id.clone()).expect("text");
    assert_eq!(request_id.len(), 36, "a UUID: {request_id}");
    assert_eq!(decoded.sequence_num, 0);
    assert_eq!(decoded.capabilities, 3);
    assert_eq!(decoded.agent_type, "Cairn");
    assert_eq!(decoded.running_status, "running");
    assert!(decoded.startup_time > 1_600_000_000);
    let instance_id = String::from_utf8(decoded.instance_id.clone()).expect("text");
    let parts: Vec<&str> = instance_id.split('_').collect();
    assert_eq!(parts.len(), 3, "{instance_id}");
    assert_eq!(parts[0].len(), 36);
    assert_eq!(parts[1], "10.0.0.7");
    assert_eq!(parts[2], decoded.startup_time.to_string());
    assert_eq!(client.instance_id(), Some(instance_id.as_str()));
    let attributes = decoded.attributes.clone().expect("attributes");
    assert_eq!(attributes.ip, b"10.0.0.7");
    assert_eq!(attributes.hostname, b"web-7");
    assert_eq!(attributes.version, env!("CARGO_PKG_VERSION").as_bytes());
    assert_eq!(attributes.hostid, client.host_id().as_bytes());
    assert!(!client.host_id().is_empty());
    assert_eq!(decoded.tags.len(), 1);
    assert_eq!(
        (
            decoded.tags[0].name.as_str(),
            decoded.tags[0].value.as_str()
        ),
        ("env", "test")
    );
    assert_eq!(
        decoded.flags,
        request_flags::FULL_STATE,
        "the first request is full state"
    );
    let configs = &decoded.continuous_pipeline_configs;
    assert_eq!(configs.len(), 2);
    assert_eq!(
        (configs[0].name.as_str(), configs[0].version),
        ("1234567890123456/web/nginx", 3)
    );
    assert_eq!(configs[0].status, ConfigStatus::Applied as i32);
    assert_eq!(configs[1].status, ConfigStatus::Failed as i32);
    assert_eq!(configs[1].message, "bad regex");
    assert_eq!(
        decoded.authorized_accounts,
        ["1234567890123456", "2000000000000001"]
    );
    assert_eq!(decoded.user_defined_ids, ["web-frontend"]);
    assert!(!decoded.request_write_tokens);

    // The host id persists in the data dir; the instance id is fixed for the process.
    let again = ControlClient::new(&settings, http());
    assert_eq!(again.host_id(), client.host_id());
    let mut moved = identity();
    moved.ip = "10.0.0.8".into();
    let second = client.build_heartbeat(&moved, &[]);
    assert_eq!(second.instance_id, decoded.instance_id);
    assert_ne!(second.request_id, decoded.request_id);
    assert_eq!(second.attributes.expect("attributes").ip, b"10.0.0.8");
    client.request_write_tokens();
    assert!(
        client
            .build_heartbeat(&identity(), &[])
            .request_write_tokens
    );
}

#[tokio::test]
async fn heartbeat_rounds_against_a_real_server() {
    let (endpoint, script) = server().await;
    let root = tempfile::tempdir().expect("tempdir");
    let settings = settings(&endpoint, root.path());
    let mut client = ControlClient::new(&settings, http());

    // Round 1: inline detail, a detail to fetch, a deletion, a reserved version; tokens,
    // memberships, and a request for the full state.
    let first = HeartbeatResponse {
        common_response: ok(),
        continuous_pipeline_config_updates: vec![
            detail("1234567890123456/web/nginx", 4, br#"{"inputs":[]}"#),
            detail("1234567890123456/web/app", 2, b""),
            detail("1234567890123456/web/old", -1, b""),
            detail("1234567890123456/web/zero", 0, b"{}"),
        ],
        flags: response_flags::REPORT_FULL_STATE
            | response_flags::FETCH_CONTINUOUS_PIPELINE_CONFIG_DETAIL,
        write_tokens: vec![WriteToken {
            project: "web".into(),
            logstore: "nginx".into(),
            access_key_id: "STS.tmp".into(),
            access_key_secret: "tmp-secret".into(),
            security_token: "token".into(),
            expiration: 4_000_000_000,
            account: "1234567890123456".into(),
        }],
        memberships: vec![GroupMembership {
            account: "2000000000000001".into(),
            project: "ops".into(),
            group: "all-web".into(),
            ok: false,
            reason: "no users/2000000000000001".into(),
        }],
        write_tokens_replaced: true,
        ..HeartbeatResponse::default()
    };
    push(&script, "/Agent/Heartbeat", 200, first.to_bytes());
    let fetched = FetchConfigResponse {
        common_response: ok(),
        continuous_pipeline_config_updates: vec![detail(
            "1234567890123456/web/app",
            2,
            br#"{"flushers":[]}"#,
        )],
        ..FetchConfigResponse::default()
    };
    push(
        &script,
        "/Agent/FetchPipelineConfig",
        200,
        fetched.to_bytes(),
    );

    let update = client
        .heartbeat(&identity(), &held())
        .await
        .expect("round 1");
    let changes: Vec<(&str, i64, Option<&[u8]>)> = update
        .configs
        .iter()
        .map(|c| (c.name.as_str(), c.version, c.detail.as_deref()))
        .collect();
    assert_eq!(
        changes,
        [
            (
                "1234567890123456/web/nginx",
                4,
                Some(&br#"{"inputs":[]}"#[..])
            ),
            (
                "1234567890123456/web/app",
                2,
                Some(&br#"{"flushers":[]}"#[..])
            ),
            ("1234567890123456/web/old", -1, None),
        ]
    );
    assert!(update.configs[2].is_delete());
    assert_eq!(
        update.configs[0].extra.get("project").map(String::as_str),
        Some("web")
    );
    assert_eq!(update.write_tokens.len(), 1);
    assert_eq!(update.write_tokens[0].access_key_id, "STS.tmp");
    assert!(update.write_tokens_replaced);
    assert_eq!(update.memberships.len(), 1);
    assert!(!update.memberships[0].ok);
    assert_eq!(update.memberships[0].group, "all-web");
    assert!(update.full_state_requested);
    assert_eq!(client.sequence_num(), 1);

    // Round 2: the server fails; the sequence number does not move.
    let refused = HeartbeatResponse {
        common_response: Some(CommonResponse {
            status: 500,
            error_message: b"store unavailable".to_vec(),
        }),
        ..HeartbeatResponse::default()
    };
    push(&script, "/Agent/Heartbeat", 500, refused.to_bytes());
    let error = client
        .heartbeat(&identity(), &held())
        .await
        .expect_err("round 2 fails");
    assert!(
        matches!(&error, ControlError::Server { status: 500, message } if message == "store unavailable"),
        "{error}"
    );
    assert_eq!(client.sequence_num(), 1);

    // Round 3 succeeds without flags; round 4 then is not full state.
    let plain = HeartbeatResponse {
        common_response: ok(),
        ..HeartbeatResponse::default()
    };
    push(&script, "/Agent/Heartbeat", 200, plain.to_bytes());
    push(&script, "/Agent/Heartbeat", 200, plain.to_bytes());
    let third = client
        .heartbeat(&identity(), &held())
        .await
        .expect("round 3");
    assert!(third.configs.is_empty() && !third.full_state_requested);
    client
        .heartbeat(&identity(), &held())
        .await
        .expect("round 4");
    assert_eq!(client.sequence_num(), 3);

    let received = script.lock().expect("lock").received.clone();
    let paths: Vec<&str> = received.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/Agent/Heartbeat",
            "/Agent/FetchPipelineConfig",
            "/Agent/Heartbeat",
            "/Agent/Heartbeat",
            "/Agent/Heartbeat",
        ]
    );
    for request in &received {
        assert_signed(request, &settings);
    }
    let heartbeats: Vec<HeartbeatRequest> = received
        .iter()
        .filter(|r| r.path == "/Agent/Heartbeat")
        .map(|r| HeartbeatRequest::from_bytes(&r.body).expect("decodes"))
        .collect();
    let sequence: Vec<(u64, u64)> = heartbeats
        .iter()
        .map(|h| (h.sequence_num, h.flags))
        .collect();
    // 0: first, full; 1: after ReportFullState, full; 1 again: round 2 failed, still full;
    // 2: after a plain answer, not full.
    assert_eq!(sequence, [(0, 1), (1, 1), (1, 1), (2, 0)]);
    assert!(heartbeats
        .iter()
        .all(|h| h.instance_id == heartbeats[0].instance_id));
    let fetch = FetchConfigRequest::from_bytes(&received[1].body).expect("decodes");
    assert_eq!(fetch.instance_id, heartbeats[0].instance_id);
    let wanted: Vec<(&str, i64)> = fetch
        .continuous_pipeline_configs
        .iter()
        .map(|c| (c.name.as_str(), c.version))
        .collect();
    assert_eq!(wanted, [("1234567890123456/web/app", 2)]);
}

#[tokio::test]
async fn an_unfetchable_detail_is_left_out_and_the_round_still_counts() {
    let (endpoint, script) = server().await;
    let root = tempfile::tempdir().expect("tempdir");
    let mut client = ControlClient::new(&settings(&endpoint, root.path()), http());
    let response = HeartbeatResponse {
        common_response: ok(),
        continuous_pipeline_config_updates: vec![detail("a", 1, b""), detail("b", 1, b"{}")],
        flags: response_flags::FETCH_CONTINUOUS_PIPELINE_CONFIG_DETAIL,
        ..HeartbeatResponse::default()
    };
    push(&script, "/Agent/Heartbeat", 200, response.to_bytes());
    push(&script, "/Agent/FetchPipelineConfig", 503, b"busy".to_vec());
    let update = client.heartbeat(&identity(), &[]).await.expect("round");
    let names: Vec<&str> = update.configs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["b"]);
    assert_eq!(client.sequence_num(), 1);
}

#[tokio::test]
async fn a_fetched_detail_carries_the_version_the_fetch_gives() {
    let (endpoint, script) = server().await;
    let root = tempfile::tempdir().expect("tempdir");
    let mut client = ControlClient::new(&settings(&endpoint, root.path()), http());
    let response = HeartbeatResponse {
        common_response: ok(),
        continuous_pipeline_config_updates: vec![detail("a", 1, b""), detail("gone", 1, b"")],
        ..HeartbeatResponse::default()
    };
    let fetched = FetchConfigResponse {
        common_response: ok(),
        continuous_pipeline_config_updates: vec![detail("a", 2, b"{}"), detail("gone", -1, b"")],
        ..FetchConfigResponse::default()
    };
    push(&script, "/Agent/Heartbeat", 200, response.to_bytes());
    push(
        &script,
        "/Agent/FetchPipelineConfig",
        200,
        fetched.to_bytes(),
    );
    let update = client.heartbeat(&identity(), &[]).await.expect("round");
    let changes: Vec<(&str, i64)> = update
        .configs
        .iter()
        .map(|c| (c.name.as_str(), c.version))
        .collect();
    assert_eq!(changes, [("a", 2)]);
}

#[tokio::test]
async fn transport_and_garbage_answers_are_errors() {
    let (endpoint, script) = server().await;
    let root = tempfile::tempdir().expect("tempdir");
    let mut client = ControlClient::new(&settings(&endpoint, root.path()), http());
    push(
        &script,
        "/Agent/Heartbeat",
        401,
        br#"{"errorCode":"SignatureNotMatch","errorMessage":"no"}"#.to_vec(),
    );
    let error = client
        .heartbeat(&identity(), &[])
        .await
        .expect_err("a JSON error");
    assert!(
        matches!(error, ControlError::BadResponse { status: 401, .. }),
        "{error}"
    );
    assert_eq!(client.sequence_num(), 0);

    // Nothing listens on the port of a listener that was dropped.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = closed.local_addr().expect("address");
    drop(closed);
    let mut offline =
        ControlClient::new(&settings(&format!("http://{address}"), root.path()), http());
    let error = offline
        .heartbeat(&identity(), &[])
        .await
        .expect_err("refused");
    assert!(matches!(error, ControlError::Transport { .. }), "{error}");
}
