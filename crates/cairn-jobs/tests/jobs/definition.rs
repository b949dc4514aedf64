//! The SLS `/etls` JSON shape: what is accepted, how it maps, and what is refused.

use cairn_jobs::{JobDefinition, JobError, JobMode, StartPosition};
use cairn_model::{AccountId, ProjectName};
use serde_json::{json, Value};

const READER: &str = "acs:ram::1111111111111111:role/reader";
const WRITER: &str = "acs:ram::2222222222222222:role/writer";

fn owner() -> AccountId {
    AccountId::parse("3333333333333333").expect("account")
}

fn request_project() -> ProjectName {
    ProjectName::parse("src-proj").expect("project")
}

fn body(schedule: &str, from: u64, to: u64) -> Value {
    json!({
        "name": "copy-1",
        "displayName": "Copy one",
        "type": "ETL",
        "schedule": {"type": schedule},
        "configuration": {
            "logstore": "app", "script": "", "lang": "PYTHON", "version": 2,
            "fromTime": from, "toTime": to, "roleArn": READER, "parameters": {},
            "sinks": [{"name": "out", "project": "dst-proj", "logstore": "central",
                       "endpoint": "", "roleArn": WRITER}]
        }
    })
}

fn parse(value: &Value) -> Result<JobDefinition, JobError> {
    JobDefinition::from_etl_json(owner(), &request_project(), value)
}

fn invalid(value: &Value) -> String {
    match parse(value) {
        Err(JobError::Invalid { message }) => message,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn modes_follow_to_time_and_the_schedule_and_round_trip() {
    let one_off = parse(&body("Resident", 100, 200)).expect("valid");
    assert_eq!(one_off.mode, JobMode::OneOff { from: 100, to: 200 });
    assert_eq!(one_off.source.project.as_str(), "src-proj");
    assert_eq!(one_off.source.role_arn, READER);
    assert_eq!(one_off.sink.role_arn, WRITER);
    assert_eq!(one_off.sink.logstore.as_str(), "central");
    assert_eq!(one_off.display_name, "Copy one");
    assert_eq!(
        parse(&body("Once", 100, 200)).expect("valid").mode,
        one_off.mode
    );

    let begin = parse(&body("Resident", 0, 0)).expect("valid");
    assert_eq!(
        begin.mode,
        JobMode::Continuous {
            from: StartPosition::Begin
        }
    );
    let at = parse(&body("Resident", 150, 0)).expect("valid");
    assert_eq!(
        at.mode,
        JobMode::Continuous {
            from: StartPosition::Time(150)
        }
    );
    let mut end = body("Resident", 0, 0);
    end["configuration"]["parameters"] = json!({"startFrom": "end", "other": 1});
    let end = parse(&end).expect("valid");
    assert_eq!(
        end.mode,
        JobMode::Continuous {
            from: StartPosition::End
        }
    );

    let mut with_transform = body("Resident", 0, 0);
    with_transform["configuration"]["parameters"] =
        json!({"transform": {"drop": ["x"], "filter": "a"}});
    let with_transform = parse(&with_transform).expect("valid");

    for definition in [one_off, begin, at, end, with_transform] {
        let json = definition.to_etl_json();
        assert_eq!(json["type"], "ETL");
        assert_eq!(
            json["configuration"]["sinks"].as_array().map(Vec::len),
            Some(1)
        );
        // Any request project: the stored shape names its own.
        let other = ProjectName::parse("elsewhere").expect("project");
        let back = JobDefinition::from_etl_json(owner(), &other, &json).expect("round trip");
        assert_eq!(back, definition);
    }
}

#[test]
fn configuration_project_overrides_the_request_project() {
    let mut value = body("Resident", 0, 0);
    value["configuration"]["project"] = json!("other-proj");
    assert_eq!(
        parse(&value).expect("valid").source.project.as_str(),
        "other-proj"
    );
}

#[test]
fn bad_definitions_are_refused_with_the_field_named() {
    let mut two_sinks = body("Resident", 0, 0);
    let sink = two_sinks["configuration"]["sinks"][0].clone();
    two_sinks["configuration"]["sinks"] = json!([sink.clone(), sink]);
    assert!(invalid(&two_sinks).contains("exactly one"));

    let mut no_sinks = body("Resident", 0, 0);
    no_sinks["configuration"]["sinks"] = json!([]);
    assert!(invalid(&no_sinks).contains("exactly one"));

    let mut keys = body("Resident", 0, 0);
    keys["configuration"]["sinks"][0]["accessKeyId"] = json!("LTAIabcdefgh");
    assert!(invalid(&keys).contains("never store AccessKeys"));
    let mut keys = body("Resident", 0, 0);
    keys["configuration"]["accessKeySecret"] = json!("secret");
    let message = invalid(&keys);
    assert!(
        message.contains("configuration.accessKeySecret"),
        "{message}"
    );
    assert!(
        !message.contains("\"secret\""),
        "the secret is not echoed: {message}"
    );

    let mut script = body("Resident", 0, 0);
    script["configuration"]["script"] = json!("e_set(\"a\", 1)");
    assert!(invalid(&script).contains("configuration.script"));

    let mut role = body("Resident", 0, 0);
    role["configuration"]["roleArn"] = json!("acs:ram::1111111111111111:user/bob");
    assert!(invalid(&role).contains("configuration.roleArn"));
    let mut role = body("Resident", 0, 0);
    role["configuration"]["sinks"][0]["roleArn"] = json!("");
    assert!(invalid(&role).contains("configuration.sinks[0].roleArn"));
    let mut role = body("Resident", 0, 0);
    role["configuration"]["sinks"][0]
        .as_object_mut()
        .expect("object")
        .remove("roleArn");
    assert!(invalid(&role).contains("roleArn is required"));

    assert!(invalid(&body("Resident", 200, 100)).contains("fromTime"));
    assert!(invalid(&body("Resident", 200, 200)).contains("fromTime"));
    assert!(invalid(&body("FixedRate", 0, 0)).contains("schedule.type"));

    let mut name = body("Resident", 0, 0);
    name["name"] = json!("Bad Name");
    assert!(invalid(&name).contains("job name"));
    let mut name = body("Resident", 0, 0);
    name["name"] = json!("x");
    assert!(invalid(&name).contains("job name"));

    let mut logstore = body("Resident", 0, 0);
    logstore["configuration"]["logstore"] = json!("Bad");
    assert!(invalid(&logstore).contains("configuration.logstore"));

    let mut time = body("Resident", 0, 0);
    time["configuration"]["toTime"] = json!(-5);
    assert!(invalid(&time).contains("configuration.toTime"));

    let mut start = body("Resident", 10, 0);
    start["configuration"]["parameters"] = json!({"startFrom": "end"});
    assert!(invalid(&start).contains("startFrom"));
    let mut start = body("Resident", 0, 0);
    start["configuration"]["parameters"] = json!({"startFrom": "middle"});
    assert!(invalid(&start).contains("startFrom"));

    let mut filter = body("Resident", 0, 0);
    filter["configuration"]["parameters"] = json!({"transform": {"filter": "a and (b"}});
    let message = invalid(&filter);
    assert!(
        message.contains("filter") && message.contains("position"),
        "{message}"
    );

    let mut unknown = body("Resident", 0, 0);
    unknown["configuration"]["parameters"] = json!({"transform": {"remove": ["a"]}});
    assert!(invalid(&unknown).contains("unknown field"));

    let mut itself = body("Resident", 0, 0);
    itself["configuration"]["sinks"][0]["project"] = json!("src-proj");
    itself["configuration"]["sinks"][0]["logstore"] = json!("app");
    assert!(invalid(&itself).contains("source logstore itself"));

    assert!(invalid(&json!([1])).contains("JSON object"));
    assert!(invalid(&json!({"name": "ab"})).contains("configuration is required"));
}
