//! Background jobs of the viewer: training, inference, threshold sweeps and live refinement
//! metrics, each on a named thread that reports over a channel and asks egui for a repaint.
//! The UI polls; it never waits.

mod jobs;
mod metrics;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Instant;

pub use jobs::{InferSettings, TrainSettings, infer_work, sweep_work, train_work};
pub use metrics::{MetricsWorker, RefineInputs, RefineRequest, RefineStats};

use crate::infer::ResultMaps;
use crate::refine::SweepPoint;

/// Something that asks the UI to draw again (egui's `Context::request_repaint`).
pub type Repaint = Arc<dyn Fn() + Send + Sync>;

/// What a finished job hands back.
#[derive(Debug)]
pub enum JobOutput {
    /// Inference results.
    Results(Box<ResultMaps>),
    /// A trained model file.
    Model(PathBuf),
    /// A threshold sweep.
    Sweep(Vec<SweepPoint>),
}

/// One message from a job.
#[derive(Debug)]
pub enum JobEvent {
    /// Progress, 0 to 1, with a line on what is happening.
    Progress {
        /// Fraction done.
        fraction: f32,
        /// What is happening.
        message: String,
    },
    /// A training step's losses.
    Loss {
        /// Step since the start.
        step: usize,
        /// Binary cross-entropy.
        bce: f64,
        /// KL divergence (BCNN only).
        kl: Option<f64>,
    },
    /// Results so far of an inference that goes on (see [`crate::infer::engine::Preview`]).
    Preview {
        /// The maps as they stand.
        maps: Box<ResultMaps>,
        /// What they hold, e.g. "8 of 48 samples".
        message: String,
    },
    /// The job is done.
    Finished(JobOutput),
    /// The job failed; the message has its causes.
    Failed(String),
    /// The job stopped because it was cancelled.
    Cancelled,
}

/// Where a job stands.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    /// Still working.
    Running,
    /// Done; its output was handed over.
    Finished,
    /// Failed with this message.
    Failed(String),
    /// Cancelled.
    Cancelled,
}

/// What a job's code uses to report and to see whether it should stop.
#[derive(Clone)]
pub struct Reporter {
    sender: Sender<JobEvent>,
    cancel: Arc<AtomicBool>,
    repaint: Repaint,
}

impl Reporter {
    /// Reports progress.
    pub fn progress(&self, fraction: f32, message: impl Into<String>) {
        self.send(JobEvent::Progress {
            fraction: fraction.clamp(0.0, 1.0),
            message: message.into(),
        });
    }

    /// Sends any event and asks for a repaint. A UI that went away is fine.
    pub fn send(&self, event: JobEvent) {
        let _ = self.sender.send(event);
        (self.repaint)();
    }

    /// Whether the user asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The cancel flag, for engines that take one.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }
}

/// A job running (or run) on its own thread.
pub struct Job {
    /// Its name in the Jobs panel (also the thread's name).
    pub name: String,
    /// When it started.
    pub started: Instant,
    /// Progress, 0 to 1.
    pub fraction: f32,
    /// The last progress line.
    pub message: String,
    /// Training losses so far: step, bce, kl (NaN for MCDN).
    pub losses: Vec<[f64; 3]>,
    /// Where it stands.
    pub state: JobState,
    /// The newest preview not yet taken, with what it holds.
    preview: Option<(Box<ResultMaps>, String)>,
    cancel: Arc<AtomicBool>,
    events: Receiver<JobEvent>,
    handle: Option<JoinHandle<()>>,
}

impl Job {
    /// Starts `work` on a thread named `name`. `work` returns `Ok(None)` when it stopped
    /// because it was cancelled.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn spawn<F>(name: &str, repaint: Repaint, work: F) -> std::io::Result<Job>
    where
        F: FnOnce(&Reporter) -> anyhow::Result<Option<JobOutput>> + Send + 'static,
    {
        let (sender, events) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let reporter = Reporter {
            sender,
            cancel: Arc::clone(&cancel),
            repaint,
        };
        let thread_name = format!("ctuq-{}", name.to_lowercase().replace(' ', "-"));
        let handle = std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || {
                let event = match work(&reporter) {
                    Ok(Some(output)) => JobEvent::Finished(output),
                    Ok(None) => JobEvent::Cancelled,
                    Err(error) => JobEvent::Failed(format!("{error:#}")),
                };
                reporter.send(event);
            })?;
        tracing::info!("job {name} started");
        Ok(Job {
            name: name.to_owned(),
            started: Instant::now(),
            fraction: 0.0,
            message: String::new(),
            losses: Vec::new(),
            state: JobState::Running,
            preview: None,
            cancel,
            events,
            handle: Some(handle),
        })
    }

    /// Asks the job to stop at its next check.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Whether the job still runs.
    pub fn is_running(&self) -> bool {
        self.state == JobState::Running
    }

    /// Takes the events that arrived; returns the job's output once, when it finishes.
    pub fn poll(&mut self) -> Option<JobOutput> {
        let mut output = None;
        while let Ok(event) = self.events.try_recv() {
            match event {
                JobEvent::Progress { fraction, message } => {
                    self.fraction = fraction;
                    self.message = message;
                }
                JobEvent::Loss { step, bce, kl } => {
                    self.losses.push([step as f64, bce, kl.unwrap_or(f64::NAN)]);
                }
                JobEvent::Preview { maps, message } => self.preview = Some((maps, message)),
                JobEvent::Finished(result) => {
                    self.preview = None;
                    self.fraction = 1.0;
                    self.state = JobState::Finished;
                    output = Some(result);
                }
                JobEvent::Failed(message) => {
                    tracing::error!("job {}: {message}", self.name);
                    self.state = JobState::Failed(message);
                }
                JobEvent::Cancelled => {
                    tracing::info!("job {} cancelled", self.name);
                    self.state = JobState::Cancelled;
                }
            }
        }
        if !self.is_running()
            && let Some(handle) = self.handle.take()
            && handle.join().is_err()
        {
            self.state = JobState::Failed("BUG: the job's thread panicked".into());
        }
        output
    }

    /// Takes the newest preview that arrived since the last call, with what it holds (call
    /// after [`Job::poll`]; a finished job has none: its output replaces them).
    pub fn take_preview(&mut self) -> Option<(Box<ResultMaps>, String)> {
        self.preview.take()
    }

    /// Seconds since the start.
    pub fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Estimated seconds left, from the progress so far.
    pub fn eta_secs(&self) -> Option<f64> {
        (self.is_running() && self.fraction > 0.01).then(|| {
            self.elapsed_secs() * f64::from(1.0 - self.fraction) / f64::from(self.fraction)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_repaint() -> Repaint {
        Arc::new(|| {})
    }

    /// Polls until the job leaves the running state (the job itself decides when).
    fn finish(job: &mut Job) -> Option<JobOutput> {
        loop {
            if let Some(output) = job.poll() {
                return Some(output);
            }
            if !job.is_running() {
                return None;
            }
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_job_reports_progress_and_its_result_arrives() {
        let (go, wait) = channel::<()>();
        let mut job = Job::spawn("test job", no_repaint(), move |reporter| {
            reporter.progress(0.5, "half way");
            // Hold here until the test has seen the progress.
            let _ = wait.recv();
            Ok(Some(JobOutput::Model(PathBuf::from("done.ctuq"))))
        })
        .expect("spawn");
        while job.fraction < 0.5 {
            assert!(job.poll().is_none());
            std::thread::yield_now();
        }
        assert_eq!(job.message, "half way");
        assert!(job.is_running());
        go.send(()).expect("job waits");
        match finish(&mut job) {
            Some(JobOutput::Model(path)) => assert_eq!(path, PathBuf::from("done.ctuq")),
            other => panic!("unexpected output {other:?}"),
        }
        assert_eq!(job.state, JobState::Finished);
    }

    #[test]
    fn a_job_can_be_cancelled() {
        let mut job = Job::spawn("cancel me", no_repaint(), |reporter| {
            while !reporter.is_cancelled() {
                std::thread::yield_now();
            }
            Ok(None)
        })
        .expect("spawn");
        job.cancel();
        assert!(finish(&mut job).is_none());
        assert_eq!(job.state, JobState::Cancelled);
    }

    #[test]
    fn a_failure_is_reported_with_its_message() {
        let mut job =
            Job::spawn("fail", no_repaint(), |_| anyhow::bail!("no model file")).expect("spawn");
        assert!(finish(&mut job).is_none());
        assert_eq!(job.state, JobState::Failed("no model file".into()));
    }
}
