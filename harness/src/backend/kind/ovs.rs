//! Where Open vSwitch commands (`ovs-vsctl`, `ovs-appctl`) run.
//!
//! kind's node image has no Open vSwitch (kubernetes-sigs/kind
//! images/base/Dockerfile installs no `openvswitch-*` package). Kube-OVN
//! runs OVS in the `ovs-ovn` DaemonSet (kube-system, label `app=ovs`,
//! hostNetwork + hostPID, container `openvswitch`: kubeovn/kube-ovn
//! dist/images/install.sh at v1.16.2), so on kind the harness runs them with
//! `kubectl exec` in that node's `ovs-ovn` pod ([`OvsCommands::OvsOvnPod`]).
//! The system tests' fake nodes run OVS in the node container itself
//! ([`OvsCommands::NodeContainer`]); everything else they drive is the same
//! code path.

use super::KindError;
use super::docker::{DockerNodes, non_empty_lines};
use super::kubectl::{KUBECTL_TIMEOUT, Kubectl};
use crate::exec::Output;

/// Namespace of Kube-OVN's `ovs-ovn` DaemonSet.
pub const OVS_NAMESPACE: &str = "kube-system";
/// Label selector of the `ovs-ovn` pods.
pub const OVS_SELECTOR: &str = "app=ovs";
/// The container in an `ovs-ovn` pod that runs OVS.
pub const OVS_CONTAINER: &str = "openvswitch";
/// Where `ovs-ctl` (run by Kube-OVN's start-ovs.sh) writes the pidfiles of
/// `ovsdb-server` and `ovs-vswitchd`: OVS's rundir, `/var/run/openvswitch`
/// in the `ovs-ovn` pod, a hostPath of the node's `/run/openvswitch`.
/// `ovn-central`'s NB and SB `ovsdb-server`s write theirs under `/run/ovn`.
pub const OVS_RUN_DIR: &str = "/run/openvswitch";

/// The pidfile of OVS daemon `daemon` (`ovsdb-server`, `ovs-vswitchd`).
pub fn pidfile(daemon: &str) -> String {
    format!("{OVS_RUN_DIR}/{daemon}.pid")
}

/// The PID (in the node's PID namespace: `ovs-ovn` is hostPID) of OVS
/// daemon `daemon` on `node`, read from its pidfile in the node, never by
/// name: `pgrep -x ovsdb-server` would also match `ovn-central`'s
/// databases on a control-plane node. `None` when the pidfile is missing,
/// or names a process that is not a live `daemon` (a stale pidfile, or a
/// zombie), and in a dry run.
pub async fn daemon_pid(
    nodes: &DockerNodes,
    node: &str,
    daemon: &str,
) -> Result<Option<u32>, KindError> {
    let path = pidfile(daemon);
    let Some(text) = nodes.read_file(node, &path).await? else {
        return Ok(None);
    };
    if nodes.is_dry_run() {
        let placeholder = format!("/proc/<PID in {path}>/stat");
        nodes.read_file(node, &placeholder).await?;
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&text);
    let pid: u32 = text.trim().parse().map_err(|_| {
        KindError::parse(format!("docker exec {node} cat {path}"), "not a PID", &text)
    })?;
    match nodes.proc_stat(node, pid).await? {
        Some(s) if s.comm == daemon && s.is_live() => Ok(Some(pid)),
        found => {
            tracing::warn!(
                "{path} on {node} names PID {pid}, which is {found:?}, not a live {daemon}: a stale pidfile"
            );
            Ok(None)
        }
    }
}

/// Where OVS commands for a node run.
#[derive(Clone, Debug)]
pub enum OvsCommands {
    /// `kubectl -n kube-system exec <ovs-ovn pod on the node> -c openvswitch
    /// -- <argv>`: Kube-OVN on kind.
    OvsOvnPod(Kubectl),
    /// `docker exec <node> <argv>`: OVS runs in the node container itself
    /// (the system tests' fake nodes; never the case on kind).
    NodeContainer,
}

/// OVS commands against one node, with its `ovs-ovn` pod resolved once.
#[derive(Debug)]
pub struct NodeOvs<'a> {
    nodes: &'a DockerNodes,
    node: String,
    target: Target<'a>,
}

#[derive(Debug)]
enum Target<'a> {
    Pod { kubectl: &'a Kubectl, pod: String },
    Node,
}

impl OvsCommands {
    /// OVS on `node`: finds its `ovs-ovn` pod
    /// (`kubectl -n kube-system get pods -l app=ovs --field-selector
    /// spec.nodeName=<node> -o name`); exactly one must match.
    pub async fn on<'a>(
        &'a self,
        nodes: &'a DockerNodes,
        node: &str,
    ) -> Result<NodeOvs<'a>, KindError> {
        let target = match self {
            OvsCommands::NodeContainer => Target::Node,
            OvsCommands::OvsOvnPod(kubectl) => {
                let field = format!("spec.nodeName={node}");
                let out = kubectl
                    .run(
                        [
                            "-n",
                            OVS_NAMESPACE,
                            "get",
                            "pods",
                            "-l",
                            OVS_SELECTOR,
                            "--field-selector",
                            &field,
                            "-o",
                            "name",
                        ],
                        KUBECTL_TIMEOUT,
                    )
                    .await?;
                let pods = non_empty_lines(&out);
                let pod = match pods.as_slice() {
                    _ if kubectl.is_dry_run() => format!("pod/<ovs-ovn pod on {node}>"),
                    [one] => one.clone(),
                    [] => {
                        return Err(KindError::NoOvs {
                            node: node.into(),
                            problem: format!(
                                "no pod labelled {OVS_SELECTOR} in {OVS_NAMESPACE} runs on it (is Kube-OVN installed?)"
                            ),
                        });
                    }
                    many => {
                        return Err(KindError::NoOvs {
                            node: node.into(),
                            problem: format!(
                                "several {OVS_SELECTOR} pods run on it ({}); a rollout is under way",
                                many.join(", ")
                            ),
                        });
                    }
                };
                Target::Pod { kubectl, pod }
            }
        };
        Ok(NodeOvs {
            nodes,
            node: node.to_string(),
            target,
        })
    }
}

impl NodeOvs<'_> {
    /// Runs `argv` and returns its output whatever its exit.
    pub async fn output(&self, argv: &[&str]) -> Result<Output, KindError> {
        match &self.target {
            Target::Node => self.nodes.exec_output(&self.node, argv, None).await,
            Target::Pod { kubectl, pod } => {
                kubectl
                    .output(pod_exec_args(pod, argv), KUBECTL_TIMEOUT)
                    .await
            }
        }
    }

    /// Like [`NodeOvs::output`], but a non-zero exit is an error carrying
    /// the command line and its output.
    pub async fn run(&self, argv: &[&str]) -> Result<Output, KindError> {
        match &self.target {
            Target::Node => self.nodes.exec(&self.node, argv).await,
            Target::Pod { kubectl, pod } => {
                kubectl.run(pod_exec_args(pod, argv), KUBECTL_TIMEOUT).await
            }
        }
    }

    /// Adds the existing device `port` to `bridge` as Kube-OVN's CNI server
    /// adds a pod's host-side veth: `ovs-vsctl add-port <bridge> <port> --
    /// set Interface <port> external_ids:iface-id=<pod>.<namespace>
    /// external_ids:vendor=kube-ovn external_ids:pod_name=...
    /// external_ids:pod_namespace=... external_ids:ip=...
    /// external_ids:pod_netns=...` (kubeovn/kube-ovn v1.16.2
    /// pkg/daemon/ovs_linux.go `configureNic`; `iface-id` is
    /// `ovs.PodNameToPortName`, `<pod>.<namespace>` for the default
    /// provider), plus `external_ids:cni-chaos=stale` to tell it from a
    /// real pod's port.
    pub async fn add_pod_port(
        &self,
        bridge: &str,
        port: &str,
        pod: &PodPort,
    ) -> Result<(), KindError> {
        let ids = [
            format!("external_ids:iface-id={}.{}", pod.name, pod.namespace),
            "external_ids:vendor=kube-ovn".to_string(),
            format!("external_ids:pod_name={}", pod.name),
            format!("external_ids:pod_namespace={}", pod.namespace),
            format!("external_ids:ip={}", pod.ip),
            format!("external_ids:pod_netns={}", pod.netns),
            "external_ids:cni-chaos=stale".to_string(),
        ];
        let mut argv = vec![
            "ovs-vsctl",
            "--timeout=10",
            "add-port",
            bridge,
            port,
            "--",
            "set",
            "Interface",
            port,
        ];
        argv.extend(ids.iter().map(String::as_str));
        self.run(&argv).await?;
        Ok(())
    }

    /// OVS's own verdict on interface `port`
    /// (`ovs-vsctl get Interface <port> error ofport`); `None` in a dry run.
    pub async fn interface(&self, port: &str) -> Result<Option<InterfaceState>, KindError> {
        let argv = [
            "ovs-vsctl",
            "--timeout=10",
            "get",
            "Interface",
            port,
            "error",
            "ofport",
        ];
        let out = self.run(&argv).await?;
        if self.nodes.is_dry_run() {
            return Ok(None);
        }
        let text = out.stdout_str();
        parse_interface_state(&text).map(Some).ok_or_else(|| {
            KindError::parse(
                argv.join(" "),
                "not an error line and an ofport line",
                &text,
            )
        })
    }

    /// The ports on an OVS bridge (`ovs-vsctl list-ports`).
    pub async fn ports(&self, bridge: &str) -> Result<Vec<String>, KindError> {
        let out = self
            .run(&["ovs-vsctl", "--timeout=10", "list-ports", bridge])
            .await?;
        Ok(non_empty_lines(&out))
    }

    /// Removes an OVS port if it exists (`ovs-vsctl --if-exists del-port`).
    pub async fn del_port(&self, bridge: &str, port: &str) -> Result<(), KindError> {
        self.run(&[
            "ovs-vsctl",
            "--timeout=10",
            "--if-exists",
            "del-port",
            bridge,
            port,
        ])
        .await?;
        Ok(())
    }

    /// Whether an OVS daemon answers on its control socket
    /// (`ovs-appctl --timeout=5 -t <daemon> version`).
    pub async fn responds(&self, daemon: &str) -> Result<bool, KindError> {
        let out = self
            .output(&["ovs-appctl", "--timeout=5", "-t", daemon, "version"])
            .await?;
        Ok(out.success())
    }
}

/// What Kube-OVN records on a pod's OVS port ([`NodeOvs::add_pod_port`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodPort {
    /// The pod's name.
    pub name: String,
    /// Its namespace.
    pub namespace: String,
    /// Its IP address.
    pub ip: String,
    /// Its network namespace's path.
    pub netns: String,
}

/// An OVS interface's `error` and `ofport` columns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceState {
    /// The OpenFlow port number; `-1` when OVS could not open the device,
    /// `None` while none is assigned yet (`[]`).
    pub ofport: Option<i64>,
    /// Why OVS could not open it (`could not open network device <p> (No
    /// such device)`); `None` when empty (`[]`).
    pub error: Option<String>,
}

impl InterfaceState {
    /// What OVS shows for a port whose device is gone: no OpenFlow port
    /// (`-1`) and an error. A healthy port has a port number and no error.
    pub fn is_stale(&self) -> bool {
        self.ofport == Some(-1) && self.error.is_some()
    }
}

impl std::fmt::Display for InterfaceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ofport {
            Some(n) => write!(f, "ofport {n}")?,
            None => f.write_str("no ofport")?,
        }
        match &self.error {
            Some(e) => write!(f, ", error {e:?}"),
            None => f.write_str(", no error"),
        }
    }
}

/// Parses `ovs-vsctl get Interface <p> error ofport`: the `error` column
/// (`[]` or a quoted string), then `ofport` (`[]` or an integer).
pub fn parse_interface_state(text: &str) -> Option<InterfaceState> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let error = match lines.next()? {
        "[]" | "\"\"" => None,
        // OVS quotes a string unless it looks like an identifier.
        text => Some(
            match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                Some(inner) => inner.replace("\\\"", "\"").replace("\\\\", "\\"),
                None => text.to_string(),
            },
        ),
    };
    let ofport = match lines.next()? {
        "[]" => None,
        n => Some(n.parse().ok()?),
    };
    if lines.next().is_some() {
        return None;
    }
    Some(InterfaceState { ofport, error })
}

/// `-n kube-system exec <pod> -c openvswitch -- <argv>`.
fn pod_exec_args(pod: &str, argv: &[&str]) -> Vec<String> {
    ["-n", OVS_NAMESPACE, "exec", pod, "-c", OVS_CONTAINER, "--"]
        .iter()
        .chain(argv)
        .map(|s| (*s).to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_states() {
        let stale = parse_interface_state(
            "\"could not open network device chaos-stale-0 (No such device)\"\n-1\n",
        )
        .unwrap();
        assert_eq!(stale.ofport, Some(-1));
        assert_eq!(
            stale.error.as_deref(),
            Some("could not open network device chaos-stale-0 (No such device)")
        );
        assert!(stale.is_stale());
        let healthy = parse_interface_state("[]\n3\n").unwrap();
        assert_eq!(
            healthy,
            InterfaceState {
                ofport: Some(3),
                error: None
            }
        );
        assert!(!healthy.is_stale());
        assert_eq!(healthy.to_string(), "ofport 3, no error");
        // Not yet assigned is not stale either.
        assert!(!parse_interface_state("[]\n[]\n").unwrap().is_stale());
        assert!(parse_interface_state("oops\n-1\n").unwrap().is_stale());
        for bad in ["", "[]", "[]\nx\n", "[]\n1\n2\n"] {
            assert_eq!(parse_interface_state(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pidfiles() {
        assert_eq!(pidfile("ovsdb-server"), "/run/openvswitch/ovsdb-server.pid");
    }
}
