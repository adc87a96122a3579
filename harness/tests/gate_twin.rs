//! The steady-state gate on the twin's snapshot cluster, through the
//! observer's watchers: it opens only after the cluster has stayed steady for
//! `STEADY_FOR`, and a flap restarts that wait.

use std::path::Path;
use std::time::Duration;

use cni_chaos::observe::{Observer, WatchOptions};
use cni_chaos::observe::{STEADY_FOR, wait_steady};
use cni_chaos_twin::{Twin, TwinConfig};
use tokio::time::Instant;

const SUITE: &str = "name: g\ndescription: gate\nscenarios:\n  - name: s\n    fault: {kind: node-reboot, target: {role: worker}, mode: hard}\n    slos: [{kind: workloads-ready-within, namespace: kube-system, budget: 3m}]\n";

async fn setup() -> (Twin, Observer, cni_chaos::suite::Scenario, String) {
    let twin = Twin::new(TwinConfig::default());
    cni_chaos_twin::snapshot::kind_cluster(&twin, &Default::default()).unwrap();
    let suite = cni_chaos::suite::parse_str(Path::new("g.yaml"), SUITE).unwrap();
    let pods: kube::Api<k8s_openapi::api::core::v1::Pod> =
        kube::Api::namespaced(twin.client(), "kube-system");
    let name = pods.list(&Default::default()).await.unwrap().items[0]
        .metadata
        .name
        .clone()
        .unwrap();
    twin.set_pod_ready("kube-system", &name, false).unwrap();
    let observer = Observer::start(
        twin.client(),
        Instant::now(),
        "2026-01-01T00:00:00Z".parse().unwrap(),
        WatchOptions::default(),
    );
    (twin, observer, suite.scenarios[0].clone(), name)
}

#[tokio::test(start_paused = true)]
async fn the_gate_waits_for_the_cluster_to_stay_steady() {
    let (twin, mut observer, scenario, pod) = setup().await;
    let t0 = Instant::now();
    let flipper = {
        let twin = twin.clone();
        let pod = pod.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            twin.set_pod_ready("kube-system", &pod, true).unwrap();
        })
    };
    let gate = wait_steady(&mut observer, &scenario, Duration::from_secs(60)).await;
    flipper.await.unwrap();
    assert!(gate.steady, "{:?}", gate.unhealthy);
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_secs(5) + STEADY_FOR,
        "opened {waited:?} after start, before the pod had been Ready for {STEADY_FOR:?}"
    );
    assert!(
        waited < Duration::from_secs(5) + STEADY_FOR + Duration::from_secs(2),
        "{waited:?}"
    );

    // A flap inside the window starts it again.
    twin.set_pod_ready("kube-system", &pod, false).unwrap();
    let t1 = Instant::now();
    let flapper = {
        let twin = twin.clone();
        let pod = pod.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            twin.set_pod_ready("kube-system", &pod, true).unwrap();
            tokio::time::sleep(Duration::from_secs(6)).await;
            twin.set_pod_ready("kube-system", &pod, false).unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
            twin.set_pod_ready("kube-system", &pod, true).unwrap();
        })
    };
    let gate = wait_steady(&mut observer, &scenario, Duration::from_secs(60)).await;
    flapper.await.unwrap();
    assert!(gate.steady);
    assert!(
        t1.elapsed() >= Duration::from_secs(9) + STEADY_FOR,
        "the window restarts at the last recovery: {:?}",
        t1.elapsed()
    );

    // Asked for "now" (a zero timeout), the gate does not wait.
    let t2 = Instant::now();
    let gate = wait_steady(&mut observer, &scenario, Duration::ZERO).await;
    assert!(gate.steady);
    assert!(t2.elapsed() < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_cluster_that_never_settles_is_not_steady_with_its_culprit() {
    let (_twin, mut observer, scenario, pod) = setup().await;
    let gate = wait_steady(&mut observer, &scenario, Duration::from_secs(30)).await;
    assert!(!gate.steady);
    assert!(
        gate.unhealthy.iter().any(|c| c.name == pod),
        "{:?}",
        gate.unhealthy
    );
}
