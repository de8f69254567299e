//! Cross-validation splitters with scikit-learn's exact index semantics.
//!
//! A [`Splitter`] turns a [`SplitInput`] (how many samples, and optionally class labels and the
//! end of each sample's label window) into a list of [`Fold`]s. Callers (`hone train`,
//! `hone split`) only ever see the trait, so new schemes (purged, combinatorial, walk-forward,
//! Monte Carlo) slot in without touching them: they read what they need from [`SplitInput`].

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::ValidateError;
use crate::error::at_most;

/// Most samples a splitter accepts (10⁹). Every fold lists its rows, so a count beyond what any
/// data set in memory can have is refused with a message rather than aborting on allocation.
pub const MAX_SAMPLES: usize = 1_000_000_000;

/// Most splits a scheme may produce (100 000, as CPCV's limit on its combinations): bounds
/// Monte Carlo's `n_splits`, which no sample count limits.
pub const MAX_SPLITS: usize = 100_000;

/// Most row indices all folds of one split may list together (4·10⁹, about 32 GB of indices):
/// folds × rows per fold beyond this is refused before anything is allocated.
pub const MAX_FOLD_ROWS: u128 = 4_000_000_000;

/// Refuses a sample count above [`MAX_SAMPLES`] (callers that list rows per sample check first).
pub fn check_samples(n: usize) -> Result<(), ValidateError> {
    at_most("n_samples", n, MAX_SAMPLES).map(drop)
}

/// Refuses `n_folds` folds of up to `rows` rows each when together they exceed [`MAX_FOLD_ROWS`].
pub(crate) fn check_fold_rows(n_folds: usize, rows: usize) -> Result<(), ValidateError> {
    let total = n_folds as u128 * rows as u128;
    if total > MAX_FOLD_ROWS {
        return Err(ValidateError::parameter(
            "n_splits",
            format!(
                "makes {n_folds} folds of up to {rows} rows: {total} row indices, more than the \
                 limit of {MAX_FOLD_ROWS}"
            ),
        ));
    }
    Ok(())
}

/// One train/test split: positions (0-based, into the time-ordered sample) of each part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fold {
    /// Rows the pipeline is fitted on (in increasing order).
    pub train: Vec<usize>,
    /// Rows the fitted pipeline is scored on (in increasing order).
    pub test: Vec<usize>,
}

/// What a splitter may look at. Schemes take the fields they need and ignore the others.
#[derive(Debug, Clone, Copy, Default)]
pub struct SplitInput<'a> {
    /// Number of samples (rows), in time order.
    pub n_samples: usize,
    /// Class label of each sample (any integer codes), needed by stratified schemes.
    pub labels: Option<&'a [u32]>,
    /// For each sample, the last row index its label depends on (e.g. `i + horizon` for a forward
    /// return over `horizon` bars). Temporal schemes that purge overlapping labels use it.
    pub label_end: Option<&'a [usize]>,
}

impl<'a> SplitInput<'a> {
    /// Input with only a sample count.
    pub fn new(n_samples: usize) -> Self {
        Self {
            n_samples,
            ..Self::default()
        }
    }
}

/// A cross-validation scheme.
pub trait Splitter: std::fmt::Debug + Send + Sync {
    /// The scheme's name as used in configs and on the command line (e.g. `"timeseries"`).
    fn name(&self) -> &'static str;
    /// Whether the scheme respects time order (never trains on rows after its test rows).
    fn is_temporal(&self) -> bool;
    /// The folds for this input, or scikit-learn's error for impossible settings.
    fn split(&self, input: &SplitInput<'_>) -> Result<Vec<Fold>, ValidateError>;
}

fn complement(n: usize, test: &[usize]) -> Vec<usize> {
    let mut in_test = vec![false; n];
    for &i in test {
        in_test[i] = true;
    }
    (0..n).filter(|&i| !in_test[i]).collect()
}

fn check_n_splits(n_splits: usize) -> Result<(), ValidateError> {
    if n_splits < 2 {
        return Err(ValidateError::InvalidSplit(format!(
            "k-fold cross-validation requires at least one train/test split by setting \
             n_splits=2 or more, got n_splits={n_splits}."
        )));
    }
    Ok(())
}

/// scikit-learn `KFold`: consecutive blocks, the first `n % k` one sample larger.
#[derive(Debug, Clone, PartialEq)]
pub struct KFold {
    /// Number of folds (k ≥ 2).
    pub n_splits: usize,
    /// Permute the samples (with `seed`) before cutting blocks.
    pub shuffle: bool,
    /// Seed of the permutation when `shuffle` is set.
    pub seed: u64,
}

impl Splitter for KFold {
    fn name(&self) -> &'static str {
        "kfold"
    }
    fn is_temporal(&self) -> bool {
        false
    }
    fn split(&self, input: &SplitInput<'_>) -> Result<Vec<Fold>, ValidateError> {
        let n = input.n_samples;
        check_n_splits(self.n_splits)?;
        check_samples(n)?;
        if self.n_splits > n {
            return Err(ValidateError::InvalidSplit(format!(
                "Cannot have number of splits n_splits={} greater than the number of samples: \
                 n_samples={n}.",
                self.n_splits
            )));
        }
        check_fold_rows(self.n_splits, n)?;
        let mut order: Vec<usize> = (0..n).collect();
        if self.shuffle {
            order.shuffle(&mut StdRng::seed_from_u64(self.seed));
        }
        let k = self.n_splits;
        let mut folds = Vec::with_capacity(k);
        let mut start = 0;
        for i in 0..k {
            let size = n / k + usize::from(i < n % k);
            let mut test = order[start..start + size].to_vec();
            test.sort_unstable();
            start += size;
            folds.push(Fold {
                train: complement(n, &test),
                test,
            });
        }
        Ok(folds)
    }
}

/// scikit-learn `StratifiedKFold`: each fold keeps the class proportions.
#[derive(Debug, Clone, PartialEq)]
pub struct StratifiedKFold {
    /// Number of folds (k ≥ 2).
    pub n_splits: usize,
    /// Shuffle each class's fold assignment (with `seed`).
    pub shuffle: bool,
    /// Seed used when `shuffle` is set.
    pub seed: u64,
}

impl Splitter for StratifiedKFold {
    fn name(&self) -> &'static str {
        "stratified_kfold"
    }
    fn is_temporal(&self) -> bool {
        false
    }
    fn split(&self, input: &SplitInput<'_>) -> Result<Vec<Fold>, ValidateError> {
        let n = input.n_samples;
        let k = self.n_splits;
        check_n_splits(k)?;
        let labels = input.labels.ok_or_else(|| {
            ValidateError::InvalidSplit("stratified_kfold needs class labels".into())
        })?;
        if labels.len() != n {
            return Err(ValidateError::InvalidSplit(format!(
                "stratified_kfold got {} labels for {n} samples",
                labels.len()
            )));
        }
        check_samples(n)?;
        if k > n {
            return Err(ValidateError::InvalidSplit(format!(
                "Cannot have number of splits n_splits={k} greater than the number of samples: \
                 n_samples={n}."
            )));
        }
        check_fold_rows(k, n)?;
        // Classes are numbered by order of first appearance, as scikit-learn does.
        let mut code_of = std::collections::HashMap::new();
        let encoded: Vec<usize> = labels
            .iter()
            .map(|l| {
                let next = code_of.len();
                *code_of.entry(*l).or_insert(next)
            })
            .collect();
        let n_classes = code_of.len();
        let mut counts = vec![0usize; n_classes];
        for &c in &encoded {
            counts[c] += 1;
        }
        if counts.iter().all(|&c| k > c) {
            return Err(ValidateError::InvalidSplit(format!(
                "n_splits={k} cannot be greater than the number of members in each class."
            )));
        }
        // Deal the sorted encoded labels round-robin into the folds: allocation[fold][class].
        let mut sorted = encoded.clone();
        sorted.sort_unstable();
        let mut allocation = vec![vec![0usize; n_classes]; k];
        for (pos, &c) in sorted.iter().enumerate() {
            allocation[pos % k][c] += 1;
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        let mut test_fold = vec![0usize; n];
        // `class` indexes the inner dimension of `allocation` and compares with codes.
        #[allow(clippy::needless_range_loop)]
        for class in 0..n_classes {
            let mut folds_for_class: Vec<usize> = (0..k)
                .flat_map(|f| std::iter::repeat_n(f, allocation[f][class]))
                .collect();
            if self.shuffle {
                folds_for_class.shuffle(&mut rng);
            }
            let members = (0..n).filter(|&i| encoded[i] == class);
            for (i, f) in members.zip(folds_for_class) {
                test_fold[i] = f;
            }
        }
        Ok((0..k)
            .map(|f| {
                let test: Vec<usize> = (0..n).filter(|&i| test_fold[i] == f).collect();
                Fold {
                    train: complement(n, &test),
                    test,
                }
            })
            .collect())
    }
}

/// scikit-learn `TimeSeriesSplit`: expanding (or capped) training windows before each test block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimeSeriesSplit {
    /// Number of splits (≥ 2).
    pub n_splits: usize,
    /// Cap on the training window length; `None` or `Some(0)` means no cap (as in scikit-learn).
    pub max_train_size: Option<usize>,
    /// Test block length; default `n / (n_splits + 1)`.
    pub test_size: Option<usize>,
    /// Rows removed from the end of each training window, before the test block.
    pub gap: usize,
}

impl Splitter for TimeSeriesSplit {
    fn name(&self) -> &'static str {
        "timeseries"
    }
    fn is_temporal(&self) -> bool {
        true
    }
    fn split(&self, input: &SplitInput<'_>) -> Result<Vec<Fold>, ValidateError> {
        let n = input.n_samples;
        check_n_splits(self.n_splits)?;
        check_samples(n)?;
        // Checked: a huge n_splits must not wrap around to a small fold count.
        let n_folds = self.n_splits.saturating_add(1);
        if n_folds > n {
            return Err(ValidateError::InvalidSplit(format!(
                "Cannot have number of folds={} greater than the number of samples={n}.",
                self.n_splits as u128 + 1
            )));
        }
        let test_size = self.test_size.unwrap_or(n / n_folds);
        if self.gap >= n {
            return Err(ValidateError::parameter(
                "gap",
                format!(
                    "must be below the number of samples ({n}), got {}",
                    self.gap
                ),
            ));
        }
        if test_size >= n {
            return Err(ValidateError::parameter(
                "test_size",
                format!("must be below the number of samples ({n}), got {test_size}"),
            ));
        }
        // Checked arithmetic: a wrapped sum would pass this test and train on test rows.
        let needed = test_size
            .checked_mul(self.n_splits)
            .and_then(|t| t.checked_add(self.gap));
        if needed.is_none_or(|needed| n <= needed) {
            return Err(ValidateError::InvalidSplit(format!(
                "Too many splits={} for number of samples={n} with test_size={test_size} and \
                 gap={}.",
                self.n_splits, self.gap
            )));
        }
        if test_size == 0 {
            return Err(ValidateError::parameter("test_size", "must be at least 1"));
        }
        check_fold_rows(self.n_splits, n)?;
        let first_test = n - self.n_splits * test_size;
        Ok((0..self.n_splits)
            .map(|s| {
                let test_start = first_test + s * test_size;
                let train_end = test_start - self.gap;
                let train_start = match self.max_train_size {
                    Some(cap) if cap > 0 && cap < train_end => train_end - cap,
                    _ => 0,
                };
                Fold {
                    train: (train_start..train_end).collect(),
                    test: (test_start..test_start + test_size).collect(),
                }
            })
            .collect())
    }
}

/// The final out-of-sample holdout: the last `fraction` of rows by time (at least one row).
///
/// Returns `(development_end, holdout_start)`: rows `[0, development_end)` are available to
/// cross-validation and model selection, rows `[holdout_start, n)` are scored once at the end.
/// `purge` rows between the two are dropped so that no development label (which may look
/// `purge` bars ahead) overlaps the holdout period.
pub fn holdout(
    n_samples: usize,
    fraction: f64,
    purge: usize,
) -> Result<(usize, usize), ValidateError> {
    if !(0.0..1.0).contains(&fraction) {
        return Err(ValidateError::parameter(
            "holdout",
            format!("must be a fraction in [0, 1), got {fraction}"),
        ));
    }
    if fraction == 0.0 {
        return Ok((n_samples, n_samples));
    }
    // scikit-learn's train_test_split rounds the test part up.
    let n_holdout = ((n_samples as f64) * fraction).ceil() as usize;
    let holdout_start = n_samples.saturating_sub(n_holdout);
    let development_end = holdout_start.saturating_sub(purge);
    if development_end < 2 || n_holdout == 0 {
        return Err(ValidateError::InvalidSplit(format!(
            "holdout={fraction} of {n_samples} rows (with {purge} purged rows) leaves \
             {development_end} rows for cross-validation"
        )));
    }
    Ok((development_end, holdout_start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(a: usize, b_inclusive: usize) -> Vec<usize> {
        (a..=b_inclusive).collect()
    }

    // scikit-learn 1.9.1 KFold (scripts/reference/splitters.py).
    #[test]
    fn kfold_matches_sklearn_blocks() {
        let s = KFold {
            n_splits: 4,
            shuffle: false,
            seed: 0,
        };
        let folds = s.split(&SplitInput::new(20)).unwrap();
        let tests: Vec<_> = folds.iter().map(|f| f.test.clone()).collect();
        assert_eq!(
            tests,
            vec![range(0, 4), range(5, 9), range(10, 14), range(15, 19)]
        );
        assert_eq!(folds[1].train, [range(0, 4), range(10, 19)].concat());

        let s3 = KFold {
            n_splits: 3,
            ..s.clone()
        };
        let tests: Vec<_> = s3
            .split(&SplitInput::new(20))
            .unwrap()
            .into_iter()
            .map(|f| f.test)
            .collect();
        assert_eq!(tests, vec![range(0, 6), range(7, 13), range(14, 19)]);
    }

    #[test]
    fn kfold_shuffle_partitions_with_sklearn_sizes_and_is_seeded() {
        let s = KFold {
            n_splits: 3,
            shuffle: true,
            seed: 7,
        };
        let a = s.split(&SplitInput::new(20)).unwrap();
        let b = s.split(&SplitInput::new(20)).unwrap();
        assert_eq!(a, b);
        let sizes: Vec<_> = a.iter().map(|f| f.test.len()).collect();
        assert_eq!(sizes, vec![7, 7, 6]);
        let mut all: Vec<usize> = a.iter().flat_map(|f| f.test.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, range(0, 19));
        assert_ne!(a[0].test, range(0, 6));
        let other = KFold { seed: 8, ..s };
        assert_ne!(other.split(&SplitInput::new(20)).unwrap(), a);
    }

    #[test]
    fn kfold_errors_like_sklearn() {
        let s = KFold {
            n_splits: 5,
            shuffle: false,
            seed: 0,
        };
        let e = s.split(&SplitInput::new(3)).unwrap_err().to_string();
        assert!(e.contains("n_splits=5 greater than the number of samples: n_samples=3"));
        let one = KFold { n_splits: 1, ..s };
        assert!(one.split(&SplitInput::new(3)).is_err());
    }

    // scikit-learn 1.9.1 StratifiedKFold (scripts/reference/splitters.py).
    #[test]
    fn stratified_kfold_matches_sklearn() {
        let labels: Vec<u32> = [vec![0; 12], vec![1; 8]].concat();
        let s = StratifiedKFold {
            n_splits: 4,
            shuffle: false,
            seed: 0,
        };
        let input = SplitInput {
            n_samples: 20,
            labels: Some(&labels),
            label_end: None,
        };
        let tests: Vec<_> = s
            .split(&input)
            .unwrap()
            .into_iter()
            .map(|f| f.test)
            .collect();
        assert_eq!(
            tests,
            vec![
                vec![0, 1, 2, 12, 13],
                vec![3, 4, 5, 14, 15],
                vec![6, 7, 8, 16, 17],
                vec![9, 10, 11, 18, 19]
            ]
        );
    }

    // scikit-learn 1.9.1 (scripts/reference/splitters.py): StratifiedKFold(3).split(X, y) with
    // y = [1,0,2,1,0,2,1,0,1,1,0,0,2,1,1] gives test folds
    // [0,1,2,3,6], [4,5,7,8,9], [10,11,12,13,14] (classes numbered by first appearance).
    #[test]
    fn stratified_kfold_uneven_classes_matches_sklearn() {
        let labels: Vec<u32> = vec![1, 0, 2, 1, 0, 2, 1, 0, 1, 1, 0, 0, 2, 1, 1];
        let s = StratifiedKFold {
            n_splits: 3,
            shuffle: false,
            seed: 0,
        };
        let input = SplitInput {
            n_samples: 15,
            labels: Some(&labels),
            label_end: None,
        };
        let tests: Vec<_> = s
            .split(&input)
            .unwrap()
            .into_iter()
            .map(|f| f.test)
            .collect();
        assert_eq!(
            tests,
            vec![
                vec![0, 1, 2, 3, 6],
                vec![4, 5, 7, 8, 9],
                vec![10, 11, 12, 13, 14]
            ]
        );
    }

    #[test]
    fn stratified_kfold_refuses_too_small_classes() {
        let labels = vec![0u32, 0, 1, 1, 1];
        let s = StratifiedKFold {
            n_splits: 4,
            shuffle: false,
            seed: 0,
        };
        let input = SplitInput {
            n_samples: 5,
            labels: Some(&labels),
            label_end: None,
        };
        let e = s.split(&input).unwrap_err().to_string();
        assert_eq!(
            e,
            "n_splits=4 cannot be greater than the number of members in each class."
        );
    }

    // scikit-learn 1.9.1 TimeSeriesSplit (scripts/reference/splitters.py).
    #[test]
    fn timeseries_matches_sklearn_tables() {
        let base = TimeSeriesSplit {
            n_splits: 4,
            ..Default::default()
        };
        let f = base.split(&SplitInput::new(20)).unwrap();
        let trains: Vec<_> = f.iter().map(|f| f.train.clone()).collect();
        let tests: Vec<_> = f.iter().map(|f| f.test.clone()).collect();
        assert_eq!(
            trains,
            vec![range(0, 3), range(0, 7), range(0, 11), range(0, 15)]
        );
        assert_eq!(
            tests,
            vec![range(4, 7), range(8, 11), range(12, 15), range(16, 19)]
        );
        let gap1 = TimeSeriesSplit {
            gap: 1,
            ..base.clone()
        };
        let trains: Vec<_> = gap1
            .split(&SplitInput::new(20))
            .unwrap()
            .into_iter()
            .map(|f| f.train)
            .collect();
        assert_eq!(
            trains,
            vec![range(0, 2), range(0, 6), range(0, 10), range(0, 14)]
        );

        let capped = TimeSeriesSplit {
            n_splits: 4,
            test_size: Some(3),
            max_train_size: Some(8),
            gap: 0,
        };
        let f = capped.split(&SplitInput::new(20)).unwrap();
        let trains: Vec<_> = f.iter().map(|f| f.train.clone()).collect();
        let tests: Vec<_> = f.iter().map(|f| f.test.clone()).collect();
        assert_eq!(
            trains,
            vec![range(0, 7), range(3, 10), range(6, 13), range(9, 16)]
        );
        assert_eq!(
            tests,
            vec![range(8, 10), range(11, 13), range(14, 16), range(17, 19)]
        );
        let capped_gap = TimeSeriesSplit { gap: 1, ..capped };
        let trains: Vec<_> = capped_gap
            .split(&SplitInput::new(20))
            .unwrap()
            .into_iter()
            .map(|f| f.train)
            .collect();
        assert_eq!(
            trains,
            vec![range(0, 6), range(2, 9), range(5, 12), range(8, 15)]
        );

        let gap3 = TimeSeriesSplit {
            n_splits: 4,
            gap: 3,
            ..Default::default()
        };
        let f = gap3.split(&SplitInput::new(20)).unwrap();
        assert_eq!(f[0].train, vec![0]);
        assert_eq!(f[0].test, range(4, 7));
        assert_eq!(f[1].train, range(0, 4));
        assert_eq!(f[1].test, range(8, 11));
    }

    #[test]
    fn timeseries_impossible_settings_fail_like_sklearn() {
        let cases = [
            (
                TimeSeriesSplit {
                    n_splits: 4,
                    test_size: Some(5),
                    ..Default::default()
                },
                "Too many splits=4 for number of samples=20 with test_size=5 and gap=0.",
            ),
            (
                TimeSeriesSplit {
                    n_splits: 4,
                    gap: 4,
                    ..Default::default()
                },
                "Too many splits=4 for number of samples=20 with test_size=4 and gap=4.",
            ),
            (
                TimeSeriesSplit {
                    n_splits: 20,
                    ..Default::default()
                },
                "Cannot have number of folds=21 greater than the number of samples=20.",
            ),
        ];
        for (s, msg) in cases {
            assert_eq!(s.split(&SplitInput::new(20)).unwrap_err().to_string(), msg);
        }
    }

    #[test]
    fn timeseries_never_trains_on_the_future() {
        let s = TimeSeriesSplit {
            n_splits: 5,
            gap: 2,
            ..Default::default()
        };
        for f in s.split(&SplitInput::new(103)).unwrap() {
            assert!(f.train.iter().max().unwrap() + 2 < *f.test.iter().min().unwrap());
        }
    }

    #[test]
    fn holdout_is_the_last_fraction_with_purge() {
        assert_eq!(holdout(100, 0.2, 0).unwrap(), (80, 80));
        assert_eq!(holdout(100, 0.2, 3).unwrap(), (77, 80));
        // ceil like train_test_split: 0.25 * 10 = 2.5 -> 3 holdout rows.
        assert_eq!(holdout(10, 0.25, 0).unwrap(), (7, 7));
        assert_eq!(holdout(10, 0.0, 5).unwrap(), (10, 10));
        assert!(holdout(10, 1.0, 0).is_err());
        assert!(holdout(3, 0.5, 1).is_err());
    }
}
