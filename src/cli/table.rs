//! Tables as the Docker CLI prints them: left-aligned columns, three
//! spaces apart.

const GAP: usize = 3;

/// Renders `rows` under `headers`.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let width = |i: usize| {
        rows.iter().map(|r| r.get(i).map_or(0, |c| c.chars().count())).chain([headers[i].chars().count()]).max()
    };
    let widths: Vec<usize> = (0..headers.len()).map(|i| width(i).unwrap_or(0)).collect();
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[i] - cell.chars().count() + GAP));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_align_three_spaces_apart() {
        let out = super::render(&["ID", "NAME"], &[vec!["abc".into(), "web".into()], vec!["a".into(), "".into()]]);
        assert_eq!(out, "ID    NAME\nabc   web\na\n");
    }
}
