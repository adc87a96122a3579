//! [`KindOptions`]: how the kind backend runs, from `CHAOS_*` variables.

use std::path::PathBuf;
use std::time::Duration;

use super::safety::NAME_PREFIX;
use crate::run::{ConfigError, flag};

/// How a new cluster is named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameSource {
    /// `chaos-<8 hex>` from the clock and the process id.
    Random,
    /// Exactly this name (it must still pass the guard); for tests and plans.
    Fixed(String),
}

/// Time limits of the long steps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// `kind create cluster`. Default 10 min.
    pub create: Duration,
    /// `docker pull` of one image. Default 10 min.
    pub pull: Duration,
    /// `kind load docker-image` of one image. Default 5 min.
    pub load: Duration,
    /// Kube-OVN's `install.sh`. Default 15 min.
    pub install: Duration,
    /// Each readiness wait after the installs. Default 5 min.
    pub ready: Duration,
    /// `kind export logs`. Default 2 min: kept short so the delete after it
    /// always gets its turn within the teardown budget.
    pub logs: Duration,
    /// `kind delete cluster`. Default 5 min.
    pub delete: Duration,
    /// The undos still pending at teardown (reconnect, SIGCONT, restore),
    /// together. Default 2 min.
    pub undo: Duration,
}

impl Timeouts {
    /// What a teardown needs at most: the pending undos, the log export and
    /// the delete, plus 30 s for the rest (inspections, the state folder).
    pub fn teardown(&self) -> Duration {
        self.undo + self.logs + self.delete + Duration::from_secs(30)
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            create: Duration::from_secs(600),
            pull: Duration::from_secs(600),
            load: Duration::from_secs(300),
            install: Duration::from_secs(900),
            ready: Duration::from_secs(300),
            logs: Duration::from_secs(120),
            delete: Duration::from_secs(300),
            undo: Duration::from_secs(120),
        }
    }
}

/// Options of the kind backend.
#[derive(Clone, Debug)]
pub struct KindOptions {
    /// The workspace root holding `kind-configs/` and `versions.yaml`.
    pub workspace: PathBuf,
    /// A private folder for kubeconfigs and downloaded manifests (never
    /// `~/.kube`), holding one folder per cluster. Default (`None`): a fresh
    /// folder with a random name and mode 0700 under the system temp dir,
    /// made at the first provisioning.
    pub state_dir: Option<PathBuf>,
    /// Where `kind export logs` writes when provisioning fails.
    pub logs_dir: PathBuf,
    /// Prefix of cluster names the harness makes. Default `chaos-`.
    pub prefix: String,
    /// `CHAOS_CLUSTER`: reuse this existing cluster instead of creating one
    /// (it is then never deleted by the harness).
    pub reuse: Option<String>,
    /// How new clusters are named.
    pub names: NameSource,
    /// `CHAOS_DRY_RUN=1`: run nothing, print the command plan.
    pub dry_run: bool,
    /// `CHAOS_ALLOW_UNPINNED=1`: apply manifests that have no sha256 pin.
    pub allow_unpinned: bool,
    /// Time limits.
    pub timeouts: Timeouts,
}

impl KindOptions {
    /// Options for `workspace`, with defaults for everything else.
    pub fn new(workspace: impl Into<PathBuf>) -> Self {
        let workspace = workspace.into();
        KindOptions {
            state_dir: None,
            logs_dir: workspace.join("reports").join("kind-logs"),
            workspace,
            prefix: NAME_PREFIX.into(),
            reuse: None,
            names: NameSource::Random,
            dry_run: false,
            allow_unpinned: false,
            timeouts: Timeouts::default(),
        }
    }

    /// Reads the kind-only variables `CHAOS_CLUSTER`, `CHAOS_DRY_RUN` and
    /// `CHAOS_ALLOW_UNPINNED` through `get`, on top of
    /// [`KindOptions::new`]. Where logs go follows the run's report folder
    /// (set by the caller from [`crate::run::RunConfig::report_dir`]).
    ///
    /// An on/off variable with another value than
    /// [`flag`](crate::run::flag) accepts is an error.
    pub fn from_lookup(
        workspace: impl Into<PathBuf>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut o = Self::new(workspace);
        o.reuse = get("CHAOS_CLUSTER").filter(|s| !s.trim().is_empty());
        o.dry_run = flag(&get, "CHAOS_DRY_RUN")?;
        o.allow_unpinned = flag(&get, "CHAOS_ALLOW_UNPINNED")?;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env() {
        let vars = [("CHAOS_CLUSTER", "chaos-keep"), ("CHAOS_DRY_RUN", "1")];
        let o = KindOptions::from_lookup("/w", |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        assert_eq!(o.reuse.as_deref(), Some("chaos-keep"));
        assert!(o.dry_run && !o.allow_unpinned);
        let o = KindOptions::from_lookup("/w", |_| None).unwrap();
        assert!(o.reuse.is_none() && !o.dry_run);
        assert_eq!(o.logs_dir, PathBuf::from("/w/reports/kind-logs"));
        // A typo in an on/off variable is an error, never "off": a dry run
        // asked for as "on" must not run the commands for real.
        for var in ["CHAOS_DRY_RUN", "CHAOS_ALLOW_UNPINNED"] {
            let err = KindOptions::from_lookup("/w", |k| (k == var).then(|| "on".to_string()))
                .unwrap_err();
            assert_eq!(err.var, var);
            assert!(err.to_string().contains("expected 1 or 0"), "{err}");
        }
        let o = KindOptions::from_lookup("/w", |k| (k == "CHAOS_DRY_RUN").then(|| "TRUE".into()))
            .unwrap();
        assert!(o.dry_run);
    }
}
