//! [`Twin`]: the handle tests, the model and the server share.

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::clock::{VirtualClock, default_epoch, k8s_time};
use crate::deletion::{DeletionPolicy, FinalizeAfterGrace, PendingDeletion};
use crate::error::ApiError;
use crate::resource::{self, ResourceType};
use crate::store::{DEFAULT_HISTORY, DeleteOutcome, ObjectKey, Store, TruthEntry, Write};

/// How to build a [`Twin`].
#[derive(Clone, Debug)]
pub struct TwinConfig {
    /// Seed for uids and generated names. Default 1.
    pub seed: u64,
    /// Virtual seconds per tokio second. Default 1.
    pub speed: f64,
    /// Virtual time at start. Default [`crate::clock::DEFAULT_EPOCH`].
    pub epoch: Timestamp,
    /// Changes kept for watch replay. Default [`DEFAULT_HISTORY`].
    pub history: usize,
}

impl Default for TwinConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            speed: 1.0,
            epoch: default_epoch(),
            history: DEFAULT_HISTORY,
        }
    }
}

/// A signal to open watch streams to end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropSignal {
    /// Bumped on every drop.
    pub generation: u64,
    /// Whether streams end in the middle of an event's bytes.
    pub mid_chunk: bool,
}

#[derive(Debug, Default)]
struct ApiChaos {
    force_gone: u32,
    outage_until: Option<Instant>,
}

#[derive(Debug)]
struct Inner {
    store: Mutex<Store>,
    clock: VirtualClock,
    chaos: Mutex<ApiChaos>,
    drops: watch::Sender<DropSignal>,
    deletion: RwLock<Arc<dyn DeletionPolicy>>,
    logs: LogSlot,
    seed: u64,
    /// The Kubernetes release `/version` reports (see
    /// [`Twin::set_kubernetes_version`]).
    kubernetes: RwLock<String>,
}

/// The installed [`LogSource`], if any.
#[derive(Default)]
struct LogSlot(RwLock<Option<LogSource>>);

impl std::fmt::Debug for LogSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = self.0.read().map(|g| g.is_some()).unwrap_or(false);
        f.debug_struct("LogSlot").field("installed", &set).finish()
    }
}

/// Where container logs come from (the model, when one is attached): the
/// text of `container` (its previous run when `previous`) of a pod, or
/// `None` when there is no such container.
pub type LogSource = Arc<dyn Fn(&LogQuery) -> Option<String> + Send + Sync>;

/// What `GET .../pods/{name}/log` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogQuery {
    /// Namespace.
    pub namespace: String,
    /// Pod.
    pub pod: String,
    /// Container; none: the pod's only (or first) container.
    pub container: Option<String>,
    /// The previous run's log.
    pub previous: bool,
}

/// The twin's API half. Cheap to clone; clones share state.
#[derive(Clone, Debug)]
pub struct Twin {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the store half-written
    // (every write is one commit), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Twin {
    /// An empty twin (no namespaces even). Must be called inside a tokio
    /// runtime: the clock starts now.
    pub fn new(config: TwinConfig) -> Self {
        let clock = VirtualClock::new(config.epoch, config.speed);
        let store = Store::new(config.seed, config.history, clock.clone());
        let (drops, _) = watch::channel(DropSignal::default());
        Self {
            inner: Arc::new(Inner {
                store: Mutex::new(store),
                clock,
                chaos: Mutex::new(ApiChaos::default()),
                drops,
                deletion: RwLock::new(Arc::new(FinalizeAfterGrace)),
                logs: LogSlot::default(),
                seed: config.seed,
                kubernetes: RwLock::new(crate::api::KUBE_VERSION.to_string()),
            }),
        }
    }

    /// The seed this twin was built with.
    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    /// The Kubernetes release the twin claims to be (`/version`):
    /// [`crate::api::KUBE_VERSION`] until a cluster model says which
    /// release its cell runs.
    pub fn kubernetes_version(&self) -> String {
        self.inner
            .kubernetes
            .read()
            .map(|v| v.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Sets the release `/version` reports (`v1.35.0`); the model does this
    /// when it attaches, from its version profile.
    pub fn set_kubernetes_version(&self, version: &str) {
        let mut v = self
            .inner
            .kubernetes
            .write()
            .unwrap_or_else(|p| p.into_inner());
        *v = version.to_string();
    }

    /// The virtual clock.
    pub fn clock(&self) -> &VirtualClock {
        &self.inner.clock
    }

    /// Runs `f` with the store locked. Keep it short and never await in it.
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(&mut lock(&self.inner.store))
    }

    /// Replaces the policy that finalizes gracefully deleted pods.
    pub fn set_deletion_policy(&self, policy: Arc<dyn DeletionPolicy>) {
        *self
            .inner
            .deletion
            .write()
            .unwrap_or_else(|p| p.into_inner()) = policy;
    }

    /// Serves container logs from `source` (the model installs one).
    pub fn set_log_source(&self, source: LogSource) {
        *self.inner.logs.0.write().unwrap_or_else(|p| p.into_inner()) = Some(source);
    }

    /// A container's log, as `GET .../pods/{name}/log` serves it: empty
    /// without a log source, `None` when the source knows no such
    /// container.
    pub fn logs(&self, query: &LogQuery) -> Option<String> {
        let source = self
            .inner
            .logs
            .0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match source {
            Some(f) => f(query),
            None => Some(String::new()),
        }
    }

    fn resource(plural: &str) -> Result<&'static ResourceType, ApiError> {
        resource::by_plural(plural).ok_or_else(|| ApiError::UnknownResource {
            path: plural.to_string(),
        })
    }

    /// Creates an object (`resource` is the plural, e.g. `pods`).
    pub fn create(
        &self,
        resource: &str,
        namespace: &str,
        obj: Value,
    ) -> Result<Arc<Value>, ApiError> {
        let rt = Self::resource(resource)?;
        self.with_store(|s| s.create(rt, namespace, obj))
    }

    /// Replaces an object.
    pub fn replace(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        obj: Value,
    ) -> Result<Arc<Value>, ApiError> {
        let rt = Self::resource(resource)?;
        self.with_store(|s| s.update(rt, namespace, name, obj, Write::Main))
    }

    /// Replaces an object's status.
    pub fn replace_status(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        status: Value,
    ) -> Result<Arc<Value>, ApiError> {
        let rt = Self::resource(resource)?;
        self.with_store(|s| {
            s.update(
                rt,
                namespace,
                name,
                json!({"status": status}),
                Write::Status,
            )
        })
    }

    /// Applies a JSON merge patch (RFC 7386) to an object's status.
    pub fn patch_status(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Arc<Value>, ApiError> {
        let rt = Self::resource(resource)?;
        self.with_store(|s| {
            let current = s
                .get(rt, namespace, name)
                .ok_or_else(|| ApiError::NotFound {
                    resource: rt.qualified(),
                    name: name.to_string(),
                })?;
            let mut status = current.get("status").cloned().unwrap_or_else(|| json!({}));
            json_patch::merge(&mut status, patch);
            s.update(
                rt,
                namespace,
                name,
                json!({"status": status}),
                Write::Status,
            )
        })
    }

    /// One object.
    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Arc<Value>> {
        let rt = resource::by_plural(resource)?;
        self.with_store(|s| s.get(rt, namespace, name))
    }

    /// The objects of a resource, optionally in one namespace.
    pub fn list(&self, resource: &str, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let Some(rt) = resource::by_plural(resource) else {
            return Vec::new();
        };
        self.with_store(|s| s.list(rt, namespace).into_iter().map(|(_, v)| v).collect())
    }

    /// Deletes an object as the API does; a graceful pod delete hands the
    /// pod to the [`DeletionPolicy`].
    pub fn delete(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        grace_seconds: Option<i64>,
    ) -> Result<DeleteOutcome, ApiError> {
        let rt = Self::resource(resource)?;
        self.delete_with(rt, namespace, name, grace_seconds, None)
    }

    pub(crate) fn delete_with(
        &self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        grace_seconds: Option<i64>,
        uid: Option<&str>,
    ) -> Result<DeleteOutcome, ApiError> {
        let outcome = self.with_store(|s| s.delete(rt, namespace, name, grace_seconds, uid))?;
        if let DeleteOutcome::Graceful { object, grace } = &outcome {
            let pending = PendingDeletion {
                key: ObjectKey::new(rt.plural, namespace, name),
                uid: object
                    .pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                grace: *grace,
            };
            let policy = self
                .inner
                .deletion
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            policy.graceful_delete(self, pending);
        }
        Ok(outcome)
    }

    /// Removes an object now (if still the incarnation `uid`).
    pub fn finalize(&self, key: &ObjectKey, uid: Option<&str>) -> Option<Arc<Value>> {
        let rt = resource::by_plural(key.resource)?;
        self.with_store(|s| s.finalize(rt, &key.namespace, &key.name, uid))
    }

    /// Marks a pod Ready (or not): the Ready and ContainersReady conditions,
    /// and every container running, started and ready.
    pub fn set_pod_ready(
        &self,
        namespace: &str,
        name: &str,
        ready: bool,
    ) -> Result<Arc<Value>, ApiError> {
        let rt = Self::resource("pods")?;
        let now = k8s_time(self.clock().now_seconds());
        self.with_store(|s| {
            let pod = s.get(rt, namespace, name).ok_or_else(|| ApiError::NotFound {
                resource: "pods".into(),
                name: name.to_string(),
            })?;
            let mut status = pod.get("status").cloned().unwrap_or_else(|| json!({}));
            status["phase"] = json!("Running");
            let flag = if ready { "True" } else { "False" };
            let mut conditions: Vec<Value> = status
                .get("conditions")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for ty in ["Initialized", "Ready", "ContainersReady", "PodScheduled"] {
                let want = if matches!(ty, "Ready" | "ContainersReady") { flag } else { "True" };
                match conditions.iter_mut().find(|c| c["type"] == ty) {
                    Some(c) => {
                        if c["status"] != want {
                            c["status"] = json!(want);
                            c["lastTransitionTime"] = json!(now);
                        }
                    }
                    None => conditions.push(json!({"type": ty, "status": want, "lastProbeTime": null, "lastTransitionTime": now})),
                }
            }
            status["conditions"] = Value::Array(conditions);
            let containers: Vec<Value> = pod
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let statuses: Vec<Value> = containers
                .iter()
                .map(|c| {
                    json!({
                        "name": c["name"],
                        "image": c["image"],
                        "imageID": "",
                        "ready": ready,
                        "started": true,
                        "restartCount": 0,
                        "state": {"running": {"startedAt": now}},
                    })
                })
                .collect();
            status["containerStatuses"] = Value::Array(statuses);
            s.update(rt, namespace, name, json!({"status": status}), Write::Status)
        })
    }

    /// Ground-truth entries from index `from`, with the next index.
    pub fn truth_since(&self, from: usize) -> (Vec<TruthEntry>, usize) {
        self.with_store(|s| s.truth_since(from))
    }

    /// The whole ground-truth log.
    pub fn truth(&self) -> Vec<TruthEntry> {
        self.truth_since(0).0
    }

    /// Adds a free-form note to the ground-truth log.
    pub fn note(&self, text: impl Into<String>) {
        self.with_store(|s| s.note(text));
    }

    /// Makes the next `count` watches that resume from a resourceVersion
    /// get `410 Gone` (`Expired`), as after an etcd compaction.
    pub fn force_gone(&self, count: u32) {
        lock(&self.inner.chaos).force_gone += count;
        self.note(format!(
            "chaos: next {count} resuming watch(es) get 410 Expired"
        ));
    }

    pub(crate) fn take_force_gone(&self) -> bool {
        let mut chaos = lock(&self.inner.chaos);
        if chaos.force_gone > 0 {
            chaos.force_gone -= 1;
            true
        } else {
            false
        }
    }

    /// Ends every open watch stream; with `mid_chunk`, each stream first
    /// sends half of its next event's bytes and then fails, as a connection
    /// cut mid-transfer does.
    pub fn drop_watches(&self, mid_chunk: bool) {
        self.inner.drops.send_modify(|d| {
            d.generation += 1;
            d.mid_chunk = mid_chunk;
        });
        self.note(format!(
            "chaos: open watches dropped (mid-chunk: {mid_chunk})"
        ));
    }

    /// A receiver of drop signals.
    pub fn drop_signals(&self) -> watch::Receiver<DropSignal> {
        self.inner.drops.subscribe()
    }

    /// Makes the API unavailable for `duration` of virtual time: open
    /// watches are cut and every request gets 503 until it ends. The
    /// twin-only paths keep working.
    pub fn outage(&self, duration: Duration) {
        lock(&self.inner.chaos).outage_until = Some(self.clock().deadline(duration));
        self.note(format!("chaos: API outage for {}s", duration.as_secs_f64()));
        self.inner.drops.send_modify(|d| {
            d.generation += 1;
            d.mid_chunk = false;
        });
    }

    /// Whether an outage is in effect now.
    pub fn in_outage(&self) -> bool {
        lock(&self.inner.chaos)
            .outage_until
            .is_some_and(|until| Instant::now() < until)
    }

    /// The axum router serving the API (and the twin-only paths).
    pub fn router(&self) -> axum::Router {
        crate::api::router(self.clone())
    }

    /// A kube client talking to this twin in-process (no TCP), default
    /// namespace `default`. Works under tokio's paused time.
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.router(), "default")
    }
}
