//! `shoal-shim DIR`: runs one task under its shim ([`shoal_worker::shim`]),
//! started by the daemon's worker; `shoal-shim netns-exec [--uid=N]
//! [--gid=N] NETNS PROGRAM ARGS...`: runs a health check in a task's
//! network namespace as its user. A binary of its own rather than
//! subcommands of `shoal`: one runs per task, and a process of the small
//! binary holds a fraction of the private memory the big one would
//! (relocated data, allocator arenas; docs/benchmarks.md).
#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use shoal_worker::shim;

const USAGE: &str = "usage: shoal-shim DIR | shoal-shim netns-exec [--uid=N] [--gid=N] NETNS PROGRAM [ARGS...] \
                     (started by the shoal daemon)";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let code = match args.as_slice() {
        [first, rest @ ..] if first == "netns-exec" => netns_exec(rest),
        [dir] => shim::run(Path::new(dir)),
        _ => usage(),
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn usage() -> i32 {
    eprintln!("{USAGE}");
    2
}

/// `netns-exec`'s flags, then the namespace, the program and its args.
fn netns_exec(mut args: &[OsString]) -> i32 {
    let (mut uid, mut gid) = (None, None);
    while let Some(flag) = args.first().and_then(|a| a.to_str()) {
        let (slot, value) = match (flag.strip_prefix("--uid="), flag.strip_prefix("--gid=")) {
            (Some(v), _) => (&mut uid, v),
            (_, Some(v)) => (&mut gid, v),
            _ => break,
        };
        let Ok(id) = value.parse::<u32>() else { return usage() };
        *slot = Some(id);
        args = &args[1..];
    }
    let [netns, program, rest @ ..] = args else { return usage() };
    let rest: Vec<String> = rest.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    shim::netns_exec(Path::new(netns), uid, gid, Path::new(program), &rest)
}
