//! Live refinement numbers: a long-lived thread that computes the refined segmentation's
//! foreground fraction, and with a label its accuracy, Dice and PAvPU, for the latest
//! threshold the slider asked for (older requests are skipped).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::Repaint;
use crate::metrics::{Axis, Overlap, pavpu_pooled, pavpu_slices};
use crate::refine::{RefineMode, refine};
use crate::volume::Shape;

/// What the numbers are computed from.
pub struct RefineInputs {
    /// Volume shape.
    pub shape: Shape,
    /// The prediction, 0/1.
    pub prediction: Vec<u8>,
    /// The uncertainty map.
    pub uncertainty: Vec<f32>,
    /// The label, 0/1, if loaded.
    pub label: Option<Vec<u8>>,
}

/// One request: a threshold and a mode.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefineRequest {
    /// Threshold on the uncertainty.
    pub threshold: f32,
    /// Remove, add or flag.
    pub mode: RefineMode,
}

/// The numbers for one request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefineStats {
    /// The request they answer.
    pub request: RefineRequest,
    /// Foreground fraction of the refined segmentation.
    pub foreground_fraction: f64,
    /// Against the label: accuracy, Dice, IoU.
    pub overlap: Option<Overlap>,
    /// PAvPU over axial slices, pooled.
    pub pavpu: Option<f64>,
}

/// The thread and its two channels.
pub struct MetricsWorker {
    requests: Sender<RefineRequest>,
    answers: Receiver<RefineStats>,
    last_request: Option<RefineRequest>,
}

impl MetricsWorker {
    /// Starts the thread; it ends when the worker is dropped.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn spawn(inputs: Arc<RefineInputs>, repaint: Repaint) -> std::io::Result<MetricsWorker> {
        let (requests, incoming) = channel::<RefineRequest>();
        let (outgoing, answers) = channel();
        std::thread::Builder::new()
            .name("ctuq-refine-metrics".into())
            .spawn(move || {
                while let Ok(mut request) = incoming.recv() {
                    // Only the newest request matters.
                    while let Ok(newer) = incoming.try_recv() {
                        request = newer;
                    }
                    let stats = compute(&inputs, request);
                    if outgoing.send(stats).is_err() {
                        return;
                    }
                    repaint();
                }
            })?;
        Ok(MetricsWorker {
            requests,
            answers,
            last_request: None,
        })
    }

    /// Asks for the numbers of `request`, unless it was the last one asked.
    pub fn request(&mut self, request: RefineRequest) {
        if self.last_request != Some(request) {
            self.last_request = Some(request);
            let _ = self.requests.send(request);
        }
    }

    /// The newest answer that arrived, if any.
    pub fn poll(&self) -> Option<RefineStats> {
        self.answers.try_iter().last()
    }
}

/// The numbers of one request.
pub fn compute(inputs: &RefineInputs, request: RefineRequest) -> RefineStats {
    let refined = refine(
        &inputs.prediction,
        &inputs.uncertainty,
        request.threshold,
        request.mode,
    );
    let foreground = refined.iter().filter(|&&v| v != 0).count();
    let foreground_fraction = foreground as f64 / refined.len().max(1) as f64;
    let (overlap, pavpu) = match &inputs.label {
        Some(label) if request.mode != RefineMode::Flag => {
            let overlap = Overlap::of(&refined, label);
            let slices = pavpu_slices(&refined, label, &inputs.uncertainty, inputs.shape, Axis::Z);
            (Some(overlap), pavpu_pooled(&slices).pavpu())
        }
        _ => (None, None),
    };
    RefineStats {
        request,
        foreground_fraction,
        overlap,
        pavpu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_answers_the_latest_request() {
        let inputs = Arc::new(RefineInputs {
            shape: [1, 3, 3],
            prediction: vec![1, 1, 1, 0, 0, 0, 1, 1, 1],
            uncertainty: vec![0.1, 0.5, 0.9, 0.0, 0.0, 0.0, 0.1, 0.5, 0.9],
            label: Some(vec![1, 0, 0, 0, 0, 0, 1, 0, 0]),
        });
        let mut worker = MetricsWorker::spawn(inputs, Arc::new(|| {})).expect("spawn");
        let request = RefineRequest {
            threshold: 0.3,
            mode: RefineMode::Remove,
        };
        worker.request(request);
        let stats = loop {
            if let Some(stats) = worker.poll() {
                break stats;
            }
            std::thread::yield_now();
        };
        assert_eq!(stats.request, request);
        // Removing the uncertain voxels leaves exactly the label.
        assert!((stats.foreground_fraction - 2.0 / 9.0).abs() < 1e-12);
        assert_eq!(stats.overlap.map(|o| o.accuracy), Some(1.0));
    }
}
