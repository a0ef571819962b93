//! A block of lines redrawn in place on a terminal (indicatif), as the
//! waits of `service create` and `stack deploy` show their progress.
//! Off a terminal nothing is drawn until the end, when the final lines
//! are printed once; messages go above the block.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct View {
    bars: Option<(MultiProgress, Vec<ProgressBar>)>,
    quiet: bool,
}

impl View {
    /// A view of `lines` lines; with `quiet`, nothing is shown.
    pub fn new(lines: usize, quiet: bool) -> View {
        let target = ProgressDrawTarget::stdout();
        if quiet || target.is_hidden() {
            return View { bars: None, quiet };
        }
        let multi = MultiProgress::with_draw_target(target);
        let style = ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_spinner());
        let bars = (0..lines).map(|_| multi.add(ProgressBar::new_spinner().with_style(style.clone()))).collect();
        View { bars: Some((multi, bars)), quiet }
    }

    pub fn show(&self, lines: &[String]) {
        if let Some((_, bars)) = &self.bars {
            for (bar, line) in bars.iter().zip(lines) {
                bar.set_message(line.clone());
            }
        }
    }

    /// A message above the block ("Creating service web").
    pub fn println(&self, message: &str) {
        match &self.bars {
            Some((multi, _)) => {
                let _ = multi.println(message);
            }
            None => println!("{message}"),
        }
    }

    /// The final picture: kept on a terminal, printed once otherwise.
    pub fn finish(&mut self, lines: &[String]) {
        match self.bars.take() {
            Some((_, bars)) => {
                for (bar, line) in bars.iter().zip(lines) {
                    bar.finish_with_message(line.clone());
                }
            }
            None if !self.quiet => lines.iter().for_each(|l| println!("{l}")),
            None => {}
        }
        self.quiet = true;
    }
}
