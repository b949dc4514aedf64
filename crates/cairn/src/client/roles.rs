//! `cairn role`: roles, identities that trusted principals assume for temporary credentials.
//!
//! A role has a trust policy saying who may assume it (`cairn sts assume-role`) and, like a
//! user, policies attached to it saying what it may do. `--trust-account` writes the usual
//! trust policy for you: the root of one account, optionally only with an external id. The
//! calls are those of docs/management-api.md ("Policies, roles and STS"), on the bare endpoint.

use std::path::PathBuf;

use anyhow::Result;
use cairn_model::AccountId;
use reqwest::Method;
use serde_json::{json, Value};

use super::connection::{path_name, ApiRequest, Client, ConnectionOptions};
use super::iam::{list_field, pairs};
use super::output::{self, emit, emit_json, field_text, OutputOptions};
use super::policies::{document_text, read_json_object};

// `cairn role ...` (a plain comment: clap would take a doc comment as help text).
#[derive(Debug, clap::Subcommand)]
pub enum RoleCommand {
    /// Create a role that the principals its trust policy names can assume
    Create {
        /// Role name: 1-64 letters, digits or . _ -
        name: String,
        /// Trust policy document: who may assume the role
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "trust_account",
            conflicts_with = "trust_account"
        )]
        trust_file: Option<PathBuf>,
        /// Trust the root of this account (16 digits): a trust policy is written for you
        #[arg(long, value_name = "ACCOUNT_ID")]
        trust_account: Option<String>,
        /// With --trust-account: the external id callers must present to assume the role
        #[arg(
            long,
            value_name = "ID",
            requires = "trust_account",
            conflicts_with = "trust_file"
        )]
        external_id: Option<String>,
        /// Longest session that assuming the role may ask for, in seconds
        #[arg(long, value_name = "SECONDS",
              value_parser = clap::value_parser!(u32).range(900..=43_200))]
        max_session_duration: Option<u32>,
        /// A note on what the role is for
        #[arg(long, default_value = "", hide_default_value = true)]
        description: String,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// List the roles of your account
    List {
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Show a role, its ARN and its trust policy
    Get {
        /// Role name
        name: String,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Replace a role's trust policy
    UpdateTrust {
        /// Role name
        name: String,
        /// The new trust policy document
        #[arg(long, value_name = "FILE")]
        trust_file: PathBuf,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Delete a role; its sessions stop working at once
    Delete {
        /// Role name
        name: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
}

/// The trust policy letting the root of `account` assume a role, only with `external_id` when
/// one is given.
pub fn account_trust_policy(account: AccountId, external_id: Option<&str>) -> Value {
    let mut statement = json!({
        "Effect": "Allow",
        "Action": "sts:AssumeRole",
        "Principal": {"RAM": [format!("acs:ram::{account}:root")]},
    });
    if let Some(external_id) = external_id {
        statement["Condition"] = json!({"StringEquals": {"sts:ExternalId": external_id}});
    }
    json!({"Version": "1", "Statement": [statement]})
}

/// The trust policy `role create` sends: the file's, or the one for `--trust-account`.
fn trust_policy(
    file: Option<PathBuf>,
    account: Option<String>,
    external_id: Option<String>,
) -> Result<Value> {
    match (file, account) {
        (Some(path), _) => read_json_object(&path, "trust policy"),
        (None, Some(account)) => {
            let account = AccountId::parse(account.trim())?;
            let external_id = external_id.as_deref().map(str::trim);
            if external_id == Some("") {
                anyhow::bail!("--external-id must not be empty");
            }
            Ok(account_trust_policy(account, external_id))
        }
        // clap requires one of the two.
        (None, None) => anyhow::bail!("give a trust policy: --trust-file or --trust-account"),
    }
}

/// Prints one role: its fields, then its trust policy.
fn show_role(role: &Value, output: &OutputOptions) -> Result<()> {
    if output.is_json() {
        return emit_json(role);
    }
    let mut fields = pairs(
        role,
        &[
            ("name", "roleName"),
            ("arn", "arn"),
            ("description", "description"),
            ("max session (s)", "maxSessionDuration"),
        ],
    );
    let created = role.get("createTime").map(output::time_text);
    fields.push(("created".to_owned(), created.unwrap_or_default()));
    let mut text = output::fields(&fields);
    if let Some(trust) = role.get("assumeRolePolicyDocument") {
        text.push_str(&format!("\ntrust policy:\n{}\n", document_text(trust)));
    }
    emit(&text)
}

/// Runs `cairn role ...`.
pub async fn run_role(command: RoleCommand) -> Result<()> {
    match command {
        RoleCommand::Create {
            name,
            trust_file,
            trust_account,
            external_id,
            max_session_duration,
            description,
            output,
            connection,
        } => {
            let name = path_name("role name", &name)?;
            let trust = trust_policy(trust_file, trust_account, external_id)?;
            let mut body = json!({
                "roleName": name, "assumeRolePolicyDocument": trust.to_string(),
                "description": description,
            });
            if let Some(seconds) = max_session_duration {
                body["maxSessionDuration"] = Value::from(seconds);
            }
            let request = ApiRequest::new(Method::POST, "/iam/roles").json(&body)?;
            let created = Client::connect(&connection)?.send(request).await?.json()?;
            if output.is_json() {
                return emit_json(&created);
            }
            let arn = field_text(&created, "arn");
            emit(&format!(
                "created role {name} ({arn}); give it rights with `cairn policy attach POLICY \
                 --role {name}`\n"
            ))
        }
        RoleCommand::List { output, connection } => {
            let request = ApiRequest::new(Method::GET, "/iam/roles").retried();
            let answer = Client::connect(&connection)?.send(request).await?.json()?;
            let roles = list_field(&answer, "roles");
            if output.is_json() {
                return emit_json(&Value::Array(roles));
            }
            let rows: Vec<Vec<String>> = roles
                .iter()
                .map(|role| {
                    vec![
                        field_text(role, "roleName"),
                        field_text(role, "arn"),
                        field_text(role, "description"),
                        role.get("createTime")
                            .map(output::time_text)
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            let headers = ["ROLE", "ARN", "DESCRIPTION", "CREATED"];
            emit(&output::table(&headers, &rows))
        }
        RoleCommand::Get {
            name,
            output,
            connection,
        } => {
            let name = path_name("role name", &name)?;
            let request = ApiRequest::new(Method::GET, format!("/iam/roles/{name}")).retried();
            let role = Client::connect(&connection)?.send(request).await?.json()?;
            show_role(&role, &output)
        }
        RoleCommand::UpdateTrust {
            name,
            trust_file,
            connection,
        } => {
            let name = path_name("role name", &name)?;
            let trust = read_json_object(&trust_file, "trust policy")?;
            let body = json!({"assumeRolePolicyDocument": trust.to_string()});
            let request = ApiRequest::new(Method::PUT, format!("/iam/roles/{name}")).json(&body)?;
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("replaced the trust policy of role {name}\n"))
        }
        RoleCommand::Delete { name, connection } => {
            let name = path_name("role name", &name)?;
            let request = ApiRequest::new(Method::DELETE, format!("/iam/roles/{name}"));
            Client::connect(&connection)?.send(request).await?;
            emit(&format!(
                "deleted role {name}; its sessions no longer work\n"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "1234567890123456";

    #[test]
    fn account_trust_policies_name_the_root() {
        let account = AccountId::parse(ACCOUNT).expect("account");
        assert_eq!(
            account_trust_policy(account, None),
            json!({"Version": "1", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"RAM": ["acs:ram::1234567890123456:root"]},
            }]})
        );
        // The documented example, external id condition included.
        assert_eq!(
            account_trust_policy(account, Some("abc-123")),
            json!({"Version": "1", "Statement": [{
                "Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"RAM": ["acs:ram::1234567890123456:root"]},
                "Condition": {"StringEquals": {"sts:ExternalId": "abc-123"}},
            }]})
        );
    }

    #[test]
    fn the_server_accepts_account_trust_policies() {
        let account = AccountId::parse(ACCOUNT).expect("account");
        for external_id in [None, Some("abc-123")] {
            let policy = account_trust_policy(account, external_id).to_string();
            let parsed = cairn_iam::TrustPolicy::parse(&policy);
            assert!(parsed.is_ok(), "{policy}: {parsed:?}");
        }
    }

    #[test]
    fn trust_policies_come_from_a_file_or_an_account() {
        let from_account =
            trust_policy(None, Some(ACCOUNT.to_owned()), Some(" x ".to_owned())).expect("account");
        let condition = &from_account["Statement"][0]["Condition"]["StringEquals"];
        assert_eq!(condition["sts:ExternalId"], "x");
        assert!(trust_policy(None, Some("123".to_owned()), None).is_err());
        assert!(trust_policy(None, Some(ACCOUNT.to_owned()), Some(" ".to_owned())).is_err());
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("trust.json");
        std::fs::write(&path, from_account.to_string()).expect("write");
        assert_eq!(
            trust_policy(Some(path), None, None).expect("file"),
            from_account
        );
    }
}
