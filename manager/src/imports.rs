//! The crate's import graph, read from its sources and checked: no module
//! imports the assembly (`manager.rs`), the top-level modules import each
//! other without a circle, and so do the modules inside each folder.
//! `cargo test --workspace -- imports --nocapture` prints the top-level
//! graph. Tests (`tests.rs`, `testing.rs`, `mod tests`) are left out: they
//! may reach anywhere. A name a parent re-exports (`crate::Manager`,
//! `super::Contacts`) counts as an import of the module it comes from.

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

/// What a parent's `pub use child::{A, b::C}` re-exports: name → child.
fn reexports(path: &Path) -> BTreeMap<String, String> {
    let text = code(path);
    let mut names = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| l.starts_with("pub use ") || l.starts_with("pub(crate) use ")) {
        let rest = line.split_once("use ").map_or("", |(_, r)| r);
        let Some((child, items)) = rest.split_once("::") else { continue };
        let items = items.trim_end_matches(';').trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',') {
            let name = item.rsplit("::").next().unwrap_or_default().split(" as ").last().unwrap_or_default().trim();
            if !name.is_empty() && child.chars().all(|c| c.is_alphanumeric() || c == '_') {
                names.insert(name.to_string(), child.to_string());
            }
        }
    }
    names
}

/// The top-level graph and, per folder, the graph among its modules.
fn graphs() -> (Graph, BTreeMap<String, Graph>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, "", &mut files);
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    // What the crate root and each folder's mod.rs re-export.
    let root = reexports(&src.join("lib.rs"));
    let folders_reexports: BTreeMap<String, BTreeMap<String, String>> = files
        .iter()
        .filter(|(_, path)| path.ends_with("mod.rs"))
        .map(|(module, path)| (module.clone(), reexports(path)))
        .collect();
    let (mut top, mut folders) = (Graph::new(), BTreeMap::<String, Graph>::new());
    for (module, path) in &files {
        let text = code(path);
        let parts: Vec<&str> = module.split('/').collect();
        let node = top.entry(parts[0].to_string()).or_default();
        // The crate root: `crate::`, and `super::` from a top-level module.
        let mut at_root = named(&text, "crate::");
        if parts.len() == 1 {
            at_root.extend(named(&text, "super::"));
        }
        for path in at_root {
            let Some(first) = path.first() else { continue };
            let module = if modules.contains(first) { Some(first) } else { root.get(first) };
            if let Some(module) = module.filter(|m| *m != parts[0]) {
                node.insert(module.clone());
            }
        }
        // Inside a folder: its modules naming their siblings.
        if parts.len() == 2 {
            let folder = folders.entry(parts[0].to_string()).or_default();
            let edges = folder.entry(parts[1].to_string()).or_default();
            let siblings = named(&text, "super::").into_iter().chain(named(&text, &format!("crate::{}::", parts[0])));
            let reexported = folders_reexports.get(parts[0]);
            for path in siblings {
                let Some(first) = path.first() else { continue };
                let sibling = if modules.contains(&format!("{}/{first}", parts[0])) {
                    Some(first)
                } else {
                    reexported.and_then(|names| names.get(first))
                };
                if let Some(sibling) = sibling.filter(|s| *s != parts[1]) {
                    edges.insert(sibling.clone());
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
fn re_exports_name_their_module() {
    let dir = tempfile::tempdir().expect("temp dir");
    let lib = dir.path().join("lib.rs");
    std::fs::write(&lib, "pub use manager::{InitOptions, Manager};\npub use config::ManagerConfig as Config;\n")
        .unwrap();
    let names = reexports(&lib);
    assert_eq!(names.get("Manager").map(String::as_str), Some("manager"));
    assert_eq!(names.get("InitOptions").map(String::as_str), Some("manager"));
    assert_eq!(names.get("Config").map(String::as_str), Some("config"));
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
