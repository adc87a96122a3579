//! Run events: what the engine and runner tell the reporters.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::outcome::{Check, ScenarioResult};
use crate::backend::BackendInfo;
use crate::suite::ScenarioId;

/// Facts about the whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RunInfo {
    /// Unique id, also the report folder's name.
    pub run_id: String,
    /// The backend and why it was chosen.
    pub backend: BackendInfo,
    /// The seed for random node picks and the twin.
    pub seed: u64,
    /// Wall-clock start.
    pub started_at: jiff::Timestamp,
    /// This harness's version.
    pub harness_version: String,
}

/// One thing that happened during a run.
#[derive(Clone, Debug, PartialEq)]
pub enum RunEvent {
    /// The run began.
    RunStarted(RunInfo),
    /// A scenario iteration began.
    ScenarioStarted {
        /// Which.
        id: ScenarioId,
        /// 1-based iteration.
        iteration: u32,
        /// Of how many.
        repeat: u32,
    },
    /// A phase of a scenario iteration began (for progress displays).
    PhaseStarted {
        /// Which scenario.
        id: ScenarioId,
        /// Which iteration.
        iteration: u32,
        /// The phase.
        phase: Phase,
        /// How long it may take, when known: the steady-state timeout, or
        /// the longest SLO budget while observing.
        budget: Option<Duration>,
    },
    /// A check (steady state, fault effect, an SLO, cleanup) finished.
    CheckFinished {
        /// Which scenario.
        id: ScenarioId,
        /// Which iteration.
        iteration: u32,
        /// The check.
        check: Check,
    },
    /// A scenario iteration ended, with everything known about it.
    ScenarioFinished(Box<ScenarioResult>),
    /// The run ended (normally or by interrupt).
    RunFinished {
        /// Wall-clock end.
        finished_at: jiff::Timestamp,
        /// Whether SIGINT or SIGTERM cut it short.
        interrupted: bool,
        /// Problems tearing clusters down, if any.
        teardown_errors: Vec<String>,
    },
}

/// A phase of one scenario iteration, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Waiting for the cluster to be steady.
    SteadyState,
    /// Injecting the fault and proving it took effect.
    Inject,
    /// Waiting for and applying the remediation.
    Remediate,
    /// Watching the recovery until the longest budget has passed.
    Observe,
    /// Collecting diagnostics of the culprits.
    Diagnose,
    /// Reverting the fault.
    Revert,
    /// Waiting for the cluster to be steady again after the revert.
    Recovery,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::SteadyState => "steady state",
            Phase::Inject => "inject",
            Phase::Remediate => "remediate",
            Phase::Observe => "observe",
            Phase::Diagnose => "diagnose",
            Phase::Revert => "revert",
            Phase::Recovery => "recovery",
        })
    }
}

/// Receives events. Implementations must be cheap and must not panic.
pub trait EventSink: Send + Sync {
    /// Handles one event.
    fn emit(&self, event: RunEvent);
}
