//! The model's OVN answers (`ovn-nbctl`, `ovs-vsctl`, `ovn-appctl` in
//! Kube-OVN's pods) follow its pods, and the one mechanism that makes them
//! disagree on their own: a pod deleted while kube-ovn-controller is not
//! running keeps its logical switch port until the controller's LSP GC has
//! marked it on one pass and deleted it on the next, 360 s later (rule
//! `lsp-of-a-pod-deleted-while-the-controller-is-down`).

mod model_support;

use cni_chaos_twin::model::{Recorder, Signal, World};

const V1_14: &str = "kube-ovn-1.14-multus-4.2.1";
use model_support::{pod_on, run, world};

const FIXED: &str = "kube-ovn-1.15-multus-4.2.3";
const CP: &str = "twin-control-plane";
const NB: [&str; 7] = [
    "ovn-nbctl",
    "--format=csv",
    "--data=bare",
    "--no-heading",
    "--columns=name,addresses,external_ids",
    "list",
    "Logical_Switch_Port",
];

/// The NB database's ports, as the ovn-central pod answers.
fn nb(w: &mut World) -> String {
    let central = pod_on(w, "ovn-central", CP);
    let out = w
        .exec("kube-system", &central, "ovn-central", &NB)
        .expect("ovn-nbctl runs");
    assert_eq!(out.status, 0, "{}", out.stderr);
    out.stdout
}

fn coredns(w: &World) -> Vec<String> {
    w.pods_with_label("kube-system", "k8s-app", "kube-dns")
        .into_iter()
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn ports_follow_the_pods_and_a_deletion_the_controller_missed_waits_for_the_gc() {
    let mut w = world(FIXED, 3);
    let mut rec = Recorder::default();
    run(&mut w, &mut rec, 300_000);

    // Every CoreDNS pod has its port, with external_ids as Kube-OVN's.
    let before = nb(&mut w);
    let dns = coredns(&w);
    assert_eq!(dns.len(), 2, "{dns:?}");
    for name in &dns {
        assert!(
            before.contains(&format!("{name}.kube-system,00:00:00:"))
                && before.contains(&format!("pod=kube-system/{name} vendor=kube-ovn")),
            "{name} not in {before}"
        );
    }
    // ovn-controller answers on every node.
    for node in [CP, "twin-worker", "twin-worker2"] {
        let ovs = pod_on(&w, "ovs", node);
        let out = w
            .exec(
                "kube-system",
                &ovs,
                "openvswitch",
                &["ovn-appctl", "-t", "ovn-controller", "connection-status"],
            )
            .unwrap();
        assert_eq!(
            (out.status, out.stdout.as_str()),
            (0, "connected\n"),
            "{node}"
        );
    }

    // kube-ovn-controller killed twice: the second restart waits out the
    // kubelet's 10 s back-off, and a CoreDNS pod is deleted meanwhile.
    w.signal(CP, "kube-ovn-contro", Signal::Kill).unwrap();
    run(&mut w, &mut rec, 3_000);
    w.signal(CP, "kube-ovn-contro", Signal::Kill).unwrap();
    run(&mut w, &mut rec, 100);
    let gone = dns[0].clone();
    w.delete_pod("kube-system", &gone).unwrap();
    run(&mut w, &mut rec, 5_000);
    assert!(
        !coredns(&w).contains(&gone),
        "{gone} is forgotten: {:?}",
        coredns(&w)
    );
    let port = format!("{gone}.kube-system,");
    assert!(nb(&mut w).contains(&port), "{port} stays: {}", nb(&mut w));

    // The controller is back within its back-off; its first GC pass only
    // marks the port, so it is still there a minute on.
    run(&mut w, &mut rec, 60_000);
    assert_eq!(coredns(&w).len(), 2, "the Deployment replaced {gone}");
    assert!(
        nb(&mut w).contains(&port),
        "marked, not deleted: {}",
        nb(&mut w)
    );

    // The next pass, 360 s after the first, deletes it.
    run(&mut w, &mut rec, 360_000);
    let after = nb(&mut w);
    assert!(!after.contains(&port), "{port} still in {after}");
    for name in coredns(&w) {
        assert!(after.contains(&format!("{name}.kube-system,")), "{after}");
    }
}

#[test]
fn a_deletion_the_running_controller_sees_leaves_no_port() {
    let mut w = world(FIXED, 3);
    let mut rec = Recorder::default();
    run(&mut w, &mut rec, 300_000);
    let gone = coredns(&w)[0].clone();
    w.delete_pod("kube-system", &gone).unwrap();
    run(&mut w, &mut rec, 5_000);
    assert!(!coredns(&w).contains(&gone));
    let port = format!("{gone}.kube-system,");
    assert!(!nb(&mut w).contains(&port), "{}", nb(&mut w));
}

/// Stale OVS ports (a pod's Interface row whose pod and device are gone)
/// stay in the persistent OVS database across a hard restart on Kube-OVN
/// v1.14, which has no Interface GC, and are deleted by kube-ovn-cni within
/// a minute on v1.15 (rules `ovs-database-survives-a-restart`,
/// `kube-ovn-cni-gc-interfaces`).
#[test]
fn stale_ovs_ports_stay_on_v1_14_and_kube_ovn_cni_deletes_them_from_v1_15() {
    const WORKER: &str = "twin-worker";
    for (profile, left) in [(V1_14, 2), (FIXED, 0)] {
        let mut w = world(profile, 3);
        let mut rec = Recorder::default();
        run(&mut w, &mut rec, 300_000);
        for i in 0..2 {
            w.add_ovs_port(WORKER, &format!("stale-{i}"), Some("cni-gone"))
                .unwrap();
        }
        run(&mut w, &mut rec, 5_000);
        assert_eq!(
            w.ovs_ports(WORKER).unwrap().len(),
            2,
            "{profile}: just added"
        );
        run(&mut w, &mut rec, 120_000);
        assert_eq!(
            w.ovs_ports(WORKER).unwrap().len(),
            left,
            "{profile}: after 2 min"
        );
        if left > 0 {
            w.kill_node(WORKER, true).unwrap();
            run(&mut w, &mut rec, 240_000);
            assert_eq!(
                w.ovs_ports(WORKER).unwrap().len(),
                left,
                "{profile}: the OVS database survives a hard restart"
            );
        }
    }
}
