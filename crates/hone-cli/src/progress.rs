//! The progress display of `hone train` (and of `hone tune`'s refit): the current phase
//! ("fold 3/5", "refit (3967 rows)", "holdout"), with a bar of boosting rounds only while a
//! model that trains in rounds reports them, and a line per fold.

use std::io::IsTerminal;

use hone_train::Event;
use indicatif::{ProgressBar, ProgressStyle};

/// What the display shows now: a phase alone, or a phase with its rounds. A phase without
/// rounds (a linear model's fold, the holdout) shows no counter: it once showed "0/0 rounds".
#[derive(Debug, Clone, PartialEq)]
enum Shown {
    Phase(String),
    Rounds {
        phase: String,
        round: usize,
        total: usize,
    },
}

impl Shown {
    fn phase(&self) -> &str {
        match self {
            Shown::Phase(p) | Shown::Rounds { phase: p, .. } => p,
        }
    }

    /// The display in words, e.g. `fold 3/5` or `fold 3/5 rounds 120/500` (what the tests read;
    /// the terminal shows the same through the bar's templates).
    #[cfg(test)]
    fn label(&self) -> String {
        match self {
            Shown::Phase(p) => p.clone(),
            Shown::Rounds {
                phase,
                round,
                total,
            } => format!("{phase} rounds {round}/{total}"),
        }
    }
}

fn phase_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("static template")
}

fn rounds_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg:<16} [{bar:32}] {prefix} {pos}/{len} ({elapsed})")
        .expect("static template")
        .progress_chars("=> ")
}

/// Turns training events into a progress display (on a terminal) and per-fold lines on stderr.
pub struct TrainProgress {
    bar: ProgressBar,
    quiet: bool,
    n_folds: usize,
    shown: Shown,
}

impl TrainProgress {
    /// `quiet` suppresses the per-fold lines (for `--json`).
    pub fn new(quiet: bool) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(0)
        } else {
            ProgressBar::hidden()
        };
        let mut p = Self {
            bar,
            quiet,
            n_folds: 0,
            shown: Shown::Phase(String::new()),
        };
        p.show(Shown::Phase("loading data".into()));
        p
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

    /// Switches the display to `next`, changing the bar's style only when rounds appear or go.
    /// The counts are set before the style, so that the rounds template is never drawn with the
    /// previous phase's 0/0.
    fn show(&mut self, next: Shown) {
        if let Shown::Rounds { round, total, .. } = &next {
            self.bar.set_length(*total as u64);
            self.bar.set_position(*round as u64);
        }
        match (&self.shown, &next) {
            (Shown::Rounds { .. }, Shown::Rounds { .. }) => {}
            (_, Shown::Rounds { .. }) => self.bar.set_style(rounds_style()),
            (_, Shown::Phase(_)) => self.bar.set_style(phase_style()),
        }
        let (Shown::Phase(p) | Shown::Rounds { phase: p, .. }) = &next;
        self.bar.set_message(p.clone());
        if matches!(next, Shown::Phase(_)) {
            self.bar.tick();
        }
        self.shown = next;
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
                    fingerprint.get(..12).unwrap_or(fingerprint)
                ));
            }
            Event::FoldStarted {
                fold,
                n_folds,
                train_rows,
            } => {
                self.n_folds = n_folds;
                self.show(Shown::Phase(if fold < n_folds {
                    format!("fold {}/{n_folds}", fold + 1)
                } else {
                    format!("refit ({train_rows} rows)")
                }));
            }
            // Rounds only for a model that trains in several: a linear model reports its one
            // solve as step 1 of 1, which is not a round count worth a bar.
            Event::Round {
                round,
                total,
                epoch,
            } if total > 1 => {
                // A neural model trains in epochs, a booster in rounds.
                self.bar
                    .set_prefix(if epoch.is_some() { "epochs" } else { "rounds" });
                let phase = self.shown.phase().to_string();
                self.show(Shown::Rounds {
                    phase,
                    round,
                    total,
                });
            }
            Event::Round { .. } => {}
            Event::FoldFinished { fold, metrics } => {
                let shown: Vec<String> = metrics
                    .iter()
                    .map(|(m, v)| format!("{m}={}", crate::render::num(*v)))
                    .collect();
                self.line(format!(
                    "fold {}/{}: {}",
                    fold + 1,
                    self.n_folds,
                    shown.join(" ")
                ));
            }
            Event::Phase { name } => self.show(Shown::Phase(name.to_string())),
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(p: &TrainProgress) -> String {
        p.shown.label()
    }

    /// A linear model (no rounds) then a boosted refit and the holdout: each phase is named,
    /// rounds appear only when reported, and nothing reads "0/0".
    #[test]
    fn phases_are_named_and_rounds_shown_only_when_known() {
        let mut p = TrainProgress::new(true);
        assert_eq!(label(&p), "loading data");
        p.on_event(Event::FoldStarted {
            fold: 2,
            n_folds: 5,
            train_rows: 100,
        });
        assert_eq!(label(&p), "fold 3/5");
        // A model that reports steps without a known total, or one solve as step 1 of 1 (a
        // linear model), shows its phase alone.
        p.on_event(Event::Round {
            round: 1,
            total: 0,
            epoch: None,
        });
        assert_eq!(label(&p), "fold 3/5");
        p.on_event(Event::Round {
            round: 1,
            total: 1,
            epoch: None,
        });
        assert_eq!(label(&p), "fold 3/5");
        p.on_event(Event::Round {
            round: 120,
            total: 500,
            epoch: None,
        });
        assert_eq!(label(&p), "fold 3/5 rounds 120/500");
        p.on_event(Event::FoldStarted {
            fold: 5,
            n_folds: 5,
            train_rows: 400,
        });
        assert_eq!(label(&p), "refit (400 rows)");
        p.on_event(Event::Round {
            round: 40,
            total: 80,
            epoch: None,
        });
        assert_eq!(label(&p), "refit (400 rows) rounds 40/80");
        p.on_event(Event::Phase { name: "holdout" });
        assert_eq!(label(&p), "holdout");
        assert!(!label(&p).contains("0/0"));
    }
}
