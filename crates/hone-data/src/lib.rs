//! Market data for hone: load CSV and Parquet files into numeric columns, derive causal features
//! and look-ahead-free targets, and fingerprint what was loaded.
//!
//! The flow is `table::load` (file → [`Table`]) then [`DataSpec::build`] (table → [`Dataset`]:
//! feature matrix, target, times, label windows). Every feature at row `t` is computed from rows
//! `≤ t` only; a target that needs rows past the end of the file drops those rows and says so.
//! Errors name the file, the line (CSV) or row (Parquet) and the column.
// Library policy (ARCHITECTURE.md, invariant 14): no unwrap on data from a user or a file.
#![warn(clippy::unwrap_used)]

pub mod cross_section;
pub mod dataset;
pub mod error;
pub mod expr;
mod fast_csv;
pub mod features;
pub mod fill;
pub mod fingerprint;
pub mod panel;
mod suggest;
pub mod table;
pub mod time;

pub use dataset::{DataSpec, Dataset, TargetKind, TargetSpec};
pub use error::DataError;
pub use features::DeriveSpec;
pub use panel::{CrossSectionSpec, Panel};
pub use table::{Column, ColumnValues, Table};
