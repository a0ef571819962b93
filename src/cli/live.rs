//! A block of lines redrawn in place on a terminal (indicatif), as the
//! waits of `service create` and `stack deploy` show their progress.
//! Off a terminal (a CI log, a pipe) each line is printed as plain text
//! whenever it changes, so the log tells what happened and when;
//! messages go above the block, or between the lines.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How the lines are shown.
enum Mode {
    /// Nothing (`--quiet`, or once finished).
    Quiet,
    /// Redrawn in place on a terminal.
    Live(MultiProgress, Vec<ProgressBar>),
    /// Printed when they change; the lines as last printed.
    Plain(Vec<String>),
}

pub struct View {
    mode: Mode,
}

impl View {
    /// A view of `lines` lines; with `quiet`, nothing is shown.
    pub fn new(lines: usize, quiet: bool) -> View {
        let target = ProgressDrawTarget::stdout();
        if quiet {
            return View { mode: Mode::Quiet };
        }
        if target.is_hidden() {
            return View { mode: Mode::Plain(Vec::new()) };
        }
        let multi = MultiProgress::with_draw_target(target);
        let style = ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = (0..lines).map(|_| multi.add(ProgressBar::new_spinner().with_style(style.clone()))).collect();
        View { mode: Mode::Live(multi, bars) }
    }

    pub fn show(&mut self, lines: &[String]) {
        match &mut self.mode {
            Mode::Live(_, bars) => {
                for (bar, line) in bars.iter().zip(lines) {
                    bar.set_message(line.clone());
                }
            }
            Mode::Plain(shown) => changed(shown, lines).iter().for_each(|l| outln!("{l}")),
            Mode::Quiet => {}
        }
    }

    /// A message above the block ("Creating service web").
    pub fn println(&self, message: &str) {
        match &self.mode {
            Mode::Live(multi, _) => {
                let _ = multi.println(message);
            }
            _ => outln!("{message}"),
        }
    }

    /// The final picture: kept on a terminal, its changed lines printed
    /// otherwise. Nothing is shown after it.
    pub fn finish(&mut self, lines: &[String]) {
        match &self.mode {
            Mode::Live(_, bars) => {
                for (bar, line) in bars.iter().zip(lines) {
                    bar.finish_with_message(line.clone());
                }
            }
            Mode::Plain(_) => self.show(lines),
            Mode::Quiet => {}
        }
        self.mode = Mode::Quiet;
    }
}

/// The lines that differ from those `shown` at the same place, in order;
/// `shown` becomes `lines`.
fn changed(shown: &mut Vec<String>, lines: &[String]) -> Vec<String> {
    let new = lines.iter().enumerate().filter(|(i, line)| shown.get(*i) != Some(*line));
    let new: Vec<String> = new.map(|(_, line)| line.clone()).collect();
    *shown = lines.to_vec();
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn only_lines_that_changed_are_printed_again() {
        let mut shown = Vec::new();
        let first = strings(&["web  0/1 starting", "db   0/1 starting"]);
        assert_eq!(changed(&mut shown, &first), first);
        assert!(changed(&mut shown, &first).is_empty(), "nothing changed");
        let next = strings(&["web  0/1 starting", "db   1/1 verifying"]);
        assert_eq!(changed(&mut shown, &next), strings(&["db   1/1 verifying"]));
        // A line more (a service scaled up during the wait) is new.
        let more = strings(&["web  0/1 starting", "db   1/1 verifying", "1/2: new"]);
        assert_eq!(changed(&mut shown, &more), strings(&["1/2: new"]));
    }
}
