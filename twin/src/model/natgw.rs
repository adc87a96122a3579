//! The VPC NAT gateway's iptables NAT table and EIP, which live in its
//! sandbox's network namespace, and kube-ovn-controller's init and redo of
//! them; plus the command seam's answers (`iptables-save -t nat`,
//! `ip -o -4 addr show dev net1`) in the real tools' formats.

use serde_json::{Value, json};

use super::world::{CState, Ev, Sandbox, World};

/// The gateway's name (StatefulSet `vpc-nat-gw-<name>`).
pub const NAT_GW_NAME: &str = "gw1";
/// The gateway container's name, as kube-ovn-controller's StatefulSet names it.
pub const NAT_GW_CONTAINER: &str = "vpc-nat-gw";
/// The VPC subnet the SNAT rule translates (the harness's NAT setup).
pub const NAT_SNAT_CIDR: &str = "10.250.1.0/24";
/// The EIP on `net1` (on the harness's external network).
pub const NAT_EIP: &str = "172.31.250.101";
/// The prefix length of the external network.
pub const NAT_EXTERNAL_PREFIX: u8 = 24;
/// The external network's CIDR (a Docker network of the harness's own on
/// kind; the EIP is in it).
pub const NAT_EXTERNAL_CIDR: &str = "172.31.250.0/24";
/// Its gateway (Docker's bridge address; the external Subnet's gateway).
pub const NAT_EXTERNAL_GATEWAY: &str = "172.31.250.1";
/// Where Docker picks the node containers' addresses on it.
pub const NAT_DOCKER_IP_RANGE: &str = "172.31.250.0/26";
/// What Kube-OVN must not hand out on the external Subnet: Docker's
/// gateway and range, the target, and the EIP (requested statically).
pub const NAT_EXCLUDE_IPS: &str = "172.31.250.1..172.31.250.101";
/// The target outside the VPC, on the external network (a container the
/// harness runs on kind).
pub const NAT_TARGET_IP: &str = "172.31.250.100";
/// The port the target's `httpd` listens on.
pub const NAT_TARGET_PORT: u16 = 8080;
/// The target's host name (`docker run --hostname`), which its answers
/// carry.
pub const NAT_TARGET_HOSTNAME: &str = "cni-chaos-nat-target";
/// The client in the VPC subnet (a StatefulSet in kube-system, pod
/// `<name>-0`, at the DNAT rule's internal IP, on the control plane).
pub const NAT_CLIENT: &str = "cni-chaos-nat-client";
/// The client's container.
pub const NAT_CLIENT_CONTAINER: &str = "client";
/// The client's container that sends the `nat-egress` traffic flow to the
/// target's receiver.
pub const NAT_SENDER_CONTAINER: &str = "sender";
/// The port the target's traffic receiver listens on (the traffic pods').
pub const NAT_TARGET_TRAFFIC_PORT: u16 = 9000;
/// The first word of every answer of the path's `httpd` CGI.
pub const NAT_PATH_MARKER: &str = "cni-chaos-nat-path";
/// How long the path's client waits for an answer (`nc -w`), seconds.
pub const NAT_PATH_TIMEOUT_S: u32 = 5;
/// The pod annotation kube-ovn-controller sets once it initialised the gateway.
pub const NAT_GW_INIT_ANNOTATION: &str = "ovn.kubernetes.io/vpc_nat_gw_init";

/// The VPC the gateway serves.
pub const NAT_VPC: &str = "cni-chaos-vpc";
/// The VPC's subnet.
pub const NAT_VPC_SUBNET: &str = "cni-chaos-vpc-subnet";
/// The external subnet (the Multus attachment's provider subnet).
pub const NAT_EXTERNAL_SUBNET: &str = "ovn-vpc-external-network";
/// The gateway's address in the VPC subnet (`lanIp`).
pub const NAT_LAN_IP: &str = "10.250.1.254";
/// The IptablesEIP's name.
pub const NAT_EIP_NAME: &str = "eip-gw1";
/// The IptablesSnatRule's name.
pub const NAT_SNAT_NAME: &str = "snat-gw1";
/// The IptablesDnatRule's name. It shares the SNAT rule's EIP, as the
/// e2e's "shared eip" case does (a FIP would need an EIP of its own).
pub const NAT_DNAT_NAME: &str = "dnat-gw1";
/// The DNAT rule's port on the EIP.
pub const NAT_DNAT_EXTERNAL_PORT: u16 = 8080;
/// The DNAT rule's protocol.
pub const NAT_DNAT_PROTOCOL: &str = "tcp";
/// The DNAT rule's destination in the VPC subnet.
pub const NAT_DNAT_INTERNAL_IP: &str = "10.250.1.10";
/// The DNAT rule's destination port.
pub const NAT_DNAT_INTERNAL_PORT: u16 = 80;

/// What the controller's init and redo put in the sandbox's namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct NatState {
    /// `nat-gateway.sh init` ran: the SNAT_FILTER / EXCLUSIVE_SNAT /
    /// SHARED_SNAT chains exist and POSTROUTING jumps to them.
    pub chains: bool,
    /// `-A SHARED_SNAT ...` rules (iptables-save form, without `-A SHARED_SNAT`).
    pub snat: Vec<String>,
    /// `-A SHARED_DNAT ...` rules (iptables-save form, without `-A SHARED_DNAT`).
    pub dnat: Vec<String>,
    /// Addresses on `net1` (`a.b.c.d/len`).
    pub eips: Vec<String>,
}

/// One `kubectl exec` answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecOutput {
    /// The command's exit status.
    pub status: i32,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl World {
    /// Rule `nat-gateway-init-once-per-pod`: kube-ovn-controller initialises a Running VPC NAT gateway pod (`nat-gateway.sh init`, then the EIPs and SNAT/DNAT/FIP rules again, keyed to the pod's creation time) only when the pod lacks the `ovn.kubernetes.io/vpc_nat_gw_init` annotation, and sets it; the chains, rules and EIPs live in the sandbox's network namespace, so a new sandbox of the same pod (a node reboot) starts with none and is not initialised again.
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/vpc_nat_gateway.go (handleInitVpcNatGw: hasInit returns early; execNatGwRules init; updateVpcSnatQueue.Add; PatchAnnotations VpcNatGatewayInitAnnotation)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/vpc_nat_gateway.go (handleUpdateVpcSnat: redoSnat when Status.Redo differs from the pod's CreationTimestamp)
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/vpcnatgateway/nat-gateway.sh (init: SNAT_FILTER, EXCLUSIVE_SNAT, SHARED_SNAT; add_snat: -A SHARED_SNAT -o net1 -s CIDR -j SNAT --to-source EIP; add_eip: ip addr replace EIP dev net1)
    /// Source: kubeovn/kube-ovn@v1.13.15:pkg/controller/vpc_nat_gateway.go (handleInitVpcNatGw: the same hasInit check)
    /// Source: kubeovn/kube-ovn@v1.13.15:dist/images/vpcnatgateway/nat-gateway.sh (add_dnat: iptables -t nat -A SHARED_DNAT -p PROTOCOL -d EIP --dport PORT -j DNAT --to-destination IP:PORT; the same at v1.14.41 and v1.15.9)
    /// Source: kubeovn/kube-ovn@v1.16.2:dist/images/vpcnatgateway/nat-gateway.sh (add_dnat: the same rule, iptables-save form -A SHARED_DNAT -d EIP/32 -p PROTOCOL -m PROTOCOL --dport PORT -j DNAT --to-destination IP:PORT)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/vpc_nat_gateway.go (handleInitVpcNatGw: updateVpcDnatQueue.Add after init, handleUpdateVpcDnat: redoDnat)
    ///
    /// Rule `nat-gateway-restart-rolls-the-pod-5072`: from v1.14 on, kube-ovn-controller sees a gateway pod whose `vpc-nat-gw` container restarted (restartCount > 0, as after a node reboot) and adds `ovn.kubernetes.io/vpc_nat_gw_container_restarted` to the StatefulSet's template, which replaces the pod; the new pod has no init annotation and is initialised with every rule. v1.13.15 has no such check, so the rules stay lost.
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/pod.go (needRestartNatGatewayPod; enqueueUpdatePod adds the gateway to updateVpcNatGatewayQueue)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/vpc_nat_gateway.go (handleAddOrUpdateVpcNatGw: natGwPodContainerRestartCount; genNatGwStatefulSet: VpcNatGatewayContainerRestartAnnotation, fix of #5072)
    /// Source: kubeovn/kube-ovn@v1.13.15:pkg/controller/pod.go (no needRestartNatGatewayPod)
    ///
    /// The controller's look at gateway pod `k` once its container runs
    /// with `net1`: init and redo, a roll, or nothing.
    pub(super) fn nat_gw_sync(&mut self, k: u64, i: usize, run: u32) {
        let controller_ready = self.pods.values().any(|q| {
            q.template.labels.get("app").map(String::as_str) == Some("kube-ovn-controller")
                && q.deleting.is_none()
                && q.node.is_some_and(|m| self.nodes[m].connected)
                && super::render::pod_ready(self, q)
        });
        if !controller_ready {
            // getNatGwPod / the work queue retry.
            self.after(5_000, Ev::Tick { pod: k, c: i, run });
            return;
        }
        let rolls = self.cfg.profile.nat_gw_restart_rolls;
        let p = self.pods.get_mut(&k).expect("pod exists");
        if !p.nat_gw_init {
            p.nat = NatState {
                chains: true,
                snat: vec![format!(
                    "-s {NAT_SNAT_CIDR} -o net1 -j SNAT --to-source {NAT_EIP}"
                )],
                dnat: vec![dnat_rule()],
                eips: vec![format!("{NAT_EIP}/{NAT_EXTERNAL_PREFIX}")],
            };
            p.nat_gw_init = true;
            self.dirty_pods.insert(k);
            let name = p.name.clone();
            // handleUpdateVpcSnat / handleUpdateVpcEip: the rules' status
            // says they were redone for this pod (its creation time).
            let created = self.timestamp(self.pods[&k].created);
            self.put_nat_objects(Some(&created.strftime("%Y-%m-%dT%H:%M:%S").to_string()));
            self.note(format!(
                "kube-ovn-controller: vpc nat gateway {name} initialised"
            ));
            return;
        }
        let restarted = p.ctrs[i].runs > 1;
        if rolls && restarted {
            let (ns, name) = (p.namespace.clone(), p.name.clone());
            self.note(format!(
                "kube-ovn-controller: vpc nat gateway container of {name} restarted: replacing the pod"
            ));
            self.api_delete_pod(&ns, &name);
        }
    }

    /// Rule `nat-gateway-resources-with-status`: the gateway is set up as Kube-OVN's own e2e sets one up: a Vpc with a default route to the gateway's `lanIp`, a Subnet in it, the external Subnet behind the macvlan attachment `ovn-vpc-external-network`, a VpcNatGateway pinned to its node, an IptablesEIP, an IptablesSnatRule and an IptablesDnatRule on the same EIP (the e2e's shared-EIP case), all cluster-scoped; the EIP's and the rules' status turns `ready` with `redo` set to the gateway pod's creation time when kube-ovn-controller applies them, and stays as it is when the rules are lost afterwards; the EIP's `status.nat` lists what uses it, dnat before snat.
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/apis/kubeovn/v1/iptables-snat-rule.go (IptablesSnatRuleSpec eip, internalCIDR; status ready, v4ip, natGwDp, redo, internalCIDR)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/apis/kubeovn/v1/iptables-eip.go (IptablesEIPSpec v4ip, natGwDp, externalSubnet; status ready, ip, redo, nat)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/apis/kubeovn/v1/vpc-nat-gateway.go (VpcNatGatewaySpec vpc, subnet, externalSubnets, lanIp, selector)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/vpc_nat_gateway.go (handleUpdateVpcSnat: redoSnat with natGwCreatedAT, the pod's CreationTimestamp as 2006-01-02T15:04:05)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/apis/kubeovn/v1/iptables-dnat-rule.go (IptablesDnatRuleSpec eip, externalPort, protocol, internalIp, internalPort; status ready, v4ip, natGwDp, redo, protocol, internalIp, internalPort, externalPort)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/vpc_nat_gw_eip.go (getIptablesEipNat: dnat, fip, snat joined with commas)
    /// Source: kubeovn/kube-ovn@v1.16.2:test/e2e/iptables-vpc-nat-gw/e2e_test.go (shared eip: an IptablesSnatRule and an IptablesDnatRule on one EIP; a FIP on it should fail)
    /// Source: kubeovn/kube-ovn@1533681d7:test/e2e/iptables-vpc-nat-gw/e2e_test.go (master; the pinned tags' snapshots here lack test/e2e: Vpc, Subnet, VpcNatGateway, IptablesEIP, IptablesSnatRule of the e2e)
    ///
    /// Writes the gateway's kubeovn.io objects; `redo` is the pod creation
    /// time the rules were last applied for (none: not applied yet).
    pub(super) fn put_nat_objects(&mut self, redo: Option<&str>) {
        let Some(node) = self.nodes.get(1).map(|n| n.name.clone()) else {
            return;
        };
        for (plural, name, obj) in nat_objects(&node, redo) {
            self.put(plural, "", &name, true, obj);
        }
    }

    /// A command run in container `container` of pod `namespace/name`, as
    /// `kubectl exec` would answer it: `iptables-save -t nat` and
    /// `ip -o -4 addr show dev net1` in a VPC NAT gateway, the OVN and OVS
    /// commands of [`World::ovn_exec`]; `Err` when the
    /// pod or container is not running (kubectl's error text).
    pub fn exec(
        &mut self,
        namespace: &str,
        name: &str,
        container: &str,
        argv: &[&str],
    ) -> Result<ExecOutput, String> {
        let p = self
            .pod_key(namespace, name)
            .and_then(|k| self.pods.get(&k))
            .ok_or_else(|| format!("Error from server (NotFound): pods \"{name}\" not found"))?;
        let i = p
            .template
            .containers
            .iter()
            .position(|c| c.name == container)
            .ok_or_else(|| format!("error: container {container} not found in pod {name}"))?;
        let c = &p.ctrs[p.n_init() + i];
        if !matches!(c.state, super::world::CState::Running { .. })
            || p.node.is_none_or(|n| !self.nodes[n].connected)
        {
            return Err(format!(
                "error: unable to upgrade connection: container not found (\"{container}\")"
            ));
        }
        let ok = |stdout: String| ExecOutput {
            status: 0,
            stdout,
            stderr: String::new(),
        };
        let k = self.pod_key(namespace, name).unwrap_or_default();
        if container == NAT_CLIENT_CONTAINER
            && p.template.labels.get("app").map(String::as_str) == Some(NAT_CLIENT)
            && argv == nat_path_request(NAT_TARGET_IP, NAT_TARGET_PORT)
        {
            return Ok(self.nat_egress(k));
        }
        match argv {
            ["iptables-save", "-t", "nat"] => Ok(ok(iptables_save(&p.nat))),
            ["ip", "-o", "-4", "addr", "show", "dev", "net1"] => {
                if !p.has_interface("net1") {
                    return Ok(ExecOutput {
                        status: 1,
                        stdout: String::new(),
                        stderr: "Device \"net1\" does not exist.\n".into(),
                    });
                }
                Ok(ok(p
                    .nat
                    .eips
                    .iter()
                    .map(|a| format!("2: net1    inet {a} scope global net1\\       valid_lft forever preferred_lft forever\n"))
                    .collect()))
            }
            _ => match self.ovn_exec(k, container, argv) {
                Some(answer) => answer,
                None => Ok(ExecOutput {
                    status: 127,
                    stdout: String::new(),
                    stderr: format!("the twin does not model `{}`\n", argv.join(" ")),
                }),
            },
        }
    }

    /// A command run in the target container outside the VPC, as `docker
    /// exec` would answer it: the path's request to the EIP's DNAT port.
    /// `Err` for anything else (the twin models nothing more there).
    pub fn exec_on_nat_target(&self, argv: &[&str]) -> Result<ExecOutput, String> {
        if !self.cfg.nat_gateway || self.cfg.workers == 0 {
            return Err(format!(
                "Error response from daemon: No such container: {}-nat-target",
                self.cfg.cluster
            ));
        }
        if argv == nat_path_request(NAT_EIP, NAT_DNAT_EXTERNAL_PORT) {
            return Ok(self.nat_ingress());
        }
        // Not an answer the target would give: the check that asked is not
        // evaluated rather than failed on the model's gap.
        Err(format!(
            "the twin does not model `{}` in the NAT target",
            argv.join(" ")
        ))
    }

    /// The gateway pod that serves: Running in its container, its sandbox
    /// with `net1`, on a connected node whose OVS works (its `eth0` is an
    /// OVN port); with that node.
    fn nat_gw_serving(&self) -> Option<(&super::world::Pod, usize)> {
        let app = format!("vpc-nat-gw-{NAT_GW_NAME}");
        self.pods.values().find_map(|p| {
            let n = p.node?;
            let running = p.template.containers.iter().enumerate().any(|(i, c)| {
                c.name == NAT_GW_CONTAINER
                    && matches!(p.ctrs[p.n_init() + i].state, CState::Running { .. })
            });
            (p.template.labels.get("app") == Some(&app)
                && p.deleting.is_none()
                && running
                && matches!(p.sandbox, Sandbox::Ready { .. })
                && p.has_interface("net1")
                && self.nodes[n].connected
                && self.ovs_healthy(n))
            .then_some((p, n))
        })
    }

    /// Whether pod `k` (the client) has its sandbox on a connected node
    /// whose OVS works.
    fn nat_client_up(&self, k: u64) -> bool {
        self.pods.get(&k).is_some_and(|p| {
            matches!(p.sandbox, Sandbox::Ready { .. })
                && p.node
                    .is_some_and(|n| self.nodes[n].connected && self.ovs_healthy(n))
        })
    }

    /// Rule `nat-path-egress-through-snat`: a connection from the VPC subnet to an address outside it follows the Vpc's static route `0.0.0.0/0` to the gateway's `lanIp` (across the OVN overlay, so the client's and the gateway's node need OVS), leaves the gateway's `net1` translated by its `SHARED_SNAT` rule to the EIP, and the target's answer finds the EIP on `net1`; without the rule the target sees the pod's own address, which its network cannot route back, and without the EIP on `net1` no one answers for it: the client's `nc -w 5` prints `nc: timed out`. The target's `httpd` CGI answers with `REMOTE_ADDR` (the peer without its port) and its host name.
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/vpc.go (handleAddOrUpdateVpc: spec.staticRoutes become the VPC router's static routes, policyDst 0.0.0.0/0 via the gateway's lanIp)
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/vpcnatgateway/nat-gateway.sh (add_snat: -A SHARED_SNAT -o net1 -s CIDR -j SNAT --to-source EIP; add_eip: ip addr replace EIP dev net1)
    /// Source: mirror/busybox@1_36_1:networking/httpd.c (send_cgi_and_exit: REMOTE_ADDR is the peer's address with its :PORT deleted)
    /// Source: mirror/busybox@1_36_1:networking/nc.c (-w: the connect times out with "timed out", exit 1)
    /// Pinned by: harness/tests/nat_path_system.rs::the_nat_path_check_on_real_httpd_nc_and_iptables
    ///
    /// Whether a connection from the client pod `k` to the target gets
    /// through and is answered.
    fn nat_egress_ok(&self, k: u64) -> bool {
        let snat = format!("-s {NAT_SNAT_CIDR} -o net1 -j SNAT --to-source {NAT_EIP}");
        let eip = format!("{NAT_EIP}/{NAT_EXTERNAL_PREFIX}");
        self.nat_gw_serving().is_some_and(|(gw, _)| {
            self.nat_client_up(k) && gw.nat.snat.contains(&snat) && gw.nat.eips.contains(&eip)
        })
    }

    /// The client pod `k`'s request to the target.
    fn nat_egress(&self, k: u64) -> ExecOutput {
        if self.nat_egress_ok(k) {
            nat_path_ok(NAT_EIP, NAT_TARGET_HOSTNAME)
        } else {
            nat_path_timed_out()
        }
    }

    /// Rule `nat-egress-traffic-to-the-target`: the client's sender sends a numbered TCP probe to the target's receiver every 200 ms (each in the background, as the traffic pods' senders do); it arrives exactly when a connection from the VPC to the target gets through (rule `nat-path-egress-through-snat`), and the target's container runtime stamps the line the receiver prints.
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/vpcnatgateway/nat-gateway.sh (add_snat, add_eip)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/vpc.go (handleAddOrUpdateVpc: the VPC's default route via the gateway's lanIp)
    ///
    /// One probe of sender container `i` of the client pod `k` (run `run`)
    /// on node `n`, then the next one after the interval.
    pub(super) fn nat_send(&mut self, k: u64, i: usize, run: u32, n: usize) {
        let c = &mut self.pods.get_mut(&k).expect("pod exists").ctrs[i];
        c.tries += 1;
        let seq = c.tries;
        if self.nat_egress_ok(k) {
            let at = self.timestamp(self.now);
            let line = format!(
                "{at} cni-chaos-traffic flow=nat-egress from={} sender={}/{run} seq={seq} sent={}",
                self.nodes[n].name,
                self.pods[&k].name,
                at.as_millisecond()
            );
            self.nat_target_log.push_back(line);
            if self.nat_target_log.len() > super::traffic::RECEIVER_LOG_LINES {
                self.nat_target_log.pop_front();
            }
        }
        self.after(
            super::traffic::SEND_INTERVAL,
            Ev::Tick { pod: k, c: i, run },
        );
    }

    /// The target container's log, as `docker logs --timestamps` prints
    /// it; `Err` without a NAT gateway profile (no such container).
    pub fn nat_target_log(&self) -> Result<String, String> {
        if !self.cfg.nat_gateway || self.cfg.workers == 0 {
            return Err(format!(
                "Error response from daemon: No such container: {}-nat-target",
                self.cfg.cluster
            ));
        }
        Ok(self
            .nat_target_log
            .iter()
            .map(|l| format!("{l}\n"))
            .collect())
    }

    /// Rule `nat-path-ingress-through-dnat`: a connection from outside to the EIP's port reaches the gateway only while the EIP is on its `net1` (else no one answers ARP for it: `nc: timed out`); without the `SHARED_DNAT` rule the gateway's own stack refuses the port (`Connection refused`); with it the connection goes on, with the outside peer's address, to the internal IP across the OVN overlay, where the client's `httpd` answers while its sandbox and both nodes' OVS work (a sandbox without a running `httpd` resets the connection: `Connection refused`; no sandbox or no overlay: `nc: timed out`), and the answer goes back through the gateway (the VPC's default route), which undoes the translation.
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/vpcnatgateway/nat-gateway.sh (add_dnat: -A SHARED_DNAT -p PROTOCOL -d EIP --dport PORT -j DNAT --to-destination IP:PORT; add_eip)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/vpc.go (handleAddOrUpdateVpc: the static route 0.0.0.0/0 via lanIp carries the answer back)
    /// Source: mirror/busybox@1_36_1:networking/nc.c (connect errors: "can't connect to remote host (IP): Connection refused")
    /// Pinned by: harness/tests/nat_path_system.rs::the_nat_path_check_on_real_httpd_nc_and_iptables
    ///
    /// The target's request to the EIP's DNAT port.
    fn nat_ingress(&self) -> ExecOutput {
        let Some((gw, _)) = self.nat_gw_serving() else {
            return nat_path_timed_out();
        };
        if !gw
            .nat
            .eips
            .contains(&format!("{NAT_EIP}/{NAT_EXTERNAL_PREFIX}"))
        {
            return nat_path_timed_out();
        }
        if !gw.nat.dnat.contains(&dnat_rule()) {
            return nat_path_refused(NAT_EIP);
        }
        let client = self
            .pods
            .iter()
            .find(|(_, p)| p.ip.as_deref() == Some(NAT_DNAT_INTERNAL_IP) && p.deleting.is_none());
        match client {
            Some((&k, p)) if self.nat_client_up(k) => {
                let serving = p.template.containers.iter().enumerate().any(|(i, c)| {
                    c.name == NAT_CLIENT_CONTAINER
                        && matches!(p.ctrs[p.n_init() + i].state, CState::Running { .. })
                });
                if serving {
                    nat_path_ok(NAT_TARGET_IP, &p.name)
                } else {
                    // The sandbox answers for the address; nothing
                    // listens on the port.
                    nat_path_refused(NAT_EIP)
                }
            }
            _ => nat_path_timed_out(),
        }
    }
}

/// The path's `httpd` in a container: a CGI `whoami` under `dir` that
/// answers `cni-chaos-nat-path peer=<REMOTE_ADDR> host=<hostname>`, then
/// busybox `httpd` in the foreground on `0.0.0.0:port`, logging each
/// request (`-vv`). A `sh -c` script for the harness's busybox image.
/// Bound to IPv4: on its default IPv6 socket busybox `httpd` sees an IPv4
/// peer as `[::ffff:a.b.c.d]`, and so does `REMOTE_ADDR` (measured by
/// `tests/nat_path_system.rs`).
pub fn nat_path_server_script(dir: &str, port: u16) -> String {
    format!(
        "mkdir -p {dir}/cgi-bin && printf '#!/bin/sh\\nprintf \"Content-Type: text/plain\\\\r\\\\n\\\\r\\\\n\"\\necho \"{NAT_PATH_MARKER} peer=$REMOTE_ADDR host=$(hostname)\"\\n' > {dir}/cgi-bin/whoami && chmod 755 {dir}/cgi-bin/whoami && exec httpd -f -vv -p 0.0.0.0:{port} -h {dir}"
    )
}

/// The path's request to `ip:port`: one HTTP/1.0 GET of the CGI through
/// busybox `nc`, which waits [`NAT_PATH_TIMEOUT_S`] for the connection
/// (`-w` bounds only the connect), the whole request twice that
/// (`timeout`, for a peer that accepts and never answers).
pub fn nat_path_request(ip: &str, port: u16) -> [String; 3] {
    [
        "sh".into(),
        "-c".into(),
        format!(
            "printf 'GET /cgi-bin/whoami HTTP/1.0\\r\\n\\r\\n' | timeout {} nc -w {NAT_PATH_TIMEOUT_S} {ip} {port}",
            2 * NAT_PATH_TIMEOUT_S
        ),
    ]
}

/// What the path's request prints when `host`'s CGI saw the peer `peer`
/// (busybox `httpd`'s status line and the CGI's header and line).
fn nat_path_ok(peer: &str, host: &str) -> ExecOutput {
    ExecOutput {
        status: 0,
        stdout: format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n{NAT_PATH_MARKER} peer={peer} host={host}\n"
        ),
        stderr: String::new(),
    }
}

/// What the path's request to `ip` prints when a host answered for the
/// address but nothing listens on the port (a TCP reset).
fn nat_path_refused(ip: &str) -> ExecOutput {
    ExecOutput {
        status: 1,
        stdout: String::new(),
        stderr: format!("nc: can't connect to remote host ({ip}): Connection refused\n"),
    }
}

/// What the path's request prints when nothing answered.
fn nat_path_timed_out() -> ExecOutput {
    ExecOutput {
        status: 1,
        stdout: String::new(),
        stderr: "nc: timed out\n".into(),
    }
}

/// `iptables-save -t nat` of a namespace holding `nat` (iptables v1.8
/// output: header comment, table, chain policies, rules, COMMIT).
fn iptables_save(nat: &NatState) -> String {
    let mut out =
        String::from("# Generated by iptables-save v1.8.9 on Thu Jan  1 00:00:00 2026\n*nat\n");
    for chain in ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"] {
        out.push_str(&format!(":{chain} ACCEPT [0:0]\n"));
    }
    if nat.chains {
        for chain in [
            "DNAT_FILTER",
            "EXCLUSIVE_DNAT",
            "EXCLUSIVE_SNAT",
            "SHARED_DNAT",
            "SHARED_SNAT",
            "SNAT_FILTER",
        ] {
            out.push_str(&format!(":{chain} - [0:0]\n"));
        }
        // Rules chain by chain: built-in chains first, then the others
        // in name order, as iptables-save lists them.
        out.push_str("-A PREROUTING -j DNAT_FILTER\n-A POSTROUTING -j SNAT_FILTER\n");
        out.push_str("-A DNAT_FILTER -j EXCLUSIVE_DNAT\n-A DNAT_FILTER -j SHARED_DNAT\n");
        for r in &nat.dnat {
            out.push_str(&format!("-A SHARED_DNAT {r}\n"));
        }
        for r in &nat.snat {
            out.push_str(&format!("-A SHARED_SNAT {r}\n"));
        }
        out.push_str("-A SNAT_FILTER -j EXCLUSIVE_SNAT\n-A SNAT_FILTER -j SHARED_SNAT\n");
    }
    out.push_str("COMMIT\n# Completed on Thu Jan  1 00:00:00 2026\n");
    out
}

/// The DNAT rule `add_dnat` appends, as iptables-save lists it (without
/// `-A SHARED_DNAT`).
fn dnat_rule() -> String {
    format!(
        "-d {NAT_EIP}/32 -p {NAT_DNAT_PROTOCOL} -m {NAT_DNAT_PROTOCOL} --dport {NAT_DNAT_EXTERNAL_PORT} -j DNAT --to-destination {NAT_DNAT_INTERNAL_IP}:{NAT_DNAT_INTERNAL_PORT}"
    )
}

/// The gateway's kubeovn.io objects for a gateway on `node` (see
/// `put_nat_objects`).
fn nat_objects(node: &str, redo: Option<&str>) -> Vec<(&'static str, String, Value)> {
    let ready = redo.is_some();
    let redo = redo.unwrap_or("");
    let meta = |name: &str| json!({"name": name});
    let prefix = |cidr: &str| {
        cidr.rsplit_once('.')
            .map(|(a, _)| a.to_string())
            .unwrap_or_default()
    };
    let vpc_gw = format!(
        "{}.1",
        prefix(NAT_SNAT_CIDR.split('/').next().unwrap_or(""))
    );
    let condition =
        |ok: bool| json!([{"type": "Ready", "status": if ok { "True" } else { "False" }}]);
    vec![
        (
            "vpcs",
            NAT_VPC.to_string(),
            json!({
                "apiVersion": "kubeovn.io/v1", "kind": "Vpc", "metadata": meta(NAT_VPC),
                "spec": {"staticRoutes": [{"cidr": "0.0.0.0/0", "nextHopIP": NAT_LAN_IP, "policy": "policyDst"}]},
                "status": {"default": false, "router": NAT_VPC, "standby": true, "subnets": [NAT_VPC_SUBNET]},
            }),
        ),
        (
            "subnets",
            NAT_VPC_SUBNET.to_string(),
            json!({
                "apiVersion": "kubeovn.io/v1", "kind": "Subnet", "metadata": meta(NAT_VPC_SUBNET),
                "spec": {"vpc": NAT_VPC, "cidrBlock": NAT_SNAT_CIDR, "gateway": vpc_gw, "protocol": "IPv4", "provider": "ovn"},
                "status": {"conditions": condition(true)},
            }),
        ),
        (
            "subnets",
            NAT_EXTERNAL_SUBNET.to_string(),
            json!({
                "apiVersion": "kubeovn.io/v1", "kind": "Subnet", "metadata": meta(NAT_EXTERNAL_SUBNET),
                "spec": {"cidrBlock": NAT_EXTERNAL_CIDR, "gateway": NAT_EXTERNAL_GATEWAY, "protocol": "IPv4",
                         "excludeIps": [NAT_EXCLUDE_IPS],
                         "provider": format!("{NAT_EXTERNAL_SUBNET}.kube-system")},
                "status": {"conditions": condition(true)},
            }),
        ),
        (
            "vpc-nat-gateways",
            NAT_GW_NAME.to_string(),
            json!({
                "apiVersion": "kubeovn.io/v1", "kind": "VpcNatGateway", "metadata": meta(NAT_GW_NAME),
                "spec": {"vpc": NAT_VPC, "subnet": NAT_VPC_SUBNET, "lanIp": NAT_LAN_IP,
                         "externalSubnets": [NAT_EXTERNAL_SUBNET],
                         "selector": [format!("kubernetes.io/hostname: {node}")]},
                "status": {"externalSubnets": [NAT_EXTERNAL_SUBNET], "selector": [format!("kubernetes.io/hostname: {node}")]},
            }),
        ),
        (
            "iptables-eips",
            NAT_EIP_NAME.to_string(),
            json!({
                "apiVersion": "kubeovn.io/v1", "kind": "IptablesEIP",
                "metadata": {"name": NAT_EIP_NAME, "labels": {"ovn.kubernetes.io/vpc_nat_gw": NAT_GW_NAME}},
                "spec": {"v4ip": NAT_EIP, "natGwDp": NAT_GW_NAME, "externalSubnet": NAT_EXTERNAL_SUBNET},
                "status": {"ready": ready, "ip": NAT_EIP, "redo": redo, "nat": "dnat,snat", "conditions": condition(ready)},
            }),
        ),
        (
            "iptables-snat-rules",
            NAT_SNAT_NAME.to_string(),
            json!({
                "apiVersion": "kubeovn.io/v1", "kind": "IptablesSnatRule",
                "metadata": {"name": NAT_SNAT_NAME, "labels": {"ovn.kubernetes.io/vpc_nat_gw": NAT_GW_NAME}},
                "spec": {"eip": NAT_EIP_NAME, "internalCIDR": NAT_SNAT_CIDR},
                "status": {"ready": ready, "v4ip": NAT_EIP, "natGwDp": NAT_GW_NAME, "redo": redo,
                           "internalCIDR": NAT_SNAT_CIDR, "conditions": condition(ready)},
            }),
        ),
        (
            "iptables-dnat-rules",
            NAT_DNAT_NAME.to_string(),
            json!({
                "apiVersion": "kubeovn.io/v1", "kind": "IptablesDnatRule",
                "metadata": {"name": NAT_DNAT_NAME, "labels": {"ovn.kubernetes.io/vpc_nat_gw": NAT_GW_NAME}},
                "spec": {"eip": NAT_EIP_NAME, "externalPort": NAT_DNAT_EXTERNAL_PORT.to_string(),
                         "protocol": NAT_DNAT_PROTOCOL, "internalIp": NAT_DNAT_INTERNAL_IP,
                         "internalPort": NAT_DNAT_INTERNAL_PORT.to_string()},
                "status": {"ready": ready, "v4ip": NAT_EIP, "natGwDp": NAT_GW_NAME, "redo": redo,
                           "protocol": NAT_DNAT_PROTOCOL, "internalIp": NAT_DNAT_INTERNAL_IP,
                           "internalPort": NAT_DNAT_INTERNAL_PORT.to_string(),
                           "externalPort": NAT_DNAT_EXTERNAL_PORT.to_string(), "conditions": condition(ready)},
            }),
        ),
    ]
}
