//! The `[model]` table of the neural families (`type = "mlp" | "cnn1d" | "lstm" | "gru"`),
//! parsed and checked before any data is read.

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// The network's shape family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Dense layers over one row (no window).
    Mlp,
    /// Stacked 1-D convolutions over the window (causal by default).
    Cnn1d,
    /// Long short-term memory over the window.
    Lstm,
    /// Gated recurrent units over the window.
    Gru,
}

impl Arch {
    /// The `type` name.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Mlp => "mlp",
            Arch::Cnn1d => "cnn1d",
            Arch::Lstm => "lstm",
            Arch::Gru => "gru",
        }
    }

    /// Whether the model reads a window of past rows.
    pub fn windowed(self) -> bool {
        self != Arch::Mlp
    }
}

/// A hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// max(x, 0).
    Relu,
    /// tanh(x).
    Tanh,
    /// x·Φ(x) with the exact normal CDF (PyTorch's `nn.GELU()`).
    Gelu,
    /// x·σ(x) (PyTorch's `nn.SiLU()`).
    Silu,
}

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam; `weight_decay` is an L2 term added to the gradient (PyTorch's `Adam`).
    Adam,
    /// AdamW; `weight_decay` shrinks the weights directly (PyTorch's `AdamW`).
    Adamw,
}

/// How the learning rate changes over epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// The same rate every epoch.
    Constant,
    /// Cosine annealing from `learning_rate` to 0 over `epochs` (PyTorch's `CosineAnnealingLR`).
    Cosine,
    /// × `lr_gamma` every `lr_step_size` epochs (PyTorch's `StepLR`).
    Step,
    /// × `lr_gamma` after `lr_patience` epochs without a better validation loss
    /// (PyTorch's `ReduceLROnPlateau`, mode min, threshold 1e-4 relative).
    ReduceOnPlateau,
}

/// Where the network trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// The CPU (the default; bit-identical reruns with a seed).
    Cpu,
    /// The first NVIDIA GPU (build with `--features cuda`).
    Cuda,
}

/// Padding of the convolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    /// Zeros on the left only: position t sees positions ≤ t of the window.
    Causal,
    /// Zeros split over both ends (PyTorch's `padding="same"`): still no look-ahead, since the
    /// window ends at the row predicted.
    Same,
}

/// A neural model's settings: the `[model]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeuralSpec {
    /// `mlp`, `cnn1d`, `lstm` or `gru`.
    #[serde(rename = "type")]
    pub arch: Arch,
    /// Rows per window: the model at row t reads rows t−seq_len+1 … t (1 for `mlp`).
    #[serde(default)]
    pub seq_len: Option<usize>,
    /// Widths of the dense hidden layers (`mlp`).
    #[serde(default = "default_hidden")]
    pub hidden: Vec<usize>,
    /// Hidden units per recurrent layer and direction (`lstm`, `gru`).
    #[serde(default = "default_hidden_size")]
    pub hidden_size: usize,
    /// Stacked recurrent layers (`lstm`, `gru`).
    #[serde(default = "one")]
    pub num_layers: usize,
    /// Read the window in both directions (`lstm`, `gru`).
    #[serde(default)]
    pub bidirectional: bool,
    /// Output channels of each convolution (`cnn1d`).
    #[serde(default = "default_channels")]
    pub channels: Vec<usize>,
    /// Kernel size of each convolution (`cnn1d`).
    #[serde(default = "default_kernel")]
    pub kernel_size: usize,
    /// Dilation base: convolution i (from 0) uses dilation `dilation^i` (`cnn1d`; 2 gives a
    /// temporal convolutional network's 1, 2, 4, …).
    #[serde(default = "one")]
    pub dilation: usize,
    /// `causal` or `same` (`cnn1d`).
    #[serde(default = "default_padding")]
    pub padding: Padding,
    /// Hidden-layer activation.
    #[serde(default = "default_activation")]
    pub activation: Activation,
    /// Dropout probability after each hidden layer (and between recurrent layers).
    #[serde(default)]
    pub dropout: f64,
    /// Samples per gradient step.
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// The most epochs.
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    /// `adam` or `adamw`.
    #[serde(default = "default_optimizer")]
    pub optimizer: OptimizerKind,
    /// The initial learning rate.
    #[serde(default = "default_lr")]
    pub learning_rate: f64,
    /// Weight decay (default 0 for Adam, 0.01 for AdamW, as in PyTorch).
    #[serde(default)]
    pub weight_decay: Option<f64>,
    /// `constant`, `cosine`, `step` or `reduce_on_plateau`.
    #[serde(default = "default_schedule")]
    pub lr_schedule: Schedule,
    /// Epochs between decays (`step`).
    #[serde(default = "default_step_size")]
    pub lr_step_size: usize,
    /// Decay factor (`step`, `reduce_on_plateau`).
    #[serde(default = "default_gamma")]
    pub lr_gamma: f64,
    /// Epochs without improvement before a decay (`reduce_on_plateau`).
    #[serde(default = "default_lr_patience")]
    pub lr_patience: usize,
    /// Clip the gradients' global L2 norm to this (0: no clipping).
    #[serde(default)]
    pub grad_clip: f64,
    /// Stop after this many epochs without a better validation loss, restoring the best
    /// epoch's weights (0: train every epoch).
    #[serde(default = "default_patience")]
    pub early_stopping_rounds: usize,
    /// The latest share of the training rows held out for early stopping.
    #[serde(default = "default_fraction")]
    pub validation_fraction: f64,
    /// Save a checkpoint every this many epochs (0: never).
    #[serde(default = "one")]
    pub checkpoint_every: usize,
    /// Where checkpoints live while a fit runs (relative to the working directory).
    #[serde(default = "default_checkpoint_dir")]
    pub checkpoint_dir: String,
    /// `cpu` or `cuda`.
    #[serde(default = "default_device")]
    pub device: DeviceKind,
}

fn default_hidden() -> Vec<usize> {
    vec![64, 32]
}
fn default_hidden_size() -> usize {
    64
}
fn one() -> usize {
    1
}
fn default_channels() -> Vec<usize> {
    vec![32, 32]
}
fn default_kernel() -> usize {
    3
}
fn default_padding() -> Padding {
    Padding::Causal
}
fn default_activation() -> Activation {
    Activation::Relu
}
fn default_batch() -> usize {
    256
}
fn default_epochs() -> usize {
    50
}
fn default_optimizer() -> OptimizerKind {
    OptimizerKind::Adamw
}
fn default_lr() -> f64 {
    1e-3
}
fn default_schedule() -> Schedule {
    Schedule::Constant
}
fn default_step_size() -> usize {
    10
}
fn default_gamma() -> f64 {
    0.5
}
fn default_lr_patience() -> usize {
    3
}
fn default_patience() -> usize {
    10
}
fn default_fraction() -> f64 {
    0.2
}
fn default_checkpoint_dir() -> String {
    ".hone/checkpoints".into()
}
fn default_device() -> DeviceKind {
    DeviceKind::Cpu
}

/// The window length a model uses when `seq_len` is not given.
pub const DEFAULT_SEQ_LEN: usize = 32;

impl NeuralSpec {
    /// Rows per window.
    pub fn window(&self) -> usize {
        match self.arch {
            Arch::Mlp => 1,
            _ => self.seq_len.unwrap_or(DEFAULT_SEQ_LEN),
        }
    }

    /// The weight decay in effect.
    pub fn decay(&self) -> f64 {
        self.weight_decay.unwrap_or(match self.optimizer {
            OptimizerKind::Adam => 0.0,
            OptimizerKind::Adamw => 0.01,
        })
    }

    /// Whether the fit holds out an early-stopping slice.
    pub fn stops_early(&self) -> bool {
        self.early_stopping_rounds > 0 && self.validation_fraction > 0.0
    }

    /// Refuses settings that cannot train, naming the key.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |key: &str, why: &str| Err(ModelError::Config(format!("model.{key} {why}")));
        let arch = self.arch.name();
        if self.arch == Arch::Mlp && self.seq_len.is_some_and(|s| s != 1) {
            return bad(
                "seq_len",
                "is for the windowed models (cnn1d, lstm, gru); an mlp reads one row",
            );
        }
        if self.seq_len == Some(0) {
            return bad("seq_len", "must be at least 1");
        }
        if self.seq_len.is_some_and(|s| s > 100_000) {
            return bad("seq_len", "must be at most 100000");
        }
        if self.arch == Arch::Mlp && self.hidden.contains(&0) {
            return bad("hidden", "widths must be at least 1");
        }
        if matches!(self.arch, Arch::Lstm | Arch::Gru) {
            if self.hidden_size == 0 {
                return bad("hidden_size", "must be at least 1");
            }
            if self.num_layers == 0 {
                return bad("num_layers", "must be at least 1");
            }
        }
        if self.arch == Arch::Cnn1d {
            if self.channels.is_empty() || self.channels.contains(&0) {
                return bad("channels", "must list at least one width, each ≥ 1");
            }
            if self.kernel_size == 0 {
                return bad("kernel_size", "must be at least 1");
            }
            if self.dilation == 0 {
                return bad("dilation", "must be at least 1");
            }
            let reach = (self.kernel_size - 1).saturating_mul(
                self.dilation
                    .checked_pow(self.channels.len() as u32 - 1)
                    .unwrap_or(usize::MAX),
            );
            if reach > 1_000_000 {
                return bad(
                    "dilation",
                    "makes the convolution reach over a million rows",
                );
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad("dropout", "must be in [0, 1)");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate", "must be a positive number");
        }
        if !(self.decay().is_finite() && self.decay() >= 0.0) {
            return bad("weight_decay", "must be ≥ 0");
        }
        if self.lr_step_size == 0 {
            return bad("lr_step_size", "must be at least 1");
        }
        if !(self.lr_gamma > 0.0 && self.lr_gamma <= 1.0) {
            return bad("lr_gamma", "must be in (0, 1]");
        }
        if !(self.grad_clip.is_finite() && self.grad_clip >= 0.0) {
            return bad("grad_clip", "must be ≥ 0 (0: no clipping)");
        }
        if !(0.0..0.9).contains(&self.validation_fraction) {
            return bad("validation_fraction", "must be in [0, 0.9)");
        }
        if self.checkpoint_dir.is_empty() {
            return bad("checkpoint_dir", "must not be empty");
        }
        if self.device == DeviceKind::Cuda && !cfg!(feature = "cuda") {
            return Err(ModelError::Config(format!(
                "model.device = \"cuda\" ({arch}): this hone was built without CUDA; rebuild \
                 with `cargo build --release --features cuda` (needs the CUDA toolkit) or set \
                 device = \"cpu\""
            )));
        }
        Ok(())
    }
}
