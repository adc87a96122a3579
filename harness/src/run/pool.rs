//! Clusters shared by scenarios: one per cluster profile, provisioned on first
//! use, lent to one scenario at a time, torn down at the end of the run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::OwnedMutexGuard;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, BackendError, Cluster};
use crate::suite::ClusterProfile;

/// How long tearing down one cluster may take.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Default)]
struct Slot {
    cluster: Option<Arc<dyn Cluster>>,
    /// A provisioning failure is remembered so later scenarios report it
    /// instead of trying again for every scenario.
    failed: Option<String>,
}

/// The run's clusters.
pub struct ClusterPool {
    backend: Arc<dyn Backend>,
    slots: Mutex<BTreeMap<ClusterProfile, Arc<tokio::sync::Mutex<Slot>>>>,
    keep: bool,
    /// Errors from tearing down retired clusters, reported with the final
    /// teardown's.
    retired_errors: Mutex<Vec<String>>,
}

/// A cluster lent to one scenario; others sharing it wait until this is dropped.
pub struct Lease {
    guard: OwnedMutexGuard<Slot>,
    /// The cluster.
    pub cluster: Arc<dyn Cluster>,
}

impl ClusterPool {
    /// A pool over `backend`; `keep` retains clusters after the run.
    pub fn new(backend: Arc<dyn Backend>, keep: bool) -> Self {
        ClusterPool {
            backend,
            slots: Mutex::default(),
            keep,
            retired_errors: Mutex::default(),
        }
    }

    fn slot(&self, profile: &ClusterProfile) -> Arc<tokio::sync::Mutex<Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(profile.clone())
            .or_default()
            .clone()
    }

    /// Waits for the profile's cluster to be free, provisioning it first if needed.
    pub async fn acquire(
        &self,
        profile: &ClusterProfile,
        cancel: &CancellationToken,
    ) -> Result<Lease, BackendError> {
        let slot = self.slot(profile);
        let mut guard = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(BackendError::other("waiting for a cluster", "interrupted")),
            g = slot.lock_owned() => g,
        };
        if let Some(why) = &guard.failed {
            return Err(BackendError::other(
                format!("cluster {profile}"),
                format!("provisioning failed earlier in this run: {why}"),
            ));
        }
        if guard.cluster.is_none() {
            // Not raced against `cancel`: dropping a half-done provision could
            // leak a cluster. The backend honours `cancel` itself and registers
            // what it creates before returning.
            let provisioned = self.backend.provision(profile, cancel).await;
            match provisioned {
                Ok(c) => {
                    tracing::info!("cluster {} ready for {profile}", c.name());
                    guard.cluster = Some(c);
                }
                Err(e) => {
                    guard.failed = Some(e.to_string());
                    return Err(e);
                }
            }
        }
        let cluster = guard
            .cluster
            .clone()
            .ok_or_else(|| BackendError::other("cluster pool", "no cluster after provisioning"))?;
        Ok(Lease { guard, cluster })
    }

    /// Takes a cluster that a scenario left unhealthy out of use: it is torn
    /// down now (kept, with how to delete it, under `CHAOS_KEEP_CLUSTER=1`)
    /// and the next scenario on its profile gets a new one.
    pub async fn retire(&self, lease: Lease) {
        let Lease { mut guard, cluster } = lease;
        guard.cluster = None;
        if self.keep {
            eprintln!(
                "CHAOS_KEEP_CLUSTER=1: {}",
                keep_message(&cluster, "unhealthy")
            );
            return;
        }
        tracing::info!(
            "replacing cluster {}: a scenario left it unhealthy",
            cluster.name()
        );
        if let Some(e) = teardown(&cluster).await {
            self.retired_errors
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(e);
        }
    }

    /// Tears down every cluster (unless kept); returns the errors.
    pub async fn teardown_all(&self) -> Vec<String> {
        let slots: Vec<_> = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let mut errors = Vec::new();
        for slot in slots {
            let mut guard = slot.lock().await;
            let Some(cluster) = guard.cluster.take() else {
                continue;
            };
            if self.keep {
                eprintln!("CHAOS_KEEP_CLUSTER=1: {}", keep_message(&cluster, "kept"));
                continue;
            }
            errors.extend(teardown(&cluster).await);
        }
        errors.splice(
            0..0,
            std::mem::take(
                &mut *self
                    .retired_errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()),
            ),
        );
        errors
    }
}

/// Tears one cluster down within [`TEARDOWN_TIMEOUT`]; the error, if any.
async fn teardown(cluster: &Arc<dyn Cluster>) -> Option<String> {
    match tokio::time::timeout(TEARDOWN_TIMEOUT, cluster.teardown()).await {
        Ok(Ok(())) => {
            tracing::info!("deleted cluster {}", cluster.name());
            None
        }
        Ok(Err(e)) => Some(format!("tearing down {}: {e}", cluster.name())),
        Err(_) => Some(format!("tearing down {} timed out", cluster.name())),
    }
}

/// What to say about a cluster kept under `CHAOS_KEEP_CLUSTER=1`.
fn keep_message(cluster: &Arc<dyn Cluster>, what: &str) -> String {
    match cluster.delete_hint() {
        Some(hint) => format!(
            "{what} cluster {}; delete it with `{hint}` when done",
            cluster.name()
        ),
        None => format!(
            "{what} cluster {} lives only in this process and is gone when it exits",
            cluster.name()
        ),
    }
}
