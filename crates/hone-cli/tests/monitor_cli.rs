//! The resource monitor on a tracked `hone train`: MLflow's system-metric names, the run's
//! summary (peak RSS, CPU seconds), GPU figures through NVML loaded at run time (a stand-in
//! library with NVML's C ABI, compiled here: no GPU is needed), none without it, and a bad
//! interval refused.

mod common;

use std::path::Path;
use std::process::Command;

fn job(dir: &Path) -> std::path::PathBuf {
    let cfg = dir.join("mon.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"name = "mon"
[data]
path = "{}"
time_column = "date"
[data.derive]
price = "close"
returns = [1, 5, 20]
[target]
kind = "forward_return"
column = "close"
horizon = 5
[split]
scheme = "timeseries"
n_splits = 2
[model]
type = "lightgbm"
[model.params]
num_iterations = 600
num_threads = 1
"#,
            common::bundled_data()
        ),
    )
    .unwrap();
    cfg
}

fn train(dir: &Path, lib_dir: Option<&Path>, interval: &str) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hone"));
    c.args([
        "train",
        job(dir).to_str().unwrap(),
        "--no-outputs",
        "--json",
    ])
    .env("HONE_STORE_URI", common::store_in(dir))
    .env_remove("HONE_ARTIFACTS_URI")
    .env("HONE_SYSTEM_METRICS_INTERVAL", interval);
    match lib_dir {
        Some(d) => c.env("LD_LIBRARY_PATH", d),
        None => c.env_remove("LD_LIBRARY_PATH"),
    };
    c.output().unwrap()
}

fn metrics(dir: &Path, out: &std::process::Output) -> Vec<(String, f64)> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let store = hone_track::open_store(&common::store_in(dir)).unwrap();
    store
        .get_run(v["run_id"].as_str().unwrap())
        .unwrap()
        .metrics
        .into_iter()
        .map(|m| (m.key, m.point.value))
        .collect()
}

#[test]
fn runs_record_system_metrics_and_gpus_through_nvml_loaded_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    // Without NVML: the machine's and the process's figures, no GPU ones.
    let m = metrics(dir.path(), &train(dir.path(), None, "0.2"));
    let get = |m: &[(String, f64)], k: &str| m.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    for k in [
        "system/cpu_utilization_percentage",
        "system/system_memory_usage_megabytes",
        "system/system_memory_usage_percentage",
        "system/disk_usage_percentage",
        "system/network_receive_megabytes",
        "system/process_rss_megabytes",
        "system/peak_rss_megabytes",
        "system/process_cpu_seconds",
    ] {
        assert!(get(&m, k).is_some(), "{k} missing: {m:?}");
    }
    assert!(get(&m, "system/peak_rss_megabytes").unwrap() > 10.0);
    assert!(m.iter().all(|(k, _)| !k.contains("gpu")), "{m:?}");

    // With a library of NVML's ABI on the loader's path: per-GPU figures, and a call that
    // fails for one device leaves that figure out and nothing else.
    let lib_dir = dir.path().join("nvml");
    std::fs::create_dir_all(&lib_dir).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stand_in_nvml.c");
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(lib_dir.join("libnvidia-ml.so.1"))
        .arg(&src)
        .status()
        .expect("a C compiler (cc): LightGBM's build needs one too");
    assert!(built.success());
    let m = metrics(dir.path(), &train(dir.path(), Some(&lib_dir), "0.2"));
    assert_eq!(
        get(&m, "system/gpu_0_utilization_percentage"),
        Some(37.0),
        "{m:?}"
    );
    assert_eq!(
        get(&m, "system/gpu_0_memory_usage_megabytes"),
        Some(20000.0)
    );
    assert_eq!(get(&m, "system/gpu_0_memory_usage_percentage"), Some(25.0));
    assert_eq!(get(&m, "system/gpu_0_power_usage_watts"), Some(350.0));
    assert_eq!(get(&m, "system/gpu_0_power_usage_percentage"), Some(50.0));
    assert_eq!(get(&m, "system/gpu_1_utilization_percentage"), Some(37.0));
    assert_eq!(get(&m, "system/gpu_1_power_usage_watts"), None);

    // Off: no samples, no summary.
    let m = metrics(dir.path(), &train(dir.path(), None, "off"));
    assert!(m.iter().all(|(k, _)| !k.starts_with("system/")), "{m:?}");
    // A bad interval: one line naming the variable.
    let o = train(dir.path(), None, "fast");
    let err = common::one_error_line(&o, 2, "bad interval");
    assert!(err.contains("HONE_SYSTEM_METRICS_INTERVAL"), "{err}");
}
