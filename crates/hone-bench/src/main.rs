//! `hone-bench`: the Rust side of `bench/run.sh`.
//!
//! - `gen-table ROWS COLS CSV PARQUET`: a seeded numeric table, written as CSV and Parquet
//!   (zstd at PARQUET, snappy beside it as `*.snappy.parquet`).
//! - `load FILE REPEAT`: time `hone_data::table::load` on a file (JSON on stdout).
//! - `gen-train ROWS COLS BIN`: a seeded binary-classification problem as raw little-endian f64
//!   (`X` row-major, then `y`), with `BIN.json` holding the shape; Python reads the same bytes.
//! - `train BIN ROUNDS THREADS REPEAT`: time LightGBM training through hone (dataset construction
//!   included, as in `lightgbm.train`), JSON on stdout.
//! - `store-ingest URI ARTIFACTS POINTS`: metric points/s through the tracking library, one call
//!   per point and in batches (flush included), JSON on stdout.
//! - `store-search URI RUNS`: fills a store with RUNS runs (10 params, 10 metrics each), then
//!   times a metric filter + order_by search (median of 10), JSON on stdout.
//! - `tune-efficiency [--samplers ..] [--functions ..] [--seeds ..] [--trials ..]
//!   [--gp-trials ..] [--checkpoints ..] [--jobs ..] [--json]`: hone-tune samplers' best value
//!   after N trials on Branin, Hartmann6, Rosenbrock-10 and Ackley-10 (see `bench/tune/run.sh`).
//! - `tune-cost [--sampler ..] [--trials ..] [--at ..] [--seeds ..] [--json]`: a sampler's time
//!   per suggestion on 10-D Rosenbrock.
//! - `panel-scale ASSETS DAYS FEATURES DIR [ROUNDS]` and `panel-ic FILE`: panels at scale and
//!   the cross-sectional IC (see `bench/panel/run.sh` and [`panel_bench`]).

mod nn_bench;
mod panel_bench;
mod queue_bench;
mod tracking_cost;
mod tune_bench;

use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use hone_models::Matrix;
use hone_models::gbm::GbmSpec;
use hone_validate::Task;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;

fn normal(rng: &mut StdRng) -> f64 {
    // Box–Muller; one draw per call keeps the stream simple.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn die(msg: &str) -> ! {
    eprintln!("hone-bench: {msg}");
    std::process::exit(2)
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> T {
    args.get(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| die(&format!("argument {i} ({what}) missing or invalid")))
}

fn gen_table(rows: usize, cols: usize, csv: &Path, parquet: &Path) {
    let mut rng = StdRng::seed_from_u64(1);
    let names: Vec<String> = (0..cols).map(|j| format!("x{j}")).collect();
    let mut columns = vec![Vec::with_capacity(rows); cols];
    for _ in 0..rows {
        for c in columns.iter_mut() {
            // Six decimals, as a typical price/feature export.
            c.push((normal(&mut rng) * 1e6).round() / 1e6);
        }
    }
    let mut w = BufWriter::new(std::fs::File::create(csv).unwrap_or_else(|e| die(&e.to_string())));
    writeln!(w, "{}", names.join(",")).expect("write");
    let mut line = String::new();
    for i in 0..rows {
        line.clear();
        for (j, c) in columns.iter().enumerate() {
            if j > 0 {
                line.push(',');
            }
            line.push_str(&format!("{:.6}", c[i]));
        }
        line.push('\n');
        w.write_all(line.as_bytes()).expect("write");
    }
    w.flush().expect("flush");
    hone_data::table::write_parquet(parquet, &names, &columns, true)
        .unwrap_or_else(|e| die(&e.to_string()));
    let snappy = parquet.with_extension("snappy.parquet");
    hone_data::table::write_parquet(&snappy, &names, &columns, false)
        .unwrap_or_else(|e| die(&e.to_string()));
}

fn load(path: &Path, repeat: usize) {
    let mut seconds = Vec::new();
    let mut shape = (0, 0);
    for _ in 0..repeat {
        let t = Instant::now();
        let table = hone_data::table::load(path, &[]).unwrap_or_else(|e| die(&e.to_string()));
        seconds.push(t.elapsed().as_secs_f64());
        shape = (table.n_rows, table.columns.len());
    }
    println!(
        "{}",
        json!({"rows": shape.0, "cols": shape.1, "seconds": seconds})
    );
}

fn gen_train(rows: usize, cols: usize, bin: &Path) {
    let mut rng = StdRng::seed_from_u64(2);
    let mut x = vec![0.0; rows * cols];
    for v in x.iter_mut() {
        *v = normal(&mut rng);
    }
    // A noisy nonlinear label: interactions, a sine and a square.
    let y: Vec<f64> = (0..rows)
        .map(|i| {
            let r = &x[i * cols..(i + 1) * cols];
            let s = r[0] * r[1] + (2.0 * r[2]).sin() + 0.5 * r[3] * r[3] - 0.5
                + 0.3 * r[4]
                + 0.5 * normal(&mut rng);
            f64::from(u8::from(s > 0.0))
        })
        .collect();
    let mut w = BufWriter::new(std::fs::File::create(bin).unwrap_or_else(|e| die(&e.to_string())));
    for v in x.iter().chain(&y) {
        w.write_all(&v.to_le_bytes()).expect("write");
    }
    w.flush().expect("flush");
    let meta = bin.with_extension("json");
    std::fs::write(meta, json!({"rows": rows, "cols": cols}).to_string()).expect("write");
}

fn train(bin: &Path, rounds: usize, threads: usize, repeat: usize) {
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(bin.with_extension("json"))
            .unwrap_or_else(|e| die(&e.to_string())),
    )
    .expect("shape json");
    let (rows, cols) = (
        meta["rows"].as_u64().unwrap() as usize,
        meta["cols"].as_u64().unwrap() as usize,
    );
    let bytes = std::fs::read(bin).unwrap_or_else(|e| die(&e.to_string()));
    let values: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    let x = Matrix::from_row_major(rows, cols, &values[..rows * cols]);
    let y = &values[rows * cols..];
    let params = [
        ("num_iterations", json!(rounds)),
        ("learning_rate", json!(0.1)),
        ("num_leaves", json!(31)),
        ("max_bin", json!(255)),
        ("num_threads", json!(threads)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let spec = GbmSpec {
        boosting: "gbdt".into(),
        params,
        early_stopping_rounds: None,
        validation_fraction: 0.0,
    };
    let mut seconds = Vec::new();
    let mut first = Vec::new();
    for _ in 0..repeat {
        let t = Instant::now();
        let data = hone_models::TrainingSet {
            label_gap: 0,
            x: &x,
            y,
            valid: None,
            task: Task::Binary,
            seed: 1,
            feature_names: &[],
            sequence: None,
        };
        let m = spec
            .fit(&data, &mut hone_models::observer::Unobserved)
            .unwrap_or_else(|e| die(&e.to_string()));
        seconds.push(t.elapsed().as_secs_f64());
        first = m
            .predict(&x.select_rows(&(0..1000).collect::<Vec<_>>()), 1)
            .expect("predict");
    }
    println!(
        "{}",
        json!({"seconds": seconds, "predictions_first1000": first})
    );
}

fn store_ingest(uri: &str, artifacts: &Path, points: usize) {
    let tracker = hone_track::Tracker::open(uri, artifacts).unwrap_or_else(|e| die(&e.to_string()));
    let run = tracker
        .start_run("bench-ingest", Some("single"), None, vec![])
        .unwrap_or_else(|e| die(&e.to_string()));
    let t = Instant::now();
    for i in 0..points {
        run.log_metric("loss", 1.0 / (i + 1) as f64, i as i64)
            .expect("log");
    }
    tracker.flush().unwrap_or_else(|e| die(&e.to_string()));
    let single = points as f64 / t.elapsed().as_secs_f64();
    let run2 = tracker
        .start_run("bench-ingest", Some("batched"), None, vec![])
        .unwrap_or_else(|e| die(&e.to_string()));
    let series: Vec<f64> = (0..1000).map(|i| i as f64 * 0.5).collect();
    let batches = (points / 1000).max(1);
    let t = Instant::now();
    for b in 0..batches {
        run2.log_series("curve", &series, (b * 1000) as i64)
            .expect("log");
    }
    tracker.flush().unwrap_or_else(|e| die(&e.to_string()));
    let batched = (batches * 1000) as f64 / t.elapsed().as_secs_f64();
    run.end(hone_track::RunStatus::Finished).ok();
    run2.end(hone_track::RunStatus::Finished).ok();
    println!(
        "{}",
        json!({"points": points, "single_points_per_s": single, "batched_points_per_s": batched})
    );
}

fn store_search(uri: &str, runs: usize) {
    use hone_track::store::{Batch, NewRun, SearchRequest};
    use hone_track::{Metric, MetricPoint};
    let store = hone_track::open_store(uri).unwrap_or_else(|e| die(&e.to_string()));
    let exp = store
        .get_or_create_experiment(&format!("bench-search-{runs}"))
        .unwrap_or_else(|e| die(&e.to_string()));
    let mut rng = StdRng::seed_from_u64(3);
    let t = Instant::now();
    let mut pending = Vec::new();
    // A store filled by an earlier run is reused as it is.
    let filled = !store
        .search_runs(&SearchRequest {
            experiment_ids: vec![exp.clone()],
            max_results: 1,
            ..Default::default()
        })
        .unwrap_or_else(|e| die(&e.to_string()))
        .0
        .is_empty();
    for i in 0..if filled { 0 } else { runs } {
        let info = store
            .create_run(NewRun {
                experiment_id: exp.clone(),
                name: Some(format!("run-{i}")),
                ..Default::default()
            })
            .unwrap_or_else(|e| die(&e.to_string()));
        pending.push(Batch {
            run_id: info.run_id,
            metrics: (0..10)
                .map(|m| Metric {
                    key: format!("m{m}"),
                    point: MetricPoint {
                        value: rng.random::<f64>(),
                        timestamp: 0,
                        step: 0,
                    },
                })
                .collect(),
            params: (0..10)
                .map(|p| (format!("p{p}"), format!("{}", rng.random_range(0..50))))
                .collect(),
            tags: vec![],
        });
        if pending.len() == 1000 {
            store
                .log_batches(&pending)
                .unwrap_or_else(|e| die(&e.to_string()));
            pending.clear();
        }
    }
    store
        .log_batches(&pending)
        .unwrap_or_else(|e| die(&e.to_string()));
    let fill = t.elapsed().as_secs_f64();
    let req = SearchRequest {
        experiment_ids: vec![exp],
        filter: "metrics.m0 > 0.5 AND params.p1 = '7'".into(),
        order_by: vec!["metrics.m1 DESC".into()],
        max_results: 100,
        ..Default::default()
    };
    let req_metric_only = SearchRequest {
        filter: "metrics.m0 > 0.5".into(),
        ..req.clone()
    };
    let mut times = Vec::new();
    let mut times_metric = Vec::new();
    let mut found = 0;
    for _ in 0..10 {
        let t = Instant::now();
        found = store
            .search_runs(&req)
            .unwrap_or_else(|e| die(&e.to_string()))
            .0
            .len();
        times.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        store
            .search_runs(&req_metric_only)
            .unwrap_or_else(|e| die(&e.to_string()));
        times_metric.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    times_metric.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"runs": runs, "fill_seconds": fill, "found": found,
               "search_metric_param_order_ms": times[5] * 1e3,
               "search_metric_order_ms": times_metric[5] * 1e3})
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen-table") => gen_table(
            arg(&args, 2, "rows"),
            arg(&args, 3, "cols"),
            Path::new(&args[4]),
            Path::new(&args[5]),
        ),
        Some("load") => load(Path::new(&args[2]), arg(&args, 3, "repeat")),
        Some("gen-train") => gen_train(
            arg(&args, 2, "rows"),
            arg(&args, 3, "cols"),
            Path::new(&args[4]),
        ),
        Some("train") => train(
            Path::new(&args[2]),
            arg(&args, 3, "rounds"),
            arg(&args, 4, "threads"),
            arg(&args, 5, "repeat"),
        ),
        Some("store-ingest") => {
            store_ingest(&args[2], Path::new(&args[3]), arg(&args, 4, "points"))
        }
        Some("store-search") => store_search(&args[2], arg(&args, 3, "runs")),
        Some("tune-efficiency") => tune_bench::efficiency(&args[2..]).unwrap_or_else(|e| die(&e)),
        Some("tune-cost") => tune_bench::cost(&args[2..]).unwrap_or_else(|e| die(&e)),
        Some("tune-tracking") => tracking_cost::tracking(&args[2..]).unwrap_or_else(|e| die(&e)),
        Some("panel-scale") => panel_bench::scale(&args[2..]),
        Some("panel-ic") => panel_bench::ic(&args[2..]),
        Some("nn-epoch") => nn_bench::epoch(&args[2..]),
        Some("queue-claim") => queue_bench::claim(&args[2..]),
        _ => die(
            "usage: hone-bench gen-table|load|gen-train|train|store-ingest|store-search|tune-efficiency|tune-cost|tune-tracking|panel-scale|panel-ic|nn-epoch|queue-claim ... (see bench/run.sh, bench/tune/run.sh, bench/panel/run.sh, bench/nn/run.sh, bench/queue/run.sh)",
        ),
    }
}
