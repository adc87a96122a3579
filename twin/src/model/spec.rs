//! What runs: container programs, pod templates and workloads, and the
//! catalogue of a kind cluster with Kube-OVN and Multus (names, labels and
//! probes from FACTS.md "Kube-OVN facts" and "Multus facts").

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::profile::{ShimInstall, VersionProfile};
use super::rng::Ms;

/// The data-plane probe a probe pod performs (label [`PROBE_LABEL`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// A DNS lookup through CoreDNS.
    Dns,
    /// Pod to pod across nodes.
    PodToPod,
    /// The pod's Multus secondary interface.
    MultusSecondary,
    /// Egress through the VPC NAT gateway.
    NatGatewayEgress,
    /// An address on `net1` from an attachment whose delegate is Kube-OVN.
    KubeOvnSecondary,
}

/// The label that marks an API-created pod as a harness probe; its value is
/// `dns`, `pod-to-pod`, `multus-secondary`, `nat-gateway-egress` or
/// `kube-ovn-secondary`.
pub const PROBE_LABEL: &str = "cni-chaos.io/probe";
/// The label that marks an API-created pod as the harness's traffic pod
/// (the harness's `observe::flows::TRAFFIC_LABEL`): its container `sender`
/// runs [`Program::TrafficSender`], `receiver` [`Program::TrafficReceiver`].
pub const TRAFFIC_LABEL: &str = "cni-chaos.io/traffic";
/// The label that marks an API-created pod as the harness's long-lived
/// connections' pod (the harness's `observe::longlived::LONG_LIVED_LABEL`):
/// its container `client` runs [`Program::LongLivedClient`], `server`
/// [`Program::LongLivedServer`].
pub const LONG_LIVED_LABEL: &str = "cni-chaos.io/long-lived";
/// Label of a pod-to-pod probe pod naming the server pod it reaches
/// (the harness's `observe::probe::TARGET_LABEL`).
pub const PROBE_TARGET_LABEL: &str = "cni-chaos.io/probe-target";
/// The image of the harness's probes, traffic pods and NAT path (busybox,
/// which the kind backend pulls and loads into the nodes).
pub const PROBE_IMAGE: &str = "docker.io/library/busybox:1.36.1";
/// Kube-OVN's pod annotation naming the Subnet of its primary interface
/// (`LogicalSwitchAnnotation`).
pub const LOGICAL_SWITCH_ANNOTATION: &str = "ovn.kubernetes.io/logical_switch";
/// Kube-OVN's pod annotation asking for a static address
/// (`IPAddressAnnotationTemplate` with provider `ovn`).
pub const IP_ADDRESS_ANNOTATION: &str = "ovn.kubernetes.io/ip_address";

impl ProbeKind {
    /// Parses the label value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "dns" => ProbeKind::Dns,
            "pod-to-pod" => ProbeKind::PodToPod,
            "multus-secondary" => ProbeKind::MultusSecondary,
            "nat-gateway-egress" => ProbeKind::NatGatewayEgress,
            "kube-ovn-secondary" => ProbeKind::KubeOvnSecondary,
            _ => return None,
        })
    }
}

/// What a container's process does. Each variant's behaviour lives in
/// `programs.rs` with its sources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Program {
    /// Runs until stopped; healthy while not frozen.
    Sleep,
    /// CoreDNS: healthy while not frozen and its node reaches the API.
    CoreDns,
    /// An init step that succeeds (`hostpath-init`).
    Completes,
    /// Kube-OVN `install-cni`: installs the `kube-ovn` CNI binary.
    InstallCni,
    /// Kube-OVN `cni-server` (kube-ovn-daemon).
    CniServer,
    /// `ovs-ovn`'s `start-ovs.sh`: ovsdb-server, ovs-vswitchd, ovn-controller.
    OvsOvn,
    /// Multus `install-multus-binary`.
    InstallMultus(ShimInstall),
    /// The Multus thick daemon, optionally with a `readinessindicatorfile`.
    MultusDaemon(Option<String>),
    /// The VPC NAT gateway: needs its Multus attachment (`net1`).
    NatGateway,
    /// kube-ovn-pinger: a round of pings and a DNS lookup every 5 s.
    Pinger,
    /// A harness probe pod.
    Probe(ProbeKind),
    /// The harness's traffic pod's sender: every 200 ms a numbered probe
    /// to every other node's traffic pod, to the traffic's Service, and
    /// after a DNS lookup to its own receiver.
    TrafficSender,
    /// The harness's traffic pod's receiver: logs each probe it gets.
    TrafficReceiver,
    /// The NAT path client's sender: every 200 ms a numbered probe to the
    /// target outside the VPC, through the gateway (`nat-egress`).
    NatSender,
    /// The harness's long-lived client: one TCP connection to every other
    /// node's long-lived pod, a numbered line over it every 200 ms.
    LongLivedClient,
    /// The harness's long-lived server: logs each line it gets.
    LongLivedServer,
}

/// A readiness or liveness probe's timing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSpec {
    /// `initialDelaySeconds`, in ms.
    pub initial_delay: Ms,
    /// `periodSeconds`, in ms.
    pub period: Ms,
    /// `failureThreshold`.
    pub failure_threshold: u32,
    /// The handler as JSON (`exec`, `httpGet`).
    pub handler: Value,
}

impl ProbeSpec {
    fn new(initial_s: u64, period_s: u64, failures: u32, handler: Value) -> Self {
        ProbeSpec {
            initial_delay: initial_s * 1000,
            period: period_s * 1000,
            failure_threshold: failures,
            handler,
        }
    }

    /// As a pod spec's probe.
    pub fn to_json(&self) -> Value {
        let mut v = self.handler.clone();
        v["initialDelaySeconds"] = json!(self.initial_delay / 1000);
        v["periodSeconds"] = json!(self.period / 1000);
        v["failureThreshold"] = json!(self.failure_threshold);
        v["successThreshold"] = json!(1);
        v["timeoutSeconds"] = json!(1);
        v
    }

    /// Reads a probe from a pod spec (Kubernetes defaults: delay 0, period
    /// 10 s, failureThreshold 3).
    pub fn from_json(v: &Value) -> Self {
        let n = |k: &str, d: u64| v.get(k).and_then(Value::as_u64).unwrap_or(d);
        let mut handler = v.clone();
        if let Some(o) = handler.as_object_mut() {
            o.retain(|k, _| matches!(k.as_str(), "exec" | "httpGet" | "tcpSocket" | "grpc"));
        }
        ProbeSpec::new(
            n("initialDelaySeconds", 0),
            n("periodSeconds", 10).max(1),
            n("failureThreshold", 3).max(1) as u32,
            handler,
        )
    }
}

/// One container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerSpec {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// What it does.
    pub program: Program,
    /// Readiness probe.
    pub readiness: Option<ProbeSpec>,
    /// Liveness probe.
    pub liveness: Option<ProbeSpec>,
}

impl ContainerSpec {
    fn new(name: &str, image: &str, program: Program) -> Self {
        ContainerSpec {
            name: name.into(),
            image: image.into(),
            program,
            readiness: None,
            liveness: None,
        }
    }
}

/// A pod's template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodTemplate {
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Init containers, in order.
    pub init: Vec<ContainerSpec>,
    /// Containers.
    pub containers: Vec<ContainerSpec>,
    /// `hostNetwork`: no CNI ADD.
    pub host_network: bool,
    /// `restartPolicy: Always` (else Never).
    pub restart_always: bool,
    /// `nodeSelector`.
    pub node_selector: BTreeMap<String, String>,
    /// Tolerates the control plane's NoSchedule taint.
    pub tolerates_control_plane: bool,
    /// `terminationGracePeriodSeconds`.
    pub grace_s: i64,
    /// `priorityClassName`.
    pub priority_class: Option<String>,
}

impl PodTemplate {
    fn new(labels: &[(&str, &str)], host_network: bool) -> Self {
        PodTemplate {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            annotations: BTreeMap::new(),
            init: Vec::new(),
            containers: Vec::new(),
            host_network,
            restart_always: true,
            node_selector: BTreeMap::new(),
            tolerates_control_plane: true,
            grace_s: 30,
            priority_class: None,
        }
    }

    /// Reads a pod created through the API. A pod labelled [`PROBE_LABEL`]
    /// runs that probe; any other container sleeps.
    pub fn from_pod(pod: &Value) -> Self {
        let strmap = |p: &str| -> BTreeMap<String, String> {
            pod.pointer(p)
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default()
        };
        let labels = strmap("/metadata/labels");
        let probe = labels.get(PROBE_LABEL).and_then(|v| ProbeKind::parse(v));
        let traffic = labels.contains_key(TRAFFIC_LABEL);
        let long_lived = labels.contains_key(LONG_LIVED_LABEL);
        let containers = |p: &str| -> Vec<ContainerSpec> {
            pod.pointer(p)
                .and_then(Value::as_array)
                .map(|cs| {
                    cs.iter()
                        .map(|c| ContainerSpec {
                            program: match c.get("name").and_then(Value::as_str) {
                                Some("sender") if traffic => Program::TrafficSender,
                                Some("receiver") if traffic => Program::TrafficReceiver,
                                Some("client") if long_lived => Program::LongLivedClient,
                                Some("server") if long_lived => Program::LongLivedServer,
                                _ => probe.map(Program::Probe).unwrap_or(Program::Sleep),
                            },
                            name: c
                                .get("name")
                                .and_then(Value::as_str)
                                .unwrap_or("c")
                                .to_string(),
                            image: c
                                .get("image")
                                .and_then(Value::as_str)
                                .unwrap_or("busybox")
                                .to_string(),
                            readiness: c.get("readinessProbe").map(ProbeSpec::from_json),
                            liveness: c.get("livenessProbe").map(ProbeSpec::from_json),
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut init = containers("/spec/initContainers");
        for c in &mut init {
            c.program = Program::Completes;
        }
        let tolerations = pod
            .pointer("/spec/tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        PodTemplate {
            annotations: strmap("/metadata/annotations"),
            init,
            containers: containers("/spec/containers"),
            host_network: pod
                .pointer("/spec/hostNetwork")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            restart_always: pod
                .pointer("/spec/restartPolicy")
                .and_then(Value::as_str)
                .unwrap_or("Always")
                == "Always",
            node_selector: strmap("/spec/nodeSelector"),
            tolerates_control_plane: tolerations.iter().any(|t| {
                t.get("operator").and_then(Value::as_str) == Some("Exists")
                    && t.get("key").is_none()
                    || t.get("key").and_then(Value::as_str)
                        == Some("node-role.kubernetes.io/control-plane")
            }),
            grace_s: pod
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30),
            priority_class: pod
                .pointer("/spec/priorityClassName")
                .and_then(Value::as_str)
                .map(str::to_string),
            labels,
        }
    }

    /// The Multus attachments the pod asks for, in order.
    ///
    /// Rule `multus-networks-annotation`: `k8s.v1.cni.cncf.io/networks` is either a JSON list of
    /// selection elements (`name`, `namespace`, `interface`) or a comma list of
    /// `[<namespace>/]<name>[@<ifname>]`, the namespace defaulting to the pod's.
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/k8sclient/k8sclient.go (parsePodNetworkAnnotation)
    ///
    /// A list that does not parse asks for nothing here (Multus fails the
    /// ADD with a parse error; the model does not go that far).
    pub fn attachments(&self, namespace: &str) -> Vec<Attachment> {
        let Some(text) = self.annotations.get(NETWORKS_ANNOTATION) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if text.contains(['[', '{', '"']) {
            let elements: Vec<Value> = serde_json::from_str(text).unwrap_or_default();
            for e in elements {
                let field = |k: &str| e.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
                let Some(name) = field("name") else { continue };
                out.push(Attachment {
                    namespace: field("namespace").unwrap_or(namespace).to_string(),
                    name: name.to_string(),
                    interface: field("interface")
                        .or_else(|| field("interfaceRequest"))
                        .map(str::to_string),
                });
            }
            return out;
        }
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (ns, rest) = item.split_once('/').unwrap_or((namespace, item));
            let (name, interface) = match rest.split_once('@') {
                Some((n, i)) => (n, Some(i.trim().to_string())),
                None => (rest, None),
            };
            out.push(Attachment {
                namespace: ns.trim().to_string(),
                name: name.trim().to_string(),
                interface,
            });
        }
        out
    }
}

/// The annotation a pod asks Multus for secondary networks with.
pub const NETWORKS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/networks";

/// One network a pod asks Multus for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The NetworkAttachmentDefinition's namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The interface name asked for (`@ifname`, `"interface"`), if any.
    pub interface: Option<String>,
}

impl Attachment {
    /// `<namespace>/<name>`, as Multus names the network in `network-status`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The interface Multus gives the attachment at `index` (0 for the
    /// first secondary network).
    ///
    /// Rule `multus-secondary-ifname`: a delegate gets the interface it asks for, else `net<i>` where
    /// `i` is its position among the delegates, the cluster network being 0.
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/multus/multus.go (getIfname)
    pub fn interface_at(&self, index: usize) -> String {
        self.interface
            .clone()
            .unwrap_or_else(|| format!("net{}", index + 1))
    }
}

/// Which controller owns a workload's pods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkloadKind {
    /// One pod per node.
    DaemonSet,
    /// `replicas` interchangeable pods (through a ReplicaSet).
    Deployment,
    /// `replicas` pods named `<name>-<ordinal>`.
    StatefulSet,
}

impl WorkloadKind {
    /// Resource plural.
    pub fn plural(self) -> &'static str {
        match self {
            WorkloadKind::DaemonSet => "daemonsets",
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::StatefulSet => "statefulsets",
        }
    }

    /// Kind.
    pub fn kind(self) -> &'static str {
        match self {
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
        }
    }
}

/// A DaemonSet, Deployment or StatefulSet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Kind.
    pub kind: WorkloadKind,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Replicas (ignored for DaemonSets).
    pub replicas: u32,
    /// Pod template.
    pub template: PodTemplate,
}

const KUBE_OVN_IMAGE: &str = "docker.io/kubeovn/kube-ovn";

/// Rule `ovn-central-nb-leader-label`: Kube-OVN's OVN leader checker, in each ovn-central pod, labels the pod whose NB database leads `ovn-nb-leader=true`, which is how `kubectl ko nbctl` finds where to run `ovn-nbctl`; the model's one replica always leads and carries the label from its creation (the checker sets it within seconds of the pod running).
/// Source: kubeovn/kube-ovn@v1.16.2:pkg/ovn_leader_checker/ovn.go (doOvnLeaderCheck: PatchLabels ovn-nb-leader)
/// Source: kubeovn/kube-ovn@v1.16.2:dist/images/kubectl-ko (getLeaderPod ovn-nb-leader, nbctl)
///
/// Rule `ovs-ovn-probes`: ovs-ovn's readiness runs `ovs-healthcheck.sh` every 5 s after 10 s, its liveness every 5 s after 60 s and restarts the container after 5 misses.
/// Source: kubeovn/kube-ovn@v1.14.41:dist/images/install.sh (ovs-ovn readinessProbe, livenessProbe)
///
/// Rule `multus-grace-period-10s`: the Multus DaemonSet's pods have a 10 s termination grace period and run with hostPID, so the daemon shares the node's PID namespace.
/// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:deployments/multus-daemonset-thick.yml (terminationGracePeriodSeconds: 10, hostPID: true)
///
/// The kube-system workloads of a kind cluster with Kube-OVN and Multus,
/// plus a VPC NAT gateway on the first of `nat` and its client in the VPC
/// on the second when given, and `load` extra pods
/// (a Deployment in `default`, for benchmarks).
pub fn catalogue(
    profile: &VersionProfile,
    nat: Option<(&str, &str)>,
    load: u32,
    readiness_indicator: Option<&str>,
) -> Vec<Workload> {
    let ko_image = format!("{KUBE_OVN_IMAGE}:{}", profile.kube_ovn);
    let network = ("component", "network");
    let mut out = Vec::new();
    let wl = |kind, name: &str, replicas, template| Workload {
        kind,
        namespace: "kube-system".into(),
        name: name.into(),
        replicas,
        template,
    };

    // ovs-ovn: DaemonSet, app=ovs, hostNetwork + hostPID; readiness and
    // liveness run ovs-healthcheck.sh every 5 s, liveness after 60 s,
    // 5 misses (FACTS.md "Kube-OVN facts").
    let mut t = PodTemplate::new(&[("app", "ovs"), network], true);
    let check = json!({"exec": {"command": ["bash", "/kube-ovn/ovs-healthcheck.sh"]}});
    let mut c = ContainerSpec::new("openvswitch", &ko_image, Program::OvsOvn);
    c.readiness = Some(ProbeSpec::new(10, 5, 3, check.clone()));
    c.liveness = Some(ProbeSpec::new(60, 5, 5, check));
    t.containers.push(c);
    t.priority_class = Some("system-node-critical".into());
    out.push(wl(WorkloadKind::DaemonSet, "ovs-ovn", 0, t));

    // kube-ovn-cni: init hostpath-init, install-cni; container cni-server;
    // /livez /readyz every 7 s (FACTS.md).
    let mut t = PodTemplate::new(&[("app", "kube-ovn-cni"), network], true);
    t.init.push(ContainerSpec::new(
        "hostpath-init",
        &ko_image,
        Program::Completes,
    ));
    t.init.push(ContainerSpec::new(
        "install-cni",
        &ko_image,
        Program::InstallCni,
    ));
    let mut c = ContainerSpec::new("cni-server", &ko_image, Program::CniServer);
    c.readiness = Some(ProbeSpec::new(
        0,
        7,
        3,
        json!({"httpGet": {"path": "/readyz", "port": 10665}}),
    ));
    c.liveness = Some(ProbeSpec::new(
        30,
        7,
        5,
        json!({"httpGet": {"path": "/livez", "port": 10665}}),
    ));
    t.containers.push(c);
    t.priority_class = Some("system-node-critical".into());
    out.push(wl(WorkloadKind::DaemonSet, "kube-ovn-cni", 0, t));

    // kube-ovn-pinger: DaemonSet on the pod network.
    let mut t = PodTemplate::new(&[("app", "kube-ovn-pinger"), network], false);
    t.containers
        .push(ContainerSpec::new("pinger", &ko_image, Program::Pinger));
    out.push(wl(WorkloadKind::DaemonSet, "kube-ovn-pinger", 0, t));

    // kube-multus-ds: labels app=multus, name=multus; init
    // install-multus-binary, container kube-multus (FACTS.md "Multus facts").
    let mut t = PodTemplate::new(
        &[("app", "multus"), ("name", "multus"), ("tier", "node")],
        true,
    );
    t.init.push(ContainerSpec::new(
        "install-multus-binary",
        &format!(
            "ghcr.io/k8snetworkplumbingwg/multus-cni:{}-thick",
            profile.multus
        ),
        Program::InstallMultus(profile.shim_install),
    ));
    t.containers.push(ContainerSpec::new(
        "kube-multus",
        &format!(
            "ghcr.io/k8snetworkplumbingwg/multus-cni:{}-thick",
            profile.multus
        ),
        Program::MultusDaemon(readiness_indicator.map(str::to_string)),
    ));
    t.grace_s = 10;
    out.push(wl(WorkloadKind::DaemonSet, "kube-multus-ds", 0, t));

    // Control-plane Deployments, hostNetwork, on kube-ovn/role=master.
    for (name, app) in [
        ("ovn-central", "ovn-central"),
        ("kube-ovn-controller", "kube-ovn-controller"),
        ("kube-ovn-monitor", "kube-ovn-monitor"),
    ] {
        let mut t = PodTemplate::new(&[("app", app), network], true);
        t.node_selector
            .insert("kube-ovn/role".into(), "master".into());
        if name == "ovn-central" {
            // The one replica leads the NB database: its leader checker
            // labels it (rule `ovn-central-nb-leader-label`).
            t.labels.insert("ovn-nb-leader".into(), "true".into());
        }
        let mut c = ContainerSpec::new(name, &ko_image, Program::Sleep);
        c.readiness = Some(ProbeSpec::new(
            0,
            10,
            3,
            json!({"exec": {"command": ["bash", "-c", "true"]}}),
        ));
        t.containers.push(c);
        out.push(wl(WorkloadKind::Deployment, name, 1, t));
    }

    // CoreDNS: 2 replicas on the pod network; ready :8181/ready every 10 s,
    // health :8080/health after 60 s, 5 misses (kubeadm's manifest).
    let mut t = PodTemplate::new(&[("k8s-app", "kube-dns")], false);
    let mut c = ContainerSpec::new(
        "coredns",
        "registry.k8s.io/coredns/coredns:v1.12.1",
        Program::CoreDns,
    );
    c.readiness = Some(ProbeSpec::new(
        0,
        10,
        3,
        json!({"httpGet": {"path": "/ready", "port": 8181}}),
    ));
    c.liveness = Some(ProbeSpec::new(
        60,
        10,
        5,
        json!({"httpGet": {"path": "/health", "port": 8080}}),
    ));
    t.containers.push(c);
    t.priority_class = Some("system-cluster-critical".into());
    out.push(wl(WorkloadKind::Deployment, "coredns", 2, t));

    // VPC NAT gateway: StatefulSet vpc-nat-gw-<name>, label
    // ovn.kubernetes.io/vpc-nat-gw=true, with a Multus attachment.
    if let Some((node, client_node)) = nat {
        let mut t = PodTemplate::new(
            &[
                ("app", "vpc-nat-gw-gw1"),
                ("ovn.kubernetes.io/vpc-nat-gw", "true"),
            ],
            false,
        );
        t.annotations.insert(
            "k8s.v1.cni.cncf.io/networks".into(),
            "kube-system/ovn-vpc-external-network".into(),
        );
        t.node_selector
            .insert("kubernetes.io/hostname".into(), node.into());
        t.containers.push(ContainerSpec::new(
            "vpc-nat-gw",
            &format!("docker.io/kubeovn/vpc-nat-gateway:{}", profile.kube_ovn),
            Program::NatGateway,
        ));
        out.push(wl(WorkloadKind::StatefulSet, "vpc-nat-gw-gw1", 1, t));

        // The path's client in the VPC subnet, at the DNAT rule's internal
        // IP (Kube-OVN's logical_switch and ip_address annotations), on
        // the control plane, away from the gateway (the harness's kind
        // NAT setup makes the same StatefulSet).
        let mut t = PodTemplate::new(&[("app", super::natgw::NAT_CLIENT)], false);
        t.annotations.insert(
            LOGICAL_SWITCH_ANNOTATION.into(),
            super::natgw::NAT_VPC_SUBNET.into(),
        );
        t.annotations.insert(
            IP_ADDRESS_ANNOTATION.into(),
            super::natgw::NAT_DNAT_INTERNAL_IP.into(),
        );
        t.node_selector
            .insert("kubernetes.io/hostname".into(), client_node.into());
        t.grace_s = 1;
        t.containers.push(ContainerSpec::new(
            super::natgw::NAT_CLIENT_CONTAINER,
            PROBE_IMAGE,
            Program::Sleep,
        ));
        t.containers.push(ContainerSpec::new(
            super::natgw::NAT_SENDER_CONTAINER,
            PROBE_IMAGE,
            Program::NatSender,
        ));
        out.push(wl(
            WorkloadKind::StatefulSet,
            super::natgw::NAT_CLIENT,
            1,
            t,
        ));
    }

    if load > 0 {
        let mut t = PodTemplate::new(&[("app", "load")], false);
        t.tolerates_control_plane = false;
        let mut c = ContainerSpec::new("app", "registry.k8s.io/pause:3.10", Program::Sleep);
        c.readiness = Some(ProbeSpec::new(
            0,
            10,
            3,
            json!({"tcpSocket": {"port": 8080}}),
        ));
        t.containers.push(c);
        out.push(Workload {
            kind: WorkloadKind::Deployment,
            namespace: "default".into(),
            name: "load".into(),
            replicas: load,
            template: t,
        });
    }
    out
}
