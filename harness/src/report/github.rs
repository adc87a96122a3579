//! GitHub Actions: workflow-command annotations (`::error`, `::warning`) and
//! the job summary (`$GITHUB_STEP_SUMMARY`), in the formats GitHub documents
//! (<https://docs.github.com/actions/reference/workflow-commands-for-github-actions>).
//!
//! Escaping follows `@actions/core`: in the message `%`, `\r` and `\n` become
//! `%25`, `%0D` and `%0A`; in properties (`title`, `file`) also `:` and `,`
//! become `%3A` and `%2C`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::markdown::markdown;
use super::record::RunRecord;
use crate::run::{CheckKind, CheckStatus, ScenarioResult, Verdict};

/// The variable GitHub Actions sets to `true` in every step.
pub const ACTIONS_VAR: &str = "GITHUB_ACTIONS";
/// The variable naming the step's summary file.
pub const SUMMARY_VAR: &str = "GITHUB_STEP_SUMMARY";

/// Why the GitHub output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    /// The annotations could not be printed.
    #[error("printing GitHub annotations")]
    Print {
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The step summary could not be appended to.
    #[error("appending the summary to {path} (${SUMMARY_VAR})")]
    Summary {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Escapes a workflow command's message.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The severity of an annotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `::error`.
    Error,
    /// `::warning`.
    Warning,
}

/// One annotation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Annotation {
    /// Error or warning.
    pub level: Level,
    /// The title.
    pub title: String,
    /// The file it is about (the suite file), relative to the repository.
    pub file: Option<String>,
    /// The message.
    pub message: String,
}

impl Annotation {
    /// The workflow command line, e.g.
    /// `::error title=SLO failed%3A smoke%3A%3Areboot,file=suites/smoke.yaml::message`.
    pub fn command(&self) -> String {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        let mut props = vec![format!("title={}", escape_property(&self.title))];
        if let Some(f) = &self.file {
            props.push(format!("file={}", escape_property(f)));
        }
        format!(
            "::{level} {}::{}",
            props.join(","),
            escape_data(&self.message)
        )
    }
}

/// The annotations of a run: an error per failed SLO of a failing scenario
/// (naming scenario, SLO, measured against budget, and culprits), one error
/// for a failing scenario with no failed SLO (no effect, not run, harness
/// error, interrupted, or SLOs not evaluated), a warning per xpass and per
/// trend regression. Expected failures (xfail) are not annotated.
/// `files` maps suite names to their files.
pub fn annotations(record: &RunRecord, files: &BTreeMap<String, String>) -> Vec<Annotation> {
    let mut out = Vec::new();
    for r in &record.results {
        let name = r.display_name();
        let file = files.get(&r.id.suite).cloned();
        match r.verdict {
            Verdict::Pass | Verdict::XFail => {}
            Verdict::XPass => out.push(Annotation {
                level: Level::Warning,
                title: format!("XPASS: {name}"),
                file: file.clone(),
                message: format!(
                    "{name} was expected to fail ({}) but every SLO held; the bug may be fixed upstream: update the suite",
                    match &r.expect {
                        crate::suite::Expect::Fail { reason, .. } => reason.as_str(),
                        crate::suite::Expect::Pass => "no reason given",
                    }
                ),
            }),
            _ => slo_errors(&mut out, r, &name, file.as_ref()),
        }
        if let Some(t) = &record.trend {
            for reg in t.of_scenario(&name).filter(|t| t.regression) {
                out.push(Annotation {
                    level: Level::Warning,
                    title: format!("Recovery regression: {name}"),
                    file: file.clone(),
                    message: format!(
                        "{name}: {} took {}, {} in the baseline ({}): slower than the trend threshold",
                        reg.slo,
                        reg.current,
                        reg.baseline,
                        reg.delta()
                    ),
                });
            }
        }
    }
    out
}

fn slo_errors(out: &mut Vec<Annotation>, r: &ScenarioResult, name: &str, file: Option<&String>) {
    let failed: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.kind == CheckKind::Slo)
        .filter(|c| c.status == CheckStatus::Failed)
        .collect();
    for c in &failed {
        let slo = c.name.strip_prefix("slo: ").unwrap_or(&c.name);
        let mut message = format!("{name}: SLO {slo} failed");
        match (c.measured, c.budget) {
            (Some(m), Some(b)) => message.push_str(&format!(
                ": measured {m}, budget {}",
                crate::util::duration::format(b)
            )),
            (Some(m), None) => message.push_str(&format!(": measured {m}")),
            _ => {}
        }
        if !c.culprits.is_empty() {
            let names: Vec<String> = c.culprits.iter().map(ToString::to_string).collect();
            message.push_str(&format!("\nculprits: {}", names.join("; ")));
        }
        out.push(Annotation {
            level: Level::Error,
            title: format!("SLO failed: {name}: {slo}"),
            file: file.cloned(),
            message,
        });
    }
    if failed.is_empty() {
        out.push(Annotation {
            level: Level::Error,
            title: format!("{}: {name}", r.verdict),
            file: file.cloned(),
            message: format!("{name}: {}", r.outcome),
        });
    }
}

/// A suite file's path as GitHub wants it: relative to the workspace
/// (`$GITHUB_WORKSPACE`, else `base`) when it lies under it.
pub fn repo_path(file: &Path, workspace: Option<&Path>, base: &Path) -> String {
    let root = workspace.unwrap_or(base);
    file.strip_prefix(root)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned()
}

/// When `get("GITHUB_ACTIONS")` is `true`: prints every annotation to `out`
/// and appends the Markdown summary to the file named by
/// `$GITHUB_STEP_SUMMARY` (when set). Does nothing otherwise. Returns how
/// many annotations were printed.
pub fn publish(
    record: &RunRecord,
    files: &BTreeMap<String, String>,
    get: impl Fn(&str) -> Option<String>,
    out: &mut dyn Write,
) -> Result<usize, GithubError> {
    if get(ACTIONS_VAR).as_deref() != Some("true") {
        return Ok(0);
    }
    let list = annotations(record, files);
    for a in &list {
        writeln!(out, "{}", a.command()).map_err(|source| GithubError::Print { source })?;
    }
    out.flush()
        .map_err(|source| GithubError::Print { source })?;
    if let Some(path) = get(SUMMARY_VAR).filter(|p| !p.trim().is_empty()) {
        let path = PathBuf::from(path);
        let append = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)?;
            f.write_all(markdown(record).as_bytes())?;
            f.write_all(b"\n")
        };
        append().map_err(|source| GithubError::Summary {
            path: path.clone(),
            source,
        })?;
    }
    Ok(list.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    fn files() -> BTreeMap<String, String> {
        BTreeMap::from([("ovs".to_string(), "suites/ovs.yaml".to_string())])
    }

    #[test]
    fn escaping_is_exactly_as_documented() {
        assert_eq!(escape_data("50% a\r\nb: c, d"), "50%25 a%0D%0Ab: c, d");
        assert_eq!(
            escape_property("50% a\r\nb: c, d"),
            "50%25 a%0D%0Ab%3A c%2C d"
        );
        let a = Annotation {
            level: Level::Error,
            title: "SLO failed: s::x, y".into(),
            file: Some("suites/a,b.yaml".into()),
            message: "line 1\nline 2: 100%".into(),
        };
        assert_eq!(
            a.command(),
            "::error title=SLO failed%3A s%3A%3Ax%2C y,file=suites/a%2Cb.yaml::line 1%0Aline 2: 100%25"
        );
    }

    #[test]
    fn one_error_per_failed_slo_naming_the_culprits() {
        let record = fixtures::record(true);
        let list = annotations(&record, &files());
        let slow: Vec<_> = list
            .iter()
            .filter(|a| a.title.contains("ovs::ovs-kill-slow"))
            .collect();
        assert_eq!(slow.len(), 2, "ready and restarts: {list:#?}");
        assert_eq!(
            slow[0].command(),
            "::error title=SLO failed%3A ovs%3A%3Aovs-kill-slow%3A workloads-ready-within 3m (namespace kube-system),file=suites/ovs.yaml\
             ::ovs::ovs-kill-slow: SLO workloads-ready-within 3m (namespace kube-system) failed: measured 4m, budget 3m\
             %0Aculprits: pod kube-system/kube-multus-ds-abcde on kind-worker (Init:CrashLoopBackOff, 5 restarts, not recovered)"
        );
        assert!(
            !list.iter().any(|a| a.title.contains("multus-leftover")),
            "xfail is not annotated"
        );
        let xpass: Vec<_> = list
            .iter()
            .filter(|a| a.title.contains("multus-fixed"))
            .collect();
        assert_eq!(xpass.len(), 1);
        assert_eq!(xpass[0].level, Level::Warning);
        assert!(
            xpass[0].command().starts_with(
                "::warning title=XPASS%3A ovs%3A%3Amultus-fixed,file=suites/ovs.yaml::"
            )
        );
        assert!(
            list.iter()
                .any(|a| a.title.contains("not-steady") && a.level == Level::Error),
            "a scenario with no failed SLO still gets one error"
        );
    }

    #[test]
    fn publishes_only_on_actions() {
        let record = fixtures::record(false);
        let dir = tempfile::tempdir().unwrap();
        let summary = dir.path().join("summary.md");
        std::fs::write(&summary, "earlier step\n").unwrap();
        let mut out = Vec::new();
        assert_eq!(publish(&record, &files(), |_| None, &mut out).unwrap(), 0);
        assert!(out.is_empty());
        let env = |k: &str| match k {
            ACTIONS_VAR => Some("true".to_string()),
            SUMMARY_VAR => Some(summary.display().to_string()),
            _ => None,
        };
        let n = publish(&record, &files(), env, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), n);
        assert!(
            text.lines()
                .all(|l| l.starts_with("::error ") || l.starts_with("::warning "))
        );
        let md = std::fs::read_to_string(&summary).unwrap();
        assert!(
            md.starts_with("earlier step\n## cni-chaos run"),
            "appended: {md}"
        );
        assert_eq!(
            repo_path(
                Path::new("/w/r/suites/a.yaml"),
                Some(Path::new("/w/r")),
                Path::new("/x")
            ),
            "suites/a.yaml"
        );
        assert_eq!(
            repo_path(Path::new("/o/a.yaml"), None, Path::new("/w")),
            "/o/a.yaml"
        );
    }
}
