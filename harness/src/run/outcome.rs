//! Outcomes, checks and verdicts of scenarios.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::fault::Evidence;
use crate::slo::{Culprit, Measured, SloStatus, SloVerdict};
use crate::suite::{Expect, ScenarioId};

/// How a scenario ended, before expectations are applied. Keeps "could not
/// run" apart from "ran and failed".
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum Outcome {
    /// The fault took effect and every SLO held.
    Passed,
    /// The fault took effect and at least one SLO failed.
    SloFailed {
        /// The failed SLOs, as described in the JUnit.
        failed: Vec<String>,
    },
    /// The fault produced no evidence that it took effect.
    FaultNoEffect {
        /// What was missing.
        reason: String,
    },
    /// The fault took effect, but the node did not show what the scenario
    /// requires (`requires:`): it tested something else, so it neither
    /// passes nor fails on its SLOs.
    PreconditionUnmet {
        /// What was required and what was found, in plain words.
        reason: String,
    },
    /// The cluster was never steady before the fault: nothing was injected.
    NotRun {
        /// What was unhealthy.
        reason: String,
    },
    /// The run's deadline (`CHAOS_DEADLINE`) had passed before the scenario
    /// could start: it was never started. Not a pass and not a skip: the
    /// trial fails, and the reports say why.
    Deadline {
        /// The deadline, as configured (an instant, or a duration after the
        /// run's start).
        deadline: String,
    },
    /// The harness or the infrastructure failed (a command, a panic, a timeout).
    HarnessError {
        /// What went wrong.
        message: String,
    },
    /// SIGINT or SIGTERM stopped it.
    Interrupted,
    /// A dry run (`CHAOS_DRY_RUN=1`): its commands were printed, none run.
    Planned,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Passed => f.write_str("passed"),
            Outcome::SloFailed { failed } => write!(f, "SLO failed: {}", failed.join("; ")),
            Outcome::FaultNoEffect { reason } => write!(f, "fault had no effect: {reason}"),
            Outcome::PreconditionUnmet { reason } => write!(
                f,
                "precondition unmet: {reason}; the scenario did not test what it is for"
            ),
            Outcome::NotRun { reason } => {
                write!(f, "not run, steady state never reached: {reason}")
            }
            Outcome::Deadline { deadline } => write!(
                f,
                "not run: deadline: the run's deadline ({deadline}) passed before it could start"
            ),
            Outcome::HarnessError { message } => write!(f, "harness error: {message}"),
            Outcome::Interrupted => f.write_str("interrupted"),
            Outcome::Planned => f.write_str("planned (dry run): commands printed, none executed"),
        }
    }
}

/// The outcome judged against the scenario's expectation; decides the trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Expected to pass and did.
    Pass,
    /// Failed (an SLO, no effect, or an expected failure with other culprits).
    Fail,
    /// Expected to fail, and failed the expected way (trial passes).
    #[serde(rename = "xfail")]
    XFail,
    /// Expected to fail but passed: the bug is gone, update the suite (trial fails).
    #[serde(rename = "xpass")]
    XPass,
    /// Not run: the cluster was never steady, or the run's deadline passed
    /// before it started (trial fails, reported apart).
    NotRun,
    /// The fault did not leave the node in the state the scenario requires:
    /// never a pass, never an XPASS (trial fails, reported apart).
    #[serde(rename = "precondition-unmet")]
    Unmet,
    /// The harness or the infrastructure failed.
    Error,
    /// Interrupted by a signal.
    Interrupted,
    /// A dry run: planned, nothing executed (trial passes).
    Planned,
}

impl Verdict {
    /// Every verdict, in report order.
    pub const ALL: [Verdict; 9] = [
        Verdict::Pass,
        Verdict::Fail,
        Verdict::XFail,
        Verdict::XPass,
        Verdict::NotRun,
        Verdict::Unmet,
        Verdict::Error,
        Verdict::Interrupted,
        Verdict::Planned,
    ];

    /// Whether the libtest trial passes.
    pub fn trial_passes(self) -> bool {
        matches!(self, Verdict::Pass | Verdict::XFail | Verdict::Planned)
    }

    /// Judges an outcome against an expectation. An expected failure counts
    /// only when the SLOs failed, every expected culprit is among the
    /// culprits, and every SLO met its own expectation (`symptoms`, from
    /// [`SymptomMatch::all`]: exactly the SLOs expected to fail failed,
    /// each naming its culprits); `fault_node` is the node the fault acted
    /// on, for expected culprits that name it.
    pub fn judge(
        outcome: &Outcome,
        expect: &Expect,
        culprits: &[Culprit],
        symptoms: &[SymptomMatch],
        fault_node: Option<&str>,
    ) -> Verdict {
        match (outcome, expect) {
            (Outcome::Passed, Expect::Pass) => Verdict::Pass,
            (Outcome::Passed, Expect::Fail { .. }) => Verdict::XPass,
            (Outcome::SloFailed { .. }, Expect::Fail { culprits: want, .. }) => {
                let all_found = want
                    .iter()
                    .all(|w| culprits.iter().any(|c| w.matches(c, fault_node)));
                if all_found && symptoms.iter().all(|m| m.met) {
                    Verdict::XFail
                } else {
                    Verdict::Fail
                }
            }
            (Outcome::SloFailed { .. } | Outcome::FaultNoEffect { .. }, _) => Verdict::Fail,
            (Outcome::NotRun { .. } | Outcome::Deadline { .. }, _) => Verdict::NotRun,
            (Outcome::PreconditionUnmet { .. }, _) => Verdict::Unmet,
            (Outcome::HarnessError { .. }, _) => Verdict::Error,
            (Outcome::Interrupted, _) => Verdict::Interrupted,
            (Outcome::Planned, _) => Verdict::Planned,
        }
    }
}

/// How one SLO met its scenario's per-SLO expectation (an SLO's own
/// `expect:`): decided once, here, and only rendered by the reporters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SymptomMatch {
    /// The SLO, described.
    pub slo: String,
    /// Whether the SLO was expected to fail (a symptom) or to hold.
    pub expected_to_fail: bool,
    /// What it did: `pass`, `fail` or `not evaluated: <why>`.
    pub status: String,
    /// Expected culprits its own culprits did not name.
    pub missing: Vec<String>,
    /// The upstream source of the expectation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Whether it did what was expected.
    pub met: bool,
}

impl SymptomMatch {
    /// Every SLO's match against `expect`'s per-SLO expectations, in the
    /// scenario's SLO order; empty when it has none (the scenario-wide
    /// culprits alone decide then). An SLO expected to fail must fail and
    /// name each of its culprits among its own; any other SLO must not fail.
    pub fn all(expect: &Expect, slos: &[SloVerdict], fault_node: Option<&str>) -> Vec<Self> {
        let Expect::Fail { slos: own, .. } = expect else {
            return Vec::new();
        };
        if own.is_empty() {
            return Vec::new();
        }
        slos.iter()
            .enumerate()
            .map(|(i, v)| {
                let status = match &v.status {
                    SloStatus::Pass => "pass".to_string(),
                    SloStatus::Fail => "fail".to_string(),
                    SloStatus::NotEvaluated(why) => format!("not evaluated: {why}"),
                };
                match own.iter().find(|e| e.slo == i) {
                    Some(e) => {
                        let missing: Vec<String> = e
                            .culprits
                            .iter()
                            .filter(|w| !v.culprits.iter().any(|c| w.matches(c, fault_node)))
                            .map(ToString::to_string)
                            .collect();
                        SymptomMatch {
                            slo: v.slo.to_string(),
                            expected_to_fail: true,
                            met: v.status == SloStatus::Fail && missing.is_empty(),
                            status,
                            missing,
                            source: Some(e.source.clone()),
                        }
                    }
                    None => SymptomMatch {
                        slo: v.slo.to_string(),
                        expected_to_fail: false,
                        met: v.status != SloStatus::Fail,
                        status,
                        missing: Vec::new(),
                        source: None,
                    },
                }
            })
            .collect()
    }
}

impl fmt::Display for SymptomMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.met {
            "as expected"
        } else {
            "NOT as expected"
        };
        let want = if self.expected_to_fail {
            "expected to fail"
        } else {
            "expected to hold"
        };
        write!(f, "{}: {want}, {} ({verdict})", self.slo, self.status)?;
        if !self.missing.is_empty() {
            write!(f, "; did not name {}", self.missing.join(", "))?;
        }
        if let Some(src) = &self.source {
            write!(f, "; source: {src}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::XFail => "xfail",
            Verdict::XPass => "XPASS",
            Verdict::NotRun => "not run",
            Verdict::Unmet => "precondition unmet",
            Verdict::Error => "ERROR",
            Verdict::Interrupted => "interrupted",
            Verdict::Planned => "planned",
        })
    }
}

/// What a check is about; one JUnit testcase each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// The cluster was healthy before the fault.
    SteadyState,
    /// The fault took effect (with evidence).
    FaultEffect,
    /// The fault left the node in the state the scenario requires.
    Precondition,
    /// The remediation was applied.
    Remediation,
    /// One SLO.
    Slo,
    /// Revert and teardown.
    Cleanup,
    /// The scenario's healing steps ran because the cluster had not
    /// recovered by itself after the revert.
    Healing,
    /// After the revert (and healing), the cluster returned to steady state
    /// (else it is replaced before the next scenario).
    Recovery,
}

/// A check's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "reason")]
pub enum CheckStatus {
    /// It held.
    Passed,
    /// It did not hold.
    Failed,
    /// It was not evaluated, with why.
    Skipped(String),
    /// It could not be carried out (harness or infrastructure).
    Error,
}

/// One check of one scenario iteration.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Check {
    /// Testcase name, e.g. `slo: workloads-ready-within 3m (namespace kube-system)`.
    pub name: String,
    /// What it is about.
    pub kind: CheckKind,
    /// How it went.
    pub status: CheckStatus,
    /// One line for humans; for failures, names the culprits.
    pub message: String,
    /// How long the check took.
    #[serde(with = "crate::util::serde_millis")]
    pub elapsed: Duration,
    /// What was measured.
    pub measured: Option<Measured>,
    /// The budget, for time SLOs.
    #[serde(with = "crate::util::serde_millis::option")]
    pub budget: Option<Duration>,
    /// Who held it back.
    pub culprits: Vec<Culprit>,
}

impl Check {
    /// A check with no measurement.
    pub fn new(
        name: impl Into<String>,
        kind: CheckKind,
        status: CheckStatus,
        message: impl Into<String>,
    ) -> Self {
        Check {
            name: name.into(),
            kind,
            status,
            message: message.into(),
            elapsed: Duration::ZERO,
            measured: None,
            budget: None,
            culprits: Vec::new(),
        }
    }

    /// The check for one SLO verdict.
    pub fn from_verdict(v: &SloVerdict) -> Self {
        use crate::slo::SloStatus;
        let status = match &v.status {
            SloStatus::Pass => CheckStatus::Passed,
            SloStatus::Fail => CheckStatus::Failed,
            SloStatus::NotEvaluated(why) => CheckStatus::Skipped(why.clone()),
        };
        let mut message = v.message.clone();
        if !v.culprits.is_empty() {
            let names: Vec<String> = v.culprits.iter().map(ToString::to_string).collect();
            message = format!("{message}; culprits: {}", names.join(", "));
        }
        Check {
            name: format!("slo: {}", v.slo),
            kind: CheckKind::Slo,
            status,
            message,
            elapsed: Duration::ZERO,
            measured: v.measured,
            budget: v.slo.budget(),
            culprits: v.culprits.clone(),
        }
    }
}

/// Everything known about one scenario iteration.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ScenarioResult {
    /// `suite::scenario`.
    pub id: ScenarioId,
    /// 1-based iteration.
    pub iteration: u32,
    /// Of how many.
    pub repeat: u32,
    /// The cluster it ran on.
    pub cluster: Option<String>,
    /// The component versions of that cluster (`kubernetes`, `kube-ovn`,
    /// `multus`): in a matrix run, what this result is about.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub versions: std::collections::BTreeMap<String, String>,
    /// The fault, described.
    pub fault: String,
    /// The node the fault acted on.
    pub node: Option<String>,
    /// The evidence, when injection happened.
    pub evidence: Option<Evidence>,
    /// What was expected.
    pub expect: Expect,
    /// How it ended.
    pub outcome: Outcome,
    /// The outcome against the expectation.
    pub verdict: Verdict,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
    /// Per-SLO verdicts.
    pub slos: Vec<SloVerdict>,
    /// How each SLO met its own expectation, when the scenario's expected
    /// failure names its symptoms per SLO (empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub symptoms: Vec<SymptomMatch>,
    /// Diagnostics text (for JUnit system-out).
    pub diagnostics: Option<String>,
    /// When the remediation was applied (or was due, when the cluster had
    /// recovered and it was skipped), in milliseconds after the fault:
    /// budgets count from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation_ms: Option<i64>,
    /// Per pod and node state lanes around the fault (HTML timeline).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lanes: Vec<crate::observe::Lane>,
    /// The harness's continuous traffic per flow over the observed window
    /// (times from the fault): outages, loss, what the records do not
    /// cover. Derived once from the receivers' records; reports render it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traffic: Vec<crate::observe::traffic::FlowTraffic>,
    /// How observation ended: the settle window, the floor and why, when
    /// every verdict was known, when it ended, and where the full window
    /// would have ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation: Option<crate::observe::ObservedWindow>,
    /// With `CHAOS_OBSERVE=full`: the verdicts known at the moment an
    /// early end would have ended observation (`slos` are the full
    /// window's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_slos: Option<Vec<SloVerdict>>,
    /// SLOs that passed when observation ended and fail when judged again
    /// on what the watchers saw afterwards (up to the next scenario's gate,
    /// at most to the end of the full window): reported, never hidden, and
    /// they do not change the verdict.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub late_relapses: Vec<LateRelapse>,
    /// Wall-clock start.
    pub started_at: jiff::Timestamp,
    /// How long it took.
    #[serde(with = "crate::util::serde_millis")]
    pub elapsed: Duration,
}

/// An SLO that passed when observation ended and failed later.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LateRelapse {
    /// The SLO, as in its check's name.
    pub slo: String,
    /// What the later judgement said.
    pub message: String,
    /// Whom it blamed.
    pub culprits: Vec<Culprit>,
    /// How long after the fault the later judgement looked.
    #[serde(with = "crate::util::serde_millis")]
    pub seen_until: Duration,
}

/// A scenario's culprits, the one definition the engine judges on and the
/// reporters print: every culprit of its SLOs, then those of its checks
/// that did not pass (a recovery that failed, an unsteady gate), each once
/// (see [`Culprit::unique`]).
pub fn scenario_culprits(slos: &[SloVerdict], checks: &[Check]) -> Vec<Culprit> {
    Culprit::unique(
        slos.iter().flat_map(|v| &v.culprits).chain(
            checks
                .iter()
                .filter(|c| c.status != CheckStatus::Passed)
                .flat_map(|c| &c.culprits),
        ),
    )
}

impl ScenarioResult {
    /// Whether the scenario left its cluster unhealthy after the revert, or
    /// could not revert its fault, so that the next scenario needs a new
    /// cluster.
    pub fn left_cluster_unhealthy(&self) -> bool {
        self.checks.iter().any(|c| match c.kind {
            CheckKind::Recovery => matches!(c.status, CheckStatus::Failed | CheckStatus::Error),
            CheckKind::Cleanup => c.status == CheckStatus::Error,
            _ => false,
        })
    }

    /// The scenario's culprits (see [`scenario_culprits`]): what the
    /// verdict was judged on and what every report names.
    pub fn culprits(&self) -> Vec<Culprit> {
        scenario_culprits(&self.slos, &self.checks)
    }

    /// The testsuite name: `suite::scenario`, with `#n` for repeats.
    pub fn display_name(&self) -> String {
        if self.repeat > 1 {
            format!("{}#{}", self.id, self.iteration)
        } else {
            self.id.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::CulpritKind;

    fn culprit(name: &str) -> Culprit {
        Culprit {
            kind: CulpritKind::Pod,
            namespace: Some("kube-system".into()),
            name: name.into(),
            node: None,
            reason: "Init:CrashLoopBackOff".into(),
            restarts: Some(3),
            recovered_after: None,
        }
    }

    #[test]
    fn expectations_decide_the_trial() {
        let fail = Outcome::SloFailed {
            failed: vec!["x".into()],
        };
        let xfail = Expect::Fail {
            reason: "multus-cni #1221".into(),
            culprits: vec!["kube-multus-ds".into()],
            slos: Vec::new(),
        };
        let multus = [culprit("kube-multus-ds-abcde")];
        let dns = [culprit("coredns-1")];
        assert_eq!(
            Verdict::judge(&Outcome::Passed, &Expect::Pass, &[], &[], None),
            Verdict::Pass
        );
        assert_eq!(
            Verdict::judge(&fail, &Expect::Pass, &multus, &[], None),
            Verdict::Fail
        );
        assert_eq!(
            Verdict::judge(&fail, &xfail, &multus, &[], None),
            Verdict::XFail
        );
        assert_eq!(
            Verdict::judge(&fail, &xfail, &dns, &[], None),
            Verdict::Fail,
            "other culprit"
        );
        assert_eq!(
            Verdict::judge(&Outcome::Passed, &xfail, &[], &[], None),
            Verdict::XPass
        );
        let late = Outcome::Deadline {
            deadline: "40m after the start".into(),
        };
        assert_eq!(
            Verdict::judge(&late, &Expect::Pass, &[], &[], None),
            Verdict::NotRun,
            "a scenario the deadline kept from starting did not pass"
        );
        assert_eq!(
            Verdict::judge(&late, &xfail, &[], &[], None),
            Verdict::NotRun
        );
        assert!(late.to_string().starts_with("not run: deadline"), "{late}");
        let none = Outcome::FaultNoEffect { reason: "x".into() };
        assert_eq!(
            Verdict::judge(&none, &xfail, &multus, &[], None),
            Verdict::Fail,
            "no effect never xfails"
        );
        assert!(Verdict::XFail.trial_passes());
        for v in [
            Verdict::Fail,
            Verdict::XPass,
            Verdict::NotRun,
            Verdict::Error,
            Verdict::Interrupted,
        ] {
            assert!(!v.trial_passes(), "{v}");
        }
    }

    /// A scenario's SLO verdicts for the symptom table: the Multus init
    /// crash loop, the DNS probe, and a node SLO that must hold.
    fn symptom_slos(multus: SloStatus, dns: SloStatus, node: SloStatus) -> Vec<SloVerdict> {
        use crate::slo::{CrashLoopContainers, NodeScope, PodScope, ProbeKind, Slo};
        let verdict = |slo, status: SloStatus, culprits| SloVerdict {
            slo,
            culprits: if status == SloStatus::Fail {
                culprits
            } else {
                Vec::new()
            },
            status,
            measured: None,
            message: String::new(),
        };
        let on = |name: &str, reason: &str| Culprit {
            node: Some("kind-worker".into()),
            reason: reason.into(),
            ..culprit(name)
        };
        vec![
            verdict(
                Slo::NoCrashLoop {
                    scope: PodScope {
                        namespace: Some("kube-system".into()),
                        selector: None,
                    },
                    containers: CrashLoopContainers::Init,
                    allowance: 0,
                },
                multus,
                vec![on("kube-multus-ds-x", "Init:CrashLoopBackOff")],
            ),
            verdict(
                Slo::ProbeSucceedsWithin {
                    probe: ProbeKind::Dns,
                    budget: Duration::from_secs(180),
                },
                dns,
                vec![on("probe-dns", "ContainerCreating")],
            ),
            verdict(
                Slo::NodeReadyWithin {
                    nodes: NodeScope::FaultTarget,
                    budget: Duration::from_secs(120),
                },
                node,
                vec![on("kind-worker", "NotReady")],
            ),
        ]
    }

    #[test]
    fn a_scenario_has_one_set_of_culprits_for_its_verdict_and_its_reports() {
        let slos = symptom_slos(SloStatus::Fail, SloStatus::Pass, SloStatus::Pass);
        let check = |kind, status, names: &[&str]| Check {
            culprits: names.iter().map(|n| culprit(n)).collect(),
            ..Check::new("c", kind, status, "")
        };
        let checks = [
            // Already named by the SLO: once.
            check(
                CheckKind::Recovery,
                CheckStatus::Failed,
                &["kube-multus-ds-x", "coredns-1"],
            ),
            // A passed check names nobody.
            check(CheckKind::SteadyState, CheckStatus::Passed, &["ovs-ovn-1"]),
        ];
        let names: Vec<String> = scenario_culprits(&slos, &checks)
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["kube-multus-ds-x", "coredns-1"]);
    }

    #[test]
    fn per_slo_expectations_need_exactly_their_symptoms() {
        use crate::suite::{CulpritMatch, ExpectedCulprit, SloExpect};
        use SloStatus::{Fail, Pass};
        let pod = |prefix: &str| ExpectedCulprit {
            what: CulpritMatch::Pod {
                prefix: prefix.into(),
                on_fault_target: true,
            },
            reason: None,
        };
        let expect = Expect::Fail {
            reason: "multus-cni #1221".into(),
            culprits: Vec::new(),
            slos: vec![
                SloExpect {
                    slo: 0,
                    culprits: vec![pod("kube-multus-ds")],
                    source: "multus-cni@v4.2.1".into(),
                },
                SloExpect {
                    slo: 1,
                    culprits: vec![pod("probe-dns")],
                    source: "multus-cni@v4.2.1".into(),
                },
            ],
        };
        let fail = Outcome::SloFailed {
            failed: vec!["x".into()],
        };
        let not_evaluated = SloStatus::NotEvaluated("the command failed".into());
        let judge = |slos: &[SloVerdict], node: &str| {
            let symptoms = SymptomMatch::all(&expect, slos, Some(node));
            let culprits: Vec<Culprit> = slos.iter().flat_map(|v| v.culprits.clone()).collect();
            let outcome = if slos.iter().any(|v| v.status == Fail) {
                fail.clone()
            } else {
                Outcome::Passed
            };
            (
                Verdict::judge(&outcome, &expect, &culprits, &symptoms, Some(node)),
                symptoms,
            )
        };
        let cases: [(&str, Vec<SloVerdict>, &str, Verdict); 7] = [
            (
                "both symptoms, the node held",
                symptom_slos(Fail, Fail, Pass),
                "kind-worker",
                Verdict::XFail,
            ),
            (
                "a failure no SLO expected",
                symptom_slos(Fail, Fail, Fail),
                "kind-worker",
                Verdict::Fail,
            ),
            (
                "one symptom missing",
                symptom_slos(Fail, Pass, Pass),
                "kind-worker",
                Verdict::Fail,
            ),
            (
                "a symptom not evaluated",
                symptom_slos(Fail, not_evaluated.clone(), Pass),
                "kind-worker",
                Verdict::Fail,
            ),
            (
                "the culprits on another node",
                symptom_slos(Fail, Fail, Pass),
                "kind-worker2",
                Verdict::Fail,
            ),
            (
                "nothing failed",
                symptom_slos(Pass, Pass, Pass),
                "kind-worker",
                Verdict::XPass,
            ),
            (
                "only the unexpected one failed",
                symptom_slos(Pass, Pass, Fail),
                "kind-worker",
                Verdict::Fail,
            ),
        ];
        for (what, slos, node, want) in cases {
            let (got, symptoms) = judge(&slos, node);
            assert_eq!(got, want, "{what}: {symptoms:#?}");
            assert_eq!(symptoms.len(), 3, "{what}");
            assert_eq!(
                symptoms.iter().all(|m| m.met),
                want == Verdict::XFail,
                "{what}: {symptoms:#?}"
            );
        }
        // What a reporter prints for an unmet symptom: which, and what it
        // did not name.
        let (_, symptoms) = judge(&symptom_slos(Fail, Fail, Pass), "kind-worker2");
        assert_eq!(
            symptoms[1].to_string(),
            "probe-succeeds-within 3m (dns): expected to fail, fail (NOT as expected); did not name pod probe-dns* on the faulted node; source: multus-cni@v4.2.1"
        );
        assert_eq!(
            symptoms[2].to_string(),
            "node-ready-within 2m (faulted node): expected to hold, pass (as expected)"
        );
        // Without per-SLO expectations nothing is matched per SLO.
        let plain = Expect::Fail {
            reason: "r".into(),
            culprits: vec!["kube-multus-ds".into()],
            slos: Vec::new(),
        };
        assert!(SymptomMatch::all(&plain, &symptom_slos(Fail, Fail, Fail), None).is_empty());
        assert!(SymptomMatch::all(&Expect::Pass, &symptom_slos(Fail, Pass, Pass), None).is_empty());
    }

    #[test]
    fn expected_culprits_can_name_the_state_and_the_faulted_node() {
        use crate::suite::{CulpritMatch, ExpectedCulprit};
        let fail = Outcome::SloFailed {
            failed: vec!["x".into()],
        };
        let on_worker = |name: &str, node: &str, reason: &str| Culprit {
            node: Some(node.into()),
            reason: reason.into(),
            ..culprit(name)
        };
        let multus_on_target = Expect::Fail {
            reason: "multus-cni #1221".into(),
            culprits: vec![ExpectedCulprit {
                what: CulpritMatch::Pod {
                    prefix: "kube-multus-ds".into(),
                    on_fault_target: true,
                },
                reason: Some("Init:CrashLoopBackOff".into()),
            }],
            slos: Vec::new(),
        };
        let stuck = [on_worker(
            "kube-multus-ds-x",
            "kind-worker",
            "Init:CrashLoopBackOff",
        )];
        assert_eq!(
            Verdict::judge(&fail, &multus_on_target, &stuck, &[], Some("kind-worker")),
            Verdict::XFail
        );
        assert_eq!(
            Verdict::judge(&fail, &multus_on_target, &stuck, &[], Some("kind-worker2")),
            Verdict::Fail,
            "the pod is stuck on another node than the faulted one"
        );
        let pulling = [on_worker(
            "kube-multus-ds-x",
            "kind-worker",
            "ImagePullBackOff",
        )];
        assert_eq!(
            Verdict::judge(&fail, &multus_on_target, &pulling, &[], Some("kind-worker")),
            Verdict::Fail,
            "the same pod failing for another reason is another failure"
        );

        let node_down = Expect::Fail {
            reason: "kube-ovn #4730".into(),
            culprits: vec![ExpectedCulprit {
                what: CulpritMatch::FaultTarget,
                reason: Some("NotReady".into()),
            }],
            slos: Vec::new(),
        };
        let node = |name: &str| Culprit {
            kind: CulpritKind::Node,
            namespace: None,
            name: name.into(),
            node: None,
            reason: "NotReady".into(),
            restarts: None,
            recovered_after: None,
        };
        assert_eq!(
            Verdict::judge(
                &fail,
                &node_down,
                &[node("kind-worker")],
                &[],
                Some("kind-worker")
            ),
            Verdict::XFail
        );
        assert_eq!(
            Verdict::judge(
                &fail,
                &node_down,
                &[node("kind-worker2")],
                &[],
                Some("kind-worker")
            ),
            Verdict::Fail
        );
        assert_eq!(
            Verdict::judge(&fail, &node_down, &[node("kind-worker")], &[], None),
            Verdict::Fail,
            "no faulted node, nothing can be it"
        );
    }
}
