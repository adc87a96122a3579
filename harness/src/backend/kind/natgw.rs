//! The VPC NAT gateway of a `nat-gateway: true` profile, made the way
//! Kube-OVN's own e2e makes one (kubeovn/kube-ovn@v1.16.2
//! `test/e2e/iptables-vpc-nat-gw/e2e_test.go`, `BeforeAll` and
//! `setupVpcNatGwTestEnvironment`; the pinned older tags' snapshots here
//! lack `test/e2e`), with the names the twin serves
//! (`cni_chaos_twin::model::NAT_*`), so one suite judges both backends:
//!
//! 1. a Docker network of its own for the external side (the e2e's
//!    `kube-ovn-ext-net1`; never the `kind` network, whose addresses Docker
//!    hands out), labelled as the harness's, journaled before it is made,
//!    and connected to every node container;
//! 2. each node's interface on it found by its MAC (the e2e's "Validating
//!    node links"): it must be [`EXTERNAL_NIC`], the macvlan master;
//! 3. a labelled target container on that network (busybox `httpd`, an
//!    image the harness already pins and pulls), journaled the same way;
//! 4. `kubectl apply` of the ConfigMaps `ovn-vpc-nat-config` (the pinned
//!    gateway image) and `ovn-vpc-nat-gw-config` (`enable-vpc-nat-gw:
//!    "true"`), both as install.sh writes them at every pinned tag; the
//!    macvlan NetworkAttachmentDefinition `ovn-vpc-external-network` with
//!    `kube-ovn` IPAM and provider `ovn-vpc-external-network.kube-system`;
//!    the external Subnet behind it; a Vpc whose default route points at
//!    the gateway's `lanIp`; a Subnet in it; the VpcNatGateway, pinned to
//!    the first worker with `selector: ["kubernetes.io/hostname: <node>"]`;
//!    then waits for the subnets, the Vpc and the gateway's StatefulSet;
//! 5. `kubectl apply` of the IptablesEIP (a fixed `v4ip`), an
//!    IptablesSnatRule for the VPC subnet and an IptablesDnatRule on the
//!    same EIP, and a wait for each one's `status.ready`;
//! 6. `kubectl apply` of the path's client, a StatefulSet of one busybox
//!    pod in the VPC subnet at the DNAT rule's internal IP, on the control
//!    plane, and a wait for its rollout. It and the target both serve a
//!    CGI that answers with the peer's address (`nat-gateway-rules` with
//!    `path: true` asks each through the gateway: observe::natgw).
//!
//! DNAT rather than a FIP: a DNAT rule shares the SNAT rule's EIP (the
//! e2e's "shared eip" case makes an SNAT and a DNAT on one EIP, while a FIP
//! on a shared EIP is its should-fail case), so one EIP and one address on
//! `net1` carry both directions, and the `nat-gateway-rules` SLO checks
//! one EIP.
//!
//! Addresses: the external network is [`EXTERNAL_CIDR`]; Docker hands out
//! node addresses only from [`DOCKER_IP_RANGE`]; the target has
//! [`TARGET_IP`]. The external Subnet excludes everything up to the EIP
//! ([`EXCLUDE_IPS`], as the e2e excludes the containers' addresses), so the
//! gateway's own `net1` address never takes the EIP, which is requested
//! statically (an excluded address can be requested statically:
//! kube-ovn #3031, #5565).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use cni_chaos_twin::model::{
    IP_ADDRESS_ANNOTATION, LOGICAL_SWITCH_ANNOTATION, NAT_CLIENT, NAT_CLIENT_CONTAINER,
    NAT_DNAT_EXTERNAL_PORT, NAT_DNAT_INTERNAL_IP, NAT_DNAT_INTERNAL_PORT, NAT_DNAT_NAME,
    NAT_DNAT_PROTOCOL, NAT_EIP, NAT_EIP_NAME, NAT_EXTERNAL_SUBNET, NAT_GW_NAME, NAT_LAN_IP,
    NAT_SENDER_CONTAINER, NAT_SNAT_CIDR, NAT_SNAT_NAME, NAT_TARGET_HOSTNAME, NAT_VPC,
    NAT_VPC_SUBNET, nat_path_server_script,
};
use serde_json::{Value, json};

use super::KindError;
use super::docker::DOCKER_TIMEOUT;
use super::kubectl::{KUBECTL_TIMEOUT, Kubectl};
use crate::exec::{Command, ExecError, Runner};

/// Label on the harness's own Docker objects naming their cluster.
pub const NAT_CLUSTER_LABEL: &str = "cni-chaos.io/cluster";
/// Label on the harness's own Docker objects saying what they are.
pub const NAT_ROLE_LABEL: &str = "cni-chaos.io/role";
/// The addresses of the external side, one definition for both backends
/// (the twin's model serves the same).
pub use cni_chaos_twin::model::{
    NAT_DOCKER_IP_RANGE as DOCKER_IP_RANGE, NAT_EXCLUDE_IPS as EXCLUDE_IPS,
    NAT_EXTERNAL_CIDR as EXTERNAL_CIDR, NAT_EXTERNAL_GATEWAY as EXTERNAL_GATEWAY,
    NAT_TARGET_IP as TARGET_IP, NAT_TARGET_PORT as TARGET_PORT,
};
/// Where the path's `httpd` keeps its CGI in the target and the client.
pub const PATH_WWW: &str = "/tmp/cni-chaos-www";
/// The node interface on the external network: the second network a kind
/// node joins is `eth1` (the e2e finds it by MAC and checks it).
pub const EXTERNAL_NIC: &str = "eth1";
/// The macvlan attachment's name and namespace (the e2e's
/// `networkAttachDefName`, in `kube-system`).
pub const EXTERNAL_NAD_NAMESPACE: &str = "kube-system";
/// The external Subnet's provider (`<nad>.<namespace>`, the e2e's
/// `externalSubnetProvider`).
pub fn external_provider() -> String {
    format!("{NAT_EXTERNAL_SUBNET}.{EXTERNAL_NAD_NAMESPACE}")
}
/// kube-ovn-cni's socket, the IPAM's `server_socket` in the attachment.
const KUBE_OVN_SOCKET: &str = "/run/openvswitch/kube-ovn-daemon.sock";
/// The file the first manifest is rendered to, in the cluster's state folder.
pub const NAT_GATEWAY_MANIFEST: &str = "cni-chaos-nat-gateway.json";
/// The file the second (EIP and rules) is rendered to.
pub const NAT_RULES_MANIFEST: &str = "cni-chaos-nat-rules.json";
/// The file the third (the path's client) is rendered to.
pub const NAT_CLIENT_MANIFEST: &str = "cni-chaos-nat-client.json";
/// How often an object is looked for while it does not exist yet.
const POLL: Duration = Duration::from_secs(2);

/// The external Docker network of `cluster`.
pub fn network_name(cluster: &str) -> String {
    format!("{cluster}-nat-ext")
}

/// The target container of `cluster`.
pub fn target_name(cluster: &str) -> String {
    format!("{cluster}-nat-target")
}

/// The labels of a Docker object of `cluster` playing `role`.
fn labels(cluster: &str, role: &str) -> [String; 4] {
    [
        "--label".into(),
        format!("{NAT_CLUSTER_LABEL}={cluster}"),
        "--label".into(),
        format!("{NAT_ROLE_LABEL}={role}"),
    ]
}

/// `docker network create` of the external network.
pub fn network_create_cmd(cluster: &str) -> Command {
    Command::new("docker")
        .args(["network", "create", "--driver", "bridge"])
        .args(["--subnet", EXTERNAL_CIDR, "--gateway", EXTERNAL_GATEWAY])
        .args(["--ip-range", DOCKER_IP_RANGE])
        .args(labels(cluster, "nat-external-network"))
        .arg(network_name(cluster))
        .timeout(DOCKER_TIMEOUT)
}

/// `docker network connect` of node container `node`.
pub fn network_connect_cmd(cluster: &str, node: &str) -> Command {
    Command::new("docker")
        .args(["network", "connect"])
        .arg(network_name(cluster))
        .arg(node)
        .timeout(DOCKER_TIMEOUT)
}

/// The target's command: the traffic receiver (the `nat-egress` flow's,
/// port 9000) in the background, then the path's `httpd`.
pub fn target_script() -> String {
    format!(
        "{{ {}; }} & {}",
        crate::observe::flows::RECEIVER_SCRIPT,
        nat_path_server_script(PATH_WWW, TARGET_PORT)
    )
}

/// `docker run` of the target from `image` (the harness runs the probes'
/// pinned busybox), named [`NAT_TARGET_HOSTNAME`] inside: the path's
/// busybox `httpd` in the foreground, whose CGI answers with the peer's
/// address, logging every request with its peer address (`-vv`) to the
/// container's log.
pub fn target_run_cmd(cluster: &str, image: &str) -> Command {
    Command::new("docker")
        .args(["run", "--detach", "--name"])
        .arg(target_name(cluster))
        .args(labels(cluster, "nat-target"))
        .args(["--hostname", NAT_TARGET_HOSTNAME])
        .arg("--network")
        .arg(network_name(cluster))
        .args(["--ip", TARGET_IP, image])
        .args(["sh", "-c"])
        .arg(target_script())
        .timeout(DOCKER_TIMEOUT)
}

/// `docker logs --timestamps` of the target (the `nat-egress` flow's
/// receiver).
pub fn target_logs_cmd(cluster: &str) -> Command {
    Command::new("docker")
        .args(["logs", "--timestamps"])
        .arg(target_name(cluster))
        .timeout(DOCKER_TIMEOUT)
}

/// `docker exec` of `argv` in the target (the path's request to the EIP).
pub fn target_exec_cmd(cluster: &str, argv: &[&str]) -> Command {
    Command::new("docker")
        .arg("exec")
        .arg(target_name(cluster))
        .args(argv.iter().copied())
        // The request's own `nc -w` gives up first.
        .timeout(DOCKER_TIMEOUT)
}

/// `docker rm --force` of the target.
pub fn target_rm_cmd(cluster: &str) -> Command {
    Command::new("docker")
        .args(["rm", "--force"])
        .arg(target_name(cluster))
        .timeout(DOCKER_TIMEOUT)
}

/// `docker network rm` of the external network.
pub fn network_rm_cmd(cluster: &str) -> Command {
    Command::new("docker")
        .args(["network", "rm"])
        .arg(network_name(cluster))
        .timeout(DOCKER_TIMEOUT)
}

/// The first manifest: ConfigMaps, attachment, subnets, Vpc, gateway on
/// `node`, as a JSON `List` for `kubectl apply -f` (applied in order).
pub fn gateway_manifest(image: &str, node: &str) -> Value {
    let managed = json!({"app.kubernetes.io/managed-by": "cni-chaos"});
    let meta = |name: &str| json!({"name": name, "labels": managed.clone()});
    let ns_meta =
        |name: &str| json!({"name": name, "namespace": "kube-system", "labels": managed.clone()});
    let vpc_gateway = NAT_SNAT_CIDR
        .split('/')
        .next()
        .and_then(|a| a.rsplit_once('.'))
        .map(|(p, _)| format!("{p}.1"))
        .unwrap_or_default();
    let nad_config = json!({
        "cniVersion": "0.3.0",
        "type": "macvlan",
        "master": EXTERNAL_NIC,
        "mode": "bridge",
        "ipam": {"type": "kube-ovn", "server_socket": KUBE_OVN_SOCKET, "provider": external_provider()},
    });
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": ns_meta("ovn-vpc-nat-config"),
             "data": {"image": image}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": ns_meta("ovn-vpc-nat-gw-config"),
             "data": {"enable-vpc-nat-gw": "true"}},
            {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
             "metadata": json!({"name": NAT_EXTERNAL_SUBNET, "namespace": EXTERNAL_NAD_NAMESPACE, "labels": managed.clone()}),
             "spec": {"config": nad_config.to_string()}},
            {"apiVersion": "kubeovn.io/v1", "kind": "Subnet", "metadata": meta(NAT_EXTERNAL_SUBNET),
             "spec": {"protocol": "IPv4", "cidrBlock": EXTERNAL_CIDR, "gateway": EXTERNAL_GATEWAY,
                      "excludeIps": [EXCLUDE_IPS], "provider": external_provider()}},
            {"apiVersion": "kubeovn.io/v1", "kind": "Vpc", "metadata": meta(NAT_VPC),
             "spec": {"staticRoutes": [{"cidr": "0.0.0.0/0", "nextHopIP": NAT_LAN_IP, "policy": "policyDst"}]}},
            {"apiVersion": "kubeovn.io/v1", "kind": "Subnet", "metadata": meta(NAT_VPC_SUBNET),
             "spec": {"vpc": NAT_VPC, "protocol": "IPv4", "cidrBlock": NAT_SNAT_CIDR, "gateway": vpc_gateway}},
            {"apiVersion": "kubeovn.io/v1", "kind": "VpcNatGateway", "metadata": meta(NAT_GW_NAME),
             "spec": {"vpc": NAT_VPC, "subnet": NAT_VPC_SUBNET, "lanIp": NAT_LAN_IP,
                      "externalSubnets": [NAT_EXTERNAL_SUBNET],
                      "selector": [format!("kubernetes.io/hostname: {node}")]}},
        ],
    })
}

/// The second manifest: the EIP, the SNAT rule and the DNAT rule.
pub fn rules_manifest() -> Value {
    let meta =
        |name: &str| json!({"name": name, "labels": {"app.kubernetes.io/managed-by": "cni-chaos"}});
    json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {"apiVersion": "kubeovn.io/v1", "kind": "IptablesEIP", "metadata": meta(NAT_EIP_NAME),
             "spec": {"v4ip": NAT_EIP, "natGwDp": NAT_GW_NAME, "externalSubnet": NAT_EXTERNAL_SUBNET}},
            {"apiVersion": "kubeovn.io/v1", "kind": "IptablesSnatRule", "metadata": meta(NAT_SNAT_NAME),
             "spec": {"eip": NAT_EIP_NAME, "internalCIDR": NAT_SNAT_CIDR}},
            {"apiVersion": "kubeovn.io/v1", "kind": "IptablesDnatRule", "metadata": meta(NAT_DNAT_NAME),
             "spec": {"eip": NAT_EIP_NAME, "externalPort": NAT_DNAT_EXTERNAL_PORT.to_string(),
                      "protocol": NAT_DNAT_PROTOCOL, "internalIp": NAT_DNAT_INTERNAL_IP,
                      "internalPort": NAT_DNAT_INTERNAL_PORT.to_string()}},
        ],
    })
}

/// The third manifest: the path's client, a StatefulSet of one pod in the
/// VPC subnet at the DNAT rule's internal IP (Kube-OVN's
/// `ovn.kubernetes.io/logical_switch` and `ovn.kubernetes.io/ip_address`
/// annotations), pinned to `node` (the control plane, away from the
/// gateway), serving the path's `httpd` on the DNAT rule's internal port.
pub fn client_manifest(image: &str, node: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": NAT_CLIENT, "namespace": EXTERNAL_NAD_NAMESPACE,
                     "labels": {"app.kubernetes.io/managed-by": "cni-chaos", "app": NAT_CLIENT}},
        "spec": {
            "serviceName": NAT_CLIENT,
            "replicas": 1,
            "selector": {"matchLabels": {"app": NAT_CLIENT}},
            "template": {
                "metadata": {
                    "labels": {"app.kubernetes.io/managed-by": "cni-chaos", "app": NAT_CLIENT},
                    "annotations": {LOGICAL_SWITCH_ANNOTATION: NAT_VPC_SUBNET,
                                    IP_ADDRESS_ANNOTATION: NAT_DNAT_INTERNAL_IP},
                },
                "spec": {
                    "nodeSelector": {"kubernetes.io/hostname": node},
                    "tolerations": [{"key": "node-role.kubernetes.io/control-plane",
                                     "operator": "Exists", "effect": "NoSchedule"}],
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{
                        "name": NAT_CLIENT_CONTAINER,
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["sh", "-c", nat_path_server_script(PATH_WWW, NAT_DNAT_INTERNAL_PORT)],
                    }, {
                        "name": NAT_SENDER_CONTAINER,
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["sh", "-c", crate::observe::flows::nat_sender_script()],
                        "env": [
                            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        ],
                    }],
                },
            },
        },
    })
}

/// The gateway's StatefulSet (kube-ovn-controller names it
/// `vpc-nat-gw-<gateway>`).
pub fn gateway_statefulset() -> String {
    format!("statefulset/vpc-nat-gw-{NAT_GW_NAME}")
}

/// What one wait looks for, and its kubectl arguments.
fn waits(timeout: Duration) -> Vec<(String, Vec<String>)> {
    let t = format!("--timeout={}s", timeout.as_secs());
    let mut out = Vec::new();
    for subnet in [NAT_EXTERNAL_SUBNET, NAT_VPC_SUBNET] {
        out.push((
            format!("subnet {subnet}"),
            vec![
                "wait".into(),
                "--for=condition=Ready".into(),
                format!("subnets.kubeovn.io/{subnet}"),
                t.clone(),
            ],
        ));
    }
    // framework.VpcClient.CreateSync waits for status.standby.
    out.push((
        format!("vpc {NAT_VPC}"),
        vec![
            "wait".into(),
            "--for=jsonpath={.status.standby}=true".into(),
            format!("vpcs.kubeovn.io/{NAT_VPC}"),
            t,
        ],
    ));
    out
}

/// The rules' waits: `status.ready` of each (the e2e's CreateSync).
fn rule_waits(timeout: Duration) -> Vec<(String, Vec<String>)> {
    let t = format!("--timeout={}s", timeout.as_secs());
    [
        ("iptables-eips", NAT_EIP_NAME),
        ("iptables-snat-rules", NAT_SNAT_NAME),
        ("iptables-dnat-rules", NAT_DNAT_NAME),
    ]
    .into_iter()
    .map(|(plural, name)| {
        (
            format!("{plural} {name}"),
            vec![
                "wait".into(),
                "--for=jsonpath={.status.ready}=true".into(),
                format!("{plural}.kubeovn.io/{name}"),
                t.clone(),
            ],
        )
    })
    .collect()
}

/// The setup of one cluster's gateway.
#[derive(Debug)]
pub struct NatGateway<'a> {
    /// Runs every command.
    pub runner: Arc<dyn Runner>,
    /// kubectl for the cluster.
    pub kubectl: &'a Kubectl,
    /// The cluster.
    pub cluster: &'a str,
    /// Its node containers.
    pub nodes: Vec<String>,
    /// The node the gateway is pinned to (the first worker).
    pub gateway_node: String,
    /// The node the path's client is pinned to (the control plane).
    pub client_node: String,
    /// The pinned gateway image (versions.yaml `nat-gateway-image`).
    pub image: &'a str,
    /// The cluster's private state folder.
    pub state: &'a Path,
    /// Whether this is a dry run (outputs are empty; nothing is compared).
    pub dry_run: bool,
    /// How long each wait may take.
    pub timeout: Duration,
}

impl NatGateway<'_> {
    /// Connects every node to the external network and checks that its
    /// interface there is [`EXTERNAL_NIC`] (by MAC, as the e2e does).
    pub async fn connect_nodes(&self) -> Result<(), KindError> {
        let net = network_name(self.cluster);
        for node in &self.nodes {
            self.docker(
                format!("connecting node {node} to network {net}"),
                network_connect_cmd(self.cluster, node),
            )
            .await?;
        }
        for node in &self.nodes {
            let want = self
                .docker(
                    format!("reading the MAC of node {node} on network {net}"),
                    Command::new("docker")
                        .args(["inspect", "--format"])
                        .arg(format!(
                            "{{{{(index .NetworkSettings.Networks \"{net}\").MacAddress}}}}"
                        ))
                        .arg(node)
                        .timeout(DOCKER_TIMEOUT),
                )
                .await?;
            let got = self
                .docker(
                    format!("reading the MAC of {EXTERNAL_NIC} on node {node}"),
                    Command::new("docker")
                        .args(["exec", node, "cat"])
                        .arg(format!("/sys/class/net/{EXTERNAL_NIC}/address"))
                        .timeout(DOCKER_TIMEOUT),
                )
                .await?;
            if !self.dry_run && !same_mac(&want, &got) {
                return Err(KindError::NatGateway {
                    step: "checking the macvlan master".into(),
                    object: format!("node {node}"),
                    detail: format!(
                        "its {EXTERNAL_NIC} has MAC {:?}, but Docker gave it {:?} on {net}; the attachment's master would be the wrong interface",
                        got.trim(),
                        want.trim()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Applies the gateway's objects and waits for the gateway, then its
    /// EIP and rules.
    pub async fn apply(&self) -> Result<(), KindError> {
        self.apply_file(
            NAT_GATEWAY_MANIFEST,
            &gateway_manifest(self.image, &self.gateway_node),
            &format!("vpc-nat-gateway {NAT_GW_NAME} and its Vpc, subnets and attachment"),
        )
        .await?;
        for (what, args) in waits(self.timeout) {
            self.wait(&what, args).await?;
        }
        self.wait_exists(&gateway_statefulset()).await?;
        let t = format!("--timeout={}s", self.timeout.as_secs());
        self.wait(
            &format!("vpc-nat-gateway {NAT_GW_NAME} ({})", gateway_statefulset()),
            vec![
                "-n".into(),
                "kube-system".into(),
                "rollout".into(),
                "status".into(),
                gateway_statefulset(),
                t,
            ],
        )
        .await?;
        self.apply_file(
            NAT_RULES_MANIFEST,
            &rules_manifest(),
            &format!("{NAT_EIP_NAME}, {NAT_SNAT_NAME} and {NAT_DNAT_NAME}"),
        )
        .await?;
        for (what, args) in rule_waits(self.timeout) {
            self.wait(&what, args).await?;
        }
        self.apply_file(
            NAT_CLIENT_MANIFEST,
            &client_manifest(crate::observe::probe::PROBE_IMAGE, &self.client_node),
            &format!("statefulset {NAT_CLIENT} (the path's client in {NAT_VPC_SUBNET})"),
        )
        .await?;
        self.wait(
            &format!("statefulset {NAT_CLIENT}"),
            vec![
                "-n".into(),
                EXTERNAL_NAD_NAMESPACE.into(),
                "rollout".into(),
                "status".into(),
                format!("statefulset/{NAT_CLIENT}"),
                format!("--timeout={}s", self.timeout.as_secs()),
            ],
        )
        .await
    }

    /// Runs a docker command; a failure names `step` and carries the output.
    async fn docker(&self, step: String, cmd: Command) -> Result<String, KindError> {
        match self.runner.run(&cmd).await {
            Ok(out) => Ok(out.stdout_str().to_string()),
            Err(e) => Err(KindError::NatGateway {
                object: format!("network {}", network_name(self.cluster)),
                step,
                detail: e.to_string(),
            }),
        }
    }

    /// Renders `manifest` into the state folder and applies it.
    async fn apply_file(
        &self,
        file: &str,
        manifest: &Value,
        object: &str,
    ) -> Result<(), KindError> {
        let path = self.state.join(file);
        if !self.dry_run {
            std::fs::write(&path, format!("{manifest:#}\n")).map_err(|source| KindError::Io {
                action: "writing",
                path: path.clone(),
                source,
            })?;
        }
        let out = self
            .kubectl
            .output(
                ["apply", "-f", &path.display().to_string()],
                KUBECTL_TIMEOUT,
            )
            .await;
        self.judge("kubectl apply", object, out).await
    }

    /// Runs a `kubectl wait`/`rollout status` for `what`.
    async fn wait(&self, what: &str, args: Vec<String>) -> Result<(), KindError> {
        let out = self
            .kubectl
            .output(args, self.timeout + Duration::from_secs(30))
            .await;
        self.judge("waiting", what, out).await
    }

    /// Polls until `object` (in kube-system) exists, up to the timeout: a
    /// `kubectl wait` or `rollout status` fails at once on an object the
    /// controller has not made yet.
    async fn wait_exists(&self, object: &str) -> Result<(), KindError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let out = self
                .kubectl
                .output(
                    [
                        "-n",
                        "kube-system",
                        "get",
                        object,
                        "--ignore-not-found",
                        "-o",
                        "name",
                    ],
                    KUBECTL_TIMEOUT,
                )
                .await;
            let found = match &out {
                Ok(o) if o.success() => !o.stdout_str().trim().is_empty(),
                _ => false,
            };
            if found || self.dry_run {
                return Ok(());
            }
            if let Ok(o) = &out
                && !o.success()
            {
                return self.judge("looking for", object, out).await;
            }
            if let Err(e) = out {
                return Err(self.failure("looking for", object, e.to_string()).await);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self
                    .failure(
                        "waiting for",
                        object,
                        format!(
                            "kube-ovn-controller did not create it within {:?}",
                            self.timeout
                        ),
                    )
                    .await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `Ok` when `out` succeeded; else an error naming `object`, with the
    /// command's output and the gateway's objects as kubectl shows them.
    async fn judge(
        &self,
        step: &str,
        object: &str,
        out: Result<crate::exec::Output, KindError>,
    ) -> Result<(), KindError> {
        let detail = match out {
            Ok(o) if o.success() => return Ok(()),
            Ok(o) => format!(
                "kubectl exited {:?}\n{}{}",
                o.status,
                o.stdout_str(),
                o.stderr_str()
            ),
            Err(KindError::Exec(ExecError::Timeout { stdout, stderr, .. })) => {
                format!("kubectl timed out\n{stdout}{stderr}")
            }
            Err(e) => e.to_string(),
        };
        Err(self.failure(step, object, detail).await)
    }

    /// A [`KindError::NatGateway`] with what kubectl shows of the
    /// gateway's objects appended.
    async fn failure(&self, step: &str, object: &str, detail: String) -> KindError {
        let shown = self
            .kubectl
            .output(
                [
                    "get",
                    "vpc-nat-gateways.kubeovn.io,iptables-eips.kubeovn.io,iptables-snat-rules.kubeovn.io,iptables-dnat-rules.kubeovn.io",
                    "-o",
                    "wide",
                ],
                KUBECTL_TIMEOUT,
            )
            .await
            .map(|o| format!("{}{}", o.stdout_str(), o.stderr_str()))
            .unwrap_or_else(|e| format!("(kubectl get failed: {e})"));
        KindError::NatGateway {
            step: step.to_string(),
            object: object.to_string(),
            detail: format!(
                "{}\n--- kubectl get ---\n{}",
                detail.trim_end(),
                shown.trim_end()
            ),
        }
    }
}

/// Whether two MAC addresses as Docker and sysfs print them are the same.
fn same_mac(a: &str, b: &str) -> bool {
    let a = a.trim().to_ascii_lowercase();
    !a.is_empty() && a == b.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_manifest_is_the_e2e_setup_on_the_twins_names() {
        let m = gateway_manifest("docker.io/kubeovn/vpc-nat-gateway:v1.16.2", "c-worker");
        let items = m["items"].as_array().unwrap();
        let kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            [
                "ConfigMap",
                "ConfigMap",
                "NetworkAttachmentDefinition",
                "Subnet",
                "Vpc",
                "Subnet",
                "VpcNatGateway"
            ]
        );
        assert_eq!(
            items[0]["data"]["image"],
            "docker.io/kubeovn/vpc-nat-gateway:v1.16.2"
        );
        assert_eq!(items[1]["data"]["enable-vpc-nat-gw"], "true");
        let nad: Value =
            serde_json::from_str(items[2]["spec"]["config"].as_str().unwrap()).unwrap();
        assert_eq!(nad["type"], "macvlan");
        assert_eq!(nad["master"], "eth1");
        assert_eq!(
            nad["ipam"]["provider"],
            "ovn-vpc-external-network.kube-system"
        );
        assert_eq!(items[3]["spec"]["provider"], nad["ipam"]["provider"]);
        assert_eq!(items[5]["spec"]["gateway"], "10.250.1.1");
        assert_eq!(
            items[6]["spec"]["selector"],
            json!(["kubernetes.io/hostname: c-worker"])
        );
        assert_eq!(items[6]["spec"]["lanIp"], "10.250.1.254");
    }

    #[test]
    fn the_eip_is_excluded_from_dynamic_allocation_and_docker_keeps_below_it() {
        let last_excluded: std::net::Ipv4Addr =
            EXCLUDE_IPS.split("..").nth(1).unwrap().parse().unwrap();
        let eip: std::net::Ipv4Addr = NAT_EIP.parse().unwrap();
        let target: std::net::Ipv4Addr = TARGET_IP.parse().unwrap();
        assert_eq!(last_excluded, eip);
        assert!(target < eip);
        // Docker's range 172.31.250.0/26 ends at .63, below the target.
        assert!(u32::from(target) & 0xff > 63);
    }

    #[test]
    fn the_rules_share_one_eip() {
        let m = rules_manifest();
        let items = m["items"].as_array().unwrap();
        assert_eq!(items[0]["spec"]["v4ip"], NAT_EIP);
        assert_eq!(items[1]["spec"]["eip"], NAT_EIP_NAME);
        assert_eq!(items[2]["spec"]["eip"], NAT_EIP_NAME);
        assert_eq!(items[2]["spec"]["externalPort"], "8080");
    }

    #[test]
    fn macs_compare_without_case_or_newlines() {
        assert!(same_mac("02:42:AC:1F:FA:02\n", "02:42:ac:1f:fa:02"));
        assert!(!same_mac("", ""));
        assert!(!same_mac("02:42:ac:1f:fa:02", "02:42:ac:1f:fa:03"));
    }
}
