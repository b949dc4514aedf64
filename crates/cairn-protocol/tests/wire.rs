//! PutLogs protobuf decoding and encoding against captured and hand-built wire bytes.

use cairn_model::{Field, LogEntry, LogGroupData, LogTime};
use cairn_protocol::{
    decode_log_group, decode_log_group_list, encode_log_group, encode_log_group_list, proto,
    ProtocolError,
};
use proptest::prelude::*;
use prost::Message;

/// Nanoseconds used to fill the `<4B ns>` hole of the verified capture.
const CAPTURE_NANOS: u32 = 123_456_789;

/// The VERIFIED 33-byte body the Python SDK sent for one log `k=v` at 1704067200, topic
/// "topic", source "src" (sls-api.md 1.1), with `CAPTURE_NANOS` in the Time_ns slot.
fn python_capture() -> Vec<u8> {
    let mut body = vec![
        0x0a, 0x13, 0x08, 0x80, 0x81, 0xc8, 0xac, 0x06, 0x12, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01,
        b'v', 0x25,
    ];
    body.extend_from_slice(&CAPTURE_NANOS.to_le_bytes());
    body.extend_from_slice(&[0x1a, 0x05]);
    body.extend_from_slice(b"topic");
    body.extend_from_slice(&[0x22, 0x03]);
    body.extend_from_slice(b"src");
    body
}

fn capture_group() -> LogGroupData {
    LogGroupData {
        topic: b"topic".to_vec().into(),
        source: b"src".to_vec().into(),
        tags: vec![],
        logs: vec![LogEntry {
            time: LogTime {
                seconds: 1_704_067_200,
                nanos: CAPTURE_NANOS,
            },
            contents: vec![Field::new("k", "v")],
        }],
    }
}

#[test]
fn decodes_the_verified_python_capture() {
    let body = python_capture();
    assert_eq!(body.len(), 33);
    assert_eq!(
        decode_log_group(bytes::Bytes::copy_from_slice(&body)),
        Ok(capture_group())
    );
}

#[test]
fn encodes_byte_for_byte_like_the_python_sdk() {
    assert_eq!(encode_log_group(&capture_group()), python_capture());
}

#[test]
fn missing_time_ns_is_zero() {
    // Log { Time = 1, Contents = [k=v] }, no Time_ns.
    let body = [
        0x0a, 0x0a, 0x08, 0x01, 0x12, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, b'v',
    ];
    let group = decode_log_group(bytes::Bytes::copy_from_slice(&body)).expect("valid body");
    assert_eq!(group.logs[0].time, LogTime::new(1, 0));
    assert!(group.topic.is_empty() && group.source.is_empty());
}

#[test]
fn time_ns_of_a_second_or_more_is_refused() {
    let mut body = vec![0x0a, 0x07, 0x08, 0x01, 0x25];
    body.extend_from_slice(&1_000_000_000u32.to_le_bytes());
    assert_eq!(
        decode_log_group(bytes::Bytes::copy_from_slice(&body)),
        Err(ProtocolError::InvalidTimeNanos {
            nanos: 1_000_000_000
        })
    );
}

#[test]
fn unknown_fields_are_skipped() {
    // Log: Time=5, the agent's `repeated string values = 3` ("x"), an unknown varint field 9,
    // Contents k=v. Group: an unknown fixed64 field 15, Topic "t".
    let log = [
        0x08, 0x05, 0x1a, 0x01, b'x', 0x48, 0x2a, 0x12, 0x06, 0x0a, 0x01, b'k', 0x12, 0x01, b'v',
    ];
    let mut body = vec![0x0a, log.len() as u8];
    body.extend_from_slice(&log);
    body.push(0x79); // field 15, wire type 1 (fixed64)
    body.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    body.extend_from_slice(&[0x1a, 0x01, b't']);
    let group =
        decode_log_group(bytes::Bytes::copy_from_slice(&body)).expect("unknown fields are skipped");
    assert_eq!(&group.topic[..], b"t");
    assert_eq!(group.logs.len(), 1);
    assert_eq!(group.logs[0].time.seconds, 5);
    assert_eq!(group.logs[0].contents, vec![Field::new("k", "v")]);
}

#[test]
fn non_utf8_keys_values_and_tags_are_kept() {
    let group = LogGroupData {
        topic: vec![0xfe, b't'].into(),
        source: vec![0xc3].into(),
        tags: vec![Field::new(vec![0xff], vec![0x80, 0x00])],
        logs: vec![LogEntry {
            time: LogTime::new(7, 8),
            contents: vec![Field::new(vec![0xc0, 0xaf], vec![0xed, 0xa0, 0x80])],
        }],
    };
    let body = encode_log_group(&group);
    assert_eq!(
        decode_log_group(bytes::Bytes::copy_from_slice(&body)),
        Ok(group)
    );
}

#[test]
fn category_and_machine_uuid_are_dropped() {
    let wire = proto::LogGroup {
        logs: vec![],
        category: Some(b"internal".to_vec().into()),
        topic: None,
        source: None,
        machine_uuid: Some(b"uuid".to_vec().into()),
        log_tags: vec![proto::LogTag {
            key: b"host".to_vec().into(),
            value: b"web-1".to_vec().into(),
        }],
    };
    let group =
        decode_log_group(bytes::Bytes::copy_from_slice(&wire.encode_to_vec())).expect("valid body");
    assert_eq!(group.tags, vec![Field::new("host", "web-1")]);
    assert!(group.logs.is_empty());
}

#[test]
fn garbage_is_invalid_protobuf() {
    for body in [
        &[0x0a, 0x05, 0x08][..],
        &[0xff, 0xff, 0xff],
        &[0x0a, 0xff, 0xff, 0xff],
    ] {
        assert!(matches!(
            decode_log_group(body.into()),
            Err(ProtocolError::InvalidProtobuf(_))
        ));
    }
}

#[test]
fn group_list_holds_each_group() {
    let groups = vec![capture_group(), LogGroupData::default()];
    let list =
        proto::LogGroupList::decode(encode_log_group_list(&groups).as_slice()).expect("valid list");
    assert_eq!(list.log_groups.len(), 2);
    let first = decode_log_group(bytes::Bytes::copy_from_slice(
        &list.log_groups[0].encode_to_vec(),
    ))
    .expect("valid group");
    assert_eq!(first, capture_group());
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn field() -> impl Strategy<Value = Field> {
    (bytes(12), bytes(24)).prop_map(|(key, value)| Field {
        key: key.into(),
        value: value.into(),
    })
}

fn entry() -> impl Strategy<Value = LogEntry> {
    (
        any::<u32>(),
        0u32..1_000_000_000,
        proptest::collection::vec(field(), 0..5),
    )
        .prop_map(|(seconds, nanos, contents)| LogEntry {
            time: LogTime { seconds, nanos },
            contents,
        })
}

fn group() -> impl Strategy<Value = LogGroupData> {
    (
        bytes(16),
        bytes(16),
        proptest::collection::vec(field(), 0..4),
        proptest::collection::vec(entry(), 0..5),
    )
        .prop_map(|(topic, source, tags, logs)| LogGroupData {
            topic: topic.into(),
            source: source.into(),
            tags,
            logs,
        })
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(group in group()) {
        prop_assert_eq!(decode_log_group(encode_log_group(&group).into()), Ok(group));
    }

    #[test]
    fn group_lists_round_trip(groups in proptest::collection::vec(group(), 0..4)) {
        prop_assert_eq!(
            decode_log_group_list(encode_log_group_list(&groups).into()),
            Ok(groups)
        );
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(body in bytes(256)) {
        let _ = decode_log_group(bytes::Bytes::copy_from_slice(&body));
        let _ = decode_log_group_list(bytes::Bytes::copy_from_slice(&body));
    }
}
