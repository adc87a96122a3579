//! `CHAOS_DEADLINE`: past it no new scenario starts; the rest are reported
//! as "not run: deadline" (a failed trial, never a pass or a silent skip),
//! and the clusters are torn down and complete reports written. On the
//! twin, a duration deadline counts on the virtual clock.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use quick_junit::{NonSuccessKind, Report, TestCaseStatus};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn a_run_past_its_deadline_reports_the_rest_as_not_run_and_writes_complete_junit() {
    let reports = tempfile::tempdir().unwrap();
    // smoke + nightly on the default cell: 18 scenarios of minutes each in
    // virtual time; 12 virtual minutes let the first few run.
    let suites = format!(
        "{},{}",
        root().join("suites/smoke.yaml").display(),
        root().join("suites/nightly.yaml").display()
    );
    let out = support::output(
        support::twin_run(&suites, "default", reports.path()).env("CHAOS_DEADLINE", "12m"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.success(), "trials not run fail the run:\n{stdout}");
    assert_eq!(out.status.code(), Some(101), "{stderr}");

    let json = support::latest_results(reports.path());
    let results = json["results"].as_array().unwrap();
    assert_eq!(results.len(), 18, "every trial is reported, run or not");
    let mut outcomes: BTreeMap<String, String> = BTreeMap::new();
    for r in results {
        outcomes.insert(
            support::trial_name(r),
            r["outcome"]["outcome"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    let late: Vec<&String> = outcomes
        .iter()
        .filter(|(_, o)| *o == "deadline")
        .map(|(id, _)| id)
        .collect();
    let ran = results.len() - late.len();
    assert!(ran >= 1 && !late.is_empty(), "{outcomes:?}");
    // Trials run in id order: once the deadline passed, nothing after it ran.
    let order: Vec<&String> = outcomes.keys().collect();
    let first_late = order
        .iter()
        .position(|id| outcomes[*id] == "deadline")
        .unwrap();
    assert!(
        order[first_late..]
            .iter()
            .all(|id| outcomes[*id] == "deadline"),
        "{outcomes:?}"
    );
    // The ones that ran started before the deadline: their virtual times
    // before the last one add up to less than 12 minutes.
    let before_last: u64 = results
        .iter()
        .filter(|r| r["outcome"]["outcome"] != "deadline")
        .map(|r| r["elapsed"].as_u64().unwrap())
        .sum::<u64>()
        - results
            .iter()
            .filter(|r| support::trial_name(r) == *order[first_late - 1])
            .map(|r| r["elapsed"].as_u64().unwrap())
            .sum::<u64>();
    assert!(before_last < 12 * 60_000, "{before_last} ms");
    for r in results
        .iter()
        .filter(|r| r["outcome"]["outcome"] == "deadline")
    {
        assert_eq!(r["verdict"], "not-run", "{r}");
        assert!(
            r["checks"].as_array().unwrap().is_empty(),
            "nothing was checked: {r}"
        );
    }
    assert_eq!(json["summary"]["counts"]["not-run"], late.len());
    assert_eq!(json["summary"]["teardown-errors"], serde_json::json!([]));
    assert!(
        json["summary"]["finished-at"].is_string(),
        "the run finished"
    );
    assert!(
        stderr.contains("the run's deadline (12m after the start) has passed"),
        "{stderr}"
    );

    // The JUnit is complete: one testsuite per trial, the late ones failed
    // with a `deadline` testcase of type not-run-deadline.
    let xml = std::fs::read_to_string(reports.path().join("latest/junit.xml")).unwrap();
    let report = Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(report.test_suites.len(), 18);
    for id in &late {
        let suite = report
            .test_suites
            .iter()
            .find(|s| s.name.as_str() == id.as_str())
            .unwrap_or_else(|| panic!("no testsuite {id}"));
        assert_eq!(suite.failures, 1, "{id}");
        let case = suite
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == "deadline")
            .unwrap_or_else(|| panic!("{id}: no deadline testcase"));
        match &case.status {
            TestCaseStatus::NonSuccess {
                kind, ty, message, ..
            } => {
                assert_eq!(*kind, NonSuccessKind::Failure);
                assert_eq!(ty.as_ref().map(|t| t.as_str()), Some("not-run-deadline"));
                assert!(
                    message
                        .as_ref()
                        .is_some_and(|m| m.as_str().starts_with("not run: deadline")),
                    "{message:?}"
                );
            }
            other => panic!("{id}: {other:?}"),
        }
    }
    for s in report
        .test_suites
        .iter()
        .filter(|s| !late.iter().any(|id| id.as_str() == s.name.as_str()))
    {
        assert!(
            !s.test_cases.iter().any(|c| c.name.as_str() == "deadline"),
            "{} ran",
            s.name.as_str()
        );
    }
}
