//! `inspect` output: objects in the Docker Engine API's JSON shape (the
//! shapes live in `shoal-dockerapi`, which the daemon's Docker API also
//! answers with), so that scripts written for `docker service inspect`
//! keep working.

use anyhow::Result;
use serde_json::Value;
pub use shoal_dockerapi::shape::*;

use super::format::Format;

/// Prints inspected objects: a JSON array by default, else per `format`.
pub fn print(values: Vec<Value>, format: &Format) -> Result<()> {
    if *format != Format::Default {
        return format.print_each(&values);
    }
    let mut out = Vec::new();
    let mut ser =
        serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b"    "));
    serde::Serialize::serialize(&values, &mut ser)?;
    outln!("{}", String::from_utf8_lossy(&out));
    Ok(())
}
