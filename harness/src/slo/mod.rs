//! Service level objectives a recovery is judged against.

mod spec;
mod verdict;

pub use spec::{CrashLoopContainers, FlowKind, NodeScope, PodScope, ProbeKind, Slo, SloKind};
pub use verdict::{Culprit, CulpritKind, Measured, SloStatus, SloVerdict};
