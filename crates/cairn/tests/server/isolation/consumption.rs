//! The consumption APIs' rows of the isolation matrix: reads a read-only role may call, and
//! consumer group writes it may not.

use serde_json::json;

use super::{Case, PROJECT};
use crate::harness::Call;

/// The consumer group account A creates for the matrix.
pub const CONSUMER_GROUP: &str = "/logstores/app/consumergroups/readers";

/// ListShards, PullLogs, ListConsumerGroup, GetCheckPoint.
pub fn read_cases() -> Vec<Case> {
    vec![
        Case {
            api: "ListShards",
            read_only: true,
            call: |_| Call::new("GET", Some(PROJECT), "/logstores/app/shards"),
        },
        Case {
            api: "PullLogs",
            read_only: true,
            call: |_| {
                Call::new("GET", Some(PROJECT), "/logstores/app/shards/0")
                    .query("type", "log")
                    .query("cursor", "MA==")
                    .query("count", 100)
            },
        },
        Case {
            api: "ListConsumerGroup",
            read_only: true,
            call: |_| Call::new("GET", Some(PROJECT), "/logstores/app/consumergroups"),
        },
        Case {
            api: "GetCheckPoint",
            read_only: true,
            call: |_| Call::new("GET", Some(PROJECT), CONSUMER_GROUP),
        },
    ]
}

/// Heartbeats, checkpoints and deleting the group.
pub fn write_cases() -> Vec<Case> {
    vec![
        Case {
            api: "ConsumerGroupHeartBeat",
            read_only: false,
            call: |_| {
                Call::new("POST", Some(PROJECT), CONSUMER_GROUP)
                    .query("type", "heartbeat")
                    .query("consumer", "intruder")
                    .json(json!([]))
            },
        },
        Case {
            api: "ConsumerGroupUpdateCheckPoint",
            read_only: false,
            call: |_| {
                Call::new("POST", Some(PROJECT), CONSUMER_GROUP)
                    .query("type", "checkpoint")
                    .query("forceSuccess", "true")
                    .json(json!({"shard": 0, "checkpoint": "MTA="}))
            },
        },
        Case {
            api: "DeleteConsumerGroup",
            read_only: false,
            call: |_| Call::new("DELETE", Some(PROJECT), CONSUMER_GROUP),
        },
    ]
}
