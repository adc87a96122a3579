//! OVN's northbound logical switch ports, each node's OVS Interfaces and
//! ovn-controller's connection, as the tools Kube-OVN ships answer for them
//! in its own pods (`ovn-nbctl` in `ovn-central`, `ovs-vsctl` and
//! `ovn-appctl` in `ovs-ovn`), derived from the pods, sandboxes and
//! processes the model already keeps. The harness reads them with the same
//! parser as real OVN's output (`harness/src/observe/ovn.rs`).
//!
//! The ports follow the pods and their sandboxes, so the tables agree with
//! them except where a mechanism breaks the agreement: a stale OVS port a
//! fault left on a node's disk, and the logical switch port of a pod
//! deleted while kube-ovn-controller was not running, which stays until
//! the controller's GC removes it (rule `lsp-of-a-pod-deleted-while-the-controller-is-down`).
//!
//! From v1.15 kube-ovn-cni deletes, every minute, the Interfaces whose pod
//! is gone, so there a fault's stale ports do not outlive a minute of a
//! running kube-ovn-cni (rule `kube-ovn-cni-gc-interfaces`).

use super::natgw::ExecOutput;
use super::node::Owner;
use super::rng::Ms;
use super::world::{CState, Ev, Pod, Sandbox, World};

/// kube-ovn-cni's Interface GC period (`wait.Until(c.gcInterfaces,
/// time.Minute)`).
pub const IFACE_GC_INTERVAL: Ms = 60_000;

/// kube-ovn-controller's `--gc-interval` default: 360 s.
pub const LSP_GC_INTERVAL: Ms = 360_000;

/// The logical switch port of a pod that is gone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleLsp {
    /// Its `external_ids:pod` (`<namespace>/<pod>`).
    pub owner: String,
    /// Its addresses (`<mac> <ip>`).
    pub addresses: String,
    /// Marked by a GC pass of the controller's current run.
    pub marked: bool,
}

/// Kube-OVN's default logical switch (subnet `ovn-default`).
const DEFAULT_SWITCH: &str = "ovn-default";
/// The namespace the harness's stale-port fault names its ports' pods in
/// (the kind injector's `STALE_POD_NAMESPACE`).
const STALE_POD_NAMESPACE: &str = "cni-chaos-stale";

/// Kube-OVN's annotation of a pod's MAC (`pkg/util/const.go`
/// `MacAddressAnnotation`).
pub(super) const MAC_ANNOTATION: &str = "ovn.kubernetes.io/mac_address";

/// The MAC kube-ovn-controller allocated pod `p` and annotated it with,
/// when it is on the pod network and has its address.
pub(super) fn allocated_mac(p: &Pod) -> Option<String> {
    (!p.template.host_network && p.ip.is_some()).then(|| mac_of(p))
}

/// A deterministic MAC for a pod, in Kube-OVN's `00:00:00` prefix
/// (`pkg/util/net.go` `GenerateMac`).
fn mac_of(p: &Pod) -> String {
    let h = p
        .uid
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!(
        "00:00:00:{:02x}:{:02x}:{:02x}",
        (h >> 16) & 0xff,
        (h >> 8) & 0xff,
        h & 0xff
    )
}

fn ok(stdout: String) -> ExecOutput {
    ExecOutput {
        status: 0,
        stdout,
        stderr: String::new(),
    }
}

fn failed(status: i32, stderr: String) -> ExecOutput {
    ExecOutput {
        status,
        stdout: String::new(),
        stderr,
    }
}

impl World {
    /// Rule `ovn-nb-port-per-pod`: kube-ovn-controller keeps one logical switch port per pod on the pod network, named `<pod>.<namespace>`, with addresses `"<mac> <ip>"` and external_ids `ls`, `pod=<namespace>/<pod>` and `vendor=kube-ovn`, annotates the pod with the MAC it allocated (`ovn.kubernetes.io/mac_address`), and deletes the port with the pod; `ovn-nbctl lsp-set-addresses` replaces a port's addresses (an operator's or a tool's hand on the NB database), and they stay until the port goes.
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/ovs/util.go (PodNameToPortName)
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/ovs/ovn-nb-logical_switch_port.go (buildLogicalSwitchPort)
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/util/const.go (MacAddressAnnotation)
    /// Source: ovn-org/ovn@v24.03.0:utilities/ovn-nbctl.c (nbctl_lsp_set_addresses)
    /// Pinned by: harness/tests/ovn_system.rs::the_checker_names_a_missing_and_an_orphaned_port_on_real_ovn
    ///
    /// `ovn-nbctl --format=csv --data=bare --no-heading
    /// --columns=name,addresses,external_ids list Logical_Switch_Port`:
    /// one line per pod on the pod network that has its address.
    fn nb_ports(&self) -> String {
        let live: String = self
            .pods
            .values()
            .filter(|p| !p.template.host_network)
            .filter_map(|p| {
                let ip = p.ip.as_ref()?;
                let addresses = p
                    .lsp_addresses
                    .clone()
                    .unwrap_or_else(|| format!("{} {ip}", mac_of(p)));
                Some(format!(
                    "{name}.{ns},{addresses},ls={DEFAULT_SWITCH} pod={ns}/{name} vendor=kube-ovn\n",
                    name = p.name,
                    ns = p.namespace,
                ))
            })
            .collect();
        let stale: String = self
            .stale_lsps
            .iter()
            .filter(|(port, _)| !self.port_is_live(port))
            .map(|(port, l)| {
                format!(
                    "{port},{},ls={DEFAULT_SWITCH} pod={} vendor=kube-ovn\n",
                    l.addresses, l.owner
                )
            })
            .collect();
        live + &stale
    }

    /// `ovn-nbctl lsp-set-addresses PORT [ADDRESS]...`: the live pod's
    /// port gets `addresses` (rule `ovn-nb-port-per-pod`).
    fn lsp_set_addresses(&mut self, port: Option<&str>, addresses: &[&str]) -> ExecOutput {
        let Some(port) = port else {
            return failed(
                1,
                "ovn-nbctl: 'lsp-set-addresses' command requires at least 1 arguments\n".into(),
            );
        };
        let pod = self.pods.values_mut().find(|p| {
            !p.template.host_network
                && p.ip.is_some()
                && format!("{}.{}", p.name, p.namespace) == port
        });
        match pod {
            Some(p) => {
                p.lsp_addresses = Some(addresses.join(" "));
                ok(String::new())
            }
            None => failed(1, format!("ovn-nbctl: {port}: port name not found\n")),
        }
    }

    /// Whether a pod on the pod network with an address has port `port`
    /// (a pod of the same name again: kube-ovn-controller updates the
    /// existing port, `CreateLogicalSwitchPort`).
    fn port_is_live(&self, port: &str) -> bool {
        self.pods.values().any(|p| {
            !p.template.host_network
                && p.ip.is_some()
                && format!("{}.{}", p.name, p.namespace) == port
        })
    }

    /// Whether kube-ovn-controller's container runs (its informers hold
    /// the pods, so it hears of a deletion, at the latest as a tombstone on
    /// relist after a disconnection).
    fn kube_ovn_controller_runs(&self) -> bool {
        self.pods.values().any(|q| {
            q.template.labels.get("app").map(String::as_str) == Some("kube-ovn-controller")
                && q.ctrs[q.n_init()..]
                    .iter()
                    .any(|c| matches!(c.state, CState::Running { .. }))
        })
    }

    /// Rule `lsp-of-a-pod-deleted-while-the-controller-is-down`: kube-ovn-controller deletes a pod's logical switch port when its informer delivers the pod's deletion; a pod deleted while no controller runs is never delivered to the next one (it lists the pods that exist), so its port stays until the LSP GC, which skips LSPs at start-up and runs `markAndCleanLSP` when the controller starts and every `--gc-interval` (360 s): a port without a pod is marked on one pass and deleted on the next.
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/controller/gc.go (gc: "The lsp gc is processed periodically by markAndCleanLSP, will not gc lsp when init"; markAndCleanLSP: lastNoPodLSP marks, the next pass deletes)
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/controller/controller.go (wait.Until markAndCleanLSP every GCInterval)
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/controller/config.go (gc-interval default 360)
    ///
    /// Pod `k` is being forgotten: keeps its port when no controller runs.
    pub(super) fn lsp_missed(&mut self, k: u64) {
        if self.kube_ovn_controller_runs() {
            return;
        }
        let Some(p) = self.pods.get(&k) else { return };
        let (false, Some(ip)) = (p.template.host_network, &p.ip) else {
            return;
        };
        let port = format!("{}.{}", p.name, p.namespace);
        let lsp = StaleLsp {
            owner: format!("{}/{}", p.namespace, p.name),
            addresses: format!("{} {ip}", mac_of(p)),
            marked: false,
        };
        self.note(format!(
            "kube-ovn-controller: not running when pod {} was deleted; its logical switch port {port} stays until the LSP GC",
            lsp.owner
        ));
        self.stale_lsps.insert(port, lsp);
    }

    /// Container `i` of pod `k` started run `run`: when it is
    /// kube-ovn-controller, its LSP GC starts (its marks are in memory, so
    /// a new run starts without any).
    pub(super) fn lsp_gc_start(&mut self, k: u64, i: usize, run: u32) {
        let Some(p) = self.pods.get(&k) else { return };
        if p.template.labels.get("app").map(String::as_str) != Some("kube-ovn-controller")
            || i < p.n_init()
        {
            return;
        }
        for l in self.stale_lsps.values_mut() {
            l.marked = false;
        }
        self.after(0, Ev::LspGc { pod: k, c: i, run });
    }

    /// Rule `kube-ovn-cni-gc-interfaces`: from v1.15, kube-ovn-cni lists, when it starts and every minute, the OVS Interfaces that carry `pod_name` and `pod_namespace` and whose link is not up, and deletes each whose device is missing or whose pod does not exist; v1.13.15 and v1.14.41 have no such loop, so such Interfaces stay.
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/daemon/controller.go (gcInterfaces; wait.Until(c.gcInterfaces, time.Minute))
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/ovs/ovs-vsctl.go (ListInterfacePodMap: find interface pod_name!=[] pod_namespace!=[] link_state!=up)
    /// Source: kubeovn/kube-ovn@v1.15.24:pkg/daemon/controller.go (gcInterfaces)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/daemon/controller.go (no gcInterfaces)
    ///
    /// One pass of run `run` of kube-ovn-cni's container `c` in pod `k`:
    /// the fault's stale ports (no device, a pod that never existed) go;
    /// the sandboxes' own Interfaces are derived from live pods, so none of
    /// them is ever a candidate. A pass while OVS does not answer does
    /// nothing (ListInterfacePodMap fails).
    pub(super) fn iface_gc(&mut self, k: u64, c: usize, run: u32) {
        let Some(p) = self.pods.get(&k) else { return };
        let Some(n) = p.node else { return };
        let ctr = &p.ctrs[c];
        if ctr.runs != run
            || !matches!(ctr.state, CState::Running { .. })
            || !self.nodes[n].active()
        {
            return;
        }
        if self.ovs_healthy(n) && !self.nodes[n].ovs_ports.is_empty() {
            let ports = std::mem::take(&mut self.nodes[n].ovs_ports);
            let node = self.nodes[n].name.clone();
            for port in ports.keys() {
                self.note(format!(
                    "node {node}: kube-ovn-cni: pod {STALE_POD_NAMESPACE}/{port} not found, delete ovs interface {port}"
                ));
            }
        }
        self.after(IFACE_GC_INTERVAL, Ev::IfaceGc { pod: k, c, run });
    }

    /// One `markAndCleanLSP` pass of run `run` of container `c` of pod
    /// `k`, if that run still goes on; then the next one.
    pub(super) fn lsp_gc(&mut self, k: u64, c: usize, run: u32) {
        let Some(p) = self.pods.get(&k) else { return };
        let ctr = &p.ctrs[c];
        if ctr.runs != run || !matches!(ctr.state, CState::Running { .. }) {
            return;
        }
        let ports: Vec<String> = self.stale_lsps.keys().cloned().collect();
        for port in ports {
            if self.port_is_live(&port) {
                self.stale_lsps.remove(&port);
                continue;
            }
            let l = self.stale_lsps.get_mut(&port).expect("listed");
            if l.marked {
                self.stale_lsps.remove(&port);
                self.note(format!(
                    "kube-ovn-controller: gc logical switch port {port}"
                ));
            } else {
                l.marked = true;
            }
        }
        self.after(LSP_GC_INTERVAL, Ev::LspGc { pod: k, c, run });
    }

    /// Rule `ovs-interface-per-sandbox`: kube-ovn-cni adds each pod sandbox's host-side veth to `br-int` with external_ids `iface-id=<pod>.<namespace>`, `vendor`, `pod_name`, `pod_namespace`, `ip` and `pod_netns`, and removes it with the sandbox; a port a fault added stays in the OVS database (on the node's disk) with the external_ids it was given.
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/daemon/ovs_linux.go (configureNic: add-port br-int with external_ids)
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/ovs/ovs-vsctl.go (CleanDuplicatePort: one Interface per iface-id)
    /// Pinned by: harness/tests/ovn_system.rs::the_checker_names_a_missing_and_an_orphaned_port_on_real_ovn
    ///
    /// `ovs-vsctl --format=csv --data=bare --no-heading
    /// --columns=name,external_ids list Interface` on node `n`.
    fn node_interfaces(&self, n: usize) -> String {
        let mut out = String::from("br-int,\n");
        for k in &self.pods_on[n] {
            let Some(p) = self.pods.get(k) else { continue };
            let (Sandbox::Ready { netns, .. }, false, Some(ip)) =
                (&p.sandbox, p.template.host_network, &p.ip)
            else {
                continue;
            };
            // generateNicName: the container ID's first 12 characters + `_h`.
            let nic: String = p.uid.chars().filter(|c| *c != '-').take(12).collect();
            out.push_str(&format!(
                "{nic}_h,iface-id={name}.{ns} ip={ip} pod_name={name} pod_namespace={ns} pod_netns=/var/run/netns/{netns} vendor=kube-ovn\n",
                name = p.name,
                ns = p.namespace,
                netns = netns.as_deref().unwrap_or_default(),
            ));
        }
        for (port, netns) in &self.nodes[n].ovs_ports {
            out.push_str(&format!(
                "{port},cni-chaos=stale iface-id={port}.{STALE_POD_NAMESPACE} pod_name={port} pod_namespace={STALE_POD_NAMESPACE} pod_netns=/var/run/netns/{} vendor=kube-ovn\n",
                netns.as_deref().unwrap_or_default()
            ));
        }
        out
    }

    /// Rule `ovn-controller-connection-status`: `ovn-appctl -t ovn-controller connection-status` answers `connected` while ovn-controller's southbound session is up and `not connected` while the SB database (in ovn-central) is away; without a running ovn-controller, ovn-appctl cannot read its pidfile and exits 1.
    /// Source: ovn-org/ovn@v24.03.0:controller/ovn-controller.c (ovn_conn_show: "connected" / "not connected")
    /// Source: kubeovn/kube-ovn@v1.16.2:dist/images/ovs-healthcheck.sh (ovn-controller's control socket from /var/run/ovn/ovn-controller.pid)
    /// Pinned by: harness/tests/ovn_system.rs::ovn_controller_disconnected_and_killed_are_named_on_real_ovn
    fn controller_status(&self, k: u64, n: usize) -> Result<ExecOutput, String> {
        let controller = self.nodes[n].procs.values().find(|pr| {
            pr.comm == "ovn-controller" && matches!(pr.owner, Owner::Container(pk, _, _) if pk == k)
        });
        match controller {
            None => Ok(failed(
                1,
                "ovn-appctl: cannot read pidfile \"/var/run/ovn/ovn-controller.pid\" (No such file or directory)\n".into(),
            )),
            // A frozen daemon never answers; kubectl exec times out.
            Some(pr) if pr.stopped => {
                Err("ovn-appctl: timed out waiting for ovn-controller's answer".into())
            }
            Some(_) if self.southbound_serving() => Ok(ok("connected\n".into())),
            Some(_) => Ok(ok("not connected\n".into())),
        }
    }

    /// Whether an ovn-central pod runs its container on a connected node:
    /// the SB database ovn-controller talks to.
    fn southbound_serving(&self) -> bool {
        self.pods.values().any(|p| {
            p.namespace == "kube-system"
                && p.deleting.is_none()
                && p.template
                    .containers
                    .iter()
                    .any(|c| c.name == "ovn-central")
                && p.node.is_some_and(|n| self.nodes[n].connected)
                && p.ctrs[p.n_init()..]
                    .iter()
                    .any(|c| matches!(c.state, CState::Running { .. }))
        })
    }

    /// The answer to an OVN or OVS command in container `container` of pod
    /// `k` (Running, on a connected node), if the model knows the command.
    pub(super) fn ovn_exec(
        &mut self,
        k: u64,
        container: &str,
        argv: &[&str],
    ) -> Option<Result<ExecOutput, String>> {
        let p = self.pods.get(&k)?;
        let n = p.node?;
        let listing = |columns: &str, table: &str| {
            argv == [
                argv[0],
                "--format=csv",
                "--data=bare",
                "--no-heading",
                columns,
                "list",
                table,
            ]
        };
        match (container, argv.first().copied()?) {
            ("ovn-central", "ovn-nbctl")
                if listing(
                    "--columns=name,addresses,external_ids",
                    "Logical_Switch_Port",
                ) =>
            {
                Some(Ok(ok(self.nb_ports())))
            }
            ("openvswitch", "ovs-vsctl") if listing("--columns=name,external_ids", "Interface") => {
                let db = self.nodes[n].procs.values().find(|pr| {
                    pr.comm == "ovsdb-server"
                        && matches!(pr.owner, Owner::Container(pk, _, _) if pk == k)
                });
                Some(match db {
                    None => Ok(failed(
                        1,
                        "ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed (No such file or directory)\n".into(),
                    )),
                    Some(pr) if pr.stopped => {
                        Err("ovs-vsctl: timed out waiting for ovsdb-server".into())
                    }
                    Some(_) => Ok(ok(self.node_interfaces(n))),
                })
            }
            ("ovn-central", "ovn-nbctl") if argv.get(1) == Some(&"lsp-set-addresses") => Some(Ok(
                self.lsp_set_addresses(argv.get(2).copied(), &argv[3.min(argv.len())..]),
            )),
            ("openvswitch", "ovn-appctl")
                if argv == ["ovn-appctl", "-t", "ovn-controller", "connection-status"] =>
            {
                Some(self.controller_status(k, n))
            }
            _ => None,
        }
    }
}
