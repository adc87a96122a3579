//! SLO kinds and their parameters, as written in suite files.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::suite::LabelSelector;
use crate::util::duration;

/// One objective; one variant per kind.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Slo {
    /// Every pod in scope is Ready within `budget` of the fault (or remediation).
    WorkloadsReadyWithin {
        /// Which pods.
        scope: PodScope,
        /// The budget.
        #[serde(with = "crate::util::serde_millis")]
        budget: Duration,
    },
    /// No pod in scope enters CrashLoopBackOff (init and/or main containers)
    /// more than `allowance` times.
    NoCrashLoop {
        /// Which pods.
        scope: PodScope,
        /// Which containers count.
        containers: CrashLoopContainers,
        /// How many crash-loop entries are tolerated (default 0).
        allowance: u32,
    },
    /// No pod in scope restarts containers more than `max` times after the fault.
    MaxRestarts {
        /// Which pods.
        scope: PodScope,
        /// Maximum restarts per pod.
        max: u32,
    },
    /// Nodes in scope are Ready within `budget`.
    NodeReadyWithin {
        /// Which nodes.
        nodes: NodeScope,
        /// The budget.
        #[serde(with = "crate::util::serde_millis")]
        budget: Duration,
    },
    /// Nodes in scope keep their InternalIP (kind #2045).
    NodeIpStable {
        /// Which nodes.
        nodes: NodeScope,
    },
    /// At the end of observation, every pod in scope that asks
    /// Multus for secondary networks (`k8s.v1.cni.cncf.io/networks`) has
    /// each of them both in its `k8s.v1.cni.cncf.io/network-status`
    /// annotation and as an interface in its network namespace, read on its
    /// node (multus-cni #1387: a sandbox re-created before Multus is back
    /// silently has the primary network only). A pod not Running then
    /// fails; pods that ran to completion are not judged.
    SecondaryNetworksComplete {
        /// Which pods (default: every namespace).
        scope: PodScope,
        /// Whether the harness deploys its own workload asking for a
        /// secondary network on every node before the fault (default true),
        /// so the window can show on a cluster with no such pods of its own.
        workload: bool,
    },
    /// At the end of observation, the VPC NAT gateway `gateway` (pods
    /// `app=vpc-nat-gw-<gateway>` in `namespace`) holds its SNAT rule and
    /// its EIP again: `iptables-save -t nat` in its `vpc-nat-gw` container
    /// lists `-A SHARED_SNAT -s <snat-cidr> ... -j SNAT --to-source <eip>`
    /// and `ip -o -4 addr show dev net1` lists the EIP (kube-ovn #3241,
    /// #4193, #4987: gateways back Ready without their rules). Read through
    /// the command seam ([`crate::backend::Cluster::exec_in_pod`]).
    NatGatewayRules {
        /// The VpcNatGateway's name.
        gateway: String,
        /// The namespace of its pods (default `kube-system`).
        namespace: String,
        /// The EIP (IPv4) its SNAT rule translates to.
        eip: std::net::Ipv4Addr,
        /// The VPC subnet (IPv4 CIDR) its SNAT rule translates.
        snat_cidr: String,
        /// A DNAT rule on the EIP it must hold too, if any.
        dnat: Option<DnatRule>,
        /// Whether traffic must also get through: the profile's client in
        /// the VPC asks the target outside, which must see the EIP as its
        /// peer, and (with `dnat`) the target asks the EIP's port, which
        /// must reach the client (`observe::natgw`).
        path: bool,
    },
    /// At the end of observation, kube-ovn-pinger's own verdict: every
    /// pinger pod in scope (on every node, or on the faulted one) is
    /// Running and its last complete round in its log lost no ping to a
    /// pod or node and resolved the internal DNS name.
    PingerHealthy {
        /// Whose pingers.
        nodes: NodeScope,
    },
    /// At the end of observation, OVN's northbound database agrees with the
    /// pods and with every node's `br-int`: each Running pod on the pod
    /// network has its logical switch port `<pod>.<namespace>` with its IP
    /// and MAC and an Interface claiming it on its node; no Interface
    /// claims a port that is gone or a pod that is gone or elsewhere, no
    /// two claim one port; ovn-controller is connected on every node in
    /// scope. Read with `ovn-nbctl`, `ovs-vsctl` and `ovn-appctl` in
    /// Kube-OVN's own pods through the command seam
    /// ([`crate::backend::Cluster::exec_in_pod`]; `observe::ovn`).
    OvnConsistent {
        /// The namespaces whose pods are checked; empty: every namespace.
        namespaces: Vec<String>,
        /// Whose `br-int` and ovn-controller are checked.
        nodes: NodeScope,
    },
    /// No flow of the harness's traffic (every one, or those of kind
    /// `flow`) is out longer than `budget` in one outage, as the receivers'
    /// per-probe records show (observe::traffic). A flow with no records,
    /// or whose records do not cover the window, fails as not evaluated.
    MaxOutage {
        /// Which flows (default: every flow).
        flow: Option<FlowKind>,
        /// The longest outage allowed.
        #[serde(with = "crate::util::serde_millis")]
        budget: Duration,
    },
    /// No flow (every one, or those of kind `flow`) loses more than
    /// `percent` of its probes over the window: from the fault to `within`
    /// after it, or to the end of observation without `within`.
    MaxLoss {
        /// Which flows (default: every flow).
        flow: Option<FlowKind>,
        /// The loss allowed, in percent.
        percent: f64,
        /// The window's length after the fault (default: to the end of
        /// observation).
        #[serde(with = "crate::util::serde_millis::option")]
        within: Option<Duration>,
    },
    /// Every long-lived TCP connection of the harness (observe::longlived:
    /// one per ordered pair of nodes, opened before the fault, a numbered
    /// line every 200 ms) survives the fault: the line after recovery
    /// comes over the connection that carried the line before the fault,
    /// with no reconnect, and the connection is not silent when the
    /// records end (silent within TCP's give-up: not evaluated, as the next
    /// retransmission may still deliver). The longest gap between two
    /// lines is the measured value. Offered only for faults whose endpoints survive (suite
    /// validation rejects the others: `suite::read`, `longlived_refused`).
    LongLivedTcp,
    /// A data-plane probe succeeds within `budget`.
    ProbeSucceedsWithin {
        /// Which probe.
        probe: ProbeKind,
        /// The budget.
        #[serde(with = "crate::util::serde_millis")]
        budget: Duration,
    },
}

/// A DNAT rule a VPC NAT gateway holds: `nat-gateway.sh add_dnat` appends
/// `-A SHARED_DNAT -p PROTOCOL -d EIP --dport EIP-PORT -j DNAT
/// --to-destination INTERNAL-IP:INTERNAL-PORT`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct DnatRule {
    /// The port on the EIP (the IptablesDnatRule's `externalPort`).
    pub eip_port: u16,
    /// Where it goes in the VPC (`internalIp`).
    pub internal_ip: std::net::Ipv4Addr,
    /// Its port there (`internalPort`).
    pub internal_port: u16,
    /// `tcp` or `udp` (`protocol`).
    pub protocol: String,
}

impl DnatRule {
    /// The rule as `iptables-save -t nat` lists it, for the SLO's `eip`.
    pub fn saved(&self, eip: &std::net::Ipv4Addr) -> String {
        let p = &self.protocol;
        format!(
            "-A SHARED_DNAT -d {eip}/32 -p {p} -m {p} --dport {} -j DNAT --to-destination {}:{}",
            self.eip_port, self.internal_ip, self.internal_port
        )
    }
}

/// The kind of an SLO, without parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SloKind {
    /// [`Slo::WorkloadsReadyWithin`]
    WorkloadsReadyWithin,
    /// [`Slo::NoCrashLoop`]
    NoCrashLoop,
    /// [`Slo::MaxRestarts`]
    MaxRestarts,
    /// [`Slo::NodeReadyWithin`]
    NodeReadyWithin,
    /// [`Slo::NodeIpStable`]
    NodeIpStable,
    /// [`Slo::ProbeSucceedsWithin`]
    ProbeSucceedsWithin,
    /// [`Slo::SecondaryNetworksComplete`]
    SecondaryNetworksComplete,
    /// [`Slo::NatGatewayRules`]
    NatGatewayRules,
    /// [`Slo::PingerHealthy`]
    PingerHealthy,
    /// [`Slo::OvnConsistent`]
    OvnConsistent,
    /// [`Slo::MaxOutage`]
    MaxOutage,
    /// [`Slo::MaxLoss`]
    MaxLoss,
    /// [`Slo::LongLivedTcp`]
    LongLivedTcp,
}

impl SloKind {
    /// Every kind.
    pub const ALL: [SloKind; 13] = [
        SloKind::WorkloadsReadyWithin,
        SloKind::NoCrashLoop,
        SloKind::MaxRestarts,
        SloKind::NodeReadyWithin,
        SloKind::NodeIpStable,
        SloKind::ProbeSucceedsWithin,
        SloKind::SecondaryNetworksComplete,
        SloKind::NatGatewayRules,
        SloKind::PingerHealthy,
        SloKind::OvnConsistent,
        SloKind::MaxOutage,
        SloKind::MaxLoss,
        SloKind::LongLivedTcp,
    ];

    /// The name used in suite files.
    pub fn as_str(self) -> &'static str {
        match self {
            SloKind::WorkloadsReadyWithin => "workloads-ready-within",
            SloKind::NoCrashLoop => "no-crashloop",
            SloKind::MaxRestarts => "max-restarts",
            SloKind::NodeReadyWithin => "node-ready-within",
            SloKind::NodeIpStable => "node-ip-stable",
            SloKind::ProbeSucceedsWithin => "probe-succeeds-within",
            SloKind::SecondaryNetworksComplete => "secondary-networks-complete",
            SloKind::NatGatewayRules => "nat-gateway-rules",
            SloKind::PingerHealthy => "pinger-healthy",
            SloKind::OvnConsistent => "ovn-consistent",
            SloKind::MaxOutage => "max-outage",
            SloKind::MaxLoss => "max-loss",
            SloKind::LongLivedTcp => "long-lived-tcp",
        }
    }
}

impl Slo {
    /// This SLO's kind.
    pub fn kind(&self) -> SloKind {
        match self {
            Slo::WorkloadsReadyWithin { .. } => SloKind::WorkloadsReadyWithin,
            Slo::NoCrashLoop { .. } => SloKind::NoCrashLoop,
            Slo::MaxRestarts { .. } => SloKind::MaxRestarts,
            Slo::NodeReadyWithin { .. } => SloKind::NodeReadyWithin,
            Slo::NodeIpStable { .. } => SloKind::NodeIpStable,
            Slo::ProbeSucceedsWithin { .. } => SloKind::ProbeSucceedsWithin,
            Slo::SecondaryNetworksComplete { .. } => SloKind::SecondaryNetworksComplete,
            Slo::NatGatewayRules { .. } => SloKind::NatGatewayRules,
            Slo::PingerHealthy { .. } => SloKind::PingerHealthy,
            Slo::OvnConsistent { .. } => SloKind::OvnConsistent,
            Slo::MaxOutage { .. } => SloKind::MaxOutage,
            Slo::MaxLoss { .. } => SloKind::MaxLoss,
            Slo::LongLivedTcp => SloKind::LongLivedTcp,
        }
    }

    /// The time budget, for the kinds that have one.
    pub fn budget(&self) -> Option<Duration> {
        match self {
            Slo::WorkloadsReadyWithin { budget, .. }
            | Slo::NodeReadyWithin { budget, .. }
            | Slo::ProbeSucceedsWithin { budget, .. } => Some(*budget),
            // Observation must reach the loss window's end.
            Slo::MaxLoss { within, .. } => *within,
            _ => None,
        }
    }
}

impl fmt::Display for Slo {
    /// A stable one-line description, used as the JUnit testcase name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = self.kind().as_str();
        match self {
            Slo::WorkloadsReadyWithin { scope, budget } => {
                write!(f, "{k} {} ({scope})", duration::format(*budget))
            }
            Slo::NoCrashLoop {
                scope,
                containers,
                allowance,
            } => {
                write!(f, "{k} {containers} ({scope})")?;
                if *allowance > 0 {
                    write!(f, " allowance {allowance}")?;
                }
                Ok(())
            }
            Slo::MaxRestarts { scope, max } => write!(f, "{k} {max} ({scope})"),
            Slo::NodeReadyWithin { nodes, budget } => {
                write!(f, "{k} {} ({nodes})", duration::format(*budget))
            }
            Slo::NodeIpStable { nodes } => write!(f, "{k} ({nodes})"),
            Slo::ProbeSucceedsWithin { probe, budget } => {
                write!(f, "{k} {} ({probe})", duration::format(*budget))
            }
            Slo::SecondaryNetworksComplete { scope, .. } => write!(f, "{k} ({scope})"),
            Slo::NatGatewayRules {
                gateway,
                eip,
                snat_cidr,
                dnat,
                path,
                ..
            } => {
                write!(f, "{k} {gateway} (snat {snat_cidr} to {eip}")?;
                if let Some(d) = dnat {
                    write!(
                        f,
                        ", dnat {eip}:{}/{} to {}:{}",
                        d.eip_port, d.protocol, d.internal_ip, d.internal_port
                    )?;
                }
                if *path {
                    write!(f, ", path")?;
                }
                write!(f, ")")
            }
            Slo::PingerHealthy { nodes } => write!(f, "{k} ({nodes})"),
            Slo::LongLivedTcp => write!(f, "{k} (one connection per pair of nodes)"),
            Slo::OvnConsistent { namespaces, nodes } => {
                if namespaces.is_empty() {
                    write!(f, "{k} (all namespaces, {nodes})")
                } else {
                    write!(f, "{k} (namespaces {}, {nodes})", namespaces.join(", "))
                }
            }
            Slo::MaxOutage { flow, budget } => {
                write!(f, "{k} {} ({})", duration::format(*budget), flows(flow))
            }
            Slo::MaxLoss {
                flow,
                percent,
                within,
            } => {
                write!(f, "{k} {percent}% ({}", flows(flow))?;
                match within {
                    Some(w) => write!(f, ", {} after the fault)", duration::format(*w)),
                    None => f.write_str(", to the end of observation)"),
                }
            }
        }
    }
}

/// Which pods an SLO looks at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PodScope {
    /// The namespace; none means every namespace. Default `kube-system`.
    pub namespace: Option<String>,
    /// A label selector; none means every pod in the namespace.
    pub selector: Option<LabelSelector>,
}

impl fmt::Display for PodScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "namespace {ns}")?,
            None => f.write_str("all namespaces")?,
        }
        if let Some(sel) = &self.selector {
            write!(f, ", {sel}")?;
        }
        Ok(())
    }
}

/// Which containers count for [`Slo::NoCrashLoop`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashLoopContainers {
    /// Init containers only (`Init:CrashLoopBackOff`).
    Init,
    /// Main containers only.
    Main,
    /// Both (default).
    Any,
}

impl fmt::Display for CrashLoopContainers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CrashLoopContainers::Init => "init",
            CrashLoopContainers::Main => "main",
            CrashLoopContainers::Any => "init+main",
        })
    }
}

/// Which nodes a node SLO looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeScope {
    /// Every node (default).
    All,
    /// Only the node the fault acted on.
    FaultTarget,
}

impl fmt::Display for NodeScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeScope::All => "all nodes",
            NodeScope::FaultTarget => "faulted node",
        })
    }
}

/// A data-plane probe, run as a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeKind {
    /// A DNS lookup through CoreDNS.
    Dns,
    /// Pod to pod across nodes.
    PodToPod,
    /// A pod with a Multus NetworkAttachmentDefinition gets its secondary interface.
    MultusSecondary,
    /// Egress through a VPC NAT gateway.
    NatGatewayEgress,
    /// A pod gets an address on `net1` from a NetworkAttachmentDefinition
    /// whose delegate is Kube-OVN (Kube-OVN as a secondary CNI, as the NAT
    /// gateway's `net1` is).
    KubeOvnSecondary,
}

impl fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProbeKind::Dns => "dns",
            ProbeKind::PodToPod => "pod-to-pod",
            ProbeKind::MultusSecondary => "multus-secondary",
            ProbeKind::NatGatewayEgress => "nat-gateway-egress",
            ProbeKind::KubeOvnSecondary => "kube-ovn-secondary",
        })
    }
}

/// A kind of traffic flow the harness sends continuously (observe::traffic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowKind {
    /// A TCP probe from a traffic pod to the traffic pod on each other node,
    /// through the overlay: `pod-to-pod <from node> -> <to node>`.
    PodToPod,
    /// A TCP probe from a traffic pod to the traffic's ClusterIP Service,
    /// whichever receiver the load balancer picks: `pod-to-service <from
    /// node>`.
    PodToService,
    /// A probe sent only when the sender's lookup of a cluster name through
    /// CoreDNS answered: `dns <from node>`.
    Dns,
    /// A TCP probe from a traffic pod to the traffic pod on each other node
    /// over their Multus secondary attachment (`net1`): `secondary <from
    /// node> -> <to node>`.
    Secondary,
    /// A TCP probe from the NAT gateway profile's client in the VPC to the
    /// target outside it, through the gateway's SNAT: `nat-egress <from
    /// node>`.
    NatEgress,
}

impl FlowKind {
    /// The name used in suite files and flow names.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::PodToPod => "pod-to-pod",
            FlowKind::PodToService => "pod-to-service",
            FlowKind::Dns => "dns",
            FlowKind::Secondary => "secondary",
            FlowKind::NatEgress => "nat-egress",
        }
    }
}

impl fmt::Display for FlowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn flows(flow: &Option<FlowKind>) -> String {
    match flow {
        Some(k) => format!("{k} flows"),
        None => "every flow".into(),
    }
}
