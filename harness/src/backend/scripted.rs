//! A backend that follows a plan instead of a cluster: the seam the engine,
//! the runner and the signal tests are proven at. Selected with
//! `CHAOS_BACKEND=scripted CHAOS_SCRIPT=plan.json`; never picked by `auto`.
//!
//! Everything it is asked to do is appended to a journal (in memory and,
//! when the plan names one, a file flushed line by line), so tests can assert
//! that teardown ran even when the process was interrupted.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Backend, BackendError, BackendInfo, Cluster, Gate, NodeInfo, Observation};
use crate::fault::{Evidence, Fault, NodeRole};
use crate::slo::{Culprit, CulpritKind, Measured, Slo, SloStatus, SloVerdict};
use crate::suite::{ClusterProfile, RemediationStep, Scenario};

/// What the scripted backend does.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Plan {
    /// A file the journal is appended to.
    pub journal: Option<PathBuf>,
    /// The cluster's nodes; default one control plane and two workers.
    pub nodes: Vec<NodeInfo>,
    /// Make provisioning fail with this message.
    pub provision_error: Option<String>,
    /// Component versions the cluster reports (`multus`, `kube-ovn`, ...).
    pub versions: BTreeMap<String, String>,
    /// Per scenario name (or `*` for any), what happens.
    pub scenarios: BTreeMap<String, ScenarioPlan>,
    /// The links in pods' network namespaces, by `<namespace>/<name>`, for
    /// [`Cluster::pod_interfaces`]; a pod not listed has no sandbox.
    pub interfaces: BTreeMap<String, Vec<String>>,
}

impl Default for Plan {
    fn default() -> Self {
        let node = |name: &str, role| NodeInfo {
            name: format!("scripted-{name}"),
            role,
            internal_ip: Some(format!("172.18.0.{}", 2 + name.len() % 7)),
        };
        Plan {
            journal: None,
            nodes: vec![
                node("control-plane", NodeRole::ControlPlane),
                node("worker", NodeRole::Worker),
                node("worker2", NodeRole::Worker),
            ],
            provision_error: None,
            versions: BTreeMap::new(),
            scenarios: BTreeMap::new(),
            interfaces: BTreeMap::new(),
        }
    }
}

/// What happens in one scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct ScenarioPlan {
    /// Whether the steady-state gate passes.
    pub steady: bool,
    /// Whether the fault produces evidence.
    pub effect: bool,
    /// Make injection fail with this message.
    pub inject_error: Option<String>,
    /// How long observation takes (tokio time).
    pub observe_ms: u64,
    /// The recovery time reported for passing duration SLOs.
    pub measured_ms: u64,
    /// Indices of SLOs that fail.
    pub fail: Vec<usize>,
    /// Make every SLO fail.
    pub fail_all: bool,
    /// Culprits named by failing SLOs.
    pub culprits: Vec<PlanCulprit>,
    /// Panic in this phase: `steady-state`, `inject`, `observe`, `revert`.
    pub panic_in: Option<String>,
    /// Whether the cluster is steady again when a remediation is due (then
    /// the workaround is not applied).
    pub heals_before_remediation: bool,
    /// Whether the cluster stays unhealthy after the revert (the recovery
    /// check fails and the cluster is replaced).
    pub unhealthy_after_revert: bool,
    /// Whether remediation steps applied after the revert (the scenario's
    /// healing) make such a cluster steady again.
    pub healed_by_steps: bool,
    /// Whether injection is only planned (a dry run).
    pub planned: bool,
    /// Make the revert fail with this message.
    pub revert_error: Option<String>,
    /// Record the node's disk as a reboot does: whether `00-multus.conf`
    /// was there while the node was down (none: nothing recorded).
    pub multus_config_left: Option<bool>,
}

impl Default for ScenarioPlan {
    fn default() -> Self {
        ScenarioPlan {
            steady: true,
            effect: true,
            inject_error: None,
            observe_ms: 10,
            measured_ms: 1_500,
            fail: Vec::new(),
            fail_all: false,
            culprits: Vec::new(),
            panic_in: None,
            heals_before_remediation: false,
            unhealthy_after_revert: false,
            healed_by_steps: false,
            planned: false,
            revert_error: None,
            multus_config_left: None,
        }
    }
}

/// Where a scripted cluster is in a scenario, for the steady-state gate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Stage {
    /// Before the fault.
    #[default]
    Before,
    /// Between the fault and its revert.
    Faulted,
    /// After the revert.
    Reverted,
}

/// A culprit a failing SLO names.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PlanCulprit {
    /// Pod name.
    pub name: String,
    /// Its waiting reason.
    pub reason: String,
    /// Its node.
    pub node: Option<String>,
}

/// The journal of what the backend was asked to do.
#[derive(Clone, Debug, Default)]
pub struct Journal {
    lines: Arc<Mutex<Vec<String>>>,
    file: Option<PathBuf>,
}

impl Journal {
    fn record(&self, line: String) {
        tracing::debug!(target: "cni_chaos::scripted", "{line}");
        if let Some(path) = &self.file {
            let written = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{line}").and_then(|()| f.sync_data()));
            if let Err(e) = written {
                tracing::warn!("scripted backend: cannot append to {}: {e}", path.display());
            }
        }
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The scripted backend.
#[derive(Clone, Debug)]
pub struct ScriptedBackend {
    plan: Arc<Plan>,
    journal: Journal,
}

impl ScriptedBackend {
    /// A backend following `plan`.
    pub fn new(plan: Plan) -> Self {
        let journal = Journal {
            lines: Arc::default(),
            file: plan.journal.clone(),
        };
        ScriptedBackend {
            plan: Arc::new(plan),
            journal,
        }
    }

    /// Reads a JSON plan.
    pub fn from_file(path: &Path) -> Result<Self, BackendError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            BackendError::other(
                format!("reading CHAOS_SCRIPT {}", path.display()),
                e.to_string(),
            )
        })?;
        let plan: Plan = serde_json::from_str(&text).map_err(|e| {
            BackendError::other(
                format!("parsing CHAOS_SCRIPT {}", path.display()),
                e.to_string(),
            )
        })?;
        Ok(Self::new(plan))
    }

    /// The journal, shared with every cluster this backend made.
    pub fn journal(&self) -> Journal {
        self.journal.clone()
    }
}

#[async_trait]
impl Backend for ScriptedBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "scripted".into(),
            reason: "CHAOS_BACKEND=scripted: results follow a plan, not a cluster".into(),
            simulated: true,
            virtual_clock: false,
            versions: BTreeMap::from([("plan".to_string(), "scripted".to_string())]),
        }
    }

    async fn provision(
        &self,
        profile: &ClusterProfile,
        _cancel: &CancellationToken,
    ) -> Result<Arc<dyn Cluster>, BackendError> {
        let name = format!("scripted-{}-{}", profile.kind_config, profile.versions);
        self.journal.record(format!("provision {name}"));
        if let Some(msg) = &self.plan.provision_error {
            return Err(BackendError::other(
                format!("provisioning {name}"),
                msg.clone(),
            ));
        }
        Ok(Arc::new(ScriptedCluster {
            name,
            plan: self.plan.clone(),
            journal: self.journal.clone(),
            current: Mutex::new(ScenarioPlan::default()),
            stage: Mutex::default(),
            healed: Mutex::default(),
        }))
    }
}

struct ScriptedCluster {
    name: String,
    plan: Arc<Plan>,
    journal: Journal,
    current: Mutex<ScenarioPlan>,
    stage: Mutex<Stage>,
    /// Remediation steps were applied after the revert.
    healed: Mutex<bool>,
}

impl ScriptedCluster {
    fn current(&self) -> ScenarioPlan {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn maybe_panic(&self, phase: &str) {
        if self.current().panic_in.as_deref() == Some(phase) {
            self.journal.record(format!("panic in {phase}"));
            panic!("scripted panic in {phase}");
        }
    }
}

#[async_trait]
impl Cluster for ScriptedCluster {
    fn name(&self) -> &str {
        &self.name
    }

    fn kube_client(&self) -> Option<kube::Client> {
        None
    }

    fn versions(&self) -> BTreeMap<String, String> {
        self.plan.versions.clone()
    }

    async fn nodes(&self) -> Result<Vec<NodeInfo>, BackendError> {
        Ok(self.plan.nodes.clone())
    }

    async fn steady_state(
        &self,
        scenario: &Scenario,
        timeout: Duration,
    ) -> Result<Gate, BackendError> {
        let plan = self
            .plan
            .scenarios
            .get(&scenario.name)
            .or_else(|| self.plan.scenarios.get("*"))
            .cloned()
            .unwrap_or_default();
        let stage = *self.stage.lock().unwrap_or_else(|p| p.into_inner());
        let steady = match stage {
            Stage::Before => plan.steady,
            Stage::Faulted => plan.heals_before_remediation,
            Stage::Reverted => {
                !plan.unhealthy_after_revert
                    || (plan.healed_by_steps
                        && *self.healed.lock().unwrap_or_else(|p| p.into_inner()))
            }
        };
        if stage == Stage::Before {
            *self.current.lock().unwrap_or_else(|p| p.into_inner()) = plan.clone();
        }
        self.journal
            .record(format!("steady-state {}", scenario.name));
        self.maybe_panic("steady-state");
        if stage == Stage::Reverted && steady {
            // The next scenario starts from the top.
            *self.stage.lock().unwrap_or_else(|p| p.into_inner()) = Stage::Before;
            *self.healed.lock().unwrap_or_else(|p| p.into_inner()) = false;
        }
        if steady {
            Ok(Gate {
                steady: true,
                waited: Duration::from_millis(5),
                unhealthy: Vec::new(),
            })
        } else {
            Ok(Gate {
                steady: false,
                waited: timeout,
                unhealthy: vec![Culprit {
                    kind: CulpritKind::Pod,
                    namespace: Some("kube-system".into()),
                    name: "coredns-scripted".into(),
                    node: None,
                    reason: "CrashLoopBackOff".into(),
                    restarts: Some(3),
                    recovered_after: None,
                }],
            })
        }
    }

    async fn inject(
        &self,
        fault: &Fault,
        node: Option<&NodeInfo>,
    ) -> Result<Evidence, BackendError> {
        let on = node.map(|n| n.name.clone());
        self.journal.record(format!(
            "inject {} on {}",
            fault.kind().as_str(),
            on.as_deref().unwrap_or("-")
        ));
        self.maybe_panic("inject");
        *self.stage.lock().unwrap_or_else(|p| p.into_inner()) = Stage::Faulted;
        let plan = self.current();
        if let Some(msg) = plan.inject_error {
            return Err(BackendError::other("injecting", msg));
        }
        Ok(if plan.planned {
            Evidence::planned(on, "scripted dry run")
        } else if plan.effect {
            let mut e = Evidence::proven(on, vec![("scripted".into(), "took effect".into())]);
            e.preconditions.disk = plan.multus_config_left.map(|left| {
                let mut names = vec!["01-kube-ovn.conflist".to_string()];
                if left {
                    names.push("00-multus.conf".into());
                }
                crate::fault::NodeDisk::from_names(names, true)
            });
            e
        } else {
            Evidence::no_effect(on, "scripted: the fault changed nothing")
        })
    }

    async fn remediate(
        &self,
        step: &RemediationStep,
        node: Option<&NodeInfo>,
    ) -> Result<String, BackendError> {
        let what = match step {
            RemediationStep::PodDelete(p) => format!("pod-delete {}", p.selector),
            RemediationStep::RemoveFile { path, .. } => format!("remove-file {path}"),
        };
        self.journal.record(format!(
            "remediate {what} on {}",
            node.map_or("-", |n| n.name.as_str())
        ));
        if *self.stage.lock().unwrap_or_else(|p| p.into_inner()) == Stage::Reverted {
            *self.healed.lock().unwrap_or_else(|p| p.into_inner()) = true;
        }
        Ok(what)
    }

    async fn observe(
        &self,
        scenario: &Scenario,
        _fault_at: Instant,
        _since: Instant,
        _node: Option<&NodeInfo>,
    ) -> Result<Observation, BackendError> {
        self.journal.record(format!("observe {}", scenario.name));
        let plan = self.current();
        tokio::time::sleep(Duration::from_millis(plan.observe_ms)).await;
        self.maybe_panic("observe");
        let culprits: Vec<Culprit> = plan
            .culprits
            .iter()
            .map(|c| Culprit {
                kind: CulpritKind::Pod,
                namespace: Some("kube-system".into()),
                name: c.name.clone(),
                node: c.node.clone(),
                reason: c.reason.clone(),
                restarts: Some(4),
                recovered_after: None,
            })
            .collect();
        let verdicts = scenario
            .slos
            .iter()
            .enumerate()
            .map(|(i, slo)| {
                let failed = plan.fail_all || plan.fail.contains(&i);
                let measured = match (slo, slo.budget()) {
                    (_, Some(budget)) if failed => {
                        Some(Measured::duration(budget + Duration::from_secs(1)))
                    }
                    (_, Some(_)) => Some(Measured::Millis(plan.measured_ms)),
                    (Slo::NoCrashLoop { .. } | Slo::MaxRestarts { .. }, None) => {
                        Some(Measured::Count(u64::from(failed) * 4))
                    }
                    _ => None,
                };
                SloVerdict {
                    slo: slo.clone(),
                    status: if failed {
                        SloStatus::Fail
                    } else {
                        SloStatus::Pass
                    },
                    measured,
                    culprits: if failed { culprits.clone() } else { Vec::new() },
                    message: if failed {
                        "scripted failure".into()
                    } else {
                        "scripted pass".into()
                    },
                }
            })
            .collect();
        Ok(Observation {
            verdicts,
            lanes: Vec::new(),
            traffic: Vec::new(),
            window: None,
            early: None,
            outputs: Vec::new(),
        })
    }

    async fn pod_interfaces(
        &self,
        namespace: &str,
        name: &str,
        node: &str,
    ) -> Result<Option<Vec<String>>, BackendError> {
        self.journal
            .record(format!("pod-interfaces {namespace}/{name} on {node}"));
        Ok(self
            .plan
            .interfaces
            .get(&format!("{namespace}/{name}"))
            .cloned())
    }

    async fn diagnose(&self, culprits: &[Culprit], _dir: &Path) -> Result<String, BackendError> {
        self.journal.record(format!("diagnose {}", culprits.len()));
        Ok(culprits.iter().map(|c| format!("{c}\n")).collect())
    }

    async fn revert(&self, fault: &Fault, _evidence: &Evidence) -> Result<(), BackendError> {
        self.journal
            .record(format!("revert {}", fault.kind().as_str()));
        if let Some(message) = self.current().revert_error {
            // The fault stays in place.
            return Err(BackendError::other("revert", message));
        }
        *self.stage.lock().unwrap_or_else(|p| p.into_inner()) = Stage::Reverted;
        self.maybe_panic("revert");
        Ok(())
    }

    async fn collect_logs(&self, dir: &Path) -> Result<(), BackendError> {
        self.journal
            .record(format!("collect-logs {}", dir.display()));
        Ok(())
    }

    async fn teardown(&self) -> Result<(), BackendError> {
        self.journal.record(format!("teardown {}", self.name));
        Ok(())
    }

    async fn keep(&self) -> Result<String, BackendError> {
        self.journal.record(format!("keep {}", self.name));
        Ok(format!(
            "kept cluster {name}; delete it with `kind delete cluster --name {name}` when done",
            name = self.name
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pod_interfaces_come_from_the_plan_and_are_journaled() {
        let mut plan = Plan::default();
        plan.interfaces
            .insert("app/p".into(), vec!["lo".into(), "eth0".into()]);
        let backend = ScriptedBackend::new(plan);
        let profile = ClusterProfile {
            kind_config: "default".into(),
            versions: "default".into(),
            nat_gateway: false,
        };
        let cluster = backend
            .provision(&profile, &CancellationToken::new())
            .await
            .unwrap();
        let got = cluster.pod_interfaces("app", "p", "scripted-worker").await;
        assert_eq!(got.unwrap(), Some(vec!["lo".to_string(), "eth0".into()]));
        let none = cluster.pod_interfaces("app", "q", "scripted-worker").await;
        assert_eq!(none.unwrap(), None);
        assert!(
            backend
                .journal()
                .lines()
                .contains(&"pod-interfaces app/p on scripted-worker".to_string())
        );
    }
}
