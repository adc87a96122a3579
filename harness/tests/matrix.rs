//! `cni-chaos matrix` over the committed catalogue, versions.yaml and
//! estimates, and `cni-chaos baseline` against a stand-in `gh` on PATH that
//! answers from recorded JSON.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn matrix(extra: &[&str]) -> cni_chaos::exec::Output {
    support::output(
        support::cni_chaos()
            .arg("matrix")
            .args(extra.iter().map(|s| s.to_string()))
            .cwd(root()),
    )
}

#[test]
fn every_scenario_of_every_cell_is_in_exactly_one_shard_of_at_most_45_minutes() {
    let out = matrix(&["--json"]);
    assert!(out.success(), "{}", out.stderr_str());
    let m: Value = serde_json::from_str(&out.stdout_str()).unwrap();
    let versions =
        cni_chaos::backend::kind::VersionMatrix::load(&root().join("versions.yaml")).unwrap();
    let cells: Vec<&str> = m["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        cells,
        versions.sets.keys().map(String::as_str).collect::<Vec<_>>()
    );
    for c in m["cells"].as_array().unwrap() {
        let set = &versions.sets[c["name"].as_str().unwrap()];
        assert_eq!(c["node-image"], set.kubernetes.node_image.as_str());
        assert_eq!(c["kind-version"], versions.kind.min_version.as_str());
    }
    let shards = m["shards"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    let mut per_cell: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in shards {
        let id = s["id"].as_str().unwrap();
        assert!(ids.insert(id.to_string()), "duplicate shard id {id}");
        let cell = s["cell"].as_str().unwrap();
        assert!(id.starts_with(&format!("{cell}--")), "{id}");
        let minutes = s["estimate-minutes"].as_u64().unwrap();
        assert!(minutes <= 45, "{id}: {minutes} min");
        assert!(minutes > 0, "{id}");
        // The estimate counts a provisioning per cluster of the shard.
        let provisions: u64 = s["clusters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["provisions"].as_u64().unwrap())
            .sum();
        assert!(provisions >= 1, "{id}");
        let scenarios: Vec<String> = s["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        // Its suites are exactly those its scenarios come from.
        let suites: BTreeSet<&str> = scenarios
            .iter()
            .map(|id| id.split_once("::").unwrap().0)
            .collect();
        let listed: BTreeSet<&str> = s["suites"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(suites, listed, "{id}");
        per_cell
            .entry(cell.to_string())
            .or_default()
            .extend(scenarios);
    }
    for cell in cells {
        let suites = cni_chaos::run::load_suites(&[root().join("suites")], Some(cell)).unwrap();
        let want: Vec<String> = cni_chaos::plan::plan_of(&suites)
            .into_iter()
            .flat_map(|(_, _, ids)| ids)
            .collect();
        assert_eq!(
            per_cell[cell], want,
            "{cell}: each scenario once, in run order"
        );
    }
    // Stable: the same input gives the same shards.
    assert_eq!(matrix(&["--json"]).stdout_str(), out.stdout_str());
}

#[test]
fn a_shard_that_cannot_fit_is_an_error_naming_it_and_bad_cells_are_named() {
    let out = matrix(&["--json", "--cell", "default", "--limit-minutes", "10"]);
    assert!(!out.success());
    let e = out.stderr_str();
    // The figures come from estimates.json, re-blessed whenever the
    // twin's times change; the shape of the error does not.
    // The first shard over the limit is the first in run order: the
    // nightly's (the incident runs on its own `+nat-gw` profile, after it).
    assert!(
        e.contains("error: shard default--nightly-1 is estimated at ")
            && e.contains(
                " min, over the 10 min limit: nightly::control-plane-graceful-reboot alone; job setup 5 min; default@default: "
            ),
        "{e}"
    );
    let out = matrix(&["--cell", "nope"]);
    assert!(!out.success());
    assert!(
        out.stderr_str()
            .contains("--cell \"nope\": no such version set in versions.yaml"),
        "{}",
        out.stderr_str()
    );
    let out = matrix(&["--json", "--cell", "default", "--suites", "smoke"]);
    assert!(out.success(), "{}", out.stderr_str());
    let m: Value = serde_json::from_str(&out.stdout_str()).unwrap();
    assert_eq!(m["shards"].as_array().unwrap().len(), 1);
    assert_eq!(m["shards"][0]["id"], "default--smoke-1");
}

/// A stand-in `gh`: answers `run list` and `api` from files in `dir`,
/// creates a results.json for `run download`, and appends every argv to
/// `dir/calls`.
fn stand_in_gh(dir: &Path, runs: &str, artifacts: &[(u64, &str)]) {
    std::fs::write(dir.join("runs.json"), runs).unwrap();
    for (id, answer) in artifacts {
        std::fs::write(dir.join(format!("artifacts-{id}.json")), answer).unwrap();
    }
    let script = format!(
        r#"#!/bin/sh
echo "$*" >> '{d}/calls'
case "$1 $2" in
  "run list") cat '{d}/runs.json' ;;
  "run download")
    while [ $# -gt 0 ]; do
      if [ "$1" = --dir ]; then mkdir -p "$2/run1"; echo '{{"results": []}}' > "$2/run1/results.json"; fi
      shift
    done ;;
  api*)
    id=$(echo "$2" | sed 's#.*/runs/\([0-9]*\)/.*#\1#')
    if [ -f '{d}/artifacts-'"$id"'.json' ]; then cat '{d}/artifacts-'"$id"'.json'; else echo 'HTTP 404: Not Found' >&2; exit 1; fi ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
"#,
        d = dir.display()
    );
    let gh = dir.join("gh");
    std::fs::write(&gh, script).unwrap();
    std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn baseline(dir: &Path) -> cni_chaos::exec::Output {
    let path = format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    support::output(
        support::cni_chaos()
            .args([
                "baseline", "--repo", "o/r", "--branch", "main", "--cell", "default", "--dir",
            ])
            .arg(support::arg(dir.join("baseline")))
            .env("PATH", path),
    )
}

fn calls(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("calls"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn no_scheduled_run_is_no_baseline_and_null_is_never_a_run_id() {
    for answer in ["null", "", "[]", "null\n"] {
        let dir = tempfile::tempdir().unwrap();
        stand_in_gh(dir.path(), answer, &[]);
        let out = baseline(dir.path());
        assert!(out.success(), "{answer:?}: {}", out.stderr_str());
        assert!(
            out.stdout_str()
                .starts_with("baseline: none: none of the 0 newest"),
            "{answer:?}: {}",
            out.stdout_str()
        );
        let calls = calls(dir.path());
        assert_eq!(
            calls,
            vec![
                "run list --repo o/r --workflow nightly.yml --branch main --event schedule --status completed --limit 30 --json databaseId,createdAt,conclusion"
            ],
            "{answer:?}: nothing is downloaded"
        );
        assert!(!dir.path().join("baseline").exists());
    }
}

#[test]
fn the_newest_scheduled_run_with_the_cells_artifacts_is_the_baseline_failed_or_not() {
    let dir = tempfile::tempdir().unwrap();
    // Run 30 is the newest but has only another cell's artifact; run 20
    // failed (one shard went red) and has two of this cell's shards, an
    // expired one and another cell's; run 10 is older.
    let runs = r#"[
      {"databaseId": 10, "createdAt": "2026-12-01T02:17:00Z", "conclusion": "success"},
      {"databaseId": 30, "createdAt": "2026-12-03T02:17:00Z", "conclusion": "success"},
      {"databaseId": 20, "createdAt": "2026-12-02T02:17:00Z", "conclusion": "failure"}
    ]"#;
    let run30 = r#"{"total_count": 1, "artifacts": [{"name": "reports-kube-ovn-1.15-multus-4.2.3--nightly-1", "expired": false}]}"#;
    let run20 = r#"{"total_count": 4, "artifacts": [
      {"name": "reports-default--incident+nightly-1", "expired": false},
      {"name": "reports-default--nightly-1", "expired": false},
      {"name": "reports-default--smoke-1", "expired": true},
      {"name": "reports-kube-ovn-1.15-multus-4.2.3--nightly-1", "expired": false}
    ]}"#;
    stand_in_gh(dir.path(), runs, &[(30, run30), (20, run20)]);
    let out = baseline(dir.path());
    assert!(out.success(), "{}", out.stderr_str());
    let base = dir.path().join("baseline");
    assert_eq!(
        out.stdout_str().trim(),
        format!(
            "baseline: run 20: reports-default--incident+nightly-1, reports-default--nightly-1 in {}",
            base.display()
        )
    );
    let calls = calls(dir.path());
    assert_eq!(calls.len(), 5, "{calls:?}");
    assert_eq!(
        calls[1],
        "api repos/o/r/actions/runs/30/artifacts?per_page=100"
    );
    assert_eq!(
        calls[2],
        "api repos/o/r/actions/runs/20/artifacts?per_page=100"
    );
    assert_eq!(
        calls[3],
        format!(
            "run download 20 --repo o/r --name reports-default--incident+nightly-1 --dir {}",
            base.join("reports-default--incident+nightly-1").display()
        )
    );
    assert!(
        calls[4].contains("--name reports-default--nightly-1 "),
        "{calls:?}"
    );
    for a in [
        "reports-default--incident+nightly-1",
        "reports-default--nightly-1",
    ] {
        assert!(base.join(a).join("run1/results.json").is_file(), "{a}");
    }
}

#[test]
fn a_gh_failure_is_an_error_with_its_output() {
    let dir = tempfile::tempdir().unwrap();
    // Run 5's artifacts cannot be listed: the stand-in answers 404.
    stand_in_gh(
        dir.path(),
        r#"[{"databaseId": 5, "createdAt": "2026-12-01T02:17:00Z", "conclusion": "success"}]"#,
        &[],
    );
    let out = baseline(dir.path());
    assert!(!out.success());
    let e = out.stderr_str();
    assert!(
        e.contains(
            "error: baseline lookup: `gh api repos/o/r/actions/runs/5/artifacts?per_page=100`"
        ) && e.contains("HTTP 404: Not Found"),
        "{e}"
    );
    // A run list that is not a list is refused, not taken for a run id.
    let dir = tempfile::tempdir().unwrap();
    stand_in_gh(dir.path(), "12345", &[]);
    let out = baseline(dir.path());
    assert!(!out.success());
    assert!(
        out.stderr_str()
            .contains("expected a JSON array of runs, got 12345"),
        "{}",
        out.stderr_str()
    );
}

/// A suite of four scenarios on the default profile, and estimates for
/// them on the default cell: 5, 5 (replaces the cluster), 5 and 20 minutes.
fn synthetic(dir: &Path) {
    let suites = dir.join("suites");
    std::fs::create_dir_all(&suites).unwrap();
    let mut yaml = String::from("name: s\ndescription: packing\nscenarios:\n");
    for name in ["a1", "a2", "a3", "a4"] {
        yaml.push_str(&format!(
            "  - name: {name}\n    fault: {{kind: pod-delete, selector: app=ovs}}\n    slos: [{{kind: workloads-ready-within, budget: 1m}}]\n"
        ));
    }
    std::fs::write(suites.join("s.yaml"), yaml).unwrap();
    let mut e = cni_chaos::plan::Estimates::new(1);
    let cell = e.cells.entry("default".into()).or_default();
    for (id, minutes, replaced) in [
        ("s::a1", 5, false),
        ("s::a2", 5, true),
        ("s::a3", 5, false),
        ("s::a4", 20, false),
    ] {
        cell.insert(
            id.into(),
            cni_chaos::plan::ScenarioEstimate {
                elapsed_ms: minutes * 60_000,
                replaced,
            },
        );
    }
    std::fs::write(dir.join("estimates.json"), e.to_json()).unwrap();
}

fn synthetic_matrix(dir: &Path, limit: &str) -> Value {
    let out = matrix(&[
        "--json",
        "--cell",
        "default",
        "--suites-dir",
        &support::arg(dir.join("suites")),
        "--estimates",
        &support::arg(dir.join("estimates.json")),
        "--limit-minutes",
        limit,
    ]);
    assert!(out.success(), "{}", out.stderr_str());
    serde_json::from_str(&out.stdout_str()).unwrap()
}

fn shape(m: &Value) -> Vec<(Vec<String>, u64, u64)> {
    m["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["scenarios"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect(),
                s["estimate-minutes"].as_u64().unwrap(),
                s["clusters"][0]["provisions"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_replacement_inside_a_shard_costs_a_provisioning_and_shards_end_on_one() {
    let dir = tempfile::tempdir().unwrap();
    synthetic(dir.path());
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // One shard: 5 setup + 2 clusters x (10 + 2) + 35 of scenarios.
    let one = synthetic_matrix(dir.path(), "100");
    assert_eq!(
        shape(&one),
        vec![(ids(&["s::a1", "s::a2", "s::a3", "s::a4"]), 64, 2)]
    );
    // Under 45: two shards either way, but cutting after a2 (whose
    // replacement then costs only its teardown) needs one provisioning per
    // shard: 27 + 42 minutes, where [a1 a2 a3] + [a4] would take 44 + 37.
    let two = synthetic_matrix(dir.path(), "45");
    assert_eq!(
        shape(&two),
        vec![
            (ids(&["s::a1", "s::a2"]), 27, 1),
            (ids(&["s::a3", "s::a4"]), 42, 1)
        ]
    );
    assert_eq!(two["shards"][0]["id"], "default--s-1");
    assert_eq!(two["shards"][1]["id"], "default--s-2");
}
