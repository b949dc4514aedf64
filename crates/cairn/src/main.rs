//! The `cairn` binary: the central server (`cairn serve`) and the client commands that talk to
//! it (`cairn project`, `cairn logstore`, `cairn put`, `cairn get`, `cairn key`, ...).
//!
//! This crate only wires roles together; everything with behaviour lives in the library
//! crates. `anyhow` is used here and nowhere below.

mod agent;
mod client;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Cairn: self-hosted, multi-account log collection and audit, compatible with SLS clients.
#[derive(Parser)]
#[command(name = "cairn", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the central server (SLS-compatible API, storage and query) on a local data directory.
    Serve(serve::ServeArguments),
    /// Run the host agent: collect files as the server's collection configs say, exactly once.
    Agent(agent::AgentArguments),
    #[command(flatten)]
    Client(client::ClientCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Serve(arguments) => serve::run(arguments).await,
            Command::Agent(arguments) => agent::run(arguments).await,
            Command::Client(command) => client::run(command).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
