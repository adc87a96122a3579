//! The VPC NAT gateway's iptables NAT table and EIP, which live in its
//! sandbox's network namespace, and kube-ovn-controller's init and redo of
//! them; plus the command seam's answers (`iptables-save -t nat`,
//! `ip -o -4 addr show dev net1`) in the real tools' formats.

use serde_json::{Value, json};

use super::world::{Ev, World};

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
            _ => match self.ovn_exec(
                self.pod_key(namespace, name).unwrap_or_default(),
                container,
                argv,
            ) {
                Some(answer) => answer,
                None => Ok(ExecOutput {
                    status: 127,
                    stdout: String::new(),
                    stderr: format!("the twin does not model `{}`\n", argv.join(" ")),
                }),
            },
        }
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
    let ext_cidr = format!("{}.0/{NAT_EXTERNAL_PREFIX}", prefix(NAT_EIP));
    let ext_gw = format!("{}.1", prefix(NAT_EIP));
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
                "spec": {"cidrBlock": ext_cidr, "gateway": ext_gw, "protocol": "IPv4",
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
