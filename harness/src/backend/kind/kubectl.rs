//! `kubectl` against one kind cluster, always through the harness's private
//! kubeconfig and the cluster's own context (never the user's
//! `~/.kube/config` or its current context).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::KindError;
use crate::exec::{Command, Output, Runner};

/// Timeout of one kubectl command unless a caller says otherwise.
pub const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);

/// kubectl for one cluster.
#[derive(Clone, Debug)]
pub struct Kubectl {
    runner: Arc<dyn Runner>,
    kubeconfig: PathBuf,
    context: String,
    dry_run: bool,
}

impl Kubectl {
    /// kubectl with `--kubeconfig <kubeconfig> --context kind-<cluster>`.
    pub fn new(runner: Arc<dyn Runner>, kubeconfig: impl Into<PathBuf>, cluster: &str) -> Self {
        Kubectl {
            runner,
            kubeconfig: kubeconfig.into(),
            context: format!("kind-{cluster}"),
            dry_run: false,
        }
    }

    /// Marks the runner as a dry run (outputs are empty; callers plan
    /// placeholders instead of parsing them).
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Whether this is a dry run.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// The kubeconfig file.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The context (`kind-<cluster>`).
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The command `kubectl --kubeconfig K --context C <args>`.
    pub fn command<I>(&self, args: I) -> Command
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig.display().to_string())
            .arg("--context")
            .arg(self.context.clone())
            .args(args)
            .timeout(KUBECTL_TIMEOUT)
    }

    /// Runs kubectl with `args`; a non-zero exit is an error.
    pub async fn run<I>(&self, args: I, timeout: Duration) -> Result<Output, KindError>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Ok(self
            .runner
            .run(&self.command(args).timeout(timeout))
            .await?)
    }

    /// Runs kubectl with `args` and returns the output whatever its exit.
    pub async fn output<I>(&self, args: I, timeout: Duration) -> Result<Output, KindError>
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Ok(self
            .runner
            .output(&self.command(args).timeout(timeout))
            .await?)
    }
}
