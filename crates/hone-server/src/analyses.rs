//! [`Analyses`]: what the dashboard shows that needs hone's training library — the
//! significance tests of `hone runs compare` over two runs' predictions. `hone server` (the
//! CLI) plugs in the implementation over `hone-train`, so this crate knows HTTP and the store
//! and never models; without one, the compare view says the tests are not available here.

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
}
