//! [`Change`]s (what watchers replay) and [`TruthEntry`]s (what tests
//! compare measurements against).

use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

/// Identifies one object: resource plural, namespace (empty when cluster
/// scoped) and name. Orders like etcd keys, so lists come out sorted by
/// namespace then name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectKey {
    /// Resource plural, e.g. `pods`.
    pub resource: &'static str,
    /// Namespace; empty for cluster-scoped objects.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

impl ObjectKey {
    /// A key.
    pub fn new(resource: &'static str, namespace: &str, name: &str) -> Self {
        Self {
            resource,
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }
}

/// The watch event type of a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChangeType {
    /// The object was created.
    Added,
    /// The object was changed.
    Modified,
    /// The object was removed.
    Deleted,
}

impl ChangeType {
    /// The watch event `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One committed change.
#[derive(Clone, Debug)]
pub struct Change {
    /// The resourceVersion the change was committed at.
    pub rv: u64,
    /// Added, modified or deleted.
    pub change: ChangeType,
    /// Which object.
    pub key: ObjectKey,
    /// The object after the change (for deletions: its last state, with
    /// the deletion's resourceVersion).
    pub object: Arc<Value>,
    /// The object before the change; `None` for creations.
    pub prev: Option<Arc<Value>>,
    /// Virtual time of the change.
    pub at: Timestamp,
}

/// One line of the ground-truth log.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum TruthEntry {
    /// An object changed.
    Change {
        /// Virtual time, millisecond precision or better.
        at: Timestamp,
        /// Resource plural.
        resource: &'static str,
        /// Namespace (empty for cluster-scoped).
        namespace: String,
        /// Object name.
        name: String,
        /// Added, modified or deleted.
        #[serde(rename = "type")]
        change: ChangeType,
        /// The change's resourceVersion.
        #[serde(rename = "resourceVersion")]
        resource_version: u64,
    },
    /// A free-form note from the model (or a test).
    Note {
        /// Virtual time.
        at: Timestamp,
        /// The note.
        text: String,
    },
}
