//! Small helpers shared by several modules.

pub mod atomic;
pub mod duration;
pub mod serde_millis;
pub mod tar;
