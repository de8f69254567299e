//! Background sampling of system resources while a job runs, logged under MLflow's
//! system-metric names (`system/cpu_utilization_percentage`, ...), so a run hone tracks reads the
//! same in an MLflow UI as one MLflow's own monitor recorded.
//!
//! A [`ResourceMonitor`] owns one thread that wakes every interval, takes a reading
//! ([`read_now`]) and hands it to a caller-given [`Sink`]. The module depends on no hone crate:
//! the caller decides where the figures go (a tracking store, a log, a test's vector).
//! [`ResourceMonitor::stop`] returns a [`ResourceSummary`] (peak RSS, CPU seconds) for the run's
//! final metrics.
//!
//! Sources: `/proc` on Linux (on other systems those figures are left out rather than failed),
//! `statvfs` for the disk, `getrusage` for the process's CPU time, and NVML (NVIDIA's management
//! library, the one `nvidia-smi` uses) loaded at run time, so hone neither links against nor
//! needs a GPU driver: without one there are simply no GPU figures.

use std::collections::HashMap;
use std::ffi::{c_int, c_uint, c_ulonglong, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Default interval between samples.
///
/// MLflow's own system-metrics monitor samples every 10 s too; finer sampling mostly adds rows.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// Env var: seconds between samples; "0" or "off" disables the monitor.
pub const INTERVAL_ENV: &str = "HONE_SYSTEM_METRICS_INTERVAL";

/// Shortest interval honoured: a zero interval would turn the sampler into a busy loop.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Prefix of every metric name, as MLflow writes its system metrics.
const PREFIX: &str = "system/";

/// The sampling interval [`INTERVAL_ENV`] asks for: [`DEFAULT_INTERVAL`] when it is unset or
/// empty, `Ok(None)` when it disables the monitor ("0" or "off"), and otherwise its number of
/// seconds (decimals such as "0.5" allowed).
///
/// The error is one line naming the variable and the value, for the CLI to print as is.
pub fn interval_from_env() -> Result<Option<Duration>, String> {
    match std::env::var(INTERVAL_ENV) {
        Ok(value) => parse_interval(Some(&value)),
        Err(std::env::VarError::NotPresent) => parse_interval(None),
        Err(std::env::VarError::NotUnicode(value)) => Err(format!(
            "{INTERVAL_ENV}={value:?} is not valid text; {INTERVAL_HINT}"
        )),
    }
}

/// What every interval error ends with: what a valid value looks like.
const INTERVAL_HINT: &str =
    "give the seconds between system-metric samples (e.g. 10 or 0.5), or 0 or off to disable";

/// [`interval_from_env`] on a given value (`None`: the variable is unset), so it can be tested
/// without touching the process environment.
fn parse_interval(value: Option<&str>) -> Result<Option<Duration>, String> {
    let value = match value.map(str::trim) {
        // An empty value is what `VAR= hone train` gives; treat it as unset.
        None | Some("") => return Ok(Some(DEFAULT_INTERVAL)),
        Some(value) => value,
    };
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = |why: &str| format!("{INTERVAL_ENV}={value:?}: {why}; {INTERVAL_HINT}");
    let seconds: f64 = value.parse().map_err(|_| bad("not a number"))?;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(bad("not a finite number of seconds, 0 or more"));
    }
    if seconds == 0.0 {
        return Ok(None);
    }
    let interval = Duration::try_from_secs_f64(seconds).map_err(|_| bad("too large"))?;
    if interval < MIN_INTERVAL {
        return Err(bad("below the 0.001 s minimum"));
    }
    Ok(Some(interval))
}

/// Where samples go: called with the step (0, 1, 2, ...), the time of the reading in Unix
/// milliseconds, and the `(name, value)` figures, from the monitor's own thread (hence `Send`).
///
/// If it panics, the monitor stops calling it (the panic is reported by the panic hook as
/// usual) but keeps running, so [`ResourceMonitor::stop`] still returns a summary.
pub type Sink = Box<dyn FnMut(u64, i64, &[(String, f64)]) + Send>;

/// A running sampler of system resources; see the module documentation.
///
/// Dropping it without [`stop`](ResourceMonitor::stop) stops the thread too, so an early return
/// or a panic in the job never leaves it sampling.
pub struct ResourceMonitor {
    /// Dropping this wakes the thread and ends it (its `recv_timeout` sees the disconnect).
    stop: Option<Sender<()>>,
    /// `None` once stopped, or when the thread could not be spawned.
    thread: Option<JoinHandle<ResourceSummary>>,
    /// The process's CPU time at start, kept here too so a summary can still be made if the
    /// thread is missing.
    start_cpu: Option<f64>,
}

impl ResourceMonitor {
    /// Starts the sampling thread; the first sample is taken after one interval (CPU % needs two
    /// readings), step 0, 1, 2, ...
    ///
    /// An interval under 1 ms is raised to 1 ms. If the thread cannot be spawned there are no
    /// samples, but [`stop`](ResourceMonitor::stop) still returns the process figures: resource
    /// monitoring must never fail a training job.
    pub fn start(interval: Duration, sink: Sink) -> ResourceMonitor {
        let interval = interval.max(MIN_INTERVAL);
        let start_cpu = process_cpu_seconds();
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("hone-monitor".to_string())
            .spawn(move || run(interval, sink, stopped, start_cpu))
            .ok();
        ResourceMonitor {
            stop: Some(stop),
            thread,
            start_cpu,
        }
    }

    /// Stops the thread promptly (no waiting for the interval to elapse: use a channel
    /// recv_timeout), takes one final reading for the summary, returns the summary.
    ///
    /// The final reading goes into the summary only, not to the sink: a sample taken just after
    /// the last one would cover a meaningless sliver of time.
    pub fn stop(mut self) -> ResourceSummary {
        self.finish()
    }

    /// Stops the thread and returns its summary; shared by [`stop`](Self::stop) and `Drop`.
    fn finish(&mut self) -> ResourceSummary {
        // Dropping the sender disconnects the channel, which ends the thread's `recv_timeout`
        // at once: stopping never waits out the rest of an interval.
        drop(self.stop.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(summary)) => summary,
            // No thread (spawn failed) or it died: the process-wide figures can still be read
            // from here, only the sample count and the GPUs are unknown.
            _ => summarise(self.start_cpu, None, 0, 0),
        }
    }
}

impl Drop for ResourceMonitor {
    /// Stops the thread if [`ResourceMonitor::stop`] was not called.
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.finish();
        }
    }
}

/// What a monitored run used, for the run's final metrics ([`ResourceSummary::metrics`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResourceSummary {
    /// The process's peak resident memory, in MB (10^6 bytes, like MLflow's figures): the
    /// kernel's high-water mark (`VmHWM`), which also catches peaks between samples; the largest
    /// sampled RSS where that is unavailable; 0 where neither is (not Linux).
    pub peak_rss_megabytes: f64,
    /// CPU time (user + system, all threads) the process used while monitored, in seconds.
    pub cpu_seconds: f64,
    /// Samples handed to the sink.
    pub samples: u64,
    /// GPUs NVML reported (0 without NVML).
    pub gpus: usize,
}

impl ResourceSummary {
    /// The summary as metrics: `system/peak_rss_megabytes` and `system/process_cpu_seconds`.
    pub fn metrics(&self) -> Vec<(String, f64)> {
        vec![
            metric("peak_rss_megabytes", self.peak_rss_megabytes),
            metric("process_cpu_seconds", self.cpu_seconds),
        ]
    }
}

/// What successive readings are measured against: the previous CPU counters (utilisation is a
/// ratio of deltas), the network counters at start (traffic is reported since the monitor
/// started, as MLflow does), the largest RSS seen, and NVML when a GPU driver is present.
///
/// It holds NVML device handles (raw pointers), so it stays on the thread that made it.
pub struct Sampler {
    /// Machine-wide CPU counters at the previous reading.
    cpu: Option<CpuTimes>,
    /// Process CPU seconds at the previous reading, and when it was taken.
    process: Option<(Instant, f64)>,
    /// Per-interface (received, transmitted) bytes when the sampler was made.
    net_start: Option<HashMap<String, (u64, u64)>>,
    /// The largest RSS sampled, in MB: the peak's fallback where `VmHWM` is missing.
    max_rss_megabytes: Option<f64>,
    /// NVML, when the library loads and initialises and reports at least one GPU.
    nvml: Option<Nvml>,
}

impl Sampler {
    /// Takes the baseline readings and loads NVML if it is there (never failing: whatever cannot
    /// be read is left out of later readings).
    pub fn new() -> Sampler {
        Sampler {
            cpu: read_proc("/proc/stat").and_then(|text| parse_proc_stat(&text)),
            process: process_cpu_seconds().map(|seconds| (Instant::now(), seconds)),
            net_start: read_proc("/proc/net/dev").map(|text| parse_net_dev(&text)),
            max_rss_megabytes: None,
            nvml: Nvml::load(),
        }
    }

    /// How many GPUs this sampler reads (0 without NVML).
    pub fn gpus(&self) -> usize {
        self.nvml.as_ref().map_or(0, |nvml| nvml.devices.len())
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::new()
    }
}

/// One reading now (what each sample logs), for tests and one-off use.
///
/// Utilisation figures compare with the previous reading (or the sampler's creation), so they
/// are missing when no time has passed; figures that cannot be read (not Linux, no NVML, a
/// failing NVML call) are left out, never an error.
pub fn read_now(sampler: &mut Sampler) -> Vec<(String, f64)> {
    let mut metrics = Vec::new();

    if let Some(now) = read_proc("/proc/stat").and_then(|text| parse_proc_stat(&text)) {
        if let Some(percent) = sampler.cpu.and_then(|before| cpu_percent(before, now)) {
            metrics.push(metric("cpu_utilization_percentage", percent));
        }
        sampler.cpu = Some(now);
    }

    if let Some((megabytes, percent)) = read_proc("/proc/meminfo")
        .and_then(|text| parse_meminfo(&text))
        .and_then(memory_figures)
    {
        metrics.push(metric("system_memory_usage_megabytes", megabytes));
        metrics.push(metric("system_memory_usage_percentage", percent));
    }

    // The root file system, as MLflow's `psutil.disk_usage("/")`.
    if let Some(disk) = read_disk(c"/") {
        metrics.push(metric("disk_usage_percentage", disk.percent));
        metrics.push(metric("disk_usage_megabytes", disk.used_megabytes));
        metrics.push(metric("disk_available_megabytes", disk.available_megabytes));
    }

    if let (Some(start), Some(now)) = (
        sampler.net_start.as_ref(),
        read_proc("/proc/net/dev").map(|text| parse_net_dev(&text)),
    ) {
        let (received, transmitted) = net_since(start, &now);
        metrics.push(metric(
            "network_receive_megabytes",
            bytes_to_megabytes(received),
        ));
        metrics.push(metric(
            "network_transmit_megabytes",
            bytes_to_megabytes(transmitted),
        ));
    }

    if let Some(rss) = read_rss_megabytes() {
        metrics.push(metric("process_rss_megabytes", rss));
        sampler.max_rss_megabytes = Some(sampler.max_rss_megabytes.map_or(rss, |max| max.max(rss)));
    }

    if let Some(seconds) = process_cpu_seconds() {
        let now = Instant::now();
        if let Some((then, before)) = sampler.process {
            let wall = now.duration_since(then).as_secs_f64();
            if wall > 0.0 {
                // Over 100 when several cores work at once, like `top`'s process figure.
                let percent = (seconds - before).max(0.0) / wall * 100.0;
                metrics.push(metric("process_cpu_utilization_percentage", percent));
            }
        }
        sampler.process = Some((now, seconds));
    }

    if let Some(nvml) = &sampler.nvml {
        nvml.read(&mut metrics);
    }
    metrics
}

/// The monitor thread: sample every interval until the channel disconnects, then summarise.
fn run(
    interval: Duration,
    sink: Sink,
    stopped: Receiver<()>,
    start_cpu: Option<f64>,
) -> ResourceSummary {
    let mut sampler = Sampler::new();
    let mut sink = Some(sink);
    let mut samples = 0u64;
    let mut deadline = Instant::now().checked_add(interval);
    loop {
        let woke = match deadline {
            Some(deadline) => {
                stopped.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            }
            // An interval too long to represent as an instant: only a stop can come.
            None => stopped.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match woke {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
        }
        let at = unix_millis();
        let metrics = read_now(&mut sampler);
        if let Some(log) = sink.as_mut() {
            // A panicking sink must not take the summary down with it; it is not called again,
            // since whatever it writes to may be left half-updated.
            if catch_unwind(AssertUnwindSafe(|| log(samples, at, &metrics))).is_ok() {
                samples += 1;
            } else {
                sink = None;
            }
        }
        // Schedule from the deadline, not from now, so the time a sample takes does not make
        // samples drift; if a slow sink overran whole intervals, skip them rather than burst.
        let now = Instant::now();
        deadline = deadline
            .and_then(|deadline| deadline.checked_add(interval))
            .and_then(|next| {
                if next > now {
                    Some(next)
                } else {
                    now.checked_add(interval)
                }
            });
    }
    // The final reading: RSS now, in case it peaked after the last sample.
    let max_rss = match (sampler.max_rss_megabytes, read_rss_megabytes()) {
        (Some(max), Some(now)) => Some(max.max(now)),
        (max, now) => max.or(now),
    };
    summarise(start_cpu, max_rss, samples, sampler.gpus())
    // `sampler` drops here, shutting NVML down on the thread that initialised it.
}

/// The summary at stop, from the kernel's RSS high-water mark and the CPU time since start.
fn summarise(
    start_cpu: Option<f64>,
    max_rss_megabytes: Option<f64>,
    samples: u64,
    gpus: usize,
) -> ResourceSummary {
    let peak_rss_megabytes = read_proc("/proc/self/status")
        .and_then(|text| kib_field(&text, "VmHWM"))
        .map(kib_to_megabytes)
        .or(max_rss_megabytes)
        .unwrap_or(0.0);
    let cpu_seconds = match (start_cpu, process_cpu_seconds()) {
        (Some(start), Some(end)) => (end - start).max(0.0),
        _ => 0.0,
    };
    ResourceSummary {
        peak_rss_megabytes,
        cpu_seconds,
        samples,
        gpus,
    }
}

/// `(system/{name}, value)`.
fn metric(name: &str, value: f64) -> (String, f64) {
    (format!("{PREFIX}{name}"), value)
}

/// Now in Unix milliseconds; 0 if the clock is before 1970 (a sample's time is informative,
/// not worth failing over).
fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Bytes to MB as MLflow reports them (`bytes / 1e6`).
fn bytes_to_megabytes(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// `/proc`'s "kB" (which are KiB) to MB as MLflow reports them: `KiB × 1024 / 1e6`.
fn kib_to_megabytes(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// A `/proc` file's text; `None` off Linux or when it cannot be read.
#[cfg(target_os = "linux")]
fn read_proc(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// A `/proc` file's text; `None` off Linux or when it cannot be read.
#[cfg(not(target_os = "linux"))]
fn read_proc(_path: &str) -> Option<String> {
    None
}

/// The process's resident memory now (`VmRSS`), in MB.
fn read_rss_megabytes() -> Option<f64> {
    read_proc("/proc/self/status")
        .and_then(|text| kib_field(&text, "VmRSS"))
        .map(kib_to_megabytes)
}

/// Machine-wide CPU time counters (in clock ticks) from the `cpu` line of `/proc/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CpuTimes {
    /// Ticks spent working: total − idle − iowait.
    busy: u64,
    /// All ticks: user, nice, system, idle, iowait, irq, softirq, steal.
    total: u64,
}

/// The aggregate `cpu ` line of `/proc/stat`.
///
/// Only the first eight fields are summed: guest and guest_nice (fields 9 and 10) are already
/// counted in user and nice, and adding them would count guest time twice. Older kernels list
/// fewer fields; four (up to idle) are the least that makes sense.
fn parse_proc_stat(text: &str) -> Option<CpuTimes> {
    let line = text.lines().find(|line| line.starts_with("cpu "))?;
    let fields = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(str::parse::<u64>)
        .collect::<Result<Vec<_>, _>>()
        .ok()?;
    let idle = *fields.get(3)?;
    let iowait = fields.get(4).copied().unwrap_or(0);
    let total = fields
        .iter()
        .fold(0u64, |sum, &field| sum.saturating_add(field));
    Some(CpuTimes {
        busy: total.saturating_sub(idle).saturating_sub(iowait),
        total,
    })
}

/// Machine-wide CPU utilisation between two readings: busy delta / total delta × 100.
///
/// `None` when no tick passed. Clamped to [0, 100] because the kernel's iowait counter may go
/// backwards, which would otherwise show as a figure out of range.
fn cpu_percent(before: CpuTimes, now: CpuTimes) -> Option<f64> {
    let total = now
        .total
        .checked_sub(before.total)
        .filter(|&ticks| ticks > 0)?;
    let busy = now.busy.saturating_sub(before.busy);
    Some((busy as f64 / total as f64 * 100.0).clamp(0.0, 100.0))
}

/// The value of a `Key:   1234 kB` line, as in `/proc/meminfo` and `/proc/self/status`.
fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// The two `/proc/meminfo` figures memory usage is computed from, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MemInfo {
    total_kib: u64,
    available_kib: u64,
}

/// `MemTotal` and `MemAvailable` from `/proc/meminfo` (`None` on kernels before 3.14, which
/// lack `MemAvailable`: there is no figure worth guessing).
fn parse_meminfo(text: &str) -> Option<MemInfo> {
    Some(MemInfo {
        total_kib: kib_field(text, "MemTotal")?,
        available_kib: kib_field(text, "MemAvailable")?,
    })
}

/// (used MB, used %) with used = MemTotal − MemAvailable.
///
/// MLflow's megabytes are psutil's `virtual_memory().used / 1e6`, and psutil's `used` on Linux is
/// total − free − buffers − cached, while its `percent` is (total − available) / total. Using
/// total − available for both keeps the two figures consistent with each other and counts
/// reclaimable caches as free, as `MemAvailable` is meant to; the MB are `KiB × 1024 / 1e6`.
fn memory_figures(memory: MemInfo) -> Option<(f64, f64)> {
    if memory.total_kib == 0 {
        return None;
    }
    let used_kib = memory.total_kib.saturating_sub(memory.available_kib);
    Some((
        kib_to_megabytes(used_kib),
        used_kib as f64 / memory.total_kib as f64 * 100.0,
    ))
}

/// Per-interface (received, transmitted) bytes from `/proc/net/dev`, without the loopback `lo`
/// (traffic a process sends itself is not network use).
///
/// Lines are `name: rx_bytes rx_packets ... (8 receive fields) tx_bytes ...`; the two header
/// lines have no colon and are skipped, as is any line that does not parse.
fn parse_net_dev(text: &str) -> HashMap<String, (u64, u64)> {
    text.lines()
        .filter_map(|line| {
            // Split at the colon, not at whitespace: old kernels print `eth0:123` when the
            // number is wide.
            let (name, counters) = line.split_once(':')?;
            let name = name.trim();
            if name == "lo" {
                return None;
            }
            let mut fields = counters.split_whitespace();
            let received = fields.next()?.parse().ok()?;
            let transmitted = fields.nth(7)?.parse().ok()?;
            Some((name.to_string(), (received, transmitted)))
        })
        .collect()
}

/// (received, transmitted) bytes since `start`, summed over interfaces.
///
/// Per interface, so one that appeared since start counts from its creation and one that
/// vanished drops out instead of making the total go backwards; a counter that went backwards
/// (an interface recreated) counts as 0 rather than as a huge wrapped-around number.
fn net_since(start: &HashMap<String, (u64, u64)>, now: &HashMap<String, (u64, u64)>) -> (u64, u64) {
    now.iter()
        .fold((0u64, 0u64), |(rx_sum, tx_sum), (name, &(rx, tx))| {
            let (rx0, tx0) = start.get(name).copied().unwrap_or((0, 0));
            (
                rx_sum.saturating_add(rx.saturating_sub(rx0)),
                tx_sum.saturating_add(tx.saturating_sub(tx0)),
            )
        })
}

/// Disk usage as MLflow reports it (psutil's `disk_usage`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct DiskFigures {
    percent: f64,
    used_megabytes: f64,
    available_megabytes: f64,
}

/// psutil's `disk_usage` arithmetic on `statvfs` figures: used = (blocks − free) × fragment
/// size, available = blocks available to unprivileged users × fragment size, and the percentage
/// is used / (used + available), so the blocks reserved for root do not make a full disk read
/// as less than 100 %.
fn disk_figures(
    fragment_size: f64,
    blocks: f64,
    free_blocks: f64,
    available_blocks: f64,
) -> Option<DiskFigures> {
    let used = (blocks - free_blocks).max(0.0) * fragment_size;
    let available = available_blocks * fragment_size;
    let usable = used + available;
    if usable <= 0.0 {
        return None;
    }
    Some(DiskFigures {
        percent: used / usable * 100.0,
        used_megabytes: used / 1e6,
        available_megabytes: available / 1e6,
    })
}

/// The disk figures of the file system holding `path`.
#[cfg(unix)]
fn read_disk(path: &std::ffi::CStr) -> Option<DiskFigures> {
    // SAFETY: `statvfs` is a C struct of plain integers, for which all-zero bytes are a valid
    // value.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and outlives the call; `stat` is a live, writable statvfs
    // that the call fills in and keeps no pointer to.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    disk_figures(
        stat.f_frsize as f64,
        stat.f_blocks as f64,
        stat.f_bfree as f64,
        stat.f_bavail as f64,
    )
}

/// The disk figures of the file system holding `path`; none off Unix.
#[cfg(not(unix))]
fn read_disk(_path: &std::ffi::CStr) -> Option<DiskFigures> {
    None
}

/// CPU time (user + system, all threads) the process has used, in seconds.
#[cfg(unix)]
fn process_cpu_seconds() -> Option<f64> {
    // SAFETY: `rusage` is a C struct of plain integers, for which all-zero bytes are a valid
    // value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF is a valid `who`, and `usage` is a live, writable rusage that the call
    // fills in and keeps no pointer to.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return None;
    }
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    Some(seconds(usage.ru_utime) + seconds(usage.ru_stime))
}

/// CPU time the process has used; unknown off Unix.
#[cfg(not(unix))]
fn process_cpu_seconds() -> Option<f64> {
    None
}

/// `nvmlReturn_t`: 0 is success, anything else an error.
type NvmlReturn = c_int;
/// `nvmlDevice_t`: an opaque handle, valid until `nvmlShutdown`.
type NvmlDevice = *mut c_void;
const NVML_SUCCESS: NvmlReturn = 0;

/// `nvmlUtilization_t`: percentages of the last sample period (1/6 s to 1 s, by product).
#[repr(C)]
#[derive(Default)]
struct NvmlUtilization {
    gpu: c_uint,
    /// Memory-controller busy time; declared for the layout, not reported (MLflow does not).
    _memory: c_uint,
}

/// `nvmlMemory_t` (the v1 struct `nvmlDeviceGetMemoryInfo` fills), in bytes.
#[repr(C)]
#[derive(Default)]
struct NvmlMemory {
    total: c_ulonglong,
    /// Declared for the layout; `used` is what is reported.
    _free: c_ulonglong,
    used: c_ulonglong,
}

/// The names NVML is loaded by: the versioned one the driver installs, then the development
/// link some systems have instead.
#[cfg(not(windows))]
const NVML_LIBRARIES: &[&str] = &["libnvidia-ml.so.1", "libnvidia-ml.so"];
/// The name NVML is loaded by (installed with the driver, on the system path).
#[cfg(windows)]
const NVML_LIBRARIES: &[&str] = &["nvml.dll"];

/// NVML, loaded at run time and initialised, with a handle for each GPU it reported.
///
/// Like MLflow, it reports every GPU on the machine, whatever `CUDA_VISIBLE_DEVICES` says (NVML
/// ignores it), indexed as `nvidia-smi` indexes them.
struct Nvml {
    shutdown: unsafe extern "C" fn() -> NvmlReturn,
    utilization: unsafe extern "C" fn(NvmlDevice, *mut NvmlUtilization) -> NvmlReturn,
    memory: unsafe extern "C" fn(NvmlDevice, *mut NvmlMemory) -> NvmlReturn,
    /// Milliwatts.
    power: unsafe extern "C" fn(NvmlDevice, *mut c_uint) -> NvmlReturn,
    /// Milliwatts.
    power_limit: unsafe extern "C" fn(NvmlDevice, *mut c_uint) -> NvmlReturn,
    /// (NVML index, handle) of each GPU whose handle NVML gave.
    devices: Vec<(c_uint, NvmlDevice)>,
    /// The loaded library: the function pointers above point into it, so it must stay loaded
    /// as long as they live. Fields drop after `Drop::drop` has called `nvmlShutdown`.
    _library: libloading::Library,
}

impl Nvml {
    /// NVML with its GPUs, or `None` when the library is missing, lacks a symbol, fails to
    /// initialise or reports no GPU: the absence of GPU figures is never an error.
    fn load() -> Option<Nvml> {
        let library = NVML_LIBRARIES.iter().find_map(|name| {
            // SAFETY: NVML is NVIDIA's library made to be loaded by monitoring tools (nvidia-smi
            // and pynvml dlopen it the same way); its initialisers only set the library up.
            unsafe { libloading::Library::new(name) }.ok()
        })?;
        // SAFETY: each type is the symbol's C signature in nvml.h (NVML's stable ABI); the
        // pointers are copied out of their `Symbol`s but stay valid because `library` is kept
        // alongside them in the returned struct.
        let (init, shutdown, count, handle, utilization, memory, power, power_limit) = unsafe {
            (
                *library
                    .get::<unsafe extern "C" fn() -> NvmlReturn>(b"nvmlInit_v2\0")
                    .ok()?,
                *library
                    .get::<unsafe extern "C" fn() -> NvmlReturn>(b"nvmlShutdown\0")
                    .ok()?,
                *library
                    .get::<unsafe extern "C" fn(*mut c_uint) -> NvmlReturn>(
                        b"nvmlDeviceGetCount_v2\0",
                    )
                    .ok()?,
                *library
                    .get::<unsafe extern "C" fn(c_uint, *mut NvmlDevice) -> NvmlReturn>(
                        b"nvmlDeviceGetHandleByIndex_v2\0",
                    )
                    .ok()?,
                *library
                    .get::<unsafe extern "C" fn(NvmlDevice, *mut NvmlUtilization) -> NvmlReturn>(
                        b"nvmlDeviceGetUtilizationRates\0",
                    )
                    .ok()?,
                *library
                    .get::<unsafe extern "C" fn(NvmlDevice, *mut NvmlMemory) -> NvmlReturn>(
                        b"nvmlDeviceGetMemoryInfo\0",
                    )
                    .ok()?,
                *library
                    .get::<unsafe extern "C" fn(NvmlDevice, *mut c_uint) -> NvmlReturn>(
                        b"nvmlDeviceGetPowerUsage\0",
                    )
                    .ok()?,
                *library
                    .get::<unsafe extern "C" fn(NvmlDevice, *mut c_uint) -> NvmlReturn>(
                        b"nvmlDeviceGetEnforcedPowerLimit\0",
                    )
                    .ok()?,
            )
        };
        // SAFETY: `init` is nvmlInit_v2 from the loaded library; it takes no arguments.
        if unsafe { init() } != NVML_SUCCESS {
            return None;
        }
        // Built right after a successful init, so dropping it (on any return below) balances
        // the init with nvmlShutdown.
        let mut nvml = Nvml {
            shutdown,
            utilization,
            memory,
            power,
            power_limit,
            devices: Vec::new(),
            _library: library,
        };
        let mut gpus: c_uint = 0;
        // SAFETY: NVML is initialised and `gpus` is a live c_uint for the count.
        if unsafe { count(&mut gpus) } != NVML_SUCCESS {
            return None;
        }
        for index in 0..gpus {
            let mut device: NvmlDevice = std::ptr::null_mut();
            // SAFETY: NVML is initialised, `index` is below the count it gave, and `device` is a
            // live slot for the handle.
            if unsafe { handle(index, &mut device) } == NVML_SUCCESS {
                nvml.devices.push((index, device));
            }
        }
        if nvml.devices.is_empty() {
            return None;
        }
        Some(nvml)
    }

    /// Appends each GPU's figures, MLflow's names and units; a call that fails (a GPU that does
    /// not support power readings, one that fell off the bus) leaves out that figure only.
    fn read(&self, metrics: &mut Vec<(String, f64)>) {
        for &(index, device) in &self.devices {
            let name = |what: &str| format!("{PREFIX}gpu_{index}_{what}");

            let mut rates = NvmlUtilization::default();
            // SAFETY (this and the calls below): `device` is a handle NVML gave and stays valid
            // until nvmlShutdown, which only Drop calls; the out-pointer is a live value of the
            // type nvml.h declares for it.
            if unsafe { (self.utilization)(device, &mut rates) } == NVML_SUCCESS {
                metrics.push((name("utilization_percentage"), f64::from(rates.gpu)));
            }

            let mut memory = NvmlMemory::default();
            // SAFETY: as above.
            if unsafe { (self.memory)(device, &mut memory) } == NVML_SUCCESS {
                metrics.push((
                    name("memory_usage_megabytes"),
                    bytes_to_megabytes(memory.used),
                ));
                if memory.total > 0 {
                    let percent = memory.used as f64 / memory.total as f64 * 100.0;
                    metrics.push((name("memory_usage_percentage"), percent));
                }
            }

            let mut milliwatts: c_uint = 0;
            // SAFETY: as above.
            if unsafe { (self.power)(device, &mut milliwatts) } == NVML_SUCCESS {
                let watts = f64::from(milliwatts) / 1000.0;
                metrics.push((name("power_usage_watts"), watts));
                let mut limit: c_uint = 0;
                // SAFETY: as above.
                if unsafe { (self.power_limit)(device, &mut limit) } == NVML_SUCCESS && limit > 0 {
                    let percent = watts / (f64::from(limit) / 1000.0) * 100.0;
                    metrics.push((name("power_usage_percentage"), percent));
                }
            }
        }
    }
}

impl Drop for Nvml {
    fn drop(&mut self) {
        // SAFETY: an `Nvml` exists only after a successful nvmlInit_v2, the library is still
        // loaded (fields drop after this), and no device handle is used after this call.
        unsafe {
            (self.shutdown)();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn close(actual: f64, expected: f64) {
        assert!(
            (actual - expected).abs() < 1e-9,
            "expected {expected}, got {actual}"
        );
    }

    #[test]
    fn proc_stat_sums_the_first_eight_fields() {
        let text = "cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0\n\
                    cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0\n\
                    intr 1462898 0 0\n";
        let times = parse_proc_stat(text).unwrap();
        assert_eq!(
            times,
            CpuTimes {
                busy: 13_532_763,
                total: 60_377_929
            }
        );
    }

    #[test]
    fn proc_stat_from_an_old_kernel_with_four_fields() {
        assert_eq!(
            parse_proc_stat("cpu 1 2 3 4\n"),
            Some(CpuTimes { busy: 6, total: 10 })
        );
    }

    #[test]
    fn proc_stat_without_a_usable_cpu_line() {
        assert_eq!(parse_proc_stat("cpu0 1 2 3 4\n"), None);
        assert_eq!(parse_proc_stat("cpu 1 2 x 4\n"), None);
        assert_eq!(parse_proc_stat("cpu 1 2 3\n"), None);
        assert_eq!(parse_proc_stat(""), None);
    }

    #[test]
    fn cpu_percent_is_busy_delta_over_total_delta() {
        let before = CpuTimes {
            busy: 100,
            total: 1000,
        };
        let now = CpuTimes {
            busy: 150,
            total: 1100,
        };
        close(cpu_percent(before, now).unwrap(), 50.0);
        assert_eq!(cpu_percent(now, now), None);
        // A busy count that went backwards is clamped, not negative.
        let odd = CpuTimes {
            busy: 90,
            total: 1100,
        };
        close(cpu_percent(before, odd).unwrap(), 0.0);
    }

    #[test]
    fn meminfo_used_is_total_minus_available() {
        let text = "MemTotal:       16318504 kB\n\
                    MemFree:         1234567 kB\n\
                    MemAvailable:    8159252 kB\n\
                    Buffers:          345678 kB\n";
        let memory = parse_meminfo(text).unwrap();
        assert_eq!(
            memory,
            MemInfo {
                total_kib: 16_318_504,
                available_kib: 8_159_252
            }
        );
        let (megabytes, percent) = memory_figures(memory).unwrap();
        close(megabytes, 8_355.074_048);
        close(percent, 50.0);
    }

    #[test]
    fn meminfo_without_mem_available() {
        assert_eq!(parse_meminfo("MemTotal: 100 kB\nMemFree: 50 kB\n"), None);
        assert_eq!(
            memory_figures(MemInfo {
                total_kib: 0,
                available_kib: 0
            }),
            None
        );
    }

    #[test]
    fn status_lines() {
        let text = "Name:\thone\nVmPeak:\t  300000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
        assert_eq!(kib_field(text, "VmRSS"), Some(102_400));
        assert_eq!(kib_field(text, "VmHWM"), Some(204_800));
        assert_eq!(kib_field(text, "VmSwap"), None);
        close(kib_to_megabytes(102_400), 104.857_6);
        close(kib_to_megabytes(204_800), 209.715_2);
        // A key that is a prefix of another does not match it.
        assert_eq!(kib_field("VmRSSx: 5 kB\n", "VmRSS"), None);
    }

    const NET_DEV: &str = "\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 5000000     100    0    0    0     0          0         0  5000000     100    0    0    0     0       0          0
  eth0: 1500000    1000    0    0    0     0          0         0   250000     900    0    0    0     0       0          0
 wlan0:12345678      10    0    0    0     0          0         0      1000      10    0    0    0     0       0          0
";

    #[test]
    fn net_dev_skips_headers_and_loopback() {
        let interfaces = parse_net_dev(NET_DEV);
        assert_eq!(interfaces.len(), 2);
        assert_eq!(interfaces.get("eth0"), Some(&(1_500_000, 250_000)));
        assert_eq!(interfaces.get("wlan0"), Some(&(12_345_678, 1_000)));
        assert_eq!(interfaces.get("lo"), None);
    }

    #[test]
    fn net_traffic_since_start() {
        let start = parse_net_dev(NET_DEV);
        let mut now = start.clone();
        now.insert("eth0".to_string(), (2_500_000, 750_000));
        // Appeared since start: counted from its creation.
        now.insert("docker0".to_string(), (4_000, 6_000));
        // Recreated with smaller counters: counts as 0, not as a wrapped-around number.
        now.insert("wlan0".to_string(), (10, 10));
        let (received, transmitted) = net_since(&start, &now);
        assert_eq!((received, transmitted), (1_004_000, 506_000));
        close(bytes_to_megabytes(received), 1.004);
        close(bytes_to_megabytes(transmitted), 0.506);
    }

    #[test]
    fn disk_figures_follow_psutil() {
        let disk = disk_figures(4096.0, 1000.0, 400.0, 300.0).unwrap();
        close(disk.percent, 600.0 / 900.0 * 100.0);
        close(disk.used_megabytes, 2.457_6);
        close(disk.available_megabytes, 1.228_8);
        assert_eq!(disk_figures(4096.0, 0.0, 0.0, 0.0), None);
    }

    #[test]
    fn interval_values() {
        assert_eq!(parse_interval(None), Ok(Some(DEFAULT_INTERVAL)));
        assert_eq!(parse_interval(Some("")), Ok(Some(DEFAULT_INTERVAL)));
        assert_eq!(parse_interval(Some("5")), Ok(Some(Duration::from_secs(5))));
        assert_eq!(
            parse_interval(Some(" 0.5 ")),
            Ok(Some(Duration::from_millis(500)))
        );
        assert_eq!(parse_interval(Some("off")), Ok(None));
        assert_eq!(parse_interval(Some("OFF")), Ok(None));
        assert_eq!(parse_interval(Some("0")), Ok(None));
        assert_eq!(parse_interval(Some("0.0")), Ok(None));
    }

    #[test]
    fn bad_interval_values_name_the_variable_and_the_value() {
        for value in ["ten", "-1", "inf", "NaN", "0.0000001", "1e300"] {
            let error = parse_interval(Some(value)).unwrap_err();
            assert!(error.contains(INTERVAL_ENV), "{error}");
            assert!(error.contains(&format!("{value:?}")), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn summary_metrics() {
        let summary = ResourceSummary {
            peak_rss_megabytes: 12.5,
            cpu_seconds: 3.25,
            samples: 4,
            gpus: 0,
        };
        assert_eq!(
            summary.metrics(),
            vec![
                ("system/peak_rss_megabytes".to_string(), 12.5),
                ("system/process_cpu_seconds".to_string(), 3.25),
            ]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn one_reading_has_the_machine_and_process_figures() {
        let mut sampler = Sampler::new();
        std::thread::sleep(Duration::from_millis(30));
        let metrics = read_now(&mut sampler);
        let names: Vec<&str> = metrics.iter().map(|(name, _)| name.as_str()).collect();
        for expected in [
            "system/system_memory_usage_megabytes",
            "system/system_memory_usage_percentage",
            "system/disk_usage_percentage",
            "system/disk_usage_megabytes",
            "system/disk_available_megabytes",
            "system/network_receive_megabytes",
            "system/network_transmit_megabytes",
            "system/process_rss_megabytes",
            "system/process_cpu_utilization_percentage",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        for (name, value) in &metrics {
            assert!(value.is_finite() && *value >= 0.0, "{name} = {value}");
            if name.ends_with("_percentage") && name != "system/process_cpu_utilization_percentage"
            {
                assert!(*value <= 100.0, "{name} = {value}");
            }
        }
    }

    type Logged = Arc<Mutex<Vec<(u64, i64, Vec<(String, f64)>)>>>;

    fn recording_sink() -> (Sink, Logged) {
        let logged: Logged = Arc::default();
        let into = Arc::clone(&logged);
        let sink: Sink = Box::new(move |step, at, metrics| {
            into.lock().unwrap().push((step, at, metrics.to_vec()));
        });
        (sink, logged)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn live_monitor_samples_while_the_job_works() {
        let (sink, logged) = recording_sink();
        let monitor = ResourceMonitor::start(Duration::from_millis(50), sink);
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
        let summary = monitor.stop();
        let logged = logged.lock().unwrap();

        assert!(logged.len() >= 2, "only {} samples", logged.len());
        assert_eq!(summary.samples, logged.len() as u64);
        let nvml_present = Nvml::load().is_some();
        let mut cpu_figures = 0;
        for (i, (step, at, metrics)) in logged.iter().enumerate() {
            assert_eq!(*step, i as u64);
            assert!(*at > 1_600_000_000_000, "timestamp {at}");
            let value = |name: &str| {
                metrics
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|&(_, value)| value)
            };
            if let Some(cpu) = value("system/cpu_utilization_percentage") {
                assert!((0.0..=100.0).contains(&cpu), "cpu {cpu}");
                cpu_figures += 1;
            }
            assert!(value("system/process_rss_megabytes").unwrap() > 0.0);
            if !nvml_present {
                assert!(
                    metrics.iter().all(|(name, _)| !name.contains("gpu")),
                    "{metrics:?}"
                );
            }
        }
        assert!(cpu_figures > 0, "no CPU utilisation in any sample");
        assert!(summary.cpu_seconds > 0.1, "{summary:?}");
        assert!(summary.peak_rss_megabytes > 0.0, "{summary:?}");
        if !nvml_present {
            assert_eq!(summary.gpus, 0);
        }
    }

    #[test]
    fn stop_does_not_wait_for_the_interval() {
        let (sink, logged) = recording_sink();
        let monitor = ResourceMonitor::start(Duration::from_secs(60), sink);
        std::thread::sleep(Duration::from_millis(20));
        let stopping = Instant::now();
        let summary = monitor.stop();
        assert!(
            stopping.elapsed() < Duration::from_secs(2),
            "stop took {:?}",
            stopping.elapsed()
        );
        assert_eq!(summary.samples, 0);
        assert!(logged.lock().unwrap().is_empty());
    }

    #[test]
    fn dropping_the_monitor_stops_it() {
        let (sink, logged) = recording_sink();
        let monitor = ResourceMonitor::start(Duration::from_millis(10), sink);
        std::thread::sleep(Duration::from_millis(50));
        drop(monitor);
        let after_drop = logged.lock().unwrap().len();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(logged.lock().unwrap().len(), after_drop);
    }

    #[test]
    fn a_panicking_sink_does_not_lose_the_summary() {
        let sink: Sink = Box::new(|_, _, _| panic!("sink failed on purpose"));
        let monitor = ResourceMonitor::start(Duration::from_millis(10), sink);
        std::thread::sleep(Duration::from_millis(50));
        let summary = monitor.stop();
        assert_eq!(summary.samples, 0);
    }
}
