//! Objects as the API shows them: pods as a kubelet writes their status,
//! nodes, workloads with true status counts, events.

use serde_json::{Value, json};

use super::node::Role;
use super::rng::Ms;
use super::spec::{ContainerSpec, WorkloadKind};
use super::world::{CState, Pod, Sandbox, World};
use crate::clock::k8s_time;

fn t(w: &World, ms: Ms) -> String {
    k8s_time(w.timestamp(ms))
}

/// Whether a pod is Ready: initialized, every container ready, its node
/// not lost.
pub(super) fn pod_ready(_w: &World, p: &Pod) -> bool {
    let n_init = p.n_init();
    matches!(p.sandbox, Sandbox::Ready { .. })
        && !p.node_lost
        && p.ctrs[..n_init].iter().all(|c| c.completed)
        && p.ctrs[n_init..]
            .iter()
            .all(|c| c.ready && matches!(c.state, CState::Running { .. }))
}

/// The pod's phase, computed as the kubelet's `getPhase` does: pending
/// initialization keeps a pod Pending only until a regular container has
/// run; crash-looping containers count as stopped, not waiting.
pub(super) fn phase(p: &Pod) -> &'static str {
    if p.node.is_none() {
        return "Pending";
    }
    let n_init = p.n_init();
    let init_pending = p.ctrs[..n_init].iter().any(|c| !c.completed);
    let main = &p.ctrs[n_init..];
    let started = main
        .iter()
        .any(|c| matches!(c.state, CState::Running { .. } | CState::Terminated { .. }));
    if init_pending
        && !p.template.restart_always
        && p.ctrs[..n_init]
            .iter()
            .any(|c| matches!(c.state, CState::Terminated { code, .. } if code != 0))
    {
        return "Failed";
    }
    if init_pending && !started {
        return "Pending";
    }
    let waiting = main
        .iter()
        .filter(|c| matches!(c.state, CState::Waiting { .. }) && c.last.is_none())
        .count();
    if waiting > 0 {
        return "Pending";
    }
    if main
        .iter()
        .any(|c| matches!(c.state, CState::Running { .. }))
    {
        return "Running";
    }
    if p.template.restart_always {
        return "Running";
    }
    if main
        .iter()
        .any(|c| matches!(c.state, CState::Terminated { code, .. } if code != 0))
    {
        "Failed"
    } else {
        "Succeeded"
    }
}

fn state_json(w: &World, s: &CState, id: &str) -> Value {
    match s {
        CState::Waiting { reason, message } => {
            let mut v = json!({"waiting": {"reason": reason}});
            if !message.is_empty() {
                v["waiting"]["message"] = json!(message);
            }
            v
        }
        CState::Running { since } => json!({"running": {"startedAt": t(w, *since)}}),
        CState::Terminated {
            code,
            reason,
            started,
            finished,
        } => json!({"terminated": {
            "exitCode": code, "reason": reason, "startedAt": t(w, *started), "finishedAt": t(w, *finished),
            "containerID": format!("containerd://{id}"),
        }}),
    }
}

fn container_spec_json(c: &ContainerSpec) -> Value {
    let mut v = json!({"name": c.name, "image": c.image, "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "resources": {}});
    if let Some(r) = &c.readiness {
        v["readinessProbe"] = r.to_json();
    }
    if let Some(l) = &c.liveness {
        v["livenessProbe"] = l.to_json();
    }
    v
}

fn pod_spec_json(w: &World, p: &Pod) -> Value {
    let tpl = &p.template;
    let mut spec = json!({
        "containers": tpl.containers.iter().map(container_spec_json).collect::<Vec<_>>(),
        "restartPolicy": if tpl.restart_always { "Always" } else { "Never" },
        "terminationGracePeriodSeconds": tpl.grace_s,
        "dnsPolicy": if tpl.host_network { "ClusterFirstWithHostNet" } else { "ClusterFirst" },
        "schedulerName": "default-scheduler",
        "serviceAccountName": "default",
        "enableServiceLinks": true,
        "tolerations": if tpl.tolerates_control_plane { json!([{"operator": "Exists"}]) } else { json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]) },
    });
    if !tpl.init.is_empty() {
        spec["initContainers"] =
            json!(tpl.init.iter().map(container_spec_json).collect::<Vec<_>>());
    }
    if tpl.host_network {
        spec["hostNetwork"] = json!(true);
    }
    if !tpl.node_selector.is_empty() {
        spec["nodeSelector"] = json!(tpl.node_selector);
    }
    if let Some(pc) = &tpl.priority_class {
        spec["priorityClassName"] = json!(pc);
    }
    if let Some(n) = p.node {
        spec["nodeName"] = json!(w.nodes[n].name);
    }
    spec
}

fn cond(
    w: &World,
    p: &Pod,
    ty: &'static str,
    ok: bool,
    reason: Option<String>,
    message: Option<String>,
) -> Value {
    let at = p.conds.get(ty).map(|(_, t)| *t).unwrap_or(p.created);
    let mut v = json!({"type": ty, "status": if ok { "True" } else { "False" }, "lastProbeTime": null, "lastTransitionTime": t(w, at)});
    if !ok {
        if let Some(r) = reason {
            v["reason"] = json!(r);
        }
        if let Some(m) = message {
            v["message"] = json!(m);
        }
    }
    v
}

/// The current truth of each condition, for transition times.
pub(super) fn conditions_now(w: &World, p: &Pod) -> [(&'static str, bool); 5] {
    let n_init = p.n_init();
    let inited = p.ctrs[..n_init].iter().all(|c| c.completed);
    let cready = p.ctrs[n_init..].iter().all(|c| c.ready);
    [
        (
            "PodReadyToStartContainers",
            matches!(p.sandbox, Sandbox::Ready { .. }),
        ),
        ("Initialized", inited),
        ("Ready", pod_ready(w, p)),
        ("ContainersReady", cready && inited),
        ("PodScheduled", p.node.is_some()),
    ]
}

/// A pod as stored.
pub(super) fn pod(w: &World, k: u64) -> Value {
    let p = &w.pods[&k];
    let n_init = p.n_init();
    let mut meta = json!({"name": p.name, "namespace": p.namespace, "uid": p.uid, "labels": p.template.labels});
    let mut ann = p.template.annotations.clone();
    if let Some(s) = &p.network_status {
        ann.insert("k8s.v1.cni.cncf.io/network-status".into(), s.clone());
    }
    if p.nat_gw_init {
        ann.insert(super::natgw::NAT_GW_INIT_ANNOTATION.into(), "true".into());
    }
    if let Some(mac) = super::ovn::allocated_mac(p) {
        ann.insert(super::ovn::MAC_ANNOTATION.into(), mac);
    }
    if !ann.is_empty() {
        meta["annotations"] = json!(ann);
    }
    if let Some(o) = p.owner {
        let wl = &w.workloads[o];
        let (kind, name, api) = match wl.spec.kind {
            WorkloadKind::Deployment => (
                "ReplicaSet",
                format!("{}-{}", wl.spec.name, wl.hash),
                "apps/v1",
            ),
            k => (k.kind(), wl.spec.name.clone(), "apps/v1"),
        };
        meta["ownerReferences"] = json!([{"apiVersion": api, "kind": kind, "name": name, "uid": wl.uid, "controller": true, "blockOwnerDeletion": true}]);
        if wl.spec.kind != WorkloadKind::StatefulSet {
            meta["generateName"] = json!(p.name[..p.name.len() - 5].to_string());
        }
    }
    if let Some(d) = p.deleting {
        meta["deletionTimestamp"] = json!(t(w, d + p.template.grace_s.max(0) as u64 * 1000));
        meta["deletionGracePeriodSeconds"] = json!(p.template.grace_s);
    }
    let statuses = |range: std::ops::Range<usize>,
                    specs: &[ContainerSpec],
                    init: bool|
     -> Vec<Value> {
        range
            .zip(specs)
            .map(|(i, s)| {
                let c = &p.ctrs[i];
                let mut v = json!({
                    "name": s.name, "image": s.image, "imageID": format!("{}@sha256:{:0>64}", s.image, ""),
                    "ready": if init { c.completed } else { c.ready },
                    "restartCount": c.runs.saturating_sub(1),
                    "state": state_json(w, &c.state, &c.id),
                    "lastState": c.last.as_ref().map(|l| state_json(w, l, &c.id)).unwrap_or(json!({})),
                });
                if !init {
                    v["started"] = json!(matches!(c.state, CState::Running { .. }));
                }
                if c.runs > 0 {
                    v["containerID"] = json!(format!("containerd://{}", c.id));
                }
                v
            })
            .collect()
    };
    let cs = conditions_now(w, p);
    let pending_init: Vec<&str> = p
        .template
        .init
        .iter()
        .zip(&p.ctrs[..n_init])
        .filter(|(_, c)| !c.completed)
        .map(|(s, _)| s.name.as_str())
        .collect();
    let unready: Vec<&str> = p
        .template
        .containers
        .iter()
        .zip(&p.ctrs[n_init..])
        .filter(|(_, c)| !c.ready)
        .map(|(s, _)| s.name.as_str())
        .collect();
    let mut conditions = Vec::new();
    if p.node.is_some() {
        conditions.push(cond(w, p, "PodReadyToStartContainers", cs[0].1, None, None));
        conditions.push(cond(
            w,
            p,
            "Initialized",
            cs[1].1,
            Some("ContainersNotInitialized".into()),
            Some(format!(
                "containers with incomplete status: [{}]",
                pending_init.join(" ")
            )),
        ));
        let (r, m) = if p.node_lost {
            ("NodeNotReady".to_string(), "Node is not ready".to_string())
        } else {
            (
                "ContainersNotReady".into(),
                format!("containers with unready status: [{}]", unready.join(" ")),
            )
        };
        conditions.push(cond(w, p, "Ready", cs[2].1, Some(r), Some(m)));
        conditions.push(cond(
            w,
            p,
            "ContainersReady",
            cs[3].1,
            Some("ContainersNotReady".into()),
            Some(format!(
                "containers with unready status: [{}]",
                unready.join(" ")
            )),
        ));
    }
    conditions.push(cond(
        w,
        p,
        "PodScheduled",
        cs[4].1,
        Some("Unschedulable".into()),
        Some("0 nodes are available".into()),
    ));
    let mut status = json!({"phase": phase(p), "conditions": conditions, "qosClass": "BestEffort"});
    if let Some(n) = p.node {
        let node = &w.nodes[n];
        status["hostIP"] = json!(node.ip);
        status["hostIPs"] = json!([{"ip": node.ip}]);
        status["startTime"] = json!(t(w, p.scheduled.unwrap_or(p.created)));
        if let Some(ip) = &p.ip {
            status["podIP"] = json!(ip);
            status["podIPs"] = json!([{"ip": ip}]);
        }
        if n_init > 0 {
            status["initContainerStatuses"] = json!(statuses(0..n_init, &p.template.init, true));
        }
        status["containerStatuses"] = json!(statuses(
            n_init..p.ctrs.len(),
            &p.template.containers,
            false
        ));
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec_json(w, p), "status": status})
}

/// A node as its kubelet registers and updates it.
pub(super) fn node(w: &World, n: usize) -> Value {
    let node = &w.nodes[n];
    let mut labels = json!({
        "kubernetes.io/hostname": node.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
    });
    let mut taints = Vec::new();
    if node.role == Role::ControlPlane {
        labels["node-role.kubernetes.io/control-plane"] = json!("");
        labels["kube-ovn/role"] = json!("master");
        taints
            .push(json!({"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}));
    }
    match node.api_ready {
        Some(true) => {}
        Some(false) => {
            taints.push(json!({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}))
        }
        None => {
            taints.push(json!({"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}))
        }
    }
    if node.unschedulable {
        taints.push(json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}));
    }
    let (status, reason) = match node.api_ready {
        Some(true) => ("True", "KubeletReady"),
        Some(false) => ("False", "KubeletNotReady"),
        None => ("Unknown", "NodeStatusUnknown"),
    };
    let since = t(w, node.ready_since);
    let hb = t(w, node.last_heartbeat);
    let pressure = |ty: &str, reason: &str, msg: &str| {
        let s = if node.api_ready.is_none() {
            "Unknown"
        } else {
            "False"
        };
        json!({"type": ty, "status": s, "reason": reason, "message": msg, "lastHeartbeatTime": hb, "lastTransitionTime": t(w, 0)})
    };
    let mut spec = json!({"podCIDR": format!("10.244.{n}.0/24"), "providerID": format!("kind://docker/{}/{}", w.cfg.cluster, node.name)});
    if !taints.is_empty() {
        spec["taints"] = json!(taints);
    }
    if node.unschedulable {
        spec["unschedulable"] = json!(true);
    }
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": node.name, "labels": labels, "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": spec,
        "status": {
            "conditions": [
                pressure("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                pressure("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                pressure("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                {"type": "Ready", "status": status, "reason": reason, "message": node.not_ready_message, "lastHeartbeatTime": hb, "lastTransitionTime": since},
            ],
            "addresses": [{"type": "InternalIP", "address": node.ip}, {"type": "Hostname", "address": node.name}],
            "capacity": {"cpu": "8", "memory": "16318412Ki", "pods": "110", "ephemeral-storage": "102626232Ki"},
            "allocatable": {"cpu": "8", "memory": "16318412Ki", "pods": "110", "ephemeral-storage": "102626232Ki"},
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64", "bootID": format!("{:08x}-0000-4000-8000-{:012x}", node.boot, n),
                "containerRuntimeVersion": "containerd://2.1.1", "kernelVersion": "6.8.0-twin",
                "kubeProxyVersion": "", "kubeletVersion": w.cfg.profile.kubernetes, "machineID": format!("{:032x}", n + 1),
                "operatingSystem": "linux", "osImage": "Debian GNU/Linux 12 (bookworm)", "systemUUID": format!("{:032x}", n + 1),
            },
        },
    })
}

/// A workload's status, as its controller keeps it.
pub(super) fn workload_status(w: &World, i: usize) -> Value {
    let wl = &w.workloads[i];
    let pods: Vec<&Pod> = wl
        .pods
        .iter()
        .filter_map(|k| w.pods.get(k))
        .filter(|p| p.deleting.is_none())
        .collect();
    let ready = pods.iter().filter(|p| pod_ready(w, p)).count();
    let total = pods.len();
    match wl.spec.kind {
        WorkloadKind::DaemonSet => {
            let desired = w.nodes.len();
            let scheduled = pods.iter().filter(|p| p.node.is_some()).count();
            json!({"desiredNumberScheduled": desired, "currentNumberScheduled": scheduled, "numberMisscheduled": 0,
                "numberReady": ready, "numberAvailable": ready, "numberUnavailable": desired.saturating_sub(ready),
                "updatedNumberScheduled": scheduled, "observedGeneration": 1})
        }
        WorkloadKind::Deployment => {
            let want = wl.spec.replicas as usize;
            let available = ready >= want;
            json!({"replicas": total, "updatedReplicas": total, "readyReplicas": ready, "availableReplicas": ready,
                "unavailableReplicas": want.saturating_sub(ready), "observedGeneration": 1,
                "conditions": [{"type": "Available", "status": if available { "True" } else { "False" },
                    "reason": if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                    "message": if available { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." }}]})
        }
        WorkloadKind::StatefulSet => {
            json!({"replicas": total, "readyReplicas": ready, "currentReplicas": total,
            "updatedReplicas": total, "availableReplicas": ready, "observedGeneration": 1,
            "currentRevision": format!("{}-{}", wl.spec.name, wl.hash), "updateRevision": format!("{}-{}", wl.spec.name, wl.hash)})
        }
    }
}

/// A workload object.
pub(super) fn workload(w: &World, i: usize) -> Value {
    let wl = &w.workloads[i];
    let tpl = &wl.spec.template;
    let template = json!({"metadata": {"labels": tpl.labels, "annotations": tpl.annotations},
        "spec": {"containers": tpl.containers.iter().map(container_spec_json).collect::<Vec<_>>(),
                 "initContainers": tpl.init.iter().map(container_spec_json).collect::<Vec<_>>(),
                 "hostNetwork": tpl.host_network, "nodeSelector": tpl.node_selector}});
    let mut spec = json!({"selector": {"matchLabels": tpl.labels}, "template": template});
    if wl.spec.kind != WorkloadKind::DaemonSet {
        spec["replicas"] = json!(wl.spec.replicas);
    }
    if wl.spec.kind == WorkloadKind::StatefulSet {
        spec["serviceName"] = json!("");
    }
    json!({"apiVersion": "apps/v1", "kind": wl.spec.kind.kind(),
        "metadata": {"name": wl.spec.name, "namespace": wl.spec.namespace, "uid": wl.uid, "labels": tpl.labels},
        "spec": spec, "status": workload_status(w, i)})
}

/// What an Event says, before the recorder names and counts it.
pub(super) struct EventSpec<'a> {
    pub namespace: &'a str,
    pub object: &'a str,
    pub uid: &'a str,
    pub involved: Value,
    pub type_: &'a str,
    pub reason: &'a str,
    pub message: &'a str,
    pub component: &'a str,
    pub host: &'a str,
}

/// An Event.
pub(super) fn event(w: &World, e: &EventSpec<'_>, name: &str, count: u32, first: Ms) -> Value {
    json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": e.namespace},
        "involvedObject": e.involved, "reason": e.reason, "message": e.message, "type": e.type_, "count": count,
        "firstTimestamp": t(w, first), "lastTimestamp": t(w, w.now()),
        "source": {"component": e.component, "host": e.host},
        "reportingComponent": e.component, "reportingInstance": e.host})
}

/// A NetworkAttachmentDefinition (macvlan, as Kube-OVN's VPC NAT gateway
/// external network uses).
pub(super) fn nad(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"config": r#"{"cniVersion":"0.3.0","type":"macvlan","master":"eth1","mode":"bridge","ipam":{"type":"kube-ovn","server_socket":"/run/openvswitch/kube-ovn-daemon.sock","provider":"ovn-vpc-external-network.kube-system"}}"#}})
}

/// The `k8s.v1.cni.cncf.io/network-status` annotation Multus writes.
///
/// Rule `multus-network-status-annotation`: after a CNI ADD through Multus, the pod's
/// `k8s.v1.cni.cncf.io/network-status` is a JSON list with one entry per delegate: the cluster
/// network (`default: true`, `eth0`) and each requested network named `<namespace>/<name>` with its
/// interface.
/// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/multus/multus.go (CmdAdd)
pub(super) fn network_status(ip: &str, attachments: &[super::spec::Attachment]) -> String {
    let mut v = vec![
        json!({"name": "kube-ovn", "interface": "eth0", "ips": [ip], "default": true, "dns": {}}),
    ];
    for (i, a) in attachments.iter().enumerate() {
        v.push(json!({"name": a.key(), "interface": a.interface_at(i), "ips": [format!("172.19.0.{}", 10 + i)], "dns": {}}));
    }
    Value::Array(v).to_string()
}
