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
//! ```

mod connection;
mod credentials;
mod iam;
mod logs;
mod output;
mod resources;
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
    /// Manage accounts, the tenants of this server (operator only)
    #[command(subcommand)]
    Account(iam::AccountCommand),
    /// Manage the users of your account
    #[command(subcommand)]
    User(iam::UserCommand),
    /// Manage AccessKeys, the credentials requests are signed with
    #[command(subcommand)]
    Key(iam::KeyCommand),
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
        ClientCommand::Account(command) => iam::run_account(command).await,
        ClientCommand::User(command) => iam::run_user(command).await,
        ClientCommand::Key(command) => iam::run_key(command).await,
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
}
