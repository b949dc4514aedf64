//! The agent and the control plane end to end: a real `cairn agent` joins a machine group only
//! with `users/<A>` and a matching identifier, collects exactly what the group is given with a
//! scoped write token, shows FAIL with the reason when the file goes, stops collecting when
//! the config is removed, and an agent of an untrusted account never joins.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::agent::AgentProcess;
use crate::harness::{now_seconds, Call, Client, TestServer};

const PROJECT: &str = "fleet-e2e";

/// A heartbeating agent with its identity files in `<dir>/etc`, signing with `key`.
struct ControlledAgent(AgentProcess);

impl ControlledAgent {
    fn start(
        server: &TestServer,
        dir: &Path,
        key: (&str, &str),
        accounts: &[&str],
        identifier: &str,
    ) -> Self {
        let etc = dir.join("etc");
        std::fs::create_dir_all(etc.join("users")).unwrap();
        for account in accounts {
            std::fs::write(etc.join("users").join(account), b"").unwrap();
        }
        std::fs::write(etc.join("user_defined_id"), format!("{identifier}\n")).unwrap();
        let settings = format!(
            "endpoint = \"{}\"\naccess_key_id = \"{}\"\naccess_key_secret = \"{}\"\n\
             config_dir = \"{}\"\ndata_dir = \"{}\"\nheartbeat_interval_secs = 1\n",
            server.endpoint(),
            key.0,
            key.1,
            etc.display(),
            dir.join("data").display()
        );
        std::fs::write(dir.join("agent.toml"), settings).unwrap();
        Self(AgentProcess::start_controlled(dir))
    }

    fn log(&self) -> String {
        self.0.log_tail(200)
    }
}

async fn ids(client: &Client) -> Vec<Value> {
    let now = now_seconds();
    let mut rows = Vec::new();
    for page in 0.. {
        let reply = client
            .send(Call::new("POST", Some(PROJECT), "/logstores/app/logs").json(json!({
                "from": now - 3600, "to": now + 60, "query": "*", "line": 100, "offset": page * 100,
            })))
            .await;
        reply.assert_ok();
        let page_rows = reply.json()["data"].as_array().cloned().unwrap();
        if page_rows.is_empty() {
            return rows;
        }
        rows.extend(page_rows);
    }
    rows
}

async fn wait_for_rows(client: &Client, count: usize, agent: &ControlledAgent) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = ids(client).await;
        if rows.len() >= count {
            return rows;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {count} rows arrived; agent log:\n{}",
            rows.len(),
            agent.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn machines(client: &Client) -> Vec<Value> {
    let reply = client
        .send(Call::new(
            "GET",
            Some(PROJECT),
            "/machinegroups/web/machines",
        ))
        .await;
    reply.assert_ok();
    reply.json()["machines"].as_array().cloned().unwrap()
}

/// Waits until some machine's heartbeat status and reason satisfy `check`.
async fn wait_for_machine(client: &Client, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let all = machines(client).await;
        if let Some(machine) = all.iter().find(|m| check(m)) {
            return machine.clone();
        }
        assert!(Instant::now() < deadline, "no machine is {what}: {all:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn append(path: &Path, range: std::ops::Range<u32>) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for n in range {
        writeln!(file, "fleet-line-{n} GET /checkout 200").unwrap();
    }
    file.sync_all().unwrap();
}

#[tokio::test]
async fn an_agent_collects_exactly_what_its_machine_group_is_given() {
    let server = TestServer::start().await;
    let a = server.client();
    let account_a = server.credentials.account_id.clone();
    let temp = tempfile::tempdir().unwrap();
    let logs = temp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let app_log = logs.join("app.log");
    append(&app_log, 0..100);

    a.create_project(PROJECT).await.assert_ok();
    a.create_logstore(PROJECT, "app").await.assert_ok();
    a.send(Call::new("POST", Some(PROJECT), "/pipelineconfigs").json(json!({
        "configName": "app-logs",
        "inputs": [{"Type": "input_file", "FilePaths": [format!("{}/*.log", logs.display())], "FromBeginning": true}],
        "flushers": [{"Type": "flusher_sls", "Project": PROJECT, "Logstore": "app"}],
    })))
    .await
    .assert_ok();
    a.send(
        Call::new("POST", Some(PROJECT), "/machinegroups").json(json!({
            "groupName": "web", "groupType": "", "machineIdentifyType": "userdefined",
            "machineList": ["web-tier"], "groupAttribute": {},
        })),
    )
    .await
    .assert_ok();
    a.send(Call::new(
        "PUT",
        Some(PROJECT),
        "/machinegroups/web/configs/app-logs",
    ))
    .await
    .assert_ok();

    let agent_dir = temp.path().join("agent-a");
    let agent = ControlledAgent::start(
        &server,
        &agent_dir,
        (
            &server.credentials.access_key_id,
            &server.credentials.access_key_secret,
        ),
        &[&account_a],
        "web-tier",
    );
    let rows = wait_for_rows(&a, 100, &agent).await;
    let row = &rows[0];
    assert_eq!(row["__tag__:__user_defined_id__"], "web-tier", "{row}");
    assert!(
        row["__tag__:__path__"]
            .as_str()
            .unwrap()
            .ends_with("app.log"),
        "{row}"
    );
    assert!(
        !row["__tag__:__hostname__"].as_str().unwrap().is_empty(),
        "{row}"
    );
    wait_for_machine(&a, "OK", |m| m["heartbeatStatus"] == "OK").await;

    // Without users/<A> the host drops out of the group, with the reason, and collects nothing.
    std::fs::remove_file(agent_dir.join("etc/users").join(&account_a)).unwrap();
    let failed = wait_for_machine(&a, "FAIL", |m| m["heartbeatStatus"] == "FAIL").await;
    assert!(
        failed["heartbeatReason"]
            .as_str()
            .unwrap()
            .contains("users"),
        "{failed}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    append(&app_log, 100..150);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(ids(&a).await.len(), 100, "collected while not admitted");

    // Back in the group, it resumes where it stopped: every line exactly once.
    std::fs::write(agent_dir.join("etc/users").join(&account_a), b"").unwrap();
    let rows = wait_for_rows(&a, 150, &agent).await;
    let mut contents: Vec<&str> = rows
        .iter()
        .map(|r| r["content"].as_str().unwrap())
        .collect();
    contents.sort_unstable();
    contents.dedup();
    assert_eq!(contents.len(), 150, "duplicates or losses");
    assert_eq!(rows.len(), 150);

    // A config removed from the group stops within a heartbeat or two.
    a.send(Call::new(
        "DELETE",
        Some(PROJECT),
        "/machinegroups/web/configs/app-logs",
    ))
    .await
    .assert_ok();
    tokio::time::sleep(Duration::from_secs(3)).await;
    append(&app_log, 150..170);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        ids(&a).await.len(),
        150,
        "collected after the config was removed"
    );

    // An agent of account B, with users/<A> and the right identifier, is not trusted by A's
    // group: it shows FAIL and is never given the config.
    a.send(Call::new(
        "PUT",
        Some(PROJECT),
        "/machinegroups/web/configs/app-logs",
    ))
    .await
    .assert_ok();
    let created = a
        .send(Call::new("POST", None, "/iam/accounts").json(json!({"accountName": "b"})))
        .await;
    created.assert_ok();
    let created = created.json();
    let intruder = ControlledAgent::start(
        &server,
        &temp.path().join("agent-b"),
        (
            created["accessKeyId"].as_str().unwrap(),
            created["accessKeySecret"].as_str().unwrap(),
        ),
        &[&account_a],
        "web-tier",
    );
    let refused = wait_for_machine(&a, "FAIL (untrusted)", |m| {
        m["heartbeatStatus"] == "FAIL"
            && m["heartbeatReason"]
                .as_str()
                .unwrap_or("")
                .contains("trust")
    })
    .await;
    assert!(
        refused["heartbeatReason"]
            .as_str()
            .unwrap()
            .contains(created["accountId"].as_str().unwrap()),
        "{refused}"
    );
    // The trusted agent picks the re-applied config up again; B's never sends anything.
    let rows = wait_for_rows(&a, 170, &agent).await;
    assert_eq!(rows.len(), 170, "{}", intruder.log());
}
