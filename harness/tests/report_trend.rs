//! Run-over-run trends through the reporter: a baseline run and a current run
//! built by hand, where one SLO got 40 % slower but still holds (flagged as a
//! regression in the HTML, the Markdown and the JUnit) and another moved 5 %
//! (not flagged); a malformed baseline is a warning naming the file and
//! costs no report; GitHub annotations warn about the regression.

mod report_fixtures;

use std::collections::BTreeMap;
use std::path::Path;

use cni_chaos::report::{
    HTML_FILE, JSON_FILE, JUNIT_FILE, MARKDOWN_FILE, Reporter, Threshold, TrendOptions,
    annotations, write_reports,
};
use cni_chaos::run::EventSink;
use quick_junit::Report;
use report_fixtures as fx;

const READY: &str = "slo: workloads-ready-within 3m (namespace kube-system)";

/// Writes a baseline run where both reboots recovered in 100 s.
fn baseline(root: &Path) {
    let record = fx::record(
        "20260109T020000Z-1",
        true,
        vec![
            fx::passing_scenario("worker-reboot", 100_000),
            fx::passing_scenario("worker-reboot-hard", 100_000),
        ],
    );
    write_reports(root, &record).unwrap();
}

/// Runs the current run through a reporter: one reboot 40 % slower (140 s,
/// within the 3 m budget), the other 5 % slower.
fn current(root: &Path, options: TrendOptions) -> std::path::PathBuf {
    let reporter = Reporter::new(root).with_trend(options);
    for e in fx::events(
        "20260110T020000Z-2",
        true,
        vec![
            fx::passing_scenario("worker-reboot", 140_000),
            fx::passing_scenario("worker-reboot-hard", 105_000),
        ],
    ) {
        reporter.emit(e);
    }
    assert!(
        reporter.write_errors().is_empty(),
        "{:?}",
        reporter.write_errors()
    );
    reporter.run_dir().unwrap()
}

fn prop<'a>(props: &'a [quick_junit::Property], name: &str) -> Option<&'a str> {
    props
        .iter()
        .find(|p| p.name.as_str() == name)
        .map(|p| p.value.as_str())
}

#[test]
fn a_40_percent_slowdown_within_budget_is_flagged_everywhere_and_5_percent_is_not() {
    let root = tempfile::tempdir().unwrap();
    baseline(root.path());
    let dir = current(root.path(), TrendOptions::default());

    // JUnit: suite and testcase properties.
    let xml = std::fs::read_to_string(dir.join(JUNIT_FILE)).unwrap();
    let report = Report::deserialize_from_str(&xml).unwrap();
    let slow = report
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "incidents::worker-reboot")
        .unwrap();
    assert_eq!(slow.failures, 0, "the SLO still holds");
    assert_eq!(
        prop(&slow.properties, &format!("trend.{READY}")),
        Some("+40%")
    );
    assert_eq!(
        prop(&slow.properties, &format!("baseline.{READY}")),
        Some("100000")
    );
    assert_eq!(prop(&slow.properties, "regression"), Some("true"));
    let case = slow
        .test_cases
        .iter()
        .find(|c| c.name.as_str() == READY)
        .unwrap();
    assert_eq!(prop(&case.properties, "trend"), Some("+40%"));
    assert_eq!(prop(&case.properties, "regression"), Some("true"));
    let steady = report
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "incidents::worker-reboot-hard")
        .unwrap();
    assert_eq!(
        prop(&steady.properties, &format!("trend.{READY}")),
        Some("+5%")
    );
    assert_eq!(prop(&steady.properties, "regression"), None);

    // Markdown: a trend column with arrows, and the regression listed.
    let md = std::fs::read_to_string(dir.join(MARKDOWN_FILE)).unwrap();
    assert!(md.contains("| Culprits | Trend |"), "{md}");
    let row = |name: &str| {
        md.lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("no row {name}:\n{md}"))
            .to_string()
    };
    assert!(
        row("incidents::worker-reboot").ends_with("| ↑ +40% **regression** |"),
        "{md}"
    );
    assert!(
        row("incidents::worker-reboot-hard").ends_with("| → +5% |"),
        "{md}"
    );
    assert!(md.contains("**Regressions**"));
    assert!(md.contains("- ↑ `incidents::worker-reboot`: workloads-ready-within 3m (namespace kube-system): 2m 20s (baseline 1m 40s, +40%)"), "{md}");
    assert!(!md.contains("`incidents::worker-reboot-hard`: workloads"));

    // HTML: trend cells, the regression marked in the summary and SLO table.
    let html = std::fs::read_to_string(dir.join(HTML_FILE)).unwrap();
    assert!(
        html.contains("<td class=\"trend regression\" data-trend=\"+40%\""),
        "summary cell"
    );
    assert!(html.contains("<tr class=\"slo passed regression\" data-slo=\"workloads-ready-within 3m (namespace kube-system)\">"));
    assert!(html.contains("<td class=\"trend flat\" data-trend=\"+5%\""));
    assert!(html.contains("1 regression</strong>"));

    // JSON: the trend is kept for machines.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(JSON_FILE)).unwrap()).unwrap();
    let flagged: Vec<&serde_json::Value> = v["trend"]["slos"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["regression"] == true)
        .collect();
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["scenario"], "incidents::worker-reboot");
    assert_eq!(v["trend"]["baseline-run"], "20260109T020000Z-1");
}

#[test]
fn github_warns_about_regressions() {
    let root = tempfile::tempdir().unwrap();
    baseline(root.path());
    let reporter = Reporter::new(root.path()).with_trend(TrendOptions::default());
    for e in fx::events(
        "20260110T020000Z-3",
        true,
        vec![fx::passing_scenario("worker-reboot", 140_000)],
    ) {
        reporter.emit(e);
    }
    let record = reporter.record().unwrap();
    let files = BTreeMap::from([("incidents".to_string(), "suites/incidents.yaml".to_string())]);
    let list = annotations(&record, &files);
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(
        list[0].command(),
        "::warning title=Recovery regression%3A incidents%3A%3Aworker-reboot,file=suites/incidents.yaml\
         ::incidents::worker-reboot: workloads-ready-within 3m (namespace kube-system) took 2m 20s, 1m 40s in the baseline (+40%25): slower than the trend threshold"
    );
}

#[test]
fn a_stricter_threshold_flags_the_5_percent_change_too() {
    let root = tempfile::tempdir().unwrap();
    baseline(root.path());
    let options = TrendOptions {
        baseline: Some(root.path().join("20260109T020000Z-1")),
        threshold: Threshold::parse("3%,1s").unwrap(),
    };
    let dir = current(root.path(), options);
    let md = std::fs::read_to_string(dir.join(MARKDOWN_FILE)).unwrap();
    assert!(md.contains("| ↑ +5% **regression** |"), "{md}");
}

#[test]
fn a_malformed_baseline_is_a_warning_naming_the_file_and_reports_are_still_written() {
    let root = tempfile::tempdir().unwrap();
    let bad = root.path().join("baseline.json");
    std::fs::write(&bad, "{\"schema-version\": 1, \"results\": [ {\"id\": ").unwrap();
    let options = TrendOptions {
        baseline: Some(bad.clone()),
        threshold: Threshold::default(),
    };
    let dir = current(root.path(), options);
    let name = bad.display().to_string();
    let md = std::fs::read_to_string(dir.join(MARKDOWN_FILE)).unwrap();
    assert!(
        md.contains("> [!WARNING]\n> trend skipped: baseline "),
        "{md}"
    );
    assert!(md.contains(&name), "{md}");
    assert!(
        !md.contains("| Trend |"),
        "no trend column without a baseline"
    );
    let html = std::fs::read_to_string(dir.join(HTML_FILE)).unwrap();
    assert!(html.contains("id=\"trend-warning\""));
    assert!(html.contains(&name));
    let xml = std::fs::read_to_string(dir.join(JUNIT_FILE)).unwrap();
    let report = Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(report.test_suites.len(), 2);
    let warning = prop(&report.test_suites[0].properties, "trend-warning").unwrap();
    assert!(
        warning.contains(&name) && warning.contains("not valid JSON"),
        "{warning}"
    );

    // A missing file is the same kind of warning.
    let options = TrendOptions {
        baseline: Some(root.path().join("nope.json")),
        threshold: Threshold::default(),
    };
    let dir = current(root.path(), options);
    let md = std::fs::read_to_string(dir.join(MARKDOWN_FILE)).unwrap();
    assert!(md.contains("cannot read baseline"), "{md}");
}

#[test]
fn the_first_run_has_no_trend() {
    let root = tempfile::tempdir().unwrap();
    let dir = current(root.path(), TrendOptions::default());
    let md = std::fs::read_to_string(dir.join(MARKDOWN_FILE)).unwrap();
    assert!(!md.contains("Trend"), "{md}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(JSON_FILE)).unwrap()).unwrap();
    assert!(v.get("trend").is_none());
}

/// Only like with like: a kind baseline for a twin run is refused with a
/// warning, and a scenario that ran on other component versions than in the
/// baseline is left out (and listed) while the others are compared.
#[test]
fn a_baseline_of_another_backend_or_other_versions_is_not_compared() {
    let root = tempfile::tempdir().unwrap();
    let kind_run = fx::record(
        "20260109T020000Z-1",
        false,
        vec![
            fx::passing_scenario("worker-reboot", 100_000),
            fx::passing_scenario("worker-reboot-hard", 100_000),
        ],
    );
    write_reports(root.path(), &kind_run).unwrap();
    let dir = current(root.path(), TrendOptions::default());
    let md = std::fs::read_to_string(dir.join(MARKDOWN_FILE)).unwrap();
    assert!(
        md.contains("> [!WARNING]\n> trend skipped: the baseline ")
            && md.contains("ran on the kind backend and this run on the twin (simulated) backend"),
        "{md}"
    );
    assert!(!md.contains("regression"), "{md}");

    let root = tempfile::tempdir().unwrap();
    let with_versions = |name: &str, ms: u64, multus: &str| {
        let mut r = fx::passing_scenario(name, ms);
        r.versions = BTreeMap::from([
            ("kube-ovn".to_string(), "v1.14.41".to_string()),
            ("multus".to_string(), multus.to_string()),
        ]);
        r
    };
    let before = fx::record(
        "20260109T020000Z-1",
        true,
        vec![
            with_versions("worker-reboot", 100_000, "v4.2.1"),
            fx::passing_scenario("worker-reboot-hard", 100_000),
        ],
    );
    write_reports(root.path(), &before).unwrap();
    let reporter = Reporter::new(root.path()).with_trend(TrendOptions::default());
    for e in fx::events(
        "20260110T020000Z-2",
        true,
        vec![
            with_versions("worker-reboot", 140_000, "v4.2.3"),
            fx::passing_scenario("worker-reboot-hard", 150_000),
        ],
    ) {
        reporter.emit(e);
    }
    let dir = reporter.run_dir().unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(JSON_FILE)).unwrap()).unwrap();
    let trend = &v["trend"];
    assert_eq!(
        trend["not-compared"],
        serde_json::json!(["incidents::worker-reboot (multus v4.2.1 → v4.2.3)"]),
        "{trend:#}"
    );
    let compared: Vec<&str> = trend["slos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert!(
        !compared.is_empty()
            && compared
                .iter()
                .all(|s| *s == "incidents::worker-reboot-hard"),
        "{compared:?}"
    );
    let md = std::fs::read_to_string(dir.join(MARKDOWN_FILE)).unwrap();
    assert!(
        md.contains("not compared, other component versions or preconditions than in the baseline: incidents::worker-reboot (multus v4.2.1 → v4.2.3)"),
        "{md}"
    );
}
