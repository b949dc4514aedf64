//! `cairn policy`: permission policies and who they are attached to.
//!
//! A policy is a RAM-style JSON document (`{"Version":"1","Statement":[...]}`) saying which
//! actions are allowed or denied on which resources. System policies come with the server
//! (`AdministratorAccess`, ...); custom ones are created here. A policy grants nothing until it
//! is attached to a user or a role of your account. The calls are those of
//! docs/management-api.md ("Policies, roles and STS"), on the bare endpoint.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cairn_model::UserName;
use reqwest::Method;
use serde_json::{json, Value};

use super::connection::{path_name, ApiRequest, Client, ConnectionOptions};
use super::iam::{list_field, pairs};
use super::output::{self, emit, emit_json, field_text, OutputOptions};

// `cairn policy ...` (a plain comment: clap would take a doc comment as help text).
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Create a custom policy from a JSON policy document
    Create {
        /// Policy name: 1-64 letters, digits or . _ -
        name: String,
        /// The policy document: {"Version":"1","Statement":[{"Effect","Action","Resource"}]}
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// A note on what the policy is for
        #[arg(long, default_value = "", hide_default_value = true)]
        description: String,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// List policies, the server's system policies and your custom ones
    List {
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Show a policy and its document
    Get {
        /// Policy name
        name: String,
        /// The system policy of that name (default: your custom policy if there is one)
        #[arg(long)]
        system: bool,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Delete a custom policy (detach it everywhere first)
    Delete {
        /// Policy name
        name: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Attach a policy to a user or a role, granting what it allows
    Attach {
        /// Policy name
        name: String,
        #[command(flatten)]
        principal: PrincipalArgs,
        /// Attach the system policy of that name (default: your custom policy)
        #[arg(long)]
        system: bool,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Detach a policy from a user or a role
    Detach {
        /// Policy name
        name: String,
        #[command(flatten)]
        principal: PrincipalArgs,
        /// Detach the system policy of that name (default: your custom policy)
        #[arg(long)]
        system: bool,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// List the policies attached to a user or a role
    Attached {
        #[command(flatten)]
        principal: PrincipalArgs,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
}

/// `--user U | --role R`: whom a policy is attached to.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct PrincipalArgs {
    /// A user of your account
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// A role of your account
    #[arg(long, value_name = "ROLE")]
    role: Option<String>,
}

impl PrincipalArgs {
    /// `(principalType, principalName)`, checked.
    fn resolve(&self) -> Result<(&'static str, String)> {
        match (&self.user, &self.role) {
            (Some(user), _) => Ok(("User", UserName::parse(user)?.as_str().to_owned())),
            (None, Some(role)) => Ok(("Role", path_name("role name", role)?.to_owned())),
            // clap requires exactly one of the two.
            (None, None) => anyhow::bail!("name a user (--user) or a role (--role)"),
        }
    }
}

/// The `policyType` of a policy named on the command line.
fn policy_type(system: bool) -> &'static str {
    if system {
        "System"
    } else {
        "Custom"
    }
}

/// Reads a JSON file (a policy, a trust policy, a job) and checks that it holds an object.
pub fn read_json_object(path: &Path, what: &str) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    let value: Value = serde_json::from_str(&text)
        .with_context(|| format!("{what} {} is not valid JSON", path.display()))?;
    if !value.is_object() {
        anyhow::bail!("{what} {} must be a JSON object", path.display());
    }
    Ok(value)
}

/// A policy document (sent as JSON text or an object) pretty-printed, for people.
pub fn document_text(document: &Value) -> String {
    let parsed = match document {
        Value::String(text) => serde_json::from_str::<Value>(text).ok(),
        other => Some(other.clone()),
    };
    match parsed.and_then(|value| serde_json::to_string_pretty(&value).ok()) {
        Some(pretty) => pretty,
        None => output::value_text(document),
    }
}

/// Prints one policy: its fields, then its document.
fn show_policy(policy: &Value, output: &OutputOptions) -> Result<()> {
    if output.is_json() {
        return emit_json(policy);
    }
    let mut fields = pairs(
        policy,
        &[
            ("name", "policyName"),
            ("type", "policyType"),
            ("description", "description"),
        ],
    );
    let created = policy
        .get("createTime")
        .filter(|t| t.as_i64() != Some(0))
        .map(output::time_text);
    fields.push(("created".to_owned(), created.unwrap_or_default()));
    let mut text = output::fields(&fields);
    if let Some(document) = policy.get("policyDocument") {
        text.push_str(&format!("\n{}\n", document_text(document)));
    }
    emit(&text)
}

/// Prints a list of policies as a table, or JSON.
fn show_policies(policies: Vec<Value>, output: &OutputOptions) -> Result<()> {
    if output.is_json() {
        return emit_json(&Value::Array(policies));
    }
    let rows: Vec<Vec<String>> = policies
        .iter()
        .map(|p| {
            vec![
                field_text(p, "policyName"),
                field_text(p, "policyType"),
                field_text(p, "description"),
                // System policies come with the server: their createTime is 0.
                p.get("createTime")
                    .filter(|t| t.as_i64() != Some(0))
                    .map(output::time_text)
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let headers = ["POLICY", "TYPE", "DESCRIPTION", "CREATED"];
    emit(&output::table(&headers, &rows))
}

/// Runs `cairn policy ...`.
pub async fn run_policy(command: PolicyCommand) -> Result<()> {
    match command {
        PolicyCommand::Create {
            name,
            file,
            description,
            output,
            connection,
        } => {
            let name = path_name("policy name", &name)?;
            let document = read_json_object(&file, "policy document")?;
            let body = json!({
                "policyName": name, "policyDocument": document.to_string(),
                "description": description,
            });
            let request = ApiRequest::new(Method::POST, "/iam/policies").json(&body)?;
            let created = Client::connect(&connection)?.send(request).await?.json()?;
            if output.is_json() {
                return emit_json(&created);
            }
            emit(&format!(
                "created policy {name}; grant it with `cairn policy attach {name} --user USER`\n"
            ))
        }
        PolicyCommand::List { output, connection } => {
            let request = ApiRequest::new(Method::GET, "/iam/policies").retried();
            let answer = Client::connect(&connection)?.send(request).await?.json()?;
            show_policies(list_field(&answer, "policies"), &output)
        }
        PolicyCommand::Get {
            name,
            system,
            output,
            connection,
        } => {
            let name = path_name("policy name", &name)?;
            let mut request = ApiRequest::new(Method::GET, format!("/iam/policies/{name}"));
            if system {
                request = request.query("policyType", "System");
            }
            let policy = Client::connect(&connection)?
                .send(request.retried())
                .await?
                .json()?;
            show_policy(&policy, &output)
        }
        PolicyCommand::Delete { name, connection } => {
            let name = path_name("policy name", &name)?;
            let request = ApiRequest::new(Method::DELETE, format!("/iam/policies/{name}"));
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("deleted policy {name}\n"))
        }
        PolicyCommand::Attach {
            name,
            principal,
            system,
            connection,
        } => {
            let name = path_name("policy name", &name)?;
            let (kind, principal) = principal.resolve()?;
            let body = json!({
                "policyType": policy_type(system), "policyName": name,
                "principalType": kind, "principalName": principal,
            });
            let request = ApiRequest::new(Method::POST, "/iam/policy-attachments").json(&body)?;
            Client::connect(&connection)?.send(request).await?;
            let kind = kind.to_lowercase();
            emit(&format!("attached policy {name} to {kind} {principal}\n"))
        }
        PolicyCommand::Detach {
            name,
            principal,
            system,
            connection,
        } => {
            let name = path_name("policy name", &name)?;
            let (kind, principal) = principal.resolve()?;
            let request = ApiRequest::new(Method::DELETE, "/iam/policy-attachments")
                .query("policyType", policy_type(system))
                .query("policyName", name)
                .query("principalType", kind)
                .query("principalName", &principal);
            Client::connect(&connection)?.send(request).await?;
            let kind = kind.to_lowercase();
            emit(&format!("detached policy {name} from {kind} {principal}\n"))
        }
        PolicyCommand::Attached {
            principal,
            output,
            connection,
        } => {
            let (kind, principal) = principal.resolve()?;
            let request = ApiRequest::new(Method::GET, "/iam/policy-attachments")
                .query("principalType", kind)
                .query("principalName", principal)
                .retried();
            let answer = Client::connect(&connection)?.send(request).await?.json()?;
            show_policies(list_field(&answer, "policies"), &output)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_are_users_or_roles() {
        let user = PrincipalArgs {
            user: Some("alice".to_owned()),
            role: None,
        };
        assert_eq!(user.resolve().expect("user"), ("User", "alice".to_owned()));
        let role = PrincipalArgs {
            user: None,
            role: Some("auditor".to_owned()),
        };
        assert_eq!(
            role.resolve().expect("role"),
            ("Role", "auditor".to_owned())
        );
        let bad = PrincipalArgs {
            user: None,
            role: Some("a/b".to_owned()),
        };
        assert!(bad.resolve().is_err());
        assert_eq!(policy_type(true), "System");
        assert_eq!(policy_type(false), "Custom");
    }

    #[test]
    fn documents_print_pretty_whether_text_or_object() {
        let object = json!({"Version": "1", "Statement": []});
        let pretty = document_text(&object);
        assert!(pretty.contains("\n  \"Statement\": []"), "{pretty}");
        assert_eq!(document_text(&Value::String(object.to_string())), pretty);
        assert_eq!(document_text(&json!("not json")), "not json");
    }

    #[test]
    fn json_files_must_hold_objects() {
        let dir = tempfile::tempdir().expect("temp dir");
        let good = dir.path().join("p.json");
        std::fs::write(&good, r#"{"Version":"1","Statement":[]}"#).expect("write");
        assert!(read_json_object(&good, "policy document").is_ok());
        let array = dir.path().join("a.json");
        std::fs::write(&array, "[1]").expect("write");
        let error = read_json_object(&array, "policy document").expect_err("array");
        assert!(format!("{error:#}").contains("JSON object"), "{error:#}");
        let missing = read_json_object(&dir.path().join("none.json"), "policy document");
        assert!(format!("{:#}", missing.expect_err("missing")).contains("cannot read"));
    }
}
