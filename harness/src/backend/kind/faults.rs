//! Fault injectors on the Docker node runtime. Each returns [`Evidence`]
//! observed before and after acting (a new container start time, a PID that
//! is gone, a file that is gone, a namespace or port that is there): a fault
//! whose evidence is missing ends its scenario as "fault had no effect".
//!
//! What a fault leaves behind that recovery does not undo (a frozen daemon, a
//! disconnected network, a removed config file, stale namespaces) is returned
//! as an [`Undo`], run after the fault's own duration or on revert.

use std::time::Duration;

use super::KindError;
use super::docker::{DockerNodes, ProcessId, Still, non_empty_lines};
use super::kubectl::{KUBECTL_TIMEOUT, Kubectl};
use super::ovs;
use crate::backend::NodeInfo;
use crate::fault::multus::{
    InitRun, finished_init_run, init_run_facts, init_run_record, no_init_run_fact,
};
use crate::fault::{
    CniConfigAction, CniFile, Evidence, Fault, LeftoverMultusConfig, MULTUS_DAEMON,
    MULTUS_INIT_CONTAINER, MULTUS_SELECTOR, MULTUS_SHIM_PROCESS, MultusInit, NodeDisk, OvsSignal,
    PodDelete, RebootMode,
};
use crate::observe::HealedAddress;
use crate::util::duration;
use crate::util::tar;

/// Where kind nodes (and the runtime) keep CNI configs.
pub const CNI_CONF_DIR: &str = "/etc/cni/net.d";
/// Multus' generated config (FACTS.md, "Auto config").
pub const MULTUS_CONF: &str = "/etc/cni/net.d/00-multus.conf";
/// Multus' shim binary.
pub const MULTUS_SHIM: &str = "/opt/cni/bin/multus-shim";
/// The `CNI_CONTAINERID` (and netns name) of the busy shim the
/// leftover-multus-config fault starts: how it is told from the runtime's.
pub const BUSY_SHIM_ID: &str = "cni-chaos-busy-shim";
/// How long the busy shim may take to show up in the node's process list.
const SHIM_APPEAR: Duration = Duration::from_secs(5);
/// How long the frozen shim's `docker exec` may run beyond `hold-for`: the
/// injection's own waits (the old pod's end, the new init container's
/// first run) plus a minute, so the runner never ends it before the undo.
const SHIM_EXEC_MARGIN: Duration =
    Duration::from_secs(POD_GONE_WAIT.as_secs() + INIT_WAIT.as_secs() + KUBECTL_TIMEOUT.as_secs());
/// How long the old Multus pod may take to go after its delete: its grace
/// (10 s in multus-cni's thick DaemonSet), the kubelet's SIGKILL and the
/// sandbox teardown, with room for a slow node.
const POD_GONE_WAIT: Duration = Duration::from_secs(60);
/// How long the replacement Multus pod's init container may take to finish
/// its first run (scheduling, image already on the node, one `cp`).
const INIT_WAIT: Duration = Duration::from_secs(60);
/// Poll interval while waiting for it.
const INIT_POLL: Duration = Duration::from_secs(2);
/// Kube-OVN's integration bridge, where pod ports live.
pub const INTEGRATION_BRIDGE: &str = "br-int";
/// Prefix of the network namespaces and OVS ports the stale-netns fault makes.
pub const STALE_PREFIX: &str = "chaos-stale-";
/// The Kubernetes namespace written into a stale port's `external_ids`
/// (no such pods exist; the names only look like Kube-OVN's).
pub const STALE_POD_NAMESPACE: &str = "cni-chaos-stale";
/// How long OVS may take to notice that a stale port's device is gone.
const STALE_SETTLE: Duration = Duration::from_secs(10);
/// How long an injector waits for a killed process to disappear.
const KILL_SETTLE: Duration = Duration::from_secs(10);
/// Poll interval while waiting for a killed process.
const POLL: Duration = Duration::from_millis(100);

/// A fault that took place (or not), and what undoes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Injected {
    /// What was observed.
    pub evidence: Evidence,
    /// What undoes the fault, and when it is due.
    pub undo: Option<Scheduled>,
}

/// An [`Undo`] and when it runs by itself (`None`: only on revert).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled {
    /// What to do.
    pub undo: Undo,
    /// Run it this long after injection (the fault's own duration).
    pub after: Option<Duration>,
}

/// What undoes a fault. Recorded in the undo journal before the fault
/// runs (see [`crate::journal`]), so it also tolerates a fault that never
/// happened.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Undo {
    /// SIGCONT the frozen processes.
    Continue {
        /// The node.
        node: String,
        /// The process name (for the dry-run plan and messages).
        process: String,
        /// The processes.
        pids: Vec<u32>,
    },
    /// Reconnect the node to the cluster network with the addresses it
    /// had (see [`DockerNodes::connect`] for when Docker picks IPv4).
    Reconnect {
        /// The node.
        node: String,
        /// Its IPv4 address on the network before the partition.
        ip_before: Option<String>,
        /// Its global IPv6 address there, if it had one.
        ip6_before: Option<String>,
    },
    /// Write a file back if it is still missing or empty.
    Restore {
        /// The node.
        node: String,
        /// The file.
        path: String,
        /// Its contents before the fault.
        bytes: Vec<u8>,
        /// Its mode before the fault (`stat -c %a`, e.g. `600`), set again
        /// after writing: Kube-OVN leaves an existing 0600 conflist alone
        /// (FACTS.md), so the mode decides what happens next.
        mode: Option<String>,
    },
    /// Delete the namespaces and OVS ports the stale-netns fault made.
    RemoveStale {
        /// The node.
        node: String,
        /// The namespaces.
        netns: Vec<String>,
        /// The ports on [`INTEGRATION_BRIDGE`].
        ports: Vec<String>,
    },
    /// Start a node container the runner left stopped (it died between a
    /// reboot's stop and start); a running node is left alone. Only ever
    /// recorded in the undo journal: a reboot that finishes starts its
    /// node itself.
    Start {
        /// The node.
        node: String,
    },
    /// SIGKILL what the leftover-multus-config fault froze (its busy
    /// `multus-shim`, and any `multus-daemon` the kubelet has not ended),
    /// each only while it is still the very process frozen: same PID,
    /// start time and name. A PID another process got since is left alone
    /// and reported; a process already gone is fine.
    KillFrozen {
        /// The node.
        node: String,
        /// The processes.
        processes: Vec<ProcessId>,
    },
}

impl Undo {
    /// What it undoes, in a few words.
    pub fn describe(&self) -> String {
        match self {
            Undo::Continue { process, pids, .. } => format!("SIGCONT of frozen {process} {pids:?}"),
            Undo::Reconnect { .. } => "reconnecting a partitioned node".into(),
            Undo::Start { .. } => "starting a node stopped by a reboot".into(),
            Undo::Restore { path, .. } => format!("restoring {path}"),
            Undo::RemoveStale { netns, ports, .. } => {
                format!("removing stale netns {netns:?} and OVS ports {ports:?}")
            }
            Undo::KillFrozen { processes, .. } => format!(
                "SIGKILL of frozen [{}]",
                processes
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// Whether it acts on processes, which a node restart ends anyway (and
    /// whose PIDs then name other processes).
    pub fn is_process_undo(&self) -> bool {
        matches!(self, Undo::Continue { .. } | Undo::KillFrozen { .. })
    }

    /// The node it acts on.
    pub fn node(&self) -> &str {
        match self {
            Undo::Continue { node, .. }
            | Undo::Reconnect { node, .. }
            | Undo::Restore { node, .. }
            | Undo::RemoveStale { node, .. }
            | Undo::Start { node }
            | Undo::KillFrozen { node, .. } => node,
        }
    }
}

fn fact(k: impl Into<String>, v: impl Into<String>) -> (String, String) {
    (k.into(), v.into())
}

/// Injects `fault` on `node` (the node is required by every fault but
/// pod-delete; `kubectl` by pod-delete and leftover-multus-config).
pub async fn inject(
    nodes: &DockerNodes,
    kubectl: Option<&Kubectl>,
    fault: &Fault,
    node: Option<&NodeInfo>,
) -> Result<Injected, KindError> {
    if let Fault::PodDelete(p) = fault {
        let kubectl = kubectl.ok_or_else(|| KindError::Unsafe {
            what: "pod-delete".into(),
            why: "no kube client for this cluster".into(),
        })?;
        return pod_delete(kubectl, p, node).await;
    }
    let Some(node) = node else {
        return Err(KindError::Invalid {
            file: "suite".into(),
            problems: vec![format!("{fault}: this fault needs a target node")],
        });
    };
    let n = node.name.as_str();
    let injected = match fault {
        Fault::NodeReboot(r) => {
            let grace = match r.mode {
                RebootMode::Graceful => Some(r.timeout),
                RebootMode::Hard => None,
            };
            Injected {
                evidence: reboot(nodes, n, grace).await?,
                undo: None,
            }
        }
        Fault::OvsKill(k) => {
            let process = k.process.to_string();
            match k.signal {
                OvsSignal::Kill => Injected {
                    evidence: kill_process(nodes, n, &process).await?,
                    undo: None,
                },
                OvsSignal::Stop => {
                    let (evidence, pids) = stop_process(nodes, n, &process).await?;
                    Injected {
                        undo: (!pids.is_empty() || nodes.is_dry_run()).then(|| Scheduled {
                            undo: Undo::Continue {
                                node: n.to_string(),
                                process: process.clone(),
                                pids,
                            },
                            after: k.stop_for,
                        }),
                        evidence,
                    }
                }
            }
        }
        Fault::StaleNetns(s) => stale_netns(nodes, n, s.count, s.ovs_ports).await?,
        Fault::LeftoverMultusConfig(l) => {
            let kubectl = kubectl.ok_or_else(|| KindError::Unsafe {
                what: "leftover-multus-config".into(),
                why: "no kube client for this cluster (the Multus pod is replaced through it)"
                    .into(),
            })?;
            leftover_multus(nodes, kubectl, node, l).await?
        }
        Fault::CniConfig(c) => cni_config(nodes, n, &c.file, c.action).await?,
        Fault::NetworkPartition(p) => partition(nodes, n, p.duration).await?,
        Fault::PodDelete(_) => unreachable!("handled above"),
    };
    Ok(injected)
}

/// Reboots the node container, and records what it had on its disk while
/// it was down (FACTS.md "kind node facts": reading a node's files after it
/// comes back races its boot, so they are copied out of the stopped
/// container):
/// - graceful (`grace` set): `docker stop -t <grace>`, an orderly systemd
///   shutdown on a kind node, in which the Multus daemon's clean exit
///   deletes `00-multus.conf`;
/// - hard: `docker kill --signal KILL`, a crash: nothing cleans up;
///
/// then `docker cp` of `/etc/cni/net.d` and of `/opt/cni/bin/multus-shim`
/// (only the shim: the folder holds every CNI plugin binary, tens of MB,
/// and the shim is the one file a verdict depends on), then `docker start`.
/// Proven when `State.StartedAt` changed and the container runs again.
pub async fn reboot(
    nodes: &DockerNodes,
    node: &str,
    grace: Option<Duration>,
) -> Result<Evidence, KindError> {
    let before = nodes.guarded(node).await?;
    let start = Undo::Start { node: node.into() };
    nodes.intend(node, &start).await?;
    match grace {
        Some(grace) => nodes.stop(node, grace).await?,
        None => nodes.kill(node).await?,
    }
    // The node is down: copy, then start it whatever the copy says, so a
    // failed copy never leaves the node stopped.
    let copied = node_disk(nodes, node).await;
    nodes.start(node).await?;
    nodes.undone(&start)?;
    let disk = copied?;
    let after = nodes.state(node).await?;
    if nodes.is_dry_run() {
        return Ok(dry_run(node));
    }
    let net = nodes.network();
    let ip = |s: &super::docker::NodeState| s.networks.get(net).cloned().unwrap_or_default();
    let mut facts = vec![
        fact("StartedAt before", &before.started_at),
        fact("StartedAt after", &after.started_at),
        fact("IP before", ip(&before)),
        fact("IP after", ip(&after)),
    ];
    let mut evidence = if after.started_at != before.started_at && after.running {
        facts.push(fact(
            "mode",
            if grace.is_some() { "graceful" } else { "hard" },
        ));
        Evidence::proven(Some(node.into()), facts)
    } else {
        let mut e = Evidence::no_effect(
            Some(node.into()),
            if after.running {
                "the container's StartedAt did not change: it was not restarted"
            } else {
                "the container is not running after the restart"
            },
        );
        e.facts = facts;
        e
    };
    evidence.preconditions.disk = disk;
    Ok(evidence)
}

/// What a stopped node has in [`CNI_CONF_DIR`] and at [`MULTUS_SHIM`];
/// `None` in a dry run.
async fn node_disk(nodes: &DockerNodes, node: &str) -> Result<Option<NodeDisk>, KindError> {
    let dir = nodes.copy_out(node, CNI_CONF_DIR).await?;
    let shim = nodes.copy_out(node, MULTUS_SHIM).await?;
    if nodes.is_dry_run() {
        return Ok(None);
    }
    let names = match &dir {
        None => Vec::new(),
        Some(bytes) => tar::entries(bytes)
            .map_err(|problem| KindError::Parse {
                command: format!("docker cp {node}:{CNI_CONF_DIR} -"),
                problem,
                output: format!("{} bytes of tar", bytes.len()),
            })?
            .into_iter()
            // Only what is directly in the folder (Multus keeps its
            // kubeconfig in multus.d/).
            .filter(|e| e.is_file() && e.path.trim_start_matches("./").matches('/').count() == 1)
            .map(|e| e.file_name().to_string())
            .collect(),
    };
    let shim_there = match &shim {
        None => false,
        Some(bytes) => tar::entries(bytes)
            .map_err(|problem| KindError::Parse {
                command: format!("docker cp {node}:{MULTUS_SHIM} -"),
                problem,
                output: format!("{} bytes of tar", bytes.len()),
            })?
            .iter()
            .any(|e| e.file_name() == "multus-shim"),
    };
    Ok(Some(NodeDisk::from_names(names, shim_there)))
}

/// The PIDs of OVS daemon `process` on `node`: the one its pidfile names
/// (see [`ovs::daemon_pid`]), or none.
async fn ovs_pids(nodes: &DockerNodes, node: &str, process: &str) -> Result<Vec<u32>, KindError> {
    Ok(ovs::daemon_pid(nodes, node, process)
        .await?
        .into_iter()
        .collect())
}

/// What stands for the PID of `process` in a dry-run plan.
fn pid_placeholder(process: &str) -> String {
    format!("<PID in {}>", ovs::pidfile(process))
}

/// SIGKILLs OVS daemon `process` in the node (its PID from its pidfile);
/// proven when the old PID is gone (or a zombie: a process reparented to
/// PID 1 lingers as one until reaped).
pub async fn kill_process(
    nodes: &DockerNodes,
    node: &str,
    process: &str,
) -> Result<Evidence, KindError> {
    let pids = ovs_pids(nodes, node, process).await?;
    if nodes.is_dry_run() {
        let placeholder = pid_placeholder(process);
        nodes
            .exec(node, &["kill", "-s", "KILL", &placeholder])
            .await?;
        return Ok(dry_run(node));
    }
    if pids.is_empty() {
        return Ok(Evidence::no_effect(
            Some(node.into()),
            format!(
                "{process} is not running on {node} (no live {process} in {}): nothing to kill",
                ovs::pidfile(process)
            ),
        ));
    }
    nodes.signal(node, &pids, "KILL").await?;
    let deadline = tokio::time::Instant::now() + KILL_SETTLE;
    let mut remaining = pids.clone();
    loop {
        let mut still = Vec::new();
        for pid in &remaining {
            match nodes.process_state(node, *pid).await? {
                None | Some('Z' | 'X') => {}
                Some(_) => still.push(*pid),
            }
        }
        remaining = still;
        if remaining.is_empty() || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let facts = vec![
        fact(format!("{process} PID before"), list(&pids)),
        fact("signal", "SIGKILL"),
    ];
    if remaining.is_empty() {
        let mut facts = facts;
        facts.push(fact(format!("{process} PID after"), "gone"));
        Ok(Evidence::proven(Some(node.into()), facts))
    } else {
        let mut e = Evidence::no_effect(
            Some(node.into()),
            format!(
                "{process} PID {} still running {KILL_SETTLE:?} after SIGKILL",
                list(&remaining)
            ),
        );
        e.facts = facts;
        Ok(e)
    }
}

/// SIGSTOPs OVS daemon `process` (its PID from its pidfile); proven when it
/// is stopped (`T` in `/proc/<pid>/stat`). Returns the PIDs to SIGCONT
/// later.
pub async fn stop_process(
    nodes: &DockerNodes,
    node: &str,
    process: &str,
) -> Result<(Evidence, Vec<u32>), KindError> {
    let pids = ovs_pids(nodes, node, process).await?;
    if nodes.is_dry_run() {
        let placeholder = pid_placeholder(process);
        nodes
            .exec(node, &["kill", "-s", "STOP", &placeholder])
            .await?;
        return Ok((dry_run(node), Vec::new()));
    }
    if pids.is_empty() {
        return Ok((
            Evidence::no_effect(
                Some(node.into()),
                format!(
                    "{process} is not running on {node} (no live {process} in {}): nothing to stop",
                    ovs::pidfile(process)
                ),
            ),
            pids,
        ));
    }
    nodes
        .intend(
            node,
            &Undo::Continue {
                node: node.into(),
                process: process.into(),
                pids: pids.clone(),
            },
        )
        .await?;
    nodes.signal(node, &pids, "STOP").await?;
    let mut stopped = true;
    for pid in &pids {
        stopped &= matches!(nodes.process_state(node, *pid).await?, Some('T' | 't'));
    }
    let list = list(&pids);
    let facts = vec![
        fact(format!("{process} PID"), &list),
        fact("signal", "SIGSTOP"),
    ];
    let evidence = if stopped {
        let mut facts = facts;
        facts.push(fact("state after", "T (stopped)"));
        Evidence::proven(Some(node.into()), facts)
    } else {
        let mut e = Evidence::no_effect(
            Some(node.into()),
            format!("{process} PID {list} is not stopped after SIGSTOP"),
        );
        e.facts = facts;
        e
    };
    Ok((evidence, pids))
}

/// Creates `count` unused network namespaces and, with `ovs_ports`, for
/// each a port on `br-int` as an unclean shutdown leaves it: Kube-OVN's
/// pod `external_ids` on it, and no device behind it
/// ([`make_stale_port`]). When a step fails, whatever was already
/// created is removed again before the error is returned, so a failed
/// injection leaks nothing.
async fn stale_netns(
    nodes: &DockerNodes,
    node: &str,
    count: u32,
    ovs_ports: bool,
) -> Result<Injected, KindError> {
    let names: Vec<String> = (0..count).map(|i| format!("{STALE_PREFIX}{i}")).collect();
    let planned = Undo::RemoveStale {
        node: node.into(),
        netns: names.clone(),
        ports: if ovs_ports { names.clone() } else { Vec::new() },
    };
    nodes.intend(node, &planned).await?;
    let mut netns = Vec::new();
    let mut ports = Vec::new();
    let made = make_stale(nodes, node, &names, ovs_ports, &mut netns, &mut ports).await;
    let undo = Undo::RemoveStale {
        node: node.into(),
        netns,
        ports,
    };
    match made {
        Ok(evidence) => Ok(Injected {
            evidence,
            undo: Some(Scheduled { undo, after: None }),
        }),
        Err(e) => {
            undo_now(nodes, node, "stale-netns", &undo).await;
            Err(e)
        }
    }
}

/// The steps of [`stale_netns`]; records each namespace and port in `netns`
/// and `ports` as soon as it exists. Proven when every namespace is there
/// with no process in it and OVS itself reports every port's device
/// missing (`ofport` -1 and an `error`).
async fn make_stale(
    nodes: &DockerNodes,
    node: &str,
    names: &[String],
    ovs_ports: bool,
    netns: &mut Vec<String>,
    ports: &mut Vec<String>,
) -> Result<Evidence, KindError> {
    for ns in names {
        nodes.netns_add(node, ns).await?;
        netns.push(ns.clone());
    }
    let ovs = if ovs_ports {
        Some(nodes.ovs(node).await?)
    } else {
        None
    };
    if let Some(ovs) = &ovs {
        for (i, name) in names.iter().enumerate() {
            make_stale_port(ovs, name, i, ports).await?;
        }
    }
    let present = nodes.netns_list(node).await?;
    let stale = nodes.stale_netns(node).await?;
    let verdicts = match &ovs {
        Some(ovs) => ovs_verdicts(nodes, ovs, ports).await?,
        None => Vec::new(),
    };
    if nodes.is_dry_run() {
        return Ok(dry_run(node));
    }
    let missing: Vec<&String> = names.iter().filter(|n| !stale.contains(n)).collect();
    let not_stale: Vec<String> = verdicts
        .iter()
        .filter(|(_, v)| !v.is_stale())
        .map(|(p, v)| format!("{p} ({v})"))
        .collect();
    let mut facts = vec![
        fact("stale netns", names.join(",")),
        fact("netns on node", present.len().to_string()),
    ];
    if ovs_ports {
        facts.push(fact(
            format!("stale ports on {INTEGRATION_BRIDGE}"),
            ports.join(","),
        ));
        facts.push(fact(
            "OVS verdict",
            verdicts
                .iter()
                .map(|(p, v)| format!("{p}: {v}"))
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    Ok(if missing.is_empty() && not_stale.is_empty() {
        Evidence::proven(Some(node.into()), facts)
    } else {
        let mut e = Evidence::no_effect(
            Some(node.into()),
            format!(
                "not present (or not stale) after creation: netns {missing:?}; ports OVS does not report broken: {not_stale:?}"
            ),
        );
        e.facts = facts;
        e
    })
}

/// One stale port, as OVS finds a pod's port when it starts again after
/// an unclean shutdown: the row Kube-OVN wrote for the pod is still in its
/// database (`br-int`, the pod's `external_ids`, `pod_netns` naming the
/// stale namespace `name`), and the pod's veth is gone with the pod.
/// ovs-vswitchd opens the device when it (re)reads the row, finds none and
/// records `ofport` -1 with `could not open network device <p> (No such
/// device)`, so the port is added without a device behind it. Measured on
/// userspace OVS (the system test's first version): a port whose veth
/// vanished after it was added kept its ofport and no error, because
/// ovs-vswitchd does not reopen a device it already has until it restarts;
/// that would not be what a rebooted node shows. The port is recorded as
/// soon as it exists.
async fn make_stale_port(
    ovs: &ovs::NodeOvs<'_>,
    name: &str,
    index: usize,
    ports: &mut Vec<String>,
) -> Result<(), KindError> {
    let pod = ovs::PodPort {
        name: name.to_string(),
        namespace: STALE_POD_NAMESPACE.to_string(),
        // TEST-NET-2 (RFC 5737): never a real pod's address.
        ip: format!("198.51.100.{}", index % 254 + 1),
        netns: format!("/var/run/netns/{name}"),
    };
    ovs.add_pod_port(INTEGRATION_BRIDGE, name, &pod).await?;
    ports.push(name.to_string());
    Ok(())
}

/// OVS's verdict on each of `ports`, waiting (bounded) until it reports
/// every device missing: ovs-vswitchd learns of a vanished device from the
/// kernel asynchronously.
async fn ovs_verdicts(
    nodes: &DockerNodes,
    ovs: &ovs::NodeOvs<'_>,
    ports: &[String],
) -> Result<Vec<(String, ovs::InterfaceState)>, KindError> {
    let deadline = tokio::time::Instant::now() + STALE_SETTLE;
    loop {
        let mut verdicts = Vec::new();
        for p in ports {
            if let Some(v) = ovs.interface(p).await? {
                verdicts.push((p.clone(), v));
            }
        }
        if nodes.is_dry_run()
            || verdicts.iter().all(|(_, v)| v.is_stale())
            || tokio::time::Instant::now() >= deadline
        {
            return Ok(verdicts);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The multus-cni #1221 race without a reboot, made deterministic:
///
/// 1. SIGSTOP the Multus daemon: a SIGKILL would not do, since the kubelet
///    restarts the container at once and the new daemon answers any waiting
///    shim within about a second (FACTS.md, "Multus facts").
/// 2. With `busy-shim`, start a `multus-shim` ADD against the frozen daemon
///    and SIGSTOP it too, so it holds `/opt/cni/bin/multus-shim` busy for
///    `hold-for` whatever its own 60 s timeout ([`freeze_multus`]).
/// 3. Delete the node's Multus pod with its own grace period: the kubelet
///    sends the frozen daemon SIGTERM, waits, SIGKILLs it, and never sends
///    SIGCONT, so its clean exit (which deletes `00-multus.conf`) never runs.
/// 4. Wait (bounded) until the old pod is gone, then check that
///    `00-multus.conf` is still there, and record what the replacement's
///    init container said: "Text file busy" on a racy Multus (`cp`), a
///    success on a fixed one (`install_multus`); either is a fact, not a
///    verdict.
///
/// Proven when the daemon and the shim were frozen, the old pod is gone and
/// the config was left. The undo ([`Undo::KillFrozen`], after `hold-for`
/// or on revert, and at once when the injection fails half-way) kills the
/// shim and any daemon still there, each only while it is the very process
/// frozen.
async fn leftover_multus(
    nodes: &DockerNodes,
    kubectl: &Kubectl,
    node: &NodeInfo,
    fault: &LeftoverMultusConfig,
) -> Result<Injected, KindError> {
    let n = node.name.as_str();
    let on = Some(n.to_string());
    let conf = nodes.read_file(n, MULTUS_CONF).await?;
    if conf.is_none() && !nodes.is_dry_run() {
        return Ok(Injected {
            evidence: Evidence::no_effect(
                on,
                format!("{MULTUS_CONF} is not on {n}: is Multus installed?"),
            ),
            undo: None,
        });
    }
    let frozen = freeze_multus(
        nodes,
        n,
        fault.busy_shim,
        fault.hold_for,
        conf.unwrap_or_default(),
    )
    .await?;
    let hold = fault.busy_shim.then_some(fault.hold_for);
    let undo = (!frozen.undo_is_empty() || nodes.is_dry_run()).then(|| Scheduled {
        undo: frozen.undo.clone(),
        after: hold,
    });
    if frozen.missing.is_some() && !nodes.is_dry_run() {
        // Nothing is deleted when the node-side half did not take.
        let mut e = Evidence::no_effect(on, frozen.missing.unwrap_or_default());
        e.facts = frozen.facts;
        return Ok(Injected { evidence: e, undo });
    }
    let replaced = replace_multus_pod(nodes, kubectl, node, fault, &frozen).await;
    let (facts, missing, init) = match replaced {
        Ok(r) => r,
        Err(e) => {
            undo_now(nodes, n, "leftover-multus-config", &frozen.undo).await;
            return Err(e);
        }
    };
    if nodes.is_dry_run() {
        return Ok(Injected {
            evidence: dry_run(n),
            undo,
        });
    }
    let mut all = frozen.facts;
    all.extend(facts);
    let mut evidence = match missing {
        None => Evidence::proven(on, all),
        Some(why) => {
            let mut e = Evidence::no_effect(on, why);
            e.facts = all;
            e
        }
    };
    evidence.preconditions.multus_init = init;
    Ok(Injected { evidence, undo })
}

/// Runs `undo` at once after `what` failed half-way; logs what it did.
async fn undo_now(nodes: &DockerNodes, node: &str, what: &str, undo: &Undo) {
    match self::undo(nodes, undo).await {
        Ok(did) => tracing::warn!("{what} on {node} failed; {did}"),
        Err(cleanup) => tracing::error!(
            "{what} on {node} failed, and so did undoing what it made ({undo:?}): {cleanup}"
        ),
    }
}

/// What the node-side half of leftover-multus-config froze and saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrozenMultus {
    /// Kills what was frozen ([`Undo::KillFrozen`]).
    pub undo: Undo,
    /// Observations.
    pub facts: Vec<(String, String)>,
    /// Why it did not take, when it did not.
    pub missing: Option<String>,
}

impl FrozenMultus {
    /// Whether the undo has nothing to kill.
    fn undo_is_empty(&self) -> bool {
        matches!(&self.undo, Undo::KillFrozen { processes, .. } if processes.is_empty())
    }

    /// The frozen Multus daemons.
    fn daemons(&self) -> Vec<&ProcessId> {
        match &self.undo {
            Undo::KillFrozen { processes, .. } => processes
                .iter()
                .filter(|p| p.name == MULTUS_DAEMON)
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// The node-side half of leftover-multus-config (steps 1 and 2 of
/// [`leftover_multus`]): SIGSTOP every `multus-daemon` on `node`, then,
/// with `busy_shim`, start a `multus-shim` ADD (`conf` on its stdin, the
/// fault's own `CNI_CONTAINERID` in its environment) and SIGSTOP it. The
/// shim's `docker exec` may run `hold_for` plus the injection's own bounds
/// before the runner ends it; the undo kills the shim itself. When a step
/// fails, what was already frozen is killed again before the error is
/// returned.
pub async fn freeze_multus(
    nodes: &DockerNodes,
    node: &str,
    busy_shim: bool,
    hold_for: Duration,
    conf: Vec<u8>,
) -> Result<FrozenMultus, KindError> {
    let mut frozen = Vec::new();
    let mut facts = Vec::new();
    let made = freeze_steps(
        nodes,
        node,
        busy_shim,
        hold_for,
        conf,
        &mut frozen,
        &mut facts,
    )
    .await;
    let undo = Undo::KillFrozen {
        node: node.into(),
        processes: frozen,
    };
    match made {
        Ok(missing) => Ok(FrozenMultus {
            undo,
            facts,
            missing,
        }),
        Err(e) => {
            undo_now(nodes, node, "freezing Multus", &undo).await;
            Err(e)
        }
    }
}

/// The steps of [`freeze_multus`]; records each process in `frozen` as
/// soon as it is stopped, and returns why the fault did not take, if it
/// did not.
async fn freeze_steps(
    nodes: &DockerNodes,
    n: &str,
    busy_shim: bool,
    hold_for: Duration,
    conf: Vec<u8>,
    frozen: &mut Vec<ProcessId>,
    facts: &mut Vec<(String, String)>,
) -> Result<Option<String>, KindError> {
    // 1. The daemon stops answering, without exiting.
    let daemons = nodes.pids(n, MULTUS_DAEMON).await?;
    if nodes.is_dry_run() {
        let placeholder = format!("<PIDs of {MULTUS_DAEMON}>");
        nodes.exec(n, &["kill", "-s", "STOP", &placeholder]).await?;
    } else if daemons.is_empty() {
        return Ok(Some(format!("no {MULTUS_DAEMON} runs on {n}")));
    } else {
        if nodes.is_journaled() {
            journal_frozen(nodes, n, &daemons).await?;
        }
        nodes.signal(n, &daemons, "STOP").await?;
    }
    let mut stopped = Vec::new();
    for pid in &daemons {
        match nodes.identify(n, *pid).await? {
            Some((id, state)) => {
                frozen.push(id.clone());
                if matches!(state, 'T' | 't') {
                    stopped.push(id);
                }
            }
            None => tracing::warn!("{MULTUS_DAEMON} PID {pid} on {n} is gone after SIGSTOP"),
        }
    }
    facts.push(fact(
        format!("{MULTUS_DAEMON} frozen (SIGSTOP)"),
        list(&stopped.iter().map(|p| p.pid).collect::<Vec<_>>()),
    ));
    if stopped.len() != daemons.len() && !nodes.is_dry_run() {
        return Ok(Some(format!(
            "{MULTUS_DAEMON} PID {} is not stopped after SIGSTOP",
            list(&daemons)
        )));
    }
    if !busy_shim {
        return Ok(None);
    }
    // 2. A shim ADD waits for the frozen daemon (pkg/server/api
    // WaitUntilAPIReady: every 100 ms for up to 60 s), holding the binary
    // busy, and is frozen before its timeout can end it.
    let before = nodes.pids(n, MULTUS_SHIM_PROCESS).await?;
    let shim = nodes
        .spawn_exec(
            n,
            &[
                ("CNI_COMMAND", "ADD"),
                ("CNI_CONTAINERID", BUSY_SHIM_ID),
                ("CNI_NETNS", &format!("/var/run/netns/{BUSY_SHIM_ID}")),
                ("CNI_IFNAME", "eth0"),
                ("CNI_PATH", "/opt/cni/bin"),
            ],
            &[MULTUS_SHIM],
            conf,
            hold_for + SHIM_EXEC_MARGIN,
        )
        .await?;
    if !before.is_empty() {
        facts.push(fact(
            "multus-shim already running (not ours)",
            list(&before),
        ));
    }
    let mine = find_busy_shim(nodes, n, &before, &shim).await?;
    if nodes.is_dry_run() {
        let placeholder =
            format!("<PID of the {MULTUS_SHIM_PROCESS} with CNI_CONTAINERID={BUSY_SHIM_ID}>");
        nodes.exec(n, &["kill", "-s", "STOP", &placeholder]).await?;
        return Ok(None);
    }
    let Some(pid) = mine else {
        let why = if shim.is_finished() {
            match shim.await {
                Ok(Ok(out)) => {
                    format!("it exited with {}: {}", out.status, out.stderr_str().trim())
                }
                Ok(Err(e)) => e.to_string(),
                Err(e) => e.to_string(),
            }
        } else {
            "no new multus-shim process appeared".into()
        };
        facts.push(fact("busy multus-shim", why));
        return Ok(Some(
            "the multus-shim meant to hold the binary busy is not running; does something answer on the Multus socket?"
                .into(),
        ));
    };
    // The shim's `docker exec` goes on in the background until the undo
    // kills the shim (or the runner's timeout ends the client).
    drop(shim);
    if nodes.is_journaled() {
        journal_frozen(nodes, n, &[pid]).await?;
    }
    nodes.signal(n, &[pid], "STOP").await?;
    let Some((id, state)) = nodes.identify(n, pid).await? else {
        return Ok(Some(format!(
            "the busy multus-shim PID {pid} exited before it could be frozen"
        )));
    };
    frozen.push(id.clone());
    facts.push(fact("busy multus-shim frozen (SIGSTOP)", pid.to_string()));
    facts.push(fact(
        "busy multus-shim start time (ticks after boot)",
        id.start_time.to_string(),
    ));
    if !matches!(state, 'T' | 't') {
        return Ok(Some(format!(
            "the busy multus-shim PID {pid} is in state {state}, not stopped, after SIGSTOP"
        )));
    }
    Ok(None)
}

/// Records, before `pids` on `n` are frozen, the undo that kills them
/// again: each by PID, start time and name, read before the signal.
async fn journal_frozen(nodes: &DockerNodes, n: &str, pids: &[u32]) -> Result<(), KindError> {
    let mut processes = Vec::new();
    for pid in pids {
        if let Some((id, _)) = nodes.identify(n, *pid).await? {
            processes.push(id);
        }
    }
    nodes
        .intend(
            n,
            &Undo::KillFrozen {
                node: n.into(),
                processes,
            },
        )
        .await
}

/// The shim the fault started: new since `before` and carrying the fault's
/// own `CNI_CONTAINERID`, so a shim the runtime starts meanwhile for a real
/// pod is never taken for it (nor frozen, nor killed). Looked for every
/// [`POLL`] for up to [`SHIM_APPEAR`], or until its `docker exec` ended.
async fn find_busy_shim(
    nodes: &DockerNodes,
    n: &str,
    before: &[u32],
    shim: &tokio::task::JoinHandle<Result<crate::exec::Output, crate::exec::ExecError>>,
) -> Result<Option<u32>, KindError> {
    let deadline = tokio::time::Instant::now() + SHIM_APPEAR;
    let wanted = format!("CNI_CONTAINERID={BUSY_SHIM_ID}");
    loop {
        if !nodes.is_dry_run() {
            tokio::time::sleep(POLL).await;
        }
        for pid in nodes.pids(n, MULTUS_SHIM_PROCESS).await? {
            if before.contains(&pid) {
                continue;
            }
            let environ = nodes.read_file(n, &format!("/proc/{pid}/environ")).await?;
            if environ.is_some_and(|e| e.split(|b| *b == 0).any(|kv| kv == wanted.as_bytes())) {
                return Ok(Some(pid));
            }
        }
        if nodes.is_dry_run() || shim.is_finished() || tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
    }
}

/// Steps 3 and 4 of [`leftover_multus`] (through the API, then the node):
/// facts, why the fault did not take if it did not, and the new init
/// container's first run.
async fn replace_multus_pod(
    nodes: &DockerNodes,
    kubectl: &Kubectl,
    node: &NodeInfo,
    fault: &LeftoverMultusConfig,
    frozen: &FrozenMultus,
) -> Result<(Vec<(String, String)>, Option<String>, Option<MultusInit>), KindError> {
    let n = node.name.as_str();
    let delete = fault.multus_pod_delete();
    let (old, deleted) = delete_pods(kubectl, &delete, Some(node)).await?;
    let mut facts = deleted.facts.clone();
    if !deleted.took_effect && !kubectl.is_dry_run() {
        return Ok((facts, deleted.missing, None));
    }
    // The kubelet SIGTERMs the frozen daemon, waits the pod's grace, and
    // SIGKILLs it: the pod is gone only after that.
    let mut lingering = Vec::new();
    for pod in &old {
        if let Some(why) = wait_gone(kubectl, &delete.namespace, pod).await? {
            lingering.push(format!("{pod}: {why}"));
        }
    }
    facts.push(fact(
        "old Multus pod gone",
        if lingering.is_empty() {
            "yes".to_string()
        } else {
            format!("no ({})", lingering.join("; "))
        },
    ));
    for d in frozen.daemons() {
        let after = match nodes.still(n, d).await? {
            Still::Gone => "gone, without its clean exit".to_string(),
            Still::Same { state } => format!("still there (state {state})"),
            Still::Other(_) => "gone (its PID is another process's now)".to_string(),
        };
        facts.push(fact(
            format!("{MULTUS_DAEMON} {} after the delete", d.pid),
            after,
        ));
    }
    let conf_left = nodes.read_file(n, MULTUS_CONF).await?.is_some();
    facts.push(fact("00-multus.conf left", conf_left.to_string()));
    let (init_facts, init) =
        init_container_run(kubectl, n, &delete.namespace, &old, fault.busy_shim).await?;
    facts.extend(init_facts);
    let missing = if !lingering.is_empty() {
        Some(format!(
            "the old Multus pod was not gone {} after its delete: {}",
            duration::format(POD_GONE_WAIT),
            lingering.join("; ")
        ))
    } else if !conf_left {
        Some("00-multus.conf did not survive the frozen daemon's end".into())
    } else {
        None
    };
    Ok((facts, missing, init))
}

/// Waits (up to [`POD_GONE_WAIT`]) until `pod` (`pod/<name>`) is gone;
/// `None` when it is, else why not.
async fn wait_gone(
    kubectl: &Kubectl,
    namespace: &str,
    pod: &str,
) -> Result<Option<String>, KindError> {
    let out = kubectl
        .output(
            [
                "-n".to_string(),
                namespace.into(),
                "wait".into(),
                "--for=delete".into(),
                pod.into(),
                format!("--timeout={}s", POD_GONE_WAIT.as_secs()),
            ],
            POD_GONE_WAIT + KUBECTL_TIMEOUT,
        )
        .await?;
    let text = format!("{}{}", out.stdout_str(), out.stderr_str());
    // A pod that is gone before the watch starts is "not found".
    Ok(
        if out.success() || text.contains("NotFound") || text.contains("not found") {
            None
        } else {
            Some(text.trim().to_string())
        },
    )
}

/// What the replacement Multus pod's init container did on its first run,
/// waited for up to [`INIT_WAIT`]: its exit as facts, its last log line as
/// the fault's record (see [`crate::fault::multus`]); `shim_held` when the
/// fault's own frozen shim holds the binary through it.
async fn init_container_run(
    kubectl: &Kubectl,
    node: &str,
    namespace: &str,
    old: &[String],
    shim_held: bool,
) -> Result<(Vec<(String, String)>, Option<MultusInit>), KindError> {
    let deadline = tokio::time::Instant::now() + INIT_WAIT;
    let get = [
        "-n".to_string(),
        namespace.into(),
        "get".into(),
        "pods".into(),
        "-l".into(),
        MULTUS_SELECTOR.into(),
        "--field-selector".into(),
        format!("spec.nodeName={node}"),
        "-o".into(),
        "json".into(),
    ];
    let run = loop {
        let out = kubectl.run(get.clone(), KUBECTL_TIMEOUT).await?;
        if kubectl.is_dry_run() {
            break InitRun {
                pod: "<the new Multus pod>".into(),
                exit_code: 0,
                reason: String::new(),
            };
        }
        let list = serde_json::from_slice(&out.stdout).map_err(|e| {
            KindError::parse(
                kubectl.command(get.clone()).to_string(),
                e.to_string(),
                &out.stdout_str(),
            )
        })?;
        if let Some(run) = finished_init_run(&list, old) {
            break run;
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok((vec![no_init_run_fact(INIT_WAIT)], None));
        }
        tokio::time::sleep(INIT_POLL).await;
    };
    let out = kubectl
        .output(
            [
                "-n",
                namespace,
                "logs",
                run.pod.as_str(),
                "-c",
                MULTUS_INIT_CONTAINER,
                "--tail=1",
            ],
            KUBECTL_TIMEOUT,
        )
        .await?;
    let log = if out.success() {
        Ok(out.stdout_str().into_owned())
    } else {
        Err(out.stderr_str().trim().to_string())
    };
    let record = init_run_record(&run, log.as_deref().map_err(Clone::clone), shim_held);
    Ok((init_run_facts(&run), Some(record)))
}

/// The path a [`CniFile`] names on a node; `None` when Kube-OVN's conflist
/// is not there.
pub async fn resolve_cni_file(
    nodes: &DockerNodes,
    node: &str,
    file: &CniFile,
) -> Result<Option<String>, KindError> {
    Ok(match file {
        CniFile::Multus => Some(MULTUS_CONF.into()),
        CniFile::Path(p) => Some(p.clone()),
        // `${CNI_CONFIG_PRIORITY}-kube-ovn.conflist`, default 01 (FACTS.md).
        CniFile::KubeOvn => {
            if nodes.is_dry_run() {
                nodes.list_dir(node, CNI_CONF_DIR).await?;
                Some(format!("{CNI_CONF_DIR}/01-kube-ovn.conflist"))
            } else {
                let mut found: Vec<String> = nodes
                    .list_dir(node, CNI_CONF_DIR)
                    .await?
                    .into_iter()
                    .filter(|f| f.ends_with("-kube-ovn.conflist"))
                    .collect();
                found.sort();
                found.first().map(|f| format!("{CNI_CONF_DIR}/{f}"))
            }
        }
    })
}

/// Removes, truncates or removes-then-rewrites a CNI config file.
pub async fn cni_config(
    nodes: &DockerNodes,
    node: &str,
    file: &CniFile,
    action: CniConfigAction,
) -> Result<Injected, KindError> {
    let Some(path) = resolve_cni_file(nodes, node, file).await? else {
        return Ok(Injected {
            evidence: Evidence::no_effect(
                Some(node.into()),
                format!("no *-kube-ovn.conflist in {CNI_CONF_DIR} on {node}"),
            ),
            undo: None,
        });
    };
    let before = nodes.read_file(node, &path).await?;
    let Some(before) = before.or_else(|| nodes.is_dry_run().then(Vec::new)) else {
        return Ok(Injected {
            evidence: Evidence::no_effect(
                Some(node.into()),
                format!("{path} does not exist on {node}"),
            ),
            undo: None,
        });
    };
    if matches!(action, CniConfigAction::Truncate) && before.is_empty() && !nodes.is_dry_run() {
        // Truncating an empty file changes nothing: no fault to prove.
        return Ok(Injected {
            evidence: Evidence::no_effect(
                Some(node.into()),
                format!("{path} on {node} is already empty: truncating it would change nothing"),
            ),
            undo: None,
        });
    }
    let mode = nodes.file_mode(node, &path).await?;
    let restore = Undo::Restore {
        node: node.into(),
        path: path.clone(),
        bytes: before.clone(),
        mode: mode.clone(),
    };
    nodes.intend(node, &restore).await?;
    let (after_delay, want_empty) = match action {
        CniConfigAction::Remove => {
            nodes.remove_file(node, &path).await?;
            (None, false)
        }
        CniConfigAction::Truncate => {
            nodes.truncate_file(node, &path).await?;
            (None, true)
        }
        CniConfigAction::DelayedRewrite { delay } => {
            nodes.remove_file(node, &path).await?;
            (Some(delay), false)
        }
    };
    let after = nodes.read_file(node, &path).await?;
    let undo = Some(Scheduled {
        undo: restore,
        after: after_delay,
    });
    if nodes.is_dry_run() {
        return Ok(Injected {
            evidence: dry_run(node),
            undo,
        });
    }
    let mut facts = vec![
        fact("file", &path),
        fact("bytes before", before.len().to_string()),
        fact("mode before", mode.unwrap_or_default()),
    ];
    let took = match (&after, want_empty) {
        (None, false) => {
            facts.push(fact("after", "gone"));
            true
        }
        (Some(b), true) if b.is_empty() => {
            facts.push(fact("bytes after", "0"));
            true
        }
        _ => false,
    };
    let evidence = if took {
        Evidence::proven(Some(node.into()), facts)
    } else {
        let mut e = Evidence::no_effect(
            Some(node.into()),
            format!(
                "{path} is {} after the fault",
                after.map_or("missing".to_string(), |b| format!("{} bytes", b.len()))
            ),
        );
        e.facts = facts;
        e
    };
    Ok(Injected { evidence, undo })
}

async fn partition(
    nodes: &DockerNodes,
    node: &str,
    duration: Duration,
) -> Result<Injected, KindError> {
    let before = nodes.guarded(node).await?;
    let net = nodes.network().to_string();
    let ip = before.networks.get(&net).cloned();
    let ip6 = before.networks_v6.get(&net).cloned();
    if ip.is_none() && !nodes.is_dry_run() {
        return Ok(Injected {
            evidence: Evidence::no_effect(
                Some(node.into()),
                format!("{node} is not attached to network {net}"),
            ),
            undo: None,
        });
    }
    let reconnect = Undo::Reconnect {
        node: node.into(),
        ip_before: ip
            .clone()
            .filter(|ip| !ip.is_empty() && !nodes.is_dry_run()),
        ip6_before: ip6.clone().filter(|_| !nodes.is_dry_run()),
    };
    nodes.intend(node, &reconnect).await?;
    nodes.disconnect(node).await?;
    let after = nodes.state(node).await?;
    let undo = Some(Scheduled {
        undo: reconnect,
        after: Some(duration),
    });
    if nodes.is_dry_run() {
        return Ok(Injected {
            evidence: dry_run(node),
            undo,
        });
    }
    // The address after the heal is reported by the reconnect and judged
    // by node-ip-stable (it may differ: see DockerNodes::connect).
    let mut facts = vec![
        fact("network", &net),
        fact("IP before", ip.unwrap_or_default()),
    ];
    if let Some(ip6) = ip6 {
        facts.push(fact("IPv6 before", ip6));
    }
    let evidence = if after.networks.contains_key(&net) {
        let mut e = Evidence::no_effect(
            Some(node.into()),
            format!("{node} is still attached to {net} after the disconnect"),
        );
        e.facts = facts;
        e
    } else {
        facts.push(fact("attached after", "no"));
        Evidence::proven(Some(node.into()), facts)
    };
    Ok(Injected { evidence, undo })
}

/// Deletes the pods `p` selects (on `node` when given); proven by kubectl
/// naming each deleted pod. A selector that matches nothing is no effect,
/// never a pass.
pub async fn pod_delete(
    kubectl: &Kubectl,
    p: &PodDelete,
    node: Option<&NodeInfo>,
) -> Result<Injected, KindError> {
    let (_, evidence) = delete_pods(kubectl, p, node).await?;
    Ok(Injected {
        evidence,
        undo: None,
    })
}

/// [`pod_delete`], also returning the pods it deleted (`pod/<name>`; a
/// placeholder in a dry run).
async fn delete_pods(
    kubectl: &Kubectl,
    p: &PodDelete,
    node: Option<&NodeInfo>,
) -> Result<(Vec<String>, Evidence), KindError> {
    let selector = p.selector.to_string();
    let mut get = vec![
        "-n".to_string(),
        p.namespace.clone(),
        "get".into(),
        "pods".into(),
        "-l".into(),
        selector.clone(),
    ];
    if let Some(n) = node {
        get.push("--field-selector".into());
        get.push(format!("spec.nodeName={}", n.name));
    }
    get.extend(["-o".into(), "name".into()]);
    let out = kubectl.run(get, KUBECTL_TIMEOUT).await?;
    let mut pods = non_empty_lines(&out);
    let on = node.map(|n| n.name.clone());
    if kubectl.is_dry_run() {
        pods = vec![format!("<pods {selector} lists>")];
    }
    if pods.is_empty() {
        let evidence = Evidence::no_effect(
            on,
            format!(
                "selector {selector} matched no pod in {}{}",
                p.namespace,
                node.map(|n| format!(" on {}", n.name)).unwrap_or_default()
            ),
        );
        return Ok((pods, evidence));
    }
    let mut del = vec!["-n".to_string(), p.namespace.clone(), "delete".into()];
    del.extend(pods.iter().cloned());
    del.push("--wait=false".into());
    if let Some(g) = p.grace_period {
        del.push(format!("--grace-period={}", g.as_secs()));
    }
    let out = kubectl.run(del, KUBECTL_TIMEOUT).await?;
    if kubectl.is_dry_run() {
        return Ok((pods, Evidence::planned(on, DRY_RUN)));
    }
    let text = out.stdout_str();
    let deleted: Vec<&String> = pods
        .iter()
        .filter(|pod| {
            text.contains(&format!("{pod} deleted"))
                || text.contains(&format!("\"{}\" deleted", pod.trim_start_matches("pod/")))
        })
        .collect();
    let evidence = if deleted.len() == pods.len() {
        Evidence::proven(on, vec![fact("deleted", pods.join(","))])
    } else {
        Evidence::no_effect(
            on,
            format!("kubectl did not confirm deleting all of {pods:?}: {text}"),
        )
    };
    Ok((pods, evidence))
}

/// Runs an undo; returns what it did.
pub async fn undo(nodes: &DockerNodes, undo: &Undo) -> Result<String, KindError> {
    Ok(undo_recorded(nodes, undo).await?.0)
}

/// [`undo`], with the node container's addresses when it healed a
/// partition (the guard of `node-ip-stable`).
pub async fn undo_recorded(
    nodes: &DockerNodes,
    undo: &Undo,
) -> Result<(String, Option<HealedAddress>), KindError> {
    let done = undo_steps(nodes, undo).await?;
    nodes.undone(undo)?;
    Ok(done)
}

async fn undo_steps(
    nodes: &DockerNodes,
    undo: &Undo,
) -> Result<(String, Option<HealedAddress>), KindError> {
    let text = match undo {
        Undo::Start { node } => {
            let state = nodes.state(node).await?;
            if state.running && !nodes.is_dry_run() {
                format!("{node} is running; left as is")
            } else {
                nodes.start(node).await?;
                format!("started {node}")
            }
        }
        Undo::Continue { node, process, .. } if nodes.is_dry_run() => {
            let placeholder = pid_placeholder(process);
            nodes
                .exec(node, &["kill", "-s", "CONT", &placeholder])
                .await?;
            format!("SIGCONT {process} on {node}")
        }
        Undo::Continue {
            node,
            process,
            pids,
        } => {
            // Only the stopped daemons themselves: a PID reused since by
            // another program is left alone.
            let mut live = Vec::new();
            for pid in pids {
                if nodes.is_live(node, *pid, process).await? {
                    live.push(*pid);
                }
            }
            if !live.is_empty() {
                nodes.signal(node, &live, "CONT").await?;
            }
            format!("SIGCONT {live:?} on {node}")
        }
        Undo::Reconnect {
            node,
            ip_before,
            ip6_before,
        } => return reconnect(nodes, node, ip_before.as_deref(), ip6_before.as_deref()).await,
        Undo::Restore {
            node,
            path,
            bytes,
            mode,
        } => {
            let now = nodes.read_file(node, path).await?;
            // A restore cut short by a kill (the journal replays it) may
            // have written part of the file, or all of it but not the mode.
            let torn = now
                .as_ref()
                .is_some_and(|n| !n.is_empty() && n.len() < bytes.len() && bytes.starts_with(n));
            let back = !bytes.is_empty() && now.as_deref() == Some(bytes.as_slice());
            if back && !nodes.is_dry_run() {
                let had = nodes.file_mode(node, path).await?;
                return Ok((
                    match mode {
                        Some(m) if had.as_ref() != Some(m) => {
                            nodes.chmod(node, m, path).await?;
                            format!(
                                "{path} on {node} has its contents back; mode {} set to {m}",
                                had.as_deref().unwrap_or("unknown")
                            )
                        }
                        _ => format!("{path} on {node} has its contents and mode back; left as is"),
                    },
                    None,
                ));
            }
            if nodes.is_dry_run() || now.as_ref().is_none_or(Vec::is_empty) || torn {
                nodes.write_file(node, path, bytes).await?;
                // tee makes a missing file with the umask's mode (0644) and
                // keeps a truncated one's: set the one it had.
                let mode = match mode {
                    Some(m) => Some(m.clone()),
                    None if nodes.is_dry_run() => {
                        Some(format!("<mode of {path} before the fault>"))
                    }
                    None => None,
                };
                if let Some(m) = &mode {
                    nodes.chmod(node, m, path).await?;
                }
                format!(
                    "restored {path} ({} bytes, mode {}) on {node}",
                    bytes.len(),
                    mode.as_deref().unwrap_or("unknown")
                )
            } else {
                format!("{path} on {node} was rewritten already; left as is")
            }
        }
        Undo::RemoveStale { node, netns, ports } => {
            // The namespaces go even when the ports cannot (no ovs-ovn pod).
            let ports_removed = if ports.is_empty() {
                Ok(())
            } else {
                remove_stale_ports(nodes, node, ports).await
            };
            let mut removed = Vec::new();
            if !netns.is_empty() {
                let present = nodes.netns_list(node).await?;
                for ns in netns {
                    if (nodes.is_dry_run() || present.contains(ns)) && ns.starts_with(STALE_PREFIX)
                    {
                        nodes.netns_delete(node, ns).await?;
                        removed.push(ns.clone());
                    }
                }
            }
            ports_removed?;
            format!("removed netns {removed:?} and ports {ports:?} on {node}")
        }
        Undo::KillFrozen { node, .. } if nodes.is_dry_run() => {
            for what in [
                format!("<PID of the busy {MULTUS_SHIM_PROCESS}, if still the process frozen>"),
                format!("<PIDs of {MULTUS_DAEMON}, if still the processes frozen>"),
            ] {
                nodes.exec(node, &["kill", "-s", "KILL", &what]).await?;
            }
            format!("killed the frozen {MULTUS_SHIM_PROCESS} and {MULTUS_DAEMON} on {node}")
        }
        Undo::KillFrozen { node, processes } => {
            let (mut killed, mut gone, mut other) = (Vec::new(), Vec::new(), Vec::new());
            // Every process gets its try: one that cannot be checked or
            // killed does not leave the others frozen; the first error is
            // returned after.
            let mut first_err = None;
            for p in processes {
                let still = match nodes.still(node, p).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!("checking {p} on {node} failed: {e}");
                        first_err.get_or_insert(e);
                        continue;
                    }
                };
                match still {
                    Still::Same { .. } => match nodes.signal_unless_gone(node, p.pid, "KILL").await
                    {
                        Ok(true) => killed.push(p.to_string()),
                        Ok(false) => gone.push(p.to_string()),
                        Err(e) => {
                            tracing::error!("killing {p} on {node} failed: {e}");
                            first_err.get_or_insert(e);
                        }
                    },
                    Still::Gone => gone.push(p.to_string()),
                    Still::Other(now) => {
                        tracing::warn!(
                            "{p} on {node} is gone and its PID is {now:?} now: left alone"
                        );
                        other.push(format!(
                            "{p}: PID now {} started at tick {}",
                            now.comm,
                            now.start_time.map_or("?".into(), |t| t.to_string())
                        ));
                    }
                }
            }
            if let Some(e) = first_err {
                return Err(e);
            }
            format!(
                "on {node}: killed [{}]; already gone [{}]; left alone (PID reused) [{}]",
                killed.join(", "),
                gone.join(", "),
                other.join(", ")
            )
        }
    };
    Ok((text, None))
}

/// Reconnects a partitioned node with its old addresses
/// ([`DockerNodes::connect`]) and reports whether it kept them.
async fn reconnect(
    nodes: &DockerNodes,
    node: &str,
    ip_before: Option<&str>,
    ip6_before: Option<&str>,
) -> Result<(String, Option<HealedAddress>), KindError> {
    let state = nodes.state(node).await?;
    let net = nodes.network();
    if !nodes.is_dry_run() && state.networks.contains_key(net) {
        return Ok((format!("{node} was already connected to {net}"), None));
    }
    let (ip, ip6) = if nodes.is_dry_run() {
        (
            Some(format!("<IPv4 of {node} on {net} before the partition>")),
            Some(format!(
                "<IPv6 of {node} on {net} before the partition, if any>"
            )),
        )
    } else {
        (
            ip_before.map(str::to_string),
            ip6_before.map(str::to_string),
        )
    };
    let how = nodes.connect(node, ip.as_deref(), ip6.as_deref()).await?;
    if nodes.is_dry_run() {
        return Ok((format!("reconnected {node} to {net}"), None));
    }
    let after = nodes.state(node).await?;
    let ip_after = after.networks.get(net).cloned().unwrap_or_default();
    let before = ip_before.unwrap_or("unknown");
    let pinned = if ip_before.is_none() && ip6_before.is_none() {
        "(no address was recorded)".to_string()
    } else {
        format!("({how})")
    };
    let text = if ip_before == Some(ip_after.as_str()) {
        format!("reconnected {node} to {net} {pinned}: IP before {before}, after {ip_after} (kept)")
    } else {
        tracing::warn!(
            "{node} came back on {net} with another address: {before} -> {ip_after}; node-ip-stable compares it with the node's InternalIP"
        );
        format!(
            "reconnected {node} to {net} {pinned}: IP before {before}, after {ip_after} (changed)"
        )
    };
    let heal = HealedAddress {
        node: node.to_string(),
        before: ip_before.map(str::to_string),
        after: ip_after,
    };
    Ok((text, Some(heal)))
}

async fn remove_stale_ports(
    nodes: &DockerNodes,
    node: &str,
    ports: &[String],
) -> Result<(), KindError> {
    let ovs = nodes.ovs(node).await?;
    for port in ports {
        ovs.del_port(INTEGRATION_BRIDGE, port).await?;
    }
    Ok(())
}

/// PIDs as evidence shows them: `240,311`.
fn list(pids: &[u32]) -> String {
    pids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Why a dry run proves nothing.
const DRY_RUN: &str = "dry run (CHAOS_DRY_RUN=1): nothing was executed, so nothing is proven";

fn dry_run(node: &str) -> Evidence {
    Evidence::planned(Some(node.into()), DRY_RUN)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::backend::kind::{Guard, OvsCommands, inspect_json};
    use crate::exec::{Command, ExecError, Output, Runner};
    use crate::fault::{CniConfig, NetworkPartition, NodeReboot, NodeRole, NodeTarget};
    use crate::journal::{Journal, Resource};

    /// Answers like node `chaos-a-worker` of cluster `chaos-a`, and notes
    /// for every command how many faults the journal in `journal` held
    /// when it ran.
    #[derive(Debug)]
    struct Node {
        journal: PathBuf,
        seen: Mutex<Vec<(String, usize)>>,
    }

    #[async_trait::async_trait]
    impl Runner for Node {
        async fn output(&self, cmd: &Command) -> Result<Output, ExecError> {
            let line = cmd.to_string();
            let faults = Journal::at(&self.journal)
                .runs()
                .unwrap()
                .iter()
                .flat_map(|r| r.pending.clone())
                .filter(|p| matches!(p.resource, Resource::NodeFault { .. }))
                .count();
            self.seen.lock().unwrap().push((line.clone(), faults));
            Ok(if line.starts_with("docker inspect") {
                Output::ok(inspect_json(
                    "chaos-a-worker",
                    Some("chaos-a"),
                    "worker",
                    "2026-12-03T10:00:00Z",
                    &[("kind", "172.18.0.3")],
                ))
            } else if line.starts_with("docker cp ") {
                // An empty tar archive: its two end-of-archive blocks.
                Output::ok(vec![0u8; 1024])
            } else if line.contains(" cat ") {
                Output::ok("{}")
            } else if line.contains(" stat -c ") {
                Output::ok("600\n")
            } else {
                Output::ok("")
            })
        }
    }

    /// Each injector records its undo in the journal after reading what
    /// it needs and before its first destructive command: the write-ahead
    /// rule the kill tests rely on.
    #[tokio::test]
    async fn the_undo_is_journaled_before_the_fault_acts() {
        let target = NodeTarget::Name {
            name: "worker".into(),
        };
        let cases = [
            (
                Fault::NetworkPartition(NetworkPartition {
                    target: target.clone(),
                    duration: Duration::from_secs(1),
                }),
                "docker network disconnect kind chaos-a-worker",
            ),
            (
                Fault::CniConfig(CniConfig {
                    target: target.clone(),
                    action: CniConfigAction::Remove,
                    file: CniFile::Path("/etc/cni/net.d/01-kube-ovn.conflist".into()),
                }),
                "docker exec chaos-a-worker rm -f /etc/cni/net.d/01-kube-ovn.conflist",
            ),
            (
                Fault::NodeReboot(NodeReboot {
                    target,
                    mode: RebootMode::Hard,
                    timeout: Duration::from_secs(1),
                }),
                "docker kill --signal KILL chaos-a-worker",
            ),
        ];
        let node = NodeInfo {
            name: "chaos-a-worker".into(),
            role: NodeRole::Worker,
            internal_ip: None,
        };
        for (fault, action) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let journal = Arc::new(Journal::at(tmp.path()).begin(None).unwrap());
            let runner = Arc::new(Node {
                journal: tmp.path().to_path_buf(),
                seen: Mutex::default(),
            });
            let nodes = DockerNodes::new(
                runner.clone(),
                "chaos-a",
                Guard::harness(None),
                OvsCommands::NodeContainer,
            )
            .with_journal(Some(journal.clone()));
            let _ = inject(&nodes, None, &fault, Some(&node)).await.unwrap();
            let seen = runner.seen.lock().unwrap().clone();
            let at = seen
                .iter()
                .position(|(l, _)| l == action)
                .unwrap_or_else(|| panic!("{fault}: no `{action}` in {seen:?}"));
            assert_eq!(seen[0].1, 0, "{fault}: {seen:?}");
            assert_eq!(
                seen[at].1, 1,
                "{fault}: not journaled before `{action}`: {seen:?}"
            );
        }
    }
}
