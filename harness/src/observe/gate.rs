//! The steady-state gate and the observation window, on any cluster with a
//! Kubernetes API (kind or the twin), driven by an [`Observer`]'s timeline.

use std::time::Duration;

use tokio::time::Instant;

use super::evaluate::{Window, evaluate};
use super::lanes::lanes;
use super::networks;
use super::probe;
use super::timeline::{ObjKind, ObjRef, PodState, Timeline};
use super::watch::Observer;
use crate::backend::{Cluster, Gate, NodeInfo, Observation};
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
    if super::workload::wanted(scenario) {
        culprits.extend(super::workload::unready(tl));
    }
    let pods = tl.present(ObjKind::Pod);
    for scope in scopes {
        let mut matched = 0;
        for p in &pods {
            let Some(s) = tl.pod_at(p, now) else { continue };
            // The same scope rule the SLOs use (probe pods and completed
            // pods are not workloads).
            if !super::evaluate::in_scope(p, s, scope) || s.deleting {
                continue;
            }
            matched += 1;
            let bad = !s.ready || s.crashloop || s.init_crashloop;
            if bad && !culprits.iter().any(|c| c.name == p.name) {
                culprits.push(unready_pod(p, s));
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

/// A pod the gate waits for, in its current state.
pub(super) fn unready_pod(p: &ObjRef, s: &PodState) -> Culprit {
    Culprit {
        kind: CulpritKind::Pod,
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        node: s.node.clone(),
        reason: s.status.clone(),
        restarts: Some(s.restarts),
        recovered_after: None,
    }
}

/// How long the cluster must stay steady before the gate opens: a cluster
/// that has just become all-Ready may still be settling (a daemon that polls
/// for its config every second, a kubelet between status updates), and a
/// fault injected into it compounds with the last one.
pub const STEADY_FOR: Duration = Duration::from_secs(10);

/// Waits up to `timeout` for [`unsteady`] to stay empty for [`STEADY_FOR`].
/// A zero `timeout` asks whether the cluster is steady right now.
pub async fn wait_steady(observer: &mut Observer, scenario: &Scenario, timeout: Duration) -> Gate {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut steady_since: Option<Instant> = None;
    loop {
        let culprits = observer.with(|tl| unsteady(tl, scenario));
        let now = Instant::now();
        if culprits.is_empty() {
            let since = *steady_since.get_or_insert(now);
            if timeout.is_zero() || now.duration_since(since) >= STEADY_FOR {
                return Gate {
                    steady: true,
                    waited: start.elapsed(),
                    unhealthy: Vec::new(),
                };
            }
            // Until the quiet window is over (even past the deadline: a
            // cluster steady at the deadline gets its window), unless
            // something changes first.
            let _ = tokio::time::timeout_at(since + STEADY_FOR, observer.changed()).await;
            continue;
        }
        steady_since = None;
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
/// SLO on the timeline; [`Slo::SecondaryNetworksComplete`] on the pods as
/// they are then, their links read on their nodes through `cluster`.
pub async fn observe_and_judge(
    client: &kube::Client,
    cluster: &dyn Cluster,
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
    let stop = tokio_util::sync::CancellationToken::new();
    // Unique per observation on this cluster: milliseconds since the
    // observer started, so repeated scenarios never reuse a pod name.
    let token = format!("{:x}", observer.with(|tl| tl.offset(since)).as_millis());
    let mut probes = Vec::new();
    for slo in &scenario.slos {
        if let Slo::ProbeSucceedsWithin { probe, .. } = slo {
            let spec = probe::ProbeLoop {
                kind: *probe,
                node: node.map(|n| n.name.clone()),
                token: token.clone(),
                until,
                interval: PROBE_INTERVAL,
            };
            probes.push(tokio::spawn(probe::run_probe(
                client.clone(),
                spec,
                stop.clone(),
                observer.probe_recorder(),
            )));
        }
    }
    tokio::time::sleep_until(until).await;
    // Each probe deletes the pod of the attempt it is in; give that an API
    // round trip's worth of time, then let go.
    stop.cancel();
    for p in probes {
        if tokio::time::timeout(Duration::from_secs(30), p)
            .await
            .is_err()
        {
            tracing::warn!("a probe did not stop within 30 s after observation");
        }
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
    let mut verdicts = Vec::new();
    for slo in &scenario.slos {
        verdicts.push(match slo {
            Slo::SecondaryNetworksComplete { scope, .. } => {
                let pods = networks::read(client, cluster, scope).await;
                networks::judge(slo, pods.as_deref().map_err(String::as_str))
            }
            _ => evaluate(slo, &tl, &window),
        });
    }
    Observation {
        verdicts,
        lanes: lanes(&tl, from, window.end, window.fault_at),
    }
}

/// Deploys what the scenario's SLOs need running before the fault (the
/// workload of [`super::workload`]), then waits as [`wait_steady`] does.
pub async fn prepare_and_wait_steady(
    client: &kube::Client,
    observer: &mut Observer,
    scenario: &Scenario,
    timeout: Duration,
) -> Result<Gate, crate::backend::BackendError> {
    if !super::workload::wanted(scenario) {
        return Ok(wait_steady(observer, scenario, timeout).await);
    }
    let err = |e: kube::Error| {
        crate::backend::BackendError::other(
            format!("deploying {}", super::workload::WORKLOAD),
            e.to_string(),
        )
    };
    super::workload::ensure(client).await.map_err(err)?;
    let mut gate = wait_steady(observer, scenario, timeout).await;
    if gate.steady {
        // Ready is not enough: a workload pod that came up without its
        // network before the fault would be blamed on it.
        let missing = super::workload::without_network(client)
            .await
            .map_err(err)?;
        if !missing.is_empty() {
            gate.steady = false;
            gate.unhealthy = missing;
        }
    }
    Ok(gate)
}
