//! Observation accuracy: how far the harness's recovery times are from the
//! twin's ground truth, next to what polling observers (1 s and 10 s, what
//! peers do) would have measured in the same runs.
//!
//! Each run: a twin with the cluster model (a fixed Multus, so the cluster
//! recovers), steady for 4 virtual minutes, a graceful reboot of a worker,
//! then 8 minutes of observation. Four timelines are recorded side by side:
//!
//! * truth: every committed change read from the twin's store in-process,
//!   stamped with its virtual commit time (the ground truth);
//! * watch: the harness's `Observer` (kube-runtime watchers over the API);
//! * poll 1 s and poll 10 s: a list of pods and nodes every interval.
//!
//! For every kube-system pod that went not-Ready after the fault, its
//! recovery time is the last not-Ready -> Ready transition; the error is the
//! observer's recovery time minus the truth's. `missed` counts pods whose
//! outage the observer never saw. The SLO line compares the harness's
//! `workloads-ready-within` measurement on each timeline with the truth's.
//!
//! Run: `cargo bench -p cni-chaos --bench accuracy` (CHAOS_BENCH_RUNS, default 10).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cni_chaos::observe::{
    Change, ObjKind, ObjRef, Observer, Timeline, WatchOptions, Window, evaluate,
};
use cni_chaos::slo::{Measured, PodScope, Slo};
use cni_chaos_twin::model::{Model, ModelConfig, VersionProfile};
use cni_chaos_twin::resource;
use cni_chaos_twin::{Twin, TwinConfig};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams};
use tokio::time::Instant;

const PROFILE: &str = "kube-ovn-1.15-multus-4.2.3";
const WORKER: &str = "twin-worker";

type Shared = Arc<Mutex<Timeline>>;

fn new_timeline(origin: Instant) -> Shared {
    Arc::new(Mutex::new(Timeline::new(
        origin,
        "2026-01-01T00:00:00Z".parse().unwrap(),
    )))
}

/// Records every committed pod and node change from the store, at its commit time.
async fn truth(
    twin: Twin,
    tl: Shared,
    origin: Instant,
    origin_ts: jiff::Timestamp,
    until: Instant,
) {
    let mut rv = twin.with_store(|s| s.resource_version());
    let pods = resource::by_plural("pods").expect("pods");
    let nodes = resource::by_plural("nodes").expect("nodes");
    // Seed with the current state.
    for (_, v) in twin.with_store(|s| s.list(pods, None)) {
        if let Ok(p) = serde_json::from_value::<Pod>((*v).clone()) {
            tl.lock().unwrap().pod(&p, origin);
        }
    }
    for (_, v) in twin.with_store(|s| s.list(nodes, None)) {
        if let Ok(n) = serde_json::from_value::<Node>((*v).clone()) {
            tl.lock().unwrap().node(&n, origin);
        }
    }
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let changes = match twin.with_store(|s| s.changes_since(rv)) {
            Ok(c) => c,
            Err(oldest) => panic!("truth recorder fell behind the history (oldest {oldest})"),
        };
        for c in changes {
            rv = rv.max(c.rv);
            let offset = c.at.duration_since(origin_ts);
            let at = origin + Duration::try_from(offset).unwrap_or_default();
            let mut t = tl.lock().unwrap();
            match (c.key.resource, &c.change) {
                ("pods", cni_chaos_twin::store::ChangeType::Deleted) => {
                    t.pod_gone(&c.key.namespace, &c.key.name, at);
                }
                ("pods", _) => {
                    if let Ok(p) = serde_json::from_value::<Pod>((*c.object).clone()) {
                        t.pod(&p, at);
                    }
                }
                ("nodes", cni_chaos_twin::store::ChangeType::Deleted) => {
                    t.node_gone(&c.key.name, at);
                }
                ("nodes", _) => {
                    if let Ok(n) = serde_json::from_value::<Node>((*c.object).clone()) {
                        t.node(&n, at);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Lists pods and nodes every `every`, like a polling chaos tool.
async fn poll(client: kube::Client, tl: Shared, every: Duration, until: Instant) {
    let pods: Api<Pod> = Api::all(client.clone());
    let nodes: Api<Node> = Api::all(client);
    while Instant::now() < until {
        let now = Instant::now();
        if let (Ok(ps), Ok(ns)) = (
            pods.list(&ListParams::default()).await,
            nodes.list(&ListParams::default()).await,
        ) {
            let mut t = tl.lock().unwrap();
            let seen: Vec<ObjRef> = ps
                .items
                .iter()
                .map(|p| {
                    ObjRef::pod(
                        p.metadata.namespace.as_deref().unwrap_or(""),
                        p.metadata.name.as_deref().unwrap_or(""),
                    )
                })
                .collect();
            for p in &ps.items {
                t.pod(p, now);
            }
            for gone in t
                .present(ObjKind::Pod)
                .into_iter()
                .filter(|o| !seen.contains(o))
            {
                t.pod_gone(gone.namespace.as_deref().unwrap_or(""), &gone.name, now);
            }
            for n in &ns.items {
                t.node(n, now);
            }
        }
        tokio::time::sleep_until(now + every).await;
    }
}

/// Per kube-system pod that was not Ready after the fault: when it was Ready
/// for the last time (offset from the timeline origin).
fn recoveries(tl: &Timeline, fault: Duration) -> BTreeMap<String, Option<Duration>> {
    let mut out = BTreeMap::new();
    for o in tl.objects(ObjKind::Pod) {
        if o.namespace.as_deref() != Some("kube-system") {
            continue;
        }
        let mut dipped = false;
        let mut ready_at = None;
        let mut ready = tl.pod_at(&o, fault).is_some_and(|s| s.serving());
        for t in tl.history(&o).filter(|t| t.at > fault) {
            let now = matches!(&t.change, Change::Pod(s) if s.serving());
            if !now && ready {
                dipped = true;
            }
            if now && !ready {
                ready_at = Some(t.at);
            }
            ready = now;
        }
        if dipped || (ready_at.is_some() && tl.pod_at(&o, fault).is_none()) {
            out.insert(o.name.clone(), ready_at.map(|r| r.saturating_sub(fault)));
        }
    }
    out
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Default)]
struct Errors {
    per_pod: Vec<i64>,
    missed: usize,
    slo: Vec<i64>,
}

fn pct(v: &[i64], p: f64) -> i64 {
    let mut a: Vec<i64> = v.iter().map(|x| x.abs()).collect();
    a.sort_unstable();
    if a.is_empty() {
        return 0;
    }
    let i = ((a.len() as f64 - 1.0) * p).round() as usize;
    a[i.min(a.len() - 1)]
}

async fn one(seed: u64, errors: &mut BTreeMap<&'static str, Errors>) {
    let twin = Twin::new(TwinConfig {
        seed,
        ..TwinConfig::default()
    });
    let mut cfg = ModelConfig::new("twin", VersionProfile::named(PROFILE).expect("profile"));
    cfg.seed = seed;
    let model = Model::attach(&twin, cfg);
    tokio::time::sleep(Duration::from_secs(240)).await;

    let origin = Instant::now();
    let origin_ts = twin.clock().now();
    let until = origin + Duration::from_secs(8 * 60 + 30);
    let truth_tl = new_timeline(origin);
    let poll1 = new_timeline(origin);
    let poll10 = new_timeline(origin);
    let observer = Observer::start(
        twin.client(),
        origin,
        "2026-01-01T00:00:00Z".parse().unwrap(),
        WatchOptions::default(),
    );
    let tasks = vec![
        tokio::spawn(truth(
            twin.clone(),
            truth_tl.clone(),
            origin,
            origin_ts,
            until,
        )),
        tokio::spawn(poll(
            twin.client(),
            poll1.clone(),
            Duration::from_secs(1),
            until,
        )),
        tokio::spawn(poll(
            twin.client(),
            poll10.clone(),
            Duration::from_secs(10),
            until,
        )),
    ];
    tokio::time::sleep(Duration::from_secs(20)).await;
    let fault = origin.elapsed();
    model
        .with(|w| w.restart_node("worker", true))
        .expect("reboot");
    tokio::time::sleep_until(until).await;
    for t in tasks {
        t.await.expect("recorder");
    }
    let truth_tl = truth_tl.lock().unwrap().clone();
    let want = recoveries(&truth_tl, fault);
    assert!(
        !want.is_empty(),
        "seed {seed}: the reboot disturbed no kube-system pod"
    );
    let slo = Slo::WorkloadsReadyWithin {
        scope: PodScope {
            namespace: Some("kube-system".into()),
            selector: None,
        },
        budget: Duration::from_secs(8 * 60),
    };
    let window = Window {
        fault_at: fault,
        reference: fault,
        end: until - origin,
        fault_node: Some(WORKER.into()),
    };
    let slo_ms = |tl: &Timeline| match evaluate(&slo, tl, &window).measured {
        Some(Measured::Millis(m)) => Some(i64::try_from(m).unwrap_or(i64::MAX)),
        _ => None,
    };
    let truth_slo = slo_ms(&truth_tl);
    for (name, tl) in [
        ("watch", observer.timeline()),
        ("poll 1s", poll1.lock().unwrap().clone()),
        ("poll 10s", poll10.lock().unwrap().clone()),
    ] {
        let got = recoveries(&tl, fault);
        let e = errors.entry(name).or_default();
        for (pod, truth_at) in &want {
            match (truth_at, got.get(pod)) {
                (Some(t), Some(Some(g))) => e.per_pod.push(ms(*g) - ms(*t)),
                (Some(_), _) => e.missed += 1,
                _ => {}
            }
        }
        if let (Some(t), Some(g)) = (truth_slo, slo_ms(&tl)) {
            e.slo.push(g - t);
        }
    }
}

fn main() {
    let runs: u64 = std::env::var("CHAOS_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let started = std::time::Instant::now();
    let mut errors: BTreeMap<&'static str, Errors> = BTreeMap::new();
    for seed in 1..=runs {
        rt.block_on(one(seed, &mut errors));
    }
    println!(
        "observation accuracy vs the twin's ground truth: {runs} worker reboots ({PROFILE}), wall {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<10} {:>6} {:>9} {:>9} {:>9} {:>7} {:>12} {:>12}",
        "observer", "pods", "p50 ms", "p99 ms", "max ms", "missed", "SLO p50 ms", "SLO max ms"
    );
    for name in ["watch", "poll 1s", "poll 10s"] {
        let e = &errors[name];
        println!(
            "{:<10} {:>6} {:>9} {:>9} {:>9} {:>7} {:>12} {:>12}",
            name,
            e.per_pod.len() + e.missed,
            pct(&e.per_pod, 0.5),
            pct(&e.per_pod, 0.99),
            pct(&e.per_pod, 1.0),
            e.missed,
            pct(&e.slo, 0.5),
            pct(&e.slo, 1.0)
        );
    }
}
