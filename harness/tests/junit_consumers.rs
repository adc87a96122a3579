//! The reports as their consumers read them: the JUnit through quick-junit and
//! Python's junitparser (what CI annotators use), the JSON through serde_json,
//! and the Markdown summary; plus the reporter's on-disk layout.

use std::collections::BTreeMap;
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cni_chaos::backend::BackendInfo;
use cni_chaos::exec::Command;
use cni_chaos::fault::Evidence;
use cni_chaos::report::{
    HTML_FILE, JSON_FILE, JUNIT_FILE, LATEST_LINK, MARKDOWN_FILE, Reporter, RunRecord, junit,
};
use cni_chaos::run::{
    Check, CheckKind, CheckStatus, EventSink, Outcome, RunEvent, RunInfo, ScenarioResult, Verdict,
};
use cni_chaos::slo::{Culprit, CulpritKind, Measured, PodScope, Slo, SloStatus, SloVerdict};
use cni_chaos::suite::{Expect, ScenarioId};
use quick_junit::{NonSuccessKind, Report, TestCaseStatus};
use serde_json::Value;

const RUN_ID: &str = "run-consumers";
const XFAIL_REASON: &str = "multus-cni #1221";
const READY: &str = "slo: workloads-ready-within 3m (namespace kube-system)";

fn info() -> RunInfo {
    RunInfo {
        run_id: RUN_ID.into(),
        backend: BackendInfo {
            name: "twin".into(),
            reason: "test".into(),
            simulated: true,
            virtual_clock: false,
            versions: BTreeMap::from([("kube-ovn".to_string(), "v1.14.0".to_string())]),
        },
        seed: 7,
        started_at: "2024-06-01T12:00:00Z".parse().unwrap(),
        harness_version: "0.1.0".into(),
        estimate: None,
    }
}

fn culprit() -> Culprit {
    Culprit {
        kind: CulpritKind::Pod,
        namespace: Some("kube-system".into()),
        name: "kube-multus-ds-abcde".into(),
        node: Some("kind-worker".into()),
        reason: "Init:CrashLoopBackOff".into(),
        restarts: Some(4),
        recovered_after: None,
    }
}

fn ready(status: SloStatus, ms: u64) -> SloVerdict {
    let culprits = match status {
        SloStatus::Fail => vec![culprit()],
        _ => vec![],
    };
    SloVerdict {
        slo: Slo::WorkloadsReadyWithin {
            scope: PodScope {
                namespace: Some("kube-system".into()),
                selector: None,
            },
            budget: Duration::from_secs(180),
        },
        status,
        measured: Some(Measured::Millis(ms)),
        culprits,
        message: "pods ready".into(),
    }
}

fn result(scenario: &str, expect: Expect, verdict: Verdict, slo: SloVerdict) -> ScenarioResult {
    let outcome = match slo.status {
        SloStatus::Fail => Outcome::SloFailed {
            failed: vec![slo.slo.to_string()],
        },
        _ => Outcome::Passed,
    };
    let checks = vec![
        Check::new(
            "steady-state",
            CheckKind::SteadyState,
            CheckStatus::Passed,
            "steady",
        ),
        Check::new(
            "fault-effect",
            CheckKind::FaultEffect,
            CheckStatus::Passed,
            "restarted",
        ),
        Check::from_verdict(&slo),
        Check::new(
            "cleanup",
            CheckKind::Cleanup,
            CheckStatus::Passed,
            "reverted",
        ),
    ];
    ScenarioResult {
        id: ScenarioId {
            suite: "multus".into(),
            scenario: scenario.into(),
        },
        iteration: 1,
        repeat: 1,
        cluster: Some("chaos-1".into()),
        versions: Default::default(),
        fault: "pod-delete kube-multus-ds".into(),
        node: Some("kind-worker".into()),
        evidence: Some(Evidence::proven(
            None,
            vec![("deleted".into(), "kube-multus-ds-x".into())],
        )),
        expect,
        outcome,
        verdict,
        checks,
        slos: vec![slo],
        symptoms: Vec::new(),
        diagnostics: Some("describe: kube-multus-ds-abcde Init:CrashLoopBackOff".into()),
        lanes: Vec::new(),
        traffic: Vec::new(),
        observation: None,
        early_slos: None,
        late_relapses: Vec::new(),
        remediation_ms: None,
        started_at: "2024-06-01T12:00:01Z".parse().unwrap(),
        elapsed: Duration::from_secs(200),
    }
}

fn expect_fail() -> Expect {
    Expect::Fail {
        reason: XFAIL_REASON.into(),
        culprits: vec!["kube-multus-ds".into()],
        slos: Vec::new(),
    }
}

fn not_run() -> ScenarioResult {
    let mut r = result(
        "not-steady",
        Expect::Pass,
        Verdict::NotRun,
        ready(SloStatus::Pass, 0),
    );
    r.outcome = Outcome::NotRun {
        reason: "coredns not Ready".into(),
    };
    r.evidence = None;
    r.checks = vec![
        Check::new(
            "steady-state",
            CheckKind::SteadyState,
            CheckStatus::Failed,
            "coredns not Ready",
        ),
        Check::new(
            READY,
            CheckKind::Slo,
            CheckStatus::Skipped("steady state never reached".into()),
            "",
        ),
    ];
    r.slos.clear();
    r
}

fn results() -> Vec<ScenarioResult> {
    let mut repeat2 = result(
        "pass",
        Expect::Pass,
        Verdict::Pass,
        ready(SloStatus::Pass, 30_000),
    );
    repeat2.id.scenario = "repeat".into();
    repeat2.repeat = 2;
    let mut repeat1 = repeat2.clone();
    repeat1.iteration = 1;
    repeat2.iteration = 2;
    vec![
        result(
            "pass",
            Expect::Pass,
            Verdict::Pass,
            ready(SloStatus::Pass, 30_000),
        ),
        result(
            "fail",
            Expect::Pass,
            Verdict::Fail,
            ready(SloStatus::Fail, 240_000),
        ),
        result(
            "xfail",
            expect_fail(),
            Verdict::XFail,
            ready(SloStatus::Fail, 240_000),
        ),
        result(
            "xpass",
            expect_fail(),
            Verdict::XPass,
            ready(SloStatus::Pass, 30_000),
        ),
        not_run(),
        repeat1,
        repeat2,
    ]
}

/// The expected JUnit shape: suite -> [(case, status)].
fn expected() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    let checks = |slo: &'static str| {
        vec![
            ("steady-state", "passed"),
            ("fault-effect", "passed"),
            (READY, slo),
            ("cleanup", "passed"),
        ]
    };
    let mut xpass = checks("passed");
    xpass.push(("expectation", "failure"));
    vec![
        ("multus::pass", checks("passed")),
        ("multus::fail", checks("failure")),
        ("multus::xfail", checks("skipped")),
        ("multus::xpass", xpass),
        (
            "multus::not-steady",
            vec![("steady-state", "failure"), (READY, "skipped")],
        ),
        ("multus::repeat#1", checks("passed")),
        ("multus::repeat#2", checks("passed")),
    ]
}

/// Runs a whole record through a [`Reporter`] under `root`; returns the run dir.
fn report_run(root: &Path) -> (Reporter, PathBuf) {
    let reporter = Reporter::new(root);
    reporter.emit(RunEvent::RunStarted(info()));
    for r in results() {
        reporter.emit(RunEvent::ScenarioFinished(Box::new(r)));
    }
    reporter.emit(RunEvent::RunFinished {
        finished_at: "2024-06-01T12:20:00Z".parse().unwrap(),
        interrupted: false,
        teardown_errors: vec![],
    });
    assert!(
        reporter.write_errors().is_empty(),
        "{:?}",
        reporter.write_errors()
    );
    let dir = reporter.run_dir().unwrap();
    (reporter, dir)
}

fn status_name(status: &TestCaseStatus) -> &'static str {
    match status {
        TestCaseStatus::Success { .. } => "passed",
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Failure,
            ..
        } => "failure",
        TestCaseStatus::NonSuccess {
            kind: NonSuccessKind::Error,
            ..
        } => "error",
        TestCaseStatus::Skipped { .. } => "skipped",
    }
}

fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn reporter_layout_is_atomic_and_parseable_from_the_first_scenario() {
    let root = tempfile::tempdir().unwrap();
    let reporter = Reporter::new(root.path());
    reporter.emit(RunEvent::RunStarted(info()));
    let latest = root.path().join(LATEST_LINK);
    assert!(
        latest.join(JUNIT_FILE).is_file(),
        "files exist from the start"
    );

    let first = results().remove(1);
    reporter.emit(RunEvent::ScenarioFinished(Box::new(first)));
    let xml = std::fs::read_to_string(latest.join(JUNIT_FILE)).unwrap();
    let report = Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(report.test_suites.len(), 1);
    assert_eq!(report.test_suites[0].name.as_str(), "multus::fail");
    assert_eq!(report.failures, 1);

    #[cfg(unix)]
    {
        let target = std::fs::read_link(&latest).unwrap();
        assert_eq!(target, PathBuf::from(RUN_ID), "a relative link");
    }
    assert_eq!(
        sorted_names(root.path()),
        vec![LATEST_LINK, RUN_ID],
        "no temp files left"
    );
    assert_eq!(
        sorted_names(&root.path().join(RUN_ID)),
        vec![JUNIT_FILE, HTML_FILE, JSON_FILE, MARKDOWN_FILE],
        "no temp files left"
    );
    assert!(reporter.write_errors().is_empty());
}

#[test]
fn quick_junit_reads_one_testcase_per_check() {
    let root = tempfile::tempdir().unwrap();
    let (reporter, dir) = report_run(root.path());
    let xml = std::fs::read_to_string(dir.join(JUNIT_FILE)).unwrap();
    let report = Report::deserialize_from_str(&xml).unwrap();
    assert_eq!(report.name.as_ref().unwrap().as_str(), "cni-chaos");

    let shape: Vec<(String, Vec<(String, &str)>)> = report
        .test_suites
        .iter()
        .map(|s| {
            let cases = s
                .test_cases
                .iter()
                .map(|c| (c.name.as_str().to_string(), status_name(&c.status)))
                .collect();
            (s.name.as_str().to_string(), cases)
        })
        .collect();
    let want: Vec<(String, Vec<(String, &str)>)> = expected()
        .into_iter()
        .map(|(s, cases)| {
            let cases = cases
                .into_iter()
                .map(|(c, st)| (c.to_string(), st))
                .collect();
            (s.to_string(), cases)
        })
        .collect();
    assert_eq!(shape, want);

    // What was written is what `junit` renders from the reporter's record.
    let record: RunRecord = reporter.record().unwrap();
    assert_eq!(
        Report::deserialize_from_str(&junit(&record).to_string().unwrap()).unwrap(),
        report
    );

    let fail = &report.test_suites[1];
    let TestCaseStatus::NonSuccess { message, ty, .. } = &fail.test_cases[2].status else {
        panic!("not a failure");
    };
    assert_eq!(ty.as_ref().unwrap().as_str(), "slo-failed");
    assert!(
        message
            .as_ref()
            .unwrap()
            .as_str()
            .contains("kube-multus-ds-abcde")
    );
}

const JUNITPARSER_SCRIPT: &str = r#"
import json, sys
from junitparser import JUnitXml, TestSuite
xml = JUnitXml.fromfile(sys.argv[1])
suites = [xml] if isinstance(xml, TestSuite) else list(xml)
out = []
for s in suites:
    cases = []
    for c in s:
        results = [
            {"result": type(r).__name__.lower(), "message": r.message, "type": r.type}
            for r in c.result
        ]
        cases.append({"name": c.name, "classname": c.classname, "results": results})
    props = {p.name: p.value for p in s.properties()}
    out.append({
        "name": s.name, "tests": s.tests, "failures": s.failures,
        "errors": s.errors, "skipped": s.skipped,
        "cases": cases, "properties": props,
    })
print(json.dumps(out))
"#;

#[test]
fn junitparser_reads_one_testcase_per_check() {
    if !support::tool_runs(
        Command::new("python3").args(["-c", "import junitparser"]),
        "pip install junitparser",
    ) {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let (_reporter, dir) = report_run(root.path());
    let out = support::output(
        Command::new("python3")
            .arg("-c")
            .arg(JUNITPARSER_SCRIPT)
            .arg(support::arg(dir.join(JUNIT_FILE)))
            .timeout(Duration::from_secs(60)),
    );
    assert!(
        out.status.success(),
        "junitparser failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let suites = parsed.as_array().unwrap();

    let shape: Vec<(String, Vec<(String, String)>)> = suites
        .iter()
        .map(|s| {
            let cases = s["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    let results = c["results"].as_array().unwrap();
                    assert!(results.len() <= 1, "{c}");
                    let status = results
                        .first()
                        .map(|r| r["result"].as_str().unwrap().to_string())
                        .unwrap_or_else(|| "passed".to_string());
                    (c["name"].as_str().unwrap().to_string(), status)
                })
                .collect();
            (s["name"].as_str().unwrap().to_string(), cases)
        })
        .collect();
    let want: Vec<(String, Vec<(String, String)>)> = expected()
        .into_iter()
        .map(|(s, cases)| {
            let cases = cases
                .into_iter()
                .map(|(c, st)| (c.to_string(), st.to_string()))
                .collect();
            (s.to_string(), cases)
        })
        .collect();
    assert_eq!(shape, want);

    let by_name = |name: &str| suites.iter().find(|s| s["name"] == name).unwrap();
    let fail = by_name("multus::fail");
    assert_eq!(fail["failures"], 1);
    let failure = &fail["cases"][2]["results"][0];
    assert_eq!(failure["type"], "slo-failed");
    assert!(
        failure["message"]
            .as_str()
            .unwrap()
            .contains("kube-multus-ds-abcde")
    );
    assert_eq!(fail["cases"][2]["classname"], "multus::fail");

    let xfail = by_name("multus::xfail");
    assert_eq!(
        (&xfail["failures"], &xfail["errors"]),
        (&Value::from(0), &Value::from(0))
    );
    let skipped = xfail["cases"][2]["results"][0]["message"].as_str().unwrap();
    assert!(
        skipped.starts_with(&format!("xfail: {XFAIL_REASON}; ")),
        "{skipped}"
    );

    let xpass = by_name("multus::xpass");
    let expectation = &xpass["cases"][4]["results"][0];
    assert!(
        expectation["message"]
            .as_str()
            .unwrap()
            .starts_with("xpass: expected to fail")
    );

    let not_run = by_name("multus::not-steady");
    assert_eq!(not_run["cases"][0]["results"][0]["type"], "not-run");

    let props = &by_name("multus::pass")["properties"];
    assert_eq!(props["backend"], "twin");
    assert_eq!(props["backend-simulated"], "true");
    assert_eq!(props["seed"], "7");
    assert_eq!(props["version.kube-ovn"], "v1.14.0");
    assert_eq!(
        props["banner"],
        "results from twin (simulated), not a real cluster"
    );
    assert_eq!(props[format!("measured.{READY}")], "30000");
    assert_eq!(props[format!("budget.{READY}")], "180000");
}

#[test]
fn markdown_and_json_tell_the_same_story() {
    let root = tempfile::tempdir().unwrap();
    let (_reporter, dir) = report_run(root.path());

    let md = std::fs::read_to_string(dir.join(MARKDOWN_FILE)).unwrap();
    assert!(md.contains("results from twin (simulated), not a real cluster"));
    assert!(md.contains("| multus::xfail | ⚠️ xfail |"), "{md}");
    assert!(md.contains("| multus::xpass | ❗ XPASS |"), "{md}");
    assert!(md.contains("| multus::fail | ❌ FAIL |"), "{md}");
    assert!(md.contains("| multus::not-steady | ⏭ not run |"), "{md}");
    assert!(md.contains("kube-multus-ds-abcde"), "{md}");
    assert!(md.contains("on node `kind-worker`"), "{md}");

    let text = std::fs::read_to_string(dir.join(JSON_FILE)).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["schema-version"], 2);
    assert_eq!(v["run"]["run-id"], RUN_ID);
    assert_eq!(v["summary"]["total"], 7);
    assert_eq!(v["summary"]["counts"]["xfail"], 1);
    assert_eq!(v["summary"]["counts"]["xpass"], 1);
    assert_eq!(v["summary"]["counts"]["not-run"], 1);
    assert_eq!(v["summary"]["finished-at"], "2024-06-01T12:20:00Z");
    assert_eq!(v["results"].as_array().unwrap().len(), 7);
    assert_eq!(v["results"][1]["verdict"], "fail");
}
