//! The typed suite model: what a suite file means once it has been validated.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::fault::{Fault, NodeTarget, PodDelete};
use crate::slo::Slo;

use super::version::VersionCondition;
use super::yaml::Loc;

/// A suite file: a named set of scenarios that share one cluster profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Suite {
    /// Unique name among the loaded suites (`[a-z0-9-]`, at most 63 characters).
    pub name: String,
    /// What the suite is for.
    pub description: String,
    /// The file it was read from.
    pub file: PathBuf,
    /// The cluster its scenarios run on.
    pub cluster: ClusterProfile,
    /// The scenarios, in file order.
    pub scenarios: Vec<Scenario>,
}

/// Which cluster a suite needs: a kind config and a set of pinned versions.
///
/// Scenarios whose suites name the same profile share one cluster and run one
/// at a time.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ClusterProfile {
    /// Name of a kind config under `kind-configs/` (without `.yaml`). Default `default`.
    pub kind_config: String,
    /// Name of a version set (Kubernetes, Kube-OVN, Multus). Default `default`.
    pub versions: String,
}

impl fmt::Display for ClusterProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.kind_config, self.versions)
    }
}

/// One fault, the SLOs that judge the recovery from it, and what to expect.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Scenario {
    /// Unique within its suite.
    pub name: String,
    /// What the scenario shows, if the author said.
    pub description: Option<String>,
    /// The fault to inject.
    pub fault: Fault,
    /// Optional workaround applied after the fault, timed from its application.
    pub remediation: Option<Remediation>,
    /// What recovery must achieve (never empty).
    pub slos: Vec<Slo>,
    /// Whether the scenario is expected to pass or to reproduce a known bug.
    pub expect: Expect,
    /// When set, `expect` applies only to clusters whose versions satisfy it;
    /// on others the scenario is expected to pass (the bug is fixed there).
    pub expect_when: Option<VersionCondition>,
    /// When set, the trial is ignored (run it with `--ignored`), with this reason.
    pub ignored: Option<String>,
    /// How many times the scenario is run in one trial (at least 1).
    pub repeat: u32,
    /// How long the steady-state gate waits for a healthy cluster before the
    /// scenario is reported as not run.
    #[serde(with = "crate::util::serde_millis")]
    pub steady_state_timeout: Duration,
    /// Where the scenario starts in its file.
    #[serde(skip)]
    pub loc: Loc,
}

/// What a scenario is expected to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Expect {
    /// Every SLO holds.
    Pass,
    /// A known upstream bug makes an SLO fail; the trial passes when that failure
    /// is reproduced (xfail) and fails when the scenario unexpectedly passes (xpass).
    Fail {
        /// Why, with the upstream reference.
        reason: String,
        /// Name prefixes of pods or nodes that must be among the culprits; empty
        /// accepts any failure.
        culprits: Vec<String>,
    },
}

/// A workaround applied after the fault has been left alone for `after`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Remediation {
    /// How long to let the fault do its damage first.
    #[serde(with = "crate::util::serde_millis")]
    pub after: Duration,
    /// The steps, applied in order.
    pub steps: Vec<RemediationStep>,
}

/// One remediation step.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum RemediationStep {
    /// Delete pods (e.g. `ovs-ovn` or `kube-multus-ds` on the faulted node).
    PodDelete(PodDelete),
    /// Remove a file on a node (e.g. `/opt/cni/bin/multus-shim`).
    RemoveFile {
        /// The node; default: the faulted node.
        target: Option<NodeTarget>,
        /// Absolute path inside the node.
        path: String,
    },
}

impl Scenario {
    /// The expectation for a cluster reporting `versions`.
    pub fn expectation(
        &self,
        versions: &std::collections::BTreeMap<String, String>,
    ) -> Result<Expect, String> {
        match &self.expect_when {
            None => Ok(self.expect.clone()),
            Some(cond) => Ok(if cond.holds(versions)? {
                self.expect.clone()
            } else {
                Expect::Pass
            }),
        }
    }
}

impl RemediationStep {
    /// The node the step acts on; none: every node.
    pub fn target(&self) -> Option<&NodeTarget> {
        match self {
            RemediationStep::PodDelete(p) => p.target.as_ref(),
            RemediationStep::RemoveFile { target, .. } => target.as_ref(),
        }
    }
}

/// `suite::scenario`, the trial name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ScenarioId {
    /// Suite name.
    pub suite: String,
    /// Scenario name.
    pub scenario: String,
}

impl fmt::Display for ScenarioId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::{}", self.suite, self.scenario)
    }
}

impl Suite {
    /// The id of one of this suite's scenarios.
    pub fn id_of(&self, scenario: &Scenario) -> ScenarioId {
        ScenarioId {
            suite: self.name.clone(),
            scenario: scenario.name.clone(),
        }
    }
}
