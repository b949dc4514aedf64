//! `cairn project`, `cairn logstore` and `cairn index`: managing where logs live.
//!
//! A project is a namespace; a logstore inside it holds records for `--ttl` days, spread over
//! shards; an index config says which text and fields can be searched. The calls are SLS's
//! (sections 1.6 and 1.8 of the SLS API reference), so anything done here can also be done
//! with an SLS SDK pointed at Cairn.

use std::path::PathBuf;

use anyhow::{Context, Result};
use cairn_model::{FullTextIndex, IndexConfig, LogstoreName, ProjectName};
use reqwest::Method;
use serde_json::{json, Value};

use super::connection::{ApiError, ApiRequest, Client, ConnectionOptions};
use super::output::{self, emit, emit_json, field_text, OutputOptions};

/// Page size for list calls (SLS's maximum).
const PAGE: usize = 500;

// `cairn project ...` (a plain comment: clap would take a doc comment as help text).
#[derive(Debug, clap::Subcommand)]
pub enum ProjectCommand {
    /// Create a project, the namespace that holds logstores
    Create {
        /// Project name: 3-63 lowercase letters, digits or hyphens, unique on the server
        name: String,
        /// A note on what the project is for
        #[arg(long, default_value = "", hide_default_value = true)]
        description: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// List projects
    List {
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Show a project's details
    Get {
        /// Project name
        name: String,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Delete a project and everything in it
    Delete {
        /// Project name
        name: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
}

// `cairn logstore ...` (a plain comment: clap would take a doc comment as help text).
#[derive(Debug, clap::Subcommand)]
pub enum LogstoreCommand {
    /// Create a logstore, where records are written and searched
    Create {
        /// Project that holds the logstore
        #[arg(long, short)]
        project: String,
        /// Logstore name: 3-63 lowercase letters, digits, hyphens or underscores
        name: String,
        /// Days to keep records
        #[arg(long, default_value_t = 30, value_name = "DAYS")]
        ttl: u32,
        /// Number of shards (write parallelism)
        #[arg(long, default_value_t = 2, value_name = "N")]
        shards: u32,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// List a project's logstores
    List {
        /// Project to list
        #[arg(long, short)]
        project: String,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Show a logstore's settings
    Get {
        /// Project that holds the logstore
        #[arg(long, short)]
        project: String,
        /// Logstore name
        name: String,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Delete a logstore and all its records
    Delete {
        /// Project that holds the logstore
        #[arg(long, short)]
        project: String,
        /// Logstore name
        name: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
}

// `cairn index ...` (a plain comment: clap would take a doc comment as help text).
#[derive(Debug, clap::Subcommand)]
pub enum IndexCommand {
    /// Set a logstore's index (creates it, or replaces the existing one)
    Set {
        /// Project that holds the logstore
        #[arg(long, short)]
        project: String,
        /// Logstore to index
        #[arg(long, short)]
        logstore: String,
        /// Index config in SLS JSON ({"line": {...}, "keys": {...}}); see `cairn index get`
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "default",
            conflicts_with = "default"
        )]
        file: Option<PathBuf>,
        /// Full-text index with SLS's default delimiters, case-insensitive
        #[arg(long)]
        default: bool,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Print a logstore's index config as JSON
    Get {
        /// Project that holds the logstore
        #[arg(long, short)]
        project: String,
        /// Logstore whose index to show
        #[arg(long, short)]
        logstore: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Remove a logstore's index (records stay; searching them needs an index again)
    Delete {
        /// Project that holds the logstore
        #[arg(long, short)]
        project: String,
        /// Logstore whose index to remove
        #[arg(long, short)]
        logstore: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
}

/// Checks a project name before it goes on the wire.
pub fn project_name(text: &str) -> Result<ProjectName> {
    Ok(ProjectName::parse(text)?)
}

/// Checks a logstore name before it goes on the wire.
pub fn logstore_name(text: &str) -> Result<LogstoreName> {
    Ok(LogstoreName::parse(text)?)
}

/// Runs `cairn project ...`.
pub async fn run_project(command: ProjectCommand) -> Result<()> {
    match command {
        ProjectCommand::Create {
            name,
            description,
            connection,
        } => {
            let name = project_name(&name)?;
            let body = json!({"projectName": name.as_str(), "description": description});
            let request = ApiRequest::new(Method::POST, "/")
                .project(name.as_str())
                .json(&body)?;
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("created project {name}\n"))
        }
        ProjectCommand::List { output, connection } => {
            let client = Client::connect(&connection)?;
            let projects = list_all(&client, None, "/", "projects").await?;
            if output.is_json() {
                return emit_json(&Value::Array(projects));
            }
            let rows: Vec<Vec<String>> = projects
                .iter()
                .map(|p| {
                    vec![
                        field_text(p, "projectName"),
                        field_text(p, "description"),
                        p.get("createTime")
                            .map(output::time_text)
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            emit(&output::table(
                &["PROJECT", "DESCRIPTION", "CREATED"],
                &rows,
            ))
        }
        ProjectCommand::Get {
            name,
            output,
            connection,
        } => {
            let name = project_name(&name)?;
            let request = ApiRequest::new(Method::GET, "/")
                .project(name.as_str())
                .retried();
            let project = Client::connect(&connection)?.send(request).await?.json()?;
            show(&project, &output)
        }
        ProjectCommand::Delete { name, connection } => {
            let name = project_name(&name)?;
            let request = ApiRequest::new(Method::DELETE, "/").project(name.as_str());
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("deleted project {name}\n"))
        }
    }
}

/// Runs `cairn logstore ...`.
pub async fn run_logstore(command: LogstoreCommand) -> Result<()> {
    match command {
        LogstoreCommand::Create {
            project,
            name,
            ttl,
            shards,
            connection,
        } => {
            let project = project_name(&project)?;
            let name = logstore_name(&name)?;
            let body = json!({"logstoreName": name.as_str(), "ttl": ttl, "shardCount": shards});
            let request = ApiRequest::new(Method::POST, "/logstores")
                .project(project.as_str())
                .json(&body)?;
            Client::connect(&connection)?.send(request).await?;
            emit(&format!(
                "created logstore {project}/{name} ({ttl} days, {shards} shards)\n"
            ))
        }
        LogstoreCommand::List {
            project,
            output,
            connection,
        } => {
            let project = project_name(&project)?;
            let client = Client::connect(&connection)?;
            let names =
                list_all(&client, Some(project.as_str()), "/logstores", "logstores").await?;
            if output.is_json() {
                return emit_json(&Value::Array(names));
            }
            let rows: Vec<Vec<String>> =
                names.iter().map(|n| vec![output::value_text(n)]).collect();
            emit(&output::table(&["LOGSTORE"], &rows))
        }
        LogstoreCommand::Get {
            project,
            name,
            output,
            connection,
        } => {
            let project = project_name(&project)?;
            let name = logstore_name(&name)?;
            let request = ApiRequest::new(Method::GET, format!("/logstores/{name}"))
                .project(project.as_str())
                .retried();
            let logstore = Client::connect(&connection)?.send(request).await?.json()?;
            show(&logstore, &output)
        }
        LogstoreCommand::Delete {
            project,
            name,
            connection,
        } => {
            let project = project_name(&project)?;
            let name = logstore_name(&name)?;
            let request = ApiRequest::new(Method::DELETE, format!("/logstores/{name}"))
                .project(project.as_str());
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("deleted logstore {project}/{name}\n"))
        }
    }
}

/// Runs `cairn index ...`.
pub async fn run_index(command: IndexCommand) -> Result<()> {
    match command {
        IndexCommand::Set {
            project,
            logstore,
            file,
            connection,
            ..
        } => {
            let project = project_name(&project)?;
            let logstore = logstore_name(&logstore)?;
            // clap guarantees exactly one of --file and --default.
            let config = match file {
                Some(path) => read_index_file(&path)?,
                None => default_index()?,
            };
            let client = Client::connect(&connection)?;
            let path = format!("/logstores/{logstore}/index");
            let existing = ApiRequest::new(Method::GET, path.clone()).project(project.as_str());
            let method = match client.send(existing).await {
                Ok(_) => Method::PUT,
                Err(error) if is_not_found(&error) => Method::POST,
                Err(error) => return Err(error),
            };
            let verb = if method == Method::PUT {
                "updated"
            } else {
                "created"
            };
            let request = ApiRequest::new(method, path)
                .project(project.as_str())
                .json(&config)?;
            client.send(request).await?;
            emit(&format!("{verb} the index of {project}/{logstore}\n"))
        }
        IndexCommand::Get {
            project,
            logstore,
            connection,
        } => {
            let project = project_name(&project)?;
            let logstore = logstore_name(&logstore)?;
            let request = ApiRequest::new(Method::GET, format!("/logstores/{logstore}/index"))
                .project(project.as_str())
                .retried();
            let config = Client::connect(&connection)?.send(request).await?.json()?;
            emit_json(&config)
        }
        IndexCommand::Delete {
            project,
            logstore,
            connection,
        } => {
            let project = project_name(&project)?;
            let logstore = logstore_name(&logstore)?;
            let request = ApiRequest::new(Method::DELETE, format!("/logstores/{logstore}/index"))
                .project(project.as_str());
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("deleted the index of {project}/{logstore}\n"))
        }
    }
}

/// The `--default` index: full text with SLS's default delimiters.
fn default_index() -> Result<Value> {
    let config = IndexConfig {
        line: Some(FullTextIndex::with_default_tokens()),
        ..IndexConfig::default()
    };
    Ok(serde_json::to_value(config)?)
}

/// Reads and checks an index config file; sends it as written (unknown keys included).
fn read_index_file(path: &std::path::Path) -> Result<Value> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read index config {}", path.display()))?;
    let config = IndexConfig::from_json(&bytes).with_context(|| path.display().to_string())?;
    config
        .validate()
        .with_context(|| path.display().to_string())?;
    serde_json::from_slice(&bytes).with_context(|| path.display().to_string())
}

/// Whether an error is the server's 404 (the thing asked for does not exist).
fn is_not_found(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<ApiError>()
        .is_some_and(|e| e.status == 404)
}

/// Prints one object: `key: value` lines, or JSON.
pub fn show(value: &Value, output: &OutputOptions) -> Result<()> {
    if output.is_json() {
        emit_json(value)
    } else {
        emit(&output::fields(&output::object_fields(value)))
    }
}

/// Every item of a paged SLS list call (`offset`/`size`, answer `{count,total,<field>:[...]}`).
pub async fn list_all(
    client: &Client,
    project: Option<&str>,
    path: &str,
    field: &str,
) -> Result<Vec<Value>> {
    let mut items = Vec::new();
    loop {
        let mut request = ApiRequest::new(Method::GET, path)
            .query("offset", items.len())
            .query("size", PAGE)
            .retried();
        if let Some(project) = project {
            request = request.project(project);
        }
        let page = client.send(request).await?.json()?;
        let batch = page
            .get(field)
            .and_then(Value::as_array)
            .with_context(|| format!("the server's answer has no {field:?} list"))?;
        let got = batch.len();
        items.extend(batch.iter().cloned());
        let total = page.get("total").and_then(Value::as_u64);
        let done = got < PAGE || total.is_some_and(|t| items.len() as u64 >= t);
        if done {
            return Ok(items);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_index_is_full_text_with_sls_tokens() {
        let config = default_index().expect("serializes");
        let parsed = IndexConfig::from_json(config.to_string().as_bytes()).expect("parses");
        parsed.validate().expect("usable");
        let line = parsed.line.expect("full text");
        assert!(!line.case_sensitive);
        assert_eq!(line.token.concat(), cairn_model::DEFAULT_TOKEN_DELIMITERS);
        assert!(parsed.keys.is_empty());
    }

    #[test]
    fn names_are_checked_locally() {
        assert!(project_name("my-project").is_ok());
        assert!(project_name("My_Project").is_err());
        assert!(logstore_name("access_log").is_ok());
        assert!(logstore_name("a").is_err());
    }
}
