//! The client half of the `cairn` binary: commands that talk to a running `cairn serve` over
//! its SLS-compatible HTTP API and its management API.
//!
//! Every command signs its requests with an AccessKey: by default the operator's, from the
//! credentials file `cairn serve` writes on first start (`./cairn-data/credentials.json`);
//! `--access-key-id`/`--access-key-secret` (or `CAIRN_ACCESS_KEY_ID`/`CAIRN_ACCESS_KEY_SECRET`)
//! use another. `--endpoint` (or `CAIRN_ENDPOINT`) picks the server.
//!
//! A first session:
//! ```text
//! cairn project create demo
//! cairn logstore create --project demo app
//! cairn index set --project demo --logstore app --default
//! echo "hello world" | cairn put --project demo --logstore app
//! cairn get --project demo --logstore app --query hello
//! cairn query --project demo --logstore app '* | SELECT count(*) AS records'
//! ```
//!
//! Beyond that: policies and roles (`cairn policy`, `cairn role`), temporary credentials
//! (`cairn sts assume-role ... --write-credentials role.json`, then `--credentials role.json`),
//! the resource directory of accounts (`cairn rd`) and copy jobs (`cairn job`).

mod connection;
mod credentials;
mod directory;
mod iam;
mod job_copy;
mod jobs;
mod logs;
mod output;
mod policies;
mod progress;
mod query;
mod resources;
mod roles;
mod sts;
mod time_arg;

use anyhow::Result;

// The client commands, flattened into the binary's top-level commands. (A plain comment: clap
// would make a doc comment the `about` of the command this is flattened into.)
#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Manage projects (namespaces that hold logstores)
    #[command(subcommand)]
    Project(resources::ProjectCommand),
    /// Manage logstores (where records are written and searched)
    #[command(subcommand)]
    Logstore(resources::LogstoreCommand),
    /// Manage a logstore's index (what can be searched)
    #[command(subcommand)]
    Index(resources::IndexCommand),
    /// Send lines from a file or standard input to a logstore, one record per line
    Put(logs::PutArgs),
    /// Search a logstore and print the matching records
    Get(logs::GetArgs),
    /// Run `search | SQL` on a logstore and print the result as a table or JSON
    Query(query::QueryArgs),
    /// Manage accounts, the tenants of this server (operator only)
    #[command(subcommand)]
    Account(iam::AccountCommand),
    /// Manage the users of your account
    #[command(subcommand)]
    User(iam::UserCommand),
    /// Manage AccessKeys, the credentials requests are signed with
    #[command(subcommand)]
    Key(iam::KeyCommand),
    /// Manage permission policies and attach them to users and roles
    #[command(subcommand)]
    Policy(policies::PolicyCommand),
    /// Manage roles, which trusted principals assume for temporary credentials
    #[command(subcommand)]
    Role(roles::RoleCommand),
    /// Get temporary credentials for a role, or revoke them
    #[command(subcommand)]
    Sts(sts::StsCommand),
    /// Manage the resource directory: member accounts, invitations, delegated administrators
    #[command(subcommand)]
    Rd(directory::DirectoryCommand),
    /// Manage copy and transform jobs between logstores
    #[command(subcommand)]
    Job(jobs::JobCommand),
}

/// Runs one client command. A server error comes back as an [`ApiError`] (displayed as
/// `errorCode: errorMessage`).
pub async fn run(command: ClientCommand) -> Result<()> {
    match command {
        ClientCommand::Project(command) => resources::run_project(command).await,
        ClientCommand::Logstore(command) => resources::run_logstore(command).await,
        ClientCommand::Index(command) => resources::run_index(command).await,
        ClientCommand::Put(args) => logs::run_put(args).await,
        ClientCommand::Get(args) => logs::run_get(args).await,
        ClientCommand::Query(args) => query::run_query(args).await,
        ClientCommand::Account(command) => iam::run_account(command).await,
        ClientCommand::User(command) => iam::run_user(command).await,
        ClientCommand::Key(command) => iam::run_key(command).await,
        ClientCommand::Policy(command) => policies::run_policy(command).await,
        ClientCommand::Role(command) => roles::run_role(command).await,
        ClientCommand::Sts(command) => sts::run_sts(command).await,
        ClientCommand::Rd(command) => directory::run_directory(command).await,
        ClientCommand::Job(command) => jobs::run_job(command).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: ClientCommand,
    }

    fn parse(args: &[&str]) -> Result<ClientCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("cairn").chain(args.iter().copied())).map(|c| c.command)
    }

    #[test]
    fn the_command_tree_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn relative_times_parse_after_flags() {
        let command = parse(&[
            "get", "-p", "demo", "-l", "app", "--from", "-1h", "--to", "now",
        ]);
        match command.expect("parses") {
            ClientCommand::Get(_) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(parse(&["get", "-p", "demo", "-l", "app", "--from", "yesterday"]).is_err());
    }

    #[test]
    fn query_takes_the_query_as_an_argument() {
        let sql = "* | SELECT status, count(*) AS c GROUP BY status";
        let command = parse(&["query", "-p", "demo", "-l", "app", "--from", "-1h", sql]);
        assert!(
            matches!(command, Ok(ClientCommand::Query(_))),
            "{command:?}"
        );
        let json = parse(&["query", "-p", "demo", "-l", "app", "-o", "json", sql]);
        assert!(json.is_ok(), "{json:?}");
        assert!(parse(&["query", "-p", "demo", "-l", "app"]).is_err());
        assert!(parse(&["query", "-p", "demo", "-l", "app", "-o", "csv", sql]).is_err());
    }

    #[test]
    fn index_set_needs_exactly_one_source() {
        let base = ["index", "set", "--project", "demo", "--logstore", "app"];
        assert!(parse(&base).is_err());
        assert!(parse(&[&base[..], &["--default"]].concat()).is_ok());
        assert!(parse(&[&base[..], &["--file", "i.json"]].concat()).is_ok());
        assert!(parse(&[&base[..], &["--default", "--file", "i.json"]].concat()).is_err());
    }

    #[test]
    fn put_batch_must_be_positive() {
        assert!(parse(&["put", "-p", "demo", "-l", "app", "--batch", "0"]).is_err());
        assert!(parse(&["put", "-p", "demo", "-l", "app", "--json", "-"]).is_ok());
    }

    #[test]
    fn policy_principals_are_exactly_one_of_user_and_role() {
        let base = ["policy", "attach", "ReadOnly"];
        assert!(parse(&base).is_err());
        assert!(parse(&[&base[..], &["--user", "alice"]].concat()).is_ok());
        assert!(parse(&[&base[..], &["--role", "auditor", "--system"]].concat()).is_ok());
        assert!(parse(&[&base[..], &["--user", "a", "--role", "b"]].concat()).is_err());
        assert!(parse(&["policy", "attached", "--role", "auditor"]).is_ok());
    }

    #[test]
    fn roles_need_exactly_one_trust_source() {
        let base = ["role", "create", "auditor"];
        assert!(parse(&base).is_err());
        assert!(parse(&[&base[..], &["--trust-file", "t.json"]].concat()).is_ok());
        let account = ["--trust-account", "1234567890123456", "--external-id", "x"];
        assert!(parse(&[&base[..], &account].concat()).is_ok());
        assert!(parse(&[&base[..], &account, &["--trust-file", "t.json"]].concat()).is_err());
        // An external id only makes sense with --trust-account.
        let stray = ["--trust-file", "t.json", "--external-id", "x"];
        assert!(parse(&[&base[..], &stray].concat()).is_err());
        assert!(parse(&["role", "update-trust", "auditor", "--trust-file", "t.json"]).is_ok());
    }

    #[test]
    fn sts_rd_and_job_commands_parse() {
        let arn = "acs:ram::1234567890123456:role/auditor";
        assert!(parse(&["sts", "assume-role", arn, "--write-credentials", "r.json"]).is_ok());
        assert!(parse(&["sts", "assume-role", arn, "--duration", "60"]).is_err());
        assert!(parse(&["sts", "revoke", "STS.abc123def456"]).is_ok());
        assert!(parse(&["rd", "delegate", "logaudit", "1234567890123456"]).is_ok());
        assert!(parse(&["rd", "delegate", "billing", "1234567890123456"]).is_err());
        assert!(parse(&["rd", "accept", "inv-1"]).is_ok());
        assert!(parse(&["job", "status", "-p", "web", "nightly", "--follow"]).is_ok());
        assert!(parse(&["job", "stop", "-p", "web", "nightly"]).is_ok());
        assert!(parse(&["job", "create", "-p", "web", "--file", "job.json"]).is_ok());
    }

    #[test]
    fn security_tokens_are_a_connection_option() {
        let command = parse(&["user", "list", "--security-token", "tok"]).expect("parses");
        match command {
            ClientCommand::User(iam::UserCommand::List { connection, .. }) => {
                assert_eq!(connection.security_token.as_deref(), Some("tok"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
