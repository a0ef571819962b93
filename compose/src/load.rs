//! Reading compose files: each `-c FILE` (or `-` for stdin) decoded
//! (UTF-8, or UTF-16 with a byte order mark), parsed as YAML (anchors and
//! `<<` merge keys included), interpolated with the environment and then
//! the `.env` file beside the first file (or `--env-file`), checked for
//! keys a swarm ignores or refuses and against docker's [`schema`] of
//! the file's version, merged in order, and typed.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::model::Compose;
use super::{check, envfile, interpolate, merge, resolve, schema};

/// Why the files could not be loaded; each names the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

/// The merged, interpolated, typed file, and what to warn about.
#[derive(Debug)]
pub struct Loaded {
    pub compose: Compose,
    pub warnings: Vec<String>,
}

/// Text of a file's bytes: UTF-8 (a BOM dropped) or UTF-16 with a BOM.
pub fn decode(bytes: &[u8], name: &str) -> Result<String, LoadError> {
    let utf16 = |units: Vec<u16>| String::from_utf16(&units).map_err(|_| LoadError(format!("{name}: invalid UTF-16")));
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => utf8(rest, name),
        [0xFF, 0xFE, rest @ ..] => {
            utf16(rest.chunks(2).map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect())
        }
        [0xFE, 0xFF, rest @ ..] => {
            utf16(rest.chunks(2).map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])).collect())
        }
        _ => utf8(bytes, name),
    }
}

fn utf8(bytes: &[u8], name: &str) -> Result<String, LoadError> {
    String::from_utf8(bytes.to_vec()).map_err(|e| LoadError(format!("{name}: not UTF-8 text: {e}")))
}

/// How docker's compose loader reads plain scalars: only `true` and
/// `false` are booleans (`y`, `on`, `no`... stay text), and a number
/// with a leading zero is octal (`0440` is 288, as compose means a mode).
fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.legacy_octal_numbers = true;
    options
}

/// Parses one file's text (`name` for errors, with line and column).
pub fn parse(text: &str, name: &str) -> Result<Value, LoadError> {
    let tree: Value =
        serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| LoadError(format!("{name}: {e}")))?;
    match tree {
        Value::Object(_) => Ok(tree),
        Value::Null => Err(LoadError(format!("{name}: the file is empty"))),
        _ => Err(LoadError(format!("{name}: expected a mapping of top-level keys (services, networks...)"))),
    }
}

fn read(file: &str) -> Result<Vec<u8>, LoadError> {
    if file == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(|e| LoadError(format!("reading stdin: {e}")))?;
        return Ok(bytes);
    }
    std::fs::read(file).map_err(|e| LoadError(format!("{file}: {e}")))
}

/// Where relative paths of the files start: the first file's directory
/// (the current one for stdin).
pub fn base_dir(files: &[String]) -> PathBuf {
    let first = files.first().filter(|f| *f != "-").map(PathBuf::from);
    let dir = first.and_then(|f| f.parent().map(Path::to_path_buf)).filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or_else(|| PathBuf::from("."));
    resolve::clean(&std::path::absolute(&dir).unwrap_or(dir))
}

/// The variables of the env file: `env_file` if given (it must exist),
/// else `.env` beside the first compose file if there is one.
fn env_file(files: &[String], env_file: Option<&Path>) -> Result<HashMap<String, String>, LoadError> {
    let path = match env_file {
        Some(p) => p.to_path_buf(),
        None => {
            let dot_env = base_dir(files).join(".env");
            if !dot_env.is_file() {
                return Ok(HashMap::new());
            }
            dot_env
        }
    };
    read_env_file(&path).map_err(|e| LoadError(format!("--env-file {e}")))
}

/// The variables of the env file at `path` (decoded as compose files
/// are); errors name the path, the caller says what the file was for.
pub fn read_env_file(path: &Path) -> Result<HashMap<String, String>, String> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
    envfile::parse(&decode(&bytes, &name).map_err(|e| e.0)?, &name)
}

/// How to load: the env file given (`--env-file`), and whether to
/// interpolate (`stack config --skip-interpolation` does not).
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub env_file: Option<&'a Path>,
    pub interpolate: bool,
}

/// Loads `files` in order; variables come from the environment first,
/// then the env file.
pub fn load(files: &[String], options: Options<'_>) -> Result<Loaded, LoadError> {
    let vars = env_file(files, options.env_file)?;
    let lookup = |name: &str| std::env::var(name).ok().or_else(|| vars.get(name).cloned());
    let mut sources = Vec::new();
    for file in files {
        let name = if file == "-" { "stdin" } else { file.as_str() };
        sources.push((name, read(file)?));
    }
    let sources: Vec<(&str, &[u8])> = sources.iter().map(|(name, bytes)| (*name, bytes.as_slice())).collect();
    load_sources(&sources, &lookup, &base_dir(files), options.interpolate)
}

/// Loads the files' bytes (`(name, bytes)`, in order), variables from
/// `lookup`, relative paths from `base`.
pub fn load_sources(
    sources: &[(&str, &[u8])],
    lookup: &dyn Fn(&str) -> Option<String>,
    base: &Path,
    interpolate: bool,
) -> Result<Loaded, LoadError> {
    let mut merged: Option<Value> = None;
    let mut warnings = Vec::new();
    let mut version: Option<String> = None;
    let mut warn = |warning: String| {
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    };
    for (name, bytes) in sources {
        let mut tree = parse(&decode(bytes, name)?, name)?;
        let this = schema::version(&tree);
        match &version {
            Some(first) if *first != this => {
                return Err(LoadError(format!("{name}: version {this} differs from the first file's {first}")));
            }
            Some(_) => {}
            None => version = Some(this.clone()),
        }
        if interpolate {
            let unset = interpolate::tree(&mut tree, lookup).map_err(|e| LoadError(format!("{name}: {e}")))?;
            for var in unset {
                warn(format!("The {var:?} variable is not set. Defaulting to a blank string."));
            }
        }
        check::services(&tree).map_err(|e| LoadError(format!("{name}: {e}")))?.into_iter().for_each(&mut warn);
        schema::validate(&tree, &this).map_err(|e| LoadError(format!("{name}: {e}")))?;
        match merged.as_mut() {
            Some(base) => merge::files(base, tree),
            None => merged = Some(tree),
        }
    }
    let tree = merged.ok_or_else(|| LoadError("no compose file given (-c FILE)".into()))?;
    let mut compose = Compose::from_tree(tree).map_err(LoadError)?;
    let version = version.unwrap_or_default();
    // Printed as docker prints it: none or `3` is the newest.
    compose.version = Some(version.clone());
    let cx = resolve::Context { base, lookup, version: &version };
    warnings.extend(resolve::compose(&mut compose, &cx).map_err(LoadError)?);
    Ok(Loaded { compose, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_read_as_dockers_loader_reads_them() {
        let tree = parse("a: y\nb: on\nc: no\nd: true\ne: 0440\nf: 010\ng: 0.5\nh: 'yes'\n", "f").unwrap();
        assert_eq!(tree["a"], "y");
        assert_eq!(tree["b"], "on");
        assert_eq!(tree["c"], "no");
        assert_eq!(tree["d"], true);
        assert_eq!(tree["e"], 288, "a leading zero is octal, as compose means a mode");
        assert_eq!(tree["f"], 8);
        assert_eq!(tree["g"], 0.5);
        assert_eq!(tree["h"], "yes");
    }

    #[test]
    fn decodes_utf16_and_drops_a_bom() {
        let text = "services: {}\n";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&le, "f").unwrap(), text);
        let mut be = vec![0xFE, 0xFF];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(decode(&be, "f").unwrap(), text);
        assert_eq!(decode(b"\xEF\xBB\xBFa: 1", "f").unwrap(), "a: 1");
    }

    #[test]
    fn bad_yaml_names_the_file_line_and_column() {
        let err = parse("services:\n  web:\n    image: [unclosed\n", "stack.yml").unwrap_err().to_string();
        assert!(err.starts_with("stack.yml: "), "{err}");
        assert!(err.contains("line") || err.contains(':'), "{err}");
        assert!(parse("- a\n- b\n", "s.yml").unwrap_err().to_string().contains("expected a mapping"));
    }

    #[test]
    fn the_env_file_beside_the_first_file_or_the_one_given() {
        let dir = tempfile::tempdir().unwrap();
        let compose = dir.path().join("stack.yml");
        std::fs::write(&compose, "services:\n  web:\n    image: \"app:${SHOAL_T_TAG}\"\n    user: ${SHOAL_T_USER}\n")
            .unwrap();
        std::fs::write(dir.path().join(".env"), "SHOAL_T_TAG=from-dotenv\nSHOAL_T_USER=nobody\n").unwrap();
        let files = [compose.display().to_string()];
        let loaded = load(&files, Options { env_file: None, interpolate: true }).unwrap();
        assert_eq!(loaded.compose.services["web"].image.as_deref(), Some("app:from-dotenv"));
        let other = dir.path().join("other.env");
        std::fs::write(&other, "SHOAL_T_TAG=from-env-file\n").unwrap();
        let loaded = load(&files, Options { env_file: Some(&other), interpolate: true }).unwrap();
        assert_eq!(loaded.compose.services["web"].image.as_deref(), Some("app:from-env-file"));
        assert_eq!(loaded.warnings, vec!["The \"SHOAL_T_USER\" variable is not set. Defaulting to a blank string."]);
        let missing = dir.path().join("missing.env");
        let err = load(&files, Options { env_file: Some(&missing), interpolate: true }).unwrap_err().to_string();
        assert!(err.starts_with("--env-file "), "{err}");
    }
}
