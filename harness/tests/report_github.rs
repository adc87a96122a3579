//! The runner's GitHub and trend wiring, end to end through the `cni-chaos`
//! binary on the scripted backend: under `GITHUB_ACTIONS=true` an `::error`
//! per failed SLO on stdout and the Markdown summary appended to
//! `$GITHUB_STEP_SUMMARY`; a second run compares with the first (the
//! previous run in the report folder, or `CHAOS_BASELINE`), and a bad
//! `CHAOS_TREND_THRESHOLD` stops the run before anything runs.

mod support;

use std::path::{Path, PathBuf};

use cni_chaos::exec::Output;
use support::arg;

const SUITE: &str = r#"
name: alpha
description: GitHub output
scenarios:
  - name: passes
    fault: {kind: node-reboot, target: {role: worker}, mode: hard}
    slos: [{kind: workloads-ready-within, budget: 3m}]
  - name: fails
    fault: {kind: ovs-kill, target: {role: worker}, process: ovs-vswitchd, signal: kill}
    slos: [{kind: no-crashloop}]
"#;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("suites")).unwrap();
        std::fs::write(dir.path().join("suites/alpha.yaml"), SUITE).unwrap();
        let plan = serde_json::json!({
            "scenarios": {
                "fails": {"fail-all": true, "culprits": [{"name": "coredns-7d", "reason": "CrashLoopBackOff"}]}
            }
        });
        std::fs::write(dir.path().join("plan.json"), plan.to_string()).unwrap();
        Env { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn run(&self, extra: &[(&str, &Path)]) -> Output {
        let mut cmd = support::cni_chaos()
            .args(["run", "--test-threads", "1"])
            .cwd(self.dir.path())
            .env("CHAOS_BACKEND", "scripted")
            .env("CHAOS_SCRIPT", arg(self.path("plan.json")))
            .env("CHAOS_SUITES", arg(self.path("suites")))
            .env("CHAOS_REPORT_DIR", arg(self.path("reports")))
            .env("CHAOS_SEED", "3")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", arg(self.path("step-summary.md")))
            .env_remove("GITHUB_WORKSPACE")
            .env_remove("CHAOS_BASELINE")
            .env_remove("CHAOS_TREND_THRESHOLD")
            .env_remove("CHAOS_KEEP_CLUSTER");
        for (k, v) in extra {
            cmd = cmd.env(*k, arg(v));
        }
        support::output(cmd)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn annotations_summary_and_trend_through_the_runner() {
    let env = Env::new();
    let first = env.run(&[]);
    let (out, err) = (text(&first.stdout), text(&first.stderr));
    assert_eq!(first.status.code(), Some(101), "{out}\n{err}");
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("::error ")).collect();
    assert_eq!(errors.len(), 1, "one failed SLO:\n{out}");
    assert!(
        errors[0].starts_with(
            "::error title=SLO failed%3A alpha%3A%3Afails%3A no-crashloop init+main (namespace kube-system),file=suites/alpha.yaml::alpha::fails: SLO no-crashloop"
        ),
        "{}",
        errors[0]
    );
    assert!(
        errors[0].contains("%0Aculprits: pod kube-system/coredns-7d"),
        "{}",
        errors[0]
    );
    let summary = std::fs::read_to_string(env.path("step-summary.md")).unwrap();
    assert!(summary.starts_with("## cni-chaos run `"), "{summary}");
    assert!(summary.contains("| alpha::fails | ❌ FAIL |"), "{summary}");
    assert!(!summary.contains("Trend"), "the first run has no baseline");

    // The second run compares with the first and appends its own summary.
    let second = env.run(&[]);
    assert_eq!(second.status.code(), Some(101), "{}", text(&second.stderr));
    let summary = std::fs::read_to_string(env.path("step-summary.md")).unwrap();
    assert_eq!(summary.matches("## cni-chaos run `").count(), 2);
    let last = summary.rsplit("## cni-chaos run `").next().unwrap();
    assert!(last.contains("| Culprits | Trend |"), "{last}");
    assert!(last.contains("| alpha::passes | ✅ pass |"), "{last}");
    assert!(last.contains(" → +0% |"), "{last}");

    // An explicit baseline that is not JSON: a warning, and every report.
    let bad = env.path("bad.json");
    std::fs::write(&bad, "not json").unwrap();
    let third = env.run(&[("CHAOS_BASELINE", &bad)]);
    assert_eq!(third.status.code(), Some(101), "{}", text(&third.stderr));
    assert!(
        text(&third.stderr).contains("trend skipped: baseline"),
        "{}",
        text(&third.stderr)
    );
    let summary = std::fs::read_to_string(env.path("step-summary.md")).unwrap();
    let last = summary.rsplit("## cni-chaos run `").next().unwrap();
    assert!(
        last.contains(&format!(
            "trend skipped: baseline {} is not valid JSON",
            bad.display()
        )),
        "{last}"
    );
    let latest = env.path("reports/latest");
    for f in ["junit.xml", "results.json", "summary.md", "report.html"] {
        assert!(latest.join(f).exists(), "{f}");
    }
}

#[test]
fn a_bad_threshold_stops_the_run() {
    let env = Env::new();
    let out = env.run(&[("CHAOS_TREND_THRESHOLD", Path::new("fast"))]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("CHAOS_TREND_THRESHOLD=\"fast\""),
        "{}",
        text(&out.stderr)
    );
    assert!(!env.path("reports").exists(), "nothing ran");
}
