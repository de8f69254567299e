//! Fused recurrent layers for the CPU: one tensor-library op per layer and direction, whose
//! forward pass runs every time step in plain Rust with `gemm` for the hidden-state products
//! and whose backward pass is written-out backpropagation through time.
//!
//! Why: built from the library's small ops, a 32-step LSTM is thousands of graph nodes per batch
//! and each node's backward allocates; measured, that made an epoch of the benchmark 15–20×
//! slower than PyTorch. Fused, the work is the products and the gate arithmetic, as in PyTorch's
//! own kernels. The op takes the layer's input and its weights (`[W_ih | W_hh]`, `[b_ih; b_hh]`)
//! and returns every step's hidden state; the input projection is one large product inside it.
//!
//! The arithmetic is PyTorch's (`nn.LSTM` gate order i, f, g, o; `nn.GRU` r, z, n with
//! `n = tanh(x_n + r ⊙ (W_hn h + b_hn))`), and `tests/neural.rs` checks the fused gradients
//! against the op-by-op graph ([`super::net::Net::forward`] on a non-CPU device runs that one).

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Tensor};
use rayon::prelude::*;

/// Which cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Long short-term memory (4 gates).
    Lstm,
    /// Gated recurrent unit (3 gates).
    Gru,
}

impl Cell {
    fn gates(self) -> usize {
        match self {
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }
}

/// What the forward pass keeps for the backward pass (which also gets the hidden states, as
/// the op's result).
struct Saved {
    /// Per task of [`chunks`]: gate activations per step, `[T, rows, gates·H]` (LSTM: i, f, g,
    /// o; GRU: r, z, n), and the LSTM's cell state or the GRU's `W_hn h + b_hn`, `[T, rows, H]`.
    chunks: Vec<(Vec<f32>, Vec<f32>)>,
}

/// One recurrent layer in one direction over a time-major block.
pub struct Recurrent {
    cell: Cell,
    reverse: bool,
    saved: Mutex<Option<Saved>>,
}

impl Recurrent {
    /// The layer op; `reverse` reads the steps last to first (outputs stay in step order).
    pub fn new(cell: Cell, reverse: bool) -> Self {
        Self {
            cell,
            reverse,
            saved: Mutex::new(None),
        }
    }
}

fn slice<'a>(s: &'a CpuStorage, l: &Layout) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(v) = s else {
        candle_core::bail!("fused recurrent layer: f32 tensors only")
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&v[a..b]),
        None => candle_core::bail!("fused recurrent layer: contiguous tensors only"),
    }
}

/// `c (m×n) = [c +] a (m×k) · b`, row-major, `b` given as `k×n` (`b_t = false`) or as its
/// transpose `n×k` (`b_t = true`); `a` transposed likewise with `a_t` (then `a` is `k×m`).
#[allow(clippy::too_many_arguments)]
fn matmul(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    a_t: bool,
    b: &[f32],
    b_t: bool,
    c: &mut [f32],
    accumulate: bool,
    parallel: bool,
) {
    debug_assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let (a_rs, a_cs) = if a_t {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (b_rs, b_cs) = if b_t {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the slices hold the m×k, k×n and m×n matrices the strides describe (checked above
    // in debug builds; every caller sizes them from the same dimensions).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            if parallel {
                gemm::Parallelism::Rayon(0)
            } else {
                gemm::Parallelism::None
            },
        );
    }
}

/// e^x in `f32` without a libm call and without branches, so the gate loops vectorise:
/// x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its degree-6 Taylor polynomial, 2^n from the
/// exponent bits. Relative error below 3e-7 over [−87, 88] (tested against `f32::exp`); inputs
/// outside are clamped (e^x under/overflows there anyway).
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5 · 2^23: adding and subtracting it rounds to the nearest integer in plain SSE2.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + fast_exp(-x))
}

/// tanh through one exponential (glibc's `tanhf` goes through `expm1f`, a third of the layer's
/// time when measured); absolute error below 1e-6, well inside the 1e-5 PyTorch parity.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    let e = fast_exp(2.0 * x.clamp(-15.0, 15.0));
    (e - 1.0) / (e + 1.0)
}

/// Batch rows per task. A row's recurrence never reads another row, so each task runs every
/// time step of its rows alone (no synchronisation per step); the split is fixed, so sums over
/// tasks (the weight gradients) add up in one order whatever the thread count.
const CHUNK_ROWS: usize = 128;

/// The batch's rows cut into tasks.
fn chunks(b: usize) -> Vec<std::ops::Range<usize>> {
    (0..b)
        .step_by(CHUNK_ROWS)
        .map(|r0| r0..(r0 + CHUNK_ROWS).min(b))
        .collect()
}

impl CustomOp3 for Recurrent {
    fn name(&self) -> &'static str {
        "hone-fused-recurrent"
    }

    /// `x`: `[T, B, In]` inputs; `w`: `[gates·H, In + H]`, `W_ih` beside `W_hh` (PyTorch's
    /// layouts); `b`: `[2, gates·H]`, `b_ih` over `b_hh`. Returns every step's hidden state,
    /// `[T, B, H]`.
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (t_len, b, input) = l1.shape().dims3()?;
        let (gh, width) = l2.shape().dims2()?;
        let g = self.cell.gates();
        let h = gh / g;
        if width != input + h || gh != g * h {
            candle_core::bail!("fused recurrent layer: weights of shape {gh}×{width}")
        }
        let x = slice(s1, l1)?;
        let (w_ih, w_hh) = split_weights(slice(s2, l2)?, gh, input, h);
        let bias = slice(s3, l3)?;
        let (b_ih, b_hh) = bias.split_at(gh);
        // Every step's input projection at once: one large product.
        let mut xw = vec![0f32; t_len * b * gh];
        matmul(
            t_len * b,
            gh,
            input,
            x,
            false,
            &w_ih,
            true,
            &mut xw,
            false,
            true,
        );
        let order: Vec<usize> = if self.reverse {
            (0..t_len).rev().collect()
        } else {
            (0..t_len).collect()
        };
        let cell = self.cell;
        let tasks = chunks(b);
        let done: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = tasks
            .par_iter()
            .map(|rows| {
                let n = rows.len();
                let mut acts = vec![0f32; t_len * n * gh];
                let mut extra = vec![0f32; t_len * n * h];
                let mut hid = vec![0f32; t_len * n * h];
                let mut pre = vec![0f32; n * gh];
                let mut h_prev = vec![0f32; n * h];
                let mut c_prev = vec![0f32; n * h];
                for (k, &t) in order.iter().enumerate() {
                    // pre = h_prev · W_hhᵀ (zero at the first step).
                    if k > 0 {
                        matmul(
                            n, gh, h, &h_prev, false, &w_hh, true, &mut pre, false, false,
                        );
                    }
                    for r in 0..n {
                        let xr = &xw[(t * b + rows.start + r) * gh..][..gh];
                        let pr = &pre[r * gh..(r + 1) * gh];
                        let at = t * n + r;
                        let ar = &mut acts[at * gh..(at + 1) * gh];
                        let er = &mut extra[at * h..(at + 1) * h];
                        let hr = &mut hid[at * h..(at + 1) * h];
                        let hp = &h_prev[r * h..(r + 1) * h];
                        let cp = &c_prev[r * h..(r + 1) * h];
                        match cell {
                            Cell::Lstm => lstm_gates(xr, pr, b_ih, b_hh, cp, ar, er, hr, h),
                            Cell::Gru => gru_gates(xr, pr, b_ih, b_hh, hp, ar, er, hr, h),
                        }
                    }
                    h_prev.copy_from_slice(&hid[t * n * h..(t + 1) * n * h]);
                    if cell == Cell::Lstm {
                        c_prev.copy_from_slice(&extra[t * n * h..(t + 1) * n * h]);
                    }
                }
                (acts, extra, hid)
            })
            .collect();
        let mut hidden = vec![0f32; t_len * b * h];
        let mut saved = Vec::with_capacity(tasks.len());
        for (rows, (acts, extra, hid)) in tasks.iter().zip(done) {
            let n = rows.len();
            for t in 0..t_len {
                hidden[(t * b + rows.start) * h..(t * b + rows.end) * h]
                    .copy_from_slice(&hid[t * n * h..(t + 1) * n * h]);
            }
            saved.push((acts, extra));
        }
        *self
            .saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned".into()))? =
            Some(Saved { chunks: saved });
        Ok((CpuStorage::F32(hidden), Shape::from((t_len, b, h))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let saved = self
            .saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("poisoned".into()))?
            .take()
            .ok_or_else(|| candle_core::Error::Msg("backward before forward".into()))?;
        let (t_len, b, input) = x.dims3()?;
        let (gh, _) = w.dims2()?;
        let g = self.cell.gates();
        let h = gh / g;
        let w_all = w.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let (w_ih, w_hh) = split_weights(&w_all, gh, input, h);
        let hidden = res.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let dh_all = grad.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let order: Vec<usize> = if self.reverse {
            (0..t_len).collect()
        } else {
            (0..t_len).rev().collect()
        };
        let cell = self.cell;
        let tasks = chunks(b);
        // Per task: its rows' input-projection gradients `[T, rows, gH]`, and its share of
        // dW_hh and db_hh.
        let parts: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = tasks
            .par_iter()
            .zip(saved.chunks.par_iter())
            .map(|(rows, (acts_c, extra_c))| {
                let n = rows.len();
                let mut dxw = vec![0f32; t_len * n * gh];
                let mut dw_hh = vec![0f32; gh * h];
                let mut db_hh = vec![0f32; gh];
                let mut dh_next = vec![0f32; n * h];
                let mut dc_next = vec![0f32; n * h];
                let mut dhw = vec![0f32; n * gh];
                let zeros = vec![0f32; n * h];
                for (k, &t) in order.iter().enumerate() {
                    // The step before t in processing order, if any.
                    let prev = (k + 1 < t_len).then(|| order[k + 1]);
                    let h_prev: &[f32] = match prev {
                        Some(p) => &hidden[(p * b + rows.start) * h..(p * b + rows.end) * h],
                        None => &zeros,
                    };
                    let c_prev: &[f32] = match prev {
                        Some(p) if cell == Cell::Lstm => &extra_c[p * n * h..(p + 1) * n * h],
                        _ => &zeros,
                    };
                    let dh_out = &dh_all[(t * b + rows.start) * h..(t * b + rows.end) * h];
                    for r in 0..n {
                        let at = t * n + r;
                        let a = &acts_c[at * gh..(at + 1) * gh];
                        let extra = &extra_c[at * h..(at + 1) * h];
                        let dx = &mut dxw[at * gh..(at + 1) * gh];
                        let dho = &dh_out[r * h..(r + 1) * h];
                        let dhn = &mut dh_next[r * h..(r + 1) * h];
                        match cell {
                            Cell::Lstm => lstm_backward_row(
                                a,
                                extra,
                                &c_prev[r * h..(r + 1) * h],
                                dho,
                                dhn,
                                &mut dc_next[r * h..(r + 1) * h],
                                dx,
                                h,
                            ),
                            Cell::Gru => gru_backward_row(
                                a,
                                extra,
                                &h_prev[r * h..(r + 1) * h],
                                dho,
                                dhn,
                                &mut dhw[r * gh..(r + 1) * gh],
                                dx,
                                h,
                            ),
                        }
                    }
                    // The recurrent product's gradients: dW_hh += dpreᵀ · h_prev and
                    // dh_prev (+)= dpre · W_hh, where dpre is the gradient of h_prev · W_hhᵀ.
                    let dpre: &[f32] = match cell {
                        Cell::Lstm => &dxw[t * n * gh..(t + 1) * n * gh],
                        Cell::Gru => &dhw,
                    };
                    if prev.is_some() {
                        matmul(gh, h, n, dpre, true, h_prev, false, &mut dw_hh, true, false);
                    }
                    if cell == Cell::Gru {
                        for row in dpre.chunks(gh) {
                            for (d, v) in db_hh.iter_mut().zip(row) {
                                *d += v;
                            }
                        }
                    }
                    let accumulate = cell == Cell::Gru;
                    matmul(
                        n,
                        h,
                        gh,
                        dpre,
                        false,
                        &w_hh,
                        false,
                        &mut dh_next,
                        accumulate,
                        false,
                    );
                }
                (dxw, dw_hh, db_hh)
            })
            .collect();
        let mut dxw = vec![0f32; t_len * b * gh];
        let mut dw_hh = vec![0f32; gh * h];
        let mut db_hh = vec![0f32; gh];
        for (rows, (dx_c, dw_c, db_c)) in tasks.iter().zip(parts) {
            let n = rows.len();
            for t in 0..t_len {
                dxw[(t * b + rows.start) * gh..(t * b + rows.end) * gh]
                    .copy_from_slice(&dx_c[t * n * gh..(t + 1) * n * gh]);
            }
            for (d, v) in dw_hh.iter_mut().zip(&dw_c) {
                *d += v;
            }
            for (d, v) in db_hh.iter_mut().zip(&db_c) {
                *d += v;
            }
        }
        // The input projection's gradients, each one large product.
        let rows = t_len * b;
        let xv = x.contiguous()?.flatten_all()?.to_vec1::<f32>()?;
        let mut dw_ih = vec![0f32; gh * input];
        matmul(
            gh, input, rows, &dxw, true, &xv, false, &mut dw_ih, false, true,
        );
        let mut dx = vec![0f32; rows * input];
        matmul(
            rows, input, gh, &dxw, false, &w_ih, false, &mut dx, false, true,
        );
        let mut db_ih = vec![0f32; gh];
        for row in dxw.chunks(gh) {
            for (d, v) in db_ih.iter_mut().zip(row) {
                *d += v;
            }
        }
        if self.cell == Cell::Lstm {
            // Both biases enter the gates the same way.
            db_hh.copy_from_slice(&db_ih);
        }
        let mut dw = vec![0f32; gh * (input + h)];
        for r in 0..gh {
            dw[r * (input + h)..r * (input + h) + input]
                .copy_from_slice(&dw_ih[r * input..(r + 1) * input]);
            dw[r * (input + h) + input..(r + 1) * (input + h)]
                .copy_from_slice(&dw_hh[r * h..(r + 1) * h]);
        }
        let mut db = db_ih;
        db.extend_from_slice(&db_hh);
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, (t_len, b, input), dev)?),
            Some(Tensor::from_vec(dw, (gh, input + h), dev)?),
            Some(Tensor::from_vec(db, (2, gh), dev)?),
        ))
    }
}

/// `W_ih` (`gh × input`) and `W_hh` (`gh × h`) out of `[W_ih | W_hh]` (`gh × (input + h)`).
fn split_weights(w: &[f32], gh: usize, input: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    let mut w_ih = Vec::with_capacity(gh * input);
    let mut w_hh = Vec::with_capacity(gh * h);
    for row in w.chunks(input + h).take(gh) {
        w_ih.extend_from_slice(&row[..input]);
        w_hh.extend_from_slice(&row[input..]);
    }
    (w_ih, w_hh)
}

/// The gate loops compiled a second time for AVX2 (8 lanes instead of SSE2's 4), chosen at run
/// time when the CPU has it; the portable build stays the default. A machine always takes the
/// same path, so its results are reproducible.
macro_rules! avx2_dispatch {
    ($name:ident, $body:ident, $avx2:ident, ($($arg:ident: $ty:ty),*)) => {
        #[allow(clippy::too_many_arguments)]
        #[inline]
        fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked just above).
                return unsafe { $avx2($($arg),*) };
            }
            $body($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[allow(clippy::too_many_arguments)]
        #[target_feature(enable = "avx2")]
        unsafe fn $avx2($($arg: $ty),*) {
            $body($($arg),*)
        }
    };
}

avx2_dispatch!(lstm_gates, lstm_gates_body, lstm_gates_avx2, (xr: &[f32], pr: &[f32], b_ih: &[f32], b_hh: &[f32], c_prev: &[f32], ar: &mut [f32], er: &mut [f32], hr: &mut [f32], h: usize));
avx2_dispatch!(gru_gates, gru_gates_body, gru_gates_avx2, (xr: &[f32], pr: &[f32], b_ih: &[f32], b_hh: &[f32], h_prev: &[f32], ar: &mut [f32], er: &mut [f32], hr: &mut [f32], h: usize));
avx2_dispatch!(lstm_backward_row, lstm_backward_row_body, lstm_backward_row_avx2, (a: &[f32], c: &[f32], c_prev: &[f32], dh_out: &[f32], dh_next: &[f32], dc_next: &mut [f32], dx: &mut [f32], h: usize));
avx2_dispatch!(gru_backward_row, gru_backward_row_body, gru_backward_row_avx2, (a: &[f32], hn: &[f32], h_prev: &[f32], dh_out: &[f32], dh_next: &mut [f32], dhw: &mut [f32], dx: &mut [f32], h: usize));

/// One row of LSTM gates (i, f, g, o) from the input projection `xr`, the recurrent product
/// `pr` and both biases; writes the activations, the cell state and the hidden state. Written
/// over zipped slices (no indexing) so that the loop vectorises.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lstm_gates_body(
    xr: &[f32],
    pr: &[f32],
    b_ih: &[f32],
    b_hh: &[f32],
    c_prev: &[f32],
    ar: &mut [f32],
    er: &mut [f32],
    hr: &mut [f32],
    h: usize,
) {
    let (x4, p4, bi4, bh4) = (
        quarters(xr, h),
        quarters(pr, h),
        quarters(b_ih, h),
        quarters(b_hh, h),
    );
    let (ai, rest) = ar.split_at_mut(h);
    let (af, rest) = rest.split_at_mut(h);
    let (ag, ao) = rest.split_at_mut(h);
    let (c_prev, er, hr) = (&c_prev[..h], &mut er[..h], &mut hr[..h]);
    for j in 0..h {
        let i = sigmoid(x4[0][j] + p4[0][j] + bi4[0][j] + bh4[0][j]);
        let f = sigmoid(x4[1][j] + p4[1][j] + bi4[1][j] + bh4[1][j]);
        let gg = tanh(x4[2][j] + p4[2][j] + bi4[2][j] + bh4[2][j]);
        let o = sigmoid(x4[3][j] + p4[3][j] + bi4[3][j] + bh4[3][j]);
        let c = f * c_prev[j] + i * gg;
        ai[j] = i;
        af[j] = f;
        ag[j] = gg;
        ao[j] = o;
        er[j] = c;
        hr[j] = o * tanh(c);
    }
}

/// The four `h`-long gate blocks of a row, each exactly `h` long (so indexing below `h` needs
/// no bounds check once the compiler knows it).
#[inline(always)]
fn quarters(v: &[f32], h: usize) -> [&[f32]; 4] {
    [&v[..h], &v[h..2 * h], &v[2 * h..3 * h], &v[3 * h..4 * h]]
}

/// One row of the LSTM's backward step: from the gradient reaching h (`dh_out` from the
/// layer's output plus `dh_next` from the step after) and c (`dc_next`), the gradients of the
/// four gates' pre-activations (`dx`) and of the previous cell state (into `dc_next`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lstm_backward_row_body(
    a: &[f32],
    c: &[f32],
    c_prev: &[f32],
    dh_out: &[f32],
    dh_next: &[f32],
    dc_next: &mut [f32],
    dx: &mut [f32],
    h: usize,
) {
    let [ai, af, ag, ao] = quarters(a, h);
    let (c, c_prev, dh_out, dh_next) = (&c[..h], &c_prev[..h], &dh_out[..h], &dh_next[..h]);
    let dc_next = &mut dc_next[..h];
    let (dxi, rest) = dx.split_at_mut(h);
    let (dxf, rest) = rest.split_at_mut(h);
    let (dxg, dxo) = rest.split_at_mut(h);
    let dxo = &mut dxo[..h];
    for j in 0..h {
        let dh = dh_out[j] + dh_next[j];
        let (i, f, gg, o) = (ai[j], af[j], ag[j], ao[j]);
        let tc = tanh(c[j]);
        let dc = dh * o * (1.0 - tc * tc) + dc_next[j];
        dxi[j] = dc * gg * i * (1.0 - i);
        dxf[j] = dc * c_prev[j] * f * (1.0 - f);
        dxg[j] = dc * i * (1.0 - gg * gg);
        dxo[j] = dh * tc * o * (1.0 - o);
        dc_next[j] = dc * f;
    }
}

/// One row of the GRU's backward step: the gradients of the gates' input pre-activations
/// (`dx`), of `h_prev · W_hhᵀ + b_hh` (`dhw`), and the direct path's share of the previous
/// hidden state's gradient (into `dh_next`; the product's share is added by the caller).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gru_backward_row_body(
    a: &[f32],
    hn: &[f32],
    h_prev: &[f32],
    dh_out: &[f32],
    dh_next: &mut [f32],
    dhw: &mut [f32],
    dx: &mut [f32],
    h: usize,
) {
    let [ar, az, an] = thirds(a, h);
    let (hn, h_prev, dh_out, dh_next) = (&hn[..h], &h_prev[..h], &dh_out[..h], &mut dh_next[..h]);
    let (dxr, rest) = dx.split_at_mut(h);
    let (dxz, dxn) = rest.split_at_mut(h);
    let dxn = &mut dxn[..h];
    let (dwr, rest) = dhw.split_at_mut(h);
    let (dwz, dwn) = rest.split_at_mut(h);
    let dwn = &mut dwn[..h];
    for j in 0..h {
        let dh = dh_out[j] + dh_next[j];
        let (r, z, n) = (ar[j], az[j], an[j]);
        let dan = dh * (1.0 - z) * (1.0 - n * n);
        let dar = dan * hn[j] * r * (1.0 - r);
        let daz = dh * (h_prev[j] - n) * z * (1.0 - z);
        dxr[j] = dar;
        dxz[j] = daz;
        dxn[j] = dan;
        dwr[j] = dar;
        dwz[j] = daz;
        dwn[j] = dan * r;
        dh_next[j] = dh * z;
    }
}

/// The three `h`-long gate blocks of a GRU row.
#[inline(always)]
fn thirds(v: &[f32], h: usize) -> [&[f32]; 3] {
    [&v[..h], &v[h..2 * h], &v[2 * h..3 * h]]
}

/// One row of GRU gates (r, z, n): `n = tanh(x_n + b_in + r ⊙ (W_hn h + b_hn))`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gru_gates_body(
    xr: &[f32],
    pr: &[f32],
    b_ih: &[f32],
    b_hh: &[f32],
    h_prev: &[f32],
    ar: &mut [f32],
    er: &mut [f32],
    hr: &mut [f32],
    h: usize,
) {
    let (x3, p3, bi3, bh3) = (
        thirds(xr, h),
        thirds(pr, h),
        thirds(b_ih, h),
        thirds(b_hh, h),
    );
    let (ar_, rest) = ar.split_at_mut(h);
    let (az, an) = rest.split_at_mut(h);
    let (er, hr, h_prev) = (&mut er[..h], &mut hr[..h], &h_prev[..h]);
    for j in 0..h {
        let hn = p3[2][j] + bh3[2][j];
        let r = sigmoid(x3[0][j] + bi3[0][j] + p3[0][j] + bh3[0][j]);
        let z = sigmoid(x3[1][j] + bi3[1][j] + p3[1][j] + bh3[1][j]);
        let n = tanh(x3[2][j] + bi3[2][j] + r * hn);
        ar_[j] = r;
        az[j] = z;
        an[j] = n;
        er[j] = hn;
        hr[j] = (1.0 - z) * n + z * h_prev[j];
    }
}

#[cfg(test)]
mod tests {
    use super::fast_exp;

    #[test]
    fn fast_exp_is_within_3e_7_of_exp() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let got = fast_exp(x) as f64;
            worst = worst.max(((got - want) / want).abs());
            x += 0.001_7;
        }
        assert!(worst < 3e-7, "worst relative error {worst}");
    }
}
