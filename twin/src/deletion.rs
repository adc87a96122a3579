//! Who removes a gracefully deleted pod "later": a pluggable
//! [`DeletionPolicy`]. The default, [`FinalizeAfterGrace`], plays a kubelet
//! that always stops containers within the grace period; the cluster model
//! replaces it with one that follows its node's state.

use std::fmt;
use std::time::Duration;

use crate::store::ObjectKey;
use crate::twin::Twin;

/// A pod that was given a grace period by a delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingDeletion {
    /// Which pod.
    pub key: ObjectKey,
    /// Its uid (so a recreated pod of the same name is left alone).
    pub uid: String,
    /// The grace period granted, in virtual time.
    pub grace: Duration,
}

/// Decides when a terminating pod is finally removed.
pub trait DeletionPolicy: Send + Sync + fmt::Debug {
    /// Called (with no lock held) after a graceful delete was committed.
    fn graceful_delete(&self, twin: &Twin, pending: PendingDeletion);
}

/// Removes the pod once its grace period has passed in virtual time.
#[derive(Clone, Copy, Debug, Default)]
pub struct FinalizeAfterGrace;

impl DeletionPolicy for FinalizeAfterGrace {
    fn graceful_delete(&self, twin: &Twin, pending: PendingDeletion) {
        let twin = twin.clone();
        tokio::spawn(async move {
            twin.clock().sleep(pending.grace).await;
            twin.finalize(&pending.key, Some(&pending.uid));
        });
    }
}

/// Never removes terminating pods: they stay `Terminating` until something
/// calls [`Twin::finalize`].
#[derive(Clone, Copy, Debug, Default)]
pub struct KeepTerminating;

impl DeletionPolicy for KeepTerminating {
    fn graceful_delete(&self, _twin: &Twin, _pending: PendingDeletion) {}
}
