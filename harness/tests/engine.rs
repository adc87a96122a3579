//! The scenario engine at the backend seam, with the scripted backend: every
//! outcome path, revert on panic and interrupt, remediation timing.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cni_chaos::backend::scripted::{Plan, PlanCulprit, ScenarioPlan, ScriptedBackend};
use cni_chaos::backend::{Backend, Cluster};
use cni_chaos::run::{
    CheckKind, CheckStatus, Engine, EventSink, Outcome, RunEvent, ScenarioResult, Verdict,
};
use cni_chaos::suite::{self, Suite};
use tokio_util::sync::CancellationToken;

const SUITE: &str = r#"
name: engine
description: engine tests
scenarios:
  - name: reboot
    fault: {kind: node-reboot, target: {role: worker, index: 1}, mode: hard}
    slos:
      - {kind: workloads-ready-within, budget: 3m}
      - {kind: no-crashloop, containers: init}
  - name: known-bug
    fault: {kind: node-reboot, target: {role: worker}, mode: graceful}
    expect: {outcome: fail, reason: "multus-cni #1221", culprits: [kube-multus-ds]}
    slos:
      - {kind: no-crashloop, containers: init}
  - name: remediated
    fault: {kind: node-reboot, target: {role: worker}, mode: graceful}
    remediation:
      after: 2m
      steps:
        - {kind: remove-file, path: /opt/cni/bin/multus-shim}
        - {kind: pod-delete, selector: app=multus}
    slos:
      - {kind: workloads-ready-within, budget: 3m}
  - name: versioned-bug
    fault: {kind: node-reboot, target: {role: worker}, mode: graceful}
    expect: {outcome: fail, reason: "multus-cni #1221", culprits: [kube-multus-ds], when: {multus: "<v4.2.3"}}
    slos:
      - {kind: no-crashloop, containers: init}
  - name: old-kubernetes-bug
    fault: {kind: node-reboot, target: {role: worker}, mode: graceful}
    expect: {outcome: fail, reason: "a bug of Kubernetes before 1.34", culprits: [kube-multus-ds], when: {kubernetes: "<v1.34"}}
    slos:
      - {kind: no-crashloop, containers: init}
  - name: needs-leftover
    fault: {kind: node-reboot, target: {role: worker}, mode: hard}
    requires: {multus-config-left: true}
    expect: {outcome: fail, reason: "multus-cni #1221", culprits: [kube-multus-ds], when: {multus-config-left: true}}
    slos:
      - {kind: no-crashloop, containers: init}
  - name: heals
    fault: {kind: node-reboot, target: {role: worker}, mode: hard}
    heal:
      budget: 1m
      steps:
        - {kind: remove-file, path: /opt/cni/bin/multus-shim}
        - {kind: pod-delete, selector: app=multus}
    slos:
      - {kind: workloads-ready-within, budget: 3m}
  - name: missing-node
    fault: {kind: node-reboot, target: {role: worker, index: 5}, mode: hard}
    slos:
      - {kind: node-ip-stable}
"#;

#[derive(Default)]
struct Events(Mutex<Vec<RunEvent>>);

impl EventSink for Events {
    fn emit(&self, event: RunEvent) {
        self.0.lock().unwrap().push(event);
    }
}

fn suite() -> Suite {
    suite::parse_str(Path::new("engine.yaml"), SUITE).unwrap_or_else(|p| panic!("{p:?}"))
}

struct Setup {
    backend: ScriptedBackend,
    cluster: Arc<dyn Cluster>,
    events: Arc<Events>,
    cancel: CancellationToken,
    engine: Engine,
}

async fn setup(plans: &[(&str, ScenarioPlan)]) -> Setup {
    setup_with(plans, &[]).await
}

async fn setup_with(plans: &[(&str, ScenarioPlan)], versions: &[(&str, &str)]) -> Setup {
    let plan = Plan {
        scenarios: plans
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        versions: versions
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Plan::default()
    };
    let backend = ScriptedBackend::new(plan);
    let cancel = CancellationToken::new();
    let cluster = backend.provision(&suite().cluster, &cancel).await.unwrap();
    let events = Arc::new(Events::default());
    let engine = Engine {
        cluster: cluster.clone(),
        events: events.clone(),
        cancel: cancel.clone(),
        seed: 1,
        diagnostics_dir: std::env::temp_dir().join("cni-chaos-engine-test"),
    };
    Setup {
        backend,
        cluster,
        events,
        cancel,
        engine,
    }
}

async fn run(s: &Setup, name: &str) -> ScenarioResult {
    let suite = suite();
    let sc = suite.scenarios.iter().find(|x| x.name == name).unwrap();
    s.engine.run(&suite.id_of(sc), sc, 1).await
}

/// A pod an SLO names as held in `Init:CrashLoopBackOff`.
fn crash_looping(name: &str, node: Option<&str>) -> PlanCulprit {
    PlanCulprit {
        name: name.into(),
        reason: "Init:CrashLoopBackOff".into(),
        node: node.map(str::to_string),
    }
}

fn check_names(r: &ScenarioResult) -> Vec<(CheckKind, CheckStatus)> {
    r.checks
        .iter()
        .map(|c| (c.kind, c.status.clone()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_clean_recovery_passes_with_one_check_per_phase_and_slo() {
    let s = setup(&[]).await;
    let r = run(&s, "reboot").await;
    assert_eq!(r.outcome, Outcome::Passed);
    assert_eq!(r.verdict, Verdict::Pass);
    assert_eq!(
        r.node.as_deref(),
        Some("scripted-worker2"),
        "index 1 of the workers"
    );
    assert_eq!(
        check_names(&r),
        vec![
            (CheckKind::SteadyState, CheckStatus::Passed),
            (CheckKind::FaultEffect, CheckStatus::Passed),
            (CheckKind::Slo, CheckStatus::Passed),
            (CheckKind::Slo, CheckStatus::Passed),
            (CheckKind::Cleanup, CheckStatus::Passed),
            (CheckKind::Recovery, CheckStatus::Passed),
        ]
    );
    assert!(!r.left_cluster_unhealthy());
    let journal = s.backend.journal().lines();
    assert_eq!(
        journal,
        vec![
            "provision scripted-default-default",
            "steady-state reboot",
            "inject node-reboot on scripted-worker2",
            "observe reboot",
            "revert node-reboot",
            "steady-state reboot",
        ]
    );
    let events = s.events.0.lock().unwrap();
    assert!(matches!(
        events.first(),
        Some(RunEvent::ScenarioStarted { .. })
    ));
    assert!(matches!(events.last(), Some(RunEvent::ScenarioFinished(_))));
    let checks = events
        .iter()
        .filter(|e| matches!(e, RunEvent::CheckFinished { .. }))
        .count();
    assert_eq!(checks, 6);
}

#[tokio::test(start_paused = true)]
async fn a_failed_slo_names_its_culprits_and_is_diagnosed() {
    let plan = ScenarioPlan {
        fail: vec![1],
        culprits: vec![crash_looping("kube-multus-ds-x1", Some("scripted-worker2"))],
        ..ScenarioPlan::default()
    };
    let s = setup(&[("reboot", plan)]).await;
    let r = run(&s, "reboot").await;
    assert!(
        matches!(&r.outcome, Outcome::SloFailed { failed } if failed.len() == 1),
        "{:?}",
        r.outcome
    );
    assert_eq!(r.verdict, Verdict::Fail);
    let failed: Vec<_> = r
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Failed)
        .collect();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0].message.contains("kube-multus-ds-x1"),
        "{}",
        failed[0].message
    );
    assert!(
        r.diagnostics
            .as_deref()
            .unwrap_or("")
            .contains("kube-multus-ds-x1")
    );
    assert!(
        s.backend
            .journal()
            .lines()
            .contains(&"diagnose 1".to_string())
    );
}

/// A culprit that fails several SLOs is diagnosed once.
#[tokio::test(start_paused = true)]
async fn a_culprit_of_several_slos_is_diagnosed_once() {
    let plan = ScenarioPlan {
        fail_all: true,
        culprits: vec![crash_looping("kube-multus-ds-x1", Some("scripted-worker2"))],
        ..ScenarioPlan::default()
    };
    let s = setup(&[("reboot", plan)]).await;
    let r = run(&s, "reboot").await;
    assert!(
        matches!(&r.outcome, Outcome::SloFailed { failed } if failed.len() == 2),
        "{:?}",
        r.outcome
    );
    let journal = s.backend.journal().lines();
    assert!(journal.contains(&"diagnose 1".to_string()), "{journal:?}");
    assert_eq!(
        r.diagnostics
            .as_deref()
            .unwrap_or("")
            .matches("kube-multus-ds-x1")
            .count(),
        1,
        "{:?}",
        r.diagnostics
    );
}

#[tokio::test(start_paused = true)]
async fn expected_failures_need_the_expected_culprit() {
    let culprit = |name: &str| ScenarioPlan {
        fail_all: true,
        culprits: vec![crash_looping(name, None)],
        ..ScenarioPlan::default()
    };
    let s = setup(&[("known-bug", culprit("kube-multus-ds-abc"))]).await;
    assert_eq!(run(&s, "known-bug").await.verdict, Verdict::XFail);
    let s = setup(&[("known-bug", culprit("coredns-abc"))]).await;
    assert_eq!(
        run(&s, "known-bug").await.verdict,
        Verdict::Fail,
        "wrong culprit"
    );
    let s = setup(&[]).await;
    assert_eq!(
        run(&s, "known-bug").await.verdict,
        Verdict::XPass,
        "the bug is gone"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fault_without_effect_fails_and_never_passes() {
    let plan = ScenarioPlan {
        effect: false,
        ..ScenarioPlan::default()
    };
    let s = setup(&[("reboot", plan)]).await;
    let r = run(&s, "reboot").await;
    assert!(
        matches!(r.outcome, Outcome::FaultNoEffect { .. }),
        "{:?}",
        r.outcome
    );
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(
        r.slos.is_empty(),
        "nothing is judged after a fault that did nothing"
    );
    assert!(
        s.backend
            .journal()
            .lines()
            .contains(&"revert node-reboot".to_string())
    );
}

#[tokio::test(start_paused = true)]
async fn an_unsteady_cluster_is_not_run_and_nothing_is_injected() {
    let plan = ScenarioPlan {
        steady: false,
        ..ScenarioPlan::default()
    };
    let s = setup(&[("reboot", plan)]).await;
    let r = run(&s, "reboot").await;
    assert!(
        matches!(r.outcome, Outcome::NotRun { .. }),
        "{:?}",
        r.outcome
    );
    assert_eq!(r.verdict, Verdict::NotRun);
    assert!(!r.verdict.trial_passes());
    let journal = s.backend.journal().lines();
    assert!(
        !journal
            .iter()
            .any(|l| l.starts_with("inject") || l.starts_with("revert")),
        "{journal:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn infrastructure_errors_are_errors_not_failures() {
    let plan = ScenarioPlan {
        inject_error: Some("docker: no such container".into()),
        ..ScenarioPlan::default()
    };
    let s = setup(&[("reboot", plan)]).await;
    let r = run(&s, "reboot").await;
    assert!(
        matches!(&r.outcome, Outcome::HarnessError { message } if message.contains("no such container"))
    );
    assert_eq!(r.verdict, Verdict::Error);
    // Injection was attempted, so revert runs.
    assert!(
        s.backend
            .journal()
            .lines()
            .contains(&"revert node-reboot".to_string())
    );

    let s = setup(&[]).await;
    let r = run(&s, "missing-node").await;
    assert!(
        matches!(&r.outcome, Outcome::HarnessError { message } if message.contains("worker #5")),
        "{:?}",
        r.outcome
    );
}

#[tokio::test(start_paused = true)]
async fn a_panic_in_a_phase_is_an_error_and_the_fault_is_still_reverted() {
    let plan = ScenarioPlan {
        panic_in: Some("observe".into()),
        ..ScenarioPlan::default()
    };
    let s = setup(&[("reboot", plan)]).await;
    let r = run(&s, "reboot").await;
    assert!(
        matches!(&r.outcome, Outcome::HarnessError { message } if message.contains("scripted panic in observe")),
        "{:?}",
        r.outcome
    );
    let journal = s.backend.journal().lines();
    let panicked = journal.iter().position(|l| l == "panic in observe");
    let reverted = journal.iter().position(|l| l == "revert node-reboot");
    assert!(
        panicked.is_some() && reverted > panicked,
        "the revert follows the panic: {journal:?}"
    );
    let kinds: Vec<CheckKind> = r.checks.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds[kinds.len() - 2..],
        [CheckKind::Cleanup, CheckKind::Recovery],
        "{kinds:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_interrupt_mid_observation_reverts_and_reports_interrupted() {
    let plan = ScenarioPlan {
        observe_ms: 600_000,
        ..ScenarioPlan::default()
    };
    let s = setup(&[("reboot", plan)]).await;
    let cancel = s.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        cancel.cancel();
    });
    let r = run(&s, "reboot").await;
    assert_eq!(r.outcome, Outcome::Interrupted);
    assert_eq!(r.verdict, Verdict::Interrupted);
    assert!(r.elapsed < Duration::from_secs(60), "{:?}", r.elapsed);
    let journal = s.backend.journal().lines();
    assert_eq!(
        journal.last().map(String::as_str),
        Some("revert node-reboot"),
        "{journal:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn remediation_waits_then_applies_steps_on_the_faulted_node() {
    let s = setup(&[]).await;
    let t0 = tokio::time::Instant::now();
    let r = run(&s, "remediated").await;
    assert_eq!(r.outcome, Outcome::Passed);
    assert!(
        t0.elapsed() >= Duration::from_secs(120),
        "{:?}",
        t0.elapsed()
    );
    let journal = s.backend.journal().lines();
    assert!(
        journal.contains(
            &"remediate remove-file /opt/cni/bin/multus-shim on scripted-worker".to_string()
        ),
        "{journal:?}"
    );
    assert!(
        journal.contains(&"remediate pod-delete app=multus on scripted-worker".to_string()),
        "{journal:?}"
    );
    let inject = journal
        .iter()
        .position(|l| l.starts_with("inject"))
        .unwrap();
    let remediate = journal
        .iter()
        .position(|l| l.starts_with("remediate"))
        .unwrap();
    let observe = journal
        .iter()
        .position(|l| l.starts_with("observe"))
        .unwrap();
    assert!(inject < remediate && remediate < observe, "{journal:?}");
    assert!(
        r.checks
            .iter()
            .any(|c| c.kind == CheckKind::Remediation && c.status == CheckStatus::Passed)
    );
    drop(s.cluster);
}

/// Every SLO fails, held back by a Multus pod in `Init:CrashLoopBackOff`.
fn multus_bug() -> ScenarioPlan {
    ScenarioPlan {
        fail_all: true,
        culprits: vec![crash_looping("kube-multus-ds-abc", None)],
        ..ScenarioPlan::default()
    }
}

/// `when: {kubernetes: ...}` selects on the Kubernetes version the cluster
/// reports: the node image's on kind (v1.33.7 for the Kube-OVN 1.13 and
/// 1.14 cells, v1.35.0 for the others), the cell's on the twin.
#[tokio::test(start_paused = true)]
async fn a_kubernetes_condition_picks_the_expectation_by_the_node_image_version() {
    let bug = multus_bug();
    let s = setup_with(
        &[("old-kubernetes-bug", bug.clone())],
        &[("kubernetes", "v1.33.7")],
    )
    .await;
    let r = run(&s, "old-kubernetes-bug").await;
    assert_eq!(r.verdict, Verdict::XFail, "{:?}", r.outcome);
    let s = setup_with(&[("old-kubernetes-bug", bug)], &[("kubernetes", "v1.35.0")]).await;
    let r = run(&s, "old-kubernetes-bug").await;
    assert_eq!(r.verdict, Verdict::Fail, "{:?}", r.outcome);
    assert_eq!(r.expect, cni_chaos::suite::Expect::Pass);
}

#[tokio::test(start_paused = true)]
async fn version_conditions_pick_the_expectation() {
    let bug = multus_bug();
    // Racy Multus reproduces the bug: expected failure.
    let s = setup_with(&[("versioned-bug", bug.clone())], &[("multus", "v4.2.1")]).await;
    let r = run(&s, "versioned-bug").await;
    assert_eq!(r.verdict, Verdict::XFail);
    assert!(matches!(r.expect, cni_chaos::suite::Expect::Fail { .. }));
    // Fixed Multus is expected to pass: a failure there is a real failure...
    let s = setup_with(&[("versioned-bug", bug)], &[("multus", "v4.2.3")]).await;
    let r = run(&s, "versioned-bug").await;
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.expect, cni_chaos::suite::Expect::Pass);
    // ...and a pass is a pass, not an xpass.
    let s = setup_with(&[], &[("multus", "v4.3.0")]).await;
    assert_eq!(run(&s, "versioned-bug").await.verdict, Verdict::Pass);
    // A cluster that does not report the version cannot be judged.
    let s = setup(&[]).await;
    let r = run(&s, "versioned-bug").await;
    assert_eq!(r.verdict, Verdict::Error);
    assert!(
        matches!(&r.outcome, Outcome::HarnessError { message } if message.contains("multus version")),
        "{:?}",
        r.outcome
    );
}

#[tokio::test(start_paused = true)]
async fn a_cluster_that_healed_before_the_remediation_gets_none() {
    let plan = ScenarioPlan {
        heals_before_remediation: true,
        ..ScenarioPlan::default()
    };
    let s = setup(&[("remediated", plan)]).await;
    let r = run(&s, "remediated").await;
    assert_eq!(r.outcome, Outcome::Passed);
    let journal = s.backend.journal().lines();
    assert!(
        !journal.iter().any(|l| l.starts_with("remediate")),
        "nothing applied: {journal:?}"
    );
    let rem = r
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::Remediation)
        .expect("a remediation check");
    assert!(
        matches!(&rem.status, CheckStatus::Skipped(why) if why.contains("recovered by itself")),
        "{:?}",
        rem.status
    );
    // Budgets count from when it was due (2m after the fault's injection
    // began), and the result says so for the reports.
    let due = r
        .remediation_ms
        .expect("when the skipped remediation was due");
    assert!((120_000..125_000).contains(&due), "{due}");
}

#[tokio::test(start_paused = true)]
async fn healing_brings_back_a_cluster_left_unhealthy_instead_of_replacing_it() {
    let plan = ScenarioPlan {
        unhealthy_after_revert: true,
        healed_by_steps: true,
        ..ScenarioPlan::default()
    };
    let s = setup(&[("heals", plan)]).await;
    let r = run(&s, "heals").await;
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.outcome);
    assert!(!r.left_cluster_unhealthy());
    let kinds: Vec<CheckKind> = r.checks.iter().map(|c| c.kind).collect();
    let at = kinds
        .iter()
        .position(|k| *k == CheckKind::Healing)
        .expect("a healing check");
    assert_eq!(
        kinds[at - 1],
        CheckKind::Cleanup,
        "after the revert: {kinds:?}"
    );
    assert_eq!(kinds[at + 1], CheckKind::Recovery, "{kinds:?}");
    let healing = &r.checks[at];
    assert_eq!(healing.status, CheckStatus::Passed);
    assert!(
        healing
            .message
            .contains("remove-file /opt/cni/bin/multus-shim"),
        "{}",
        healing.message
    );
    assert_eq!(healing.culprits.len(), 1, "what was unhealthy before it");
    assert!(
        r.checks[at + 1].message.contains("after healing"),
        "{}",
        r.checks[at + 1].message
    );
    let journal = s.backend.journal().lines();
    let revert = journal
        .iter()
        .position(|l| l.starts_with("revert"))
        .unwrap();
    let healed = journal
        .iter()
        .position(|l| l.starts_with("remediate remove-file"))
        .unwrap();
    assert!(revert < healed, "{journal:?}");
}

#[tokio::test(start_paused = true)]
async fn healing_that_does_not_help_replaces_the_cluster_and_a_healthy_one_gets_none() {
    let plan = ScenarioPlan {
        unhealthy_after_revert: true,
        ..ScenarioPlan::default()
    };
    let s = setup(&[("heals", plan)]).await;
    let r = run(&s, "heals").await;
    assert!(r.left_cluster_unhealthy());
    let healing = r
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::Healing)
        .expect("healing");
    assert_eq!(healing.status, CheckStatus::Passed, "it was applied");
    let rec = r.checks.last().unwrap();
    assert_eq!(
        (rec.kind, &rec.status),
        (CheckKind::Recovery, &CheckStatus::Failed)
    );
    assert!(
        rec.message.contains("after healing") && rec.message.contains("replaced"),
        "{}",
        rec.message
    );

    let s = setup(&[("heals", ScenarioPlan::default())]).await;
    let r = run(&s, "heals").await;
    assert!(
        !r.checks.iter().any(|c| c.kind == CheckKind::Healing),
        "{:?}",
        r.checks
    );
    assert!(
        !s.backend
            .journal()
            .lines()
            .iter()
            .any(|l| l.starts_with("remediate"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_cluster_left_unhealthy_fails_the_recovery_check() {
    let plan = ScenarioPlan {
        unhealthy_after_revert: true,
        ..ScenarioPlan::default()
    };
    let s = setup(&[("reboot", plan)]).await;
    let r = run(&s, "reboot").await;
    assert!(r.left_cluster_unhealthy());
    assert_eq!(
        r.verdict,
        Verdict::Fail,
        "SLOs held, but the cluster did not"
    );
    assert!(
        matches!(&r.outcome, Outcome::SloFailed { failed } if failed == &["cluster recovered".to_string()]),
        "{:?}",
        r.outcome
    );
    let rec = r.checks.last().expect("checks");
    assert_eq!(rec.kind, CheckKind::Recovery);
    assert_eq!(rec.status, CheckStatus::Failed);
    assert!(rec.message.contains("replaced"), "{}", rec.message);
    assert_eq!(rec.culprits.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_revert_is_an_error_even_when_the_failure_was_expected() {
    let plan = ScenarioPlan {
        fail_all: true,
        culprits: vec![crash_looping("kube-multus-ds-abc", None)],
        revert_error: Some("docker start chaos-worker: exit 1".into()),
        ..ScenarioPlan::default()
    };
    let s = setup(&[("known-bug", plan)]).await;
    let r = run(&s, "known-bug").await;
    assert_eq!(r.verdict, Verdict::Error, "{:?}", r.outcome);
    assert!(
        matches!(&r.outcome, Outcome::HarnessError { message }
            if message.contains("revert failed") && message.contains("docker start chaos-worker")
                && message.contains("SLO failed")),
        "{:?}",
        r.outcome
    );
    assert!(
        r.left_cluster_unhealthy(),
        "a cluster still faulted is replaced"
    );
    assert!(
        !r.checks.iter().any(|c| c.kind == CheckKind::Recovery),
        "no recovery check without a revert"
    );

    // The same when the SLOs held.
    let plan = ScenarioPlan {
        revert_error: Some("docker start chaos-worker: exit 1".into()),
        ..ScenarioPlan::default()
    };
    let s = setup(&[("reboot", plan)]).await;
    let r = run(&s, "reboot").await;
    assert_eq!(r.verdict, Verdict::Error);
    assert!(r.left_cluster_unhealthy());
}

#[tokio::test(start_paused = true)]
async fn an_expected_bug_that_outlives_the_revert_is_still_an_xfail() {
    let plan = ScenarioPlan {
        fail_all: true,
        unhealthy_after_revert: true,
        culprits: vec![crash_looping("kube-multus-ds-abc", None)],
        ..ScenarioPlan::default()
    };
    let s = setup(&[("known-bug", plan)]).await;
    let r = run(&s, "known-bug").await;
    assert_eq!(r.verdict, Verdict::XFail);
    assert!(
        r.left_cluster_unhealthy(),
        "the runner must still replace it"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dry_run_is_planned_not_failed_and_plans_the_remediation_and_revert() {
    let plan = ScenarioPlan {
        planned: true,
        ..ScenarioPlan::default()
    };
    let s = setup(&[("remediated", plan)]).await;
    let t0 = tokio::time::Instant::now();
    let r = run(&s, "remediated").await;
    assert_eq!(r.outcome, Outcome::Planned);
    assert_eq!(r.verdict, Verdict::Planned);
    assert!(r.verdict.trial_passes(), "a dry run is not a failure");
    assert!(
        t0.elapsed() < std::time::Duration::from_secs(1),
        "nothing is waited for: {:?}",
        t0.elapsed()
    );
    let journal = s.backend.journal().lines();
    assert!(
        !journal.iter().any(|l| l.starts_with("observe")),
        "{journal:?}"
    );
    for planned in [
        "remediate remove-file /opt/cni/bin/multus-shim on scripted-worker",
        "remediate pod-delete app=multus on scripted-worker",
        "revert node-reboot",
    ] {
        assert!(
            journal.contains(&planned.to_string()),
            "{planned} not in {journal:?}"
        );
    }
    let kinds: Vec<(CheckKind, bool)> = r
        .checks
        .iter()
        .map(|c| (c.kind, matches!(c.status, CheckStatus::Skipped(_))))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (CheckKind::SteadyState, false),
            (CheckKind::FaultEffect, true),
            (CheckKind::Remediation, true),
            (CheckKind::Cleanup, false),
        ],
        "no SLO is judged and no recovery checked"
    );
}

/// `requires:` gates the verdict on what the fault recorded: unmet (or not
/// recorded) is its own verdict, never a pass or an XPASS; met, the
/// expectation's `when:` selects on the same value.
#[tokio::test(start_paused = true)]
async fn a_required_precondition_gates_the_verdict() {
    let bug = ScenarioPlan {
        fail_all: true,
        culprits: vec![crash_looping("kube-multus-ds-abc", None)],
        multus_config_left: Some(true),
        ..ScenarioPlan::default()
    };
    // Met, and the bug reproduced: xfail, with a passed precondition check.
    let s = setup(&[("needs-leftover", bug.clone())]).await;
    let r = run(&s, "needs-leftover").await;
    assert_eq!(r.verdict, Verdict::XFail, "{:?}", r.outcome);
    let pre = r
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::Precondition)
        .expect("a precondition check");
    assert_eq!(pre.status, CheckStatus::Passed);
    // Met, and every SLO held: the bug is gone (XPASS), as without requires.
    let fixed = ScenarioPlan {
        multus_config_left: Some(true),
        ..ScenarioPlan::default()
    };
    let s = setup(&[("needs-leftover", fixed)]).await;
    assert_eq!(run(&s, "needs-leftover").await.verdict, Verdict::XPass);
    // Unmet: the SLOs held, yet it is no pass and no XPASS; nothing was
    // observed, and the fault is still reverted.
    for (left, found) in [(Some(false), "is false"), (None, "was not recorded")] {
        let plan = ScenarioPlan {
            multus_config_left: left,
            ..ScenarioPlan::default()
        };
        let s = setup(&[("needs-leftover", plan)]).await;
        let r = run(&s, "needs-leftover").await;
        assert_eq!(r.verdict, Verdict::Unmet, "{:?}", r.outcome);
        assert!(!r.verdict.trial_passes());
        assert!(
            matches!(&r.outcome, Outcome::PreconditionUnmet { reason } if reason.contains(found) && reason.contains("multus-config-left")),
            "{:?}",
            r.outcome
        );
        let journal = s.backend.journal().lines();
        assert!(
            !journal.iter().any(|l| l.starts_with("observe")),
            "{journal:?}"
        );
        assert!(
            journal.iter().any(|l| l.starts_with("revert")),
            "{journal:?}"
        );
        let pre = r
            .checks
            .iter()
            .find(|c| c.kind == CheckKind::Precondition)
            .expect("a precondition check");
        assert_eq!(pre.status, CheckStatus::Failed);
        // An unmet precondition expects nothing of the bug.
        assert_eq!(r.expect, cni_chaos::suite::Expect::Pass);
    }
}
