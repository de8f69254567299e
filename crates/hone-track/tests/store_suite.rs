//! The store's behaviour, one test per behaviour, each run against both backends: SQLite (a
//! temp file) and PostgreSQL (a fresh database in a throwaway cluster shared by this test
//! binary). `sqlite::x` and `postgres::x` run the same function `x`, so one failure hides
//! nothing else.
//!
//! The cases are in `suites/store.rs`; `hone-server`'s `store_over_http` runs them through a
//! server.

mod common;

use common::Target;

include!("suites/store.rs");
