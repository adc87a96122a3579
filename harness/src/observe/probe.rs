//! Data-plane probes, run as pods so they are identical on kind and the twin
//! (no exec into nodes). A probe attempt is one short-lived pod:
//!
//! * labels `app.kubernetes.io/managed-by=cni-chaos` and `cni-chaos.io/probe=<kind>`,
//!   namespace [`PROBE_NAMESPACE`], `restartPolicy: Never`;
//! * `dns`: `nslookup kubernetes.default.svc.cluster.local` through CoreDNS;
//! * `pod-to-pod`: `wget` from the probe pod to a small server pod
//!   ([`server_pod`], busybox `httpd`) pinned to another node, by its pod
//!   IP: the request crosses nodes through Kube-OVN's overlay, so it needs
//!   both nodes' CNI and OVS. The probe pod carries the server's name in
//!   [`TARGET_LABEL`], and each result names the node pair it tested;
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
pub use cni_chaos_twin::model::PROBE_IMAGE;
/// Every image the probes need, for preloading into kind nodes.
pub const PROBE_IMAGES: &[&str] = &[PROBE_IMAGE];
/// The NetworkAttachmentDefinition the multus-secondary probe asks for.
pub const PROBE_NAD: &str = "cni-chaos-probe-net";
/// The ptp attachment's address range: clear of Kube-OVN CI's pods
/// (10.16.0.0/16) and services (10.96.0.0/12).
pub const PROBE_NET_SUBNET: &str = "10.250.0.0/16";
/// The NetworkAttachmentDefinition the kube-ovn-secondary probe asks for:
/// its delegate is Kube-OVN, with its own Subnet of the same name.
pub const OVN_PROBE_NAD: &str = "cni-chaos-ovn-net";
/// That Subnet's range, clear of the ptp attachment's and the NAT
/// gateway's.
pub const OVN_PROBE_CIDR: &str = "10.251.0.0/16";
/// That Subnet's gateway (Kube-OVN's default: the range's first address).
pub const OVN_PROBE_GATEWAY: &str = "10.251.0.1";

/// The provider that ties the Kube-OVN attachment to its Subnet:
/// `<nad>.<namespace>.ovn` (kubeovn/kube-ovn@v1.14.41:charts/kube-ovn-v2/values.yaml,
/// apiNad.provider; pkg/controller/pod.go, getPodAttachmentNet).
pub fn ovn_probe_provider() -> String {
    format!("{OVN_PROBE_NAD}.{PROBE_NAMESPACE}.ovn")
}

/// What the probes need, the same on kind and on the twin: their
/// namespace; the `ptp` attachment the multus-secondary probe asks for
/// (`ptp` with `host-local` addresses: besides loopback and portmap the
/// only plugins kind's node image ships, kubernetes-sigs/kind
/// images/base/Dockerfile); the Kube-OVN attachment the kube-ovn-secondary
/// probe asks for (the NetworkAttachmentDefinition config of
/// kubeovn/kube-ovn@v1.14.41:charts/kube-ovn-v2/templates/api-nad/apiNad.yaml)
/// and its Subnet, whose `provider` names the attachment. Each object is
/// labelled as the harness's.
pub fn probe_objects() -> Vec<serde_json::Value> {
    let labels = serde_json::json!({"app.kubernetes.io/managed-by": "cni-chaos"});
    let ptp = serde_json::json!({
        "cniVersion": "0.3.1",
        "name": PROBE_NAD,
        "type": "ptp",
        "ipam": {"type": "host-local", "subnet": PROBE_NET_SUBNET},
    });
    let kube_ovn = serde_json::json!({
        "cniVersion": "0.3.0",
        "type": "kube-ovn",
        "server_socket": "/run/openvswitch/kube-ovn-daemon.sock",
        "provider": ovn_probe_provider(),
    });
    let nad = |name: &str, config: &serde_json::Value| {
        serde_json::json!({
            "apiVersion": "k8s.cni.cncf.io/v1",
            "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": name, "namespace": PROBE_NAMESPACE, "labels": labels},
            "spec": {"config": config.to_string()},
        })
    };
    vec![
        serde_json::json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": PROBE_NAMESPACE, "labels": labels},
        }),
        nad(PROBE_NAD, &ptp),
        nad(OVN_PROBE_NAD, &kube_ovn),
        serde_json::json!({
            "apiVersion": "kubeovn.io/v1",
            "kind": "Subnet",
            "metadata": {"name": OVN_PROBE_NAD, "labels": labels},
            "spec": {
                "protocol": "IPv4",
                "cidrBlock": OVN_PROBE_CIDR,
                "gateway": OVN_PROBE_GATEWAY,
                "excludeIps": [OVN_PROBE_GATEWAY],
                "provider": ovn_probe_provider(),
            },
        }),
    ]
}
/// How long one attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Label marking probe pods.
pub const PROBE_LABEL: &str = "cni-chaos.io/probe";
/// Label of a pod-to-pod probe pod naming the server pod it reaches.
pub const TARGET_LABEL: &str = "cni-chaos.io/probe-target";
/// Label marking the pod-to-pod probe's server pods.
pub const SERVER_LABEL: &str = "cni-chaos.io/probe-server";
/// The port the pod-to-pod server listens on.
pub const SERVER_PORT: u16 = 8080;

/// The server pod a pod-to-pod probe reaches, and where it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Its name.
    pub pod: String,
    /// Its pod IP.
    pub ip: String,
    /// Its node.
    pub node: String,
}

/// The pod-to-pod probe's node pair: the probe runs on `probe` (the one
/// asked for, else the first Ready node by name) and its server on the
/// first other Ready node by name; on a single-node cluster both are the
/// same node, and the results say so. `None` when no node is Ready.
pub fn node_pair(ready: &[String], probe: Option<&str>) -> Option<(String, String)> {
    let mut ready: Vec<&String> = ready.iter().collect();
    ready.sort();
    let from = match probe {
        Some(p) => p.to_string(),
        None => (*ready.first()?).clone(),
    };
    let to = ready
        .iter()
        .find(|n| **n != &from)
        .map(|n| (*n).clone())
        .or_else(|| ready.first().map(|n| (*n).clone()))?;
    Some((from, to))
}

/// The pod-to-pod probe's server: busybox `httpd` on [`SERVER_PORT`],
/// pinned to `node`, in [`PROBE_NAMESPACE`] (so no SLO counts it).
pub fn server_pod(name: &str, node: &str) -> Pod {
    let labels = BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "cni-chaos".to_string(),
        ),
        (SERVER_LABEL.to_string(), ProbeKind::PodToPod.to_string()),
    ]);
    Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(PROBE_NAMESPACE.to_string()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some(node.to_string()),
            termination_grace_period_seconds: Some(0),
            containers: vec![Container {
                name: "server".into(),
                image: Some(PROBE_IMAGE.into()),
                command: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    format!(
                        "mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p {SERVER_PORT} -h /tmp/www"
                    ),
                ]),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    }
}

/// The pod for one attempt of `kind`, named `name`, optionally pinned to a
/// node; a pod-to-pod probe reaches `target`.
pub fn probe_pod(kind: ProbeKind, name: &str, node: Option<&str>, target: Option<&Target>) -> Pod {
    let mut labels = BTreeMap::new();
    labels.insert(
        "app.kubernetes.io/managed-by".to_string(),
        "cni-chaos".to_string(),
    );
    labels.insert(PROBE_LABEL.to_string(), kind.to_string());
    let mut annotations = BTreeMap::new();
    let command: Vec<String> = match kind {
        ProbeKind::Dns => vec![
            "nslookup".into(),
            "kubernetes.default.svc.cluster.local".into(),
        ],
        ProbeKind::PodToPod => {
            let url = match target {
                Some(t) => {
                    labels.insert(TARGET_LABEL.to_string(), t.pod.clone());
                    format!("http://{}:{SERVER_PORT}/", bracket_v6(&t.ip))
                }
                // Never reached: run_probe always has a target first.
                None => format!("http://server-not-found:{SERVER_PORT}/"),
            };
            vec![
                "wget".into(),
                "-T".into(),
                "5".into(),
                "-q".into(),
                "-O".into(),
                "/dev/null".into(),
                url,
            ]
        }
        ProbeKind::MultusSecondary => {
            annotations.insert(
                "k8s.v1.cni.cncf.io/networks".to_string(),
                PROBE_NAD.to_string(),
            );
            vec![
                "sh".into(),
                "-c".into(),
                "ip -o link show net1 && sleep 5".into(),
            ]
        }
        // Kube-OVN as a secondary CNI: an address from the attachment's
        // Subnet on net1, or the pod fails.
        ProbeKind::KubeOvnSecondary => {
            annotations.insert(
                "k8s.v1.cni.cncf.io/networks".to_string(),
                OVN_PROBE_NAD.to_string(),
            );
            let prefix = OVN_PROBE_CIDR
                .split('.')
                .take(2)
                .collect::<Vec<_>>()
                .join(".");
            vec![
                "sh".into(),
                "-c".into(),
                format!("ip -o -4 addr show dev net1 | grep -q ' inet {prefix}\\.'"),
            ]
        }
        ProbeKind::NatGatewayEgress => {
            annotations.insert(
                "ovn.kubernetes.io/logical_switch".to_string(),
                "cni-chaos-vpc-subnet".to_string(),
            );
            vec![
                "sh".into(),
                "-c".into(),
                "ping -c 2 -W 2 $(ip route | awk '/default/ {print $3}')".into(),
            ]
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

/// An IPv6 address in brackets, for a URL.
fn bracket_v6(ip: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    }
}

/// Whether a probe pod shows success, failure, or neither yet.
pub fn probe_outcome(kind: ProbeKind, pod: &Pod) -> Option<(bool, String)> {
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    let secondary_kind = matches!(
        kind,
        ProbeKind::MultusSecondary | ProbeKind::KubeOvnSecondary
    );
    if secondary_kind {
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
            // The ptp probe needs only the interface; the Kube-OVN one
            // also its address, which its command checks.
            if secondary && kind == ProbeKind::MultusSecondary {
                return Some((true, "net1 attached".into()));
            }
            if !secondary && (phase == "Running" || phase == "Succeeded") {
                return Some((
                    false,
                    "started without its secondary interface (multus-cni #1387)".into(),
                ));
            }
        }
    }
    match phase.as_str() {
        "Succeeded" if kind == ProbeKind::KubeOvnSecondary => {
            Some((true, format!("net1 has an address in {OVN_PROBE_CIDR}")))
        }
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
    let api: Api<Pod> = Api::namespaced(client.clone(), PROBE_NAMESPACE);
    let server = match kind {
        ProbeKind::PodToPod => Some(Server::start(&client, &api, &token, node.as_deref()).await),
        _ => None,
    };
    let node = match &server {
        Some(Ok(s)) => Some(s.from.clone()),
        _ => node,
    };
    let mut n = 0u32;
    while Instant::now() < until && !stop.is_cancelled() {
        n += 1;
        let name = format!("probe-{kind}-{token}-{n}");
        let started = Instant::now();
        let target = match &server {
            Some(Ok(s)) => Some(
                s.target(&api)
                    .await
                    .map_err(|why| format!("{} -> {}: {why}", s.from, s.to)),
            ),
            Some(Err(e)) => Some(Err(e.clone())),
            None => None,
        };
        let outcome = match target {
            Some(Err(why)) => Some((false, why)),
            target => {
                let target = target.and_then(Result::ok);
                let created = api
                    .create(
                        &PostParams::default(),
                        &probe_pod(kind, &name, node.as_deref(), target.as_ref()),
                    )
                    .await;
                let out = match created {
                    Err(e) => Some((false, format!("could not create the probe pod: {e}"))),
                    Ok(_) => tokio::select! {
                        biased;
                        () = stop.cancelled() => None,
                        out = attempt(&api, kind, &name) => Some(out),
                    },
                };
                out.map(|(ok, detail)| match (&target, &node) {
                    (Some(t), Some(from)) => {
                        (ok, format!("{from} -> {} ({}): {detail}", t.node, t.ip))
                    }
                    _ => (ok, detail),
                })
            }
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
    if let Some(Ok(s)) = &server {
        let _ = api
            .delete(&s.pod, &DeleteParams::default().grace_period(0))
            .await;
    }
}

/// The pod-to-pod probe's server pod, made once per probe loop.
struct Server {
    pod: String,
    from: String,
    to: String,
}

impl Server {
    /// Picks the node pair ([`node_pair`]) from the Ready nodes and creates
    /// the server pod; the error says why there is none.
    async fn start(
        client: &kube::Client,
        api: &Api<Pod>,
        token: &str,
        probe_node: Option<&str>,
    ) -> Result<Server, String> {
        let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(client.clone());
        let list = nodes
            .list(&kube::api::ListParams::default())
            .await
            .map_err(|e| format!("could not list nodes for the pod-to-pod server: {e}"))?;
        let ready: Vec<String> = list
            .items
            .iter()
            .filter(|n| conditions::node_ready(n) == Some(true))
            .filter_map(|n| n.metadata.name.clone())
            .collect();
        let (from, to) = node_pair(&ready, probe_node)
            .ok_or_else(|| "no Ready node to run the pod-to-pod server on".to_string())?;
        let pod = format!("probe-server-{token}");
        api.create(&PostParams::default(), &server_pod(&pod, &to))
            .await
            .map_err(|e| format!("could not create the pod-to-pod server {pod} on {to}: {e}"))?;
        let server = Server { pod, from, to };
        // Give it one attempt's time to start, so the first attempts do
        // not fail on a server still being created; a server that cannot
        // start is each attempt's failure.
        let deadline = Instant::now() + ATTEMPT_TIMEOUT;
        while server.target(api).await.is_err() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Ok(server)
    }

    /// The server's address once it runs; recreated when it is gone (the
    /// error is that attempt's failure).
    async fn target(&self, api: &Api<Pod>) -> Result<Target, String> {
        let (pod, to) = (&self.pod, &self.to);
        match api.get_opt(pod).await {
            Ok(Some(p)) => {
                let status = p.status.as_ref();
                let running = status.and_then(|s| s.phase.as_deref()) == Some("Running");
                match status.and_then(|s| s.pod_ip.clone()) {
                    Some(ip) if running => Ok(Target {
                        pod: pod.clone(),
                        ip,
                        node: to.clone(),
                    }),
                    _ => Err(format!(
                        "the pod-to-pod server {pod} on {to} is not running: {}",
                        conditions::pod_status_text(&p)
                    )),
                }
            }
            Ok(None) => {
                let made = api
                    .create(&PostParams::default(), &server_pod(pod, to))
                    .await;
                Err(format!(
                    "the pod-to-pod server {pod} on {to} was gone; recreated: {}",
                    made.map_or_else(|e| e.to_string(), |_| "ok".into())
                ))
            }
            Err(e) => Err(format!(
                "API error reading the pod-to-pod server {pod}: {e}"
            )),
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
            None,
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
        let dns = probe_pod(ProbeKind::Dns, "d", None, None);
        assert!(dns.metadata.annotations.is_none());
        assert_eq!(
            dns.spec.unwrap().containers[0].command.clone().unwrap()[0],
            "nslookup"
        );
    }

    /// A probe pod in `phase` with Multus' network-status annotation `status`.
    fn pod(phase: &str, status: Option<&str>) -> Pod {
        let mut v = json!({"metadata": {"name": "p"}, "status": {"phase": phase}});
        if let Some(s) = status {
            v["metadata"]["annotations"] = json!({"k8s.v1.cni.cncf.io/network-status": s});
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_kube_ovn_secondary_probe_checks_its_address_from_its_subnet() {
        let p = probe_pod(ProbeKind::KubeOvnSecondary, "k", Some("kind-worker"), None);
        assert_eq!(
            p.metadata.labels.clone().unwrap()[PROBE_LABEL],
            "kube-ovn-secondary"
        );
        assert_eq!(
            p.metadata.annotations.clone().unwrap()["k8s.v1.cni.cncf.io/networks"],
            OVN_PROBE_NAD
        );
        assert_eq!(
            p.spec.unwrap().containers[0].command.clone().unwrap(),
            [
                "sh",
                "-c",
                "ip -o -4 addr show dev net1 | grep -q ' inet 10.251\\.'"
            ]
        );
        // Its attachment's delegate is Kube-OVN, and its Subnet names it.
        let objects = probe_objects();
        let nad = objects
            .iter()
            .find(|o| {
                o["metadata"]["name"] == OVN_PROBE_NAD && o["kind"] == "NetworkAttachmentDefinition"
            })
            .unwrap();
        let config: serde_json::Value =
            serde_json::from_str(nad["spec"]["config"].as_str().unwrap()).unwrap();
        assert_eq!(config["type"], "kube-ovn");
        let subnet = objects.iter().find(|o| o["kind"] == "Subnet").unwrap();
        assert_eq!(subnet["spec"]["provider"], config["provider"]);
        assert_eq!(subnet["spec"]["cidrBlock"], OVN_PROBE_CIDR);
        // Success is the command's: net1 alone is not enough.
        let attached = r#"[{"name":"kube-ovn","interface":"eth0"},{"name":"cni-chaos-probes/cni-chaos-ovn-net","interface":"net1"}]"#;
        assert_eq!(
            probe_outcome(ProbeKind::KubeOvnSecondary, &pod("Running", Some(attached))),
            None
        );
        assert_eq!(
            probe_outcome(
                ProbeKind::KubeOvnSecondary,
                &pod("Succeeded", Some(attached))
            ),
            Some((true, "net1 has an address in 10.251.0.0/16".into()))
        );
        let eth0 = r#"[{"name":"kube-ovn","interface":"eth0"}]"#;
        assert_eq!(
            probe_outcome(ProbeKind::KubeOvnSecondary, &pod("Running", Some(eth0))).map(|o| o.0),
            Some(false),
            "started without net1"
        );
        assert_eq!(
            probe_outcome(ProbeKind::KubeOvnSecondary, &pod("Failed", Some(attached))).map(|o| o.0),
            Some(false),
            "no address in the range"
        );
    }

    #[test]
    fn pod_to_pod_crosses_to_another_node() {
        let nodes = |ns: &[&str]| ns.iter().map(|n| (*n).to_string()).collect::<Vec<_>>();
        let three = nodes(&["kind-worker2", "kind-control-plane", "kind-worker"]);
        let pair = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(
            node_pair(&three, Some("kind-worker")),
            pair("kind-worker", "kind-control-plane")
        );
        assert_eq!(
            node_pair(&three, Some("kind-control-plane")),
            pair("kind-control-plane", "kind-worker")
        );
        assert_eq!(
            node_pair(&three, None),
            pair("kind-control-plane", "kind-worker")
        );
        // A NotReady faulted node still gets its probe; the server avoids it.
        assert_eq!(node_pair(&nodes(&["a"]), Some("b")), pair("b", "a"));
        assert_eq!(node_pair(&nodes(&["solo"]), None), pair("solo", "solo"));
        assert_eq!(node_pair(&[], None), None);

        let server = server_pod("probe-server-1", "kind-worker2");
        assert_eq!(
            server.metadata.labels.as_ref().unwrap()[SERVER_LABEL],
            "pod-to-pod"
        );
        let spec = server.spec.unwrap();
        assert_eq!(spec.node_name.as_deref(), Some("kind-worker2"));
        assert_eq!(spec.containers[0].image.as_deref(), Some(PROBE_IMAGE));
        assert!(spec.containers[0].command.as_ref().unwrap()[2].contains("httpd -f -p 8080"));

        let t = Target {
            pod: "probe-server-1".into(),
            ip: "10.16.0.9".into(),
            node: "kind-worker2".into(),
        };
        let p = probe_pod(
            ProbeKind::PodToPod,
            "probe-pod-to-pod-1",
            Some("kind-worker"),
            Some(&t),
        );
        assert_eq!(
            p.metadata.labels.as_ref().unwrap()[TARGET_LABEL],
            "probe-server-1"
        );
        let cmd = p.spec.unwrap().containers[0].command.clone().unwrap();
        assert_eq!(cmd.last().unwrap(), "http://10.16.0.9:8080/");
        let t6 = Target {
            ip: "fd00:10:16::9".into(),
            ..t
        };
        let p = probe_pod(ProbeKind::PodToPod, "p", None, Some(&t6));
        assert_eq!(
            p.spec.unwrap().containers[0]
                .command
                .clone()
                .unwrap()
                .last()
                .unwrap(),
            "http://[fd00:10:16::9]:8080/"
        );
    }

    #[test]
    fn outcomes_follow_phase_and_network_status() {
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
