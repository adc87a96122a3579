//! Event sinks: the file reporter, the console, and a fan-out.

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::error::ReportError;
use super::html::html;
use super::json::json;
use super::junit::junit;
use super::markdown::markdown;
use super::record::RunRecord;
use super::trend::{BaselineState, TrendOptions};
use crate::run::{EventSink, RunEvent, Verdict};
use crate::suite::Expect;
use crate::util::{atomic, duration};

/// The JUnit file's name inside a run's directory.
pub const JUNIT_FILE: &str = "junit.xml";
/// The JSON file's name inside a run's directory.
pub const JSON_FILE: &str = "results.json";
/// The Markdown file's name inside a run's directory.
pub const MARKDOWN_FILE: &str = "summary.md";
/// The self-contained HTML timeline's name inside a run's directory.
pub const HTML_FILE: &str = "report.html";
/// The link in the report root that points at the newest run's directory.
pub const LATEST_LINK: &str = "latest";

/// Renders `record` and writes [`JUNIT_FILE`], [`JSON_FILE`],
/// [`MARKDOWN_FILE`] and [`HTML_FILE`] atomically into `<root>/<run-id>/`, then points
/// `<root>/latest` at it. Returns the run's directory, or the first problem
/// (every file is still attempted).
pub fn write_reports(root: &Path, record: &RunRecord) -> Result<PathBuf, ReportError> {
    let (dir, mut errors) = write_all(root, record);
    match errors.is_empty() {
        true => Ok(dir),
        false => Err(errors.swap_remove(0)),
    }
}

/// Writes everything it can; returns the run's directory and every problem.
fn write_all(root: &Path, record: &RunRecord) -> (PathBuf, Vec<ReportError>) {
    let run_id = record.info.run_id.as_str();
    let dir = root.join(run_id);
    if !is_plain_name(run_id) {
        return (
            dir,
            vec![ReportError::RunId {
                run_id: run_id.to_string(),
            }],
        );
    }
    let mut errors = Vec::new();
    let junit = junit(record).to_string().map_err(|e| ReportError::Junit {
        run_id: run_id.to_string(),
        source: Arc::new(e),
    });
    let json = serde_json::to_string_pretty(&json(record))
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| ReportError::Json {
            run_id: run_id.to_string(),
            source: Arc::new(e),
        });
    let files = [
        (JUNIT_FILE, junit),
        (JSON_FILE, json),
        (MARKDOWN_FILE, Ok(markdown(record))),
        (HTML_FILE, Ok(html(record))),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        let written = text.and_then(|text| {
            atomic::write(&path, text.as_bytes()).map_err(|e| ReportError::Write {
                path: path.clone(),
                source: Arc::new(e),
            })
        });
        if let Err(e) = written {
            errors.push(e);
        }
    }
    if let Err(e) = point_latest(root, run_id) {
        errors.push(e);
    }
    (dir, errors)
}

/// Whether `name` is one normal path component (no separators, not `..`).
fn is_plain_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(parts.next(), Some(Component::Normal(_))) && parts.next().is_none()
}

/// Points `<root>/latest` at `run_id`: a relative symlink made under a
/// temporary name, then renamed over the old one.
#[cfg(unix)]
fn point_latest(root: &Path, run_id: &str) -> Result<(), ReportError> {
    let link = root.join(LATEST_LINK);
    let tmp = root.join(format!("{LATEST_LINK}.tmp-{}", std::process::id()));
    let error = |source: std::io::Error| ReportError::Link {
        link: link.clone(),
        target: PathBuf::from(run_id),
        source: Arc::new(source),
    };
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(error(e)),
    }
    std::os::unix::fs::symlink(run_id, &tmp).map_err(error)?;
    std::fs::rename(&tmp, &link).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        error(e)
    })
}

/// Without symlinks, `<root>/latest` is a file holding the run id.
#[cfg(not(unix))]
fn point_latest(root: &Path, run_id: &str) -> Result<(), ReportError> {
    let link = root.join(LATEST_LINK);
    atomic::write(&link, run_id.as_bytes()).map_err(|e| ReportError::Link {
        link,
        target: PathBuf::from(run_id),
        source: Arc::new(e),
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes the JUnit, JSON, Markdown and HTML reports of a run under a root
/// directory as events arrive: at the start (so an interrupted run has
/// parseable files), after every finished scenario, and at the end.
///
/// With [`Reporter::with_trend`], the baseline is resolved when the run
/// starts and every rendering carries the run's [`Trend`](super::Trend)
/// against it.
///
/// Problems are logged and kept (see [`Reporter::write_errors`]); the sink
/// never panics.
#[derive(Debug)]
pub struct Reporter {
    root: PathBuf,
    record: Mutex<Option<RunRecord>>,
    errors: Mutex<Vec<ReportError>>,
    trend: Option<TrendOptions>,
    baseline: Mutex<Option<BaselineState>>,
}

impl Reporter {
    /// A reporter writing under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Reporter {
            root: root.into(),
            record: Mutex::new(None),
            errors: Mutex::new(Vec::new()),
            trend: None,
            baseline: Mutex::new(None),
        }
    }

    /// Compares every rendering with a baseline chosen by `options`.
    #[must_use]
    pub fn with_trend(mut self, options: TrendOptions) -> Self {
        self.trend = Some(options);
        self
    }

    /// The report root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/<run-id>`, once the run has started.
    pub fn run_dir(&self) -> Option<PathBuf> {
        lock(&self.record)
            .as_ref()
            .map(|r| self.root.join(&r.info.run_id))
    }

    /// A copy of the record so far; none before the run started.
    pub fn record(&self) -> Option<RunRecord> {
        lock(&self.record).clone()
    }

    /// Every problem writing the reports so far.
    pub fn write_errors(&self) -> Vec<ReportError> {
        lock(&self.errors).clone()
    }

    fn write(&self, record: &RunRecord) {
        let (_, errors) = write_all(&self.root, record);
        if errors.is_empty() {
            return;
        }
        for e in &errors {
            tracing::error!(error = %e, source = ?std::error::Error::source(e), "cannot write the run's reports");
        }
        lock(&self.errors).extend(errors);
    }
}

impl EventSink for Reporter {
    fn emit(&self, event: RunEvent) {
        // The record stays locked while writing so that files are always
        // replaced by newer renderings, never older ones.
        let mut slot = lock(&self.record);
        let write = matches!(
            event,
            RunEvent::RunStarted(_) | RunEvent::ScenarioFinished(_) | RunEvent::RunFinished { .. }
        );
        if let (RunEvent::RunStarted(info), Some(options)) = (&event, &self.trend) {
            *lock(&self.baseline) = BaselineState::resolve(&self.root, &info.run_id, options);
        }
        match (&mut *slot, event) {
            (empty @ None, RunEvent::RunStarted(info)) => *empty = Some(RunRecord::new(info)),
            (None, event) => {
                tracing::warn!(?event, "report event before the run started; ignored");
                return;
            }
            (Some(record), event) => record.apply(event),
        }
        if let (true, Some(record)) = (write, slot.as_mut()) {
            record.trend = lock(&self.baseline).as_ref().map(|b| b.trend(record));
            self.write(record);
        }
    }
}

/// Prints one line per finished scenario to stderr:
/// `[verdict] suite::scenario (elapsed) — message`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Console;

impl Console {
    /// The line printed for `event`, if any.
    pub fn line(event: &RunEvent) -> Option<String> {
        let RunEvent::ScenarioFinished(r) = event else {
            return None;
        };
        let message = match (r.verdict, &r.expect) {
            (Verdict::XFail, Expect::Fail { reason, .. }) => {
                format!("expected failure ({reason}): {}", r.outcome)
            }
            (Verdict::XPass, Expect::Fail { reason, .. }) => format!(
                "expected to fail ({reason}) but every SLO held; the bug may be fixed upstream: update the suite"
            ),
            _ => r.outcome.to_string(),
        };
        Some(format!(
            "[{}] {} ({}) — {}",
            r.verdict,
            r.display_name(),
            duration::format(r.elapsed),
            message.replace(['\r', '\n'], " ")
        ))
    }
}

impl EventSink for Console {
    fn emit(&self, event: RunEvent) {
        if let Some(line) = Console::line(&event) {
            // A closed stderr must not take the run down.
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{line}");
        }
    }
}

/// Sends every event to each of its sinks, in order.
#[derive(Clone, Default)]
pub struct Fanout(pub Vec<Arc<dyn EventSink>>);

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Fanout").field(&self.0.len()).finish()
    }
}

impl EventSink for Fanout {
    fn emit(&self, event: RunEvent) {
        if let Some((last, rest)) = self.0.split_last() {
            for sink in rest {
                sink.emit(event.clone());
            }
            last.emit(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_at_start_after_each_scenario_and_at_the_end() {
        let root = tempfile::tempdir().unwrap();
        let reporter = Reporter::new(root.path().join("reports"));
        assert_eq!(reporter.run_dir(), None);
        assert!(reporter.record().is_none());

        let info = fixtures::info(true);
        reporter.emit(RunEvent::RunStarted(info.clone()));
        let dir = reporter.run_dir().unwrap();
        assert_eq!(dir, root.path().join("reports").join(&info.run_id));
        let latest = root.path().join("reports").join(LATEST_LINK);
        let xml = std::fs::read_to_string(latest.join(JUNIT_FILE)).unwrap();
        let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        assert!(report.test_suites.is_empty());

        reporter.emit(RunEvent::ScenarioFinished(Box::new(fixtures::slo_fail())));
        let xml = std::fs::read_to_string(latest.join(JUNIT_FILE)).unwrap();
        let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(report.test_suites.len(), 1);
        #[cfg(unix)]
        assert_eq!(
            std::fs::read_link(&latest).unwrap(),
            PathBuf::from(&info.run_id)
        );
        assert_eq!(
            names(&dir),
            vec![JUNIT_FILE, HTML_FILE, JSON_FILE, MARKDOWN_FILE],
            "no temp files left"
        );
        assert_eq!(
            names(&root.path().join("reports")),
            vec![info.run_id.clone(), LATEST_LINK.to_string()]
        );

        reporter.emit(RunEvent::RunFinished {
            finished_at: "2024-06-01T12:30:00Z".parse().unwrap(),
            interrupted: true,
            teardown_errors: vec![],
        });
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(JSON_FILE)).unwrap()).unwrap();
        assert_eq!(v["summary"]["interrupted"], true);
        assert!(
            std::fs::read_to_string(dir.join(MARKDOWN_FILE))
                .unwrap()
                .contains("❌ FAIL")
        );
        assert!(reporter.write_errors().is_empty());
        assert_eq!(reporter.record().unwrap().results.len(), 1);
    }

    #[test]
    fn a_second_run_moves_latest() {
        let root = tempfile::tempdir().unwrap();
        let mut info = fixtures::info(false);
        write_reports(root.path(), &RunRecord::new(info.clone())).unwrap();
        info.run_id = "second".into();
        let dir = write_reports(root.path(), &RunRecord::new(info)).unwrap();
        assert_eq!(dir, root.path().join("second"));
        let json = std::fs::read_to_string(root.path().join(LATEST_LINK).join(JSON_FILE)).unwrap();
        assert!(json.contains("\"second\""));
        assert_eq!(
            names(root.path()),
            vec!["20240601-120000-abcd", "latest", "second"]
        );
    }

    #[test]
    fn write_errors_are_kept_not_raised() {
        let root = tempfile::tempdir().unwrap();
        let blocker = root.path().join("file");
        std::fs::write(&blocker, "not a directory").unwrap();
        let reporter = Reporter::new(&blocker);
        reporter.emit(RunEvent::ScenarioFinished(Box::new(fixtures::pass())));
        assert!(
            reporter.write_errors().is_empty(),
            "nothing written before the start"
        );
        reporter.emit(RunEvent::RunStarted(fixtures::info(false)));
        let errors = reporter.write_errors();
        assert!(!errors.is_empty());
        assert!(
            errors
                .iter()
                .any(|e| matches!(e, ReportError::Write { .. })),
            "{errors:?}"
        );

        let mut info = fixtures::info(false);
        info.run_id = "../escape".into();
        let err = write_reports(root.path(), &RunRecord::new(info)).unwrap_err();
        assert!(matches!(err, ReportError::RunId { .. }), "{err}");
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);

    impl EventSink for Recorder {
        fn emit(&self, event: RunEvent) {
            if let Some(line) = Console::line(&event) {
                lock(&self.0).push(line);
            }
        }
    }

    #[test]
    fn console_lines_and_fanout() {
        let lines = Arc::new(Recorder::default());
        let root = tempfile::tempdir().unwrap();
        let reporter = Arc::new(Reporter::new(root.path()));
        let fanout = Fanout(vec![Arc::new(Console), lines.clone(), reporter.clone()]);
        fanout.emit(RunEvent::RunStarted(fixtures::info(true)));
        fanout.emit(RunEvent::ScenarioFinished(Box::new(fixtures::xfail())));
        fanout.emit(RunEvent::ScenarioFinished(Box::new(fixtures::pass())));
        let lines = lock(&lines.0).clone();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with(
                "[xfail] ovs::multus-leftover (1m 15s) — expected failure (multus-cni #1221"
            ),
            "{}",
            lines[0]
        );
        assert_eq!(lines[1], "[pass] ovs::ovs-kill (1m 15s) — passed");
        assert_eq!(reporter.record().unwrap().results.len(), 2);
    }
}
