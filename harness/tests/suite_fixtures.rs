//! Every invalid suite under `tests/fixtures/invalid/` must be rejected with
//! exactly the problems its `# expect:` header lines declare, in order:
//!
//! ```text
//! # expect: LINE:COL PATH | RULE-SUBSTRING
//! ```
//!
//! `PATH` is `-` for a problem about the whole file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cni_chaos::suite::{Problem, SuiteError, load_file};

/// The fewest fixtures the suite may shrink to.
const MIN_FIXTURES: usize = 30;

/// One declared problem.
#[derive(Debug)]
struct Expected {
    line: u32,
    column: u32,
    path: String,
    rule: String,
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = if self.path.is_empty() {
            "-"
        } else {
            &self.path
        };
        write!(f, "{}:{} {} | {}", self.line, self.column, path, self.rule)
    }
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid")
}

fn fixtures() -> Vec<PathBuf> {
    let dir = fixture_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= MIN_FIXTURES,
        "expected at least {MIN_FIXTURES} fixtures in {}, found {}",
        dir.display(),
        files.len()
    );
    files
}

/// Parses the `# expect:` lines of a fixture.
fn expectations(file: &Path) -> Result<Vec<Expected>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read: {e}"))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = line.strip_prefix("# expect:") else {
            continue;
        };
        let bad = |why: &str| format!("line {}: malformed expectation ({why}): {line}", n + 1);
        let (loc, rest) = rest
            .trim()
            .split_once(' ')
            .ok_or_else(|| bad("no location"))?;
        let (l, c) = loc
            .split_once(':')
            .ok_or_else(|| bad("location is not LINE:COL"))?;
        let line_no = l.parse().map_err(|_| bad("bad line"))?;
        let column = c.parse().map_err(|_| bad("bad column"))?;
        let (path, rule) = rest.split_once(" | ").ok_or_else(|| bad("no ' | '"))?;
        let path = match path.trim() {
            "-" => String::new(),
            p => p.to_string(),
        };
        let rule = rule.trim().to_string();
        if rule.is_empty() {
            return Err(bad("empty rule"));
        }
        out.push(Expected {
            line: line_no,
            column,
            path,
            rule,
        });
    }
    if out.is_empty() {
        return Err("no `# expect:` lines".into());
    }
    Ok(out)
}

fn matches(file: &Path, want: &Expected, got: &Problem) -> bool {
    got.file == file
        && got.loc.line == want.line
        && got.loc.column == want.column
        && got.path == want.path
        && got.rule.contains(&want.rule)
}

fn render_got(p: &Problem) -> String {
    let path = if p.path.is_empty() { "-" } else { &p.path };
    let value = p
        .value
        .as_deref()
        .map(|v| format!(" (found {v})"))
        .unwrap_or_default();
    let file = if p.file.as_os_str().is_empty() {
        String::new()
    } else {
        format!(" [file {}]", p.file.display())
    };
    format!(
        "{}:{} {} | {}{}{}",
        p.loc.line, p.loc.column, path, p.rule, value, file
    )
}

fn problems_of(file: &Path) -> Result<Vec<Problem>, String> {
    match load_file(file) {
        Ok(suite) => Err(format!(
            "loaded successfully ({} scenarios) but should be invalid",
            suite.scenarios.len()
        )),
        Err(SuiteError::Invalid { problems }) => Ok(problems),
        Err(other) => Err(format!("failed with a non-Invalid error: {other}")),
    }
}

#[test]
fn invalid_fixtures_report_exactly_their_expected_problems() {
    let mut report = String::new();
    let mut failed = 0;
    let all = fixtures();
    for file in &all {
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let want = match expectations(file) {
            Ok(w) => w,
            Err(why) => {
                failed += 1;
                let _ = writeln!(report, "\n== {name}: {why}");
                continue;
            }
        };
        let got = match problems_of(file) {
            Ok(g) => g,
            Err(why) => {
                failed += 1;
                let _ = writeln!(report, "\n== {name}: {why}");
                continue;
            }
        };
        let ok = want.len() == got.len() && want.iter().zip(&got).all(|(w, g)| matches(file, w, g));
        if ok {
            continue;
        }
        failed += 1;
        let _ = writeln!(
            report,
            "\n== {name}: expected {} problem(s), got {}",
            want.len(),
            got.len()
        );
        for i in 0..want.len().max(got.len()) {
            let w = want.get(i);
            let g = got.get(i);
            let mark = match (w, g) {
                (Some(w), Some(g)) if matches(file, w, g) => "  ",
                _ => "!!",
            };
            let _ = writeln!(
                report,
                "{mark} [{i}] expected: {}\n{mark}      got:      {}",
                w.map_or_else(|| "(nothing)".into(), ToString::to_string),
                g.map_or_else(|| "(nothing)".into(), render_got),
            );
        }
    }
    assert!(
        failed == 0,
        "{failed} of {} fixture(s) did not match their `# expect:` lines:\n{report}",
        all.len()
    );
}

#[test]
fn problems_display_as_file_line_column() {
    let mut bad = Vec::new();
    for file in fixtures() {
        let Ok(problems) = problems_of(&file) else {
            continue; // reported by the other test
        };
        for p in problems {
            let prefix = format!("{}:{}:{}: ", file.display(), p.loc.line, p.loc.column);
            let shown = p.to_string();
            if !shown.starts_with(&prefix) {
                bad.push(format!("{shown:?} does not start with {prefix:?}"));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "badly displayed problems:\n{}",
        bad.join("\n")
    );
}
