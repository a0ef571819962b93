//! `.env` files: `KEY=VALUE` per line, as compose reads them. Blank lines
//! and `#` comments are skipped, `export ` is allowed before a key, a
//! value in double quotes takes `\n`, `\t`, `\"` and `\\` escapes, one in
//! single quotes is literal, an unquoted one is trimmed and ends at ` #`.

use std::collections::HashMap;

/// The variables of an env file's `text`; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<HashMap<String, String>, String> {
    let mut vars = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue; // a bare name: take it from the environment, if at all
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-') {
            return Err(format!("{file}, line {}: expected KEY=VALUE, got {line:?}", n + 1));
        }
        vars.insert(key.to_string(), value_of(value.trim()));
    }
    Ok(vars)
}

fn value_of(raw: &str) -> String {
    if let Some(inner) = raw.strip_prefix('"').and_then(|r| r.rsplit_once('"')).map(|(v, _)| v) {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        }
        return out;
    }
    if let Some(inner) = raw.strip_prefix('\'').and_then(|r| r.rsplit_once('\'')).map(|(v, _)| v) {
        return inner.to_string();
    }
    raw.split(" #").next().unwrap_or_default().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_quotes_and_comments() {
        let text =
            "# comment\n\nA=1\nexport B = two words \nC=\"line\\nnext \\\"q\\\"\"\nD='$lit # x'\nE=v # note\nBARE\n";
        let vars = parse(text, ".env").unwrap();
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "two words");
        assert_eq!(vars["C"], "line\nnext \"q\"");
        assert_eq!(vars["D"], "$lit # x");
        assert_eq!(vars["E"], "v");
        assert!(!vars.contains_key("BARE"));
        assert_eq!(parse("=x", ".env").unwrap_err(), ".env, line 1: expected KEY=VALUE, got \"=x\"");
    }
}
