//! The report module's errors.

use std::path::PathBuf;
use std::sync::Arc;

/// Why a report could not be rendered or written. Sources are shared so that
/// [`Reporter::write_errors`](super::Reporter::write_errors) can hand out
/// copies.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ReportError {
    /// The run id cannot be used as a directory name.
    #[error("run id {run_id:?} cannot be used as a report directory name")]
    RunId {
        /// The offending id.
        run_id: String,
    },
    /// The JUnit XML could not be serialized.
    #[error("serializing the JUnit report of run {run_id}")]
    Junit {
        /// The run.
        run_id: String,
        /// Why.
        #[source]
        source: Arc<quick_junit::SerializeError>,
    },
    /// The JSON report could not be serialized.
    #[error("serializing the JSON report of run {run_id}")]
    Json {
        /// The run.
        run_id: String,
        /// Why.
        #[source]
        source: Arc<serde_json::Error>,
    },
    /// A report file could not be written.
    #[error("writing {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The `latest` link could not be pointed at the run's directory.
    #[error("pointing {link} at {target}")]
    Link {
        /// The link.
        link: PathBuf,
        /// Where it should point (relative to its directory).
        target: PathBuf,
        /// Why.
        #[source]
        source: Arc<std::io::Error>,
    },
}
