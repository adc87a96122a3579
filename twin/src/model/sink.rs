//! Where the model's writes go: the twin's object store in served and
//! in-process use, or a [`Recorder`] in pure model tests.

use std::collections::BTreeMap;

use serde_json::Value;

use super::rng::Ms;

/// One write the model makes, as the component that owns the object would
/// make it through the API.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Create the object, or update it when it exists.
    Put {
        /// Virtual time of the write.
        at: Ms,
        /// Resource plural (`pods`, `nodes`, `events`, `daemonsets`, ...).
        resource: &'static str,
        /// Namespace (empty for cluster-scoped objects).
        namespace: String,
        /// Name.
        name: String,
        /// Whether metadata or spec changed (else only `status` did).
        main: bool,
        /// The whole object.
        object: Value,
    },
    /// Remove the object (a kubelet's final delete of a terminated pod).
    Remove {
        /// Virtual time.
        at: Ms,
        /// Resource plural.
        resource: &'static str,
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// A ground-truth note: what happened inside a node that the API does
    /// not show (a process killed, a file written, a shim blocking).
    Note {
        /// Virtual time.
        at: Ms,
        /// The note.
        text: String,
    },
}

impl Output {
    /// One line of the ground-truth log: virtual time in milliseconds and
    /// what happened, byte-identical for identical runs.
    pub fn log_line(&self) -> String {
        match self {
            Output::Put {
                at,
                resource,
                namespace,
                name,
                object,
                ..
            } => {
                format!("{at:>10} put {resource} {namespace}/{name} {object}")
            }
            Output::Remove {
                at,
                resource,
                namespace,
                name,
            } => {
                format!("{at:>10} remove {resource} {namespace}/{name}")
            }
            Output::Note { at, text } => format!("{at:>10} note {text}"),
        }
    }
}

/// Receives the model's writes.
pub trait Sink {
    /// Applies one write.
    fn apply(&mut self, output: Output);
}

/// A sink that keeps the latest version of every object and the full log,
/// for tests of the model without the API server.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    /// Objects by (resource, namespace, name).
    pub objects: BTreeMap<(&'static str, String, String), Value>,
    /// Every write, in order.
    pub log: Vec<String>,
    /// Notes only.
    pub notes: Vec<(Ms, String)>,
}

impl Recorder {
    /// The object, if present.
    pub fn get(&self, resource: &'static str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(resource, namespace.to_string(), name.to_string()))
    }

    /// Every object of a resource.
    pub fn all(&self, resource: &'static str) -> impl Iterator<Item = &Value> + '_ {
        self.objects
            .iter()
            .filter(move |(k, _)| k.0 == resource)
            .map(|(_, v)| v)
    }
}

impl Sink for Recorder {
    fn apply(&mut self, output: Output) {
        self.log.push(output.log_line());
        match output {
            Output::Put {
                resource,
                namespace,
                name,
                object,
                ..
            } => {
                self.objects.insert((resource, namespace, name), object);
            }
            Output::Remove {
                resource,
                namespace,
                name,
                ..
            } => {
                self.objects.remove(&(resource, namespace, name));
            }
            Output::Note { at, text } => self.notes.push((at, text)),
        }
    }
}
