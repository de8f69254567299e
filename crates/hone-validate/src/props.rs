//! Property tests of the splitters over random and extreme settings (counts near `usize::MAX`,
//! 0, 1, more splits than samples, huge gaps): every call either fails with an error or returns
//! folds that are disjoint, inside the sample, sized as scikit-learn / skfolio size them, and
//! (purged schemes) free of training rows inside a test block's purge and embargo window.

use proptest::prelude::*;

use crate::ValidateError;
use crate::scheme::SchemeSpec;
use crate::split::TimeSeriesSplit;
use crate::split::{Fold, KFold, MAX_SAMPLES, SplitInput, Splitter, StratifiedKFold, holdout};
use crate::temporal::{Cpcv, CpcvPurge, MonteCarlo, PurgedKFold, WalkForward, binomial};

/// Small sample counts that can really be split, and absurd ones that must be refused.
fn n_samples() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0usize..=60,
        1 => Just(MAX_SAMPLES + 1),
        1 => Just(usize::MAX),
        1 => (MAX_SAMPLES as u64 + 1..=u64::MAX).prop_map(|v| v as usize),
    ]
}

/// A count setting: mostly small, sometimes 0, 1 or near `usize::MAX`.
fn count() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..=70,
        1 => Just(0usize),
        1 => Just(1usize),
        1 => Just(usize::MAX),
        1 => Just(usize::MAX - 5),
        1 => Just(usize::MAX / 2 + 1),
        1 => any::<usize>(),
    ]
}

/// A float setting: shares, counts, out-of-range and non-finite values.
fn real() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0f64..1.0,
        2 => (0u32..70).prop_map(f64::from),
        1 => Just(1.5),
        1 => Just(-0.2),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(1e300),
        1 => any::<f64>(),
    ]
}

/// Label ends `i + offset` (saturating), offsets small or huge.
fn label_offsets() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![4 => 0usize..6, 1 => Just(usize::MAX), 1 => any::<usize>()],
        60,
    )
}

fn ends(n: usize, offsets: &[usize]) -> Vec<usize> {
    (0..n.min(offsets.len()))
        .map(|i| i.saturating_add(offsets[i]))
        .collect()
}

/// Disjoint, increasing, inside `0..n`, with a non-empty test part.
fn well_formed(n: usize, folds: &[Fold]) -> Result<(), TestCaseError> {
    prop_assert!(!folds.is_empty());
    for f in folds {
        prop_assert!(!f.test.is_empty());
        for part in [&f.train, &f.test] {
            prop_assert!(part.windows(2).all(|w| w[0] < w[1]), "not increasing");
            prop_assert!(part.iter().all(|&i| i < n), "index beyond {n}");
        }
        prop_assert!(
            f.train.iter().all(|i| f.test.binary_search(i).is_err()),
            "train and test overlap"
        );
    }
    Ok(())
}

/// No training row's label window `[i, t1]` meets a test block extended by its latest label
/// end and the embargo `h` (the purge rule of `temporal`).
fn purged(n: usize, t1: &[usize], h: usize, folds: &[Fold]) -> Result<(), TestCaseError> {
    let t1 = |i: usize| t1.get(i).copied().unwrap_or(i).min(n - 1);
    for f in folds {
        let mut b0 = 0;
        while b0 < f.test.len() {
            let mut b1 = b0;
            while b1 + 1 < f.test.len() && f.test[b1 + 1] == f.test[b1] + 1 {
                b1 += 1;
            }
            let (ts, last) = (f.test[b0], f.test[b1]);
            let te = (f.test[b0..=b1].iter().map(|&j| t1(j)).max().unwrap_or(last) + h).min(n - 1);
            for &i in &f.train {
                prop_assert!(t1(i) < ts || i > te, "row {i} leaks into {ts}..={last}");
            }
            b0 = b1 + 1;
        }
    }
    Ok(())
}

/// np.array_split block sizes.
fn block_sizes(n: usize, k: usize) -> Vec<usize> {
    (0..k).map(|f| n / k + usize::from(f < n % k)).collect()
}

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(1000)
}

proptest! {
    #![proptest_config(config())]

    // sklearn KFold: k >= 2, k <= n; the first n % k folds one larger; train is the complement.
    #[test]
    fn kfold_is_sklearn_or_an_error(n in n_samples(), k in count(), shuffle: bool, seed: u64) {
        let r = KFold { n_splits: k, shuffle, seed }.split(&SplitInput::new(n));
        if k < 2 || k > n || n > MAX_SAMPLES {
            prop_assert!(r.is_err());
        } else {
            let folds = r.unwrap();
            well_formed(n, &folds)?;
            let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
            prop_assert_eq!(sizes, block_sizes(n, k));
            prop_assert!(folds.iter().all(|f| f.train.len() + f.test.len() == n));
        }
    }

    #[test]
    fn stratified_kfold_keeps_proportions_or_errs(
        labels in prop::collection::vec(0u32..3, 0..40),
        k in count(),
        shuffle: bool,
        seed: u64,
    ) {
        let n = labels.len();
        let input = SplitInput { n_samples: n, labels: Some(&labels), label_end: None };
        let r = StratifiedKFold { n_splits: k, shuffle, seed }.split(&input);
        let counts: Vec<usize> = (0..3).map(|c| labels.iter().filter(|&&l| l == c).count()).collect();
        if k < 2 || k > n || counts.iter().all(|&c| c < k) {
            prop_assert!(r.is_err());
        } else {
            let folds = r.unwrap();
            well_formed(n, &folds)?;
            prop_assert_eq!(folds.len(), k);
            let mut seen = vec![0; n];
            for f in &folds {
                f.test.iter().for_each(|&i| seen[i] += 1);
                prop_assert_eq!(f.train.len() + f.test.len(), n);
                for (c, &total) in counts.iter().enumerate() {
                    let here = f.test.iter().filter(|&&i| labels[i] == c as u32).count();
                    prop_assert!(here == total / k || here == total.div_ceil(k));
                }
            }
            prop_assert!(seen.iter().all(|&s| s == 1), "every row tested once");
        }
    }

    // sklearn TimeSeriesSplit, computed here from its documented formulas in u128.
    #[test]
    fn timeseries_is_sklearn_or_an_error(
        n in n_samples(),
        k in count(),
        gap in count(),
        test_size in prop::option::of(count()),
        max_train_size in prop::option::of(count()),
    ) {
        let s = TimeSeriesSplit { n_splits: k, max_train_size, test_size, gap };
        let r = s.split(&SplitInput::new(n));
        let (nn, kk) = (n as u128, k as u128);
        let ts = test_size.map_or_else(|| nn / (kk + 1), |t| t as u128);
        if k < 2 || n > MAX_SAMPLES || kk + 1 > nn || nn <= gap as u128 + ts * kk || ts == 0 {
            prop_assert!(r.is_err());
        } else {
            let folds = r.unwrap();
            well_formed(n, &folds)?;
            prop_assert_eq!(folds.len(), k);
            let ts = ts as usize;
            for (f, fold) in folds.iter().enumerate() {
                let test_start = n - k * ts + f * ts;
                let train_end = test_start - gap;
                let train_start = match max_train_size {
                    Some(cap) if cap > 0 && cap < train_end => train_end - cap,
                    _ => 0,
                };
                prop_assert_eq!(&fold.test, &(test_start..test_start + ts).collect::<Vec<_>>());
                prop_assert_eq!(&fold.train, &(train_start..train_end).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn purged_kfold_purges_or_errs(
        n in n_samples(),
        k in count(),
        pct in real(),
        offsets in label_offsets(),
    ) {
        let t1 = ends(n, &offsets);
        let input = SplitInput {
            n_samples: n,
            labels: None,
            label_end: (t1.len() == n).then_some(&t1[..]),
        };
        let r = PurgedKFold { n_splits: k, embargo_pct: pct }.split(&input);
        if k < 2 || k > n || n > MAX_SAMPLES || !(0.0..1.0).contains(&pct) {
            prop_assert!(r.is_err());
        } else {
            let folds = r.unwrap();
            well_formed(n, &folds)?;
            let sizes: Vec<usize> = folds.iter().map(|f| f.test.len()).collect();
            prop_assert_eq!(sizes, block_sizes(n, k));
            purged(n, &t1, (n as f64 * pct).floor() as usize, &folds)?;
        }
    }

    #[test]
    fn cpcv_purges_or_errs(
        n in n_samples(),
        n_groups in count(),
        n_test_groups in count(),
        fixed in prop::option::of((count(), count())),
        pct in real(),
        offsets in label_offsets(),
    ) {
        let t1 = ends(n, &offsets);
        let input = SplitInput {
            n_samples: n,
            labels: None,
            label_end: (t1.len() == n).then_some(&t1[..]),
        };
        let purge = match fixed {
            Some((purged_size, embargo_size)) => CpcvPurge::Fixed { purged_size, embargo_size },
            None => CpcvPurge::Labels { embargo_pct: pct },
        };
        let c = Cpcv { n_groups, n_test_groups, purge: purge.clone() };
        match c.split(&input) {
            Err(_) => {}
            Ok(folds) => {
                prop_assert!(n <= MAX_SAMPLES && n_groups >= 3 && n_groups <= n);
                prop_assert!(n_test_groups >= 2 && n_test_groups < n_groups);
                prop_assert_eq!(folds.len(), binomial(n_groups, n_test_groups));
                well_formed(n, &folds)?;
                match purge {
                    CpcvPurge::Labels { embargo_pct } => {
                        prop_assert!((0.0..1.0).contains(&embargo_pct));
                        purged(n, &t1, (n as f64 * embargo_pct).floor() as usize, &folds)?;
                    }
                    CpcvPurge::Fixed { purged_size, embargo_size } => {
                        let after = purged_size as u128 + embargo_size as u128;
                        for f in &folds {
                            for &i in &f.train {
                                prop_assert!(f.test.iter().all(|&j| {
                                    (i as u128) + (purged_size as u128) < j as u128
                                        || i as u128 > j as u128 + after
                                }), "row {i} inside a purge/embargo window");
                            }
                        }
                    }
                }
            }
        }
    }

    // skfolio WalkForward: windows of train_size, gap, test_size advancing by step.
    #[test]
    fn walk_forward_is_skfolio_or_an_error(
        n in n_samples(),
        train_size in count(),
        test_size in count(),
        step in prop::option::of(count()),
        gap in count(),
        anchored: bool,
    ) {
        let w = WalkForward { train_size, test_size, step, gap, anchored };
        let r = w.split(&SplitInput::new(n));
        let step = step.unwrap_or(test_size);
        let span = train_size as u128 + gap as u128 + test_size as u128;
        if n > MAX_SAMPLES || train_size == 0 || test_size == 0 || step == 0 || span > n as u128 {
            prop_assert!(r.is_err());
        } else {
            let folds = r.unwrap();
            well_formed(n, &folds)?;
            prop_assert_eq!(folds.len(), (n - span as usize) / step + 1);
            for (f, fold) in folds.iter().enumerate() {
                let s = f * step;
                let start = if anchored { 0 } else { s };
                prop_assert_eq!(&fold.train, &(start..s + train_size).collect::<Vec<_>>());
                let t0 = s + train_size + gap;
                prop_assert_eq!(&fold.test, &(t0..t0 + test_size).collect::<Vec<_>>());
            }
        }
    }

    // sklearn ShuffleSplit sizes: a share in (0, 1) gives ceil(share × n) test rows, a whole
    // count from 1 gives itself; both must leave a training row.
    #[test]
    fn monte_carlo_is_sklearn_sized_or_an_error(
        n in n_samples(),
        n_splits in count(),
        test_size in real(),
        temporal: bool,
        pct in real(),
        seed: u64,
        offsets in label_offsets(),
    ) {
        let t1 = ends(n, &offsets);
        let input = SplitInput {
            n_samples: n,
            labels: None,
            label_end: (t1.len() == n).then_some(&t1[..]),
        };
        let mc = MonteCarlo { n_splits, test_size, seed, temporal, embargo_pct: pct };
        let rows = if test_size > 0.0 && test_size < 1.0 {
            Some((test_size * n as f64).ceil())
        } else if test_size >= 1.0 && test_size.is_finite() && test_size.fract() == 0.0 {
            Some(test_size)
        } else {
            None
        };
        let ok_rows = rows.filter(|&m| m >= 1.0 && m < n as f64);
        let r = mc.split(&input);
        if n > MAX_SAMPLES || n_splits == 0 || n_splits > 100_000 || ok_rows.is_none()
            || !(0.0..1.0).contains(&pct)
        {
            prop_assert!(r.is_err());
        } else {
            let m = ok_rows.unwrap_or_default() as usize;
            let folds = r.unwrap();
            well_formed(n, &folds)?;
            prop_assert_eq!(folds.len(), n_splits);
            for f in &folds {
                prop_assert_eq!(f.test.len(), m);
                if !temporal {
                    prop_assert_eq!(f.train.len(), n - m);
                } else {
                    prop_assert_eq!(f.test[m - 1] - f.test[0] + 1, m, "one block");
                }
            }
            if temporal {
                purged(n, &t1, (n as f64 * pct).floor() as usize, &folds)?;
            }
        }
    }

    // train_test_split's rounding: the last ceil(n × fraction) rows, `purge` rows before them
    // dropped, at least 2 development rows.
    #[test]
    fn holdout_is_the_last_fraction_or_an_error(n in count(), fraction in real(), purge in count()) {
        match holdout(n, fraction, purge) {
            Err(_) => {}
            Ok((dev_end, start)) => {
                prop_assert!((0.0..1.0).contains(&fraction));
                prop_assert!(dev_end <= start && start <= n);
                if fraction > 0.0 {
                    prop_assert!(dev_end >= 2);
                    prop_assert_eq!(n - start, (n as f64 * fraction).ceil() as usize);
                    prop_assert_eq!(start - dev_end, purge);
                } else {
                    prop_assert_eq!((dev_end, start), (n, n));
                }
            }
        }
    }

    // Through a `[split]` table: never a panic, and a bad setting is named by its key.
    #[test]
    fn scheme_specs_name_their_keys(
        scheme in prop::sample::select(crate::scheme::SCHEMES),
        n in n_samples(),
        n_splits in prop::option::of(count()),
        gap in prop::option::of(count()),
        test_size in prop::option::of(real()),
        train_size in prop::option::of(count()),
        step in prop::option::of(count()),
        embargo_pct in prop::option::of(real()),
        labels in prop::collection::vec(0u32..2, 60),
    ) {
        let spec = SchemeSpec {
            scheme: Some(scheme.to_string()),
            n_splits,
            gap: gap.filter(|_| matches!(scheme, "timeseries" | "walk_forward")),
            test_size: test_size
                .filter(|_| matches!(scheme, "timeseries" | "walk_forward" | "monte_carlo")),
            train_size: train_size.filter(|_| scheme == "walk_forward"),
            step: step.filter(|_| scheme == "walk_forward"),
            embargo_pct: embargo_pct
                .filter(|_| matches!(scheme, "purged_kfold" | "cpcv" | "monte_carlo")),
            ..Default::default()
        };
        let labels = &labels[..n.min(60)];
        let result = spec.build(0, 0).and_then(|s| {
            s.split(&SplitInput {
                n_samples: n,
                labels: (labels.len() == n).then_some(labels),
                label_end: None,
            })
        });
        match result {
            Ok(folds) => well_formed(n, &folds)?,
            Err(ValidateError::InvalidParameter { name, .. }) => {
                prop_assert!(name.starts_with("split.") || name == "n_samples", "{name}");
            }
            Err(_) => {}
        }
    }
}

#[test]
fn monte_carlo_test_size_follows_sklearn_in_a_config() {
    let spec = |t: f64| SchemeSpec {
        scheme: Some("monte_carlo".into()),
        test_size: Some(t),
        ..Default::default()
    };
    for bad in [1.5, 0.0, -0.2, f64::NAN, f64::INFINITY] {
        let e = spec(bad).build(0, 0).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("split.test_size must be a share in (0, 1)"),
            "{e}"
        );
    }
    // A whole count must leave a training row: 10 of 10 is refused when splitting.
    let e = spec(10.0)
        .build(0, 0)
        .unwrap()
        .split(&SplitInput::new(10))
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("split.test_size gives 10 test rows"),
        "{e}"
    );
    assert_eq!(
        spec(9.0)
            .build(0, 0)
            .unwrap()
            .split(&SplitInput::new(10))
            .unwrap()[0]
            .test
            .len(),
        9
    );
}

#[test]
fn a_wrapping_gap_is_refused_by_name() {
    // 18446744073709551610 + 4 × 4 wrapped to 10 before: training rows overlapped test rows.
    let s = TimeSeriesSplit {
        n_splits: 4,
        gap: usize::MAX - 5,
        ..Default::default()
    };
    let e = s.split(&SplitInput::new(20)).unwrap_err();
    assert_eq!(
        e,
        ValidateError::parameter(
            "gap",
            "must be below the number of samples (20), got 18446744073709551610"
        )
    );
}

/// Statistic inputs: ordinary values, extremes and non-finite ones.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -3.0f64..3.0,
        1 => Just(0.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(1e300),
        1 => Just(-1e300),
        1 => any::<f64>(),
    ]
}

fn series(max: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(value(), 0..max)
}

fn is_probability(p: f64) -> bool {
    (0.0..=1.0).contains(&p)
}

mod statistics {
    use super::*;
    use crate::compare::{
        delong, diebold_mariano, mcnemar, nadeau_bengio, paired_bootstrap, wilcoxon,
    };
    use crate::drift::{
        ColumnSample, DriftMethod, check_drift_share, check_threshold, column_drift_with,
    };
    use crate::stats::{PboMetric, dsr, min_track_record, pbo, psr, trading_metrics};

    fn config() -> ProptestConfig {
        ProptestConfig::with_cases(1000)
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn psr_is_a_probability_or_an_error(
            sr in value(), benchmark in value(), t in count(), skew in value(), kurt in value(),
        ) {
            if let Ok(p) = psr(sr, benchmark, t, skew, kurt) {
                prop_assert!(is_probability(p), "{p}");
                prop_assert!(kurt >= skew * skew + 1.0 - 1e-6 && benchmark.is_finite());
            }
        }

        #[test]
        fn min_track_record_is_finite_or_an_error(
            sr in value(), benchmark in value(), skew in value(), kurt in value(), alpha in value(),
        ) {
            if let Ok(v) = min_track_record(sr, benchmark, skew, kurt, alpha) {
                prop_assert!(v.is_finite() && v >= 1.0, "{v}");
                prop_assert!(alpha > 0.0 && alpha < 1.0);
            }
        }

        #[test]
        fn dsr_is_a_probability_or_an_error(
            sr in value(), t in count(), skew in value(), kurt in value(),
            n_trials in count(), variance in value(),
        ) {
            if let Ok((d, sr0)) = dsr(sr, t, skew, kurt, n_trials, variance) {
                prop_assert!(is_probability(d) && sr0.is_finite() && sr0 >= 0.0, "{d} {sr0}");
            }
        }

        #[test]
        fn pbo_is_a_probability_or_an_error(
            rows in prop::collection::vec(prop::collection::vec(value(), 3), 0..24),
            blocks in count(),
            sum: bool,
        ) {
            let metric = if sum { PboMetric::Sum } else { PboMetric::Sharpe };
            if let Ok(r) = pbo(&rows, blocks, metric) {
                prop_assert!(is_probability(r.pbo) && is_probability(r.prob_oos_loss));
                prop_assert_eq!(r.combinations, binomial(blocks, blocks / 2));
            }
        }

        #[test]
        fn trading_metrics_never_panic(r in series(20), periods in value()) {
            if let Ok(m) = trading_metrics(&r, periods) {
                prop_assert!(periods.is_finite() && periods > 0.0);
                prop_assert!(is_probability(m.win_rate) && m.max_drawdown <= 0.0);
            }
        }

        #[test]
        fn comparison_tests_give_p_values_or_errors(
            a in series(16),
            b in series(16),
            y in prop::collection::vec(0u8..2, 0..16),
            h in count(),
            n_train in count(),
            n_test in count(),
            b_count: u64,
            c_count: u64,
        ) {
            let ok = |r: Result<crate::compare::TestResult, ValidateError>| match r {
                Ok(r) => is_probability(r.p_value),
                Err(_) => true,
            };
            prop_assert!(ok(diebold_mariano(&a, h)));
            prop_assert!(ok(nadeau_bengio(&a, &b, n_train, n_test)));
            prop_assert!(ok(mcnemar(b_count, c_count)));
            prop_assert!(ok(wilcoxon(&a)));
            let y: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
            let m = y.len().min(a.len()).min(b.len());
            prop_assert!(ok(delong(&y[..m], &a[..m], &b[..m])));
        }

        #[test]
        fn paired_bootstrap_checks_its_settings(
            a in series(12),
            b in series(12),
            n_boot in prop_oneof![count(), 100usize..300],
            confidence in value(),
            seed: u64,
        ) {
            if let Ok(r) = paired_bootstrap(&a, &b, n_boot, confidence, seed) {
                prop_assert!((100..=crate::compare::MAX_BOOT).contains(&n_boot));
                prop_assert!(confidence > 0.0 && confidence < 1.0);
                prop_assert!(is_probability(r.p_value));
            }
        }

        #[test]
        fn drift_settings_are_checked(
            share in value(),
            threshold in value(),
            method in prop::sample::select(DriftMethod::ALL.to_vec()),
            reference in prop::collection::vec(-5.0f64..5.0, 1..30),
            current in prop::collection::vec(-5.0f64..5.0, 1..30),
        ) {
            if check_drift_share(share).is_ok() {
                prop_assert!(share > 0.0 && share <= 1.0);
            }
            let named = check_threshold(method, threshold);
            if named.is_ok() {
                prop_assert!(threshold.is_finite() && threshold >= 0.0);
            }
            let sample = ColumnSample::Numeric(&reference, &current);
            match column_drift_with("x", sample, method, Some(threshold)) {
                Ok(d) => prop_assert!(named.is_ok() && d.threshold == threshold),
                Err(ValidateError::InvalidParameter { name, .. }) => {
                    prop_assert_eq!(name, "threshold");
                }
                Err(_) => {}
            }
        }
    }
}
