//! The run record: everything the reporters render, built from run events.

use std::time::Duration;

use serde::Serialize;

use super::trend::Trend;
use crate::run::{RunEvent, RunInfo, ScenarioResult, Verdict};

/// What is known about one run so far; every report renders one of these.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    /// Facts about the run.
    pub info: RunInfo,
    /// Finished scenario iterations, in the order they finished.
    pub results: Vec<ScenarioResult>,
    /// When the run ended; none while it is still going.
    pub finished_at: Option<jiff::Timestamp>,
    /// Whether SIGINT or SIGTERM cut the run short.
    pub interrupted: bool,
    /// Problems tearing clusters down.
    pub teardown_errors: Vec<String>,
    /// This run against a baseline run, when there is one (set by the
    /// [`Reporter`](super::Reporter) before each rendering).
    pub trend: Option<Trend>,
}

impl RunRecord {
    /// An empty record for a run that has just started.
    pub fn new(info: RunInfo) -> Self {
        RunRecord {
            info,
            results: Vec::new(),
            finished_at: None,
            interrupted: false,
            teardown_errors: Vec::new(),
            trend: None,
        }
    }

    /// Builds a record from a stream of events; none when no
    /// [`RunEvent::RunStarted`] is among them (events before it are ignored).
    pub fn from_events(events: impl IntoIterator<Item = RunEvent>) -> Option<Self> {
        let mut record: Option<RunRecord> = None;
        for event in events {
            match (&mut record, event) {
                (None, RunEvent::RunStarted(info)) => record = Some(RunRecord::new(info)),
                (None, _) => {}
                (Some(r), event) => r.apply(event),
            }
        }
        record
    }

    /// Folds one event in. A second [`RunEvent::RunStarted`] starts the record
    /// over; a [`RunEvent::ScenarioFinished`] for an iteration already
    /// recorded replaces it.
    pub fn apply(&mut self, event: RunEvent) {
        match event {
            RunEvent::RunStarted(info) => *self = RunRecord::new(info),
            RunEvent::ScenarioStarted { .. }
            | RunEvent::PhaseStarted { .. }
            | RunEvent::CheckFinished { .. }
            | RunEvent::ProvisionStep { .. }
            | RunEvent::Provisioned { .. }
            | RunEvent::Waiting { .. } => {}
            RunEvent::ScenarioFinished(result) => {
                let result = *result;
                match self
                    .results
                    .iter_mut()
                    .find(|r| r.id == result.id && r.iteration == result.iteration)
                {
                    Some(slot) => *slot = result,
                    None => self.results.push(result),
                }
            }
            RunEvent::RunFinished {
                finished_at,
                interrupted,
                teardown_errors,
            } => {
                self.finished_at = Some(finished_at);
                self.interrupted = interrupted;
                self.teardown_errors = teardown_errors;
            }
        }
    }

    /// How many scenario iterations ended with each verdict.
    pub fn counts(&self) -> VerdictCounts {
        let mut counts = VerdictCounts::default();
        for r in &self.results {
            counts.add(r.verdict);
        }
        counts
    }

    /// Whether every trial passed, the run was not interrupted and every
    /// cluster was torn down.
    pub fn passed(&self) -> bool {
        !self.interrupted
            && self.teardown_errors.is_empty()
            && self.results.iter().all(|r| r.verdict.trial_passes())
    }

    /// Whether the results come from a model rather than a real cluster.
    pub fn simulated(&self) -> bool {
        self.info.backend.simulated
    }

    /// The banner every report shows for a simulated backend.
    pub fn banner(&self) -> Option<String> {
        self.simulated().then(|| {
            format!(
                "results from {} (simulated), not a real cluster",
                self.info.backend.name
            )
        })
    }

    /// The scenarios' own time, summed (virtual on the twin): what
    /// [`RunEstimate`](crate::plan::RunEstimate)'s scenario times estimate.
    pub fn scenarios_elapsed(&self) -> Duration {
        self.results.iter().map(|r| r.elapsed).sum()
    }

    /// The estimate beside the actual time, in one line: `estimated 52m
    /// (scenarios 30m), took 47m 10s (scenarios 28m 3s)`; none without an
    /// estimate.
    pub fn estimate_line(&self) -> Option<String> {
        let e = self.info.estimate.as_ref()?;
        let scenarios: Duration = e.clusters.iter().map(|c| c.scenarios_time).sum();
        let fmt = crate::util::duration::format;
        let took = match self.elapsed() {
            Some(d) => format!("took {}", fmt(d)),
            None => "still running".to_string(),
        };
        Some(format!(
            "estimated {} (scenarios {}), {took} (scenarios {})",
            fmt(e.total),
            fmt(scenarios),
            fmt(self.scenarios_elapsed())
        ))
    }

    /// Wall-clock time from start to finish, once the run has finished.
    pub fn elapsed(&self) -> Option<Duration> {
        let end = self.finished_at?;
        let d = end.duration_since(self.info.started_at);
        Duration::try_from(d).ok()
    }
}

/// The number of scenario iterations per verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct VerdictCounts {
    /// All of them.
    pub total: usize,
    /// [`Verdict::Pass`].
    pub pass: usize,
    /// [`Verdict::Fail`].
    pub fail: usize,
    /// [`Verdict::XFail`].
    pub xfail: usize,
    /// [`Verdict::XPass`].
    pub xpass: usize,
    /// [`Verdict::NotRun`].
    pub not_run: usize,
    /// [`Verdict::Unmet`].
    pub precondition_unmet: usize,
    /// [`Verdict::Error`].
    pub error: usize,
    /// [`Verdict::Interrupted`].
    pub interrupted: usize,
    /// [`Verdict::Planned`].
    pub planned: usize,
}

impl VerdictCounts {
    /// Counts one more iteration with verdict `v`.
    pub fn add(&mut self, v: Verdict) {
        self.total += 1;
        *self.slot(v) += 1;
    }

    /// The count for verdict `v`.
    pub fn get(&self, v: Verdict) -> usize {
        let mut copy = *self;
        *copy.slot(v)
    }

    /// How many trials failed (every verdict but pass, xfail and planned).
    pub fn failed_trials(&self) -> usize {
        self.total - self.pass - self.xfail - self.planned
    }

    fn slot(&mut self, v: Verdict) -> &mut usize {
        match v {
            Verdict::Pass => &mut self.pass,
            Verdict::Fail => &mut self.fail,
            Verdict::XFail => &mut self.xfail,
            Verdict::XPass => &mut self.xpass,
            Verdict::NotRun => &mut self.not_run,
            Verdict::Unmet => &mut self.precondition_unmet,
            Verdict::Error => &mut self.error,
            Verdict::Interrupted => &mut self.interrupted,
            Verdict::Planned => &mut self.planned,
        }
    }
}

/// A verdict's stable lowercase key, as used in JUnit properties and the
/// JSON summary: `pass`, `fail`, `xfail`, `xpass`, `not-run`,
/// `precondition-unmet`, `error`, `interrupted`, `planned`.
pub fn verdict_key(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::XFail => "xfail",
        Verdict::XPass => "xpass",
        Verdict::NotRun => "not-run",
        Verdict::Unmet => "precondition-unmet",
        Verdict::Error => "error",
        Verdict::Interrupted => "interrupted",
        Verdict::Planned => "planned",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn events_build_the_record() {
        let info = fixtures::info(false);
        let pass = fixtures::pass();
        let mut fail = fixtures::slo_fail();
        let events = vec![
            RunEvent::ScenarioFinished(Box::new(fail.clone())),
            RunEvent::RunStarted(info.clone()),
            RunEvent::ScenarioStarted {
                id: pass.id.clone(),
                iteration: 1,
                repeat: 1,
            },
            RunEvent::ScenarioFinished(Box::new(pass.clone())),
            RunEvent::ScenarioFinished(Box::new(fail.clone())),
        ];
        let mut record = RunRecord::from_events(events).unwrap();
        assert_eq!(record.info, info);
        assert_eq!(
            record.results.len(),
            2,
            "the event before RunStarted is ignored"
        );
        assert_eq!(record.finished_at, None);
        assert_eq!(record.elapsed(), None);

        fail.verdict = Verdict::Error;
        record.apply(RunEvent::ScenarioFinished(Box::new(fail)));
        assert_eq!(record.results.len(), 2, "same iteration replaces");
        assert_eq!(record.results[1].verdict, Verdict::Error);

        let end = info.started_at + jiff::SignedDuration::from_secs(90);
        record.apply(RunEvent::RunFinished {
            finished_at: end,
            interrupted: true,
            teardown_errors: vec!["kind delete failed".into()],
        });
        assert!(record.interrupted);
        assert_eq!(record.elapsed(), Some(Duration::from_secs(90)));
        assert!(!record.passed());
        assert_eq!(record.banner(), None);
    }

    #[test]
    fn counts_by_verdict() {
        let record = fixtures::record(true);
        let c = record.counts();
        assert_eq!(c.total, record.results.len());
        assert_eq!(c.get(Verdict::Pass), c.pass);
        assert_eq!(c.pass, 3, "pass plus two repeats");
        assert_eq!(
            (c.fail, c.xfail, c.xpass),
            (2, 1, 1),
            "slo fail + no effect"
        );
        assert_eq!((c.not_run, c.error, c.interrupted), (1, 1, 1));
        assert_eq!(c.failed_trials(), c.total - 4);
        assert_eq!(
            record.banner().as_deref(),
            Some("results from twin (simulated), not a real cluster")
        );
        let keys: Vec<&str> = Verdict::ALL.into_iter().map(verdict_key).collect();
        let json = serde_json::to_value(c).unwrap();
        for k in keys {
            assert!(json.get(k).is_some(), "{k} in {json}");
        }
    }
}
