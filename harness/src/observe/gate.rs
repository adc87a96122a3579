//! The steady-state gate and the observation window, on any cluster with a
//! Kubernetes API (kind or the twin), driven by an [`Observer`]'s timeline.

use std::time::Duration;

use tokio::time::Instant;

use super::evaluate::{Window, evaluate};
use super::lanes::lanes;
use super::networks;
use super::probe;
use super::settle::{self, ObserveMode, ObservedWindow};
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
    if super::flows::wanted(scenario) {
        culprits.extend(super::workload::unready_of(
            tl,
            super::flows::TRAFFIC_LABEL,
            super::flows::TRAFFIC,
        ));
    }
    if super::longlived::wanted(scenario) {
        culprits.extend(super::workload::unready_of(
            tl,
            super::longlived::LONG_LIVED_LABEL,
            super::longlived::LONG_LIVED,
        ));
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

/// How long the gate waits at least, even for a cluster whose timeline has
/// been quiet for [`STEADY_FOR`] already: a change made just before the
/// call (a pod the harness just touched) reaches the watchers within a
/// watch round trip.
pub const IN_FLIGHT: Duration = Duration::from_secs(2);

/// Waits up to `timeout` for [`unsteady`] to stay empty for [`STEADY_FOR`],
/// counting a quiet stretch that began before the call (the timeline shows
/// no change since, and never before the harness's last action,
/// [`Timeline::fence`]). A zero `timeout` asks whether the cluster is
/// steady right now.
pub async fn wait_steady(observer: &mut Observer, scenario: &Scenario, timeout: Duration) -> Gate {
    let start = Instant::now();
    let deadline = start + timeout;
    let mut steady_since: Option<Instant> = None;
    loop {
        let culprits = observer.with(|tl| unsteady(tl, scenario));
        let now = Instant::now();
        if culprits.is_empty() {
            // Nothing has changed since the last state change (or the
            // harness's last action), and the cluster is steady now: it has
            // been steady since then.
            let since = *steady_since.get_or_insert_with(|| {
                observer
                    .with(|tl| tl.origin() + tl.unchanged_since())
                    .min(now)
            });
            // A quiet stretch from before the call counts, but changes on
            // their way through the API get a watch round trip to arrive.
            let ready_at = (since + STEADY_FOR).max(start + IN_FLIGHT);
            if timeout.is_zero() || now >= ready_at {
                return Gate {
                    steady: true,
                    waited: start.elapsed(),
                    unhealthy: Vec::new(),
                };
            }
            // Until the quiet window is over (even past the deadline: a
            // cluster steady at the deadline gets its window), unless
            // something changes first.
            let _ = tokio::time::timeout_at(ready_at, observer.changed()).await;
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

/// How far past the budgets' end (plus [`SETTLE`]) a floor may keep
/// observation going: a pod spec's own liveness timer can be anything, and
/// the engine abandons an observation 300 s past the longest budget.
pub const FLOOR_PAST_BUDGETS: Duration = Duration::from_secs(240);

/// How often observation asks whether every verdict is known.
pub const DECIDE_EVERY: Duration = Duration::from_secs(1);

/// Observes, running the scenario's probes as pods meanwhile, until every
/// SLO's verdict is known and the window's floor has passed
/// ([`super::settle`]), or in [`ObserveMode::Full`] until the longest
/// budget (from `since`) plus [`SETTLE`] and the floor have passed; then
/// judges every SLO on the timeline ([`Slo::SecondaryNetworksComplete`] on
/// the pods as they are then, their links read on their nodes through
/// `cluster`). In full mode the verdicts known at the early end are kept
/// beside the final ones.
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
    let budgets_end = since + longest + SETTLE;
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
                until: budgets_end,
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
    // kube-ovn-pinger's verdicts onto the timeline while observing.
    if let Some(slo) = scenario
        .slos
        .iter()
        .find(|s| matches!(s, Slo::PingerHealthy { .. }))
    {
        probes.push(tokio::spawn(super::pinger::watch(
            client.clone(),
            slo.clone(),
            node.map(|n| n.name.clone()),
            stop.clone(),
            observer.pinger_recorder(),
        )));
    }
    let settle = scenario.settle;
    let (fault_off, since_off) = observer.with(|tl| (tl.offset(fault_at), tl.offset(since)));
    let base = observer.with(|tl| settle::Baseline::at(tl, fault_off));
    let fault_node = node.map(|n| n.name.clone());
    let origin_wall = observer.with(|tl| tl.origin_wall());
    let read_now = || {
        read_networks(
            client,
            cluster,
            scenario,
            fault_node.as_deref(),
            origin_wall,
        )
    };
    let window_at = |end: Duration| Window {
        fault_at: fault_off,
        reference: since_off,
        end,
        fault_node: fault_node.clone(),
    };
    // Each tick: is every verdict known, and has the floor passed?
    let mut early: Option<(Timeline, Duration)> = None;
    let mut early_networks = Vec::new();
    let mut decided_at = None;
    let floor = loop {
        let now = Instant::now();
        let (known, floor, tl_now) = observer.with(|tl| {
            let t = tl.offset(now);
            let w = window_at(t);
            // Timers count from what happened before the budgets ran out:
            // a component that keeps restarting after them cannot stretch
            // the window by more than one timer.
            let mut floor = settle::floor(
                &scenario.fault,
                tl,
                &base,
                fault_off,
                t.min(tl.offset(budgets_end)),
                settle,
                fault_node.as_deref(),
            );
            if super::longlived::wanted(scenario) {
                super::longlived::raise_floor(&mut floor, &scenario.fault, fault_off, settle);
            }
            let floor = floor.capped(tl.offset(budgets_end), FLOOR_PAST_BUDGETS);
            let known = t >= floor.at
                && scenario
                    .slos
                    .iter()
                    .all(|s| settle::whole_window(s) || settle::known(s, tl, &w, settle));
            (known, floor, t)
        });
        if known && early.is_none() {
            if scenario.observe == ObserveMode::Early {
                decided_at = Some(tl_now);
                break floor;
            }
            early = Some((observer.timeline(), tl_now));
            early_networks = read_now().await;
        }
        let full_end = budgets_end.max(
            observer
                .with(|tl| tl.origin())
                .checked_add(floor.at)
                .unwrap_or(budgets_end),
        );
        if now >= full_end {
            break floor;
        }
        tokio::time::sleep(DECIDE_EVERY.min(full_end - now)).await;
    };
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
    let window = window_at(tl.offset(Instant::now()));
    let networks = read_now().await;
    // The flows over the whole observed window, once, for the reports.
    let traffic: Vec<super::traffic::FlowTraffic> = networks
        .iter()
        .find_map(|r| match r {
            Read::Traffic(Ok(r)) => Some(super::flows::derive(
                r,
                super::traffic::Window {
                    from: window.fault_at,
                    to: window.end,
                },
            )),
            _ => None,
        })
        .map(|flows| {
            flows
                .into_iter()
                .map(|f| f.relative_to(window.fault_at))
                .collect()
        })
        .unwrap_or_default();
    let outputs = outputs(&networks);
    let verdicts = judge(scenario, &tl, &window, networks);
    // When every verdict was known (full mode: the early end's moment);
    // `None` when that never happened before the full window's end.
    let decided = early.as_ref().map(|(_, at)| *at).or(decided_at);
    let early_verdicts =
        early.map(|(etl, at)| judge(scenario, &etl, &window_at(at), early_networks));
    // Lanes from a minute before the fault to the end of observation.
    let from = window.fault_at.saturating_sub(Duration::from_secs(60));
    let rel = |t: Duration| t.saturating_sub(fault_off);
    Observation {
        verdicts,
        early: early_verdicts,
        window: Some(ObservedWindow {
            mode: scenario.observe,
            settle,
            floor: rel(floor.at.min(window.end)),
            floor_why: floor.why,
            decided: decided.map(rel),
            ended: rel(window.end),
            full: rel(tl.offset(budgets_end).max(floor.at.min(window.end))),
        }),
        outputs,
        lanes: {
            let mut l = lanes(&tl, from, window.end, window.fault_at);
            let rel = |d: Duration| {
                i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
                    - i64::try_from(window.fault_at.as_millis()).unwrap_or(0)
            };
            l.extend(super::lanes::traffic_lanes(
                &traffic,
                rel(from),
                rel(window.end),
            ));
            l
        },
        traffic,
    }
}

/// [`crate::backend::Cluster::rejudge`] on an observer's timeline: the
/// timeline SLOs judged up to `until` (or now, if earlier).
pub fn rejudge(
    observer: &Observer,
    scenario: &Scenario,
    fault_at: Instant,
    since: Instant,
    node: Option<&NodeInfo>,
    until: Instant,
) -> Vec<crate::slo::SloVerdict> {
    observer.with(|tl| {
        let w = Window {
            fault_at: tl.offset(fault_at),
            reference: tl.offset(since),
            end: tl.offset(until.min(Instant::now())),
            fault_node: node.map(|n| n.name.clone()),
        };
        scenario
            .slos
            .iter()
            .filter(|s| {
                !matches!(
                    s,
                    Slo::ProbeSucceedsWithin { .. }
                        | Slo::SecondaryNetworksComplete { .. }
                        | Slo::NatGatewayRules { .. }
                        | Slo::PingerHealthy { .. }
                        | Slo::OvnConsistent { .. }
                        | Slo::MaxOutage { .. }
                        | Slo::MaxLoss { .. }
                        | Slo::LongLivedTcp
                )
            })
            .map(|s| evaluate(s, tl, &w))
            .collect()
    })
}

/// What an end-of-observation SLO read in the cluster.
enum Read {
    /// [`Slo::SecondaryNetworksComplete`]'s pods.
    Networks(Result<Vec<networks::PodNetworks>, String>),
    /// [`Slo::NatGatewayRules`]' gateway pods.
    Nat(Result<Box<super::natgw::Reading>, String>),
    /// [`Slo::PingerHealthy`]'s pingers.
    Pinger(Result<Vec<super::pinger::PingerReading>, String>),
    /// [`Slo::OvnConsistent`]'s pods, NB database and nodes.
    Ovn(Result<super::ovn::Reading, String>),
    /// The traffic receivers' logs ([`Slo::MaxOutage`], [`Slo::MaxLoss`]),
    /// read once for all of them.
    Traffic(Result<super::flows::Reading, String>),
    /// The long-lived connections' servers' logs ([`Slo::LongLivedTcp`]).
    LongLived(Result<super::flows::Reading, String>),
}

/// The raw answers of the commands behind `reads`, for the diagnostics.
fn outputs(reads: &[Read]) -> Vec<crate::backend::CommandOutput> {
    reads
        .iter()
        .filter_map(|r| match r {
            Read::Ovn(Ok(r)) => Some(r.outputs.clone()),
            Read::Nat(Ok(r)) => Some(r.outputs()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// What the SLOs judged on the cluster as it is (not on the timeline)
/// read now, one answer per such SLO in the scenario's order.
async fn read_networks(
    client: &kube::Client,
    cluster: &dyn Cluster,
    scenario: &Scenario,
    fault_node: Option<&str>,
    origin_wall: jiff::Timestamp,
) -> Vec<Read> {
    let mut out = Vec::new();
    if super::flows::wanted(scenario) {
        out.push(Read::Traffic(
            super::flows::read(client, cluster, origin_wall).await,
        ));
    }
    for slo in &scenario.slos {
        match slo {
            Slo::SecondaryNetworksComplete { scope, .. } => {
                out.push(Read::Networks(networks::read(client, cluster, scope).await));
            }
            Slo::NatGatewayRules { .. } => {
                out.push(Read::Nat(
                    super::natgw::read(client, cluster, slo).await.map(Box::new),
                ));
            }
            Slo::PingerHealthy { .. } => {
                out.push(Read::Pinger(
                    super::pinger::read(client, slo, fault_node).await,
                ));
            }
            Slo::LongLivedTcp => {
                out.push(Read::LongLived(
                    super::flows::read_pairs(client, &super::longlived::SET, origin_wall).await,
                ));
            }
            Slo::OvnConsistent { .. } => {
                out.push(Read::Ovn(
                    super::ovn::read(client, cluster, slo, fault_node).await,
                ));
            }
            _ => {}
        }
    }
    out
}

/// Every SLO's verdict on `tl` up to `w.end`.
fn judge(
    scenario: &Scenario,
    tl: &Timeline,
    w: &Window,
    reads: Vec<Read>,
) -> Vec<crate::slo::SloVerdict> {
    let mut reads = reads.into_iter().peekable();
    let traffic = match reads.peek() {
        Some(Read::Traffic(_)) => match reads.next() {
            Some(Read::Traffic(r)) => Some(r),
            _ => None,
        },
        _ => None,
    };
    scenario
        .slos
        .iter()
        .map(|slo| match slo {
            Slo::MaxOutage { .. } | Slo::MaxLoss { .. } => {
                let flows = match &traffic {
                    Some(Ok(r)) => {
                        super::flows::loss_window(slo, w.fault_at, w.end).map(|win| {
                            let mut f = super::flows::derive(r, win);
                            if !r.unreadable.is_empty() {
                                // A receiver not read: its flows have no
                                // records, and say why.
                                for flow in &mut f {
                                    if flow.received == 0 {
                                        flow.flow =
                                            format!("{} ({})", flow.flow, r.unreadable.join("; "));
                                    }
                                }
                            }
                            f
                        })
                    }
                    Some(Err(e)) => Err(e.clone()),
                    None => Err("the traffic receivers were not read".into()),
                };
                super::flows::judge(slo, flows.as_deref().map_err(String::as_str))
            }
            Slo::SecondaryNetworksComplete { .. } => {
                let pods = match reads.next() {
                    Some(Read::Networks(r)) => r,
                    _ => Err("the pods were not read".into()),
                };
                networks::judge(slo, pods.as_deref().map_err(String::as_str))
            }
            Slo::NatGatewayRules { .. } => {
                let found = match reads.next() {
                    Some(Read::Nat(r)) => r,
                    _ => Err("the gateway was not read".into()),
                };
                super::natgw::judge(slo, found.as_deref().map_err(String::as_str))
            }
            Slo::PingerHealthy { .. } => {
                let found = match reads.next() {
                    Some(Read::Pinger(r)) => r,
                    _ => Err("the pingers were not read".into()),
                };
                super::pinger::judge(slo, found.as_deref().map_err(String::as_str))
            }
            Slo::LongLivedTcp => {
                let found = match reads.next() {
                    Some(Read::LongLived(r)) => {
                        r.map(|r| super::longlived::derive_reading(&r, w.fault_at))
                    }
                    _ => Err("the long-lived connections' servers were not read".into()),
                };
                super::longlived::judge(slo, found.as_deref().map_err(String::as_str), w.fault_at)
            }
            Slo::OvnConsistent { .. } => {
                let found = match reads.next() {
                    Some(Read::Ovn(r)) => r.map(|r| super::ovn::check(&r.snapshot)),
                    _ => Err("OVN was not read".into()),
                };
                super::ovn::judge(slo, found.as_ref().map_err(String::as_str))
            }
            _ => evaluate(slo, tl, w),
        })
        .collect()
}

/// Deploys what the scenario's SLOs need running before the fault (the
/// workload of [`super::workload`]), then waits as [`wait_steady`] does.
pub async fn prepare_and_wait_steady(
    client: &kube::Client,
    observer: &mut Observer,
    scenario: &Scenario,
    timeout: Duration,
) -> Result<Gate, crate::backend::BackendError> {
    if super::flows::wanted(scenario) {
        super::flows::ensure_traffic(client).await.map_err(|e| {
            crate::backend::BackendError::other(
                format!("deploying {}", super::flows::TRAFFIC),
                e.to_string(),
            )
        })?;
    }
    if super::longlived::wanted(scenario) {
        let set = super::longlived::SET;
        super::flows::ensure(
            client,
            &[super::flows::service(&set)],
            &super::longlived::daemonset(),
        )
        .await
        .map_err(|e| {
            crate::backend::BackendError::other(format!("deploying {}", set.name), e.to_string())
        })?;
    }
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
