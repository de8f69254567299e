//! Claiming an output directory before a job runs, and writing result files all or nothing.

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Writes `contents` to `path` all or nothing: into a temporary file in the same directory,
/// flushed to disk, then renamed over `path`, so that a crash or a full disk never leaves a
/// half-written result file (a reader sees the old file or the whole new one).
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(contents)?;
        f.sync_all()
    });
    match written.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Why a directory cannot receive a job's outputs. Messages name the path; the CLI adds the
/// flag (`--out`).
#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    /// The path exists and is not a directory.
    #[error("{path} is not a directory")]
    NotADirectory {
        /// The path that is a file.
        path: PathBuf,
    },
    /// The path cannot be created because a folder above it is a file.
    #[error("{path} cannot be created: {parent} is not a directory")]
    ParentNotADirectory {
        /// The path.
        path: PathBuf,
        /// The ancestor that is a file.
        parent: PathBuf,
    },
    /// The directory already holds files and overwriting was not asked for.
    #[error("{path} is not empty")]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// A result file would replace a directory.
    #[error("{path} is a directory")]
    IsADirectory {
        /// The directory.
        path: PathBuf,
    },
    /// A result file exists and overwriting was not asked for.
    #[error("{path} already exists")]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// The folder a result file goes into does not exist.
    #[error("folder {path} does not exist")]
    NoFolder {
        /// The missing folder.
        path: PathBuf,
    },
    /// Overwriting was asked for a directory hone never clears.
    #[error("{path}: refusing to clear {why}")]
    Protected {
        /// The directory.
        path: PathBuf,
        /// Which rule protects it.
        why: &'static str,
    },
    /// Creating, probing or clearing the directory failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done (`create`, `write to`, `clear`).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Files whose presence marks a directory as a hone output (of `hone train` or `hone tune`),
/// the only kind `--overwrite` clears.
const OUTPUT_MARKERS: &[&str] = &["metrics.json", "model.json"];

/// Prefix of the hidden folder inside an output directory that holds the previous run's files
/// while an overwriting job runs.
const SET_ASIDE_PREFIX: &str = ".hone-replaced-";

fn io_error<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> OutDirError + 'a {
    move |source| OutDirError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Checks that a file can be created in the existing directory `dir` (read-only file systems,
/// permissions), by creating and removing an empty probe file.
fn probe_writable(dir: &Path) -> Result<(), OutDirError> {
    let probe = dir.join(format!(".hone-write-test-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(io_error("write to", dir))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// `path`, or `.` for a relative path with no parent (`run` → `.`).
/// `path` and the folders above it that do not exist, outermost first (what creating `path`
/// creates).
fn missing_from(path: &Path) -> Vec<PathBuf> {
    let mut missing = Vec::new();
    let mut at = path;
    while std::fs::symlink_metadata(at).is_err() {
        missing.push(at.to_path_buf());
        let up = parent_or_dot(at);
        if up == at {
            break;
        }
        at = up;
    }
    missing.reverse();
    missing
}

fn parent_or_dot(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The nearest of `dir` and its ancestors that exists: it must be a directory one can write to
/// for `dir` to be creatable.
fn nearest_existing(dir: &Path) -> &Path {
    let mut at = dir;
    while std::fs::symlink_metadata(at).is_err() {
        let up = parent_or_dot(at);
        if up == at {
            break;
        }
        at = up;
    }
    at
}

/// Checks, without creating anything, that `dir` can receive a job's outputs: it is a writable
/// directory, or it does not exist yet and its nearest existing ancestor is a writable directory.
/// It does not look at what `dir` holds (see [`OutDir::claim`]). Run before training, so that a
/// bad output path fails in milliseconds rather than after the job.
pub fn check_writable(dir: &Path) -> Result<(), OutDirError> {
    let at = nearest_existing(dir);
    if !at.is_dir() {
        return Err(if at == dir {
            OutDirError::NotADirectory {
                path: dir.to_path_buf(),
            }
        } else {
            OutDirError::ParentNotADirectory {
                path: dir.to_path_buf(),
                parent: at.to_path_buf(),
            }
        });
    }
    probe_writable(at)
}

fn is_empty_dir(dir: &Path) -> Result<bool, OutDirError> {
    let mut entries = std::fs::read_dir(dir).map_err(io_error("read", dir))?;
    Ok(entries.next().is_none())
}

/// Checks, without changing anything, that `dir` can be claimed by [`OutDir::claim`]: not a file,
/// empty unless `overwrite` (and then not one hone never clears: see `protected`), and creatable
/// and writable.
/// `hone tune` runs it before its search, so that a bad `--out` fails before hours of trials.
pub fn check_out_dir(dir: &Path, overwrite: bool) -> Result<(), OutDirError> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(OutDirError::NotADirectory {
            path: dir.to_path_buf(),
        }),
        Ok(_) => {
            if !is_empty_dir(dir)? {
                if !overwrite {
                    return Err(OutDirError::NotEmpty {
                        path: dir.to_path_buf(),
                    });
                }
                if let Some(why) = protected(dir) {
                    return Err(OutDirError::Protected {
                        path: dir.to_path_buf(),
                        why,
                    });
                }
            }
            probe_writable(dir)
        }
        Err(_) => check_writable(dir),
    }
}

/// Checks, without changing anything, that a result file can be written at `path` (`hone predict
/// --out`): not a directory, not an existing file unless `overwrite`, and in an existing
/// writable directory.
pub fn check_out_file(path: &Path, overwrite: bool) -> Result<(), OutDirError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            return Err(OutDirError::IsADirectory {
                path: path.to_path_buf(),
            });
        }
        Ok(_) if !overwrite => {
            return Err(OutDirError::AlreadyExists {
                path: path.to_path_buf(),
            });
        }
        _ => {}
    }
    let parent = parent_or_dot(path);
    if !parent.is_dir() {
        return Err(OutDirError::NoFolder {
            path: parent.to_path_buf(),
        });
    }
    probe_writable(parent)
}

/// Why `dir` (existing, non-empty) must never be cleared by `--overwrite`, if it must not.
///
/// The rules: never the file system root, the home directory, the current directory or a folder
/// above it; and only a directory that holds a hone output (`metrics.json` or `model.json`), so
/// that `--out ~/Documents --overwrite` deletes nothing.
fn protected(dir: &Path) -> Option<&'static str> {
    let Ok(canon) = std::fs::canonicalize(dir) else {
        return Some("a directory whose real path cannot be resolved");
    };
    if canon.parent().is_none() {
        return Some("the file system root");
    }
    let home = std::env::var_os("HOME").and_then(|h| std::fs::canonicalize(h).ok());
    if home.is_some_and(|h| h == canon) {
        return Some("the home directory");
    }
    let cwd = std::env::current_dir().and_then(std::fs::canonicalize);
    if cwd.is_ok_and(|c| c.starts_with(&canon)) {
        return Some("the current directory or a folder above it");
    }
    if !OUTPUT_MARKERS.iter().any(|m| canon.join(m).is_file()) {
        return Some("a directory that holds no hone output (no metrics.json or model.json)");
    }
    None
}

/// An output directory claimed for one job. [`OutDir::claim`] creates it, or empties it when
/// overwriting, before anything is trained; [`OutDir::commit`] keeps what the job wrote. Dropped
/// without a commit (the job failed), it removes what the job wrote and puts back the previous
/// run's files, so a failed job leaves the directory as it found it.
#[derive(Debug)]
pub struct OutDir {
    path: PathBuf,
    /// Directories this claim created, outermost first (removed again on failure).
    created: Vec<PathBuf>,
    /// Where the previous run's files wait while an overwriting job runs.
    set_aside: Option<PathBuf>,
    /// Whether the claim completed: only then may a failed job's files be removed (a claim that
    /// failed half-way only puts things back).
    ready: bool,
    committed: bool,
}

impl OutDir {
    /// Claims `path` for a job's outputs after [`check_out_dir`]: creates it if missing; with
    /// `overwrite`, moves the previous files into a hidden folder inside `path` until
    /// [`OutDir::commit`] deletes them (or a failed job gets them back).
    pub fn claim(path: &Path, overwrite: bool) -> Result<OutDir, OutDirError> {
        check_out_dir(path, overwrite)?;
        let mut claim = OutDir {
            path: path.to_path_buf(),
            created: Vec::new(),
            set_aside: None,
            ready: false,
            committed: false,
        };
        if path.is_dir() {
            if !is_empty_dir(path)? {
                claim.set_aside_previous()?;
            }
        } else {
            for dir in missing_from(path) {
                std::fs::create_dir(&dir).map_err(io_error("create", &dir))?;
                claim.created.push(dir);
            }
            probe_writable(path)?;
        }
        claim.ready = true;
        Ok(claim)
    }

    /// Claims a directory this call creates itself (an atomic `mkdir` of the last component):
    /// one that exists already, even empty, is [`OutDirError::AlreadyExists`], so two jobs can
    /// never share it. Missing folders above it are created.
    pub fn claim_fresh(path: &Path) -> Result<OutDir, OutDirError> {
        let mut claim = OutDir {
            path: path.to_path_buf(),
            created: Vec::new(),
            set_aside: None,
            ready: false,
            committed: false,
        };
        // Folders above it that do not exist are created here and removed again with it (a
        // failed job leaves no `runs/` behind).
        for dir in missing_from(parent_or_dot(path)) {
            match std::fs::create_dir(&dir) {
                Ok(()) => claim.created.push(dir),
                // Another job made it meanwhile: it is theirs to keep.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io_error("create", &dir)(e)),
            }
        }
        match std::fs::create_dir(path) {
            Ok(()) => claim.created.push(path.to_path_buf()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(OutDirError::AlreadyExists {
                    path: path.to_path_buf(),
                });
            }
            Err(e) => return Err(io_error("create", path)(e)),
        }
        probe_writable(path)?;
        claim.ready = true;
        Ok(claim)
    }

    /// A new directory `<root>/<name>-<stamp>` for a job without `--out`: the name reduced to
    /// characters safe in a file name (a job name `../x` must not escape `root`), and `-2`,
    /// `-3`, ... appended while the name is taken. Each candidate is created atomically
    /// ([`OutDir::claim_fresh`]): jobs started in the same instant get different directories.
    pub fn claim_default(root: &Path, name: &str, stamp: &str) -> Result<OutDir, OutDirError> {
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = format!("{safe}-{stamp}");
        let mut last = None;
        for k in 1..=1000 {
            let dir = root.join(if k == 1 {
                base.clone()
            } else {
                format!("{base}-{k}")
            });
            match OutDir::claim_fresh(&dir) {
                Err(e @ OutDirError::AlreadyExists { .. }) => last = Some(e),
                r => return r,
            }
        }
        Err(last.unwrap_or(OutDirError::AlreadyExists {
            path: root.join(base),
        }))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the job's outputs and deletes the previous run's files (best effort: a folder that
    /// cannot be removed stays hidden in the directory, and is never uploaded).
    pub fn commit(mut self) {
        self.committed = true;
        if let Some(old) = self.set_aside.take() {
            let _ = std::fs::remove_dir_all(old);
        }
    }

    /// Moves every entry of the directory into a new hidden folder inside it.
    fn set_aside_previous(&mut self) -> Result<(), OutDirError> {
        let old = self
            .path
            .join(format!("{SET_ASIDE_PREFIX}{}", std::process::id()));
        std::fs::create_dir(&old).map_err(io_error("clear", &self.path))?;
        self.set_aside = Some(old.clone());
        let entries = std::fs::read_dir(&self.path).map_err(io_error("clear", &self.path))?;
        for entry in entries {
            let entry = entry.map_err(io_error("clear", &self.path))?;
            if entry.path() == old {
                continue;
            }
            // On failure, Drop moves back what was already moved.
            std::fs::rename(entry.path(), old.join(entry.file_name()))
                .map_err(io_error("clear", &self.path))?;
        }
        Ok(())
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        // Remove what the job wrote (everything but the set-aside folder).
        if let Some(entries) = self
            .ready
            .then(|| std::fs::read_dir(&self.path).ok())
            .flatten()
        {
            for entry in entries.flatten() {
                let p = entry.path();
                if Some(&p) == self.set_aside.as_ref() {
                    continue;
                }
                let _ = if p.is_dir() && !p.is_symlink() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
        if let Some(old) = &self.set_aside {
            if let Ok(entries) = std::fs::read_dir(old) {
                for entry in entries.flatten() {
                    let _ = std::fs::rename(entry.path(), self.path.join(entry.file_name()));
                }
            }
            let _ = std::fs::remove_dir(old);
        }
        for dir in self.created.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Jobs of the same config started in the same instant never share a directory (two runs
    /// once both wrote `runs/sp500_direction-20261206-055940`), and a name cannot escape `root`.
    #[test]
    fn default_directories_started_together_are_all_distinct() {
        let root = tempfile::tempdir().unwrap();
        let barrier = std::sync::Barrier::new(8);
        let claims: Vec<OutDir> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        OutDir::claim_default(root.path(), "../job", "20261206-055940").unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut paths: Vec<PathBuf> = claims.iter().map(|c| c.path().to_path_buf()).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), 8);
        for p in &paths {
            assert_eq!(p.parent(), Some(root.path()));
            let name = p.file_name().unwrap().to_string_lossy();
            assert!(name.starts_with(".._job-20261206-055940"), "{name}");
        }
        // An existing directory, even empty, is never claimed fresh.
        let taken = root.path().join("taken");
        std::fs::create_dir(&taken).unwrap();
        assert!(matches!(
            OutDir::claim_fresh(&taken),
            Err(OutDirError::AlreadyExists { .. })
        ));
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_new_directory_is_created_and_removed_again_if_the_job_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("a/b");
        let claim = OutDir::claim(&out, false).unwrap();
        assert!(out.is_dir());
        std::fs::write(out.join("half.csv"), "x").unwrap();
        drop(claim);
        assert!(!tmp.path().join("a").exists());
        let claim = OutDir::claim(&out, false).unwrap();
        std::fs::write(out.join("metrics.json"), "{}").unwrap();
        claim.commit();
        assert_eq!(names(&out), vec!["metrics.json"]);
    }

    #[test]
    fn overwriting_sets_the_previous_files_aside_until_commit() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("o");
        std::fs::create_dir_all(out.join("pipeline")).unwrap();
        std::fs::write(out.join("metrics.json"), "old").unwrap();
        std::fs::write(out.join("equity.svg"), "old").unwrap();
        let e = OutDir::claim(&out, false).unwrap_err();
        assert!(matches!(e, OutDirError::NotEmpty { .. }), "{e}");
        // A failed job gets the previous files back.
        let claim = OutDir::claim(&out, true).unwrap();
        assert!(names(&out).iter().all(|n| n.starts_with(SET_ASIDE_PREFIX)));
        std::fs::write(out.join("metrics.json"), "new").unwrap();
        drop(claim);
        assert_eq!(names(&out), vec!["equity.svg", "metrics.json", "pipeline"]);
        assert_eq!(
            std::fs::read_to_string(out.join("metrics.json")).unwrap(),
            "old"
        );
        // A successful one keeps only its own.
        let claim = OutDir::claim(&out, true).unwrap();
        std::fs::write(out.join("metrics.json"), "new").unwrap();
        claim.commit();
        assert_eq!(names(&out), vec!["metrics.json"]);
    }

    #[test]
    fn files_foreign_folders_and_the_cwd_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let e = OutDir::claim(&file, true).unwrap_err();
        assert!(matches!(e, OutDirError::NotADirectory { .. }), "{e}");
        let e = OutDir::claim(&file.join("below"), true).unwrap_err();
        assert!(matches!(e, OutDirError::ParentNotADirectory { .. }), "{e}");
        let e = OutDir::claim(tmp.path(), true).unwrap_err();
        assert!(e.to_string().contains("holds no hone output"), "{e}");
        assert!(file.exists());
        assert!(protected(Path::new("/")).is_some());
        assert!(protected(Path::new(".")).is_some());
        assert!(protected(Path::new("..")).is_some());
    }

    #[test]
    fn result_files_are_checked_and_written_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("p.csv");
        check_out_file(&p, false).unwrap();
        write_atomic(&p, b"a,b\n").unwrap();
        assert!(matches!(
            check_out_file(&p, false),
            Err(OutDirError::AlreadyExists { .. })
        ));
        check_out_file(&p, true).unwrap();
        write_atomic(&p, b"c\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"c\n");
        assert_eq!(names(tmp.path()), vec!["p.csv"]);
        assert!(matches!(
            check_out_file(tmp.path(), true),
            Err(OutDirError::IsADirectory { .. })
        ));
        assert!(matches!(
            check_out_file(&tmp.path().join("no/p.csv"), true),
            Err(OutDirError::NoFolder { .. })
        ));
    }
}
