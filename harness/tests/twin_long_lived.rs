//! Long-lived TCP connections on the twin (issue 16): ovs-vswitchd on one
//! worker frozen for 20 s (`stop-for: 20s`) stops every connection through
//! that worker; TCP's retransmission bridges the freeze and each one
//! carries on, so `long-lived-tcp` passes and reports the longest gap
//! (the freeze, ended by the first retransmission after it); a 30 s
//! partition of the worker likewise. A fault that
//! kills an endpoint is refused by validation; run anyway (the scenario
//! built past the reader), it fails naming the connections that broke.
//! The servers' logs are read through the API with their timestamps and
//! judged by the same code as on kind (observe::longlived); the twin's
//! rule `long-lived-tcp-rides-out-a-freeze` decides what they show.

mod support;

use cni_chaos::fault::{Fault, NodeRole, NodeTarget, PodDelete};
use cni_chaos::observe::longlived::{LONG_LIVED, LONG_LIVED_LABEL};
use cni_chaos::observe::probe::PROBE_NAMESPACE;
use cni_chaos::run::ScenarioResult;
use cni_chaos::slo::{Measured, SloKind, SloStatus, SloVerdict};
use cni_chaos::suite::LabelSelector;

const FROZEN: &str = "chaos-twin-worker";

/// The long-lived-tcp verdict of a run.
fn long_lived(r: &ScenarioResult) -> &SloVerdict {
    r.slos
        .iter()
        .find(|v| v.slo.kind() == SloKind::LongLivedTcp)
        .expect("the long-lived-tcp verdict")
}

/// The longest gap a passing verdict measured, in ms.
fn gap_ms(v: &SloVerdict) -> u64 {
    match v.measured {
        Some(Measured::Millis(gap)) => gap,
        _ => panic!("no gap measured: {v:#?}"),
    }
}

const FREEZE: &str = r#"
name: long-lived
description: a long-lived connection through a frozen ovs-vswitchd
scenarios:
  - name: ovs-vswitchd-freeze
    fault: {kind: ovs-kill, target: {role: worker, index: 0}, process: ovs-vswitchd, signal: stop, stop-for: 20s}
    slos:
      - {kind: long-lived-tcp}
"#;

#[tokio::test(start_paused = true)]
async fn a_20s_vswitchd_freeze_leaves_every_long_lived_connection_alive_with_its_gap_measured() {
    let (suite, cluster) = support::twin_cluster("long-lived.yaml", FREEZE);
    let r = support::run_first(&suite, cluster).await;
    assert_eq!(r.node.as_deref(), Some(FROZEN), "{r:#?}");
    let v = long_lived(&r);
    assert_eq!(v.status, SloStatus::Pass, "{v:#?}");
    assert!(v.message.contains("over 6 connections"), "{}", v.message);
    let gap = gap_ms(v);
    // The freeze is 20 s; the gap ends at the first retransmission after
    // it (200 ms doubling: 12.6 s, then 25.4 s after the first loss), one
    // line interval either way.
    support::say(&format!(
        "TWIN long-lived-tcp over a 20 s ovs-vswitchd freeze: longest gap {gap} ms ({})",
        v.message
    ));
    assert!((20_000..=26_000).contains(&gap), "gap {gap} ms");
}

#[tokio::test(start_paused = true)]
async fn a_30s_partition_is_ridden_out_too_the_gap_ending_at_a_retransmission_after_it() {
    let text = FREEZE.replace(
        "{kind: ovs-kill, target: {role: worker, index: 0}, process: ovs-vswitchd, signal: stop, stop-for: 20s}",
        "{kind: network-partition, target: {role: worker, index: 0}, duration: 30s}",
    );
    let (suite, cluster) = support::twin_cluster("long-lived.yaml", &text);
    let r = support::run_first(&suite, cluster).await;
    let v = long_lived(&r);
    assert_eq!(v.status, SloStatus::Pass, "{v:#?}");
    let gap = gap_ms(v);
    support::say(&format!(
        "TWIN long-lived-tcp over a 30 s partition: longest gap {gap} ms"
    ));
    // Retransmissions 25.4 s and 51 s after the first loss: the first after
    // a 30 s partition is the one at 51 s.
    assert!((30_000..=52_000).contains(&gap), "gap {gap} ms");
}

#[test]
fn validation_refuses_long_lived_tcp_with_a_fault_that_deletes_its_pods() {
    let text = FREEZE.replace(
        "{kind: ovs-kill, target: {role: worker, index: 0}, process: ovs-vswitchd, signal: stop, stop-for: 20s}",
        "{kind: pod-delete, namespace: cni-chaos-probes, selector: \"cni-chaos.io/long-lived=chaos-long-lived\", target: {role: worker, index: 0}}",
    );
    let problems =
        cni_chaos::suite::parse_str(std::path::Path::new("x.yaml"), &text).expect_err("refused");
    let text = format!("{problems:?}");
    assert!(text.contains("deletes the long-lived pods"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_long_lived_pod_deleted_anyway_fails_naming_the_connections_that_broke() {
    let (mut suite, cluster) = support::twin_cluster("long-lived.yaml", FREEZE);
    // What validation refuses (the test above), built past the reader:
    // the long-lived pod on the first worker deleted mid-scenario.
    suite.scenarios[0].fault = Fault::PodDelete(PodDelete {
        namespace: PROBE_NAMESPACE.into(),
        selector: LabelSelector::parse(&format!("{LONG_LIVED_LABEL}={LONG_LIVED}")).unwrap(),
        target: Some(NodeTarget::Role {
            role: NodeRole::Worker,
            index: 0,
        }),
        grace_period: None,
    });
    let r = support::run_first(&suite, cluster).await;
    let v = long_lived(&r);
    assert_eq!(v.status, SloStatus::Fail, "{v:#?}");
    // The deleted pod's client connections broke: its replacement's
    // client reconnected to every other node.
    let names: Vec<&str> = v.culprits.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    for c in &v.culprits {
        assert!(
            c.name
                .starts_with(&format!("connection long-lived-tcp {FROZEN} -> ")),
            "{c:?}"
        );
        assert!(
            c.reason.contains("broke") && c.reason.contains("reconnect as"),
            "{c:?}"
        );
    }
    support::say(&format!(
        "TWIN long-lived-tcp with the first worker's long-lived pod deleted: {}",
        v.message
    ));
}
