//! Data-plane probes, run as pods so they are identical on kind and the twin
//! (no exec into nodes). A probe attempt is one short-lived pod:
//!
//! * labels `app.kubernetes.io/managed-by=cni-chaos` and `cni-chaos.io/probe=<kind>`,
//!   namespace [`PROBE_NAMESPACE`], `restartPolicy: Never`;
//! * `dns`: `nslookup kubernetes.default.svc.cluster.local` through CoreDNS;
//! * `pod-to-pod`: `wget` of the API server's service IP from a pod network
//!   (crosses nodes through the overlay);
//! * `multus-secondary`: a pod annotated `k8s.v1.cni.cncf.io/networks: <nad>`;
//!   success is read from its `k8s.v1.cni.cncf.io/network-status` annotation
//!   listing a second interface;
//! * `nat-gateway-egress`: egress from a pod on the VPC subnet behind the NAT
//!   gateway (`ovn.kubernetes.io/logical_switch` annotation).
//!
//! An attempt succeeds when the pod reaches `Succeeded` (for
//! `multus-secondary`: when the network-status annotation shows the extra
//! interface), fails on `Failed`, and times out after [`ATTEMPT_TIMEOUT`] with
//! the pod's last status as the detail (e.g. `ContainerCreating`). Each outcome
//! is recorded in the Timeline; the probe SLOs read nothing else.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use tokio::time::Instant;

use super::conditions;
use crate::slo::ProbeKind;

/// Namespace the probe pods run in.
pub const PROBE_NAMESPACE: &str = "cni-chaos-probes";
/// The image every probe uses; the kind backend preloads it.
pub const PROBE_IMAGE: &str = "docker.io/library/busybox:1.36.1";
/// Every image the probes need, for preloading into kind nodes.
pub const PROBE_IMAGES: &[&str] = &[PROBE_IMAGE];
/// The NetworkAttachmentDefinition the multus-secondary probe asks for.
pub const PROBE_NAD: &str = "cni-chaos-probe-net";
/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Label marking probe pods.
pub const PROBE_LABEL: &str = "cni-chaos.io/probe";

/// The pod for one attempt of `kind`, named `name`, optionally pinned to a node.
pub fn probe_pod(kind: ProbeKind, name: &str, node: Option<&str>) -> Pod {
    let mut labels = BTreeMap::new();
    labels.insert(
        "app.kubernetes.io/managed-by".to_string(),
        "cni-chaos".to_string(),
    );
    labels.insert(PROBE_LABEL.to_string(), kind.to_string());
    let mut annotations = BTreeMap::new();
    let command: Vec<String> = match kind {
        ProbeKind::Dns => vec!["nslookup".into(), "kubernetes.default.svc.cluster.local".into()],
        ProbeKind::PodToPod => vec![
            "sh".into(),
            "-c".into(),
            "wget -T 5 -q -O /dev/null --no-check-certificate https://kubernetes.default.svc/healthz || wget -T 5 -S -O /dev/null --no-check-certificate https://kubernetes.default.svc/ 2>&1 | grep -q HTTP/".into(),
        ],
        ProbeKind::MultusSecondary => {
            annotations.insert("k8s.v1.cni.cncf.io/networks".to_string(), PROBE_NAD.to_string());
            vec!["sh".into(), "-c".into(), "ip -o link show net1 && sleep 5".into()]
        }
        ProbeKind::NatGatewayEgress => {
            annotations.insert("ovn.kubernetes.io/logical_switch".to_string(), "cni-chaos-vpc-subnet".to_string());
            vec!["sh".into(), "-c".into(), "ping -c 2 -W 2 $(ip route | awk '/default/ {print $3}')".into()]
        }
    };
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(PROBE_NAMESPACE.to_string()),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            node_name: node.map(str::to_string),
            termination_grace_period_seconds: Some(0),
            containers: vec![Container {
                name: "probe".into(),
                image: Some(PROBE_IMAGE.into()),
                command: Some(command),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    }
}

/// Whether a probe pod shows success, failure, or neither yet.
pub fn probe_outcome(kind: ProbeKind, pod: &Pod) -> Option<(bool, String)> {
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    if kind == ProbeKind::MultusSecondary {
        let status = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("k8s.v1.cni.cncf.io/network-status"))
            .cloned();
        if let Some(text) = status {
            let interfaces =
                serde_json::from_str::<Vec<serde_json::Value>>(&text).unwrap_or_default();
            let secondary = interfaces
                .iter()
                .any(|i| i.get("interface").and_then(|v| v.as_str()) == Some("net1"));
            if secondary {
                return Some((true, "net1 attached".into()));
            }
            if phase == "Running" || phase == "Succeeded" {
                return Some((
                    false,
                    "started without its secondary interface (multus-cni #1387)".into(),
                ));
            }
        }
    }
    match phase.as_str() {
        "Succeeded" if kind != ProbeKind::MultusSecondary => Some((true, "succeeded".into())),
        "Failed" => Some((
            false,
            format!("failed: {}", conditions::pod_status_text(pod)),
        )),
        _ => None,
    }
}

/// What one probe loop runs.
#[derive(Clone, Debug)]
pub struct ProbeLoop {
    /// The probe.
    pub kind: ProbeKind,
    /// Pin the probe pods to this node.
    pub node: Option<String>,
    /// Tells one observation's pods from another's: pods are named
    /// `probe-<kind>-<token>-<n>`.
    pub token: String,
    /// No attempt starts after this.
    pub until: Instant,
    /// Attempts start this far apart.
    pub interval: Duration,
}

/// Runs attempts one after another until `spec.until` or until `stop` is
/// cancelled, recording each finished attempt through `record`. Every pod
/// is deleted when its attempt ends, also when `stop` cuts it short.
pub async fn run_probe(
    client: kube::Client,
    spec: ProbeLoop,
    stop: tokio_util::sync::CancellationToken,
    mut record: impl FnMut(ProbeKind, bool, &str, Instant) + Send,
) {
    let ProbeLoop {
        kind,
        node,
        token,
        until,
        interval,
    } = spec;
    let api: Api<Pod> = Api::namespaced(client, PROBE_NAMESPACE);
    let mut n = 0u32;
    while Instant::now() < until && !stop.is_cancelled() {
        n += 1;
        let name = format!("probe-{kind}-{token}-{n}");
        let started = Instant::now();
        let created = api
            .create(
                &PostParams::default(),
                &probe_pod(kind, &name, node.as_deref()),
            )
            .await;
        let outcome = match created {
            Err(e) => Some((false, format!("could not create the probe pod: {e}"))),
            Ok(_) => tokio::select! {
                biased;
                () = stop.cancelled() => None,
                out = attempt(&api, kind, &name) => Some(out),
            },
        };
        if let Some((ok, detail)) = outcome {
            record(kind, ok, &detail, Instant::now());
        }
        let _ = api
            .delete(&name, &DeleteParams::default().grace_period(0))
            .await;
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep_until((started + interval).max(Instant::now())) => {}
        }
    }
}

async fn attempt(api: &Api<Pod>, kind: ProbeKind, name: &str) -> (bool, String) {
    let deadline = Instant::now() + ATTEMPT_TIMEOUT;
    let mut last = "not scheduled".to_string();
    while Instant::now() < deadline {
        match api.get_opt(name).await {
            Ok(Some(pod)) => {
                if let Some(out) = probe_outcome(kind, &pod) {
                    return out;
                }
                last = conditions::pod_status_text(&pod);
            }
            Ok(None) => last = "probe pod vanished".into(),
            Err(e) => last = format!("API error: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    (
        false,
        format!("no result within {}s: {last}", ATTEMPT_TIMEOUT.as_secs()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn probe_pods_carry_the_contract() {
        let p = probe_pod(
            ProbeKind::MultusSecondary,
            "probe-multus-secondary-1",
            Some("kind-worker"),
        );
        let labels = p.metadata.labels.clone().unwrap();
        assert_eq!(labels[PROBE_LABEL], "multus-secondary");
        assert_eq!(
            p.metadata.annotations.clone().unwrap()["k8s.v1.cni.cncf.io/networks"],
            PROBE_NAD
        );
        let spec = p.spec.unwrap();
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(spec.node_name.as_deref(), Some("kind-worker"));
        assert_eq!(spec.containers[0].image.as_deref(), Some(PROBE_IMAGE));
        let dns = probe_pod(ProbeKind::Dns, "d", None);
        assert!(dns.metadata.annotations.is_none());
        assert_eq!(
            dns.spec.unwrap().containers[0].command.clone().unwrap()[0],
            "nslookup"
        );
    }

    #[test]
    fn outcomes_follow_phase_and_network_status() {
        let pod = |phase: &str, status: Option<&str>| -> Pod {
            let mut v = json!({"metadata": {"name": "p"}, "status": {"phase": phase}});
            if let Some(s) = status {
                v["metadata"]["annotations"] = json!({"k8s.v1.cni.cncf.io/network-status": s});
            }
            serde_json::from_value(v).unwrap()
        };
        assert_eq!(
            probe_outcome(ProbeKind::Dns, &pod("Succeeded", None)).map(|o| o.0),
            Some(true)
        );
        assert_eq!(
            probe_outcome(ProbeKind::Dns, &pod("Failed", None)).map(|o| o.0),
            Some(false)
        );
        assert_eq!(probe_outcome(ProbeKind::Dns, &pod("Pending", None)), None);
        let both = r#"[{"name":"kube-ovn","interface":"eth0"},{"name":"cni-chaos-probes/cni-chaos-probe-net","interface":"net1"}]"#;
        let only = r#"[{"name":"kube-ovn","interface":"eth0"}]"#;
        assert_eq!(
            probe_outcome(ProbeKind::MultusSecondary, &pod("Running", Some(both))).map(|o| o.0),
            Some(true)
        );
        let missing =
            probe_outcome(ProbeKind::MultusSecondary, &pod("Running", Some(only))).unwrap();
        assert!(!missing.0);
        assert!(missing.1.contains("#1387"), "{}", missing.1);
        assert_eq!(
            probe_outcome(ProbeKind::MultusSecondary, &pod("Succeeded", None)),
            None,
            "no annotation, no verdict"
        );
    }
}
