//! Compose files as `shoal stack deploy` reads them: decoded, parsed,
//! interpolated, checked, merged (the input holds up to two files, split
//! at a line `---8<---`), typed, and each service converted to a spec and
//! validated. Any outcome but a panic is fine.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use shoal_compose::{convert, load, networks};

const SPLIT: &[u8] = b"\n---8<---\n";

fuzz_target!(|data: &[u8]| {
    let files: Vec<(&str, &[u8])> = match data.windows(SPLIT.len()).position(|w| w == SPLIT) {
        Some(at) => vec![("a.yml", &data[..at]), ("b.yml", &data[at + SPLIT.len()..])],
        None => vec![("a.yml", data)],
    };
    let lookup = |name: &str| match name {
        "TAG" => Some("1.2".to_string()),
        "EMPTY" => Some(String::new()),
        "PORT" => Some("8080".to_string()),
        _ => None,
    };
    let Ok(loaded) = load::load_sources(&files, &lookup, Path::new("/nonexistent-fuzz-dir"), true) else { return };
    let Ok((stack_networks, _)) = networks::plan("fuzz", &loaded.compose) else { return };
    for name in loaded.compose.services.keys() {
        if let Ok(converted) = convert::service("fuzz", name, &loaded.compose, &stack_networks) {
            let _ = shoal_spec::validate::service_spec(converted.spec);
        }
    }
});
