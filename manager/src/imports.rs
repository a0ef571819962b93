//! The crate's import graph, read from its sources and checked: no module
//! imports the assembly (`manager.rs`), the top-level modules import each
//! other without a circle, and so do the modules inside each folder.
//! `cargo test --workspace -- imports --nocapture` prints the graph.
//! Tests (`tests.rs`, `testing.rs`, `mod tests`) are left out: they may
//! reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module → the modules it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every source file under `dir`, with its module path ("control/nodes").
fn sources(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read src").flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let module = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        if path.is_dir() {
            sources(&path, &module, out);
        } else if path.extension().is_some_and(|e| e == "rs") && !["tests", "testing", "lib"].contains(&name.as_str()) {
            let module = module.strip_suffix("/mod").map(str::to_string).unwrap_or(module);
            out.push((module, path));
        }
    }
}

/// The source without comments and inline test modules.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source");
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
    text.lines().map(|l| l.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// The paths `text` names after each `prefix` ("crate::" or "super::"),
/// as segments: `crate::{a, b::c}` gives [a], [b, c].
fn named(text: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices(prefix) {
        let rest = &text[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut item, mut items) = (0, String::new(), Vec::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    _ if depth > 0 => {}
                    ',' if depth == 0 => items.push(std::mem::take(&mut item)),
                    _ => item.push(c),
                }
            }
            items.push(item);
            found.extend(items.iter().map(|i| segments(i)));
        } else {
            found.push(segments(rest));
        }
    }
    found
}

fn segments(path: &str) -> Vec<String> {
    let path = path.trim_start();
    let end = path.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(path.len());
    path[..end].split("::").filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// The top-level graph and, per folder, the graph among its modules.
fn graphs() -> (Graph, BTreeMap<String, Graph>) {
    let mut files = Vec::new();
    sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), "", &mut files);
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let (mut top, mut folders) = (Graph::new(), BTreeMap::<String, Graph>::new());
    for (module, path) in &files {
        let text = code(path);
        let parts: Vec<&str> = module.split('/').collect();
        let node = top.entry(parts[0].to_string()).or_default();
        for path in named(&text, "crate::") {
            if path.first().is_some_and(|first| first != parts[0] && modules.contains(first)) {
                node.insert(path[0].clone());
            }
        }
        // Inside a folder: its modules naming their siblings.
        if parts.len() == 2 {
            let folder = folders.entry(parts[0].to_string()).or_default();
            let edges = folder.entry(parts[1].to_string()).or_default();
            let siblings = named(&text, "super::").into_iter().chain(named(&text, &format!("crate::{}::", parts[0])));
            for path in siblings {
                if let Some(first) = path.first()
                    && first != parts[1]
                    && modules.contains(&format!("{}/{first}", parts[0]))
                {
                    edges.insert(first.clone());
                }
            }
        }
    }
    (top, folders)
}

/// A circle in `graph`, if any.
fn circle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(graph: &Graph, node: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut circle = path[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if !done.insert(node.to_string()) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(circle) = visit(graph, next, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}

#[test]
fn only_the_crate_root_imports_the_assembly() {
    let (top, _) = graphs();
    let importers: Vec<&String> = top.iter().filter(|(_, to)| to.contains("manager")).map(|(from, _)| from).collect();
    assert!(importers.is_empty(), "modules importing manager.rs: {importers:?}");
}

#[test]
fn modules_import_each_other_without_a_circle() {
    let (top, folders) = graphs();
    for (module, imports) in &top {
        eprintln!("{module} -> {}", imports.iter().cloned().collect::<Vec<_>>().join(", "));
    }
    assert_eq!(circle(&top), None, "a circle among the crate's modules");
    for (folder, graph) in &folders {
        assert_eq!(circle(graph), None, "a circle among the modules of {folder}/");
    }
}

#[test]
fn the_reader_finds_paths_and_circles() {
    let text = "use crate::{a, b::{c, d}};\nlet x = crate::e::f(super::g::h);";
    let names: Vec<String> = named(text, "crate::").into_iter().map(|p| p.join("::")).collect();
    assert_eq!(names, ["a", "b", "e::f"]);
    assert_eq!(named(text, "super::"), [vec!["g".to_string(), "h".to_string()]]);
    let graph: Graph = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(from, to)| (from.to_string(), BTreeSet::from([to.to_string()])))
        .collect();
    assert_eq!(circle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}
