//! The object store: every object the twin serves, one resourceVersion
//! counter, a bounded change history for watch replay and consistent list
//! pages, and the ground-truth log.

mod change;
mod core;
mod ids;
mod validate;

pub use change::{Change, ChangeType, ObjectKey, TruthEntry};
pub use core::{DEFAULT_HISTORY, DeleteOutcome, Store, Write};
pub use ids::IdGen;
pub use validate::unknown_fields;
