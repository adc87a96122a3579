//! Errors of node-level operations on the model.

/// A node-level operation could not be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    /// No node has that name (or kind suffix).
    #[error("no node {node:?} in the twin: it has {available}")]
    NoSuchNode {
        /// The name asked for.
        node: String,
        /// The nodes there are.
        available: String,
    },
    /// The node container is not running.
    #[error("node {node} is not running: cannot {op}")]
    NodeDown {
        /// The node.
        node: String,
        /// What was attempted.
        op: String,
    },
    /// No process with that name runs on the node.
    #[error("no process named {comm:?} on node {node}")]
    NoSuchProcess {
        /// The node.
        node: String,
        /// The process name.
        comm: String,
    },
    /// The file does not exist.
    #[error("{path}: no such file on node {node}")]
    NoSuchFile {
        /// The node.
        node: String,
        /// The path.
        path: String,
    },
    /// The argument is malformed.
    #[error("invalid {what}: {why}")]
    Invalid {
        /// What was malformed.
        what: String,
        /// Why.
        why: String,
    },
    /// The pod does not exist.
    #[error("pod {namespace}/{name} not found")]
    NoSuchPod {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
}
