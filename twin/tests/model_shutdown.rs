//! Graceful and hard node stops, without the API: a `docker restart` is an
//! orderly systemd shutdown in which every program runs its clean exit (the
//! Multus daemon deletes `00-multus.conf`), a `docker kill` is a crash that
//! leaves it behind. Whether the multus-cni #1221 deadlock follows is up to
//! the rules; these tests only look at what the model wrote.

mod model_support;

use cni_chaos_twin::model::{
    CNI_DIR, MULTUS_CONF, Output, Recorder, STOP_TIMEOUT, Signal, Sink, World,
};
use model_support::*;

const RACY: [&str; 2] = ["kube-ovn-1.14-multus-4.2.1", "kube-ovn-1.13-multus-4.1.3"];
const FIXED: [&str; 3] = [
    "kube-ovn-1.15-multus-4.2.3",
    "default",
    "kube-ovn-master-multus-4.3.0",
];
const WORKER: &str = "twin-worker";

/// A recorder that also remembers every kubectl STATUS written for a pod
/// on [`WORKER`] at or after `from`.
#[derive(Default)]
struct Watch {
    rec: Recorder,
    from: u64,
    statuses: Vec<(u64, String, String)>,
}

impl Sink for Watch {
    fn apply(&mut self, o: Output) {
        if let Output::Put {
            at,
            resource: "pods",
            name,
            object,
            ..
        } = &o
            && *at >= self.from
            && object["spec"]["nodeName"] == WORKER
        {
            self.statuses.push((*at, name.clone(), status(object)));
        }
        self.rec.apply(o);
    }
}

impl Watch {
    fn init_crashloops(&self) -> Vec<&(u64, String, String)> {
        self.statuses
            .iter()
            .filter(|(_, _, s)| s == "Init:CrashLoopBackOff")
            .collect()
    }
}

fn steady(profile: &str, seed: u64) -> (World, Watch) {
    let mut w = world(profile, seed);
    let mut watch = Watch::default();
    w.run_for(240_000);
    w.drain_into(&mut watch);
    watch.from = w.now();
    assert!(
        w.file(WORKER, MULTUS_CONF).unwrap().is_some(),
        "{profile} seed {seed}: Multus wrote its config before the fault"
    );
    (w, watch)
}

fn up(w: &World, node: &str) -> bool {
    w.node_infos().into_iter().any(|i| i.name == node && i.up)
}

/// Steps one event at a time until `node` is down; returns the time.
fn until_down(w: &mut World, watch: &mut Watch, node: &str) -> u64 {
    while up(w, node) {
        let t = w.next_event().expect("events until the node stops");
        w.advance_to(t);
        w.drain_into(watch);
    }
    w.now()
}

fn has_note(watch: &Watch, needle: &str) -> bool {
    watch.rec.notes.iter().any(|(_, n)| n.contains(needle))
}

/// The racy cell, 20 seeds: the worker's systemd SIGTERMs the Multus daemon,
/// whose clean exit deletes `00-multus.conf` before the container stops
/// (read out of the stopped node, as `docker cp` would); after the boot no
/// shim waits on a missing daemon, so no init container meets a busy
/// shim, and nothing on the worker goes into `Init:CrashLoopBackOff`.
#[test]
fn graceful_restart_removes_the_multus_config_before_power_off_and_nothing_crash_loops() {
    for seed in 1..=20 {
        let (mut w, mut watch) = steady(RACY[0], seed);
        w.restart_node("worker", true).unwrap();
        let down = until_down(&mut w, &mut watch, WORKER);
        assert!(
            has_note(&watch, "twin-worker: multus-daemon clean exit removed"),
            "seed {seed}"
        );
        let files = w.node_files(WORKER, CNI_DIR).unwrap();
        assert!(
            files.iter().all(|(p, _, _)| p != MULTUS_CONF),
            "seed {seed}: {files:?}"
        );
        assert!(
            files
                .iter()
                .any(|(p, _, m)| p.ends_with("-kube-ovn.conflist") && *m == 0o600),
            "seed {seed}: Kube-OVN's conflist stays: {files:?}"
        );
        assert!(down > watch.from, "seed {seed}");
        w.run_for(600_000);
        w.drain_into(&mut watch);
        let loops = watch.init_crashloops();
        assert!(loops.is_empty(), "seed {seed}: {loops:?}");
        assert!(
            !has_note(&watch, "Text file busy"),
            "seed {seed}: no cp met a busy shim"
        );
        assert!(all_ready(&watch), "seed {seed}:\n{}", table(&watch.rec));
    }
}

fn all_ready(watch: &Watch) -> bool {
    watch.rec.all("pods").all(ready)
}

/// A hard restart is a crash: `00-multus.conf` survives, the runtime runs
/// the shim for every sandbox, the shim waits for a daemon that is not
/// there and keeps the binary busy, and the racy `cp` fails: #1221 on both
/// racy cells.
#[test]
fn hard_restart_still_deadlocks_the_racy_cells() {
    for profile in RACY {
        for seed in 1..=5 {
            let (mut w, mut watch) = steady(profile, seed);
            w.restart_node("worker", false).unwrap();
            assert!(!up(&w, WORKER));
            let files = w.node_files(WORKER, CNI_DIR).unwrap();
            assert!(
                files.iter().any(|(p, _, _)| p == MULTUS_CONF),
                "{profile} seed {seed}: {files:?}"
            );
            w.run_for(600_000);
            w.drain_into(&mut watch);
            assert!(
                has_note(
                    &watch,
                    "twin-worker: install-multus-binary: cp: cannot create regular file '/host/opt/cni/bin/multus-shim': Text file busy"
                ),
                "{profile} seed {seed}"
            );
            let loops = watch.init_crashloops();
            assert!(
                loops
                    .iter()
                    .any(|(_, n, _)| n.starts_with("kube-multus-ds-")),
                "{profile} seed {seed}: {:?}",
                watch.statuses
            );
            assert!(!has_note(&watch, "clean exit removed"));
        }
    }
}

/// systemd follows SIGTERM with SIGCONT: a Multus daemon frozen with
/// SIGSTOP before the graceful restart wakes, runs its clean exit and
/// deletes its config; the racy cell then recovers without a crash loop.
#[test]
fn a_frozen_multus_daemon_still_cleans_up_in_a_graceful_shutdown() {
    for seed in 1..=5 {
        let (mut w, mut watch) = steady(RACY[0], seed);
        let pids = w.signal(WORKER, "multus-daemon", Signal::Stop).unwrap();
        assert_eq!(pids.len(), 1);
        w.run_for(5_000);
        assert!(
            w.processes(WORKER)
                .unwrap()
                .iter()
                .any(|p| p.pid == pids[0] && p.stopped)
        );
        w.restart_node(WORKER, true).unwrap();
        until_down(&mut w, &mut watch, WORKER);
        assert!(
            has_note(&watch, "twin-worker: multus-daemon clean exit removed"),
            "seed {seed}"
        );
        assert!(w.file(WORKER, MULTUS_CONF).unwrap().is_none());
        w.run_for(600_000);
        w.drain_into(&mut watch);
        assert!(watch.init_crashloops().is_empty(), "seed {seed}");
    }
}

/// The kubelet's stop sends no SIGCONT: deleting the pod of a frozen Multus
/// daemon kills it without its clean exit, so `00-multus.conf` stays.
#[test]
fn a_kubelet_delete_of_a_frozen_multus_daemon_leaves_the_config() {
    let (mut w, mut watch) = steady(FIXED[0], 2);
    w.signal(WORKER, "multus-daemon", Signal::Stop).unwrap();
    let pod = pod_on(&w, "multus", WORKER);
    w.delete_pod("kube-system", &pod).unwrap();
    w.run_for(3_000);
    w.drain_into(&mut watch);
    assert!(!has_note(&watch, "clean exit removed"));
    assert!(w.file(WORKER, MULTUS_CONF).unwrap().is_some());
}

/// The fixed cells (install_multus) deadlock neither way: after a graceful
/// and after a hard restart every pod is Ready again and nothing on the
/// worker went into `Init:CrashLoopBackOff`.
#[test]
fn fixed_cells_recover_from_graceful_and_hard_restarts() {
    for profile in FIXED {
        for graceful in [true, false] {
            for seed in 1..=3 {
                let (mut w, mut watch) = steady(profile, seed);
                w.restart_node("worker", graceful).unwrap();
                w.run_for(600_000);
                w.drain_into(&mut watch);
                let loops = watch.init_crashloops();
                assert!(
                    loops.is_empty(),
                    "{profile} graceful={graceful} seed {seed}: {loops:?}"
                );
                assert!(
                    all_ready(&watch),
                    "{profile} graceful={graceful} seed {seed}:\n{}",
                    table(&watch.rec)
                );
            }
        }
    }
}

/// The VPC NAT gateway's `sleep infinity` is the init of its PID
/// namespace and ignores SIGTERM: a graceful stop of its node lasts the
/// whole stop timeout and ends with Docker killing it; a node without it
/// is down within seconds. A stopped node stays down until started, and
/// its files can be read meanwhile.
#[test]
fn a_graceful_stop_waits_for_what_ignores_sigterm_and_stays_down() {
    let (mut w, mut watch) = steady(RACY[0], 4);
    let t0 = w.now();
    w.stop_node(WORKER, true).unwrap();
    let down = until_down(&mut w, &mut watch, WORKER);
    assert_eq!(down, t0 + STOP_TIMEOUT, "the stop timeout ends it");
    assert!(has_note(
        &watch,
        "twin-worker: stop timeout: docker kills vpc-nat-gw"
    ));
    let t1 = w.now();
    w.stop_node("worker2", true).unwrap();
    let down2 = until_down(&mut w, &mut watch, "twin-worker2");
    assert!(down2 - t1 < 6_000, "{}", down2 - t1);
    w.run_for(120_000);
    assert!(!up(&w, WORKER) && !up(&w, "twin-worker2"));
    let cni = w.node_files("worker2", CNI_DIR).unwrap();
    assert!(
        !cni.is_empty() && cni.iter().all(|(p, _, _)| p != MULTUS_CONF),
        "{cni:?}"
    );
    assert!(w.node_files("worker2", "/run").unwrap().is_empty());
    assert!(w.stop_node(WORKER, false).is_err(), "already down");
    w.start_node(WORKER).unwrap();
    w.run_for(5_000);
    assert!(up(&w, WORKER));
}

/// `docker restart -t 0`: the timeout is over before anything exits, so a
/// graceful restart with no time left is a crash and the racy cell
/// deadlocks as after a hard one. The clean exit is a rule that can lose.
#[test]
fn a_graceful_restart_without_time_to_exit_keeps_the_config() {
    let (mut w, mut watch) = steady(RACY[0], 1);
    w.halt_node(WORKER, 0, true).unwrap();
    until_down(&mut w, &mut watch, WORKER);
    assert!(!has_note(&watch, "clean exit removed"));
    assert!(w.file(WORKER, MULTUS_CONF).unwrap().is_some());
    w.run_for(600_000);
    w.drain_into(&mut watch);
    assert!(has_note(&watch, "Text file busy"));
}
