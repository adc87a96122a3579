//! The `twin` backend end to end under paused time: the incident suite's
//! reboot scenario, gated, injected, observed and judged through kube-rs
//! watchers on the twin's API, for a racy and a fixed Multus.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cni_chaos::backend::twin::TwinBackend;
use cni_chaos::backend::{Backend, Cluster, NodeInfo, select_node};
use cni_chaos::fault::Evidence;
use cni_chaos::slo::{Slo, SloStatus};
use cni_chaos::suite::{ClusterProfile, Scenario};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The scenario `name` of suite file `suite` (under `suites/`).
fn scenario(suite: &str, name: &str) -> Scenario {
    let suites = cni_chaos::suite::load(&[
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../suites/{suite}.yaml"))
    ])
    .expect("suite");
    suites[0]
        .scenarios
        .iter()
        .find(|s| s.name == name)
        .expect("scenario")
        .clone()
}

/// A twin cluster on `versions`, steady for `scenario`, with its fault
/// injected: the cluster, the node, when the fault began and its evidence.
async fn injected(
    scenario: &Scenario,
    versions: &str,
    seed: u64,
) -> (Arc<dyn Cluster>, NodeInfo, Instant, Evidence) {
    let backend = TwinBackend::new(seed, "test");
    assert!(backend.info().simulated);
    // With the VPC NAT gateway, the world these expectations were read on.
    let profile = ClusterProfile {
        kind_config: "default".into(),
        versions: versions.into(),
        nat_gateway: true,
    };
    let cluster = backend
        .provision(&profile, &CancellationToken::new())
        .await
        .expect("provision");
    let gate = cluster
        .steady_state(scenario, Duration::from_secs(600))
        .await
        .expect("gate");
    assert!(gate.steady, "{:?}", gate.unhealthy);
    let nodes = cluster.nodes().await.expect("nodes");
    let node =
        select_node(&nodes, scenario.fault.target().expect("target"), None, 1).expect("node");
    let fault_at = Instant::now();
    let evidence = cluster
        .inject(&scenario.fault, Some(&node))
        .await
        .expect("inject");
    (cluster, node, fault_at, evidence)
}

async fn run(versions: &str) -> Vec<(String, SloStatus, String)> {
    let scenario = scenario("incident", "worker-reboot-multus");
    let (cluster, node, fault_at, evidence) = injected(&scenario, versions, 1).await;
    assert!(evidence.took_effect, "{}", evidence.summary());
    let observation = cluster
        .observe(&scenario, fault_at, fault_at, Some(&node))
        .await
        .expect("observe");
    observation
        .verdicts
        .into_iter()
        .map(|v| {
            let kind = match &v.slo {
                Slo::NoCrashLoop { .. } => "no-crashloop".to_string(),
                other => format!("{other:?}")
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_string(),
            };
            (kind, v.status, v.message)
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn racy_multus_fails_the_incident_scenario_on_the_twin() {
    let verdicts = run("kube-ovn-1.14-multus-4.2.1").await;
    let crash = verdicts
        .iter()
        .find(|v| v.0 == "no-crashloop")
        .expect("no-crashloop verdict");
    assert_eq!(crash.1, SloStatus::Fail, "{verdicts:?}");
    assert!(
        verdicts.iter().filter(|v| v.1 == SloStatus::Fail).count() >= 2,
        "{verdicts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn fixed_multus_passes_the_incident_scenario_on_the_twin() {
    let verdicts = run("kube-ovn-1.15-multus-4.2.3").await;
    let crash = verdicts
        .iter()
        .find(|v| v.0 == "no-crashloop")
        .expect("no-crashloop verdict");
    assert_eq!(crash.1, SloStatus::Pass, "{verdicts:?}");
    let failed: Vec<_> = verdicts.iter().filter(|v| v.1 != SloStatus::Pass).collect();
    assert!(failed.is_empty(), "{failed:?}");
}

/// The twin's seed for the leftover-multus-config runs: on it the new
/// Multus pod's init container runs its `cp` while the frozen shim holds
/// the binary, before the fault's evidence is taken. Whether it has by
/// then is timing the seed decides (the evidence records it either way).
const LEFTOVER_SEED: u64 = 3;

/// How long after leftover-multus-config with `hold_for` (on a racy Multus)
/// the faulted node's new Multus pod is Ready, and the fault's evidence.
async fn leftover_multus(hold_for: Duration) -> (Duration, Evidence) {
    use cni_chaos::fault::Fault;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, ListParams};

    let mut scenario = scenario("nightly", "leftover-multus-config-busy-shim");
    let Fault::LeftoverMultusConfig(l) = &mut scenario.fault else {
        panic!("{:?}", scenario.fault);
    };
    l.hold_for = hold_for;
    let (cluster, node, _, evidence) =
        injected(&scenario, "kube-ovn-1.14-multus-4.2.1", LEFTOVER_SEED).await;
    let injected = Instant::now();
    let api: Api<Pod> = Api::namespaced(cluster.kube_client().expect("client"), "kube-system");
    let lp = ListParams::default()
        .labels("app=multus")
        .fields(&format!("spec.nodeName={}", node.name));
    loop {
        let ready = api.list(&lp).await.expect("pods").items.iter().any(|p| {
            p.metadata.deletion_timestamp.is_none()
                && p.status
                    .as_ref()
                    .and_then(|s| s.conditions.as_ref())
                    .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        });
        if ready || injected.elapsed() > Duration::from_secs(900) {
            return (injected.elapsed(), evidence);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

fn fact<'a>(e: &'a Evidence, key: &str) -> &'a str {
    e.facts
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

/// On the twin, leftover-multus-config freezes the daemon and the shim,
/// and the Multus pod's delete honours its grace without cleanup; the
/// frozen shim then holds the binary for exactly its hold: the new Multus
/// pod cannot be Ready before `hold-for` is over (whatever the shim's own
/// 60 s timeout), and a short hold lets it recover sooner.
#[tokio::test(start_paused = true)]
async fn leftover_multus_config_on_the_twin_holds_the_binary_for_hold_for() {
    let (long, e) = leftover_multus(Duration::from_secs(150)).await;
    assert!(e.took_effect, "{}", e.summary());
    for (key, want) in [
        ("old Multus pod gone", "yes"),
        ("00-multus.conf left", "true"),
        ("install-multus-binary exit code", "1 (Error)"),
    ] {
        assert_eq!(fact(&e, key), want, "{key}: {}", e.summary());
    }
    assert_eq!(
        e.preconditions
            .value(cni_chaos::fault::Precondition::InitTextFileBusy),
        Some(true),
        "{:?}",
        e.preconditions
    );
    assert!(!fact(&e, "busy multus-shim frozen (SIGSTOP)").is_empty());
    let daemon = fact(&e, "multus-daemon frozen (SIGSTOP)");
    assert_eq!(
        fact(&e, &format!("multus-daemon {daemon} after the delete")),
        "gone, without its clean exit",
        "{}",
        e.summary()
    );
    assert!(
        long > Duration::from_secs(150),
        "Ready {long:?} after the injection, within the 150 s hold"
    );
    let (short, _) = leftover_multus(Duration::from_secs(10)).await;
    assert!(
        short < Duration::from_secs(90),
        "a 10 s hold: Ready after {short:?}"
    );
}
