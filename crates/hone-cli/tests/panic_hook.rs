//! A panic anywhere in `hone` (a bug, never the user's fault) ends in one line on stderr and exit
//! code 70, even with `RUST_BACKTRACE=1`; it still fails every test that expects success or a
//! user error, since neither exits with 70.

use std::process::Command;

fn hone_with_panic(place: &str, extra_env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hone"));
    cmd.args(["split", "--scheme", "kfold", "--n-samples", "10"])
        .env("HONE_DEBUG_PANIC", place)
        .env("RUST_BACKTRACE", "1");
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.output().expect("run hone")
}

#[test]
fn a_panic_on_the_main_thread_is_one_line_and_exit_70() {
    let o = hone_with_panic("main", &[]);
    assert_eq!(o.status.code(), Some(70));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("internal error: HONE_DEBUG_PANIC"), "{err}");
    assert!(err.contains("please report"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn a_panic_in_a_worker_thread_ends_the_process_with_one_line() {
    let o = hone_with_panic("thread", &[]);
    assert_eq!(o.status.code(), Some(70));
    let err = String::from_utf8_lossy(&o.stderr);
    // The payload's newline is escaped, so the message stays one line.
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("HONE_DEBUG_PANIC\\nin a worker thread"),
        "{err}"
    );
}

#[test]
fn hone_backtrace_adds_the_backtrace_for_a_bug_report() {
    let o = hone_with_panic("main", &[("HONE_BACKTRACE", "1")]);
    assert_eq!(o.status.code(), Some(70));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.lines().count() > 1, "{err}");
}
