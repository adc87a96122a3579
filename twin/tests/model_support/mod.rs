//! Helpers shared by the model tests: a pure model run into a Recorder, and
//! kubectl-like summaries of the objects it wrote.

#![allow(dead_code)]

use cni_chaos_twin::model::{ModelConfig, Recorder, VersionProfile, World};
use serde_json::Value;

/// A 1+2 cluster with `profile`, seeded.
pub fn world(profile: &str, seed: u64) -> World {
    let mut cfg = ModelConfig::new("twin", VersionProfile::named(profile).expect("profile"));
    cfg.seed = seed;
    World::new(cfg)
}

/// The name of the kube-system pod labelled `app=<app>` on `node`.
pub fn pod_on(w: &World, app: &str, node: &str) -> String {
    w.pods_with_label("kube-system", "app", app)
        .into_iter()
        .find(|(_, n)| n.as_deref() == Some(node))
        .map(|(name, _)| name)
        .unwrap_or_else(|| panic!("no app={app} pod on {node}"))
}

/// Runs `ms` and drains into `rec`.
pub fn run(w: &mut World, rec: &mut Recorder, ms: u64) {
    w.run_for(ms);
    w.drain_into(rec);
}

/// The STATUS column kubectl prints for a pod: the twin API's own
/// `printPod` port, as `kubectl get pods` shows it.
pub fn status(pod: &Value) -> String {
    cni_chaos_twin::api::pod_status_reason(pod, jiff::Timestamp::UNIX_EPOCH).1
}

/// The wait in seconds of a kubelet back-off message, `back-off <Go
/// duration> restarting failed container=...` (`40s`, `2m40s`, `5m0s`).
pub fn backoff_secs(message: &str) -> Option<u64> {
    let d = message.strip_prefix("back-off ")?.split(' ').next()?;
    let (m, s) = match d.split_once('m') {
        Some((m, s)) => (m.parse::<u64>().ok()?, s),
        None => (0, d),
    };
    Some(m * 60 + s.strip_suffix('s')?.parse::<u64>().ok()?)
}

/// Whether the pod's Ready condition is True.
pub fn ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// One line per pod: name, node, status, ready, restarts.
pub fn table(rec: &Recorder) -> String {
    rec.all("pods")
        .map(|p| {
            let restarts: i64 = ["initContainerStatuses", "containerStatuses"]
                .iter()
                .flat_map(|f| p["status"][f].as_array().cloned().unwrap_or_default())
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum();
            format!(
                "{:<40} {:<20} {:<26} ready={} restarts={}",
                p["metadata"]["name"].as_str().unwrap_or(""),
                p["spec"]["nodeName"].as_str().unwrap_or("-"),
                status(p),
                ready(p),
                restarts
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Helpers for tests that go through the API with kube-rs.
pub mod api {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use cni_chaos_twin::model::{Model, ModelConfig, VersionProfile};
    use cni_chaos_twin::{Twin, TwinConfig};
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Api, ListParams};
    use kube::runtime::watcher;

    /// A twin with the model attached, `profile`, `seed`.
    pub fn cluster(profile: &str, seed: u64) -> (Twin, Model, kube::Client) {
        let twin = Twin::new(TwinConfig {
            seed,
            ..TwinConfig::default()
        });
        let mut cfg = ModelConfig::new("twin", VersionProfile::named(profile).expect("profile"));
        cfg.seed = seed;
        let model = Model::attach(&twin, cfg);
        let client = twin.client();
        (twin, model, client)
    }

    /// Sleeps `secs` of virtual time.
    pub async fn wait(secs: u64) {
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }

    /// kube-system pods, as JSON.
    pub async fn pods(client: &kube::Client) -> Vec<serde_json::Value> {
        let api: Api<Pod> = Api::all(client.clone());
        api.list(&ListParams::default())
            .await
            .expect("list pods")
            .items
            .into_iter()
            .map(|p| serde_json::to_value(p).expect("pod json"))
            .collect()
    }

    /// Pods named `prefix*` on the node `node`.
    pub fn on(pods: &[serde_json::Value], prefix: &str, node: &str) -> Vec<serde_json::Value> {
        pods.iter()
            .filter(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with(prefix)
                    && p["spec"]["nodeName"] == node
            })
            .cloned()
            .collect()
    }

    /// Every (pod name, kubectl STATUS) a watch saw, in order.
    pub fn record_statuses(client: &kube::Client) -> Arc<Mutex<Vec<(String, String)>>> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let out = seen.clone();
        let api: Api<Pod> = Api::all(client.clone());
        tokio::spawn(async move {
            let mut s = watcher(api, watcher::Config::default()).boxed();
            while let Some(ev) = s.next().await {
                let pods = match ev {
                    Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => vec![p],
                    _ => continue,
                };
                for p in pods {
                    let v = serde_json::to_value(&p).expect("json");
                    let name = p.metadata.name.clone().unwrap_or_default();
                    out.lock().expect("lock").push((name, super::status(&v)));
                }
            }
        });
        seen
    }

    /// "name STATUS" of every pod that is not Ready.
    pub fn not_ready(pods: &[serde_json::Value]) -> Vec<String> {
        pods.iter()
            .filter(|p| !super::ready(p))
            .map(|p| format!("{} {}", p["metadata"]["name"], super::status(p)))
            .collect()
    }

    /// Whether every pod in the list is Ready.
    pub fn all_ready(pods: &[serde_json::Value]) -> bool {
        pods.iter().all(super::ready)
    }
}

/// A node's Ready condition as the model last wrote it.
pub fn node_ready(rec: &Recorder, name: &str) -> Option<Value> {
    rec.get("nodes", "", name)?["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .cloned()
}
