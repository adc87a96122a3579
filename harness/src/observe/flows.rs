//! The harness's continuous traffic ([`Slo::MaxOutage`], [`Slo::MaxLoss`]):
//! a DaemonSet [`TRAFFIC`] in [`PROBE_NAMESPACE`], one pod per node for the
//! whole scenario, whose `sender` every 200 ms sends one numbered TCP probe
//! (each in the background, so a peer that does not answer never slows
//! the others) of each flow:
//!
//! - `pod-to-pod <sender's node> -> <receiver's node>`: to every other
//!   node's traffic pod (their addresses from the headless Service
//!   [`TRAFFIC`]);
//! - `pod-to-service <sender's node>`: to the ClusterIP Service
//!   [`TRAFFIC_SERVICE`] in front of every receiver, so through the
//!   Service load balancer to whichever receiver it picks;
//! - `dns <sender's node>`: after a lookup of the Service's name through
//!   CoreDNS, and only when it answered, to the sender's own receiver
//!   (over loopback, so the flow's gaps are the lookup's and no other
//!   node's);
//! - `secondary <sender's node> -> <receiver's node>`: to every other
//!   node's traffic pod over the Multus secondary attachment, Kube-OVN's
//!   [`OVN_PROBE_NAD`] (`net1`, cross-node on its own logical switch);
//! - `nat-egress <client's node>`, with the NAT gateway profile only: not
//!   from this DaemonSet but from the `sender` of the profile's client in
//!   the VPC ([`nat_sender_script`]) to a receiver beside the target's
//!   `httpd` outside it, so through the gateway's SNAT; its records are
//!   the target's log ([`crate::backend::Cluster::nat_target_log`]).
//!
//! **Secondary addresses without the API.** The pods have no API access,
//! and Multus' network-status annotation is not in a pod's environment,
//! so each pod's `discovery` container serves its own `net1` address
//! (read once at start: a new sandbox restarts the container) to anyone
//! connecting to port [`DISCOVERY_PORT`]. Every 50 rounds the sender, in
//! the background, asks each peer found by DNS for it over the primary
//! network and keeps each answer in a file of its own per peer (a peer
//! that does not answer keeps its last address); the probes go to every
//! address known. A pod without `net1` answers an empty line and gets no
//! secondary probes: its flows have no records (multus-cni #1387). A peer
//! whose pod was re-created is reached at its new address from the next
//! refresh on, up to 10 s after it is back.
//!
//! The `receiver` prints each probe it gets. At the end of observation
//! every receiver's log (its current run and, after a restart, the
//! previous one) is read with the runtime's timestamps and
//! [`super::traffic`] derives each flow's outages and loss; a
//! `pod-to-service` or `dns` flow merges the records of every receiver.
//!
//! It uses the probes' image (busybox, which the kind backend preloads)
//! and the probes' namespace, so the pod SLOs leave it out. On kind it is
//! applied with `kubectl apply -f` before the first scenario that wants it
//! (so it is in the dry-run plan); elsewhere [`ensure`] creates it through the
//! API. Once deployed it stays for the cluster's life and goes with the
//! cluster's delete.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, LogParams, PostParams};

use super::probe::{OVN_PROBE_NAD, PROBE_IMAGE, PROBE_NAMESPACE};
use super::traffic::{FlowTraffic, LogSegment, SEND_INTERVAL, Window, from_node};
use crate::slo::{Culprit, CulpritKind, FlowKind, Measured, Slo, SloStatus, SloVerdict};
use crate::suite::Scenario;
use crate::util::duration;

/// The DaemonSet's (and its headless Service's) name.
pub const TRAFFIC: &str = "chaos-traffic";
/// The ClusterIP Service in front of every receiver (the `pod-to-service`
/// flow's target, and the name the `dns` flow looks up).
pub const TRAFFIC_SERVICE: &str = "chaos-traffic-lb";
/// The label (value [`TRAFFIC`]) on the DaemonSet and its pods (the twin's
/// `TRAFFIC_LABEL`).
pub const TRAFFIC_LABEL: &str = "cni-chaos.io/traffic";
/// The TCP port receivers listen on.
pub const PORT: u16 = 9000;
/// The TCP port each pod's `discovery` container serves its `net1`
/// address on.
pub const DISCOVERY_PORT: u16 = 9001;

/// The `discovery` container's command (busybox): reads its `net1` IPv4
/// address once, then answers every connection on port 9001 with it (an
/// empty line without `net1`).
pub const DISCOVERY_SCRIPT: &str = "trap 'exit 0' TERM; a=$(ip -o -4 addr show dev net1 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n 1); echo \"cni-chaos-traffic-discovery net1=$a port=9001\"; exec nc -ll -p 9001 -e echo \"$a\"";

/// The receiver's command (busybox): says it listens (where its log's
/// coverage starts), then serves every TCP connection on port 9000 with a
/// `cat` to its stderr, so each probe is one line of its log.
pub const RECEIVER_SCRIPT: &str = "trap 'exit 0' TERM; echo \"cni-chaos-traffic-receiver listening port=9000\"; exec nc -ll -p 9000 -e sh -c 'cat >&2'";

/// The addresses in `nslookup`'s answer, one per line: the `Address`
/// lines after the first `Name:` line. The lines before it name the DNS
/// server, which busybox prints as `Address:\t10.96.0.10:53` (bind-utils
/// as `10.96.0.10#53`; mirror/busybox@1_36_1 networking/nslookup.c), so
/// they are never a peer.
pub const NSLOOKUP_ADDRESSES: &str = "awk '/^Name:/ {n=1} n && /^Address/ {print $NF}'";

/// How a pod finds its peers: every address behind the headless Service
/// `service` (in the probes' namespace) but its own.
pub fn peers_by_dns(service: &str) -> String {
    format!(
        "nslookup {service}.{PROBE_NAMESPACE}.svc.cluster.local 2>/dev/null | {NSLOOKUP_ADDRESSES} | grep -v \"^$POD_IP$\""
    )
}

/// A harness DaemonSet of receivers and senders with its headless Service
/// (the traffic's, [`TRAFFIC_SET`], and the long-lived connections',
/// `super::longlived::SET`): what [`ensure`] creates and [`read_set`]
/// reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrafficSet {
    /// The DaemonSet's and the headless Service's name.
    pub name: &'static str,
    /// The label (value `name`) on both and on the pods.
    pub label: &'static str,
    /// The port receivers listen on.
    pub port: u16,
    /// The receiving container, whose log is read.
    pub receiver: &'static str,
    /// The kind of the flows its records name (the first word of a flow's
    /// name) when every record names a pair of nodes.
    pub flow: &'static str,
}

/// The continuous traffic's DaemonSet.
pub const TRAFFIC_SET: TrafficSet = TrafficSet {
    name: TRAFFIC,
    label: TRAFFIC_LABEL,
    port: PORT,
    receiver: "receiver",
    flow: "pod-to-pod",
};

/// The sender's command (busybox). Every 200 ms, one numbered probe per
/// flow, each a TCP connection of its own (`nc -w 1`: at most a second
/// when nothing answers) run in the background, tagged with its node, its
/// pod and start time, and its send time (whole seconds: busybox's `date`
/// has no sub-second format):
///
/// - `pod-to-pod` to each peer `peers` prints;
/// - `secondary` to each peer's `net1` address (see the module's
///   documentation);
/// - `pod-to-service` to the ClusterIP of [`TRAFFIC_SERVICE`] (from the
///   kubelet's `CHAOS_TRAFFIC_LB_SERVICE_HOST`, the Service being created
///   before the DaemonSet; its DNS name if the variable is missing);
/// - `dns` to its own receiver on 127.0.0.1, only when
///   `nslookup <the Service's name>` answered within a second.
///
/// Every 50 rounds, in the background (a DNS outage never stalls the
/// rounds), `peers` runs again and each peer's `net1` address is asked
/// for; the answers go to files under `$TMPDIR/cni-chaos-traffic` (`/tmp`
/// without `TMPDIR`) that each round reads, one per current peer (a
/// refresh writes a new folder and moves it into place, so a peer that is
/// gone, or an address it no longer has, is forgotten). An empty answer
/// keeps what was known of a current peer.
pub fn sender_script(peers: &str) -> String {
    format!(
        "trap 'exit 0' TERM; run=$(date +%s); i=0; d=${{TMPDIR:-/tmp}}/cni-chaos-traffic; mkdir -p $d/net1; svc=${{CHAOS_TRAFFIC_LB_SERVICE_HOST:-{TRAFFIC_SERVICE}.{PROBE_NAMESPACE}.svc.cluster.local}}; while true; do if [ $((i % 50)) -eq 0 ]; then {{ p=$({peers}); if [ -n \"$p\" ]; then echo $p > $d/peers.new && mv $d/peers.new $d/peers; rm -rf $d/net1.new; mkdir -p $d/net1.new; for ip in $p; do a=$(nc -w 1 $ip {DISCOVERY_PORT} </dev/null); [ -n \"$a\" ] || a=$(cat $d/net1/$ip 2>/dev/null); [ -n \"$a\" ] && echo $a > $d/net1.new/$ip; done; rm -rf $d/net1.old; mv $d/net1 $d/net1.old; mv $d/net1.new $d/net1; fi; }} & fi; i=$((i+1)); peers=$(cat $d/peers 2>/dev/null); net1=$(cat $d/net1/* 2>/dev/null); tag=\"from=$NODE_NAME sender=$POD_NAME/$run seq=$i sent=$(date +%s)000\"; for ip in $peers; do echo \"cni-chaos-traffic flow=pod-to-pod $tag\" | nc -w 1 $ip 9000 & done; for ip in $net1; do echo \"cni-chaos-traffic flow=secondary $tag\" | nc -w 1 $ip 9000 & done; echo \"cni-chaos-traffic flow=pod-to-service $tag\" | nc -w 1 $svc 9000 & {{ timeout 1 nslookup {TRAFFIC_SERVICE}.{PROBE_NAMESPACE}.svc.cluster.local >/dev/null 2>&1 && echo \"cni-chaos-traffic flow=dns $tag\" | nc -w 1 127.0.0.1 9000; }} & sleep 0.2; done"
    )
}

/// The NAT gateway profile's client's `sender` command (busybox): every
/// 200 ms, in the background, one numbered `nat-egress` probe to the
/// target's receiver outside the VPC, through the gateway's SNAT, tagged
/// as the traffic pods' probes are. The target runs [`RECEIVER_SCRIPT`]
/// beside its `httpd`, and its runtime stamps each line.
pub fn nat_sender_script() -> String {
    use cni_chaos_twin::model::{NAT_TARGET_IP, NAT_TARGET_TRAFFIC_PORT};
    format!(
        "trap 'exit 0' TERM; run=$(date +%s); i=0; while true; do i=$((i+1)); echo \"cni-chaos-traffic flow=nat-egress from=$NODE_NAME sender=$POD_NAME/$run seq=$i sent=$(date +%s)000\" | nc -w 1 {NAT_TARGET_IP} {NAT_TARGET_TRAFFIC_PORT} & sleep 0.2; done"
    )
}

/// Whether `scenario` wants the traffic.
pub fn wanted(scenario: &Scenario) -> bool {
    scenario
        .slos
        .iter()
        .any(|s| matches!(s, Slo::MaxOutage { .. } | Slo::MaxLoss { .. }))
}

fn labels(set: &TrafficSet) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "cni-chaos".to_string(),
        ),
        (set.label.to_string(), set.name.to_string()),
    ])
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// A busybox container (the probes' image) running `script`, with its
/// node, pod name and pod IP in `NODE_NAME`, `POD_NAME`, `POD_IP`.
pub fn container(name: &str, script: &str) -> Container {
    Container {
        name: name.into(),
        image: Some(PROBE_IMAGE.into()),
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        env: Some(vec![
            field_env("NODE_NAME", "spec.nodeName"),
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_IP", "status.podIP"),
        ]),
        ..Container::default()
    }
}

/// The DaemonSet: on every node, the control plane's taint
/// notwithstanding, its pods asking Multus for the Kube-OVN attachment.
pub fn daemonset() -> DaemonSet {
    let annotations = BTreeMap::from([(
        super::networks::NETWORKS_ANNOTATION.to_string(),
        OVN_PROBE_NAD.to_string(),
    )]);
    super::workload::own_daemonset(
        TRAFFIC,
        TRAFFIC_LABEL,
        Some(annotations),
        vec![
            container("receiver", RECEIVER_SCRIPT),
            container("sender", &sender_script(&peers_by_dns(TRAFFIC))),
            container("discovery", DISCOVERY_SCRIPT),
        ],
    )
}

/// The headless Service whose DNS name lists every pod of `set`.
pub fn service(set: &TrafficSet) -> Service {
    set_service(set, set.name, Some("None"))
}

/// The ClusterIP Service [`TRAFFIC_SERVICE`] in front of every receiver.
pub fn load_balanced_service() -> Service {
    set_service(&TRAFFIC_SET, TRAFFIC_SERVICE, None)
}

/// A Service named `name` on `set`'s receivers' port, selecting every pod
/// of `set`; headless with `cluster_ip` `None`.
fn set_service(set: &TrafficSet, name: &str, cluster_ip: Option<&str>) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(PROBE_NAMESPACE.into()),
            labels: Some(labels(set)),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: cluster_ip.map(str::to_string),
            selector: Some(labels(set)),
            ports: Some(vec![ServicePort {
                name: Some("probe".into()),
                protocol: Some("TCP".into()),
                port: i32::from(set.port),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The two Services, then the DaemonSet (whose pods then get the
/// ClusterIP Service's environment variables), as JSON objects: what the kind backend
/// applies before a scenario that wants the traffic
/// (`backend::kind::traffic_manifest`, in its dry-run plan) and what
/// [`ensure`] creates through the API where nothing applied them (the twin).
pub fn traffic_objects() -> Vec<serde_json::Value> {
    set_objects(
        &[service(&TRAFFIC_SET), load_balanced_service()],
        &daemonset(),
    )
}

/// `services`, then the DaemonSet `ds`, as JSON objects (a manifest's
/// items, in the order they are applied).
pub fn set_objects(services: &[Service], ds: &DaemonSet) -> Vec<serde_json::Value> {
    let json = |v: Result<serde_json::Value, serde_json::Error>| {
        v.expect("a k8s-openapi object always serializes")
    };
    let mut out: Vec<serde_json::Value> = services
        .iter()
        .map(|s| json(serde_json::to_value(s)))
        .collect();
    out.push(json(serde_json::to_value(ds)));
    out
}

/// Creates the traffic's Services and DaemonSet unless they exist.
pub async fn ensure_traffic(client: &kube::Client) -> Result<(), kube::Error> {
    ensure(
        client,
        &[service(&TRAFFIC_SET), load_balanced_service()],
        &daemonset(),
    )
    .await
}

/// Creates `services`, then the DaemonSet `ds`, unless they exist.
pub async fn ensure(
    client: &kube::Client,
    services: &[Service],
    ds: &DaemonSet,
) -> Result<(), kube::Error> {
    let ignore_exists = |r: Result<(), kube::Error>| match r {
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        other => other,
    };
    let svc: Api<Service> = Api::namespaced(client.clone(), PROBE_NAMESPACE);
    for service in services {
        if svc
            .get_opt(service.metadata.name.as_deref().unwrap_or_default())
            .await?
            .is_none()
        {
            ignore_exists(svc.create(&PostParams::default(), service).await.map(drop))?;
        }
    }
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), PROBE_NAMESPACE);
    if api
        .get_opt(ds.metadata.name.as_deref().unwrap_or_default())
        .await?
        .is_none()
    {
        ignore_exists(api.create(&PostParams::default(), ds).await.map(drop))?;
    }
    Ok(())
}

/// What was read from the receivers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    /// One segment per receiver run read.
    pub segments: Vec<LogSegment>,
    /// The flows there should be: per ordered pair of nodes with a pod,
    /// per node for the flows named by their sender alone, and the NAT
    /// client's `nat-egress`.
    pub expected: Vec<String>,
    /// Receivers whose log could not be read, with why.
    pub unreadable: Vec<String>,
}

/// A flow's name.
pub fn flow_name(kind: impl std::fmt::Display, from: &str, to: &str) -> String {
    format!("{kind} {from} -> {to}")
}

/// The flow a record received on `node` belongs to: its `flow=` kind and
/// its `from=` node, and for `pod-to-pod` and `secondary` the receiving
/// node; a
/// `pod-to-service` or `dns` probe belongs to its sender's node whichever
/// receiver got it, so their flows merge every receiver's records.
pub fn record_flow(kind: &str, payload: &str, node: &str) -> String {
    let from = from_node(payload).unwrap_or("?");
    if [FlowKind::PodToPod, FlowKind::Secondary]
        .iter()
        .any(|k| k.as_str() == kind)
    {
        format!("{kind} {from} -> {node}")
    } else {
        format!("{kind} {from}")
    }
}

/// The node a flow is shown on: its receiving node (`pod-to-pod a -> b`:
/// `b`), or for a flow named by its sender alone (`pod-to-service a`,
/// `dns a`) its sending node.
pub fn flow_node(flow: &str) -> Option<&str> {
    flow.split_once(" -> ")
        .map(|(_, to)| to)
        .or_else(|| flow.split_whitespace().nth(1))
}

/// Reads every receiver's log now, and on a cluster with the NAT gateway
/// profile's client the target's (the `nat-egress` flow, through
/// [`crate::backend::Cluster::nat_target_log`]); timestamps are aligned on
/// the timeline whose offset zero is at wall time `origin`.
pub async fn read(
    client: &kube::Client,
    cluster: &dyn crate::backend::Cluster,
    origin: jiff::Timestamp,
) -> Result<Reading, String> {
    let mut out = read_receivers(client, origin).await?;
    read_nat_egress(client, cluster, origin, &mut out).await?;
    Ok(out)
}

/// The `nat-egress` flow: expected when the NAT client pod exists (named
/// by its node), its records from the target's log.
async fn read_nat_egress(
    client: &kube::Client,
    cluster: &dyn crate::backend::Cluster,
    origin: jiff::Timestamp,
    out: &mut Reading,
) -> Result<(), String> {
    use cni_chaos_twin::model::NAT_CLIENT;
    let api: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let pods = api
        .list(&ListParams::default().labels(&format!("app={NAT_CLIENT}")))
        .await
        .map_err(|e| format!("listing the NAT path's client: {e}"))?
        .items;
    let Some(node) = pods.iter().find_map(|p| p.spec.as_ref()?.node_name.clone()) else {
        return Ok(());
    };
    out.expected.push(format!("{} {node}", FlowKind::NatEgress));
    match cluster.nat_target_log().await {
        Ok(log) => out
            .segments
            .push(super::traffic::parse_log(&log, origin, |flow, payload| {
                record_flow(flow, payload, "target")
            })),
        Err(e) => out.unreadable.push(format!("the NAT target's log: {e}")),
    }
    Ok(())
}

/// Every traffic pod receiver's log: its flows of every kind (the pairs'
/// `pod-to-pod` and `secondary`, each node's `pod-to-service` and `dns`).
async fn read_receivers(client: &kube::Client, origin: jiff::Timestamp) -> Result<Reading, String> {
    let expected = |nodes: &[String]| {
        let mut out = Vec::new();
        for a in nodes {
            for b in nodes.iter().filter(|b| *b != a) {
                for kind in [FlowKind::PodToPod, FlowKind::Secondary] {
                    out.push(flow_name(kind, a, b));
                }
            }
            for kind in [FlowKind::PodToService, FlowKind::Dns] {
                out.push(format!("{kind} {a}"));
            }
        }
        out
    };
    read_set(client, &TRAFFIC_SET, origin, expected, record_flow).await
}

/// Every receiver's log of `set`, whose records each name a pair of nodes
/// (`<set.flow> <sender's node> -> <receiver's node>`), one flow per
/// ordered pair of nodes with a pod of `set`.
pub async fn read_pairs(
    client: &kube::Client,
    set: &TrafficSet,
    origin: jiff::Timestamp,
) -> Result<Reading, String> {
    let expected = |nodes: &[String]| {
        let mut out = Vec::new();
        for a in nodes {
            for b in nodes.iter().filter(|b| *b != a) {
                out.push(flow_name(set.flow, a, b));
            }
        }
        out
    };
    let rename = |_: &str, payload: &str, node: &str| {
        flow_name(set.flow, from_node(payload).unwrap_or("?"), node)
    };
    read_set(client, set, origin, expected, rename).await
}

/// Reads every receiver's log of `set` now (its current run and, after a
/// restart, the previous one); the flows there should be are
/// `expected(nodes with a pod of set)`, each record is named by
/// `rename(its flow=, its payload, the receiver's node)`. Timestamps are
/// aligned on the timeline whose offset zero is at wall time `origin`.
async fn read_set(
    client: &kube::Client,
    set: &TrafficSet,
    origin: jiff::Timestamp,
    expected: impl Fn(&[String]) -> Vec<String>,
    rename: impl Fn(&str, &str, &str) -> String,
) -> Result<Reading, String> {
    let api: Api<Pod> = Api::namespaced(client.clone(), PROBE_NAMESPACE);
    let pods = api
        .list(&ListParams::default().labels(&format!("{}={}", set.label, set.name)))
        .await
        .map_err(|e| format!("listing the {} pods: {e}", set.name))?
        .items;
    let nodes: Vec<String> = {
        let mut n: Vec<String> = pods
            .iter()
            .filter_map(|p| p.spec.as_ref()?.node_name.clone())
            .collect();
        n.sort();
        n.dedup();
        n
    };
    let mut out = Reading {
        expected: expected(&nodes),
        ..Reading::default()
    };
    for pod in &pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            continue;
        };
        let restarted = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.name == set.receiver))
            .is_some_and(|c| c.restart_count > 0);
        let named = |flow: &str, payload: &str| rename(flow, payload, &node);
        for previous in [true, false] {
            if previous && !restarted {
                continue;
            }
            let params = LogParams {
                container: Some(set.receiver.into()),
                timestamps: true,
                previous,
                ..LogParams::default()
            };
            match api.logs(&name, &params).await {
                Ok(log) => out
                    .segments
                    .push(super::traffic::parse_log(&log, origin, named)),
                Err(e) => out.unreadable.push(format!(
                    "{name} ({}log): {e}",
                    if previous { "previous " } else { "" }
                )),
            }
        }
    }
    Ok(out)
}

/// The window loss is counted over for `slo`, or why it cannot be.
pub fn loss_window(slo: &Slo, fault_at: Duration, end: Duration) -> Result<Window, String> {
    match slo {
        Slo::MaxLoss {
            within: Some(within),
            ..
        } => {
            let to = fault_at + *within;
            if end < to {
                return Err(format!(
                    "observation ended {} after the fault, before the loss window's end ({})",
                    duration::format(end.saturating_sub(fault_at)),
                    duration::format(*within)
                ));
            }
            Ok(Window { from: fault_at, to })
        }
        _ => Ok(Window {
            from: fault_at,
            to: end,
        }),
    }
}

/// Derives every flow from what [`read`] found, over `window`.
pub fn derive(reading: &Reading, window: Window) -> Vec<FlowTraffic> {
    super::traffic::derive(&reading.segments, &reading.expected, window, SEND_INTERVAL)
}

/// The verdict of a [`Slo::MaxOutage`] or [`Slo::MaxLoss`] on the flows.
pub fn judge(slo: &Slo, flows: Result<&[FlowTraffic], &str>) -> SloVerdict {
    let verdict = |status, measured, culprits, message: String| SloVerdict {
        slo: slo.clone(),
        status,
        measured,
        culprits,
        message,
    };
    let flows = match flows {
        Ok(f) => f,
        Err(e) => {
            let why = format!("the traffic could not be read: {e}");
            return verdict(SloStatus::NotEvaluated(why.clone()), None, Vec::new(), why);
        }
    };
    let kind = match slo {
        Slo::MaxOutage { flow, .. } | Slo::MaxLoss { flow, .. } => *flow,
        _ => None,
    };
    let prefix = kind.map(|k| format!("{k} "));
    let flows: Vec<&FlowTraffic> = flows
        .iter()
        .filter(|f| {
            prefix
                .as_ref()
                .is_none_or(|p| f.flow.starts_with(p.as_str()))
        })
        .collect();
    if flows.is_empty() && kind == Some(FlowKind::NatEgress) {
        // A setup that did not finish, not a broken data path.
        let why = format!(
            "no nat-egress flow: no pod of the NAT path's client (app={}) in kube-system",
            cni_chaos_twin::model::NAT_CLIENT
        );
        return verdict(SloStatus::NotEvaluated(why.clone()), None, Vec::new(), why);
    }
    if flows.is_empty() {
        let why = "no traffic flow in scope: no traffic pods on two nodes".to_string();
        return verdict(SloStatus::Fail, None, Vec::new(), why);
    }
    // A flow over its budget, on its receiving node (a pod-to-service or
    // dns flow: its sending node); recovered (from the fault) when its
    // longest outage closed.
    let culprit = |f: &FlowTraffic, reason: String| Culprit {
        kind: CulpritKind::Pod,
        namespace: Some(PROBE_NAMESPACE.into()),
        name: format!("flow {}", f.flow),
        node: flow_node(&f.flow).map(str::to_string),
        reason,
        restarts: None,
        recovered_after: f
            .longest()
            .filter(|o| !o.open)
            .map(|o| o.end.saturating_sub(f.window.from)),
    };
    let unjudged: Vec<String> = flows
        .iter()
        .filter_map(|f| Some(format!("{}: {}", f.flow, f.unjudgeable()?)))
        .collect();
    let mut culprits = Vec::new();
    let (measured, summary) = match slo {
        Slo::MaxOutage { budget, .. } => {
            let longest = flows
                .iter()
                .filter_map(|f| f.longest())
                .map(|o| o.duration())
                .max()
                .unwrap_or_default();
            for f in &flows {
                if let Some(o) = f.longest().filter(|o| o.duration() > *budget) {
                    culprits.push(culprit(
                        f,
                        format!(
                            "out {}{} ({} probes lost)",
                            duration::format(o.duration()),
                            if o.open {
                                ", still when the records end"
                            } else {
                                ""
                            },
                            o.lost
                        ),
                    ));
                }
            }
            (
                Some(Measured::duration(longest)),
                format!(
                    "longest outage {} over {} flows (budget {})",
                    duration::format(longest),
                    flows.len(),
                    duration::format(*budget)
                ),
            )
        }
        Slo::MaxLoss { percent, .. } => {
            let worst = flows
                .iter()
                .filter_map(|f| f.loss_percent)
                .fold(0.0f64, f64::max);
            for f in &flows {
                if let Some(p) = f.loss_percent.filter(|p| p > percent) {
                    culprits.push(culprit(
                        f,
                        format!("lost {p:.2}% ({} of {})", f.lost, f.lost + f.received),
                    ));
                }
            }
            (
                None,
                format!(
                    "worst loss {worst:.2}% over {} flows (allowed {percent}%)",
                    flows.len()
                ),
            )
        }
        _ => (None, String::new()),
    };
    let unjudged = (!unjudged.is_empty()).then(|| format!("not covered: {}", unjudged.join("; ")));
    conclude(slo, measured, culprits, unjudged, summary)
}

/// A verdict from what the records showed: failed when there are
/// culprits (named after `summary`), else not evaluated when some part
/// could not be judged (`unjudged`, why), else passed with `summary`.
pub(crate) fn conclude(
    slo: &Slo,
    measured: Option<Measured>,
    culprits: Vec<Culprit>,
    unjudged: Option<String>,
    summary: String,
) -> SloVerdict {
    let verdict = |status, culprits, message| SloVerdict {
        slo: slo.clone(),
        status,
        measured,
        culprits,
        message,
    };
    if !culprits.is_empty() {
        let names: Vec<String> = culprits.iter().map(|c| c.to_string()).collect();
        let message = format!("{summary}: {}", names.join("; "));
        return verdict(SloStatus::Fail, culprits, message);
    }
    match unjudged {
        Some(why) => verdict(SloStatus::NotEvaluated(why.clone()), Vec::new(), why),
        None => verdict(SloStatus::Pass, Vec::new(), summary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::traffic::{MARKER, Outage};

    #[test]
    fn a_nat_egress_slo_without_the_nat_client_is_not_evaluated() {
        let slo = Slo::MaxOutage {
            flow: Some(FlowKind::NatEgress),
            budget: Duration::from_secs(5),
        };
        let only_pods = [flow("pod-to-pod a -> b", None, 0.0, false)];
        let v = judge(&slo, Ok(&only_pods));
        assert!(matches!(v.status, SloStatus::NotEvaluated(_)), "{v:?}");
        assert!(v.message.contains("cni-chaos-nat-client"), "{}", v.message);
        // Without the selector an empty scope still fails.
        let any = Slo::MaxOutage {
            flow: None,
            budget: Duration::from_secs(5),
        };
        assert_eq!(judge(&any, Ok(&[])).status, SloStatus::Fail);
    }

    fn flow(name: &str, outage_ms: Option<u64>, loss: f64, not_covered: bool) -> FlowTraffic {
        FlowTraffic {
            flow: name.into(),
            window: Window {
                from: Duration::ZERO,
                to: Duration::from_secs(60),
            },
            received: 100,
            lost: 0,
            loss_percent: Some(loss),
            outages: outage_ms
                .map(|ms| Outage {
                    start: Duration::from_secs(5),
                    end: Duration::from_secs(5) + Duration::from_millis(ms),
                    lost: ms / 200,
                    estimated: false,
                    open: false,
                })
                .into_iter()
                .collect(),
            not_covered: if not_covered {
                vec![super::super::traffic::Uncovered {
                    from: Duration::from_secs(50),
                    to: Duration::from_secs(60),
                }]
            } else {
                Vec::new()
            },
        }
    }

    fn max_outage(secs: u64) -> Slo {
        Slo::MaxOutage {
            flow: None,
            budget: Duration::from_secs(secs),
        }
    }

    #[test]
    fn outages_over_budget_fail_naming_the_flow_and_gaps_never_pass() {
        let a = flow("pod-to-pod a -> b", Some(20_200), 0.0, false);
        let b = flow("pod-to-pod b -> c", None, 0.0, false);
        let v = judge(&max_outage(25), Ok(&[a.clone(), b.clone()]));
        assert_eq!(v.status, SloStatus::Pass, "{}", v.message);
        assert_eq!(v.measured, Some(Measured::Millis(20_200)));
        let v = judge(&max_outage(5), Ok(&[a.clone(), b.clone()]));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.culprits.len(), 1);
        assert_eq!(v.culprits[0].name, "flow pod-to-pod a -> b");
        // A coverage gap: not evaluated, not a pass.
        let gap = flow("pod-to-pod c -> a", None, 0.0, true);
        let v = judge(&max_outage(25), Ok(&[a.clone(), gap]));
        assert!(matches!(v.status, SloStatus::NotEvaluated(_)), "{v:?}");
        assert!(v.message.contains("c -> a"), "{}", v.message);
        // No flows, or unreadable: never a pass.
        assert_eq!(judge(&max_outage(25), Ok(&[])).status, SloStatus::Fail);
        assert!(matches!(
            judge(&max_outage(25), Err("boom")).status,
            SloStatus::NotEvaluated(_)
        ));
    }

    #[test]
    fn loss_over_the_allowance_fails_and_the_window_must_be_observed() {
        let slo = Slo::MaxLoss {
            flow: Some(FlowKind::PodToPod),
            percent: 5.0,
            within: Some(Duration::from_secs(60)),
        };
        let ok = flow("pod-to-pod a -> b", None, 1.0, false);
        let bad = flow("pod-to-pod b -> a", None, 12.5, false);
        assert_eq!(
            judge(&slo, Ok(std::slice::from_ref(&ok))).status,
            SloStatus::Pass
        );
        let v = judge(&slo, Ok(&[ok, bad]));
        assert_eq!(v.status, SloStatus::Fail);
        assert!(v.culprits[0].reason.starts_with("lost 12.50%"), "{v:?}");
        let f = Duration::from_secs(10);
        assert_eq!(
            loss_window(&slo, f, Duration::from_secs(80)),
            Ok(Window {
                from: f,
                to: Duration::from_secs(70)
            })
        );
        assert!(loss_window(&slo, f, Duration::from_secs(40)).is_err());
        assert_eq!(
            loss_window(&max_outage(1), f, Duration::from_secs(40)),
            Ok(Window {
                from: f,
                to: Duration::from_secs(40)
            })
        );
    }

    #[test]
    fn the_daemonset_runs_a_sender_and_a_receiver_on_every_node_with_the_probe_image() {
        let ds = daemonset();
        let spec = ds.spec;
        let pod = spec.template.spec.unwrap();
        let names: Vec<&str> = pod.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["receiver", "sender", "discovery"]);
        for c in &pod.containers {
            assert_eq!(c.image.as_deref(), Some(PROBE_IMAGE));
        }
        assert_eq!(
            pod.tolerations.unwrap()[0].operator.as_deref(),
            Some("Exists")
        );
        assert_eq!(
            spec.template.metadata.unwrap().labels.unwrap()[TRAFFIC_LABEL],
            TRAFFIC
        );
        assert_eq!(
            service(&TRAFFIC_SET).spec.unwrap().cluster_ip.as_deref(),
            Some("None")
        );
        let lb = load_balanced_service();
        assert_eq!(lb.metadata.name.as_deref(), Some(TRAFFIC_SERVICE));
        let spec = lb.spec.unwrap();
        assert_eq!(spec.cluster_ip, None, "a ClusterIP is allocated");
        assert_eq!(spec.selector, Some(labels(&TRAFFIC_SET)));
        let script = sender_script(&peers_by_dns(TRAFFIC));
        assert!(script.contains(MARKER));
        for flow in ["pod-to-pod", "secondary", "pod-to-service", "dns"] {
            assert!(script.contains(&format!("flow={flow} $tag")), "{flow}");
        }
        // The Services before the DaemonSet, so its pods get the
        // ClusterIP's environment variable.
        let kinds: Vec<String> = traffic_objects()
            .iter()
            .map(|o| o["kind"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(kinds, ["Service", "Service", "DaemonSet"]);
    }

    #[test]
    fn a_record_belongs_to_its_pod_to_pod_pair_or_to_its_senders_node() {
        let payload = "cni-chaos-traffic flow=x from=a sender=p/1 seq=1";
        assert_eq!(record_flow("pod-to-pod", payload, "b"), "pod-to-pod a -> b");
        assert_eq!(
            record_flow("pod-to-service", payload, "b"),
            "pod-to-service a"
        );
        assert_eq!(record_flow("dns", payload, "a"), "dns a");
        assert_eq!(record_flow("secondary", payload, "b"), "secondary a -> b");
        // A culprit of a sender-side flow is on the sending node.
        let v = judge(
            &max_outage(5),
            Ok(&[flow("pod-to-service a", Some(20_000), 0.0, false)]),
        );
        assert_eq!(v.culprits[0].node.as_deref(), Some("a"));
        let v = judge(
            &max_outage(5),
            Ok(&[flow("pod-to-pod a -> b", Some(20_000), 0.0, false)]),
        );
        assert_eq!(v.culprits[0].node.as_deref(), Some("b"));
    }
}
