//! Backend errors.

use crate::exec::ExecError;

/// A backend could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The selected backend does not exist (yet) or cannot run here.
    #[error("backend {name:?} is not available: {why}")]
    Unavailable {
        /// The backend asked for.
        name: String,
        /// Why, and what to do instead.
        why: String,
    },
    /// An external command failed.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// A node target matched no node.
    #[error("no node matches {target}: the cluster has {available}")]
    NoSuchNode {
        /// The target as written.
        target: String,
        /// The nodes there are.
        available: String,
    },
    /// The backend refused for safety (not a cluster the harness created).
    #[error("refusing to act on {what}: {why}")]
    Unsafe {
        /// What it would have acted on.
        what: String,
        /// Why that is refused.
        why: String,
    },
    /// Anything else, with context.
    #[error("{context}: {message}")]
    Other {
        /// What was being done.
        context: String,
        /// What went wrong.
        message: String,
    },
}

impl BackendError {
    /// A generic error with context.
    pub fn other(context: impl Into<String>, message: impl Into<String>) -> Self {
        BackendError::Other {
            context: context.into(),
            message: message.into(),
        }
    }
}
