//! SLO evaluation: each SLO judged against a [`Timeline`], with the measured
//! value, the budget and the culprits that held it back.

use std::time::Duration;

use super::timeline::{Change, ObjKind, ObjRef, PodState, Timeline};
use crate::slo::{
    CrashLoopContainers, Culprit, CulpritKind, Measured, NodeScope, PodScope, Slo, SloStatus,
    SloVerdict,
};
use crate::util::duration;

/// The instants an evaluation is relative to, as timeline offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// When the fault was injected.
    pub fault_at: Duration,
    /// What recovery is timed from: the fault, or the remediation when there is one.
    pub reference: Duration,
    /// The end of observation.
    pub end: Duration,
    /// The node the fault acted on.
    pub fault_node: Option<String>,
}

/// Judges one SLO.
pub fn evaluate(slo: &Slo, tl: &Timeline, w: &Window) -> SloVerdict {
    let (status, measured, culprits, message) = match slo {
        Slo::WorkloadsReadyWithin { scope, budget } => workloads_ready(tl, w, scope, *budget),
        Slo::NoCrashLoop {
            scope,
            containers,
            allowance,
        } => no_crashloop(tl, w, scope, *containers, *allowance),
        Slo::MaxRestarts { scope, max } => max_restarts(tl, w, scope, *max),
        Slo::NodeReadyWithin { nodes, budget } => node_ready(tl, w, *nodes, *budget),
        Slo::NodeIpStable { nodes } => node_ip_stable(tl, w, *nodes),
        Slo::ProbeSucceedsWithin { probe, budget } => probe_within(tl, w, *probe, *budget),
        Slo::SecondaryNetworksComplete { .. } => {
            let why = "judged on the pods and their network namespaces at the end of observation (observe::networks), not on the timeline".to_string();
            (SloStatus::NotEvaluated(why.clone()), None, Vec::new(), why)
        }
        Slo::MaxOutage { .. } | Slo::MaxLoss { .. } => {
            let why = "judged on the traffic receivers' logs at the end of observation (observe::flows), not on the timeline".to_string();
            (SloStatus::NotEvaluated(why.clone()), None, Vec::new(), why)
        }
        Slo::LongLivedTcp => {
            let why = "judged on the long-lived connections' servers' logs at the end of observation (observe::longlived), not on the timeline".to_string();
            (SloStatus::NotEvaluated(why.clone()), None, Vec::new(), why)
        }
        Slo::PingerHealthy { .. } => {
            let why = "judged on kube-ovn-pinger's log at the end of observation (observe::pinger), not on the timeline".to_string();
            (SloStatus::NotEvaluated(why.clone()), None, Vec::new(), why)
        }
        Slo::OvnConsistent { .. } => {
            let why = "judged on OVN's northbound database, every node's br-int and ovn-controller, read in Kube-OVN's pods at the end of observation (observe::ovn), not on the timeline".to_string();
            (SloStatus::NotEvaluated(why.clone()), None, Vec::new(), why)
        }
        Slo::NatGatewayRules { .. } => {
            let why = "judged on the gateway's NAT table and net1, read in its pod at the end of observation (observe::natgw), not on the timeline".to_string();
            (SloStatus::NotEvaluated(why.clone()), None, Vec::new(), why)
        }
    };
    SloVerdict {
        slo: slo.clone(),
        status,
        measured,
        culprits,
        message,
    }
}

type Judged = (SloStatus, Option<Measured>, Vec<Culprit>, String);

/// Whether a pod counts for a pod scope of an SLO (and the steady-state gate).
pub(crate) fn in_scope(obj: &ObjRef, state: &PodState, scope: &PodScope) -> bool {
    // The harness's own probe pods are measured by the probe SLOs, and a
    // pod that ran to completion (a Job's) is done, not unready.
    let harness_own = state
        .labels
        .contains_key(crate::observe::probe::PROBE_LABEL)
        || obj.namespace.as_deref() == Some(crate::observe::probe::PROBE_NAMESPACE);
    !harness_own
        && state.status != "Completed"
        && scope
            .namespace
            .as_ref()
            .is_none_or(|ns| obj.namespace.as_deref() == Some(ns.as_str()))
        && scope
            .selector
            .as_ref()
            .is_none_or(|sel| sel.matches(&state.labels))
}

/// Pods in scope, with their state at offset `t`.
fn pods_at<'a>(tl: &'a Timeline, scope: &PodScope, t: Duration) -> Vec<(ObjRef, &'a PodState)> {
    tl.objects(ObjKind::Pod)
        .into_iter()
        .filter_map(|o| tl.pod_at(&o, t).map(|s| (o, s)))
        .filter(|(o, s)| in_scope(o, s, scope))
        .collect()
}

/// When the pod's last stretch of being ready (at `deadline`) began, but not
/// before `reference`.
fn ready_since(tl: &Timeline, obj: &ObjRef, reference: Duration, deadline: Duration) -> Duration {
    let mut since = reference;
    let mut ready = false;
    for tr in tl.states(obj).take_while(|t| t.at <= deadline) {
        let now = matches!(&tr.change, Change::Pod(s) if s.serving());
        if now && !ready {
            since = tr.at.max(reference);
        }
        ready = now;
    }
    since
}

/// The first time after `after` the pod was ready, relative to `reference`.
fn recovered_after(
    tl: &Timeline,
    obj: &ObjRef,
    after: Duration,
    reference: Duration,
) -> Option<Duration> {
    tl.states(obj)
        .filter(|t| t.at > after)
        .find(|t| matches!(&t.change, Change::Pod(s) if s.serving()))
        .map(|t| t.at.saturating_sub(reference))
}

fn pod_culprit(
    obj: &ObjRef,
    state: Option<&PodState>,
    reason: String,
    restarts: Option<u32>,
    recovered: Option<Duration>,
) -> Culprit {
    Culprit {
        kind: CulpritKind::Pod,
        namespace: obj.namespace.clone(),
        name: obj.name.clone(),
        node: state.and_then(|s| s.node.clone()),
        reason,
        restarts,
        recovered_after: recovered,
    }
}

/// The worst status a pod showed between `from` and `to` (crash loops first).
fn worst_status(tl: &Timeline, obj: &ObjRef, from: Duration, to: Duration) -> Option<String> {
    let states: Vec<&PodState> = tl
        .states(obj)
        .filter(|t| t.at >= from && t.at <= to)
        .filter_map(|t| match &t.change {
            Change::Pod(s) => Some(s),
            _ => None,
        })
        .collect();
    states
        .iter()
        .find(|s| s.init_crashloop)
        .or_else(|| states.iter().find(|s| s.crashloop))
        .or(states.last())
        .map(|s| s.status.clone())
}

fn restarts_baseline(tl: &Timeline, obj: &ObjRef, fault_at: Duration) -> u32 {
    tl.pod_at(obj, fault_at).map_or(0, |s| s.restarts)
}

fn workloads_ready(tl: &Timeline, w: &Window, scope: &PodScope, budget: Duration) -> Judged {
    let deadline = (w.reference + budget).min(w.end.max(w.reference + budget));
    let before = pods_at(tl, scope, w.fault_at);
    let after: Vec<_> = pods_at(tl, scope, deadline)
        .into_iter()
        .filter(|(_, s)| !s.deleting)
        .collect();
    if after.is_empty() {
        let msg = format!("no pod matches {scope} at the deadline: nothing to judge");
        return (SloStatus::Fail, None, Vec::new(), msg);
    }
    let mut culprits = Vec::new();
    let mut slowest = Duration::ZERO;
    for (obj, state) in &after {
        if state.serving() {
            slowest = slowest.max(ready_since(tl, obj, w.reference, deadline) - w.reference);
        } else {
            let reason =
                worst_status(tl, obj, w.fault_at, deadline).unwrap_or_else(|| state.status.clone());
            let base = restarts_baseline(tl, obj, w.fault_at);
            culprits.push(pod_culprit(
                obj,
                Some(state),
                reason,
                Some(state.restarts.saturating_sub(base)),
                recovered_after(tl, obj, deadline, w.reference),
            ));
        }
    }
    // Pods that were there before the fault and are gone without a replacement.
    if before.len() > after.len() {
        for (obj, state) in &before {
            if !after.iter().any(|(o, _)| o == obj) {
                culprits.push(pod_culprit(
                    obj,
                    Some(state),
                    "deleted, not replaced".into(),
                    None,
                    None,
                ));
            }
        }
    }
    if culprits.is_empty() {
        let msg = format!(
            "{} pods Ready {} after the {}",
            after.len(),
            duration::format(slowest),
            if w.reference == w.fault_at {
                "fault"
            } else {
                "remediation"
            }
        );
        (
            SloStatus::Pass,
            Some(Measured::duration(slowest)),
            culprits,
            msg,
        )
    } else {
        let msg = format!(
            "{} of {} pods not Ready within {}",
            culprits.len(),
            after.len().max(before.len()),
            duration::format(budget)
        );
        (SloStatus::Fail, None, culprits, msg)
    }
}

fn no_crashloop(
    tl: &Timeline,
    w: &Window,
    scope: &PodScope,
    which: CrashLoopContainers,
    allowance: u32,
) -> Judged {
    let mut entries = 0u64;
    let mut culprits = Vec::new();
    for obj in tl.objects(ObjKind::Pod) {
        let mut looping = tl
            .pod_at(&obj, w.fault_at)
            .is_some_and(|s| counts(s, which));
        let mut own = 0u64;
        let mut last: Option<&PodState> = None;
        let mut first_reason = None;
        // One entry per episode: from entering a crash loop until the pod
        // is Ready again or gone. The kubelet's retries inside one episode
        // (back-off, run, fail, back-off) are the same crash loop.
        for tr in tl
            .states(&obj)
            .filter(|t| t.at > w.fault_at && t.at <= w.end)
        {
            let s = match &tr.change {
                Change::Pod(s) => s,
                Change::PodGone => {
                    looping = false;
                    continue;
                }
                _ => continue,
            };
            if !in_scope(&obj, s, scope) {
                continue;
            }
            if counts(s, which) && !looping {
                own += 1;
                first_reason.get_or_insert_with(|| s.status.clone());
                looping = true;
            } else if s.serving() {
                looping = false;
            }
            last = Some(s);
        }
        if own > 0 {
            entries += own;
            let base = restarts_baseline(tl, &obj, w.fault_at);
            let recovered = tl
                .states(&obj)
                .filter(|t| t.at > w.fault_at)
                .filter(|t| matches!(&t.change, Change::Pod(s) if s.serving()))
                .last()
                .filter(|_| last.is_some_and(PodState::serving))
                .map(|t| t.at.saturating_sub(w.reference));
            culprits.push(pod_culprit(
                &obj,
                last,
                first_reason.unwrap_or_default(),
                last.map(|s| s.restarts.saturating_sub(base)),
                recovered,
            ));
        }
    }
    let measured = Some(Measured::Count(entries));
    if entries > u64::from(allowance) {
        let msg =
            format!("{entries} crash-loop entries ({which} containers), allowance {allowance}");
        (SloStatus::Fail, measured, culprits, msg)
    } else {
        let msg = format!("{entries} crash-loop entries, allowance {allowance}");
        (SloStatus::Pass, measured, Vec::new(), msg)
    }
}

fn counts(s: &PodState, which: CrashLoopContainers) -> bool {
    match which {
        CrashLoopContainers::Init => s.init_crashloop,
        CrashLoopContainers::Main => s.crashloop,
        CrashLoopContainers::Any => s.init_crashloop || s.crashloop,
    }
}

fn max_restarts(tl: &Timeline, w: &Window, scope: &PodScope, max: u32) -> Judged {
    let mut worst = 0u32;
    let mut culprits = Vec::new();
    for obj in tl.objects(ObjKind::Pod) {
        let base = restarts_baseline(tl, &obj, w.fault_at);
        let mut peak: Option<&PodState> = None;
        for tr in tl
            .states(&obj)
            .filter(|t| t.at > w.fault_at && t.at <= w.end)
        {
            if let Change::Pod(s) = &tr.change
                && in_scope(&obj, s, scope)
                && peak.is_none_or(|p| s.restarts > p.restarts)
            {
                peak = Some(s);
            }
        }
        let Some(p) = peak else { continue };
        let n = p.restarts.saturating_sub(base);
        worst = worst.max(n);
        if n > max {
            // The worst state it showed, not the one it happened to be in
            // when the count peaked (a retry shows `Init:0/1`).
            let reason =
                worst_status(tl, &obj, w.fault_at, w.end).unwrap_or_else(|| p.status.clone());
            culprits.push(pod_culprit(&obj, Some(p), reason, Some(n), None));
        }
    }
    let measured = Some(Measured::Count(u64::from(worst)));
    if culprits.is_empty() {
        (
            SloStatus::Pass,
            measured,
            culprits,
            format!("at most {worst} restarts per pod (max {max})"),
        )
    } else {
        let msg = format!("{} pods restarted more than {max} times", culprits.len());
        (SloStatus::Fail, measured, culprits, msg)
    }
}

fn nodes_in(tl: &Timeline, w: &Window, scope: NodeScope) -> Result<Vec<ObjRef>, String> {
    let all = tl.objects(ObjKind::Node);
    match scope {
        NodeScope::All if all.is_empty() => Err("no node was observed".into()),
        NodeScope::All => Ok(all),
        NodeScope::FaultTarget => match &w.fault_node {
            Some(n) if all.iter().any(|o| &o.name == n) => Ok(vec![ObjRef::node(n)]),
            Some(n) => Err(format!("the faulted node {n} was never observed")),
            None => Err("the fault did not act on a node".into()),
        },
    }
}

fn node_culprit(name: &str, reason: String, recovered: Option<Duration>) -> Culprit {
    Culprit {
        kind: CulpritKind::Node,
        namespace: None,
        name: name.to_string(),
        node: None,
        reason,
        restarts: None,
        recovered_after: recovered,
    }
}

fn node_ready(tl: &Timeline, w: &Window, scope: NodeScope, budget: Duration) -> Judged {
    let nodes = match nodes_in(tl, w, scope) {
        Ok(n) => n,
        Err(why) => return (SloStatus::Fail, None, Vec::new(), why),
    };
    let deadline = w.reference + budget;
    let mut slowest = Duration::ZERO;
    let mut culprits = Vec::new();
    for obj in &nodes {
        let ready = |s: &Change| matches!(s, Change::Node(n) if n.ready == Some(true));
        match tl.node_at(obj, deadline) {
            Some(s) if s.ready == Some(true) => {
                let mut since = w.reference;
                let mut was = false;
                for tr in tl.states(obj).take_while(|t| t.at <= deadline) {
                    let now = ready(&tr.change);
                    if now && !was {
                        since = tr.at.max(w.reference);
                    }
                    was = now;
                }
                slowest = slowest.max(since - w.reference);
            }
            state => {
                let reason = match state {
                    None => "absent".to_string(),
                    Some(s) if s.network_unavailable => "NotReady (NetworkUnavailable)".into(),
                    Some(_) => "NotReady".into(),
                };
                let recovered = tl
                    .states(obj)
                    .filter(|t| t.at > deadline)
                    .find(|t| ready(&t.change))
                    .map(|t| t.at.saturating_sub(w.reference));
                culprits.push(node_culprit(&obj.name, reason, recovered));
            }
        }
    }
    if culprits.is_empty() {
        let msg = format!(
            "{} nodes Ready {} after the reference",
            nodes.len(),
            duration::format(slowest)
        );
        (
            SloStatus::Pass,
            Some(Measured::duration(slowest)),
            culprits,
            msg,
        )
    } else {
        let msg = format!(
            "{} of {} nodes not Ready within {}",
            culprits.len(),
            nodes.len(),
            duration::format(budget)
        );
        (SloStatus::Fail, None, culprits, msg)
    }
}

fn node_ip_stable(tl: &Timeline, w: &Window, scope: NodeScope) -> Judged {
    let nodes = match nodes_in(tl, w, scope) {
        Ok(n) => n,
        Err(why) => return (SloStatus::Fail, None, Vec::new(), why),
    };
    let mut culprits = Vec::new();
    for obj in &nodes {
        let before = tl
            .node_at(obj, w.fault_at)
            .and_then(|s| s.internal_ip.clone());
        let after = tl.node_at(obj, w.end).and_then(|s| s.internal_ip.clone());
        if before != after || before.is_none() {
            let show = |ip: &Option<String>| ip.clone().unwrap_or_else(|| "none".into());
            culprits.push(node_culprit(
                &obj.name,
                format!("InternalIP {} -> {}", show(&before), show(&after)),
                None,
            ));
        }
    }
    let changed = u64::try_from(culprits.len()).unwrap_or(u64::MAX);
    if culprits.is_empty() {
        (
            SloStatus::Pass,
            Some(Measured::Count(0)),
            culprits,
            format!("{} nodes kept their InternalIP", nodes.len()),
        )
    } else {
        let msg = format!("{changed} nodes changed InternalIP (kind #2045)");
        (
            SloStatus::Fail,
            Some(Measured::Count(changed)),
            culprits,
            msg,
        )
    }
}

/// A partitioned node container's address on the cluster network before
/// the partition and after its heal (`docker inspect`), as the heal
/// recorded them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealedAddress {
    /// The node (= its container's name on kind).
    pub node: String,
    /// Its address before the partition, when known.
    pub before: Option<String>,
    /// Its address after the heal.
    pub after: String,
}

/// The guard `node-ip-stable` needs after a partition heals: kind pins each
/// node's InternalIP (the kubelet's `--node-ip`), so the timeline alone
/// cannot see a node container that came back with another Docker
/// address. When the container's address after the heal differs from the
/// node's InternalIP at `end`, every `node-ip-stable` verdict fails (the
/// healed node is in each scope: it is the faulted one), with a culprit
/// naming the node and both addresses.
pub fn guard_healed_address(
    verdicts: &mut [SloVerdict],
    tl: &Timeline,
    end: Duration,
    heal: &HealedAddress,
) {
    let internal = tl
        .node_at(&ObjRef::node(&heal.node), end)
        .and_then(|s| s.internal_ip.clone());
    if internal.as_deref() == Some(heal.after.as_str()) {
        return;
    }
    let reason = format!(
        "container address {} after the heal (before the partition {}) but InternalIP {}",
        heal.after,
        heal.before.as_deref().unwrap_or("unknown"),
        internal.as_deref().unwrap_or("none")
    );
    for v in verdicts
        .iter_mut()
        .filter(|v| matches!(v.slo, Slo::NodeIpStable { .. }))
    {
        if v.culprits.iter().any(|c| c.name == heal.node) {
            continue;
        }
        v.culprits
            .push(node_culprit(&heal.node, reason.clone(), None));
        let mismatched = u64::try_from(v.culprits.len()).unwrap_or(u64::MAX);
        v.status = SloStatus::Fail;
        v.measured = Some(Measured::Count(mismatched));
        v.message = format!(
            "{mismatched} nodes changed address; {} has {reason}",
            heal.node
        );
    }
}

fn probe_within(
    tl: &Timeline,
    w: &Window,
    probe: crate::slo::ProbeKind,
    budget: Duration,
) -> Judged {
    let deadline = w.reference + budget;
    let attempts: Vec<(Duration, bool, &str)> = tl
        .transitions()
        .iter()
        .filter_map(|t| match &t.change {
            Change::Probe {
                probe: p,
                success,
                detail,
            } if *p == probe => Some((t.at, *success, detail.as_str())),
            _ => None,
        })
        .filter(|(at, ..)| *at >= w.reference)
        .collect();
    if let Some((at, ..)) = attempts.iter().find(|(at, ok, _)| *ok && *at <= deadline) {
        let took = *at - w.reference;
        return (
            SloStatus::Pass,
            Some(Measured::duration(took)),
            Vec::new(),
            format!("{probe} probe succeeded after {}", duration::format(took)),
        );
    }
    let last = attempts
        .iter()
        .rev()
        .find(|(at, ..)| *at <= deadline)
        .map_or("no attempt finished", |(_, _, d)| *d);
    let recovered = attempts
        .iter()
        .find(|(at, ok, _)| *ok && *at > deadline)
        .map(|(at, ..)| *at - w.reference);
    let culprit = Culprit {
        kind: CulpritKind::Pod,
        namespace: None,
        name: format!("probe-{probe}"),
        // Every attempt's pod is pinned to the faulted node when there is
        // one (`gate::observe_and_judge` hands it to `probe::run_probe`).
        node: w.fault_node.clone(),
        reason: last.to_string(),
        restarts: None,
        recovered_after: recovered,
    };
    let n = attempts.iter().filter(|(at, ..)| *at <= deadline).count();
    (
        SloStatus::Fail,
        None,
        vec![culprit],
        format!(
            "{probe} probe did not succeed within {} ({n} attempts)",
            duration::format(budget)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::ProbeKind;
    use crate::suite::LabelSelector;
    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::json;
    use tokio::time::Instant;

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn pod(name: &str, app: &str, ready: bool, init_loop: bool, restarts: i32) -> Pod {
        let init_state = if init_loop {
            json!({"waiting": {"reason": "CrashLoopBackOff"}})
        } else {
            json!({"terminated": {"exitCode": 0, "reason": "Completed"}})
        };
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "kube-system", "labels": {"app": app}},
            "spec": {"nodeName": "kind-worker", "initContainers": [{"name": "init"}], "containers": [{"name": "main"}]},
            "status": {
                "phase": if ready {"Running"} else {"Pending"},
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
                "initContainerStatuses": [{"name": "init", "ready": !init_loop, "image": "i", "imageID": "",
                    "restartCount": restarts, "state": init_state}],
                "containerStatuses": [{"name": "main", "ready": ready, "image": "i", "imageID": "", "restartCount": 0,
                    "state": if ready {json!({"running": {}})} else {json!({"waiting": {"reason": "PodInitializing"}})}}]
            }
        }))
        .unwrap()
    }

    fn node(name: &str, ready: bool, ip: &str) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
                       "addresses": [{"type": "InternalIP", "address": ip}]}
        }))
        .unwrap()
    }

    /// A timeline fed at whole seconds of virtual time.
    struct Feed {
        tl: Timeline,
        origin: Instant,
    }

    impl Feed {
        fn new() -> Self {
            let origin = Instant::now();
            Feed {
                tl: Timeline::new(origin, "2026-01-01T00:00:00Z".parse().unwrap()),
                origin,
            }
        }
        fn at(&self, secs: u64) -> Instant {
            self.origin + Duration::from_secs(secs)
        }
        fn pod(&mut self, secs: u64, p: Pod) -> &mut Self {
            let at = self.at(secs);
            self.tl.pod(&p, at);
            self
        }
        fn gone(&mut self, secs: u64, name: &str) -> &mut Self {
            let at = self.at(secs);
            self.tl.pod_gone("kube-system", name, at);
            self
        }
        fn node(&mut self, secs: u64, n: Node) -> &mut Self {
            let at = self.at(secs);
            self.tl.node(&n, at);
            self
        }
    }

    fn window(fault: u64, end: u64) -> Window {
        Window {
            fault_at: secs(fault),
            reference: secs(fault),
            end: secs(end),
            fault_node: Some("kind-worker".into()),
        }
    }

    fn kube_system() -> PodScope {
        PodScope {
            namespace: Some("kube-system".into()),
            selector: None,
        }
    }

    fn ready_within(budget: u64) -> Slo {
        Slo::WorkloadsReadyWithin {
            scope: kube_system(),
            budget: secs(budget),
        }
    }

    /// The incident: coredns recovers, kube-multus-ds loops in its init container.
    fn incident() -> Feed {
        let mut f = Feed::new();
        f.pod(0, pod("coredns-a", "coredns", true, false, 0))
            .pod(0, pod("kube-multus-ds-x", "multus", true, false, 0))
            .node(0, node("kind-worker", true, "172.18.0.3"))
            .node(11, node("kind-worker", false, "172.18.0.3"))
            .pod(12, pod("coredns-a", "coredns", false, false, 0))
            .pod(12, pod("kube-multus-ds-x", "multus", false, false, 0))
            .node(40, node("kind-worker", true, "172.18.0.3"))
            .pod(45, pod("coredns-a", "coredns", true, false, 0))
            .pod(50, pod("kube-multus-ds-x", "multus", false, true, 1))
            .pod(70, pod("kube-multus-ds-x", "multus", false, true, 2));
        f
    }

    #[tokio::test(start_paused = true)]
    async fn workloads_ready_measures_the_slowest_pod_and_names_laggards() {
        let f = incident();
        let v = evaluate(&ready_within(120), &f.tl, &window(10, 200));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.culprits.len(), 1, "{v:?}");
        let c = &v.culprits[0];
        assert_eq!(c.name, "kube-multus-ds-x");
        assert_eq!(c.reason, "Init:CrashLoopBackOff");
        assert_eq!(c.restarts, Some(2));
        assert_eq!(c.recovered_after, None);
        assert_eq!(c.node.as_deref(), Some("kind-worker"));

        let only_dns = Slo::WorkloadsReadyWithin {
            scope: PodScope {
                namespace: Some("kube-system".into()),
                selector: Some(LabelSelector::parse("app=coredns").unwrap()),
            },
            budget: secs(60),
        };
        let v = evaluate(&only_dns, &f.tl, &window(10, 200));
        assert_eq!(v.status, SloStatus::Pass, "{v:?}");
        assert_eq!(
            v.measured,
            Some(Measured::Millis(35_000)),
            "ready at 45 s, fault at 10 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_selector_that_matches_nothing_fails() {
        let f = incident();
        let none = Slo::WorkloadsReadyWithin {
            scope: PodScope {
                namespace: Some("kube-system".into()),
                selector: Some(LabelSelector::parse("app=nothing").unwrap()),
            },
            budget: secs(60),
        };
        let v = evaluate(&none, &f.tl, &window(10, 200));
        assert_eq!(v.status, SloStatus::Fail);
        assert!(v.message.contains("no pod matches"), "{}", v.message);
    }

    #[tokio::test(start_paused = true)]
    async fn late_recovery_is_reported_on_the_culprit() {
        let mut f = incident();
        f.pod(150, pod("kube-multus-ds-x", "multus", true, false, 2));
        let v = evaluate(&ready_within(120), &f.tl, &window(10, 200));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.culprits[0].recovered_after, Some(secs(140)));
        let v = evaluate(&ready_within(150), &f.tl, &window(10, 200));
        assert_eq!(v.status, SloStatus::Pass);
        assert_eq!(v.measured, Some(Measured::Millis(140_000)));
    }

    #[tokio::test(start_paused = true)]
    async fn deleted_pods_must_be_replaced() {
        let mut f = Feed::new();
        f.pod(0, pod("ovs-ovn-a", "ovs", true, false, 0))
            .pod(0, pod("ovs-ovn-b", "ovs", true, false, 0))
            .gone(12, "ovs-ovn-a");
        let v = evaluate(&ready_within(60), &f.tl, &window(10, 100));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.culprits[0].name, "ovs-ovn-a");
        assert_eq!(v.culprits[0].reason, "deleted, not replaced");
        f.pod(20, pod("ovs-ovn-c", "ovs", false, false, 0))
            .pod(30, pod("ovs-ovn-c", "ovs", true, false, 0));
        let v = evaluate(&ready_within(60), &f.tl, &window(10, 100));
        assert_eq!(v.status, SloStatus::Pass, "{v:?}");
        assert_eq!(v.measured, Some(Measured::Millis(20_000)));
    }

    #[tokio::test(start_paused = true)]
    async fn crash_loops_are_counted_per_entry_with_allowance() {
        let f = incident();
        let init = |allowance| Slo::NoCrashLoop {
            scope: kube_system(),
            containers: CrashLoopContainers::Init,
            allowance,
        };
        let v = evaluate(&init(0), &f.tl, &window(10, 200));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(
            v.measured,
            Some(Measured::Count(1)),
            "one entry, still looping at 70 s"
        );
        assert_eq!(v.culprits[0].name, "kube-multus-ds-x");
        assert_eq!(v.culprits[0].reason, "Init:CrashLoopBackOff");
        assert_eq!(
            evaluate(&init(1), &f.tl, &window(10, 200)).status,
            SloStatus::Pass
        );
        let main = Slo::NoCrashLoop {
            scope: kube_system(),
            containers: CrashLoopContainers::Main,
            allowance: 0,
        };
        assert_eq!(
            evaluate(&main, &f.tl, &window(10, 200)).status,
            SloStatus::Pass
        );
    }

    /// The kubelet's rhythm inside one crash loop: back-off, a run of the
    /// init container (`Init:0/1`), failure, back-off again; with BackOff
    /// Events between.
    fn looping_with_retries() -> Feed {
        let mut f = incident();
        let event = |f: &mut Feed, secs: u64| {
            let at = f.at(secs);
            f.tl.event(
                ObjRef::pod("kube-system", "kube-multus-ds-x"),
                "Warning",
                "BackOff",
                "Back-off restarting failed container",
                at,
            );
        };
        event(&mut f, 55);
        f.pod(80, pod("kube-multus-ds-x", "multus", false, false, 2));
        event(&mut f, 85);
        f.pod(90, pod("kube-multus-ds-x", "multus", false, true, 3))
            .pod(130, pod("kube-multus-ds-x", "multus", false, false, 3))
            .pod(131, pod("kube-multus-ds-x", "multus", false, true, 4));
        f
    }

    #[tokio::test(start_paused = true)]
    async fn a_crash_loop_is_one_episode_until_the_pod_is_ready_whatever_happens_between() {
        let mut f = looping_with_retries();
        let init = |allowance| Slo::NoCrashLoop {
            scope: kube_system(),
            containers: CrashLoopContainers::Init,
            allowance,
        };
        let v = evaluate(&init(0), &f.tl, &window(10, 200));
        assert_eq!(
            v.measured,
            Some(Measured::Count(1)),
            "retries and BackOff events inside one loop are one episode"
        );
        assert_eq!(v.culprits[0].reason, "Init:CrashLoopBackOff");
        // Ready, then a new loop: a second episode.
        f.pod(150, pod("kube-multus-ds-x", "multus", true, false, 4))
            .pod(170, pod("kube-multus-ds-x", "multus", false, true, 5));
        let v = evaluate(&init(1), &f.tl, &window(10, 200));
        assert_eq!(v.measured, Some(Measured::Count(2)));
        assert_eq!(v.status, SloStatus::Fail);
    }

    #[tokio::test(start_paused = true)]
    async fn events_about_a_pod_do_not_move_its_recovery() {
        let mut f = Feed::new();
        f.pod(0, pod("coredns-a", "coredns", true, false, 0))
            .pod(12, pod("coredns-a", "coredns", false, false, 0))
            .pod(30, pod("coredns-a", "coredns", true, false, 0));
        let at = f.at(40);
        f.tl.event(
            ObjRef::pod("kube-system", "coredns-a"),
            "Normal",
            "Pulled",
            "already present",
            at,
        );
        f.pod(50, pod("coredns-a", "coredns", true, false, 0));
        let v = evaluate(&ready_within(120), &f.tl, &window(10, 200));
        assert_eq!(
            v.measured,
            Some(Measured::Millis(20_000)),
            "Ready at 30 s; the event at 40 s is not an outage"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn max_restarts_names_the_worst_state_not_the_retry_in_progress() {
        let mut f = looping_with_retries();
        // The count peaks while the next retry runs.
        f.pod(160, pod("kube-multus-ds-x", "multus", false, false, 5));
        let slo = Slo::MaxRestarts {
            scope: kube_system(),
            max: 2,
        };
        let v = evaluate(&slo, &f.tl, &window(10, 200));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.culprits[0].restarts, Some(5));
        assert_eq!(v.culprits[0].reason, "Init:CrashLoopBackOff");
    }

    #[tokio::test(start_paused = true)]
    async fn restarts_count_from_the_fault() {
        let mut f = Feed::new();
        f.pod(0, pod("p", "x", true, false, 5))
            .pod(20, pod("p", "x", true, false, 8));
        let slo = |max| Slo::MaxRestarts {
            scope: kube_system(),
            max,
        };
        let v = evaluate(&slo(2), &f.tl, &window(10, 100));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.measured, Some(Measured::Count(3)));
        assert_eq!(v.culprits[0].restarts, Some(3));
        assert_eq!(
            evaluate(&slo(3), &f.tl, &window(10, 100)).status,
            SloStatus::Pass
        );
    }

    #[tokio::test(start_paused = true)]
    async fn node_ready_and_ip_stability() {
        let mut f = incident();
        let ready = |budget| Slo::NodeReadyWithin {
            nodes: NodeScope::FaultTarget,
            budget: secs(budget),
        };
        let v = evaluate(&ready(60), &f.tl, &window(10, 200));
        assert_eq!(v.status, SloStatus::Pass);
        assert_eq!(v.measured, Some(Measured::Millis(30_000)));
        let v = evaluate(&ready(20), &f.tl, &window(10, 200));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.culprits[0].name, "kind-worker");
        assert_eq!(v.culprits[0].recovered_after, Some(secs(30)));

        let ip = Slo::NodeIpStable {
            nodes: NodeScope::All,
        };
        assert_eq!(
            evaluate(&ip, &f.tl, &window(10, 200)).status,
            SloStatus::Pass
        );
        f.node(60, node("kind-worker", true, "172.18.0.7"));
        let v = evaluate(&ip, &f.tl, &window(10, 200));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.culprits[0].reason, "InternalIP 172.18.0.3 -> 172.18.0.7");

        // The container came back with another address, but the InternalIP
        // is pinned: the guard fails the SLO the timeline passes.
        let mut f = Feed::new();
        f.node(0, node("kind-worker", true, "172.18.0.3"));
        let heal = |after: &str| HealedAddress {
            node: "kind-worker".into(),
            before: Some("172.18.0.3".into()),
            after: after.into(),
        };
        let mut vs = vec![evaluate(&ip, &f.tl, &window(10, 200))];
        assert_eq!(vs[0].status, SloStatus::Pass);
        guard_healed_address(&mut vs, &f.tl, secs(200), &heal("172.18.0.3"));
        assert_eq!(vs[0].status, SloStatus::Pass, "kept: nothing to guard");
        guard_healed_address(&mut vs, &f.tl, secs(200), &heal("172.18.0.5"));
        assert_eq!(vs[0].status, SloStatus::Fail);
        assert_eq!(vs[0].measured, Some(Measured::Count(1)));
        assert_eq!(vs[0].culprits[0].name, "kind-worker");
        assert_eq!(
            vs[0].culprits[0].reason,
            "container address 172.18.0.5 after the heal (before the partition 172.18.0.3) but InternalIP 172.18.0.3"
        );
        let mut others = vec![evaluate(&ready(60), &f.tl, &window(10, 200))];
        let before = others.clone();
        guard_healed_address(&mut others, &f.tl, secs(200), &heal("172.18.0.5"));
        assert_eq!(others, before, "only node-ip-stable is guarded");

        let mut w = window(10, 200);
        w.fault_node = None;
        assert_eq!(
            evaluate(&ready(60), &f.tl, &w).status,
            SloStatus::Fail,
            "no target to judge"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn probes_need_a_success_within_budget() {
        let mut f = Feed::new();
        let at = |s| f.at(s);
        let (a, b, c) = (at(15), at(30), at(50));
        f.tl.probe(ProbeKind::Dns, false, "SERVFAIL", a);
        f.tl.probe(ProbeKind::Dns, false, "timeout", b);
        f.tl.probe(ProbeKind::Dns, true, "10.96.0.10 answered", c);
        let slo = |budget| Slo::ProbeSucceedsWithin {
            probe: ProbeKind::Dns,
            budget: secs(budget),
        };
        let v = evaluate(&slo(60), &f.tl, &window(10, 100));
        assert_eq!(v.status, SloStatus::Pass);
        assert_eq!(v.measured, Some(Measured::Millis(40_000)));
        let v = evaluate(&slo(30), &f.tl, &window(10, 100));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.culprits[0].reason, "timeout");
        assert_eq!(v.culprits[0].recovered_after, Some(secs(40)));
        let other = Slo::ProbeSucceedsWithin {
            probe: ProbeKind::MultusSecondary,
            budget: secs(60),
        };
        assert_eq!(
            evaluate(&other, &f.tl, &window(10, 100)).status,
            SloStatus::Fail
        );
    }
}
