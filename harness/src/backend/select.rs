//! Choosing a backend from `CHAOS_BACKEND`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::kind::{
    Detected, KindBackend, KindOptions, MATRIX_FILE, docker_reachable, kind_on_path,
};
use super::scripted::ScriptedBackend;
use super::{Backend, BackendError};
use crate::exec::{LocalRunner, Runner};

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

/// Builds the chosen backend, or says clearly why it cannot. Reads
/// `CHAOS_DRY_RUN`, `CHAOS_CLUSTER`, `CHAOS_ALLOW_UNPINNED`, `CHAOS_KEEP_CLUSTER`,
/// `CHAOS_NAT_GW` and `CHAOS_REPORT_DIR` for the kind backend.
pub fn select(choice: &BackendChoice) -> Result<Arc<dyn Backend>, BackendError> {
    select_with(choice, &|k| std::env::var(k).ok())
}

/// [`select`] with the environment read through `get`.
pub fn select_with(
    choice: &BackendChoice,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Backend>, BackendError> {
    match choice {
        BackendChoice::Scripted(plan) => Ok(Arc::new(ScriptedBackend::from_file(plan)?)),
        BackendChoice::Kind => kind_backend(get, "CHAOS_BACKEND=kind".into()),
        BackendChoice::Twin => Ok(twin_backend(get, "CHAOS_BACKEND=twin".into())),
        BackendChoice::Auto => {
            if dry_run(get)? {
                return kind_backend(get, "auto: CHAOS_DRY_RUN=1 plans the kind commands".into());
            }
            let found = detect(get);
            if found.kind_usable() {
                kind_backend(get, format!("auto: {}", found.summary()))
            } else {
                let reason = format!(
                    "auto: found {}, so the kind backend cannot run; using the digital twin (simulated results)",
                    found.summary()
                );
                eprintln!("cni-chaos: {reason}");
                Ok(twin_backend(get, reason))
            }
        }
    }
}

/// The twin backend, seeded with `CHAOS_SEED` (default
/// [`super::twin::DEFAULT_SEED`], as the runner's [`crate::run::RunConfig::seed_for`]).
fn twin_backend(get: &dyn Fn(&str) -> Option<String>, reason: String) -> Arc<dyn Backend> {
    let seed = get("CHAOS_SEED")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(super::twin::DEFAULT_SEED);
    Arc::new(super::twin::TwinBackend::new(seed, reason))
}

fn dry_run(get: &dyn Fn(&str) -> Option<String>) -> Result<bool, BackendError> {
    crate::run::flag(get, "CHAOS_DRY_RUN").map_err(config_error)
}

fn config_error(e: crate::run::ConfigError) -> BackendError {
    BackendError::other("reading the environment", e.to_string())
}

/// What `auto` looks for: `kind` on PATH and a Docker daemon that answers.
pub fn detect(get: &dyn Fn(&str) -> Option<String>) -> Detected {
    let kind = kind_on_path(get("PATH").as_deref());
    // A private runtime on its own thread, so this works inside or outside
    // an async context.
    let docker = std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|rt| rt.block_on(docker_reachable(&LocalRunner::new())))
        })
        .join()
        .unwrap_or_else(|_| Err("the Docker probe panicked".into()))
    });
    Detected { kind, docker }
}

/// The workspace root: the nearest folder at or above the current directory
/// holding `versions.yaml`, else the one this crate was built in.
pub fn workspace_root() -> PathBuf {
    let built = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::current_dir()
        .ok()
        .and_then(|d| {
            d.ancestors()
                .find(|a| a.join(MATRIX_FILE).is_file())
                .map(PathBuf::from)
        })
        .unwrap_or(built)
}

/// The kind configs (`kind-configs/*.yaml`) and version sets
/// (`versions.yaml`) the workspace at `root` offers suites to name.
pub fn known_profiles(root: &Path) -> Result<crate::suite::Known, String> {
    let dir = root.join(super::kind::CONFIG_DIR);
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| format!("cannot list the kind configs in {}: {e}", dir.display()))?;
    let kind_configs = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    let matrix =
        super::kind::VersionMatrix::load(&root.join(MATRIX_FILE)).map_err(|e| e.to_string())?;
    Ok(crate::suite::Known {
        kind_configs,
        version_sets: matrix.sets.keys().cloned().collect(),
    })
}

fn kind_backend(
    get: &dyn Fn(&str) -> Option<String>,
    reason: String,
) -> Result<Arc<dyn Backend>, BackendError> {
    let options = KindOptions::from_lookup(workspace_root(), get).map_err(config_error)?;
    let runner: Arc<dyn Runner> = if options.dry_run {
        Arc::new(LocalRunner::dry_run())
    } else {
        Arc::new(LocalRunner::new())
    };
    let reason = if options.dry_run {
        format!("{reason}; CHAOS_DRY_RUN=1: commands are printed, none is run")
    } else {
        reason
    };
    Ok(Arc::new(KindBackend::new(runner, options, reason)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_without_kind_says_what_it_found() {
        let b = select_with(&BackendChoice::Auto, &|k| {
            (k == "PATH").then(|| "/nonexistent-cni-chaos".to_string())
        })
        .expect("auto falls back to the twin");
        let info = b.info();
        assert_eq!(info.name, "twin");
        assert!(info.simulated);
        assert!(
            info.reason.contains("kind not found on PATH"),
            "{}",
            info.reason
        );
        assert!(info.reason.contains("Docker daemon"), "{}", info.reason);
        assert!(info.reason.contains("digital twin"), "{}", info.reason);
        let twin = select_with(&BackendChoice::Twin, &|_| None).unwrap();
        assert_eq!(twin.info().reason, "CHAOS_BACKEND=twin");
    }

    #[test]
    fn kind_and_dry_run_build_a_kind_backend() {
        let b = select_with(&BackendChoice::Kind, &|_| None).unwrap();
        assert_eq!(b.info().name, "kind");
        assert!(!b.info().simulated);
        let b = select_with(&BackendChoice::Auto, &|k| {
            (k == "CHAOS_DRY_RUN").then(|| "1".to_string())
        })
        .unwrap();
        assert!(
            b.info().reason.contains("CHAOS_DRY_RUN=1"),
            "{}",
            b.info().reason
        );
    }
}
