//! The progress bar of `hone train`: one bar of boosting rounds per fold, and a line per fold.

use std::io::IsTerminal;

use hone_train::Event;
use indicatif::{ProgressBar, ProgressStyle};

/// Turns training events into a progress bar (on a terminal) and per-fold lines on stderr.
pub struct TrainProgress {
    bar: ProgressBar,
    quiet: bool,
    n_folds: usize,
}

impl TrainProgress {
    /// `quiet` suppresses the per-fold lines (for `--json`).
    pub fn new(quiet: bool) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{msg:<16} [{bar:32}] {pos}/{len} rounds ({elapsed})")
                .expect("static template")
                .progress_chars("=> "),
        );
        bar.set_message("loading data");
        Self {
            bar,
            quiet,
            n_folds: 0,
        }
    }

    fn line(&self, text: String) {
        if self.quiet {
            return;
        }
        if self.bar.is_hidden() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    /// Handles one event.
    pub fn on_event(&mut self, event: Event<'_>) {
        match event {
            Event::Loaded {
                rows,
                features,
                fingerprint,
                // The summary printed at the end lists every note once; printing the loader's
                // here as well showed them twice.
                notes: _,
            } => {
                self.line(format!(
                    "loaded {rows} rows × {features} features (sha256 {})",
                    &fingerprint[..12]
                ));
            }
            Event::FoldStarted {
                fold,
                n_folds,
                train_rows,
            } => {
                self.n_folds = n_folds;
                self.bar.set_position(0);
                self.bar.set_message(if fold < n_folds {
                    format!("fold {}/{n_folds}", fold + 1)
                } else {
                    format!("final ({train_rows} rows)")
                });
            }
            Event::Round { round, total } => {
                self.bar.set_length(total as u64);
                self.bar.set_position(round as u64);
            }
            Event::FoldFinished { fold, metrics } => {
                let shown: Vec<String> =
                    metrics.iter().map(|(m, v)| format!("{m}={v:.4}")).collect();
                self.line(format!(
                    "fold {}/{}: {}",
                    fold + 1,
                    self.n_folds,
                    shown.join(" ")
                ));
            }
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
