//! End to end: the real `cairn agent` tails files into the real `cairn serve`, and every line
//! of the matched files arrives exactly once — across agent `kill -9`, server `kill -9`,
//! rename and copytruncate rotation, truncation, inode reuse — or, when an outage outlasts
//! the agent's disk buffer, exactly the lines its `metrics.json` counts as dropped are missing.
//!
//! Every line carries a unique id (its first word); a scenario collects every record of the
//! logstore through GetLogs v2 (pages of 100) and compares the id counts with what it wrote.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::harness::{now_seconds, Call, Client, TestServer};

const PROJECT: &str = "agent-e2e";
const LOGSTORE: &str = "app";
const AGENT_ENV: [&str; 7] = [
    "CAIRN_AGENT_CONFIG",
    "CAIRN_AGENT_ENDPOINT",
    "CAIRN_AGENT_ACCESS_KEY_ID",
    "CAIRN_AGENT_ACCESS_KEY_SECRET",
    "CAIRN_AGENT_CONFIG_DIR",
    "CAIRN_AGENT_DATA_DIR",
    "CAIRN_USER_DEFINED_ID",
];

/// A running `cairn agent --no-control` over `<dir>/agent.toml` and `<dir>/p.json`; its stderr
/// goes to `<dir>/agent.log` (appended to by every start).
pub struct AgentProcess {
    child: Option<Child>,
    dir: PathBuf,
    /// Flags after `agent --config <dir>/agent.toml`.
    arguments: Vec<String>,
    pub data_dir: PathBuf,
    log_path: PathBuf,
    starts: u32,
}

impl AgentProcess {
    /// Starts the agent on the config files already in `dir`: the local pipeline `p.json`,
    /// no heartbeats.
    pub fn start(dir: &Path) -> Self {
        let pipeline = dir.join("p.json").display().to_string();
        Self::start_with(
            dir,
            &[
                "--pipeline",
                &pipeline,
                "--no-control",
                "--poll-interval-ms",
                "50",
            ],
        )
    }

    /// Starts a heartbeating agent on `<dir>/agent.toml`: its configs come from the server.
    pub fn start_controlled(dir: &Path) -> Self {
        Self::start_with(dir, &["--poll-interval-ms", "50"])
    }

    fn start_with(dir: &Path, arguments: &[&str]) -> Self {
        let mut agent = Self {
            child: None,
            dir: dir.to_owned(),
            arguments: arguments.iter().map(|a| (*a).to_owned()).collect(),
            data_dir: dir.join("data"),
            log_path: dir.join("agent.log"),
            starts: 0,
        };
        agent.spawn();
        agent
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "the agent is already running");
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("agent log");
        writeln!(log, "===== agent start #{} =====", self.starts).expect("agent log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_cairn"));
        command
            .arg("agent")
            .arg("--config")
            .arg(self.dir.join("agent.toml"))
            .args(&self.arguments)
            .env("CAIRN_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log);
        for name in AGENT_ENV {
            command.env_remove(name);
        }
        self.child = Some(command.spawn().expect("spawn cairn agent"));
    }

    /// Starts it again on the same config, data directory and log.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// `kill -9`: no flush, no final checkpoint.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            child.wait().expect("wait for the agent");
        }
    }

    /// SIGTERM, and the exit status once it is gone (30 s at most).
    pub fn terminate(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("agent running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the agent did not exit 30 s after SIGTERM:\n{}",
                self.log_tail(60)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// (offset, pending sequence id) of every checkpoint holding a batch in flight.
    pub fn pending_batches(&self) -> Vec<(u64, u64)> {
        let path = self.data_dir.join("checkpoints").join("checkpoints.json");
        let table: Value = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        let entries = table["checkpoints"].as_array().cloned().unwrap_or_default();
        entries
            .iter()
            .filter_map(|cp| {
                let sequence = cp["pending"]["sequence"].as_u64()?;
                Some((cp["offset"].as_u64().unwrap_or_default(), sequence))
            })
            .collect()
    }

    /// The exit status, if the agent is not running any more.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The last snapshot of `<data_dir>/metrics.json`, if one was written.
    pub fn metrics(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.data_dir.join("metrics.json")).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// The records dropped for `reason` (`buffer_full`, ...) in the last metrics snapshot.
    pub fn dropped_records(&self, reason: &str) -> u64 {
        self.metrics()
            .map(|m| dropped(&m, reason).0)
            .unwrap_or_default()
    }

    /// The last `lines` lines of the agent's log.
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.log_path, lines)
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// (records, events, bytes) dropped for `reason` in a metrics snapshot.
fn dropped(metrics: &Value, reason: &str) -> (u64, u64, u64) {
    let entries = metrics["dropped"].as_array().cloned().unwrap_or_default();
    for entry in entries {
        if entry[0].as_str() == Some(reason) {
            let counts = &entry[1];
            let get = |name: &str| counts[name].as_u64().unwrap_or_default();
            return (get("records"), get("events"), get("bytes"));
        }
    }
    (0, 0, 0)
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Ids `<tag>-<n>` for `range` (six digits, so they sort in writing order).
fn ids(tag: &str, range: std::ops::Range<u64>) -> Vec<String> {
    range.map(|n| format!("{tag}-{n:06}")).collect()
}

/// A log line: the id, then ~100 bytes of poorly compressible hex (so the disk buffer's LZ4
/// frames stay about as large as the lines).
fn line(id: &str) -> String {
    let mut x = id
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
        .max(1);
    let mut payload = String::with_capacity(96);
    for _ in 0..6 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        payload.push_str(&format!("{x:016x}"));
    }
    format!("{id} payload={payload}\n")
}

/// A log file as an application holds it: opened once with O_APPEND, one write per line.
struct AppendFile {
    file: File,
}

impl AppendFile {
    fn open(path: &Path) -> Self {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
        Self { file }
    }

    fn write(&mut self, ids: &[String]) {
        for id in ids {
            self.file.write_all(line(id).as_bytes()).expect("append");
        }
    }

    /// Writes `ids` in chunks of 20 lines spread evenly over `over`.
    fn write_over(&mut self, ids: &[String], over: Duration) {
        let chunks = ids.len().div_ceil(20).max(1);
        let pause = over / chunks as u32;
        for chunk in ids.chunks(20) {
            self.write(chunk);
            std::thread::sleep(pause);
        }
    }
}

/// Appends `ids` to `path` on a thread, spread over `over`.
fn spawn_writer(path: PathBuf, ids: Vec<String>, over: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || AppendFile::open(&path).write_over(&ids, over))
}

/// What the [`Proxy`] does with the bytes it relays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Relay {
    /// Both directions flow.
    Pass = 0,
    /// Requests are withheld: the server never gets them (nothing is committed).
    HoldRequests = 1,
    /// Responses are withheld: the server committed, the agent does not know.
    HoldResponses = 2,
}

/// A TCP proxy between the agent and the server that can withhold one direction, to stop the
/// exactly-once protocol at a precise point. Withheld connections are cut (both ways) when
/// the relay mode changes again.
struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
    held: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free port and relays to 127.0.0.1:`target_port` (connections made while
    /// nothing listens there are closed at once).
    async fn start(target_port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let mode = Arc::new(AtomicU8::new(Relay::Pass as u8));
        let held = Arc::new(AtomicU64::new(0));
        let (task_mode, task_held) = (mode.clone(), held.clone());
        let task = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                else {
                    continue; // The server is down: the agent sees the connection close.
                };
                let (agent_read, agent_write) = inbound.into_split();
                let (server_read, server_write) = outbound.into_split();
                let (mode, held) = (task_mode.clone(), task_held.clone());
                tokio::spawn(relay(
                    agent_read,
                    server_write,
                    mode,
                    Relay::HoldRequests,
                    held,
                ));
                let (mode, held) = (task_mode.clone(), task_held.clone());
                tokio::spawn(relay(
                    server_read,
                    agent_write,
                    mode,
                    Relay::HoldResponses,
                    held,
                ));
            }
        });
        Self {
            port,
            mode,
            held,
            task,
        }
    }

    fn set(&self, relay: Relay) {
        self.mode.store(relay as u8, Ordering::SeqCst);
    }

    /// How many times bytes were withheld so far.
    fn held(&self) -> u64 {
        self.held.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to`; bytes read while the mode is `hold` are withheld, and once the mode
/// changes the connection is cut.
async fn relay(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mode: Arc<AtomicU8>,
    hold: Relay,
    held: Arc<AtomicU64>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if mode.load(Ordering::SeqCst) == hold as u8 {
            held.fetch_add(1, Ordering::SeqCst);
            while mode.load(Ordering::SeqCst) == hold as u8 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// One scenario's world: a server with a logstore, a logs directory, and an agent tailing it.
struct Scenario {
    _temp: tempfile::TempDir,
    logs: PathBuf,
    server_data: PathBuf,
    port: u16,
    server: Option<TestServer>,
    client: Client,
    agent: AgentProcess,
    /// Between the agent and the server, when the scenario asked for it.
    proxy: Option<Proxy>,
}

impl Scenario {
    /// `file_paths` are globs under the logs directory; `extra_settings` is appended to
    /// agent.toml.
    async fn start(file_paths: &[&str], extra_settings: &str) -> Self {
        Self::start_with(file_paths, extra_settings, false).await
    }

    /// Like [`Scenario::start`], the agent talking to the server through a [`Proxy`] when
    /// `proxied` (the test must run on a multi-threaded runtime: the proxy relays while the
    /// test blocks).
    async fn start_with(file_paths: &[&str], extra_settings: &str, proxied: bool) -> Self {
        let temp = tempfile::tempdir().expect("tempdir");
        let server_data = temp.path().join("server");
        let server = TestServer::start_in(&server_data).await;
        let client = server.client();
        client.create_project(PROJECT).await.assert_ok();
        client.create_logstore(PROJECT, LOGSTORE).await.assert_ok();
        let logs = temp.path().join("logs");
        let agent_dir = temp.path().join("agent");
        std::fs::create_dir_all(&logs).expect("mkdir logs");
        std::fs::create_dir_all(agent_dir.join("etc")).expect("mkdir agent");
        let proxy = match proxied {
            true => Some(Proxy::start(server.port).await),
            false => None,
        };
        let endpoint = match &proxy {
            Some(proxy) => format!("http://127.0.0.1:{}", proxy.port),
            None => server.endpoint(),
        };
        let credentials = &server.credentials;
        let settings = format!(
            "endpoint = \"{}\"\naccess_key_id = \"{}\"\naccess_key_secret = \"{}\"\n\
             config_dir = \"{}\"\ndata_dir = \"{}\"\nhostname = \"e2e-host\"\nip = \"127.0.0.1\"\n\
             {extra_settings}",
            endpoint,
            credentials.access_key_id,
            credentials.access_key_secret,
            agent_dir.join("etc").display(),
            agent_dir.join("data").display(),
        );
        std::fs::write(agent_dir.join("agent.toml"), settings).expect("agent.toml");
        let paths: Vec<String> = file_paths
            .iter()
            .map(|p| logs.join(p).display().to_string())
            .collect();
        let pipeline = json!({
            "inputs": [{"Type": "input_file", "FilePaths": paths, "FromBeginning": true}],
            "flushers": [{"Type": "flusher_sls", "Project": PROJECT, "Logstore": LOGSTORE}],
        });
        std::fs::write(agent_dir.join("p.json"), pipeline.to_string()).expect("p.json");
        let agent = AgentProcess::start(&agent_dir);
        Self {
            _temp: temp,
            logs,
            server_data,
            port: server.port,
            server: Some(server),
            client,
            agent,
            proxy,
        }
    }

    fn log(&self, name: &str) -> PathBuf {
        self.logs.join(name)
    }

    /// Panics with `message` and what the agent and the server said.
    #[track_caller]
    fn fail(&self, message: &str) -> ! {
        let metrics = self
            .agent
            .metrics()
            .map_or_else(|| "(none)".to_owned(), |m| m.to_string());
        let server_log = self
            .server
            .as_ref()
            .map(|s| tail(&s.log_path, 30))
            .unwrap_or_default();
        panic!(
            "{message}\n--- agent metrics.json ---\n{metrics}\n--- agent log (tail) ---\n{}\n\
             --- server log (tail) ---\n{server_log}",
            self.agent.log_tail(80)
        );
    }

    fn proxy(&self) -> &Proxy {
        self.proxy.as_ref().expect("the scenario has no proxy")
    }

    /// Withholds `relay`'s direction until bytes are withheld (a PutLogs request, or its
    /// response after the server committed it); relaying resumes with [`Relay::Pass`].
    async fn hold_next(&mut self, relay: Relay, what: &str) {
        let before = self.proxy().held();
        self.proxy().set(relay);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.proxy().held() == before {
            self.check_agent_alive();
            if Instant::now() > deadline {
                self.proxy().set(Relay::Pass);
                self.fail(&format!("{what}: no PutLogs to withhold within 10 s"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn check_agent_alive(&mut self) {
        if let Some(status) = self.agent.exited() {
            self.fail(&format!("the agent exited unexpectedly with {status}"));
        }
    }

    /// How many lines of the server's log (over all its starts) mention `needle`.
    fn server_log_mentions(&self, needle: &str) -> usize {
        let path = self
            .server_data
            .with_extension(format!("{}.log", self.port));
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines().filter(|l| l.contains(needle)).count()
    }

    fn kill_server(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.kill_hard();
        }
    }

    /// Starts the server again on its data directory and port (where the agent points).
    async fn restart_server(&mut self) {
        assert!(self.server.is_none(), "the server is running");
        let server = TestServer::start_on(&self.server_data, self.port, &[]).await;
        self.client = server.client();
        self.server = Some(server);
    }

    /// GetLogs v2 over the last hour: one page at `offset`.
    async fn page(&self, offset: usize, line: usize) -> Vec<Value> {
        let now = now_seconds();
        let path = format!("/logstores/{LOGSTORE}/logs");
        let reply = self
            .client
            .send(Call::new("POST", Some(PROJECT), &path).json(json!({
                "from": now - 3600, "to": now + 60, "query": "*",
                "line": line, "offset": offset,
            })))
            .await;
        reply.assert_ok();
        reply.json()["data"].as_array().cloned().expect("data")
    }

    /// Records in the logstore over the last hour: GetHistograms' total (`x-log-count`).
    async fn count(&self) -> u64 {
        let now = now_seconds();
        let path = format!("/logstores/{LOGSTORE}");
        let reply = self
            .client
            .send(
                Call::new("GET", Some(PROJECT), &path)
                    .query("type", "histogram")
                    .query("from", now - 3600)
                    .query("to", now + 60)
                    .query("query", "*"),
            )
            .await;
        reply.assert_ok();
        reply
            .header("x-log-count")
            .and_then(|count| count.parse().ok())
            .expect("x-log-count")
    }

    /// The id (first word of `content`) of every record in the logstore, paging by 100.
    async fn collect_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for page in 0.. {
            let rows = self.page(page * 100, 100).await;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let content = row["content"].as_str().unwrap_or_default();
                ids.push(content.split(' ').next().unwrap_or_default().to_owned());
            }
        }
        ids
    }

    /// Waits until the records in the logstore plus those the agent counts as dropped for
    /// `reason` reach `total` (the lines written); returns early on more (duplicates), which
    /// [`Scenario::finish`] then names.
    async fn wait_accounted(
        &mut self,
        total: u64,
        reason: Option<&str>,
        limit: Duration,
        what: &str,
    ) {
        let deadline = Instant::now() + limit;
        loop {
            self.check_agent_alive();
            let count = self.count().await;
            let dropped = reason.map_or(0, |r| self.agent.dropped_records(r));
            if count + dropped == total {
                return;
            }
            if count + dropped > total {
                // Duplicates: let the final check name them.
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "{what}: after {limit:?} the logstore holds {count} records and the agent \
                     counts {dropped} dropped ({reason:?}), of {total} lines written"
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the logstore holds `expected` records.
    async fn wait_count(&mut self, expected: u64, limit: Duration, what: &str) {
        self.wait_accounted(expected, None, limit, what).await;
    }

    /// Waits until the agent's metrics satisfy `ready` (given the snapshot).
    async fn wait_metrics(&mut self, limit: Duration, what: &str, ready: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + limit;
        loop {
            self.check_agent_alive();
            if self.agent.metrics().is_some_and(|m| ready(&m)) {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!("{what}: not reached within {limit:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The final check, once everything was written and the count reached: lets late
    /// duplicates land, stops the agent gracefully, and compares the logstore with `written`:
    /// no id twice, none unknown; with `drop_reason` None nothing is missing and nothing was
    /// counted dropped; with Some(reason), the missing ids are among `may_drop` and exactly as
    /// many as the agent counted under that reason (and nothing under another reason).
    async fn finish(&mut self, written: &[String], may_drop: &[String], drop_reason: Option<&str>) {
        // Longer than the agent's batch delay (1 s): a late duplicate would show.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        self.check_agent_alive();
        let status = self.agent.terminate();
        if !status.success() {
            self.fail(&format!("the agent exited with {status} after SIGTERM"));
        }
        let Some(metrics) = self.agent.metrics() else {
            self.fail("no metrics.json after a graceful shutdown");
        };
        let ids = self.collect_ids().await;
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for id in &ids {
            *counts.entry(id.as_str()).or_default() += 1;
        }
        let written_set: BTreeSet<&str> = written.iter().map(String::as_str).collect();
        let twice: Vec<(&str, usize)> = counts
            .iter()
            .filter(|(_, &n)| n > 1)
            .map(|(id, n)| (*id, *n))
            .collect();
        let unknown: Vec<&str> = counts
            .keys()
            .copied()
            .filter(|id| !written_set.contains(id))
            .collect();
        let missing: Vec<&str> = written
            .iter()
            .map(String::as_str)
            .filter(|id| !counts.contains_key(id))
            .collect();
        let summary = format!(
            "written {}, stored {} ({} distinct), missing {}, twice {}, unknown {}",
            written.len(),
            ids.len(),
            counts.len(),
            missing.len(),
            twice.len(),
            unknown.len()
        );
        eprintln!("{summary}; agent metrics: {metrics}");
        if !twice.is_empty() {
            let first: Vec<_> = twice.iter().take(20).collect();
            self.fail(&format!("{summary}: stored more than once: {first:?}"));
        }
        if !unknown.is_empty() {
            let first: Vec<_> = unknown.iter().take(20).collect();
            self.fail(&format!("{summary}: ids never written: {first:?}"));
        }
        let reasons = [
            "buffer_full",
            "buffer_expired",
            "buffer_corrupt",
            "file_deleted_before_read",
            "truncated_before_read",
            "rejected_by_server",
        ];
        for reason in reasons {
            let (records, _, _) = dropped(&metrics, reason);
            if Some(reason) != drop_reason && records != 0 {
                self.fail(&format!(
                    "{summary}: the agent counts {records} records dropped as {reason}"
                ));
            }
        }
        match drop_reason {
            None => {
                if !missing.is_empty() {
                    let first: Vec<_> = missing.iter().take(20).collect();
                    self.fail(&format!("{summary}: lost (no drop counted): {first:?}"));
                }
            }
            Some(reason) => {
                let may_drop: BTreeSet<&str> = may_drop.iter().map(String::as_str).collect();
                let outside: Vec<&&str> = missing
                    .iter()
                    .filter(|id| !may_drop.contains(**id))
                    .take(20)
                    .collect();
                if !outside.is_empty() {
                    self.fail(&format!(
                        "{summary}: lost although written while the server was up: {outside:?}"
                    ));
                }
                let (records, _, _) = dropped(&metrics, reason);
                if records != missing.len() as u64 {
                    self.fail(&format!(
                        "{summary}: {} ids missing but the agent counts {records} records \
                         dropped as {reason}",
                        missing.len()
                    ));
                }
                if records == 0 {
                    self.fail(&format!(
                        "{summary}: the scenario dropped nothing as {reason}"
                    ));
                }
            }
        }
    }
}

/// `kill -9` of the agent while three files are appended to, at the two points that matter
/// to exactly-once: batches persisted as pending whose requests the server never got, and
/// batches the server committed whose responses the agent never got (a proxy withholds each).
/// The restarted agent re-sends each pending batch with its sequence id: the first kind lands,
/// the second is refused as already committed. Then the same with a burst large enough to be
/// cut into several batches. Every line arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_kill_9_while_writing_loses_and_duplicates_nothing() {
    let mut s = Scenario::start_with(&["*.log"], "", true).await;
    let mut written = Vec::new();
    let mut writers = Vec::new();
    for file in 0..3 {
        let lines = ids(&format!("k{file}"), 0..1000);
        written.extend(lines.iter().cloned());
        let path = s.log(&format!("app{file}.log"));
        writers.push(spawn_writer(path, lines, Duration::from_millis(6000)));
    }
    let holds = [
        Relay::HoldResponses,
        Relay::HoldRequests,
        Relay::HoldResponses,
        Relay::HoldRequests,
    ];
    for (round, hold) in holds.into_iter().enumerate() {
        s.hold_next(hold, &format!("kill {round} ({hold:?})")).await;
        if s.agent.pending_batches().is_empty() {
            s.fail(&format!(
                "kill {round} ({hold:?}): no pending batch in the checkpoints"
            ));
        }
        s.agent.kill_hard();
        s.proxy().set(Relay::Pass);
        s.agent.restart();
    }
    for writer in writers {
        writer.join().expect("writer");
    }
    // A burst the agent cuts into several batches (by size): kill after the first commits.
    let burst = ids("kb", 0..8000);
    AppendFile::open(&s.log("app0.log")).write(&burst);
    written.extend(burst);
    s.hold_next(Relay::HoldResponses, "kill in a burst").await;
    s.agent.kill_hard();
    s.proxy().set(Relay::Pass);
    s.agent.restart();
    let total = written.len() as u64;
    s.wait_count(total, Duration::from_secs(20), "after kill -9 of the agent")
        .await;
    let refused = s.server_log_mentions("InvalidSequenceId");
    eprintln!("resends refused as InvalidSequenceId: {refused}");
    if refused < 3 {
        s.fail(&format!(
            "expected the batches committed before 3 kills to be re-sent and refused as \
             InvalidSequenceId, the server refused {refused}"
        ));
    }
    s.finish(&written, &[], None).await;
}

/// `kill -9` of the server right after it committed a batch whose response the agent never
/// got (a proxy withholds it); the server comes back on the same port and data. Then a second
/// outage during which the agent, holding buffered batches, is killed -9 too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_kill_9_while_writing_loses_and_duplicates_nothing() {
    let mut s = Scenario::start_with(&["*.log"], "", true).await;
    let written = ids("s", 0..3000);
    let writer = spawn_writer(
        s.log("app.log"),
        written.clone(),
        Duration::from_millis(4000),
    );
    s.hold_next(Relay::HoldResponses, "first server kill").await;
    s.kill_server();
    s.proxy().set(Relay::Pass);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    s.restart_server().await;

    tokio::time::sleep(Duration::from_millis(500)).await;
    s.kill_server();
    s.wait_metrics(
        Duration::from_secs(15),
        "a batch in the disk buffer during the second outage",
        |m| m["buffer_batches"].as_u64().unwrap_or(0) > 0,
    )
    .await;
    s.agent.kill_hard();
    s.agent.restart();
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.restart_server().await;
    writer.join().expect("writer");
    s.wait_count(3000, Duration::from_secs(25), "after kill -9 of the server")
        .await;
    let refused = s.server_log_mentions("InvalidSequenceId");
    eprintln!("resends refused as InvalidSequenceId: {refused}");
    if refused < 1 {
        s.fail("the batch committed before the server kill was not re-sent and refused");
    }
    s.finish(&written, &[], None).await;
}

/// Rename rotation mid-stream (app.log -> app.log.1, the application still writing to the
/// renamed file a moment, then to a new app.log); only app.log is matched. Then the same
/// rotation while the agent is down after a `kill -9` that interrupted a batch the server had
/// committed: the restarted agent finds the renamed file by inode, re-sends that batch (refused
/// as already committed) and reads the file to its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_rotation_mid_stream_reads_both_files_once() {
    let mut s = Scenario::start_with(&["app.log"], "", true).await;
    let (path, rotated) = (s.log("app.log"), s.log("app.log.1"));
    let written = ids("r", 0..4000);
    let to_write = written.clone();
    let writer = std::thread::spawn(move || {
        let mut old = AppendFile::open(&path);
        old.write_over(&to_write[..1500], Duration::from_millis(1000));
        std::fs::rename(&path, &rotated).expect("rotate");
        // The application has not reopened yet: these land in the renamed file.
        old.write_over(&to_write[1500..1800], Duration::from_millis(300));
        drop(old);
        AppendFile::open(&path).write_over(&to_write[1800..3000], Duration::from_millis(1000));
    });
    writer.join().expect("writer");
    s.wait_count(3000, Duration::from_secs(20), "after rename rotation")
        .await;

    // The same rotation while the agent is down.
    let writer = spawn_writer(
        s.log("app.log"),
        written[3000..3600].to_vec(),
        Duration::from_millis(1500),
    );
    s.hold_next(Relay::HoldResponses, "kill before the rotation")
        .await;
    s.agent.kill_hard();
    s.proxy().set(Relay::Pass);
    writer.join().expect("writer");
    let mut old = AppendFile::open(&s.log("app.log"));
    std::fs::rename(s.log("app.log"), s.log("app.log.1")).expect("rotate");
    old.write(&written[3600..3800]);
    AppendFile::open(&s.log("app.log")).write(&written[3800..]);
    s.agent.restart();
    s.wait_count(4000, Duration::from_secs(20), "after rotation while down")
        .await;
    let refused = s.server_log_mentions("InvalidSequenceId");
    if refused < 1 {
        s.fail("the batch committed before the kill was not re-sent and refused");
    }
    s.finish(&written, &[], None).await;
}

/// copytruncate: once the first part is shipped, app.log is copied to app.log.1 (not
/// matched) and truncated, and the application keeps appending.
#[tokio::test]
async fn copytruncate_reads_every_line_once() {
    let mut s = Scenario::start(&["app.log"], "").await;
    let path = s.log("app.log");
    let written = ids("c", 0..2000);
    let mut app = AppendFile::open(&path);
    app.write_over(&written[..1000], Duration::from_millis(500));
    s.wait_count(
        1000,
        Duration::from_secs(15),
        "first part before copytruncate",
    )
    .await;
    std::fs::copy(&path, s.log("app.log.1")).expect("copy");
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    app.write_over(&written[1000..], Duration::from_millis(500));
    s.wait_count(2000, Duration::from_secs(15), "after copytruncate")
        .await;
    s.finish(&written, &[], None).await;
}

/// Deletes `path` and creates it again holding `ids`, trying to have the new file get the old
/// inode (as happens when a file is deleted and another created while nothing holds it):
/// files are created beside it until one gets the freed inode, which is then handed over.
/// Returns whether the new file has the old inode.
fn recreate_reusing_inode(path: &Path, ids: &[String]) -> bool {
    let old = std::fs::metadata(path).expect("stat").ino();
    std::fs::remove_file(path).expect("delete");
    let dir = path.parent().expect("dir");
    let mut fillers = Vec::new();
    for n in 0..5000 {
        let filler = dir.join(format!("filler-{n}.tmp"));
        File::create(&filler).expect("filler");
        if std::fs::metadata(&filler).expect("stat").ino() == old {
            std::fs::remove_file(&filler).expect("free the inode");
            break;
        }
        fillers.push(filler);
    }
    AppendFile::open(path).write(ids);
    for filler in fillers {
        std::fs::remove_file(filler).expect("remove filler");
    }
    std::fs::metadata(path).expect("stat").ino() == old
}

/// Truncation to zero then new lines; a file deleted and re-created while the agent runs;
/// while the agent is down, a file rewritten in place (same inode, other content) and a file
/// deleted and re-created on the same inode (inode reuse).
#[tokio::test]
async fn truncation_and_inode_reuse_read_every_line_once() {
    let mut s = Scenario::start(&["app.log"], "").await;
    let path = s.log("app.log");
    let written = ids("t", 0..2500);

    let mut app = AppendFile::open(&path);
    app.write_over(&written[..500], Duration::from_millis(300));
    s.wait_count(500, Duration::from_secs(15), "before truncation")
        .await;
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    app.write_over(&written[500..1000], Duration::from_millis(300));
    s.wait_count(1000, Duration::from_secs(15), "after truncation to zero")
        .await;
    drop(app);

    // Deleted and re-created while the agent holds the old file open.
    std::fs::remove_file(&path).expect("delete");
    AppendFile::open(&path).write_over(&written[1000..1500], Duration::from_millis(300));
    s.wait_count(1500, Duration::from_secs(15), "after delete and re-create")
        .await;

    // Rewritten in place while the agent is down: same inode, other first bytes.
    let status = s.agent.terminate();
    assert!(status.success(), "agent exit status {status}");
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    AppendFile::open(&path).write(&written[1500..2000]);
    s.agent.restart();
    s.wait_count(2000, Duration::from_secs(15), "after a rewrite while down")
        .await;

    // Deleted and re-created on the same inode while the agent is down.
    let status = s.agent.terminate();
    assert!(status.success(), "agent exit status {status}");
    let reused = recreate_reusing_inode(&path, &written[2000..]);
    eprintln!("inode reused by the re-created file: {reused}");
    s.agent.restart();
    s.wait_count(
        2500,
        Duration::from_secs(15),
        "after inode reuse while down",
    )
    .await;
    s.finish(&written, &[], None).await;
}

/// An outage longer than the buffer's age limit: what was written during it expires (and is
/// counted), everything before and after arrives once.
#[tokio::test]
async fn outage_longer_than_buffer_age_drops_exactly_what_is_counted() {
    let mut s = Scenario::start(&["*.log"], "buffer_max_age_secs = 2\n").await;
    let written = ids("a", 0..700);
    let (before, during, after) = (&written[..200], &written[200..500], &written[500..]);
    let mut app = AppendFile::open(&s.log("app.log"));
    app.write(before);
    s.wait_count(200, Duration::from_secs(15), "before the outage")
        .await;
    s.kill_server();
    app.write_over(during, Duration::from_millis(500));
    let all = during.len() as u64;
    s.wait_metrics(
        Duration::from_secs(25),
        "every line written during the outage counted as buffer_expired",
        |m| dropped(m, "buffer_expired").0 >= all,
    )
    .await;
    s.restart_server().await;
    app.write(after);
    s.wait_accounted(
        written.len() as u64,
        Some("buffer_expired"),
        Duration::from_secs(20),
        "after the outage",
    )
    .await;
    s.finish(&written, during, Some("buffer_expired")).await;
}

/// An outage longer than the buffer's size: the oldest buffered batches make room (counted as
/// buffer_full); everything else arrives once after the server returns.
#[tokio::test]
async fn outage_longer_than_buffer_size_drops_exactly_what_is_counted() {
    let mut s = Scenario::start(&["*.log"], "buffer_max_bytes = 65536\n").await;
    let mut written = ids("b", 0..200);
    AppendFile::open(&s.log("app.log")).write(&written);
    s.wait_count(200, Duration::from_secs(15), "before the outage")
        .await;
    s.kill_server();
    // Eight files, so that delivery cuts many batches (one stream per file), each smaller
    // than the buffer, together several times larger.
    let mut files: Vec<AppendFile> = (0..8)
        .map(|f| AppendFile::open(&s.log(&format!("s{f}.log"))))
        .collect();
    let mut during = Vec::new();
    for round in 0..20u64 {
        for (f, file) in files.iter_mut().enumerate() {
            let chunk = ids(&format!("o{f}"), round * 20..round * 20 + 20);
            file.write(&chunk);
            during.extend(chunk);
        }
        std::thread::sleep(Duration::from_millis(75));
    }
    written.extend(during.iter().cloned());
    let read_target = written.len() as u64;
    s.wait_metrics(
        Duration::from_secs(20),
        "every line read and some counted as buffer_full",
        |m| m["records_read"].as_u64() == Some(read_target) && dropped(m, "buffer_full").0 > 0,
    )
    .await;
    s.restart_server().await;
    let after = ids("b", 200..400);
    AppendFile::open(&s.log("app.log")).write(&after);
    written.extend(after);
    s.wait_accounted(
        written.len() as u64,
        Some("buffer_full"),
        Duration::from_secs(20),
        "after the outage",
    )
    .await;
    s.finish(&written, &during, Some("buffer_full")).await;
}
