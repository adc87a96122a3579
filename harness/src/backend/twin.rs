//! The `twin` backend: scenarios against the digital twin's cluster model
//! (crate `cni-chaos-twin`), in process. Faults map to the model's
//! node-level operations (the same ones the kind backend performs with
//! Docker); steady state and recovery are observed through kube-rs watchers
//! on the twin's API, exactly as on kind, never by reading the model.
//!
//! The twin's clock is tokio's. Its [`BackendInfo::virtual_clock`] makes the
//! runner drive it on a paused runtime, where a scenario's virtual minutes
//! pass in a fraction of a wall second.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cni_chaos_twin::model::{
    CNI_DIR, MULTUS_CONF, Model, ModelConfig, ProcessInfo, Signal, VersionProfile,
};
use cni_chaos_twin::{Twin, TwinConfig};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, LogParams};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{
    Backend, BackendError, BackendInfo, Cluster, Gate, NodeInfo, Observation, select_node,
};
use crate::fault::MultusInit;
use crate::fault::multus::{finished_init_run, init_run_facts, init_run_record, no_init_run_fact};
use crate::fault::{
    CniConfigAction, CniFile, Evidence, Fault, LeftoverMultusConfig, MULTUS_DAEMON,
    MULTUS_INIT_CONTAINER, MULTUS_SELECTOR, NodeDisk, NodeRole, OvsSignal, PodDelete, RebootMode,
};
use crate::observe::{self, Observer, WatchOptions};
use crate::slo::Culprit;
use crate::suite::{ClusterProfile, RemediationStep, Scenario};

/// The twin's seed when `CHAOS_SEED` is not set: twin runs are
/// reproducible by default.
pub const DEFAULT_SEED: u64 = 1;

/// Creates twin clusters.
#[derive(Clone, Debug)]
pub struct TwinBackend {
    seed: u64,
    reason: String,
    /// Clusters provisioned so far (a replaced cluster gets the next name).
    provisioned: Arc<std::sync::atomic::AtomicU32>,
    /// Probability that a restarted node comes back with a new InternalIP
    /// (Docker may do that to kind nodes, kind #2045). Default 0.
    ip_reassign_probability: f64,
}

impl TwinBackend {
    /// A backend whose clusters are seeded with `seed`; `reason` says why
    /// it was chosen (shown in the console and every report).
    pub fn new(seed: u64, reason: impl Into<String>) -> Self {
        TwinBackend {
            seed,
            reason: reason.into(),
            provisioned: Arc::default(),
            ip_reassign_probability: 0.0,
        }
    }

    /// Restarted nodes come back with a new InternalIP with probability `p`.
    #[must_use]
    pub fn with_ip_reassign_probability(mut self, p: f64) -> Self {
        self.ip_reassign_probability = p.clamp(0.0, 1.0);
        self
    }
}

/// What a node has in `/etc/cni/net.d` and at `/opt/cni/bin/multus-shim`,
/// read from the model (the twin's `docker cp` of a stopped node).
fn twin_disk(
    w: &cni_chaos_twin::model::World,
    node: &str,
) -> Result<NodeDisk, cni_chaos_twin::model::ModelError> {
    let names = w
        .list_dir(node, "/etc/cni/net.d")?
        .into_iter()
        .filter_map(|p| {
            let rest = p.strip_prefix("/etc/cni/net.d/")?;
            (!rest.contains('/')).then(|| rest.to_string())
        });
    let shim = w.file(node, "/opt/cni/bin/multus-shim")?.is_some();
    Ok(NodeDisk::from_names(names, shim))
}

/// SIGKILLs each of `processes` on `node` that is still the very process
/// frozen (same PID, name and start time); one gone or replaced is left
/// alone. What it did, for the log.
fn kill_frozen(m: &Model, node: &str, processes: &[ProcessInfo]) -> Result<String, BackendError> {
    let now = m
        .with(|w| w.processes(node))
        .map_err(|e| model_err("ps", e))?;
    let same: Vec<u32> = processes
        .iter()
        .filter(|p| {
            now.iter()
                .any(|q| q.pid == p.pid && q.comm == p.comm && q.started == p.started)
        })
        .map(|p| p.pid)
        .collect();
    let killed = m
        .with(|w| w.signal_pids(node, &same, Signal::Kill))
        .map_err(|e| model_err("kill -s KILL", e))?;
    Ok(format!(
        "killed {killed:?} of the frozen {:?} on {node}",
        processes.iter().map(|p| p.pid).collect::<Vec<_>>()
    ))
}

fn model_err(context: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::other(context, e.to_string())
}

#[async_trait]
impl Backend for TwinBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            name: "twin".into(),
            reason: self.reason.clone(),
            simulated: true,
            virtual_clock: true,
            versions: BTreeMap::new(),
        }
    }

    async fn provision(
        &self,
        profile: &ClusterProfile,
        _cancel: &CancellationToken,
    ) -> Result<Arc<dyn Cluster>, BackendError> {
        Ok(self.provision_twin(profile)?)
    }
}

impl TwinBackend {
    /// [`Backend::provision`], keeping the concrete type, so tests can act
    /// on the model as a fault would ([`TwinCluster::model`]).
    pub fn provision_twin(
        &self,
        profile: &ClusterProfile,
    ) -> Result<Arc<TwinCluster>, BackendError> {
        let vp =
            VersionProfile::named(&profile.versions).ok_or_else(|| BackendError::Unavailable {
                name: "twin".into(),
                why: format!(
                    "version set {:?} has no twin profile; the twin knows {}",
                    profile.versions,
                    VersionProfile::all()
                        .into_iter()
                        .map(|p| p.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        // The first cluster is `chaos-twin`; one that replaces a cluster a
        // scenario left unhealthy is `chaos-twin-2`, ... with its own seed.
        let n = self
            .provisioned
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = if n == 0 {
            "chaos-twin".to_string()
        } else {
            format!("chaos-twin-{}", n + 1)
        };
        let seed = self.seed.wrapping_add(u64::from(n));
        let twin = Twin::new(TwinConfig {
            seed,
            ..TwinConfig::default()
        });
        // The profile's NAT-gateway mode, as on kind: the conflist is
        // `10-kube-ovn.conflist` (CNI_CONFIG_PRIORITY=10) and a gateway
        // runs on the first worker; without it, neither.
        let mut vp = vp;
        if profile.nat_gateway {
            vp.cni_priority = "10".into();
        }
        let mut cfg = ModelConfig::new(&name, vp.clone());
        cfg.seed = seed;
        cfg.nat_gateway = profile.nat_gateway;
        cfg.ip_reassign_probability = self.ip_reassign_probability;
        let model = Model::attach(&twin, cfg);
        // What the probes need, the same objects as on kind (see
        // `observe::probe::probe_objects`): the namespace, the ptp and
        // Kube-OVN attachments, and the Kube-OVN attachment's Subnet.
        for obj in observe::probe::probe_objects() {
            let (resource, what) = match obj["kind"].as_str() {
                Some("Namespace") => ("namespaces", "the probe namespace"),
                Some("NetworkAttachmentDefinition") => (
                    "network-attachment-definitions",
                    "a probe NetworkAttachmentDefinition",
                ),
                Some("Subnet") => ("subnets", "the probe attachment's Subnet"),
                other => {
                    return Err(model_err(
                        "creating the probe objects",
                        format!("no twin resource for kind {other:?}"),
                    ));
                }
            };
            let ns = obj
                .pointer("/metadata/namespace")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
                .to_string();
            twin.create(resource, &ns, obj)
                .map_err(|e| model_err(&format!("creating {what}"), e))?;
        }
        let client = twin.client();
        let observer = Observer::start(
            client.clone(),
            Instant::now(),
            twin.clock().now(),
            WatchOptions::default(),
        );
        // The cell's releases, as the twin's `/version` and nodes report
        // them.
        let versions = BTreeMap::from([
            ("kubernetes".to_string(), twin.kubernetes_version()),
            ("kube-ovn".to_string(), vp.kube_ovn.clone()),
            ("multus".to_string(), vp.multus.clone()),
        ]);
        Ok(Arc::new(TwinCluster {
            name,
            seed,
            twin,
            model: Arc::new(model),
            client,
            live: observer.live(),
            observer: tokio::sync::Mutex::new(observer),
            versions,
            undo: std::sync::Mutex::new(Pending::default()),
        }))
    }
}

/// One twin cluster.
pub struct TwinCluster {
    name: String,
    seed: u64,
    twin: Twin,
    model: Arc<Model>,
    client: kube::Client,
    observer: tokio::sync::Mutex<Observer>,
    /// The observer's timeline, readable while the observer is in use.
    live: observe::LiveTimeline,
    versions: BTreeMap<String, String>,
    /// What the running scenario's fault left to undo; drained by `revert`.
    undo: std::sync::Mutex<Pending>,
}

/// A fault's undo, as the kind backend's (`kind::Undo`): the same repairs,
/// through the model's node-level operations.
#[derive(Debug)]
enum TwinUndo {
    /// SIGCONT the processes the fault froze.
    Continue { node: String, pids: Vec<u32> },
    /// Reconnect the node to the network.
    Reconnect { node: String },
    /// Write a file back if it is still missing or empty.
    Restore {
        node: String,
        path: String,
        content: String,
        mode: u32,
    },
    /// Delete the namespaces and OVS ports the fault made.
    RemoveStale {
        node: String,
        netns: Vec<String>,
        ports: Vec<String>,
    },
    /// Kill what leftover-multus-config froze (its busy shim and any
    /// daemon left), each only while the same PID, name and start time.
    KillFrozen {
        node: String,
        processes: Vec<ProcessInfo>,
    },
}

/// Undos and the timers of timed faults (stop-for, delayed rewrite,
/// partition) that have not fired yet.
#[derive(Debug, Default)]
struct Pending {
    undos: Vec<TwinUndo>,
    timers: Vec<tokio::task::JoinHandle<()>>,
}

impl TwinCluster {
    /// The model behind this cluster, for tests that change it the way a
    /// fault or a slow component would (`model.with(|w| ...)`); scenarios
    /// only reach it through [`Cluster`].
    pub fn model(&self) -> &Model {
        &self.model
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic while the lock was held cannot leave `Pending` half
        // updated (every change is a single push), so a poisoned lock is
        // still usable.
        self.undo
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn schedule(&self, undo: TwinUndo) {
        self.pending().undos.push(undo);
    }

    /// Runs `action` on the model after `after` of virtual time, unless the
    /// scenario is reverted first (the revert applies the same repair).
    fn timer(&self, after: Duration, action: impl FnOnce(&Model) + Send + 'static) {
        let model = self.model.clone();
        let handle = tokio::spawn(async move {
            tokio::time::sleep(after).await;
            action(&model);
        });
        self.pending().timers.push(handle);
    }

    /// Applies one undo; a description of what it did.
    fn apply(&self, undo: &TwinUndo) -> Result<String, BackendError> {
        let m = &self.model;
        Ok(match undo {
            TwinUndo::Continue { node, pids } => {
                let live = m
                    .with(|w| w.signal_pids(node, pids, Signal::Cont))
                    .map_err(|e| model_err("kill -s CONT", e))?;
                format!("SIGCONT {live:?} on {node}")
            }
            TwinUndo::Reconnect { node } => {
                let connected = m
                    .with(|w| w.node_infos())
                    .into_iter()
                    .any(|i| &i.name == node && i.connected);
                if connected {
                    format!("{node} was already connected")
                } else {
                    m.with(|w| w.reconnect(node))
                        .map_err(|e| model_err("reconnect", e))?;
                    format!("reconnected {node}")
                }
            }
            TwinUndo::Restore {
                node,
                path,
                content,
                mode,
            } => {
                let now = m
                    .with(|w| w.file(node, path))
                    .map_err(|e| model_err("stat", e))?;
                if now.as_ref().is_none_or(|f| f.content.is_empty()) {
                    m.with(|w| w.write_file(node, path, content, *mode))
                        .map_err(|e| model_err("restore", e))?;
                    format!(
                        "restored {path} ({} bytes, mode {mode:o}) on {node}",
                        content.len()
                    )
                } else {
                    format!("{path} on {node} was rewritten already; left as is")
                }
            }
            TwinUndo::RemoveStale { node, netns, ports } => {
                for port in ports {
                    m.with(|w| w.remove_ovs_port(node, port))
                        .map_err(|e| model_err("ovs-vsctl del-port", e))?;
                }
                let present = m
                    .with(|w| w.netns(node))
                    .map_err(|e| model_err("ip netns", e))?;
                let mut removed = Vec::new();
                for ns in netns.iter().filter(|ns| present.contains(ns)) {
                    m.with(|w| w.delete_netns(node, ns))
                        .map_err(|e| model_err("ip netns delete", e))?;
                    removed.push(ns.clone());
                }
                format!("removed netns {removed:?} and ports {ports:?} on {node}")
            }
            TwinUndo::KillFrozen { node, processes } => kill_frozen(m, node, processes)?,
        })
    }

    /// leftover-multus-config on the model, in the kind path's order (see
    /// `backend::kind` `leftover_multus`): SIGSTOP the daemon; with
    /// `busy-shim`, start a shim against it and SIGSTOP that too; delete
    /// the Multus pod with its own grace (the model's kubelet SIGTERMs,
    /// waits the grace and SIGKILLs a frozen daemon, never SIGCONT, so its
    /// cleanup does not run); wait until the old pod is gone; then check
    /// `00-multus.conf` and record the new init container's run. The frozen
    /// processes are killed after `hold-for` and on revert, each only while
    /// it is the very process frozen.
    async fn leftover_multus(
        &self,
        l: &LeftoverMultusConfig,
        node: Option<&NodeInfo>,
        n: &str,
    ) -> Result<Evidence, BackendError> {
        let some = Some(n.to_string());
        let conf = self
            .model
            .with(|w| w.file(n, MULTUS_CONF))
            .map_err(|e| model_err("stat", e))?;
        if conf.is_none() {
            return Ok(Evidence::no_effect(
                some,
                format!("{MULTUS_CONF} is not on {n}: is Multus installed?"),
            ));
        }
        // 1. The daemon stops answering, without exiting.
        let daemons = self
            .model
            .with(|w| w.signal(n, MULTUS_DAEMON, Signal::Stop))
            .map_err(|e| model_err("kill -s STOP multus-daemon", e))?;
        let mut frozen = self.frozen(n, &daemons)?;
        let pids: Vec<String> = daemons.iter().map(ToString::to_string).collect();
        let mut facts = vec![(format!("{MULTUS_DAEMON} frozen (SIGSTOP)"), pids.join(","))];
        // 2. A shim ADD waits for it, holding the binary busy, frozen
        // before its own 60 s timeout can end it.
        if l.busy_shim {
            let pid = self
                .model
                .with(|w| w.exec_shim(n))
                .map_err(|e| model_err("multus-shim", e))?;
            self.model
                .with(|w| w.signal_pids(n, &[pid], Signal::Stop))
                .map_err(|e| model_err("kill -s STOP multus-shim", e))?;
            let shim = self.frozen(n, &[pid])?;
            facts.push(("busy multus-shim frozen (SIGSTOP)".into(), pid.to_string()));
            if let Some(p) = shim.first() {
                facts.push((
                    "busy multus-shim start time (virtual ms)".into(),
                    p.started.to_string(),
                ));
            }
            frozen.extend(shim);
        }
        self.schedule(TwinUndo::KillFrozen {
            node: n.to_string(),
            processes: frozen.clone(),
        });
        let all_stopped = frozen.len() == daemons.len() + usize::from(l.busy_shim)
            && frozen.iter().all(|p| p.stopped);
        if !all_stopped {
            return Ok(Evidence {
                facts,
                ..Evidence::no_effect(
                    some,
                    format!("not every process is frozen after SIGSTOP: {frozen:?}"),
                )
            });
        }
        // 3. The Multus pod is deleted with its own grace.
        let delete = l.multus_pod_delete();
        let old: Vec<String> = self
            .model
            .with(|w| w.pods_with_label(&delete.namespace, "app", "multus"))
            .into_iter()
            .filter(|(_, on)| on.as_deref() == Some(n))
            .map(|(name, _)| name)
            .collect();
        let deleted = self.delete_pods(&delete, node).await?;
        facts.extend(deleted.facts.clone());
        if !deleted.took_effect {
            return Ok(Evidence {
                facts,
                ..Evidence::no_effect(some, deleted.missing.unwrap_or_default())
            });
        }
        // 4. The old pod goes only after the kubelet's SIGKILL.
        let gone = self
            .until(Duration::from_secs(60), |c| {
                let now = c
                    .model
                    .with(|w| w.pods_with_label(&delete.namespace, "app", "multus"));
                !now.iter().any(|(name, _)| old.contains(name))
            })
            .await;
        facts.push((
            "old Multus pod gone".into(),
            if gone { "yes" } else { "no" }.into(),
        ));
        let still = self.frozen(n, &daemons)?;
        for pid in &daemons {
            let after = match still.iter().find(|p| p.pid == *pid) {
                Some(p) => format!("still there (stopped: {})", p.stopped),
                None => "gone, without its clean exit".into(),
            };
            facts.push((format!("{MULTUS_DAEMON} {pid} after the delete"), after));
        }
        let conf_left = self
            .model
            .with(|w| w.file(n, MULTUS_CONF))
            .map_err(|e| model_err("stat", e))?
            .is_some();
        facts.push(("00-multus.conf left".into(), conf_left.to_string()));
        let (init_facts, init) = self
            .init_container_run(&delete.namespace, n, &old, l.busy_shim)
            .await?;
        facts.extend(init_facts);
        // The hold runs from here, as on kind (the undo is scheduled when
        // the injection returns).
        if l.busy_shim {
            let node = n.to_string();
            self.timer(l.hold_for, move |m| {
                let _ = kill_frozen(m, &node, &frozen);
            });
        }
        let mut evidence = if !gone {
            Evidence {
                facts,
                ..Evidence::no_effect(some, "the old Multus pod was not gone 1m after its delete")
            }
        } else if !conf_left {
            Evidence {
                facts,
                ..Evidence::no_effect(
                    some,
                    "00-multus.conf did not survive the frozen daemon's end",
                )
            }
        } else {
            Evidence::proven(some, facts)
        };
        evidence.preconditions.multus_init = init;
        Ok(evidence)
    }

    /// The processes `pids` on `node` as they are now (those still there).
    fn frozen(&self, node: &str, pids: &[u32]) -> Result<Vec<ProcessInfo>, BackendError> {
        Ok(self
            .model
            .with(|w| w.processes(node))
            .map_err(|e| model_err("ps", e))?
            .into_iter()
            .filter(|p| pids.contains(&p.pid))
            .collect())
    }

    /// The replacement Multus pod's init container's first finished run,
    /// waited for up to a minute (virtual): its exit as facts, its last log
    /// line as the fault's record, as on kind.
    async fn init_container_run(
        &self,
        namespace: &str,
        node: &str,
        old: &[String],
        shim_held: bool,
    ) -> Result<(Vec<(String, String)>, Option<MultusInit>), BackendError> {
        const WAIT: Duration = Duration::from_secs(60);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let lp = ListParams::default()
            .labels(MULTUS_SELECTOR)
            .fields(&format!("spec.nodeName={node}"));
        let deadline = Instant::now() + WAIT;
        let run = loop {
            let pods = api
                .list(&lp)
                .await
                .map_err(|e| model_err("listing the Multus pods", e))?;
            let list = serde_json::to_value(&pods)
                .map_err(|e| BackendError::other("the Multus pod list", e.to_string()))?;
            if let Some(run) = finished_init_run(&list, old) {
                break run;
            }
            if Instant::now() >= deadline {
                return Ok((vec![no_init_run_fact(WAIT)], None));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        };
        let lp = LogParams {
            container: Some(MULTUS_INIT_CONTAINER.into()),
            tail_lines: Some(1),
            ..LogParams::default()
        };
        let log = api.logs(&run.pod, &lp).await.map_err(|e| e.to_string());
        let record = init_run_record(&run, log.as_deref().map_err(Clone::clone), shim_held);
        Ok((init_run_facts(&run), Some(record)))
    }

    fn node_name(node: Option<&NodeInfo>, what: &str) -> Result<String, BackendError> {
        node.map(|n| n.name.clone())
            .ok_or_else(|| BackendError::other(what, "this fault needs a target node"))
    }

    /// Deletes the pods a [`PodDelete`] selects (on `node` when it targets
    /// one) through the API.
    async fn delete_pods(
        &self,
        p: &PodDelete,
        node: Option<&NodeInfo>,
    ) -> Result<Evidence, BackendError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &p.namespace);
        let mut lp = ListParams::default().labels(&p.selector.to_string());
        if let Some(n) = node.filter(|_| p.target.is_some()) {
            lp = lp.fields(&format!("spec.nodeName={}", n.name));
        }
        let pods = api
            .list(&lp)
            .await
            .map_err(|e| model_err("listing pods to delete", e))?;
        let mut dp = DeleteParams::default();
        if let Some(g) = p.grace_period {
            dp = dp.grace_period(u32::try_from(g.as_secs()).unwrap_or(u32::MAX));
        }
        let mut facts = Vec::new();
        for pod in pods.items {
            let name = pod.metadata.name.unwrap_or_default();
            api.delete(&name, &dp)
                .await
                .map_err(|e| model_err(&format!("deleting pod {name}"), e))?;
            facts.push((
                "deleted".to_string(),
                format!(
                    "{}/{name} (uid {})",
                    p.namespace,
                    pod.metadata.uid.unwrap_or_default()
                ),
            ));
        }
        let node = node.map(|n| n.name.clone());
        Ok(if facts.is_empty() {
            Evidence::no_effect(
                node,
                format!("no pod matches {} in {}", p.selector, p.namespace),
            )
        } else {
            Evidence::proven(node, facts)
        })
    }

    fn cni_path(&self, node: &str, file: &CniFile) -> Result<String, BackendError> {
        Ok(match file {
            CniFile::Multus => MULTUS_CONF.to_string(),
            CniFile::Path(p) => p.clone(),
            CniFile::KubeOvn => self
                .model
                .with(|w| w.list_dir(node, CNI_DIR))
                .map_err(|e| model_err("listing /etc/cni/net.d", e))?
                .into_iter()
                .find(|p| p.ends_with("-kube-ovn.conflist"))
                .ok_or_else(|| {
                    BackendError::other("cni-config", format!("no Kube-OVN conflist on {node}"))
                })?,
        })
    }

    /// Waits (virtual time) until `done` holds, up to `limit`.
    async fn until(&self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if done(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        done(self)
    }

    async fn inject_on(
        &self,
        fault: &Fault,
        node: Option<&NodeInfo>,
    ) -> Result<Evidence, BackendError> {
        if let Fault::PodDelete(p) = fault {
            return self.delete_pods(p, node).await;
        }
        let n = Self::node_name(node, &fault.to_string())?;
        let info = |c: &Self| {
            c.model
                .with(|w| w.node_infos())
                .into_iter()
                .find(|i| i.name == n)
        };
        let some = Some(n.clone());
        match fault {
            Fault::NodeReboot(r) => {
                let before = info(self)
                    .ok_or_else(|| BackendError::other("reboot", format!("no node {n}")))?;
                // As on kind: stop, read the disk while the node is down,
                // start.
                let graceful = r.mode == RebootMode::Graceful;
                let timeout = u64::try_from(r.timeout.as_millis()).unwrap_or(u64::MAX);
                self.model
                    .with(|w| {
                        if graceful {
                            w.halt_node(&n, timeout, false)
                        } else {
                            w.kill_node(&n, false)
                        }
                    })
                    .map_err(|e| model_err("reboot", e))?;
                let stopped = self
                    .until(r.timeout + Duration::from_secs(5), |c| {
                        info(c).is_some_and(|a| !a.up)
                    })
                    .await;
                let disk = self
                    .model
                    .with(|w| twin_disk(w, &n))
                    .map_err(|e| model_err("reboot", e))?;
                self.model
                    .with(|w| w.start_node(&n))
                    .map_err(|e| model_err("reboot", e))?;
                let restarted = self
                    .until(Duration::from_secs(60), |c| {
                        info(c).is_some_and(|a| a.up && a.boot > before.boot)
                    })
                    .await;
                let after = info(self).unwrap_or(before.clone());
                let facts = vec![
                    (
                        "started at before (virtual ms)".into(),
                        before.started_at.to_string(),
                    ),
                    (
                        "started at after (virtual ms)".into(),
                        after.started_at.to_string(),
                    ),
                    ("InternalIP before".into(), before.ip.clone()),
                    ("InternalIP after".into(), after.ip.clone()),
                    (
                        "mode".into(),
                        if graceful { "graceful" } else { "hard" }.into(),
                    ),
                ];
                let mut evidence = if !stopped {
                    Evidence::no_effect(some, "the node container did not stop within its timeout")
                } else if restarted {
                    Evidence::proven(some, facts)
                } else {
                    Evidence::no_effect(some, "the node container did not start again within 60 s")
                };
                evidence.preconditions.disk = Some(disk);
                Ok(evidence)
            }
            Fault::OvsKill(k) => {
                let process = k.process.to_string();
                let sig = match k.signal {
                    OvsSignal::Kill => Signal::Kill,
                    OvsSignal::Stop => Signal::Stop,
                };
                let pids = self
                    .model
                    .with(|w| w.signal(&n, &process, sig))
                    .map_err(|e| model_err("ovs-kill", e))?;
                if k.signal == OvsSignal::Stop {
                    self.schedule(TwinUndo::Continue {
                        node: n.clone(),
                        pids: pids.clone(),
                    });
                    if let Some(d) = k.stop_for {
                        let (node, frozen) = (n.clone(), pids.clone());
                        self.timer(d, move |m| {
                            let _ = m.with(|w| w.signal_pids(&node, &frozen, Signal::Cont));
                        });
                    }
                }
                let now = self
                    .model
                    .with(|w| w.processes(&n))
                    .map_err(|e| model_err("ps", e))?;
                let gone = pids
                    .iter()
                    .all(|p| !now.iter().any(|q| q.pid == *p && !q.stopped));
                let facts = vec![
                    ("PIDs signalled".into(), format!("{pids:?}")),
                    ("signal".into(), k.signal.to_string()),
                ];
                Ok(if gone {
                    Evidence::proven(some, facts)
                } else {
                    Evidence::no_effect(some, format!("{process} still runs"))
                })
            }
            Fault::StaleNetns(s) => {
                // Named as on kind: each port after its namespace.
                let netns: Vec<String> = (0..s.count)
                    .map(|i| format!("{}{i}", crate::backend::kind::STALE_PREFIX))
                    .collect();
                let ports: Vec<String> = if s.ovs_ports {
                    netns.clone()
                } else {
                    Vec::new()
                };
                // Registered before the first namespace exists, so a failure
                // half-way is cleaned up too.
                self.schedule(TwinUndo::RemoveStale {
                    node: n.clone(),
                    netns: netns.clone(),
                    ports: ports.clone(),
                });
                for (i, name) in netns.iter().enumerate() {
                    self.model
                        .with(|w| w.create_netns(&n, name))
                        .map_err(|e| model_err("ip netns add", e))?;
                    if let Some(port) = ports.get(i) {
                        self.model
                            .with(|w| w.add_ovs_port(&n, port, Some(name)))
                            .map_err(|e| model_err("ovs-vsctl add-port", e))?;
                    }
                }
                let present = self
                    .model
                    .with(|w| w.netns(&n))
                    .map_err(|e| model_err("ip netns", e))?;
                let on_bridge = self
                    .model
                    .with(|w| w.ovs_ports(&n))
                    .map_err(|e| model_err("ovs-vsctl list-ports", e))?;
                let missing_ns: Vec<&String> =
                    netns.iter().filter(|x| !present.contains(x)).collect();
                let missing_ports: Vec<&String> = ports
                    .iter()
                    .filter(|p| !on_bridge.iter().any(|(q, _)| q == *p))
                    .collect();
                let facts = vec![
                    ("stale netns".into(), netns.join(",")),
                    ("stale OVS ports".into(), ports.join(",")),
                ];
                Ok(if missing_ns.is_empty() && missing_ports.is_empty() {
                    Evidence::proven(some, facts)
                } else {
                    Evidence::no_effect(
                        some,
                        format!(
                            "missing after injection: netns {missing_ns:?}, ports {missing_ports:?}"
                        ),
                    )
                })
            }
            Fault::LeftoverMultusConfig(l) => self.leftover_multus(l, node, &n).await,
            Fault::CniConfig(c) => {
                let path = self.cni_path(&n, &c.file)?;
                let before = self
                    .model
                    .with(|w| w.file(&n, &path))
                    .map_err(|e| model_err("stat", e))?;
                if let Some(f) = &before {
                    self.schedule(TwinUndo::Restore {
                        node: n.clone(),
                        path: path.clone(),
                        content: f.content.clone(),
                        mode: f.mode,
                    });
                }
                match c.action {
                    CniConfigAction::Truncate => self.model.with(|w| w.truncate_file(&n, &path)),
                    CniConfigAction::Remove => {
                        self.model.with(|w| w.remove_file(&n, &path).map(|_| ()))
                    }
                    CniConfigAction::DelayedRewrite { delay } => {
                        let r = self.model.with(|w| w.remove_file(&n, &path).map(|_| ()));
                        if let Some(f) = before.clone() {
                            let (node, path) = (n.clone(), path.clone());
                            self.timer(delay, move |m| {
                                let _ = m.with(|w| w.write_file(&node, &path, &f.content, f.mode));
                            });
                        }
                        r
                    }
                }
                .map_err(|e| model_err("cni-config", e))?;
                let after = self
                    .model
                    .with(|w| w.file(&n, &path))
                    .map_err(|e| model_err("stat", e))?;
                let facts = vec![
                    ("file".into(), path.clone()),
                    (
                        "bytes before".into(),
                        before
                            .as_ref()
                            .map(|f| f.content.len().to_string())
                            .unwrap_or_else(|| "absent".into()),
                    ),
                    (
                        "bytes after".into(),
                        after
                            .as_ref()
                            .map(|f| f.content.len().to_string())
                            .unwrap_or_else(|| "absent".into()),
                    ),
                ];
                Ok(if before.is_some() && before != after {
                    Evidence::proven(some, facts)
                } else {
                    Evidence::no_effect(some, format!("{path} did not change"))
                })
            }
            Fault::NetworkPartition(p) => {
                let ip_before = info(self).map(|i| i.ip);
                self.schedule(TwinUndo::Reconnect { node: n.clone() });
                self.model
                    .with(|w| w.disconnect(&n))
                    .map_err(|e| model_err("disconnect", e))?;
                let (node, d) = (n.clone(), p.duration);
                self.timer(d, move |m| {
                    let _ = m.with(|w| w.reconnect(&node));
                });
                let after = info(self);
                let cut = after.as_ref().is_some_and(|i| !i.connected);
                let facts = vec![
                    ("disconnected for".into(), format!("{d:?}")),
                    ("InternalIP before".into(), ip_before.unwrap_or_default()),
                ];
                Ok(if cut {
                    Evidence::proven(some, facts)
                } else {
                    Evidence::no_effect(some, format!("{n} is still connected"))
                })
            }
            Fault::PodDelete(_) => unreachable!("handled above"),
        }
    }
}

#[async_trait]
impl Cluster for TwinCluster {
    fn name(&self) -> &str {
        &self.name
    }

    fn kube_client(&self) -> Option<kube::Client> {
        Some(self.client.clone())
    }

    fn versions(&self) -> BTreeMap<String, String> {
        self.versions.clone()
    }

    fn unready(&self, scenario: &Scenario) -> Vec<Culprit> {
        self.live.with(|tl| observe::unsteady(tl, scenario))
    }

    async fn nodes(&self) -> Result<Vec<NodeInfo>, BackendError> {
        Ok(self
            .model
            .with(|w| w.node_infos())
            .into_iter()
            .map(|n| NodeInfo {
                name: n.name,
                role: if n.control_plane {
                    NodeRole::ControlPlane
                } else {
                    NodeRole::Worker
                },
                internal_ip: Some(n.ip),
            })
            .collect())
    }

    async fn count_processes(
        &self,
        node: &NodeInfo,
        comm: &str,
    ) -> Result<Option<usize>, BackendError> {
        // A node that is down has no processes; one the model does not
        // know is an error.
        let procs = self
            .model
            .with(|w| w.processes(&node.name))
            .map_err(|e| model_err("list processes", e))?;
        Ok(Some(procs.iter().filter(|p| p.comm == comm).count()))
    }

    async fn steady_state(
        &self,
        scenario: &Scenario,
        timeout: Duration,
    ) -> Result<Gate, BackendError> {
        let mut observer = self.observer.lock().await;
        observe::prepare_and_wait_steady(&self.client, &mut observer, scenario, timeout).await
    }

    async fn inject(
        &self,
        fault: &Fault,
        node: Option<&NodeInfo>,
    ) -> Result<Evidence, BackendError> {
        self.twin.note(format!("harness: inject {fault}"));
        self.inject_on(fault, node).await
    }

    async fn remediate(
        &self,
        step: &RemediationStep,
        node: Option<&NodeInfo>,
    ) -> Result<String, BackendError> {
        match step {
            RemediationStep::PodDelete(p) => {
                let target = match &p.target {
                    Some(t) => Some(select_node(&self.nodes().await?, t, node, self.seed)?),
                    None => node.cloned(),
                };
                let ev = self.delete_pods(p, target.as_ref()).await?;
                Ok(ev.summary())
            }
            RemediationStep::RemoveFile { target, path } => {
                let n = match target {
                    Some(t) => select_node(&self.nodes().await?, t, node, self.seed)?.name,
                    None => Self::node_name(node, "remove-file")?,
                };
                let f = self
                    .model
                    .with(|w| w.remove_file(&n, path))
                    .map_err(|e| model_err("rm", e))?;
                Ok(format!("removed {path} (inode {}) on {n}", f.inode))
            }
        }
    }

    async fn observe(
        &self,
        scenario: &Scenario,
        fault_at: Instant,
        since: Instant,
        node: Option<&NodeInfo>,
    ) -> Result<Observation, BackendError> {
        let observer = self.observer.lock().await;
        Ok(observe::observe_and_judge(
            &self.client,
            self,
            &observer,
            scenario,
            fault_at,
            since,
            node,
        )
        .await)
    }

    async fn rejudge(
        &self,
        scenario: &Scenario,
        fault_at: Instant,
        since: Instant,
        node: Option<&NodeInfo>,
        until: Instant,
    ) -> Option<Vec<crate::slo::SloVerdict>> {
        let observer = self.observer.lock().await;
        Some(observe::rejudge(
            &observer, scenario, fault_at, since, node, until,
        ))
    }

    /// The model's answer for the pod's sandbox (`World::pod_interfaces`),
    /// as `ip -o link` in its network namespace on the node would give it.
    async fn pod_interfaces(
        &self,
        namespace: &str,
        name: &str,
        node: &str,
    ) -> Result<Option<Vec<String>>, BackendError> {
        Ok(self.model.with(|w| {
            // Only a sandbox on the node asked about, as on kind.
            (w.pod_node(namespace, name).as_deref() == Some(node))
                .then(|| w.pod_interfaces(namespace, name))
                .flatten()
        }))
    }

    /// The model's answer (`World::exec`), in the real tool's format.
    async fn exec_in_pod(
        &self,
        namespace: &str,
        name: &str,
        container: &str,
        argv: &[&str],
    ) -> Result<crate::backend::PodExec, BackendError> {
        let out = self
            .model
            .with(|w| w.exec(namespace, name, container, argv))
            .map_err(|e| {
                BackendError::other(
                    format!(
                        "kubectl exec -n {namespace} {name} -c {container} -- {}",
                        argv.join(" ")
                    ),
                    e,
                )
            })?;
        Ok(crate::backend::PodExec {
            status: Some(out.status),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// The model's answer (`World::exec_on_nat_target`), in the real
    /// tool's format.
    async fn exec_on_nat_target(
        &self,
        argv: &[&str],
    ) -> Result<crate::backend::PodExec, BackendError> {
        let out = self
            .model
            .with(|w| w.exec_on_nat_target(argv))
            .map_err(|e| BackendError::other(format!("docker exec -- {}", argv.join(" ")), e))?;
        Ok(crate::backend::PodExec {
            status: Some(out.status),
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }

    /// The model's (`World::nat_target_log`), stamped as `docker logs
    /// --timestamps` stamps it.
    async fn nat_target_log(&self) -> Result<String, BackendError> {
        self.model
            .with(|w| w.nat_target_log())
            .map_err(|e| BackendError::other("docker logs --timestamps (the NAT target)", e))
    }

    async fn diagnose(&self, culprits: &[Culprit], dir: &Path) -> Result<String, BackendError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            BackendError::other(format!("creating {}", dir.display()), e.to_string())
        })?;
        Ok(observe::diagnose(&self.client, culprits, dir).await)
    }

    async fn revert(&self, _fault: &Fault, _evidence: &Evidence) -> Result<(), BackendError> {
        let pending = std::mem::take(&mut *self.pending());
        // The timers would otherwise fire into the next scenario.
        for t in &pending.timers {
            t.abort();
        }
        let mut errors = Vec::new();
        for undo in pending.undos.iter().rev() {
            match self.apply(undo) {
                Ok(done) => self.twin.note(format!("harness: revert: {done}")),
                Err(e) => errors.push(e.to_string()),
            }
        }
        // Steadiness counts from the end of a revert that did something,
        // not from before it.
        if !pending.undos.is_empty() {
            self.observer.lock().await.fence(Instant::now());
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(BackendError::other("revert", errors.join("; ")))
        }
    }

    async fn collect_logs(&self, dir: &Path) -> Result<(), BackendError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            BackendError::other(format!("creating {}", dir.display()), e.to_string())
        })?;
        let lines: Vec<String> = self
            .twin
            .truth()
            .iter()
            .filter_map(|t| serde_json::to_string(t).ok())
            .collect();
        std::fs::write(dir.join("twin-truth.jsonl"), lines.join("\n"))
            .map_err(|e| BackendError::other("writing the twin's ground truth", e.to_string()))
    }

    async fn teardown(&self) -> Result<(), BackendError> {
        Ok(())
    }

    async fn keep(&self) -> Result<String, BackendError> {
        Ok(format!(
            "twin cluster {} lives in this process and ends with it; to explore a twin with kubectl, run `cni-chaos twin serve --model <version set>`",
            self.name
        ))
    }
}
