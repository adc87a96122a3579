//! Planning a run before it starts: the expected wall time of each cluster
//! (`CHAOS_DRY_RUN=1`, every report), the nightly's sharded matrix
//! (`cni-chaos matrix`), and the trend baseline of a shard (`cni-chaos
//! baseline`).

mod baseline;
mod error;
mod estimate;
mod matrix;

pub use baseline::{BaselineFound, BaselineQuery, find_baseline};
pub use error::PlanError;
pub use estimate::{
    ClusterEstimate, Constants, ESTIMATES_FILE, Estimates, RunEstimate, ScenarioEstimate,
    estimate_run, plan_of,
};
pub use matrix::{Cell, Matrix, SHARD_LIMIT, Shard, matrix};
