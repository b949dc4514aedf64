//! `cairn sts`: exchanging a role for temporary credentials, and revoking them.
//!
//! `assume-role` prints an AccessKey (`STS.…`), its secret and a security token that expire
//! together; `--write-credentials FILE` saves them (mode 0600) as a credentials file that every
//! other command takes with `--credentials FILE`. Requests signed with them carry the token as
//! `x-acs-security-token`. The calls are those of docs/management-api.md ("Policies, roles and
//! STS"), on the bare endpoint.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use cairn_model::{AccessKeyId, ResourceArn};
use reqwest::Method;
use serde_json::{json, Value};

use super::connection::{ApiRequest, Client, ConnectionOptions};
use super::credentials::CredentialsFile;
use super::output::{self, emit, emit_json, field_text, OutputOptions};

// `cairn sts ...` (a plain comment: clap would take a doc comment as help text).
#[derive(Debug, clap::Subcommand)]
pub enum StsCommand {
    /// Assume a role and print temporary credentials for it
    AssumeRole {
        /// The role's ARN: acs:ram::<account>:role/<name>
        role_arn: String,
        /// A name for the session, recorded with what it does
        #[arg(long, default_value = "cairn-cli", value_name = "NAME")]
        session_name: String,
        /// How long the credentials last, in seconds (at most the role's maximum)
        #[arg(long, default_value_t = 3600, value_name = "SECONDS",
              value_parser = clap::value_parser!(u32).range(900..=43_200))]
        duration: u32,
        /// The external id the role's trust policy asks for
        #[arg(long, value_name = "ID")]
        external_id: Option<String>,
        /// Save the credentials to FILE (mode 0600), for `--credentials FILE`
        #[arg(long, value_name = "FILE")]
        write_credentials: Option<PathBuf>,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Revoke temporary credentials of a role of your account before they expire
    Revoke {
        /// The temporary AccessKey id (STS.…)
        #[arg(value_name = "ACCESS_KEY_ID")]
        key_id: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
}

/// Checks a role ARN: `acs:ram::<account>:role/<name>`.
pub fn role_arn(text: &str) -> Result<ResourceArn> {
    let arn = ResourceArn::parse(text.trim())?;
    let name = arn.resource.strip_prefix("role/").unwrap_or_default();
    if arn.service != "ram" || name.is_empty() || name.contains('/') {
        bail!("{text:?} is not a role ARN: expected acs:ram::<account>:role/<name>");
    }
    Ok(arn)
}

/// The credentials file for an AssumeRole answer, in the role's account.
fn credentials_file(role: &ResourceArn, answer: &Value) -> Result<CredentialsFile> {
    let credentials = answer
        .get("credentials")
        .context("the server's answer has no credentials")?;
    let text = |key: &str| {
        credentials
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .with_context(|| format!("the server's credentials have no {key:?}"))
    };
    Ok(CredentialsFile {
        account_id: Some(role.account.to_string()),
        access_key_id: text("accessKeyId")?,
        access_key_secret: text("accessKeySecret")?,
        security_token: Some(text("securityToken")?),
        expiration: credentials.get("expiration").cloned(),
    })
}

/// Runs `cairn sts ...`.
pub async fn run_sts(command: StsCommand) -> Result<()> {
    match command {
        StsCommand::AssumeRole {
            role_arn: arn_text,
            session_name,
            duration,
            external_id,
            write_credentials,
            output,
            connection,
        } => {
            let role = role_arn(&arn_text)?;
            let mut body = json!({
                "roleArn": role.to_string(), "roleSessionName": session_name,
                "durationSeconds": duration,
            });
            if let Some(external_id) = external_id {
                body["externalId"] = Value::String(external_id);
            }
            let request = ApiRequest::new(Method::POST, "/sts/assume-role").json(&body)?;
            let answer = Client::connect(&connection)?.send(request).await?.json()?;
            let file = credentials_file(&role, &answer)?;
            if let Some(path) = &write_credentials {
                file.save(path)?;
            }
            if output.is_json() {
                return emit_json(&answer);
            }
            let expiration = file
                .expiration
                .as_ref()
                .map(output::time_text)
                .unwrap_or_default();
            let assumed = answer.get("assumedRoleUser").cloned().unwrap_or_default();
            let mut pairs = vec![
                ("assumed role".to_owned(), field_text(&assumed, "arn")),
                ("AccessKey id".to_owned(), file.access_key_id.clone()),
                ("expiration".to_owned(), expiration),
            ];
            let note = match &write_credentials {
                Some(path) => format!(
                    "\nSaved to {0} (readable only by you); use it with --credentials {0}\n",
                    path.display()
                ),
                None => {
                    pairs.push(("AccessKey secret".to_owned(), file.access_key_secret));
                    pairs.push((
                        "security token".to_owned(),
                        file.security_token.unwrap_or_default(),
                    ));
                    "\nSign with all three (--access-key-id, --access-key-secret, \
                     --security-token), or save them with --write-credentials FILE.\n"
                        .to_owned()
                }
            };
            emit(&format!("{}{note}", output::fields(&pairs)))
        }
        StsCommand::Revoke { key_id, connection } => {
            let id = AccessKeyId::parse(key_id.trim())?;
            let request = ApiRequest::new(Method::DELETE, format!("/sts/sessions/{id}"));
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("revoked temporary credentials {id}\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_checked() {
        let arn = role_arn("acs:ram::1234567890123456:role/auditor").expect("role");
        assert_eq!(arn.account.to_string(), "1234567890123456");
        for bad in [
            "auditor",
            "acs:ram::1234567890123456:user/alice",
            "acs:ram::1234567890123456:role/",
            "acs:log:cairn:1234567890123456:project/p",
            "acs:ram::123:role/auditor",
        ] {
            assert!(role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn assume_role_answers_become_credentials_files() {
        let role = role_arn("acs:ram::1234567890123456:role/auditor").expect("role");
        let answer = json!({
            "credentials": {"accessKeyId": "STS.abc123def456", "accessKeySecret": "s",
                            "securityToken": "tok", "expiration": 1_704_070_800},
            "assumedRoleUser": {"arn": "acs:ram::1234567890123456:role/auditor/cairn-cli",
                                "assumedRoleId": "r1"},
        });
        let file = credentials_file(&role, &answer).expect("file");
        assert_eq!(
            serde_json::to_value(&file).expect("serializes"),
            json!({"accountId": "1234567890123456", "accessKeyId": "STS.abc123def456",
                   "accessKeySecret": "s", "securityToken": "tok", "expiration": 1_704_070_800})
        );
        let no_token = json!({"credentials": {"accessKeyId": "STS.a", "accessKeySecret": "s"}});
        let error = credentials_file(&role, &no_token).expect_err("no token");
        assert!(format!("{error:#}").contains("securityToken"), "{error:#}");
        assert!(credentials_file(&role, &json!({})).is_err());
    }
}
