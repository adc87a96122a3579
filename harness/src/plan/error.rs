//! Errors of planning.

use std::path::PathBuf;

/// Why a plan (estimates, matrix, baseline lookup) could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The estimates file is not what the harness writes.
    #[error(
        "{path}: {rule} (regenerate it: CHAOS_BLESS=1 cargo test -p cni-chaos --test estimates)"
    )]
    Estimates {
        /// The file.
        path: PathBuf,
        /// The field and the rule it breaks.
        rule: String,
    },
    /// The suites or the version matrix could not be loaded.
    #[error("{what}: {message}")]
    Load {
        /// What was being loaded.
        what: String,
        /// The loader's message.
        message: String,
    },
    /// A shard would run longer than the limit even alone.
    #[error("shard {shard} is estimated at {minutes} min, over the {limit} min limit: {why}")]
    OverLimit {
        /// The shard id.
        shard: String,
        /// Its estimate, in minutes.
        minutes: u64,
        /// The limit, in minutes.
        limit: u64,
        /// What makes it long.
        why: String,
    },
    /// A `gh` command failed or answered something unreadable.
    #[error("baseline lookup: `{command}`: {message}")]
    Gh {
        /// The command line.
        command: String,
        /// What went wrong, with the captured output.
        message: String,
    },
}
