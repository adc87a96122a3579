//! The steady-state gate and the observation window, on any cluster with a
//! Kubernetes API (kind or the twin), driven by an [`Observer`]'s timeline.

use std::time::Duration;

use tokio::time::Instant;

use super::evaluate::{Window, evaluate};
use super::lanes::lanes;
use super::probe;
use super::timeline::{ObjKind, Timeline};
use super::watch::Observer;
use crate::backend::{Gate, NodeInfo, Observation};
use crate::slo::{Culprit, CulpritKind, PodScope, Slo};
use crate::suite::Scenario;

/// How long after the last budget ends observation goes on, so changes in
/// flight reach the timeline before judging.
pub const SETTLE: Duration = Duration::from_secs(5);

/// What is unhealthy right now for this scenario's SLOs: pods in the scopes
/// of its pod SLOs that are not Ready or are crash-looping, nodes that are not
/// Ready. Empty means steady.
pub fn unsteady(tl: &Timeline, scenario: &Scenario) -> Vec<Culprit> {
    let now = tl.end();
    let mut culprits = Vec::new();
    let nodes = tl.present(ObjKind::Node);
    if nodes.is_empty() {
        culprits.push(Culprit {
            kind: CulpritKind::Node,
            namespace: None,
            name: "(none)".into(),
            node: None,
            reason: "no node observed yet".into(),
            restarts: None,
            recovered_after: None,
        });
    }
    for n in &nodes {
        if let Some(s) = tl.node_at(n, now).filter(|s| s.ready != Some(true)) {
            culprits.push(Culprit {
                kind: CulpritKind::Node,
                namespace: None,
                name: n.name.clone(),
                node: None,
                reason: if s.network_unavailable {
                    "NotReady (NetworkUnavailable)".into()
                } else {
                    "NotReady".into()
                },
                restarts: None,
                recovered_after: None,
            });
        }
    }
    let scopes: Vec<&PodScope> = scenario
        .slos
        .iter()
        .filter_map(|s| match s {
            Slo::WorkloadsReadyWithin { scope, .. }
            | Slo::NoCrashLoop { scope, .. }
            | Slo::MaxRestarts { scope, .. } => Some(scope),
            _ => None,
        })
        .collect();
    let pods = tl.present(ObjKind::Pod);
    for scope in scopes {
        let mut matched = 0;
        for p in &pods {
            let Some(s) = tl.pod_at(p, now) else { continue };
            let ns_ok = scope
                .namespace
                .as_ref()
                .is_none_or(|ns| p.namespace.as_deref() == Some(ns.as_str()));
            let sel_ok = scope
                .selector
                .as_ref()
                .is_none_or(|sel| sel.matches(&s.labels));
            if !(ns_ok && sel_ok) || s.deleting {
                continue;
            }
            matched += 1;
            let bad = !s.ready || s.crashloop || s.init_crashloop;
            if bad && !culprits.iter().any(|c| c.name == p.name) {
                culprits.push(Culprit {
                    kind: CulpritKind::Pod,
                    namespace: p.namespace.clone(),
                    name: p.name.clone(),
                    node: s.node.clone(),
                    reason: s.status.clone(),
                    restarts: Some(s.restarts),
                    recovered_after: None,
                });
            }
        }
        if matched == 0 {
            culprits.push(Culprit {
                kind: CulpritKind::Pod,
                namespace: scope.namespace.clone(),
                name: format!("({scope})"),
                node: None,
                reason: "no pod matches".into(),
                restarts: None,
                recovered_after: None,
            });
        }
    }
    culprits
}

/// Waits up to `timeout` for [`unsteady`] to come back empty.
pub async fn wait_steady(observer: &mut Observer, scenario: &Scenario, timeout: Duration) -> Gate {
    let start = Instant::now();
    let deadline = start + timeout;
    loop {
        let culprits = unsteady(&observer.timeline(), scenario);
        if culprits.is_empty() {
            return Gate {
                steady: true,
                waited: start.elapsed(),
                unhealthy: Vec::new(),
            };
        }
        if tokio::time::timeout_at(deadline, observer.changed())
            .await
            .is_err()
        {
            return Gate {
                steady: false,
                waited: start.elapsed(),
                unhealthy: culprits,
            };
        }
    }
}

/// How often a probe is attempted during observation.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// Observes until the longest budget (from `since`) plus [`SETTLE`] has
/// passed, running the scenario's probes as pods meanwhile, then judges every
/// SLO on the timeline.
pub async fn observe_and_judge(
    client: &kube::Client,
    observer: &Observer,
    scenario: &Scenario,
    fault_at: Instant,
    since: Instant,
    node: Option<&NodeInfo>,
) -> Observation {
    let longest = scenario
        .slos
        .iter()
        .filter_map(Slo::budget)
        .max()
        .unwrap_or(Duration::from_secs(60));
    let until = since + longest + SETTLE;
    let mut probes = Vec::new();
    for slo in &scenario.slos {
        if let Slo::ProbeSucceedsWithin { probe, .. } = slo {
            probes.push(tokio::spawn(probe::run_probe(
                client.clone(),
                *probe,
                node.map(|n| n.name.clone()),
                until,
                PROBE_INTERVAL,
                observer.probe_recorder(),
            )));
        }
    }
    tokio::time::sleep_until(until).await;
    for p in probes {
        p.abort();
    }
    let tl = observer.timeline();
    let window = Window {
        fault_at: tl.offset(fault_at),
        reference: tl.offset(since),
        end: tl.offset(Instant::now()),
        fault_node: node.map(|n| n.name.clone()),
    };
    // Lanes from a minute before the fault to the end of observation.
    let from = window.fault_at.saturating_sub(Duration::from_secs(60));
    Observation {
        verdicts: scenario
            .slos
            .iter()
            .map(|slo| evaluate(slo, &tl, &window))
            .collect(),
        lanes: lanes(&tl, from, window.end, window.fault_at),
    }
}
