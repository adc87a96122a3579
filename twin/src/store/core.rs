//! [`Store`]: objects, the resourceVersion counter, history and truth.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::change::{Change, ChangeType, ObjectKey, TruthEntry};
use super::ids::IdGen;
use super::validate;
use crate::clock::{VirtualClock, k8s_time};
use crate::error::ApiError;
use crate::resource::{self, ResourceType};

/// Changes kept for watch replay and consistent list pages by default.
pub const DEFAULT_HISTORY: usize = 10_000;

/// Ground-truth entries kept before the oldest are dropped.
const TRUTH_LIMIT: usize = 1_000_000;

/// Which part of an object an update writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    /// The object itself; for resources with a status subresource the
    /// status in the body is ignored, as the real server does.
    Main,
    /// Only `status` (the `/status` subresource).
    Status,
}

/// What a delete did.
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteOutcome {
    /// The object is gone; this was its last state.
    Removed(Arc<Value>),
    /// A pod got `deletionTimestamp` + `deletionGracePeriodSeconds`; it is
    /// removed later by whoever plays the kubelet.
    Graceful {
        /// The object as now stored.
        object: Arc<Value>,
        /// The grace period granted.
        grace: Duration,
    },
    /// The object has finalizers (or was already terminating with a shorter
    /// grace period): it stays until they are removed.
    Pending(Arc<Value>),
}

/// The object store. Not synchronized itself: the twin wraps it in a mutex.
#[derive(Debug)]
pub struct Store {
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    compacted: u64,
    truth: VecDeque<TruthEntry>,
    truth_offset: usize,
    ids: IdGen,
    clock: VirtualClock,
    notify: watch::Sender<u64>,
}

impl Store {
    /// An empty store whose ids derive from `seed`, keeping `history_limit`
    /// changes for replay.
    pub fn new(seed: u64, history_limit: usize, clock: VirtualClock) -> Self {
        let (notify, _) = watch::channel(0);
        Self {
            objects: BTreeMap::new(),
            rv: 0,
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 0,
            truth: VecDeque::new(),
            truth_offset: 0,
            ids: IdGen::new(seed),
            clock,
            notify,
        }
    }

    /// The current resourceVersion (of the last change).
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// The newest resourceVersion no longer replayable: watches and list
    /// pages from at or after it work, older ones get 410 Expired.
    pub fn compacted(&self) -> u64 {
        self.compacted
    }

    /// The clock.
    pub fn clock(&self) -> &VirtualClock {
        &self.clock
    }

    /// The seeded id generator (for builders that need suffixes).
    pub fn ids(&mut self) -> &mut IdGen {
        &mut self.ids
    }

    /// A receiver that sees the resourceVersion after every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }

    /// Number of objects stored.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// One object.
    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.objects
            .get(&ObjectKey::new(rt.plural, scope(rt, namespace), name))
            .cloned()
    }

    /// The objects of a resource, optionally in one namespace, in key order.
    pub fn list(&self, rt: &ResourceType, namespace: Option<&str>) -> Vec<(ObjectKey, Arc<Value>)> {
        let start = ObjectKey::new(rt.plural, namespace.unwrap_or(""), "");
        self.objects
            .range(start..)
            .take_while(|(k, _)| {
                k.resource == rt.plural && namespace.is_none_or(|ns| k.namespace == ns)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The objects of a resource as they were at resourceVersion `rv`
    /// (undoing later changes from the history), for consistent list pages.
    pub fn list_at(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        rv: u64,
    ) -> Result<Vec<(ObjectKey, Arc<Value>)>, ApiError> {
        if rv < self.compacted {
            return Err(ApiError::Expired {
                message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.".to_string(),
            });
        }
        let mut map: BTreeMap<ObjectKey, Arc<Value>> =
            self.list(rt, namespace).into_iter().collect();
        for ch in self.history.iter().rev().take_while(|c| c.rv > rv) {
            if ch.key.resource != rt.plural || namespace.is_some_and(|ns| ch.key.namespace != ns) {
                continue;
            }
            match &ch.prev {
                Some(prev) => map.insert(ch.key.clone(), prev.clone()),
                None => map.remove(&ch.key),
            };
        }
        Ok(map.into_iter().collect())
    }

    /// Every change after resourceVersion `rv`, oldest first; `Err` with the
    /// compacted resourceVersion when `rv` is older than the history.
    pub fn changes_since(&self, rv: u64) -> Result<Vec<Arc<Change>>, u64> {
        if rv < self.compacted {
            return Err(self.compacted);
        }
        let start = self.history.partition_point(|c| c.rv <= rv);
        Ok(self.history.range(start..).cloned().collect())
    }

    /// Ground-truth entries from absolute index `from` on, with the index
    /// after the last one returned.
    pub fn truth_since(&self, from: usize) -> (Vec<TruthEntry>, usize) {
        let start = from.saturating_sub(self.truth_offset);
        let entries: Vec<TruthEntry> = self
            .truth
            .range(start.min(self.truth.len())..)
            .cloned()
            .collect();
        (entries, self.truth_offset + self.truth.len())
    }

    /// Appends a free-form note to the ground-truth log.
    pub fn note(&mut self, text: impl Into<String>) {
        let at = self.clock.now();
        self.push_truth(TruthEntry::Note {
            at,
            text: text.into(),
        });
    }

    fn push_truth(&mut self, entry: TruthEntry) {
        self.truth.push_back(entry);
        if self.truth.len() > TRUTH_LIMIT {
            self.truth.pop_front();
            self.truth_offset += 1;
        }
    }

    fn commit(
        &mut self,
        change: ChangeType,
        key: ObjectKey,
        mut object: Value,
        prev: Option<Arc<Value>>,
    ) -> Arc<Value> {
        self.rv += 1;
        let rv = self.rv;
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        let object = Arc::new(object);
        match change {
            ChangeType::Deleted => {
                self.objects.remove(&key);
            }
            _ => {
                self.objects.insert(key.clone(), object.clone());
            }
        }
        let at = self.clock.now();
        self.push_truth(TruthEntry::Change {
            at,
            resource: key.resource,
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            change,
            resource_version: rv,
        });
        self.history.push_back(Arc::new(Change {
            rv,
            change,
            key,
            object: object.clone(),
            prev,
            at,
        }));
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
        self.notify.send_replace(rv);
        object
    }

    fn existing(&self, rt: &ResourceType, key: &ObjectKey) -> Result<Arc<Value>, ApiError> {
        self.objects
            .get(key)
            .cloned()
            .ok_or_else(|| ApiError::NotFound {
                resource: rt.qualified(),
                name: key.name.clone(),
            })
    }

    /// Creates an object in `namespace` (ignored for cluster-scoped
    /// resources). Sets uid, creationTimestamp, generation and
    /// resourceVersion; honours `metadata.generateName`.
    pub fn create(
        &mut self,
        rt: &'static ResourceType,
        namespace: &str,
        obj: Value,
    ) -> Result<Arc<Value>, ApiError> {
        let mut obj = check_shape(rt, obj)?;
        let meta = metadata_mut(&mut obj);
        let mut name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if name.is_empty()
            && let Some(prefix) = meta.get("generateName").and_then(Value::as_str)
        {
            name = format!("{prefix}{}", self.ids.suffix(5));
        }
        if name.is_empty() {
            return Err(ApiError::Invalid {
                kind: rt.kind.to_string(),
                name: String::new(),
                message: "metadata.name: Required value: name or generateName is required".into(),
            });
        }
        validate::name(rt.kind, &name)?;
        let namespace = self.check_namespace(rt, namespace, &obj)?;
        let key = ObjectKey::new(rt.plural, &namespace, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::AlreadyExists {
                resource: rt.qualified(),
                name,
            });
        }
        validate::decodes(rt, &obj)?;
        let uid = self.ids.uid();
        let created = k8s_time(self.clock.now_seconds());
        let meta = metadata_mut(&mut obj);
        meta.insert("name".into(), Value::String(name));
        if rt.namespaced {
            meta.insert("namespace".into(), Value::String(namespace));
        } else {
            meta.remove("namespace");
        }
        meta.insert("uid".into(), Value::String(uid));
        meta.insert("creationTimestamp".into(), Value::String(created));
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        if rt.generation {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        if rt.kind == "Pod" && obj.get("status").is_none_or(|s| s.get("phase").is_none()) {
            obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        }
        if rt.kind == "Namespace" && obj.pointer("/status/phase").is_none() {
            obj["status"] = json!({"phase": "Active"});
        }
        Ok(self.commit(ChangeType::Added, key, obj, None))
    }

    fn check_namespace(
        &self,
        rt: &ResourceType,
        namespace: &str,
        obj: &Value,
    ) -> Result<String, ApiError> {
        if !rt.namespaced {
            return Ok(String::new());
        }
        let body_ns = obj
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !body_ns.is_empty() && !namespace.is_empty() && body_ns != namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let ns = if namespace.is_empty() {
            body_ns
        } else {
            namespace
        };
        let ns = if ns.is_empty() { "default" } else { ns };
        let namespaces = resource::by_plural("namespaces").ok_or_else(|| ApiError::Internal {
            message: "namespaces resource missing".into(),
        })?;
        if self.get(namespaces, "", ns).is_none() {
            return Err(ApiError::NotFound {
                resource: "namespaces".into(),
                name: ns.to_string(),
            });
        }
        Ok(ns.to_string())
    }

    /// Replaces an object (or, with [`Write::Status`], its status). A
    /// `metadata.resourceVersion` in the body is a precondition (409 when
    /// stale). Identity metadata is preserved; generation bumps when the
    /// spec changes. A no-op update commits nothing.
    pub fn update(
        &mut self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        obj: Value,
        write: Write,
    ) -> Result<Arc<Value>, ApiError> {
        let key = ObjectKey::new(rt.plural, scope(rt, namespace), name);
        let old = self.existing(rt, &key)?;
        let obj = check_shape(rt, obj)?;
        let body_name = obj
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or(name);
        if body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if rt.namespaced {
            let body_ns = obj
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !body_ns.is_empty() && body_ns != key.namespace {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
        }
        let current_rv = old
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str);
        if let Some(want) = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && !want.is_empty()
            && Some(want) != current_rv
        {
            return Err(ApiError::Conflict {
                resource: rt.qualified(),
                name: name.to_string(),
            });
        }
        validate::decodes(rt, &obj)?;
        let mut new = match write {
            Write::Main => {
                let mut new = obj;
                if rt.status_subresource {
                    match old.get("status") {
                        Some(s) => new["status"] = s.clone(),
                        None => {
                            if let Some(o) = new.as_object_mut() {
                                o.remove("status");
                            }
                        }
                    }
                }
                new
            }
            Write::Status => {
                let mut new = (*old).clone();
                new["status"] = obj.get("status").cloned().unwrap_or(Value::Null);
                new
            }
        };
        {
            let old_meta = old.get("metadata").and_then(Value::as_object);
            let meta = metadata_mut(&mut new);
            meta.insert("name".into(), Value::String(name.to_string()));
            if rt.namespaced {
                meta.insert("namespace".into(), Value::String(key.namespace.clone()));
            }
            for field in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "resourceVersion",
            ] {
                match old_meta.and_then(|m| m.get(field)) {
                    Some(v) => meta.insert(field.into(), v.clone()),
                    None => meta.remove(field),
                };
            }
        }
        if rt.generation && new.get("spec") != old.get("spec") {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            metadata_mut(&mut new).insert("generation".into(), json!(generation + 1));
        }
        if new == *old {
            return Ok(old);
        }
        let finalizing = new.pointer("/metadata/deletionTimestamp").is_some()
            && new
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty)
            && rt.kind != "Pod";
        let stored = self.commit(ChangeType::Modified, key.clone(), new, Some(old));
        if finalizing {
            return Ok(self.commit(
                ChangeType::Deleted,
                key,
                (*stored).clone(),
                Some(stored.clone()),
            ));
        }
        Ok(stored)
    }

    /// Deletes an object the way the API server does: pods that are bound
    /// to a node and not terminal get a grace period first; objects with
    /// finalizers get `deletionTimestamp` and wait for them; everything
    /// else goes at once. `uid` is an optional precondition.
    pub fn delete(
        &mut self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        grace_seconds: Option<i64>,
        uid: Option<&str>,
    ) -> Result<DeleteOutcome, ApiError> {
        let key = ObjectKey::new(rt.plural, scope(rt, namespace), name);
        let old = self.existing(rt, &key)?;
        let have_uid = old
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(uid) = uid
            && uid != have_uid
        {
            return Err(ApiError::Precondition {
                message: format!(
                    "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {have_uid}",
                    rt.qualified()
                ),
            });
        }
        let has_finalizers = old
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        let now = self.clock.now_seconds();
        if rt.kind == "Pod" {
            let bound = old
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty());
            let terminal = matches!(
                old.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            );
            let default_grace = old
                .pointer("/spec/terminationGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(30);
            let mut grace = grace_seconds.unwrap_or(default_grace).max(0);
            if !bound || terminal {
                grace = 0;
            }
            let current = old
                .pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64);
            if grace == 0 && !has_finalizers {
                return Ok(DeleteOutcome::Removed(self.commit(
                    ChangeType::Deleted,
                    key,
                    (*old).clone(),
                    Some(old),
                )));
            }
            if current.is_some_and(|c| c <= grace) {
                return Ok(DeleteOutcome::Pending(old));
            }
            let mut new = (*old).clone();
            let at = now
                .saturating_add(jiff::SignedDuration::from_secs(grace))
                .unwrap_or(now);
            let meta = metadata_mut(&mut new);
            meta.insert("deletionTimestamp".into(), Value::String(k8s_time(at)));
            meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
            let object = self.commit(ChangeType::Modified, key, new, Some(old));
            return Ok(DeleteOutcome::Graceful {
                object,
                grace: Duration::from_secs(grace.unsigned_abs()),
            });
        }
        if has_finalizers {
            if old.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok(DeleteOutcome::Pending(old));
            }
            let mut new = (*old).clone();
            let meta = metadata_mut(&mut new);
            meta.insert("deletionTimestamp".into(), Value::String(k8s_time(now)));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            return Ok(DeleteOutcome::Pending(self.commit(
                ChangeType::Modified,
                key,
                new,
                Some(old),
            )));
        }
        Ok(DeleteOutcome::Removed(self.commit(
            ChangeType::Deleted,
            key,
            (*old).clone(),
            Some(old),
        )))
    }

    /// Removes an object now (the kubelet's final delete of a terminating
    /// pod). With `uid`, only if it is still that incarnation. Returns the
    /// removed object, or `None` when there was nothing (matching) to remove.
    pub fn finalize(
        &mut self,
        rt: &'static ResourceType,
        namespace: &str,
        name: &str,
        uid: Option<&str>,
    ) -> Option<Arc<Value>> {
        let key = ObjectKey::new(rt.plural, scope(rt, namespace), name);
        let old = self.objects.get(&key).cloned()?;
        if uid.is_some_and(|u| old.pointer("/metadata/uid").and_then(Value::as_str) != Some(u)) {
            return None;
        }
        Some(self.commit(ChangeType::Deleted, key, (*old).clone(), Some(old)))
    }
}

fn scope<'a>(rt: &ResourceType, namespace: &'a str) -> &'a str {
    if rt.namespaced { namespace } else { "" }
}

fn metadata_mut(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    match obj.get_mut("metadata").and_then(Value::as_object_mut) {
        Some(m) => m,
        None => unreachable!("metadata was just made an object"),
    }
}

/// The body must be an object of this resource's kind; fills in kind and
/// apiVersion when absent.
fn check_shape(rt: &ResourceType, obj: Value) -> Result<Value, ApiError> {
    let Value::Object(mut map) = obj else {
        return Err(ApiError::bad_request(format!(
            "the object provided is unrecognized: expected a JSON object for {}",
            rt.kind
        )));
    };
    let api_version = rt.api_version();
    match map.get("kind").and_then(Value::as_str) {
        Some(k) if k != rt.kind => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )));
        }
        _ => {}
    }
    match map.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != api_version => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )));
        }
        _ => {}
    }
    if map
        .get("metadata")
        .is_some_and(|m| !m.is_object() && !m.is_null())
    {
        return Err(ApiError::bad_request("metadata must be a JSON object"));
    }
    map.insert("kind".into(), Value::String(rt.kind.to_string()));
    map.insert("apiVersion".into(), Value::String(api_version));
    Ok(Value::Object(map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::by_plural;

    fn rt(p: &str) -> &'static ResourceType {
        by_plural(p).unwrap()
    }

    fn store() -> Store {
        let mut s = Store::new(1, 3, VirtualClock::fixed());
        s.create(
            rt("namespaces"),
            "",
            json!({"metadata": {"name": "default"}}),
        )
        .unwrap();
        s
    }

    #[tokio::test(start_paused = true)]
    async fn create_sets_identity_and_rejects_duplicates() {
        let mut s = store();
        let p = s
            .create(
                rt("pods"),
                "default",
                json!({"metadata": {"generateName": "web-"}, "spec": {"containers": []}}),
            )
            .unwrap();
        assert!(p["metadata"]["name"].as_str().unwrap().starts_with("web-"));
        assert_eq!(p["metadata"]["resourceVersion"], "2");
        assert_eq!(p["metadata"]["creationTimestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(p["status"]["phase"], "Pending");
        assert_eq!(p["kind"], "Pod");
        let name = p["metadata"]["name"].as_str().unwrap().to_string();
        let again = s
            .create(rt("pods"), "default", json!({"metadata": {"name": name}}))
            .unwrap_err();
        assert_eq!(again.code(), 409);
        let no_ns = s
            .create(rt("pods"), "nope", json!({"metadata": {"name": "a"}}))
            .unwrap_err();
        assert_eq!(no_ns.to_string(), "namespaces \"nope\" not found");
        let wrong_kind = s
            .create(
                rt("pods"),
                "default",
                json!({"kind": "Node", "metadata": {"name": "a"}}),
            )
            .unwrap_err();
        assert_eq!(wrong_kind.code(), 400);
    }

    #[tokio::test(start_paused = true)]
    async fn updates_preserve_identity_bump_generation_and_detect_conflicts() {
        let mut s = store();
        let ds = rt("daemonsets");
        let d = s
            .create(
                ds,
                "default",
                json!({"metadata": {"name": "x"}, "spec": {"minReadySeconds": 1}}),
            )
            .unwrap();
        let mut body = (*d).clone();
        body["spec"]["minReadySeconds"] = json!(2);
        body["status"] = json!({"numberReady": 9});
        let u = s
            .update(ds, "default", "x", body.clone(), Write::Main)
            .unwrap();
        assert_eq!(u["metadata"]["generation"], 2);
        assert_eq!(u["metadata"]["uid"], d["metadata"]["uid"]);
        assert!(u.get("status").is_none(), "main update ignores status");
        let stale = s.update(ds, "default", "x", body, Write::Main).unwrap_err();
        assert_eq!(stale.code(), 409);
        let st = s
            .update(
                ds,
                "default",
                "x",
                json!({"status": {"numberReady": 3}}),
                Write::Status,
            )
            .unwrap();
        assert_eq!(st["status"]["numberReady"], 3);
        assert_eq!(st["metadata"]["generation"], 2);
        let rv = s.resource_version();
        let same = s
            .update(
                ds,
                "default",
                "x",
                json!({"status": {"numberReady": 3}}),
                Write::Status,
            )
            .unwrap();
        assert_eq!(s.resource_version(), rv, "no-op update commits nothing");
        assert_eq!(same, st);
    }

    #[tokio::test(start_paused = true)]
    async fn pods_delete_gracefully_and_history_is_bounded() {
        let mut s = store();
        let pods = rt("pods");
        s.create(pods, "default", json!({"metadata": {"name": "a"}, "spec": {"nodeName": "n", "containers": []}, "status": {"phase": "Running"}})).unwrap();
        let rv_before = s.resource_version();
        match s.delete(pods, "default", "a", None, None).unwrap() {
            DeleteOutcome::Graceful { object, grace } => {
                assert_eq!(grace, Duration::from_secs(30));
                assert_eq!(
                    object["metadata"]["deletionTimestamp"],
                    "2026-01-01T00:00:30Z"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            s.delete(pods, "default", "a", None, None).unwrap(),
            DeleteOutcome::Pending(_)
        ));
        let gone = s.finalize(pods, "default", "a", Some("wrong-uid"));
        assert!(gone.is_none());
        assert!(s.finalize(pods, "default", "a", None).is_some());
        assert!(s.get(pods, "default", "a").is_none());
        // History keeps 3 changes: listing at an evicted rv is Expired.
        assert!(s.changes_since(rv_before).is_ok());
        assert_eq!(s.list_at(pods, None, 0).unwrap_err().code(), 410);
        let at = s.list_at(pods, Some("default"), rv_before).unwrap();
        assert_eq!(at.len(), 1, "the pod existed at {rv_before}");
        assert_eq!(s.changes_since(0).unwrap_err(), s.compacted());
        let (truth, next) = s.truth_since(0);
        assert_eq!(truth.len(), next);
        assert!(matches!(
            truth.last(),
            Some(TruthEntry::Change {
                change: ChangeType::Deleted,
                ..
            })
        ));
    }
}
