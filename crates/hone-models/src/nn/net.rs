//! The networks: parameters under PyTorch's names and layouts, seeded initialisation, and the
//! forward pass of each family on a time-major batch of windows (`[seq_len, batch, features]`).
//!
//! Every layer computes what its PyTorch counterpart does, so a `model.safetensors` saved here
//! loads into `nn.Linear` / `nn.Conv1d` / `nn.LSTM` / `nn.GRU` with `load_state_dict` and
//! predicts the same (`scripts/reference/nn_parity.py` checks it):
//! - `mlp`: `layers.{i}` (`nn.Linear`), activation and dropout after each, then `head`;
//! - `cnn1d`: `convs.{i}` (`nn.Conv1d`, dilation `dilation^i`, padding 0 on an input padded
//!   with zeros on the left, or on both ends for `same`), activation and dropout after each;
//!   `head` reads the last position;
//! - `lstm` / `gru`: `rnn` (`nn.LSTM` / `nn.GRU` with `batch_first=True`, `dropout` between
//!   layers, `bidirectional`); `head` reads the output at the last position.

use std::collections::{BTreeMap, HashMap};

use candle_core::{D, DType, Device, Tensor, Var};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::fused::{Cell, Recurrent};
use super::spec::{Activation, Arch, NeuralSpec, Padding};

/// Errors of the tensor library, as text for [`crate::ModelError`].
pub type NnResult<T> = Result<T, candle_core::Error>;

/// A network's architecture: everything needed to rebuild it around saved weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetShape {
    /// The family.
    pub arch: Arch,
    /// Inputs per row.
    pub n_features: usize,
    /// Outputs per row (1 for regression and binary, k for k classes).
    pub n_outputs: usize,
    /// Rows per window.
    pub seq_len: usize,
    /// Dense widths (`mlp`).
    #[serde(default)]
    pub hidden: Vec<usize>,
    /// Recurrent width (`lstm`, `gru`).
    #[serde(default)]
    pub hidden_size: usize,
    /// Recurrent layers.
    #[serde(default)]
    pub num_layers: usize,
    /// Two directions.
    #[serde(default)]
    pub bidirectional: bool,
    /// Convolution widths (`cnn1d`).
    #[serde(default)]
    pub channels: Vec<usize>,
    /// Convolution kernel size.
    #[serde(default)]
    pub kernel_size: usize,
    /// Dilation base.
    #[serde(default)]
    pub dilation: usize,
    /// Convolution padding.
    pub padding: Padding,
    /// Hidden activation.
    pub activation: Activation,
    /// Dropout probability (training only).
    pub dropout: f64,
}

impl NetShape {
    /// The shape `spec` gives for `n_features` inputs and `n_outputs` outputs.
    pub fn new(spec: &NeuralSpec, n_features: usize, n_outputs: usize) -> Self {
        Self {
            arch: spec.arch,
            n_features,
            n_outputs,
            seq_len: spec.window(),
            hidden: spec.hidden.clone(),
            hidden_size: spec.hidden_size,
            num_layers: spec.num_layers,
            bidirectional: spec.bidirectional,
            channels: spec.channels.clone(),
            kernel_size: spec.kernel_size,
            dilation: spec.dilation,
            padding: spec.padding,
            activation: spec.activation,
            dropout: spec.dropout,
        }
    }

    fn directions(&self) -> usize {
        if self.bidirectional { 2 } else { 1 }
    }

    /// Every parameter's PyTorch name, shape and initialisation bound (PyTorch's defaults:
    /// U(−1/√fan_in, 1/√fan_in) for linear and convolution layers, U(−1/√H, 1/√H) for
    /// recurrent ones), in a fixed order.
    pub fn parameters(&self) -> Vec<(String, Vec<usize>, f64)> {
        let mut out = Vec::new();
        let linear = |out: &mut Vec<(String, Vec<usize>, f64)>, name: &str, i: usize, o| {
            let bound = 1.0 / (i as f64).sqrt();
            out.push((format!("{name}.weight"), vec![o, i], bound));
            out.push((format!("{name}.bias"), vec![o], bound));
        };
        let last = match self.arch {
            Arch::Mlp => {
                let mut width = self.n_features;
                for (i, &w) in self.hidden.iter().enumerate() {
                    linear(&mut out, &format!("layers.{i}"), width, w);
                    width = w;
                }
                width
            }
            Arch::Cnn1d => {
                let mut width = self.n_features;
                for (i, &c) in self.channels.iter().enumerate() {
                    let bound = 1.0 / ((width * self.kernel_size) as f64).sqrt();
                    out.push((
                        format!("convs.{i}.weight"),
                        vec![c, width, self.kernel_size],
                        bound,
                    ));
                    out.push((format!("convs.{i}.bias"), vec![c], bound));
                    width = c;
                }
                width
            }
            Arch::Lstm | Arch::Gru => {
                let gates = if self.arch == Arch::Lstm { 4 } else { 3 };
                let h = self.hidden_size;
                let bound = 1.0 / (h as f64).sqrt();
                for layer in 0..self.num_layers {
                    let input = if layer == 0 {
                        self.n_features
                    } else {
                        h * self.directions()
                    };
                    for suffix in ["", "_reverse"].iter().take(self.directions()) {
                        let p = |k: &str| format!("rnn.{k}_l{layer}{suffix}");
                        out.push((p("weight_ih"), vec![gates * h, input], bound));
                        out.push((p("weight_hh"), vec![gates * h, h], bound));
                        out.push((p("bias_ih"), vec![gates * h], bound));
                        out.push((p("bias_hh"), vec![gates * h], bound));
                    }
                }
                h * self.directions()
            }
        };
        linear(&mut out, "head", last, self.n_outputs);
        out
    }
}

/// A network with its parameters.
#[derive(Debug)]
pub struct Net {
    /// The architecture.
    pub shape: NetShape,
    /// Parameters by PyTorch name.
    pub params: BTreeMap<String, Var>,
    /// Parameter names in [`NetShape::parameters`] order.
    pub order: Vec<String>,
    /// Run recurrent layers as [`super::fused`] ops on the CPU (on by default; off, they are
    /// built from the library's small ops, as on a GPU: the reference the tests compare with).
    pub fused: bool,
}

impl Net {
    /// A network initialised as PyTorch would (same distributions; the stream is hone's own,
    /// seeded by `seed`).
    pub fn init(shape: NetShape, seed: u64, device: &Device) -> NnResult<Self> {
        let mut rng = StdRng::seed_from_u64(seed ^ 0x6e65_7572_616c_696e);
        let mut params = BTreeMap::new();
        let mut order = Vec::new();
        for (name, dims, bound) in shape.parameters() {
            let n: usize = dims.iter().product();
            let values: Vec<f32> = (0..n)
                .map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
                .collect();
            let t = Tensor::from_vec(values, dims, device)?;
            params.insert(name.clone(), Var::from_tensor(&t)?);
            order.push(name);
        }
        Ok(Self {
            shape,
            params,
            order,
            fused: true,
        })
    }

    /// A network around saved tensors: every parameter present with its shape, nothing extra.
    pub fn from_tensors(
        shape: NetShape,
        mut tensors: HashMap<String, Tensor>,
        device: &Device,
    ) -> Result<Self, String> {
        let mut params = BTreeMap::new();
        let mut order = Vec::new();
        for (name, dims, _) in shape.parameters() {
            let t = tensors
                .remove(&name)
                .ok_or_else(|| format!("the weights have no tensor {name:?}"))?;
            if t.dims() != dims.as_slice() {
                return Err(format!(
                    "tensor {name:?} has shape {:?}, the model needs {dims:?}",
                    t.dims()
                ));
            }
            let t = t
                .to_dtype(DType::F32)
                .and_then(|t| t.to_device(device))
                .map_err(|e| e.to_string())?;
            params.insert(
                name.clone(),
                Var::from_tensor(&t).map_err(|e| e.to_string())?,
            );
            order.push(name);
        }
        if let Some(extra) = tensors.keys().next() {
            return Err(format!("the weights have an unexpected tensor {extra:?}"));
        }
        Ok(Self {
            shape,
            params,
            order,
            fused: true,
        })
    }

    /// The parameters in order.
    pub fn vars(&self) -> Vec<&Var> {
        self.order.iter().map(|n| &self.params[n]).collect()
    }

    /// Trainable numbers.
    pub fn n_parameters(&self) -> u64 {
        self.params.values().map(|v| v.elem_count() as u64).sum()
    }

    fn p(&self, name: &str) -> &Tensor {
        self.params[name].as_tensor()
    }

    /// Outputs (logits or standardised values) for a time-major batch `x` of shape
    /// `[seq_len, batch, features]`; with `rng`, dropout is on (training).
    pub fn forward(&self, x: &Tensor, mut rng: Option<&mut StdRng>) -> NnResult<Tensor> {
        let s = &self.shape;
        let last = match s.arch {
            Arch::Mlp => {
                let mut h = x.get(x.dim(0)? - 1)?;
                for i in 0..s.hidden.len() {
                    h = self.linear(&h, &format!("layers.{i}"))?;
                    h = activate(&h, s.activation)?;
                    h = dropout(&h, s.dropout, rng.as_deref_mut())?;
                }
                h
            }
            Arch::Cnn1d => {
                // Only the last position reaches the head, so each causal layer computes just
                // the trailing positions the layers above it read (all of them for `same`).
                let t = x.dim(0)?;
                let layers = s.channels.len();
                let mut need = vec![t; layers];
                if s.padding == Padding::Causal {
                    need[layers - 1] = 1;
                    for i in (0..layers - 1).rev() {
                        let reach = (s.kernel_size - 1) * s.dilation.pow(i as u32 + 1);
                        need[i] = (need[i + 1] + reach).min(t);
                    }
                }
                let mut h = x.clone();
                for (i, &out_len) in need.iter().enumerate() {
                    h = self.conv(&h, i, out_len)?;
                    h = activate(&h, s.activation)?;
                    h = dropout(&h, s.dropout, rng.as_deref_mut())?;
                }
                h.get(h.dim(0)? - 1)?
            }
            Arch::Lstm | Arch::Gru => self.recurrent(x, rng)?,
        };
        self.linear(&last, "head")
    }

    /// `x · Wᵀ + b` for rows `x` (`[batch, in]`).
    fn linear(&self, x: &Tensor, name: &str) -> NnResult<Tensor> {
        let w = self.p(&format!("{name}.weight"));
        let b = self.p(&format!("{name}.bias"));
        x.matmul(&w.t()?)?.broadcast_add(b)
    }

    /// Convolution `i` over a time-major block holding the window's last positions
    /// (`[T_in, B, C_in]`): its last `out_len` positions,
    /// `[out_len, B, C_out]`. Causal: position p reads p − (k−1−j)·d for taps j; positions before
    /// the window are zeros. `same`: zeros split over both ends (then `T_in = out_len = t`).
    fn conv(&self, x: &Tensor, i: usize, out_len: usize) -> NnResult<Tensor> {
        let s = &self.shape;
        let w = self.p(&format!("convs.{i}.weight"));
        let b = self.p(&format!("convs.{i}.bias"));
        let (t_in, batch, c_in) = x.dims3()?;
        let (c_out, _, k) = w.dims3()?;
        let d = s.dilation.pow(i as u32);
        let total = (k - 1) * d;
        let (xp, first) = match s.padding {
            Padding::Causal => {
                // Cover positions t − out_len − total … t − 1; what lies before the window
                // (or was not computed, which the layers below never need) is zeros.
                let left = (out_len + total).saturating_sub(t_in);
                let xp = if left > 0 {
                    x.pad_with_zeros(0, left, 0)?
                } else {
                    x.clone()
                };
                let first = xp.dim(0)? - out_len - total;
                (xp, first)
            }
            Padding::Same => {
                let xp = if total > 0 {
                    x.pad_with_zeros(0, total / 2, total - total / 2)?
                } else {
                    x.clone()
                };
                (xp, 0)
            }
        };
        let mut out: Option<Tensor> = None;
        for j in 0..k {
            let wj = w.narrow(2, j, 1)?.squeeze(2)?.t()?.contiguous()?;
            let part = xp
                .narrow(0, first + j * d, out_len)?
                .reshape((out_len * batch, c_in))?
                .matmul(&wj)?;
            out = Some(match out {
                None => part,
                Some(o) => (o + part)?,
            });
        }
        let out = out.expect("kernel_size ≥ 1").broadcast_add(b)?;
        out.reshape((out_len, batch, c_out))
    }

    /// The recurrent stack; its output at the last position (`[B, H·directions]`).
    fn recurrent(&self, x: &Tensor, mut rng: Option<&mut StdRng>) -> NnResult<Tensor> {
        let s = &self.shape;
        let mut seq = x.clone();
        for layer in 0..s.num_layers {
            let last_layer = layer + 1 == s.num_layers;
            let forward = self.direction(&seq, layer, false, !last_layer)?;
            let backward = if s.bidirectional {
                Some(self.direction(&seq, layer, true, !last_layer)?)
            } else {
                None
            };
            let out = match backward {
                Some(b) => Tensor::cat(&[&forward, &b], D::Minus1)?,
                None => forward,
            };
            if last_layer {
                return Ok(out);
            }
            seq = dropout(&out, s.dropout, rng.as_deref_mut())?;
        }
        unreachable!("num_layers ≥ 1")
    }

    /// One direction of one recurrent layer over `[T, B, In]`: every position's output
    /// (`[T, B, H]`) when `full`, else the output at the last position (`[B, H]`).
    fn direction(&self, x: &Tensor, layer: usize, reverse: bool, full: bool) -> NnResult<Tensor> {
        let s = &self.shape;
        let suffix = if reverse { "_reverse" } else { "" };
        let p = |k: &str| self.p(&format!("rnn.{k}_l{layer}{suffix}"));
        let (t, batch, input) = x.dims3()?;
        let h = s.hidden_size;
        let lstm = s.arch == Arch::Lstm;
        let gates = if lstm { 4 } else { 3 };
        // The reverse direction's output at the last position has read that position only.
        let (first, steps) = if reverse && !full { (t - 1, 1) } else { (0, t) };
        let xs = x.narrow(0, first, steps)?;
        if self.fused && x.device().is_cpu() {
            let cell = if lstm { Cell::Lstm } else { Cell::Gru };
            let w = Tensor::cat(&[p("weight_ih"), p("weight_hh")], 1)?;
            let b = Tensor::stack(&[p("bias_ih"), p("bias_hh")], 0)?;
            let out = xs
                .contiguous()?
                .apply_op3(&w, &b, Recurrent::new(cell, reverse))?;
            return if full {
                Ok(out)
            } else {
                out.get(if reverse { 0 } else { steps - 1 })
            };
        }
        // The input projection of every step at once: one large product instead of T small.
        let mut xw = xs
            .reshape((steps * batch, input))?
            .matmul(&p("weight_ih").t()?)?;
        xw = if lstm {
            xw.broadcast_add(&(p("bias_ih") + p("bias_hh"))?)?
        } else {
            xw.broadcast_add(p("bias_ih"))?
        };
        let xw = xw.reshape((steps, batch, gates * h))?;
        let w_hh = p("weight_hh").t()?;
        let b_hh = p("bias_hh");
        let mut hidden = Tensor::zeros((batch, h), DType::F32, x.device())?;
        let mut cell = hidden.clone();
        let mut outputs: Vec<Tensor> = Vec::with_capacity(if full { steps } else { 0 });
        let order: Vec<usize> = if reverse {
            (0..steps).rev().collect()
        } else {
            (0..steps).collect()
        };
        for (n, &i) in order.iter().enumerate() {
            let xi = xw.get(i)?;
            if lstm {
                let g = if n == 0 {
                    xi
                } else {
                    (xi + hidden.matmul(&w_hh)?)?
                };
                let sg = candle_nn::ops::sigmoid(&g)?;
                let ig = sg.narrow(1, 0, h)?;
                let fg = sg.narrow(1, h, h)?;
                let og = sg.narrow(1, 3 * h, h)?;
                let gg = g.narrow(1, 2 * h, h)?.tanh()?;
                cell = if n == 0 {
                    (ig * gg)?
                } else {
                    ((fg * &cell)? + (ig * gg)?)?
                };
                hidden = (og * cell.tanh()?)?;
            } else {
                let hw = hidden.matmul(&w_hh)?.broadcast_add(b_hh)?;
                let rz =
                    candle_nn::ops::sigmoid(&(xi.narrow(1, 0, 2 * h)? + hw.narrow(1, 0, 2 * h)?)?)?;
                let r = rz.narrow(1, 0, h)?;
                let z = rz.narrow(1, h, h)?;
                let n_gate = (xi.narrow(1, 2 * h, h)? + (r * hw.narrow(1, 2 * h, h)?)?)?.tanh()?;
                hidden = (&n_gate + (z * (&hidden - &n_gate)?)?)?;
            }
            if full {
                outputs.push(hidden.clone());
            }
        }
        if !full {
            return Ok(hidden);
        }
        if reverse {
            outputs.reverse();
        }
        Tensor::stack(&outputs, 0)
    }
}

fn activate(x: &Tensor, a: Activation) -> NnResult<Tensor> {
    match a {
        Activation::Relu => x.relu(),
        Activation::Tanh => x.tanh(),
        Activation::Gelu => x.gelu_erf(),
        Activation::Silu => x.silu(),
    }
}

/// Inverted dropout with a mask from hone's seeded stream (never the tensor library's
/// unseeded one), so training is reproducible; identity without `rng` (evaluation).
fn dropout(x: &Tensor, p: f64, rng: Option<&mut StdRng>) -> NnResult<Tensor> {
    let Some(rng) = rng else {
        return Ok(x.clone());
    };
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let keep = (1.0 / (1.0 - p)) as f32;
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| if rng.random::<f64>() < p { 0.0 } else { keep })
        .collect();
    x * Tensor::from_vec(mask, x.shape(), x.device())?
}
