//! Hand-built run records for the reporters' unit tests.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::backend::BackendInfo;
use crate::fault::Evidence;
use crate::run::{Check, CheckKind, CheckStatus, Outcome, RunInfo, ScenarioResult, Verdict};
use crate::slo::{Culprit, CulpritKind, Measured, PodScope, Slo, SloStatus, SloVerdict};
use crate::suite::{Expect, ScenarioId};

use super::RunRecord;

pub(crate) const XFAIL_REASON: &str = "multus-cni #1221: stale 00-multus.conf";

pub(crate) fn info(simulated: bool) -> RunInfo {
    let mut versions = BTreeMap::new();
    versions.insert("kube-ovn".to_string(), "v1.14.0".to_string());
    versions.insert("multus".to_string(), "v4.1.0".to_string());
    RunInfo {
        run_id: "20240601-120000-abcd".into(),
        backend: BackendInfo {
            name: if simulated { "twin" } else { "kind" }.into(),
            reason: "test".into(),
            simulated,
            virtual_clock: simulated,
            versions,
        },
        seed: 42,
        started_at: "2024-06-01T12:00:00Z".parse().unwrap(),
        harness_version: "0.1.0".into(),
        estimate: None,
    }
}

pub(crate) fn multus_culprit() -> Culprit {
    Culprit {
        kind: CulpritKind::Pod,
        namespace: Some("kube-system".into()),
        name: "kube-multus-ds-abcde".into(),
        node: Some("kind-worker".into()),
        reason: "Init:CrashLoopBackOff".into(),
        restarts: Some(5),
        recovered_after: None,
    }
}

fn ready_slo() -> Slo {
    Slo::WorkloadsReadyWithin {
        scope: PodScope {
            namespace: Some("kube-system".into()),
            selector: None,
        },
        budget: Duration::from_secs(180),
    }
}

fn restarts_slo() -> Slo {
    Slo::MaxRestarts {
        scope: PodScope {
            namespace: Some("kube-system".into()),
            selector: None,
        },
        max: 2,
    }
}

fn slo(slo: Slo, status: SloStatus, measured: Measured, culprits: Vec<Culprit>) -> SloVerdict {
    let message = match status {
        SloStatus::Pass => format!("{} held", slo.kind().as_str()),
        SloStatus::Fail => format!("{} broken: measured {measured}", slo.kind().as_str()),
        SloStatus::NotEvaluated(ref why) => why.clone(),
    };
    SloVerdict {
        slo,
        status,
        measured: Some(measured),
        culprits,
        message,
    }
}

fn check(name: &str, kind: CheckKind, status: CheckStatus, message: &str) -> Check {
    let mut c = Check::new(name, kind, status, message);
    c.elapsed = Duration::from_millis(1500);
    c
}

fn steady() -> Check {
    check(
        "steady-state",
        CheckKind::SteadyState,
        CheckStatus::Passed,
        "cluster steady",
    )
}

fn effect() -> Check {
    check(
        "fault-effect",
        CheckKind::FaultEffect,
        CheckStatus::Passed,
        "ovs-vswitchd restarted",
    )
}

fn cleanup() -> Check {
    check(
        "cleanup",
        CheckKind::Cleanup,
        CheckStatus::Passed,
        "reverted",
    )
}

fn base(scenario: &str, expect: Expect) -> ScenarioResult {
    ScenarioResult {
        id: ScenarioId {
            suite: "ovs".into(),
            scenario: scenario.into(),
        },
        iteration: 1,
        repeat: 1,
        cluster: Some("chaos-1".into()),
        versions: Default::default(),
        fault: "ovs-kill ovs-vswitchd SIGKILL".into(),
        node: Some("kind-worker".into()),
        evidence: Some(Evidence::proven(
            Some("kind-worker".into()),
            vec![
                ("pid-before".into(), "100".into()),
                ("pid-after".into(), "200".into()),
            ],
        )),
        expect,
        outcome: Outcome::Passed,
        verdict: Verdict::Pass,
        checks: Vec::new(),
        slos: Vec::new(),
        symptoms: Vec::new(),
        diagnostics: None,
        lanes: Vec::new(),
        traffic: Vec::new(),
        observation: None,
        early_slos: None,
        late_relapses: Vec::new(),
        remediation_ms: None,
        started_at: "2024-06-01T12:00:05Z".parse().unwrap(),
        elapsed: Duration::from_secs(75),
    }
}

fn with_slos(mut r: ScenarioResult, slos: Vec<SloVerdict>) -> ScenarioResult {
    r.checks = vec![steady(), effect()];
    r.checks.extend(slos.iter().map(Check::from_verdict));
    r.checks.push(cleanup());
    r.slos = slos;
    r
}

fn held() -> Vec<SloVerdict> {
    vec![
        slo(
            ready_slo(),
            SloStatus::Pass,
            Measured::Millis(40_000),
            vec![],
        ),
        slo(restarts_slo(), SloStatus::Pass, Measured::Count(0), vec![]),
    ]
}

fn broken() -> Vec<SloVerdict> {
    vec![
        slo(
            ready_slo(),
            SloStatus::Fail,
            Measured::Millis(240_000),
            vec![multus_culprit()],
        ),
        slo(
            restarts_slo(),
            SloStatus::Fail,
            Measured::Count(5),
            vec![multus_culprit()],
        ),
    ]
}

fn xfail_expect() -> Expect {
    Expect::Fail {
        reason: XFAIL_REASON.into(),
        culprits: vec!["kube-multus-ds".into()],
        slos: Vec::new(),
    }
}

pub(crate) fn pass() -> ScenarioResult {
    with_slos(base("ovs-kill", Expect::Pass), held())
}

pub(crate) fn slo_fail() -> ScenarioResult {
    let mut r = with_slos(base("ovs-kill-slow", Expect::Pass), broken());
    r.outcome = Outcome::SloFailed {
        failed: r.slos.iter().map(|v| v.slo.to_string()).collect(),
    };
    r.verdict = Verdict::Fail;
    r.diagnostics =
        Some("kubectl describe pod kube-multus-ds-abcde\n  Init:CrashLoopBackOff".into());
    r
}

pub(crate) fn xfail() -> ScenarioResult {
    let mut r = slo_fail();
    r.id.scenario = "multus-leftover".into();
    r.expect = xfail_expect();
    r.verdict = Verdict::XFail;
    r
}

pub(crate) fn xpass() -> ScenarioResult {
    let mut r = pass();
    r.id.scenario = "multus-fixed".into();
    r.expect = xfail_expect();
    r.verdict = Verdict::XPass;
    r
}

fn skipped_slos(r: &mut ScenarioResult, why: &str) {
    for v in [ready_slo(), restarts_slo()] {
        let name = format!("slo: {v}");
        r.checks.push(check(
            &name,
            CheckKind::Slo,
            CheckStatus::Skipped(why.into()),
            "",
        ));
    }
}

pub(crate) fn not_run() -> ScenarioResult {
    let mut r = base("not-steady", Expect::Pass);
    r.evidence = None;
    r.node = None;
    r.checks = vec![check(
        "steady-state",
        CheckKind::SteadyState,
        CheckStatus::Failed,
        "pod kube-system/coredns-1 not Ready",
    )];
    skipped_slos(&mut r, "steady state never reached");
    r.outcome = Outcome::NotRun {
        reason: "pod kube-system/coredns-1 not Ready".into(),
    };
    r.verdict = Verdict::NotRun;
    r
}

pub(crate) fn no_effect() -> ScenarioResult {
    let mut r = base("no-effect", Expect::Pass);
    r.evidence = Some(Evidence::no_effect(
        Some("kind-worker".into()),
        "pid unchanged (100)",
    ));
    r.checks = vec![
        steady(),
        check(
            "fault-effect",
            CheckKind::FaultEffect,
            CheckStatus::Failed,
            "ovs-vswitchd pid unchanged (100)",
        ),
    ];
    skipped_slos(&mut r, "the fault had no effect");
    r.outcome = Outcome::FaultNoEffect {
        reason: "pid unchanged (100)".into(),
    };
    r.verdict = Verdict::Fail;
    r
}

pub(crate) fn harness_error() -> ScenarioResult {
    let mut r = base("exec-broke", Expect::Pass);
    r.evidence = None;
    r.checks = vec![
        steady(),
        check(
            "fault-effect",
            CheckKind::FaultEffect,
            CheckStatus::Error,
            "docker exec kind-worker: exit 1: connection refused",
        ),
    ];
    r.outcome = Outcome::HarnessError {
        message: "docker exec kind-worker: exit 1: connection refused".into(),
    };
    r.verdict = Verdict::Error;
    r
}

pub(crate) fn interrupted() -> ScenarioResult {
    let mut r = base("cut-short", Expect::Pass);
    r.checks = vec![steady(), effect()];
    skipped_slos(&mut r, "interrupted");
    r.outcome = Outcome::Interrupted;
    r.verdict = Verdict::Interrupted;
    r
}

pub(crate) fn repeated(iteration: u32) -> ScenarioResult {
    let mut r = pass();
    r.id.scenario = "ovs-kill-repeat".into();
    r.iteration = iteration;
    r.repeat = 2;
    r
}

/// Every kind of result: pass, SLO fail, xfail, xpass, not run, no effect,
/// harness error, interrupted and two repeats.
/// A hard reboot that did not leave `00-multus.conf` behind, in a scenario
/// that requires it: precondition unmet.
pub(crate) fn precondition_unmet() -> ScenarioResult {
    let mut r = base("crash-multus", Expect::Pass);
    r.fault = "hard reboot of the first worker".into();
    let mut e = Evidence::proven(
        Some("kind-worker".into()),
        vec![("mode".into(), "hard".into())],
    );
    e.preconditions.disk = Some(crate::fault::NodeDisk::from_names(
        ["01-kube-ovn.conflist".to_string()],
        true,
    ));
    r.evidence = Some(e);
    let reason = "multus-config-left is false, the scenario requires true";
    r.checks = vec![
        steady(),
        check(
            "fault took effect",
            CheckKind::FaultEffect,
            CheckStatus::Passed,
            "hard reboot",
        ),
        check(
            "precondition",
            CheckKind::Precondition,
            CheckStatus::Failed,
            &format!("requires multus-config-left: true: {reason}"),
        ),
        cleanup(),
    ];
    r.outcome = Outcome::PreconditionUnmet {
        reason: reason.into(),
    };
    r.verdict = Verdict::Unmet;
    r
}

pub(crate) fn record(simulated: bool) -> RunRecord {
    let mut record = RunRecord::new(info(simulated));
    record.results = vec![
        pass(),
        slo_fail(),
        xfail(),
        xpass(),
        not_run(),
        no_effect(),
        harness_error(),
        interrupted(),
        repeated(1),
        repeated(2),
    ];
    record.finished_at = Some("2024-06-01T12:30:00Z".parse().unwrap());
    record.interrupted = true;
    record
}
