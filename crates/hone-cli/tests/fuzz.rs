//! Bounded fuzz-style tests, run in CI: seeded random bytes, truncations and mutations of valid
//! inputs are fed to every parser a user's file reaches (CSV, Parquet, TOML configs, search
//! spaces, LightGBM `model.txt`, `pipeline.json`, search filters), and random argument vectors
//! to the numeric flags of the CLI. Every case must end in `Ok` or a typed error: a panic fails
//! the test (the input is saved and named), an abort or a crash kills the test binary (which
//! fails it too), and a case that runs past its time limit is reported as a hang.
//!
//! The cases are deterministic (a fixed seed per target) so a failure reproduces; set
//! `HONE_FUZZ_CASES=N` to run N cases per target instead of the default, and `HONE_FUZZ_SEED`
//! to explore other inputs locally.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A small, seedable generator (splitmix64): deterministic across platforms and releases.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Strings that break naive number handling: overflow, non-finite values, signs, odd syntax.
const NASTY_NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "0.5",
    "-0.5",
    "1.5",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e308",
    "1e400",
    "-1e400",
    "1e-320",
    "4294967295",
    "4294967311",
    "2147483648",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "0x10",
    "1_000",
    "",
    " ",
    "abc",
    "\"1\"",
];

/// One mutation of `input`: truncation, byte flips, insertions, deletions, duplicated or
/// swapped ranges, or a number replaced by a nasty one. Often several are stacked.
fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    let rounds = 1 + rng.below(3);
    for _ in 0..rounds {
        let len = out.len();
        match rng.below(10) {
            0 => out.truncate(rng.below(len + 1)),
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(i..i, bytes);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let j = (i + 1 + rng.below(64)).min(len);
                out.drain(i..j);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let j = (i + 1 + rng.below(256)).min(len);
                let chunk = out[i..j].to_vec();
                let at = rng.below(out.len() + 1);
                out.splice(at..at, chunk);
            }
            5 | 8 | 9 => {
                // Replace the digits of one number with a nasty value.
                let starts: Vec<usize> = (0..len)
                    .filter(|&i| {
                        out[i].is_ascii_digit() && (i == 0 || !out[i - 1].is_ascii_digit())
                    })
                    .collect();
                if !starts.is_empty() {
                    let i = *rng.pick(&starts);
                    let mut j = i;
                    while j < out.len() && (out[j].is_ascii_digit() || out[j] == b'.') {
                        j += 1;
                    }
                    let nasty = rng.pick(NASTY_NUMBERS).as_bytes().to_vec();
                    out.splice(i..j, nasty);
                }
            }
            6 => {
                // Swap two lines.
                let text = String::from_utf8_lossy(&out).into_owned();
                let mut lines: Vec<&str> = text.split('\n').collect();
                if lines.len() > 2 {
                    let a = rng.below(lines.len());
                    let b = rng.below(lines.len());
                    lines.swap(a, b);
                    out = lines.join("\n").into_bytes();
                }
            }
            _ => {
                let n = rng.below(64);
                out = (0..n).map(|_| rng.next() as u8).collect();
            }
        }
    }
    out
}

fn cases(default: usize) -> usize {
    std::env::var("HONE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seed(target: u64) -> u64 {
    let base: u64 = std::env::var("HONE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    base.wrapping_mul(1_000_003).wrapping_add(target)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where a failing case's input is kept for reproduction (survives the test's temporary dirs).
fn failure_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// Runs `f` on every mutated input. A panic fails the test with the input saved; a case still
/// running after `limit` is a hang: a watchdog thread saves the input and ends the process, since
/// a stuck call cannot be interrupted from inside.
fn fuzz_bytes(
    name: &str,
    target: u64,
    corpus: &[Vec<u8>],
    n_cases: usize,
    limit: Duration,
    mut f: impl FnMut(&[u8]) -> bool,
) {
    use std::sync::mpsc;
    let mut rng = Rng::new(seed(target));
    let started = Instant::now();
    let mut accepted = 0;
    let (tx, rx) = mpsc::channel::<Option<(usize, PathBuf, Vec<u8>)>>();
    let watchdog_name = name.to_string();
    let watchdog = std::thread::spawn(move || {
        let mut current: Option<(usize, PathBuf, Vec<u8>)> = None;
        loop {
            match rx.recv_timeout(limit) {
                Ok(Some(case)) => current = Some(case),
                Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some((case, saved, input)) = &current {
                        let _ = std::fs::write(saved, input);
                        eprintln!(
                            "{watchdog_name}: case {case} hangs (over {limit:?}); input saved to {}",
                            saved.display()
                        );
                        std::process::exit(1);
                    }
                }
            }
        }
    });
    for case in 0..n_cases {
        let base = rng.pick(corpus).clone();
        let input = if case == 0 {
            base
        } else {
            mutate(&mut rng, &base)
        };
        let saved = failure_dir().join(format!("{name}-seed{}-case{case}.bin", seed(target)));
        tx.send(Some((case, saved.clone(), input.clone()))).unwrap();
        match catch_unwind(AssertUnwindSafe(|| f(&input))) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(_) => {
                let _ = std::fs::write(&saved, &input);
                panic!(
                    "{name}: case {case} panicked (input saved to {})",
                    saved.display()
                );
            }
        }
    }
    tx.send(None).unwrap();
    watchdog.join().unwrap();
    // How deep the cases went: an input that is always refused early tests little.
    eprintln!(
        "{name}: {n_cases} cases ({accepted} accepted all the way) in {:?}",
        started.elapsed()
    );
}

fn csv_corpus() -> Vec<Vec<u8>> {
    let full = std::fs::read_to_string(repo_root().join("examples/data/sp500_daily_1999_2018.csv"))
        .expect("bundled data");
    let head: Vec<&str> = full.lines().take(400).collect();
    let quoted: Vec<String> = head
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.to_string()
            } else {
                l.split(',')
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            }
        })
        .collect();
    vec![
        (head.join("\n") + "\n").into_bytes(),
        (quoted.join("\r\n") + "\r\n").into_bytes(),
    ]
}

/// A config whose data file is `data_file` (relative to the config) and a trading section, so
/// that a loaded dataset goes through feature derivation, targets and the trading price.
const FUZZ_CONFIG: &str = r#"
name = "fuzz"
seed = 1
[data]
path = "DATA"
time_column = "date"
[data.derive]
price = "close"
volume = "volume"
high_low = ["high", "low"]
returns = [1, 5]
rolling = [5, 20]
rsi = [14]
range = true
[target]
kind = "direction"
column = "close"
horizon = 1
[split]
scheme = "timeseries"
n_splits = 3
holdout = 0.2
[model]
type = "logistic"
"#;

#[test]
fn csv_files_never_crash_the_loader_or_the_dataset_builder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("case.csv");
    let cfg_path = dir.path().join("fuzz.toml");
    let cfg = hone_train::config::parse(&FUZZ_CONFIG.replace("DATA", "case.csv"), &cfg_path)
        .expect("fuzz config parses");
    fuzz_bytes(
        "csv",
        1,
        &csv_corpus(),
        cases(1500),
        Duration::from_secs(20),
        |bytes| {
            std::fs::write(&data, bytes).unwrap();
            hone_train::job::load_dataset(&cfg, true).is_ok()
        },
    );
}

#[test]
fn parquet_files_never_crash_the_loader() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("base.csv");
    std::fs::write(&csv, &csv_corpus()[0]).unwrap();
    let table = hone_data::table::load(&csv, &["date"]).expect("base csv");
    let names: Vec<String> = ["open", "high", "low", "close", "volume"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let columns: Vec<Vec<f64>> = names
        .iter()
        .map(|n| table.numeric(n).expect("numeric column").to_vec())
        .collect();
    let mut corpus = Vec::new();
    for zstd in [true, false] {
        let pq = dir.path().join(format!("base-{zstd}.parquet"));
        hone_data::table::write_parquet(&pq, &names, &columns, zstd).expect("write parquet");
        corpus.push(std::fs::read(&pq).unwrap());
    }
    let case = dir.path().join("case.parquet");
    fuzz_bytes(
        "parquet",
        2,
        &corpus,
        cases(1500),
        Duration::from_secs(20),
        |bytes| {
            std::fs::write(&case, bytes).unwrap();
            hone_data::table::load(&case, &[]).is_ok()
        },
    );
}

#[test]
fn config_files_never_crash_the_parser_or_the_job_preparation() {
    let examples = repo_root().join("examples");
    let mut corpus = Vec::new();
    for entry in std::fs::read_dir(&examples).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            corpus.push(std::fs::read(&p).unwrap());
        }
    }
    corpus.sort();
    // Configs sit in the examples folder so that their data paths resolve.
    let cfg_path = examples.join("fuzz-case.toml");
    let mut prepared = 0;
    fuzz_bytes(
        "config",
        3,
        &corpus,
        cases(1500),
        Duration::from_secs(20),
        |bytes| {
            let Ok(text) = std::str::from_utf8(bytes) else {
                return false;
            };
            let Ok(cfg) = hone_train::config::parse(text, &cfg_path) else {
                return false;
            };
            // Preparing loads the bundled data and builds the folds: the part of a config that
            // reaches the splitters. Bounded so the test stays fast.
            prepared += 1;
            prepared > 300 || hone_train::job::prepare(&cfg, &mut |_| {}).is_ok()
        },
    );
}

#[test]
fn search_spaces_never_crash_the_parser() {
    let tune =
        std::fs::read_to_string(repo_root().join("examples/sp500_direction_tune.toml")).unwrap();
    let space: toml::Table = toml::from_str::<toml::Table>(&tune).unwrap()["search"]["space"]
        .as_table()
        .unwrap()
        .clone();
    let base = toml::to_string(&space).unwrap().into_bytes();
    let extra = br#"
[a]
type = "int"
low = 1
high = 9223372036854775807
[b]
type = "float"
low = 1e-300
high = 1e300
log = true
[c]
type = "categorical"
choices = ["x", "y", 3]
[d]
type = "float"
low = 0.0
high = 1.0
step = 0.1
when = { c = ["x"] }
"#
    .to_vec();
    fuzz_bytes(
        "space",
        4,
        &[base, extra],
        cases(2000),
        Duration::from_secs(20),
        |bytes| {
            std::str::from_utf8(bytes)
                .is_ok_and(|text| hone_tune::space::SearchSpace::from_toml_str(text).is_ok())
        },
    );
}

#[test]
fn search_filters_never_crash_the_parser() {
    let corpus: Vec<Vec<u8>> = [
        "metrics.auc > 0.5 AND params.num_leaves = '15'",
        "tags.`hone.study` = 'x' and attributes.status IN ('FINISHED', 'FAILED')",
        "params.lr LIKE '%0.1%' AND metrics.\"cv auc\" <= -1e10",
        "attributes.run_name ILIKE 'a_b' AND tags.t IS NOT NULL",
        "datasets.digest = 'abc' AND metrics.x != 1.5e-3",
        "attributes.start_time >= 1700000000000",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    fuzz_bytes(
        "filter",
        5,
        &corpus,
        cases(3000),
        Duration::from_secs(20),
        |bytes| {
            let text = String::from_utf8_lossy(bytes);
            let order = hone_track::filter::parse_order_by(&text).is_ok();
            hone_track::filter::parse_filter(&text).is_ok() || order
        },
    );
}

/// What a CLI case may end in: success, a data/runtime error, bad usage, or a failed gate —
/// never an internal error (70), a Rust panic (101), an abort or a signal.
fn check_exit(args: &[String], out: &std::process::Output) {
    let code = out.status.code();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(code, Some(0..=3)),
        "hone {} ended with {:?}: {err}",
        args.join(" "),
        out.status
    );
    if code != Some(0) {
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(
            lines.len(),
            1,
            "hone {}: expected one error line, got: {err}",
            args.join(" ")
        );
    }
}

/// Runs the binary with a time limit; a case past it is a hang.
fn run_hone(args: &[String], cwd: &Path, limit: Duration) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args(args)
        .current_dir(cwd)
        .env("HONE_STORE_URI", cwd.join("store"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hone");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hone {} hung (over {limit:?})", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn random_numeric_flags_never_crash_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = Rng::new(seed(6));
    // Small, valid inputs, so that a case gets past reading its files to the numbers.
    let returns: String = std::iter::once("ret".to_string())
        .chain((0..60).map(|i| format!("{}", ((i * 37 % 11) as f64 - 5.0) / 1000.0)))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(d.join("returns.csv"), returns + "\n").unwrap();
    let pairs: String = std::iter::once("a,b".to_string())
        .chain((0..40).map(|i| format!("{},{}", (i % 7) as f64 / 10.0, (i % 5) as f64 / 10.0)))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(d.join("ab.csv"), pairs + "\n").unwrap();
    let preds: String = std::iter::once("y_true,pred_a,pred_b".to_string())
        .chain((0..40).map(|i| format!("{},{},{}", i % 2, (i / 2) % 2, (i / 3) % 2)))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(d.join("preds.csv"), preds + "\n").unwrap();
    let matrix: String = std::iter::once("c1,c2,c3,c4".to_string())
        .chain((0..64).map(|i| {
            format!(
                "{},{},{},{}",
                (i % 5) as f64 / 100.0 - 0.02,
                (i % 3) as f64 / 100.0 - 0.01,
                (i % 7) as f64 / 100.0 - 0.03,
                (i % 4) as f64 / 100.0 - 0.015
            )
        }))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(d.join("matrix.csv"), matrix + "\n").unwrap();
    let csv = repo_root().join("examples/data/sp500_daily_1999_2018.csv");
    let csv = csv.to_string_lossy().into_owned();
    // A study with a few asked trials, so that `tell` and `report` cases reach the store.
    std::fs::write(
        d.join("space.toml"),
        "[x]\ntype = \"float\"\nlow = 0.0\nhigh = 1.0\n[n]\ntype = \"int\"\nlow = 1\nhigh = 9\n",
    )
    .unwrap();
    let setup: [&[&str]; 4] = [
        &[
            "study",
            "create",
            "--name",
            "fz",
            "--space",
            "space.toml",
            "--sampler",
            "random",
        ],
        &["study", "ask", "--name", "fz"],
        &["study", "ask", "--name", "fz"],
        &["study", "ask", "--name", "fz"],
    ];
    for args in setup {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let out = run_hone(&args, d, Duration::from_secs(20));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    // (fixed arguments, numeric flags to fill in)
    let commands: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["split", "--scheme", "kfold"],
            vec!["--n-samples", "--n-splits"],
        ),
        (
            vec!["split", "--scheme", "timeseries"],
            vec![
                "--n-samples",
                "--n-splits",
                "--gap",
                "--test-size",
                "--max-train-size",
            ],
        ),
        (
            vec!["split", "--scheme", "purged_kfold"],
            vec![
                "--n-samples",
                "--n-splits",
                "--label-horizon",
                "--embargo-pct",
            ],
        ),
        (
            vec!["split", "--scheme", "cpcv"],
            vec![
                "--n-samples",
                "--n-groups",
                "--n-test-groups",
                "--label-horizon",
                "--embargo-pct",
            ],
        ),
        (
            vec!["split", "--scheme", "walk_forward"],
            vec![
                "--n-samples",
                "--train-size",
                "--test-size",
                "--step",
                "--gap",
            ],
        ),
        (
            vec!["split", "--scheme", "monte_carlo"],
            vec![
                "--n-samples",
                "--n-splits",
                "--test-size",
                "--purged-size",
                "--embargo-size",
            ],
        ),
        (
            vec!["stats", "psr"],
            vec![
                "--sr",
                "--n-obs",
                "--skew",
                "--kurtosis",
                "--benchmark",
                "--alpha",
            ],
        ),
        (
            vec!["stats", "psr", "--returns", "returns.csv"],
            vec!["--benchmark", "--alpha"],
        ),
        (
            vec!["stats", "dsr"],
            vec![
                "--sr",
                "--n-obs",
                "--skew",
                "--kurtosis",
                "--n-trials",
                "--sr-variance",
            ],
        ),
        (
            vec!["stats", "trading", "--returns", "returns.csv"],
            vec!["--periods-per-year"],
        ),
        (
            vec!["stats", "bootstrap", "--input", "ab.csv"],
            vec!["--n-boot", "--confidence", "--seed"],
        ),
        (
            vec!["stats", "nb-ttest", "--input", "ab.csv"],
            vec!["--n-train", "--n-test"],
        ),
        (
            vec!["stats", "dm", "--input", "preds.csv"],
            vec!["--horizon"],
        ),
        (
            vec!["stats", "pbo", "--matrix", "matrix.csv"],
            vec!["--blocks"],
        ),
        (
            vec!["drift", "--reference", &csv, "--current", &csv],
            vec!["--drift-share", "--threshold"],
        ),
        (
            vec!["study", "report", "--name", "fz"],
            vec!["--trial", "--step", "--value"],
        ),
        (
            vec!["study", "tell", "--name", "fz"],
            vec!["--trial", "--value"],
        ),
        (
            vec!["study", "tell", "--name", "fz", "--state", "pruned"],
            vec!["--trial"],
        ),
        (
            vec![
                "study",
                "enqueue",
                "--name",
                "fz",
                "--params",
                r#"{"x": 0.5, "n": 3}"#,
            ],
            vec!["--values"],
        ),
        (
            vec![
                "study",
                "create",
                "--space",
                "space.toml",
                "--sampler",
                "random",
                "--name",
                "g",
            ],
            vec!["--seed"],
        ),
    ];
    let n_cases = cases(600);
    let started = Instant::now();
    for case in 0..n_cases {
        let (fixed, flags) = rng.pick(&commands);
        let mut args: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
        for flag in flags {
            // Sometimes leave a flag out, so defaults and missing values are exercised too.
            if rng.below(5) == 0 {
                continue;
            }
            let value = if rng.below(3) == 0 {
                rng.below(40).to_string()
            } else {
                rng.pick(NASTY_NUMBERS).to_string()
            };
            args.push(format!("{flag}={value}"));
        }
        if rng.below(2) == 0 {
            args.push("--json".into());
        }
        let out = run_hone(&args, d, Duration::from_secs(20));
        check_exit(&args, &out);
        let _ = case;
    }
    eprintln!("cli: {n_cases} cases in {:?}", started.elapsed());
}

/// Trains a small LightGBM model with the CLI (no tracking) and returns its output directory and
/// a data file to predict.
fn trained_model(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("data.csv");
    std::fs::write(&data, &csv_corpus()[0]).unwrap();
    let cfg = dir.join("model.toml");
    let text = FUZZ_CONFIG.replace("DATA", "data.csv").replace(
        "type = \"logistic\"",
        "type = \"lightgbm\"\n[model.params]\nnum_iterations = 20\nnum_leaves = 7\nmin_data_in_leaf = 10",
    );
    std::fs::write(&cfg, text).unwrap();
    let out = dir.join("model");
    let o = Command::new(env!("CARGO_BIN_EXE_hone"))
        .args([
            "train",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--no-track",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (out, data)
}

/// Copies a model directory so a case can damage one file of it.
fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn damaged_model_files_never_reach_lightgbm_unchecked() {
    let dir = tempfile::tempdir().unwrap();
    let (model, data) = trained_model(dir.path());
    let case_dir = dir.path().join("case");
    let model_txt = std::fs::read(model.join("pipeline/model.txt")).unwrap();
    // Without its checksum (as a directory saved before checksums existed) a damaged model.txt
    // goes past the digest to the structural check and, if that accepts it, to LightGBM itself.
    let pipeline: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model.join("pipeline/pipeline.json")).unwrap())
            .unwrap();
    let mut unsummed = pipeline.clone();
    unsummed.as_object_mut().unwrap().remove("files");
    let unsummed = serde_json::to_vec(&unsummed).unwrap();
    let mut with_digest = true;
    fuzz_bytes(
        "model.txt",
        7,
        &[model_txt],
        cases(600),
        Duration::from_secs(20),
        |bytes| {
            copy_dir(&model, &case_dir);
            std::fs::write(case_dir.join("pipeline/model.txt"), bytes).unwrap();
            with_digest = !with_digest;
            if !with_digest {
                std::fs::write(case_dir.join("pipeline/pipeline.json"), &unsummed).unwrap();
            }
            if let Ok(text) = std::str::from_utf8(bytes) {
                let _ = hone_models::lgbm_text::validate(text);
            }
            hone_train::predict::predict(&case_dir, &data).is_ok()
        },
    );
}

#[test]
fn damaged_model_manifests_never_crash_loading() {
    let dir = tempfile::tempdir().unwrap();
    let (model, data) = trained_model(dir.path());
    let case_dir = dir.path().join("case");
    for (target, file) in [(8, "pipeline/pipeline.json"), (9, "model.json")] {
        fuzz_bytes(
            file,
            target,
            &[std::fs::read(model.join(file)).unwrap()],
            cases(400),
            Duration::from_secs(20),
            |bytes| {
                copy_dir(&model, &case_dir);
                std::fs::write(case_dir.join(file), bytes).unwrap();
                hone_train::predict::predict(&case_dir, &data).is_ok()
            },
        );
    }
}
