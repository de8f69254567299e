//! Splitters for overlapping financial labels (López de Prado, AFML 2018, ch. 7 and 12):
//! purged k-fold with embargo, combinatorial purged CV (CPCV) with backtest paths, walk-forward,
//! and Monte Carlo (random or temporal purged blocks).
//!
//! Time is the row position: sample `i` is observed at `t0 = i` and its label depends on rows
//! up to `t1 = label_end[i]` (from [`SplitInput::label_end`]; `t1 = i` when absent). A training
//! sample survives a test block `[ts, te]` only if its closed label interval `[i, t1]` does not
//! meet `[ts, te']`, where `te' = min(te + h, n − 1)` extends the block by the embargo `h`.

use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::ValidateError;
use crate::split::{Fold, MAX_SPLITS, SplitInput, Splitter, check_fold_rows, check_samples};

fn label_end(input: &SplitInput<'_>) -> Vec<usize> {
    let n = input.n_samples;
    match input.label_end {
        Some(ends) => ends.iter().map(|&e| e.min(n.saturating_sub(1))).collect(),
        None => (0..n).collect(),
    }
}

/// Embargo in bars: `floor(n × pct)` (AFML snippet 7.2).
pub fn embargo_bars(n: usize, pct: f64) -> usize {
    (n as f64 * pct).floor() as usize
}

fn check_pct(pct: f64) -> Result<(), ValidateError> {
    if !(0.0..1.0).contains(&pct) {
        return Err(ValidateError::parameter(
            "embargo_pct",
            format!("must be in [0, 1), got {pct}"),
        ));
    }
    Ok(())
}

/// Training rows that survive purging and embargo around the given contiguous test blocks.
fn purged_train(t1: &[usize], blocks: &[(usize, usize)], h: usize) -> Vec<usize> {
    let n = t1.len();
    // Each block's window [ts, te'], with te = the latest label end inside the block.
    let windows: Vec<(usize, usize)> = blocks
        .iter()
        .map(|&(b0, b1)| {
            let te = (b0..=b1).map(|j| t1[j]).max().unwrap_or(b1);
            (b0, (te + h).min(n - 1))
        })
        .collect();
    (0..n)
        .filter(|&i| {
            !blocks.iter().any(|&(b0, b1)| (b0..=b1).contains(&i))
                && windows.iter().all(|&(ts, te)| t1[i] < ts || i > te)
        })
        .collect()
}

/// Merges sorted test rows into contiguous blocks `(first, last)`.
fn blocks_of(test: &[usize]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &i in test {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == i => *last = i,
            _ => out.push((i, i)),
        }
    }
    out
}

/// Purged k-fold with embargo (AFML snippets 7.1–7.2, the recommended semantics of §1.4).
#[derive(Debug, Clone, PartialEq)]
pub struct PurgedKFold {
    /// Number of folds (k ≥ 2).
    pub n_splits: usize,
    /// Embargo as a share of the samples, `h = floor(n × pct)` bars after each test block.
    pub embargo_pct: f64,
}

impl Splitter for PurgedKFold {
    fn name(&self) -> &'static str {
        "purged_kfold"
    }
    fn is_temporal(&self) -> bool {
        true
    }
    fn split(&self, input: &SplitInput<'_>) -> Result<Vec<Fold>, ValidateError> {
        let n = input.n_samples;
        check_pct(self.embargo_pct)?;
        check_samples(n)?;
        if self.n_splits < 2 || self.n_splits > n {
            return Err(ValidateError::parameter(
                "n_splits",
                format!(
                    "must be in [2, n_samples] for purged_kfold, got {} for {n} samples",
                    self.n_splits
                ),
            ));
        }
        check_fold_rows(self.n_splits, n)?;
        let t1 = label_end(input);
        let h = embargo_bars(n, self.embargo_pct);
        let k = self.n_splits;
        let mut start = 0;
        let mut folds = Vec::with_capacity(k);
        for f in 0..k {
            // np.array_split: the first n % k blocks get one extra sample.
            let size = n / k + usize::from(f < n % k);
            let (b0, b1) = (start, start + size - 1);
            start += size;
            folds.push(Fold {
                train: purged_train(&t1, &[(b0, b1)], h),
                test: (b0..=b1).collect(),
            });
        }
        Ok(folds)
    }
}

/// How CPCV removes training rows next to test groups.
#[derive(Debug, Clone, PartialEq)]
pub enum CpcvPurge {
    /// By label overlap (§1.4 rule per merged test block) plus an embargo share.
    Labels {
        /// Embargo as a share of the samples.
        embargo_pct: f64,
    },
    /// skfolio's fixed counts: `purged_size` rows before each test block, `purged_size +
    /// embargo_size` rows after it.
    Fixed {
        /// Rows purged on each side.
        purged_size: usize,
        /// Extra rows embargoed after each block.
        embargo_size: usize,
    },
}

/// Combinatorial purged cross-validation (§1.5): `N` contiguous groups, every combination of
/// `k` test groups, `C(N, k)` splits recombined into `C(N−1, k−1)` backtest paths.
#[derive(Debug, Clone, PartialEq)]
pub struct Cpcv {
    /// Number of groups N (≥ 3).
    pub n_groups: usize,
    /// Test groups per split k (2 ≤ k < N).
    pub n_test_groups: usize,
    /// Purge rule.
    pub purge: CpcvPurge,
}

/// C(n, k) (saturating).
pub fn binomial(n: usize, k: usize) -> usize {
    if k > n {
        return 0;
    }
    let k = k.min(n - k);
    let mut r: u128 = 1;
    for i in 0..k {
        r = r * (n - i) as u128 / (i + 1) as u128;
        if r > usize::MAX as u128 {
            return usize::MAX;
        }
    }
    r as usize
}

/// All k-subsets of 0..n in lexicographic order (`itertools.combinations`).
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        out.push(idx.clone());
        // The rightmost position that can still move right.
        let mut i = k;
        while i > 0 && idx[i - 1] == i - 1 + n - k {
            i -= 1;
        }
        if i == 0 {
            return out;
        }
        idx[i - 1] += 1;
        for j in i..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

impl Cpcv {
    fn check(&self, n: usize) -> Result<(), ValidateError> {
        check_samples(n)?;
        if self.n_groups < 3 {
            return Err(ValidateError::parameter(
                "n_groups",
                format!("must be at least 3 for cpcv, got {}", self.n_groups),
            ));
        }
        if self.n_test_groups < 2 || self.n_test_groups >= self.n_groups {
            return Err(ValidateError::parameter(
                "n_test_groups",
                format!(
                    "must be in [2, n_groups) for cpcv, got {} with n_groups={}",
                    self.n_test_groups, self.n_groups
                ),
            ));
        }
        if n < self.n_groups {
            return Err(ValidateError::parameter(
                "n_groups",
                format!(
                    "cannot exceed the number of samples ({n}), got {}",
                    self.n_groups
                ),
            ));
        }
        let splits = binomial(self.n_groups, self.n_test_groups);
        if splits > MAX_SPLITS {
            return Err(ValidateError::parameter(
                "n_groups",
                format!(
                    "{} with n_test_groups={} makes more than {MAX_SPLITS} cpcv splits",
                    self.n_groups, self.n_test_groups
                ),
            ));
        }
        check_fold_rows(splits, n)?;
        match self.purge {
            CpcvPurge::Labels { embargo_pct } => check_pct(embargo_pct),
            CpcvPurge::Fixed {
                purged_size,
                embargo_size,
            } => {
                let per = n / self.n_groups;
                // Checked: a wrapped sum would pass and then purge nothing.
                let sum = purged_size.checked_add(embargo_size);
                if sum.is_none_or(|sum| sum >= per.saturating_sub(1)) {
                    return Err(ValidateError::parameter(
                        "purged_size",
                        format!(
                            "+ embargo_size ({}) must be below the group size minus one ({})",
                            purged_size as u128 + embargo_size as u128,
                            per.saturating_sub(1)
                        ),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Group of each sample (skfolio: equal groups of `n // N`, the last takes the remainder).
    pub fn groups(&self, n: usize) -> Vec<usize> {
        let per = (n / self.n_groups).max(1);
        (0..n).map(|i| (i / per).min(self.n_groups - 1)).collect()
    }

    /// The test groups of each split, in lexicographic order.
    pub fn test_groups(&self) -> Vec<Vec<usize>> {
        combinations(self.n_groups, self.n_test_groups)
    }

    /// Number of backtest paths, `C(N−1, k−1)`.
    pub fn n_paths(&self) -> usize {
        binomial(self.n_groups - 1, self.n_test_groups - 1)
    }

    /// For each split and each of its test groups (in order), the path it belongs to
    /// (skfolio's `get_path_ids`): group `g`'s p-th appearance as a test group is path p.
    pub fn path_ids(&self) -> Vec<Vec<usize>> {
        let mut seen = vec![0usize; self.n_groups];
        self.test_groups()
            .iter()
            .map(|groups| {
                groups
                    .iter()
                    .map(|&g| {
                        let p = seen[g];
                        seen[g] += 1;
                        p
                    })
                    .collect()
            })
            .collect()
    }
}

impl Splitter for Cpcv {
    fn name(&self) -> &'static str {
        "cpcv"
    }
    fn is_temporal(&self) -> bool {
        true
    }
    fn split(&self, input: &SplitInput<'_>) -> Result<Vec<Fold>, ValidateError> {
        let n = input.n_samples;
        self.check(n)?;
        let groups = self.groups(n);
        let t1 = label_end(input);
        Ok(self
            .test_groups()
            .iter()
            .map(|tg| {
                let test: Vec<usize> = (0..n).filter(|&i| tg.contains(&groups[i])).collect();
                let blocks = blocks_of(&test);
                let train = match self.purge {
                    CpcvPurge::Labels { embargo_pct } => {
                        purged_train(&t1, &blocks, embargo_bars(n, embargo_pct))
                    }
                    CpcvPurge::Fixed {
                        purged_size,
                        embargo_size,
                    } => (0..n)
                        .filter(|&i| {
                            blocks.iter().all(|&(b0, b1)| {
                                i + purged_size < b0 || i > b1 + purged_size + embargo_size
                            })
                        })
                        .collect(),
                };
                Fold { train, test }
            })
            .collect())
    }
}

/// Walk-forward (§1.6): train on `train_size` rows (or everything so far when anchored), skip
/// `gap` rows, test on the next `test_size`, advance by `step` (default `test_size`).
#[derive(Debug, Clone, PartialEq)]
pub struct WalkForward {
    /// Training window length (the first window's, when anchored).
    pub train_size: usize,
    /// Test window length.
    pub test_size: usize,
    /// Advance between splits (default: `test_size`).
    pub step: Option<usize>,
    /// Rows skipped between training and test (skfolio's `purged_size`).
    pub gap: usize,
    /// Expanding (anchored at row 0) instead of rolling windows.
    pub anchored: bool,
}

impl Splitter for WalkForward {
    fn name(&self) -> &'static str {
        "walk_forward"
    }
    fn is_temporal(&self) -> bool {
        true
    }
    fn split(&self, input: &SplitInput<'_>) -> Result<Vec<Fold>, ValidateError> {
        let n = input.n_samples;
        check_samples(n)?;
        let step = self.step.unwrap_or(self.test_size);
        for (name, v) in [
            ("train_size", self.train_size),
            ("test_size", self.test_size),
            ("step", step),
        ] {
            if v == 0 {
                return Err(ValidateError::parameter(
                    name,
                    "must be at least 1 for walk_forward",
                ));
            }
        }
        for (name, v) in [
            ("train_size", self.train_size),
            ("gap", self.gap),
            ("test_size", self.test_size),
        ] {
            if v >= n {
                return Err(ValidateError::parameter(
                    name,
                    format!("must be below the number of samples ({n}), got {v}"),
                ));
            }
        }
        // Each value is below n <= MAX_SAMPLES, so the span cannot overflow; checked anyway.
        let span = self
            .train_size
            .checked_add(self.gap)
            .and_then(|v| v.checked_add(self.test_size))
            .filter(|&span| span <= n)
            .ok_or_else(|| {
                ValidateError::InvalidSplit(format!(
                    "walk_forward: train_size={} + gap={} + test_size={} exceeds the {n} samples",
                    self.train_size, self.gap, self.test_size
                ))
            })?;
        // Count the folds and their rows before listing any (anchored folds grow up to n rows).
        let n_folds = (n - span) / step + 1;
        let rows = if self.anchored {
            n
        } else {
            self.train_size + self.test_size
        };
        check_fold_rows(n_folds, rows)?;
        Ok((0..n_folds)
            .map(|f| {
                let s = f * step;
                let train_start = if self.anchored { 0 } else { s };
                let test_start = s + self.train_size + self.gap;
                Fold {
                    train: (train_start..s + self.train_size).collect(),
                    test: (test_start..test_start + self.test_size).collect(),
                }
            })
            .collect())
    }
}

/// Monte Carlo cross-validation (§1.7): `n_splits` random splits with a seed. Plain mode draws
/// random test rows (sklearn's `ShuffleSplit`; it ignores time order). Temporal mode draws one
/// random contiguous test block per split and purges/embargoes around it (§1.4 rule).
#[derive(Debug, Clone, PartialEq)]
pub struct MonteCarlo {
    /// Number of splits.
    pub n_splits: usize,
    /// Test share (< 1) or count (≥ 1).
    pub test_size: f64,
    /// Seed.
    pub seed: u64,
    /// Random contiguous purged blocks instead of random rows.
    pub temporal: bool,
    /// Embargo share (temporal mode).
    pub embargo_pct: f64,
}

/// Checks a Monte Carlo `test_size` without the data, as scikit-learn's `ShuffleSplit` does: a
/// share must lie in (0, 1), anything from 1 up is a whole number of rows.
pub fn check_monte_carlo_test_size(test_size: f64) -> Result<(), ValidateError> {
    let share = test_size > 0.0 && test_size < 1.0;
    let count = test_size >= 1.0 && test_size.is_finite() && test_size.fract() == 0.0;
    if share || count {
        Ok(())
    } else {
        Err(ValidateError::parameter(
            "test_size",
            format!("must be a share in (0, 1) or a whole number of rows >= 1, got {test_size}"),
        ))
    }
}

/// Test rows per Monte Carlo split for `n` samples: `ceil(share × n)` or the count, which must
/// leave at least one row on each side (scikit-learn's `_validate_shuffle_split`).
fn monte_carlo_test_rows(test_size: f64, n: usize) -> Result<usize, ValidateError> {
    check_monte_carlo_test_size(test_size)?;
    let rows = if test_size < 1.0 {
        (test_size * n as f64).ceil()
    } else {
        test_size
    };
    if rows >= 1.0 && rows < n as f64 {
        // In range, whole and below n: the cast is exact.
        Ok(rows as usize)
    } else {
        Err(ValidateError::parameter(
            "test_size",
            format!(
                "gives {rows} test rows of {n} samples; monte_carlo needs between 1 and {} so \
                 that training keeps at least one row",
                n.saturating_sub(1)
            ),
        ))
    }
}

impl Splitter for MonteCarlo {
    fn name(&self) -> &'static str {
        "monte_carlo"
    }
    fn is_temporal(&self) -> bool {
        self.temporal
    }
    fn split(&self, input: &SplitInput<'_>) -> Result<Vec<Fold>, ValidateError> {
        let n = input.n_samples;
        check_pct(self.embargo_pct)?;
        check_samples(n)?;
        if self.n_splits == 0 || self.n_splits > MAX_SPLITS {
            return Err(ValidateError::parameter(
                "n_splits",
                format!(
                    "must be in [1, {MAX_SPLITS}] for monte_carlo, got {}",
                    self.n_splits
                ),
            ));
        }
        let m = monte_carlo_test_rows(self.test_size, n)?;
        check_fold_rows(self.n_splits, n)?;
        let mut rng = StdRng::seed_from_u64(self.seed);
        let t1 = label_end(input);
        let h = embargo_bars(n, self.embargo_pct);
        Ok((0..self.n_splits)
            .map(|_| {
                if self.temporal {
                    let start = rng.random_range(0..=n - m);
                    Fold {
                        train: purged_train(&t1, &[(start, start + m - 1)], h),
                        test: (start..start + m).collect(),
                    }
                } else {
                    let mut order: Vec<usize> = (0..n).collect();
                    order.shuffle(&mut rng);
                    let mut test = order[..m].to_vec();
                    let mut train = order[m..].to_vec();
                    test.sort_unstable();
                    train.sort_unstable();
                    Fold { train, test }
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(a: usize, b: usize) -> Vec<usize> {
        (a..=b).collect()
    }

    // Worked example (scripts/reference/splitters.py): n=12, t1 = min(i+2, 11), k=3.
    #[test]
    fn purged_kfold_matches_the_reference() {
        let ends: Vec<usize> = (0..12).map(|i| (i + 2).min(11)).collect();
        let input = SplitInput {
            n_samples: 12,
            labels: None,
            label_end: Some(&ends),
        };
        let trains = |pct: f64| -> Vec<Vec<usize>> {
            PurgedKFold {
                n_splits: 3,
                embargo_pct: pct,
            }
            .split(&input)
            .unwrap()
            .into_iter()
            .map(|f| f.train)
            .collect()
        };
        assert_eq!(trains(0.0), vec![r(6, 11), vec![0, 1, 10, 11], r(0, 5)]);
        assert_eq!(trains(0.1), vec![r(7, 11), vec![0, 1, 11], r(0, 5)]);
        // h = 2: fold 0 trains on 8..11, fold 1 on 0, 1 (11 is embargoed: 9 + 2 = 11).
        let t = trains(0.2);
        assert_eq!((t[0].clone(), t[1].clone()), (r(8, 11), vec![0, 1]));
        let tests: Vec<Vec<usize>> = PurgedKFold {
            n_splits: 3,
            embargo_pct: 0.0,
        }
        .split(&input)
        .unwrap()
        .into_iter()
        .map(|f| f.test)
        .collect();
        assert_eq!(tests, vec![r(0, 3), r(4, 7), r(8, 11)]);
    }

    #[test]
    fn purged_kfold_never_trains_on_a_label_that_overlaps_the_test_block() {
        // Labels spanning 5 bars: every training label must end before the test block starts,
        // or start after the embargoed end.
        let n = 100;
        let ends: Vec<usize> = (0..n).map(|i| (i + 5).min(n - 1)).collect();
        let input = SplitInput {
            n_samples: n,
            labels: None,
            label_end: Some(&ends),
        };
        for f in (PurgedKFold {
            n_splits: 5,
            embargo_pct: 0.03,
        })
        .split(&input)
        .unwrap()
        {
            let (ts, tb) = (f.test[0], *f.test.last().unwrap());
            let te = f.test.iter().map(|&j| ends[j]).max().unwrap() + 3;
            for &i in &f.train {
                assert!(
                    ends[i] < ts || i > te.min(n - 1),
                    "row {i} leaks into test {ts}..{tb}"
                );
            }
        }
    }

    // skfolio 1.12.2 CombinatorialPurgedCV (scripts/reference/splitters.py).
    #[test]
    fn cpcv_matches_skfolio() {
        for (n_groups, k, splits, paths) in [
            (3, 2, 3, 2),
            (5, 2, 10, 4),
            (6, 2, 15, 5),
            (10, 2, 45, 9),
            (10, 8, 45, 36),
        ] {
            let c = Cpcv {
                n_groups,
                n_test_groups: k,
                purge: CpcvPurge::Labels { embargo_pct: 0.0 },
            };
            assert_eq!((c.test_groups().len(), c.n_paths()), (splits, paths));
        }
        let c = Cpcv {
            n_groups: 6,
            n_test_groups: 2,
            purge: CpcvPurge::Labels { embargo_pct: 0.0 },
        };
        let folds = c.split(&SplitInput::new(12)).unwrap();
        assert_eq!(folds.len(), 15);
        assert_eq!(folds[0].train, r(4, 11));
        assert_eq!(folds[0].test, r(0, 3));
        assert_eq!(folds[1].train, [vec![2, 3], r(6, 11)].concat());
        assert_eq!(folds[5].train, [vec![0, 1], r(6, 11)].concat());
        assert_eq!(folds[14].train, r(0, 7));
        assert_eq!(
            c.path_ids(),
            vec![
                vec![0, 0],
                vec![1, 0],
                vec![2, 0],
                vec![3, 0],
                vec![4, 0],
                vec![1, 1],
                vec![2, 1],
                vec![3, 1],
                vec![4, 1],
                vec![2, 2],
                vec![3, 2],
                vec![4, 2],
                vec![3, 3],
                vec![4, 3],
                vec![4, 4]
            ]
        );
        // n=24, purged_size=1, embargo_size=1.
        let fixed = Cpcv {
            n_groups: 6,
            n_test_groups: 2,
            purge: CpcvPurge::Fixed {
                purged_size: 1,
                embargo_size: 1,
            },
        };
        let folds = fixed.split(&SplitInput::new(24)).unwrap();
        assert_eq!(folds[0].train, r(10, 23));
        assert_eq!(folds[1].train, [vec![6], r(14, 23)].concat());
        assert_eq!(folds[5].train, [vec![0, 1, 2], r(14, 23)].concat());
        assert_eq!(folds[14].train, r(0, 14));
        // n=13, N=3: the last group takes the remainder.
        let c3 = Cpcv {
            n_groups: 3,
            n_test_groups: 2,
            purge: CpcvPurge::Labels { embargo_pct: 0.0 },
        };
        assert_eq!(c3.groups(13), [vec![0; 4], vec![1; 4], vec![2; 5]].concat());
        assert!(
            Cpcv {
                n_test_groups: 1,
                ..c3.clone()
            }
            .split(&SplitInput::new(13))
            .is_err()
        );
        assert!(
            Cpcv { n_groups: 2, ..c3 }
                .split(&SplitInput::new(13))
                .is_err()
        );
    }

    // skfolio 1.12.2 WalkForward (scripts/reference/splitters.py).
    #[test]
    fn walk_forward_matches_skfolio() {
        let pairs = |w: WalkForward, n: usize| -> Vec<(Vec<usize>, Vec<usize>)> {
            w.split(&SplitInput::new(n))
                .unwrap()
                .into_iter()
                .map(|f| (f.train, f.test))
                .collect()
        };
        let base = WalkForward {
            train_size: 4,
            test_size: 2,
            step: None,
            gap: 0,
            anchored: false,
        };
        assert_eq!(
            pairs(base.clone(), 10),
            vec![(r(0, 3), r(4, 5)), (r(2, 5), r(6, 7)), (r(4, 7), r(8, 9))]
        );
        assert_eq!(
            pairs(
                WalkForward {
                    anchored: true,
                    ..base.clone()
                },
                10
            ),
            vec![(r(0, 3), r(4, 5)), (r(0, 5), r(6, 7)), (r(0, 7), r(8, 9))]
        );
        assert_eq!(
            pairs(
                WalkForward {
                    gap: 1,
                    ..base.clone()
                },
                10
            ),
            vec![(r(0, 3), r(5, 6)), (r(2, 5), r(7, 8))]
        );
        assert_eq!(
            pairs(
                WalkForward {
                    test_size: 3,
                    ..base.clone()
                },
                11
            ),
            vec![(r(0, 3), r(4, 6)), (r(3, 6), r(7, 9))]
        );
        assert!(
            WalkForward {
                train_size: 20,
                ..base
            }
            .split(&SplitInput::new(10))
            .is_err()
        );
    }

    #[test]
    fn monte_carlo_is_seeded_and_disjoint() {
        let mc = MonteCarlo {
            n_splits: 5,
            test_size: 0.25,
            seed: 9,
            temporal: false,
            embargo_pct: 0.0,
        };
        let a = mc.split(&SplitInput::new(40)).unwrap();
        assert_eq!(a, mc.split(&SplitInput::new(40)).unwrap());
        for f in &a {
            assert_eq!(f.test.len(), 10);
            assert_eq!(f.train.len(), 30);
            assert!(f.test.iter().all(|i| !f.train.contains(i)));
        }
        let ends: Vec<usize> = (0..40).map(|i| (i + 3).min(39)).collect();
        let t = MonteCarlo {
            temporal: true,
            embargo_pct: 0.05,
            ..mc
        };
        let input = SplitInput {
            n_samples: 40,
            labels: None,
            label_end: Some(&ends),
        };
        for f in t.split(&input).unwrap() {
            let (ts, tb) = (f.test[0], *f.test.last().unwrap());
            assert_eq!(tb - ts + 1, 10, "one contiguous block");
            for &i in &f.train {
                assert!(ends[i] < ts || i > (ends[tb] + 2).min(39));
            }
        }
    }
}
