//! Tests of the payload codec: exact round trips (property-based), fixed-position patching,
//! and bounded decoding of damaged payloads.

use proptest::prelude::*;

use super::*;

fn bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    // Any bytes, including invalid UTF-8.
    proptest::collection::vec(any::<u8>(), 0..24)
}

fn field_strategy() -> impl Strategy<Value = Field> {
    (bytes_strategy(), bytes_strategy()).prop_map(|(key, value)| Field {
        key: key.into(),
        value: value.into(),
    })
}

fn log_strategy() -> impl Strategy<Value = LogEntry> {
    (
        any::<u32>(),
        any::<u32>(),
        proptest::collection::vec(field_strategy(), 0..5),
    )
        .prop_map(|(seconds, nanos, contents)| LogEntry {
            time: LogTime { seconds, nanos },
            contents,
        })
}

fn group_strategy() -> impl Strategy<Value = LogGroupData> {
    (
        bytes_strategy(),
        bytes_strategy(),
        proptest::collection::vec(field_strategy(), 0..4),
        proptest::collection::vec(log_strategy(), 0..6),
    )
        .prop_map(|(topic, source, tags, logs)| LogGroupData {
            topic: topic.into(),
            source: source.into(),
            tags,
            logs,
        })
}

fn record_strategy() -> impl Strategy<Value = WalRecord> {
    let producer = proptest::option::of(
        ("\\PC{0,16}", any::<u64>())
            .prop_map(|(key, sequence_id)| ProducerSequence { key, sequence_id }),
    );
    let append = (
        any::<i64>(),
        any::<u64>(),
        any::<u32>(),
        producer,
        group_strategy(),
    )
        .prop_map(|(logstore, first_offset, shard, producer, group)| {
            WalEntry::Append(AppendEntry {
                logstore: LogstoreId(logstore),
                first_offset,
                shard,
                producer,
                group,
            })
        });
    let drop = any::<i64>().prop_map(|logstore| WalEntry::DropLogstore {
        logstore: LogstoreId(logstore),
    });
    (any::<u64>(), prop_oneof![4 => append, 1 => drop])
        .prop_map(|(index, entry)| WalRecord { index, entry })
}

proptest! {
    #[test]
    fn records_round_trip_exactly(record in record_strategy()) {
        let payload = encode(&record).expect("encodes");
        prop_assert_eq!(payload.len() as u64, encoded_len(&record.entry));
        prop_assert_eq!(decode(Bytes::copy_from_slice(&payload)).expect("decodes"), record);
    }

    #[test]
    fn patched_index_and_offset_are_decoded(
        record in record_strategy(),
        index in any::<u64>(),
        first_offset in any::<u64>(),
    ) {
        let mut payload = encode(&record).expect("encodes");
        set_index(&mut payload, index);
        set_first_offset(&mut payload, first_offset);
        let decoded = decode(Bytes::copy_from_slice(&payload)).expect("decodes");
        let mut expected = record;
        expected.index = index;
        if let WalEntry::Append(append) = &mut expected.entry {
            append.first_offset = first_offset;
        }
        prop_assert_eq!(decoded, expected);
    }

    #[test]
    fn every_strict_prefix_fails_to_decode(record in record_strategy()) {
        let payload = encode(&record).expect("encodes");
        for end in 0..payload.len() {
            prop_assert!(decode(Bytes::copy_from_slice(&payload[..end])).is_err(), "prefix of {} bytes decoded", end);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(Bytes::copy_from_slice(&bytes));
    }
}

#[test]
fn non_utf8_values_round_trip() {
    let record = WalRecord {
        index: 7,
        entry: WalEntry::Append(AppendEntry {
            logstore: LogstoreId(-3),
            first_offset: 11,
            shard: 2,
            producer: Some(ProducerSequence {
                key: "agent-1".into(),
                sequence_id: 9,
            }),
            group: LogGroupData {
                topic: vec![0xff, 0xfe].into(),
                source: vec![0xc3, 0x28].into(),
                tags: vec![Field::new(vec![0x80], vec![0x00, 0xff])],
                logs: vec![LogEntry {
                    time: LogTime {
                        seconds: 1,
                        nanos: 2_000_000_000,
                    },
                    contents: vec![Field::new(vec![0xed, 0xa0, 0x80], vec![0xf8])],
                }],
            },
        }),
    };
    let payload = encode(&record).expect("encodes");
    assert_eq!(
        decode(Bytes::copy_from_slice(&payload)).expect("decodes"),
        record
    );
}

#[test]
fn a_corrupted_count_is_refused_without_allocating() {
    let record = WalRecord {
        index: 0,
        entry: WalEntry::Append(AppendEntry {
            logstore: LogstoreId(1),
            first_offset: 0,
            shard: 0,
            producer: None,
            group: LogGroupData::default(),
        }),
    };
    let mut payload = encode(&record).expect("encodes");
    // The last four bytes are the (zero) log count; claim four billion logs.
    let count_position = payload.len() - 4;
    payload[count_position..].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        decode(Bytes::copy_from_slice(&payload)),
        Err(DecodeError::ImpossibleCount {
            position: count_position,
            count: u32::MAX
        })
    );
    // A corrupted topic length is bounded by the payload too.
    let mut payload = encode(&record).expect("encodes");
    let topic_length_position = APPEND_FIXED_BYTES as usize;
    payload[topic_length_position..topic_length_position + 4]
        .copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        decode(Bytes::copy_from_slice(&payload)),
        Err(DecodeError::Truncated { .. })
    ));
}

#[test]
fn unknown_versions_kinds_and_trailing_bytes_are_refused() {
    let record = WalRecord {
        index: 1,
        entry: WalEntry::DropLogstore {
            logstore: LogstoreId(5),
        },
    };
    let payload = encode(&record).expect("encodes");
    let mut wrong_version = payload.clone();
    wrong_version[0] = 2;
    assert_eq!(
        decode(Bytes::copy_from_slice(&wrong_version)),
        Err(DecodeError::UnsupportedVersion(2))
    );
    let mut wrong_kind = payload.clone();
    wrong_kind[1] = 9;
    assert_eq!(
        decode(Bytes::copy_from_slice(&wrong_kind)),
        Err(DecodeError::UnknownKind(9))
    );
    let mut trailing = payload;
    trailing.push(0);
    assert_eq!(
        decode(Bytes::copy_from_slice(&trailing)),
        Err(DecodeError::TrailingBytes(1))
    );
}

#[test]
fn oversized_entries_are_refused_before_encoding() {
    let long_key = WalRecord {
        index: 0,
        entry: WalEntry::Append(AppendEntry {
            logstore: LogstoreId(1),
            first_offset: 0,
            shard: 0,
            producer: Some(ProducerSequence {
                key: "k".repeat(MAX_PRODUCER_KEY_BYTES + 1),
                sequence_id: 1,
            }),
            group: LogGroupData::default(),
        }),
    };
    assert!(matches!(
        encode(&long_key),
        Err(EncodeError::ProducerKeyTooLong { .. })
    ));
    let huge = WalRecord {
        index: 0,
        entry: WalEntry::Append(AppendEntry {
            logstore: LogstoreId(1),
            first_offset: 0,
            shard: 0,
            producer: None,
            group: LogGroupData {
                topic: vec![0; MAX_PAYLOAD_BYTES as usize].into(),
                ..LogGroupData::default()
            },
        }),
    };
    assert!(matches!(encode(&huge), Err(EncodeError::TooLarge { .. })));
}

#[test]
fn checkpoints_round_trip() {
    let checkpoint = WalCheckpoint {
        producers: vec![
            (LogstoreId(3), 0, "agent-a".to_owned(), 42),
            (LogstoreId(-1), 7, String::new(), u64::MAX),
        ],
        dropped: vec![LogstoreId(9)],
    };
    let payload = encode_checkpoint(17, &checkpoint).expect("encode");
    let record = decode(Bytes::from(payload.clone())).expect("decode");
    assert_eq!(record.index, 17);
    assert_eq!(record.entry, WalEntry::Checkpoint(checkpoint));
    for cut in 0..payload.len() {
        assert!(decode(Bytes::from(payload[..cut].to_vec())).is_err());
    }
}
