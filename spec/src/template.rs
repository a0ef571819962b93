//! Swarm's templates: placeholders a task's env values, hostname and mount
//! sources may hold (`{{.Node.Hostname}}`, `{{.Task.Slot}}`...), and the
//! data of a secret or config made with `--template-driver golang`,
//! which may also call `env "VAR"`, `secret "TARGET"` and
//! `config "TARGET"`. Each is expanded for one task, on its node.
//!
//! The language is the part of Go's text/template these use: actions
//! `{{ .Path }}`, `{{ index .Service.Labels "key" }}` and the three
//! functions, with `{{-` / `-}}` trimming the whitespace beside them.
//! Anything else (pipelines, `if`, `range`) is refused when the spec or
//! object is made, naming what was not understood; so is an unknown field.

use std::collections::{BTreeMap, HashMap};

/// What a task's templates may read.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub service_id: String,
    pub service_name: String,
    pub service_labels: HashMap<String, String>,
    pub node_id: String,
    pub node_hostname: String,
    pub node_os: String,
    pub node_arch: String,
    pub task_id: String,
    pub task_name: String,
    pub task_slot: u64,
}

/// What a secret or config template's functions read: the task's env
/// (after its own expansion) and its other files, by target.
pub trait Functions {
    fn env(&self, name: &str) -> Option<String>;
    fn secret(&self, target: &str) -> Result<String, String>;
    fn config(&self, target: &str) -> Result<String, String>;
}

/// The fields a placeholder may name.
const FIELDS: [&str; 10] = [
    ".Service.ID",
    ".Service.Name",
    ".Service.Labels",
    ".Node.ID",
    ".Node.Hostname",
    ".Node.Platform.OS",
    ".Node.Platform.Architecture",
    ".Task.ID",
    ".Task.Name",
    ".Task.Slot",
];

/// One action, parsed.
#[derive(Debug, PartialEq)]
enum Action<'a> {
    Field(&'a str),
    Label(String),
    Call(&'a str, String),
}

/// Checks `text` as a template: every action understood, every field
/// known, functions only where `functions` (file data).
pub fn check(text: &str, functions: bool) -> Result<(), String> {
    walk(text, |action| match action {
        Action::Call(name, _) if !functions => {
            Err(format!("{name}: functions are for secret and config templates only"))
        }
        _ => Ok(String::new()),
    })
    .map(drop)
}

/// Expands `text` for the task of `ctx` (`functions`: what file
/// templates' functions read; `None` where there are none).
pub fn expand(text: &str, ctx: &Context, functions: Option<&dyn Functions>) -> Result<String, String> {
    if !text.contains("{{") {
        return Ok(text.to_string());
    }
    walk(text, |action| match action {
        Action::Field(field) => Ok(field_value(ctx, field)),
        Action::Label(key) => Ok(ctx.service_labels.get(&key).cloned().unwrap_or_default()),
        Action::Call(name, arg) => {
            let f = functions.ok_or_else(|| format!("{name}: functions are for secret and config templates only"))?;
            match name {
                "env" => Ok(f.env(&arg).unwrap_or_default()),
                "secret" => f.secret(&arg),
                _ => f.config(&arg),
            }
        }
    })
}

fn field_value(ctx: &Context, field: &str) -> String {
    match field {
        ".Service.ID" => ctx.service_id.clone(),
        ".Service.Name" => ctx.service_name.clone(),
        // As Go prints a map: map[k1:v1 k2:v2], keys sorted.
        ".Service.Labels" => {
            let sorted: BTreeMap<_, _> = ctx.service_labels.iter().collect();
            let pairs: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("map[{}]", pairs.join(" "))
        }
        ".Node.ID" => ctx.node_id.clone(),
        ".Node.Hostname" => ctx.node_hostname.clone(),
        ".Node.Platform.OS" => ctx.node_os.clone(),
        ".Node.Platform.Architecture" => ctx.node_arch.clone(),
        ".Task.ID" => ctx.task_id.clone(),
        ".Task.Name" => ctx.task_name.clone(),
        _ => ctx.task_slot.to_string(),
    }
}

/// Walks `text`, copying what is outside actions and replacing each
/// action by what `act` makes of it.
fn walk(text: &str, mut act: impl FnMut(Action<'_>) -> Result<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else {
            return Err(format!("unclosed action at {:?}", excerpt(&rest[start..])));
        };
        let inner = &rest[start + 2..start + len];
        let (trim_left, inner) = match inner.strip_prefix("- ") {
            Some(i) => (true, i),
            None => (false, inner),
        };
        let (trim_right, inner) = match inner.strip_suffix(" -") {
            Some(i) => (true, i),
            None => (false, inner),
        };
        let before = &rest[..start];
        out.push_str(if trim_left { before.trim_end() } else { before });
        out.push_str(&act(parse(inner.trim())?)?);
        rest = &rest[start + len + 2..];
        if trim_right {
            rest = rest.trim_start();
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn excerpt(s: &str) -> String {
    s.chars().take(30).collect()
}

fn parse(action: &str) -> Result<Action<'_>, String> {
    let words = shlex_words(action).ok_or_else(|| format!("{{{{{action}}}}}: a quoted string is not closed"))?;
    match words.as_slice() {
        [field] if field.starts_with('.') => match FIELDS.iter().find(|f| **f == field.as_str()) {
            Some(known) => Ok(Action::Field(known)),
            None => Err(format!("unknown template field {field} (known: {})", FIELDS.join(", "))),
        },
        [index, labels, key] if index == "index" && labels == ".Service.Labels" => Ok(Action::Label(key.clone())),
        [name, arg] if matches!(name.as_str(), "env" | "secret" | "config") => {
            let name = ["env", "secret", "config"].into_iter().find(|n| n == name).unwrap_or("env");
            Ok(Action::Call(name, arg.clone()))
        }
        _ => Err(format!(
            "{{{{{action}}}}}: not understood (fields like {{{{.Node.Hostname}}}}, {{{{index .Service.Labels \"key\"}}}}, and in secret and config templates env, secret and config are)"
        )),
    }
}

/// The words of an action: bare words, and Go's double-quoted strings
/// (with `\"` and `\\`); `None` when a quote is not closed.
fn shlex_words(action: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = action.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut word = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => word.push(chars.next()?),
                    c => word.push(c),
                }
            }
            words.push(word);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek().filter(|c| !c.is_whitespace()) {
                word.push(c);
                chars.next();
            }
            words.push(word);
        }
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            service_id: "svc1".into(),
            service_name: "web".into(),
            service_labels: HashMap::from([("tier".into(), "front".into()), ("a".into(), "b".into())]),
            node_id: "node1".into(),
            node_hostname: "host-a".into(),
            node_os: "linux".into(),
            node_arch: "x86_64".into(),
            task_id: "task1".into(),
            task_name: "web.3".into(),
            task_slot: 3,
        }
    }

    struct Files;
    impl Functions for Files {
        fn env(&self, name: &str) -> Option<String> {
            (name == "DB").then(|| "postgres".into())
        }
        fn secret(&self, target: &str) -> Result<String, String> {
            if target == "pw" { Ok("hunter2".into()) } else { Err(format!("no secret at {target}")) }
        }
        fn config(&self, _: &str) -> Result<String, String> {
            Ok("conf".into())
        }
    }

    #[test]
    fn placeholders_expand_per_task() {
        let c = ctx();
        assert_eq!(expand("NODE_ID={{.Node.ID}}", &c, None).unwrap(), "NODE_ID=node1");
        assert_eq!(expand("{{.Node.Hostname}}-{{ .Task.Slot }}", &c, None).unwrap(), "host-a-3");
        assert_eq!(
            expand("{{.Service.Name}}.{{.Task.Name}}.{{.Task.ID}}.{{.Service.ID}}", &c, None).unwrap(),
            "web.web.3.task1.svc1"
        );
        assert_eq!(expand("{{.Node.Platform.OS}}/{{.Node.Platform.Architecture}}", &c, None).unwrap(), "linux/x86_64");
        assert_eq!(expand("{{.Service.Labels}}", &c, None).unwrap(), "map[a:b tier:front]");
        assert_eq!(expand(r#"{{index .Service.Labels "tier"}}"#, &c, None).unwrap(), "front");
        assert_eq!(expand("a  {{- .Task.Slot -}}  b", &c, None).unwrap(), "a3b");
        assert_eq!(expand("no template", &c, None).unwrap(), "no template");
    }

    #[test]
    fn file_templates_call_functions() {
        let text = "db={{ env \"DB\" }} pw={{secret \"pw\"}} c={{config \"x\"}} none={{env \"NOPE\"}}";
        assert_eq!(expand(text, &ctx(), Some(&Files)).unwrap(), "db=postgres pw=hunter2 c=conf none=");
        assert_eq!(expand("{{secret \"other\"}}", &ctx(), Some(&Files)).unwrap_err(), "no secret at other");
        assert!(check(text, true).is_ok());
        assert!(check(text, false).unwrap_err().starts_with("env: functions are for secret and config templates only"));
    }

    #[test]
    fn what_is_not_understood_is_named() {
        assert!(
            check("{{.Node.Foo}}", false)
                .unwrap_err()
                .starts_with("unknown template field .Node.Foo (known: .Service.ID")
        );
        assert!(check("{{ if .Node.ID }}x{{ end }}", false).unwrap_err().contains("not understood"));
        assert!(check("{{ .Node.ID | printf }}", false).unwrap_err().contains("not understood"));
        assert!(check("{{ .Node.ID", false).unwrap_err().starts_with("unclosed action"));
        assert!(check(r#"{{ env "X }}"#, true).unwrap_err().contains("not closed"));
        assert!(check("plain text, {} and }}", false).is_ok());
    }
}
