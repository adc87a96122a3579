//! The harness's own long-lived workload: a DaemonSet [`WORKLOAD`] in
//! [`PROBE_NAMESPACE`] whose pods ask Multus for the probes' attachment
//! ([`PROBE_NAD`]) on every node, control plane included. Deployed before
//! the fault of a scenario with a [`Slo::SecondaryNetworksComplete`] (unless
//! it says `workload: false`), so a sandbox the fault makes the kubelet
//! re-create shows whether it came back with its secondary network
//! (multus-cni #1387), also on a cluster with no such pods of its own.
//!
//! It uses the probes' image, which the kind backend preloads, and the
//! probes' namespace, so the other pod SLOs leave it out (as they leave out
//! the probes); the steady-state gate waits for one Ready pod per node.
//! Once deployed it stays for the cluster's life.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodTemplateSpec, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, ListParams, PostParams};

use super::networks::{self, NETWORKS_ANNOTATION};
use super::probe::{PROBE_IMAGE, PROBE_NAD, PROBE_NAMESPACE};
use super::timeline::{ObjKind, Timeline};
use crate::slo::{Culprit, CulpritKind, PodScope, Slo};
use crate::suite::Scenario;

/// The DaemonSet's name.
pub const WORKLOAD: &str = "chaos-secondary";
/// The label (value [`WORKLOAD`]) on the DaemonSet and its pods.
pub const WORKLOAD_LABEL: &str = "cni-chaos.io/workload";

/// Whether `scenario` wants the workload.
pub fn wanted(scenario: &Scenario) -> bool {
    scenario
        .slos
        .iter()
        .any(|s| matches!(s, Slo::SecondaryNetworksComplete { workload: true, .. }))
}

/// The DaemonSet.
pub fn daemonset() -> DaemonSet {
    let annotations = BTreeMap::from([(NETWORKS_ANNOTATION.to_string(), PROBE_NAD.to_string())]);
    own_daemonset(
        WORKLOAD,
        WORKLOAD_LABEL,
        Some(annotations),
        vec![Container {
            name: "sleep".into(),
            image: Some(PROBE_IMAGE.into()),
            command: Some(vec![
                "sh".into(),
                "-c".into(),
                "trap 'exit 0' TERM; while true; do sleep 5; done".into(),
            ]),
            ..Container::default()
        }],
    )
}

/// A harness DaemonSet `name` in [`PROBE_NAMESPACE`], its pods labelled
/// `label=name`, on every node (the control plane's taint
/// notwithstanding), with a 5 s grace period.
pub fn own_daemonset(
    name: &str,
    label: &str,
    annotations: Option<BTreeMap<String, String>>,
    containers: Vec<Container>,
) -> DaemonSet {
    let labels = BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "cni-chaos".to_string(),
        ),
        (label.to_string(), name.to_string()),
    ]);
    DaemonSet {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(PROBE_NAMESPACE.into()),
            labels: Some(labels.clone()),
            ..ObjectMeta::default()
        },
        spec: DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations,
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    tolerations: Some(vec![Toleration {
                        operator: Some("Exists".into()),
                        ..Toleration::default()
                    }]),
                    termination_grace_period_seconds: Some(5),
                    containers,
                    ..PodSpec::default()
                }),
            },
            ..DaemonSetSpec::default()
        },
        status: None,
    }
}

/// Creates the DaemonSet unless it exists; whether it created it.
pub async fn ensure(client: &kube::Client) -> Result<bool, kube::Error> {
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), PROBE_NAMESPACE);
    if api.get_opt(WORKLOAD).await?.is_some() {
        return Ok(false);
    }
    match api.create(&PostParams::default(), &daemonset()).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(e),
    }
}

/// The workload's pods whose network-status lacks a network they asked
/// for (their links are judged after the fault, by the SLO).
pub async fn without_network(client: &kube::Client) -> Result<Vec<Culprit>, kube::Error> {
    let api: Api<Pod> = Api::namespaced(client.clone(), PROBE_NAMESPACE);
    let lp = ListParams::default().labels(&format!("{WORKLOAD_LABEL}={WORKLOAD}"));
    let scope = PodScope {
        namespace: Some(PROBE_NAMESPACE.into()),
        selector: None,
    };
    let mut out = Vec::new();
    for pod in api.list(&lp).await?.items {
        let Some(Ok(requested)) = networks::wanted(&pod, &scope) else {
            continue;
        };
        let status = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(networks::NETWORK_STATUS_ANNOTATION))
            .and_then(|t| networks::parse_network_status(t).ok())
            .unwrap_or_default();
        let missing: Vec<String> = networks::gaps(&requested, &status, None)
            .into_iter()
            .filter(|g| g.not_in_status)
            .map(|g| g.network)
            .collect();
        if !missing.is_empty() {
            out.push(Culprit {
                kind: CulpritKind::Pod,
                namespace: pod.metadata.namespace.clone(),
                name: pod.metadata.name.clone().unwrap_or_default(),
                node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
                reason: format!("not in network-status: {}", missing.join(", ")),
                restarts: None,
                recovered_after: None,
            });
        }
    }
    Ok(out)
}

/// What keeps the workload from being steady: each of its pods that is not
/// Ready, and the nodes it has no pod on. Empty when there is one Ready pod
/// per observed node.
pub fn unready(tl: &Timeline) -> Vec<Culprit> {
    unready_of(tl, WORKLOAD_LABEL, WORKLOAD)
}

/// What keeps a harness DaemonSet in [`PROBE_NAMESPACE`] whose pods carry
/// `label=name` from being steady, as [`unready`] says it.
pub fn unready_of(tl: &Timeline, label: &str, name: &str) -> Vec<Culprit> {
    let now = tl.end();
    let nodes = tl.present(ObjKind::Node);
    let mut culprits = Vec::new();
    let mut covered = Vec::new();
    for p in tl.present(ObjKind::Pod) {
        let Some(s) = tl.pod_at(&p, now) else {
            continue;
        };
        if p.namespace.as_deref() != Some(PROBE_NAMESPACE)
            || s.labels.get(label).map(String::as_str) != Some(name)
            || s.deleting
        {
            continue;
        }
        if s.ready {
            covered.extend(s.node.clone());
        } else {
            culprits.push(super::gate::unready_pod(&p, s));
        }
    }
    for n in nodes {
        if !covered.contains(&n.name) && !culprits.iter().any(|c| c.node.as_ref() == Some(&n.name))
        {
            culprits.push(Culprit {
                kind: CulpritKind::Pod,
                namespace: Some(PROBE_NAMESPACE.into()),
                name: format!("({name} on {})", n.name),
                node: Some(n.name.clone()),
                reason: "no pod yet".into(),
                restarts: None,
                recovered_after: None,
            });
        }
    }
    culprits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daemonset_asks_for_the_probe_attachment_on_every_node() {
        let ds = daemonset();
        let spec = ds.spec;
        let tpl = spec.template;
        let meta = tpl.metadata.unwrap();
        assert_eq!(meta.annotations.unwrap()[NETWORKS_ANNOTATION], PROBE_NAD);
        assert_eq!(meta.labels.clone().unwrap()[WORKLOAD_LABEL], WORKLOAD);
        assert_eq!(spec.selector.match_labels, meta.labels);
        let pod = tpl.spec.unwrap();
        assert_eq!(pod.containers[0].image.as_deref(), Some(PROBE_IMAGE));
        let tol = &pod.tolerations.unwrap()[0];
        assert_eq!(
            (tol.key.as_ref(), tol.operator.as_deref()),
            (None, Some("Exists"))
        );
        assert_ne!(pod.host_network, Some(true));
    }
}
