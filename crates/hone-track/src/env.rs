//! The environment a run executes in, captured automatically as run tags.
//!
//! Tags: `hone.version`, `hone.command`, `hone.os`, `hone.cpu`, `hone.cores`, `hone.memory_gb`,
//! `hone.gpu` (when `nvidia-smi` lists one), and, when the working directory is a git
//! repository, `mlflow.source.git.commit` and `hone.git.dirty` (MLflow clients show the commit).

use crate::keys;
use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
}

fn memory_gb() -> Option<String> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: f64 = info
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(format!("{:.1}", kb / 1024.0 / 1024.0))
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("PRETTY_NAME="))
                .map(|l| l["PRETTY_NAME=".len()..].trim_matches('"').to_string())
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string())
}

/// Environment tags for a run started by `hone_version`.
pub fn capture(hone_version: &str) -> Vec<(String, String)> {
    let mut tags = vec![
        (keys::VERSION.to_string(), hone_version.to_string()),
        (
            keys::COMMAND.to_string(),
            std::env::args().collect::<Vec<_>>().join(" "),
        ),
        (
            keys::OS.to_string(),
            format!("{} ({})", os_name(), std::env::consts::ARCH),
        ),
        (
            keys::CORES.to_string(),
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .to_string(),
        ),
        ("mlflow.user".to_string(), current_user()),
    ];
    if let Some(cpu) = cpu_model() {
        tags.push((keys::CPU.into(), cpu));
    }
    if let Some(m) = memory_gb() {
        tags.push((keys::MEMORY_GB.into(), m));
    }
    if let Some(commit) = run("git", &["rev-parse", "HEAD"]) {
        let dirty = run("git", &["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
        tags.push(("mlflow.source.git.commit".into(), commit));
        tags.push((keys::GIT_DIRTY.into(), dirty.to_string()));
    }
    if let Some(gpus) = run("nvidia-smi", &["-L"]).filter(|s| !s.is_empty()) {
        tags.push((
            keys::GPU.into(),
            gpus.lines().collect::<Vec<_>>().join("; "),
        ));
    }
    tags.retain(|(_, v)| !v.is_empty());
    tags
}

/// Who is running hone, for runs and the registry's audit log: `$USER`, else `$LOGNAME`, else
/// the account name of the process's user id (`/etc/passwd`: containers and CI often set
/// neither variable), else `unknown`.
pub fn current_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(u) = std::env::var(var)
            && !u.trim().is_empty()
        {
            return u;
        }
    }
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into())
}
