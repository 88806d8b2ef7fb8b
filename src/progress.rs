//! Progress reporting on stderr: one spinner line naming the current stage, hidden when stderr
//! is not a terminal or when silenced.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{Error, Result};

/// State of a run shared with another thread (the Python bindings): the current stage and
/// step counts to show, and a flag that asks the run to stop.
#[derive(Debug, Default)]
pub struct Watch {
    /// Set to ask the run to stop at its next checkpoint ([`Error::Interrupted`]).
    pub cancel: AtomicBool,
    /// Message of the current stage.
    pub stage: Mutex<String>,
    /// Steps done in the current stage.
    pub done: AtomicUsize,
    /// Steps of the current stage (0: unknown).
    pub total: AtomicUsize,
}

/// Reports the stages of a run and measures their wall time.
pub struct Progress {
    bar: Option<ProgressBar>,
    current: Option<(&'static str, Instant)>,
    timings: Vec<(&'static str, f64)>,
    watch: Option<Arc<Watch>>,
}

impl Progress {
    /// A reporter; `visible` false (e.g. `-q`, or a library call) draws nothing.
    pub fn new(visible: bool) -> Progress {
        let bar = visible.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(ProgressStyle::with_template("{spinner} wangge: {msg} [{elapsed}]").expect("valid template"));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar, current: None, timings: Vec::new(), watch: None }
    }

    /// A reporter that draws nothing and keeps `watch` up to date (and obeys its cancel flag).
    pub fn watched(watch: Arc<Watch>) -> Progress {
        Progress { bar: None, current: None, timings: Vec::new(), watch: Some(watch) }
    }

    /// Err([`Error::Interrupted`]) when the watcher asked the run to stop.
    pub fn checkpoint(&self) -> Result<()> {
        match &self.watch {
            Some(w) if w.cancel.load(Ordering::Relaxed) => Err(Error::Interrupted),
            _ => Ok(()),
        }
    }

    /// A reporter that draws nothing.
    pub fn hidden() -> Progress {
        Progress::new(false)
    }

    /// Ends the current stage (recording its time) and starts `name`.
    pub fn stage(&mut self, name: &'static str, message: &str) {
        self.finish_stage();
        if let Some(bar) = &self.bar {
            bar.set_style(ProgressStyle::with_template("{spinner} wangge: {msg} [{elapsed}]").expect("valid template"));
            bar.set_message(message.to_string());
        }
        self.current = Some((name, Instant::now()));
        if let Some(w) = &self.watch {
            *w.stage.lock().unwrap_or_else(|e| e.into_inner()) = message.to_string();
            w.done.store(0, Ordering::Relaxed);
            w.total.store(0, Ordering::Relaxed);
        }
    }

    fn finish_stage(&mut self) {
        if let Some((name, start)) = self.current.take() {
            let secs = start.elapsed().as_secs_f64();
            match self.timings.iter_mut().find(|(n, _)| *n == name) {
                Some(entry) => entry.1 += secs,
                None => self.timings.push((name, secs)),
            }
        }
    }

    /// Shows a count of `total` steps for the current stage (e.g. regions divided).
    pub fn set_steps(&self, total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_style(ProgressStyle::with_template("{spinner} wangge: {msg} {pos}/{len} [{elapsed}]").expect("valid template"));
            bar.set_length(total as u64);
            bar.set_position(0);
        }
        if let Some(w) = &self.watch {
            w.total.store(total, Ordering::Relaxed);
        }
    }

    /// `Some(total)`: [`Progress::set_steps`]; `None`: [`Progress::step`] (how the partition
    /// stage reports its regions).
    pub fn count(&self, steps: Option<usize>) {
        match steps {
            Some(total) => self.set_steps(total),
            None => self.step(),
        }
    }

    /// A step of the current stage is done (callable from any thread).
    pub fn step(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if let Some(w) = &self.watch {
            w.done.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Ends the current stage and returns the time of every stage, in order.
    pub fn timings(&mut self) -> Vec<(&'static str, f64)> {
        self.finish_stage();
        self.timings.clone()
    }

    /// Removes the spinner line.
    pub fn done(&mut self) {
        self.finish_stage();
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Developer timing: with the environment variable `WANGGE_TRACE` set, prints `label` and the
/// seconds since the previous trace point, with the resident memory, on stderr (for finding the
/// slow or the largest step of a stage).
pub fn trace(label: &str) {
    use std::sync::{Mutex, OnceLock};
    static ON: OnceLock<bool> = OnceLock::new();
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    if !*ON.get_or_init(|| std::env::var_os("WANGGE_TRACE").is_some()) {
        return;
    }
    let now = Instant::now();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let since = last.map_or(0.0, |l| now.duration_since(l).as_secs_f64());
    *last = Some(now);
    // Resident memory now and at its peak (Linux), to find the step that holds the most.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| status.lines().find(|l| l.starts_with(name)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok()).map_or(0, |kb| kb / 1024);
    eprintln!("trace {since:8.3} s  {:6} MiB (peak {:6} MiB)  {label}", field("VmRSS:"), field("VmHWM:"));
}
