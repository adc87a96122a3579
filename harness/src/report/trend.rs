//! Run-over-run trends: the run's measured SLO values against a baseline
//! run's `results.json`, with slowdowns past a threshold flagged as
//! regressions even when the SLO still holds.
//!
//! The baseline is `CHAOS_BASELINE` (a `results.json` or a run folder holding
//! one), else the previous run in the report root: the newest other
//! `<run-id>/results.json`. Values are matched on the scenario's display name
//! (`suite::scenario`, `#n` for repeats) and the SLO's description (the
//! testcase name). A baseline that cannot be read is a warning naming the
//! file, never an error that costs the run its reports.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::record::RunRecord;
use crate::run::CheckKind;
use crate::slo::Measured;
use crate::util::duration;

/// The environment variable naming the baseline.
pub const BASELINE_VAR: &str = "CHAOS_BASELINE";
/// The environment variable setting the regression threshold.
pub const THRESHOLD_VAR: &str = "CHAOS_TREND_THRESHOLD";
/// The default relative threshold: 20 % slower.
pub const DEFAULT_RATIO: f64 = 0.20;
/// The default absolute floor: a slowdown under 1 s is noise.
pub const DEFAULT_FLOOR: Duration = Duration::from_secs(1);

/// Why trend options or a baseline could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TrendError {
    /// `CHAOS_TREND_THRESHOLD` is not a threshold.
    #[error(
        "{var}={value:?}: expected a percentage with an optional floor, e.g. \"20%\" or \"20%,1s\" ({rule})"
    )]
    Threshold {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        rule: String,
    },
    /// The baseline file could not be read.
    #[error("cannot read baseline {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The baseline file is not JSON.
    #[error("baseline {path} is not valid JSON")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The baseline file is JSON but not a cni-chaos results file.
    #[error("baseline {path} is not a cni-chaos results.json: {reason}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
}

/// When a slowdown counts as a regression: slower by more than `ratio` of
/// the baseline value **and** by at least `floor`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Threshold {
    /// Relative slowdown, e.g. `0.2` for 20 %.
    pub ratio: f64,
    /// Absolute slowdown below which nothing is flagged.
    #[serde(with = "crate::util::serde_millis")]
    pub floor: Duration,
}

impl Default for Threshold {
    fn default() -> Self {
        Threshold {
            ratio: DEFAULT_RATIO,
            floor: DEFAULT_FLOOR,
        }
    }
}

impl Threshold {
    /// Parses `20%`, `20` (percent) or `20%,2s` (percent and floor).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (pct, floor) = match text.split_once(',') {
            Some((p, f)) => (p.trim(), Some(f.trim())),
            None => (text.trim(), None),
        };
        let number = pct.strip_suffix('%').unwrap_or(pct).trim();
        let percent: f64 = number
            .parse()
            .map_err(|_| format!("{pct:?} is not a number"))?;
        if !percent.is_finite() || percent < 0.0 {
            return Err("the percentage must be zero or more".into());
        }
        let floor = match floor {
            Some(f) => duration::parse(f)?,
            None => DEFAULT_FLOOR,
        };
        Ok(Threshold {
            ratio: percent / 100.0,
            floor,
        })
    }

    /// Whether going from `baseline` to `current` milliseconds is a slowdown
    /// past this threshold.
    pub fn slower(&self, baseline: u64, current: u64) -> bool {
        past(self, baseline, current)
    }

    /// Whether going from `baseline` to `current` milliseconds is a speed-up
    /// past this threshold.
    pub fn faster(&self, baseline: u64, current: u64) -> bool {
        past(self, current, baseline)
    }
}

fn past(t: &Threshold, low: u64, high: u64) -> bool {
    let floor = u64::try_from(t.floor.as_millis()).unwrap_or(u64::MAX);
    #[allow(clippy::cast_precision_loss)]
    let relative = high as f64 > low as f64 * (1.0 + t.ratio);
    high > low && high - low >= floor && relative
}

/// Where the baseline comes from and what counts as a regression.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrendOptions {
    /// `CHAOS_BASELINE`: a `results.json` or a run folder; none: the previous
    /// run in the report root.
    pub baseline: Option<PathBuf>,
    /// `CHAOS_TREND_THRESHOLD`: default 20 % and at least 1 s.
    pub threshold: Threshold,
}

impl TrendOptions {
    /// Reads the options through `get` (usually `std::env::var`).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, TrendError> {
        let baseline = get(BASELINE_VAR)
            .filter(|v| !v.trim().is_empty())
            .map(PathBuf::from);
        let threshold = match get(THRESHOLD_VAR) {
            Some(v) if !v.trim().is_empty() => {
                Threshold::parse(&v).map_err(|rule| TrendError::Threshold {
                    var: THRESHOLD_VAR,
                    value: v.clone(),
                    rule,
                })?
            }
            _ => Threshold::default(),
        };
        Ok(TrendOptions {
            baseline,
            threshold,
        })
    }

    /// Reads the options from the process environment.
    pub fn from_env() -> Result<Self, TrendError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// The baseline file for a run `run_id` writing under `root`: the
    /// configured one (a folder means its `results.json`), else the previous
    /// run's. None when there is no previous run.
    pub fn baseline_file(&self, root: &Path, run_id: &str) -> Option<PathBuf> {
        match &self.baseline {
            // A folder without its own results.json is a set of
            // downloaded artifacts (one per shard): Baseline::load merges
            // every results.json under it.
            Some(p) if p.is_dir() && p.join(super::writer::JSON_FILE).is_file() => {
                Some(p.join(super::writer::JSON_FILE))
            }
            Some(p) => Some(p.clone()),
            None => previous_run(root, run_id),
        }
    }
}

/// The newest `<root>/<dir>/results.json` other than `run_id`'s (and the
/// `latest` link): newest by modification time, then by name.
pub fn previous_run(root: &Path, run_id: &str) -> Option<PathBuf> {
    let entries = std::fs::read_dir(root).ok()?;
    let mut best: Option<(std::time::SystemTime, String, PathBuf)> = None;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == run_id || name == super::writer::LATEST_LINK {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if !kind.is_dir() {
            continue;
        }
        let file = entry.path().join(super::writer::JSON_FILE);
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
        let newer = match &best {
            None => true,
            Some((m, n, _)) => (modified, &name) > (*m, n),
        };
        if newer {
            best = Some((modified, name, file));
        }
    }
    best.map(|(_, _, f)| f)
}

/// Every `results.json` under `dir`, `depth` levels down at most.
fn collect_results(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    let file = dir.join(super::writer::JSON_FILE);
    if file.is_file() {
        out.push(file);
        return;
    }
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.path().is_dir() {
            collect_results(&entry.path(), depth - 1, out);
        }
    }
}

/// One measured SLO value of the baseline run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct BaselineValue {
    /// `suite::scenario`, with `#n` for repeats.
    pub scenario: String,
    /// The SLO's description, e.g. `workloads-ready-within 3m (namespace kube-system)`.
    pub slo: String,
    /// What it measured.
    pub measured: Measured,
    /// The component versions of the cluster it ran on (empty when the
    /// baseline does not say).
    pub versions: BTreeMap<String, String>,
    /// Whether `00-multus.conf` was on the node's disk while it was down
    /// (the precondition that decides which bug a reboot can show), when
    /// the baseline recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multus_config_left: Option<bool>,
}

/// A baseline run, read from its `results.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Baseline {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its run id, when recorded.
    pub run_id: Option<String>,
    /// The backend it ran on (`kind`, `twin`, ...), when recorded.
    pub backend: Option<String>,
    /// Whether its results were simulated, when recorded.
    pub simulated: Option<bool>,
    /// Every measured SLO value.
    pub values: Vec<BaselineValue>,
}

impl Baseline {
    /// Reads a baseline from a `results.json`, or from every `results.json`
    /// under a folder (at most three levels down: `<artifact>/<run-id>/`),
    /// merged: the nightly downloads one artifact per shard of the cell, and
    /// scenarios are matched by id whichever shard ran them. Where two files
    /// hold the same scenario, the first in path order wins.
    pub fn load(path: &Path) -> Result<Self, TrendError> {
        if path.is_dir() {
            return Self::load_dir(path);
        }
        Self::load_file(path)
    }

    fn load_dir(dir: &Path) -> Result<Self, TrendError> {
        let mut files = Vec::new();
        collect_results(dir, 3, &mut files);
        files.sort();
        let mut merged: Option<Baseline> = None;
        for file in &files {
            let b = Self::load_file(file)?;
            match &mut merged {
                None => merged = Some(b),
                Some(m) => {
                    let have: std::collections::BTreeSet<String> =
                        m.values.iter().map(|v| v.scenario.clone()).collect();
                    m.values
                        .extend(b.values.into_iter().filter(|v| !have.contains(&v.scenario)));
                }
            }
        }
        let mut b = merged.ok_or_else(|| TrendError::Shape {
            path: dir.to_path_buf(),
            reason: format!("no {} in it or in its subfolders", super::writer::JSON_FILE),
        })?;
        b.path = dir.to_path_buf();
        Ok(b)
    }

    fn load_file(path: &Path) -> Result<Self, TrendError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrendError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let v: Value = serde_json::from_str(&text).map_err(|source| TrendError::Parse {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(path, &v)
    }

    /// Reads a baseline from a parsed `results.json`.
    pub fn from_json(path: &Path, v: &Value) -> Result<Self, TrendError> {
        let shape = |reason: &str| TrendError::Shape {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        // Before schema 2 recoveries counted from the end of a fault's
        // injection, from schema 2 on from its start: not comparable.
        if let Some(schema) = v.get("schema-version").and_then(Value::as_u64)
            && schema < 2
        {
            return Err(shape(&format!(
                "schema-version {schema}: its recovery times count from the end of each fault's injection, this run's from its start (schema 2), so they are not comparable"
            )));
        }
        let results = v
            .get("results")
            .and_then(Value::as_array)
            .ok_or_else(|| shape("no \"results\" array"))?;
        let run_id = v
            .pointer("/run/run-id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut values = Vec::new();
        for (i, r) in results.iter().enumerate() {
            let suite = r.pointer("/id/suite").and_then(Value::as_str);
            let scenario = r.pointer("/id/scenario").and_then(Value::as_str);
            let (Some(suite), Some(scenario)) = (suite, scenario) else {
                return Err(shape(&format!(
                    "results[{i}] has no id.suite and id.scenario"
                )));
            };
            let iteration = r.get("iteration").and_then(Value::as_u64).unwrap_or(1);
            let repeat = r.get("repeat").and_then(Value::as_u64).unwrap_or(1);
            let name = if repeat > 1 {
                format!("{suite}::{scenario}#{iteration}")
            } else {
                format!("{suite}::{scenario}")
            };
            let versions: BTreeMap<String, String> = r
                .get("versions")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            // A run that tested something else has nothing to compare.
            if r.get("verdict").and_then(Value::as_str) == Some("precondition-unmet") {
                continue;
            }
            let multus_config_left = r
                .pointer("/evidence/preconditions/disk/multus-config")
                .and_then(Value::as_bool);
            let checks = r.get("checks").and_then(Value::as_array);
            for c in checks.into_iter().flatten() {
                if c.get("kind").and_then(Value::as_str) != Some("slo") {
                    continue;
                }
                let Some(check) = c.get("name").and_then(Value::as_str) else {
                    continue;
                };
                let measured = c.get("measured").and_then(|m| {
                    let value = m.get("value").and_then(Value::as_u64)?;
                    match m.get("unit").and_then(Value::as_str)? {
                        "millis" => Some(Measured::Millis(value)),
                        "count" => Some(Measured::Count(value)),
                        _ => None,
                    }
                });
                if let Some(measured) = measured {
                    values.push(BaselineValue {
                        scenario: name.clone(),
                        slo: slo_name(check).to_string(),
                        measured,
                        versions: versions.clone(),
                        multus_config_left,
                    });
                }
            }
        }
        Ok(Baseline {
            path: path.to_path_buf(),
            run_id,
            backend: v
                .pointer("/run/backend/name")
                .and_then(Value::as_str)
                .map(str::to_string),
            simulated: v.pointer("/run/backend/simulated").and_then(Value::as_bool),
            values,
        })
    }

    /// The baseline record of one SLO of one scenario.
    pub fn value(&self, scenario: &str, slo: &str) -> Option<&BaselineValue> {
        self.values
            .iter()
            .find(|b| b.scenario == scenario && b.slo == slo)
    }
}

/// What changed between two version sets: `multus v4.2.1 → v4.2.3`.
fn version_change(before: &BTreeMap<String, String>, now: &BTreeMap<String, String>) -> String {
    let keys: std::collections::BTreeSet<&String> = before.keys().chain(now.keys()).collect();
    keys.into_iter()
        .filter(|k| before.get(*k) != now.get(*k))
        .map(|k| {
            let v = |m: &BTreeMap<String, String>| m.get(k).cloned().unwrap_or_else(|| "-".into());
            format!("{k} {} → {}", v(before), v(now))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A check name without its `slo: ` prefix.
fn slo_name(check: &str) -> &str {
    check.strip_prefix("slo: ").unwrap_or(check)
}

/// Which way a value moved, past the threshold or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Slower (or more) by more than the threshold.
    Up,
    /// Faster (or fewer) by more than the threshold.
    Down,
    /// Within the threshold.
    Flat,
}

impl Direction {
    /// `↑`, `↓` or `→`.
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Up => "↑",
            Direction::Down => "↓",
            Direction::Flat => "→",
        }
    }
}

/// One SLO of one scenario, this run against the baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SloTrend {
    /// `suite::scenario`, with `#n` for repeats.
    pub scenario: String,
    /// The SLO's description.
    pub slo: String,
    /// This run's value.
    pub current: Measured,
    /// The baseline's value.
    pub baseline: Measured,
    /// Which way it moved.
    pub direction: Direction,
    /// Whether it is a recovery (a duration) slower than the threshold: a
    /// regression, whether or not the SLO held.
    pub regression: bool,
}

impl SloTrend {
    /// Compares two values of one SLO. Only durations can regress; counts
    /// get a direction but are never flagged.
    pub fn new(
        scenario: &str,
        slo: &str,
        current: Measured,
        baseline: Measured,
        threshold: &Threshold,
    ) -> Self {
        let (direction, regression) = match (current, baseline) {
            (Measured::Millis(c), Measured::Millis(b)) => {
                if threshold.slower(b, c) {
                    (Direction::Up, true)
                } else if threshold.faster(b, c) {
                    (Direction::Down, false)
                } else {
                    (Direction::Flat, false)
                }
            }
            (Measured::Count(c), Measured::Count(b)) => (
                match c.cmp(&b) {
                    std::cmp::Ordering::Greater => Direction::Up,
                    std::cmp::Ordering::Less => Direction::Down,
                    std::cmp::Ordering::Equal => Direction::Flat,
                },
                false,
            ),
            _ => (Direction::Flat, false),
        };
        SloTrend {
            scenario: scenario.to_string(),
            slo: slo.to_string(),
            current,
            baseline,
            direction,
            regression,
        }
    }

    /// The change in percent of the baseline, rounded; none when the
    /// baseline is zero or the units differ.
    pub fn percent(&self) -> Option<i64> {
        let (c, b) = values(self.current, self.baseline)?;
        if b == 0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let p = ((c as f64 - b as f64) / b as f64 * 100.0).round() as i64;
        Some(p)
    }

    /// The change as text: `+43%`, `-12%`, `+0%`; from a zero baseline the
    /// absolute change (`+5s`, `+2`).
    pub fn delta(&self) -> String {
        if let Some(p) = self.percent() {
            return format!("{}{p}%", if p >= 0 { "+" } else { "" });
        }
        let Some((c, b)) = values(self.current, self.baseline) else {
            return "n/a".into();
        };
        let sign = if c >= b { "+" } else { "-" };
        let diff = c.abs_diff(b);
        match self.current {
            Measured::Millis(_) => {
                format!("{sign}{}", duration::format(Duration::from_millis(diff)))
            }
            Measured::Count(_) => format!("{sign}{diff}"),
        }
    }

    /// The arrow and the change, e.g. `↑ +43%`.
    pub fn label(&self) -> String {
        format!("{} {}", self.direction.arrow(), self.delta())
    }
}

fn values(current: Measured, baseline: Measured) -> Option<(u64, u64)> {
    match (current, baseline) {
        (Measured::Millis(c), Measured::Millis(b)) | (Measured::Count(c), Measured::Count(b)) => {
            Some((c, b))
        }
        _ => None,
    }
}

/// A run compared with its baseline.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Trend {
    /// The baseline file.
    pub baseline: PathBuf,
    /// The baseline's run id, when known.
    pub baseline_run: Option<String>,
    /// What counts as a regression.
    pub threshold: Threshold,
    /// Every SLO measured in both runs.
    pub slos: Vec<SloTrend>,
    /// Why the baseline could not be used, when it could not.
    pub warning: Option<String>,
    /// Scenarios not compared because they ran on other component versions (or with another recorded precondition)
    /// than in the baseline, each with the difference.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_compared: Vec<String>,
}

impl Trend {
    /// Compares the run's measured SLO values with the baseline's.
    ///
    /// Only like with like: a baseline from another backend (or simulated
    /// where this run is real, or the reverse) is not compared at all, with
    /// a warning; a scenario that ran on other component versions than in
    /// the baseline is left out and listed in [`Trend::not_compared`].
    pub fn compare(record: &RunRecord, baseline: &Baseline, threshold: Threshold) -> Self {
        let mut trend = Trend {
            baseline: baseline.path.clone(),
            baseline_run: baseline.run_id.clone(),
            threshold,
            slos: Vec::new(),
            warning: None,
            not_compared: Vec::new(),
        };
        let this = &record.info.backend;
        let other_backend = baseline.backend.as_ref().is_some_and(|b| *b != this.name);
        let other_kind = baseline.simulated.is_some_and(|s| s != this.simulated);
        if other_backend || other_kind {
            let what = |name: &str, simulated: Option<bool>| match simulated {
                Some(true) => format!("{name} (simulated)"),
                _ => name.to_string(),
            };
            trend.warning = Some(format!(
                "trend skipped: the baseline {} ran on the {} backend and this run on the {} backend; their recovery times are not comparable (set CHAOS_BASELINE to a run of the same backend)",
                baseline.path.display(),
                what(
                    baseline.backend.as_deref().unwrap_or("?"),
                    baseline.simulated
                ),
                what(&this.name, Some(this.simulated)),
            ));
            return trend;
        }
        for r in &record.results {
            if r.verdict == crate::run::Verdict::Unmet {
                continue;
            }
            let scenario = r.display_name();
            let left = r
                .evidence
                .as_ref()
                .and_then(|e| e.preconditions.disk.as_ref())
                .map(|d| d.multus_config);
            let mut skipped = None;
            for check in r.checks.iter().filter(|c| c.kind == CheckKind::Slo) {
                let (Some(current), slo) = (check.measured, slo_name(&check.name)) else {
                    continue;
                };
                let Some(before) = baseline.value(&scenario, slo) else {
                    continue;
                };
                if !before.versions.is_empty()
                    && !r.versions.is_empty()
                    && before.versions != r.versions
                {
                    skipped = Some(version_change(&before.versions, &r.versions));
                    continue;
                }
                // A reboot that left 00-multus.conf and one that did not
                // test different bugs: their recoveries are not comparable.
                if let (Some(was), Some(now)) = (before.multus_config_left, left)
                    && was != now
                {
                    skipped = Some(format!("00-multus.conf left by the reboot {was} → {now}"));
                    continue;
                }
                trend.slos.push(SloTrend::new(
                    &scenario,
                    slo,
                    current,
                    before.measured,
                    &threshold,
                ));
            }
            if let Some(change) = skipped {
                trend.not_compared.push(format!("{scenario} ({change})"));
            }
        }
        trend
    }

    /// A trend whose baseline could not be read: no values, and a warning
    /// naming the file.
    pub fn unreadable(error: &TrendError, path: &Path, threshold: Threshold) -> Self {
        let mut message = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        Trend {
            baseline: path.to_path_buf(),
            baseline_run: None,
            threshold,
            slos: Vec::new(),
            warning: Some(format!("trend skipped: {message}")),
            not_compared: Vec::new(),
        }
    }

    /// The trend of one SLO (by description, without `slo: `) of one scenario.
    pub fn get(&self, scenario: &str, slo: &str) -> Option<&SloTrend> {
        let slo = slo_name(slo);
        self.slos
            .iter()
            .find(|t| t.scenario == scenario && t.slo == slo)
    }

    /// The trends of one scenario's SLOs.
    pub fn of_scenario<'a>(
        &'a self,
        scenario: &str,
    ) -> impl Iterator<Item = &'a SloTrend> + use<'a> {
        let scenario = scenario.to_string();
        self.slos.iter().filter(move |t| t.scenario == scenario)
    }

    /// The scenario's most telling trend: a regression first, then the
    /// largest relative slowdown of a duration.
    pub fn headline(&self, scenario: &str) -> Option<&SloTrend> {
        self.of_scenario(scenario).max_by_key(|t| {
            (
                t.regression,
                matches!(t.current, Measured::Millis(_)),
                t.percent().unwrap_or(i64::MAX),
            )
        })
    }

    /// Every regression.
    pub fn regressions(&self) -> impl Iterator<Item = &SloTrend> {
        self.slos.iter().filter(|t| t.regression)
    }

    /// One line describing the comparison, e.g. `compared with run X
    /// (reports/X/results.json); regression: 20% slower and at least 1s`.
    pub fn describe(&self) -> String {
        let run = match &self.baseline_run {
            Some(id) => format!("run {id} ({})", self.baseline.display()),
            None => self.baseline.display().to_string(),
        };
        #[allow(clippy::cast_possible_truncation)]
        let pct = (self.threshold.ratio * 100.0).round() as i64;
        let mut out = format!(
            "compared with {run}; a regression is a recovery more than {pct}% and at least {} slower",
            duration::format(self.threshold.floor)
        );
        if !self.not_compared.is_empty() {
            out.push_str(
                "; not compared, other component versions or preconditions than in the baseline: ",
            );
            out.push_str(&self.not_compared.join(", "));
        }
        out
    }
}

/// A run's baseline, resolved once when the run starts.
#[derive(Clone, Debug, PartialEq)]
pub enum BaselineState {
    /// Read; every rendering compares against it.
    Loaded(Baseline, Threshold),
    /// Not readable; every rendering carries the warning.
    Unreadable(Trend),
}

impl BaselineState {
    /// Finds and reads the baseline of run `run_id` under `root` (see
    /// [`TrendOptions::baseline_file`]); none when there is none at all. An
    /// unreadable baseline is logged as a warning naming the file.
    pub fn resolve(root: &Path, run_id: &str, options: &TrendOptions) -> Option<Self> {
        let path = options.baseline_file(root, run_id)?;
        Some(match Baseline::load(&path) {
            Ok(b) => {
                tracing::info!(baseline = %path.display(), values = b.values.len(), "trend baseline");
                BaselineState::Loaded(b, options.threshold)
            }
            Err(e) => {
                let t = Trend::unreadable(&e, &path, options.threshold);
                tracing::warn!("{}", t.warning.as_deref().unwrap_or_default());
                BaselineState::Unreadable(t)
            }
        })
    }

    /// The trend of `record` against this baseline.
    pub fn trend(&self, record: &RunRecord) -> Trend {
        match self {
            BaselineState::Loaded(b, threshold) => Trend::compare(record, b, *threshold),
            BaselineState::Unreadable(t) => t.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_parse() {
        assert_eq!(Threshold::parse("20%"), Ok(Threshold::default()));
        assert_eq!(Threshold::parse(" 20 "), Ok(Threshold::default()));
        let t = Threshold::parse("35%, 2s").unwrap();
        assert!((t.ratio - 0.35).abs() < 1e-9);
        assert_eq!(t.floor, Duration::from_secs(2));
        assert!(Threshold::parse("fast").is_err());
        assert!(Threshold::parse("-5%").is_err());
        assert!(Threshold::parse("20%,soon").is_err());
        let e =
            TrendOptions::from_lookup(|k| (k == THRESHOLD_VAR).then(|| "x".into())).unwrap_err();
        assert!(
            e.to_string().starts_with("CHAOS_TREND_THRESHOLD=\"x\""),
            "{e}"
        );
        let o =
            TrendOptions::from_lookup(|k| (k == BASELINE_VAR).then(|| "b.json".into())).unwrap();
        assert_eq!(o.baseline, Some(PathBuf::from("b.json")));
        assert_eq!(o.threshold, Threshold::default());
    }

    #[test]
    fn ratio_and_floor_both_apply() {
        let t = Threshold::default();
        assert!(t.slower(100_000, 140_000), "40% and 40s");
        assert!(!t.slower(100_000, 105_000), "5%");
        assert!(!t.slower(2_000, 2_900), "45% but under the 1s floor");
        assert!(t.slower(0, 5_000), "from zero");
        assert!(t.faster(100_000, 60_000));
        assert!(!t.faster(100_000, 95_000));
    }

    #[test]
    fn deltas_and_arrows() {
        let t = Threshold::default();
        let up = SloTrend::new(
            "s",
            "x",
            Measured::Millis(140_000),
            Measured::Millis(100_000),
            &t,
        );
        assert_eq!((up.label().as_str(), up.regression), ("↑ +40%", true));
        let flat = SloTrend::new(
            "s",
            "x",
            Measured::Millis(95_000),
            Measured::Millis(100_000),
            &t,
        );
        assert_eq!((flat.label().as_str(), flat.regression), ("→ -5%", false));
        let down = SloTrend::new(
            "s",
            "x",
            Measured::Millis(50_000),
            Measured::Millis(100_000),
            &t,
        );
        assert_eq!(down.label(), "↓ -50%");
        let zero = SloTrend::new("s", "x", Measured::Millis(5_000), Measured::Millis(0), &t);
        assert_eq!(zero.label(), "↑ +5s");
        let count = SloTrend::new("s", "x", Measured::Count(3), Measured::Count(0), &t);
        assert_eq!((count.label().as_str(), count.regression), ("↑ +3", false));
    }

    #[test]
    fn malformed_baselines_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        std::fs::write(&path, "{not json").unwrap();
        let e = Baseline::load(&path).unwrap_err();
        assert!(matches!(e, TrendError::Parse { .. }), "{e}");
        let t = Trend::unreadable(&e, &path, Threshold::default());
        let w = t.warning.unwrap();
        assert!(w.contains(&path.display().to_string()), "{w}");
        std::fs::write(&path, "{\"results\": [{\"id\": 3}]}").unwrap();
        let e = Baseline::load(&path).unwrap_err();
        assert!(e.to_string().contains("results[0]"), "{e}");
        let e = Baseline::load(&dir.path().join("missing.json")).unwrap_err();
        assert!(matches!(e, TrendError::Read { .. }), "{e}");
        std::fs::write(&path, "{\"schema-version\": 1, \"results\": []}").unwrap();
        let e = Baseline::load(&path).unwrap_err();
        assert!(
            e.to_string().contains("schema-version 1") && e.to_string().contains("not comparable"),
            "{e}"
        );
    }

    #[test]
    fn the_previous_run_is_the_newest_other_folder() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(previous_run(root.path(), "now"), None);
        for (name, with_json) in [("a", true), ("b", true), ("c", false), ("now", true)] {
            std::fs::create_dir(root.path().join(name)).unwrap();
            if with_json {
                std::fs::write(root.path().join(name).join("results.json"), "{}").unwrap();
            }
        }
        // Same or later mtime: ties broken by name.
        let got = previous_run(root.path(), "now").unwrap();
        assert!(got.ends_with("b/results.json") || got.ends_with("a/results.json"));
        let o = TrendOptions {
            baseline: Some(root.path().join("a")),
            ..TrendOptions::default()
        };
        assert_eq!(
            o.baseline_file(root.path(), "now"),
            Some(root.path().join("a").join("results.json"))
        );
    }

    #[test]
    fn a_folder_of_shard_artifacts_is_one_baseline_matched_by_scenario_id() {
        let root = tempfile::tempdir().unwrap();
        let result = |suite: &str, scenario: &str, ms: u64| {
            serde_json::json!({
                "id": {"suite": suite, "scenario": scenario},
                "checks": [{"kind": "slo", "name": "slo: x", "measured": {"value": ms, "unit": "millis"}}]
            })
        };
        let write = |artifact: &str, results: Vec<Value>| {
            let dir = root.path().join(artifact).join("20261202T021700Z-1");
            std::fs::create_dir_all(&dir).unwrap();
            let v = serde_json::json!({"schema-version": 2, "run": {"run-id": "r", "backend": {"name": "kind", "simulated": false}}, "results": results});
            std::fs::write(dir.join("results.json"), v.to_string()).unwrap();
        };
        // Last night's shards held other scenarios than tonight's.
        write(
            "reports-default--nightly-1",
            vec![result("nightly", "a", 10), result("smoke", "b", 20)],
        );
        write(
            "reports-default--nightly-2",
            vec![result("nightly", "c", 30), result("nightly", "a", 99)],
        );
        let o = TrendOptions {
            baseline: Some(root.path().to_path_buf()),
            ..TrendOptions::default()
        };
        let path = o.baseline_file(root.path(), "now").unwrap();
        assert_eq!(path, root.path());
        let b = Baseline::load(&path).unwrap();
        let got: Vec<(&str, &Measured)> = b
            .values
            .iter()
            .map(|v| (v.scenario.as_str(), &v.measured))
            .collect();
        assert_eq!(
            got,
            vec![
                ("nightly::a", &Measured::Millis(10)),
                ("smoke::b", &Measured::Millis(20)),
                ("nightly::c", &Measured::Millis(30)),
            ],
            "every artifact's scenarios, each once (the first file wins)"
        );
        assert_eq!(b.backend.as_deref(), Some("kind"));
        let empty = tempfile::tempdir().unwrap();
        let e = Baseline::load(empty.path()).unwrap_err().to_string();
        assert!(
            e.contains("no results.json in it or in its subfolders"),
            "{e}"
        );
    }
}
