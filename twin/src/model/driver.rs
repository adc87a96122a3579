//! Runs a [`World`] inside a [`Twin`]: the model's writes go into the
//! store, API changes the model did not make (pods created or deleted
//! through the API, cordons, NetworkAttachmentDefinitions) go into the
//! model, and the model advances with the twin's virtual clock.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::sink::{Output, Sink};
use super::world::{ModelConfig, World};
use crate::deletion::KeepTerminating;
use crate::resource::by_plural;
use crate::store::{ChangeType, Store, Write};
use crate::twin::Twin;

/// A model attached to a twin. Dropping it stops the model.
pub struct Model {
    world: Arc<Mutex<World>>,
    wake: Arc<Notify>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").finish_non_exhaustive()
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(m: &Mutex<World>) -> MutexGuard<'_, World> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Applies model writes to the store.
struct StoreSink<'a> {
    store: &'a mut Store,
}

impl StoreSink<'_> {
    /// The store gives objects its own uids; references the model makes
    /// (an event's involvedObject, a pod's owner) are pointed at them, so
    /// `kubectl describe` finds a pod's events.
    fn use_store_uids(&self, object: &mut Value) {
        let lookup = |kind: &str, ns: &str, name: &str| -> Option<Value> {
            let plural = match kind {
                "Pod" => "pods",
                "DaemonSet" => "daemonsets",
                "StatefulSet" => "statefulsets",
                "Node" => "nodes",
                _ => return None,
            };
            let ns = if kind == "Node" { "" } else { ns };
            let obj = self.store.get(by_plural(plural)?, ns, name)?;
            obj.pointer("/metadata/uid").cloned()
        };
        let ns = object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if let Some(inv) = object.get_mut("involvedObject") {
            let kind = inv
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let name = inv
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if let Some(uid) = lookup(&kind, &ns, &name) {
                inv["uid"] = uid;
            }
        }
        if let Some(owners) = object
            .pointer_mut("/metadata/ownerReferences")
            .and_then(Value::as_array_mut)
        {
            for o in owners {
                let kind = o
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let name = o
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                if let Some(uid) = lookup(&kind, &ns, &name) {
                    o["uid"] = uid;
                }
            }
        }
    }
}

impl Sink for StoreSink<'_> {
    fn apply(&mut self, output: Output) {
        match output {
            Output::Note { text, .. } => self.store.note(text),
            Output::Remove {
                resource,
                namespace,
                name,
                ..
            } => {
                if let Some(rt) = by_plural(resource) {
                    self.store.finalize(rt, &namespace, &name, None);
                }
            }
            Output::Put {
                resource,
                namespace,
                name,
                main,
                mut object,
                ..
            } => {
                let Some(rt) = by_plural(resource) else {
                    return;
                };
                self.use_store_uids(&mut object);
                if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("resourceVersion");
                    meta.remove("uid");
                    meta.remove("deletionTimestamp");
                    meta.remove("deletionGracePeriodSeconds");
                }
                let Some(old) = self.store.get(rt, &namespace, &name) else {
                    if resource == "pods"
                        && object.pointer("/status/phase").and_then(Value::as_str)
                            != Some("Pending")
                    {
                        // A pod the API already removed: never resurrect it.
                        return;
                    }
                    let _ = self.store.create(rt, &namespace, object);
                    return;
                };
                if main {
                    let body = if resource == "pods" {
                        // Keep the pod's spec as created; the kubelet and
                        // scheduler only bind it and annotate it.
                        let mut body = (*old).clone();
                        body["spec"]["nodeName"] = object["spec"]["nodeName"].clone();
                        if let Some(a) = object.pointer("/metadata/annotations") {
                            body["metadata"]["annotations"] = a.clone();
                        }
                        if let Some(m) = body.get_mut("metadata").and_then(Value::as_object_mut) {
                            m.remove("resourceVersion");
                        }
                        body
                    } else {
                        let mut body = object.clone();
                        if resource == "nodes" {
                            body["spec"]["unschedulable"] = old
                                .pointer("/spec/unschedulable")
                                .cloned()
                                .unwrap_or(Value::Null);
                            if body["spec"]["unschedulable"].is_null()
                                && let Some(s) = body["spec"].as_object_mut()
                            {
                                s.remove("unschedulable");
                            }
                        }
                        body
                    };
                    let _ = self.store.update(rt, &namespace, &name, body, Write::Main);
                }
                if rt.status_subresource {
                    let _ = self
                        .store
                        .update(rt, &namespace, &name, object, Write::Status);
                }
            }
        }
    }
}

impl Model {
    /// Starts `cfg`'s cluster inside `twin` (which should be empty): from
    /// now on the twin's pods, nodes, workloads and events are the model's.
    /// Pods deleted through the API stay Terminating until the model's
    /// kubelet removes them.
    pub fn attach(twin: &Twin, mut cfg: ModelConfig) -> Model {
        twin.set_deletion_policy(Arc::new(KeepTerminating));
        // The API server is the cell's Kubernetes release.
        twin.set_kubernetes_version(&cfg.profile.kubernetes);
        cfg.epoch = twin.clock().now();
        let world = Arc::new(Mutex::new(World::new(cfg)));
        let logs = world.clone();
        twin.set_log_source(Arc::new(move |q: &crate::LogQuery| {
            lock(&logs).container_log(&q.namespace, &q.pod, q.container.as_deref(), q.previous)
        }));
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(run(twin.clone(), world.clone(), wake.clone()));
        Model { world, wake, task }
    }

    /// Runs `f` on the model (a fault, an inspection); its writes reach the
    /// store right after.
    pub fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let r = f(&mut lock(&self.world));
        self.wake.notify_one();
        r
    }
}

async fn run(twin: Twin, world: Arc<Mutex<World>>, wake: Arc<Notify>) {
    let clock = twin.clock().clone();
    let origin = clock.elapsed();
    let mut changes = twin.with_store(|s| s.subscribe());
    let mut seen = 0u64;
    loop {
        let now_ms = clock.elapsed().saturating_sub(origin).as_millis() as u64;
        let next = {
            let mut w = lock(&world);
            twin.with_store(|store| {
                // API changes first, then the model catches up to now.
                if let Ok(list) = store.changes_since(seen) {
                    for ch in list {
                        ingest(&mut w, ch.key.resource, ch.change, &ch.object);
                    }
                }
                w.advance_to(now_ms);
                w.drain_into(&mut StoreSink { store });
                seen = store.resource_version();
            });
            w.next_event()
        };
        let sleep = match next {
            Some(t) => clock.to_tokio(Duration::from_millis(t.saturating_sub(now_ms))),
            None => Duration::from_secs(3600),
        };
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            r = changes.changed() => { if r.is_err() { return; } }
            _ = wake.notified() => {}
        }
    }
}

fn ingest(w: &mut World, resource: &str, change: ChangeType, obj: &Value) {
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    match (resource, change) {
        ("pods", ChangeType::Added) => w.api_create_pod(obj),
        ("pods", ChangeType::Modified) if obj.pointer("/metadata/deletionTimestamp").is_some() => {
            w.api_delete_pod(ns, name);
        }
        ("pods", ChangeType::Deleted) => w.api_pod_removed(ns, name),
        ("nodes", ChangeType::Modified) => {
            let u = obj
                .pointer("/spec/unschedulable")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            w.api_node_unschedulable(name, u);
        }
        ("daemonsets" | "deployments", ChangeType::Added) => w.api_create_workload(resource, obj),
        ("network-attachment-definitions", ChangeType::Added) => w.api_nad(
            ns,
            name,
            Some(
                obj.pointer("/spec/config")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
            ),
        ),
        ("network-attachment-definitions", ChangeType::Deleted) => w.api_nad(ns, name, None),
        ("subnets", ChangeType::Added) => w.api_subnet(
            name,
            Some(
                obj.pointer("/spec/provider")
                    .and_then(Value::as_str)
                    .unwrap_or("ovn"),
            ),
        ),
        ("subnets", ChangeType::Deleted) => w.api_subnet(name, None),
        _ => {}
    }
}
