//! What a model reports while it trains, and how a caller stops it.
//!
//! Iterative models (boosting rounds, epochs) call [`TrainObserver::on_step`] after each step
//! with the score of their validation slice when they have one. Progress bars, learning curves
//! and tuning pruners are observers: they never need to know which model is training, so a
//! pruner written for boosting rounds cuts an epoch loop the same way.

/// A validation score after one training step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ValidScore {
    /// The metric's value on the validation (early-stopping) slice.
    pub value: f64,
    /// Whether a higher value is better (AUC) or worse (log-loss).
    pub higher_is_better: bool,
}

/// One finished training step: a boosting round or an epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// The step just finished, from 1.
    pub step: usize,
    /// The most steps this fit may run.
    pub total: usize,
    /// The validation score after this step, when the model has a validation slice.
    pub valid: Option<ValidScore>,
    /// What a neural model measured over the epoch (losses, task metric, learning rate, time);
    /// `None` for models that report only a validation score.
    pub epoch: Option<EpochStats>,
}

/// One epoch of a neural model, as tracked per step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Loss on the early-stopping slice, when there is one.
    pub valid_loss: Option<f64>,
    /// The task metric on the early-stopping slice (`auc`, `accuracy`, `rmse`) and its value.
    pub valid_metric: Option<(&'static str, f64)>,
    /// The learning rate the epoch trained with.
    pub learning_rate: f64,
    /// Seconds the epoch took (training and validation).
    pub seconds: f64,
}

/// Whether training goes on after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    Continue,
    /// Stop after this step, keeping what was learnt so far (as early stopping would): a
    /// pruner cutting a trial, or Ctrl-C.
    Stop,
}

/// Receives a fit's progress. Every method has a no-op default, so an observer implements only
/// what it reads.
pub trait TrainObserver {
    /// Called after each training step; [`Flow::Stop`] stops training after it.
    fn on_step(&mut self, step: &StepReport) -> Flow {
        let _ = step;
        Flow::Continue
    }
}

/// An observer that watches nothing and never stops a fit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unobserved;

impl TrainObserver for Unobserved {}

/// Any `FnMut(&StepReport) -> Flow` closure observes steps.
impl<F: FnMut(&StepReport) -> Flow> TrainObserver for F {
    fn on_step(&mut self, step: &StepReport) -> Flow {
        self(step)
    }
}
