//! Node-level mechanisms (mostly without the API): InternalIP reassignment on
//! restart, a network partition, Multus' readinessindicatorfile, the
//! Kubernetes release each cell reports.

mod model_support;

use cni_chaos_twin::model::{ModelConfig, Recorder, VersionProfile, World};
use model_support::*;

fn node_ready(rec: &Recorder, name: &str) -> String {
    rec.get("nodes", "", name)
        .and_then(|n| n["status"]["conditions"].as_array().cloned())
        .and_then(|cs| cs.into_iter().find(|c| c["type"] == "Ready"))
        .map(|c| c["status"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

/// Docker may hand a restarted node a new IP (kind #2045, #148): with the
/// probability set to 1 every restart moves the node, with 0 none does.
#[test]
fn restart_reassigns_the_internal_ip_with_the_configured_probability() {
    for (p, moves) in [(1.0, true), (0.0, false)] {
        let mut cfg = ModelConfig::new("twin", VersionProfile::named("default").unwrap());
        cfg.ip_reassign_probability = p;
        let mut w = World::new(cfg);
        let mut rec = Recorder::default();
        run(&mut w, &mut rec, 240_000);
        let before =
            rec.get("nodes", "", "twin-worker2").unwrap()["status"]["addresses"][0]["address"]
                .clone();
        w.restart_node("worker2", false).unwrap();
        run(&mut w, &mut rec, 120_000);
        let after =
            rec.get("nodes", "", "twin-worker2").unwrap()["status"]["addresses"][0]["address"]
                .clone();
        assert_eq!(before != after, moves, "{before} -> {after}");
        assert_eq!(node_ready(&rec, "twin-worker2"), "True");
    }
}

/// A disconnected node stops posting status: after the 50 s grace period
/// the node controller marks it Unknown and its pods not Ready; after the
/// reconnect the kubelet posts again and everything is Ready.
#[test]
fn a_partition_makes_the_node_unknown_until_it_reconnects() {
    let mut w = world("default", 2);
    let mut rec = Recorder::default();
    run(&mut w, &mut rec, 240_000);
    w.disconnect("worker2").unwrap();
    run(&mut w, &mut rec, 30_000);
    assert_eq!(
        node_ready(&rec, "twin-worker2"),
        "True",
        "within the grace period"
    );
    run(&mut w, &mut rec, 40_000);
    assert_eq!(node_ready(&rec, "twin-worker2"), "Unknown");
    let on_node: Vec<_> = rec
        .all("pods")
        .filter(|p| p["spec"]["nodeName"] == "twin-worker2")
        .cloned()
        .collect();
    assert!(!on_node.is_empty() && on_node.iter().all(|p| !ready(p)));
    w.reconnect("worker2").unwrap();
    run(&mut w, &mut rec, 30_000);
    assert_eq!(node_ready(&rec, "twin-worker2"), "True");
    assert!(rec.all("pods").all(ready), "{}", table(&rec));
}

/// Multus' readinessindicatorfile (off by default): polled every 1 s for
/// 45 s, then the daemon exits 1 (FACTS.md "Multus facts").
#[test]
fn a_missing_readiness_indicator_file_crash_loops_the_multus_daemon() {
    let mut cfg = ModelConfig::new("twin", VersionProfile::named("default").unwrap());
    cfg.readiness_indicator_file = Some("/etc/cni/net.d/01-kube-ovn.conflist.ready".into());
    let mut w = World::new(cfg);
    let mut rec = Recorder::default();
    run(&mut w, &mut rec, 300_000);
    let multus: Vec<_> = rec
        .all("pods")
        .filter(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("kube-multus-ds-")
        })
        .collect();
    assert_eq!(multus.len(), 3);
    for m in multus {
        let c = &m["status"]["containerStatuses"][0];
        assert!(c["restartCount"].as_i64().unwrap() >= 2, "{c}");
        assert_eq!(c["lastState"]["terminated"]["exitCode"], 1, "{c}");
    }
    assert!(
        rec.notes
            .iter()
            .any(|(_, n)| n.contains("readinessindicatorfile"))
    );
}

/// The API server and every kubelet report the cell's Kubernetes release
/// (v1.33.7 where Kube-OVN 1.13 and 1.14 were tested, v1.35.0 for the
/// later lines), not one version for every cell.
#[tokio::test(start_paused = true)]
async fn version_and_kubelet_version_are_the_cells() {
    use k8s_openapi::api::core::v1::Node;
    for (cell, want) in [
        ("kube-ovn-1.14-multus-4.2.1", "v1.33.7"),
        ("kube-ovn-1.15-multus-4.2.3", "v1.35.0"),
    ] {
        let (_twin, _model, client) = api::cluster(cell, 1);
        api::wait(30).await;
        let v = client.apiserver_version().await.expect("/version");
        assert_eq!(v.git_version, want, "{cell}");
        assert_eq!(v.minor, want.split('.').nth(1).unwrap(), "{cell}");
        let nodes = kube::Api::<Node>::all(client.clone())
            .list(&Default::default())
            .await
            .expect("nodes");
        assert_eq!(nodes.items.len(), 3);
        for n in nodes.items {
            let info = n.status.and_then(|s| s.node_info).expect("nodeInfo");
            assert_eq!(info.kubelet_version, want, "{cell}");
        }
    }
}
