//! SIGINT and SIGTERM mid-scenario: the runner (as a child process, with the
//! scripted backend) reverts the fault, tears the cluster down, writes reports
//! that parse, and exits with 130.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cni_chaos::exec::{Command, LocalRunner, Runner};

const SUITE: &str = r#"
name: sig
description: signal handling
scenarios:
  - name: first
    fault: {kind: node-reboot, target: {role: worker}, mode: graceful}
    slos:
      - {kind: workloads-ready-within, budget: 3m}
  - name: second
    fault: {kind: ovs-kill, target: {role: worker}, process: ovs-vswitchd, signal: kill}
    slos:
      - {kind: no-crashloop}
"#;

fn journal(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

async fn interrupt_with(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let suites = dir.path().join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    std::fs::write(suites.join("sig.yaml"), SUITE).unwrap();
    let journal_path = dir.path().join("journal.log");
    let plan = serde_json::json!({
        "journal": journal_path,
        "scenarios": {"*": {"observe-ms": 600_000}}
    });
    let plan_path = dir.path().join("plan.json");
    std::fs::write(&plan_path, plan.to_string()).unwrap();
    let reports = dir.path().join("reports");

    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cni-chaos"))
        .args(["run", "--test-threads", "1"])
        .env("CHAOS_BACKEND", "scripted")
        .env("CHAOS_SCRIPT", &plan_path)
        .env("CHAOS_SUITES", &suites)
        .env("CHAOS_REPORT_DIR", &reports)
        .env("CHAOS_SEED", "1")
        // Not the CI job's annotations, summary or trend settings.
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("CHAOS_BASELINE")
        .env_remove("CHAOS_TREND_THRESHOLD")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();

    // Wait until the first scenario is observing (fault injected, not reverted).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !journal(&journal_path)
        .iter()
        .any(|l| l.starts_with("observe"))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached observe: {:?}",
            journal(&journal_path)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    LocalRunner::new()
        .run(
            &Command::new("kill")
                .args(["-s", signal, &pid.to_string()])
                .timeout(Duration::from_secs(10)),
        )
        .await
        .unwrap();

    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the runner did not exit within 60 s of the signal")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!("SIG{signal}")),
        "stderr:\n{stderr}"
    );

    let lines = journal(&journal_path);
    let pos = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix));
    let observe = pos("observe").unwrap();
    let revert = pos("revert").unwrap_or_else(|| panic!("no revert: {lines:?}"));
    let teardown = pos("teardown").unwrap_or_else(|| panic!("no teardown: {lines:?}"));
    assert!(observe < revert && revert < teardown, "{lines:?}");
    assert!(
        !lines.iter().any(|l| l == "steady-state second"),
        "the second scenario must not start: {lines:?}"
    );

    // The reports of what ran exist and parse.
    let latest = reports.join("latest");
    let xml = std::fs::read_to_string(latest.join("junit.xml")).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let first = report
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "sig::first")
        .unwrap_or_else(|| panic!("no testsuite sig::first in\n{xml}"));
    let names: Vec<&str> = first.test_cases.iter().map(|c| c.name.as_str()).collect();
    assert!(names.contains(&"steady state"), "{names:?}");
    assert!(names.contains(&"cleanup"), "{names:?}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(latest.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(
        json["summary"]["interrupted"],
        serde_json::Value::Bool(true),
        "{json}"
    );
    assert_eq!(
        json["results"][0]["outcome"]["outcome"], "interrupted",
        "{json}"
    );
    assert!(latest.join("summary.md").is_file());
    let _: PathBuf = latest;
}

#[tokio::test]
async fn sigint_mid_scenario_reverts_tears_down_and_writes_reports() {
    interrupt_with("INT").await;
}

#[tokio::test]
async fn sigterm_mid_scenario_reverts_tears_down_and_writes_reports() {
    interrupt_with("TERM").await;
}
