//! `secondary-networks-complete` end to end on the twin: the engine deploys
//! the harness's `chaos-secondary` DaemonSet before the fault, reboots a
//! worker gracefully, and judges every pod that asks for a secondary network
//! on its network-status annotation and on the links the model reports for
//! its sandbox (the same seam `crictl` + `ip` answer on kind).
//!
//! On an undisturbed reboot the SLO passes. When the reboot leaves
//! `00-multus.conf` gone and Multus is slower than Kube-OVN to come back,
//! the pod whose sandbox is re-created in between has `eth0` only
//! (multus-cni #1387), and the SLO names it in the result, the JUnit and the
//! Markdown.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cni_chaos::backend::twin::TwinCluster;
use cni_chaos::backend::{BackendInfo, Cluster};
use cni_chaos::observe::workload::WORKLOAD;
use cni_chaos::report::{RunRecord, junit, markdown};
use cni_chaos::run::{RunEvent, RunInfo, ScenarioResult};
use cni_chaos::slo::{SloKind, SloStatus, SloVerdict};
use cni_chaos::suite;
use cni_chaos_twin::model::{MULTUS_CONF, Signal};

/// A sample scenario: what a suite adds to judge the #1387 window after a
/// graceful reboot of the second worker (the first runs the NAT gateway).
const SUITE: &str = r"
name: secondary
description: secondary networks after a graceful worker reboot
cluster: {versions: kube-ovn-1.15-multus-4.2.3, nat-gateway: true}
scenarios:
  - name: reboot
    fault: {kind: node-reboot, target: {role: worker, index: 1}, mode: graceful, timeout: 30s}
    slos:
      - {kind: node-ready-within, nodes: fault-target, budget: 2m}
      - kind: secondary-networks-complete
";

const NODE: &str = "chaos-twin-worker2";

/// A twin cluster for the sample suite, and the suite.
fn cluster() -> (suite::Suite, Arc<TwinCluster>) {
    support::twin_cluster("secondary.yaml", SUITE)
}

async fn run(suite: &suite::Suite, cluster: Arc<TwinCluster>) -> ScenarioResult {
    support::run_first(suite, cluster).await
}

fn secondary(r: &ScenarioResult) -> &SloVerdict {
    r.slos
        .iter()
        .find(|v| v.slo.kind() == SloKind::SecondaryNetworksComplete)
        .unwrap_or_else(|| panic!("no secondary-networks-complete verdict in {:#?}", r.slos))
}

#[tokio::test(start_paused = true)]
async fn an_undisturbed_reboot_keeps_every_secondary_network() {
    let (suite, cluster) = cluster();
    let r = run(&suite, cluster).await;
    let v = secondary(&r);
    assert_eq!(v.status, SloStatus::Pass, "{v:#?}");
    // One workload pod per node, and the NAT gateway's pod.
    assert!(v.message.starts_with("4 pods have all 4"), "{}", v.message);
    let node_ready = &r.slos[0];
    assert_eq!(node_ready.status, SloStatus::Pass, "{node_ready:#?}");
}

/// Acts on the rebooting node the way the #1387 window needs: once the
/// node stopped, `00-multus.conf` is gone (Multus' clean exit deletes it
/// on a graceful shutdown; removed here unless that already happened), and
/// the new Multus daemon is frozen from its start for `late`, as a slow
/// start would hold it. Nothing touches the pods or their sandboxes.
async fn slow_multus_after_reboot(cluster: Arc<TwinCluster>, late: Duration) {
    let model = cluster.model();
    let info = || {
        model
            .with(|w| w.node_infos())
            .into_iter()
            .find(|n| n.name == NODE)
            .expect("the node")
    };
    // The node's first boot (the cluster's creation), then the fault's.
    while !info().up {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let boot = info().boot;
    while info().boot == boot {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = model.with(|w| w.remove_file(NODE, MULTUS_CONF));
    let daemon = loop {
        let found = model
            .with(|w| w.processes(NODE))
            .unwrap_or_default()
            .into_iter()
            .find(|p| p.comm == "multus-daemon");
        if let Some(p) = found {
            break p.pid;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    model
        .with(|w| w.signal_pids(NODE, &[daemon], Signal::Stop))
        .unwrap();
    tokio::time::sleep(late).await;
    model
        .with(|w| w.signal_pids(NODE, &[daemon], Signal::Cont))
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_pod_recreated_before_multus_is_back_is_named_with_its_missing_network() {
    let (suite, cluster) = cluster();
    let slow = tokio::spawn(slow_multus_after_reboot(
        cluster.clone(),
        Duration::from_secs(60),
    ));
    let r = run(&suite, cluster.clone()).await;
    slow.await.unwrap();
    let v = secondary(&r);
    assert_eq!(v.status, SloStatus::Fail, "{v:#?}");
    assert_eq!(v.culprits.len(), 1, "{v:#?}");
    let c = v.culprits[0].clone();
    assert!(c.name.starts_with(&format!("{WORKLOAD}-")), "{c:?}");
    assert_eq!(c.node.as_deref(), Some(NODE));
    assert_eq!(
        c.reason,
        "cni-chaos-probes/cni-chaos-probe-net: no net1 in the network namespace (network-status lists it, multus-cni #1387)"
    );
    // The model agrees: the pod runs, on eth0 only.
    let links = cluster
        .pod_interfaces("cni-chaos-probes", &c.name, NODE)
        .await
        .unwrap();
    assert_eq!(links, Some(vec!["lo".to_string(), "eth0".into()]));
    // Multus came back, and the node is Ready: only this SLO sees it.
    assert_eq!(r.slos[0].status, SloStatus::Pass, "{:#?}", r.slos[0]);

    // The reports show the culprit the engine named.
    let info = RunInfo {
        run_id: "secondary".into(),
        backend: BackendInfo {
            name: "twin".into(),
            reason: "test".into(),
            simulated: true,
            virtual_clock: true,
            versions: BTreeMap::new(),
        },
        seed: 1,
        started_at: "2026-12-03T12:00:00Z".parse().unwrap(),
        harness_version: "0.1.0".into(),
        estimate: None,
    };
    let record = RunRecord::from_events([
        RunEvent::RunStarted(info),
        RunEvent::ScenarioFinished(Box::new(r)),
    ])
    .unwrap();
    let xml = junit(&record).to_string().unwrap();
    assert!(xml.contains(&c.name), "{xml}");
    assert!(xml.contains("no net1 in the network namespace"), "{xml}");
    let md = markdown(&record);
    assert!(md.contains(&c.name), "{md}");
}

/// The gate does not open on a workload that is Ready without its network:
/// with Multus stuck and its config gone before the workload is deployed,
/// the pod on that node runs on eth0 only with no network-status, and the
/// fault must not be blamed for it.
#[tokio::test(start_paused = true)]
async fn the_gate_waits_for_the_workload_to_have_its_network() {
    let (suite, cluster) = cluster();
    let model = cluster.model();
    // The cluster's install takes a few virtual minutes.
    tokio::time::sleep(Duration::from_secs(300)).await;
    let daemon = model
        .with(|w| w.processes(NODE))
        .unwrap()
        .into_iter()
        .find(|p| p.comm == "multus-daemon")
        .expect("Multus runs")
        .pid;
    model
        .with(|w| w.signal_pids(NODE, &[daemon], Signal::Stop))
        .unwrap();
    model.with(|w| w.remove_file(NODE, MULTUS_CONF)).unwrap();
    let gate = cluster
        .steady_state(&suite.scenarios[0], Duration::from_secs(120))
        .await
        .unwrap();
    assert!(!gate.steady, "{gate:#?}");
    assert_eq!(gate.unhealthy.len(), 1, "{gate:#?}");
    let c = &gate.unhealthy[0];
    assert!(c.name.starts_with(&format!("{WORKLOAD}-")), "{c:?}");
    assert_eq!(c.node.as_deref(), Some(NODE));
    assert_eq!(
        c.reason,
        "not in network-status: cni-chaos-probes/cni-chaos-probe-net"
    );
}

/// A scenario with both secondary probes beside each other, on the faulted
/// worker: the ptp attachment and Kube-OVN as a secondary CNI.
const PROBES: &str = r"
name: probes
description: both secondary probes after a graceful worker reboot
cluster: {versions: kube-ovn-1.15-multus-4.2.3}
scenarios:
  - name: reboot
    fault: {kind: node-reboot, target: {role: worker, index: 1}, mode: graceful, timeout: 30s}
    slos:
      - {kind: probe-succeeds-within, probe: multus-secondary, budget: 3m}
      - {kind: probe-succeeds-within, probe: kube-ovn-secondary, budget: 3m}
";

fn probe_verdict<'a>(r: &'a ScenarioResult, name: &str) -> &'a SloVerdict {
    r.slos
        .iter()
        .find(|v| v.slo.to_string().contains(name))
        .unwrap_or_else(|| panic!("no {name} verdict in {:#?}", r.slos))
}

#[tokio::test(start_paused = true)]
async fn kube_ovn_as_a_secondary_cni_attaches_through_its_own_subnet() {
    let (suite, cluster) = support::twin_cluster("probes.yaml", PROBES);
    // The twin made the same attachments as kind: a ptp one and a Kube-OVN
    // one whose Subnet names it as provider.
    let client = cluster.kube_client().expect("client");
    let gvk = kube::api::GroupVersionKind::gvk("kubeovn.io", "v1", "Subnet");
    let subnets: kube::Api<kube::api::DynamicObject> = kube::Api::all_with(
        client.clone(),
        &kube::api::ApiResource::from_gvk_with_plural(&gvk, "subnets"),
    );
    let subnet = subnets
        .get("cni-chaos-ovn-net")
        .await
        .expect("probe subnet");
    assert_eq!(
        subnet.data["spec"]["provider"],
        "cni-chaos-ovn-net.cni-chaos-probes.ovn"
    );
    let r = run(&suite, cluster.clone()).await;
    for name in ["(multus-secondary)", "(kube-ovn-secondary)"] {
        let v = probe_verdict(&r, name);
        assert_eq!(v.status, SloStatus::Pass, "{v:#?}");
    }
    assert!(
        probe_verdict(&r, "(kube-ovn-secondary)")
            .message
            .starts_with("kube-ovn-secondary probe succeeded after"),
        "{:#?}",
        r.slos
    );

    // Without the Subnet nothing allocates the attachment's address: the
    // Kube-OVN probe fails with the cni-server's own words, the ptp one
    // still passes.
    subnets
        .delete("cni-chaos-ovn-net", &Default::default())
        .await
        .expect("delete the probe subnet");
    let r = run(&suite, cluster).await;
    let ptp = probe_verdict(&r, "(multus-secondary)");
    assert_eq!(ptp.status, SloStatus::Pass, "{ptp:#?}");
    let ovn = probe_verdict(&r, "(kube-ovn-secondary)");
    assert_eq!(ovn.status, SloStatus::Fail, "{ovn:#?}");
    assert_eq!(ovn.culprits.len(), 1, "{ovn:#?}");
    assert!(
        ovn.culprits[0].reason.contains("ContainerCreating"),
        "{ovn:#?}"
    );
    // Why, in the probe pods' events: the cni-server's error through Multus.
    let events: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::namespaced(client, "cni-chaos-probes");
    let messages: Vec<String> = events
        .list(&Default::default())
        .await
        .expect("events")
        .items
        .into_iter()
        .filter_map(|e| e.message)
        .collect();
    assert!(
        messages.iter().any(|m| m
            .contains("no address allocated to pod cni-chaos-probes/probe-kube-ovn-secondary-")
            && m.contains("provider cni-chaos-ovn-net.cni-chaos-probes.ovn")),
        "{messages:#?}"
    );
}
