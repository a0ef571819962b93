//! `shoal`: the CLI and the node daemon in one binary.
//!
//! `shoal daemon` runs a node; every other command talks to a daemon over
//! its local socket. The binary only parses, wires the crates together
//! and reports errors; the behaviour lives in `shoal-manager` and
//! `shoal-worker`.
#![forbid(unsafe_code)]

mod cli;
mod client;
mod daemon;

use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: the store and the raft pipeline
/// allocate and free many small objects from many threads, where glibc's
/// allocator spent a quarter of the managers' CPU (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Daemon(args) => daemon::run(args),
        // SIGPIPE stays ignored: see cli::out for how a closed pipe ends
        // the CLI.
        command => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(cli::run(cli.host, command))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(ExitStatus(code)) = err.downcast_ref() {
                return ExitCode::from(*code);
            }
            if !err.is::<Reported>() {
                cli::out::error(format_args!("Error: {err:#}\n"));
            }
            ExitCode::FAILURE
        }
    }
}

/// A failure already explained on stderr: exit 1 without more words.
#[derive(Debug, thiserror::Error)]
#[error("already reported")]
pub struct Reported;

/// A program's own exit status, passed on as the CLI's (`shoal run`).
#[derive(Debug, thiserror::Error)]
#[error("exit status {0}")]
pub struct ExitStatus(pub u8);
