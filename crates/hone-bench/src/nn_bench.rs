//! `hone-bench nn-epoch`: seconds per training epoch of hone's neural models on synthetic
//! windows, for `bench/nn/run.sh` to set beside PyTorch's (`bench/nn/torch_epoch.py`) on the
//! same shapes, batch size and thread count.

use hone_models::Matrix;
use hone_models::estimator::{SequenceView, TrainingSet};
use hone_models::observer::{Flow, StepReport};
use hone_validate::Task;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// `nn-epoch ARCH WINDOWS FEATURES SEQ_LEN EPOCHS`: trains ARCH (`lstm`, `gru`, `cnn1d`, `mlp`;
/// the benchmark's sizes: 2 × 64 recurrent, channels [64, 64] kernel 3, hidden [64, 64]) for
/// EPOCHS epochs on WINDOWS windows and prints each epoch's seconds and the median.
pub fn epoch(args: &[String]) {
    let get = |i: usize, what: &str| -> usize {
        args.get(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("nn-epoch: argument {} ({what})", i + 1))
    };
    let arch = args.first().map(String::as_str).unwrap_or("lstm");
    let (n, f, seq_len, epochs) = (
        get(1, "windows"),
        get(2, "features"),
        get(3, "seq_len"),
        get(4, "epochs"),
    );
    let mut rng = StdRng::seed_from_u64(1);
    let cols: Vec<Vec<f64>> = (0..f)
        .map(|_| (0..n).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect())
        .collect();
    let y: Vec<f64> = (0..n)
        .map(|i| f64::from(cols[0][i] + cols[1][i] > 0.0))
        .collect();
    let x = Matrix::from_columns(&cols);
    drop(cols);
    let cfg = match arch {
        "mlp" => serde_json::json!({"type": "mlp", "hidden": [64, 64]}),
        "cnn1d" => {
            serde_json::json!({"type": "cnn1d", "seq_len": seq_len, "channels": [64, 64], "kernel_size": 3})
        }
        other => {
            serde_json::json!({"type": other, "seq_len": seq_len, "hidden_size": 64, "num_layers": 2})
        }
    };
    let mut cfg = cfg;
    let o = cfg.as_object_mut().expect("object");
    o.insert("batch_size".into(), 256.into());
    o.insert("epochs".into(), epochs.into());
    o.insert("early_stopping_rounds".into(), 0.into());
    o.insert("checkpoint_every".into(), 0.into());
    o.insert("weight_decay".into(), 0.0.into());
    let est = hone_models::families::parse(&cfg).unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<usize> = (0..n).collect();
    let empty = Matrix::from_col_major(0, f, Vec::new());
    let data = TrainingSet {
        label_gap: 0,
        x: &empty,
        y: &y,
        valid: None,
        task: Task::Binary,
        seed: 1,
        feature_names: &[],
        sequence: Some(SequenceView {
            block: &x,
            rows: &rows,
            valid_rows: &[],
            starts: &[],
        }),
    };
    let mut seconds = Vec::new();
    let mut observer = |s: &StepReport| {
        if let Some(e) = s.epoch {
            println!(
                "epoch {} {:.3} s (loss {:.4})",
                s.step, e.seconds, e.train_loss
            );
            seconds.push(e.seconds);
        }
        Flow::Continue
    };
    est.fit(&data, &mut observer, false)
        .unwrap_or_else(|e| panic!("{e}"));
    seconds.sort_by(f64::total_cmp);
    println!(
        "hone {arch}: median epoch {:.3} s over {} epochs ({n} windows × {seq_len} × {f}, batch 256)",
        seconds[seconds.len() / 2],
        seconds.len()
    );
}
