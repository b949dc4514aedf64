//! `cairn job copy`: the job JSON for copying one logstore into another, built from flags.
//!
//! The job reads `--project`/`--source-logstore` with `--source-role` and writes
//! `--sink-project`/`--sink-logstore` with `--sink-role` (the sink may be another account's;
//! its role must trust the source's account). A time range is copied once (`--from`, default
//! the oldest record, to `--to`, default now), or `--continuous` follows new data
//! (`schedule.type` `Resident`, `toTime` 0). `--filter` and `--transform-file` become Cairn's
//! `configuration.parameters.transform`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde_json::{json, Map, Value};

use super::connection::ConnectionOptions;
use super::output;
use super::policies::read_json_object;
use super::resources::{logstore_name, project_name};
use super::sts::role_arn;
use super::time_arg::TimeArg;

/// The keys of a transform, applied in this order.
const TRANSFORM_KEYS: [&str; 5] = ["filter", "extract", "rename", "drop", "add"];

/// `cairn job copy`
#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// Project of the source logstore; the job belongs to it
    #[arg(long, short)]
    project: String,
    /// Job name: 2-64 lowercase letters, digits, _ or -
    name: String,
    /// Logstore to copy from
    #[arg(long, value_name = "LOGSTORE")]
    source_logstore: String,
    /// Role the job reads the source with (acs:ram::<account>:role/<name>)
    #[arg(long, value_name = "ARN")]
    source_role: String,
    /// Project to copy into (may be another account's)
    #[arg(long, value_name = "PROJECT")]
    sink_project: String,
    /// Logstore to copy into
    #[arg(long, value_name = "LOGSTORE")]
    sink_logstore: String,
    /// Role the job writes the sink with (acs:ram::<account>:role/<name>)
    #[arg(long, value_name = "ARN")]
    sink_role: String,
    /// First record time to copy: -7d, Unix seconds, RFC 3339 (default: the oldest record)
    #[arg(long, allow_hyphen_values = true, value_name = "TIME")]
    from: Option<TimeArg>,
    /// End of a one-off copy, exclusive; same forms as --from (default: now)
    #[arg(long, allow_hyphen_values = true, value_name = "TIME")]
    to: Option<TimeArg>,
    /// Keep copying new records as they arrive, until the job is stopped
    #[arg(long, conflicts_with = "to")]
    continuous: bool,
    /// Copy only the records this filter expression matches (the transform's filter)
    #[arg(long, value_name = "EXPR")]
    filter: Option<String>,
    /// Transform JSON: {"filter","extract":[{"field","regex"}],"rename","drop","add"}
    #[arg(long, value_name = "FILE")]
    transform_file: Option<PathBuf>,
    /// A note on what the job is for
    #[arg(long, default_value = "", hide_default_value = true)]
    description: String,
    #[command(flatten)]
    connection: ConnectionOptions,
}

impl CopyArgs {
    /// The project the job belongs to (checked by [`copy_job`]).
    pub fn project(&self) -> &str {
        &self.project
    }

    /// Where to send the job.
    pub fn connection(&self) -> &ConnectionOptions {
        &self.connection
    }
}

/// Checks a job name: 2-64 lowercase letters, digits, `_` or `-`.
pub fn job_name(text: &str) -> Result<&str> {
    let valid = (2..=64).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid {
        bail!("invalid job name {text:?}: use 2-64 lowercase letters, digits, _ or -");
    }
    Ok(text)
}

/// The job JSON of `job copy`, given the current time in Unix seconds.
pub fn copy_job(args: &CopyArgs, now: i64) -> Result<Value> {
    let name = job_name(&args.name)?;
    let project = project_name(&args.project)?;
    let source = logstore_name(&args.source_logstore)?;
    let sink_project = project_name(&args.sink_project)?;
    let sink = logstore_name(&args.sink_logstore)?;
    if project == sink_project && source == sink {
        bail!("the sink is the source logstore {project}/{source}: copy into another one");
    }
    // Times before 1970 mean "from the oldest record" too.
    let from = args.from.map_or(0, |from| from.resolve(now).max(0));
    let to = match (args.continuous, args.to) {
        (true, _) => 0,
        (false, None) => now,
        (false, Some(to)) => to.resolve(now),
    };
    if !args.continuous && from >= to {
        bail!(
            "--from ({}) must be before --to ({})",
            output::unix_time_text(from, None),
            output::unix_time_text(to, None)
        );
    }
    let mut configuration = json!({
        "logstore": source.as_str(),
        "roleArn": role_arn(&args.source_role)?.to_string(),
        "fromTime": from,
        "toTime": to,
        "sinks": [{
            "name": "sink",
            "project": sink_project.as_str(),
            "logstore": sink.as_str(),
            "roleArn": role_arn(&args.sink_role)?.to_string(),
            "datasets": ["__UNNAMED__"],
        }],
    });
    if let Some(transform) = transform(args)? {
        configuration["parameters"] = json!({"transform": transform});
    }
    let mut job = json!({
        "name": name, "displayName": name, "description": args.description,
        "configuration": configuration,
    });
    if args.continuous {
        job["schedule"] = json!({"type": "Resident"});
    }
    Ok(job)
}

/// The transform of `job copy`: the file's, with `--filter` replacing its filter.
fn transform(args: &CopyArgs) -> Result<Option<Value>> {
    let mut transform = match &args.transform_file {
        Some(path) => read_json_object(path, "transform")?,
        None => Value::Object(Map::new()),
    };
    let Some(object) = transform.as_object_mut() else {
        bail!("a transform must be a JSON object");
    };
    if let Some(key) = object
        .keys()
        .find(|k| !TRANSFORM_KEYS.contains(&k.as_str()))
    {
        bail!(
            "unknown transform key {key:?}: a transform has {}",
            TRANSFORM_KEYS.join(", ")
        );
    }
    if let Some(filter) = &args.filter {
        object.insert("filter".to_owned(), Value::String(filter.clone()));
    }
    Ok((!object.is_empty()).then_some(transform))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::client::progress::is_continuous;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: CopyArgs,
    }

    const NOW: i64 = 1_704_067_200;
    const READER: &str = "acs:ram::1234567890123456:role/reader";
    const WRITER: &str = "acs:ram::6543210987654321:role/writer";

    /// `job copy` from `web/access` into `sink` (project, logstore, role), plus `extra`.
    fn copy_to(sink: [&str; 3], extra: &[&str]) -> Result<Value> {
        let [project, logstore, role] = sink;
        let base = [
            "copy",
            "-p",
            "web",
            "nightly",
            "--source-logstore",
            "access",
            "--source-role",
            READER,
            "--sink-project",
            project,
            "--sink-logstore",
            logstore,
            "--sink-role",
            role,
        ];
        let cli = Cli::try_parse_from(base.iter().chain(extra))?;
        copy_job(&cli.args, NOW)
    }

    fn copy(extra: &[&str]) -> Result<Value> {
        copy_to(["archive", "access_copy", WRITER], extra)
    }

    #[test]
    fn one_off_copies_carry_their_range() {
        let job = copy(&["--from", "-1h", "--to", "now"]).expect("builds");
        assert_eq!(
            job,
            json!({
                "name": "nightly", "displayName": "nightly", "description": "",
                "configuration": {
                    "logstore": "access", "roleArn": READER,
                    "fromTime": NOW - 3600, "toTime": NOW,
                    "sinks": [{"name": "sink", "project": "archive", "logstore": "access_copy",
                               "roleArn": WRITER, "datasets": ["__UNNAMED__"]}],
                },
            })
        );
        assert!(!is_continuous(&job));
        // By default: everything up to now.
        let job = copy(&[]).expect("builds");
        assert_eq!(job["configuration"]["fromTime"], 0);
        assert_eq!(job["configuration"]["toTime"], NOW);
        assert!(copy(&["--from", "now", "--to", "-1h"]).is_err());
    }

    #[test]
    fn continuous_copies_are_resident() {
        let job = copy(&["--continuous", "--from", "-1d"]).expect("builds");
        assert_eq!(job["schedule"], json!({"type": "Resident"}));
        assert_eq!(job["configuration"]["fromTime"], NOW - 86_400);
        assert_eq!(job["configuration"]["toTime"], 0);
        assert!(is_continuous(&job));
        assert!(copy(&["--continuous", "--to", "now"]).is_err());
    }

    #[test]
    fn filters_and_transform_files_make_the_transform() {
        let job = copy(&["--filter", "status:500"]).expect("builds");
        assert_eq!(
            job["configuration"]["parameters"],
            json!({"transform": {"filter": "status:500"}})
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("t.json");
        let transform = json!({"filter": "*", "extract": [{"field": "msg", "regex": "(?P<code>\\d+)"}],
                               "rename": {"a": "b"}, "drop": ["c"], "add": {"env": "prod"}});
        std::fs::write(&path, transform.to_string()).expect("write");
        let file = path.to_str().expect("utf-8 path");
        let job = copy(&["--transform-file", file, "--filter", "error"]).expect("builds");
        let mut expected = transform.clone();
        expected["filter"] = json!("error");
        assert_eq!(job["configuration"]["parameters"]["transform"], expected);
        std::fs::write(&path, r#"{"filtre": "x"}"#).expect("write");
        let error = copy(&["--transform-file", file]).expect_err("typo");
        assert!(format!("{error:#}").contains("filtre"), "{error:#}");
    }

    #[test]
    fn the_server_reads_copies_as_built() {
        use cairn_jobs::{JobDefinition, JobMode, StartPosition};
        use cairn_model::{AccountId, ProjectName};
        let owner = AccountId::parse("1234567890123456").expect("account");
        let project = ProjectName::parse("web").expect("project");
        let parse = |job: &Value| JobDefinition::from_etl_json(owner, &project, job);
        let once = parse(&copy(&["--from", "-1h", "--filter", "status >= 500"]).expect("builds"))
            .expect("the server accepts a one-off copy");
        let from = u32::try_from(NOW - 3600).expect("fits");
        let to = u32::try_from(NOW).expect("fits");
        assert_eq!(once.mode, JobMode::OneOff { from, to });
        assert_eq!(once.sink.project.as_str(), "archive");
        assert_eq!(once.sink.role_arn, WRITER);
        let tail = parse(&copy(&["--continuous"]).expect("builds")).expect("continuous");
        assert_eq!(
            tail.mode,
            JobMode::Continuous {
                from: StartPosition::Begin
            }
        );
    }

    #[test]
    fn copies_are_checked_before_sending() {
        let user = "acs:ram::1234567890123456:user/bob";
        let error = copy_to(["archive", "access_copy", user], &[]).expect_err("not a role");
        assert!(format!("{error:#}").contains("role ARN"), "{error:#}");
        assert!(copy_to(["Bad_Project", "access_copy", WRITER], &[]).is_err());
        assert!(job_name("nightly_copy-2").is_ok());
        for bad in ["x", "Nightly", "a.b", "a/b"] {
            assert!(job_name(bad).is_err(), "{bad}");
        }
        let same = copy_to(["web", "access", WRITER], &[]);
        assert!(format!("{:#}", same.expect_err("into itself")).contains("source"));
    }
}
