//! [`JournalError`].

use std::path::PathBuf;

/// What went wrong writing or reading the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file or folder could not be read, written, renamed or removed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// A record could not be encoded.
    #[error("encoding a journal record for {path}: {source}")]
    Encode {
        /// The file it was meant for.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: serde_json::Error,
    },
    /// No folder for the journal: neither the override nor the XDG state
    /// home nor `HOME` is set.
    #[error("no folder for the undo journal: set {env}, XDG_STATE_HOME or HOME")]
    NoStateHome {
        /// The override variable.
        env: &'static str,
    },
    /// A run's folder still holds records: it is not removed.
    #[error("not removing {dir}: it still holds {files:?}")]
    NotEmpty {
        /// The run's folder.
        dir: PathBuf,
        /// What is in it.
        files: Vec<String>,
    },
    /// This process's own identity could not be read.
    #[error("reading this process's identity from /proc/self/stat failed")]
    NoOwner,
}

impl JournalError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        JournalError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
