//! When observation may end: as soon as every SLO's verdict is known,
//! and never before the window has outlasted every delayed-failure timer
//! the source gives for what the fault touched.
//!
//! What "known" means per SLO kind:
//! - `workloads-ready-within`: every pod in scope serving (Ready, not being
//!   deleted), at least one of them, and no pod in scope changed (appeared,
//!   went, changed state) for the settle window; or the budget is over.
//! - `node-ready-within`: every node in scope Ready and none changed for
//!   the settle window; or the budget is over.
//! - `probe-succeeds-within`: one attempt succeeded (the SLO takes the
//!   first success within its budget, so later attempts cannot change
//!   it); or the budget is over.
//! - `secondary-networks-complete`: as `workloads-ready-within` on its
//!   scope (its pods are read from the API and on their nodes when
//!   observation ends; a sandbox that came up without its secondary
//!   networks keeps missing them until it is re-created, multus-cni #1387,
//!   which is a change the settle window sees).
//! - `no-crashloop`, `max-restarts`, `node-ip-stable`: judged over the whole
//!   observed window, which ends no earlier than its [`Floor`].
//!
//! The floor is the latest of:
//! - the settle window after the fault;
//! - the settle window after the last thing the fault does by itself
//!   ([`Fault::acts_until`]: the SIGCONT after `stop-for`, the rewrite
//!   after `delay`, the end of `hold-for`, a partition's heal);
//! - for every pod that changed after the fault, its liveness timer from its
//!   pod spec: `initialDelaySeconds + periodSeconds × failureThreshold`
//!   after a container (re)started, `periodSeconds × failureThreshold`
//!   after any other change (ovs-ovn: 60 + 5 × 5 = 85 s, kube-ovn-install.sh
//!   at every pinned tag; kube-ovn-cni 30 + 7 × 5 = 65 s; CoreDNS 60 + 10 ×
//!   5 = 110 s);
//! - after a CNI config fault, for a Multus daemon that (re)started: its
//!   wait for a primary config, 1 s × 120 tries, then exit 1
//!   (k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/server/config/manager.go,
//!   `getPrimaryCNIPluginName`). Other faults leave Kube-OVN's conflist on
//!   the node's disk (a reboot keeps `/etc/cni/net.d`, FACTS.md "kind node
//!   facts"), so the daemon finds it at its first try.
//!
//! Timers the API cannot show and that are off by default (Multus'
//! `readinessindicatorfile`, 45 s) are not counted; a `multus-shim`'s
//! 60 s wait for the daemon belongs to a sandbox being created, whose pod is
//! not Ready, so no verdict is known while it runs.

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use super::evaluate::{Window, in_scope};
use super::timeline::{Change, ObjKind, ObjRef, PodState, Timeline};
use crate::fault::{Fault, FaultKind};
use crate::slo::{NodeScope, PodScope, Slo};
use crate::util::duration;

/// The settle window when a suite does not set one: 30 s, the slowest
/// readiness detection among the components in scope (CoreDNS: a 10 s
/// period × 3 failures; kube-ovn-cni 7 s × 3 = 21 s; ovs-ovn 5 s × 3 =
/// 15 s), so that a failure that began inside the window has turned its pod
/// unready before the window closes; it also spans three kubelet node
/// status updates (10 s each) and six probe attempts (5 s apart).
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(30);

/// How long the Multus thick daemon looks for its primary CNI config
/// before it exits 1: every 1 s, 120 tries
/// (k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/server/config/manager.go).
pub const MULTUS_PRIMARY_WAIT: Duration = Duration::from_secs(120);

/// How observation ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObserveMode {
    /// As soon as every verdict is known and the floor has passed (default).
    #[default]
    Early,
    /// At the end of the longest budget (and the floor), as before early
    /// ends existed; the verdicts known at the early end are kept beside
    /// the final ones, so the two can be compared on one timeline.
    Full,
}

/// The earliest moment observation may end, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Floor {
    /// As a timeline offset.
    #[serde(skip)]
    pub at: Duration,
    /// What sets it.
    pub why: String,
}

impl Floor {
    /// A floor that is never reached (pods that never reported back) ends
    /// with the full window at `budgets_end`; any other is at most
    /// `past` beyond it, saying so when it was later.
    pub fn capped(mut self, budgets_end: Duration, past: Duration) -> Self {
        if self.at == Duration::MAX {
            self.at = budgets_end;
        } else if self.at > budgets_end + past {
            self.at = budgets_end + past;
            self.why = format!(
                "{}, capped: observation goes on at most {} past the budgets",
                self.why,
                duration::format(past)
            );
        }
        self
    }

    /// Raises the floor to `at` (saying `why`) if that is later.
    pub(super) fn raise(&mut self, at: Duration, why: impl FnOnce() -> String) {
        if at > self.at {
            self.at = at;
            self.why = why();
        }
    }
}

/// How one observation ended, as offsets from the fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ObservedWindow {
    /// Early or full.
    pub mode: ObserveMode,
    /// The settle window.
    #[serde(with = "crate::util::serde_millis")]
    pub settle: Duration,
    /// The floor: observation never ended before it.
    #[serde(with = "crate::util::serde_millis")]
    pub floor: Duration,
    /// What set the floor.
    pub floor_why: String,
    /// When every verdict was known and the floor had passed (`None`: not
    /// before the end).
    #[serde(with = "crate::util::serde_millis::option")]
    pub decided: Option<Duration>,
    /// When observation ended.
    #[serde(with = "crate::util::serde_millis")]
    pub ended: Duration,
    /// Where the full window ends: the longest budget from the reference
    /// plus a few seconds for changes in flight, or the floor if later.
    #[serde(with = "crate::util::serde_millis")]
    pub full: Duration,
}

/// Restart counts of the pods at the fault, to tell a container that
/// (re)started after it.
#[derive(Clone, Debug, Default)]
pub struct Baseline {
    restarts: HashMap<ObjRef, (u32, bool)>,
}

impl Baseline {
    /// Every pod's restarts and whether it was Running, at offset `at`.
    pub fn at(tl: &Timeline, at: Duration) -> Self {
        let mut restarts = HashMap::new();
        for tr in tl.transitions().iter().take_while(|t| t.at <= at) {
            match &tr.change {
                Change::Pod(s) => {
                    restarts.insert(tr.object.clone(), (s.restarts, running(s)));
                }
                Change::PodGone => {
                    restarts.remove(&tr.object);
                }
                _ => {}
            }
        }
        Baseline { restarts }
    }
}

fn running(s: &PodState) -> bool {
    s.status == "Running"
}

fn harness_own(obj: &ObjRef, s: &PodState) -> bool {
    let everything = PodScope {
        namespace: None,
        selector: None,
    };
    !in_scope(obj, s, &everything) && s.status != "Completed"
}

fn is_multus(s: &PodState) -> bool {
    s.labels.get("app").map(String::as_str) == Some("multus")
}

/// The window's floor at offset `now`, for a fault injected at
/// `fault_at` (see the module documentation).
pub fn floor(
    fault: &Fault,
    tl: &Timeline,
    base: &Baseline,
    fault_at: Duration,
    now: Duration,
    settle: Duration,
    fault_node: Option<&str>,
) -> Floor {
    let mut floor = Floor {
        at: fault_at + settle,
        why: format!(
            "the settle window ({}) after the fault",
            duration::format(settle)
        ),
    };
    let acts = fault.acts_until();
    if !acts.is_zero() {
        floor.raise(fault_at + acts + settle, || {
            format!(
                "the fault acts until {} after its injection, then the settle window ({})",
                duration::format(acts),
                duration::format(settle)
            )
        });
    }
    let cni_config = fault.kind() == FaultKind::CniConfig;
    let mut seen: HashMap<&ObjRef, (u32, bool)> =
        base.restarts.iter().map(|(o, r)| (o, *r)).collect();
    let mut per_pod: HashMap<&ObjRef, Floor> = HashMap::new();
    let from = tl.transitions().partition_point(|t| t.at <= fault_at);
    for tr in tl.transitions()[from..].iter().take_while(|t| t.at <= now) {
        let obj = &tr.object;
        let s = match &tr.change {
            Change::Pod(s) => s,
            Change::PodGone => {
                // A pod that is gone restarts nothing.
                per_pod.remove(obj);
                seen.remove(obj);
                continue;
            }
            _ => continue,
        };
        if harness_own(obj, s) {
            continue;
        }
        let started = match seen.get(obj) {
            None => true,
            Some((restarts, was_running)) => s.restarts > *restarts || (running(s) && !was_running),
        };
        seen.insert(obj, (s.restarts, running(s)));
        let name = || {
            format!(
                "{}/{}",
                obj.namespace.as_deref().unwrap_or_default(),
                obj.name
            )
        };
        let f = per_pod.entry(obj).or_insert(Floor {
            at: Duration::ZERO,
            why: String::new(),
        });
        if let Some(l) = s.liveness {
            if started {
                f.raise(tr.at + l.after_start, || {
                    format!(
                        "{} started at +{}: its liveness probes can restart it for {} (initialDelaySeconds + periodSeconds × failureThreshold)",
                        name(),
                        duration::format(tr.at.saturating_sub(fault_at)),
                        duration::format(l.after_start)
                    )
                });
            }
            f.raise(tr.at + l.after_change, || {
                format!(
                    "{} changed at +{}: its liveness probes can restart it for {} (periodSeconds × failureThreshold)",
                    name(),
                    duration::format(tr.at.saturating_sub(fault_at)),
                    duration::format(l.after_change)
                )
            });
        }
        if cni_config && started && is_multus(s) {
            f.raise(tr.at + MULTUS_PRIMARY_WAIT, || {
                format!(
                    "{} started at +{} after a CNI config fault: the Multus daemon waits {} for its primary config, then exits 1 (multus-cni@v4.2.1 pkg/server/config/manager.go)",
                    name(),
                    duration::format(tr.at.saturating_sub(fault_at)),
                    duration::format(MULTUS_PRIMARY_WAIT)
                )
            });
        }
    }
    for f in per_pod.into_values() {
        if f.at > floor.at {
            floor = f;
        }
    }
    if let (Fault::NodeReboot(_), Some(node)) = (fault, fault_node) {
        rebooted_pods_reported(tl, base, fault_at, now, node, settle, &mut floor);
    }
    floor
}

/// A node reboot kills every container on the node, but the API shows
/// their pods as they were until the node's kubelet is back and reports
/// each container's restart: until every pod that was on the node at the
/// fault has shown a restart (or is gone), what the API says about them is
/// from before the reboot, and the floor is not reached. Once each has,
/// the floor is the settle window after the last of those reports.
fn rebooted_pods_reported(
    tl: &Timeline,
    base: &Baseline,
    fault_at: Duration,
    now: Duration,
    node: &str,
    settle: Duration,
    floor: &mut Floor,
) {
    let from = tl.transitions().partition_point(|t| t.at <= fault_at);
    let upto = &tl.transitions()[from..];
    let mut last_report = fault_at;
    for (obj, (restarts, _)) in &base.restarts {
        let Some(at_fault) = tl.pod_at(obj, fault_at) else {
            continue;
        };
        if at_fault.node.as_deref() != Some(node) || harness_own(obj, at_fault) {
            continue;
        }
        if at_fault.status == "Completed" {
            continue;
        }
        let reported = upto
            .iter()
            .take_while(|t| t.at <= now)
            .filter(|t| &t.object == obj)
            .find(|t| match &t.change {
                Change::Pod(s) => s.restarts > *restarts,
                Change::PodGone => true,
                _ => false,
            })
            .map(|t| t.at);
        match reported {
            Some(at) => last_report = last_report.max(at),
            None => {
                floor.raise(Duration::MAX, || {
                    format!(
                        "{}/{} was on {node} when it rebooted and has not reported a restart yet: the API still shows it as it was before",
                        obj.namespace.as_deref().unwrap_or_default(),
                        obj.name
                    )
                });
                return;
            }
        }
    }
    floor.raise(last_report + settle, || {
        format!(
            "the pods on {node} reported their restarts after the reboot by +{}, then the settle window ({})",
            duration::format(last_report.saturating_sub(fault_at)),
            duration::format(settle)
        )
    });
}

/// Whether the SLO's verdict is known at `w.end` (see the module
/// documentation). The kinds judged over the whole window are never
/// known before it ends: `false`.
pub fn known(slo: &Slo, tl: &Timeline, w: &Window, settle: Duration) -> bool {
    let now = w.end;
    let held = |last_change: Option<Duration>| {
        now >= w.reference + settle && last_change.is_none_or(|c| now >= c + settle)
    };
    match slo {
        Slo::WorkloadsReadyWithin { scope, budget } => {
            now >= w.reference + *budget
                || (pods_serving(tl, scope) && held(last_pod_change(tl, scope, now, settle)))
        }
        Slo::SecondaryNetworksComplete { scope, .. } => {
            pods_serving(tl, scope) && held(last_pod_change(tl, scope, now, settle))
        }
        // Read in the gateway's pod at the end: known once its pods serve
        // and have not changed for the settle window (kube-ovn-controller
        // re-applies the rules, or replaces the pod, within it).
        // Read in pinger's log at the end: known once every pinger serves
        // and none changed for the settle window (several rounds).
        Slo::PingerHealthy { .. } => {
            let scope = PodScope {
                namespace: Some("kube-system".into()),
                selector: crate::suite::LabelSelector::parse(&format!(
                    "app={}",
                    super::pinger::PINGER_APP
                ))
                .ok(),
            };
            pods_serving(tl, &scope) && held(last_pod_change(tl, &scope, now, settle))
        }
        // Read in the traffic receivers' logs at the end: known once every
        // traffic pod serves and none changed for the settle window (150
        // probes per flow after the last change), and for a loss window
        // with `within`, once it is over.
        // The long-lived connections' servers likewise.
        Slo::MaxOutage { .. } | Slo::MaxLoss { .. } | Slo::LongLivedTcp => {
            let window_over = match slo {
                Slo::MaxLoss {
                    within: Some(within),
                    ..
                } => now >= w.fault_at + *within,
                _ => true,
            };
            let traffic_pod = |obj: &ObjRef| {
                obj.kind == ObjKind::Pod
                    && obj.namespace.as_deref() == Some(super::probe::PROBE_NAMESPACE)
                    && obj.name.starts_with(match slo {
                        Slo::LongLivedTcp => super::longlived::LONG_LIVED,
                        _ => super::flows::TRAFFIC,
                    })
            };
            let mut any = false;
            let serving = tl.current(ObjKind::Pod).all(|(obj, change)| match change {
                Change::Pod(s) if traffic_pod(obj) => {
                    any = true;
                    s.serving()
                }
                _ => true,
            });
            let last = last_change_within(tl, now, settle, |t| {
                matches!(t.change, Change::Pod(_) | Change::PodGone) && traffic_pod(&t.object)
            });
            window_over && any && serving && held(last)
        }
        Slo::NatGatewayRules {
            gateway, namespace, ..
        } => {
            let scope = gateway_scope(gateway, namespace);
            pods_serving(tl, &scope) && held(last_pod_change(tl, &scope, now, settle))
        }
        // Read in OVN's and OVS's own pods at the end: known once
        // ovn-central and every ovs-ovn serve, neither they nor the pods in
        // scope changed for the settle window, and a minute has passed
        // since the reference: kube-ovn-cni (v1.15+) deletes the Interfaces
        // of pods that are gone once a minute (kube-ovn v1.16.2
        // pkg/daemon/controller.go gcInterfaces), so before that a leftover
        // port may still go. (kube-ovn-controller's LSP GC takes two
        // 360 s passes; no window waits for that.)
        Slo::OvnConsistent { namespaces, .. } => {
            if now < w.reference + super::ovn::INTERFACE_GC_PERIOD {
                return false;
            }
            let component = |app: &str| PodScope {
                namespace: Some(super::ovn::KUBE_OVN_NAMESPACE.into()),
                selector: crate::suite::LabelSelector::parse(app).ok(),
            };
            let workloads: Vec<PodScope> = if namespaces.is_empty() {
                vec![PodScope {
                    namespace: None,
                    selector: None,
                }]
            } else {
                namespaces
                    .iter()
                    .map(|ns| PodScope {
                        namespace: Some(ns.clone()),
                        selector: None,
                    })
                    .collect()
            };
            [component("app=ovn-central"), component(super::ovn::OVS_SELECTOR)]
                .iter()
                .all(|s| pods_serving(tl, s) && held(last_pod_change(tl, s, now, settle)))
                && workloads
                    .iter()
                    .all(|s| held(last_pod_change(tl, s, now, settle)))
        }
        Slo::NodeReadyWithin { nodes, budget } => {
            now >= w.reference + *budget
                || (nodes_ready(tl, w, *nodes)
                    && held(last_node_change(tl, w, *nodes, now, settle)))
        }
        Slo::ProbeSucceedsWithin { probe, budget } => {
            now >= w.reference + *budget
                || tl.transitions()[tl.transitions().partition_point(|t| t.at < w.reference)..]
                    .iter()
                    .take_while(|t| t.at <= now)
                    .any(|t| {
                        matches!(&t.change, Change::Probe { probe: p, success: true, .. } if p == probe)
                    })
        }
        Slo::NoCrashLoop { .. } | Slo::MaxRestarts { .. } | Slo::NodeIpStable { .. } => false,
    }
}

/// Whether the kind is judged over the whole observed window.
pub fn whole_window(slo: &Slo) -> bool {
    matches!(
        slo,
        Slo::NoCrashLoop { .. } | Slo::MaxRestarts { .. } | Slo::NodeIpStable { .. }
    )
}

/// The pods of VPC NAT gateway `gateway` (`app=vpc-nat-gw-<gateway>`).
fn gateway_scope(gateway: &str, namespace: &str) -> PodScope {
    PodScope {
        namespace: Some(namespace.to_string()),
        selector: crate::suite::LabelSelector::parse(&format!(
            "app={}",
            super::natgw::gateway_app(gateway)
        ))
        .ok(),
    }
}

/// Every pod in scope serving now, and at least one.
fn pods_serving(tl: &Timeline, scope: &PodScope) -> bool {
    let mut any = false;
    for (obj, change) in tl.current(ObjKind::Pod) {
        let Change::Pod(s) = change else { continue };
        if !in_scope(obj, s, scope) {
            continue;
        }
        if !s.serving() {
            return false;
        }
        any = true;
    }
    any
}

/// The last change of a pod in scope within the settle window before
/// `now` (a pod that went counts when its namespace is in scope).
fn last_pod_change(
    tl: &Timeline,
    scope: &PodScope,
    now: Duration,
    settle: Duration,
) -> Option<Duration> {
    last_change_within(tl, now, settle, |t| match &t.change {
        Change::Pod(s) => in_scope(&t.object, s, scope),
        Change::PodGone => {
            t.object.kind == ObjKind::Pod
                && scope
                    .namespace
                    .as_ref()
                    .is_none_or(|ns| t.object.namespace.as_ref() == Some(ns))
        }
        _ => false,
    })
}

/// The last transition in the settle window before `now` that `counts`.
fn last_change_within(
    tl: &Timeline,
    now: Duration,
    settle: Duration,
    counts: impl Fn(&super::timeline::Transition) -> bool,
) -> Option<Duration> {
    let since = now.saturating_sub(settle);
    tl.transitions()
        .iter()
        .rev()
        .skip_while(|t| t.at > now)
        .take_while(|t| t.at > since)
        .find(|t| counts(t))
        .map(|t| t.at)
}

fn node_in(obj: &ObjRef, w: &Window, scope: NodeScope) -> bool {
    obj.kind == ObjKind::Node
        && match scope {
            NodeScope::All => true,
            NodeScope::FaultTarget => w.fault_node.as_deref() == Some(obj.name.as_str()),
        }
}

fn nodes_ready(tl: &Timeline, w: &Window, scope: NodeScope) -> bool {
    let mut any = false;
    for (obj, change) in tl.current(ObjKind::Node) {
        if !node_in(obj, w, scope) {
            continue;
        }
        if !matches!(change, Change::Node(n) if n.ready == Some(true)) {
            return false;
        }
        any = true;
    }
    any
}

fn last_node_change(
    tl: &Timeline,
    w: &Window,
    scope: NodeScope,
    now: Duration,
    settle: Duration,
) -> Option<Duration> {
    last_change_within(tl, now, settle, |t| {
        matches!(t.change, Change::Node(_) | Change::NodeGone) && node_in(&t.object, w, scope)
    })
}

#[cfg(test)]
mod tests {
    //! Adversarial cases: failures that come after the verdict looked known,
    //! each from a timer the source gives. The early end (the first tick at
    //! which every verdict is known and the floor has passed) must judge as
    //! the full window does.

    use std::time::Duration;

    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;
    use tokio::time::Instant;

    use super::*;
    use crate::observe::evaluate;
    use crate::slo::SloStatus;

    const S: Duration = DEFAULT_SETTLE;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn pod(
        name: &str,
        app: &str,
        ready: bool,
        restarts: i32,
        liveness: Option<(i32, i32, i32)>,
    ) -> Pod {
        let mut c = json!({"name": "c", "image": "x"});
        if let Some((d, p, f)) = liveness {
            c["livenessProbe"] =
                json!({"initialDelaySeconds": d, "periodSeconds": p, "failureThreshold": f});
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "kube-system", "labels": {"app": app}},
            "spec": {"nodeName": "w1", "containers": [c]},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
                "containerStatuses": [{"name": "c", "image": "x", "imageID": "", "ready": ready,
                    "restartCount": restarts, "state": {"running": {}}}]
            }
        }))
        .unwrap()
    }

    fn scope() -> PodScope {
        PodScope {
            namespace: Some("kube-system".into()),
            selector: None,
        }
    }

    fn slos() -> Vec<Slo> {
        vec![
            Slo::WorkloadsReadyWithin {
                scope: scope(),
                budget: secs(180),
            },
            Slo::MaxRestarts {
                scope: scope(),
                max: 0,
            },
        ]
    }

    fn fault(yaml_kind: &str) -> Fault {
        let text = format!(
            "name: s\ndescription: d\ncluster: {{kind-config: default, versions: default}}\nscenarios:\n  - name: a\n    fault: {yaml_kind}\n    slos: [{{kind: max-restarts, max: 0}}]\n"
        );
        crate::suite::parse_str(std::path::Path::new("t.yaml"), &text)
            .unwrap()
            .scenarios
            .remove(0)
            .fault
    }

    /// Ticks every second from the fault, as observation does, until every
    /// SLO is known and the floor has passed; then judges on the timeline
    /// up to that tick and on the whole of it, and returns both and the tick.
    fn early_and_full(
        tl_at: &dyn Fn(Duration) -> Timeline,
        full: &Timeline,
        fault: &Fault,
    ) -> (Vec<SloStatus>, Vec<SloStatus>, Duration) {
        let w = |end| Window {
            fault_at: Duration::ZERO,
            reference: Duration::ZERO,
            end,
            fault_node: Some("w1".into()),
        };
        let base = Baseline::at(full, Duration::ZERO);
        let mut t = Duration::ZERO;
        let tick = loop {
            let tl = tl_at(t);
            let f = floor(fault, &tl, &base, Duration::ZERO, t, S, Some("w1"));
            if t >= f.at
                && slos()
                    .iter()
                    .all(|s| whole_window(s) || known(s, &tl, &w(t), S))
            {
                break t;
            }
            t += secs(1);
            assert!(t < secs(600), "never known");
        };
        let early_tl = tl_at(tick);
        let status = |tl: &Timeline, end| {
            slos()
                .iter()
                .map(|s| evaluate(s, tl, &w(end)).status)
                .collect::<Vec<_>>()
        };
        (status(&early_tl, tick), status(full, secs(300)), tick)
    }

    /// The early and the full verdicts, and the early end's tick, for a
    /// timeline of `(offset, pod)` changes after the fault `fault_yaml`.
    fn case(
        changes: &[(u64, Pod)],
        fault_yaml: &str,
    ) -> (Vec<SloStatus>, Vec<SloStatus>, Duration) {
        let (at, full) = timeline(changes);
        early_and_full(&*at, &full, &fault(fault_yaml))
    }

    /// A timeline from `(offset, pod)` changes, cut at each queried offset.
    fn timeline(changes: &[(u64, Pod)]) -> (Box<dyn Fn(Duration) -> Timeline>, Timeline) {
        let origin = Instant::now();
        let wall: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let changes: Vec<(u64, Pod)> = changes.to_vec();
        let build = move |upto: Duration| {
            let mut tl = Timeline::new(origin, wall);
            for (at, p) in &changes {
                if secs(*at) <= upto {
                    tl.pod(p, origin + secs(*at));
                }
            }
            tl
        };
        let full = build(secs(300));
        (Box::new(build), full)
    }

    #[tokio::test(start_paused = true)]
    async fn a_liveness_restart_at_85s_after_an_ovs_restart_is_waited_for() {
        // ovs-ovn restarts with the fault, is Ready at 12 s, and its
        // liveness probe (60 s delay, 5 s x 5) kills it at 85 s.
        let live = Some((60, 5, 5));
        let (early, full_v, tick) = case(
            &[
                (0, pod("ovs-ovn-a", "ovs", true, 0, live)),
                (1, pod("ovs-ovn-a", "ovs", false, 1, live)),
                (12, pod("ovs-ovn-a", "ovs", true, 1, live)),
                (85, pod("ovs-ovn-a", "ovs", false, 2, live)),
                (97, pod("ovs-ovn-a", "ovs", true, 2, live)),
            ],
            "{kind: ovs-kill, target: {role: worker}, process: ovs-vswitchd, signal: kill}",
        );
        assert_eq!(early, full_v, "decided at {tick:?}");
        assert!(tick >= secs(85), "{tick:?}");
        assert_eq!(full_v[1], SloStatus::Fail, "the restart at 85 s counts");
    }

    #[tokio::test(start_paused = true)]
    async fn a_relapse_after_the_settle_window_from_a_later_restart_is_waited_for() {
        // Ready again at 45 s and quiet for the settle window, but the
        // container that started at 40 s can still be killed by its
        // liveness probe until 40 + 85 s: it is, at 120 s.
        let live = Some((60, 5, 5));
        let (early, full_v, tick) = case(
            &[
                (0, pod("ovs-ovn-a", "ovs", true, 0, live)),
                (20, pod("ovs-ovn-a", "ovs", false, 0, live)),
                (40, pod("ovs-ovn-a", "ovs", false, 1, live)),
                (45, pod("ovs-ovn-a", "ovs", true, 1, live)),
                (120, pod("ovs-ovn-a", "ovs", false, 2, live)),
                (130, pod("ovs-ovn-a", "ovs", true, 2, live)),
            ],
            "{kind: ovs-kill, target: {role: worker}, process: ovs-vswitchd, signal: stop, stop-for: 20s}",
        );
        assert_eq!(early, full_v, "decided at {tick:?}");
        assert!(tick >= secs(125), "{tick:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_rewrite_at_90s_is_waited_for() {
        // The conflist comes back at 90 s; kube-ovn-cni, quiet until then,
        // restarts at 95 s.
        let (early, full_v, tick) = case(
            &[
                (0, pod("kube-ovn-cni-a", "kube-ovn-cni", true, 0, None)),
                (95, pod("kube-ovn-cni-a", "kube-ovn-cni", false, 1, None)),
                (100, pod("kube-ovn-cni-a", "kube-ovn-cni", true, 1, None)),
            ],
            "{kind: cni-config, target: {role: worker}, action: delayed-rewrite, file: kube-ovn, delay: 90s}",
        );
        assert_eq!(early, full_v, "decided at {tick:?}");
        assert!(tick >= secs(90) + S, "{tick:?}");
        assert_eq!(full_v[1], SloStatus::Fail);
    }

    #[tokio::test(start_paused = true)]
    async fn a_multus_daemon_without_its_primary_config_is_waited_for() {
        // After a CNI config fault the Multus daemon restarts at 5 s, looks
        // for its primary config for 120 s, and exits 1 at 125 s.
        let (early, full_v, tick) = case(
            &[
                (0, pod("kube-multus-ds-a", "multus", true, 0, None)),
                (5, pod("kube-multus-ds-a", "multus", true, 1, None)),
                (125, pod("kube-multus-ds-a", "multus", false, 2, None)),
            ],
            "{kind: cni-config, target: {role: worker}, action: remove, file: kube-ovn}",
        );
        assert_eq!(early, full_v, "decided at {tick:?}");
        assert!(tick >= secs(125), "{tick:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reboot_is_not_judged_before_the_nodes_pods_report_their_restarts() {
        // The API shows the pods of the rebooted node unchanged until its
        // kubelet is back (45 s); then they restart and are Ready at 50 s.
        let (early, full_v, tick) = case(
            &[
                (0, pod("coredns-a", "dns", true, 0, None)),
                (45, pod("coredns-a", "dns", false, 1, None)),
                (50, pod("coredns-a", "dns", true, 1, None)),
            ],
            "{kind: node-reboot, target: {role: worker}, mode: graceful}",
        );
        assert_eq!(early, full_v, "decided at {tick:?}");
        assert!(tick >= secs(45) + S, "{tick:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_timer_a_late_relapse_is_what_the_early_end_cannot_see() {
        // The limit, stated: a pod that turns unready at 100 s for no reason any
        // source gives (no liveness probe, no scheduled fault action) is
        // after the early end; the full window sees it. On kind the
        // watchers go on until the next scenario's gate and the engine
        // reports such a change as a late relapse.
        let (early, full_v, tick) = case(
            &[
                (0, pod("x-a", "x", true, 0, None)),
                (10, pod("x-a", "x", false, 0, None)),
                (15, pod("x-a", "x", true, 0, None)),
                (100, pod("x-a", "x", false, 0, None)),
            ],
            "{kind: pod-delete, namespace: kube-system, selector: app=x}",
        );
        assert_eq!(tick, secs(45), "quiet for the settle window after 15 s");
        assert_ne!(early, full_v);
    }

    #[tokio::test(start_paused = true)]
    async fn traffic_verdicts_wait_for_the_traffic_pods_to_hold_and_the_loss_window() {
        let traffic_pod = |ready: bool| -> Pod {
            let mut p = pod("chaos-traffic-a", "x", ready, 0, None);
            p.metadata.namespace = Some(super::super::probe::PROBE_NAMESPACE.into());
            p.metadata.labels = Some(
                [(
                    super::super::flows::TRAFFIC_LABEL.to_string(),
                    "chaos-traffic".to_string(),
                )]
                .into(),
            );
            p
        };
        let (at, _) = timeline(&[
            (0, traffic_pod(true)),
            (10, traffic_pod(false)),
            (20, traffic_pod(true)),
        ]);
        let w = |end: u64| Window {
            fault_at: Duration::ZERO,
            reference: Duration::ZERO,
            end: secs(end),
            fault_node: None,
        };
        let outage = Slo::MaxOutage {
            flow: None,
            budget: secs(5),
        };
        let loss = Slo::MaxLoss {
            flow: None,
            percent: 1.0,
            within: Some(secs(120)),
        };
        let known = |slo: &Slo, t: u64| super::known(slo, &at(secs(t)), &w(t), secs(30));
        assert!(!known(&outage, 15), "a traffic pod unready");
        assert!(!known(&outage, 45), "changed 25 s ago");
        assert!(known(&outage, 51), "held for the settle window");
        assert!(!known(&loss, 100), "the loss window is not over");
        assert!(known(&loss, 120));
        // No traffic pod at all: never known before the end.
        let (none, _) = timeline(&[]);
        assert!(!super::known(&outage, &none(secs(200)), &w(200), secs(30)));
    }

    #[test]
    fn an_unreached_floor_ends_with_the_full_window_and_a_late_one_is_capped() {
        let f = |at| Floor {
            at,
            why: "w".into(),
        };
        let end = secs(185);
        assert_eq!(f(Duration::MAX).capped(end, secs(240)).at, end);
        let late = f(secs(600)).capped(end, secs(240));
        assert_eq!(late.at, secs(425));
        assert!(late.why.contains("capped"), "{}", late.why);
        assert_eq!(f(secs(100)).capped(end, secs(240)), f(secs(100)));
    }
}
