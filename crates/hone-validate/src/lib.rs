//! Cross-validation splitters and evaluation metrics for hone.
//!
//! Everything here reproduces scikit-learn's semantics exactly (index sets for the splitters,
//! values and edge cases for the metrics), because users compare hone's numbers with the Python
//! tools they know. The reference values in the tests come from scikit-learn 1.9.1 and the other
//! libraries named beside them; `scripts/reference/` holds the scripts that print them.
//!
//! - [`split`]: the [`Splitter`](split::Splitter) trait and the `kfold`, `stratified_kfold` and
//!   `timeseries` schemes, plus the final out-of-sample [`holdout`](split::holdout).
//! - [`temporal`]: purged k-fold with embargo, combinatorial purged CV, walk-forward and Monte
//!   Carlo splitters for overlapping financial labels.
//! - [`stats`]: trading metrics (Sharpe, Sortino, drawdown, Calmar, ...), PSR, minimum track
//!   record length, deflated Sharpe and the probability of backtest overfitting (CSCV).
//! - [`cross_section`]: per-timestamp IC and rank IC of panel predictions and their summary
//!   (mean, std, t-statistic, ICIR, hit rate).
//! - [`compare`]: Diebold–Mariano (HLN), Nadeau–Bengio, McNemar, DeLong, paired bootstrap and
//!   Wilcoxon tests for comparing two models.
//! - [`drift`]: PSI, KS, normalised Wasserstein, Jensen–Shannon, chi-square and z tests with
//!   Evidently's default choice per column.
//! - [`metrics`]: the [`Metric`](metrics::Metric) vocabulary (classification, probabilistic and
//!   regression metrics) evaluated over a [`Predictions`](metrics::Predictions) set.
// Library policy (ARCHITECTURE.md, invariant 14): no unwrap on data from a user or a file.
#![warn(clippy::unwrap_used)]

pub mod compare;
pub mod cross_section;
pub mod drift;
pub mod error;
pub mod metrics;
pub mod scheme;
pub mod split;
pub mod stats;
pub mod temporal;

#[cfg(test)]
mod props;

pub use error::ValidateError;
pub use metrics::{Metric, Predictions, Task};
pub use split::{Fold, SplitInput, Splitter};
