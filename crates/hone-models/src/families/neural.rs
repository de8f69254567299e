//! The neural family (`type = "mlp" | "cnn1d" | "lstm" | "gru"`): the `[model]` table and
//! [`crate::nn`]'s networks behind the [`Estimator`] and [`Fitted`] seams.
//!
//! A windowed model (`cnn1d`, `lstm`, `gru`) at row t reads rows t−seq_len+1 … t through the
//! pipeline's [`crate::estimator::SequenceView`]; its fitted model predicts a block of
//! consecutive rows, each from the rows before it in the block, and asks callers for
//! `seq_len − 1` rows of context before the first row scored ([`Fitted::context_rows`]).

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use hone_validate::Task;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::{Family, ParamDoc};
use crate::estimator::{ArtifactSink, ArtifactSource, Estimator, Fit, Fitted, TrainingSet};
use crate::model::{Complexity, FitReport};
use crate::nn::net::{Net, NetShape};
use crate::nn::spec::{Arch, NeuralSpec};
use crate::nn::train::{
    CheckpointFile, EpochLog, TargetScale, TrainData, nn_err, predict_positions, train,
};
use crate::nn::windows::Windows;
use crate::observer::TrainObserver;
use crate::{Matrix, ModelError};

/// The file holding the weights, under PyTorch's parameter names.
pub const WEIGHTS_FILE: &str = "model.safetensors";

macro_rules! keys {
    ($($k:literal => $d:literal),* $(,)?) => { &[$(ParamDoc { key: $k, doc: $d }),*] };
}

/// The registration of this family.
pub const FAMILY: Family = Family {
    types: &["mlp", "cnn1d", "lstm", "gru"],
    kind: "neural",
    keys: keys![
        "seq_len" => "rows per window: the model at row t reads rows t−seq_len+1 … t (cnn1d, lstm, gru; default 32)",
        "hidden" => "dense hidden widths (mlp; default [64, 32])",
        "hidden_size" => "units per recurrent layer and direction (lstm, gru; default 64)",
        "num_layers" => "stacked recurrent layers (lstm, gru; default 1)",
        "bidirectional" => "read the window both ways (lstm, gru; default false)",
        "channels" => "output channels per convolution (cnn1d; default [32, 32])",
        "kernel_size" => "convolution kernel size (cnn1d; default 3)",
        "dilation" => "dilation base: convolution i uses dilation^i (cnn1d; default 1)",
        "padding" => "\"causal\" (default) or \"same\" (cnn1d)",
        "activation" => "\"relu\" (default), \"tanh\", \"gelu\" or \"silu\"",
        "dropout" => "dropout probability after hidden layers and between recurrent layers (default 0)",
        "batch_size" => "samples per step (default 256)",
        "epochs" => "the most epochs (default 50)",
        "optimizer" => "\"adamw\" (default) or \"adam\"",
        "learning_rate" => "initial learning rate (default 0.001)",
        "weight_decay" => "weight decay (default 0 for adam, 0.01 for adamw)",
        "lr_schedule" => "\"constant\" (default), \"cosine\", \"step\" or \"reduce_on_plateau\"",
        "lr_step_size" => "epochs between decays (step; default 10)",
        "lr_gamma" => "decay factor (step, reduce_on_plateau; default 0.5)",
        "lr_patience" => "epochs without improvement before a decay (reduce_on_plateau; default 3)",
        "grad_clip" => "clip the gradients' global L2 norm (default 0: off)",
        "early_stopping_rounds" => "epochs without a better validation loss before stopping (default 10; 0: off)",
        "validation_fraction" => "latest share of training rows held out for early stopping (default 0.2)",
        "checkpoint_every" => "save a resumable checkpoint every N epochs (default 1; 0: off)",
        "checkpoint_dir" => "where checkpoints live while a fit runs (default .hone/checkpoints)",
        "device" => "\"cpu\" (default) or \"cuda\" (needs a build with --features cuda)",
    ],
    parse,
    decode: super::decode_as::<NeuralModel>,
};

/// The keys whose value is one of a few words, and the words.
const CHOICES: &[(&str, &[&str])] = &[
    ("padding", &["causal", "same"]),
    ("activation", &["relu", "tanh", "gelu", "silu"]),
    ("optimizer", &["adam", "adamw"]),
    (
        "lr_schedule",
        &["constant", "cosine", "step", "reduce_on_plateau"],
    ),
    ("device", &["cpu", "cuda"]),
];

fn parse(_kind: &str, table: Map<String, Value>) -> Result<Arc<dyn Estimator>, ModelError> {
    // Name the key of a wrong word (serde's message names only the word).
    for (key, words) in CHOICES {
        if let Some(v) = table.get(*key)
            && !v.as_str().is_some_and(|w| words.contains(&w))
        {
            return Err(ModelError::Config(format!(
                "model.{key} = {v} is not one of {}{}",
                words.join(", "),
                v.as_str()
                    .and_then(|w| crate::suggest::nearest(w, words.iter().copied()))
                    .map(|s| format!("; did you mean {s:?}?"))
                    .unwrap_or_default()
            )));
        }
    }
    let config = Value::Object(table);
    let spec: NeuralSpec = serde_json::from_value(config.clone()).map_err(super::config_err)?;
    spec.validate()?;
    Ok(Arc::new(Neural { spec, config }))
}

/// A configured neural model.
#[derive(Debug, Clone)]
pub struct Neural {
    /// Its settings.
    pub spec: NeuralSpec,
    config: Value,
}

impl Neural {
    /// The settings as reports show them.
    fn settings(&self) -> BTreeMap<String, String> {
        let mut v = serde_json::to_value(&self.spec).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("seq_len".into(), self.spec.window().into());
            o.insert("weight_decay".into(), self.spec.decay().into());
            o.remove("type");
            o.remove("checkpoint_dir");
            let keep: fn(&Arch, &str) -> bool = |arch, k| match k {
                "hidden" => *arch == Arch::Mlp,
                "hidden_size" | "num_layers" | "bidirectional" => {
                    matches!(arch, Arch::Lstm | Arch::Gru)
                }
                "channels" | "kernel_size" | "dilation" | "padding" => *arch == Arch::Cnn1d,
                "activation" => matches!(arch, Arch::Mlp | Arch::Cnn1d),
                _ => true,
            };
            o.retain(|k, _| keep(&self.spec.arch, k));
            return o
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect();
        }
        BTreeMap::new()
    }
}

impl Estimator for Neural {
    fn name(&self) -> &'static str {
        self.spec.arch.name()
    }

    fn config(&self) -> Value {
        self.config.clone()
    }

    fn check_task(&self, _task: Task) -> Result<(), ModelError> {
        Ok(())
    }

    fn early_stopping_fraction(&self) -> Option<f64> {
        self.spec
            .stops_early()
            .then_some(self.spec.validation_fraction)
    }

    fn complexity_counts(&self) -> &'static [&'static str] {
        &["parameters"]
    }

    fn window_len(&self) -> usize {
        self.spec.window()
    }

    fn resolved_params(&self, _task: Task, seed: u64) -> Option<BTreeMap<String, String>> {
        let mut p = self.settings();
        p.insert("seed".into(), seed.to_string());
        Some(p)
    }

    fn with_fixed_steps(&self, steps: usize) -> Option<Arc<dyn Estimator>> {
        let mut spec = self.spec.clone();
        spec.epochs = steps.max(1);
        spec.early_stopping_rounds = 0;
        let mut config = self.config.clone();
        if let Some(o) = config.as_object_mut() {
            o.insert("epochs".into(), spec.epochs.into());
            o.insert("early_stopping_rounds".into(), 0.into());
        }
        Some(Arc::new(Neural { spec, config }))
    }

    fn fit(
        &self,
        data: &TrainingSet<'_>,
        observer: &mut dyn TrainObserver,
        _in_sample: bool,
    ) -> Result<Fit, ModelError> {
        let seq_len = self.spec.window();
        let empty: [usize; 0] = [];
        let (windows, fit, valid): (Windows, Vec<usize>, Vec<usize>) = match data.sequence {
            Some(view) => (
                Windows::new(view.block, seq_len, view.starts),
                view.rows.to_vec(),
                view.valid_rows.to_vec(),
            ),
            None => {
                // No view (e.g. a selector's importance fit): the rows as one block, the
                // early-stopping slice after them as its own segment.
                let n = data.x.n_rows();
                match data.valid {
                    Some((vx, _)) if vx.n_rows() > 0 => {
                        let mut all = data.x.to_row_major();
                        all.extend(vx.to_row_major());
                        let block = Matrix::from_row_major(n + vx.n_rows(), data.x.n_cols(), &all);
                        (
                            Windows::new(&block, seq_len, &[n]),
                            (0..n).collect(),
                            (n..n + vx.n_rows()).collect(),
                        )
                    }
                    _ => (
                        Windows::new(data.x, seq_len, &empty),
                        (0..n).collect(),
                        Vec::new(),
                    ),
                }
            }
        };
        let valid_y: &[f64] = data.valid.map(|(_, y)| y).unwrap_or(&[]);
        if fit.len() != data.y.len() || valid.len() != valid_y.len() {
            return Err(ModelError::Data(format!(
                "{}: {} fitting rows but {} targets",
                self.name(),
                fit.len(),
                data.y.len()
            )));
        }
        let n_features = data.sequence.map_or(data.x.n_cols(), |v| v.block.n_cols());
        let shape = NetShape::new(&self.spec, n_features, data.task.n_outputs());
        let scale = TargetScale::of(data.task, data.y);
        let checkpoint = (self.spec.checkpoint_every > 0).then(|| {
            let key = fit_key(
                &self.spec, data.task, data.seed, &windows, &fit, &valid, data.y,
            );
            CheckpointFile::new(Path::new(&self.spec.checkpoint_dir), key)
        });
        let trained = train(
            &self.spec,
            shape,
            data.task,
            data.seed,
            scale,
            &TrainData {
                windows: &windows,
                fit: &fit,
                fit_y: data.y,
                valid: &valid,
                valid_y,
            },
            observer,
            checkpoint.as_ref(),
        )?;
        let mut params = self.settings();
        params.insert("seed".into(), data.seed.to_string());
        Ok(Fit {
            model: Box::new(NeuralModel {
                shape: trained.net.shape.clone(),
                task: data.task,
                target: scale,
                best_epoch: trained.best_epoch,
                history: trained.history,
                metric: trained.metric_name.to_string(),
                resumed_after: trained.resumed_after,
                params,
                predict_batch: self.spec.batch_size.max(256),
                net: Some(Arc::new(trained.net)),
            }),
            in_sample: None,
        })
    }
}

/// A fit's identity for its checkpoint: the settings (less where checkpoints go), the task,
/// the seed and every number of the data it trains on.
fn fit_key(
    spec: &NeuralSpec,
    task: Task,
    seed: u64,
    windows: &Windows,
    fit: &[usize],
    valid: &[usize],
    y: &[f64],
) -> String {
    let mut s = spec.clone();
    s.checkpoint_dir.clear();
    s.checkpoint_every = 0;
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(&s).unwrap_or_default());
    h.update(serde_json::to_vec(&task).unwrap_or_default());
    h.update(seed.to_le_bytes());
    for v in windows.raw() {
        h.update(v.to_le_bytes());
    }
    for p in fit.iter().chain(valid) {
        h.update((*p as u64).to_le_bytes());
    }
    for v in y {
        h.update(v.to_le_bytes());
    }
    let d = h.finalize();
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A trained network: its architecture and training record in `pipeline.json`, its weights in
/// `model.safetensors`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NeuralModel {
    /// The architecture.
    pub shape: NetShape,
    /// What it predicts.
    pub task: Task,
    /// The regression target's standardisation (identity for classes).
    pub target: TargetScale,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
    /// Every epoch trained.
    pub history: Vec<EpochLog>,
    /// The task metric tracked per epoch.
    pub metric: String,
    /// The epoch a fit resumed after, when it resumed from a checkpoint.
    #[serde(default)]
    pub resumed_after: Option<usize>,
    /// The settings it trained with.
    pub params: BTreeMap<String, String>,
    /// Windows per prediction batch.
    pub predict_batch: usize,
    /// The weights (read from `model.safetensors` on load).
    #[serde(skip)]
    pub net: Option<Arc<Net>>,
}

impl NeuralModel {
    fn net(&self) -> Result<&Net, ModelError> {
        self.net
            .as_deref()
            .ok_or_else(|| ModelError::Data("the network's weights are not loaded".into()))
    }

    /// Raw outputs (logits, standardised values) for consecutive rows `x`, row-major.
    pub fn raw_outputs(&self, x: &Matrix) -> Result<Vec<f32>, ModelError> {
        let net = self.net()?;
        let windows = Windows::new(x, self.shape.seq_len, &[]);
        let positions: Vec<usize> = (0..x.n_rows()).collect();
        predict_positions(net, &windows, &positions, self.predict_batch, &Device::Cpu)
    }
}

impl Fitted for NeuralModel {
    fn kind(&self) -> &'static str {
        FAMILY.kind
    }

    fn predict(&self, x: &Matrix, task: Task) -> Result<Vec<f64>, ModelError> {
        if x.n_cols() != self.shape.n_features {
            return Err(ModelError::Data(format!(
                "the model expects {} features, got {}",
                self.shape.n_features,
                x.n_cols()
            )));
        }
        let z = self.raw_outputs(x)?;
        Ok(match task {
            Task::Regression => z
                .iter()
                .map(|&v| v as f64 * self.target.std + self.target.mean)
                .collect(),
            Task::Binary => z
                .iter()
                .map(|&v| 1.0 / (1.0 + (-(v as f64)).exp()))
                .collect(),
            Task::Multiclass { n_classes } => {
                let mut out = Vec::with_capacity(z.len());
                for row in z.chunks(n_classes) {
                    let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
                    let e: Vec<f64> = row.iter().map(|&v| (v as f64 - m).exp()).collect();
                    let s: f64 = e.iter().sum();
                    out.extend(e.iter().map(|v| v / s));
                }
                out
            }
        })
    }

    fn context_rows(&self) -> usize {
        self.shape.seq_len.saturating_sub(1)
    }

    fn importances(&self) -> Result<Vec<f64>, ModelError> {
        // Σ|weight| of the first layer per input: a cheap, rough measure of use.
        let net = self.net()?;
        let name = match self.shape.arch {
            Arch::Mlp if !self.shape.hidden.is_empty() => "layers.0.weight",
            Arch::Mlp => "head.weight",
            Arch::Cnn1d => "convs.0.weight",
            Arch::Lstm | Arch::Gru => "rnn.weight_ih_l0",
        };
        let w = net.params[name].as_tensor();
        let w = match self.shape.arch {
            // [out, in, k] → Σ over out and k.
            Arch::Cnn1d => w.abs().and_then(|a| a.sum(2)).and_then(|a| a.sum(0)),
            _ => w.abs().and_then(|a| a.sum(0)),
        }
        .and_then(|a| a.to_vec1::<f32>())
        .map_err(nn_err)?;
        Ok(w.into_iter().map(f64::from).collect())
    }

    fn importance_kind(&self) -> &'static str {
        "Σ|first-layer weight|"
    }

    fn report(&self) -> FitReport {
        FitReport {
            iterations_run: self.history.len(),
            best_iteration: self.best_epoch,
            valid_metric: self
                .history
                .iter()
                .any(|h| h.valid_loss.is_some())
                .then(|| "valid_loss".to_string()),
            valid_curve: self.history.iter().filter_map(|h| h.valid_loss).collect(),
        }
    }

    fn complexity(&self) -> Complexity {
        Complexity {
            parameters: self.net.as_ref().map(|n| n.n_parameters()),
            ..Complexity::default()
        }
    }

    fn params(&self) -> Option<BTreeMap<String, String>> {
        Some(self.params.clone())
    }

    fn state(&self) -> &dyn erased_serde::Serialize {
        self
    }

    fn save_files(&self, sink: &mut dyn ArtifactSink) -> Result<Vec<String>, ModelError> {
        let net = self.net()?;
        let tensors: Vec<(String, Tensor)> = net
            .order
            .iter()
            .map(|n| (n.clone(), net.params[n].as_tensor().clone()))
            .collect();
        let arch =
            serde_json::to_string(&self.shape).map_err(|e| ModelError::Data(e.to_string()))?;
        // One metadata entry: safetensors writes a map's entries in hash order, and the file
        // must be byte-identical across reruns.
        let info = HashMap::from([("hone.shape".to_string(), arch)]);
        let bytes = safetensors::serialize(tensors, Some(info))
            .map_err(|e| ModelError::Data(format!("{WEIGHTS_FILE}: {e}")))?;
        sink.put(WEIGHTS_FILE, &bytes)?;
        Ok(vec![WEIGHTS_FILE.to_string()])
    }

    fn standard_file(&self) -> Option<&'static str> {
        Some(WEIGHTS_FILE)
    }

    fn check_shape(&self, width: usize, outputs: usize) -> Result<(), String> {
        if self.shape.n_features != width {
            return Err(format!(
                "the network reads {} inputs but the pipeline gives it {width}",
                self.shape.n_features
            ));
        }
        if self.shape.n_outputs != outputs {
            return Err(format!(
                "the network has {} outputs but the task needs {outputs}",
                self.shape.n_outputs
            ));
        }
        if self.shape.seq_len == 0 {
            return Err("the network's seq_len is 0".into());
        }
        Ok(())
    }

    fn load_files(&mut self, files: &dyn ArtifactSource, _task: Task) -> Result<(), ModelError> {
        let bytes = files.get(WEIGHTS_FILE)?;
        let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
            .map_err(|e| files.error(WEIGHTS_FILE, format!("not a safetensors file ({e})")))?;
        let net = Net::from_tensors(self.shape.clone(), tensors, &Device::Cpu)
            .map_err(|e| files.error(WEIGHTS_FILE, e))?;
        self.net = Some(Arc::new(net));
        Ok(())
    }

    fn clone_box(&self) -> Box<dyn Fitted> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
