//! Faults: what the harness breaks, with typed parameters.
//!
//! Injectors live with the backends that run them; this module holds the
//! backend-independent description and the evidence a fault must produce.

mod evidence;
mod spec;

pub use evidence::{Evidence, MultusInit, NodeDisk, Precondition, Preconditions};
pub use spec::{
    CniConfig, CniConfigAction, CniFile, Fault, FaultKind, LeftoverMultusConfig, MULTUS_DAEMON,
    MULTUS_SELECTOR, NetworkPartition, NodeReboot, NodeRole, NodeTarget, OvsKill, OvsProcess,
    OvsSignal, PodDelete, RebootMode, StaleNetns,
};
