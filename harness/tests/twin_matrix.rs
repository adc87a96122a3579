//! The incident across the version matrix, end to end through the runner
//! binary on the twin backend: with a racy Multus (v4.1.3, v4.2.1) the
//! reboot reproduces multus-cni #1221 and the trial is an xfail naming
//! kube-multus-ds in Init:CrashLoopBackOff on the rebooted node; with the
//! fix (v4.2.3, v4.2.4) it passes. Read back from the JUnit (quick-junit's
//! reader) and the Markdown summary, as CI and reviewers read them.

mod support;

use std::path::{Path, PathBuf};

use cni_chaos::exec::Output;
use support::arg;

use quick_junit::{Report, TestCaseStatus};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run_incident(cell: &str, reports: &Path) -> Output {
    support::output(
        support::cni_chaos()
            .args(["run", "--exact", "incident::worker-reboot-multus"])
            .env("CHAOS_BACKEND", "twin")
            .env("CHAOS_SUITES", arg(root().join("suites/incident.yaml")))
            .env("CHAOS_VERSIONS", cell)
            .env("CHAOS_REPORT_DIR", arg(reports))
            .env_remove("CHAOS_SEED")
            .env_remove("CHAOS_BASELINE")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY"),
    )
}

struct Reports {
    junit: Report,
    summary: String,
}

fn read(reports: &Path) -> Reports {
    let latest = reports.join("latest");
    let xml = std::fs::read_to_string(latest.join("junit.xml")).unwrap();
    Reports {
        junit: Report::deserialize_from_str(&xml).unwrap(),
        summary: std::fs::read_to_string(latest.join("summary.md")).unwrap(),
    }
}

fn property<'a>(suite: &'a quick_junit::TestSuite, name: &str) -> Option<&'a str> {
    suite
        .properties
        .iter()
        .find(|p| p.name.as_str() == name)
        .map(|p| p.value.as_str())
}

fn incident_suite(r: &Reports) -> &quick_junit::TestSuite {
    r.junit
        .test_suites
        .iter()
        .find(|s| s.name.as_str() == "incident::worker-reboot-multus")
        .unwrap_or_else(|| panic!("no incident testsuite"))
}

#[test]
fn racy_multus_reproduces_the_incident_and_the_fix_does_not() {
    for (cell, multus, racy) in [
        ("kube-ovn-1.13-multus-4.1.3", "v4.1.3", true),
        ("kube-ovn-1.14-multus-4.2.1", "v4.2.1", true),
        ("kube-ovn-1.15-multus-4.2.3", "v4.2.3", false),
        ("default", "v4.2.4", false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = run_incident(cell, dir.path());
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{cell}: the trial passes either way (xfail or pass)\n{stdout}\n{stderr}"
        );
        let r = read(dir.path());
        let suite = incident_suite(&r);
        assert_eq!(property(suite, "version.multus"), Some(multus), "{cell}");
        assert_eq!(property(suite, "backend"), Some("twin"));
        let node = property(suite, "node")
            .expect("the faulted node")
            .to_string();
        let no_crashloop = suite
            .test_cases
            .iter()
            .find(|c| c.name.as_str().starts_with("slo: no-crashloop"))
            .expect("the no-crashloop testcase");
        let row = r
            .summary
            .lines()
            .find(|l| l.starts_with("| incident::worker-reboot-multus |"))
            .unwrap_or_else(|| panic!("{cell}: no summary row:\n{}", r.summary));
        if racy {
            assert_eq!(property(suite, "verdict"), Some("xfail"), "{cell}");
            // The failed SLO is an xfail testcase naming the culprit, its
            // state and its node.
            let TestCaseStatus::Skipped {
                ty,
                message,
                description,
                ..
            } = &no_crashloop.status
            else {
                panic!("{cell}: {:?}", no_crashloop.status)
            };
            assert_eq!(ty.as_ref().map(|t| t.as_str()), Some("xfail"));
            assert!(
                message
                    .as_ref()
                    .is_some_and(|m| m.contains("multus-cni #1221")),
                "{message:?}"
            );
            let description = description
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_default();
            let culprit = description
                .lines()
                .find(|l| l.contains("kube-multus-ds-"))
                .unwrap_or_else(|| panic!("{cell}: no culprit in {description}"));
            assert!(culprit.contains("Init:CrashLoopBackOff"), "{culprit}");
            assert!(culprit.contains(&format!("on {node}")), "{culprit}");
            // The Markdown shows the xfail and the same culprit.
            assert!(row.contains("xfail"), "{row}");
            assert!(row.contains("kube-multus-ds-"), "{row}");
            assert!(row.contains("Init:CrashLoopBackOff"), "{row}");
        } else {
            assert_eq!(property(suite, "verdict"), Some("pass"), "{cell}");
            assert!(
                matches!(no_crashloop.status, TestCaseStatus::Success { .. }),
                "{cell}: {:?}",
                no_crashloop.status
            );
            assert!(
                suite
                    .test_cases
                    .iter()
                    .all(|c| matches!(c.status, TestCaseStatus::Success { .. })),
                "{cell}: every check passes"
            );
            assert!(row.contains("pass") && !row.contains("xfail"), "{row}");
            assert!(!row.contains("kube-multus-ds"), "{row}");
        }
    }
}
