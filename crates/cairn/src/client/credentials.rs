//! The connection options every client command takes: the endpoint, and the AccessKey they
//! resolve to.
//!
//! Precedence: `--access-key-id` with `--access-key-secret` (or `CAIRN_ACCESS_KEY_ID` with
//! `CAIRN_ACCESS_KEY_SECRET`), else the credentials file (`--credentials`, `CAIRN_CREDENTIALS`,
//! default `./cairn-data/credentials.json`) that `cairn serve` writes on first start as
//! `{"accountId","accessKeyId","accessKeySecret"}`.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use reqwest::Url;
use serde::Deserialize;

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
            .finish()
    }
}

/// An AccessKey pair to sign requests with.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The public half.
    pub access_key_id: String,
    /// The secret half.
    pub access_key_secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials({}, <hidden>)", self.access_key_id)
    }
}

/// The credentials file `cairn serve` writes (`accountId` is read past, not needed to sign).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialsFile {
    access_key_id: String,
    access_key_secret: String,
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
        Ok(Self {
            access_key_id: file.access_key_id.trim().to_owned(),
            access_key_secret: file.access_key_secret,
        })
    }
}

impl ConnectionOptions {
    /// The credentials to sign with: the explicit AccessKey if given, else the file's.
    pub fn resolve_credentials(&self) -> Result<Credentials> {
        let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        match (
            non_empty(&self.access_key_id),
            non_empty(&self.access_key_secret),
        ) {
            (Some(id), Some(secret)) => Ok(Credentials {
                access_key_id: id.trim().to_owned(),
                access_key_secret: secret,
            }),
            (Some(_), None) => {
                bail!("--access-key-id needs --access-key-secret (or CAIRN_ACCESS_KEY_SECRET) too")
            }
            (None, Some(_)) => {
                bail!("--access-key-secret needs --access-key-id (or CAIRN_ACCESS_KEY_ID) too")
            }
            (None, None) => Credentials::load(&self.credentials),
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
}
