//! Test harness: starts the real `cairn serve` on a free loopback port with a temporary data
//! directory, and a small signed client to talk to it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use cairn_model::{Field, LogEntry, LogGroupData, LogTime};
use cairn_protocol::compression::{compress, CompressionType};
use serde_json::Value;

/// The operator credentials written by the first start.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub account_id: String,
    pub access_key_id: String,
    pub access_key_secret: String,
}

/// A running `cairn serve` process.
pub struct TestServer {
    child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    /// The server's stderr (appended to by every start on the same data dir and port).
    pub log_path: PathBuf,
    _temp: Option<tempfile::TempDir>,
    pub credentials: Credentials,
}

impl TestServer {
    /// Starts a server on a fresh data directory.
    pub async fn start() -> Self {
        let temp = tempfile::tempdir().expect("tempdir");
        let data_dir = temp.path().join("data");
        let mut server = Self::start_in(&data_dir).await;
        server._temp = Some(temp);
        server
    }

    /// Starts a server on `data_dir` (which may hold an earlier server's data).
    pub async fn start_in(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[]).await
    }

    /// Starts a server on `data_dir` with extra `cairn serve` flags.
    pub async fn start_with(data_dir: &Path, extra_arguments: &[&str]) -> Self {
        Self::start_on(data_dir, free_port(), extra_arguments).await
    }

    /// Starts a server on `data_dir` listening on `port`: a server that was stopped comes back
    /// where its clients (an agent) expect it. Its log is appended to, across restarts.
    pub async fn start_on(data_dir: &Path, port: u16, extra_arguments: &[&str]) -> Self {
        Self::start_with_environment(data_dir, port, extra_arguments, &[]).await
    }

    /// Like [`TestServer::start_on`], with extra environment variables (e.g. a failpoint).
    pub async fn start_with_environment(
        data_dir: &Path,
        port: u16,
        extra_arguments: &[&str],
        environment: &[(&str, &str)],
    ) -> Self {
        let log_path = data_dir.with_extension(format!("{port}.log"));
        std::fs::create_dir_all(data_dir.parent().expect("parent")).expect("mkdir");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["serve", "--data-dir"])
            .arg(data_dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(extra_arguments)
            .env("CAIRN_LOG", "info")
            // Records move into splits within a second, so every test also reads splits.
            .env("CAIRN_FLUSH_SECONDS", "1")
            .env_remove("CAIRN_MASTER_KEY")
            .envs(environment.iter().copied())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn cairn serve");
        let mut server = Self {
            child: Some(child),
            port,
            data_dir: data_dir.to_owned(),
            log_path: log_path.clone(),
            _temp: None,
            credentials: Credentials {
                account_id: String::new(),
                access_key_id: String::new(),
                access_key_secret: String::new(),
            },
        };
        server.wait_ready(&log_path).await;
        let text = std::fs::read_to_string(data_dir.join("credentials.json")).expect("credentials");
        let json: Value = serde_json::from_str(&text).expect("credentials json");
        server.credentials = Credentials {
            account_id: json["accountId"].as_str().expect("accountId").to_owned(),
            access_key_id: json["accessKeyId"]
                .as_str()
                .expect("accessKeyId")
                .to_owned(),
            access_key_secret: json["accessKeySecret"].as_str().expect("secret").to_owned(),
        };
        server
    }

    async fn wait_ready(&mut self, log_path: &Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("{}/health", self.endpoint());
        while Instant::now() < deadline {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "cairn serve exited with {status}:\n{}",
                    std::fs::read_to_string(log_path).unwrap_or_default()
                );
            }
            if let Ok(response) = reqwest::get(&url).await {
                if response.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "cairn serve was not ready in 30 s:\n{}",
            std::fs::read_to_string(log_path).unwrap_or_default()
        );
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A client signing as the operator.
    pub fn client(&self) -> Client {
        Client::new(
            self.endpoint(),
            &self.credentials.access_key_id,
            &self.credentials.access_key_secret,
        )
    }

    /// Waits up to `timeout` for the server to exit on its own (e.g. at a failpoint).
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let child = self.child.as_mut()?;
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// `kill -9`: no chance to flush anything.
    pub fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("wait");
        }
    }

    /// SIGTERM and wait for a graceful exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let child = self.child.as_mut().expect("running");
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
            assert!(Instant::now() < deadline, "no exit 30 s after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn error_code(&self) -> String {
        self.json()["errorCode"].as_str().unwrap_or("").to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.status,
            200,
            "expected 200, got {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.error_code().as_str()),
            (status, code),
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert!(self.header("x-log-requestid").is_some());
    }
}

/// A request to send; `project` goes into the Host header as SLS clients address it.
pub struct Call<'a> {
    pub method: &'a str,
    pub project: Option<&'a str>,
    pub path: &'a str,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl<'a> Call<'a> {
    pub fn new(method: &'a str, project: Option<&'a str>, path: &'a str) -> Self {
        Self {
            method,
            project,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn query(mut self, key: &str, value: impl ToString) -> Self {
        self.query.push((key.to_owned(), value.to_string()));
        self
    }

    pub fn header(mut self, key: &str, value: impl ToString) -> Self {
        self.headers.push((key.to_owned(), value.to_string()));
        self
    }

    pub fn json(mut self, value: Value) -> Self {
        self.body = value.to_string().into_bytes();
        self.headers
            .push(("content-type".to_owned(), "application/json".to_owned()));
        self
    }
}

/// A client that signs requests with SLS signature V1 (or V4), optionally with an STS token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: String,
    pub access_key_id: String,
    pub access_key_secret: String,
    security_token: Option<String>,
    sign_v4: bool,
}

impl Client {
    pub fn new(endpoint: String, id: &str, secret: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            endpoint,
            access_key_id: id.to_owned(),
            access_key_secret: secret.to_owned(),
            security_token: None,
            sign_v4: false,
        }
    }

    pub fn with_key(&self, id: &str, secret: &str) -> Self {
        Self::new(self.endpoint.clone(), id, secret)
    }

    /// A client for temporary credentials: every request carries `x-acs-security-token`.
    pub fn with_temporary_key(&self, id: &str, secret: &str, token: &str) -> Self {
        let mut client = self.with_key(id, secret);
        client.security_token = Some(token.to_owned());
        client
    }

    /// The same client signing with SLS signature V4.
    pub fn signing_v4(&self) -> Self {
        let mut client = self.clone();
        client.sign_v4 = true;
        client
    }

    /// Signs and sends; `mutate` may tamper with the signed headers before sending.
    pub async fn send_with(
        &self,
        call: Call<'_>,
        now: SystemTime,
        mutate: impl FnOnce(&mut Vec<(String, String)>),
    ) -> Reply {
        let mut headers = call.headers.clone();
        let host = match call.project {
            Some(project) => format!("{project}.127.0.0.1"),
            None => "127.0.0.1".to_owned(),
        };
        headers.push(("host".to_owned(), host));
        if let Some(token) = &self.security_token {
            headers.push(("x-acs-security-token".to_owned(), token.clone()));
        }
        let mut signed = if self.sign_v4 {
            cairn_protocol::signing::sign_request_v4(
                &self.access_key_id,
                &self.access_key_secret,
                "cairn",
                call.method,
                call.path,
                &call.query,
                headers,
                &call.body,
                now,
            )
        } else {
            cairn_protocol::signing::sign_request_v1(
                &self.access_key_id,
                &self.access_key_secret,
                call.method,
                call.path,
                &call.query,
                headers,
                &call.body,
                now,
            )
        };
        mutate(&mut signed);
        let url = reqwest::Url::parse_with_params(
            &format!("{}{}", self.endpoint, call.path),
            &call.query,
        )
        .expect("url");
        let mut request = self
            .http
            .request(call.method.parse().expect("method"), url)
            .body(call.body);
        for (name, value) in signed {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("body").to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn send(&self, call: Call<'_>) -> Reply {
        self.send_with(call, SystemTime::now(), |_| {}).await
    }

    pub async fn create_project(&self, project: &str) -> Reply {
        self.send(
            Call::new("POST", Some(project), "/")
                .json(serde_json::json!({"projectName": project, "description": "test"})),
        )
        .await
    }

    pub async fn create_logstore(&self, project: &str, logstore: &str) -> Reply {
        self.send(
            Call::new("POST", Some(project), "/logstores")
                .json(serde_json::json!({"logstoreName": logstore, "ttl": 30, "shardCount": 2})),
        )
        .await
    }

    /// PutLogs with the given compression.
    pub async fn put_group(
        &self,
        project: &str,
        logstore: &str,
        group: &LogGroupData,
        compression: CompressionType,
    ) -> Reply {
        let raw = cairn_protocol::encode_log_group(group);
        let body = compress(compression, &raw);
        let path = format!("/logstores/{logstore}/shards/lb");
        let mut call = Call::new("POST", Some(project), &path)
            .header("content-type", "application/x-protobuf")
            .header("x-log-bodyrawsize", raw.len());
        if let Some(name) = compression.as_header() {
            call = call.header("x-log-compresstype", name);
        }
        call.body = body;
        self.send(call).await
    }

    /// GetLogs v2 with a search query over a time range; returns the `data` rows.
    pub async fn get_logs(
        &self,
        project: &str,
        logstore: &str,
        query: &str,
        from: u32,
        to: u32,
    ) -> Vec<Value> {
        let path = format!("/logstores/{logstore}/logs");
        let reply = self
            .send(
                Call::new("POST", Some(project), &path).json(serde_json::json!({
                    "from": from, "to": to, "query": query, "line": 100, "offset": 0,
                    "reverse": false, "powerSql": false
                })),
            )
            .await;
        reply.assert_ok();
        reply.json()["data"].as_array().cloned().expect("data")
    }
}

/// A group of `count` records at `time`, each with `id=<prefix>-<n>` and a message.
pub fn group_of(prefix: &str, count: usize, time: u32) -> LogGroupData {
    LogGroupData {
        topic: b"test-topic".to_vec().into(),
        source: b"10.0.0.9".to_vec().into(),
        tags: vec![Field::new("host", "web-1")],
        logs: (0..count)
            .map(|n| LogEntry {
                time: LogTime::new(time, n as u32),
                contents: vec![
                    Field::new("id", format!("{prefix}-{n}")),
                    Field::new("status", if n % 10 == 0 { "500" } else { "200" }),
                    Field::new("message", format!("request {n} served by backend")),
                ],
            })
            .collect(),
    }
}

pub fn now_seconds() -> u32 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as u32
}
