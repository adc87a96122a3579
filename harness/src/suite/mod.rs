//! Suite files: types, loading and validation.

mod error;
mod load;
mod model;
mod read;
mod version;
pub mod yaml;

pub use cni_chaos_twin::selector::{LabelSelector, Requirement};
pub use error::{Problem, SuiteError};
pub use load::{Known, check_references, discover, load, load_file, parse_str};
pub use model::{
    ClusterProfile, Condition, CulpritMatch, Expect, ExpectedCulprit, Heal, PreconditionSet,
    Remediation, RemediationStep, Scenario, ScenarioId, SloExpect, Suite, SuiteLocs, Unmet,
};
pub use version::{Constraint, Version, VersionCondition};
