//! Conformance with docker's own compose loader: `docker stack config`
//! (the docker CLI on this machine; it needs no daemon) and `shoal stack
//! config` read every real stack file in `../shared/stacks` and every
//! small file in `tests/compose/` (one per fault docker's loader is known
//! for), and must agree: both print the same file (semantically: key
//! order, quoting, numbers written as text, defaults spelled out and
//! zero durations aside), or both refuse it.
//!
//! A file in `tests/compose/` says what shoal prints when it refuses it
//! (`# shoal error: TEXT`), and where shoal knowingly differs from docker
//! (`# deviation: WHY`; docker accepts what shoal refuses). Files named
//! `NAME.base.yml` are read together with `NAME.over.yml` (several `-c`).
//!
//! Without the docker CLI the test says so and passes (it is present on
//! the machines CI runs on).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const SHOAL: &str = env!("CARGO_BIN_EXE_shoal");

/// Variables both programs see: none of them set, so defaults apply.
const UNSET_PREFIX: &str = "SHOAL_T_UNSET";

fn run(program: &str, files: &[PathBuf]) -> Output {
    let mut cmd = Command::new(program);
    cmd.args(["stack", "config"]);
    for f in files {
        cmd.arg("-c").arg(f);
    }
    // The first file's directory, as a user would run it from there.
    cmd.current_dir(files[0].parent().unwrap());
    cmd.env("HOME", "/home/conformance");
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with(UNSET_PREFIX)) {
        cmd.env_remove(k);
    }
    cmd.output().unwrap_or_else(|e| panic!("running {program}: {e}"))
}

fn docker_cli() -> bool {
    Command::new("docker").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// A number written as text is the number; `true` is "true".
fn scalar(v: &Value) -> Value {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match text.parse::<f64>() {
        Ok(n) if text.trim() == text && !text.is_empty() => Value::String(format!("{n}")),
        _ => Value::String(text),
    }
}

/// The printed file in a form where equal meanings are equal values:
/// scalars as text, nothing null or empty, zero durations dropped, a
/// port's defaults spelled out, `build` (which a swarm ignores and both
/// warn about) left out.
fn normal(v: &Value, key: &str) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, x) in map {
                // `build` a swarm ignores; `x-cluster-spec` is docker's
                // own extension for cluster volumes, which shoal refuses
                // at deploy.
                if (k == "build" && key != "services") || k == "x-cluster-spec" {
                    continue;
                }
                if let Some(x) = normal(x, k) {
                    out.insert(k.clone(), x);
                }
            }
            if key == "ports" {
                out.entry("protocol").or_insert("tcp".into());
                out.entry("mode").or_insert("ingress".into());
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(items) => {
            // A list's items stand for their parent key (a port is "ports").
            let items: Vec<Value> = items.iter().filter_map(|x| normal(x, key)).collect();
            (!items.is_empty()).then_some(Value::Array(items))
        }
        other => {
            let s = scalar(other);
            (s != "0s").then_some(s)
        }
    }
}

fn parsed(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let tree: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"));
    normal(&tree, "").unwrap_or(Value::Null)
}

/// Where two normal forms differ, one line each.
fn differences(docker: &Value, shoal: &Value, at: &str, out: &mut Vec<String>) {
    match (docker, shoal) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            for k in keys {
                let at = format!("{at}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => differences(x, y, &at, out),
                    (Some(x), None) => out.push(format!("{at}: only docker prints {x}")),
                    (None, Some(y)) => out.push(format!("{at}: only shoal prints {y}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                differences(x, y, &format!("{at}[{i}]"), out);
            }
        }
        (a, b) if a != b => out.push(format!("{at}: docker {a}, shoal {b}")),
        _ => {}
    }
}

/// What a corpus file's comments say: the text shoal's refusal holds,
/// and whether docker accepts it all the same.
fn expectations(file: &Path) -> (Option<String>, bool) {
    let text = String::from_utf8_lossy(&std::fs::read(file).unwrap()).into_owned();
    let line = |prefix: &str| text.lines().find_map(|l| l.strip_prefix(prefix)).map(|s| s.trim().to_string());
    (line("# shoal error:"), line("# deviation:").is_some())
}

/// The cases: each real stack file alone, each corpus file alone, each
/// `.base.yml` with its `.over.yml`.
fn cases() -> Vec<Vec<PathBuf>> {
    let mut cases = Vec::new();
    let stacks = common::shared_stacks();
    for dir in std::fs::read_dir(&stacks).unwrap().flatten().filter(|d| d.path().is_dir()) {
        for f in std::fs::read_dir(dir.path()).unwrap().flatten().map(|f| f.path()) {
            if f.extension().is_some_and(|e| e == "yml") {
                cases.push(vec![f]);
            }
        }
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compose");
    for f in std::fs::read_dir(&corpus).unwrap().flatten().map(|f| f.path()) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".base.yml") {
            cases.push(vec![f.clone(), corpus.join(format!("{stem}.over.yml"))]);
        } else if name.ends_with(".yml") && !name.ends_with(".over.yml") {
            cases.push(vec![f]);
        }
    }
    cases.sort();
    cases
}

#[test]
fn shoal_reads_every_file_as_docker_stack_config_does() {
    if !docker_cli() {
        eprintln!("SKIPPED: the docker CLI is not installed, so there is nothing to compare with");
        return;
    }
    let cases = cases();
    assert!(cases.len() >= 40, "the corpus is there: {}", cases.len());
    let mut failures = Vec::new();
    for files in &cases {
        let name = files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(" + ");
        let (docker, shoal) = (run("docker", files), run(SHOAL, files));
        let shoal_err = String::from_utf8_lossy(&shoal.stderr).into_owned();
        let (error, deviation) = expectations(&files[0]);
        match (docker.status.success(), shoal.status.success()) {
            (true, true) => {
                let mut diffs = Vec::new();
                differences(&parsed(&docker), &parsed(&shoal), "", &mut diffs);
                if !diffs.is_empty() {
                    failures.push(format!("{name}: printed differently:\n    {}", diffs.join("\n    ")));
                }
                if let Some(error) = error {
                    failures.push(format!("{name}: both accept it, but shoal was to refuse it ({error})"));
                }
            }
            (false, false) | (true, false) if error.is_some() => {
                let error = error.unwrap_or_default();
                if !shoal_err.contains(&error) {
                    failures.push(format!("{name}: shoal refuses it without naming {error:?}: {shoal_err}"));
                }
                if docker.status.success() && !deviation {
                    failures.push(format!("{name}: docker accepts what shoal refuses: {shoal_err}"));
                }
                if shoal.status.code() != Some(1) {
                    failures.push(format!("{name}: shoal exits {:?}, not 1", shoal.status.code()));
                }
            }
            (d, s) => failures.push(format!(
                "{name}: docker {}, shoal {}\n    docker: {}\n    shoal: {shoal_err}",
                if d { "accepts" } else { "refuses" },
                if s { "accepts" } else { "refuses" },
                String::from_utf8_lossy(&docker.stderr).trim(),
            )),
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn the_normal_form_takes_equal_meanings_as_equal() {
    let a: Value = serde_json::json!({ "cpus": "0.50", "replicas": 2, "read_only": true, "monitor": "0s",
        "ports": [{ "target": 80 }], "empty": {}, "none": null, "build": "." });
    let b: Value = serde_json::json!({ "cpus": 0.5, "replicas": "2", "read_only": "true",
        "ports": [{ "target": "80", "protocol": "tcp", "mode": "ingress" }], "build": { "context": "." } });
    assert_eq!(normal(&a, ""), normal(&b, ""));
    let c: Value = serde_json::json!({ "cpus": "0.25" });
    let mut diffs = Vec::new();
    differences(&normal(&a, "").unwrap(), &normal(&c, "").unwrap(), "", &mut diffs);
    assert!(diffs.iter().any(|d| d.starts_with(".cpus: docker")), "{diffs:?}");
}
