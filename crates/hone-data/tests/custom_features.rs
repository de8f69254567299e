//! Custom features (`[data.derive.custom]`) on the bundled S&P 500 data equal pandas.

use std::collections::BTreeMap;
use std::path::Path;

use hone_data::dataset::BuildOptions;
use hone_data::{DataSpec, DeriveSpec, TargetKind, TargetSpec, table};

const FEATURES: [(&str, &str); 11] = [
    ("mom_20", "close / lag(close, 20) - 1"),
    ("spread", "(high - low) / close"),
    (
        "vol_z",
        "(volume - rolling_mean(volume, 20)) / rolling_std(volume, 20)",
    ),
    ("dlog", "diff(log(close), 1)"),
    ("pct_5", "pct_change(close, 5)"),
    ("med_5", "rolling_median(close, 5) / close"),
    (
        "hi_lo_10",
        "rolling_max(high, 10) / rolling_min(low, 10) - 1",
    ),
    ("sum_3", "rolling_sum(abs(dlog), 3)"),
    ("ewm_10", "ewm_mean(close, 10) / close - 1"),
    ("z_30", "zscore(close, 30)"),
    ("root", "sqrt(volume) * exp(-abs(dlog)) / 1e4"),
];

// pandas 3.1.1, scripts/reference/custom_features.py: each feature at 0-based file rows 29
// (the first row where all are defined), 30, 1000, 2500 and 5029, in the order of FEATURES.
const PANDAS: [(usize, [f64; 11]); 5] = [
    (
        29,
        [
            -0.0011180404652442189,
            0.017747460755745192,
            -1.9391620379095202,
            0.009498445198605765,
            -0.0015276337019282105,
            0.9905465225448176,
            0.05293386627993635,
            0.05336281825394362,
            -0.00020951359369525413,
            -0.3169424490411673,
            2.5327017482044036,
        ],
    ),
    (
        30,
        [
            -0.022340232428115003,
            0.023193887672178955,
            -0.8812163592826305,
            -0.01446958683362265,
            0.00648775133017887,
            1.0049835182597469,
            0.05293386627993635,
            0.043218543839408596,
            0.011745699015196731,
            -1.2672175809232176,
            2.6723242313003897,
        ],
    ),
    (
        1000,
        [
            -0.02589484956015986,
            0.018445288647374037,
            -1.6590455754319808,
            -0.0031535302329537274,
            -0.0016384123442320098,
            1.0031585078403882,
            0.03510083123670271,
            0.010446956487043302,
            0.007240219383517932,
            -1.120118050578877,
            2.676875587164188,
        ],
    ),
    (
        2500,
        [
            0.0003225741099384116,
            0.025376994188169976,
            -0.32707270516518694,
            0.011824007143774296,
            0.03273078109114991,
            0.9882456217277437,
            0.12612635283961704,
            0.07288183490070566,
            -0.025371169286474093,
            0.2359698072268554,
            7.6179123841728185,
        ],
    ),
    (
        5029,
        [
            -0.09404875931907997,
            0.01906077352844933,
            -0.7247438479378602,
            -0.0012423539542947282,
            0.007424787259215471,
            0.9927425880934554,
            0.12294061161802805,
            0.058171760397484285,
            0.004974002576627168,
            -1.2246617920935852,
            6.0773608506582955,
        ],
    ),
];

#[test]
fn custom_features_match_pandas_on_the_bundled_data() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/sp500_daily_1999_2018.csv");
    let spec = DataSpec {
        path: path.clone(),
        time_column: Some("date".into()),
        time_format: None,
        fill: None,
        features: None,
        exclude: vec![],
        derive: Some(DeriveSpec {
            price: "close".into(),
            volume: None,
            high_low: None,
            returns: vec![],
            rolling: vec![],
            rsi: vec![],
            volume_z: vec![],
            range: false,
            custom: FEATURES
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }),
        group_column: None,
        asset_column: None,
        cross_section: None,
    };
    let target = TargetSpec {
        kind: TargetKind::Direction,
        column: "close".into(),
        horizon: Some(1),
        threshold: 0.0,
        classes: 2,
        task: None,
    };
    let t = table::load(&path, &spec.text_columns()).unwrap();
    let ds = spec
        .build(
            &t,
            BuildOptions {
                target: Some(&target),
                require_increasing_time: true,
                allow_missing_features: false,
                trading_price: None,
            },
        )
        .unwrap();
    // The warm-up is pandas' first row where every feature is defined.
    assert_eq!(ds.row_offset, 29);
    assert!(
        ds.notes
            .iter()
            .any(|n| n.starts_with("dropped the first 29 row(s)")),
        "{:?}",
        ds.notes
    );
    for (row, want) in PANDAS {
        for ((name, _), w) in FEATURES.iter().zip(want) {
            let j = ds.feature_names.iter().position(|f| f == name).unwrap();
            let got = ds.features[j][row - ds.row_offset];
            // pandas' rolling sums run over the whole series; hone sums each window directly.
            assert!(
                (got - w).abs() <= 1e-9 * w.abs().max(1e-3),
                "{name} at row {row}: hone {got}, pandas {w}"
            );
        }
    }
}
