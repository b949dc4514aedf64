//! `cairn serve` configuration: defaults, then a TOML file, then `CAIRN_*` environment
//! variables, then command-line flags, each overriding the one before.
//!
//! Parsing (serde, unknown keys refused) is separate from validation ([`ServeConfig::validate`]),
//! so a typo in a key and a bad value get different, precise errors.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

/// Flags of `cairn serve`; each may also come from its environment variable.
#[derive(Debug, clap::Args)]
pub struct ServeArguments {
    /// A TOML config file with any of: data_dir, listen, region, log_format.
    #[arg(long, env = "CAIRN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where Cairn keeps everything: metastore, write-ahead log, objects, keys [default: ./cairn-data].
    #[arg(long, env = "CAIRN_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The address to serve on [default: 127.0.0.1:7480].
    #[arg(long, env = "CAIRN_LISTEN")]
    pub listen: Option<String>,
    /// The region name used in resource ARNs [default: cairn].
    #[arg(long, env = "CAIRN_REGION")]
    pub region: Option<String>,
    /// Log output: `text` for people, `json` for log collectors [default: text].
    #[arg(long, env = "CAIRN_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// The server's own domain names, comma-separated: a Host equal to one is the bare
    /// endpoint and `<project>.<domain>` names a project [default: localhost].
    #[arg(long, env = "CAIRN_ENDPOINT_DOMAINS", value_delimiter = ',')]
    pub endpoint_domains: Option<Vec<String>>,
    /// Refuse writes (retryable 503 ServerBusy) while the WAL disk has less free space than
    /// this many MiB, so the disk never fills under the log [default: 256].
    #[arg(long, env = "CAIRN_MIN_FREE_DISK_MB")]
    pub min_free_disk_mb: Option<u64>,
    /// A logstore's records in memory are flushed into a split once they reach this many
    /// raw MiB [default: 64].
    #[arg(long, env = "CAIRN_FLUSH_MB")]
    pub flush_mb: Option<u64>,
    /// … or once the oldest of them is this many seconds old [default: 60].
    #[arg(long, env = "CAIRN_FLUSH_SECONDS")]
    pub flush_seconds: Option<u64>,
}

/// The config file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfigFile {
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    region: Option<String>,
    log_format: Option<String>,
    endpoint_domains: Option<Vec<String>>,
    min_free_disk_mb: Option<u64>,
    flush_mb: Option<u64>,
    flush_seconds: Option<u64>,
}

/// How the server logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The resolved, validated configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The listen address.
    pub listen: SocketAddr,
    /// The region in ARNs.
    pub region: String,
    /// Log output format.
    pub log_format: LogFormat,
    /// The server's own domain names (lowercase).
    pub endpoint_domains: Vec<String>,
    /// Free space the WAL disk keeps; writes are refused below it.
    pub min_free_disk_bytes: u64,
    /// Raw bytes in memory per logstore that trigger a flush.
    pub flush_bytes: u64,
    /// Age of the oldest record in memory that triggers a flush.
    pub flush_age: std::time::Duration,
}

impl ServeConfig {
    /// Merges defaults, the config file (if any) and the flags/env, then validates.
    pub fn resolve(arguments: ServeArguments) -> anyhow::Result<Self> {
        let file = match &arguments.config {
            Some(path) => load_file(path)?,
            None => ServeConfigFile::default(),
        };
        let data_dir = arguments
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("cairn-data"));
        let listen = arguments
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:7480".to_owned());
        let region = arguments
            .region
            .or(file.region)
            .unwrap_or_else(|| "cairn".to_owned());
        let log_format = arguments
            .log_format
            .or(file.log_format)
            .unwrap_or_else(|| "text".to_owned());
        let endpoint_domains = arguments
            .endpoint_domains
            .or(file.endpoint_domains)
            .unwrap_or_else(|| vec!["localhost".to_owned()]);
        let min_free_disk_mb = arguments
            .min_free_disk_mb
            .or(file.min_free_disk_mb)
            .unwrap_or(256);
        let flush_mb = arguments.flush_mb.or(file.flush_mb).unwrap_or(64);
        let flush_seconds = arguments.flush_seconds.or(file.flush_seconds).unwrap_or(60);
        let mut config = Self::validate(data_dir, &listen, region, &log_format, endpoint_domains)?;
        config.min_free_disk_bytes = min_free_disk_mb
            .checked_mul(1024 * 1024)
            .with_context(|| format!("min_free_disk_mb {min_free_disk_mb} is too large"))?;
        if flush_mb == 0 || flush_mb > 4096 {
            bail!("flush_mb {flush_mb} must be between 1 and 4096");
        }
        if flush_seconds == 0 || flush_seconds > 86_400 {
            bail!("flush_seconds {flush_seconds} must be between 1 and 86400");
        }
        config.flush_bytes = flush_mb * 1024 * 1024;
        config.flush_age = std::time::Duration::from_secs(flush_seconds);
        Ok(config)
    }

    fn validate(
        data_dir: PathBuf,
        listen: &str,
        region: String,
        log_format: &str,
        endpoint_domains: Vec<String>,
    ) -> anyhow::Result<Self> {
        let endpoint_domains: Vec<String> = endpoint_domains
            .into_iter()
            .map(|d| d.trim().to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        for domain in &endpoint_domains {
            let valid = domain.len() <= 253
                && domain.split('.').all(|label| {
                    !label.is_empty()
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if !valid {
                bail!("endpoint domain {domain:?} is not a DNS name");
            }
        }
        let listen: SocketAddr = listen
            .parse()
            .with_context(|| format!("listen address {listen:?} is not IP:PORT"))?;
        let region_ok = !region.is_empty()
            && region.len() <= 64
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            bail!("region {region:?} must be 1 to 64 lowercase letters, digits or hyphens");
        }
        let log_format = match log_format {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => bail!("log_format {other:?} must be text or json"),
        };
        Ok(Self {
            data_dir,
            listen,
            region,
            log_format,
            endpoint_domains,
            min_free_disk_bytes: 0,
            flush_bytes: 0,
            flush_age: std::time::Duration::ZERO,
        })
    }
}

fn load_file(path: &Path) -> anyhow::Result<ServeConfigFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments() -> ServeArguments {
        ServeArguments {
            config: None,
            data_dir: None,
            listen: None,
            region: None,
            log_format: None,
            endpoint_domains: None,
            min_free_disk_mb: None,
            flush_mb: None,
            flush_seconds: None,
        }
    }

    #[test]
    fn defaults_need_no_setup() {
        let config = ServeConfig::resolve(arguments()).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("cairn-data"));
        assert_eq!(config.listen.to_string(), "127.0.0.1:7480");
        assert_eq!(config.region, "cairn");
        assert_eq!(config.endpoint_domains, vec!["localhost".to_owned()]);
    }

    #[test]
    fn flags_override_the_file_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nregion = \"eu-1\"\n").unwrap();
        let mut args = arguments();
        args.config = Some(path.clone());
        args.region = Some("us-2".into());
        let config = ServeConfig::resolve(args).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.region, "us-2");

        std::fs::write(&path, "listn = \"127.0.0.1:9000\"\n").unwrap();
        let mut args = arguments();
        args.config = Some(path);
        let error = format!("{:#}", ServeConfig::resolve(args).unwrap_err());
        assert!(error.contains("listn"), "{error}");

        let mut args = arguments();
        args.listen = Some("nowhere".into());
        assert!(ServeConfig::resolve(args).is_err());
    }
}
