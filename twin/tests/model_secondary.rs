//! Secondary networks in the model: a workload created through the API that
//! asks for Multus attachments gets one interface per attachment through
//! `00-multus.conf`, and Multus writes its `network-status`; a sandbox
//! created while `00-multus.conf` is absent goes straight to the Kube-OVN
//! conflist and has `eth0` only (multus-cni #1387). Which happens follows
//! from the first config file on disk at sandbox time (`kubelet.rs`).

mod model_support;

use cni_chaos_twin::model::{MULTUS_CONF, Recorder, Signal, World};
use model_support::*;
use serde_json::{Value, json};

const NS: &str = "kube-system";
const NAD: &str = "ovn-vpc-external-network";
const NODE: &str = "twin-worker2";

/// A DaemonSet `chaos-secondary` on every node asking for `networks`.
fn deploy(w: &mut World, networks: &str) {
    w.api_create_workload(
        "daemonsets",
        &json!({"metadata": {"name": "chaos-secondary", "namespace": NS, "uid": "u-1"},
            "spec": {"template": {
                "metadata": {"labels": {"app": "chaos-secondary"},
                             "annotations": {"k8s.v1.cni.cncf.io/networks": networks}},
                "spec": {"tolerations": [{"operator": "Exists"}],
                         "containers": [{"name": "sleep", "image": "busybox"}]}}}}),
    );
}

/// The workload's pod on `node`.
fn pod_on_node(w: &World, node: &str) -> String {
    pod_on(w, "chaos-secondary", node)
}

/// `(name, interface)` of each entry of the pod's network-status, as stored.
fn status(rec: &Recorder, pod: &str) -> Option<Vec<(String, String)>> {
    let text =
        rec.get("pods", NS, pod)?["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"]
            .as_str()?
            .to_string();
    let entries: Vec<Value> = serde_json::from_str(&text).expect("network-status is JSON");
    Some(
        entries
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap_or("").to_string(),
                    e["interface"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect(),
    )
}

fn links(v: &[&str]) -> Option<Vec<String>> {
    Some(v.iter().map(|s| s.to_string()).collect())
}

/// A settled cluster running the workload.
fn settled(networks: &str) -> (World, Recorder) {
    let mut w = world("default", 3);
    let mut rec = Recorder::default();
    run(&mut w, &mut rec, 240_000);
    deploy(&mut w, networks);
    run(&mut w, &mut rec, 60_000);
    (w, rec)
}

#[test]
fn every_requested_network_is_an_interface_and_a_network_status_entry() {
    // Both forms Multus accepts, with and without an interface name.
    for networks in [
        format!("{NAD}@ext0, {NS}/{NAD}"),
        format!(
            r#"[{{"name": "{NAD}", "interface": "ext0"}}, {{"name": "{NAD}", "namespace": "{NS}"}}]"#
        ),
    ] {
        let (w, rec) = settled(&networks);
        let nodes: Vec<String> = w.node_infos().into_iter().map(|n| n.name).collect();
        assert_eq!(nodes.len(), 3);
        for node in &nodes {
            let pod = pod_on_node(&w, node);
            assert_eq!(
                w.pod_interfaces(NS, &pod),
                links(&["lo", "eth0", "ext0", "net2"]),
                "{networks}: {pod} on {node}"
            );
            let key = format!("{NS}/{NAD}");
            assert_eq!(
                status(&rec, &pod).unwrap(),
                vec![
                    ("kube-ovn".to_string(), "eth0".to_string()),
                    (key.clone(), "ext0".into()),
                    (key, "net2".into())
                ],
                "{networks}"
            );
        }
    }
}

#[test]
fn host_network_and_unknown_pods_have_no_interfaces_to_read() {
    let (w, _) = settled(NAD);
    let ovs = pod_on(&w, "ovs", NODE);
    assert_eq!(w.pod_interfaces(NS, &ovs), None, "host network");
    assert_eq!(w.pod_interfaces(NS, "no-such-pod"), None);
}

/// Runs in 100 ms steps until `done` holds (at most `limit` ms).
fn run_until(w: &mut World, rec: &mut Recorder, limit: u64, mut done: impl FnMut(&World) -> bool) {
    let end = w.now() + limit;
    while w.now() < end && !done(w) {
        run(w, rec, 100);
    }
    assert!(done(w), "condition not met within {limit} ms");
}

fn multus_daemon(w: &World) -> Option<u32> {
    w.processes(NODE)
        .ok()?
        .into_iter()
        .find(|p| p.comm == "multus-daemon")
        .map(|p| p.pid)
}

/// The node reboots with `00-multus.conf` gone (what Multus' clean exit on a
/// graceful shutdown leaves) and Multus comes back late (its daemon frozen
/// from its start for a minute, as a slow start would leave it): sandboxes
/// re-created once Kube-OVN serves go straight to the Kube-OVN conflist.
/// The pod keeps its old network-status (Multus alone writes it), so only
/// its network namespace shows the loss; and it stays that way after
/// Multus is back, until the pod is deleted.
#[test]
fn a_sandbox_recreated_before_multus_is_back_has_eth0_only_until_the_pod_is_deleted() {
    let (mut w, mut rec) = settled(NAD);
    let pod = pod_on_node(&w, NODE);
    let before = status(&rec, &pod).unwrap();
    assert_eq!(w.pod_interfaces(NS, &pod), links(&["lo", "eth0", "net1"]));

    w.remove_file(NODE, MULTUS_CONF).unwrap();
    w.restart_node(NODE, false).unwrap();
    run_until(&mut w, &mut rec, 60_000, |w| multus_daemon(w).is_some());
    let daemon = multus_daemon(&w).unwrap();
    w.signal_pids(NODE, &[daemon], Signal::Stop).unwrap();
    run(&mut w, &mut rec, 60_000);
    assert_eq!(
        w.file(NODE, MULTUS_CONF).unwrap(),
        None,
        "the frozen daemon has not rewritten its config"
    );
    assert_eq!(
        w.pod_interfaces(NS, &pod),
        links(&["lo", "eth0"]),
        "the sandbox was re-created through the Kube-OVN conflist"
    );
    assert_eq!(
        status(&rec, &pod).unwrap(),
        before,
        "the annotation is stale"
    );

    w.signal_pids(NODE, &[daemon], Signal::Cont).unwrap();
    run(&mut w, &mut rec, 30_000);
    assert!(
        w.file(NODE, MULTUS_CONF).unwrap().is_some(),
        "Multus is back"
    );
    assert_eq!(
        w.pod_interfaces(NS, &pod),
        links(&["lo", "eth0"]),
        "nothing re-runs CNI ADD for a running sandbox"
    );

    w.delete_pod(NS, &pod).unwrap();
    run(&mut w, &mut rec, 60_000);
    let again = pod_on_node(&w, NODE);
    assert_ne!(again, pod);
    assert_eq!(w.pod_interfaces(NS, &again), links(&["lo", "eth0", "net1"]));
}

/// Without Multus' config a brand-new pod gets no network-status at all.
#[test]
fn a_new_pod_while_multus_conf_is_absent_has_no_network_status() {
    let (mut w, mut rec) = settled(NAD);
    let daemon = multus_daemon(&w).unwrap();
    w.signal_pids(NODE, &[daemon], Signal::Stop).unwrap();
    w.remove_file(NODE, MULTUS_CONF).unwrap();
    let pod = pod_on_node(&w, NODE);
    w.delete_pod(NS, &pod).unwrap();
    run(&mut w, &mut rec, 60_000);
    let again = pod_on_node(&w, NODE);
    assert_eq!(w.pod_interfaces(NS, &again), links(&["lo", "eth0"]));
    assert_eq!(status(&rec, &again), None);
    assert!(ready(rec.get("pods", NS, &again).unwrap()), "and it runs");
}

/// Under the model's timings the window stays shut when Multus is not
/// slowed: after a reboot that left no `00-multus.conf`, the first sandbox
/// attempts go straight to Kube-OVN and fail (its cni-server is not serving
/// yet), and by the kubelet's retry Multus has rewritten its config, a few
/// hundred ms before Kube-OVN serves. Every pod comes back with its
/// network; the #1387 window needs a Multus slower than Kube-OVN.
#[test]
fn without_a_slow_multus_the_pods_come_back_with_their_networks() {
    for seed in 1..=5 {
        let mut w = world("default", seed);
        let mut rec = Recorder::default();
        run(&mut w, &mut rec, 240_000);
        deploy(&mut w, NAD);
        run(&mut w, &mut rec, 60_000);
        w.remove_file(NODE, MULTUS_CONF).unwrap();
        w.restart_node(NODE, false).unwrap();
        run(&mut w, &mut rec, 120_000);
        let pod = pod_on_node(&w, NODE);
        assert_eq!(
            w.pod_interfaces(NS, &pod),
            links(&["lo", "eth0", "net1"]),
            "seed {seed}"
        );
    }
}
