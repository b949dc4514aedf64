//! Transforms applied by a real job, defined through the SLS ETL JSON shape.

use cairn_jobs::{JobDefinition, JobState};
use cairn_model::ProjectName;
use serde_json::json;

use crate::support::{options, Env};

#[tokio::test]
async fn a_job_filters_extracts_renames_drops_and_adds() {
    let env = Env::new(options()).await;
    let (reader, writer) = env.roles().await;
    env.put(
        "auth",
        &[
            "alice logged in from 10.0.0.1".to_owned(),
            "healthcheck ok".to_owned(),
            "bob logged in from 10.0.0.2".to_owned(),
            "carol failed to log in".to_owned(),
        ],
        100,
    )
    .await;
    let body = json!({
        "name": "shape-auth",
        "displayName": "auth events",
        "type": "ETL",
        "schedule": {"type": "Resident"},
        "configuration": {
            "logstore": "app",
            "script": "",
            "lang": "PYTHON",
            "version": 2,
            "fromTime": 0,
            "toTime": 1000,
            "roleArn": reader,
            "parameters": {"transform": {
                "filter": "not healthcheck",
                "extract": [{"field": "message", "regex": "(?P<user>\\w+) logged in from (?P<ip>[\\d.]+)"}],
                "rename": {"user": "login", "__tag__:host": "__tag__:origin"},
                "drop": ["ip", "__source__"],
                "add": {"copied_by": "cairn", "__topic__": "auth-copy"}
            }},
            "sinks": [{"name": "central", "project": "dst-proj", "logstore": "central",
                       "endpoint": "cn-hangzhou.log.aliyuncs.com", "roleArn": writer}]
        }
    });
    let project = ProjectName::parse("src-proj").expect("project");
    let definition =
        JobDefinition::from_etl_json(env.ids.owner, &project, &body).expect("valid job");
    env.scheduler.create(definition).await.expect("create");
    let status = env.finished("shape-auth").await;
    assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    assert_eq!(status.records_read, 4);
    assert_eq!(status.records_written, 3);

    let dest = env.read_all(env.ids.dest_logstore).await;
    let shown: Vec<Vec<(String, String)>> = dest
        .iter()
        .map(|record| {
            record
                .contents
                .iter()
                .map(|field| {
                    (
                        field.key_text().into_owned(),
                        field.value_text().into_owned(),
                    )
                })
                .collect()
        })
        .collect();
    let pair = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(
        shown,
        vec![
            vec![
                pair("message", "alice logged in from 10.0.0.1"),
                pair("login", "alice"),
                pair("copied_by", "cairn"),
            ],
            vec![
                pair("message", "bob logged in from 10.0.0.2"),
                pair("login", "bob"),
                pair("copied_by", "cairn"),
            ],
            vec![
                pair("message", "carol failed to log in"),
                pair("copied_by", "cairn")
            ],
        ]
    );
    for record in &dest {
        assert_eq!(&record.topic[..], b"auth-copy");
        assert!(record.source.is_empty());
        assert_eq!(record.field("__tag__:origin"), Some(&b"web-1"[..]));
        assert_eq!(record.field("__tag__:host"), None);
    }
}
