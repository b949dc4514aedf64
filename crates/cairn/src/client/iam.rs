//! `cairn account`, `cairn user` and `cairn key`: Cairn's management API.
//!
//! Accounts are tenants (only the operator account, created by `cairn serve` on first start,
//! may create and list them); users live inside the caller's account; AccessKeys belong to a
//! user or to the account's root. Secrets are printed once, when created, and never again.
//! The calls are those of docs/management-api.md, on the bare endpoint.

use anyhow::Result;
use cairn_model::{AccessKeyId, UserName};
use reqwest::Method;
use serde_json::{json, Value};

use super::connection::{ApiRequest, Client, ConnectionOptions};
use super::output::{self, emit, emit_json, field_text, OutputOptions};

// `cairn account ...` (a plain comment: clap would take a doc comment as help text).
#[derive(Debug, clap::Subcommand)]
pub enum AccountCommand {
    /// Create an account (a tenant) and print its first AccessKey (operator only)
    Create {
        /// A name for the account
        name: String,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// List all accounts (operator only)
    List {
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
}

// `cairn user ...` (a plain comment: clap would take a doc comment as help text).
#[derive(Debug, clap::Subcommand)]
pub enum UserCommand {
    /// Create a user in your account
    Create {
        /// User name: 1-64 letters, digits or . _ @ -
        name: String,
        /// A human-friendly name
        #[arg(long)]
        display_name: Option<String>,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// List the users of your account
    List {
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Delete a user and its AccessKeys
    Delete {
        /// User name
        name: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
}

// `cairn key ...` (a plain comment: clap would take a doc comment as help text).
#[derive(Debug, clap::Subcommand)]
pub enum KeyCommand {
    /// Create an AccessKey and print its secret (shown only this once)
    Create {
        /// User the key belongs to (default: your account's root)
        #[arg(long)]
        user: Option<String>,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// List your account's AccessKeys (without secrets)
    List {
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Disable an AccessKey: requests signed with it are refused until it is enabled again
    Disable {
        /// AccessKey id
        id: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Enable a disabled AccessKey
    Enable {
        /// AccessKey id
        id: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Delete an AccessKey for good
    Delete {
        /// AccessKey id
        id: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
}

/// Runs `cairn account ...`.
pub async fn run_account(command: AccountCommand) -> Result<()> {
    match command {
        AccountCommand::Create {
            name,
            output,
            connection,
        } => {
            let request = ApiRequest::new(Method::POST, "/iam/accounts")
                .json(&json!({"accountName": name}))?;
            let created = Client::connect(&connection)?.send(request).await?.json()?;
            if output.is_json() {
                return emit_json(&created);
            }
            let pairs = pairs(
                &created,
                &[
                    ("account id", "accountId"),
                    ("account name", "accountName"),
                    ("AccessKey id", "accessKeyId"),
                    ("AccessKey secret", "accessKeySecret"),
                ],
            );
            emit(&format!("{}{SECRET_NOTE}", output::fields(&pairs)))
        }
        AccountCommand::List { output, connection } => {
            let request = ApiRequest::new(Method::GET, "/iam/accounts").retried();
            let answer = Client::connect(&connection)?.send(request).await?.json()?;
            let accounts = list_field(&answer, "accounts");
            if output.is_json() {
                return emit_json(&Value::Array(accounts));
            }
            let rows = rows(&accounts, &["accountId", "accountName"], "createTime");
            emit(&output::table(&["ACCOUNT ID", "NAME", "CREATED"], &rows))
        }
    }
}

/// Runs `cairn user ...`.
pub async fn run_user(command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Create {
            name,
            display_name,
            output,
            connection,
        } => {
            let name = UserName::parse(&name)?;
            let mut body = json!({"userName": name.as_str()});
            if let Some(display_name) = display_name {
                body["displayName"] = Value::String(display_name);
            }
            let request = ApiRequest::new(Method::POST, "/iam/users").json(&body)?;
            let created = Client::connect(&connection)?.send(request).await?.json()?;
            if output.is_json() {
                return emit_json(&created);
            }
            emit(&format!("created user {name}\n"))
        }
        UserCommand::List { output, connection } => {
            let request = ApiRequest::new(Method::GET, "/iam/users").retried();
            let answer = Client::connect(&connection)?.send(request).await?.json()?;
            let users = list_field(&answer, "users");
            if output.is_json() {
                return emit_json(&Value::Array(users));
            }
            let rows = rows(&users, &["userName", "displayName"], "createTime");
            emit(&output::table(&["USER", "DISPLAY NAME", "CREATED"], &rows))
        }
        UserCommand::Delete { name, connection } => {
            let name = UserName::parse(&name)?;
            let request = ApiRequest::new(Method::DELETE, format!("/iam/users/{name}"));
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("deleted user {name} and its AccessKeys\n"))
        }
    }
}

/// Runs `cairn key ...`.
pub async fn run_key(command: KeyCommand) -> Result<()> {
    match command {
        KeyCommand::Create {
            user,
            output,
            connection,
        } => {
            let body = match user {
                Some(user) => json!({"userName": UserName::parse(&user)?.as_str()}),
                None => json!({}),
            };
            let request = ApiRequest::new(Method::POST, "/iam/accesskeys").json(&body)?;
            let created = Client::connect(&connection)?.send(request).await?.json()?;
            if output.is_json() {
                return emit_json(&created);
            }
            let mut pairs = pairs(
                &created,
                &[
                    ("AccessKey id", "accessKeyId"),
                    ("AccessKey secret", "accessKeySecret"),
                ],
            );
            pairs.push(("user".to_owned(), owner(&created)));
            emit(&format!("{}{SECRET_NOTE}", output::fields(&pairs)))
        }
        KeyCommand::List { output, connection } => {
            let request = ApiRequest::new(Method::GET, "/iam/accesskeys").retried();
            let answer = Client::connect(&connection)?.send(request).await?.json()?;
            let keys = list_field(&answer, "accessKeys");
            if output.is_json() {
                return emit_json(&Value::Array(keys));
            }
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|key| {
                    vec![
                        field_text(key, "accessKeyId"),
                        owner(key),
                        field_text(key, "status"),
                        key.get("createTime")
                            .map(output::time_text)
                            .unwrap_or_default(),
                        key.get("lastUsedTime")
                            .map(output::time_text)
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            let headers = ["ACCESSKEY ID", "USER", "STATUS", "CREATED", "LAST USED"];
            emit(&output::table(&headers, &rows))
        }
        KeyCommand::Disable { id, connection } => set_status(&id, "Disabled", &connection).await,
        KeyCommand::Enable { id, connection } => set_status(&id, "Active", &connection).await,
        KeyCommand::Delete { id, connection } => {
            let id = AccessKeyId::parse(&id)?;
            let request = ApiRequest::new(Method::DELETE, format!("/iam/accesskeys/{id}"));
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("deleted AccessKey {id}\n"))
        }
    }
}

const SECRET_NOTE: &str = "\nKeep the secret safe: it is shown only now.\n";

async fn set_status(id: &str, status: &str, connection: &ConnectionOptions) -> Result<()> {
    let id = AccessKeyId::parse(id)?;
    let request = ApiRequest::new(Method::PUT, format!("/iam/accesskeys/{id}"))
        .json(&json!({"status": status}))?;
    Client::connect(connection)?.send(request).await?;
    let done = if status == "Active" {
        "enabled"
    } else {
        "disabled"
    };
    emit(&format!("{done} AccessKey {id}\n"))
}

/// Who a key belongs to: its user, or `(root)` for the account's own keys.
fn owner(key: &Value) -> String {
    match key.get("userName").and_then(Value::as_str) {
        Some(user) if !user.is_empty() => user.to_owned(),
        _ => "(root)".to_owned(),
    }
}

/// Labelled fields of an answer, in the given order.
pub fn pairs(value: &Value, labels: &[(&str, &str)]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|(label, key)| ((*label).to_owned(), field_text(value, key)))
        .collect()
}

/// The list under `field` of an answer (empty when absent).
pub fn list_field(answer: &Value, field: &str) -> Vec<Value> {
    answer
        .get(field)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Table rows: the given text fields, then a time field made readable.
pub fn rows(items: &[Value], text_fields: &[&str], time_field: &str) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|item| {
            let mut row: Vec<String> = text_fields.iter().map(|f| field_text(item, f)).collect();
            row.push(
                item.get(time_field)
                    .map(output::time_text)
                    .unwrap_or_default(),
            );
            row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_keys_show_as_root() {
        assert_eq!(owner(&json!({"userName": null})), "(root)");
        assert_eq!(owner(&json!({})), "(root)");
        assert_eq!(owner(&json!({"userName": "alice"})), "alice");
    }

    #[test]
    fn list_answers_become_rows() {
        let answer =
            json!({"users": [{"userName": "alice", "displayName": "Alice", "createTime": 0}]});
        let users = list_field(&answer, "users");
        assert_eq!(
            rows(&users, &["userName", "displayName"], "createTime"),
            vec![vec!["alice".to_owned(), "Alice".to_owned(), "0".to_owned()]]
        );
        assert!(list_field(&json!({}), "users").is_empty());
    }
}
