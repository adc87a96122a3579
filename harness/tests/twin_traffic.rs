//! Continuous traffic on the twin (issue 16's acceptance): ovs-vswitchd on
//! one worker frozen for 20 s (`stop-for: 20s`, SIGSTOP then SIGCONT)
//! breaks every flow through that worker for 20 s, give or take one
//! sending interval (the four pod-to-pod and four secondary flows to and
//! from it, its pod-to-service and dns flows), costs the other nodes' pod-to-service
//! flows the probes the load balancer hashes to its endpoint, and no other
//! flow anything. The outages come from the
//! receivers' raw per-probe records, read through the API with their
//! timestamps and derived by the same code as on kind (observe::traffic);
//! the twin's rules `traffic-probe-through-both-overlays`,
//! `traffic-secondary-probe-over-net1`,
//! `traffic-service-probe-through-the-load-balancer` and
//! `traffic-dns-probe-after-a-lookup` decide which probes arrive.

mod support;

use std::time::Duration;

use cni_chaos::observe::traffic::SEND_INTERVAL;
use cni_chaos::slo::{SloKind, SloStatus};

const FROZEN: &str = "chaos-twin-worker";

/// The verdict of the scenario's (first) SLO of `kind`.
fn slo(r: &cni_chaos::run::ScenarioResult, kind: SloKind) -> &cni_chaos::slo::SloVerdict {
    r.slos
        .iter()
        .find(|v| v.slo.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind:?} verdict: {:#?}", r.slos))
}

fn suite(budget: &str) -> String {
    format!(
        r#"
name: traffic
description: continuous traffic through a frozen ovs-vswitchd
scenarios:
  - name: ovs-vswitchd-freeze
    fault: {{kind: ovs-kill, target: {{role: worker, index: 0}}, process: ovs-vswitchd, signal: stop, stop-for: 20s}}
    slos:
      - {{kind: max-outage, budget: {budget}}}
      - {{kind: max-loss, flow: pod-to-pod, percent: 50, within: 60s}}
"#
    )
}

/// What the freeze of [`FROZEN`]'s ovs-vswitchd does to a flow.
#[derive(Debug, PartialEq)]
enum Expect {
    /// Through the frozen worker: one outage of the freeze's length.
    Outage,
    /// A `pod-to-service` flow from another node: the load balancer keeps
    /// hashing some probes to the frozen worker's endpoint (still Ready, no
    /// health check on a ClusterIP), so those are lost, the others arrive:
    /// loss, and at most outages of a few probes.
    Partial,
    /// Elsewhere: nothing lost.
    Clean,
}

/// The flows of three nodes (six `pod-to-pod`, six `secondary`, three
/// `pod-to-service`, three `dns`) and what the freeze does to each.
fn expected(flow: &str) -> Expect {
    let (kind, ends) = flow.split_once(' ').unwrap_or((flow, ""));
    let touches = ends.split(" -> ").any(|n| n == FROZEN);
    match kind {
        "pod-to-pod" | "secondary" | "dns" if touches => Expect::Outage,
        "pod-to-service" if touches => Expect::Outage,
        "pod-to-service" => Expect::Partial,
        _ => Expect::Clean,
    }
}

#[tokio::test(start_paused = true)]
async fn a_20s_vswitchd_freeze_is_a_20s_outage_on_the_flows_through_that_worker_only() {
    let (suite, cluster) = support::twin_cluster("traffic.yaml", &suite("30s"));
    let r = support::run_first(&suite, cluster).await;
    assert_eq!(r.node.as_deref(), Some(FROZEN), "{r:#?}");
    let mut names: Vec<&str> = r.traffic.iter().map(|f| f.flow.as_str()).collect();
    names.sort();
    let want: Vec<String> = {
        let nodes = ["chaos-twin-control-plane", FROZEN, "chaos-twin-worker2"];
        let mut w = Vec::new();
        for a in nodes {
            for b in nodes.iter().filter(|b| **b != a) {
                w.push(format!("pod-to-pod {a} -> {b}"));
                w.push(format!("secondary {a} -> {b}"));
            }
            w.push(format!("pod-to-service {a}"));
            w.push(format!("dns {a}"));
        }
        w.sort();
        w
    };
    assert_eq!(names, want, "every flow of three nodes, each with records");
    let mut figures = Vec::new();
    for f in &r.traffic {
        assert!(f.not_covered.is_empty(), "{f:#?}");
        assert!(f.received > 100, "{f:#?}");
        let longest = f.longest().map(|o| o.duration()).unwrap_or_default();
        match expected(&f.flow) {
            Expect::Outage => {
                assert_eq!(f.outages.len(), 1, "{}: {:#?}", f.flow, f.outages);
                let o = &f.outages[0];
                assert!(
                    longest.abs_diff(Duration::from_secs(20)) <= SEND_INTERVAL,
                    "{}: outage {longest:?}",
                    f.flow
                );
                assert!(!o.open && !o.estimated, "{o:?}");
                // 20 s at one probe per 200 ms: 99 or 100 lost.
                assert!((98..=101).contains(&o.lost), "{}: {} lost", f.flow, o.lost);
                assert_eq!(f.lost, o.lost, "{f:#?}");
            }
            Expect::Partial => {
                // A third of the freeze's 100 probes, give or take the
                // hash's spread; never a long outage.
                assert!((15..=55).contains(&f.lost), "{}: {} lost", f.flow, f.lost);
                assert!(
                    longest < Duration::from_secs(3),
                    "{}: outage {longest:?}",
                    f.flow
                );
            }
            Expect::Clean => {
                assert!(f.outages.is_empty(), "{}: {:#?}", f.flow, f.outages);
                assert_eq!(f.lost, 0, "{f:#?}");
            }
        }
        figures.push(format!("{} longest {longest:?} ({} lost)", f.flow, f.lost));
    }
    support::say(&format!("TWIN traffic outages: {}", figures.join("; ")));
    // Each flow is a lane on the timeline, its outage a segment of it.
    for f in &r.traffic {
        let lane = r
            .lanes
            .iter()
            .find(|l| l.object.name == format!("flow {}", f.flow))
            .unwrap_or_else(|| panic!("no lane for {}", f.flow));
        let outages: Vec<i64> = lane
            .segments
            .iter()
            .filter(|s| s.state == "outage")
            .map(|s| s.to_ms - s.from_ms)
            .collect();
        let want: Vec<i64> = f
            .outages
            .iter()
            .map(|o| o.duration().as_millis() as i64)
            .collect();
        assert_eq!(outages, want, "{lane:?}");
        // On its receiving node, or its sending node for a flow named by
        // its sender alone.
        let node = f.flow.rsplit([' ', '>']).next().unwrap_or_default();
        assert_eq!(lane.node.as_deref(), Some(node), "{lane:?}");
    }
    let through = r
        .traffic
        .iter()
        .filter(|f| expected(&f.flow) == Expect::Outage)
        .count();
    assert_eq!(
        through, 10,
        "four pod-to-pod, four secondary, {FROZEN}'s pod-to-service and dns"
    );
    // Within budget: both SLOs pass, and the longest outage is measured.
    let v = slo(&r, SloKind::MaxOutage);
    assert_eq!(v.status, SloStatus::Pass, "{v:#?}");
    let l = slo(&r, SloKind::MaxLoss);
    assert_eq!(l.status, SloStatus::Pass, "{l:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_budget_under_the_freeze_fails_naming_the_flows_through_that_worker() {
    let (suite, cluster) = support::twin_cluster("traffic.yaml", &suite("5s"));
    let r = support::run_first(&suite, cluster).await;
    let v = slo(&r, SloKind::MaxOutage);
    assert_eq!(v.status, SloStatus::Fail, "{v:#?}");
    let mut names: Vec<&str> = v.culprits.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    // Four pod-to-pod and four secondary flows, and the worker's own
    // pod-to-service and dns flows (the other nodes' pod-to-service
    // outages stay under 1 s).
    assert_eq!(names.len(), 10, "{names:?}");
    assert!(
        names.iter().all(|n| n.contains(FROZEN)),
        "only flows through {FROZEN}: {names:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn receivers_replaced_after_the_fault_leave_flows_not_covered_never_passed() {
    // Deleting the traffic pods takes their receivers' logs with them: the
    // new receivers' logs start after the fault, so the start of the window
    // is covered by no record.
    let text = r#"
name: traffic
description: the receivers' logs lost with their pods
scenarios:
  - name: traffic-pods-deleted
    fault: {kind: pod-delete, namespace: cni-chaos-probes, selector: "cni-chaos.io/traffic=chaos-traffic"}
    slos:
      - {kind: max-outage, budget: 1m}
"#;
    let (suite, cluster) = support::twin_cluster("traffic.yaml", text);
    let r = support::run_first(&suite, cluster).await;
    let v = slo(&r, SloKind::MaxOutage);
    assert!(
        matches!(&v.status, SloStatus::NotEvaluated(why) if why.contains("not covered")),
        "{v:#?}"
    );
    assert!(!r.traffic.is_empty());
    for f in &r.traffic {
        let u = f.not_covered.first().unwrap_or_else(|| panic!("{f:#?}"));
        assert_eq!(u.from, Duration::ZERO, "{f:#?}");
        assert!(f.outages.iter().all(|o| o.start >= u.to), "{f:#?}");
    }
}

/// The `nat-egress` flow (the NAT gateway profile's client in the VPC, on
/// the control plane, to the target outside, through the gateway on the
/// first worker; read from the target's log): ovs-vswitchd frozen for 20 s
/// on the gateway's node cuts the gateway's `eth0` off the overlay, so the
/// flow shows one outage of the freeze's length, named by the client's
/// node; a budget under it fails naming the flow. The twin's rules
/// `nat-egress-traffic-to-the-target` and `nat-path-egress-through-snat`
/// decide which probes arrive.
#[tokio::test(start_paused = true)]
async fn a_frozen_vswitchd_on_the_gateways_node_is_a_nat_egress_outage() {
    let text = r#"
name: nat-traffic
description: the NAT egress flow through a frozen ovs-vswitchd on the gateway's node
cluster: {nat-gateway: true}
scenarios:
  - name: ovs-vswitchd-freeze
    fault: {kind: ovs-kill, target: {role: worker, index: 0}, process: ovs-vswitchd, signal: stop, stop-for: 20s}
    slos:
      - {kind: max-outage, flow: nat-egress, budget: 5s}
      - {kind: max-outage, flow: pod-to-pod, budget: 30s}
"#;
    let (suite, cluster) = support::twin_cluster("nat-traffic.yaml", text);
    let r = support::run_first(&suite, cluster).await;
    assert_eq!(r.node.as_deref(), Some(FROZEN), "{r:#?}");
    let nat: Vec<_> = r
        .traffic
        .iter()
        .filter(|f| f.flow.starts_with("nat-egress "))
        .collect();
    assert_eq!(nat.len(), 1, "{:#?}", r.traffic);
    let f = nat[0];
    assert_eq!(f.flow, "nat-egress chaos-twin-control-plane");
    assert!(f.received > 100, "{f:#?}");
    let long: Vec<_> = f
        .outages
        .iter()
        .filter(|o| o.duration() >= Duration::from_secs(1))
        .collect();
    assert_eq!(long.len(), 1, "one outage: {f:#?}");
    let d = long[0].duration();
    assert!(
        d >= Duration::from_secs(20) - SEND_INTERVAL
            && d <= Duration::from_secs(20) + SEND_INTERVAL,
        "{d:?}"
    );
    support::say(&format!(
        "TWIN nat-egress through a 20 s freeze on the gateway's node: outage {:.3}s ({} lost)",
        d.as_secs_f64(),
        long[0].lost
    ));
    let v = slo(&r, SloKind::MaxOutage);
    assert_eq!(v.status, SloStatus::Fail, "{v:#?}");
    assert_eq!(v.culprits.len(), 1, "{v:#?}");
    assert_eq!(
        v.culprits[0].name,
        "flow nat-egress chaos-twin-control-plane"
    );
    assert_eq!(
        v.culprits[0].node.as_deref(),
        Some("chaos-twin-control-plane")
    );
}
