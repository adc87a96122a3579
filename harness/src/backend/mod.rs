//! Backends: what a scenario runs against (kind, the twin, or a scripted test
//! backend), behind one trait.

mod error;
mod node;
pub mod scripted;
mod select;
mod traits;

pub use error::BackendError;
pub use node::{NodeInfo, select_node};
pub use select::{BackendChoice, select};
pub use traits::{Backend, BackendInfo, Cluster, Gate};
