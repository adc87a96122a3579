//! Reporters: turn a run's events into JUnit XML, JSON, a Markdown summary
//! (for `$GITHUB_STEP_SUMMARY`) and a self-contained HTML timeline, written
//! atomically under `<root>/<run-id>/` with `<root>/latest` pointing at the
//! newest run, compared with a baseline run for trends; plus GitHub
//! annotations, terminal progress, and the console and fan-out sinks.

mod error;
#[cfg(test)]
mod fixtures;
mod github;
mod html;
mod json;
mod junit;
mod markdown;
mod progress;
mod record;
mod trend;
mod writer;

pub use error::ReportError;
pub use github::{
    ACTIONS_VAR, Annotation, GithubError, Level, SUMMARY_VAR, annotations, escape_data,
    escape_property, publish, repo_path,
};
pub use html::{esc, html, state_class};
pub use json::{SCHEMA_VERSION, json};
pub use junit::{REPORT_NAME, junit};
pub use markdown::markdown;
pub use progress::Progress;
pub use record::{RunRecord, VerdictCounts, verdict_key};
pub use trend::{
    BASELINE_VAR, Baseline, BaselineState, BaselineValue, DEFAULT_FLOOR, DEFAULT_RATIO, Direction,
    SloTrend, THRESHOLD_VAR, Threshold, Trend, TrendError, TrendOptions, previous_run,
};
pub use writer::{
    Console, Fanout, HTML_FILE, JSON_FILE, JUNIT_FILE, LATEST_LINK, MARKDOWN_FILE, Reporter,
    write_reports,
};
