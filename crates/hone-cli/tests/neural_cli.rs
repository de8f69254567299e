//! `hone train` with a neural model: killed with SIGKILL mid-training, the same command resumes
//! from the fit's last checkpoint and ends with the weights and predictions of a run that was
//! never interrupted.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn config(dir: &Path) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sp500_lstm.toml"),
    )
    .unwrap()
    .replace(
        "path = \"data/sp500_daily_1999_2018.csv\"",
        &format!("path = \"{}\"", common::bundled_data()),
    )
    .replace("n_splits = 5", "n_splits = 2")
    .replace("epochs = 30", "epochs = 25")
    .replace("early_stopping_rounds = 5 ", "early_stopping_rounds = 0 ")
    .replace(
        "validation_fraction = 0.2\n",
        "validation_fraction = 0.2\ndropout = 0.1\ncheckpoint_dir = \"ck\"\n",
    );
    let path = dir.join("lstm.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn train(dir: &Path, cfg: &str, out: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hone"));
    c.args(["train", cfg, "--out", out])
        .env("HONE_STORE_URI", common::store_in(dir))
        .env_remove("HONE_ARTIFACTS_URI")
        .current_dir(dir);
    c
}

#[test]
fn a_killed_train_resumes_to_the_uninterrupted_weights() {
    let clean_dir = tempfile::tempdir().unwrap();
    let cfg = config(clean_dir.path());
    let o = train(clean_dir.path(), &cfg, "out").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let dir = tempfile::tempdir().unwrap();
    let cfg2 = config(dir.path());
    let mut child = train(dir.path(), &cfg2, "killed")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until a fit has checkpointed a few epochs, then SIGKILL.
    let ck = dir.path().join("ck");
    let started = Instant::now();
    loop {
        let n = std::fs::read_dir(&ck).map(|d| d.count()).unwrap_or(0);
        if n > 0 && started.elapsed() > Duration::from_millis(300) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        std::fs::read_dir(&ck).unwrap().count() > 0,
        "the checkpoint survives the kill"
    );

    let o = train(dir.path(), &cfg2, "resumed").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read = |d: &Path, f: &str| std::fs::read(d.join(f)).unwrap();
    assert_eq!(
        read(&dir.path().join("resumed"), "model.safetensors"),
        read(&clean_dir.path().join("out"), "model.safetensors"),
        "the resumed run's final weights differ"
    );
    assert_eq!(
        read(&dir.path().join("resumed"), "oof_predictions.csv"),
        read(&clean_dir.path().join("out"), "oof_predictions.csv")
    );
    // Finished fits leave no checkpoint behind.
    assert_eq!(std::fs::read_dir(&ck).unwrap().count(), 0);
}

/// The same `hone train` on one thread and on two gives byte-identical weights and
/// predictions: no sum in training depends on how the work is split between threads.
#[test]
fn weights_do_not_depend_on_the_thread_count() {
    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(dir.path());
        let text = std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("type = \"lstm\"", "type = \"gru\"")
            .replace("epochs = 25", "epochs = 3");
        std::fs::write(&cfg, text).unwrap();
        let o = train(dir.path(), &cfg, "out")
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let read = |f: &str| std::fs::read(dir.path().join("out").join(f)).unwrap();
        outs.push((read("model.safetensors"), read("oof_predictions.csv")));
    }
    assert!(
        outs[0] == outs[1],
        "1 and 2 threads trained different weights"
    );
}
