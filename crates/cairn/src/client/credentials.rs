//! The connection options every client command takes: the endpoint, and the AccessKey they
//! resolve to.
//!
//! Precedence: `--access-key-id` with `--access-key-secret` (or `CAIRN_ACCESS_KEY_ID` with
//! `CAIRN_ACCESS_KEY_SECRET`), else the credentials file (`--credentials`, `CAIRN_CREDENTIALS`,
//! default `./cairn-data/credentials.json`) that `cairn serve` writes on first start as
//! `{"accountId","accessKeyId","accessKeySecret"}`.
//!
//! Temporary credentials (from `cairn sts assume-role`) add a security token: the file's
//! `securityToken`, or `--security-token` (`CAIRN_SECURITY_TOKEN`), which wins over the file's.
//! Every request signed with them carries it as `x-acs-security-token`, added before signing
//! (V1 signs every `x-acs-*` header).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where `cairn serve` listens by default.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:7480";
/// Where `cairn serve` writes the operator's credentials on first start.
pub const DEFAULT_CREDENTIALS: &str = "./cairn-data/credentials.json";

/// Which server to talk to and which AccessKey to sign with; shared by every client command.
#[derive(Clone, clap::Args)]
pub struct ConnectionOptions {
    /// Cairn server URL
    #[arg(long, env = "CAIRN_ENDPOINT", default_value = DEFAULT_ENDPOINT, value_name = "URL",
          help_heading = "Connection")]
    pub endpoint: String,

    /// Credentials file: JSON with accessKeyId and accessKeySecret, as `cairn serve` writes on
    /// first start
    #[arg(long, env = "CAIRN_CREDENTIALS", default_value = DEFAULT_CREDENTIALS,
          value_name = "FILE", help_heading = "Connection")]
    pub credentials: PathBuf,

    /// AccessKey id to sign with (with --access-key-secret, overrides --credentials)
    #[arg(
        long,
        env = "CAIRN_ACCESS_KEY_ID",
        value_name = "ID",
        help_heading = "Connection"
    )]
    pub access_key_id: Option<String>,

    /// AccessKey secret to sign with (with --access-key-id, overrides --credentials)
    #[arg(
        long,
        env = "CAIRN_ACCESS_KEY_SECRET",
        hide_env_values = true,
        value_name = "SECRET",
        help_heading = "Connection"
    )]
    pub access_key_secret: Option<String>,

    /// Security token of temporary credentials (from `cairn sts assume-role`), sent with every
    /// request; overrides the credentials file's
    #[arg(
        long,
        env = "CAIRN_SECURITY_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        help_heading = "Connection"
    )]
    pub security_token: Option<String>,
}

impl fmt::Debug for ConnectionOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionOptions")
            .field("endpoint", &self.endpoint)
            .field("credentials", &self.credentials)
            .field("access_key_id", &self.access_key_id)
            .field(
                "access_key_secret",
                &self.access_key_secret.as_ref().map(|_| "<hidden>"),
            )
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

/// An AccessKey pair to sign requests with, and the security token of temporary ones.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The public half.
    pub access_key_id: String,
    /// The secret half.
    pub access_key_secret: String,
    /// The security token of temporary (STS) credentials, sent as `x-acs-security-token`.
    pub security_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.security_token.is_some() {
            ", token <hidden>"
        } else {
            ""
        };
        write!(f, "Credentials({}, <hidden>{token})", self.access_key_id)
    }
}

/// The header temporary credentials send their security token in.
pub const SECURITY_TOKEN_HEADER: &str = "x-acs-security-token";

/// A credentials file: the one `cairn serve` writes (`accountId` is not needed to sign), or
/// the one `cairn sts assume-role --write-credentials` writes, with a token and expiration.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsFile {
    /// The account the key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The AccessKey id.
    pub access_key_id: String,
    /// The AccessKey secret.
    pub access_key_secret: String,
    /// The security token of temporary credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_token: Option<String>,
    /// When temporary credentials expire, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Value>,
}

impl fmt::Debug for CredentialsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CredentialsFile({}, <hidden>)", self.access_key_id)
    }
}

impl CredentialsFile {
    /// Writes the file readable only by its owner (mode 0600), atomically: a temporary file
    /// beside it, renamed over it.
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        let temporary = path.with_file_name(name);
        // A stale temporary file may have looser permissions than a fresh one gets.
        let _ = std::fs::remove_file(&temporary);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)
            .with_context(|| format!("cannot create {}", temporary.display()))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(&text)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", temporary.display()))?;
        std::fs::rename(&temporary, path)
            .with_context(|| format!("cannot write {}", path.display()))
    }
}

impl Credentials {
    /// Reads a credentials file: `{"accountId","accessKeyId","accessKeySecret"}`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read credentials file {}: start `cairn serve` once to create it, point \
                 --credentials (or CAIRN_CREDENTIALS) at it, or pass --access-key-id and \
                 --access-key-secret",
                path.display()
            )
        })?;
        let file: CredentialsFile = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a credentials file: expected JSON with \"accessKeyId\" and \
                 \"accessKeySecret\"",
                path.display()
            )
        })?;
        if file.access_key_id.trim().is_empty() || file.access_key_secret.is_empty() {
            bail!(
                "{}: accessKeyId or accessKeySecret is empty",
                path.display()
            );
        }
        let expiration = file.expiration.as_ref().and_then(|v| match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        });
        if let Some(expiration) =
            expiration.filter(|&e| e > 0 && e < chrono::Utc::now().timestamp())
        {
            eprintln!(
                "warning: the temporary credentials in {} expired at {}; assume the role again",
                path.display(),
                super::output::unix_time_text(expiration, None)
            );
        }
        Ok(Self {
            access_key_id: file.access_key_id.trim().to_owned(),
            access_key_secret: file.access_key_secret,
            security_token: file
                .security_token
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
        })
    }

    /// Signs a request with V1 and returns every header to send; temporary credentials add
    /// `x-acs-security-token` to `headers` first, so that the signature covers it.
    pub fn sign_v1(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        mut headers: Vec<(String, String)>,
        body: &[u8],
        now: SystemTime,
    ) -> Vec<(String, String)> {
        if let Some(token) = &self.security_token {
            headers.retain(|(name, _)| !name.eq_ignore_ascii_case(SECURITY_TOKEN_HEADER));
            headers.push((SECURITY_TOKEN_HEADER.to_owned(), token.clone()));
        }
        cairn_protocol::signing::sign_request_v1(
            &self.access_key_id,
            &self.access_key_secret,
            method,
            path,
            query,
            headers,
            body,
            now,
        )
    }
}

impl ConnectionOptions {
    /// The credentials to sign with: the explicit AccessKey if given, else the file's; an
    /// explicit security token goes with either.
    pub fn resolve_credentials(&self) -> Result<Credentials> {
        let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        let token = non_empty(&self.security_token).map(|t| t.trim().to_owned());
        match (
            non_empty(&self.access_key_id),
            non_empty(&self.access_key_secret),
        ) {
            (Some(id), Some(secret)) => Ok(Credentials {
                access_key_id: id.trim().to_owned(),
                access_key_secret: secret,
                security_token: token,
            }),
            (Some(_), None) => {
                bail!("--access-key-id needs --access-key-secret (or CAIRN_ACCESS_KEY_SECRET) too")
            }
            (None, Some(_)) => {
                bail!("--access-key-secret needs --access-key-id (or CAIRN_ACCESS_KEY_ID) too")
            }
            (None, None) => {
                let mut credentials = Credentials::load(&self.credentials)?;
                if token.is_some() {
                    credentials.security_token = token;
                }
                Ok(credentials)
            }
        }
    }
}

/// Parses `--endpoint`: an `http://host:port` URL; a bare `host:port` means http.
pub fn parse_endpoint(text: &str) -> Result<Url> {
    let text = text.trim();
    let full = if text.contains("://") {
        text.to_owned()
    } else {
        format!("http://{text}")
    };
    let url = Url::parse(&full).with_context(|| {
        format!("invalid endpoint {text:?}: expected a URL like {DEFAULT_ENDPOINT}")
    })?;
    match url.scheme() {
        "http" => {}
        "https" => bail!(
            "endpoint {text:?}: this cairn client speaks plain http only; use an http:// endpoint"
        ),
        other => bail!("endpoint {text:?}: unsupported scheme {other:?}, use http://"),
    }
    if url.host_str().is_none_or(str::is_empty) {
        bail!("endpoint {text:?} has no host");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        bail!("endpoint {text:?} must be a server address without a path, like {DEFAULT_ENDPOINT}");
    }
    Ok(url)
}

/// Whether the endpoint is this machine (`localhost`, `127.x.x.x`, `::1`).
pub fn is_loopback(endpoint: &Url) -> bool {
    let Some(host) = endpoint.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, contents: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cairn-cli-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("write temp file");
        path
    }

    fn options(file: PathBuf, id: Option<&str>, secret: Option<&str>) -> ConnectionOptions {
        ConnectionOptions {
            endpoint: DEFAULT_ENDPOINT.to_owned(),
            credentials: file,
            access_key_id: id.map(str::to_owned),
            access_key_secret: secret.map(str::to_owned),
            security_token: None,
        }
    }

    #[test]
    fn credentials_load_from_the_serve_file() {
        let path = temp_file(
            "good.json",
            r#"{"accountId":"1234567890123456","accessKeyId":"LTAIabc123","accessKeySecret":"s3cr3t"}"#,
        );
        let creds = options(path, None, None)
            .resolve_credentials()
            .expect("loads");
        assert_eq!(creds.access_key_id, "LTAIabc123");
        assert_eq!(creds.access_key_secret, "s3cr3t");
        assert!(!format!("{creds:?}").contains("s3cr3t"));
    }

    #[test]
    fn explicit_keys_take_precedence() {
        let missing = PathBuf::from("/nonexistent/credentials.json");
        let creds = options(missing.clone(), Some("LTAIexplicit"), Some("secret"))
            .resolve_credentials()
            .expect("explicit keys");
        assert_eq!(creds.access_key_id, "LTAIexplicit");
        let half = options(missing.clone(), Some("LTAIexplicit"), None).resolve_credentials();
        assert!(format!("{:#}", half.expect_err("half")).contains("--access-key-secret"));
        // Empty values (an exported but empty variable) count as absent.
        let empty = options(missing, Some(""), Some("")).resolve_credentials();
        assert!(format!("{:#}", empty.expect_err("missing file")).contains("cairn serve"));
    }

    #[test]
    fn bad_credential_files_are_explained() {
        let not_json = temp_file("bad.json", "accessKeyId=x");
        let err = options(not_json, None, None)
            .resolve_credentials()
            .expect_err("bad");
        assert!(format!("{err:#}").contains("accessKeySecret"), "{err:#}");
        let empty = temp_file("empty.json", r#"{"accessKeyId":"","accessKeySecret":""}"#);
        assert!(options(empty, None, None).resolve_credentials().is_err());
    }

    #[test]
    fn endpoints_are_checked() {
        assert_eq!(
            parse_endpoint("http://127.0.0.1:7480")
                .expect("ok")
                .as_str(),
            "http://127.0.0.1:7480/"
        );
        assert_eq!(
            parse_endpoint("localhost:9000").expect("ok").as_str(),
            "http://localhost:9000/"
        );
        assert!(parse_endpoint("https://example.com").is_err());
        assert!(parse_endpoint("http://example.com/prefix").is_err());
        assert!(parse_endpoint("ftp://example.com").is_err());
        assert!(parse_endpoint("http://").is_err());
    }

    #[test]
    fn loopback_endpoints_are_recognised() {
        let loopback = |text: &str| is_loopback(&parse_endpoint(text).expect("endpoint"));
        assert!(loopback("http://127.0.0.1:7480"));
        assert!(loopback("localhost:7480"));
        assert!(loopback("http://[::1]:7480"));
        assert!(!loopback("http://10.0.0.5:7480"));
        assert!(!loopback("logs.example.com"));
    }

    #[test]
    fn temporary_credentials_round_trip_through_a_private_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("role.json");
        let file = CredentialsFile {
            account_id: Some("1234567890123456".to_owned()),
            access_key_id: "STS.abc123def456".to_owned(),
            access_key_secret: "temporary-secret".to_owned(),
            security_token: Some("tok-1".to_owned()),
            expiration: Some(Value::from(4_102_444_800_i64)),
        };
        file.save(&path).expect("saves");
        file.save(&path).expect("overwrites");
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).expect("reads");
        let json: Value = serde_json::from_str(&text).expect("JSON");
        for key in [
            "accountId",
            "accessKeyId",
            "accessKeySecret",
            "securityToken",
            "expiration",
        ] {
            assert!(json.get(key).is_some(), "{key} in {text}");
        }
        let creds = options(path.clone(), None, None)
            .resolve_credentials()
            .expect("loads");
        assert_eq!(creds.access_key_id, "STS.abc123def456");
        assert_eq!(creds.security_token.as_deref(), Some("tok-1"));
        assert!(!format!("{creds:?}").contains("tok-1"));
        // An explicit token wins over the file's; the serve file has none.
        let mut explicit = options(path, None, None);
        explicit.security_token = Some("tok-2".to_owned());
        let creds = explicit.resolve_credentials().expect("loads");
        assert_eq!(creds.security_token.as_deref(), Some("tok-2"));
        let serve = temp_file(
            "serve.json",
            r#"{"accountId":"1234567890123456","accessKeyId":"LTAIabc123","accessKeySecret":"s"}"#,
        );
        let creds = options(serve, None, None)
            .resolve_credentials()
            .expect("loads");
        assert_eq!(creds.security_token, None);
    }

    #[test]
    fn the_security_token_is_signed() {
        use cairn_protocol::signing::{v1, SigningRequest};
        let creds = Credentials {
            access_key_id: "STS.abc123def456".to_owned(),
            access_key_secret: "temporary-secret".to_owned(),
            security_token: Some("tok-1".to_owned()),
        };
        let query = vec![("offset".to_owned(), "0".to_owned())];
        let body = br#"{"x":1}"#;
        let extra = vec![("x-log-bodyrawsize".to_owned(), body.len().to_string())];
        let headers = creds.sign_v1("POST", "/etls", &query, extra, body, SystemTime::now());
        let (auth, rest): (Vec<_>, Vec<_>) = headers
            .into_iter()
            .partition(|(name, _)| name == "Authorization");
        let auth = &auth.first().expect("Authorization").1;
        assert!(rest.contains(&(SECURITY_TOKEN_HEADER.to_owned(), "tok-1".to_owned())));
        let request = SigningRequest {
            method: "POST",
            path: "/etls",
            query: &query,
            headers: &rest,
            body,
        };
        assert!(v1::string_to_sign(&request).contains("\nx-acs-security-token:tok-1\n"));
        let signature = v1::sign("temporary-secret", &request);
        assert_eq!(*auth, format!("LOG STS.abc123def456:{signature}"));
        // Without the token the same request signs differently: it is covered.
        let without: Vec<(String, String)> = rest
            .iter()
            .filter(|(name, _)| name != SECURITY_TOKEN_HEADER)
            .cloned()
            .collect();
        let unsigned = SigningRequest {
            headers: &without,
            ..request
        };
        assert_ne!(v1::sign("temporary-secret", &unsigned), signature);
    }
}
