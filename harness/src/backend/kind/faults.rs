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
use super::docker::{DockerNodes, non_empty_lines};
use super::kubectl::{KUBECTL_TIMEOUT, Kubectl};
use super::ovs;
use crate::backend::NodeInfo;
use crate::fault::{
    CniConfigAction, CniFile, Evidence, Fault, LeftoverMultusConfig, MULTUS_DAEMON, NodeDisk,
    OvsSignal, PodDelete, RebootMode,
};
use crate::util::tar;

/// Where kind nodes (and the runtime) keep CNI configs.
pub const CNI_CONF_DIR: &str = "/etc/cni/net.d";
/// Multus' generated config (FACTS.md, "Auto config").
pub const MULTUS_CONF: &str = "/etc/cni/net.d/00-multus.conf";
/// Multus' shim binary.
pub const MULTUS_SHIM: &str = "/opt/cni/bin/multus-shim";
/// Its process name.
const SHIM_NAME: &str = "multus-shim";
/// The `CNI_CONTAINERID` (and netns name) of the busy shim the
/// leftover-multus-config fault starts: how it is told from the runtime's.
const BUSY_SHIM_ID: &str = "cni-chaos-busy-shim";
/// How long the busy shim's `docker exec` may run: the shim gives up after
/// its 60 s readiness wait (multus-cni pkg/server/api, APIReadyPollTimeout).
const SHIM_TIMEOUT: Duration = Duration::from_secs(90);
/// Kube-OVN's integration bridge, where pod ports live.
pub const INTEGRATION_BRIDGE: &str = "br-int";
/// Prefix of the network namespaces and OVS ports the stale-netns fault makes.
pub const STALE_PREFIX: &str = "chaos-stale-";
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

/// What undoes a fault.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// Reconnect the node to the cluster network (Docker picks the
    /// address; see [`DockerNodes::connect`]).
    Reconnect {
        /// The node.
        node: String,
        /// Its address on the network before the partition, to report
        /// whether it came back with the same one.
        ip_before: Option<String>,
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
    /// Kill the shims the fault started to keep `multus-shim` busy, and
    /// only those (never the runtime's own CNI calls).
    KillShims {
        /// The node.
        node: String,
        /// Their PIDs in the node.
        pids: Vec<u32>,
    },
}

impl Undo {
    /// The node it acts on.
    pub fn node(&self) -> &str {
        match self {
            Undo::Continue { node, .. }
            | Undo::Reconnect { node, .. }
            | Undo::Restore { node, .. }
            | Undo::RemoveStale { node, .. }
            | Undo::KillShims { node, .. } => node,
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
    match grace {
        Some(grace) => nodes.stop(node, grace).await?,
        None => nodes.kill(node).await?,
    }
    // The node is down: copy, then start it whatever the copy says, so a
    // failed copy never leaves the node stopped.
    let copied = node_disk(nodes, node).await;
    nodes.start(node).await?;
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

/// Creates `count` unused network namespaces (and, with `ovs_ports`, an
/// unused OVS port for each). When a step fails, whatever was already
/// created is removed again before the error is returned, so a failed
/// injection leaks nothing.
async fn stale_netns(
    nodes: &DockerNodes,
    node: &str,
    count: u32,
    ovs_ports: bool,
) -> Result<Injected, KindError> {
    let names: Vec<String> = (0..count).map(|i| format!("{STALE_PREFIX}{i}")).collect();
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
            match self::undo(nodes, &undo).await {
                Ok(did) => tracing::warn!("stale-netns on {node} failed; {did}"),
                Err(cleanup) => tracing::error!(
                    "stale-netns on {node} failed, and so did removing what it made ({undo:?}): {cleanup}"
                ),
            }
            Err(e)
        }
    }
}

/// The steps of [`stale_netns`]; records each namespace and port in `netns`
/// and `ports` as soon as it exists.
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
        for ns in names {
            ovs.add_stale_port(INTEGRATION_BRIDGE, ns).await?;
            ports.push(ns.clone());
        }
    }
    let present = nodes.netns_list(node).await?;
    let stale = nodes.stale_netns(node).await?;
    let listed_ports = match &ovs {
        Some(ovs) => ovs.ports(INTEGRATION_BRIDGE).await?,
        None => Vec::new(),
    };
    if nodes.is_dry_run() {
        return Ok(dry_run(node));
    }
    let missing: Vec<&String> = names.iter().filter(|n| !stale.contains(n)).collect();
    let missing_ports: Vec<&String> = ports.iter().filter(|p| !listed_ports.contains(p)).collect();
    let mut facts = vec![
        fact("stale netns", names.join(",")),
        fact("netns on node", present.len().to_string()),
    ];
    if ovs_ports {
        facts.push(fact(
            format!("stale ports on {INTEGRATION_BRIDGE}"),
            ports.join(","),
        ));
    }
    Ok(if missing.is_empty() && missing_ports.is_empty() {
        Evidence::proven(Some(node.into()), facts)
    } else {
        let mut e = Evidence::no_effect(
            Some(node.into()),
            format!(
                "not present (or not stale) after creation: netns {missing:?}, ports {missing_ports:?}"
            ),
        );
        e.facts = facts;
        e
    })
}

/// The multus-cni #1221 race without a reboot: SIGKILL the Multus daemon (no
/// clean exit, so `00-multus.conf` stays and nothing answers on its socket),
/// optionally start a `multus-shim` ADD that waits for it and keeps the
/// binary busy, then replace the node's Multus pod (`--grace-period=0`) so
/// its init container installs the shim again: with a racy Multus the `cp`
/// meets the busy file. Proven when the daemon was killed, the config is
/// still there, the shim is running (if asked for) and the pod was deleted.
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
    // 1. The daemon dies without cleanup.
    let daemons = nodes.pids(n, MULTUS_DAEMON).await?;
    if daemons.is_empty() && !nodes.is_dry_run() {
        return Ok(Injected {
            evidence: Evidence::no_effect(on, format!("no {MULTUS_DAEMON} runs on {n}")),
            undo: None,
        });
    }
    if nodes.is_dry_run() {
        let placeholder = format!("<PIDs of {MULTUS_DAEMON}>");
        nodes.exec(n, &["kill", "-s", "KILL", &placeholder]).await?;
    } else {
        nodes.signal(n, &daemons, "KILL").await?;
    }
    let mut facts = vec![fact("multus-daemon killed (SIGKILL)", list(&daemons))];
    // 2. A shim ADD waits for it (pkg/server/api WaitUntilAPIReady: every
    // 100 ms for up to 60 s), holding the binary busy.
    let mut undo = None;
    let mut shim_ok = true;
    if fault.busy_shim {
        let before = nodes.pids(n, SHIM_NAME).await?;
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
                conf.clone().unwrap_or_default(),
                SHIM_TIMEOUT,
            )
            .await?;
        if !nodes.is_dry_run() {
            tokio::time::sleep(POLL * 5).await;
        }
        // Ours: new since the fault began and carrying the fault's own
        // CNI_CONTAINERID, so a shim the runtime started meanwhile for a
        // real pod is never taken for it (nor killed by the undo).
        let mut mine = Vec::new();
        for pid in nodes.pids(n, SHIM_NAME).await? {
            if before.contains(&pid) {
                continue;
            }
            let environ = nodes.read_file(n, &format!("/proc/{pid}/environ")).await?;
            if environ.is_some_and(|e| {
                e.split(|b| *b == 0)
                    .any(|kv| kv == format!("CNI_CONTAINERID={BUSY_SHIM_ID}").as_bytes())
            }) {
                mine.push(pid);
            }
        }
        undo = Some(Scheduled {
            undo: Undo::KillShims {
                node: n.into(),
                pids: mine.clone(),
            },
            after: None,
        });
        if !before.is_empty() {
            facts.push(fact(
                "multus-shim already running (not ours)",
                list(&before),
            ));
        }
        if mine.is_empty() && !nodes.is_dry_run() {
            shim_ok = false;
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
        } else {
            facts.push(fact("busy multus-shim PID", list(&mine)));
        }
    }
    // 3. The Multus pod is replaced: its init container runs again.
    let deleted = pod_delete(kubectl, &fault.multus_pod_delete(), Some(node)).await?;
    if nodes.is_dry_run() {
        return Ok(Injected {
            evidence: dry_run(n),
            undo,
        });
    }
    facts.extend(deleted.evidence.facts.clone());
    let conf_left = nodes.read_file(n, MULTUS_CONF).await?.is_some();
    facts.push(fact("00-multus.conf left", conf_left.to_string()));
    let missing = if !deleted.evidence.took_effect {
        deleted.evidence.missing.clone()
    } else if !conf_left {
        Some("00-multus.conf did not survive the daemon's death".into())
    } else if !shim_ok {
        Some("the multus-shim meant to hold the binary busy is not running; does something answer on the Multus socket?".into())
    } else {
        None
    };
    let evidence = match missing {
        None => Evidence::proven(on, facts),
        Some(why) => {
            let mut e = Evidence::no_effect(on, why);
            e.facts = facts;
            e
        }
    };
    Ok(Injected { evidence, undo })
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
        undo: Undo::Restore {
            node: node.into(),
            path: path.clone(),
            bytes: before.clone(),
            mode: mode.clone(),
        },
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
    if ip.is_none() && !nodes.is_dry_run() {
        return Ok(Injected {
            evidence: Evidence::no_effect(
                Some(node.into()),
                format!("{node} is not attached to network {net}"),
            ),
            undo: None,
        });
    }
    nodes.disconnect(node).await?;
    let after = nodes.state(node).await?;
    let undo = Some(Scheduled {
        undo: Undo::Reconnect {
            node: node.into(),
            ip_before: ip
                .clone()
                .filter(|ip| !ip.is_empty() && !nodes.is_dry_run()),
        },
        after: Some(duration),
    });
    if nodes.is_dry_run() {
        return Ok(Injected {
            evidence: dry_run(node),
            undo,
        });
    }
    // The address after the heal is reported by the reconnect (it may
    // differ: Docker's IPAM picks it).
    let facts = vec![
        fact("network", &net),
        fact("IP before", ip.unwrap_or_default()),
    ];
    let evidence = if after.networks.contains_key(&net) {
        let mut e = Evidence::no_effect(
            Some(node.into()),
            format!("{node} is still attached to {net} after the disconnect"),
        );
        e.facts = facts;
        e
    } else {
        let mut facts = facts;
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
        return Ok(Injected {
            evidence: Evidence::no_effect(
                on,
                format!(
                    "selector {selector} matched no pod in {}{}",
                    p.namespace,
                    node.map(|n| format!(" on {}", n.name)).unwrap_or_default()
                ),
            ),
            undo: None,
        });
    }
    let mut del = vec!["-n".to_string(), p.namespace.clone(), "delete".into()];
    del.extend(pods.iter().cloned());
    del.push("--wait=false".into());
    if let Some(g) = p.grace_period {
        del.push(format!("--grace-period={}", g.as_secs()));
    }
    let out = kubectl.run(del, KUBECTL_TIMEOUT).await?;
    if kubectl.is_dry_run() {
        return Ok(Injected {
            evidence: Evidence::planned(on, DRY_RUN),
            undo: None,
        });
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
    Ok(Injected {
        evidence,
        undo: None,
    })
}

/// Runs an undo; returns what it did.
pub async fn undo(nodes: &DockerNodes, undo: &Undo) -> Result<String, KindError> {
    Ok(match undo {
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
        Undo::Reconnect { node, ip_before } => {
            let state = nodes.state(node).await?;
            let net = nodes.network();
            if !nodes.is_dry_run() && state.networks.contains_key(net) {
                return Ok(format!("{node} was already connected to {net}"));
            }
            nodes.connect(node).await?;
            if nodes.is_dry_run() {
                return Ok(format!("reconnected {node} to {net}"));
            }
            let after = nodes.state(node).await?;
            let ip_after = after.networks.get(net).cloned().unwrap_or_default();
            let before = ip_before.as_deref().unwrap_or("unknown");
            if ip_before.as_deref() == Some(ip_after.as_str()) {
                format!("reconnected {node} to {net}: IP before {before}, after {ip_after} (kept)")
            } else {
                tracing::warn!(
                    "{node} came back on {net} with another address: {before} -> {ip_after}; the node-ip-stable SLO judges whether its InternalIP followed"
                );
                format!(
                    "reconnected {node} to {net}: IP before {before}, after {ip_after} (changed)"
                )
            }
        }
        Undo::Restore {
            node,
            path,
            bytes,
            mode,
        } => {
            let now = nodes.read_file(node, path).await?;
            if nodes.is_dry_run() || now.as_ref().is_none_or(Vec::is_empty) {
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
        Undo::KillShims { node, pids } if nodes.is_dry_run() => {
            let placeholder = format!("<PIDs of the {SHIM_NAME} the fault started>");
            nodes
                .exec(node, &["kill", "-s", "KILL", &placeholder])
                .await?;
            format!("killed the {SHIM_NAME} {pids:?} the fault started on {node}")
        }
        Undo::KillShims { node, pids } => {
            // Only those still running as multus-shim: a PID may have been
            // reused once the shim gave up by itself.
            let mut live = Vec::new();
            for pid in pids {
                if nodes.is_live(node, *pid, SHIM_NAME).await? {
                    live.push(*pid);
                }
            }
            if !live.is_empty() {
                nodes.signal(node, &live, "KILL").await?;
            }
            format!("killed the {SHIM_NAME} {live:?} the fault started on {node}")
        }
    })
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
