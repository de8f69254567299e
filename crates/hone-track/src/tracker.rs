//! The library API: a [`Tracker`] owns a store, a blob store and a background writer;
//! [`RunHandle`]s log to runs through it.
//!
//! Metric points go into a bounded queue (so logging never blocks training on the database,
//! and memory stays bounded: a full queue makes the caller wait) and are written in batches,
//! one transaction per drain. [`Tracker::flush`] returns once everything queued before it is
//! committed: from then on the data survives `kill -9` of the process (SQLite commits to its
//! write-ahead log; with `?durability=power` every commit is also fsynced). The runs a tracker
//! starts are owned by its lease (one per tracker, renewed by a [`LeaseKeeper`] thread), so
//! that runs of a dead process can be reaped.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::artifacts::{BlobStore, validate_artifact_path};
use crate::coordinator::LeaseKeeper;
use crate::model::*;
use crate::open::Backend;
use crate::store::{Batch, NewRun};
use crate::{Result, TrackError, now_ms};

/// Queue capacity (operations) of the background writer.
pub const QUEUE_CAPACITY: usize = 64 * 1024;
/// Points written per transaction at most.
const MAX_POINTS_PER_COMMIT: usize = 50_000;

enum Op {
    Batch(Batch),
    Flush(SyncSender<Result<()>>),
    Stop,
}

struct Inner {
    store: Arc<dyn Backend>,
    blobs: BlobStore,
    tx: SyncSender<Op>,
    /// Errors from background writes, reported by the next flush.
    errors: Mutex<Vec<TrackError>>,
    /// Runs started here and not yet ended (killed on interrupt).
    active: Mutex<Vec<String>>,
    /// The lease owning the runs started here.
    lease: LeaseKeeper,
}

/// A tracking session: store + artifacts + background writer.
pub struct Tracker {
    inner: Arc<Inner>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

/// A run being logged to.
#[derive(Clone)]
pub struct RunHandle {
    inner: Arc<Inner>,
    /// The run's id.
    pub run_id: String,
}

fn writer(inner: Arc<Inner>, rx: Receiver<Op>) {
    loop {
        let Ok(first) = rx.recv() else {
            return;
        };
        let mut batches = Vec::new();
        let mut waiters = Vec::new();
        let mut stop = false;
        let mut points = 0;
        let mut take = |op: Op, batches: &mut Vec<Batch>, points: &mut usize| match op {
            Op::Batch(b) => {
                *points += b.metrics.len().max(1);
                batches.push(b);
            }
            Op::Flush(w) => waiters.push(w),
            Op::Stop => stop = true,
        };
        take(first, &mut batches, &mut points);
        while points < MAX_POINTS_PER_COMMIT {
            match rx.try_recv() {
                Ok(op) => take(op, &mut batches, &mut points),
                Err(_) => break,
            }
        }
        write_batches(&inner, &merge(batches));
        for w in waiters {
            let err = inner
                .errors
                .lock()
                .map(|mut e| e.drain(..).next())
                .unwrap_or(None);
            let _ = w.send(err.map_or(Ok(()), Err));
        }
        if stop {
            return;
        }
    }
}

/// Merges consecutive batches of the same run into one.
fn merge(batches: Vec<Batch>) -> Vec<Batch> {
    let mut out: Vec<Batch> = Vec::new();
    for b in batches {
        match out.last_mut() {
            Some(last)
                if last.run_id == b.run_id && last.params.is_empty() && b.params.is_empty() =>
            {
                last.metrics.extend(b.metrics);
                last.tags.extend(b.tags);
            }
            _ => out.push(b),
        }
    }
    out
}

fn write_batches(inner: &Inner, batches: &[Batch]) {
    if batches.is_empty() {
        return;
    }
    if inner.store.log_batches(batches).is_ok() {
        return;
    }
    // One bad batch must not lose the others: retry one by one, keep each failure.
    for b in batches {
        if let Err(e) = inner.store.log_batches(std::slice::from_ref(b))
            && let Ok(mut errors) = inner.errors.lock()
        {
            errors.push(e);
        }
    }
}

impl Tracker {
    /// A tracker over a store and an artifact root. Runs left RUNNING by dead processes are
    /// reaped first.
    pub fn new(store: Box<dyn Backend>, blobs: BlobStore) -> Result<Self> {
        let store: Arc<dyn Backend> = Arc::from(store);
        store.reap()?;
        let (tx, rx) = sync_channel(QUEUE_CAPACITY);
        let inner = Arc::new(Inner {
            lease: LeaseKeeper::new(store.clone()),
            store,
            blobs,
            tx,
            errors: Mutex::new(Vec::new()),
            active: Mutex::new(Vec::new()),
        });
        let for_worker = inner.clone();
        let worker = std::thread::Builder::new()
            .name("hone-track-writer".into())
            .spawn(move || writer(for_worker, rx))
            .map_err(|e| TrackError::Db(format!("cannot start the tracking writer: {e}")))?;
        Ok(Self {
            inner,
            worker: Mutex::new(Some(worker)),
        })
    }

    /// Opens the store at `store_uri` and the artifact folder `artifacts`.
    pub fn open(store_uri: &str, artifacts: &std::path::Path) -> Result<Self> {
        Self::new(crate::open_store(store_uri)?, BlobStore::new(artifacts))
    }

    /// Opens the store at `store_uri` and the artifact location `artifacts_uri` (a folder,
    /// `file://path` or `s3://bucket/prefix`).
    pub fn open_uri(store_uri: &str, artifacts_uri: &str) -> Result<Self> {
        Self::new(
            crate::open_store(store_uri)?,
            BlobStore::open(artifacts_uri)?,
        )
    }

    /// The store (for reads).
    pub fn store(&self) -> &dyn Backend {
        self.inner.store.as_ref()
    }

    /// The blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    /// Starts a run in the named experiment (created if needed), tagging the environment.
    pub fn start_run(
        &self,
        experiment: &str,
        name: Option<&str>,
        parent: Option<&RunHandle>,
        tags: Vec<(String, String)>,
    ) -> Result<RunHandle> {
        let experiment_id = self.inner.store.get_or_create_experiment(experiment)?;
        let info = self.inner.store.create_run(NewRun {
            experiment_id,
            name: name.map(str::to_string),
            parent_run_id: parent.map(|p| p.run_id.clone()),
            user_id: None,
            tags,
            owner: Some(self.inner.lease.lease()?.clone()),
            ..Default::default()
        })?;
        if let Ok(mut a) = self.inner.active.lock() {
            a.push(info.run_id.clone());
        }
        Ok(RunHandle {
            inner: self.inner.clone(),
            run_id: info.run_id,
        })
    }

    /// Waits until everything queued so far is committed; reports failed background writes.
    pub fn flush(&self) -> Result<()> {
        flush(&self.inner)
    }

    /// Flushes, then marks every run this tracker started and has not ended as KILLED (for
    /// Ctrl-C). Returns the runs it marked.
    pub fn interrupt(&self) -> Result<Vec<String>> {
        let _ = flush(&self.inner);
        let runs: Vec<String> = self
            .inner
            .active
            .lock()
            .map(|mut a| std::mem::take(&mut *a))
            .unwrap_or_default();
        for r in &runs {
            self.inner.store.end_run(r, RunStatus::Killed)?;
        }
        Ok(runs)
    }

    /// A handle that can interrupt this tracker from another thread (a signal handler).
    pub fn interrupter(&self) -> impl Fn() + Send + Sync + 'static {
        let inner = self.inner.clone();
        move || {
            let _ = flush(&inner);
            let runs: Vec<String> = inner
                .active
                .lock()
                .map(|mut a| std::mem::take(&mut *a))
                .unwrap_or_default();
            for r in &runs {
                let _ = inner.store.end_run(r, RunStatus::Killed);
            }
        }
    }
}

fn flush(inner: &Inner) -> Result<()> {
    let (tx, rx) = sync_channel(1);
    inner
        .tx
        .send(Op::Flush(tx))
        .map_err(|_| TrackError::Db("the tracking writer has stopped".into()))?;
    rx.recv()
        .map_err(|_| TrackError::Db("the tracking writer has stopped".into()))?
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let _ = flush(&self.inner);
        let _ = self.inner.tx.send(Op::Stop);
        if let Ok(mut w) = self.worker.lock()
            && let Some(h) = w.take()
        {
            let _ = h.join();
        }
    }
}

impl RunHandle {
    fn enqueue(&self, batch: Batch) -> Result<()> {
        self.inner
            .tx
            .send(Op::Batch(batch))
            .map_err(|_| TrackError::Db("the tracking writer has stopped".into()))
    }

    /// Logs one metric point (queued).
    pub fn log_metric(&self, key: &str, value: f64, step: i64) -> Result<()> {
        self.log_metrics(&[(key, value)], step)
    }

    /// Logs several metrics at one step (queued).
    pub fn log_metrics(&self, values: &[(&str, f64)], step: i64) -> Result<()> {
        let timestamp = now_ms();
        for (k, _) in values {
            validate_key("metric", k)?;
        }
        self.enqueue(Batch {
            run_id: self.run_id.clone(),
            metrics: values
                .iter()
                .map(|(k, v)| Metric {
                    key: k.to_string(),
                    point: MetricPoint {
                        value: *v,
                        timestamp,
                        step,
                    },
                })
                .collect(),
            ..Default::default()
        })
    }

    /// Logs a whole series of one metric, step by step (queued).
    pub fn log_series(&self, key: &str, values: &[f64], first_step: i64) -> Result<()> {
        validate_key("metric", key)?;
        let timestamp = now_ms();
        self.enqueue(Batch {
            run_id: self.run_id.clone(),
            metrics: values
                .iter()
                .enumerate()
                .map(|(i, v)| Metric {
                    key: key.to_string(),
                    point: MetricPoint {
                        value: *v,
                        timestamp,
                        step: first_step + i as i64,
                    },
                })
                .collect(),
            ..Default::default()
        })
    }

    /// Logs params now (not queued): a param that already has another value is an error.
    pub fn log_params(&self, params: &[(String, String)]) -> Result<()> {
        self.inner.store.log_batches(&[Batch {
            run_id: self.run_id.clone(),
            params: params.to_vec(),
            ..Default::default()
        }])
    }

    /// Sets tags now (not queued).
    pub fn set_tags(&self, tags: &[(String, String)]) -> Result<()> {
        self.inner.store.log_batches(&[Batch {
            run_id: self.run_id.clone(),
            tags: tags.to_vec(),
            ..Default::default()
        }])
    }

    /// Records the datasets the run used.
    pub fn log_inputs(&self, datasets: &[DatasetInput]) -> Result<()> {
        self.inner.store.log_inputs(&self.run_id, datasets)
    }

    /// Stores bytes as an artifact at a logical path of the run.
    pub fn log_artifact_bytes(&self, path: &str, bytes: &[u8]) -> Result<ArtifactRecord> {
        validate_artifact_path(path)?;
        let (sha256, size) = self.inner.blobs.put(bytes)?;
        let record = ArtifactRecord {
            path: path.to_string(),
            sha256,
            size,
        };
        self.inner.store.record_artifact(&self.run_id, &record)?;
        Ok(record)
    }

    /// Stores a file as an artifact.
    pub fn log_artifact_file(&self, path: &str, file: &std::path::Path) -> Result<ArtifactRecord> {
        let bytes = std::fs::read(file).map_err(|e| TrackError::Io {
            path: file.display().to_string(),
            message: e.to_string(),
        })?;
        self.log_artifact_bytes(path, &bytes)
    }

    /// Flushes this process's queued writes, then ends the run.
    pub fn end(&self, status: RunStatus) -> Result<()> {
        let flushed = flush(&self.inner);
        if let Ok(mut a) = self.inner.active.lock() {
            a.retain(|r| r != &self.run_id);
        }
        self.inner.store.end_run(&self.run_id, status)?;
        flushed
    }
}
