//! Same seed, byte-identical ground truth; different seeds, different
//! timings inside the modelled jitter.

mod model_support;

use cni_chaos_twin::model::Recorder;
use model_support::*;

fn log(seed: u64) -> (Vec<String>, Vec<(u64, String)>) {
    let mut rec = Recorder::default();
    let mut w = world("kube-ovn-1.14-multus-4.2.1", seed);
    run(&mut w, &mut rec, 240_000);
    w.restart_node("worker2", true).expect("reboot");
    run(&mut w, &mut rec, 600_000);
    (rec.log, rec.notes)
}

#[test]
fn same_seed_gives_a_byte_identical_log() {
    let (a, _) = log(11);
    let (b, _) = log(11);
    assert!(a.len() > 300, "{}", a.len());
    assert_eq!(a.join("\n"), b.join("\n"));
}

#[test]
fn different_seeds_vary_timings_within_the_jitter() {
    let mut stop_delays = Vec::new();
    let mut kubelet_delays = Vec::new();
    for seed in 1..=8 {
        let (_, notes) = log(seed);
        let at = |needle: &str| {
            notes
                .iter()
                .filter(|(t, n)| *t >= 240_000 && n.contains(needle))
                .map(|(t, _)| *t)
                .next()
                .expect(needle)
        };
        let stopped = at("twin-worker2: container stopped");
        let started = at("twin-worker2: container started");
        let kubelet = at("twin-worker2: kubelet started");
        // docker restart: the node's shutdown lasts until its slowest
        // program has exited (ovs-ovn's quit up to 2 s, CoreDNS' 5 s
        // lameduck where it runs; worker2 has no NAT gateway, which would
        // hold it to the stop timeout), then systemd finishes in 0.1-0.4 s;
        // the start takes 0.3-1 s; systemd brings the kubelet up 2-5 s later.
        assert!((240_600..=245_600).contains(&stopped), "{stopped}");
        assert!((300..=1_000).contains(&(started - stopped)));
        assert!((2_000..=5_000).contains(&(kubelet - started)));
        stop_delays.push(stopped);
        kubelet_delays.push(kubelet - started);
    }
    stop_delays.sort();
    stop_delays.dedup();
    kubelet_delays.sort();
    kubelet_delays.dedup();
    assert!(
        stop_delays.len() >= 6 && kubelet_delays.len() >= 6,
        "{stop_delays:?} {kubelet_delays:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn same_seed_gives_identical_truth_through_the_store() {
    async fn truth(seed: u64) -> String {
        let (twin, model, _client) = api::cluster("kube-ovn-1.14-multus-4.2.1", seed);
        api::wait(240).await;
        model
            .with(|w| w.restart_node("worker", true))
            .expect("reboot");
        api::wait(300).await;
        serde_json::to_string(&twin.truth()).expect("json")
    }
    let a = truth(5).await;
    let b = truth(5).await;
    assert!(a.len() > 10_000);
    assert_eq!(a, b);
    assert_ne!(a, truth(6).await);
}
