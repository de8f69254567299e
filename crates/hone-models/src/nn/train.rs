//! The training loop: seeded mini-batches over windows, Adam/AdamW written out as PyTorch
//! computes them (so their state is ours to checkpoint), learning-rate schedules, gradient
//! clipping, early stopping that restores the best epoch, per-epoch reports to a
//! [`TrainObserver`], and checkpoints from which a killed fit resumes to the same weights.
//!
//! Reproducibility: every random draw (initial weights, batch order, dropout masks) comes from
//! streams seeded by the fit's seed and the epoch, so an epoch resumed from a checkpoint draws
//! what the uninterrupted run drew, and on the CPU two runs give bit-identical weights.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use hone_validate::Task;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::net::{Net, NetShape};
use super::spec::{NeuralSpec, OptimizerKind, Schedule};
use super::windows::Windows;
use crate::ModelError;
use crate::observer::{EpochStats, Flow, StepReport, TrainObserver, ValidScore};

/// A tensor-library error as a model error.
pub fn nn_err(e: candle_core::Error) -> ModelError {
    ModelError::Data(format!("neural network: {e}"))
}

/// How targets are fed to the network: regression targets are standardised with the fitting
/// rows' mean and standard deviation (undone at prediction); class codes pass through.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetScale {
    /// Subtracted from regression targets.
    pub mean: f64,
    /// Divides regression targets.
    pub std: f64,
}

impl TargetScale {
    /// The scale of `y` for `task` (identity for classification).
    pub fn of(task: Task, y: &[f64]) -> Self {
        if task != Task::Regression || y.is_empty() {
            return Self {
                mean: 0.0,
                std: 1.0,
            };
        }
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let var = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let std = if var.sqrt() > 1e-12 { var.sqrt() } else { 1.0 };
        Self { mean, std }
    }
}

/// The rows a fit reads: windows over the training block, and the positions (in the block)
/// and targets of the fitting rows and of the early-stopping slice.
pub struct TrainData<'a> {
    /// Windows over the block.
    pub windows: &'a Windows,
    /// Fitting rows' positions.
    pub fit: &'a [usize],
    /// Their targets.
    pub fit_y: &'a [f64],
    /// Early-stopping rows' positions (empty: no early stopping).
    pub valid: &'a [usize],
    /// Their targets.
    pub valid_y: &'a [f64],
}

/// One epoch as recorded in the fitted model and in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean training loss.
    pub train_loss: f64,
    /// Early-stopping slice loss.
    pub valid_loss: Option<f64>,
    /// Task metric on the slice.
    pub valid_metric: Option<f64>,
    /// Learning rate used.
    pub learning_rate: f64,
    /// Seconds taken.
    pub seconds: f64,
}

/// What training produced.
pub struct Trained {
    /// The network with the best epoch's weights.
    pub net: Net,
    /// Every epoch run.
    pub history: Vec<EpochLog>,
    /// The epoch whose weights were kept (from 1).
    pub best_epoch: usize,
    /// The epoch the fit resumed after, when it resumed from a checkpoint.
    pub resumed_after: Option<usize>,
    /// The task metric's name.
    pub metric_name: &'static str,
}

/// Training allocates and frees the same large buffers every batch. glibc's defaults hand
/// buffers over 128 KiB back to the kernel (`mmap` threshold, heap trimming), so every batch
/// page-faults them in again: about a tenth of an LSTM epoch, measured. Once a network trains,
/// the process keeps freed memory up to these sizes instead (process-wide, deliberately).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only changes the allocator's thresholds; called once, before the
        // buffers it concerns are allocated.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        });
    }
}

/// The device `spec` asks for.
pub fn device(spec: &NeuralSpec) -> Result<Device, ModelError> {
    match spec.device {
        super::spec::DeviceKind::Cpu => Ok(Device::Cpu),
        super::spec::DeviceKind::Cuda => Device::new_cuda(0).map_err(|e| {
            ModelError::Config(format!("model.device = \"cuda\": no usable GPU ({e})"))
        }),
    }
}

/// Adam/AdamW with PyTorch's update (`torch.optim.Adam` / `AdamW`, β = (0.9, 0.999),
/// ε = 1e-8), its moments kept by parameter name.
struct Adam {
    kind: OptimizerKind,
    decay: f64,
    steps: u64,
    m: BTreeMap<String, Tensor>,
    v: BTreeMap<String, Tensor>,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

impl Adam {
    fn step(
        &mut self,
        net: &Net,
        grads: &candle_core::backprop::GradStore,
        lr: f64,
        clip: f64,
    ) -> candle_core::Result<()> {
        let mut scale = 1.0;
        if clip > 0.0 {
            let mut total = 0.0f64;
            for var in net.vars() {
                if let Some(g) = grads.get(var.as_tensor()) {
                    total += g
                        .sqr()?
                        .sum_all()?
                        .to_dtype(DType::F64)?
                        .to_scalar::<f64>()?;
                }
            }
            let coef = clip / (total.sqrt() + 1e-6);
            if coef < 1.0 {
                scale = coef;
            }
        }
        self.steps += 1;
        let t = self.steps as i32;
        let bc1 = 1.0 - BETA1.powi(t);
        let bc2_sqrt = (1.0 - BETA2.powi(t)).sqrt();
        for name in &net.order {
            let var = &net.params[name];
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let mut g = g.detach();
            if scale != 1.0 {
                g = g.affine(scale, 0.0)?;
            }
            let mut p = var.as_tensor().detach();
            match self.kind {
                OptimizerKind::Adam if self.decay > 0.0 => {
                    g = (g + p.affine(self.decay, 0.0)?)?;
                }
                OptimizerKind::Adamw if self.decay > 0.0 => {
                    p = p.affine(1.0 - lr * self.decay, 0.0)?;
                }
                _ => {}
            }
            let m = match self.m.get(name) {
                Some(m) => (m.affine(BETA1, 0.0)? + g.affine(1.0 - BETA1, 0.0)?)?,
                None => g.affine(1.0 - BETA1, 0.0)?,
            };
            let g2 = g.sqr()?;
            let v = match self.v.get(name) {
                Some(v) => (v.affine(BETA2, 0.0)? + g2.affine(1.0 - BETA2, 0.0)?)?,
                None => g2.affine(1.0 - BETA2, 0.0)?,
            };
            let denom = v.sqrt()?.affine(1.0 / bc2_sqrt, EPS)?;
            let update = (&m / denom)?.affine(lr / bc1, 0.0)?;
            var.set(&(p - update)?)?;
            self.m.insert(name.clone(), m);
            self.v.insert(name.clone(), v);
        }
        Ok(())
    }
}

/// The learning-rate schedule's state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Scheduler {
    lr: f64,
    #[serde(with = "infinity_as_null")]
    plateau_best: f64,
    plateau_bad: usize,
}

impl Scheduler {
    fn new(spec: &NeuralSpec) -> Self {
        Self {
            lr: spec.learning_rate,
            plateau_best: f64::INFINITY,
            plateau_bad: 0,
        }
    }

    /// The rate for the epoch after `epochs_done` epochs, given the last epoch's loss.
    fn after_epoch(&mut self, spec: &NeuralSpec, epochs_done: usize, loss: f64) {
        let base = spec.learning_rate;
        match spec.lr_schedule {
            Schedule::Constant => {}
            Schedule::Cosine => {
                let e = epochs_done.min(spec.epochs) as f64;
                self.lr =
                    base * (1.0 + (std::f64::consts::PI * e / spec.epochs as f64).cos()) / 2.0;
            }
            Schedule::Step => {
                self.lr = base * spec.lr_gamma.powi((epochs_done / spec.lr_step_size) as i32);
            }
            Schedule::ReduceOnPlateau => {
                if loss < self.plateau_best * (1.0 - 1e-4) {
                    self.plateau_best = loss;
                    self.plateau_bad = 0;
                } else {
                    self.plateau_bad += 1;
                }
                if self.plateau_bad > spec.lr_patience {
                    self.lr *= spec.lr_gamma;
                    self.plateau_bad = 0;
                }
            }
        }
    }
}

/// Everything besides tensors that a checkpoint holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointMeta {
    key: String,
    epochs_done: usize,
    adam_steps: u64,
    scheduler: Scheduler,
    best_epoch: usize,
    #[serde(with = "infinity_as_null")]
    best_loss: f64,
    bad_epochs: usize,
    history: Vec<EpochLog>,
}

/// JSON has no infinity: "no best loss yet" is written as `null` and read back as +∞.
mod infinity_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        match v.is_finite() {
            true => s.serialize_some(v),
            false => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

/// Where a fit's checkpoint lives: `dir/<key>.safetensors`, `key` naming the fit's settings,
/// seed and data, so the same fit (and only it) finds it again.
#[derive(Debug, Clone)]
pub struct CheckpointFile {
    /// The file.
    pub path: PathBuf,
    /// The fit's identity.
    pub key: String,
}

impl CheckpointFile {
    /// The checkpoint of a fit with identity `key` under `dir`.
    pub fn new(dir: &Path, key: String) -> Self {
        Self {
            path: dir.join(format!("{key}.safetensors")),
            key,
        }
    }
}

/// The per-epoch random stream: seeded by the fit's seed and the epoch alone.
fn epoch_rng(seed: u64, epoch: usize) -> StdRng {
    StdRng::seed_from_u64(
        seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ (epoch as u64).wrapping_mul(0xbf58_476d_1ce4_e5b9),
    )
}

fn targets(
    task: Task,
    y: &[f64],
    scale: TargetScale,
    device: &Device,
) -> candle_core::Result<Tensor> {
    match task {
        Task::Multiclass { .. } => Tensor::from_vec(
            y.iter().map(|&v| v as u32).collect::<Vec<u32>>(),
            y.len(),
            device,
        ),
        _ => Tensor::from_vec(
            y.iter()
                .map(|&v| ((v - scale.mean) / scale.std) as f32)
                .collect::<Vec<f32>>(),
            (y.len(), 1),
            device,
        ),
    }
}

/// The mean loss of outputs `z` against targets `y` (from [`targets`]): squared error,
/// binary cross-entropy on logits (computed stably), or softmax cross-entropy.
fn loss(task: Task, z: &Tensor, y: &Tensor) -> candle_core::Result<Tensor> {
    match task {
        Task::Regression => (z - y)?.sqr()?.mean_all(),
        Task::Binary => {
            let soft = (z.abs()?.neg()?.exp()? + 1.0)?.log()?;
            ((z.relu()? - (z * y)?)? + soft)?.mean_all()
        }
        Task::Multiclass { .. } => candle_nn::loss::cross_entropy(z, y),
    }
}

/// Outputs for the windows ending at `positions`, in batches, without dropout: one row of
/// `n_outputs` per position.
pub fn predict_positions(
    net: &Net,
    windows: &Windows,
    positions: &[usize],
    batch: usize,
    device: &Device,
) -> Result<Vec<f32>, ModelError> {
    let mut out = Vec::with_capacity(positions.len() * net.shape.n_outputs);
    for chunk in positions.chunks(batch.max(1)) {
        let x = windows.batch(chunk, device).map_err(nn_err)?;
        let z = net
            .forward(&x, None)
            .and_then(|z| z.detach().to_device(&Device::Cpu))
            .and_then(|z| z.flatten_all())
            .and_then(|z| z.to_vec1::<f32>())
            .map_err(nn_err)?;
        out.extend(z);
    }
    Ok(out)
}

/// The task metric of raw outputs `z` against `y`: AUC (binary), accuracy (multiclass) or
/// RMSE in the target's units (regression).
fn task_metric(task: Task, z: &[f32], y: &[f64], scale: TargetScale) -> Option<f64> {
    match task {
        Task::Binary => {
            let labels: Vec<usize> = y.iter().map(|&v| v as usize).collect();
            let scores: Vec<f64> = z.iter().map(|&v| v as f64).collect();
            hone_validate::metrics::roc_auc_binary(&labels, &scores).ok()
        }
        Task::Multiclass { n_classes } => {
            let hits = y
                .iter()
                .enumerate()
                .filter(|(i, v)| {
                    let row = &z[i * n_classes..(i + 1) * n_classes];
                    let best = (0..n_classes)
                        .max_by(|&a, &b| row[a].total_cmp(&row[b]))
                        .unwrap_or(0);
                    best == **v as usize
                })
                .count();
            Some(hits as f64 / y.len().max(1) as f64)
        }
        Task::Regression => {
            let se: f64 = y
                .iter()
                .zip(z)
                .map(|(t, &p)| (p as f64 * scale.std + scale.mean - t).powi(2))
                .sum();
            Some((se / y.len().max(1) as f64).sqrt())
        }
    }
}

/// The task metric's name for `task`.
pub fn metric_name(task: Task) -> &'static str {
    match task {
        Task::Binary => "auc",
        Task::Multiclass { .. } => "accuracy",
        Task::Regression => "rmse",
    }
}

/// Trains `shape` on `data` under `spec`, reporting every epoch to `observer` and, with
/// `checkpoint`, saving (and first resuming from) the fit's checkpoint.
#[allow(clippy::too_many_arguments)]
pub fn train(
    spec: &NeuralSpec,
    shape: NetShape,
    task: Task,
    seed: u64,
    scale: TargetScale,
    data: &TrainData<'_>,
    observer: &mut dyn TrainObserver,
    checkpoint: Option<&CheckpointFile>,
) -> Result<Trained, ModelError> {
    let device = device(spec)?;
    keep_freed_memory();
    if data.fit.is_empty() {
        return Err(ModelError::Data(format!(
            "{}: no rows to fit on",
            spec.arch.name()
        )));
    }
    let net = Net::init(shape, seed, &device).map_err(nn_err)?;
    let mut adam = Adam {
        kind: spec.optimizer,
        decay: spec.decay(),
        steps: 0,
        m: BTreeMap::new(),
        v: BTreeMap::new(),
    };
    let mut sched = Scheduler::new(spec);
    let stops_early = spec.stops_early() && !data.valid.is_empty();
    let mut best: Option<BTreeMap<String, Tensor>> = None;
    let mut best_epoch = 0usize;
    let mut best_loss = f64::INFINITY;
    let mut bad_epochs = 0usize;
    let mut history: Vec<EpochLog> = Vec::new();
    let mut resumed_after = None;
    let metric = metric_name(task);

    if let Some(ck) = checkpoint
        && let Some(state) = read_checkpoint(ck, &net, &device)?
    {
        let (meta, tensors) = state;
        for name in &net.order {
            let get = |prefix: &str| {
                tensors
                    .get(&format!("{prefix}.{name}"))
                    .cloned()
                    .ok_or_else(|| ModelError::Io {
                        path: ck.path.clone(),
                        message: format!("the checkpoint has no {prefix}.{name}"),
                    })
            };
            net.params[name].set(&get("param")?).map_err(nn_err)?;
            if meta.adam_steps > 0 {
                adam.m.insert(name.clone(), get("adam_m")?);
                adam.v.insert(name.clone(), get("adam_v")?);
            }
            if meta.best_epoch > 0 && stops_early {
                best.get_or_insert_with(BTreeMap::new)
                    .insert(name.clone(), get("best")?);
            }
        }
        adam.steps = meta.adam_steps;
        sched = meta.scheduler;
        best_epoch = meta.best_epoch;
        best_loss = meta.best_loss;
        bad_epochs = meta.bad_epochs;
        history = meta.history;
        resumed_after = Some(meta.epochs_done);
        // Tell the observer of the epochs already run, so progress and pruners see them.
        for h in &history {
            let _ = observer.on_step(&report(h, spec.epochs, metric));
        }
    }

    let fit_y = targets(task, data.fit_y, scale, &Device::Cpu).map_err(nn_err)?;
    let mut stopped = stops_early && bad_epochs >= spec.early_stopping_rounds;
    let start = history.len();
    for epoch in start..spec.epochs {
        if stopped {
            break;
        }
        let began = Instant::now();
        let mut rng = epoch_rng(seed, epoch);
        let mut order: Vec<usize> = (0..data.fit.len()).collect();
        for i in (1..order.len()).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        let lr = sched.lr;
        let mut loss_sum = 0.0;
        for chunk in order.chunks(spec.batch_size) {
            let positions: Vec<usize> = chunk.iter().map(|&k| data.fit[k]).collect();
            let idx = Tensor::from_vec(
                chunk.iter().map(|&k| k as u32).collect::<Vec<u32>>(),
                chunk.len(),
                &Device::Cpu,
            )
            .map_err(nn_err)?;
            let y = fit_y
                .index_select(&idx, 0)
                .and_then(|y| y.to_device(&device))
                .map_err(nn_err)?;
            let x = data.windows.batch(&positions, &device).map_err(nn_err)?;
            let z = net.forward(&x, Some(&mut rng)).map_err(nn_err)?;
            let l = loss(task, &z, &y).map_err(nn_err)?;
            let value = l
                .to_dtype(DType::F64)
                .and_then(|v| v.to_scalar::<f64>())
                .map_err(nn_err)?;
            if !value.is_finite() {
                return Err(ModelError::Data(format!(
                    "{}: the training loss became {value} in epoch {}; lower learning_rate or \
                     set grad_clip",
                    spec.arch.name(),
                    epoch + 1
                )));
            }
            loss_sum += value * chunk.len() as f64;
            let grads = l.backward().map_err(nn_err)?;
            adam.step(&net, &grads, lr, spec.grad_clip)
                .map_err(nn_err)?;
        }
        let train_loss = loss_sum / data.fit.len() as f64;
        let (valid_loss, valid_metric) = if data.valid.is_empty() {
            (None, None)
        } else {
            let z = predict_positions(&net, data.windows, data.valid, spec.batch_size, &device)?;
            let zt = Tensor::from_vec(
                z.clone(),
                (data.valid.len(), net.shape.n_outputs),
                &Device::Cpu,
            )
            .map_err(nn_err)?;
            let vy = targets(task, data.valid_y, scale, &Device::Cpu).map_err(nn_err)?;
            let vl = loss(task, &zt, &vy)
                .and_then(|l| l.to_dtype(DType::F64))
                .and_then(|l| l.to_scalar::<f64>())
                .map_err(nn_err)?;
            (Some(vl), task_metric(task, &z, data.valid_y, scale))
        };
        let log = EpochLog {
            epoch: epoch + 1,
            train_loss,
            valid_loss,
            valid_metric,
            learning_rate: lr,
            seconds: began.elapsed().as_secs_f64(),
        };
        let monitored = valid_loss.unwrap_or(train_loss);
        if stops_early {
            if monitored < best_loss {
                best_loss = monitored;
                best_epoch = epoch + 1;
                bad_epochs = 0;
                best = Some(snapshot(&net).map_err(nn_err)?);
            } else {
                bad_epochs += 1;
            }
            stopped = bad_epochs >= spec.early_stopping_rounds;
        } else {
            best_epoch = epoch + 1;
        }
        sched.after_epoch(spec, epoch + 1, monitored);
        let flow = observer.on_step(&report(&log, spec.epochs, metric));
        history.push(log);
        if let Some(ck) = checkpoint
            && spec.checkpoint_every > 0
            && (epoch + 1) % spec.checkpoint_every == 0
            && epoch + 1 < spec.epochs
        {
            let meta = CheckpointMeta {
                key: ck.key.clone(),
                epochs_done: epoch + 1,
                adam_steps: adam.steps,
                scheduler: sched,
                best_epoch,
                best_loss,
                bad_epochs,
                history: history.clone(),
            };
            write_checkpoint(ck, &meta, &net, &adam, best.as_ref())?;
        }
        if flow == Flow::Stop {
            break;
        }
    }
    if let Some(best) = best.filter(|_| stops_early) {
        for (name, t) in best {
            net.params[&name].set(&t).map_err(nn_err)?;
        }
    }
    let net = to_cpu(net)?;
    if let Some(ck) = checkpoint {
        // The fit is done: its weights go into the model's files; the checkpoint would only
        // make a later identical fit skip straight to the end.
        let _ = std::fs::remove_file(&ck.path);
    }
    Ok(Trained {
        net,
        history,
        best_epoch,
        resumed_after,
        metric_name: metric,
    })
}

fn report(log: &EpochLog, total: usize, metric: &'static str) -> StepReport {
    StepReport {
        step: log.epoch,
        total,
        valid: log.valid_loss.map(|value| ValidScore {
            value,
            higher_is_better: false,
        }),
        epoch: Some(EpochStats {
            train_loss: log.train_loss,
            valid_loss: log.valid_loss,
            valid_metric: log.valid_metric.map(|v| (metric, v)),
            learning_rate: log.learning_rate,
            seconds: log.seconds,
        }),
    }
}

fn snapshot(net: &Net) -> candle_core::Result<BTreeMap<String, Tensor>> {
    net.params
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().detach().copy()?)))
        .collect()
}

fn to_cpu(net: Net) -> Result<Net, ModelError> {
    if matches!(
        net.order.first().map(|n| net.params[n].device()),
        Some(Device::Cpu) | None
    ) {
        return Ok(net);
    }
    let tensors: HashMap<String, Tensor> = net
        .params
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.as_tensor().to_device(&Device::Cpu)?)))
        .collect::<candle_core::Result<_>>()
        .map_err(nn_err)?;
    Net::from_tensors(net.shape, tensors, &Device::Cpu).map_err(ModelError::Data)
}

/// Writes the checkpoint to a temporary file and renames it over the last one, so a kill at
/// any moment leaves either the previous checkpoint or the new one, never half of one.
fn write_checkpoint(
    ck: &CheckpointFile,
    meta: &CheckpointMeta,
    net: &Net,
    adam: &Adam,
    best: Option<&BTreeMap<String, Tensor>>,
) -> Result<(), ModelError> {
    let io = |e: String| ModelError::Io {
        path: ck.path.clone(),
        message: e,
    };
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    let cpu = |t: &Tensor| t.to_device(&Device::Cpu).map_err(nn_err);
    for name in &net.order {
        tensors.push((format!("param.{name}"), cpu(net.params[name].as_tensor())?));
        if let (Some(m), Some(v)) = (adam.m.get(name), adam.v.get(name)) {
            tensors.push((format!("adam_m.{name}"), cpu(m)?));
            tensors.push((format!("adam_v.{name}"), cpu(v)?));
        }
        if let Some(b) = best.and_then(|b| b.get(name)) {
            tensors.push((format!("best.{name}"), cpu(b)?));
        }
    }
    let meta_json = serde_json::to_string(meta).map_err(|e| io(e.to_string()))?;
    let info = HashMap::from([("hone.checkpoint".to_string(), meta_json)]);
    let bytes = safetensors::serialize(tensors, Some(info)).map_err(|e| io(e.to_string()))?;
    if let Some(dir) = ck.path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io(e.to_string()))?;
    }
    let tmp = ck.path.with_extension("safetensors.tmp");
    std::fs::write(&tmp, &bytes).map_err(|e| io(e.to_string()))?;
    std::fs::rename(&tmp, &ck.path).map_err(|e| io(e.to_string()))
}

type CheckpointState = (CheckpointMeta, HashMap<String, Tensor>);

/// The checkpoint of this fit, if one was left by an interrupted run. A file that does not
/// parse or belongs to another fit is an error naming it (delete it to start over).
fn read_checkpoint(
    ck: &CheckpointFile,
    net: &Net,
    device: &Device,
) -> Result<Option<CheckpointState>, ModelError> {
    let bytes = match std::fs::read(&ck.path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ModelError::Io {
                path: ck.path.clone(),
                message: e.to_string(),
            });
        }
    };
    let bad = |m: String| ModelError::Io {
        path: ck.path.clone(),
        message: format!("{m}; delete the file to train this fit from the start"),
    };
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(format!("not a checkpoint ({e})")))?;
    let meta_json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get("hone.checkpoint"))
        .ok_or_else(|| bad("not a hone checkpoint".into()))?;
    let meta: CheckpointMeta =
        serde_json::from_str(meta_json).map_err(|e| bad(format!("unreadable state ({e})")))?;
    if meta.key != ck.key {
        return Err(bad("the checkpoint belongs to another fit".into()));
    }
    let tensors = candle_core::safetensors::load_buffer(&bytes, device)
        .map_err(|e| bad(format!("unreadable tensors ({e})")))?;
    for name in &net.order {
        let want = net.params[name].dims();
        match tensors.get(&format!("param.{name}")) {
            Some(t) if t.dims() == want => {}
            _ => return Err(bad(format!("no parameter {name} of shape {want:?}"))),
        }
    }
    Ok(Some((meta, tensors)))
}
