//! Backends: what a scenario runs against (kind, the twin, or a scripted test
//! backend), behind one trait.

mod error;
pub mod kind;
mod node;
pub mod scripted;
mod select;
mod traits;
pub mod twin;

pub use error::BackendError;
pub use node::{NodeInfo, select_node};
pub use select::{BackendChoice, detect, known_profiles, select, select_with, workspace_root};
pub use traits::{Backend, BackendInfo, Cluster, CommandOutput, Gate, Observation, PodExec};
