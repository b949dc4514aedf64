//! `cairn job`: copy and transform jobs, SLS's ETL jobs (`/etls` on a project).
//!
//! A job reads the logstore it names in the project it belongs to, with the role
//! `configuration.roleArn`, optionally filters and reshapes each record (Cairn's
//! `configuration.parameters.transform`), and writes to one sink logstore with the sink's role,
//! possibly in another account. It copies a time range once, or follows new data (no
//! `configuration.toTime`, `schedule.type` `Resident`). `job create` sends a job JSON as
//! written; `job copy` builds one from flags. The calls are those of docs/management-api.md
//! ("Copy and transform jobs").

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use reqwest::Method;
use serde_json::{json, Value};

use super::connection::{ApiRequest, Client, ConnectionOptions};
use super::iam::pairs;
use super::job_copy::{copy_job, job_name, CopyArgs};
use super::output::{self, emit, emit_json, field_text, OutputOptions};
use super::policies::read_json_object;
use super::progress::{bytes_text, duration_text, is_continuous, Follower, JobStatus};
use super::resources::{list_all, project_name};

/// How often `job status --follow` asks for the job's status.
const POLL: Duration = Duration::from_millis(500);

// `cairn job ...` (a plain comment: clap would take a doc comment as help text).
#[derive(Debug, clap::Subcommand)]
pub enum JobCommand {
    /// Create a job from an SLS ETL job JSON file
    Create {
        /// Project the job reads from (its source logstore's project)
        #[arg(long, short)]
        project: String,
        /// The job: {"name", "configuration": {"logstore", "roleArn", "sinks": [...]}, ...}
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Create a job copying one logstore into another, once or continuously
    Copy(Box<CopyArgs>),
    /// List a project's jobs
    List {
        /// Project whose jobs to list
        #[arg(long, short)]
        project: String,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Show a job and its progress
    Status {
        /// Project the job belongs to
        #[arg(long, short)]
        project: String,
        /// Job name
        name: String,
        /// Keep showing progress until the job succeeds, fails or stops (fails if the job
        /// does)
        #[arg(long, short)]
        follow: bool,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Stop a job; what it copied stays
    Stop {
        /// Project the job belongs to
        #[arg(long, short)]
        project: String,
        /// Job name
        name: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Delete a job (stopping it first if it runs)
    Delete {
        /// Project the job belongs to
        #[arg(long, short)]
        project: String,
        /// Job name
        name: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
}

/// Where a job writes: `project/logstore` of its first sink.
fn sink_text(job: &Value) -> String {
    let sink = job
        .pointer("/configuration/sinks/0")
        .or_else(|| job.pointer("/sinks/0"))
        .cloned()
        .unwrap_or_default();
    let (project, logstore) = (field_text(&sink, "project"), field_text(&sink, "logstore"));
    if project.is_empty() && logstore.is_empty() {
        return String::new();
    }
    format!("{project}/{logstore}")
}

/// A job's range: `continuous from T`, or `FROM .. TO`.
fn mode_text(job: &Value) -> String {
    let time = |key: &str| {
        job.pointer(&format!("/configuration/{key}"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let text = |seconds: i64| match seconds {
        0 => "the oldest record".to_owned(),
        other => output::unix_time_text(other, None),
    };
    let from_end = job.pointer("/configuration/parameters/startFrom") == Some(&json!("end"));
    if is_continuous(job) && from_end {
        "continuous, from the records stored after it started".to_owned()
    } else if is_continuous(job) {
        format!("continuous, from {}", text(time("fromTime")))
    } else {
        format!(
            "once, {} to {}",
            text(time("fromTime")),
            text(time("toTime"))
        )
    }
}

/// A job and its progress as `key: value` lines.
fn job_fields(project: &str, job: &Value) -> Vec<(String, String)> {
    let status = JobStatus::of_job(job);
    let mut fields = pairs(job, &[("name", "name"), ("description", "description")]);
    let config = |key: &str| {
        job.pointer(&format!("/configuration/{key}"))
            .map(output::value_text)
            .unwrap_or_default()
    };
    // The source may be in another project than the job's (`configuration.project`).
    let source_project = Some(config("project"))
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| project.to_owned());
    let source = config("logstore");
    let mut push = |key: &str, value: String| fields.push((key.to_owned(), value));
    push("source", format!("{source_project}/{source}"));
    push("sink", sink_text(job));
    push("mode", mode_text(job));
    push("state", status.state.clone());
    let read = match status.records_total {
        Some(total) => format!("{} of {total}", status.records_read),
        None => status.records_read.to_string(),
    };
    push("records read", read);
    push("records written", status.records_written.to_string());
    push("bytes written", bytes_text(status.bytes_written));
    if let Some(rate) = status.rate {
        push("rate", format!("{rate:.1} records/s"));
    }
    if let Some(eta) = status.eta_seconds.filter(|_| !status.is_final()) {
        push("time left", duration_text(eta));
    }
    if !status.checkpoint.is_empty() {
        push("checkpoint", status.checkpoint.clone());
    }
    if !status.error.is_empty() {
        push("error", status.error.clone());
    }
    fields
}

/// Sends a new job and says how to follow it.
async fn create(project: &str, job: &Value, connection: &ConnectionOptions) -> Result<()> {
    let name = job
        .get("name")
        .and_then(Value::as_str)
        .context("the job has no \"name\"")?;
    let name = job_name(name)?;
    let request = ApiRequest::new(Method::POST, "/etls")
        .project(project)
        .json(job)?;
    Client::connect(connection)?.send(request).await?;
    emit(&format!(
        "created job {name} in project {project}; follow it with `cairn job status --project \
         {project} {name} --follow`\n"
    ))
}

/// `GET /etls/{name}`: the job with its status.
async fn get_job(client: &Client, project: &str, name: &str) -> Result<Value> {
    let request = ApiRequest::new(Method::GET, format!("/etls/{name}"))
        .project(project)
        .retried();
    client.send(request).await?.json()
}

/// Polls a job until it ends; fails if the job failed.
async fn follow(client: &Client, project: &str, name: &str, json: bool) -> Result<()> {
    let mut follower: Option<Follower> = None;
    loop {
        let job = get_job(client, project, name).await?;
        let status = JobStatus::of_job(&job);
        let follower =
            follower.get_or_insert_with(|| Follower::new(name, is_continuous(&job), json));
        follower.show(&job, &status)?;
        if status.is_final() {
            follower.finish(&status)?;
            if status.failed() {
                let error = match status.error.as_str() {
                    "" => "the server gave no reason",
                    error => error,
                };
                bail!("job {name} failed: {error}");
            }
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Runs `cairn job ...`.
pub async fn run_job(command: JobCommand) -> Result<()> {
    match command {
        JobCommand::Create {
            project,
            file,
            connection,
        } => {
            let project = project_name(&project)?;
            let job = read_json_object(&file, "job")?;
            create(project.as_str(), &job, &connection).await
        }
        JobCommand::Copy(args) => {
            let now = chrono::Utc::now().timestamp();
            let job = copy_job(&args, now)?;
            create(args.project(), &job, args.connection()).await
        }
        JobCommand::List {
            project,
            output,
            connection,
        } => {
            let project = project_name(&project)?;
            let client = Client::connect(&connection)?;
            let jobs = list_all(&client, Some(project.as_str()), "/etls", "results").await?;
            if output.is_json() {
                return emit_json(&Value::Array(jobs));
            }
            let rows: Vec<Vec<String>> = jobs
                .iter()
                .map(|job| {
                    let status = JobStatus::of_job(job);
                    let mode = if is_continuous(job) {
                        "continuous"
                    } else {
                        "once"
                    };
                    vec![
                        field_text(job, "name"),
                        job.pointer("/configuration/logstore")
                            .map(output::value_text)
                            .unwrap_or_default(),
                        sink_text(job),
                        mode.to_owned(),
                        status.state,
                        status.records_written.to_string(),
                    ]
                })
                .collect();
            let headers = ["JOB", "SOURCE", "SINK", "MODE", "STATE", "WRITTEN"];
            emit(&output::table(&headers, &rows))
        }
        JobCommand::Status {
            project,
            name,
            follow: keep_following,
            output,
            connection,
        } => {
            let project = project_name(&project)?;
            let name = job_name(&name)?;
            let client = Client::connect(&connection)?;
            if keep_following {
                return follow(&client, project.as_str(), name, output.is_json()).await;
            }
            let job = get_job(&client, project.as_str(), name).await?;
            if output.is_json() {
                return emit_json(&job);
            }
            emit(&output::fields(&job_fields(project.as_str(), &job)))
        }
        JobCommand::Stop {
            project,
            name,
            connection,
        } => {
            let project = project_name(&project)?;
            let name = job_name(&name)?;
            let request = ApiRequest::new(Method::PUT, format!("/etls/{name}"))
                .project(project.as_str())
                .query("action", "STOP");
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("stopping job {name}\n"))
        }
        JobCommand::Delete {
            project,
            name,
            connection,
        } => {
            let project = project_name(&project)?;
            let name = job_name(&name)?;
            let request =
                ApiRequest::new(Method::DELETE, format!("/etls/{name}")).project(project.as_str());
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("deleted job {name}\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_fields_show_source_sink_and_progress() {
        let job = json!({
            "name": "nightly", "description": "",
            "configuration": {
                "logstore": "access", "fromTime": 0, "toTime": 1_704_067_200,
                "sinks": [{"project": "archive", "logstore": "access_copy"}],
            },
            "status": {"state": "Failed", "recordsRead": 5, "recordsTotal": 10,
                       "error": "AccessDenied", "etaSeconds": 3},
        });
        let fields = job_fields("web", &job);
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        assert_eq!(get("source"), "web/access");
        assert_eq!(get("sink"), "archive/access_copy");
        assert_eq!(get("records read"), "5 of 10");
        assert_eq!(get("error"), "AccessDenied");
        assert!(get("mode").starts_with("once, the oldest record to "));
        // A job that ended has no time left.
        assert_eq!(get("time left"), "");
        assert_eq!(sink_text(&json!({})), "");
        // As the server answers a continuous job reading another project from the end.
        let job = json!({"schedule": {"type": "Resident"}, "configuration": {
            "project": "shop", "logstore": "orders", "fromTime": 0, "toTime": 0,
            "parameters": {"startFrom": "end"}}});
        let fields = job_fields("web", &job);
        assert!(fields.contains(&("source".to_owned(), "shop/orders".to_owned())));
        let mode = "continuous, from the records stored after it started".to_owned();
        assert!(fields.contains(&("mode".to_owned(), mode)));
    }
}
