//! Round trips of the agent protocol, and compatibility with a stock LoongCollector: its
//! messages (without Cairn's fields from 100 up) decode, and Cairn's responses decode for it.

use std::collections::HashMap;

use prost::Message;

use super::*;

/// The heartbeat as a stock LoongCollector knows it: the official fields only.
#[derive(Clone, PartialEq, ::prost::Message)]
struct StockHeartbeatRequest {
    #[prost(bytes = "vec", tag = "1")]
    request_id: Vec<u8>,
    #[prost(uint64, tag = "2")]
    sequence_num: u64,
    #[prost(uint64, tag = "3")]
    capabilities: u64,
    #[prost(bytes = "vec", tag = "4")]
    instance_id: Vec<u8>,
    #[prost(string, tag = "5")]
    agent_type: String,
    #[prost(message, optional, tag = "6")]
    attributes: Option<AgentAttributes>,
    #[prost(message, repeated, tag = "7")]
    tags: Vec<AgentGroupTag>,
    #[prost(string, tag = "8")]
    running_status: String,
    #[prost(int64, tag = "9")]
    startup_time: i64,
    #[prost(message, repeated, tag = "10")]
    continuous_pipeline_configs: Vec<ConfigInfo>,
    #[prost(uint64, tag = "13")]
    flags: u64,
}

/// The response as a stock LoongCollector knows it.
#[derive(Clone, PartialEq, ::prost::Message)]
struct StockHeartbeatResponse {
    #[prost(bytes = "vec", tag = "1")]
    request_id: Vec<u8>,
    #[prost(message, optional, tag = "2")]
    common_response: Option<CommonResponse>,
    #[prost(uint64, tag = "3")]
    capabilities: u64,
    #[prost(message, repeated, tag = "4")]
    continuous_pipeline_config_updates: Vec<ConfigDetail>,
    #[prost(uint64, tag = "7")]
    flags: u64,
}

fn attributes() -> AgentAttributes {
    AgentAttributes {
        version: b"3.0.0".to_vec(),
        ip: b"10.0.0.7".to_vec(),
        hostname: b"web-7".to_vec(),
        hostid: b"b1946ac92492d2347c6235b4d2611184".to_vec(),
        extras: HashMap::from([("osDetail".to_owned(), b"Linux 6.1".to_vec())]),
    }
}

fn held(name: &str, version: i64, status: ConfigStatus) -> ConfigInfo {
    ConfigInfo {
        name: name.to_owned(),
        version,
        status: status as i32,
        message: String::new(),
        extra: HashMap::new(),
    }
}

#[test]
fn heartbeat_request_round_trips_with_extensions() {
    let request = HeartbeatRequest {
        request_id: b"5e0c".to_vec(),
        sequence_num: 42,
        capabilities: agent_capabilities::ACCEPTS_CONTINUOUS_PIPELINE_CONFIG
            | agent_capabilities::ACCEPTS_INSTANCE_CONFIG,
        instance_id: b"uuid_10.0.0.7_1700000000".to_vec(),
        agent_type: "cairn".to_owned(),
        attributes: Some(attributes()),
        tags: vec![AgentGroupTag {
            name: "env".to_owned(),
            value: "prod".to_owned(),
        }],
        running_status: "running".to_owned(),
        startup_time: 1_700_000_000,
        continuous_pipeline_configs: vec![
            held("1000000000000001/web/nginx", 3, ConfigStatus::Applied),
            held(
                "1000000000000001/web/old",
                DELETED_VERSION,
                ConfigStatus::Unset,
            ),
        ],
        instance_configs: Vec::new(),
        onetime_pipeline_configs: Vec::new(),
        flags: request_flags::FULL_STATE,
        opaque: Vec::new(),
        authorized_accounts: vec!["1000000000000001".to_owned()],
        user_defined_ids: vec!["web-servers".to_owned(), "eu".to_owned()],
        request_write_tokens: true,
    };
    let decoded = HeartbeatRequest::from_bytes(&request.to_bytes()).expect("decode");
    assert_eq!(decoded, request);
    assert_eq!(
        ConfigStatus::try_from(decoded.continuous_pipeline_configs[0].status),
        Ok(ConfigStatus::Applied)
    );
}

#[test]
fn a_stock_request_without_extensions_decodes() {
    let stock = StockHeartbeatRequest {
        request_id: b"r-1".to_vec(),
        sequence_num: 0,
        capabilities: 3,
        instance_id: b"abc_10.0.0.7_1700000000".to_vec(),
        agent_type: "LoongCollector".to_owned(),
        attributes: Some(attributes()),
        tags: Vec::new(),
        running_status: "running".to_owned(),
        startup_time: 1_700_000_000,
        continuous_pipeline_configs: vec![held("a/b/c", 1, ConfigStatus::Applying)],
        flags: 0,
    };
    let decoded = HeartbeatRequest::from_bytes(&stock.encode_to_vec()).expect("decode");
    assert_eq!(decoded.agent_type, "LoongCollector");
    assert_eq!(decoded.attributes, Some(attributes()));
    assert_eq!(decoded.continuous_pipeline_configs.len(), 1);
    assert!(decoded.authorized_accounts.is_empty());
    assert!(decoded.user_defined_ids.is_empty());
    assert!(!decoded.request_write_tokens);
}

#[test]
fn a_compressed_heartbeat_has_no_attributes() {
    let request = HeartbeatRequest {
        instance_id: b"abc".to_vec(),
        sequence_num: 7,
        ..HeartbeatRequest::default()
    };
    let decoded = HeartbeatRequest::from_bytes(&request.to_bytes()).expect("decode");
    assert_eq!(decoded.attributes, None);
    assert_eq!(decoded.sequence_num, 7);
}

#[test]
fn heartbeat_response_round_trips_and_a_stock_agent_reads_it() {
    let response = HeartbeatResponse {
        request_id: b"r-1".to_vec(),
        common_response: Some(CommonResponse::default()),
        capabilities: server_capabilities::REMEMBERS_ATTRIBUTE,
        continuous_pipeline_config_updates: vec![
            ConfigDetail {
                name: "1000000000000001/web/nginx".to_owned(),
                version: 4,
                detail: br#"{"inputs":[{"Type":"input_file"}],"flushers":[]}"#.to_vec(),
                extra: HashMap::from([
                    ("project".to_owned(), b"web".to_vec()),
                    ("logstore".to_owned(), b"access".to_vec()),
                ]),
            },
            ConfigDetail {
                name: "1000000000000001/web/old".to_owned(),
                version: DELETED_VERSION,
                detail: Vec::new(),
                extra: HashMap::new(),
            },
        ],
        instance_config_updates: Vec::new(),
        onetime_pipeline_config_updates: Vec::new(),
        flags: response_flags::REPORT_FULL_STATE,
        opaque: Vec::new(),
        write_tokens: vec![WriteToken {
            project: "web".to_owned(),
            logstore: "access".to_owned(),
            access_key_id: "STS.abc".to_owned(),
            access_key_secret: "secret".to_owned(),
            security_token: "CAIStoken".to_owned(),
            expiration: 1_700_003_600,
            account: "1000000000000001".to_owned(),
        }],
        memberships: vec![GroupMembership {
            account: "1000000000000001".to_owned(),
            project: "web".to_owned(),
            group: "web-servers".to_owned(),
            ok: false,
            reason: "the host has no users/1000000000000001 file".to_owned(),
        }],
        write_tokens_replaced: true,
    };
    let bytes = response.to_bytes();
    assert_eq!(
        HeartbeatResponse::from_bytes(&bytes).expect("decode"),
        response
    );

    let stock = StockHeartbeatResponse::decode(bytes.as_slice()).expect("stock decode");
    assert_eq!(stock.continuous_pipeline_config_updates.len(), 2);
    assert_eq!(
        stock.continuous_pipeline_config_updates[1].version,
        DELETED_VERSION
    );
    assert_eq!(stock.flags, response_flags::REPORT_FULL_STATE);
}

#[test]
fn fetch_config_round_trips() {
    let request = FetchConfigRequest {
        request_id: b"f-1".to_vec(),
        instance_id: b"abc".to_vec(),
        continuous_pipeline_configs: vec![held("a/b/c", 2, ConfigStatus::Unset)],
        ..FetchConfigRequest::default()
    };
    assert_eq!(
        FetchConfigRequest::from_bytes(&request.to_bytes()).expect("decode"),
        request
    );
    let response = FetchConfigResponse {
        request_id: b"f-1".to_vec(),
        common_response: Some(CommonResponse {
            status: 1,
            error_message: b"unknown instance".to_vec(),
        }),
        ..FetchConfigResponse::default()
    };
    assert_eq!(
        FetchConfigResponse::from_bytes(&response.to_bytes()).expect("decode"),
        response
    );
}

#[test]
fn garbage_is_refused_not_panicked_on() {
    for body in [&b"\xff\xff\xff\xff"[..], b"\x0a\x05ab", b"\x2a\x02\xc3\x28"] {
        assert!(matches!(
            HeartbeatRequest::from_bytes(body),
            Err(ProtocolError::InvalidProtobuf(_))
        ));
    }
}
