//! Choosing a backend from `CHAOS_BACKEND`.

use std::path::PathBuf;
use std::sync::Arc;

use super::scripted::ScriptedBackend;
use super::{Backend, BackendError};

/// The backend asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// kind when `kind` and a Docker daemon are there, else the twin.
    Auto,
    /// Real kind clusters.
    Kind,
    /// The digital twin.
    Twin,
    /// A test backend that follows a plan file (`CHAOS_SCRIPT`); for the
    /// harness's own tests.
    Scripted(PathBuf),
}

impl BackendChoice {
    /// Parses `CHAOS_BACKEND` (`auto`, `kind`, `twin`, `scripted`); `script`
    /// is `CHAOS_SCRIPT`, required by `scripted`.
    pub fn parse(value: &str, script: Option<PathBuf>) -> Result<Self, String> {
        match value {
            "" | "auto" => Ok(BackendChoice::Auto),
            "kind" => Ok(BackendChoice::Kind),
            "twin" => Ok(BackendChoice::Twin),
            "scripted" => script
                .map(BackendChoice::Scripted)
                .ok_or_else(|| "CHAOS_BACKEND=scripted needs CHAOS_SCRIPT=<plan.json>".to_string()),
            other => Err(format!(
                "CHAOS_BACKEND={other:?} is not a backend: expected auto, kind, twin or scripted"
            )),
        }
    }
}

/// Builds the chosen backend, or says clearly why it cannot.
pub fn select(choice: &BackendChoice) -> Result<Arc<dyn Backend>, BackendError> {
    match choice {
        BackendChoice::Scripted(plan) => Ok(Arc::new(ScriptedBackend::from_file(plan)?)),
        BackendChoice::Kind => Err(BackendError::Unavailable {
            name: "kind".into(),
            why: "the kind backend is not part of this build yet; nothing was run".into(),
        }),
        BackendChoice::Twin => Err(BackendError::Unavailable {
            name: "twin".into(),
            why: "the digital twin backend is not part of this build yet; nothing was run".into(),
        }),
        BackendChoice::Auto => Err(BackendError::Unavailable {
            name: "auto".into(),
            why: "neither the kind nor the twin backend is part of this build yet; nothing was run"
                .into(),
        }),
    }
}
