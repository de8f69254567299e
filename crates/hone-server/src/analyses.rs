//! [`Analyses`]: what the dashboard shows that needs hone's training library — the
//! significance tests of `hone runs compare` over two runs' predictions, and the registry's
//! changelog, performance over time, gated promotion and rollback (`hone models ...`).
//! `hone server` (the CLI) plugs in the implementation over `hone-train`, so this crate knows
//! HTTP and the store and never models; without one, those parts of the pages say they are not
//! available on this server.

use hone_track::Backend;
use hone_track::artifacts::BlobStore;

/// One significance test's result, as `hone runs compare` prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRow {
    /// The test's name (`diebold_mariano`, `delong`, ...).
    pub test: String,
    /// Its statistic.
    pub statistic: f64,
    /// Its p-value.
    pub p_value: f64,
    /// The effect (mean difference A − B or its analogue).
    pub effect: f64,
    /// What it means, in words.
    pub meaning: String,
}

/// The comparison of two runs' predictions on the rows they share.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Which predictions (`holdout`).
    pub on: String,
    /// Rows compared.
    pub rows: usize,
    /// The task (`binary`, `regression`, ...).
    pub task: String,
    /// Both runs predicted every row the same.
    pub identical_predictions: bool,
    /// Every test that fits the task.
    pub tests: Vec<TestRow>,
}

/// A gate re-evaluated for a promotion.
#[derive(Debug, Clone, PartialEq)]
pub struct GateView {
    /// The rule as written.
    pub rule: String,
    /// `hard` or `warn`.
    pub level: String,
    /// The value checked (`None`: the version has no such value).
    pub value: Option<f64>,
    /// Whether it passed.
    pub passed: bool,
}

/// The significance test of a candidate against the production version.
#[derive(Debug, Clone, PartialEq)]
pub struct SignificanceView {
    /// The production version compared with.
    pub against: u32,
    /// Holdout rows the two share.
    pub shared_rows: usize,
    /// The tests (A = production, B = the candidate); empty when they could not run.
    pub tests: Vec<TestRow>,
    /// Whether the candidate is significantly better.
    pub passed: bool,
    /// The verdict in words.
    pub verdict: String,
}

/// What `hone models promote` would check before moving a version.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionView {
    /// The version's gates, re-evaluated on its stored metrics.
    pub gates: Vec<GateView>,
    /// Whether every hard gate passed.
    pub gates_passed: bool,
    /// Why there are no gates, when there are none.
    pub gates_note: Option<String>,
    /// The test against production (`None`: no production version to beat).
    pub significance: Option<SignificanceView>,
    /// Both checks passed.
    pub passed: bool,
}

/// One changelog entry of a registered model.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeView {
    /// When (ms since the epoch).
    pub time: i64,
    /// Who.
    pub user: String,
    /// The action (`register`, `transition_stage`, `evaluation`, ...).
    pub action: String,
    /// The version concerned.
    pub version: Option<u32>,
    /// One line saying what happened.
    pub title: String,
    /// Further lines (diffs, checks, metrics).
    pub lines: Vec<String>,
}

/// One evaluation of a registered model (`hone evaluate`), for performance over time.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationView {
    /// When (ms since the epoch).
    pub time: i64,
    /// The version evaluated.
    pub version: u32,
    /// The data file scored.
    pub data: String,
    /// The period of its rows.
    pub period: (String, String),
    /// Metrics (and `trading.*` metrics) by name.
    pub metrics: Vec<(String, f64)>,
    /// Whether every hard gate passed.
    pub gates_passed: bool,
    /// The share of features that drifted.
    pub drift_share: f64,
}

/// A registered model's evaluations over time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistoryView {
    /// The metric followed (the first of the first evaluation).
    pub metric: Option<String>,
    /// The evaluations, oldest first.
    pub evaluations: Vec<EvaluationView>,
    /// What the latest evaluation says that needs attention.
    pub warnings: Vec<String>,
}

/// Analyses the server cannot do with the store alone.
pub trait Analyses: Send + Sync {
    /// The tests `hone runs compare run_a run_b` runs, on the runs' holdout predictions; an
    /// error says in one line why they cannot be run (no predictions, different tasks, ...).
    fn compare_runs(
        &self,
        store: &dyn Backend,
        blobs: &BlobStore,
        run_a: &str,
        run_b: &str,
    ) -> Result<Comparison, String>;

    /// The model's changelog, newest first (`hone models changelog NAME`).
    fn changelog(&self, store: &dyn Backend, name: &str) -> Result<Vec<ChangeView>, String>;

    /// The model's evaluations over time (`hone models history NAME`).
    fn history(&self, store: &dyn Backend, name: &str) -> Result<HistoryView, String>;

    /// The checks `hone models promote` runs before moving `version` (gates, and the test
    /// against production), without moving anything.
    fn check_promotion(
        &self,
        store: &dyn Backend,
        blobs: &BlobStore,
        name: &str,
        version: u32,
    ) -> Result<PromotionView, String>;

    /// `hone models promote NAME VERSION --stage STAGE` (with `--force --reason` when
    /// `force`) on behalf of `user`; returns what happened, in one line.
    #[allow(clippy::too_many_arguments)]
    fn promote(
        &self,
        store: &dyn Backend,
        blobs: &BlobStore,
        name: &str,
        version: u32,
        stage: &str,
        force: bool,
        reason: &str,
        user: &str,
    ) -> Result<String, String>;

    /// The version `hone models rollback NAME` would restore to production now (`None`: no
    /// earlier production version to go back to).
    fn rollback_target(&self, store: &dyn Backend, name: &str) -> Result<Option<u32>, String>;

    /// `hone models rollback NAME` on behalf of `user`; returns what happened, in one line.
    fn rollback(
        &self,
        store: &dyn Backend,
        name: &str,
        reason: &str,
        user: &str,
    ) -> Result<String, String>;
}
