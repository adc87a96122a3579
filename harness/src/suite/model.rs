//! The typed suite model: what a suite file means once it has been validated.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::fault::{Fault, NodeTarget, PodDelete};
use crate::slo::Slo;

use super::version::VersionCondition;
use super::yaml::Loc;
use crate::fault::{Precondition, Preconditions};

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
    /// Where some fields are in the file, for problems found after reading
    /// (duplicate names, references to kind configs and version sets).
    #[serde(skip)]
    pub locs: SuiteLocs,
}

/// Where a suite's fields are, for problems found after reading it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SuiteLocs {
    /// The `name` value.
    pub name: Loc,
    /// The `cluster.kind-config` value, when written.
    pub kind_config: Option<Loc>,
    /// The `cluster.versions` value, when written.
    pub versions: Option<Loc>,
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
    /// Install Kube-OVN in VPC-NAT-gateway mode (`nat-gateway: true`):
    /// `ENABLE_NAT_GW=true` and `CNI_CONFIG_PRIORITY=10`, as Kube-OVN's
    /// `kind-install-vpc-nat-gw` does, with the gateway image loaded; on the
    /// twin, a NAT gateway runs on the first worker. It changes the install
    /// (the conflist's name), so it is part of the profile. Default false.
    pub nat_gateway: bool,
}

impl fmt::Display for ClusterProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.kind_config, self.versions)?;
        if self.nat_gateway {
            f.write_str("+nat-gw")?;
        }
        Ok(())
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
    /// Optional healing after the revert, when the cluster does not recover
    /// by itself (`heal:`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heal: Option<Heal>,
    /// What recovery must achieve (never empty).
    pub slos: Vec<Slo>,
    /// Whether the scenario is expected to pass or to reproduce a known bug.
    pub expect: Expect,
    /// When set, `expect` applies only where it holds (the cluster's
    /// versions, and what the fault recorded on the node); elsewhere the
    /// scenario is expected to pass (the bug is fixed there, or its
    /// precondition was absent).
    pub expect_when: Option<Condition>,
    /// Preconditions the fault must record for the scenario to mean
    /// anything (`requires:`); one that is not met (or not recorded) ends
    /// the scenario as "precondition unmet", never a pass.
    #[serde(skip_serializing_if = "PreconditionSet::is_empty")]
    pub requires: PreconditionSet,
    /// The upstream source the expectation was written from
    /// (`expect.source`, e.g. `k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/server/config/manager.go`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect_source: Option<String>,
    /// When set, the trial is ignored (run it with `--ignored`), with this reason.
    pub ignored: Option<String>,
    /// How many times the scenario is run in one trial (at least 1).
    pub repeat: u32,
    /// How long the steady-state gate waits for a healthy cluster before the
    /// scenario is reported as not run.
    #[serde(with = "crate::util::serde_millis")]
    pub steady_state_timeout: Duration,
    /// How long a "within" SLO's condition must keep holding before its
    /// verdict is known and observation may end (`settle:`, default
    /// [`crate::observe::DEFAULT_SETTLE`]).
    #[serde(with = "crate::util::serde_millis")]
    pub settle: Duration,
    /// How observation ends; set by the runner (`CHAOS_OBSERVE`), not in
    /// suite files.
    #[serde(skip)]
    pub observe: crate::observe::ObserveMode,
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
        /// Culprits that must all be among the failed SLOs' culprits; empty
        /// accepts any failure (or, with `slos`, adds nothing to them).
        culprits: Vec<ExpectedCulprit>,
        /// Per-SLO expectations (an SLO's own `expect:`): when any is given,
        /// exactly these SLOs must fail, each naming its own culprits, and
        /// every other SLO must not fail.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        slos: Vec<SloExpect>,
    },
}

/// One SLO's expected failure: the symptom it stands for, what it must
/// name and where that comes from (an SLO's own `expect:` in a suite file).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SloExpect {
    /// The SLO's position in the scenario's `slos`.
    pub slo: usize,
    /// Culprits that must all be among this SLO's own culprits (never empty).
    pub culprits: Vec<ExpectedCulprit>,
    /// The upstream source the expectation was written from.
    pub source: String,
}

/// A culprit an expected failure must name. In a suite file either a name
/// prefix (`kube-multus-ds`: a pod or node whose name starts with it) or a
/// mapping: `{pod: kube-multus-ds, reason: Init:CrashLoopBackOff, node:
/// fault-target}` (a pod, optionally on the faulted node, optionally in that
/// state) or `{node: fault-target, reason: NotReady}` (the faulted node itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ExpectedCulprit {
    /// What the culprit is.
    pub what: CulpritMatch,
    /// The culprit's reason must be exactly this (e.g. `Init:CrashLoopBackOff`,
    /// `NotReady`); `None` accepts any.
    pub reason: Option<String>,
}

/// Which culprit an [`ExpectedCulprit`] names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum CulpritMatch {
    /// A pod or a node whose name starts with the prefix.
    Prefix {
        /// The name prefix.
        prefix: String,
    },
    /// A pod whose name starts with the prefix, on the faulted node when
    /// `on_fault_target`.
    Pod {
        /// The pod name prefix.
        prefix: String,
        /// Whether the pod must be on the faulted node.
        on_fault_target: bool,
    },
    /// The faulted node itself.
    FaultTarget,
}

impl ExpectedCulprit {
    /// A bare name prefix.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        ExpectedCulprit {
            what: CulpritMatch::Prefix {
                prefix: prefix.into(),
            },
            reason: None,
        }
    }

    /// Whether `c` is this culprit; `fault_node` is the node the fault
    /// acted on, if any.
    pub fn matches(&self, c: &crate::slo::Culprit, fault_node: Option<&str>) -> bool {
        use crate::slo::CulpritKind;
        let what = match &self.what {
            CulpritMatch::Prefix { prefix } => c.name.starts_with(prefix.as_str()),
            CulpritMatch::Pod {
                prefix,
                on_fault_target,
            } => {
                c.kind == CulpritKind::Pod
                    && c.name.starts_with(prefix.as_str())
                    && (!on_fault_target
                        || fault_node.is_some_and(|n| c.node.as_deref() == Some(n)))
            }
            CulpritMatch::FaultTarget => {
                c.kind == CulpritKind::Node && fault_node.is_some_and(|n| c.name == n)
            }
        };
        what && self.reason.as_ref().is_none_or(|r| c.reason == *r)
    }
}

impl From<&str> for ExpectedCulprit {
    fn from(prefix: &str) -> Self {
        ExpectedCulprit::prefix(prefix)
    }
}

impl std::fmt::Display for ExpectedCulprit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.what {
            CulpritMatch::Prefix { prefix } => write!(f, "{prefix}*")?,
            CulpritMatch::Pod {
                prefix,
                on_fault_target,
            } => {
                write!(f, "pod {prefix}*")?;
                if *on_fault_target {
                    write!(f, " on the faulted node")?;
                }
            }
            CulpritMatch::FaultTarget => write!(f, "the faulted node")?,
        }
        if let Some(r) = &self.reason {
            write!(f, " ({r})")?;
        }
        Ok(())
    }
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

/// What brings the cluster back when a scenario leaves it unhealthy after
/// its revert (a deadlock the scenario reproduces), instead of replacing
/// the cluster.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Heal {
    /// How long the cluster may take to become steady after the steps
    /// before it is replaced after all.
    #[serde(with = "crate::util::serde_millis")]
    pub budget: Duration,
    /// The steps (the remediation step kinds), applied in order.
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
    /// The expectation for a cluster reporting `versions`, after a fault
    /// that recorded `found`.
    pub fn expectation(
        &self,
        versions: &std::collections::BTreeMap<String, String>,
        found: &Preconditions,
    ) -> Result<Expect, String> {
        match &self.expect_when {
            None => Ok(self.expect.clone()),
            Some(cond) => Ok(
                if cond.versions.holds(versions)? && cond.preconditions.unmet(found).is_none() {
                    self.expect.clone()
                } else {
                    Expect::Pass
                },
            ),
        }
    }
}

/// `expect.when`: version constraints and recorded preconditions; all must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Condition {
    /// Version constraints (may be empty).
    pub versions: VersionCondition,
    /// Precondition values (may be empty).
    #[serde(skip_serializing_if = "PreconditionSet::is_empty")]
    pub preconditions: PreconditionSet,
}

/// Precondition names to the values wanted; all must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PreconditionSet(pub std::collections::BTreeMap<Precondition, bool>);

/// A precondition that did not hold: what was wanted and what was found
/// (`None`: not recorded).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Unmet {
    /// Which one.
    pub precondition: Precondition,
    /// The value wanted.
    pub wanted: bool,
    /// The value recorded, if any.
    pub found: Option<bool>,
}

impl fmt::Display for Unmet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.found {
            Some(v) => write!(
                f,
                "{} is {v}, the scenario requires {}",
                self.precondition, self.wanted
            ),
            None => write!(
                f,
                "{} was not recorded, the scenario requires it {}",
                self.precondition, self.wanted
            ),
        }
    }
}

impl PreconditionSet {
    /// None wanted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first precondition in the set that `found` does not meet, among
    /// those `known` says can be judged yet.
    pub fn unmet_among(
        &self,
        found: &Preconditions,
        known: impl Fn(Precondition) -> bool,
    ) -> Option<Unmet> {
        self.0.iter().find_map(|(p, wanted)| {
            if !known(*p) {
                return None;
            }
            let value = found.value(*p);
            (value != Some(*wanted)).then_some(Unmet {
                precondition: *p,
                wanted: *wanted,
                found: value,
            })
        })
    }

    /// The first precondition in the set that `found` does not meet.
    pub fn unmet(&self, found: &Preconditions) -> Option<Unmet> {
        self.unmet_among(found, |_| true)
    }
}

impl fmt::Display for PreconditionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        f.write_str(&parts.join(", "))
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
