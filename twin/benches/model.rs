//! Figures for the cluster model (`cargo bench -p cni-chaos-twin --bench
//! model`): wall time for one virtual hour of a 3-node cluster (pure model,
//! and inside the twin's store under paused tokio time), and wall time,
//! memory and events per second at 100 nodes / 10,000 pods. Prints the
//! figures; twin/BENCHMARKS.md records them.

use std::time::{Duration, Instant};

use cni_chaos_twin::model::{Model, ModelConfig, Output, Sink, VersionProfile, World};
use cni_chaos_twin::{Twin, TwinConfig};

/// Counts writes and drops them.
#[derive(Default)]
struct Count(u64);

impl Sink for Count {
    fn apply(&mut self, _o: Output) {
        self.0 += 1;
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn config(workers: usize, load: u32) -> ModelConfig {
    let mut cfg = ModelConfig::new(
        "bench",
        VersionProfile::named("kube-ovn-1.14-multus-4.2.1").expect("profile"),
    );
    cfg.workers = workers;
    cfg.load_pods = load;
    cfg.seed = 42;
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
        let model = Model::attach(&twin, config(2, 0));
        tokio::time::sleep(Duration::from_secs(300)).await;
        model
            .with(|w| w.restart_node("worker", true))
            .expect("reboot");
        tokio::time::sleep(Duration::from_secs(virtual_secs - 300)).await;
        twin.truth().len()
    });
    (start.elapsed(), truth)
}

fn main() {
    let start = Instant::now();
    let mut w = World::new(config(2, 0));
    let mut sink = Count::default();
    advance(&mut w, &mut sink, 300_000);
    w.restart_node("worker", true).expect("reboot");
    advance(&mut w, &mut sink, 3_600_000);
    println!(
        "3 nodes, 1 virtual hour (racy Multus, graceful reboot at 5 min), pure model: {:.3} s wall, {} events, {} writes",
        start.elapsed().as_secs_f64(),
        w.processed(),
        sink.0
    );
    let (wall, truth) = in_store(3_600);
    println!(
        "3 nodes, 1 virtual hour, model in the twin store (paused tokio time): {:.3} s wall, {truth} ground-truth entries",
        wall.as_secs_f64()
    );

    // 100 nodes: 1 control plane + 99 workers; about 5 system pods a node.
    let rss0 = rss_kib();
    let mut w = World::new(config(99, 10_000 - 5 * 100 - 6));
    let mut sink = Count::default();
    let (cold, cold_events) = advance(&mut w, &mut sink, 600_000);
    let (steady, steady_events) = advance(&mut w, &mut sink, 1_200_000);
    let rss = rss_kib().saturating_sub(rss0) / 1024;
    let pods = w.pod_count();
    println!(
        "100 nodes / {pods} pods, cold start to 10 virtual min: {:.2} s wall, {cold_events} events ({:.0} events/s)",
        cold.as_secs_f64(),
        cold_events as f64 / cold.as_secs_f64()
    );
    println!(
        "100 nodes / {pods} pods, steady 10 virtual min: {:.2} s wall, {steady_events} events ({:.0} events/s); {} writes in all; RSS +{rss} MiB",
        steady.as_secs_f64(),
        steady_events as f64 / steady.as_secs_f64(),
        sink.0
    );
}
