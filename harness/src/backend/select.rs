//! Choosing a backend from `CHAOS_BACKEND`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::kind::{
    CleanOptions, Detected, KindBackend, KindOptions, MATRIX_FILE, clean, docker_reachable,
    kind_on_path,
};
use super::scripted::ScriptedBackend;
use super::{Backend, BackendError};
use crate::exec::{LocalRunner, Runner};
use crate::journal::{Journal, RunJournal};
use crate::run::RunConfig;

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

/// Builds the backend `config` chose, or says clearly why it cannot. The
/// seed and the report folder come from `config`; the kind-only variables
/// (`CHAOS_DRY_RUN`, `CHAOS_CLUSTER`, `CHAOS_ALLOW_UNPINNED`)
/// from the environment.
pub fn select(config: &RunConfig) -> Result<Arc<dyn Backend>, BackendError> {
    select_with(config, &|k| std::env::var(k).ok())
}

/// [`select`] with the environment read through `get`.
pub fn select_with(
    config: &RunConfig,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Backend>, BackendError> {
    let kind = |reason: String| kind_backend(config, get, reason);
    let twin = |reason: String| -> Arc<dyn Backend> {
        Arc::new(super::twin::TwinBackend::new(config.seed_for(true), reason))
    };
    match &config.backend {
        BackendChoice::Scripted(plan) => Ok(Arc::new(ScriptedBackend::from_file(plan)?)),
        BackendChoice::Kind => kind("CHAOS_BACKEND=kind".into()),
        BackendChoice::Twin => Ok(twin("CHAOS_BACKEND=twin".into())),
        BackendChoice::Auto => {
            if dry_run(get)? {
                return kind("auto: CHAOS_DRY_RUN=1 plans the kind commands".into());
            }
            let found = detect(get);
            if found.kind_usable() {
                kind(format!("auto: {}", found.summary()))
            } else {
                let reason = format!(
                    "auto: found {}, so the kind backend cannot run; using the digital twin (simulated results)",
                    found.summary()
                );
                eprintln!("cni-chaos: {reason}");
                Ok(twin(reason))
            }
        }
    }
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
    let kind_configs = super::kind::KindConfig::names(root)
        .map_err(|e| e.to_string())?
        .into_iter()
        .collect();
    let matrix =
        super::kind::VersionMatrix::load(&root.join(MATRIX_FILE)).map_err(|e| e.to_string())?;
    Ok(crate::suite::Known {
        kind_configs,
        version_sets: matrix.sets.keys().cloned().collect(),
    })
}

fn kind_backend(
    config: &RunConfig,
    get: &dyn Fn(&str) -> Option<String>,
    reason: String,
) -> Result<Arc<dyn Backend>, BackendError> {
    let mut options = KindOptions::from_lookup(workspace_root(), get).map_err(config_error)?;
    options.logs_dir = config.report_dir.join("kind-logs");
    // A dry run makes nothing, so it writes no journal (and neither does
    // the twin).
    let journal = if options.dry_run {
        None
    } else {
        start_journal()
    };
    let runner: Arc<dyn Runner> = match (&journal, options.dry_run) {
        (_, true) => Arc::new(LocalRunner::dry_run()),
        (Some(j), false) => Arc::new(LocalRunner::new().with_child_log(j.clone())),
        (None, false) => Arc::new(LocalRunner::new()),
    };
    let reason = if options.dry_run {
        format!("{reason}; CHAOS_DRY_RUN=1: commands are printed, none is run")
    } else {
        reason
    };
    Ok(Arc::new(
        KindBackend::new(runner, options, reason)?.with_journal(journal),
    ))
}

/// How long the sweep may hold up a run's start. Cut short, it leaves the
/// journal consistent: a record goes only after its undo succeeded.
const SWEEP_BUDGET: std::time::Duration = std::time::Duration::from_secs(600);

/// The sweep every kind run starts with (`cni-chaos clean` for runs of
/// this host whose owner is gone), then this run's undo journal. Neither
/// ever stops the run: a problem is a warning, and the run goes on without
/// a journal if it cannot start one.
fn start_journal() -> Option<Arc<RunJournal>> {
    let journal = match Journal::from_env() {
        Ok(j) => j,
        Err(e) => {
            eprintln!("cni-chaos: warning: running without an undo journal: {e}");
            return None;
        }
    };
    let options = CleanOptions::from_env(false, false);
    let swept = std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|rt| {
                    // The timer is made inside the runtime.
                    rt.block_on(async {
                        tokio::time::timeout(
                            SWEEP_BUDGET,
                            clean(&journal, Arc::new(LocalRunner::new()), &options),
                        )
                        .await
                    })
                    .map_err(|_| {
                        format!(
                            "not done within {}; what it had not finished is still in the journal: run `cni-chaos clean`",
                            crate::util::duration::format(SWEEP_BUDGET)
                        )
                    })
                    .and_then(|r| r.map_err(|e| e.to_string()))
                })
        })
        .join()
        .unwrap_or_else(|_| Err("the sweep panicked".into()))
    });
    match swept {
        Ok(report) => {
            for line in report.lines() {
                if !line.starts_with("live:") {
                    eprintln!("cni-chaos: sweep: {line}");
                }
            }
        }
        Err(e) => eprintln!("cni-chaos: warning: the sweep of dead runs failed: {e}"),
    }
    match journal.begin(options.docker_host) {
        Ok(run) => Some(Arc::new(run)),
        Err(e) => {
            eprintln!("cni-chaos: warning: running without an undo journal: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run options with this backend choice and nothing else set.
    fn config(backend: BackendChoice) -> RunConfig {
        let defaults = crate::run::RunDefaults {
            suites_dir: "/w/suites".into(),
            report_dir: "/w/reports".into(),
            base: "/w".into(),
        };
        let mut c = RunConfig::from_lookup(&defaults, |_| None).unwrap();
        c.backend = backend;
        c
    }

    #[test]
    fn auto_without_kind_says_what_it_found() {
        let b = select_with(&config(BackendChoice::Auto), &|k| {
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
        let twin = select_with(&config(BackendChoice::Twin), &|_| None).unwrap();
        assert_eq!(twin.info().reason, "CHAOS_BACKEND=twin");
    }

    #[test]
    fn kind_and_dry_run_build_a_kind_backend() {
        let b = select_with(&config(BackendChoice::Kind), &|_| None).unwrap();
        assert_eq!(b.info().name, "kind");
        assert!(!b.info().simulated);
        let b = select_with(&config(BackendChoice::Auto), &|k| {
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
