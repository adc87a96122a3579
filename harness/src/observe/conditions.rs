//! Pure conditions on pods and nodes, as kubectl and the kubelet define them.
//! Unit-tested on hand-built objects; the timeline and the SLOs use nothing else.

use k8s_openapi::api::core::v1::{Node, Pod};

/// How late a pod's liveness probes can still kill one of its containers
/// (a delayed-failure timer the observation window must outlast).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LivenessTimer {
    /// From a container's start: `initialDelaySeconds` plus
    /// `periodSeconds` times `failureThreshold`, the longest of the pod's
    /// containers.
    pub after_start: std::time::Duration,
    /// From the last change of a running container: `periodSeconds` times
    /// `failureThreshold` (consecutive failures), the longest.
    pub after_change: std::time::Duration,
}

/// The pod's [`LivenessTimer`], from its containers' `livenessProbe`s with
/// the API's defaults (`periodSeconds` 10, `failureThreshold` 3,
/// `initialDelaySeconds` 0: kubernetes/api@v0.33.0 core/v1/types.go,
/// `Probe`); `None` when no container has one.
pub fn liveness_timer(pod: &Pod) -> Option<LivenessTimer> {
    let secs =
        |v: Option<i32>, default: u64| v.and_then(|v| u64::try_from(v).ok()).unwrap_or(default);
    pod.spec
        .as_ref()?
        .containers
        .iter()
        .filter_map(|c| c.liveness_probe.as_ref())
        .map(|p| {
            let detect = secs(p.period_seconds, 10) * secs(p.failure_threshold, 3);
            LivenessTimer {
                after_start: std::time::Duration::from_secs(
                    secs(p.initial_delay_seconds, 0) + detect,
                ),
                after_change: std::time::Duration::from_secs(detect),
            }
        })
        .reduce(|a, b| LivenessTimer {
            after_start: a.after_start.max(b.after_start),
            after_change: a.after_change.max(b.after_change),
        })
}

/// Whether the pod's `Ready` condition is `True`.
pub fn pod_ready(pod: &Pod) -> bool {
    condition_true(
        pod.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(|c| {
                c.iter()
                    .map(|c| (c.type_.as_str(), c.status.as_str()))
                    .collect::<Vec<_>>()
            }),
        "Ready",
    )
}

fn condition_true(conds: Option<Vec<(&str, &str)>>, which: &str) -> bool {
    conds
        .unwrap_or_default()
        .iter()
        .any(|(t, s)| *t == which && *s == "True")
}

/// The STATUS column `kubectl get pods` shows, computed by kubectl's rules
/// (kubernetes pkg/printers/internalversion/printers.go, `printPod`):
/// init containers first (`Init:CrashLoopBackOff`, `Init:Error`,
/// `Init:1/2`), then main containers from last to first (`CrashLoopBackOff`,
/// `ContainerCreating`, `Completed`), `Terminating` when deleting.
pub fn pod_status_text(pod: &Pod) -> String {
    let status = pod.status.clone().unwrap_or_default();
    let mut reason = status.phase.clone().unwrap_or_default();
    if let Some(r) = status.reason.as_ref().filter(|r| !r.is_empty()) {
        reason = r.clone();
    }
    let init_specs = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .map_or(0, Vec::len);
    let mut initializing = false;
    for (i, c) in status.init_container_statuses.iter().flatten().enumerate() {
        let state = c.state.clone().unwrap_or_default();
        if let Some(t) = &state.terminated {
            if t.exit_code == 0 {
                continue;
            }
            reason = match (&t.reason, t.signal) {
                (Some(r), _) if !r.is_empty() => format!("Init:{r}"),
                (_, Some(sig)) if sig != 0 => format!("Init:Signal:{sig}"),
                _ => format!("Init:ExitCode:{}", t.exit_code),
            };
        } else if let Some(r) = state
            .waiting
            .as_ref()
            .and_then(|w| w.reason.as_ref())
            .filter(|r| !r.is_empty() && r.as_str() != "PodInitializing")
        {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{i}/{init_specs}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in status.container_statuses.iter().flatten().rev() {
            let state = c.state.clone().unwrap_or_default();
            if let Some(r) = state
                .waiting
                .as_ref()
                .and_then(|w| w.reason.as_ref())
                .filter(|r| !r.is_empty())
            {
                reason = r.clone();
            } else if let Some(t) = &state.terminated {
                reason = match (&t.reason, t.signal) {
                    (Some(r), _) if !r.is_empty() => r.clone(),
                    (_, Some(sig)) if sig != 0 => format!("Signal:{sig}"),
                    _ => format!("ExitCode:{}", t.exit_code),
                };
            } else if c.ready && state.running.is_some() {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = if pod_ready(pod) {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }
    if pod.metadata.deletion_timestamp.is_some() {
        reason = if status.reason.as_deref() == Some("NodeLost") {
            "Unknown".to_string()
        } else {
            "Terminating".to_string()
        };
    }
    reason
}

/// Whether an init container is waiting in `CrashLoopBackOff`
/// (what kubectl shows as `Init:CrashLoopBackOff`).
pub fn in_init_crashloop(pod: &Pod) -> bool {
    waiting_reasons(pod, true).any(|r| r == "CrashLoopBackOff")
}

/// Whether a main container is waiting in `CrashLoopBackOff`.
pub fn in_crashloop(pod: &Pod) -> bool {
    waiting_reasons(pod, false).any(|r| r == "CrashLoopBackOff")
}

/// Whether a container is waiting in `ImagePullBackOff` or `ErrImagePull`.
pub fn in_image_pull_backoff(pod: &Pod) -> bool {
    waiting_reasons(pod, true)
        .chain(waiting_reasons(pod, false))
        .any(|r| r == "ImagePullBackOff" || r == "ErrImagePull")
}

fn waiting_reasons(pod: &Pod, init: bool) -> impl Iterator<Item = String> + '_ {
    let statuses = pod.status.as_ref().and_then(|s| {
        if init {
            s.init_container_statuses.as_ref()
        } else {
            s.container_statuses.as_ref()
        }
    });
    statuses.into_iter().flatten().filter_map(|c| {
        c.state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.clone())
    })
}

/// Container restarts of the pod, init and main containers together.
pub fn pod_restarts(pod: &Pod) -> u32 {
    let s = match &pod.status {
        Some(s) => s,
        None => return 0,
    };
    let sum = |v: &Option<Vec<k8s_openapi::api::core::v1::ContainerStatus>>| -> i64 {
        v.iter().flatten().map(|c| i64::from(c.restart_count)).sum()
    };
    u32::try_from(sum(&s.init_container_statuses) + sum(&s.container_statuses)).unwrap_or(0)
}

/// Restarts since a baseline count (taken at the fault); a recreated pod's
/// baseline is zero.
pub fn restarts_since(pod: &Pod, baseline: u32) -> u32 {
    pod_restarts(pod).saturating_sub(baseline)
}

/// The node the pod is bound to.
pub fn pod_node(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref())
}

/// The node's `Ready` condition: `Some(true)` Ready, `Some(false)` NotReady or
/// Unknown, `None` when the kubelet has not reported it.
pub fn node_ready(node: &Node) -> Option<bool> {
    node_condition(node, "Ready").map(|s| s == "True")
}

/// Whether `NetworkUnavailable` is `True` (no CNI route set up).
pub fn node_network_unavailable(node: &Node) -> bool {
    node_condition(node, "NetworkUnavailable") == Some("True")
}

fn node_condition<'a>(node: &'a Node, which: &str) -> Option<&'a str> {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == which))
        .map(|c| c.status.as_str())
}

/// The node's `InternalIP` address (the first, as kubectl shows it).
pub fn node_internal_ip(node: &Node) -> Option<&str> {
    node.status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .and_then(|a| a.iter().find(|a| a.type_ == "InternalIP"))
        .map(|a| a.address.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn multus(init_state: serde_json::Value, init_restarts: i32) -> Pod {
        pod(json!({
            "metadata": {"name": "kube-multus-ds-abcde", "namespace": "kube-system"},
            "spec": {"nodeName": "kind-worker",
                     "initContainers": [{"name": "install-multus-binary"}],
                     "containers": [{"name": "kube-multus"}]},
            "status": {
                "phase": "Pending",
                "conditions": [{"type": "Ready", "status": "False"}],
                "initContainerStatuses": [{"name": "install-multus-binary", "ready": false, "image": "i", "imageID": "",
                    "restartCount": init_restarts, "state": init_state}],
                "containerStatuses": [{"name": "kube-multus", "ready": false, "image": "i", "imageID": "",
                    "restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]
            }
        }))
    }

    #[test]
    fn init_crash_loop_shows_as_kubectl_does() {
        let p = multus(
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}),
            3,
        );
        assert_eq!(pod_status_text(&p), "Init:CrashLoopBackOff");
        assert!(in_init_crashloop(&p));
        assert!(!in_crashloop(&p));
        assert!(!pod_ready(&p));
        assert_eq!(pod_restarts(&p), 3);
        assert_eq!(restarts_since(&p, 1), 2);
        assert_eq!(pod_node(&p), Some("kind-worker"));
    }

    #[test]
    fn init_failures_and_progress() {
        let err = multus(json!({"terminated": {"exitCode": 1, "reason": "Error"}}), 1);
        assert_eq!(pod_status_text(&err), "Init:Error");
        let code = multus(json!({"terminated": {"exitCode": 2}}), 1);
        assert_eq!(pod_status_text(&code), "Init:ExitCode:2");
        let sig = multus(json!({"terminated": {"exitCode": 137, "signal": 9}}), 1);
        assert_eq!(pod_status_text(&sig), "Init:Signal:9");
        let running = multus(json!({"running": {}}), 0);
        assert_eq!(pod_status_text(&running), "Init:0/1");
        let init_pull = multus(json!({"waiting": {"reason": "ImagePullBackOff"}}), 0);
        assert!(in_image_pull_backoff(&init_pull));
    }

    #[test]
    fn main_containers_after_init() {
        let creating = pod(json!({
            "metadata": {"name": "coredns-1"},
            "status": {"phase": "Pending",
              "containerStatuses": [{"name": "coredns", "ready": false, "image": "i", "imageID": "", "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}}]}
        }));
        assert_eq!(pod_status_text(&creating), "ContainerCreating");
        let looping = pod(json!({
            "metadata": {"name": "coredns-1"},
            "status": {"phase": "Running",
              "containerStatuses": [{"name": "coredns", "ready": false, "image": "i", "imageID": "", "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}
        }));
        assert_eq!(pod_status_text(&looping), "CrashLoopBackOff");
        assert!(in_crashloop(&looping));
        let running = pod(json!({
            "metadata": {"name": "coredns-1"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
              "initContainerStatuses": [{"name": "init", "ready": true, "image": "i", "imageID": "", "restartCount": 0,
                "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}],
              "containerStatuses": [{"name": "coredns", "ready": true, "image": "i", "imageID": "", "restartCount": 0,
                "state": {"running": {}}}]}
        }));
        assert_eq!(pod_status_text(&running), "Running");
        assert!(pod_ready(&running));
        let deleting = pod(json!({
            "metadata": {"name": "coredns-1", "deletionTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": "Running"}
        }));
        assert_eq!(pod_status_text(&deleting), "Terminating");
        let completed_with_running = pod(json!({
            "metadata": {"name": "x"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
              "containerStatuses": [
                {"name": "a", "ready": true, "image": "i", "imageID": "", "restartCount": 0, "state": {"running": {}}},
                {"name": "b", "ready": false, "image": "i", "imageID": "", "restartCount": 0,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}
        }));
        assert_eq!(pod_status_text(&completed_with_running), "NotReady");
    }

    #[test]
    fn node_conditions_and_ip() {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "kind-worker"},
            "status": {
                "conditions": [{"type": "Ready", "status": "False"}, {"type": "NetworkUnavailable", "status": "True"}],
                "addresses": [{"type": "Hostname", "address": "kind-worker"}, {"type": "InternalIP", "address": "172.18.0.3"}]
            }
        }))
        .unwrap();
        assert_eq!(node_ready(&node), Some(false));
        assert!(node_network_unavailable(&node));
        assert_eq!(node_internal_ip(&node), Some("172.18.0.3"));
        let bare: Node = serde_json::from_value(json!({"metadata": {"name": "n"}})).unwrap();
        assert_eq!(node_ready(&bare), None);
        assert!(!node_network_unavailable(&bare));
        assert_eq!(node_internal_ip(&bare), None);
    }
    #[test]
    fn liveness_timer_takes_the_longest_container_and_the_api_defaults() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "ovs-ovn-x"},
            "spec": {"containers": [
                {"name": "openvswitch", "livenessProbe": {"initialDelaySeconds": 60, "periodSeconds": 5, "failureThreshold": 5}},
                {"name": "defaults", "livenessProbe": {}},
                {"name": "none"}
            ]}
        }))
        .unwrap();
        let t = liveness_timer(&pod).unwrap();
        assert_eq!(t.after_start, std::time::Duration::from_secs(85));
        assert_eq!(t.after_change, std::time::Duration::from_secs(30));
        let bare: Pod =
            serde_json::from_value(serde_json::json!({"spec": {"containers": [{"name": "a"}]}}))
                .unwrap();
        assert_eq!(liveness_timer(&bare), None);
    }
}
