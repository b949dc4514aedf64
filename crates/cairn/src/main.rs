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
    let built = match cli.command {
        Command::Agent(_) => agent_runtime(),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let runtime = match built {
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

/// The agent's runtime: one thread for its tasks (the main loop, processing and delivery)
/// and at most two for blocking work (reading files, checkpoint and buffer writes).
///
/// The agent is mostly waiting, and its work runs in sequence (read, process, queue,
/// batch, send): a worker thread per core bought it no speed, but every thread that
/// allocates gets its own glibc arena, whose freed memory stays resident. Its steady-load
/// RSS was over its 30 MB budget with five threads; and processing and delivery on one
/// thread means field lists and entries are freed where they were allocated.
fn agent_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(1)
        .build()
}
