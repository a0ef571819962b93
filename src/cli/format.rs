//! `--format`: the default table, `json` (one object per line), or a Go
//! style template over Docker's field names (`{{.Name}}`,
//! `{{.Spec.Name}}`, `{{json .Spec}}`).

use anyhow::{Result, bail};
use serde_json::Value;

/// `-q` and `--format`, of the commands that list things.
#[derive(clap::Args, Debug)]
pub struct ListFlags {
    /// Only display IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output: "json", or a template like '{{.Name}}'
    #[arg(long)]
    pub format: Option<String>,
}

impl ListFlags {
    pub fn format(&self) -> Format {
        Format::from_flag(self.format.as_deref())
    }
}

/// `--no-trunc`, `-q` and `--format` of the commands that list tasks.
#[derive(clap::Args, Debug)]
pub struct PsFlags {
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    #[command(flatten)]
    pub list: ListFlags,
}

/// How to print objects.
#[derive(Debug, Clone, PartialEq)]
pub enum Format {
    Default,
    Json,
    Template(String),
}

impl Format {
    pub fn from_flag(flag: Option<&str>) -> Format {
        match flag {
            None | Some("") | Some("table") => Format::Default,
            Some("json") | Some("{{json .}}") => Format::Json,
            Some(t) => Format::Template(t.strip_prefix("table ").unwrap_or(t).to_string()),
        }
    }

    /// Prints list rows: a table of `columns` (header, field of the row)
    /// by default, else one object per line as [`Format::print_each`].
    pub fn print_rows(&self, rows: &[Value], columns: &[(&str, &str)]) -> Result<()> {
        if *self != Format::Default {
            return self.print_each(rows);
        }
        let headers: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| columns.iter().map(|(_, k)| r[*k].as_str().unwrap_or_default().to_string()).collect())
            .collect();
        out!("{}", super::table::render(&headers, &cells));
        Ok(())
    }

    /// Prints one object per line in the json or template form.
    pub fn print_each(&self, values: &[Value]) -> Result<()> {
        for value in values {
            match self {
                Format::Json | Format::Default => outln!("{value}"),
                Format::Template(t) => outln!("{}", render(t, value)?),
            }
        }
        Ok(())
    }
}

fn lookup<'a>(value: &'a Value, path: &str) -> Result<&'a Value> {
    let path = path.trim();
    if path == "." {
        return Ok(value);
    }
    let Some(fields) = path.strip_prefix('.') else {
        bail!("--format: expected a field like .Name, got {path:?}");
    };
    let mut current = value;
    for field in fields.split('.') {
        current = current.get(field).unwrap_or(&Value::Null);
    }
    Ok(current)
}

fn plain(value: &Value) -> String {
    match value {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Object(_) | Value::Array(_) => value.to_string(),
        other => other.to_string(),
    }
}

/// Renders a template against `value`.
pub fn render(template: &str, value: &Value) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            bail!("--format: unclosed {{{{ in {template:?}");
        };
        let action = rest[start + 2..start + end].trim();
        match action.strip_prefix("json ") {
            Some(path) => out.push_str(&lookup(value, path)?.to_string()),
            None => out.push_str(&plain(lookup(value, action)?)),
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out.replace("\\t", "\t").replace("\\n", "\n"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn templates() {
        let v = json!({"ID": "abc", "Spec": {"Name": "web", "Labels": {"a": "b"}}});
        assert_eq!(render("{{.ID}} {{.Spec.Name}}", &v).unwrap(), "abc web");
        assert_eq!(render("{{json .Spec.Labels}}", &v).unwrap(), r#"{"a":"b"}"#);
        assert_eq!(render("{{.Nope}}", &v).unwrap(), "<no value>");
        assert!(render("{{.ID", &v).is_err());
        assert!(render("{{ID}}", &v).is_err());
        assert_eq!(Format::from_flag(Some("json")), Format::Json);
        assert_eq!(Format::from_flag(Some("table {{.ID}}")), Format::Template("{{.ID}}".into()));
    }
}
