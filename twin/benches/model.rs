//! Figures for the cluster model (`cargo bench -p cni-chaos-twin --bench
//! model`): wall time for one virtual hour of a 3-node cluster (pure model,
//! and inside the twin's store under paused tokio time); wall time, memory
//! (RSS growth and peak) and events per second at 100 nodes / 10,000 pods;
//! and how often the seed incident emerges over 100 seeds with Multus
//! v4.2.1 versus v4.2.3. Prints the figures; twin/BENCHMARKS.md records them.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cni_chaos_twin::model::{Model, ModelConfig, Output, Sink, VersionProfile, World};
use cni_chaos_twin::{Twin, TwinConfig};
use serde_json::Value;

const RACY: &str = "kube-ovn-1.14-multus-4.2.1";
const FIXED: &str = "kube-ovn-1.15-multus-4.2.3";
const CLUSTER: &str = "bench";
const WORKER: &str = "bench-worker";

/// Counts writes; keeps only the latest `kube-multus-ds` pod on `bench-worker`
/// and whether it was ever written in `Init:CrashLoopBackOff` since `from`.
#[derive(Default)]
struct Count {
    writes: u64,
    multus: Option<Value>,
    from: u64,
    crashloop: bool,
}

impl Sink for Count {
    fn apply(&mut self, o: Output) {
        self.writes += 1;
        match o {
            Output::Put {
                at,
                resource: "pods",
                name,
                object,
                ..
            } if name.starts_with("kube-multus-ds-")
                && object.pointer("/spec/nodeName").and_then(Value::as_str) == Some(WORKER) =>
            {
                if at >= self.from && status(&object) == "Init:CrashLoopBackOff" {
                    self.crashloop = true;
                }
                self.multus = Some(object);
            }
            Output::Remove {
                resource: "pods",
                name,
                ..
            } if self
                .multus
                .as_ref()
                .and_then(|m| m.pointer("/metadata/name"))
                .and_then(Value::as_str)
                == Some(name.as_str()) =>
            {
                self.multus = None;
            }
            _ => {}
        }
    }
}

impl Count {
    /// kubectl's STATUS column for the worker's Multus pod now.
    fn multus_status(&self) -> String {
        self.multus.as_ref().map_or("absent".into(), status)
    }
}

/// The STATUS column kubectl prints for a pod (the twin API's `printPod`).
fn status(pod: &Value) -> String {
    cni_chaos_twin::api::pod_status_reason(pod, jiff::Timestamp::UNIX_EPOCH).1
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`).
fn proc_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn config(profile: &str, workers: usize, load: u32, seed: u64) -> ModelConfig {
    let mut cfg = ModelConfig::new(CLUSTER, VersionProfile::named(profile).expect("profile"));
    cfg.workers = workers;
    cfg.load_pods = load;
    cfg.seed = seed;
    cfg
}

/// Runs to `until` in 1 s steps; returns (wall, events processed).
fn advance(w: &mut World, sink: &mut Count, until: u64) -> (Duration, u64) {
    let (start, before) = (Instant::now(), w.processed());
    while w.now() < until {
        let next = (w.now() + 1_000).min(until);
        w.advance_to(next);
        w.drain_into(sink);
    }
    (start.elapsed(), w.processed() - before)
}

fn in_store(virtual_secs: u64) -> (Duration, usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    let start = Instant::now();
    let truth = rt.block_on(async {
        let twin = Twin::new(TwinConfig::default());
        let model = Model::attach(&twin, config(RACY, 2, 0, 42));
        tokio::time::sleep(Duration::from_secs(300)).await;
        model
            .with(|w| w.restart_node("worker", true))
            .expect("reboot");
        tokio::time::sleep(Duration::from_secs(virtual_secs - 300)).await;
        twin.truth().len()
    });
    (start.elapsed(), truth)
}

/// Pods the model runs with no load after 10 virtual minutes.
fn system_pods(workers: usize) -> usize {
    let mut w = World::new(config(RACY, workers, 0, 42));
    advance(&mut w, &mut Count::default(), 600_000);
    w.pod_count()
}

/// One seed: hard reboot (`docker kill` + `start`) of `worker` at 4 min,
/// the crash that leaves `00-multus.conf` behind; returns whether the
/// Multus pod on the worker was written in Init:CrashLoopBackOff after the
/// reboot, and its kubectl STATUS 10 min and 60 min after the reboot.
fn emerges(profile: &str, seed: u64) -> (bool, String, String) {
    let mut w = World::new(config(profile, 2, 0, seed));
    let mut sink = Count::default();
    advance(&mut w, &mut sink, 240_000);
    sink.from = w.now();
    w.restart_node("worker", false).expect("reboot");
    advance(&mut w, &mut sink, 240_000 + 600_000);
    let at10 = sink.multus_status();
    advance(&mut w, &mut sink, 240_000 + 3_600_000);
    (sink.crashloop, at10, sink.multus_status())
}

fn main() {
    let start = Instant::now();
    let mut w = World::new(config(RACY, 2, 0, 42));
    let mut sink = Count::default();
    advance(&mut w, &mut sink, 300_000);
    w.restart_node("worker", true).expect("reboot");
    advance(&mut w, &mut sink, 3_600_000);
    println!(
        "3 nodes, 1 virtual hour (racy Multus, graceful reboot at 5 min), pure model: {:.3} s wall, {} events, {} writes; Multus on the worker at the end: {}",
        start.elapsed().as_secs_f64(),
        w.processed(),
        sink.writes,
        sink.multus_status()
    );
    drop(w);
    let (wall, truth) = in_store(3_600);
    println!(
        "3 nodes, 1 virtual hour, model in the twin store (paused tokio time): {:.3} s wall, {truth} ground-truth entries",
        wall.as_secs_f64()
    );

    // 100 nodes: 1 control plane + 99 workers. System pods grow linearly
    // with nodes (DaemonSets) over a fixed set (Deployments); measure that
    // on 2- and 3-node clusters, then add load pods up to exactly 10,000.
    let (s2, s3) = (system_pods(1), system_pods(2));
    let per_node = s3 - s2;
    let system = s2 + 98 * per_node;
    let load = 10_000 - system;
    println!("system pods: {s2} at 2 nodes, {s3} at 3 -> {system} at 100 nodes; load pods {load}");
    let (rss0, hwm0) = (proc_kib("VmRSS"), proc_kib("VmHWM"));
    let mut w = World::new(config(RACY, 99, load as u32, 42));
    let mut sink = Count::default();
    let (cold, cold_events) = advance(&mut w, &mut sink, 600_000);
    let cold_pods = w.pod_count();
    let (steady, steady_events) = advance(&mut w, &mut sink, 1_200_000);
    let pods = w.pod_count();
    let rss = proc_kib("VmRSS");
    let hwm = proc_kib("VmHWM");
    println!(
        "100 nodes / {cold_pods} pods, cold start to 10 virtual min: {:.2} s wall, {cold_events} events ({:.0} events/s)",
        cold.as_secs_f64(),
        cold_events as f64 / cold.as_secs_f64()
    );
    println!(
        "100 nodes / {pods} pods, steady 10 virtual min: {:.2} s wall, {steady_events} events ({:.0} events/s); {} writes in all",
        steady.as_secs_f64(),
        steady_events as f64 / steady.as_secs_f64(),
        sink.writes
    );
    println!(
        "memory: RSS {} -> {} MiB (+{} MiB); peak RSS (VmHWM) {} MiB (before the 100-node run: {} MiB)",
        rss0 / 1024,
        rss / 1024,
        rss.saturating_sub(rss0) / 1024,
        hwm / 1024,
        hwm0 / 1024
    );
    assert_eq!(
        pods, 10_000,
        "the 100-node cluster runs exactly 10,000 pods"
    );
    drop(w);

    // Emergence over seeds: the same hard reboot under both profiles.
    let seeds = 100;
    for profile in [RACY, FIXED] {
        let start = Instant::now();
        let mut crash = 0;
        let (mut at10, mut at60) = (BTreeMap::new(), BTreeMap::new());
        for seed in 1..=seeds {
            let (c, a, b) = emerges(profile, seed);
            crash += u32::from(c);
            *at10.entry(a).or_insert(0u32) += 1;
            *at60.entry(b).or_insert(0u32) += 1;
        }
        let stuck = |m: &BTreeMap<String, u32>| {
            m.iter()
                .filter(|(s, _)| s.as_str() != "Running")
                .map(|(_, n)| n)
                .sum::<u32>()
        };
        println!(
            "emergence, {profile}, {seeds} seeds, hard reboot of {WORKER} at 4 min: Multus there written in Init:CrashLoopBackOff in {crash}; not Running at +10 min in {}, at +60 min in {} ({:.1} s wall)",
            stuck(&at10),
            stuck(&at60),
            start.elapsed().as_secs_f64()
        );
        println!("  STATUS at +10 min: {at10:?}; at +60 min: {at60:?}");
    }
}
