//! The agent config file: parsing, defaults, environment overrides, validation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn_agent::control::settings::{DEFAULT_BUFFER_MAX_AGE, DEFAULT_BUFFER_MAX_BYTES};
use cairn_agent::control::{AgentSettings, ControlError};

const FULL: &str = r#"
endpoint = "http://cairn.internal:7480/"
access_key_id = "AKID"
access_key_secret = "SECRET"
config_dir = "/srv/cairn/etc"
data_dir = "/srv/cairn/data"
heartbeat_interval_secs = 5
buffer_max_bytes = 1048576
buffer_max_age_secs = 3600
ip = "10.1.2.3"
hostname = "web-1"
[tags]
env = "prod"
zone = "a"
"#;

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<AgentSettings, ControlError> {
    AgentSettings::parse(text, Path::new("agent.toml"), no_env)
}

fn invalid_field(settings: &AgentSettings) -> &'static str {
    match settings.validate() {
        Err(ControlError::InvalidSetting { field, .. }) => field,
        other => panic!("expected an invalid setting, got {other:?}"),
    }
}

#[test]
fn a_full_file_parses_and_validates() {
    let settings = parse(FULL).expect("parses");
    settings.validate().expect("valid");
    assert_eq!(settings.endpoint, "http://cairn.internal:7480");
    assert_eq!(
        settings.url("/Agent/Heartbeat"),
        "http://cairn.internal:7480/Agent/Heartbeat"
    );
    assert_eq!(settings.access_key_id, "AKID");
    assert_eq!(settings.access_key_secret, "SECRET");
    assert_eq!(settings.config_dir, PathBuf::from("/srv/cairn/etc"));
    assert_eq!(settings.data_dir, PathBuf::from("/srv/cairn/data"));
    assert_eq!(settings.heartbeat_interval, Duration::from_secs(5));
    assert_eq!(settings.buffer_max_bytes, 1 << 20);
    assert_eq!(settings.buffer_max_age, Duration::from_secs(3600));
    assert_eq!(settings.ip_override.as_deref(), Some("10.1.2.3"));
    assert_eq!(settings.hostname_override.as_deref(), Some("web-1"));
    assert_eq!(settings.tags.get("env").map(String::as_str), Some("prod"));
    assert_eq!(settings.tags.len(), 2);
}

#[test]
fn optional_keys_take_their_defaults() {
    let settings =
        parse("endpoint = \"http://h:1\"\naccess_key_id = \"a\"\naccess_key_secret = \"s\"\n")
            .expect("parses");
    settings.validate().expect("valid");
    assert_eq!(settings.config_dir, PathBuf::from("/etc/cairn"));
    assert_eq!(settings.data_dir, PathBuf::from("/var/lib/cairn-agent"));
    assert_eq!(settings.heartbeat_interval, Duration::from_secs(10));
    assert_eq!(settings.buffer_max_bytes, DEFAULT_BUFFER_MAX_BYTES);
    assert_eq!(settings.buffer_max_age, DEFAULT_BUFFER_MAX_AGE);
    assert!(settings.tags.is_empty());
    assert_eq!(settings.ip_override, None);
}

#[test]
fn unknown_keys_and_bad_types_are_parse_errors() {
    let error = parse("endpont = \"http://h:1\"\n").expect_err("typo refused");
    assert!(
        matches!(&error, ControlError::Parse { message, .. } if message.contains("endpont")),
        "{error}"
    );
    let error = parse("heartbeat_interval_secs = \"ten\"\n").expect_err("type refused");
    assert!(matches!(error, ControlError::Parse { .. }), "{error}");
    let error = parse("[tags]\nx = 1\n").expect_err("tag values are strings");
    assert!(matches!(error, ControlError::Parse { .. }), "{error}");
}

#[test]
fn environment_overrides_the_file() {
    let env: HashMap<&str, &str> = HashMap::from([
        ("CAIRN_AGENT_ENDPOINT", "http://10.9.9.9:8080"),
        ("CAIRN_AGENT_ACCESS_KEY_ID", "ENVID"),
        ("CAIRN_AGENT_ACCESS_KEY_SECRET", "ENVSECRET"),
        ("CAIRN_AGENT_CONFIG_DIR", "/tmp/cfg"),
        ("CAIRN_AGENT_DATA_DIR", "/tmp/data"),
    ]);
    let settings = AgentSettings::parse(FULL, Path::new("agent.toml"), |name| {
        env.get(name).map(|v| (*v).to_owned())
    })
    .expect("parses");
    assert_eq!(settings.endpoint, "http://10.9.9.9:8080");
    assert_eq!(settings.access_key_id, "ENVID");
    assert_eq!(settings.access_key_secret, "ENVSECRET");
    assert_eq!(settings.config_dir, PathBuf::from("/tmp/cfg"));
    assert_eq!(settings.data_dir, PathBuf::from("/tmp/data"));
    // Keys without an environment variable keep the file's value.
    assert_eq!(settings.heartbeat_interval, Duration::from_secs(5));

    // An empty variable does not override, and the environment alone can supply everything.
    let empty = AgentSettings::parse(FULL, Path::new("agent.toml"), |name| {
        (name == "CAIRN_AGENT_ENDPOINT").then(String::new)
    })
    .expect("parses");
    assert_eq!(empty.endpoint, "http://cairn.internal:7480");
    let env_only = AgentSettings::parse("", Path::new("agent.toml"), |name| {
        env.get(name).map(|v| (*v).to_owned())
    })
    .expect("parses");
    env_only.validate().expect("the environment is enough");
}

#[test]
fn validation_names_the_bad_setting() {
    let good = parse(FULL).expect("parses");
    let with = |change: &dyn Fn(&mut AgentSettings)| {
        let mut settings = good.clone();
        change(&mut settings);
        settings
    };
    assert_eq!(invalid_field(&with(&|s| s.endpoint.clear())), "endpoint");
    assert_eq!(
        invalid_field(&with(&|s| s.endpoint = "https://h:443".into())),
        "endpoint"
    );
    assert_eq!(
        invalid_field(&with(&|s| s.endpoint = "h:80".into())),
        "endpoint"
    );
    assert_eq!(
        invalid_field(&with(&|s| s.endpoint = "http://h:80/x".into())),
        "endpoint"
    );
    assert_eq!(
        invalid_field(&with(&|s| s.endpoint = "http://h:port".into())),
        "endpoint"
    );
    assert_eq!(
        invalid_field(&with(&|s| s.access_key_id.clear())),
        "access_key_id"
    );
    assert_eq!(
        invalid_field(&with(&|s| s.access_key_id = "a b".into())),
        "access_key_id"
    );
    assert_eq!(
        invalid_field(&with(&|s| s.access_key_secret.clear())),
        "access_key_secret"
    );
    assert_eq!(
        invalid_field(&with(&|s| s.data_dir = PathBuf::new())),
        "data_dir"
    );
    assert_eq!(
        invalid_field(&with(&|s| s.heartbeat_interval = Duration::ZERO)),
        "heartbeat_interval_secs"
    );
    assert_eq!(
        invalid_field(&with(&|s| s.buffer_max_bytes = 0)),
        "buffer_max_bytes"
    );
    assert_eq!(
        invalid_field(&with(&|s| s.ip_override = Some("ten".into()))),
        "ip"
    );
    assert_eq!(
        invalid_field(&with(&|s| {
            s.tags.insert(String::new(), "v".into());
        })),
        "tags"
    );
    with(&|s| s.endpoint = "http://[::1]:7480".into())
        .validate()
        .expect("an IPv6 literal is a host");
}

#[test]
fn load_reads_a_file_and_refuses_a_missing_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("agent.toml");
    std::fs::write(&path, FULL).expect("write");
    let settings = AgentSettings::load(&path).expect("loads");
    assert_eq!(settings.heartbeat_interval, Duration::from_secs(5));
    let missing = AgentSettings::load(&dir.path().join("absent.toml"));
    assert!(
        matches!(missing, Err(ControlError::Read { .. })),
        "{missing:?}"
    );
    std::fs::write(
        &path,
        "endpoint = \"ftp://h\"\naccess_key_id = \"a\"\naccess_key_secret = \"s\"\n",
    )
    .expect("write");
    assert!(matches!(
        AgentSettings::load(&path),
        Err(ControlError::InvalidSetting {
            field: "endpoint",
            ..
        })
    ));
}

#[test]
fn debug_output_hides_the_secret() {
    let settings = parse(FULL).expect("parses");
    let shown = format!("{settings:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("AKID"));
}
