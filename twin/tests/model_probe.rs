//! The pod-to-pod probe in the model: it reaches the server pod its
//! `cni-chaos.io/probe-target` label names, on another node, so it needs
//! both nodes' OVS, not only its own.

mod model_support;

use cni_chaos_twin::model::{PROBE_LABEL, PROBE_TARGET_LABEL, Recorder, Signal, World};
use model_support::*;
use serde_json::{Value, json};

const NS: &str = "cni-chaos-probes";

fn pod(name: &str, node: &str, labels: Value) -> Value {
    json!({
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {
            "nodeName": node,
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "docker.io/library/busybox:1.36.1"}]
        }
    })
}

fn phase(rec: &Recorder, name: &str) -> String {
    rec.get("pods", NS, name)
        .and_then(|p| p.pointer("/status/phase"))
        .and_then(Value::as_str)
        .unwrap_or("none")
        .to_string()
}

/// Starts a probe from `twin-worker` to `target` and returns its phase.
fn probe(w: &mut World, rec: &mut Recorder, name: &str, target: Option<&str>) -> String {
    let mut labels = json!({PROBE_LABEL: "pod-to-pod"});
    if let Some(t) = target {
        labels[PROBE_TARGET_LABEL] = json!(t);
    }
    w.api_create_pod(&pod(name, "twin-worker", labels));
    run(w, rec, 20_000);
    phase(rec, name)
}

#[test]
fn pod_to_pod_needs_the_server_and_the_ovs_of_its_node() {
    let mut w = world("default", 3);
    let mut rec = Recorder::default();
    run(&mut w, &mut rec, 240_000);
    w.api_create_pod(&pod(
        "probe-server-1",
        "twin-worker2",
        json!({"cni-chaos.io/probe-server": "pod-to-pod"}),
    ));
    run(&mut w, &mut rec, 20_000);
    assert_eq!(phase(&rec, "probe-server-1"), "Running");

    assert_eq!(
        probe(&mut w, &mut rec, "p1", Some("probe-server-1")),
        "Succeeded"
    );
    // No server named, or one that does not exist: nothing to reach.
    assert_eq!(probe(&mut w, &mut rec, "p2", None), "Failed");
    assert_eq!(
        probe(&mut w, &mut rec, "p3", Some("no-such-server")),
        "Failed"
    );
    // The probe's own node is healthy; the server's OVS is frozen.
    w.signal("twin-worker2", "ovs-vswitchd", Signal::Stop)
        .unwrap();
    assert_eq!(
        probe(&mut w, &mut rec, "p4", Some("probe-server-1")),
        "Failed"
    );
    w.signal("twin-worker2", "ovs-vswitchd", Signal::Cont)
        .unwrap();
    assert_eq!(
        probe(&mut w, &mut rec, "p5", Some("probe-server-1")),
        "Succeeded"
    );
}
