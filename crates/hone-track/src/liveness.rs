//! Whether a process on this machine is alive, read from `/proc`: the only thing hone-track
//! knows about processes. The reaper uses it to end the lease of a run whose holder is provably
//! gone without waiting for the lease to expire; it never keeps a run alive (a lease that
//! expired is dead on every machine alike).

/// This machine's name (recorded with a lease's holder, for the early reap of dead holders).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Start time of a process (field 22 of `/proc/<pid>/stat`), to tell a live holder from a
/// recycled pid.
pub fn process_start(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields restart after its closing paren.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(19).map(str::to_string)
}

/// Whether process `pid` of this machine is alive and, when `start` is known, is the same
/// process that recorded it (not a later one that reused the pid).
pub(crate) fn process_alive(pid: i64, start: Option<&str>) -> bool {
    if pid <= 0 {
        return false;
    }
    if std::path::Path::new("/proc").exists() {
        return match process_start(pid as u32) {
            None => false,
            Some(s) => start.is_none_or(|want| want == s),
        };
    }
    // SAFETY: signal 0 only checks whether the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}
