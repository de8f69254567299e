//! Windows of past rows, read straight out of one fold's scaled block.
//!
//! The block is stored once, row-major in `f32`. A batch gathers each sample's window
//! (rows t−seq_len+1 … t) into one `[seq_len, batch, features]` tensor; nothing else is copied, so
//! training memory is the block plus one batch, whatever `seq_len` is. A window never reaches
//! back across the start of its segment (the first block row, or the first training row after
//! a test block a split left out): the positions before it read as zeros.

use candle_core::{Device, Tensor};

use crate::Matrix;

/// A time-ordered block of rows and the segments windows may not cross.
#[derive(Debug)]
pub struct Windows {
    rows: Vec<f32>,
    width: usize,
    seq_len: usize,
    /// Block positions where a segment starts, increasing, the first 0.
    starts: Vec<usize>,
}

impl Windows {
    /// Windows of `seq_len` rows over `block`; `starts` are the positions where a segment
    /// starts (0 is added when missing).
    pub fn new(block: &Matrix, seq_len: usize, starts: &[usize]) -> Self {
        let (n, width) = (block.n_rows(), block.n_cols());
        let mut rows = vec![0f32; n * width];
        for j in 0..width {
            for (i, v) in block.col(j).iter().enumerate() {
                rows[i * width + j] = *v as f32;
            }
        }
        let mut s: Vec<usize> = starts.iter().copied().filter(|&p| p < n.max(1)).collect();
        s.push(0);
        s.sort_unstable();
        s.dedup();
        Self {
            rows,
            width,
            seq_len,
            starts: s,
        }
    }

    /// Rows in the block.
    pub fn n_rows(&self) -> usize {
        self.rows.len().checked_div(self.width).unwrap_or(0)
    }

    /// The block's values, row-major.
    pub fn raw(&self) -> &[f32] {
        &self.rows
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.rows.len() * 4
    }

    /// The first position the window ending at `p` may read.
    fn segment_start(&self, p: usize) -> usize {
        let k = self.starts.partition_point(|&s| s <= p);
        self.starts[k.saturating_sub(1)]
    }

    /// The windows ending at `positions`, time-major: `[seq_len, positions.len(), features]`.
    pub fn batch(&self, positions: &[usize], device: &Device) -> candle_core::Result<Tensor> {
        let (t, b, f) = (self.seq_len, positions.len(), self.width);
        let mut out = vec![0f32; t * b * f];
        for (k, &p) in positions.iter().enumerate() {
            let from = self.segment_start(p);
            for tau in 0..t {
                // Row read at window step tau: p − (t − 1) + tau, when inside the segment.
                let Some(row) = (p + tau + 1).checked_sub(t) else {
                    continue;
                };
                if row < from {
                    continue;
                }
                let dst = (tau * b + k) * f;
                out[dst..dst + f].copy_from_slice(&self.rows[row * f..(row + 1) * f]);
            }
        }
        Tensor::from_vec(out, (t, b, f), device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_read_only_past_rows_of_their_segment() {
        // Row i holds the value i + 1 in its one column (0 is padding).
        let block = Matrix::from_columns(&[(1..9).map(f64::from).collect()]);
        let w = Windows::new(&block, 3, &[5]);
        let x = w.batch(&[1, 4, 5, 7], &Device::Cpu).unwrap();
        let v = x.to_vec3::<f32>().unwrap();
        // Row 1 reads (pad, row 0, row 1); row 4 reads rows 2, 3, 4; row 5 starts a segment:
        // (pad, pad, row 5); row 7 reads rows 5, 6, 7.
        let col = |k: usize| (0..3).map(|t| v[t][k][0]).collect::<Vec<_>>();
        assert_eq!(col(0), vec![0.0, 1.0, 2.0]);
        assert_eq!(col(1), vec![3.0, 4.0, 5.0]);
        assert_eq!(col(2), vec![0.0, 0.0, 6.0]);
        assert_eq!(col(3), vec![6.0, 7.0, 8.0]);
    }
}
