//! Clusters shared by scenarios: one per cluster profile, provisioned on first
//! use, lent to one scenario at a time, torn down at the end of the run.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;
use tokio_util::sync::CancellationToken;

use super::event::{EventSink, RunEvent};
use crate::backend::{Backend, BackendError, Cluster};
use crate::suite::{ClusterProfile, Scenario};

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
    /// Where provisioning progress goes.
    events: Option<Arc<dyn EventSink>>,
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
            events: None,
        }
    }

    /// Reports provisioning to `events` (and hands them to the backend for
    /// its own steps).
    #[must_use]
    pub fn with_events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.backend.attach_events(events.clone());
        self.events = Some(events);
        self
    }

    fn emit(&self, event: RunEvent) {
        if let Some(e) = &self.events {
            e.emit(event);
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

    /// Whether the backend can run `scenario` (before any cluster is had).
    pub fn check_scenario(
        &self,
        profile: &ClusterProfile,
        scenario: &Scenario,
    ) -> Result<(), BackendError> {
        self.backend.check_scenario(profile, scenario)
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
            self.emit(RunEvent::ProvisionStep {
                profile: profile.to_string(),
                step: "provisioning".into(),
            });
            let started = tokio::time::Instant::now();
            let provisioned = self.backend.provision(profile, cancel).await;
            self.emit(RunEvent::Provisioned {
                profile: profile.to_string(),
                cluster: provisioned.as_ref().ok().map(|c| c.name().to_string()),
                error: provisioned.as_ref().err().map(ToString::to_string),
                elapsed: started.elapsed(),
            });
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
        tracing::info!(
            "replacing cluster {}: a scenario left it unhealthy",
            cluster.name()
        );
        let failed = if self.keep {
            keep(&cluster, "left unhealthy by a scenario, replaced, and").await
        } else {
            teardown(&cluster).await
        };
        if let Some(e) = failed {
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
                if let Some(e) = keep(&cluster, "kept").await {
                    errors.push(e);
                }
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

/// Tears one cluster down within its own budget; the error, if any.
async fn teardown(cluster: &Arc<dyn Cluster>) -> Option<String> {
    // The cluster's own budget: a kind teardown bounds its undos, its log
    // export and its delete, and needs their sum.
    match tokio::time::timeout(cluster.teardown_budget(), cluster.teardown()).await {
        Ok(Ok(())) => {
            tracing::info!("deleted cluster {}", cluster.name());
            None
        }
        Ok(Err(e)) => Some(format!("tearing down {}: {e}", cluster.name())),
        Err(_) => Some(format!("tearing down {} timed out", cluster.name())),
    }
}

/// Keeps one cluster (`CHAOS_KEEP_CLUSTER=1`): its faults' undos still run,
/// nothing is deleted, and how to reach and delete it is printed. The
/// error, if any.
async fn keep(cluster: &Arc<dyn Cluster>, what: &str) -> Option<String> {
    // Kept, but never left half-faulted: the pending undos (reconnect,
    // SIGCONT, restore) still run.
    match tokio::time::timeout(cluster.teardown_budget(), cluster.keep()).await {
        Ok(Ok(how)) => {
            eprintln!("CHAOS_KEEP_CLUSTER=1: {what} {how}");
            None
        }
        Ok(Err(e)) => Some(format!("keeping {}: {e}", cluster.name())),
        Err(_) => Some(format!("keeping {} timed out", cluster.name())),
    }
}
