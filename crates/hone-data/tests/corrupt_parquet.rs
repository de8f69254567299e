//! Corrupt Parquet files found by the fuzz test (`crates/hone-cli/tests/fuzz.rs`) stay fixed.

use std::path::Path;
use std::time::{Duration, Instant};

/// A 10 kB file whose page header claims a huge Thrift list: the parquet crate's skipping took a
/// short read at the end of the file for success and looped for minutes (2^31 reads). hone's
/// strict reader makes it fail at once.
#[test]
fn a_page_header_claiming_a_huge_list_fails_fast() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/corrupt_page_header.parquet");
    let started = Instant::now();
    let err = hone_data::table::load(&path, &[]).expect_err("a corrupt file is an error");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let msg = err.to_string();
    assert!(msg.contains("corrupt_page_header.parquet"), "{msg}");
    assert_eq!(msg.lines().count(), 1, "{msg}");
}
