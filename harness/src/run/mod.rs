//! Running scenarios: the engine's phases, the events they emit, and the
//! libtest-mimic runner behind `cargo test --test chaos`.

mod config;
mod engine;
mod event;
mod outcome;
mod pool;
mod runner;

pub use config::{ConfigError, Deadline, FLAGS, RunConfig, RunDefaults, flag};
pub use engine::Engine;
pub use event::{EventSink, LateSink, Phase, RunEvent, RunInfo};
pub use outcome::{
    Check, CheckKind, CheckStatus, LateRelapse, Outcome, ScenarioResult, SymptomMatch, Verdict,
};
pub use pool::ClusterPool;
pub use runner::{load_suites, main, run_with, select_scenarios};
