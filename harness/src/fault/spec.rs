//! Fault kinds and their parameters, as written in suite files.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::suite::LabelSelector;
use crate::util::duration;

/// A fault to inject; one variant per kind (see DESIGN.md, "Faults").
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Fault {
    /// Reboot a node container: `docker stop` (graceful: an orderly systemd
    /// shutdown on a kind node) or `docker kill --signal KILL` (hard: a
    /// crash), the node's CNI files copied out while it is down, then `docker start`.
    NodeReboot(NodeReboot),
    /// Kill or freeze an Open vSwitch daemon on a node.
    OvsKill(OvsKill),
    /// Leave network namespaces (optionally with OVS ports) behind, as an unclean shutdown does.
    StaleNetns(StaleNetns),
    /// The multus-cni #1221 race without a reboot: the Multus daemon is
    /// frozen, a `multus-shim` started against it is frozen too and holds
    /// its binary busy for `hold-for`, and the node's Multus pod is deleted
    /// with its own grace period (the kubelet's SIGTERM never reaches the
    /// frozen daemon's cleanup, so `00-multus.conf` stays) so its
    /// replacement's init container reinstalls the shim over the busy file.
    LeftoverMultusConfig(LeftoverMultusConfig),
    /// Remove, truncate or rewrite-with-delay a CNI config file.
    CniConfig(CniConfig),
    /// Delete pods through the API.
    PodDelete(PodDelete),
    /// Disconnect a node from the cluster network for a while.
    NetworkPartition(NetworkPartition),
}

/// The kind of a fault, without parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// [`Fault::NodeReboot`]
    NodeReboot,
    /// [`Fault::OvsKill`]
    OvsKill,
    /// [`Fault::StaleNetns`]
    StaleNetns,
    /// [`Fault::LeftoverMultusConfig`]
    LeftoverMultusConfig,
    /// [`Fault::CniConfig`]
    CniConfig,
    /// [`Fault::PodDelete`]
    PodDelete,
    /// [`Fault::NetworkPartition`]
    NetworkPartition,
}

impl FaultKind {
    /// Every kind, in documentation order.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::NodeReboot,
        FaultKind::OvsKill,
        FaultKind::StaleNetns,
        FaultKind::LeftoverMultusConfig,
        FaultKind::CniConfig,
        FaultKind::PodDelete,
        FaultKind::NetworkPartition,
    ];

    /// The name used in suite files.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::NodeReboot => "node-reboot",
            FaultKind::OvsKill => "ovs-kill",
            FaultKind::StaleNetns => "stale-netns",
            FaultKind::LeftoverMultusConfig => "leftover-multus-config",
            FaultKind::CniConfig => "cni-config",
            FaultKind::PodDelete => "pod-delete",
            FaultKind::NetworkPartition => "network-partition",
        }
    }
}

impl Fault {
    /// This fault's kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::NodeReboot(_) => FaultKind::NodeReboot,
            Fault::OvsKill(_) => FaultKind::OvsKill,
            Fault::StaleNetns(_) => FaultKind::StaleNetns,
            Fault::LeftoverMultusConfig(_) => FaultKind::LeftoverMultusConfig,
            Fault::CniConfig(_) => FaultKind::CniConfig,
            Fault::PodDelete(_) => FaultKind::PodDelete,
            Fault::NetworkPartition(_) => FaultKind::NetworkPartition,
        }
    }

    /// How long after its injection the fault still acts by itself: the
    /// SIGCONT after `stop-for`, the rewrite after `delay`, the frozen
    /// shim's end after `hold-for`, the heal after a partition's
    /// `duration`. Observation never ends before this has passed (with a
    /// settle window after it): what the fault does then is part of it.
    pub fn acts_until(&self) -> Duration {
        match self {
            Fault::OvsKill(k) => k.stop_for.unwrap_or_default(),
            Fault::LeftoverMultusConfig(l) if l.busy_shim => l.hold_for,
            Fault::CniConfig(c) => match c.action {
                CniConfigAction::DelayedRewrite { delay } => delay,
                _ => Duration::ZERO,
            },
            Fault::NetworkPartition(p) => p.duration,
            Fault::NodeReboot(_)
            | Fault::StaleNetns(_)
            | Fault::LeftoverMultusConfig(_)
            | Fault::PodDelete(_) => Duration::ZERO,
        }
    }

    /// The node the fault acts on, if it acts on one.
    pub fn target(&self) -> Option<&NodeTarget> {
        match self {
            Fault::NodeReboot(f) => Some(&f.target),
            Fault::OvsKill(f) => Some(&f.target),
            Fault::StaleNetns(f) => Some(&f.target),
            Fault::LeftoverMultusConfig(f) => Some(&f.target),
            Fault::CniConfig(f) => Some(&f.target),
            Fault::PodDelete(f) => f.target.as_ref(),
            Fault::NetworkPartition(f) => Some(&f.target),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::NodeReboot(r) => {
                let mode = match r.mode {
                    RebootMode::Graceful => "graceful",
                    RebootMode::Hard => "hard",
                };
                write!(f, "{mode} reboot of {}", r.target)
            }
            Fault::OvsKill(k) => {
                write!(f, "{} {} on {}", k.signal, k.process, k.target)?;
                if let Some(d) = k.stop_for {
                    write!(f, " for {}", duration::format(d))?;
                }
                Ok(())
            }
            Fault::StaleNetns(s) => {
                write!(f, "{} stale netns on {}", s.count, s.target)?;
                if s.ovs_ports {
                    f.write_str(" with stale OVS ports")?;
                }
                Ok(())
            }
            Fault::LeftoverMultusConfig(l) => {
                write!(
                    f,
                    "freeze the Multus daemon on {} (00-multus.conf left behind)",
                    l.target
                )?;
                if l.busy_shim {
                    write!(
                        f,
                        ", hold multus-shim busy for {}",
                        duration::format(l.hold_for)
                    )?;
                }
                f.write_str(" and replace the Multus pod")
            }
            Fault::CniConfig(c) => {
                let action = match c.action {
                    CniConfigAction::Remove => "remove".to_string(),
                    CniConfigAction::Truncate => "truncate".to_string(),
                    CniConfigAction::DelayedRewrite { delay } => {
                        format!("remove and rewrite after {}", duration::format(delay))
                    }
                };
                write!(f, "{action} {} on {}", c.file, c.target)
            }
            Fault::PodDelete(p) => {
                write!(f, "delete pods {} in {}", p.selector, p.namespace)?;
                if let Some(t) = &p.target {
                    write!(f, " on {t}")?;
                }
                Ok(())
            }
            Fault::NetworkPartition(p) => write!(
                f,
                "partition {} for {}",
                p.target,
                duration::format(p.duration)
            ),
        }
    }
}

/// Which node a fault acts on.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "by")]
pub enum NodeTarget {
    /// A node by name, or by its kind suffix (`control-plane`, `worker`, `worker2`).
    Name {
        /// The name or suffix.
        name: String,
    },
    /// The `index`-th node (0-based, sorted by name) with a role.
    Role {
        /// The role.
        role: NodeRole,
        /// The index among nodes of that role.
        index: u32,
    },
    /// A node of a role picked with the run's seed (`CHAOS_SEED`).
    Random {
        /// The role.
        role: NodeRole,
    },
    /// The node the scenario's fault acted on (remediation steps only).
    FaultNode,
}

impl fmt::Display for NodeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeTarget::Name { name } => write!(f, "node {name}"),
            NodeTarget::Role { role, index: 0 } => write!(f, "the first {role}"),
            NodeTarget::Role { role, index } => write!(f, "{role} #{index}"),
            NodeTarget::Random { role } => write!(f, "a random {role}"),
            NodeTarget::FaultNode => f.write_str("the faulted node"),
        }
    }
}

/// A kind node role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeRole {
    /// `io.x-k8s.kind.role=control-plane`
    ControlPlane,
    /// `io.x-k8s.kind.role=worker`
    Worker,
}

impl fmt::Display for NodeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeRole::ControlPlane => "control-plane",
            NodeRole::Worker => "worker",
        })
    }
}

/// Parameters of [`Fault::NodeReboot`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NodeReboot {
    /// The node.
    pub target: NodeTarget,
    /// Graceful (`docker stop -t <timeout>`) or hard (`docker kill --signal KILL`).
    pub mode: RebootMode,
    /// Grace period before Docker kills a gracefully stopping node. Default 30 s.
    #[serde(with = "crate::util::serde_millis")]
    pub timeout: Duration,
}

/// How a node is rebooted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RebootMode {
    /// The node's stop signal (`SIGRTMIN+3` on kind: systemd shuts down in
    /// order and every pod process gets SIGTERM and its clean exit), then
    /// SIGKILL after the timeout.
    Graceful,
    /// SIGKILL at once: nothing on the node cleans up (power loss, a panic).
    Hard,
}

/// Parameters of [`Fault::OvsKill`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct OvsKill {
    /// The node.
    pub target: NodeTarget,
    /// Which daemon.
    pub process: OvsProcess,
    /// SIGKILL, or SIGSTOP followed by SIGCONT after `stop-for`.
    pub signal: OvsSignal,
    /// How long a stopped daemon stays frozen (only with `signal: stop`).
    #[serde(with = "crate::util::serde_millis::option")]
    pub stop_for: Option<Duration>,
}

/// An Open vSwitch daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OvsProcess {
    /// The switch daemon.
    OvsVswitchd,
    /// The database server.
    OvsdbServer,
}

impl fmt::Display for OvsProcess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OvsProcess::OvsVswitchd => "ovs-vswitchd",
            OvsProcess::OvsdbServer => "ovsdb-server",
        })
    }
}

/// The signal an [`OvsKill`] sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OvsSignal {
    /// SIGKILL.
    Kill,
    /// SIGSTOP, then SIGCONT.
    Stop,
}

impl fmt::Display for OvsSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OvsSignal::Kill => "SIGKILL",
            OvsSignal::Stop => "SIGSTOP",
        })
    }
}

/// Parameters of [`Fault::StaleNetns`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct StaleNetns {
    /// The node.
    pub target: NodeTarget,
    /// How many namespaces to leave behind (1 to 256).
    pub count: u32,
    /// Also leave an OVS port per namespace on `br-int`.
    pub ovs_ports: bool,
}

/// Parameters of [`Fault::LeftoverMultusConfig`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct LeftoverMultusConfig {
    /// The node.
    pub target: NodeTarget,
    /// Start a `multus-shim` ADD against the frozen daemon and freeze it
    /// too, so it keeps `/opt/cni/bin/multus-shim` busy for `hold-for`
    /// whatever its own 60 s timeout (multus-cni `APIReadyPollTimeout`).
    /// Default true; false is the control: the same frozen daemon and pod
    /// replacement with nothing busy.
    pub busy_shim: bool,
    /// How long the frozen shim holds the binary once the fault is in
    /// place (the old Multus pod gone, its replacement's init container
    /// seen); then it is killed. Default [`DEFAULT_HOLD_FOR`], between
    /// [`MIN_HOLD_FOR`] and [`MAX_HOLD_FOR`]; only with `busy-shim: true`.
    #[serde(with = "crate::util::serde_millis")]
    pub hold_for: Duration,
}

/// Default `hold-for`: 90 s. After the replacement's init container first
/// fails, the kubelet retries it after 10 s, 20 s and 40 s of back-off
/// (FACTS.md, "Kubernetes facts"): at about +10 s, +30 s and +70 s. A 90 s
/// hold catches those three retries (four "Text file busy" failures and a
/// visible `Init:CrashLoopBackOff`) and outlasts the shim's own 60 s
/// timeout, which no longer ends the hold because the shim is frozen; the
/// next retry, 80 s later, finds the binary free, so a racy Multus
/// recovers within a few minutes instead of never.
pub const DEFAULT_HOLD_FOR: Duration = Duration::from_secs(90);
/// Shortest `hold-for`: 10 s, the kubelet's first back-off; a shorter hold
/// ends before the init container is retried even once.
pub const MIN_HOLD_FOR: Duration = Duration::from_secs(10);
/// Longest `hold-for`: 15 min. The back-off is capped at 300 s after five
/// failures, so a longer hold only repeats capped retries while the node's
/// CNI ADDs stay stuck past any scenario's observation window.
pub const MAX_HOLD_FOR: Duration = Duration::from_secs(15 * 60);

impl LeftoverMultusConfig {
    /// Step 3 of the fault: the Multus pod on the node is deleted with its
    /// own grace period (`terminationGracePeriodSeconds: 10` in
    /// multus-cni's `deployments/multus-daemonset-thick.yml`). The kubelet
    /// sends the frozen daemon SIGTERM, waits the grace and SIGKILLs it,
    /// and neither it nor runc sends SIGCONT (FACTS.md, "kind node facts"):
    /// the daemon's clean exit, which would delete `00-multus.conf`, never
    /// runs. Its replacement's init container copies `multus-shim` again.
    pub fn multus_pod_delete(&self) -> PodDelete {
        PodDelete {
            namespace: "kube-system".into(),
            selector: LabelSelector::parse(MULTUS_SELECTOR).expect("a constant, valid selector"),
            target: Some(self.target.clone()),
            grace_period: None,
        }
    }
}

/// The init container of the Multus pod that installs `multus-shim` on the
/// node (`deployments/multus-daemonset-thick.yml`).
pub const MULTUS_INIT_CONTAINER: &str = "install-multus-binary";

/// The Multus thick daemon's process name inside a node (the
/// `kube-multus` container's `/usr/src/multus-cni/bin/multus-daemon`).
pub const MULTUS_DAEMON: &str = "multus-daemon";
/// The Multus shim's process name inside a node (`/opt/cni/bin/multus-shim`,
/// run by the runtime for every sandbox while `00-multus.conf` is first).
pub const MULTUS_SHIM_PROCESS: &str = "multus-shim";
/// The Multus DaemonSet's pod label (`deployments/multus-daemonset-thick.yml`).
pub const MULTUS_SELECTOR: &str = "app=multus";

/// Parameters of [`Fault::CniConfig`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CniConfig {
    /// The node.
    pub target: NodeTarget,
    /// What happens to the file.
    pub action: CniConfigAction,
    /// Which file.
    pub file: CniFile,
}

/// What a [`CniConfig`] fault does to the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum CniConfigAction {
    /// Delete it.
    Remove,
    /// Cut it to zero bytes (a crash mid-write without atomic writes).
    Truncate,
    /// Delete it and write the original back after `delay` (config sync delay).
    DelayedRewrite {
        /// How long the file stays missing.
        #[serde(with = "crate::util::serde_millis")]
        delay: Duration,
    },
}

/// A CNI config file on a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CniFile {
    /// Kube-OVN's `NN-kube-ovn.conflist`, whatever its priority prefix.
    KubeOvn,
    /// Multus' `00-multus.conf`.
    Multus,
    /// An absolute path under `/etc/cni/net.d/`.
    Path(String),
}

impl fmt::Display for CniFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CniFile::KubeOvn => f.write_str("the Kube-OVN conflist"),
            CniFile::Multus => f.write_str("00-multus.conf"),
            CniFile::Path(p) => f.write_str(p),
        }
    }
}

/// Parameters of [`Fault::PodDelete`] (also a remediation step).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PodDelete {
    /// Namespace of the pods. Default `kube-system`.
    pub namespace: String,
    /// Which pods (required, never empty: deleting "everything" is not a fault).
    pub selector: LabelSelector,
    /// Only pods on this node; none: on every node.
    pub target: Option<NodeTarget>,
    /// Grace period; none: the pod's own.
    #[serde(with = "crate::util::serde_millis::option")]
    pub grace_period: Option<Duration>,
}

/// Parameters of [`Fault::NetworkPartition`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NetworkPartition {
    /// The node.
    pub target: NodeTarget,
    /// How long it stays disconnected.
    #[serde(with = "crate::util::serde_millis")]
    pub duration: Duration,
}
