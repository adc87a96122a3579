//! Faults: what the harness breaks, with typed parameters.
//!
//! Injectors live with the backends that run them; this module holds the
//! backend-independent description and the evidence a fault must produce.

mod evidence;
pub mod multus;
mod spec;

pub use evidence::{Evidence, MultusInit, NodeDisk, Precondition, Preconditions};
pub use spec::{
    CniConfig, CniConfigAction, CniFile, DEFAULT_HOLD_FOR, Fault, FaultKind, LeftoverMultusConfig,
    MAX_HOLD_FOR, MIN_HOLD_FOR, MULTUS_DAEMON, MULTUS_INIT_CONTAINER, MULTUS_SELECTOR,
    MULTUS_SHIM_PROCESS, NetworkPartition, NodeReboot, NodeRole, NodeTarget, OvsKill, OvsProcess,
    OvsSignal, PodDelete, RebootMode, StaleNetns,
};
