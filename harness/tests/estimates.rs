//! `harness/estimates.json`: each scenario's elapsed virtual time on the
//! twin, per cell, which `CHAOS_DRY_RUN=1`, every report and `cni-chaos
//! matrix` turn into estimates. Regenerate it with
//! `CHAOS_BLESS=1 cargo test -p cni-chaos --test estimates` (it runs the
//! whole catalogue on the twin on every cell and reads each scenario's
//! `elapsed` from the JSON report); without CHAOS_BLESS the test only checks
//! that the file has an entry for every scenario of every cell and nothing
//! else, so that it stays cheap and the times can be re-blessed by whoever
//! changes them.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use cni_chaos::plan::{ESTIMATES_FILE, Estimates, ScenarioEstimate};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn cells() -> Vec<String> {
    let known = cni_chaos::backend::known_profiles(&root()).unwrap();
    known.version_sets.into_iter().collect()
}

/// Every scenario a default run of the catalogue starts on `cell`.
fn catalogue(cell: &str) -> BTreeSet<String> {
    let suites = cni_chaos::run::load_suites(&[root().join("suites")], Some(cell)).unwrap();
    cni_chaos::plan::plan_of(&suites)
        .into_iter()
        .flat_map(|(_, _, ids)| ids)
        .collect()
}

/// The status of a check in the JSON report.
fn status(check: &serde_json::Value) -> &str {
    check["status"]["status"]
        .as_str()
        .or_else(|| check["status"].as_str())
        .unwrap_or_default()
}

/// Runs the catalogue on the twin on every cell and writes the file.
fn bless(path: &std::path::Path) {
    let mut estimates = Estimates::new(cni_chaos::backend::twin::DEFAULT_SEED);
    for cell in cells() {
        let reports = tempfile::tempdir().unwrap();
        let out = support::output(support::twin_run(
            root().join("suites"),
            &cell,
            reports.path(),
        ));
        let json = support::latest_results(reports.path());
        let results = json["results"].as_array().unwrap();
        assert!(
            !results.is_empty(),
            "{cell}: no results:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let entry = estimates.cells.entry(cell.clone()).or_default();
        for r in results {
            let id = support::trial_name(r);
            let elapsed_ms = r["elapsed"]
                .as_u64()
                .unwrap_or_else(|| panic!("{cell}: {id} has no elapsed: {r}"));
            let checks = r["checks"].as_array().cloned().unwrap_or_default();
            // What the runner's `left_cluster_unhealthy` decides on.
            let replaced = checks.iter().any(|c| {
                let s = status(c);
                match c["kind"].as_str() {
                    Some("recovery") => s == "failed" || s == "error",
                    Some("cleanup") => s == "error",
                    _ => false,
                }
            });
            entry.insert(
                id,
                ScenarioEstimate {
                    elapsed_ms,
                    replaced,
                },
            );
        }
    }
    std::fs::write(path, estimates.to_json()).unwrap();
}

#[test]
fn every_scenario_of_every_cell_has_a_twin_time() {
    let path = root().join(ESTIMATES_FILE);
    if std::env::var("CHAOS_BLESS").is_ok_and(|v| v == "1") {
        bless(&path);
    }
    let estimates = Estimates::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut problems = Vec::new();
    let cells = cells();
    for cell in &cells {
        let want = catalogue(cell);
        let have: BTreeSet<String> = estimates
            .cells
            .get(cell)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for id in want.difference(&have) {
            problems.push(format!("{cell}: no estimate for {id}"));
        }
        for id in have.difference(&want) {
            problems.push(format!("{cell}: {id} is not in the catalogue any more"));
        }
        for id in want.intersection(&have) {
            if estimates.get(cell, id).is_some_and(|e| e.elapsed_ms == 0) {
                problems.push(format!("{cell}: {id} took no time at all"));
            }
        }
    }
    for cell in estimates.cells.keys() {
        if !cells.contains(cell) {
            problems.push(format!("{cell} is not a cell of versions.yaml"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} is out of date (CHAOS_BLESS=1 cargo test -p cni-chaos --test estimates):\n{}",
        ESTIMATES_FILE,
        problems.join("\n")
    );
}
