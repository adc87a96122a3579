//! The kubelet's container restart back-off (FACTS.md "Kubernetes facts":
//! 10 s, doubling, capped at 300 s, reset after 10 min of running), as the
//! kubelet implements it: `doBackOff` in
//! `pkg/kubelet/kuberuntime/kuberuntime_manager.go` restarts at once when
//! the container is not in back-off and reports `back-off <Go duration>
//! restarting failed container=<name> pod=<pod>` while it is; client-go's
//! `util/flowcontrol/backoff.go` doubles the period up to the cap and
//! starts over once more than 2 x 300 s passed since the last restart
//! (`hasExpired`), i.e. after a run of 10 minutes.

mod model_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use cni_chaos_twin::model::{CNI_DIR, Recorder, Signal, World};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::watcher;
use model_support::*;
use serde_json::Value;

const FIXED: &str = "kube-ovn-1.15-multus-4.2.3";
const WORKER: &str = "twin-worker";

/// The worker's Multus pod.
fn multus_pod(w: &World) -> String {
    pod_on(w, "multus", WORKER)
}

fn seconds(ts: &Value) -> i64 {
    ts.as_str()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .unwrap_or_else(|| panic!("not a timestamp: {ts}"))
        .as_second()
}

/// Crash loop: with Kube-OVN's conflist removed, a Multus daemon killed
/// once (it ignores the removal itself, multus-cni
/// `pkg/server/config/manager.go`) comes back to no primary config, and
/// every run then waits 120 s for one and exits 1 (FACTS.md "Multus
/// facts"). A watch on the
/// pod sees the kubelet's waits: 10s, 20s, 40s, 1m20s, 2m40s, then 5m0s
/// for good; each restart comes that long after the previous exit.
#[tokio::test(start_paused = true)]
async fn a_crash_looping_container_backs_off_from_10s_doubling_to_5m() {
    let (_twin, model, client) = api::cluster(FIXED, 2);
    api::wait(240).await;
    let name = model.with(|w| multus_pod(w));
    let statuses = Arc::new(Mutex::new(Vec::<Value>::new()));
    let sink = statuses.clone();
    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let watch = tokio::spawn(async move {
        let mut s = watcher(pods, config).boxed();
        while let Some(ev) = s.next().await {
            if let Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) = ev {
                let v = serde_json::to_value(&p).expect("json");
                let c = v["status"]["containerStatuses"][0].clone();
                sink.lock().expect("lock").push(c);
            }
        }
    });
    api::wait(1).await;
    model
        .with(|w| w.remove_file(WORKER, &format!("{CNI_DIR}01-kube-ovn.conflist")))
        .expect("rm");
    model
        .with(|w| w.signal(WORKER, "multus-daemon", Signal::Kill))
        .expect("kill the daemon");
    // 8 runs of about 121 s plus the waits (10 + ... + 300 + 300 s).
    api::wait(2_100).await;
    watch.abort();
    let statuses = statuses.lock().expect("lock").clone();

    // restartCount while waiting -> the announced wait; restartCount of a
    // new run -> seconds from the last exit to its start.
    let mut waits = BTreeMap::new();
    let mut gaps = BTreeMap::new();
    for c in &statuses {
        assert_eq!(c["name"], "kube-multus", "{c}");
        let restarts = c["restartCount"].as_u64().expect("restartCount");
        if c["state"]["waiting"]["reason"] == "CrashLoopBackOff" {
            let msg = c["state"]["waiting"]["message"].as_str().expect("message");
            assert!(
                msg.contains(&format!(
                    " restarting failed container=kube-multus pod={name}_kube-system("
                )),
                "{msg}"
            );
            let secs = backoff_secs(msg).unwrap_or_else(|| panic!("{msg}"));
            if let Some(was) = waits.insert(restarts, secs) {
                assert_eq!(was, secs, "one wait per exit: {msg}");
            }
        }
        if let (Some(started), Some(finished)) = (
            c["state"]["running"].get("startedAt"),
            c["lastState"]["terminated"].get("finishedAt"),
        ) {
            gaps.insert(restarts, seconds(started) - seconds(finished));
        }
    }
    let waits: Vec<u64> = waits.into_values().collect();
    assert!(waits.len() >= 7, "a long enough crash loop: {waits:?}");
    assert_eq!(
        waits[..7],
        [10, 20, 40, 80, 160, 300, 300],
        "doubling from 10 s, capped at 5 min"
    );
    assert!(waits.iter().skip(5).all(|w| *w == 300), "{waits:?}");
    // The first exit (the SIGKILL) restarts at once; a
    // restart comes its wait after the exit (timestamps are whole
    // seconds; starting the container takes under a second).
    assert!(
        (0..=2).contains(&gaps[&1]),
        "first restart at once: {gaps:?}"
    );
    for (i, wait) in waits.iter().enumerate() {
        let restarts = i as u64 + 2;
        let Some(gap) = gaps.get(&restarts) else {
            continue;
        };
        assert!(
            (*wait as i64..=*wait as i64 + 2).contains(gap),
            "restart {restarts} came {gap} s after the exit, announced {wait} s: {gaps:?}"
        );
    }
    assert!(gaps.len() >= 7, "{gaps:?}");
}

/// The worker's `kube-multus` container status, as last written.
fn daemon(rec: &Recorder, pod: &str) -> Value {
    rec.get("pods", "kube-system", pod).expect("pod")["status"]["containerStatuses"][0].clone()
}

/// Runs until the daemon is Running again; returns its restartCount.
fn until_running(w: &mut World, rec: &mut Recorder, pod: &str) -> u64 {
    for _ in 0..400 {
        let c = daemon(rec, pod);
        if c["state"].get("running").is_some() {
            return c["restartCount"].as_u64().expect("restartCount");
        }
        run(w, rec, 1_000);
    }
    panic!("not running again within 400 s: {}", daemon(rec, pod));
}

/// SIGKILL of the daemon (exit 137); returns the wait the kubelet
/// announces, or None when it restarts the container at once.
fn kill(w: &mut World, rec: &mut Recorder, pod: &str) -> Option<u64> {
    w.signal(WORKER, "multus-daemon", Signal::Kill)
        .expect("kill");
    w.drain_into(rec);
    let c = daemon(rec, pod);
    assert_eq!(c["lastState"]["terminated"]["exitCode"], 137, "{c}");
    c["state"]["waiting"]["message"]
        .as_str()
        .map(|m| backoff_secs(m).unwrap_or_else(|| panic!("{m}")))
}

/// Reset: kills build the back-off up to 40 s; a run of 9.5 minutes does
/// not reset it (the next wait is 1m20s), a run of just over 10 minutes
/// does: the next exit restarts at once, without a CrashLoopBackOff
/// state, and the one after waits 10 s again.
#[test]
fn a_container_that_ran_10_minutes_restarts_at_once() {
    let mut w = world(FIXED, 4);
    let mut rec = Recorder::default();
    run(&mut w, &mut rec, 240_000);
    let pod = multus_pod(&w);
    let mut waits = Vec::new();
    until_running(&mut w, &mut rec, &pod);
    for _ in 0..4 {
        waits.push(kill(&mut w, &mut rec, &pod));
        until_running(&mut w, &mut rec, &pod);
    }
    // The daemon had run since the cluster came up (under 10 min): its
    // first exit restarts at once, then 10 s, 20 s, 40 s.
    assert_eq!(waits, [None, Some(10), Some(20), Some(40)]);

    run(&mut w, &mut rec, 570_000);
    assert_eq!(kill(&mut w, &mut rec, &pod), Some(80), "9.5 min: no reset");
    let before = until_running(&mut w, &mut rec, &pod);

    run(&mut w, &mut rec, 605_000);
    let killed_at = w.now();
    assert_eq!(kill(&mut w, &mut rec, &pod), None, "ran 10 min: reset");
    for _ in 0..30 {
        run(&mut w, &mut rec, 100);
        let c = daemon(&rec, &pod);
        assert_ne!(c["state"]["waiting"]["reason"], "CrashLoopBackOff", "{c}");
    }
    let c = daemon(&rec, &pod);
    assert!(
        c["state"].get("running").is_some(),
        "restarted at once: {c}"
    );
    assert_eq!(c["restartCount"].as_u64(), Some(before + 1));
    assert!(
        seconds(&c["state"]["running"]["startedAt"]) - w.timestamp(killed_at).as_second() <= 3,
        "{c}"
    );
    assert_eq!(
        kill(&mut w, &mut rec, &pod),
        Some(10),
        "back to the initial period"
    );
}
