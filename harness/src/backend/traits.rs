//! The backend seam: provision a cluster, then act on it and observe it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{BackendError, NodeInfo};
use crate::fault::{Evidence, Fault};
use crate::observe::Lane;
use crate::slo::{Culprit, SloVerdict};
use crate::suite::{ClusterProfile, RemediationStep, Scenario};

/// What a backend is, for the console and every report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct BackendInfo {
    /// `kind`, `twin` or `scripted`.
    pub name: String,
    /// Why this backend was chosen (e.g. "auto: kind not found, using the twin").
    pub reason: String,
    /// Whether results come from a model rather than a real cluster; every
    /// report shows a banner when they do.
    pub simulated: bool,
    /// Whether the backend's clock is virtual (tokio paused time): the
    /// runner then drives every trial on one thread of a paused runtime, so
    /// waits and budgets pass in virtual time, and durations in the reports
    /// are virtual.
    pub virtual_clock: bool,
    /// Tool and component versions (kind, Kubernetes, Kube-OVN, Multus, ...).
    pub versions: BTreeMap<String, String>,
}

/// Creates clusters.
#[async_trait]
pub trait Backend: Send + Sync {
    /// What this backend is.
    fn info(&self) -> BackendInfo;

    /// Whether this backend can run `scenario` on a cluster of `profile`;
    /// the error says why not and how to fix it. Checked before a cluster
    /// is provisioned or lent for the scenario. Default: every scenario.
    fn check_scenario(
        &self,
        _profile: &ClusterProfile,
        _scenario: &Scenario,
    ) -> Result<(), BackendError> {
        Ok(())
    }

    /// Gives the backend the run's event sink, for progress while it
    /// provisions ([`crate::run::RunEvent::ProvisionStep`]). Default: the
    /// backend reports nothing beyond what the pool does.
    fn attach_events(&self, _events: Arc<dyn crate::run::EventSink>) {}

    /// Creates (or reuses) a cluster for `profile`. The cluster must be
    /// registered for teardown before this returns, so that an interrupt
    /// after it never leaks the cluster.
    async fn provision(
        &self,
        profile: &ClusterProfile,
        cancel: &CancellationToken,
    ) -> Result<Arc<dyn Cluster>, BackendError>;
}

/// The result of the steady-state gate.
#[derive(Clone, Debug, PartialEq)]
pub struct Gate {
    /// Whether the cluster was healthy before the fault.
    pub steady: bool,
    /// How long it took to become steady (or how long the gate waited).
    pub waited: Duration,
    /// What was not healthy, when it was not.
    pub unhealthy: Vec<Culprit>,
}

/// What observation produced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    /// One verdict per SLO.
    pub verdicts: Vec<SloVerdict>,
    /// Per pod and node state lanes around the fault, for the HTML report.
    pub lanes: Vec<Lane>,
    /// How observation ended (`None`: the backend does not say).
    pub window: Option<crate::observe::ObservedWindow>,
    /// In [`crate::observe::ObserveMode::Full`], the verdicts known at the
    /// moment an early end would have ended observation.
    pub early: Option<Vec<SloVerdict>>,
    /// The commands the SLOs judged on ran in pods, with their raw
    /// answers (`ovn-consistent`'s `ovn-nbctl`, `ovs-vsctl`, `ovn-appctl`),
    /// for the diagnostics.
    pub outputs: Vec<CommandOutput>,
    /// The harness's traffic flows over the observed window, times from
    /// the fault (empty: no traffic SLO).
    pub traffic: Vec<crate::observe::traffic::FlowTraffic>,
}

/// What a command run in a pod's container answered (the command seam,
/// [`Cluster::exec_in_pod`]): the real tool's output on kind, the model's
/// answer in the same format on the twin, so one parser reads both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodExec {
    /// The command's exit status (`None`: killed by a signal).
    pub status: Option<i32>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

/// One command an end-of-observation SLO ran in a pod, and what it
/// answered, raw, for the scenario's diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    /// Where it ran (`kube-system/ovn-central-0 ovn-central`).
    pub place: String,
    /// Its command line.
    pub command: String,
    /// What it printed (stdout, stderr, then its exit status), or why it
    /// could not run.
    pub text: String,
}

impl std::fmt::Display for CommandOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "$ {}   # in {}", self.command, self.place)?;
        f.write_str(&self.text)?;
        if !self.text.ends_with('\n') {
            f.write_str("\n")?;
        }
        Ok(())
    }
}

/// One provisioned cluster. Scenarios that share it run one at a time.
#[async_trait]
pub trait Cluster: Send + Sync {
    /// The cluster's name (on kind: the `kind-<name>` context's `<name>`).
    fn name(&self) -> &str;

    /// A client for its API server, when it has one.
    fn kube_client(&self) -> Option<kube::Client>;

    /// The component versions it runs (`kubernetes`, `kube-ovn`, `multus`),
    /// for version-conditional expectations. Default: none known.
    fn versions(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    /// What keeps the cluster from being steady for `scenario` right now
    /// (the steady-state gate's view), for progress displays while a
    /// scenario observes. Default: nothing known.
    fn unready(&self, _scenario: &Scenario) -> Vec<Culprit> {
        Vec::new()
    }

    /// The nodes, with their roles and InternalIPs.
    async fn nodes(&self) -> Result<Vec<NodeInfo>, BackendError>;

    /// How many processes named exactly `comm` run on `node` now (on kind:
    /// `pgrep -x` in the node container); `None` when the backend cannot
    /// tell. Default: `None`.
    async fn count_processes(
        &self,
        _node: &NodeInfo,
        _comm: &str,
    ) -> Result<Option<usize>, BackendError> {
        Ok(None)
    }

    /// Waits up to `timeout` for the cluster to meet the scenario's SLOs at rest.
    async fn steady_state(
        &self,
        scenario: &Scenario,
        timeout: Duration,
    ) -> Result<Gate, BackendError>;

    /// Injects the fault on `node` (when it targets one) and returns the
    /// evidence that it took effect.
    async fn inject(
        &self,
        fault: &Fault,
        node: Option<&NodeInfo>,
    ) -> Result<Evidence, BackendError>;

    /// Applies one remediation step; returns what it did.
    async fn remediate(
        &self,
        step: &RemediationStep,
        node: Option<&NodeInfo>,
    ) -> Result<String, BackendError>;

    /// Watches recovery and judges every SLO of the scenario. Budgets count
    /// from `since` (the remediation when there is one, else the fault);
    /// restarts and crash loops count from `fault_at`.
    async fn observe(
        &self,
        scenario: &Scenario,
        fault_at: Instant,
        since: Instant,
        node: Option<&NodeInfo>,
    ) -> Result<Observation, BackendError>;

    /// Judges the scenario's timeline SLOs again on everything the watchers
    /// have seen up to `until` (at most now): the verdict the full window
    /// would have given, as far as it has been watched. Probe and
    /// secondary-network SLOs are not judged again (their probes and reads
    /// ended with observation). `None`: this backend keeps no timeline.
    async fn rejudge(
        &self,
        _scenario: &Scenario,
        _fault_at: Instant,
        _since: Instant,
        _node: Option<&NodeInfo>,
        _until: Instant,
    ) -> Option<Vec<SloVerdict>> {
        None
    }

    /// The links (`lo`, `eth0`, `net1`, ...) in the network namespace of
    /// pod `namespace/name`'s sandbox, read on `node` itself rather than
    /// from the API (on kind: `crictl` finds the sandbox and its network
    /// namespace, `ip -o link` in it lists the links). `Ok(None)`: no ready
    /// sandbox of that pod with a network namespace on the node. Default:
    /// the backend cannot look, which leaves
    /// [`crate::slo::Slo::SecondaryNetworksComplete`] not evaluated.
    async fn pod_interfaces(
        &self,
        namespace: &str,
        name: &str,
        node: &str,
    ) -> Result<Option<Vec<String>>, BackendError> {
        Err(BackendError::other(
            format!("reading the interfaces of pod {namespace}/{name} on {node}"),
            format!(
                "cluster {} cannot read a pod's network namespace",
                self.name()
            ),
        ))
    }

    /// Runs `argv` in container `container` of pod `namespace/name` (on
    /// kind: `kubectl exec`; on the twin: the model answers in the real
    /// tool's output format). `Err` when the command could not be run at
    /// all (no such pod, container not running); a command that ran and
    /// failed is `Ok` with its status. Default: the backend cannot.
    async fn exec_in_pod(
        &self,
        namespace: &str,
        name: &str,
        container: &str,
        argv: &[&str],
    ) -> Result<PodExec, BackendError> {
        Err(BackendError::other(
            format!("running {argv:?} in {namespace}/{name} container {container}"),
            format!("cluster {} cannot run commands in pods", self.name()),
        ))
    }

    /// Runs `argv` in the target container a `nat-gateway: true` profile
    /// runs outside the VPC (on kind: `docker exec`; on the twin: the
    /// model answers in the real tool's output format). `Err` when it
    /// could not be run at all; a command that ran and failed is `Ok` with
    /// its status. Default: the backend has no such target.
    async fn exec_on_nat_target(&self, argv: &[&str]) -> Result<PodExec, BackendError> {
        Err(BackendError::other(
            format!("running {argv:?} in the NAT gateway's target"),
            format!("cluster {} has no NAT gateway target", self.name()),
        ))
    }

    /// The log of the target a `nat-gateway: true` profile runs outside
    /// the VPC, each line stamped by the container runtime (on kind:
    /// `docker logs --timestamps`; on the twin: the model's). Default: the
    /// backend has no such target.
    async fn nat_target_log(&self) -> Result<String, BackendError> {
        Err(BackendError::other(
            "reading the NAT gateway's target's log",
            format!("cluster {} has no NAT gateway target", self.name()),
        ))
    }

    /// Gathers diagnostics for the culprits into `dir`; returns a summary for
    /// the JUnit system-out.
    async fn diagnose(&self, culprits: &[Culprit], dir: &Path) -> Result<String, BackendError>;

    /// Undoes what a fault left behind that recovery does not (a frozen
    /// daemon, a disconnected network); runs on every exit path after inject.
    async fn revert(&self, fault: &Fault, evidence: &Evidence) -> Result<(), BackendError>;

    /// Exports the cluster's logs into `dir` (on kind: `kind export logs`).
    async fn collect_logs(&self, dir: &Path) -> Result<(), BackendError>;

    /// Deletes the cluster and everything the harness made for it.
    async fn teardown(&self) -> Result<(), BackendError>;

    /// Keeps the cluster after the run (`CHAOS_KEEP_CLUSTER=1`): undoes what
    /// faults left behind, as a teardown would, but deletes nothing; returns
    /// how to reach the cluster and delete it later. Default: nothing to
    /// undo, and the cluster's name.
    async fn keep(&self) -> Result<String, BackendError> {
        Ok(format!("kept cluster {}", self.name()))
    }

    /// How long [`Cluster::teardown`] (or [`Cluster::keep`]) may take in all; a backend whose
    /// teardown bounds its own steps returns their sum, so the run never
    /// cuts it short before the delete. Default: 5 minutes.
    fn teardown_budget(&self) -> Duration {
        Duration::from_secs(300)
    }
}
