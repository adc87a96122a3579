//! [`KindError`]: why the kind backend could not do what was asked.

use std::path::PathBuf;

use crate::backend::BackendError;
use crate::exec::ExecError;

/// What a preflight check looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreflightCheck {
    /// The Docker CLI and its daemon.
    Docker,
    /// The kind CLI and its version.
    Kind,
    /// The kubectl client and its version.
    Kubectl,
    /// curl (downloads the pinned manifests).
    Curl,
    /// Free space under Docker's data root.
    Disk,
    /// The host kernel's inotify limits.
    Inotify,
}

impl std::fmt::Display for PreflightCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Docker => "docker",
            Self::Kind => "kind",
            Self::Kubectl => "kubectl",
            Self::Curl => "curl",
            Self::Disk => "disk space",
            Self::Inotify => "inotify limits",
        })
    }
}

/// One thing the kind backend needs that this machine lacks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{check}: {problem}; fix: {fix}")]
pub struct Unmet {
    /// The check that found it.
    pub check: PreflightCheck,
    /// What is wrong.
    pub problem: String,
    /// How to fix it.
    pub fix: String,
}

/// A kind backend operation failed. Every variant that comes from a command
/// carries its command line and captured output (through [`ExecError`]).
#[derive(Debug, thiserror::Error)]
pub enum KindError {
    /// The preflight found problems before any cluster was made: every one
    /// is listed, each with its fix.
    #[error("this machine is not ready for the kind backend ({} problem{}):\n{}", .problems.len(), if .problems.len() == 1 { "" } else { "s" }, .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Preflight {
        /// Every problem found, in check order.
        problems: Vec<Unmet>,
    },

    /// The harness refused to act because the target is not a cluster it made
    /// (or the one named in `CHAOS_CLUSTER`). Nothing destructive was run.
    #[error("refusing to act on {what}: {why}")]
    Unsafe {
        /// What it would have acted on.
        what: String,
        /// Why that is refused.
        why: String,
    },

    /// A cluster of the name the run would create exists already: it is not
    /// this run's, so it is neither created over, exported nor deleted.
    #[error(
        "kind cluster {cluster:?} already exists and this run did not create it; the harness leaves it alone (reuse it with CHAOS_CLUSTER={cluster}, or delete it yourself){detail}"
    )]
    ClusterExists {
        /// The name.
        cluster: String,
        /// How it was found (`kind create cluster`'s error), if not by the
        /// check before it.
        detail: String,
    },

    /// A configuration file (kind config or version matrix) is invalid; every
    /// problem found is listed.
    #[error("{} is invalid:\n{}", .file.display(), .problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Every problem found.
        problems: Vec<String>,
    },

    /// A file could not be read or written.
    #[error("{action} {}: {source}", .path.display())]
    Io {
        /// What was being done (`reading`, `writing`, ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A downloaded manifest does not have its pinned sha256, or has no pin.
    #[error("{url}: {problem}")]
    Digest {
        /// Where it came from.
        url: String,
        /// What is wrong (mismatch with both digests, or no pin).
        problem: String,
    },

    /// A pinned script does not have the shape the harness relies on to
    /// run it (e.g. `install.sh`'s last step is not the expected lines).
    #[error("{url}: {problem}")]
    Script {
        /// Where it came from.
        url: String,
        /// What differs from the expectation.
        problem: String,
    },

    /// Pinned images could not be pulled (`cni-chaos pull-images`).
    #[error("{} pinned image(s) could not be pulled:\n{}", .failed.len(), .failed.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n"))]
    Pull {
        /// Each failed image with where it is pinned and the failed command.
        failed: Vec<String>,
    },

    /// A command's output could not be understood.
    #[error("cannot parse the output of `{command}`: {problem}\n--- output ---\n{output}")]
    Parse {
        /// The command line.
        command: String,
        /// What was wrong.
        problem: String,
        /// The output (trimmed to 4 KiB).
        output: String,
    },

    /// A step of provisioning failed; `logs` says where `kind export logs`
    /// wrote the cluster's logs, and the cluster was deleted.
    #[error("{step} failed for cluster {cluster}: {source}{}", .logs.as_ref().map(|l| format!("\n(cluster logs exported to {})", l.display())).unwrap_or_default())]
    Provision {
        /// The cluster.
        cluster: String,
        /// The step (`kind create cluster`, `install Kube-OVN`, ...).
        step: String,
        /// Where the logs went, if they could be exported.
        logs: Option<PathBuf>,
        /// The underlying error.
        #[source]
        source: Box<KindError>,
    },

    /// A wait ran out of time; `diagnostics` holds what the cluster looked
    /// like then.
    #[error("{what} did not happen within {timeout:?}\n--- diagnostics ---\n{diagnostics}")]
    NotReady {
        /// What was awaited.
        what: String,
        /// How long.
        timeout: std::time::Duration,
        /// `kubectl get pods -A -o wide` and similar, at the time.
        diagnostics: String,
    },

    /// Open vSwitch commands cannot run on a node (no `ovs-ovn` pod there, or
    /// several).
    #[error("cannot run Open vSwitch commands on {node}: {problem}")]
    NoOvs {
        /// The node.
        node: String,
        /// What is wrong.
        problem: String,
    },

    /// A scenario needs something the backend is not set up to provide.
    #[error("scenario {scenario} cannot run on kind: {problem}; {fix}")]
    Unsupported {
        /// The scenario.
        scenario: String,
        /// What it needs that is missing.
        problem: String,
        /// How to provide it.
        fix: String,
    },

    /// The run was interrupted (SIGINT/SIGTERM) during this step.
    #[error("interrupted during {step}")]
    Interrupted {
        /// The step.
        step: String,
    },

    /// A step of the VPC NAT gateway's setup failed: which, on what, and
    /// the command's output.
    #[error("VPC NAT gateway setup: {step} {object} failed: {detail}")]
    NatGateway {
        /// The step.
        step: String,
        /// The object it was about.
        object: String,
        /// The command's output (and what kubectl shows of the gateway).
        detail: String,
    },

    /// A command failed or timed out.
    #[error(transparent)]
    Exec(#[from] ExecError),

    /// The undo journal could not be written or read: a fault whose undo
    /// cannot be recorded is not injected.
    #[error("undo journal: {0}")]
    Journal(#[source] Box<crate::journal::JournalError>),
}

impl KindError {
    /// A [`KindError::Journal`].
    pub fn journal(e: crate::journal::JournalError) -> Self {
        KindError::Journal(Box::new(e))
    }

    /// A [`KindError::Parse`] for output `text` of `command`.
    pub fn parse(command: impl Into<String>, problem: impl Into<String>, text: &str) -> Self {
        let mut output = text.to_string();
        if output.len() > 4096 {
            let mut cut = 4096;
            while !output.is_char_boundary(cut) {
                cut -= 1;
            }
            output.truncate(cut);
            output.push_str("[...]");
        }
        KindError::Parse {
            command: command.into(),
            problem: problem.into(),
            output,
        }
    }
}

impl From<KindError> for BackendError {
    fn from(e: KindError) -> Self {
        match e {
            KindError::Exec(e) => BackendError::Exec(e),
            KindError::Unsafe { what, why } => BackendError::Unsafe { what, why },
            e @ KindError::ClusterExists { .. } => BackendError::Unsafe {
                what: "creating a kind cluster".into(),
                why: e.to_string(),
            },
            other => BackendError::other("kind backend", other.to_string()),
        }
    }
}
