//! Label and field selectors in their string forms, parsed and matched the
//! way the API server does.

mod field;
mod label;

pub use field::{FieldRequirement, FieldSelector};
pub use label::{LabelSelector, Requirement};
