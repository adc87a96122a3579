//! Observation that ends as soon as the verdict is known judges exactly as
//! the full window does: the whole catalogue on every cell of
//! versions.yaml, with 20 seeds each, run with `CHAOS_OBSERVE=full`, which
//! observes the full window and keeps, beside its verdicts, the verdicts
//! known at the moment the early end would have ended observation. Both
//! come from one timeline, so a difference is the early end's alone, never
//! two runs' random timings drifting apart.
//!
//! "Equal" means the same status, the same culprits (kind, namespace, name
//! and reason), and the same measured value when the SLO passed. Every
//! difference is listed.

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Mutex;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Seeds per cell: 20 (`CHAOS_EQUIVALENCE_SEEDS` lowers it while developing).
fn seeds() -> u64 {
    std::env::var("CHAOS_EQUIVALENCE_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

fn culprits(v: &Value) -> BTreeSet<(String, String, String, String)> {
    v["culprits"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (s("kind"), s("namespace"), s("name"), s("reason"))
        })
        .collect()
}

/// The differences between the early and the full verdicts of one result,
/// and whether it had early verdicts at all.
fn differences(r: &Value) -> (Vec<String>, bool) {
    let name = support::trial_name(r);
    let Some(early) = r["early-slos"].as_array() else {
        return (Vec::new(), false);
    };
    let mut out = Vec::new();
    for full in r["slos"].as_array().into_iter().flatten() {
        let Some(e) = early.iter().find(|e| e["slo"] == full["slo"]) else {
            out.push(format!("{name}: {} has no early verdict", full["slo"]));
            continue;
        };
        let passed = full["status"]["status"] == "pass";
        if e["status"] != full["status"]
            || culprits(e) != culprits(full)
            || (passed && e["measured"] != full["measured"])
        {
            out.push(format!(
                "{name}: {}: early {} {} {:?}, full {} {} {:?}",
                full["slo"]["kind"],
                e["status"],
                e["measured"],
                culprits(e),
                full["status"],
                full["measured"],
                culprits(full)
            ));
        }
    }
    (out, true)
}

#[test]
fn early_ends_judge_as_the_full_window_on_every_cell_and_seed() {
    let cells: Vec<String> = cni_chaos::backend::known_profiles(&root())
        .unwrap()
        .version_sets
        .into_iter()
        .collect();
    let seeds = seeds();
    let jobs: Mutex<Vec<(String, u64)>> = Mutex::new(
        cells
            .iter()
            .flat_map(|c| (1..=seeds).map(move |s| (c.clone(), s)))
            .collect(),
    );
    let found: Mutex<(Vec<String>, usize, usize, usize)> = Mutex::new((Vec::new(), 0, 0, 0));
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let Some((cell, seed)) = jobs.lock().unwrap().pop() else {
                        return;
                    };
                    let reports = tempfile::tempdir().unwrap();
                    let out = support::output(
                        support::twin_run(root().join("suites"), &cell, reports.path())
                            .env("CHAOS_OBSERVE", "full")
                            .env("CHAOS_SEED", seed.to_string()),
                    );
                    let json = support::latest_results(reports.path());
                    let results = json["results"].as_array().cloned().unwrap_or_default();
                    let mut f = found.lock().unwrap();
                    if results.is_empty() {
                        f.0.push(format!(
                            "{cell} seed {seed}: no results; stderr:\n{}",
                            String::from_utf8_lossy(&out.stderr)
                        ));
                    }
                    f.1 += 1;
                    for r in &results {
                        assert_eq!(
                            r["observation"]["mode"], "full",
                            "{cell} seed {seed}: {}",
                            r["id"]
                        );
                        let (diffs, compared) = differences(r);
                        f.2 += usize::from(compared);
                        f.3 += r["slos"].as_array().map_or(0, Vec::len);
                        f.0.extend(
                            diffs
                                .into_iter()
                                .map(|d| format!("{cell} seed {seed}: {d}")),
                        );
                    }
                }
            });
        }
    });
    let (diffs, runs, compared, slos) = found.into_inner().unwrap();
    println!(
        "EQUIVALENCE: {runs} catalogue runs ({} cells x {seeds} seeds), {compared} scenario iterations with an early end compared, {slos} SLO verdicts, {} differences",
        cells.len(),
        diffs.len()
    );
    assert_eq!(runs, cells.len() * usize::try_from(seeds).unwrap());
    assert!(compared > runs * 10, "most scenarios end early: {compared}");
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
