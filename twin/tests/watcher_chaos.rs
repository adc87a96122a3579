//! kube-runtime's watcher, in its default (paged list + watch) and
//! streaming-list modes, against the in-process twin under API chaos: idle
//! timeouts over virtual hours, forced 410s, compaction of a small history,
//! watch streams dropped (also mid-chunk) and 30 s outages. Every run is
//! seeded; the watcher's events are checked against the ground-truth log:
//! between two (re)lists every change arrives exactly once and in order, a
//! (re)list equals the truth at some point no earlier than what was already
//! delivered, and the watcher ends in the store's state.
//!
//! Runs: 8 tests x 250 seeds = 2,000 randomized runs, 1,000 per mode
//! (seeds 1-1,000 default, 10,001-11,000 streaming). Batches of 250 run as
//! separate tests so libtest spreads them over its threads: about 31 s of
//! wall time in a debug build on a 2-core machine (13 s for the earlier
//! 1,000 runs).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cni_chaos_twin::store::{ChangeType, TruthEntry};
use cni_chaos_twin::{Twin, TwinConfig};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

const RUNS_PER_TEST: u64 = 250;

/// xorshift64*: small, seeded, good enough to pick actions.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Ev {
    Init,
    InitApply(String, u64),
    InitDone,
    Apply(String, u64),
    Delete(String, u64),
}

#[derive(Default)]
struct Seen {
    events: Vec<Ev>,
    state: BTreeMap<String, u64>,
    init: BTreeMap<String, u64>,
    errors: usize,
}

fn key(p: &Pod) -> (String, u64) {
    let name = p.metadata.name.clone().unwrap_or_default();
    let rv = p
        .metadata
        .resource_version
        .as_deref()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    (name, rv)
}

fn pod(name: &str, bound: bool) -> serde_json::Value {
    let mut p = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "chaos"}},
        "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
    });
    if bound {
        p["spec"]["nodeName"] = json!("chaos-twin-worker");
        p["status"] = json!({"phase": "Running"});
    }
    p
}

fn store_state(twin: &Twin) -> BTreeMap<String, u64> {
    twin.list("pods", Some("default"))
        .iter()
        .map(|p| {
            (
                p["metadata"]["name"].as_str().unwrap().to_string(),
                p["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap(),
            )
        })
        .collect()
}

type Truth = [(String, u64, ChangeType)];

fn replay(truth: &Truth, k: usize) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for (name, rv, ty) in &truth[..k] {
        match ty {
            ChangeType::Deleted => {
                m.remove(name);
            }
            _ => {
                m.insert(name.clone(), *rv);
            }
        }
    }
    m
}

/// Checks `events[i..]` given that truth changes `..next` are accounted
/// for. A (re)list must equal the truth at some point `k >= next`; states
/// can repeat (a pod created and deleted again), so every such point is
/// tried. Watch events must be exactly the next truth change. At the end
/// every change must be accounted for. Returns (lists, coalesced) of the
/// first consistent explanation, or the reason none exists.
fn explain(
    truth: &Truth,
    events: &[Ev],
    mut i: usize,
    mut next: usize,
) -> Result<(usize, usize), String> {
    while i < events.len() {
        match &events[i] {
            Ev::Init => {
                let mut listed = BTreeMap::new();
                i += 1;
                loop {
                    match events.get(i) {
                        Some(Ev::InitApply(n, rv)) => {
                            if listed.insert(n.clone(), *rv).is_some() {
                                return Err(format!("event #{i}: {n} twice in one list"));
                            }
                        }
                        // A list that failed part-way (an outage) starts over.
                        Some(Ev::Init) => listed.clear(),
                        _ => break,
                    }
                    i += 1;
                }
                match events.get(i) {
                    Some(Ev::InitDone) => {}
                    // An init cut short (by the end of the run): ignore it.
                    None => break,
                    Some(other) => return Err(format!("event #{i}: {other:?} inside an init")),
                }
                i += 1;
                let mut last_err = format!(
                    "event #{}: list {listed:?} matches no point of the truth at or after #{next}",
                    i - 1
                );
                for k in next..=truth.len() {
                    if replay(truth, k) != listed {
                        continue;
                    }
                    match explain(truth, events, i, k) {
                        Ok((l, c)) => return Ok((1 + l, (k - next) + c)),
                        Err(e) => last_err = e,
                    }
                }
                return Err(last_err);
            }
            Ev::InitApply(..) | Ev::InitDone => {
                return Err(format!("event #{i}: {:?} outside an init", events[i]));
            }
            Ev::Apply(name, rv) | Ev::Delete(name, rv) => {
                let Some((tn, trv, tty)) = truth.get(next) else {
                    return Err(format!(
                        "event #{i}: {:?} beyond the truth (duplicate or invented)",
                        events[i]
                    ));
                };
                if (tn, trv) != (name, rv)
                    || matches!(events[i], Ev::Delete(..)) != (*tty == ChangeType::Deleted)
                {
                    return Err(format!(
                        "event #{i}: {:?} but the next change is #{next} {:?}: lost, duplicated or reordered",
                        events[i], truth[next]
                    ));
                }
                next += 1;
                i += 1;
            }
        }
    }
    if next != truth.len() {
        return Err(format!("changes from #{next} on were never delivered"));
    }
    Ok((0, 0))
}

fn check(seed: u64, truth: &Truth, events: &[Ev]) -> (usize, usize) {
    explain(truth, events, 0, 0)
        .unwrap_or_else(|e| panic!("seed {seed}: {e}\nevents: {events:?}\ntruth: {truth:?}"))
}

async fn run(seed: u64, streaming: bool) -> (usize, usize, usize) {
    let mut rng = Rng::new(seed);
    let history = [12, 40, 10_000][rng.below(3) as usize];
    let twin = Twin::new(TwinConfig {
        seed,
        history,
        ..TwinConfig::default()
    });
    twin.create("namespaces", "", json!({"metadata": {"name": "default"}}))
        .unwrap();
    let mut names: Vec<String> = Vec::new();
    let mut created = 0;
    for _ in 0..rng.below(4) {
        let name = format!("p{created}");
        created += 1;
        twin.create("pods", "default", pod(&name, rng.below(2) == 0))
            .unwrap();
        names.push(name);
    }
    let api: Api<Pod> = Api::namespaced(twin.client(), "default");
    let config = if streaming {
        watcher::Config::default().streaming_lists()
    } else {
        watcher::Config::default().page_size(1 + rng.below(3) as u32)
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sink = seen.clone();
    let consumer = tokio::spawn(async move {
        let mut stream = watcher(api, config).default_backoff().boxed();
        while let Some(item) = stream.next().await {
            let mut s = sink.lock().unwrap();
            match item {
                Ok(watcher::Event::Init) => {
                    s.events.push(Ev::Init);
                    s.init.clear();
                }
                Ok(watcher::Event::InitApply(p)) => {
                    let (n, rv) = key(&p);
                    s.init.insert(n.clone(), rv);
                    s.events.push(Ev::InitApply(n, rv));
                }
                Ok(watcher::Event::InitDone) => {
                    s.events.push(Ev::InitDone);
                    s.state = std::mem::take(&mut s.init);
                }
                Ok(watcher::Event::Apply(p)) => {
                    let (n, rv) = key(&p);
                    s.state.insert(n.clone(), rv);
                    s.events.push(Ev::Apply(n, rv));
                }
                Ok(watcher::Event::Delete(p)) => {
                    let (n, rv) = key(&p);
                    s.state.remove(&n);
                    s.events.push(Ev::Delete(n, rv));
                }
                Err(_) => s.errors += 1,
            }
        }
    });
    let steps = 10 + rng.below(30);
    for step in 0..steps {
        match rng.below(100) {
            0..20 if names.len() < 6 => {
                let name = format!("p{created}");
                created += 1;
                twin.create("pods", "default", pod(&name, rng.below(2) == 0))
                    .unwrap();
                names.push(name);
            }
            0..50 if !names.is_empty() => {
                let name = &names[rng.below(names.len() as u64) as usize];
                if twin.get("pods", "default", name).is_some() {
                    if rng.below(2) == 0 {
                        twin.patch_status(
                            "pods",
                            "default",
                            name,
                            &json!({"message": format!("step {step}")}),
                        )
                        .unwrap();
                    } else {
                        let mut p = (*twin.get("pods", "default", name).unwrap()).clone();
                        p["metadata"]["labels"]["step"] = json!(step.to_string());
                        twin.replace("pods", "default", name, p).unwrap();
                    }
                }
            }
            0..62 if !names.is_empty() => {
                let i = rng.below(names.len() as u64) as usize;
                let name = names.remove(i);
                // Bound pods terminate gracefully (30 s, finalized by the
                // default policy); others go at once.
                let _ = twin.delete("pods", "default", &name, None);
            }
            62..70 => tokio::time::sleep(Duration::from_millis(rng.below(3000))).await,
            70..75 => tokio::time::sleep(Duration::from_secs(300 + rng.below(2 * 3600))).await,
            75..82 => twin.force_gone(1),
            82..94 => twin.drop_watches(rng.below(2) == 0),
            94..97 => twin.outage(Duration::from_secs(30)),
            _ => tokio::task::yield_now().await,
        }
        if rng.below(3) == 0 {
            tokio::time::sleep(Duration::from_millis(rng.below(500))).await;
        } else {
            tokio::task::yield_now().await;
        }
    }
    // Let graceful deletions finish, outages end and backoffs expire, then
    // wait for the watcher to reach the store's state.
    tokio::time::sleep(Duration::from_secs(31)).await;
    let truth = || -> Vec<(String, u64, ChangeType)> {
        twin.truth()
            .into_iter()
            .filter_map(|t| match t {
                TruthEntry::Change {
                    resource: "pods",
                    namespace,
                    name,
                    change,
                    resource_version,
                    ..
                } if namespace == "default" => Some((name, resource_version, change)),
                _ => None,
            })
            .collect()
    };
    // Converged: the watcher holds the store's state and its events
    // account for every change (a watcher still in backoff may hold the
    // right state by accident of what changed meanwhile).
    let mut converged = false;
    for _ in 0..600 {
        let want = store_state(&twin);
        {
            let s = seen.lock().unwrap();
            if s.state == want && explain(&truth(), &s.events, 0, 0).is_ok() {
                converged = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    consumer.abort();
    let _ = consumer.await;
    let s = seen.lock().unwrap();
    let truth = truth();
    if !converged {
        let why = explain(&truth, &s.events, 0, 0).err().unwrap_or_default();
        panic!(
            "seed {seed} (streaming {streaming}): no convergence in 600 virtual seconds: watcher state {:?}, store {:?}: {why}\nevents {:?}\ntruth {truth:?}",
            s.state,
            store_state(&twin),
            s.events
        );
    }
    let (lists, coalesced) = check(seed, &truth, &s.events);
    (lists, coalesced, s.errors)
}

async fn runs(first_seed: u64, streaming: bool) {
    let (mut lists, mut coalesced, mut errors) = (0, 0, 0);
    for seed in first_seed..first_seed + RUNS_PER_TEST {
        let (l, c, e) = run(seed, streaming).await;
        lists += l;
        coalesced += c;
        errors += e;
    }
    // Chaos must actually have happened: relists beyond the first and
    // watcher errors from dropped streams and outages.
    assert!(
        lists > RUNS_PER_TEST as usize,
        "only {lists} lists in {RUNS_PER_TEST} runs"
    );
    assert!(errors > 0, "no watcher errors: chaos did not bite");
    eprintln!(
        "{RUNS_PER_TEST} runs (streaming {streaming}): {lists} lists, {coalesced} changes coalesced by relists, {errors} watcher errors"
    );
}

/// One test per batch of [`RUNS_PER_TEST`] seeds.
macro_rules! batches {
    ($($name:ident: $batch:expr, $first:expr, $streaming:expr;)*) => {$(
        #[tokio::test(start_paused = true)]
        async fn $name() {
            runs($first + $batch * RUNS_PER_TEST, $streaming).await;
        }
    )*};
}

batches! {
    default_watcher_a: 0, 1, false;
    default_watcher_b: 1, 1, false;
    default_watcher_c: 2, 1, false;
    default_watcher_d: 3, 1, false;
    streaming_watcher_a: 0, 10_001, true;
    streaming_watcher_b: 1, 10_001, true;
    streaming_watcher_c: 2, 10_001, true;
    streaming_watcher_d: 3, 10_001, true;
}
