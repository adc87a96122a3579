//! The `twin` backend end to end under paused time: the incident suite's
//! reboot scenario, gated, injected, observed and judged through kube-rs
//! watchers on the twin's API, for a racy and a fixed Multus.

use std::path::PathBuf;
use std::time::Duration;

use cni_chaos::backend::twin::TwinBackend;
use cni_chaos::backend::{Backend, select_node};
use cni_chaos::slo::{Slo, SloStatus};
use cni_chaos::suite::ClusterProfile;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

async fn run(versions: &str) -> Vec<(String, SloStatus, String)> {
    let suites = cni_chaos::suite::load(&[
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../suites/incident.yaml")
    ])
    .expect("incident suite");
    let scenario = suites[0]
        .scenarios
        .iter()
        .find(|s| s.name == "worker-reboot-multus")
        .expect("scenario")
        .clone();
    let backend = TwinBackend::new(1, "test");
    assert!(backend.info().simulated);
    let profile = ClusterProfile {
        kind_config: "default".into(),
        versions: versions.into(),
    };
    let cluster = backend
        .provision(&profile, &CancellationToken::new())
        .await
        .expect("provision");
    let gate = cluster
        .steady_state(&scenario, Duration::from_secs(600))
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
