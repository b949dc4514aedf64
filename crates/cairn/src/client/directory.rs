//! `cairn rd`: the resource directory, a group of accounts run by one management account.
//!
//! An account's root enables a directory and becomes its management account. It then creates
//! member accounts or invites existing ones (their roots accept or decline), and may delegate
//! a service (`trail`, `logaudit`) to a member. Each member gets the role
//! `ResourceDirectoryAccountAccessRole`, which the management account assumes with
//! `cairn sts assume-role` to act in it. The calls are those of docs/management-api.md
//! ("Resource directory"), on the bare endpoint.

use anyhow::Result;
use cairn_model::AccountId;
use reqwest::Method;
use serde_json::{json, Value};

use super::connection::{path_name, ApiRequest, Client, ConnectionOptions};
use super::iam::{list_field, rows};
use super::output::{self, emit, emit_json, OutputOptions};
use super::resources::show;

/// The role every member gets, trusting the management account.
const ACCESS_ROLE: &str = "ResourceDirectoryAccountAccessRole";

// `cairn rd ...` (a plain comment: clap would take a doc comment as help text).
#[derive(Debug, clap::Subcommand)]
pub enum DirectoryCommand {
    /// Enable a resource directory with your account as its management account
    Enable {
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Show the directory your account is in, and its place there
    Show {
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Create a new account as a member of the directory
    CreateMember {
        /// A name for the account
        name: String,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// List the directory's member accounts
    Members {
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Remove a member account from the directory
    RemoveMember {
        /// The member's account id
        account_id: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Invite an existing account to join the directory
    Invite {
        /// The invited account's id
        account_id: String,
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// List invitations: those the directory sent, or those your account received
    Invitations {
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Accept an invitation: your account joins the directory
    Accept {
        /// Invitation id
        id: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Decline an invitation
    Decline {
        /// Invitation id
        id: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Cancel an invitation the directory sent
    Cancel {
        /// Invitation id
        id: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Make a member the delegated administrator of a service
    Delegate {
        /// The service
        #[arg(value_enum)]
        service: Service,
        /// The member's account id
        account_id: String,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// Take a service's delegated administration back to the management account
    Undelegate {
        /// The service
        #[arg(value_enum)]
        service: Service,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
    /// List delegated administrators
    Delegates {
        #[command(flatten)]
        output: OutputOptions,
        #[command(flatten)]
        connection: ConnectionOptions,
    },
}

/// Services whose administration can be delegated to a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    /// Action trails across the directory's accounts.
    Trail,
    /// Log audit across the directory's accounts.
    Logaudit,
}

impl Service {
    /// The name in the API path.
    fn as_str(self) -> &'static str {
        match self {
            Service::Trail => "trail",
            Service::Logaudit => "logaudit",
        }
    }
}

/// What to say after an invitation was answered.
fn invitation_done(action: &str, id: &str) -> String {
    match action {
        "accept" => format!("accepted invitation {id}: your account is now a member\n"),
        "decline" => format!("declined invitation {id}\n"),
        _ => format!("cancelled invitation {id}\n"),
    }
}

/// The command that reaches a new member through its access role.
fn access_hint(account: &str) -> String {
    format!(
        "act in it with `cairn sts assume-role acs:ram::{account}:role/{ACCESS_ROLE} \
         --write-credentials member.json`"
    )
}

/// Runs `cairn rd ...`.
pub async fn run_directory(command: DirectoryCommand) -> Result<()> {
    match command {
        DirectoryCommand::Enable { output, connection } => {
            let request = ApiRequest::new(Method::POST, "/rd");
            let directory = Client::connect(&connection)?.send(request).await?.json()?;
            show(&directory, &output)
        }
        DirectoryCommand::Show { output, connection } => {
            let request = ApiRequest::new(Method::GET, "/rd").retried();
            let directory = Client::connect(&connection)?.send(request).await?.json()?;
            show(&directory, &output)
        }
        DirectoryCommand::CreateMember {
            name,
            output,
            connection,
        } => {
            let body = json!({"accountName": name});
            let request = ApiRequest::new(Method::POST, "/rd/accounts").json(&body)?;
            let member = Client::connect(&connection)?.send(request).await?.json()?;
            if output.is_json() {
                return emit_json(&member);
            }
            let account = output::field_text(&member, "accountId");
            let hint = access_hint(&account);
            emit(&format!(
                "created member account {account} ({name}); {hint}\n"
            ))
        }
        DirectoryCommand::Members { output, connection } => {
            let request = ApiRequest::new(Method::GET, "/rd/members").retried();
            let answer = Client::connect(&connection)?.send(request).await?.json()?;
            let members = list_field(&answer, "members");
            if output.is_json() {
                return emit_json(&Value::Array(members));
            }
            let rows = rows(
                &members,
                &["accountId", "accountName", "joinMethod"],
                "joinTime",
            );
            let headers = ["ACCOUNT ID", "NAME", "JOINED BY", "JOINED"];
            emit(&output::table(&headers, &rows))
        }
        DirectoryCommand::RemoveMember {
            account_id,
            connection,
        } => {
            let account = AccountId::parse(account_id.trim())?;
            let request = ApiRequest::new(Method::DELETE, format!("/rd/members/{account}"));
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("removed account {account} from the directory\n"))
        }
        DirectoryCommand::Invite {
            account_id,
            output,
            connection,
        } => {
            let account = AccountId::parse(account_id.trim())?;
            let body = json!({"accountId": account.to_string()});
            let request = ApiRequest::new(Method::POST, "/rd/invitations").json(&body)?;
            let invitation = Client::connect(&connection)?.send(request).await?.json()?;
            if output.is_json() {
                return emit_json(&invitation);
            }
            let id = output::field_text(&invitation, "invitationId");
            emit(&format!(
                "invited account {account} (invitation {id}); its root accepts with \
                 `cairn rd accept {id}`\n"
            ))
        }
        DirectoryCommand::Invitations { output, connection } => {
            let request = ApiRequest::new(Method::GET, "/rd/invitations").retried();
            let answer = Client::connect(&connection)?.send(request).await?.json()?;
            let invitations = list_field(&answer, "invitations");
            if output.is_json() {
                return emit_json(&Value::Array(invitations));
            }
            let fields = ["invitationId", "accountId", "directoryId", "status"];
            let rows = rows(&invitations, &fields, "createTime");
            let headers = ["INVITATION", "ACCOUNT ID", "DIRECTORY", "STATUS", "CREATED"];
            emit(&output::table(&headers, &rows))
        }
        DirectoryCommand::Accept { id, connection } => respond(&id, "accept", &connection).await,
        DirectoryCommand::Decline { id, connection } => respond(&id, "decline", &connection).await,
        DirectoryCommand::Cancel { id, connection } => respond(&id, "cancel", &connection).await,
        DirectoryCommand::Delegate {
            service,
            account_id,
            connection,
        } => {
            let account = AccountId::parse(account_id.trim())?;
            let service = service.as_str();
            let body = json!({"accountId": account.to_string()});
            let path = format!("/rd/delegated-administrators/{service}");
            let request = ApiRequest::new(Method::PUT, path).json(&body)?;
            Client::connect(&connection)?.send(request).await?;
            emit(&format!(
                "account {account} is now the delegated administrator of {service}\n"
            ))
        }
        DirectoryCommand::Undelegate {
            service,
            connection,
        } => {
            let service = service.as_str();
            let path = format!("/rd/delegated-administrators/{service}");
            let request = ApiRequest::new(Method::DELETE, path);
            Client::connect(&connection)?.send(request).await?;
            emit(&format!("{service} has no delegated administrator now\n"))
        }
        DirectoryCommand::Delegates { output, connection } => {
            let request = ApiRequest::new(Method::GET, "/rd/delegated-administrators").retried();
            let answer = Client::connect(&connection)?.send(request).await?.json()?;
            let delegates = list_field(&answer, "delegatedAdministrators");
            if output.is_json() {
                return emit_json(&Value::Array(delegates));
            }
            let rows: Vec<Vec<String>> = delegates
                .iter()
                .map(|d| {
                    vec![
                        output::field_text(d, "service"),
                        output::field_text(d, "accountId"),
                    ]
                })
                .collect();
            emit(&output::table(&["SERVICE", "ACCOUNT ID"], &rows))
        }
    }
}

/// Accepts, declines or cancels an invitation.
async fn respond(id: &str, action: &str, connection: &ConnectionOptions) -> Result<()> {
    let id = path_name("invitation id", id.trim())?;
    let path = format!("/rd/invitations/{id}/{action}");
    Client::connect(connection)?
        .send(ApiRequest::new(Method::POST, path))
        .await?;
    emit(&invitation_done(action, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_named_as_in_the_api() {
        use clap::ValueEnum;
        assert_eq!(Service::Trail.as_str(), "trail");
        assert_eq!(Service::Logaudit.as_str(), "logaudit");
        assert_eq!(Service::from_str("logaudit", true), Ok(Service::Logaudit));
        assert!(Service::from_str("billing", true).is_err());
    }

    #[test]
    fn messages_name_the_invitation_and_the_access_role() {
        assert!(invitation_done("accept", "inv-1").starts_with("accepted invitation inv-1"));
        assert!(invitation_done("cancel", "inv-1").starts_with("cancelled"));
        assert!(access_hint("1234567890123456")
            .contains("acs:ram::1234567890123456:role/ResourceDirectoryAccountAccessRole"));
    }
}
