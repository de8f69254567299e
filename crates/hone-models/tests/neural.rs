//! The neural family (`mlp`, `cnn1d`, `lstm`, `gru`): windows that read only past rows,
//! bit-identical reruns, early stopping that keeps the best epoch, resume after a crash to the
//! uninterrupted run's weights, save/load, and PyTorch parity of every layer type and of the
//! saved weights (through `scripts/reference/nn_parity.py` in `.tools/torch-venv`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hone_models::estimator::{Estimator, Fitted, MemorySink, SequenceView, TrainingSet};
use hone_models::families::neural::NeuralModel;
use hone_models::observer::{Flow, StepReport, Unobserved};
use hone_models::pipeline::{FitOptions, FittedPipeline, PipelineSpec};
use hone_models::{Matrix, ModelSpec};
use hone_validate::Task;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

fn estimator(cfg: Value) -> Arc<dyn Estimator> {
    hone_models::families::parse(&cfg).expect("valid [model]")
}

/// `n` rows of `f` standard-normal-ish features; the binary target at t depends on the feature
/// 0 two rows back and feature 1 now (learnable only through a window).
fn series(n: usize, f: usize, seed: u64) -> (Matrix, Vec<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let cols: Vec<Vec<f64>> = (0..f)
        .map(|_| (0..n).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect())
        .collect();
    let y = (0..n)
        .map(|t| {
            let past = if t >= 2 { cols[0][t - 2] } else { 0.0 };
            f64::from(past + 0.5 * cols[1][t] > 0.0)
        })
        .collect();
    (Matrix::from_columns(&cols), y)
}

/// Fits `est` on all rows of `x` as one series (the last `valid` rows as the early-stopping
/// slice).
fn fit_series(
    est: &dyn Estimator,
    x: &Matrix,
    y: &[f64],
    task: Task,
    seed: u64,
    valid: usize,
    observer: &mut dyn hone_models::TrainObserver,
) -> Box<dyn Fitted> {
    let n = x.n_rows();
    let fit_rows: Vec<usize> = (0..n - valid).collect();
    let valid_rows: Vec<usize> = (n - valid..n).collect();
    let empty = Matrix::from_col_major(0, x.n_cols(), Vec::new());
    let data = TrainingSet {
        label_gap: 0,
        x: &empty,
        y: &y[..n - valid],
        valid: Some((&empty, &y[n - valid..])),
        task,
        seed,
        feature_names: &[],
        sequence: Some(SequenceView {
            block: x,
            rows: &fit_rows,
            valid_rows: &valid_rows,
            starts: &[],
        }),
    };
    est.fit(&data, observer, false).expect("fit").model
}

fn families() -> Vec<(&'static str, Value)> {
    let common =
        json!({"epochs": 3, "batch_size": 32, "checkpoint_every": 0, "early_stopping_rounds": 0});
    let with = |extra: Value| {
        let mut v = common.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    vec![
        (
            "mlp",
            with(json!({"type": "mlp", "hidden": [8, 4], "activation": "gelu"})),
        ),
        (
            "cnn1d causal, dilated",
            with(
                json!({"type": "cnn1d", "seq_len": 6, "channels": [5, 4], "kernel_size": 3, "dilation": 2}),
            ),
        ),
        (
            "cnn1d same",
            // Two convolutions of 5 with "same" padding reach 4 rows back from the last position.
            with(
                json!({"type": "cnn1d", "seq_len": 5, "channels": [4, 4], "kernel_size": 5, "padding": "same", "activation": "silu"}),
            ),
        ),
        (
            "lstm 2 layers bidirectional",
            with(
                json!({"type": "lstm", "seq_len": 5, "hidden_size": 6, "num_layers": 2, "bidirectional": true, "dropout": 0.2}),
            ),
        ),
        (
            "gru 2 layers",
            with(json!({"type": "gru", "seq_len": 5, "hidden_size": 6, "num_layers": 2})),
        ),
        (
            "gru bidirectional",
            with(json!({"type": "gru", "seq_len": 4, "hidden_size": 5, "bidirectional": true})),
        ),
    ]
}

fn seq_len_of(cfg: &Value) -> usize {
    if cfg["type"] == "mlp" {
        1
    } else {
        cfg["seq_len"].as_u64().unwrap() as usize
    }
}

/// Changing any row after t, or any row before t's window, leaves the prediction at t as it
/// was; changing the window's first row moves it. For every family.
#[test]
fn the_prediction_at_t_reads_rows_t_minus_seq_len_plus_1_to_t_only() {
    let (x, y) = series(200, 3, 1);
    for (name, cfg) in families() {
        let est = estimator(cfg.clone());
        let model = fit_series(&*est, &x, &y, Task::Binary, 7, 0, &mut Unobserved);
        let base = model.predict(&x, Task::Binary).unwrap();
        let seq_len = seq_len_of(&cfg);
        let t = 120;
        let mut rng = StdRng::seed_from_u64(3);
        // Rows after t: scrambled.
        let mut later = x.clone();
        for j in 0..later.n_cols() {
            for v in &mut later.col_mut(j)[t + 1..] {
                *v = rng.random::<f64>() * 10.0 - 5.0;
            }
        }
        let p = model.predict(&later, Task::Binary).unwrap();
        assert_eq!(
            &p[..=t],
            &base[..=t],
            "{name}: a later row moved an earlier prediction"
        );
        assert_ne!(
            p[t + 1..],
            base[t + 1..],
            "{name}: scrambling changed nothing"
        );
        // The row just before the window: no effect. The window's first row: an effect.
        let mut before = x.clone();
        let first = t + 1 - seq_len;
        if first > 0 {
            before.col_mut(0)[first - 1] += 3.0;
            let p = model.predict(&before, Task::Binary).unwrap();
            assert_eq!(p[t], base[t], "{name}: a row before the window moved it");
        }
        // (Every feature moved both ways, so that no ReLU hides it.)
        let moved = [3.0, -3.0].iter().any(|d| {
            let mut inside = x.clone();
            for j in 0..inside.n_cols() {
                inside.col_mut(j)[first] += d;
            }
            model.predict(&inside, Task::Binary).unwrap()[t] != base[t]
        });
        assert!(moved, "{name}: the window's first row is not read");
        assert_eq!(model.context_rows(), seq_len - 1, "{name}");
    }
}

/// Training windows read training rows only: poisoning a left-out test block changes nothing
/// in the fit, and a window after the block starts after it (the jump in positions is a
/// segment start), rather than reading the training rows from before the block as if they
/// were the rows just before it.
#[test]
fn training_windows_never_cross_a_left_out_test_block() {
    let (x, y) = series(300, 2, 5);
    let train: Vec<usize> = (0..100).chain(150..300).collect();
    let spec = PipelineSpec {
        steps: Vec::new(),
        model: ModelSpec::from_value(&json!({"type": "lstm", "seq_len": 4, "hidden_size": 4,
            "epochs": 2, "batch_size": 16, "checkpoint_every": 0, "early_stopping_rounds": 0}))
        .unwrap(),
    };
    let fit = |x: &Matrix, positions: Option<&[usize]>| {
        let cols: Vec<Vec<f64>> = (0..2).map(|j| x.col(j).to_vec()).collect();
        let x_train = Matrix::gather(&cols, &train);
        let y_train: Vec<f64> = train.iter().map(|&i| y[i]).collect();
        let fitted = spec
            .fit(
                &x_train,
                &y_train,
                FitOptions {
                    task: Task::Binary,
                    seed: 1,
                    feature_names: &["a".into(), "b".into()],
                    early_stopping_gap: 0,
                    observer: &mut Unobserved,
                    positions,
                },
            )
            .unwrap();
        let mut sink = MemorySink::default();
        fitted.model.save_files(&mut sink).unwrap();
        sink.files[0].1.clone()
    };
    let mut poisoned = x.clone();
    for j in 0..2 {
        for v in &mut poisoned.col_mut(j)[100..150] {
            *v = 1e3;
        }
    }
    let clean = fit(&x, Some(&train));
    assert_eq!(
        fit(&poisoned, Some(&train)),
        clean,
        "a test row reached the fit"
    );
    // Without the positions the rows after the block would read rows 97..100 as their past:
    // another fit, so the positions do reach the windows.
    assert_ne!(fit(&x, None), clean);
}

/// Two fits with one seed give bit-identical weights and predictions (dropout on); another seed
/// gives other weights.
#[test]
fn reruns_with_a_seed_are_bit_identical() {
    let (x, y) = series(300, 3, 2);
    for cfg in [
        json!({"type": "lstm", "seq_len": 8, "hidden_size": 8, "num_layers": 2, "dropout": 0.3,
               "epochs": 3, "batch_size": 32, "checkpoint_every": 0}),
        json!({"type": "cnn1d", "seq_len": 8, "channels": [6, 6], "dropout": 0.3, "epochs": 3,
               "batch_size": 32, "checkpoint_every": 0}),
        json!({"type": "mlp", "hidden": [16], "dropout": 0.3, "epochs": 3, "batch_size": 32,
               "checkpoint_every": 0}),
    ] {
        let est = estimator(cfg.clone());
        let run = |seed| {
            let m = fit_series(&*est, &x, &y, Task::Binary, seed, 60, &mut Unobserved);
            let mut sink = MemorySink::default();
            m.save_files(&mut sink).unwrap();
            (
                m.predict(&x, Task::Binary).unwrap(),
                sink.files[0].1.clone(),
            )
        };
        let (p1, w1) = run(11);
        let (p2, w2) = run(11);
        assert_eq!(w1, w2, "{cfg}: weights differ between reruns");
        assert!(p1.iter().zip(&p2).all(|(a, b)| a.to_bits() == b.to_bits()));
        let (_, w3) = run(12);
        assert_ne!(w1, w3, "{cfg}: the seed changes nothing");
    }
}

/// Early stopping ends the fit after `early_stopping_rounds` epochs without a better
/// validation loss and keeps the best epoch's weights: the kept model's validation loss is the
/// best one recorded, not the last.
#[test]
fn early_stopping_restores_the_best_epoch() {
    // Pure noise targets: the validation loss bottoms out early and rises as the net overfits.
    let (x, _) = series(400, 4, 3);
    let mut rng = StdRng::seed_from_u64(9);
    let y: Vec<f64> = (0..400).map(|_| f64::from(rng.random::<bool>())).collect();
    let est = estimator(json!({"type": "gru", "seq_len": 6, "hidden_size": 32,
        "epochs": 60, "batch_size": 16, "learning_rate": 0.01, "early_stopping_rounds": 4,
        "checkpoint_every": 0}));
    let valid = 100;
    let model = fit_series(&*est, &x, &y, Task::Binary, 3, valid, &mut Unobserved);
    let nm = model.as_any().downcast_ref::<NeuralModel>().unwrap();
    let report = model.report();
    assert!(report.iterations_run < 60, "never stopped early");
    assert_eq!(report.iterations_run, report.best_iteration + 4);
    let losses: Vec<f64> = nm.history.iter().map(|h| h.valid_loss.unwrap()).collect();
    let best = losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(losses[report.best_iteration - 1], best);
    assert!(*losses.last().unwrap() > best);
    // The kept weights give the best epoch's validation loss (recomputed here in f64).
    let z = nm.raw_outputs(&x).unwrap();
    let n = x.n_rows();
    let loss: f64 = (n - valid..n)
        .map(|i| {
            let z = z[i] as f64;
            z.max(0.0) - z * y[i] + (1.0 + (-z.abs()).exp()).ln()
        })
        .sum::<f64>()
        / valid as f64;
    assert!(
        (loss - best).abs() < 1e-5,
        "kept weights give {loss}, best epoch {best}, last {}",
        losses.last().unwrap()
    );
}

/// A fit that dies mid-training (here: its observer panics after epoch 4's checkpoint) resumes
/// from the checkpoint when run again, and ends with the weights of a run never interrupted.
#[test]
fn a_crashed_fit_resumes_to_the_uninterrupted_weights() {
    let (x, y) = series(300, 3, 4);
    let dir = tempfile::tempdir().unwrap();
    let cfg = |ckdir: &Path| {
        json!({"type": "lstm", "seq_len": 6, "hidden_size": 8, "dropout": 0.2, "epochs": 8,
            "batch_size": 32, "lr_schedule": "reduce_on_plateau", "lr_patience": 1,
            "early_stopping_rounds": 3, "checkpoint_dir": ckdir.to_str().unwrap()})
    };
    let weights = |m: &dyn Fitted| {
        let mut sink = MemorySink::default();
        m.save_files(&mut sink).unwrap();
        sink.files[0].1.clone()
    };
    let clean_dir = dir.path().join("clean");
    let clean = fit_series(
        &*estimator(cfg(&clean_dir)),
        &x,
        &y,
        Task::Binary,
        5,
        60,
        &mut Unobserved,
    );
    // A finished fit leaves no checkpoint behind.
    assert_eq!(
        std::fs::read_dir(&clean_dir)
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );

    let crash_dir = dir.path().join("crash");
    let est = estimator(cfg(&crash_dir));
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut observer = |s: &StepReport| {
            if s.step == 5 {
                panic!("killed in epoch 5");
            }
            Flow::Continue
        };
        fit_series(&*est, &x, &y, Task::Binary, 5, 60, &mut observer)
    }));
    assert!(crashed.is_err());
    let files: Vec<PathBuf> = std::fs::read_dir(&crash_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one checkpoint: {files:?}");
    let mut seen = Vec::new();
    let mut observer = |s: &StepReport| {
        seen.push(s.step);
        Flow::Continue
    };
    let resumed = fit_series(&*est, &x, &y, Task::Binary, 5, 60, &mut observer);
    let nm = resumed.as_any().downcast_ref::<NeuralModel>().unwrap();
    assert_eq!(nm.resumed_after, Some(4));
    assert_eq!(
        seen[..4],
        [1, 2, 3, 4],
        "the observer hears the epochs already run"
    );
    assert_eq!(weights(&*resumed), weights(&*clean));
    assert_eq!(
        nm.history,
        clean
            .as_any()
            .downcast_ref::<NeuralModel>()
            .unwrap()
            .history
            .iter()
            .map(|h| hone_models::nn::train::EpochLog {
                seconds: nm.history[h.epoch - 1].seconds,
                ..h.clone()
            })
            .collect::<Vec<_>>()
    );
}

/// A fitted pipeline with a neural model saves and loads, predicting the same.
#[test]
fn neural_pipelines_save_load_and_predict_the_same() {
    let (x, y) = series(200, 3, 6);
    for (name, cfg) in families() {
        let spec = PipelineSpec {
            steps: Vec::new(),
            model: ModelSpec::from_value(&cfg).unwrap(),
        };
        for task in [
            Task::Binary,
            Task::Regression,
            Task::Multiclass { n_classes: 3 },
        ] {
            let yy: Vec<f64> = match task {
                Task::Multiclass { .. } => y
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v + (i % 2) as f64)
                    .collect(),
                Task::Regression => x.col(0).iter().map(|v| 0.01 * v + 0.002).collect(),
                Task::Binary => y.clone(),
            };
            let fitted = spec
                .fit(
                    &x,
                    &yy,
                    FitOptions {
                        task,
                        seed: 3,
                        feature_names: &["a".into(), "b".into(), "c".into()],
                        early_stopping_gap: 0,
                        observer: &mut Unobserved,
                        positions: None,
                    },
                )
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            fitted.save(dir.path()).unwrap();
            assert!(dir.path().join("model.safetensors").exists());
            let loaded = FittedPipeline::load(dir.path()).unwrap();
            let a = fitted.predict(&x).unwrap();
            let b = loaded.predict(&x).unwrap();
            assert_eq!(a, b, "{name} {task:?}");
            assert_eq!(a.len(), x.n_rows() * task.n_outputs());
            if let Task::Multiclass { n_classes } = task {
                for row in a.chunks(n_classes) {
                    assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-9);
                }
            }
            if task == Task::Regression {
                // Predictions are in the target's units (the standardisation is undone).
                let mean = a.iter().sum::<f64>() / a.len() as f64;
                assert!(
                    (mean - 0.002).abs() < 0.02,
                    "{name}: mean prediction {mean}"
                );
            }
        }
    }
}

/// Bad settings are refused naming the key.
#[test]
fn bad_settings_name_their_key() {
    for (cfg, key) in [
        (
            json!({"type": "lstm", "hidden_size": 0}),
            "model.hidden_size",
        ),
        (json!({"type": "mlp", "seq_len": 8}), "model.seq_len"),
        (json!({"type": "cnn1d", "channels": []}), "model.channels"),
        (json!({"type": "gru", "dropout": 1.0}), "model.dropout"),
        (
            json!({"type": "lstm", "learning_rate": -1.0}),
            "model.learning_rate",
        ),
        (
            json!({"type": "lstm", "lr_schedule": "warmup"}),
            "lr_schedule",
        ),
        (json!({"type": "lstm", "hiden_size": 8}), "hidden_size"),
        (json!({"type": "lstm", "device": "cuda"}), "model.device"),
        (
            json!({"type": "cnn1d", "dilation": 1000, "channels": [1, 1, 1, 1]}),
            "model.dilation",
        ),
    ] {
        let e = hone_models::families::parse(&cfg).unwrap_err().to_string();
        assert!(e.contains(key), "{cfg}: {e}");
    }
}

/// The repository's PyTorch venv (`scripts/setup.sh` makes it); the test fails, not skips,
/// without it.
fn torch_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".tools/torch-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh",
        python.display()
    );
    python
}

/// hone's saved weights, loaded into the equivalent PyTorch modules (`nn.Linear`, `nn.Conv1d`,
/// `nn.LSTM`, `nn.GRU`) by `scripts/reference/nn_parity.py`, give hone's outputs to 1e-5, for
/// every family and task: the forward pass of each layer type and the weight layout agree.
#[test]
fn saved_weights_give_the_same_outputs_in_pytorch() {
    let python = torch_python();
    let (x, y) = series(120, 3, 8);
    let dir = tempfile::tempdir().unwrap();
    let mut cases = Vec::new();
    let mut extra = families();
    extra.push((
        "lstm 3 layers tanh",
        json!({"type": "lstm", "seq_len": 7, "hidden_size": 5, "num_layers": 3, "epochs": 2,
               "checkpoint_every": 0, "early_stopping_rounds": 0}),
    ));
    extra.push((
        "cnn1d relu k1",
        json!({"type": "cnn1d", "seq_len": 3, "channels": [4], "kernel_size": 1, "activation": "tanh",
               "epochs": 2, "checkpoint_every": 0, "early_stopping_rounds": 0}),
    ));
    for (k, (name, cfg)) in extra.into_iter().enumerate() {
        let task = if k % 3 == 2 {
            Task::Multiclass { n_classes: 3 }
        } else if k % 3 == 1 {
            Task::Regression
        } else {
            Task::Binary
        };
        let yy: Vec<f64> = match task {
            Task::Multiclass { .. } => y
                .iter()
                .enumerate()
                .map(|(i, v)| v + (i % 2) as f64)
                .collect(),
            _ => y.clone(),
        };
        let est = estimator(cfg);
        let model = fit_series(&*est, &x, &yy, task, 21, 0, &mut Unobserved);
        let nm = model.as_any().downcast_ref::<NeuralModel>().unwrap();
        let case = dir.path().join(format!("case{k}"));
        std::fs::create_dir_all(&case).unwrap();
        let mut sink = MemorySink::default();
        model.save_files(&mut sink).unwrap();
        std::fs::write(case.join("model.safetensors"), &sink.files[0].1).unwrap();
        let rows: Vec<String> = (0..x.n_rows())
            .map(|i| {
                (0..x.n_cols())
                    .map(|j| format!("{:e}", x.get(i, j) as f32))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        std::fs::write(case.join("x.csv"), rows.join("\n")).unwrap();
        let out = nm.raw_outputs(&x).unwrap();
        let text: Vec<String> = out.iter().map(|v| format!("{v:e}")).collect();
        std::fs::write(case.join("hone.csv"), text.join("\n")).unwrap();
        cases.push((name, case));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/reference/nn_parity.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .args(cases.iter().map(|(_, c)| c))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let diffs: Vec<f64> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("max_abs_diff "))
        .map(|v| v.trim().parse().unwrap())
        .collect();
    assert_eq!(diffs.len(), cases.len(), "{stdout}");
    for ((name, _), d) in cases.iter().zip(&diffs) {
        assert!(*d < 1e-5, "{name}: PyTorch differs by {d}");
    }
}

/// The fused CPU recurrent layers give the op-by-op graph's outputs and gradients (every
/// parameter), for LSTM and GRU, stacked and bidirectional.
#[test]
fn fused_recurrent_layers_match_the_op_by_op_graph() {
    use candle_core::{Device, Tensor};
    use hone_models::nn::net::{Net, NetShape};
    use hone_models::nn::spec::NeuralSpec;
    for arch in ["lstm", "gru"] {
        let spec: NeuralSpec = serde_json::from_value(json!({"type": arch, "seq_len": 7,
            "hidden_size": 5, "num_layers": 2, "bidirectional": true}))
        .unwrap();
        let shape = NetShape::new(&spec, 3, 2);
        let fused = Net::init(shape.clone(), 4, &Device::Cpu).unwrap();
        let mut plain = Net::init(shape, 4, &Device::Cpu).unwrap();
        plain.fused = false;
        let mut rng = StdRng::seed_from_u64(1);
        let mut rand = |n: usize| {
            (0..n)
                .map(|_| rng.random::<f32>() * 2.0 - 1.0)
                .collect::<Vec<f32>>()
        };
        // 70 rows: two of the kernels' 64-row tasks, the second short.
        let x = Tensor::from_vec(rand(7 * 70 * 3), (7, 70, 3), &Device::Cpu).unwrap();
        let r = Tensor::from_vec(rand(70 * 2), (70, 2), &Device::Cpu).unwrap();
        let run = |net: &Net| {
            let out = net.forward(&x, None).unwrap();
            let loss = (&out * &r).unwrap().sum_all().unwrap();
            let grads = loss.backward().unwrap();
            let g: Vec<Vec<f32>> = net
                .vars()
                .iter()
                .map(|v| match grads.get(v.as_tensor()) {
                    Some(g) => g.flatten_all().unwrap().to_vec1().unwrap(),
                    // A weight no step multiplies by anything but zeros: gradient 0.
                    None => vec![0.0; v.elem_count()],
                })
                .collect();
            (out.flatten_all().unwrap().to_vec1::<f32>().unwrap(), g)
        };
        let (o1, g1) = run(&fused);
        let (o2, g2) = run(&plain);
        for (a, b) in o1.iter().zip(&o2) {
            assert!((a - b).abs() < 1e-5, "{arch}: output {a} vs {b}");
        }
        for ((name, a), b) in fused.order.iter().zip(&g1).zip(&g2) {
            for (u, v) in a.iter().zip(b) {
                assert!(
                    (u - v).abs() < 1e-4 * (1.0 + v.abs()),
                    "{arch} {name}: grad {u} vs {v}"
                );
            }
        }
    }
}
