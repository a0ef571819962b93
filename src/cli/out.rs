//! The CLI's standard output. A reader that goes away (`shoal service ps
//! -q | head -1`) ends the CLI quietly, killed by SIGPIPE as other Unix
//! tools are; a daemon that goes away does not: SIGPIPE stays ignored, so
//! a write to a closed socket fails with EPIPE and the CLI says what
//! became of its request. Go's runtime (hence docker's CLI) draws the
//! same line between standard output and other files.

use std::fmt;
use std::io::{self, Write};

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
        sigpipe::reset();
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGPIPE);
    }
    eprintln!("Error: writing to standard output: {err}");
    std::process::exit(1);
}
