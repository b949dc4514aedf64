//! The whole runtime in process (`runtime::run`, no control, null sink): what its processors
//! drop is counted in `metrics.json`, and the counts survive a restart.
//!
//! Why an earlier attempt at this test "read no files at all": its pipeline was copied from
//! the runtime's unit test, whose flusher names the logstore `"l"`. That is not a valid
//! logstore name (3 to 63 characters), so the runtime refused the whole config — which it
//! only logs, as it must for a bad config from the server — and ran no input. (The unit test
//! only checks that `metrics.json` is written, so it passed all the same.) Here the config is
//! validated first, so a bad one fails loudly, and the agent runs until the checkpoint table
//! says the file was read and resolved to its end — not merely until `metrics.json` exists,
//! which without control happens at once, before the first poll.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_agent::config::PipelineConfig;
use cairn_agent::control::AgentSettings;
use cairn_agent::runtime::{run, RuntimeOptions};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);

/// Parses `key=number`; keeps only records whose key starts with `keep`.
fn pipeline(logs: &Path) -> Vec<u8> {
    json!({
        "inputs": [{"Type": "input_file", "FilePaths": [format!("{}/*.log", logs.display())]}],
        "processors": [
            {"Type": "processor_parse_regex_native", "SourceKey": "content",
             "Regex": r"(\w+)=(\d+)", "Keys": ["key", "number"]},
            {"Type": "processor_filter_regex_native", "FilterKey": ["key"], "FilterRegex": ["keep.*"]},
        ],
        "flushers": [{"Type": "flusher_sls", "Project": "p-test", "Logstore": "lines"}],
    })
    .to_string()
    .into_bytes()
}

/// The acknowledged offset of the only file in the checkpoint table.
fn acknowledged(data_dir: &Path) -> u64 {
    let table = std::fs::read(data_dir.join("checkpoints/checkpoints.json")).unwrap_or_default();
    let table: Value = serde_json::from_slice(&table).unwrap_or(Value::Null);
    table["checkpoints"][0]["offset"].as_u64().unwrap_or(0)
}

/// Runs the agent until `file` is acknowledged to its end, then stops it gracefully; returns
/// the final `metrics.json`.
async fn run_until_read(root: &Path, file: &Path) -> Value {
    let logs = file.parent().expect("logs dir");
    let mut settings = AgentSettings::new("http://127.0.0.1:9", "test-id", "test-secret");
    settings.data_dir = root.join("data");
    settings.config_dir = root.join("etc");
    let config = pipeline(logs);
    // The runtime only logs a config it cannot apply (and then reads nothing).
    if let Err(error) = PipelineConfig::from_json("local", 1, &config) {
        panic!("the test's pipeline config is invalid: {error}");
    }
    let options = RuntimeOptions {
        local_pipelines: vec![("local".to_owned(), config)],
        control: false,
        null_sink: true,
        poll_interval: Duration::from_millis(20),
    };
    let size = std::fs::metadata(file).expect("stat").len();
    let data_dir = settings.data_dir.clone();
    let read = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done = read.clone();
    let shutdown = async move {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if acknowledged(&data_dir) >= size {
                done.store(true, std::sync::atomic::Ordering::SeqCst);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    run(settings.clone(), options, shutdown)
        .await
        .expect("agent run");
    assert!(
        read.load(std::sync::atomic::Ordering::SeqCst),
        "the file was not read to its end within {WAIT:?}: checkpoints {:?}, metrics {:?}",
        std::fs::read_to_string(settings.data_dir.join("checkpoints/checkpoints.json")),
        std::fs::read_to_string(settings.data_dir.join("metrics.json")),
    );
    let metrics = std::fs::read(settings.data_dir.join("metrics.json")).expect("metrics.json");
    serde_json::from_slice(&metrics).expect("metrics json")
}

fn counter(metrics: &Value, name: &str) -> u64 {
    metrics[name]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} in {metrics}"))
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open");
    file.write_all(text.as_bytes()).expect("append");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_drops_are_counted_and_survive_a_restart() {
    let root = tempfile::tempdir().expect("tempdir");
    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let file = logs.join("app.log");
    // 3 kept, 2 filtered out (key not "keep..."), 2 unparsable.
    append(
        &file,
        "keep1=1\nother=2\nkeep2=3\nnot a pair\nskip=4\nkeep3=5\n???\n",
    );

    let first = run_until_read(root.path(), &file).await;
    assert_eq!(counter(&first, "records_read"), 7, "{first}");
    assert_eq!(counter(&first, "records_unparsable"), 2, "{first}");
    assert_eq!(counter(&first, "records_filtered"), 2, "{first}");
    assert_eq!(counter(&first, "records_delivered"), 3, "{first}");

    // A new process: its own activity starts at zero, the drop counters go on.
    append(&file, "keep4=6\nbroken\nnope=7\n");
    let second = run_until_read(root.path(), &file).await;
    assert_eq!(counter(&second, "records_read"), 3, "{second}");
    assert_eq!(counter(&second, "records_delivered"), 1, "{second}");
    assert_eq!(counter(&second, "records_unparsable"), 3, "{second}");
    assert_eq!(counter(&second, "records_filtered"), 3, "{second}");
}
