//! [`Slo::OvnConsistent`]: whether OVN's northbound database still agrees
//! with the pods and with the ports on every node's `br-int`, and whether
//! ovn-controller is connected on every node, read at the end of
//! observation through the command seam ([`Cluster::exec_in_pod`]) with the
//! tools Kube-OVN ships in its own pods. The same parsers read `kubectl
//! exec` on kind, the twin's answers and (in `tests/ovn_system.rs`) Debian's
//! OVN 23.03 run on this machine.
//!
//! What Kube-OVN writes, at v1.13.15, v1.14.41 and v1.16.2 alike:
//! - a pod's logical switch port is named `<pod>.<namespace>`, an
//!   attachment's `<pod>.<namespace>.<provider>`
//!   (`pkg/ovs/util.go` `PodNameToPortName`);
//! - its `addresses` is one string `"<mac> <ip>[ <ip6>]"` and its
//!   `external_ids` carry `pod=<namespace>/<pod>`, `ls=<subnet>` and
//!   `vendor=kube-ovn` (`pkg/ovs/ovn-nb-logical_switch_port.go`
//!   `buildLogicalSwitchPort`);
//! - kube-ovn-cni adds the pod's veth to `br-int` with the Interface's
//!   `external_ids:iface-id=<port name>`, `vendor=kube-ovn`,
//!   `pod_name`, `pod_namespace`, `ip` and `pod_netns`
//!   (`pkg/daemon/ovs_linux.go` `configureNic`), and clears the iface-id of
//!   any other Interface that has it (`pkg/ovs/ovs-vsctl.go`
//!   `CleanDuplicatePort`), so two Interfaces with one iface-id are a fault.
//!
//! How Kube-OVN reaches the tools (`dist/images/kubectl-ko` at v1.16.2):
//! `ovn-nbctl` in container `ovn-central` of the pod labelled
//! `ovn-nb-leader=true`; `ovs-vsctl` in container `openvswitch` of the node's
//! `ovs-ovn` pod (`app=ovs`), which also runs ovn-controller
//! (`dist/images/ovs-healthcheck.sh` reaches it through
//! `/var/run/ovn/ovn-controller.pid`, which is what `ovn-appctl -t
//! ovn-controller` reads).

use std::collections::BTreeMap;
use std::fmt;

use super::podcheck::{Seen, live_pods, not_evaluated};
use crate::backend::{Cluster, CommandOutput};
use crate::slo::{Culprit, CulpritKind, Measured, NodeScope, Slo, SloStatus, SloVerdict};

/// The container of the `ovn-central` pods that runs the NB database.
pub const CENTRAL_CONTAINER: &str = "ovn-central";
/// The label of the `ovn-central` pod that leads the NB database.
pub const NB_LEADER_SELECTOR: &str = "ovn-nb-leader=true";
/// The label of the `ovs-ovn` pods (one per node).
pub const OVS_SELECTOR: &str = "app=ovs";
/// The container of an `ovs-ovn` pod (OVS and ovn-controller).
pub const OVS_CONTAINER: &str = "openvswitch";
/// The namespace of Kube-OVN's components.
pub const KUBE_OVN_NAMESPACE: &str = "kube-system";

/// Lists the NB database's logical switch ports: one CSV line per port,
/// `name,addresses,external_ids`, sets and maps bare (space-separated).
pub const LSP_ARGV: [&str; 7] = [
    "ovn-nbctl",
    "--format=csv",
    "--data=bare",
    "--no-heading",
    "--columns=name,addresses,external_ids",
    "list",
    "Logical_Switch_Port",
];

/// Lists a node's OVS Interfaces: `name,external_ids` per line.
pub const INTERFACE_ARGV: [&str; 7] = [
    "ovs-vsctl",
    "--format=csv",
    "--data=bare",
    "--no-heading",
    "--columns=name,external_ids",
    "list",
    "Interface",
];

/// Asks ovn-controller whether it is connected to the SB database:
/// `connected` or `not connected`.
pub const CONTROLLER_ARGV: [&str; 4] = ["ovn-appctl", "-t", "ovn-controller", "connection-status"];

/// One logical switch port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lsp {
    /// Its name.
    pub name: String,
    /// The words of its `addresses` (MACs, IPs, `router`, `unknown`).
    pub addresses: Vec<String>,
    /// Its `external_ids`.
    pub external_ids: BTreeMap<String, String>,
}

/// One OVS Interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OvsInterface {
    /// Its name.
    pub name: String,
    /// Its `external_ids`.
    pub external_ids: BTreeMap<String, String>,
}

impl OvsInterface {
    /// Its `iface-id`: the logical port it claims.
    pub fn iface_id(&self) -> Option<&str> {
        self.external_ids.get("iface-id").map(String::as_str)
    }

    /// The pod Kube-OVN made it for (`pod_namespace`, `pod_name`).
    pub fn pod(&self) -> Option<(&str, &str)> {
        Some((
            self.external_ids.get("pod_namespace")?.as_str(),
            self.external_ids.get("pod_name")?.as_str(),
        ))
    }
}

/// The fields of one line of `--format=csv` output (RFC 4180 quoting, as
/// OVS's table printer writes it).
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => out.push(std::mem::take(&mut field)),
            (_, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!("unterminated quote in {line:?}"));
    }
    out.push(field);
    Ok(out)
}

/// A bare map column (`k=v k=v`).
fn bare_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.split_whitespace()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("{kv:?} is not key=value"))
        })
        .collect()
}

/// The lines of a `--no-heading` CSV listing with exactly `n` fields each.
fn csv_rows(text: &str, n: usize) -> Result<Vec<Vec<String>>, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f = csv_fields(line.trim_end_matches('\r'))?;
            if f.len() != n {
                return Err(format!("{line:?} has {} fields, not {n}", f.len()));
            }
            Ok(f)
        })
        .collect()
}

/// The logical switch ports in the output of [`LSP_ARGV`].
pub fn parse_lsps(text: &str) -> Result<Vec<Lsp>, String> {
    csv_rows(text, 3)?
        .into_iter()
        .map(|f| {
            Ok(Lsp {
                name: f[0].clone(),
                addresses: f[1].split_whitespace().map(str::to_string).collect(),
                external_ids: bare_map(&f[2]).map_err(|e| format!("port {}: {e}", f[0]))?,
            })
        })
        .collect()
}

/// The Interfaces in the output of [`INTERFACE_ARGV`].
pub fn parse_interfaces(text: &str) -> Result<Vec<OvsInterface>, String> {
    csv_rows(text, 2)?
        .into_iter()
        .map(|f| {
            Ok(OvsInterface {
                name: f[0].clone(),
                external_ids: bare_map(&f[1]).map_err(|e| format!("interface {}: {e}", f[0]))?,
            })
        })
        .collect()
}

/// What a listing command answered, parsed with `parse`: `Err` when it
/// exited non-zero (with its status and stderr) or printed what `parse`
/// cannot read.
pub fn listing<T>(
    status: Option<i32>,
    stdout: &str,
    stderr: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<T, String> {
    if status != Some(0) {
        return Err(format!(
            "exit {}: {}",
            status.map_or("by signal".to_string(), |s| s.to_string()),
            stderr.trim()
        ));
    }
    parse(stdout)
}

/// What ovn-controller said of its SB connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Controller {
    /// `connected`.
    Connected,
    /// `not connected`.
    NotConnected,
    /// `ovn-appctl` could not reach it (it is not running); the tool's
    /// words.
    NotRunning(String),
}

/// What [`CONTROLLER_ARGV`] answered: its exit status, stdout and stderr.
/// `Err`: an answer that is none of the known ones.
pub fn parse_controller(
    status: Option<i32>,
    stdout: &str,
    stderr: &str,
) -> Result<Controller, String> {
    match (status, stdout.trim()) {
        (Some(0), "connected") => Ok(Controller::Connected),
        (Some(0), "not connected") => Ok(Controller::NotConnected),
        (Some(0), other) => Err(format!("unexpected connection-status {other:?}")),
        // ovn-appctl exits non-zero when it cannot read the daemon's pidfile
        // or connect to its control socket: the daemon is not there.
        (_, _) => {
            let words = stderr
                .lines()
                .rev()
                .find(|l| l.starts_with("ovn-appctl:"))
                .unwrap_or(stderr.trim())
                .trim();
            Ok(Controller::NotRunning(format!(
                "exit {}: {words}",
                status.map_or("by signal".to_string(), |s| s.to_string())
            )))
        }
    }
}

/// A pod on the pod network (not hostNetwork) as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodFacts {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// Its node.
    pub node: Option<String>,
    /// Whether it is Running (only Running pods must have their port on
    /// `br-int`).
    pub running: bool,
    /// Its IPs (`status.podIPs`).
    pub ips: Vec<String>,
    /// Its MAC (`ovn.kubernetes.io/mac_address`), when annotated.
    pub mac: Option<String>,
}

impl PodFacts {
    /// Its logical switch port's name (`<pod>.<namespace>`).
    pub fn port(&self) -> String {
        format!("{}.{}", self.name, self.namespace)
    }
}

/// One node's side, as read in its `ovs-ovn` pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeOvn {
    /// The node.
    pub node: String,
    /// Its Interfaces, or why they could not be read.
    pub interfaces: Result<Vec<OvsInterface>, String>,
    /// Its ovn-controller, or why that could not be asked.
    pub controller: Result<Controller, String>,
}

/// Everything the check looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Every pod on the pod network in the scope's namespaces (those being
    /// deleted or finished too, not Running).
    pub pods: Vec<PodFacts>,
    /// The namespaces the pods were listed in; `None`: every namespace.
    pub namespaces: Option<Vec<String>>,
    /// The NB database's logical switch ports, or why they could not be
    /// read.
    pub lsps: Result<Vec<Lsp>, String>,
    /// The nodes checked.
    pub nodes: Vec<NodeOvn>,
}

/// One inconsistency, named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// A Running pod without its logical switch port.
    MissingPort {
        /// The pod.
        pod: PodFacts,
    },
    /// A pod whose logical switch port lacks its IP or MAC.
    WrongAddresses {
        /// The pod.
        pod: PodFacts,
        /// What the port has.
        addresses: Vec<String>,
        /// What it lacks.
        lacking: Vec<String>,
    },
    /// A Running pod with its logical port but no Interface on its node's
    /// `br-int` claiming it.
    MissingInterface {
        /// The pod.
        pod: PodFacts,
    },
    /// A logical switch port Kube-OVN made for a pod that no longer exists.
    StalePort {
        /// The port.
        port: String,
        /// Its `external_ids:pod`.
        pod: String,
    },
    /// An Interface whose iface-id no logical switch port has, or made for a
    /// pod that no longer exists or runs elsewhere.
    OrphanInterface {
        /// Its node.
        node: String,
        /// The Interface.
        interface: String,
        /// Its iface-id.
        iface_id: String,
        /// Why it is an orphan.
        why: String,
    },
    /// Several Interfaces on one node with the same iface-id.
    DuplicateInterface {
        /// The node.
        node: String,
        /// The iface-id.
        iface_id: String,
        /// The Interfaces.
        interfaces: Vec<String>,
    },
    /// ovn-controller not connected to the SB database, or not running.
    ControllerDown {
        /// The node.
        node: String,
        /// What it said.
        state: Controller,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::MissingPort { pod } => write!(
                f,
                "logical switch port {} missing from the northbound database",
                pod.port()
            ),
            Finding::WrongAddresses {
                pod,
                addresses,
                lacking,
            } => write!(
                f,
                "logical switch port {} has addresses {:?}, lacking the pod's {}",
                pod.port(),
                addresses.join(" "),
                lacking.join(", ")
            ),
            Finding::MissingInterface { pod } => write!(
                f,
                "no Interface on br-int of {} has external_ids:iface-id={}",
                pod.node.as_deref().unwrap_or("its node"),
                pod.port()
            ),
            Finding::StalePort { port, pod } => write!(
                f,
                "logical switch port {port} is for pod {pod}, which no longer exists"
            ),
            Finding::OrphanInterface {
                node,
                interface,
                iface_id,
                why,
            } => write!(
                f,
                "Interface {interface} on {node} has iface-id={iface_id}, {why}"
            ),
            Finding::DuplicateInterface {
                node,
                iface_id,
                interfaces,
            } => write!(
                f,
                "Interfaces {} on {node} all have iface-id={iface_id}",
                interfaces.join(", ")
            ),
            Finding::ControllerDown { node, state } => match state {
                Controller::NotRunning(words) => {
                    write!(f, "ovn-controller on {node} is not running ({words})")
                }
                _ => write!(
                    f,
                    "ovn-controller on {node} is not connected to the southbound database"
                ),
            },
        }
    }
}

impl Finding {
    /// The culprit it names: the pod, or the node whose `br-int` or
    /// ovn-controller is wrong.
    pub fn culprit(&self) -> Culprit {
        let reason = self.to_string();
        let pod = |p: &PodFacts| Culprit {
            kind: CulpritKind::Pod,
            namespace: Some(p.namespace.clone()),
            name: p.name.clone(),
            node: p.node.clone(),
            reason: reason.clone(),
            restarts: None,
            recovered_after: None,
        };
        let node = |n: &str| Culprit {
            kind: CulpritKind::Node,
            namespace: None,
            name: n.to_string(),
            node: None,
            reason: reason.clone(),
            restarts: None,
            recovered_after: None,
        };
        match self {
            Finding::MissingPort { pod: p }
            | Finding::WrongAddresses { pod: p, .. }
            | Finding::MissingInterface { pod: p } => pod(p),
            Finding::StalePort { pod: owner, .. } => {
                let (ns, name) = owner.split_once('/').unwrap_or(("", owner));
                Culprit {
                    kind: CulpritKind::Pod,
                    namespace: (!ns.is_empty()).then(|| ns.to_string()),
                    name: name.to_string(),
                    node: None,
                    reason,
                    restarts: None,
                    recovered_after: None,
                }
            }
            Finding::OrphanInterface { node: n, .. }
            | Finding::DuplicateInterface { node: n, .. }
            | Finding::ControllerDown { node: n, .. } => node(n),
        }
    }
}

/// What the check found: the inconsistencies, and what could not be read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Check {
    /// Each inconsistency.
    pub findings: Vec<Finding>,
    /// What could not be read (the NB database, a node's Interfaces or its
    /// ovn-controller), with why.
    pub unreadable: Vec<String>,
}

/// Compares the pods, the NB database and every node's Interfaces and
/// ovn-controller. Pure: every input was read before.
pub fn check(s: &Snapshot) -> Check {
    let mut out = Check::default();
    let in_scope = |ns: &str| {
        s.namespaces
            .as_ref()
            .is_none_or(|list| list.iter().any(|n| n == ns))
    };
    let pods: BTreeMap<(String, String), &PodFacts> = s
        .pods
        .iter()
        .map(|p| ((p.namespace.clone(), p.name.clone()), p))
        .collect();
    let lsps = match &s.lsps {
        Ok(l) => Some(
            l.iter()
                .map(|l| (l.name.as_str(), l))
                .collect::<BTreeMap<_, _>>(),
        ),
        Err(e) => {
            out.unreadable.push(format!("northbound database: {e}"));
            None
        }
    };

    // Pods -> NB.
    if let Some(lsps) = &lsps {
        for pod in &s.pods {
            match lsps.get(pod.port().as_str()) {
                None if pod.running => out.findings.push(Finding::MissingPort { pod: pod.clone() }),
                None => {}
                Some(lsp) => {
                    let want = pod.mac.iter().chain(&pod.ips);
                    let lacking: Vec<String> = want
                        .filter(|w| !lsp.addresses.iter().any(|a| a.eq_ignore_ascii_case(w)))
                        .cloned()
                        .collect();
                    if !lacking.is_empty() {
                        out.findings.push(Finding::WrongAddresses {
                            pod: pod.clone(),
                            addresses: lsp.addresses.clone(),
                            lacking,
                        });
                    }
                }
            }
        }
        // NB -> pods: a port Kube-OVN made for a pod that is gone.
        for lsp in lsps.values() {
            let Some(owner) = lsp.external_ids.get("pod") else {
                continue;
            };
            let Some((ns, name)) = owner.split_once('/') else {
                continue;
            };
            if in_scope(ns) && !pods.contains_key(&(ns.to_string(), name.to_string())) {
                out.findings.push(Finding::StalePort {
                    port: lsp.name.clone(),
                    pod: owner.clone(),
                });
            }
        }
    }

    // Nodes.
    for n in &s.nodes {
        match &n.controller {
            Ok(Controller::Connected) => {}
            Ok(state) => out.findings.push(Finding::ControllerDown {
                node: n.node.clone(),
                state: state.clone(),
            }),
            Err(e) => out
                .unreadable
                .push(format!("{}: ovn-controller connection-status: {e}", n.node)),
        }
        let ifaces = match &n.interfaces {
            Ok(i) => i,
            Err(e) => {
                out.unreadable
                    .push(format!("{}: Interfaces on br-int: {e}", n.node));
                continue;
            }
        };
        let mut by_id: BTreeMap<&str, Vec<&OvsInterface>> = BTreeMap::new();
        for i in ifaces {
            if let Some(id) = i.iface_id() {
                by_id.entry(id).or_default().push(i);
            }
        }
        // Pods on this node -> its Interfaces (only where NB has the port:
        // a pod without one is named once, above).
        for pod in s
            .pods
            .iter()
            .filter(|p| p.running && p.node.as_deref() == Some(&n.node))
        {
            let has_port = lsps
                .as_ref()
                .is_none_or(|l| l.contains_key(pod.port().as_str()));
            if has_port && !by_id.contains_key(pod.port().as_str()) {
                out.findings
                    .push(Finding::MissingInterface { pod: pod.clone() });
            }
        }
        for (id, list) in &by_id {
            if list.len() > 1 {
                out.findings.push(Finding::DuplicateInterface {
                    node: n.node.clone(),
                    iface_id: id.to_string(),
                    interfaces: {
                        let mut names: Vec<String> = list.iter().map(|i| i.name.clone()).collect();
                        names.sort();
                        names
                    },
                });
            }
            for i in list {
                let why = orphan_reason(i, id, &n.node, lsps.as_ref(), &pods, &in_scope);
                if let Some(why) = why {
                    out.findings.push(Finding::OrphanInterface {
                        node: n.node.clone(),
                        interface: i.name.clone(),
                        iface_id: id.to_string(),
                        why,
                    });
                }
            }
        }
    }
    out
}

/// Why Interface `i` (iface-id `id`) on `node` is an orphan, if it is.
fn orphan_reason(
    i: &OvsInterface,
    id: &str,
    node: &str,
    lsps: Option<&BTreeMap<&str, &Lsp>>,
    pods: &BTreeMap<(String, String), &PodFacts>,
    in_scope: &dyn Fn(&str) -> bool,
) -> Option<String> {
    if lsps.is_some_and(|l| !l.contains_key(id)) {
        return Some("which no logical switch port has".to_string());
    }
    let (ns, name) = i.pod()?;
    if !in_scope(ns) {
        return None;
    }
    match pods.get(&(ns.to_string(), name.to_string())) {
        None => Some(format!("made for pod {ns}/{name}, which no longer exists")),
        Some(p) if p.node.as_deref().is_some_and(|n| n != node) => Some(format!(
            "made for pod {ns}/{name}, which runs on {}",
            p.node.as_deref().unwrap_or_default()
        )),
        Some(_) => None,
    }
}

/// How often kube-ovn-cni (v1.15+) deletes the OVS Interfaces of pods
/// that are gone (kube-ovn v1.16.2 `pkg/daemon/controller.go`:
/// `wait.Until(c.gcInterfaces, time.Minute)`).
pub const INTERFACE_GC_PERIOD: std::time::Duration = std::time::Duration::from_secs(60);

/// Kube-OVN's annotation of a pod's MAC (`pkg/util/const.go`
/// `MacAddressAnnotation`).
pub const MAC_ANNOTATION: &str = "ovn.kubernetes.io/mac_address";

/// What [`read`] found: the check's inputs, and every command's raw output
/// for the diagnostics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reading {
    /// The inputs of [`check`].
    pub snapshot: Snapshot,
    /// Each command run, where, and what it answered.
    pub outputs: Vec<CommandOutput>,
}

/// The pod on the pod network `p` is, unless it is hostNetwork. A pod
/// being deleted or finished still exists (its ports may stay until it is
/// gone) but is not Running: its ports are not required.
pub fn pod_facts(p: &k8s_openapi::api::core::v1::Pod) -> Option<PodFacts> {
    let spec = p.spec.as_ref()?;
    if spec.host_network == Some(true) {
        return None;
    }
    let status = p.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    Some(PodFacts {
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        name: p.metadata.name.clone().unwrap_or_default(),
        node: spec.node_name.clone(),
        running: phase == "Running" && p.metadata.deletion_timestamp.is_none(),
        ips: status
            .and_then(|s| s.pod_ips.as_ref())
            .map(|ips| ips.iter().map(|i| i.ip.clone()).collect())
            .unwrap_or_default(),
        mac: p
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(MAC_ANNOTATION).cloned()),
    })
}

/// Runs `argv` in `namespace/pod` container `container`, recording what it
/// answered in `outputs`; `Err`: it could not be run.
async fn run_in(
    cluster: &dyn Cluster,
    outputs: &mut Vec<CommandOutput>,
    pod: &str,
    container: &str,
    argv: &[&str],
) -> Result<crate::backend::PodExec, String> {
    let place = format!("{KUBE_OVN_NAMESPACE}/{pod} {container}");
    let answer = cluster
        .exec_in_pod(KUBE_OVN_NAMESPACE, pod, container, argv)
        .await
        .map_err(|e| format!("in {place}: {e}"));
    outputs.push(CommandOutput {
        place,
        command: argv.join(" "),
        text: match &answer {
            Ok(o) => format!(
                "{}{}exit {}\n",
                o.stdout,
                o.stderr,
                o.status.map_or("by signal".into(), |s| s.to_string())
            ),
            Err(e) => format!("could not run: {e}\n"),
        },
    });
    answer
}

/// Reads everything [`Slo::OvnConsistent`] compares, now: the pods in its
/// namespaces and the nodes in its scope through the API, then
/// [`LSP_ARGV`] in the NB leader's `ovn-central` container and
/// [`INTERFACE_ARGV`] and [`CONTROLLER_ARGV`] in each node's `ovs-ovn`
/// pod. `Err`: the pods or nodes could not be listed. A component pod that
/// is missing or not Running leaves its part unreadable.
pub async fn read(
    client: &kube::Client,
    cluster: &dyn Cluster,
    slo: &Slo,
    fault_node: Option<&str>,
) -> Result<Reading, String> {
    use k8s_openapi::api::core::v1::{Node, Pod};
    use kube::api::{Api, ListParams};

    let Slo::OvnConsistent { namespaces, nodes } = slo else {
        return Err("not an ovn-consistent SLO".into());
    };
    let mut pods = Vec::new();
    let apis: Vec<Api<Pod>> = if namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    };
    for api in apis {
        let list = api
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("listing the pods: {e}"))?;
        pods.extend(list.items.iter().filter_map(pod_facts));
    }
    let node_names: Vec<String> = match (nodes, fault_node) {
        (NodeScope::FaultTarget, Some(n)) => vec![n.to_string()],
        (NodeScope::FaultTarget, None) => {
            return Err("the SLO looks at the faulted node, and the fault has none".into());
        }
        (NodeScope::All, _) => Api::<Node>::all(client.clone())
            .list(&ListParams::default())
            .await
            .map_err(|e| format!("listing the nodes: {e}"))?
            .items
            .iter()
            .filter_map(|n| n.metadata.name.clone())
            .collect(),
    };

    let mut outputs = Vec::new();
    let running = |seen: &[Seen]| {
        seen.iter()
            .find(|p| p.not_running.is_none())
            .map(|p| p.name.clone())
    };
    let leaders = live_pods(client, KUBE_OVN_NAMESPACE, NB_LEADER_SELECTOR).await?;
    let lsps = match running(&leaders) {
        None => Err(format!(
            "no Running ovn-central pod labelled {NB_LEADER_SELECTOR} in {KUBE_OVN_NAMESPACE}"
        )),
        Some(leader) => run_in(cluster, &mut outputs, &leader, CENTRAL_CONTAINER, &LSP_ARGV)
            .await
            .and_then(|o| listing(o.status, &o.stdout, &o.stderr, parse_lsps)),
    };
    let ovs = live_pods(client, KUBE_OVN_NAMESPACE, OVS_SELECTOR).await?;
    let mut node_reads = Vec::new();
    for node in node_names {
        let here: Vec<Seen> = ovs
            .iter()
            .filter(|p| p.node.as_deref() == Some(node.as_str()))
            .cloned()
            .collect();
        let Some(pod) = running(&here) else {
            let why = format!(
                "no Running ovs-ovn pod ({OVS_SELECTOR}) on {node}{}",
                here.first()
                    .and_then(|p| p.not_running.as_ref())
                    .map(|s| format!(" ({} is {s})", here[0].name))
                    .unwrap_or_default()
            );
            node_reads.push(NodeOvn {
                node,
                interfaces: Err(why.clone()),
                controller: Err(why),
            });
            continue;
        };
        let interfaces = run_in(cluster, &mut outputs, &pod, OVS_CONTAINER, &INTERFACE_ARGV)
            .await
            .and_then(|o| listing(o.status, &o.stdout, &o.stderr, parse_interfaces));
        let controller = run_in(cluster, &mut outputs, &pod, OVS_CONTAINER, &CONTROLLER_ARGV)
            .await
            .and_then(|o| parse_controller(o.status, &o.stdout, &o.stderr));
        node_reads.push(NodeOvn {
            node,
            interfaces,
            controller,
        });
    }
    Ok(Reading {
        snapshot: Snapshot {
            pods,
            namespaces: (!namespaces.is_empty()).then(|| namespaces.clone()),
            lsps,
            nodes: node_reads,
        },
        outputs,
    })
}

/// The verdict of `slo` on what [`check`] found (`Err`: the reading itself
/// failed, e.g. the pods could not be listed).
pub fn judge(slo: &Slo, found: Result<&Check, &str>) -> SloVerdict {
    let found = match found {
        Ok(c) => c,
        Err(e) => return not_evaluated(slo, e),
    };
    if found.findings.is_empty() {
        if !found.unreadable.is_empty() {
            return not_evaluated(slo, &found.unreadable.join("; "));
        }
        return SloVerdict {
            slo: slo.clone(),
            status: SloStatus::Pass,
            measured: Some(Measured::Count(0)),
            culprits: Vec::new(),
            message: "every pod has its logical switch port with its addresses and its Interface on its node's br-int, no orphaned or duplicate Interface, ovn-controller connected on every node".to_string(),
        };
    }
    let n = found.findings.len();
    let mut message = format!(
        "{n} inconsistenc{}: {}",
        if n == 1 { "y" } else { "ies" },
        found
            .findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    );
    if !found.unreadable.is_empty() {
        message.push_str(&format!(
            " (could not read: {})",
            found.unreadable.join("; ")
        ));
    }
    SloVerdict {
        slo: slo.clone(),
        status: SloStatus::Fail,
        measured: Some(Measured::Count(n as u64)),
        culprits: found.findings.iter().map(Finding::culprit).collect(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ovn-nbctl` 23.03.1's answer to [`LSP_ARGV`] (Debian bookworm), with
    /// a pod port as Kube-OVN makes it and a dual-stack one without
    /// external_ids.
    const NB: &str = "web-1.default,00:00:00:aa:00:02 10.16.0.6 fd00:10:16::6,\nweb-0.default,00:00:00:aa:00:01 10.16.0.5,ls=ovn-default pod=default/web-0 vendor=kube-ovn\n";
    /// `ovs-vsctl` 3.1.0's answer to [`INTERFACE_ARGV`].
    const IFACES: &str = "p1,iface-id=web-0.default ip=10.16.0.5 ovn-installed=true ovn-installed-ts=1796323009447 pod_name=web-0 pod_namespace=default pod_netns=/var/run/netns/cni-1234 vendor=kube-ovn\nbr-int,\n";

    fn pod(name: &str, ip: &str, mac: &str) -> PodFacts {
        PodFacts {
            namespace: "default".into(),
            name: name.into(),
            node: Some("n1".into()),
            running: true,
            ips: vec![ip.into()],
            mac: Some(mac.into()),
        }
    }

    fn consistent() -> Snapshot {
        Snapshot {
            pods: vec![pod("web-0", "10.16.0.5", "00:00:00:AA:00:01")],
            namespaces: None,
            lsps: parse_lsps(NB).map(|mut l| {
                l.retain(|p| p.name == "web-0.default");
                l
            }),
            nodes: vec![NodeOvn {
                node: "n1".into(),
                interfaces: parse_interfaces(IFACES),
                controller: parse_controller(Some(0), "connected\n", ""),
            }],
        }
    }

    #[test]
    fn the_tools_csv_is_read_with_bare_sets_and_maps_and_quoted_fields() {
        let lsps = parse_lsps(NB).unwrap();
        assert_eq!(lsps[0].name, "web-1.default");
        assert_eq!(
            lsps[0].addresses,
            ["00:00:00:aa:00:02", "10.16.0.6", "fd00:10:16::6"]
        );
        assert!(lsps[0].external_ids.is_empty());
        assert_eq!(lsps[1].external_ids["pod"], "default/web-0");
        let ifaces = parse_interfaces(IFACES).unwrap();
        assert_eq!(ifaces[0].iface_id(), Some("web-0.default"));
        assert_eq!(ifaces[0].pod(), Some(("default", "web-0")));
        assert_eq!(ifaces[1].iface_id(), None);
        // CSV quoting, as OVS writes a field with a comma or a quote.
        assert_eq!(
            csv_fields(r#"a,"b,c","d""e",f"#).unwrap(),
            ["a", "b,c", "d\"e", "f"]
        );
        for bad in ["a,b\n", "a,\"b,c\n", "p1,iface-id\n"] {
            assert!(parse_interfaces(bad).is_err(), "{bad:?}");
        }
        assert!(parse_lsps("a,b\n").is_err());
    }

    #[test]
    fn connection_status_connected_not_connected_and_not_running() {
        type Row = (
            Option<i32>,
            &'static str,
            &'static str,
            Result<Controller, ()>,
        );
        let table: [Row; 5] = [
            (Some(0), "connected\n", "", Ok(Controller::Connected)),
            (Some(0), "not connected\n", "", Ok(Controller::NotConnected)),
            (
                Some(1),
                "",
                "2026-12-03T18:37:41Z|00001|daemon_unix|WARN|/var/run/ovn/ovn-controller.pid: open: No such file or directory\novn-appctl: cannot read pidfile \"/var/run/ovn/ovn-controller.pid\" (No such file or directory)\n",
                Ok(Controller::NotRunning(
                    "exit 1: ovn-appctl: cannot read pidfile \"/var/run/ovn/ovn-controller.pid\" (No such file or directory)".into(),
                )),
            ),
            (None, "", "", Ok(Controller::NotRunning("exit by signal: ".into()))),
            (Some(0), "maybe\n", "", Err(())),
        ];
        for (status, out, err, want) in table {
            assert_eq!(
                parse_controller(status, out, err).map_err(|_| ()),
                want,
                "{out:?} {err:?}"
            );
        }
    }

    #[test]
    fn each_inconsistency_is_named_and_a_consistent_cluster_has_none() {
        assert_eq!(check(&consistent()), Check::default());

        // A pod without its port: both sides of it are named.
        let mut s = consistent();
        s.lsps.as_mut().unwrap().clear();
        let names: Vec<String> = check(&s).findings.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "logical switch port web-0.default missing from the northbound database",
                "Interface p1 on n1 has iface-id=web-0.default, which no logical switch port has"
            ]
        );

        type Edit = fn(&mut Snapshot);
        let table: [(&str, Edit, &str); 8] = [
            (
                "a port with another IP",
                |s| s.pods[0].ips = vec!["10.16.0.9".into()],
                "logical switch port web-0.default has addresses \"00:00:00:aa:00:01 10.16.0.5\", lacking the pod's 10.16.0.9",
            ),
            (
                "a pod without its Interface",
                |s| {
                    if let Ok(i) = &mut s.nodes[0].interfaces {
                        i.retain(|i| i.name != "p1")
                    }
                },
                "no Interface on br-int of n1 has external_ids:iface-id=web-0.default",
            ),
            (
                "a port for a pod that is gone",
                |s| {
                    s.pods.clear();
                    if let Ok(i) = &mut s.nodes[0].interfaces {
                        i.clear()
                    }
                },
                "logical switch port web-0.default is for pod default/web-0, which no longer exists",
            ),
            (
                "an Interface no port claims",
                |s| {
                    let mut i = parse_interfaces(IFACES).unwrap().remove(0);
                    i.name = "p2".into();
                    i.external_ids
                        .insert("iface-id".into(), "ghost.default".into());
                    i.external_ids.insert("pod_name".into(), "ghost".into());
                    s.nodes[0].interfaces.as_mut().unwrap().push(i);
                },
                "Interface p2 on n1 has iface-id=ghost.default, which no logical switch port has",
            ),
            (
                "two Interfaces for one port",
                |s| {
                    let mut i = parse_interfaces(IFACES).unwrap().remove(0);
                    i.name = "p9".into();
                    s.nodes[0].interfaces.as_mut().unwrap().push(i);
                },
                "Interfaces p1, p9 on n1 all have iface-id=web-0.default",
            ),
            (
                "an Interface for a pod on another node",
                |s| s.pods[0].node = Some("n2".into()),
                "Interface p1 on n1 has iface-id=web-0.default, made for pod default/web-0, which runs on n2",
            ),
            (
                "ovn-controller not connected",
                |s| s.nodes[0].controller = Ok(Controller::NotConnected),
                "ovn-controller on n1 is not connected to the southbound database",
            ),
            (
                "ovn-controller not running",
                |s| s.nodes[0].controller = Ok(Controller::NotRunning("exit 1: gone".into())),
                "ovn-controller on n1 is not running (exit 1: gone)",
            ),
        ];
        for (what, edit, want) in table {
            let mut s = consistent();
            edit(&mut s);
            let found = check(&s);
            let names: Vec<String> = found.findings.iter().map(ToString::to_string).collect();
            assert_eq!(names, [want], "{what}");
            assert!(found.unreadable.is_empty(), "{what}");
        }
    }

    #[test]
    fn scope_pending_pods_and_node_ports_are_not_inconsistencies() {
        // A pod not yet Running has no Interface yet; a port Kube-OVN made for
        // a pod outside the scope is not judged; ovn0's iface-id has its port.
        let mut s = consistent();
        s.pods[0].running = false;
        if let Ok(i) = &mut s.nodes[0].interfaces {
            i.clear();
        }
        assert_eq!(check(&s), Check::default());

        let mut s = consistent();
        s.pods.clear();
        s.namespaces = Some(vec!["other".into()]);
        assert_eq!(check(&s), Check::default());

        let mut s = consistent();
        s.lsps.as_mut().unwrap().push(Lsp {
            name: "node-n1".into(),
            addresses: vec!["00:00:00:00:00:09".into(), "100.64.0.2".into()],
            external_ids: BTreeMap::new(),
        });
        s.nodes[0].interfaces.as_mut().unwrap().push(OvsInterface {
            name: "ovn0".into(),
            external_ids: [("iface-id".to_string(), "node-n1".to_string())].into(),
        });
        assert_eq!(check(&s), Check::default());
    }

    #[test]
    fn pod_facts_skip_host_network_and_keep_terminating_pods_as_not_running() {
        let pod = |json: serde_json::Value| -> k8s_openapi::api::core::v1::Pod {
            serde_json::from_value(json).unwrap()
        };
        let running = pod(serde_json::json!({
            "metadata": {"name": "web-0", "namespace": "default",
                "annotations": {"ovn.kubernetes.io/mac_address": "00:00:00:aa:00:01"}},
            "spec": {"nodeName": "n1", "containers": []},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.16.0.5"}, {"ip": "fd00::5"}]}
        }));
        assert_eq!(
            pod_facts(&running),
            Some(PodFacts {
                namespace: "default".into(),
                name: "web-0".into(),
                node: Some("n1".into()),
                running: true,
                ips: vec!["10.16.0.5".into(), "fd00::5".into()],
                mac: Some("00:00:00:aa:00:01".into()),
            })
        );
        let mut terminating = running.clone();
        terminating.metadata.deletion_timestamp = Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Default::default()),
        );
        assert_eq!(pod_facts(&terminating).map(|p| p.running), Some(false));
        let mut host = running;
        host.spec.as_mut().unwrap().host_network = Some(true);
        assert_eq!(pod_facts(&host), None);
    }

    #[test]
    fn what_could_not_be_read_is_never_a_pass() {
        let slo = Slo::OvnConsistent {
            namespaces: Vec::new(),
            nodes: crate::slo::NodeScope::All,
        };
        let v = judge(&slo, Ok(&check(&consistent())));
        assert_eq!(v.status, SloStatus::Pass, "{v:?}");

        let mut s = consistent();
        s.lsps = Err(
            "exit 1: ovn-nbctl: unix:/var/run/ovn/ovnnb_db.sock: database connection failed".into(),
        );
        let v = judge(&slo, Ok(&check(&s)));
        assert!(matches!(v.status, SloStatus::NotEvaluated(_)), "{v:?}");
        assert!(v.message.contains("northbound database"), "{}", v.message);

        let mut s = consistent();
        s.nodes[0].controller = Err("no ovs-ovn pod on n1".into());
        let v = judge(&slo, Ok(&check(&s)));
        assert!(matches!(v.status, SloStatus::NotEvaluated(_)), "{v:?}");

        let v = judge(&slo, Err("API down"));
        assert!(matches!(v.status, SloStatus::NotEvaluated(_)), "{v:?}");

        // A finding fails even when something else could not be read, and
        // names its culprit.
        let mut s = consistent();
        s.nodes[0].controller = Ok(Controller::NotConnected);
        s.nodes.push(NodeOvn {
            node: "n2".into(),
            interfaces: Err("gone".into()),
            controller: Err("gone".into()),
        });
        let v = judge(&slo, Ok(&check(&s)));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.culprits[0].kind, CulpritKind::Node);
        assert_eq!(v.culprits[0].name, "n1");
        assert!(v.message.contains("could not read: n2"), "{}", v.message);

        let mut s = consistent();
        s.lsps.as_mut().unwrap().clear();
        let v = judge(&slo, Ok(&check(&s)));
        assert_eq!(v.culprits[0].kind, CulpritKind::Pod);
        assert_eq!(v.culprits[0].namespace.as_deref(), Some("default"));
        assert_eq!(v.culprits[0].name, "web-0");
        assert_eq!(v.culprits[0].node.as_deref(), Some("n1"));
    }
}
