//! The CLI's standard output and error. A reader that goes away (`shoal
//! service ps -q | head -1`) ends the CLI quietly, killed by SIGPIPE as
//! other Unix tools are; a daemon that goes away does not: SIGPIPE stays
//! ignored, so a write to a closed socket fails with EPIPE and the CLI
//! says what became of its request. Go's runtime (hence docker's CLI)
//! draws the same line between standard output and error and other files.
//! `shoal run` outlives a closed pipe (see [`outlive_closed_pipes`]): it
//! follows its task to the end and passes on its exit status.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// `print!` to standard output, ending the CLI quietly if its reader has
/// gone away.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::out::write(format_args!($($arg)*)) };
}

/// `println!` to standard output, ending the CLI quietly if its reader has
/// gone away.
macro_rules! outln {
    () => { $crate::cli::out::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::out::write(format_args!("{}\n", format_args!($($arg)*))) };
}

/// `eprintln!` to standard error, ending the CLI quietly if its reader
/// has gone away.
macro_rules! errln {
    ($($arg:tt)*) => { $crate::cli::out::error(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Set by `shoal run`: a closed standard error is ignored rather than
/// ending the process.
static OUTLIVE: AtomicBool = AtomicBool::new(false);

/// From now on a closed standard error does not end the process (its
/// standard output is written by the caller, who handles a closed one).
pub fn outlive_closed_pipes() {
    OUTLIVE.store(true, Ordering::Relaxed);
}

/// Writes `args` to standard error (see the module doc); any other
/// failure is ignored: there is nowhere left to say it.
pub fn error(args: fmt::Arguments<'_>) {
    if let Err(err) = io::stderr().lock().write_fmt(args)
        && err.kind() == io::ErrorKind::BrokenPipe
        && !OUTLIVE.load(Ordering::Relaxed)
    {
        die_by_sigpipe();
    }
}

/// Writes `args` to standard output (see the module doc).
pub fn write(args: fmt::Arguments<'_>) {
    if let Err(err) = io::stdout().lock().write_fmt(args) {
        failed(err);
    }
}

/// Writes `data` to standard output (see the module doc).
pub fn bytes(data: &[u8]) {
    if let Err(err) = io::stdout().lock().write_all(data) {
        failed(err);
    }
}

/// A closed pipe ends the process by SIGPIPE, as the default disposition
/// would have; any other failure to write ends it with an error.
fn failed(err: io::Error) -> ! {
    if err.kind() == io::ErrorKind::BrokenPipe {
        die_by_sigpipe();
    }
    error(format_args!("Error: writing to standard output: {err}\n"));
    std::process::exit(1);
}

/// Ends the process as SIGPIPE's default disposition would have.
fn die_by_sigpipe() -> ! {
    sigpipe::reset();
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGPIPE);
    std::process::exit(141)
}
