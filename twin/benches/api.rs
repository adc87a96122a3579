//! Throughput and memory figures for the twin's API at 10,000 pods
//! (`cargo bench -p cni-chaos-twin --bench api`). Prints figures; asserts
//! nothing about speed. Everything runs in-process (router as a tower
//! Service, kube client over it) on a multi-threaded runtime with real time.

use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use cni_chaos_twin::{Twin, TwinConfig};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use serde_json::{Value, json};
use tower::ServiceExt;

const PODS: usize = 10_000;

/// A pod shaped like the snapshot's DaemonSet pods (about 2 KB of JSON).
fn pod(i: usize) -> Value {
    let node = format!("chaos-twin-worker{}", i % 3);
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": format!("bench-{i:05}"),
            "labels": {"app": "bench", "shard": format!("s{}", i % 10), "pod-template-hash": "bcdfghjklm"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "bench-bcdfghjklm", "uid": "6b07a03a-f5b4-4aac-a005-4a5190c89ea7", "controller": true}],
        },
        "spec": {
            "nodeName": node,
            "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10", "imagePullPolicy": "IfNotPresent",
                "resources": {"limits": {"cpu": "200m", "memory": "200Mi"}, "requests": {"cpu": "100m", "memory": "50Mi"}}}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler", "serviceAccountName": "default",
            "tolerations": [{"operator": "Exists"}],
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-01-01T00:00:00Z"},
                {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-01-01T00:00:00Z"},
                {"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-01-01T00:00:00Z"},
                {"type": "ContainersReady", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-01-01T00:00:00Z"},
                {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-01-01T00:00:00Z"},
            ],
            "hostIP": "172.18.0.3", "hostIPs": [{"ip": "172.18.0.3"}],
            "podIP": format!("10.16.{}.{}", i / 250, i % 250 + 2), "podIPs": [{"ip": format!("10.16.{}.{}", i / 250, i % 250 + 2)}],
            "startTime": "2026-01-01T00:00:00Z", "qosClass": "Burstable",
            "containerStatuses": [{"name": "app", "image": "registry.k8s.io/pause:3.10", "imageID": "", "ready": true, "started": true,
                "restartCount": 0, "containerID": "containerd://0123456789abcdef0123", "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}],
        },
    })
}

/// Resident set size of this process in bytes (Linux).
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn mib(bytes: f64) -> f64 {
    bytes / (1024.0 * 1024.0)
}

async fn raw_get(twin: &Twin, uri: &str) -> usize {
    let req = Request::get(uri).body(Body::empty()).unwrap();
    let resp = twin.router().oneshot(req).await.unwrap();
    assert!(resp.status().is_success(), "{uri}: {}", resp.status());
    axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap()
        .len()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    println!(
        "twin API benchmarks, {PODS} pods, {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    // Measured first, before anything else allocates, so memory the
    // allocator keeps after freeing does not hide the store's growth.
    let before = rss();
    let twin = Twin::new(TwinConfig {
        history: 30_000,
        ..TwinConfig::default()
    });
    twin.create("namespaces", "", json!({"metadata": {"name": "default"}}))
        .unwrap();
    let start = Instant::now();
    for i in 0..PODS {
        twin.create("pods", "default", pod(i)).unwrap();
    }
    let created = start.elapsed();
    let after = rss();
    let json_bytes: usize = (0..PODS)
        .map(|i| serde_json::to_vec(&pod(i)).unwrap().len())
        .sum();
    println!(
        "create: {PODS} pods in {:.2} s ({:.0} pods/s, store API, no HTTP)",
        created.as_secs_f64(),
        PODS as f64 / created.as_secs_f64()
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "memory: RSS {:.1} -> {:.1} MiB, +{:.1} MiB for {PODS} pods (pods serialize to {:.1} MiB of JSON)",
            mib(b as f64),
            mib(a as f64),
            mib(a.saturating_sub(b) as f64),
            mib(json_bytes as f64)
        );
    }

    // For scale: serializing the stored objects alone.
    let objects = twin.list("pods", Some("default"));
    let start = Instant::now();
    let mut n = 0;
    for o in &objects {
        n += serde_json::to_vec(o.as_ref()).unwrap().len();
    }
    let t = start.elapsed().as_secs_f64();
    println!(
        "serialize only: {:.1} ms for {PODS} pods ({:.0} MiB/s)",
        t * 1e3,
        mib(n as f64) / t
    );
    drop(objects);

    // List: the full collection in one response, raw HTTP through the router.
    let rounds = 10;
    let start = Instant::now();
    let mut bytes = 0;
    for _ in 0..rounds {
        bytes = raw_get(&twin, "/api/v1/namespaces/default/pods").await;
    }
    let t = start.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "list (one page, raw HTTP): {:.1} ms per list of {PODS}, {:.0} pods/s, {:.0} MiB/s",
        t * 1e3,
        PODS as f64 / t,
        mib(bytes as f64) / t
    );

    // List through kube::Client, decoding into k8s-openapi Pods, pages of 500.
    let api: Api<Pod> = Api::namespaced(twin.client(), "default");
    let start = Instant::now();
    let mut total = 0;
    let mut lp = ListParams::default().limit(500);
    loop {
        let page = api.list(&lp).await.unwrap();
        total += page.items.len();
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    let t = start.elapsed().as_secs_f64();
    assert_eq!(total, PODS);
    println!(
        "list (kube client, 20 pages of 500, typed): {:.1} ms, {:.0} pods/s",
        t * 1e3,
        PODS as f64 / t
    );

    // Table output (what kubectl get asks for).
    let start = Instant::now();
    let req = Request::get("/api/v1/namespaces/default/pods")
        .header("accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
        .body(Body::empty())
        .unwrap();
    let resp = twin.router().oneshot(req).await.unwrap();
    let _ = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let t = start.elapsed().as_secs_f64();
    println!(
        "list as Table: {:.1} ms for {PODS} rows, {:.0} rows/s",
        t * 1e3,
        PODS as f64 / t
    );

    // Watch: initial events (sendInitialEvents) for 10,000 pods.
    let wp = WatchParams::streaming_lists();
    let start = Instant::now();
    let mut stream = api.watch(&wp, "0").await.unwrap().boxed();
    let mut added = 0;
    while let Some(ev) = stream.next().await {
        match ev.unwrap() {
            WatchEvent::Added(_) => added += 1,
            WatchEvent::Bookmark(_) => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    let t = start.elapsed().as_secs_f64();
    assert_eq!(added, PODS);
    println!(
        "watch initial events (typed): {:.1} ms, {:.0} events/s",
        t * 1e3,
        PODS as f64 / t
    );
    drop(stream);

    // Watch: live changes. One watcher open, 10,000 status updates.
    let rv = twin.with_store(|s| s.resource_version()).to_string();
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let writer = {
        let twin = twin.clone();
        tokio::spawn(async move {
            for i in 0..PODS {
                twin.patch_status(
                    "pods",
                    "default",
                    &format!("bench-{i:05}"),
                    &json!({"message": "bench"}),
                )
                .unwrap();
            }
        })
    };
    let start = Instant::now();
    let mut modified = 0;
    while modified < PODS {
        if let Some(Ok(WatchEvent::Modified(_))) = stream.next().await {
            modified += 1;
        }
    }
    let t = start.elapsed().as_secs_f64();
    writer.await.unwrap();
    println!(
        "watch live changes (typed, 1 watcher): {PODS} events in {:.1} ms, {:.0} events/s (write + deliver)",
        t * 1e3,
        PODS as f64 / t
    );

    // Watch replay: resume from the start of the history.
    let start = Instant::now();
    let mut stream = api
        .watch(&WatchParams::default().timeout(5), &rv)
        .await
        .unwrap()
        .boxed();
    let mut replayed = 0;
    while replayed < PODS {
        if let Some(Ok(WatchEvent::Modified(_))) = stream.next().await {
            replayed += 1;
        }
    }
    let t = start.elapsed().as_secs_f64();
    println!(
        "watch replay from history (typed): {PODS} events in {:.1} ms, {:.0} events/s",
        t * 1e3,
        PODS as f64 / t
    );
    if let Some(a) = rss() {
        println!(
            "memory at end: RSS {:.1} MiB (history of {} changes retained)",
            mib(a as f64),
            twin.with_store(|s| s.resource_version())
        );
    }
}
