//! The runner as users drive it: libtest arguments, environment variables,
//! exit codes and the reports, through the `cni-chaos run` binary (the same
//! code as `cargo test --test chaos`).

mod support;

use std::path::{Path, PathBuf};

use cni_chaos::exec::Output;
use support::arg;

const SUITE_A: &str = r#"
name: alpha
description: runner tests
scenarios:
  - name: passes
    fault: {kind: node-reboot, target: {role: worker}, mode: hard}
    slos: [{kind: workloads-ready-within, budget: 3m}]
  - name: fails
    fault: {kind: ovs-kill, target: {role: worker}, process: ovs-vswitchd, signal: kill}
    slos: [{kind: no-crashloop}]
  - name: known-bug
    fault: {kind: node-reboot, target: {role: worker}, mode: graceful}
    expect: {outcome: fail, reason: "multus-cni #1221", culprits: [kube-multus-ds]}
    slos: [{kind: no-crashloop, containers: init}]
  - name: slow
    ignored: takes an hour on kind
    fault: {kind: node-reboot, target: {role: control-plane}, mode: hard}
    slos: [{kind: node-ready-within, budget: 5m}]
"#;

const SUITE_B: &str = r#"
name: beta
description: a second suite on another cluster profile
cluster: {kind-config: single}
scenarios:
  - name: passes
    fault: {kind: pod-delete, selector: app=ovs}
    slos: [{kind: workloads-ready-within, budget: 1m}]
"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let suites = dir.path().join("suites");
        std::fs::create_dir_all(&suites).unwrap();
        std::fs::write(suites.join("alpha.yaml"), SUITE_A).unwrap();
        std::fs::write(suites.join("beta.yaml"), SUITE_B).unwrap();
        let plan = serde_json::json!({
            "journal": dir.path().join("journal.log"),
            "scenarios": {
                "fails": {"fail-all": true, "culprits": [{"name": "coredns-7d", "reason": "CrashLoopBackOff"}]},
                "known-bug": {"fail-all": true, "culprits": [{"name": "kube-multus-ds-9x", "reason": "Init:CrashLoopBackOff"}]}
            }
        });
        std::fs::write(dir.path().join("plan.json"), plan.to_string()).unwrap();
        Env { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn run(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut cmd = support::cni_chaos()
            .arg("run")
            .args(args.iter().copied())
            .env("CHAOS_BACKEND", "scripted")
            .env("CHAOS_SCRIPT", arg(self.path("plan.json")))
            .env("CHAOS_SUITES", arg(self.path("suites")))
            .env("CHAOS_REPORT_DIR", arg(self.path("reports")))
            .env("CHAOS_SEED", "42")
            .env_remove("CHAOS_KEEP_CLUSTER")
            // Not the CI job's annotations, summary or trend settings.
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .env_remove("CHAOS_BASELINE")
            .env_remove("CHAOS_TREND_THRESHOLD")
            .env_remove("CHAOS_DEADLINE")
            .env_remove("CHAOS_SCENARIOS");
        for (k, v) in extra_env {
            cmd = cmd.env(*k, *v);
        }
        support::output(cmd)
    }

    fn journal(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("journal.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The status libtest printed for a trial (`ok`, `FAILED`, `ignored`).
fn status(stdout: &str, trial: &str) -> String {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test "))
        .filter_map(|l| l.split_once(" ... "))
        .find(|(name, _)| name.trim_end() == trial)
        .map(|(_, st)| st.trim().to_string())
        .unwrap_or_else(|| panic!("no status for {trial} in:\n{stdout}"))
}

fn results(dir: &Path) -> serde_json::Value {
    support::latest_results(dir)
}

#[test]
fn list_prints_only_sorted_trial_lines_and_touches_nothing() {
    let env = Env::new();
    // Even a backend that cannot run here is never selected by --list.
    let out = env.run(&["--list"], &[("CHAOS_BACKEND", "kind")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "alpha::fails: test\nalpha::known-bug: test\nalpha::passes: test\nalpha::slow: test\nbeta::passes: test\n"
    );
    assert!(!env.path("reports").exists(), "--list wrote reports");
    assert!(env.journal().is_empty(), "--list touched the backend");
}

#[test]
fn list_of_the_committed_suites_has_one_line_per_scenario() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let suites = cni_chaos::suite::load(&[root.join("suites")]).unwrap();
    let mut want: Vec<String> = suites
        .iter()
        .flat_map(|s| {
            s.scenarios
                .iter()
                .map(move |sc| format!("{}::{}: test", s.name, sc.name))
        })
        .collect();
    want.sort();
    let out = support::output(
        support::cni_chaos()
            .args(["run", "--list"])
            .env("CHAOS_SUITES", arg(root.join("suites")))
            .env("CHAOS_REPORT_DIR", arg(root.join("target/never-written"))),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(got, want);
}

#[test]
fn filters_exact_and_ignored_behave_as_in_cargo() {
    let env = Env::new();
    let out = env.run(&["--list", "passes"], &[]);
    assert_eq!(stdout(&out), "alpha::passes: test\nbeta::passes: test\n");
    let out = env.run(&["--list", "--exact", "alpha::passes"], &[]);
    assert_eq!(stdout(&out), "alpha::passes: test\n");
    let out = env.run(&["--list", "--ignored"], &[]);
    assert_eq!(stdout(&out), "alpha::slow: test\n");
    let out = env.run(&["--list", "--skip", "alpha"], &[]);
    assert_eq!(stdout(&out), "beta::passes: test\n");

    // Running --ignored runs exactly the ignored scenario.
    let out = env.run(&["--ignored"], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status(&stdout(&out), "alpha::slow"), "ok");
    assert!(env.journal().iter().any(|l| l == "steady-state slow"));
    assert!(!env.journal().iter().any(|l| l == "steady-state passes"));
}

#[test]
fn a_full_run_judges_every_scenario_and_writes_reports() {
    let env = Env::new();
    let out = env.run(&["--test-threads", "2"], &[]);
    let so = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(101),
        "one scenario fails\n{so}\n{}",
        stderr(&out)
    );
    assert_eq!(status(&so, "alpha::passes"), "ok");
    assert_eq!(
        status(&so, "alpha::known-bug"),
        "ok",
        "xfail passes the trial"
    );
    assert_eq!(status(&so, "alpha::fails"), "FAILED");
    assert_eq!(status(&so, "alpha::slow"), "ignored");
    assert_eq!(status(&so, "beta::passes"), "ok");
    assert!(
        so.contains("coredns-7d") || stderr(&out).contains("coredns-7d"),
        "culprit named"
    );

    let json = results(&env.path("reports"));
    assert_eq!(json["schema-version"], 2);
    let verdicts: Vec<(String, String)> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                support::trial_name(r),
                r["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("alpha::passes", "pass"),
        ("alpha::fails", "fail"),
        ("alpha::known-bug", "xfail"),
        ("beta::passes", "pass"),
    ] {
        assert!(
            verdicts.iter().any(|(id, v)| id == want.0 && v == want.1),
            "{want:?} not in {verdicts:?}"
        );
    }
    // Two cluster profiles: two clusters, each torn down once.
    let journal = env.journal();
    let provisions = journal
        .iter()
        .filter(|l| l.starts_with("provision"))
        .count();
    let teardowns = journal.iter().filter(|l| l.starts_with("teardown")).count();
    assert_eq!((provisions, teardowns), (2, 2), "{journal:?}");
    let xml = std::fs::read_to_string(env.path("reports/latest/junit.xml")).unwrap();
    quick_junit::Report::deserialize_from_str(&xml).unwrap();
}

#[test]
fn keep_cluster_skips_teardown_and_says_how_to_delete() {
    let env = Env::new();
    let out = env.run(&["--exact", "beta::passes"], &[("CHAOS_KEEP_CLUSTER", "1")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !env.journal().iter().any(|l| l.starts_with("teardown")),
        "{:?}",
        env.journal()
    );
    // Kept through the cluster, which undoes what faults left behind.
    assert!(
        env.journal().iter().any(|l| l.starts_with("keep ")),
        "{:?}",
        env.journal()
    );
    assert!(
        stderr(&out).contains("kind delete cluster --name"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn bad_input_is_a_clear_error_and_runs_nothing() {
    let env = Env::new();
    std::fs::write(env.path("suites/gamma.yaml"), "name: gamma\ndescription: x\nscenarios:\n  - name: a\n    fault: {kind: node-reboot, target: {role: worker}, mode: soft}\n    slos: [{kind: node-ip-stable}]\n").unwrap();
    let out = env.run(&[], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("gamma.yaml:5:"), "{err}");
    assert!(err.contains("scenarios[0].fault.mode"), "{err}");
    assert!(
        env.journal().is_empty(),
        "nothing may run when a suite is invalid"
    );

    let env = Env::new();
    let out = env.run(&[], &[("CHAOS_BACKEND", "kube-fake")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("CHAOS_BACKEND=\"kube-fake\" is not a backend"),
        "{}",
        stderr(&out)
    );
    assert!(env.journal().is_empty(), "an unknown backend runs nothing");

    let out = env.run(&[], &[("CHAOS_LOG", "cni_chaos=loud")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("CHAOS_LOG=\"cni_chaos=loud\""),
        "{}",
        stderr(&out)
    );
    assert!(env.journal().is_empty(), "a bad log filter runs nothing");

    // A misspelt dry run stops the run; it never means "run for real".
    let out = env.run(&[], &[("CHAOS_BACKEND", "kind"), ("CHAOS_DRY_RUN", "on")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("CHAOS_DRY_RUN=\"on\": expected 1 or 0"),
        "{}",
        stderr(&out)
    );

    let empty = tempfile::tempdir().unwrap();
    let out = env.run(
        &["--list"],
        &[("CHAOS_SUITES", empty.path().to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no suite files"), "{}", stderr(&out));

    let out = env.run(&[], &[("CHAOS_SEED", "soon")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("CHAOS_SEED=\"soon\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn chaos_scenarios_runs_only_the_shards_scenarios_and_refuses_unknown_ids() {
    let env = Env::new();
    let out = env.run(&[], &[("CHAOS_SCENARIOS", "beta::passes, alpha::passes")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json = results(&env.path("reports"));
    let mut ran: Vec<String> = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(support::trial_name)
        .collect();
    ran.sort();
    assert_eq!(ran, vec!["alpha::passes", "beta::passes"]);

    let env = Env::new();
    let out = env.run(&[], &[("CHAOS_SCENARIOS", "alpha::passes,alpha::gone")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("CHAOS_SCENARIOS: alpha::gone not among the loaded suites' scenarios"),
        "{}",
        stderr(&out)
    );
    assert!(
        env.journal().is_empty(),
        "a shard that lost a scenario runs nothing"
    );
}

#[test]
fn a_provisioning_failure_fails_every_scenario_on_that_cluster_once() {
    let env = Env::new();
    let plan = serde_json::json!({"journal": env.path("journal.log"), "provision-error": "kind create cluster: exit 1"});
    std::fs::write(env.path("plan.json"), plan.to_string()).unwrap();
    let out = env.run(&["alpha::"], &[]);
    assert_eq!(out.status.code(), Some(101));
    let provisions = env
        .journal()
        .iter()
        .filter(|l| l.starts_with("provision"))
        .count();
    assert_eq!(provisions, 1, "{:?}", env.journal());
    let json = results(&env.path("reports"));
    let all_errors = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["verdict"] == "error");
    assert!(all_errors, "{json}");
}

/// `CHAOS_BACKEND=kind CHAOS_DRY_RUN=1` through the runner: every command
/// line of the smoke suite's cell is printed (provisioning, each fault, its
/// revert, the teardown), none is executed, and every trial is *planned*,
/// which passes: a dry run is neither a success nor a failure of the
/// cluster.
#[test]
fn a_kind_dry_run_prints_the_plan_and_passes_as_planned() {
    let reports = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = support::output(
        support::cni_chaos()
            .arg("run")
            .env("CHAOS_BACKEND", "kind")
            .env("CHAOS_DRY_RUN", "1")
            .env("CHAOS_SUITES", arg(root.join("suites/smoke.yaml")))
            .env("CHAOS_REPORT_DIR", arg(reports.path()))
            .env("CHAOS_LOG", "info")
            .env("CI", "true")
            .env_remove("CHAOS_CLUSTER")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("CHAOS_BASELINE"),
    );
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(status(&stdout, "smoke::worker-reboot"), "ok");
    assert_eq!(status(&stdout, "smoke::ovs-vswitchd-kill"), "ok");
    let planned: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.split_once("[dry-run] ").map(|(_, c)| c))
        .collect();
    for needle in [
        "kind get clusters",
        "kind create cluster --name chaos-",
        "ENABLE_NAT_GW=false CNI_CONFIG_PRIORITY=01 bash ",
        "-n kube-system rollout status daemonset/kube-multus-ds --timeout=300s",
        "docker stop -t 30 chaos-",
        "docker cp chaos-",
        "kill -s KILL '<PID in /run/openvswitch/ovs-vswitchd.pid>'",
        "kind delete cluster --name chaos-",
    ] {
        assert!(
            planned.iter().any(|c| c.contains(needle)),
            "{needle:?} not in the plan:\n{}",
            planned.join("\n")
        );
    }
    let json = results(reports.path());
    for r in json["results"].as_array().unwrap() {
        assert_eq!(r["verdict"], "planned", "{r}");
    }
    // The estimate, per cluster and in total, before anything starts: from
    // the committed twin times of smoke's scenarios on the default cell plus
    // one cluster's provisioning and teardown.
    use cni_chaos::plan::{Constants, ESTIMATES_FILE, Estimates};
    let estimates = Estimates::load(&root.join(ESTIMATES_FILE)).unwrap();
    let twin_ms: u64 = ["smoke::ovs-vswitchd-kill", "smoke::worker-reboot"]
        .iter()
        .map(|id| estimates.get("default", id).unwrap().elapsed_ms)
        .sum();
    let c = Constants::default();
    let total_ms = twin_ms + u64::try_from((c.provision + c.teardown).as_millis()).unwrap();
    assert_eq!(json["run"]["estimate"]["total"], total_ms);
    assert_eq!(json["summary"]["estimate"], total_ms);
    assert_eq!(json["summary"]["estimate-scenarios"], twin_ms);
    let at = |needle: &str| {
        stderr
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{stderr}"))
    };
    let cluster = at(&format!(
        "cni-chaos: estimate: default@default: {} min (2 scenario(s) {} min on the twin; 1 cluster(s) provisioned and torn down 12 min, after 0 replacement(s))",
        total_ms.div_ceil(60_000),
        twin_ms.div_ceil(60_000),
    ));
    let total = at(&format!(
        "cni-chaos: estimate: total {} min",
        total_ms.div_ceil(60_000)
    ));
    assert!(
        cluster < total && total < at("kind create cluster"),
        "{stderr}"
    );
    // Every report shows it beside the actual time.
    let fmt = |ms: u64| cni_chaos::util::duration::format(std::time::Duration::from_millis(ms));
    let md = std::fs::read_to_string(reports.path().join("latest/summary.md")).unwrap();
    assert!(
        md.contains(&format!(
            "estimated {} (scenarios {}), took ",
            fmt(total_ms),
            fmt(twin_ms)
        )),
        "{md}"
    );
    let xml = std::fs::read_to_string(reports.path().join("latest/junit.xml")).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).unwrap();
    let suite = report
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "smoke::worker-reboot")
        .unwrap();
    let prop = |name: &str| {
        suite
            .properties
            .iter()
            .find(|p| p.name.as_str() == name)
            .map(|p| p.value.as_str().to_string())
            .unwrap_or_else(|| panic!("no property {name}"))
    };
    assert!(
        prop("run-estimate").starts_with(&format!("estimated {}", fmt(total_ms))),
        "{}",
        prop("run-estimate")
    );
    let own = estimates
        .get("default", "smoke::worker-reboot")
        .unwrap()
        .elapsed_ms;
    assert!(
        prop("estimate").starts_with(&format!("{} (took ", fmt(own))),
        "{}",
        prop("estimate")
    );
}
