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
    /// The expected wall time of the run on kind, per cluster and in total
    /// (see [`crate::plan::estimate_run`]); none when the estimates file
    /// could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate: Option<crate::plan::RunEstimate>,
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
    /// A cluster for a profile is being provisioned: a step began (the pool
    /// says `provisioning`; the kind backend names each of its steps).
    ProvisionStep {
        /// The cluster profile (`kind-config@versions`).
        profile: String,
        /// What is happening, e.g. `kind create cluster`, `install Kube-OVN`.
        step: String,
    },
    /// Provisioning for a profile ended.
    Provisioned {
        /// The cluster profile.
        profile: String,
        /// The cluster's name, when it is ready.
        cluster: Option<String>,
        /// Why it failed, when it did.
        error: Option<String>,
        /// How long it took.
        elapsed: Duration,
    },
    /// While a scenario observes or waits for a steady cluster: what is not
    /// Ready yet (sent every few seconds, for progress displays).
    Waiting {
        /// Which scenario.
        id: ScenarioId,
        /// Which iteration.
        iteration: u32,
        /// Pods and nodes not Ready now, e.g. `kube-multus-ds-x (Init:CrashLoopBackOff)`.
        unready: Vec<String>,
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
    /// Watching the recovery until every verdict is known.
    Observe,
    /// Collecting diagnostics of the culprits.
    Diagnose,
    /// Reverting the fault.
    Revert,
    /// Waiting for the cluster to be steady again after the revert.
    Recovery,
    /// Applying the scenario's healing steps to a cluster that did not
    /// recover by itself, then waiting for it.
    Heal,
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
            Phase::Heal => "heal",
        })
    }
}

/// Receives events. Implementations must be cheap and must not panic.
pub trait EventSink: Send + Sync {
    /// Handles one event.
    fn emit(&self, event: RunEvent);
}

/// A sink that can be attached later (a backend's, for provisioning
/// progress); emits nothing until one is attached.
#[derive(Default)]
pub struct LateSink(std::sync::Mutex<Option<std::sync::Arc<dyn EventSink>>>);

impl std::fmt::Debug for LateSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let attached = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some();
        f.debug_struct("LateSink")
            .field("attached", &attached)
            .finish()
    }
}

impl LateSink {
    /// Attaches `sink`; later events go to it.
    pub fn attach(&self, sink: std::sync::Arc<dyn EventSink>) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(sink);
    }
}

impl EventSink for LateSink {
    fn emit(&self, event: RunEvent) {
        let sink = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(s) = sink {
            s.emit(event);
        }
    }
}
