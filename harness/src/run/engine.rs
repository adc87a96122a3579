//! One scenario iteration, phase by phase: steady-state gate, inject, prove
//! the fault took effect, (remediate,) observe, judge, diagnose, and revert on
//! every exit path, including panics and interrupts.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::event::{EventSink, Phase, RunEvent};
use super::outcome::{
    Check, CheckKind, CheckStatus, LateRelapse, Outcome, ScenarioResult, SymptomMatch, Verdict,
    scenario_culprits,
};
use crate::backend::{Cluster, NodeInfo, select_node};
use crate::fault::{Evidence, Fault, Precondition};
use crate::observe::multus_init;
use crate::slo::{Culprit, SloStatus, SloVerdict};
use crate::suite::{Remediation, Scenario, ScenarioId, Unmet};
use crate::util::duration;

/// Slack on top of the longest SLO budget before observation is abandoned.
const OBSERVE_SLACK: Duration = Duration::from_secs(300);
/// Observation limit when no SLO has a budget.
const OBSERVE_DEFAULT: Duration = Duration::from_secs(300);
/// How often progress displays hear what is still not Ready.
const WAITING_EVERY: Duration = Duration::from_secs(10);
/// How long a revert may take.
const REVERT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long collecting a cluster's logs after a failure may take.
const LOGS_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the end of observation waits for the Multus follow's last poll.
const FOLLOW_GRACE: Duration = Duration::from_secs(2);
/// The recovery check's testcase name.
const RECOVERY: &str = "cluster recovered";
/// With healing steps, how long the recovery gate waits before they are
/// applied: a cluster that recovers by itself after a revert does so
/// within a settle window or so (the catalogue's self-healing scenarios
/// are steady again 10 to 30 s after theirs on the twin); one that is
/// still not steady then is stuck (a deadlock the scenario reproduces).
const HEAL_FIRST_LOOK: Duration = Duration::from_secs(30);

/// Runs scenarios on one cluster.
#[derive(Clone)]
pub struct Engine {
    /// The cluster.
    pub cluster: Arc<dyn Cluster>,
    /// Where events go.
    pub events: Arc<dyn EventSink>,
    /// Cancelled on SIGINT / SIGTERM.
    pub cancel: CancellationToken,
    /// Seed for random node picks.
    pub seed: u64,
    /// Where diagnostics are written (one subfolder per scenario iteration).
    pub diagnostics_dir: PathBuf,
}

/// What the phases learned; shared with the outer frame so that a panic in a
/// phase still leaves the evidence needed to revert.
#[derive(Default)]
struct State {
    checks: Vec<Check>,
    slos: Vec<SloVerdict>,
    nodes: Vec<NodeInfo>,
    node: Option<NodeInfo>,
    injected: bool,
    evidence: Option<Evidence>,
    diagnostics: Option<String>,
    lanes: Vec<crate::observe::Lane>,
    traffic: Vec<crate::observe::traffic::FlowTraffic>,
    remediation_ms: Option<i64>,
    /// How observation ended, and the early verdicts in full mode.
    window: Option<crate::observe::ObservedWindow>,
    early: Option<Vec<SloVerdict>>,
    /// The fault's start and the reference budgets count from, once
    /// observation ran (for the late judgement).
    observed: Option<(Instant, Instant)>,
    /// The commands end-of-observation SLOs ran in pods, with their raw
    /// answers.
    outputs: Vec<crate::backend::CommandOutput>,
}

struct Phases {
    engine: Engine,
    id: ScenarioId,
    iteration: u32,
    scenario: Scenario,
    state: Arc<Mutex<State>>,
}

impl Phases {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check(&self, check: Check) {
        self.engine.events.emit(RunEvent::CheckFinished {
            id: self.id.clone(),
            iteration: self.iteration,
            check: check.clone(),
        });
        self.state().checks.push(check);
    }

    fn phase(&self, phase: Phase, budget: Option<Duration>) {
        self.engine.events.emit(RunEvent::PhaseStarted {
            id: self.id.clone(),
            iteration: self.iteration,
            phase,
            budget,
        });
    }

    /// Runs `fut` while telling progress displays, every
    /// [`WAITING_EVERY`], what is not Ready when that changed.
    async fn reporting_waits<T>(&self, fut: impl Future<Output = T>) -> T {
        let tick = async {
            let mut last: Vec<String> = Vec::new();
            loop {
                tokio::time::sleep(WAITING_EVERY).await;
                let now: Vec<String> = self
                    .engine
                    .cluster
                    .unready(&self.scenario)
                    .iter()
                    .map(|c| format!("{} ({})", c.name, c.reason))
                    .collect();
                if now != last {
                    self.engine.events.emit(RunEvent::Waiting {
                        id: self.id.clone(),
                        iteration: self.iteration,
                        unready: now.clone(),
                    });
                    last = now;
                }
            }
        };
        tokio::select! {
            out = fut => out,
            () = tick => unreachable!("the ticker never ends"),
        }
    }

    /// Runs `fut` unless the run is interrupted first.
    async fn or_cancel<T>(&self, fut: impl Future<Output = T>) -> Result<T, Outcome> {
        tokio::select! {
            biased;
            () = self.engine.cancel.cancelled() => Err(Outcome::Interrupted),
            v = fut => Ok(v),
        }
    }

    async fn run(self) -> Outcome {
        match self.phases().await {
            Ok(o) | Err(o) => o,
        }
    }

    async fn phases(&self) -> Result<Outcome, Outcome> {
        let cluster = self.engine.cluster.clone();
        let scenario = &self.scenario;

        // 1. Steady-state gate.
        self.phase(Phase::SteadyState, Some(scenario.steady_state_timeout));
        let started = Instant::now();
        let gate = self
            .or_cancel(
                self.reporting_waits(cluster.steady_state(scenario, scenario.steady_state_timeout)),
            )
            .await?
            .map_err(|e| self.error(CheckKind::SteadyState, "steady state", e.to_string()))?;
        if !gate.steady {
            let who: Vec<String> = gate.unhealthy.iter().map(ToString::to_string).collect();
            let reason = format!(
                "not steady after {}: {}",
                duration::format(gate.waited),
                if who.is_empty() {
                    "no details".to_string()
                } else {
                    who.join(", ")
                }
            );
            let mut c = Check::new(
                "steady state",
                CheckKind::SteadyState,
                CheckStatus::Failed,
                reason.clone(),
            );
            c.elapsed = started.elapsed();
            c.culprits = gate.unhealthy;
            self.check(c);
            return Ok(Outcome::NotRun { reason });
        }
        let mut c = Check::new(
            "steady state",
            CheckKind::SteadyState,
            CheckStatus::Passed,
            format!("steady after {}", duration::format(gate.waited)),
        );
        c.elapsed = started.elapsed();
        self.check(c);

        // 2. The target node.
        let nodes = cluster
            .nodes()
            .await
            .map_err(|e| self.error(CheckKind::FaultEffect, "fault took effect", e.to_string()))?;
        let node = match scenario.fault.target() {
            Some(target) => Some(select_node(&nodes, target, None, self.engine.seed).map_err(
                |e| self.error(CheckKind::FaultEffect, "fault took effect", e.to_string()),
            )?),
            None => None,
        };
        {
            let mut s = self.state();
            s.node = node.clone();
            s.nodes = nodes.clone();
        }

        // The node's Multus pod before the fault, to tell its init
        // container's next run (recorded as a precondition) from its last.
        let multus_base = match (&node, cluster.kube_client()) {
            (Some(n), Some(client)) if follows_multus(scenario) => {
                multus_init::list(&client, &n.name)
                    .await
                    .ok()
                    .and_then(|pods| multus_init::baseline(&pods))
                    .map(|b| (client, b))
            }
            _ => None,
        };

        // 3. Inject, and 4. prove it took effect.
        self.phase(Phase::Inject, None);
        let started = Instant::now();
        self.state().injected = true;
        let evidence = self
            .or_cancel(cluster.inject(&scenario.fault, node.as_ref()))
            .await?
            .map_err(|e| self.error(CheckKind::FaultEffect, "fault took effect", e.to_string()))?;
        // The fault began when its injection did: an injector that waits
        // for its effect (a node that stops and starts again, a pod that
        // goes and comes back) returns after the first changes it caused,
        // and those belong to the fault, not to the state it found.
        let fault_at = started;
        self.state().evidence = Some(evidence.clone());
        if evidence.planned {
            return self
                .planned(&evidence, &nodes, node.as_ref(), started)
                .await;
        }
        let mut c = Check::new(
            "fault took effect",
            CheckKind::FaultEffect,
            if evidence.took_effect {
                CheckStatus::Passed
            } else {
                CheckStatus::Failed
            },
            format!("{}: {}", scenario.fault, evidence.summary()),
        );
        c.elapsed = started.elapsed();
        self.check(c);
        if !evidence.took_effect {
            return Ok(Outcome::FaultNoEffect {
                reason: evidence
                    .missing
                    .clone()
                    .unwrap_or_else(|| "no evidence".into()),
            });
        }
        // From now on, the node's Multus pod until its init container has
        // run again: through a remediation too, so that what is recorded is
        // the fault's run, not the workaround's. Stopped with the scenario.
        let follow = multus_base.map(|(client, base)| {
            let cluster = cluster.clone();
            let n = node.clone().expect("a baseline is taken only with a node");
            let within = scenario
                .remediation
                .as_ref()
                .map_or(Duration::ZERO, |r| r.after)
                + scenario
                    .slos
                    .iter()
                    .filter_map(|s| s.budget())
                    .max()
                    .unwrap_or(OBSERVE_DEFAULT);
            AbortOnDrop(tokio::spawn(async move {
                multus_init::follow(cluster.as_ref(), &client, &n, &base, within).await
            }))
        });
        // What the node's disk showed is known now: a scenario that requires
        // otherwise has nothing to observe.
        if let Some(unmet) = scenario
            .requires
            .unmet_among(&evidence.preconditions, Precondition::known_after_inject)
        {
            return Ok(self.unmet(&unmet));
        }

        // 5. Remediation, timed from its application.
        let mut since = fault_at;
        if let Some(rem) = &scenario.remediation {
            self.phase(Phase::Remediate, Some(rem.after));
            self.or_cancel(tokio::time::sleep(rem.after)).await?;
            // A workaround applied to a cluster that already recovered
            // measures nothing: say so and apply nothing. Budgets then count
            // from when the workaround was due: the probes only start now,
            // and "fine at that moment" is what there is to measure.
            let now = self
                .or_cancel(cluster.steady_state(scenario, Duration::ZERO))
                .await?
                .map_err(|e| self.error(CheckKind::Remediation, "remediation", e.to_string()))?;
            if now.steady {
                since = Instant::now();
                self.state().remediation_ms = i64::try_from((since - fault_at).as_millis()).ok();
                let why = format!(
                    "the cluster had recovered by itself within {}; the workaround was not applied, budgets count from when it was due",
                    duration::format(rem.after)
                );
                self.check(Check::new(
                    "remediation",
                    CheckKind::Remediation,
                    CheckStatus::Skipped(why.clone()),
                    why,
                ));
            } else {
                let started = Instant::now();
                let done = self.remediate(rem, &nodes, node.as_ref()).await?;
                since = Instant::now();
                self.state().remediation_ms = i64::try_from((since - fault_at).as_millis()).ok();
                let mut c = Check::new(
                    "remediation",
                    CheckKind::Remediation,
                    CheckStatus::Passed,
                    done.join("; "),
                );
                c.elapsed = started.elapsed();
                self.check(c);
            }
        }

        // 6. Observe, bounded by the longest budget plus slack.
        let limit = scenario
            .slos
            .iter()
            .filter_map(|s| s.budget())
            .max()
            .unwrap_or(OBSERVE_DEFAULT)
            + OBSERVE_SLACK;
        self.phase(
            Phase::Observe,
            scenario.slos.iter().filter_map(|s| s.budget()).max(),
        );
        let observed = self
            .or_cancel(self.reporting_waits(tokio::time::timeout(
                limit,
                cluster.observe(scenario, fault_at, since, node.as_ref()),
            )))
            .await?;
        // The follow has had the whole observation; what it has not seen by
        // now (a Multus pod that never ran its init container again) is not
        // recorded, and it is not waited for past a last poll.
        let followed = match follow {
            None => None,
            Some(mut task) => match tokio::time::timeout(FOLLOW_GRACE, &mut task.0).await {
                Ok(Ok(found)) => Some(found),
                Ok(Err(e)) => Some(Err(crate::backend::BackendError::other(
                    "following the Multus init container",
                    e.to_string(),
                ))),
                Err(_) => Some(Ok(None)),
            },
        };
        let evidence = {
            let mut s = self.state();
            let ev = s.evidence.get_or_insert_with(|| evidence.clone());
            match followed {
                None => {}
                Some(Ok(found)) => ev.preconditions.multus_init = found,
                Some(Err(e)) => ev.facts.push((
                    "Multus init container".into(),
                    format!("could not be followed: {e}"),
                )),
            }
            ev.clone()
        };
        let mut verdicts = match observed {
            Err(_) => {
                return Err(self.error(
                    CheckKind::Slo,
                    "observation",
                    format!(
                        "observation did not finish within {}",
                        duration::format(limit)
                    ),
                ));
            }
            Ok(Err(e)) => return Err(self.error(CheckKind::Slo, "observation", e.to_string())),
            Ok(Ok(o)) => {
                let mut s = self.state();
                s.lanes = o.lanes;
                s.traffic = o.traffic;
                s.window = o.window;
                s.early = o.early;
                s.outputs = o.outputs;
                s.observed = Some((fault_at, since));
                o.verdicts
            }
        };

        // 7. Judge: every SLO gets a verdict; a missing one is "not evaluated",
        // and a scenario with an unevaluated SLO never passes.
        for slo in &scenario.slos {
            if !verdicts.iter().any(|v| &v.slo == slo) {
                verdicts.push(SloVerdict {
                    slo: slo.clone(),
                    status: SloStatus::NotEvaluated("the backend returned no verdict".into()),
                    measured: None,
                    culprits: Vec::new(),
                    message: "not evaluated".into(),
                });
            }
        }
        let mut failed = Vec::new();
        for v in &verdicts {
            self.check(Check::from_verdict(v));
            match &v.status {
                SloStatus::Pass => {}
                SloStatus::Fail => failed.push(v.slo.to_string()),
                SloStatus::NotEvaluated(why) => {
                    failed.push(format!("{} (not evaluated: {why})", v.slo))
                }
            }
        }
        // Each culprit once, however many SLOs it failed: its diagnostics
        // are the same.
        let culprits = Culprit::unique(verdicts.iter().flat_map(|v| &v.culprits));
        self.state().slos = verdicts;
        // Every requirement is known now; one unmet makes the SLOs moot.
        if !scenario.requires.is_empty() {
            if let Some(unmet) = scenario.requires.unmet(&evidence.preconditions) {
                return Ok(self.unmet(&unmet));
            }
            self.check(Check::new(
                "precondition",
                CheckKind::Precondition,
                CheckStatus::Passed,
                format!("requires {}: met", scenario.requires),
            ));
        }
        if failed.is_empty() {
            return Ok(Outcome::Passed);
        }

        // 8. Diagnose the culprits.
        self.phase(Phase::Diagnose, None);
        let dir = self
            .engine
            .diagnostics_dir
            .join(&self.id.suite)
            .join(format!("{}-{}", self.id.scenario, self.iteration));
        let mut text = match self.or_cancel(cluster.diagnose(&culprits, &dir)).await? {
            Ok(text) => text,
            Err(e) => format!("diagnostics failed: {e}"),
        };
        // What the SLOs read in pods (ovn-consistent's ovn-nbctl, ovs-vsctl,
        // ovn-appctl), raw: in the summary and in commands.txt.
        let outputs = std::mem::take(&mut self.state().outputs);
        if !outputs.is_empty() {
            let raw: String = outputs.iter().map(ToString::to_string).collect();
            let file = dir.join("commands.txt");
            match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, &raw)) {
                Ok(()) => text.push_str(&format!(
                    "\ncommands the SLOs ran in pods ({}):\n{raw}",
                    file.display()
                )),
                Err(e) => text.push_str(&format!(
                    "\nwriting {}: {e}; commands the SLOs ran in pods:\n{raw}",
                    file.display()
                )),
            }
        }
        // The cluster's own logs as they are right after the failure (kind:
        // `kind export logs`; the twin: its ground truth), next to the
        // culprits' diagnostics.
        let logs = dir.join("cluster-logs");
        match self
            .or_cancel(tokio::time::timeout(
                LOGS_TIMEOUT,
                cluster.collect_logs(&logs),
            ))
            .await?
        {
            Ok(Ok(())) => text.push_str(&format!("\ncluster logs: {}\n", logs.display())),
            Ok(Err(e)) => text.push_str(&format!("\ncollecting the cluster's logs failed: {e}\n")),
            Err(_) => text.push_str(&format!(
                "\ncollecting the cluster's logs did not finish within {}\n",
                duration::format(LOGS_TIMEOUT)
            )),
        }
        self.state().diagnostics = Some(text);
        Ok(Outcome::SloFailed { failed })
    }

    /// A dry run: the fault's commands were printed. The remediation's are
    /// printed too (without waiting for it), nothing is observed, and the
    /// revert still prints its own.
    async fn planned(
        &self,
        evidence: &Evidence,
        nodes: &[NodeInfo],
        node: Option<&NodeInfo>,
        started: Instant,
    ) -> Result<Outcome, Outcome> {
        let why = evidence
            .missing
            .clone()
            .unwrap_or_else(|| "dry run".to_string());
        let mut c = Check::new(
            "fault took effect",
            CheckKind::FaultEffect,
            CheckStatus::Skipped(why.clone()),
            format!("{}: planned", self.scenario.fault),
        );
        c.elapsed = started.elapsed();
        self.check(c);
        if let Some(rem) = &self.scenario.remediation {
            self.remediate(rem, nodes, node).await?;
            self.check(Check::new(
                "remediation",
                CheckKind::Remediation,
                CheckStatus::Skipped(why.clone()),
                "planned",
            ));
        }
        Ok(Outcome::Planned)
    }

    /// Records an unmet precondition as a failed check, and its outcome.
    fn unmet(&self, unmet: &Unmet) -> Outcome {
        let reason = unmet.to_string();
        self.check(Check::new(
            "precondition",
            CheckKind::Precondition,
            CheckStatus::Failed,
            format!("requires {}: {reason}", self.scenario.requires),
        ));
        Outcome::PreconditionUnmet { reason }
    }

    /// Applies the remediation's steps in order, each on its target node
    /// (default: the faulted one); what each did.
    async fn remediate(
        &self,
        rem: &Remediation,
        nodes: &[NodeInfo],
        node: Option<&NodeInfo>,
    ) -> Result<Vec<String>, Outcome> {
        let fail = |e: String| self.error(CheckKind::Remediation, "remediation", e);
        let mut done = Vec::new();
        for step in &rem.steps {
            let step_node = match step.target() {
                Some(t) => Some(
                    select_node(nodes, t, node, self.engine.seed)
                        .map_err(|e| fail(e.to_string()))?,
                ),
                None => None,
            };
            let what = self
                .or_cancel(self.engine.cluster.remediate(step, step_node.as_ref()))
                .await?
                .map_err(|e| fail(e.to_string()))?;
            done.push(what);
        }
        Ok(done)
    }

    /// Records an infrastructure error as a check and returns the outcome.
    fn error(&self, kind: CheckKind, name: &str, message: String) -> Outcome {
        self.check(Check::new(name, kind, CheckStatus::Error, message.clone()));
        Outcome::HarnessError { message }
    }
}

impl Engine {
    /// The recovery checks: the steady-state gate once more, after the
    /// revert. With healing steps, the gate first waits only
    /// [`HEAL_FIRST_LOOK`]; a cluster not steady by then gets the steps
    /// (their own check), and then up to the healing budget. The last
    /// check is the recovery check.
    async fn recovery(
        &self,
        id: &ScenarioId,
        iteration: u32,
        scenario: &Scenario,
        nodes: &[NodeInfo],
        node: Option<&NodeInfo>,
    ) -> Vec<Check> {
        self.events.emit(RunEvent::PhaseStarted {
            id: id.clone(),
            iteration,
            phase: Phase::Recovery,
            budget: Some(scenario.steady_state_timeout),
        });
        let Some(heal) = &scenario.heal else {
            return vec![
                self.recovery_gate(scenario, scenario.steady_state_timeout, "the revert", true)
                    .await,
            ];
        };
        let first = self
            .recovery_gate(
                scenario,
                HEAL_FIRST_LOOK.min(scenario.steady_state_timeout),
                "the revert",
                false,
            )
            .await;
        if first.status != CheckStatus::Failed {
            return vec![first];
        }
        self.events.emit(RunEvent::PhaseStarted {
            id: id.clone(),
            iteration,
            phase: Phase::Heal,
            budget: Some(heal.budget),
        });
        let started = Instant::now();
        let mut done = Vec::new();
        let mut error = None;
        for step in &heal.steps {
            let step_node = match step.target() {
                Some(t) => match select_node(nodes, t, node, self.seed) {
                    Ok(n) => Some(n),
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                },
                None => None,
            };
            let applied = tokio::select! {
                biased;
                () = self.cancel.cancelled() => {
                    error = Some("interrupted".into());
                    break;
                }
                r = self.cluster.remediate(step, step_node.as_ref()) => r,
            };
            match applied {
                Ok(what) => done.push(what),
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        let why = format!("{} (culprits: {})", first.message, culprit_names(&first));
        let mut healing = match &error {
            None => Check::new(
                "healing",
                CheckKind::Healing,
                CheckStatus::Passed,
                format!("applied {}: {why}", done.join("; ")),
            ),
            Some(e) => Check::new(
                "healing",
                CheckKind::Healing,
                CheckStatus::Error,
                format!(
                    "healing failed: {e}; applied before it: {}",
                    done.join("; ")
                ),
            ),
        };
        healing.elapsed = started.elapsed();
        healing.culprits = first.culprits.clone();
        self.events.emit(RunEvent::CheckFinished {
            id: id.clone(),
            iteration,
            check: healing.clone(),
        });
        let mut out = vec![healing];
        if self.cancel.is_cancelled() {
            // The run is ending: nothing is replaced, nothing is judged.
            out.push(Check::new(
                RECOVERY,
                CheckKind::Recovery,
                CheckStatus::Skipped("interrupted".into()),
                "interrupted",
            ));
        } else if error.is_some() {
            let mut c = Check::new(
                RECOVERY,
                CheckKind::Recovery,
                CheckStatus::Failed,
                "healing could not be applied; the cluster is replaced before the next scenario",
            );
            c.culprits = first.culprits;
            out.push(c);
        } else {
            out.push(
                self.recovery_gate(scenario, heal.budget, "healing", true)
                    .await,
            );
        }
        out
    }

    /// One steady-state gate after `after` (the revert or healing), as the
    /// recovery check; `last` says whether a failure replaces the cluster
    /// (else healing comes first) and whether the check is reported now.
    async fn recovery_gate(
        &self,
        scenario: &Scenario,
        timeout: Duration,
        after: &str,
        last: bool,
    ) -> Check {
        let started = Instant::now();
        let gate = tokio::select! {
            biased;
            () = self.cancel.cancelled() => return Check::new(
                RECOVERY,
                CheckKind::Recovery,
                CheckStatus::Skipped("interrupted".into()),
                "interrupted",
            ),
            g = self.cluster.steady_state(scenario, timeout) => g,
        };
        let then = if last {
            "the cluster is replaced before the next scenario"
        } else {
            "healing follows"
        };
        let mut c = match gate {
            Ok(g) if g.steady => Check::new(
                RECOVERY,
                CheckKind::Recovery,
                CheckStatus::Passed,
                format!("steady again {} after {after}", duration::format(g.waited)),
            ),
            Ok(g) => {
                let who: Vec<String> = g.unhealthy.iter().map(ToString::to_string).collect();
                let mut c = Check::new(
                    RECOVERY,
                    CheckKind::Recovery,
                    CheckStatus::Failed,
                    format!(
                        "not steady {} after {after}: {}; {then}",
                        duration::format(g.waited),
                        if who.is_empty() {
                            "no details".to_string()
                        } else {
                            who.join(", ")
                        }
                    ),
                );
                c.culprits = g.unhealthy;
                c
            }
            Err(e) => Check::new(
                RECOVERY,
                CheckKind::Recovery,
                CheckStatus::Error,
                format!("checking the cluster after the revert: {e}"),
            ),
        };
        c.elapsed = started.elapsed();
        c
    }

    /// Runs one iteration of a scenario and returns its result (also emitted
    /// as [`RunEvent::ScenarioFinished`]).
    pub async fn run(
        &self,
        id: &ScenarioId,
        scenario: &Scenario,
        iteration: u32,
    ) -> ScenarioResult {
        let started_at = jiff::Timestamp::now();
        let t0 = Instant::now();
        self.events.emit(RunEvent::ScenarioStarted {
            id: id.clone(),
            iteration,
            repeat: scenario.repeat,
        });
        let state = Arc::new(Mutex::new(State::default()));
        let phases = Phases {
            engine: self.clone(),
            id: id.clone(),
            iteration,
            scenario: scenario.clone(),
            state: state.clone(),
        };
        // The phases run in their own task so that a panic becomes an outcome
        // and the revert below still runs.
        let outcome = match tokio::spawn(phases.run()).await {
            Ok(o) => o,
            Err(e) => {
                let message = match e.try_into_panic() {
                    Ok(p) => format!(
                        "panic: {}",
                        p.downcast_ref::<&str>()
                            .map(ToString::to_string)
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "(non-string payload)".into())
                    ),
                    Err(e) => format!("scenario task failed: {e}"),
                };
                Outcome::HarnessError { message }
            }
        };

        // Revert on every path after injection, even when interrupted.
        let (injected, evidence) = {
            let s = state.lock().unwrap_or_else(|p| p.into_inner());
            (s.injected, s.evidence.clone())
        };
        let cleanup = if injected {
            self.events.emit(RunEvent::PhaseStarted {
                id: id.clone(),
                iteration,
                phase: Phase::Revert,
                budget: Some(REVERT_TIMEOUT),
            });
            let cluster = self.cluster.clone();
            let fault = scenario.fault.clone();
            let ev = evidence.clone().unwrap_or_default();
            let started = Instant::now();
            let reverted = tokio::spawn(async move {
                tokio::time::timeout(REVERT_TIMEOUT, cluster.revert(&fault, &ev)).await
            })
            .await;
            let (status, message) = match reverted {
                Ok(Ok(Ok(()))) => (CheckStatus::Passed, "reverted".to_string()),
                Ok(Ok(Err(e))) => (CheckStatus::Error, format!("revert failed: {e}")),
                Ok(Err(_)) => (
                    CheckStatus::Error,
                    format!(
                        "revert did not finish within {}",
                        duration::format(REVERT_TIMEOUT)
                    ),
                ),
                Err(e) => (CheckStatus::Error, format!("revert panicked: {e}")),
            };
            let mut c = Check::new("cleanup", CheckKind::Cleanup, status, message);
            c.elapsed = started.elapsed();
            Some(c)
        } else {
            None
        };
        let reverted = cleanup
            .as_ref()
            .is_some_and(|c| c.status == CheckStatus::Passed);
        let cleanup_status = cleanup
            .as_ref()
            .map(|c| (c.status.clone(), c.message.clone()));
        if let Some(c) = cleanup {
            self.events.emit(RunEvent::CheckFinished {
                id: id.clone(),
                iteration,
                check: c.clone(),
            });
            state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .checks
                .push(c);
        }

        // 10. Did the cluster come back? The same gate as before the fault;
        // a cluster that does not settle is replaced before the next
        // scenario, so one scenario's lasting damage (a deadlock the suite
        // expects, say) is reported here and not as every later scenario
        // being "not run".
        let mut recovery = None;
        if reverted && !self.cancel.is_cancelled() && outcome != Outcome::Planned {
            let (nodes, node) = {
                let s = state.lock().unwrap_or_else(|p| p.into_inner());
                (s.nodes.clone(), s.node.clone())
            };
            let checks = self
                .recovery(id, iteration, scenario, &nodes, node.as_ref())
                .await;
            if let Some(check) = checks.last() {
                // The healing check was reported when it finished.
                self.events.emit(RunEvent::CheckFinished {
                    id: id.clone(),
                    iteration,
                    check: check.clone(),
                });
                recovery = Some((
                    check.status.clone(),
                    check.name.clone(),
                    check.message.clone(),
                ));
            }
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.checks.extend(checks);
        }

        let s = std::mem::take(&mut *state.lock().unwrap_or_else(|p| p.into_inner()));
        let late_relapses = self.late_relapses(scenario, &s).await;
        // The SLOs' culprits and those of the checks that did not pass
        // (the cluster that did not recover): one definition, which the
        // reports print too.
        let culprits = scenario_culprits(&s.slos, &s.checks);
        // The expectation may depend on the cluster's versions (racy Multus
        // fails, fixed Multus passes) and on what the fault recorded on the
        // node; one that cannot be resolved is an error.
        let found = s
            .evidence
            .as_ref()
            .map(|e| e.preconditions.clone())
            .unwrap_or_default();
        let expectation = scenario.expectation(&self.cluster.versions(), &found);
        let outcome = settle(Ending {
            phases: outcome,
            cleanup: cleanup_status,
            recovery,
            cancelled: self.cancel.is_cancelled(),
            expectation: expectation.as_ref().map(|_| ()).map_err(Clone::clone),
        });
        let expect = expectation.unwrap_or_else(|_| scenario.expect.clone());
        let fault_node = s.node.as_ref().map(|n| n.name.as_str());
        let symptoms = SymptomMatch::all(&expect, &s.slos, fault_node);
        let verdict = Verdict::judge(&outcome, &expect, &culprits, &symptoms, fault_node);
        let result = ScenarioResult {
            id: id.clone(),
            iteration,
            repeat: scenario.repeat,
            cluster: Some(self.cluster.name().to_string()),
            versions: self.cluster.versions(),
            fault: scenario.fault.to_string(),
            node: s.node.map(|n| n.name),
            evidence: s.evidence,
            expect,
            outcome,
            verdict,
            checks: s.checks,
            slos: s.slos,
            symptoms,
            diagnostics: s.diagnostics,
            lanes: s.lanes,
            traffic: s.traffic,
            observation: s.window,
            early_slos: s.early,
            late_relapses,
            remediation_ms: s.remediation_ms,
            started_at,
            elapsed: t0.elapsed(),
        };
        self.events
            .emit(RunEvent::ScenarioFinished(Box::new(result.clone())));
        result
    }
}

impl Engine {
    /// The SLOs that passed when an early observation ended and fail when
    /// judged again on what the watchers saw since, up to now (the next
    /// scenario's gate comes next) and at most to the end of the full
    /// window.
    async fn late_relapses(&self, scenario: &Scenario, s: &State) -> Vec<LateRelapse> {
        let (Some((fault_at, since)), Some(window)) = (s.observed, &s.window) else {
            return Vec::new();
        };
        if window.mode != crate::observe::ObserveMode::Early || window.ended >= window.full {
            return Vec::new();
        }
        let until = fault_at + window.full;
        let Some(again) = self
            .cluster
            .rejudge(scenario, fault_at, since, s.node.as_ref(), until)
            .await
        else {
            return Vec::new();
        };
        let seen_until = (Instant::now().min(until)).saturating_duration_since(fault_at);
        again
            .into_iter()
            .filter(|v| v.status == SloStatus::Fail)
            .filter(|v| {
                s.slos
                    .iter()
                    .any(|e| e.slo == v.slo && e.status == SloStatus::Pass)
            })
            .map(|v| LateRelapse {
                slo: v.slo.to_string(),
                message: v.message,
                culprits: v.culprits,
                seen_until,
            })
            .collect()
    }
}

/// The culprits' names, for messages.
fn culprit_names(c: &Check) -> String {
    if c.culprits.is_empty() {
        return "none named".into();
    }
    c.culprits
        .iter()
        .map(|c| c.name.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the engine follows the node's Multus pod after the scenario's
/// fault to record its init container's next run: after a node reboot.
/// leftover-multus-config replaces the pod itself and records the new
/// pod's run in its own evidence, so it is not read twice.
fn follows_multus(scenario: &Scenario) -> bool {
    matches!(scenario.fault, Fault::NodeReboot(_))
}

/// A task that is aborted when its handle is dropped (a scenario that ends
/// early stops its Multus follow).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What the end of a scenario learned, for [`settle`].
#[derive(Clone, Debug, PartialEq)]
struct Ending {
    /// What the phases concluded.
    phases: Outcome,
    /// The revert's status and message, when something was injected.
    cleanup: Option<(CheckStatus, String)>,
    /// The recovery check's status, name and message, when it ran.
    recovery: Option<(CheckStatus, String, String)>,
    /// SIGINT or SIGTERM arrived.
    cancelled: bool,
    /// Whether the expectation could be resolved, and why not.
    expectation: Result<(), String>,
}

/// The scenario's outcome from everything its end learned, in one place:
/// - a fault that could not be reverted is a harness error, whatever the
///   SLOs said (an expected failure is no excuse), unless the run already
///   erred or was interrupted;
/// - a harness error during an interrupt is the interrupt;
/// - a cluster that did not recover fails a scenario that had passed (and
///   is replaced before the next one); a recovery check that could not run
///   makes it a harness error;
/// - an expectation that cannot be resolved is a harness error.
fn settle(e: Ending) -> Outcome {
    let mut outcome = e.phases;
    if let Some((CheckStatus::Error, message)) = &e.cleanup
        && !matches!(outcome, Outcome::HarnessError { .. } | Outcome::Interrupted)
    {
        let message = match &outcome {
            Outcome::Passed | Outcome::Planned => message.clone(),
            other => format!("{message} (before it: {other})"),
        };
        outcome = Outcome::HarnessError { message };
    }
    if matches!(outcome, Outcome::HarnessError { .. }) && e.cancelled {
        outcome = Outcome::Interrupted;
    }
    if let (Outcome::Passed, Some((status, name, message))) = (&outcome, &e.recovery) {
        match status {
            CheckStatus::Failed => {
                outcome = Outcome::SloFailed {
                    failed: vec![name.clone()],
                };
            }
            CheckStatus::Error => {
                outcome = Outcome::HarnessError {
                    message: message.clone(),
                };
            }
            CheckStatus::Passed | CheckStatus::Skipped(_) => {}
        }
    }
    if let Err(why) = e.expectation {
        outcome = Outcome::HarnessError { message: why };
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(phases: Outcome) -> Ending {
        Ending {
            phases,
            cleanup: Some((CheckStatus::Passed, "reverted".into())),
            recovery: Some((CheckStatus::Passed, RECOVERY.into(), "steady".into())),
            cancelled: false,
            expectation: Ok(()),
        }
    }

    fn err(m: &str) -> Outcome {
        Outcome::HarnessError { message: m.into() }
    }

    fn failed(name: &str) -> Outcome {
        Outcome::SloFailed {
            failed: vec![name.into()],
        }
    }

    #[test]
    fn settle_table() {
        let unmet = Outcome::PreconditionUnmet {
            reason: "multus-config-left is false".into(),
        };
        let revert_failed = Some((CheckStatus::Error, "revert failed: x".into()));
        let not_recovered = Some((CheckStatus::Failed, RECOVERY.into(), "not steady".into()));
        let recovery_erred = Some((CheckStatus::Error, RECOVERY.into(), "gate failed".into()));
        let cases: Vec<(&str, Ending, Outcome)> = vec![
            ("all well", end(Outcome::Passed), Outcome::Passed),
            (
                "a failed revert turns a pass into an error",
                Ending {
                    cleanup: revert_failed.clone(),
                    recovery: None,
                    ..end(Outcome::Passed)
                },
                err("revert failed: x"),
            ),
            (
                "and keeps what came before it",
                Ending {
                    cleanup: revert_failed.clone(),
                    recovery: None,
                    ..end(failed("slo"))
                },
                err("revert failed: x (before it: SLO failed: slo)"),
            ),
            (
                "an unmet precondition with a failed revert is an error",
                Ending {
                    cleanup: revert_failed.clone(),
                    recovery: None,
                    ..end(unmet.clone())
                },
                err(
                    "revert failed: x (before it: precondition unmet: multus-config-left is false; the scenario did not test what it is for)",
                ),
            ),
            (
                "an earlier error stays",
                Ending {
                    cleanup: revert_failed.clone(),
                    recovery: None,
                    ..end(err("boom"))
                },
                err("boom"),
            ),
            (
                "an error during an interrupt is the interrupt",
                Ending {
                    cancelled: true,
                    recovery: None,
                    ..end(err("boom"))
                },
                Outcome::Interrupted,
            ),
            (
                "a failed revert during an interrupt is the interrupt",
                Ending {
                    cleanup: revert_failed,
                    cancelled: true,
                    recovery: None,
                    ..end(Outcome::Passed)
                },
                Outcome::Interrupted,
            ),
            (
                "a cluster that did not come back fails a pass",
                Ending {
                    recovery: not_recovered.clone(),
                    ..end(Outcome::Passed)
                },
                failed(RECOVERY),
            ),
            (
                "but does not change a failure",
                Ending {
                    recovery: not_recovered.clone(),
                    ..end(failed("slo"))
                },
                failed("slo"),
            ),
            (
                "nor an unmet precondition",
                Ending {
                    recovery: not_recovered,
                    ..end(unmet.clone())
                },
                unmet.clone(),
            ),
            (
                "a recovery check that erred is an error",
                Ending {
                    recovery: recovery_erred,
                    ..end(Outcome::Passed)
                },
                err("gate failed"),
            ),
            (
                "an unresolvable expectation is an error",
                Ending {
                    expectation: Err("no multus version".into()),
                    ..end(Outcome::Passed)
                },
                err("no multus version"),
            ),
            (
                "a dry run stays planned",
                Ending {
                    recovery: None,
                    ..end(Outcome::Planned)
                },
                Outcome::Planned,
            ),
        ];
        for (why, ending, want) in cases {
            assert_eq!(settle(ending), want, "{why}");
        }
    }
}
