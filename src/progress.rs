//! Progress reporting on stderr: one spinner line naming the current stage, hidden when stderr
//! is not a terminal or when silenced.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Reports the stages of a run and measures their wall time.
pub struct Progress {
    bar: Option<ProgressBar>,
    current: Option<(&'static str, Instant)>,
    timings: Vec<(&'static str, f64)>,
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
        Progress { bar, current: None, timings: Vec::new() }
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
    }

    /// A step of the current stage is done (callable from any thread).
    pub fn step(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
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
