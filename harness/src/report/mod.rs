//! Reporters: turn a run's events into JUnit XML, JSON and a Markdown summary
//! (for `$GITHUB_STEP_SUMMARY`), written atomically under
//! `<root>/<run-id>/` with `<root>/latest` pointing at the newest run; plus the
//! console and fan-out sinks.

mod error;
#[cfg(test)]
mod fixtures;
mod json;
mod junit;
mod markdown;
mod record;
mod writer;

pub use error::ReportError;
pub use json::{SCHEMA_VERSION, json};
pub use junit::{REPORT_NAME, junit};
pub use markdown::markdown;
pub use record::{RunRecord, VerdictCounts, verdict_key};
pub use writer::{
    Console, Fanout, JSON_FILE, JUNIT_FILE, LATEST_LINK, MARKDOWN_FILE, Reporter, write_reports,
};
