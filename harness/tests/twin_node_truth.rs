//! What a graceful and a hard reboot do, on the twin, across seeds, through
//! the runner binary and the committed nightly suite, read back from
//! `results.json`:
//! - a graceful worker reboot is an orderly shutdown: the Multus daemon's
//!   clean exit deletes `00-multus.conf`, the reboot records it absent while
//!   the node was down, and no Multus pod on that node ends in
//!   `Init:CrashLoopBackOff`, on racy and fixed Multus alike;
//! - a hard worker reboot is a crash: `00-multus.conf` is recorded present,
//!   and with a racy Multus (v4.2.1) the init container meets `Text file
//!   busy` and the scenario is the expected #1221 failure; with the fix
//!   (v4.2.3, v4.2.4) it recovers.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

const GRACEFUL: &str = "nightly::worker-graceful-reboot";
const HARD: &str = "nightly::worker-hard-reboot";

/// Runs the two worker reboots of the nightly suite on `cell` with `seed`;
/// returns their results by trial name.
fn run(cell: &str, seed: u64, reports: &Path) -> Vec<(String, Value)> {
    let out = support::output(
        support::twin_run(root().join("suites/nightly.yaml"), cell, reports)
            .args(["--", "nightly::worker-"])
            .env("CHAOS_SEED", seed.to_string()),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{cell} seed {seed}: both trials pass (pass or xfail)\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    support::latest_results(reports)["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (support::trial_name(r), r.clone()))
        .collect()
}

fn result<'a>(results: &'a [(String, Value)], name: &str) -> &'a Value {
    &results
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| {
            panic!(
                "no {name} in {:?}",
                results.iter().map(|r| &r.0).collect::<Vec<_>>()
            )
        })
        .1
}

/// Whether a Multus pod on the faulted node was ever held in
/// Init:CrashLoopBackOff, by any check of the result.
fn multus_deadlocked(r: &Value) -> bool {
    let node = r["node"].as_str().unwrap_or_default();
    r["checks"].as_array().unwrap().iter().any(|c| {
        c["culprits"].as_array().into_iter().flatten().any(|k| {
            k["name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("kube-multus-ds")
                && k["node"].as_str() == Some(node)
                && k["reason"].as_str() == Some("Init:CrashLoopBackOff")
        })
    })
}

fn disk(r: &Value, key: &str) -> Option<bool> {
    r.pointer(&format!("/evidence/preconditions/disk/{key}"))
        .and_then(Value::as_bool)
}

fn init_log(r: &Value) -> String {
    r.pointer("/evidence/preconditions/multus-init/last-log")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_graceful_reboot_removes_the_config_and_only_a_crash_deadlocks_racy_multus() {
    for seed in 1..=20 {
        let dir = tempfile::tempdir().unwrap();
        let results = run("kube-ovn-1.14-multus-4.2.1", seed, dir.path());

        let g = result(&results, GRACEFUL);
        assert_eq!(disk(g, "multus-config"), Some(false), "seed {seed}: {g:#}");
        assert_eq!(
            g.pointer("/evidence/preconditions/disk/first-config")
                .and_then(Value::as_str),
            Some("01-kube-ovn.conflist"),
            "seed {seed}"
        );
        assert!(
            !multus_deadlocked(g),
            "seed {seed}: graceful deadlocked: {g:#}"
        );
        assert_eq!(g["verdict"], "pass", "seed {seed}: {}", g["outcome"]);
        // Every pod that asks for a secondary network was judged, on the
        // twin's timings with all of them back (a pod without one would be
        // named with its network, and fail the scenario).
        let sec = g["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["name"]
                    .as_str()
                    .is_some_and(|n| n.contains("secondary-networks-complete"))
            })
            .unwrap_or_else(|| panic!("seed {seed}: no secondary-networks check: {g:#}"));
        assert_eq!(sec["status"]["status"], "passed", "seed {seed}: {sec:#}");
        assert!(
            sec["message"]
                .as_str()
                .unwrap()
                .starts_with("3 pods have all 3 secondary networks"),
            "seed {seed}: one workload pod per node (the nightly's profile runs no NAT gateway): {sec:#}"
        );

        let h = result(&results, HARD);
        assert_eq!(disk(h, "multus-config"), Some(true), "seed {seed}: {h:#}");
        assert!(
            multus_deadlocked(h),
            "seed {seed}: hard did not deadlock: {h:#}"
        );
        assert!(
            init_log(h).contains("Text file busy"),
            "seed {seed}: {}",
            init_log(h)
        );
        assert_eq!(h["verdict"], "xfail", "seed {seed}: {}", h["outcome"]);
    }
}

#[test]
fn fixed_multus_recovers_from_either_reboot() {
    for cell in ["kube-ovn-1.15-multus-4.2.3", "default"] {
        for seed in 1..=5 {
            let dir = tempfile::tempdir().unwrap();
            let results = run(cell, seed, dir.path());
            for name in [GRACEFUL, HARD] {
                let r = result(&results, name);
                assert!(!multus_deadlocked(r), "{cell} seed {seed} {name}: {r:#}");
                assert_eq!(
                    r["verdict"], "pass",
                    "{cell} seed {seed} {name}: {}",
                    r["outcome"]
                );
                assert!(!init_log(r).contains("Text file busy"), "{cell} {name}");
            }
            assert_eq!(disk(result(&results, HARD), "multus-config"), Some(true));
            assert_eq!(
                disk(result(&results, GRACEFUL), "multus-config"),
                Some(false)
            );
        }
    }
}
