//! A seeded snapshot of a healthy 3-node kind cluster running Kube-OVN and
//! Multus (thick), used until the cluster model drives the twin. Names,
//! labels, containers and statuses follow FACTS.md: kind node names and
//! labels, `kube-ovn/role=master` on the control plane, Kube-OVN components
//! in kube-system labelled `component=network` (`ovn-central`, `ovs-ovn`
//! with `app=ovs`, `kube-ovn-controller`, `kube-ovn-cni` with init
//! containers `hostpath-init` and `install-cni` and container `cni-server`,
//! `kube-ovn-monitor`, `kube-ovn-pinger`), Multus `kube-multus-ds` with
//! `app=multus`, `name=multus`, init container `install-multus-binary`,
//! container `kube-multus` limited to cpu=200m, memory=200Mi.

use serde_json::{Value, json};

use crate::clock::k8s_time;
use crate::error::ApiError;
use crate::twin::Twin;

/// What cluster to build.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// kind cluster name; nodes are `<name>-control-plane`, `<name>-worker`,
    /// `<name>-worker2`, ...
    pub name: String,
    /// Number of worker nodes. Default 2.
    pub workers: usize,
    /// Kubelet version reported by the nodes.
    pub kube_version: String,
    /// Kube-OVN image tag.
    pub kube_ovn_version: String,
    /// Multus image tag (thick plugin).
    pub multus_version: String,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        Self {
            name: "chaos-twin".into(),
            workers: 2,
            kube_version: crate::api::KUBE_VERSION.into(),
            kube_ovn_version: "v1.14.10".into(),
            multus_version: "v4.2.1".into(),
        }
    }
}

impl ClusterSpec {
    /// Node names, control plane first.
    pub fn node_names(&self) -> Vec<String> {
        let mut names = vec![format!("{}-control-plane", self.name)];
        for i in 0..self.workers {
            names.push(if i == 0 {
                format!("{}-worker", self.name)
            } else {
                format!("{}-worker{}", self.name, i + 1)
            });
        }
        names
    }
}

/// Containers as (name, image).
type Containers<'a> = Vec<(&'a str, String)>;
/// name, labels, init containers, containers, hostNetwork.
type DaemonSetRow<'a> = (&'a str, Value, Containers<'a>, Containers<'a>, bool);
/// namespace, name, labels, containers, hostNetwork, replicas.
type DeploymentRow<'a> = (&'a str, &'a str, Value, Containers<'a>, bool, i64);

struct Builder<'a> {
    twin: &'a Twin,
    spec: &'a ClusterSpec,
    now: String,
    pod_ip: u8,
}

struct PodDef<'a> {
    name: String,
    namespace: &'a str,
    node: &'a str,
    node_ip: &'a str,
    labels: Value,
    owner: Value,
    host_network: bool,
    init: &'a [(&'a str, String)],
    containers: &'a [(&'a str, String)],
    priority_class: &'a str,
}

impl Builder<'_> {
    fn create(&self, resource: &str, namespace: &str, obj: Value) -> Result<Value, ApiError> {
        Ok((*self.twin.create(resource, namespace, obj)?).clone())
    }

    fn suffix(&self, n: usize) -> String {
        self.twin.with_store(|s| s.ids().suffix(n))
    }

    fn uid(&self) -> String {
        self.twin.with_store(|s| s.ids().uid())
    }

    fn node(&self, name: &str, ip: &str, index: usize) -> Result<Value, ApiError> {
        let control_plane = index == 0;
        let mut labels = json!({
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "ovn.kubernetes.io/ovs_dp_type": "kernel",
        });
        let mut taints = json!([]);
        if control_plane {
            labels["node-role.kubernetes.io/control-plane"] = json!("");
            labels["node.kubernetes.io/exclude-from-external-load-balancers"] = json!("");
            labels["kube-ovn/role"] = json!("master");
            taints =
                json!([{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]);
        }
        let cond = |ty: &str, status: &str, reason: &str, message: &str| {
            json!({"type": ty, "status": status, "reason": reason, "message": message,
                   "lastHeartbeatTime": self.now, "lastTransitionTime": self.now})
        };
        self.create("nodes", "", json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": labels,
                "annotations": {
                    "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                    "node.alpha.kubernetes.io/ttl": "0",
                    "ovn.kubernetes.io/ip_address": format!("100.64.0.{}", index + 2),
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                },
            },
            "spec": {
                "podCIDR": format!("10.16.{index}.0/24"),
                "podCIDRs": [format!("10.16.{index}.0/24")],
                "providerID": format!("kind://docker/{}/{name}", self.spec.name),
                "taints": taints,
            },
            "status": {
                "capacity": {"cpu": "2", "ephemeral-storage": "101430960Ki", "hugepages-2Mi": "0", "memory": "8135672Ki", "pods": "110"},
                "allocatable": {"cpu": "2", "ephemeral-storage": "101430960Ki", "hugepages-2Mi": "0", "memory": "8135672Ki", "pods": "110"},
                "conditions": [
                    cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                    cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                    cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                ],
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                "nodeInfo": {
                    "machineID": self.suffix(32),
                    "systemUUID": self.uid(),
                    "bootID": self.uid(),
                    "kernelVersion": "6.8.0-1017-gcp",
                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "containerRuntimeVersion": "containerd://2.1.1",
                    "kubeletVersion": self.spec.kube_version,
                    "kubeProxyVersion": "",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            },
        }))
    }

    fn pod(&mut self, def: PodDef<'_>) -> Result<Value, ApiError> {
        let ip = if def.host_network {
            def.node_ip.to_string()
        } else {
            self.pod_ip += 1;
            format!("10.16.0.{}", self.pod_ip)
        };
        let now = &self.now;
        let init_specs: Vec<Value> = def
            .init
            .iter()
            .map(|(n, image)| json!({"name": n, "image": image, "imagePullPolicy": "IfNotPresent"}))
            .collect();
        let mut containers: Vec<Value> = def
            .containers
            .iter()
            .map(|(n, image)| json!({"name": n, "image": image, "imagePullPolicy": "IfNotPresent"}))
            .collect();
        if def.name.starts_with("kube-multus-ds") {
            containers[0]["resources"] = json!({"limits": {"cpu": "200m", "memory": "200Mi"}, "requests": {"cpu": "100m", "memory": "50Mi"}});
        }
        let init_statuses: Vec<Value> = def.init.iter().map(|(n, image)| json!({
            "name": n, "image": image, "imageID": "", "ready": true, "restartCount": 0, "started": false,
            "containerID": format!("containerd://{}", self.suffix(20)),
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}},
        })).collect();
        let statuses: Vec<Value> = def.containers.iter().map(|(n, image)| json!({
            "name": n, "image": image, "imageID": "", "ready": true, "restartCount": 0, "started": true,
            "containerID": format!("containerd://{}", self.suffix(20)),
            "state": {"running": {"startedAt": now}},
        })).collect();
        let cond = |ty: &str| json!({"type": ty, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
        let mut pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": def.name, "namespace": def.namespace, "labels": def.labels, "ownerReferences": [def.owner]},
            "spec": {
                "nodeName": def.node,
                "hostNetwork": def.host_network,
                "containers": containers,
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "dnsPolicy": "ClusterFirst",
                "schedulerName": "default-scheduler",
                "serviceAccountName": "default",
                "priorityClassName": def.priority_class,
                "tolerations": [{"operator": "Exists"}],
            },
            "status": {
                "phase": "Running",
                "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
                "hostIP": def.node_ip,
                "hostIPs": [{"ip": def.node_ip}],
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "startTime": now,
                "qosClass": "Burstable",
                "containerStatuses": statuses,
            },
        });
        if !init_specs.is_empty() {
            pod["spec"]["initContainers"] = Value::Array(init_specs);
            pod["status"]["initContainerStatuses"] = Value::Array(init_statuses);
        }
        if def.priority_class.is_empty()
            && let Some(spec) = pod["spec"].as_object_mut()
        {
            spec.remove("priorityClassName");
        }
        self.create("pods", def.namespace, pod)
    }

    fn workload(
        &self,
        kind: &str,
        (namespace, name): (&str, &str),
        labels: &Value,
        containers: &[(&str, String)],
        desired: i64,
        node_selector: Value,
    ) -> Result<Value, ApiError> {
        let (resource, status) = match kind {
            "DaemonSet" => (
                "daemonsets",
                json!({
                    "currentNumberScheduled": desired, "desiredNumberScheduled": desired, "numberAvailable": desired,
                    "numberMisscheduled": 0, "numberReady": desired, "observedGeneration": 1, "updatedNumberScheduled": desired,
                }),
            ),
            _ => (
                "deployments",
                json!({
                    "availableReplicas": desired, "observedGeneration": 1, "readyReplicas": desired, "replicas": desired, "updatedReplicas": desired,
                    "conditions": [
                        {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable", "message": "Deployment has minimum availability.", "lastTransitionTime": self.now, "lastUpdateTime": self.now},
                        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{name}\" has successfully progressed."), "lastTransitionTime": self.now, "lastUpdateTime": self.now},
                    ],
                }),
            ),
        };
        let containers: Vec<Value> = containers
            .iter()
            .map(|(n, image)| json!({"name": n, "image": image}))
            .collect();
        let mut spec = json!({
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": containers, "nodeSelector": node_selector}},
        });
        if kind == "Deployment" {
            spec["replicas"] = json!(desired);
        }
        let obj = json!({
            "apiVersion": "apps/v1", "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": spec,
        });
        let created = self.create(resource, namespace, obj)?;
        let status_obj = self
            .twin
            .replace_status(resource, namespace, name, status)?;
        let _ = created;
        Ok((*status_obj).clone())
    }

    fn event(
        &self,
        namespace: &str,
        involved: &Value,
        reason: &str,
        message: &str,
        (component, host): (&str, &str),
        ty: &str,
    ) -> Result<Value, ApiError> {
        let kind = involved.get("kind").and_then(Value::as_str).unwrap_or("");
        let name = involved
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let obj = json!({
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": format!("{name}.{}", self.suffix(16)), "namespace": namespace},
            "involvedObject": {
                "kind": kind, "name": name,
                "namespace": involved.pointer("/metadata/namespace").cloned().unwrap_or(Value::Null),
                "uid": involved.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
                "apiVersion": "v1",
                "resourceVersion": involved.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null),
            },
            "reason": reason, "message": message, "type": ty,
            "source": {"component": component, "host": host},
            "firstTimestamp": self.now, "lastTimestamp": self.now, "count": 1,
            "reportingComponent": component, "reportingInstance": host,
        });
        self.create("events", namespace, obj)
    }
}

/// Builds the snapshot into `twin` (which should be empty).
pub fn kind_cluster(twin: &Twin, spec: &ClusterSpec) -> Result<(), ApiError> {
    let mut b = Builder {
        twin,
        spec,
        now: k8s_time(twin.clock().now_seconds()),
        pod_ip: 1,
    };
    for ns in [
        "default",
        "kube-system",
        "kube-public",
        "kube-node-lease",
        "local-path-storage",
    ] {
        b.create(
            "namespaces",
            "",
            json!({"metadata": {"name": ns, "labels": {"kubernetes.io/metadata.name": ns}}}),
        )?;
    }
    let names = spec.node_names();
    let mut nodes = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let ip = format!("172.18.0.{}", i + 2);
        let node = b.node(name, &ip, i)?;
        nodes.push((name.clone(), ip, node));
    }
    let ovn = |c: &str| -> (String, String) {
        (
            c.to_string(),
            format!("docker.io/kubeovn/kube-ovn:{}", spec.kube_ovn_version),
        )
    };
    let ovn_image = ovn("x").1;
    let multus_image = format!(
        "ghcr.io/k8snetworkplumbingwg/multus-cni:{}-thick",
        spec.multus_version
    );
    let k8s = |c: &str| format!("registry.k8s.io/{c}:{}", spec.kube_version);
    let linux = json!({"kubernetes.io/os": "linux"});
    let cp = &nodes[0];
    // (name, labels, init containers, containers, hostNetwork, replicas, only control plane)
    let daemonsets: Vec<DaemonSetRow<'_>> = vec![
        (
            "ovs-ovn",
            json!({"app": "ovs", "component": "network", "type": "infra"}),
            vec![],
            vec![("openvswitch", ovn_image.clone())],
            true,
        ),
        (
            "kube-ovn-cni",
            json!({"app": "kube-ovn-cni", "component": "network", "type": "infra"}),
            vec![
                ("hostpath-init", ovn_image.clone()),
                ("install-cni", ovn_image.clone()),
            ],
            vec![("cni-server", ovn_image.clone())],
            true,
        ),
        (
            "kube-ovn-pinger",
            json!({"app": "kube-ovn-pinger", "component": "network", "type": "infra"}),
            vec![],
            vec![("pinger", ovn_image.clone())],
            false,
        ),
        (
            "kube-multus-ds",
            json!({"app": "multus", "name": "multus", "tier": "node"}),
            vec![("install-multus-binary", multus_image.clone())],
            vec![("kube-multus", multus_image.clone())],
            true,
        ),
        (
            "kube-proxy",
            json!({"k8s-app": "kube-proxy"}),
            vec![],
            vec![("kube-proxy", k8s("kube-proxy"))],
            true,
        ),
    ];
    let mut pods = Vec::new();
    for (name, labels, init, containers, host) in &daemonsets {
        let ds = b.workload(
            "DaemonSet",
            ("kube-system", name),
            labels,
            containers,
            nodes.len() as i64,
            linux.clone(),
        )?;
        let owner = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "uid": ds["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true});
        for (node, ip, _) in &nodes {
            let pod_name = format!("{name}-{}", b.suffix(5));
            let mut pod_labels = labels.clone();
            pod_labels["controller-revision-hash"] = json!(b.suffix(10));
            pod_labels["pod-template-generation"] = json!("1");
            let pod = b.pod(PodDef {
                name: pod_name,
                namespace: "kube-system",
                node,
                node_ip: ip,
                labels: pod_labels,
                owner: owner.clone(),
                host_network: *host,
                init,
                containers,
                priority_class: "system-node-critical",
            })?;
            pods.push(pod);
        }
    }
    let deployments: Vec<DeploymentRow<'_>> = vec![
        (
            "kube-system",
            "ovn-central",
            json!({"app": "ovn-central", "component": "network", "type": "infra"}),
            vec![("ovn-central", ovn_image.clone())],
            true,
            1,
        ),
        (
            "kube-system",
            "kube-ovn-controller",
            json!({"app": "kube-ovn-controller", "component": "network", "type": "infra"}),
            vec![("kube-ovn-controller", ovn_image.clone())],
            true,
            1,
        ),
        (
            "kube-system",
            "kube-ovn-monitor",
            json!({"app": "kube-ovn-monitor", "component": "network", "type": "infra"}),
            vec![("kube-ovn-monitor", ovn_image.clone())],
            true,
            1,
        ),
        (
            "kube-system",
            "coredns",
            json!({"k8s-app": "kube-dns"}),
            vec![(
                "coredns",
                "registry.k8s.io/coredns/coredns:v1.12.0".to_string(),
            )],
            false,
            2,
        ),
        (
            "local-path-storage",
            "local-path-provisioner",
            json!({"app": "local-path-provisioner"}),
            vec![(
                "local-path-provisioner",
                "docker.io/kindest/local-path-provisioner:v20250214-acbabc1a".to_string(),
            )],
            false,
            1,
        ),
    ];
    for (ns, name, labels, containers, host, replicas) in &deployments {
        let selector = if *name == "ovn-central"
            || *name == "kube-ovn-monitor"
            || *name == "kube-ovn-controller"
        {
            json!({"kube-ovn/role": "master", "kubernetes.io/os": "linux"})
        } else {
            linux.clone()
        };
        b.workload(
            "Deployment",
            (ns, name),
            labels,
            containers,
            *replicas,
            selector,
        )?;
        let hash = b.suffix(10);
        let owner = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{name}-{hash}"), "uid": b.uid(), "controller": true, "blockOwnerDeletion": true});
        for r in 0..*replicas {
            let (node, ip, _) = if *host || nodes.len() == 1 {
                cp
            } else {
                &nodes[1 + (r as usize % (nodes.len() - 1))]
            };
            let mut pod_labels = labels.clone();
            pod_labels["pod-template-hash"] = json!(hash);
            let pod = b.pod(PodDef {
                name: format!("{name}-{hash}-{}", b.suffix(5)),
                namespace: ns,
                node,
                node_ip: ip,
                labels: pod_labels,
                owner: owner.clone(),
                host_network: *host,
                init: &[],
                containers,
                priority_class: if *ns == "kube-system" {
                    "system-cluster-critical"
                } else {
                    ""
                },
            })?;
            pods.push(pod);
        }
    }
    let cp_owner = json!({"apiVersion": "v1", "kind": "Node", "name": cp.0, "uid": cp.2["metadata"]["uid"], "controller": true});
    for component in [
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        let image = if component == "etcd" {
            "registry.k8s.io/etcd:3.5.21-0".to_string()
        } else {
            k8s(component)
        };
        b.pod(PodDef {
            name: format!("{component}-{}", cp.0),
            namespace: "kube-system",
            node: &cp.0,
            node_ip: &cp.1,
            labels: json!({"component": component, "tier": "control-plane"}),
            owner: cp_owner.clone(),
            host_network: true,
            init: &[],
            containers: &[(component, image)],
            priority_class: "system-node-critical",
        })?;
    }
    b.create("configmaps", "kube-system", json!({"metadata": {"name": "coredns"}, "data": {"Corefile": ".:53 {\n    errors\n    health\n    kubernetes cluster.local in-addr.arpa ip6.arpa\n    forward . /etc/resolv.conf\n    cache 30\n}\n"}}))?;
    b.create(
        "configmaps",
        "kube-system",
        json!({"metadata": {"name": "ovn-config"}, "data": {"defaultNetworkType": "geneve"}}),
    )?;
    b.create("network-attachment-definitions", "default", json!({
        "apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": "attachnet", "namespace": "default"},
        "spec": {"config": "{\"cniVersion\": \"0.3.0\", \"type\": \"kube-ovn\", \"server_socket\": \"/run/openvswitch/kube-ovn-daemon.sock\", \"provider\": \"attachnet.default.ovn\"}"},
    }))?;
    for (name, _, node) in &nodes {
        let renew = b.now.replace('Z', ".000000Z");
        b.create("leases", "kube-node-lease", json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-node-lease",
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}]},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": renew},
        }))?;
        b.event(
            "default",
            node,
            "Starting",
            "Starting kubelet.",
            ("kubelet", name),
            "Normal",
        )?;
        b.event(
            "default",
            node,
            "NodeReady",
            &format!("Node {name} status is now: NodeReady"),
            ("kubelet", name),
            "Normal",
        )?;
    }
    for pod in pods.iter().filter(|p| {
        p.pointer("/metadata/labels/k8s-app") == Some(&json!("kube-dns"))
            || p.pointer("/metadata/labels/app") == Some(&json!("multus"))
    }) {
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        let name = pod
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        b.event(
            "kube-system",
            pod,
            "Scheduled",
            &format!("Successfully assigned kube-system/{name} to {node}"),
            ("default-scheduler", ""),
            "Normal",
        )?;
        for c in pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let c = c["name"].as_str().unwrap_or("");
            b.event(
                "kube-system",
                pod,
                "Created",
                &format!("Created container: {c}"),
                ("kubelet", node),
                "Normal",
            )?;
            b.event(
                "kube-system",
                pod,
                "Started",
                &format!("Started container {c}"),
                ("kubelet", node),
                "Normal",
            )?;
        }
    }
    twin.note(format!(
        "snapshot: kind cluster {:?} with {} nodes, Kube-OVN {}, Multus {}",
        spec.name,
        nodes.len(),
        spec.kube_ovn_version,
        spec.multus_version
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TwinConfig;

    #[tokio::test(start_paused = true)]
    async fn snapshot_has_the_kind_cluster_from_facts() {
        let twin = Twin::new(TwinConfig::default());
        kind_cluster(&twin, &ClusterSpec::default()).unwrap();
        let nodes = twin.list("nodes", None);
        let names: Vec<&str> = nodes
            .iter()
            .map(|n| n["metadata"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "chaos-twin-control-plane",
                "chaos-twin-worker",
                "chaos-twin-worker2"
            ]
        );
        assert_eq!(nodes[0]["metadata"]["labels"]["kube-ovn/role"], "master");
        let pods = twin.list("pods", Some("kube-system"));
        let count = |prefix: &str| {
            pods.iter()
                .filter(|p| p["metadata"]["name"].as_str().unwrap().starts_with(prefix))
                .count()
        };
        assert_eq!(count("ovs-ovn-"), 3);
        assert_eq!(count("kube-multus-ds-"), 3);
        assert_eq!(count("kube-ovn-cni-"), 3);
        assert_eq!(count("kube-ovn-pinger-"), 3);
        assert_eq!(count("coredns-"), 2);
        assert_eq!(count("ovn-central-"), 1);
        assert_eq!(count("etcd-chaos-twin-control-plane"), 1);
        let multus = pods
            .iter()
            .find(|p| p["metadata"]["labels"]["app"] == "multus")
            .unwrap();
        assert_eq!(
            multus["spec"]["initContainers"][0]["name"],
            "install-multus-binary"
        );
        assert_eq!(
            multus["spec"]["containers"][0]["resources"]["limits"]["memory"],
            "200Mi"
        );
        let ds = twin
            .get("daemonsets", "kube-system", "kube-multus-ds")
            .unwrap();
        assert_eq!(ds["status"]["numberReady"], 3);
        assert!(
            twin.get("network-attachment-definitions", "default", "attachnet")
                .is_some()
        );
        // Seeded: the same seed builds the same names.
        let again = Twin::new(TwinConfig::default());
        kind_cluster(&again, &ClusterSpec::default()).unwrap();
        let names_of = |t: &Twin| {
            t.list("pods", None)
                .iter()
                .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names_of(&twin), names_of(&again));
    }
}
