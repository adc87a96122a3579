//! Hand-built runs for the report tests: a three-node kind cluster running
//! Kube-OVN and Multus whose worker is rebooted. In the failing run
//! kube-multus-ds on the rebooted node is stuck in Init:CrashLoopBackOff (the
//! stale `00-multus.conf` incident) while the other nodes' lanes stay Ready;
//! in the passing run it recovers.
//!
//! The lanes are written by hand from what the twin and kind produce for this
//! incident. When the twin backend can run the incident suite end to end,
//! the browser test can render real twin runs instead (see
//! `report_browser.rs`).

#![allow(dead_code, missing_docs)]

use std::collections::BTreeMap;
use std::time::Duration;

use cni_chaos::backend::BackendInfo;
use cni_chaos::fault::Evidence;
use cni_chaos::observe::{Lane, ObjKind, ObjRef, Segment};
use cni_chaos::report::RunRecord;
use cni_chaos::run::{
    Check, CheckKind, CheckStatus, Outcome, RunEvent, RunInfo, ScenarioResult, Verdict,
};
use cni_chaos::slo::{
    CrashLoopContainers, Culprit, CulpritKind, Measured, NodeScope, PodScope, Slo, SloStatus,
    SloVerdict,
};
use cni_chaos::suite::{Expect, ScenarioId};

pub const REBOOTED: &str = "kind-worker";
pub const MULTUS_ON_REBOOTED: &str = "kube-multus-ds-7xk2p";
pub const MULTUS_ON_HEALTHY: &str = "kube-multus-ds-q9d4m";
/// Where observation ends, relative to the fault.
pub const END_MS: i64 = 185_000;

pub fn info(run_id: &str, simulated: bool) -> RunInfo {
    RunInfo {
        run_id: run_id.into(),
        backend: BackendInfo {
            name: if simulated { "twin" } else { "kind" }.into(),
            reason: "report test".into(),
            simulated,
            virtual_clock: simulated,
            versions: BTreeMap::from([
                ("kube-ovn".to_string(), "v1.14.0".to_string()),
                ("multus".to_string(), "v4.1.0".to_string()),
                ("kubernetes".to_string(), "v1.31.0".to_string()),
            ]),
        },
        seed: 7,
        started_at: "2026-01-10T02:00:00Z".parse().unwrap(),
        harness_version: "0.1.0".into(),
        estimate: None,
    }
}

fn seg(from_ms: i64, to_ms: i64, state: &str) -> Segment {
    Segment {
        from_ms,
        to_ms,
        state: state.into(),
    }
}

fn node(name: &str, segments: Vec<Segment>) -> Lane {
    Lane {
        object: ObjRef {
            kind: ObjKind::Node,
            namespace: None,
            name: name.into(),
        },
        node: None,
        segments,
    }
}

fn pod(ns: &str, name: &str, on: &str, segments: Vec<Segment>) -> Lane {
    Lane {
        object: ObjRef::pod(ns, name),
        node: Some(on.into()),
        segments,
    }
}

fn ready(from: i64, to: i64) -> Vec<Segment> {
    vec![seg(from, to, "Ready")]
}

/// The lanes of a worker reboot; `stuck`: multus on the rebooted node never
/// recovers.
pub fn reboot_lanes(stuck: bool) -> Vec<Lane> {
    let s = -60_000;
    let e = END_MS;
    let mut lanes = vec![
        node("kind-control-plane", ready(s, e)),
        node(
            REBOOTED,
            vec![
                seg(s, 1_000, "Ready"),
                seg(1_000, 41_000, "NotReady"),
                seg(41_000, e, "Ready"),
            ],
        ),
        node("kind-worker2", ready(s, e)),
    ];
    // Control plane: steady.
    for (ns, name) in [
        ("kube-system", "etcd-kind-control-plane"),
        ("kube-system", "kube-apiserver-kind-control-plane"),
        ("kube-system", "kube-ovn-controller-5d8f7c9b4-lx2wq"),
        ("kube-system", "ovn-central-6b7d9c8f5-r4t7n"),
        ("kube-system", "kube-multus-ds-h5c2z"),
        ("kube-system", "kube-ovn-cni-8kq2d"),
        ("kube-system", "ovs-ovn-2jq9x"),
        ("kube-system", "coredns-7db6d8ff4d-9xj2k"),
    ] {
        lanes.push(pod(ns, name, "kind-control-plane", ready(s, e)));
    }
    // Healthy worker.
    for (ns, name) in [
        ("kube-system", MULTUS_ON_HEALTHY),
        ("kube-system", "kube-ovn-cni-w7p4s"),
        ("kube-system", "ovs-ovn-6hn8v"),
        ("kube-system", "kube-proxy-m2x8c"),
        ("default", "web-6f9c7d5b8-tz4qk"),
    ] {
        lanes.push(pod(ns, name, "kind-worker2", ready(s, e)));
    }
    // The replacement of the evicted web pod, scheduled on the healthy worker.
    lanes.push(pod(
        "default",
        "web-6f9c7d5b8-b8n3v",
        "kind-worker2",
        vec![
            seg(s, 44_000, "absent"),
            seg(44_000, 47_500, "ContainerCreating"),
            seg(47_500, e, "Ready"),
        ],
    ));
    // The rebooted worker.
    let multus = if stuck {
        vec![
            seg(s, 1_000, "Ready"),
            seg(1_000, 41_000, "NotReady"),
            seg(41_000, 52_000, "Init:0/1"),
            seg(52_000, 66_000, "Init:CrashLoopBackOff"),
            seg(66_000, 67_000, "Init:0/1"),
            seg(67_000, 97_000, "Init:CrashLoopBackOff"),
            seg(97_000, 98_000, "Init:0/1"),
            seg(98_000, e, "Init:CrashLoopBackOff"),
        ]
    } else {
        vec![
            seg(s, 1_000, "Ready"),
            seg(1_000, 41_000, "NotReady"),
            seg(41_000, 49_000, "Init:0/1"),
            seg(49_000, 52_000, "NotReady"),
            seg(52_000, e, "Ready"),
        ]
    };
    lanes.push(pod("kube-system", MULTUS_ON_REBOOTED, REBOOTED, multus));
    lanes.push(pod(
        "kube-system",
        "kube-ovn-cni-z6f2r",
        REBOOTED,
        vec![
            seg(s, 1_000, "Ready"),
            seg(1_000, 41_000, "NotReady"),
            seg(41_000, 58_000, "NotReady"),
            seg(58_000, e, "Ready"),
        ],
    ));
    lanes.push(pod(
        "kube-system",
        "ovs-ovn-k4m7t",
        REBOOTED,
        vec![
            seg(s, 1_000, "Ready"),
            seg(1_000, 41_000, "NotReady"),
            seg(41_000, 46_000, "CrashLoopBackOff"),
            seg(46_000, e, "Ready"),
        ],
    ));
    lanes.push(pod(
        "kube-system",
        "kube-proxy-5zq8w",
        REBOOTED,
        vec![
            seg(s, 1_000, "Ready"),
            seg(1_000, 43_000, "NotReady"),
            seg(43_000, e, "Ready"),
        ],
    ));
    lanes.push(pod(
        "default",
        "web-6f9c7d5b8-x7k9p",
        REBOOTED,
        vec![
            seg(s, 1_000, "Ready"),
            seg(1_000, 40_000, "NotReady"),
            seg(40_000, 44_000, "Terminating"),
            seg(44_000, e, "absent"),
        ],
    ));
    let app = if stuck {
        vec![
            seg(s, 1_000, "Ready"),
            seg(1_000, 41_000, "NotReady"),
            seg(41_000, e, "ContainerCreating"),
        ]
    } else {
        vec![
            seg(s, 1_000, "Ready"),
            seg(1_000, 41_000, "NotReady"),
            seg(41_000, 60_000, "ContainerCreating"),
            seg(60_000, e, "Ready"),
        ]
    };
    lanes.push(pod("default", "net-probe-2m8xq", REBOOTED, app));
    lanes
}

/// `n` application pods spread over the three nodes; those on the rebooted
/// node go through NotReady and ContainerCreating.
pub fn many_app_lanes(n: usize) -> Vec<Lane> {
    let nodes = ["kind-control-plane", REBOOTED, "kind-worker2"];
    (0..n)
        .map(|i| {
            let on = nodes[i % nodes.len()];
            let segments = if on == REBOOTED {
                let back = 45_000 + i64::try_from(i).unwrap_or(0) * 150;
                vec![
                    seg(-60_000, 1_000, "Ready"),
                    seg(1_000, 41_000, "NotReady"),
                    seg(41_000, back, "ContainerCreating"),
                    seg(back, END_MS, "Ready"),
                ]
            } else {
                ready(-60_000, END_MS)
            };
            pod("shop", &format!("checkout-7c9d5f-{i:03}"), on, segments)
        })
        .collect()
}

fn ready_slo() -> Slo {
    Slo::WorkloadsReadyWithin {
        scope: PodScope {
            namespace: Some("kube-system".into()),
            selector: None,
        },
        budget: Duration::from_secs(180),
    }
}

fn node_slo() -> Slo {
    Slo::NodeReadyWithin {
        nodes: NodeScope::All,
        budget: Duration::from_secs(120),
    }
}

fn crashloop_slo() -> Slo {
    Slo::NoCrashLoop {
        scope: PodScope {
            namespace: Some("kube-system".into()),
            selector: None,
        },
        containers: CrashLoopContainers::Init,
        allowance: 0,
    }
}

pub fn multus_culprit() -> Culprit {
    Culprit {
        kind: CulpritKind::Pod,
        namespace: Some("kube-system".into()),
        name: MULTUS_ON_REBOOTED.into(),
        node: Some(REBOOTED.into()),
        reason: "Init:CrashLoopBackOff".into(),
        restarts: Some(3),
        recovered_after: None,
    }
}

fn verdict(slo: Slo, status: SloStatus, measured: Measured, culprits: Vec<Culprit>) -> SloVerdict {
    let message = match status {
        SloStatus::Pass => format!("{} held: {measured}", slo.kind().as_str()),
        _ => format!("{} broken: measured {measured}", slo.kind().as_str()),
    };
    SloVerdict {
        slo,
        status,
        measured: Some(measured),
        culprits,
        message,
    }
}

fn check(name: &str, kind: CheckKind, message: &str) -> Check {
    let mut c = Check::new(name, kind, CheckStatus::Passed, message);
    c.elapsed = Duration::from_millis(1200);
    c
}

/// A node-reboot scenario result with the given SLO verdicts.
pub fn scenario(
    name: &str,
    slos: Vec<SloVerdict>,
    lanes: Vec<Lane>,
    expect: Expect,
) -> ScenarioResult {
    let mut checks = vec![
        check("steady state", CheckKind::SteadyState, "steady after 5s"),
        check(
            "fault took effect",
            CheckKind::FaultEffect,
            "node-reboot graceful: StartedAt changed",
        ),
    ];
    checks.extend(slos.iter().map(Check::from_verdict));
    checks.push(check("cleanup", CheckKind::Cleanup, "reverted"));
    let failed: Vec<String> = slos
        .iter()
        .filter(|v| v.status == SloStatus::Fail)
        .map(|v| v.slo.to_string())
        .collect();
    let outcome = if failed.is_empty() {
        Outcome::Passed
    } else {
        Outcome::SloFailed { failed }
    };
    let culprits: Vec<Culprit> = slos.iter().flat_map(|v| v.culprits.clone()).collect();
    let verdict = Verdict::judge(&outcome, &expect, &culprits, &[], None);
    let diagnostics = (!culprits.is_empty()).then(|| {
        format!(
            "kubectl describe pod -n kube-system {MULTUS_ON_REBOOTED}\n  Init Containers:\n    install-multus-binary:\n      State: Waiting\n        Reason: CrashLoopBackOff\n      Last State: Terminated\n        Reason: Error\n        Message: cp: cannot create regular file '/host/opt/cni/bin/multus-shim': Text file busy\n"
        )
    });
    ScenarioResult {
        id: ScenarioId {
            suite: "incidents".into(),
            scenario: name.into(),
        },
        iteration: 1,
        repeat: 1,
        cluster: Some("cni-chaos-default".into()),
        versions: Default::default(),
        fault: "node-reboot graceful".into(),
        node: Some(REBOOTED.into()),
        evidence: Some(Evidence::proven(
            Some(REBOOTED.into()),
            vec![
                ("StartedAt before".into(), "2026-01-10T02:00:03Z".into()),
                ("StartedAt after".into(), "2026-01-10T02:00:09Z".into()),
            ],
        )),
        expect,
        outcome,
        verdict,
        checks,
        slos,
        symptoms: Vec::new(),
        diagnostics,
        lanes,
        traffic: Vec::new(),
        observation: None,
        early_slos: None,
        late_relapses: Vec::new(),
        remediation_ms: None,
        started_at: "2026-01-10T02:00:01Z".parse().unwrap(),
        elapsed: Duration::from_secs(205),
    }
}

/// The reboot where multus stays in Init:CrashLoopBackOff: two failed SLOs.
pub fn failing_scenario() -> ScenarioResult {
    scenario(
        "worker-reboot-multus",
        vec![
            verdict(
                ready_slo(),
                SloStatus::Fail,
                Measured::Millis(185_000),
                vec![multus_culprit()],
            ),
            verdict(
                node_slo(),
                SloStatus::Pass,
                Measured::Millis(41_000),
                vec![],
            ),
            verdict(
                crashloop_slo(),
                SloStatus::Fail,
                Measured::Count(3),
                vec![multus_culprit()],
            ),
        ],
        reboot_lanes(true),
        Expect::Pass,
    )
}

/// The reboot that recovers; `ready_ms` is when kube-system was Ready.
pub fn passing_scenario(name: &str, ready_ms: u64) -> ScenarioResult {
    scenario(
        name,
        vec![
            verdict(
                ready_slo(),
                SloStatus::Pass,
                Measured::Millis(ready_ms),
                vec![],
            ),
            verdict(
                node_slo(),
                SloStatus::Pass,
                Measured::Millis(41_000),
                vec![],
            ),
            verdict(crashloop_slo(), SloStatus::Pass, Measured::Count(0), vec![]),
        ],
        reboot_lanes(false),
        Expect::Pass,
    )
}

/// A finished run of `results`.
pub fn record(run_id: &str, simulated: bool, results: Vec<ScenarioResult>) -> RunRecord {
    RunRecord::from_events(events(run_id, simulated, results)).unwrap()
}

/// Every event of a finished run of `results`.
pub fn events(run_id: &str, simulated: bool, results: Vec<ScenarioResult>) -> Vec<RunEvent> {
    let info = info(run_id, simulated);
    let end = info.started_at + jiff::SignedDuration::from_secs(420);
    let mut events = vec![RunEvent::RunStarted(info)];
    events.extend(
        results
            .into_iter()
            .map(|r| RunEvent::ScenarioFinished(Box::new(r))),
    );
    events.push(RunEvent::RunFinished {
        finished_at: end,
        interrupted: false,
        teardown_errors: vec![],
    });
    events
}
