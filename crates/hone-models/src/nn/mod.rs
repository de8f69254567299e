//! Neural networks (MLP, 1-D CNN, LSTM, GRU) on leak-free windows, built on `candle`.
//!
//! - [`spec`]: the `[model]` table.
//! - [`windows`]: windows of past rows read out of one fold's scaled block (never copies of it).
//! - [`net`]: the networks, with PyTorch's parameter names and layouts.
//! - [`fused`]: recurrent layers as single ops on the CPU (forward and backward through time).
//! - [`train`]: the training loop (Adam/AdamW, schedules, clipping, early stopping,
//!   checkpoints and resume).
//!
//! The family that puts them behind the [`crate::Estimator`] seam is
//! [`crate::families::neural`].

pub mod fused;
pub mod net;
pub mod spec;
pub mod train;
pub mod windows;
