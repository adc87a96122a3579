//! The JUnit XML report: one testsuite per scenario iteration, one testcase
//! per check.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::record::{RunRecord, verdict_key};
use super::trend::SloTrend;
use crate::run::{Check, CheckKind, CheckStatus, Outcome, ScenarioResult, Verdict};
use crate::slo::Measured;
use crate::suite::Expect;

/// The name of the report (the `<testsuites>` element).
pub const REPORT_NAME: &str = "cni-chaos";

/// Renders a run as JUnit.
///
/// Each [`ScenarioResult`] becomes a testsuite named by
/// [`ScenarioResult::display_name`], with one testcase per [`Check`] (class
/// name `suite::scenario`). Failed SLOs of an expected failure are reported
/// as skipped (`xfail: ...`) so they do not turn the report red; an
/// unexpected pass adds a failing `expectation` testcase; an interrupted
/// scenario adds an `interrupted` error. When the run was interrupted before
/// any scenario said so, or clusters could not be torn down, a last testsuite
/// named [`REPORT_NAME`] carries that.
pub fn junit(record: &RunRecord) -> Report {
    let mut report = Report::new(REPORT_NAME);
    report.timestamp = timestamp(record.info.started_at);
    if let Some(elapsed) = record.elapsed() {
        report.set_time(elapsed);
    }
    for result in &record.results {
        report.add_test_suite(scenario_suite(record, result));
    }
    if let Some(suite) = run_suite(record) {
        report.add_test_suite(suite);
    }
    report
}

/// quick-junit's timestamp type (chrono's), from the jiff timestamp the
/// harness uses everywhere else.
fn timestamp(ts: jiff::Timestamp) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    chrono::DateTime::parse_from_rfc3339(&ts.to_string()).ok()
}

fn scenario_suite(record: &RunRecord, r: &ScenarioResult) -> TestSuite {
    let mut suite = TestSuite::new(r.display_name());
    suite.timestamp = timestamp(r.started_at);
    suite.set_time(r.elapsed);
    suite.add_properties(properties(record, r));
    let classname = r.id.to_string();

    for check in &r.checks {
        let mut case = TestCase::new(check.name.as_str(), check_status(r, check));
        case.set_classname(classname.as_str());
        case.set_time(check.elapsed);
        if r.verdict == Verdict::XFail
            && check.kind == CheckKind::Slo
            && check.status == CheckStatus::Failed
        {
            case.add_property(Property::new("verdict", "xfail"));
        }
        if let Some(t) = trend_of(record, r, check) {
            case.add_property(Property::new("trend", t.delta()));
            case.add_property(Property::new("baseline", measured_value(t.baseline)));
            if t.regression {
                case.add_property(Property::new("regression", "true"));
            }
        }
        suite.add_test_case(case);
    }

    let extra = |suite: &mut TestSuite, name: &str, status: TestCaseStatus| {
        let mut case = TestCase::new(name, status);
        case.set_classname(classname.as_str());
        case.set_time(Duration::ZERO);
        suite.add_test_case(case);
    };
    match r.verdict {
        Verdict::NotRun if matches!(r.outcome, Outcome::Deadline { .. }) => {
            extra(
                &mut suite,
                "deadline",
                non_success(
                    NonSuccessKind::Failure,
                    "not-run-deadline",
                    &r.outcome.to_string(),
                ),
            );
        }
        Verdict::NotRun if !r.checks.iter().any(|c| c.kind == CheckKind::SteadyState) => {
            extra(
                &mut suite,
                "steady-state",
                non_success(NonSuccessKind::Failure, "not-run", &r.outcome.to_string()),
            );
        }
        Verdict::XPass => {
            let message = format!(
                "xpass: expected to fail ({}) but every SLO held; the bug may be fixed upstream: update the suite",
                expect_reason(&r.expect)
            );
            extra(
                &mut suite,
                "expectation",
                non_success(NonSuccessKind::Failure, "xpass", &message),
            );
        }
        // An expected failure whose SLOs did not fail as their own
        // expectations say: which did not, in one failing testcase.
        Verdict::Fail if r.symptoms.iter().any(|m| !m.met) => {
            let unmet: Vec<String> = r
                .symptoms
                .iter()
                .filter(|m| !m.met)
                .map(ToString::to_string)
                .collect();
            extra(
                &mut suite,
                "expectation",
                non_success(
                    NonSuccessKind::Failure,
                    "expectation-unmet",
                    &format!(
                        "expected to fail ({}) through its symptoms, but: {}",
                        expect_reason(&r.expect),
                        unmet.join("; ")
                    ),
                ),
            );
        }
        Verdict::Interrupted => {
            extra(
                &mut suite,
                "interrupted",
                non_success(
                    NonSuccessKind::Error,
                    "interrupted",
                    "interrupted by SIGINT or SIGTERM before the scenario finished",
                ),
            );
        }
        _ => {}
    }
    // A failing verdict must never render as a green suite.
    if !r.verdict.trial_passes() && suite.failures == 0 && suite.errors == 0 {
        let kind = if r.verdict == Verdict::Error {
            NonSuccessKind::Error
        } else {
            NonSuccessKind::Failure
        };
        extra(
            &mut suite,
            "outcome",
            non_success(kind, verdict_key(r.verdict), &r.outcome.to_string()),
        );
    }

    if let Some(diagnostics) = &r.diagnostics {
        suite.set_system_out(diagnostics.as_str());
    }
    suite
}

/// The trend of an SLO check, when the run has a baseline that measured it.
fn trend_of<'a>(record: &'a RunRecord, r: &ScenarioResult, check: &Check) -> Option<&'a SloTrend> {
    if check.kind != CheckKind::Slo {
        return None;
    }
    record.trend.as_ref()?.get(&r.display_name(), &check.name)
}

fn measured_value(m: Measured) -> String {
    match m {
        Measured::Millis(v) | Measured::Count(v) => v.to_string(),
    }
}

fn run_suite(record: &RunRecord) -> Option<TestSuite> {
    let scenario_said_so = record
        .results
        .iter()
        .any(|r| r.verdict == Verdict::Interrupted);
    let interrupted = record.interrupted && !scenario_said_so;
    if !interrupted && record.teardown_errors.is_empty() {
        return None;
    }
    let mut suite = TestSuite::new(REPORT_NAME);
    suite.timestamp = timestamp(record.info.started_at);
    if let Some(elapsed) = record.elapsed() {
        suite.set_time(elapsed);
    }
    suite.add_properties(run_properties(record));
    if interrupted {
        let mut case = TestCase::new(
            "interrupted",
            non_success(
                NonSuccessKind::Error,
                "interrupted",
                "the run was interrupted by SIGINT or SIGTERM",
            ),
        );
        case.set_classname(REPORT_NAME);
        suite.add_test_case(case);
    }
    if !record.teardown_errors.is_empty() {
        let mut status = non_success(
            NonSuccessKind::Error,
            "teardown",
            &record.teardown_errors.join("; "),
        );
        status.set_description(record.teardown_errors.join("\n"));
        let mut case = TestCase::new("teardown", status);
        case.set_classname(REPORT_NAME);
        suite.add_test_case(case);
    }
    Some(suite)
}

fn non_success(kind: NonSuccessKind, ty: &str, message: &str) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(kind);
    status.set_type(ty).set_message(message);
    status
}

fn check_status(r: &ScenarioResult, check: &Check) -> TestCaseStatus {
    match &check.status {
        CheckStatus::Passed => TestCaseStatus::success(),
        // An expected failure's failed SLOs, and the unhealthy cluster the
        // known bug leaves behind, are xfails, not failures.
        CheckStatus::Failed
            if r.verdict == Verdict::XFail
                && matches!(check.kind, CheckKind::Slo | CheckKind::Recovery) =>
        {
            let mut status = TestCaseStatus::skipped();
            status.set_type("xfail").set_message(format!(
                "xfail: {}; {}",
                expect_reason(&r.expect),
                check.message
            ));
            if let Some(d) = description(check) {
                status.set_description(d);
            }
            status
        }
        CheckStatus::Failed => {
            let mut status = non_success(
                NonSuccessKind::Failure,
                failure_type(r, check),
                &check.message,
            );
            if let Some(d) = description(check) {
                status.set_description(d);
            }
            status
        }
        CheckStatus::Error => non_success(NonSuccessKind::Error, "harness-error", &check.message),
        CheckStatus::Skipped(reason) => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(reason.as_str());
            if !check.message.is_empty() && check.message != *reason {
                status.set_description(check.message.as_str());
            }
            status
        }
    }
}

fn failure_type(r: &ScenarioResult, check: &Check) -> &'static str {
    match check.kind {
        CheckKind::SteadyState if r.verdict == Verdict::NotRun => "not-run",
        CheckKind::SteadyState => "steady-state",
        CheckKind::FaultEffect => "fault-no-effect",
        CheckKind::Precondition => "precondition-unmet",
        CheckKind::Remediation => "remediation-failed",
        CheckKind::Slo => "slo-failed",
        CheckKind::Cleanup => "cleanup-failed",
        CheckKind::Healing => "healing-failed",
        CheckKind::Recovery => "cluster-not-recovered",
    }
}

/// The failure's text: measured against budget, then one culprit a line.
fn description(check: &Check) -> Option<String> {
    let mut lines = Vec::new();
    match (check.measured, check.budget) {
        (Some(m), Some(b)) => lines.push(format!(
            "measured {m}, budget {}",
            crate::util::duration::format(b)
        )),
        (Some(m), None) => lines.push(format!("measured {m}")),
        _ => {}
    }
    lines.extend(check.culprits.iter().map(|c| format!("culprit: {c}")));
    (!lines.is_empty()).then(|| lines.join("\n"))
}

fn expect_reason(expect: &Expect) -> &str {
    match expect {
        Expect::Fail { reason, .. } => reason,
        Expect::Pass => "expected to fail",
    }
}

fn run_properties(record: &RunRecord) -> Vec<Property> {
    let info = &record.info;
    let mut props = Vec::new();
    if let Some(banner) = record.banner() {
        props.push(Property::new("banner", banner));
    }
    props.push(Property::new("backend", info.backend.name.as_str()));
    props.push(Property::new(
        "backend-simulated",
        info.backend.simulated.to_string(),
    ));
    props.push(Property::new(
        "backend-reason",
        info.backend.reason.as_str(),
    ));
    props.push(Property::new("seed", info.seed.to_string()));
    props.push(Property::new("run-id", info.run_id.as_str()));
    props.push(Property::new(
        "harness-version",
        info.harness_version.as_str(),
    ));
    for (k, v) in &info.backend.versions {
        props.push(Property::new(format!("version.{k}"), v.as_str()));
    }
    if let Some(line) = record.estimate_line() {
        props.push(Property::new("run-estimate", line));
    }
    props
}

fn properties(record: &RunRecord, r: &ScenarioResult) -> Vec<Property> {
    let mut props = run_properties(record);
    if let Some(cluster) = &r.cluster {
        props.push(Property::new("cluster", cluster.as_str()));
    }
    // The cluster's own versions win over the backend's: in a matrix run
    // they say which cell this result is about.
    for (k, v) in &r.versions {
        let name = format!("version.{k}");
        props.retain(|p| p.name.as_str() != name);
        props.push(Property::new(name, v.as_str()));
    }
    // This scenario's twin time beside its actual time (the testsuite's).
    if let Some(ms) = record
        .info
        .estimate
        .as_ref()
        .and_then(|e| e.per_scenario.get(&r.id.to_string()))
    {
        props.push(Property::new(
            "estimate",
            format!(
                "{} (took {})",
                crate::util::duration::format(Duration::from_millis(*ms)),
                crate::util::duration::format(r.elapsed)
            ),
        ));
    }
    props.push(Property::new("fault", r.fault.as_str()));
    if let Some(node) = &r.node {
        props.push(Property::new("node", node.as_str()));
    }
    props.push(Property::new("outcome", r.outcome.to_string()));
    props.push(Property::new("verdict", verdict_key(r.verdict)));
    if let Expect::Fail { reason, .. } = &r.expect {
        props.push(Property::new("expect", format!("fail: {reason}")));
    }
    props.push(Property::new("iteration", r.iteration.to_string()));
    props.push(Property::new("repeat", r.repeat.to_string()));
    if let Some(evidence) = &r.evidence {
        props.push(Property::new(
            "evidence.took-effect",
            evidence.took_effect.to_string(),
        ));
        for (k, v) in &evidence.facts {
            props.push(Property::new(format!("evidence.{k}"), v.as_str()));
        }
        for (k, v) in evidence.preconditions.facts() {
            props.push(Property::new(format!("precondition.{k}"), v));
        }
        if let Some(missing) = &evidence.missing {
            props.push(Property::new("evidence.missing", missing.as_str()));
        }
    }
    if let Some(w) = &r.observation {
        let ms = |d: Duration| d.as_millis().to_string();
        props.push(Property::new("observation.settle-ms", ms(w.settle)));
        props.push(Property::new("observation.floor-ms", ms(w.floor)));
        props.push(Property::new("observation.floor", w.floor_why.as_str()));
        if let Some(d) = w.decided {
            props.push(Property::new("observation.decided-ms", ms(d)));
        }
        props.push(Property::new("observation.ended-ms", ms(w.ended)));
        props.push(Property::new("observation.full-window-ms", ms(w.full)));
    }
    for f in &r.traffic {
        let ms = |d: Duration| d.as_millis().to_string();
        let key = |k: &str| format!("traffic.{}.{k}", f.flow);
        props.push(Property::new(key("received"), f.received.to_string()));
        props.push(Property::new(key("lost"), f.lost.to_string()));
        if let Some(p) = f.loss_percent {
            props.push(Property::new(key("loss-percent"), format!("{p:.3}")));
        }
        if let Some(o) = f.longest() {
            props.push(Property::new(key("longest-outage-ms"), ms(o.duration())));
        }
        for (i, o) in f.outages.iter().enumerate() {
            props.push(Property::new(
                key(&format!("outage.{i}")),
                format!(
                    "{}..{} ms, {} lost{}{}",
                    o.start.as_millis(),
                    o.end.as_millis(),
                    o.lost,
                    if o.estimated { " (estimated)" } else { "" },
                    if o.open {
                        ", open when the records end"
                    } else {
                        ""
                    }
                ),
            ));
        }
        for (i, u) in f.not_covered.iter().enumerate() {
            props.push(Property::new(
                key(&format!("not-covered.{i}")),
                format!("{}..{} ms", u.from.as_millis(), u.to.as_millis()),
            ));
        }
    }
    for l in &r.late_relapses {
        props.push(Property::new(
            format!("late-relapse.{}", l.slo),
            l.message.as_str(),
        ));
    }
    for m in &r.symptoms {
        props.push(Property::new(format!("expect.{}", m.slo), m.to_string()));
    }
    for check in r.checks.iter().filter(|c| c.kind == CheckKind::Slo) {
        if let Some(m) = check.measured {
            let value = match m {
                Measured::Millis(ms) => ms,
                Measured::Count(n) => n,
            };
            props.push(Property::new(
                format!("measured.{}", check.name),
                value.to_string(),
            ));
        }
        if let Some(b) = check.budget {
            props.push(Property::new(
                format!("budget.{}", check.name),
                b.as_millis().to_string(),
            ));
        }
        if let Some(t) = trend_of(record, r, check) {
            props.push(Property::new(format!("trend.{}", check.name), t.delta()));
            props.push(Property::new(
                format!("baseline.{}", check.name),
                measured_value(t.baseline),
            ));
        }
    }
    if let Some(trend) = &record.trend {
        match &trend.warning {
            Some(w) => props.push(Property::new("trend-warning", w.as_str())),
            None => props.push(Property::new(
                "trend-baseline",
                trend.baseline.display().to_string(),
            )),
        }
        let name = r.display_name();
        if trend.of_scenario(&name).any(|t| t.regression) {
            props.push(Property::new("regression", "true"));
        }
    }
    props
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    fn status_key(status: &TestCaseStatus) -> &'static str {
        match status {
            TestCaseStatus::Success { .. } => "success",
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

    fn message(status: &TestCaseStatus) -> String {
        match status {
            TestCaseStatus::Success { .. } => String::new(),
            TestCaseStatus::NonSuccess { message, .. }
            | TestCaseStatus::Skipped { message, .. } => message
                .as_ref()
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        }
    }

    fn ty(status: &TestCaseStatus) -> String {
        match status {
            TestCaseStatus::Success { .. } => String::new(),
            TestCaseStatus::NonSuccess { ty, .. } | TestCaseStatus::Skipped { ty, .. } => ty
                .as_ref()
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        }
    }

    fn suite<'a>(report: &'a Report, name: &str) -> &'a TestSuite {
        report
            .test_suites
            .iter()
            .find(|s| s.name.as_str() == name)
            .unwrap_or_else(|| panic!("no suite {name}"))
    }

    fn case<'a>(suite: &'a TestSuite, name: &str) -> &'a TestCase {
        suite
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == name)
            .unwrap_or_else(|| panic!("no case {name} in {}", suite.name.as_str()))
    }

    fn prop<'a>(suite: &'a TestSuite, name: &str) -> Option<&'a str> {
        suite
            .properties
            .iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.value.as_str())
    }

    /// (suite, [(case, status, type, message)]) for comparisons.
    type Shape = Vec<(String, Vec<(String, &'static str, String, String)>)>;

    fn shape(report: &Report) -> Shape {
        report
            .test_suites
            .iter()
            .map(|s| {
                let cases = s
                    .test_cases
                    .iter()
                    .map(|c| {
                        (
                            c.name.as_str().to_string(),
                            status_key(&c.status),
                            ty(&c.status),
                            message(&c.status),
                        )
                    })
                    .collect();
                (s.name.as_str().to_string(), cases)
            })
            .collect()
    }

    const READY: &str = "slo: workloads-ready-within 3m (namespace kube-system)";
    const RESTARTS: &str = "slo: max-restarts 2 (namespace kube-system)";

    #[test]
    fn the_observation_window_and_late_relapses_are_properties() {
        let mut record = fixtures::record(false);
        record.results[0].observation = Some(crate::observe::ObservedWindow {
            mode: crate::observe::ObserveMode::Early,
            settle: Duration::from_secs(30),
            floor: Duration::from_secs(85),
            floor_why: "kube-system/ovs-ovn-x started at +0s".into(),
            decided: Some(Duration::from_secs(86)),
            ended: Duration::from_secs(86),
            full: Duration::from_secs(185),
        });
        record.results[0]
            .late_relapses
            .push(crate::run::LateRelapse {
                slo: "no-crashloop init+main (namespace kube-system)".into(),
                message: "1 crash-loop entries".into(),
                culprits: Vec::new(),
                seen_until: Duration::from_secs(120),
            });
        let report = junit(&record);
        let s = &report.test_suites[0];
        assert_eq!(prop(s, "observation.settle-ms"), Some("30000"));
        assert_eq!(prop(s, "observation.floor-ms"), Some("85000"));
        assert_eq!(prop(s, "observation.decided-ms"), Some("86000"));
        assert_eq!(prop(s, "observation.full-window-ms"), Some("185000"));
        assert_eq!(
            prop(
                s,
                "late-relapse.no-crashloop init+main (namespace kube-system)"
            ),
            Some("1 crash-loop entries")
        );
    }

    #[test]
    fn each_flow_s_outages_loss_and_coverage_are_properties() {
        let mut record = fixtures::record(false);
        record.results[0].traffic = vec![crate::observe::traffic::sample_flow()];
        let report = junit(&record);
        let suite = &report.test_suites[0];
        let p = |k: &str| prop(suite, &format!("traffic.pod-to-pod a -> b.{k}"));
        assert_eq!(p("received"), Some("200"));
        assert_eq!(p("loss-percent"), Some("33.333"));
        assert_eq!(p("longest-outage-ms"), Some("20135"));
        assert_eq!(p("outage.0"), Some("4000..24135 ms, 100 lost"));
        assert_eq!(p("not-covered.0"), Some("50000..60000 ms"));
        // The JSON report serializes the same result.
        let json = serde_json::to_value(&record.results[0]).unwrap();
        let o = &json["traffic"][0]["outages"][0];
        assert_eq!(
            (o["start"].as_u64(), o["lost"].as_u64()),
            (Some(4_000), Some(100))
        );
    }

    #[test]
    fn one_suite_per_result_and_one_case_per_check() {
        let record = fixtures::record(true);
        let report = junit(&record);
        assert_eq!(report.name.as_ref().map(|n| n.as_str()), Some(REPORT_NAME));
        assert_eq!(report.test_suites.len(), record.results.len());
        for (s, r) in report.test_suites.iter().zip(&record.results) {
            assert_eq!(s.name.as_str(), r.display_name());
            let names: Vec<&str> = s.test_cases.iter().map(|c| c.name.as_str()).collect();
            let checks: Vec<&str> = r.checks.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(&names[..checks.len()], &checks[..], "{}", r.display_name());
            for c in &s.test_cases {
                assert_eq!(c.classname.as_ref().unwrap().as_str(), r.id.to_string());
            }
            assert_eq!(s.timestamp, timestamp(r.started_at));
            assert!(s.timestamp.is_some());
            assert_eq!(s.time, Some(r.elapsed));
            assert_eq!(prop(s, "verdict"), Some(verdict_key(r.verdict)));
        }
        assert!(report.timestamp.is_some());
        assert_eq!(report.time, record.elapsed());
        let names: Vec<&str> = report.test_suites.iter().map(|s| s.name.as_str()).collect();
        assert!(names.contains(&"ovs::ovs-kill-repeat#1"));
        assert!(names.contains(&"ovs::ovs-kill-repeat#2"));
    }

    #[test]
    fn pass_is_green_with_properties() {
        let report = junit(&fixtures::record(true));
        let s = suite(&report, "ovs::ovs-kill");
        assert_eq!((s.failures, s.errors, s.skipped), (0, 0, 0));
        assert_eq!(s.tests, 5);
        for (name, value) in [
            ("backend", "twin"),
            ("backend-simulated", "true"),
            ("seed", "42"),
            ("run-id", "20240601-120000-abcd"),
            ("cluster", "chaos-1"),
            ("fault", "ovs-kill ovs-vswitchd SIGKILL"),
            ("node", "kind-worker"),
            ("outcome", "passed"),
            ("verdict", "pass"),
            ("iteration", "1"),
            ("version.kube-ovn", "v1.14.0"),
            ("version.multus", "v4.1.0"),
            ("evidence.pid-before", "100"),
            ("evidence.pid-after", "200"),
            (
                "banner",
                "results from twin (simulated), not a real cluster",
            ),
        ] {
            assert_eq!(prop(s, name), Some(value), "{name}");
        }
        assert_eq!(prop(s, &format!("measured.{READY}")), Some("40000"));
        assert_eq!(prop(s, &format!("budget.{READY}")), Some("180000"));
        assert_eq!(prop(s, &format!("measured.{RESTARTS}")), Some("0"));
        assert_eq!(prop(s, &format!("budget.{RESTARTS}")), None);

        let real = junit(&fixtures::record(false));
        assert_eq!(prop(suite(&real, "ovs::ovs-kill"), "banner"), None);
    }

    #[test]
    fn slo_failure_names_culprits() {
        let report = junit(&fixtures::record(false));
        let s = suite(&report, "ovs::ovs-kill-slow");
        assert_eq!(s.failures, 2);
        let c = case(s, READY);
        assert_eq!(status_key(&c.status), "failure");
        assert_eq!(ty(&c.status), "slo-failed");
        assert!(
            message(&c.status).contains("kube-multus-ds-abcde"),
            "{}",
            message(&c.status)
        );
        let TestCaseStatus::NonSuccess { description, .. } = &c.status else {
            unreachable!()
        };
        let d = description.as_ref().unwrap().as_str();
        assert!(d.contains("measured 4m, budget 3m"), "{d}");
        assert!(d.contains("kind-worker") && d.contains("5 restarts"), "{d}");
        assert_eq!(status_key(&case(s, "steady-state").status), "success");
        assert!(
            s.system_out
                .as_ref()
                .unwrap()
                .as_str()
                .contains("describe pod")
        );
    }

    #[test]
    fn xfail_is_skipped_not_red() {
        let report = junit(&fixtures::record(false));
        let s = suite(&report, "ovs::multus-leftover");
        assert_eq!((s.failures, s.errors), (0, 0));
        assert_eq!(s.skipped, 2);
        let c = case(s, READY);
        assert_eq!(status_key(&c.status), "skipped");
        let m = message(&c.status);
        assert!(
            m.starts_with(&format!("xfail: {}; ", fixtures::XFAIL_REASON)),
            "{m}"
        );
        assert!(m.contains("kube-multus-ds-abcde"), "{m}");
        assert!(
            c.properties
                .iter()
                .any(|p| p.name.as_str() == "verdict" && p.value.as_str() == "xfail")
        );
        assert_eq!(prop(s, "verdict"), Some("xfail"));
    }

    #[test]
    fn an_unmet_symptom_fails_the_expectation_and_every_symptom_is_a_property() {
        use crate::run::SymptomMatch;
        let mut r = fixtures::xfail();
        r.verdict = Verdict::Fail;
        let symptom = |slo: &str, expected_to_fail, status: &str, met| SymptomMatch {
            slo: slo.into(),
            expected_to_fail,
            status: status.into(),
            missing: if met {
                Vec::new()
            } else {
                vec!["pod probe-dns* on the faulted node".into()]
            },
            source: expected_to_fail.then(|| "multus-cni@v4.2.1".to_string()),
            met,
        };
        r.symptoms = vec![
            symptom("no-crashloop init", true, "fail", true),
            symptom("probe-succeeds-within 3m (dns)", true, "pass", false),
        ];
        let mut record = RunRecord::new(fixtures::info(false));
        record.results = vec![r];
        let report = junit(&record);
        let s = &report.test_suites[0];
        let c = case(s, "expectation");
        assert_eq!(status_key(&c.status), "failure");
        assert_eq!(ty(&c.status), "expectation-unmet");
        let m = message(&c.status);
        assert!(
            m.contains("probe-succeeds-within 3m (dns): expected to fail, pass (NOT as expected)")
                && !m.contains("no-crashloop"),
            "only the unmet symptom: {m}"
        );
        assert_eq!(
            prop(s, "expect.no-crashloop init"),
            Some(
                "no-crashloop init: expected to fail, fail (as expected); source: multus-cni@v4.2.1"
            )
        );
        assert!(prop(s, "expect.probe-succeeds-within 3m (dns)").is_some());
    }

    #[test]
    fn xpass_fails_the_expectation() {
        let report = junit(&fixtures::record(false));
        let s = suite(&report, "ovs::multus-fixed");
        assert_eq!(s.failures, 1);
        let c = case(s, "expectation");
        assert_eq!(status_key(&c.status), "failure");
        assert_eq!(
            message(&c.status),
            format!(
                "xpass: expected to fail ({}) but every SLO held; the bug may be fixed upstream: update the suite",
                fixtures::XFAIL_REASON
            )
        );
    }

    #[test]
    fn not_run_no_effect_error_and_interrupted() {
        let report = junit(&fixtures::record(false));
        let s = suite(&report, "ovs::not-steady");
        let c = case(s, "steady-state");
        assert_eq!(
            (status_key(&c.status), ty(&c.status).as_str()),
            ("failure", "not-run")
        );
        assert_eq!(status_key(&case(s, READY).status), "skipped");
        assert_eq!(
            message(&case(s, READY).status),
            "steady state never reached"
        );

        let s = suite(&report, "ovs::no-effect");
        let c = case(s, "fault-effect");
        assert_eq!(
            (status_key(&c.status), ty(&c.status).as_str()),
            ("failure", "fault-no-effect")
        );
        assert_eq!(prop(s, "evidence.missing"), Some("pid unchanged (100)"));

        let s = suite(&report, "ovs::exec-broke");
        assert_eq!((s.failures, s.errors), (0, 1));
        assert_eq!(status_key(&case(s, "fault-effect").status), "error");

        let s = suite(&report, "ovs::cut-short");
        assert_eq!(status_key(&case(s, "interrupted").status), "error");
        assert_eq!(status_key(&case(s, READY).status), "skipped");
    }

    #[test]
    fn every_failing_verdict_is_red_and_passing_ones_green() {
        let record = fixtures::record(false);
        let report = junit(&record);
        for (s, r) in report.test_suites.iter().zip(&record.results) {
            let red = s.failures + s.errors > 0;
            assert_eq!(red, !r.verdict.trial_passes(), "{}", s.name.as_str());
        }
        // A failing verdict without any failing check still goes red.
        let mut r = fixtures::slo_fail();
        r.checks.clear();
        let mut bare = record.clone();
        bare.results = vec![r];
        let report = junit(&bare);
        assert_eq!(report.test_suites[0].failures, 1);
        assert_eq!(report.test_suites[0].test_cases[0].name.as_str(), "outcome");
    }

    #[test]
    fn run_level_interrupt_and_teardown() {
        let mut record = fixtures::record(false);
        record.results.clear();
        record.teardown_errors = vec!["kind delete cluster chaos-1: exit 1".into()];
        let report = junit(&record);
        assert_eq!(report.test_suites.len(), 1);
        let s = &report.test_suites[0];
        assert_eq!(s.name.as_str(), REPORT_NAME);
        assert_eq!(status_key(&case(s, "interrupted").status), "error");
        assert!(message(&case(s, "teardown").status).contains("chaos-1"));

        let mut quiet = fixtures::record(false);
        quiet.interrupted = false;
        assert_eq!(junit(&quiet).test_suites.len(), quiet.results.len());
    }

    #[test]
    fn round_trips_through_quick_junit() {
        let report = junit(&fixtures::record(true));
        let xml = report.to_string().unwrap();
        let back = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(shape(&back), shape(&report));
        assert_eq!(back.tests, report.tests);
        assert_eq!(
            (back.failures, back.errors, back.skipped),
            (report.failures, report.errors, report.skipped)
        );
        for (a, b) in back.test_suites.iter().zip(&report.test_suites) {
            assert_eq!(a.properties, b.properties);
            assert_eq!(a.timestamp, b.timestamp);
            assert_eq!(a.system_out, b.system_out);
        }
    }

    #[test]
    fn an_unmet_precondition_is_a_failed_precondition_testcase_with_the_recorded_disk() {
        let mut record = fixtures::record(false);
        record.results = vec![fixtures::precondition_unmet()];
        let report = junit(&record);
        let s = &report.test_suites[0];
        assert_eq!(s.failures, 1, "never a green suite");
        let case = s
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == "precondition")
            .expect("a precondition testcase");
        match &case.status {
            TestCaseStatus::NonSuccess {
                kind, ty, message, ..
            } => {
                assert_eq!(*kind, NonSuccessKind::Failure);
                assert_eq!(ty.as_deref(), Some("precondition-unmet"));
                assert!(
                    message
                        .as_deref()
                        .unwrap()
                        .contains("multus-config-left is false"),
                    "{message:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            prop(s, "precondition.00-multus.conf while down"),
            Some("absent")
        );
        assert_eq!(
            prop(s, "precondition.first CNI config while down"),
            Some("01-kube-ovn.conflist")
        );
        assert_eq!(prop(s, "verdict"), Some("precondition-unmet"));
    }
}
