//! The GitHub workflows: valid against GitHub's workflow schema (PyPI's
//! check-jsonschema, `--builtin-schema vendor.github-workflows`, offline),
//! every `uses:` pinned to a release tag or a commit SHA, and the nightly
//! workflow shaped as issue #7 asks.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cni_chaos::exec::{Command, LocalRunner, Runner};
use cni_chaos::suite::yaml::{self, Node, Value};

fn workflows() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    out.sort();
    out
}

fn parse(path: &Path) -> Node {
    yaml::parse(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()))
}

/// Every `(key, value)` pair anywhere in the tree.
fn pairs<'a>(node: &'a Node, out: &mut Vec<(&'a str, &'a Node)>) {
    match &node.value {
        Value::Map(entries) => {
            for (k, v) in entries {
                if let Value::Str(k) = &k.value {
                    out.push((k.as_str(), v));
                }
                pairs(v, out);
            }
        }
        Value::Seq(items) => items.iter().for_each(|i| pairs(i, out)),
        _ => {}
    }
}

fn get<'a>(node: &'a Node, key: &str) -> Option<&'a Node> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            // A YAML 1.1 reader takes the key `on` for the boolean true.
            .find(|(k, _)| {
                k.value == Value::Str(key.into()) || (key == "on" && k.value == Value::Bool(true))
            })
            .map(|(_, v)| v),
        _ => None,
    }
}

#[test]
fn every_action_is_pinned_to_a_release_tag_or_sha() {
    let files = workflows();
    assert!(files.len() >= 2, "{files:?}");
    for f in files {
        let root = parse(&f);
        let mut all = Vec::new();
        pairs(&root, &mut all);
        let uses: Vec<&str> = all
            .iter()
            .filter(|(k, _)| *k == "uses")
            .filter_map(|(_, v)| match &v.value {
                Value::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        assert!(!uses.is_empty(), "{} uses no actions?", f.display());
        for u in uses {
            let (_, reference) = u
                .split_once('@')
                .unwrap_or_else(|| panic!("{}: {u} is not pinned", f.display()));
            // A full release tag (vX.Y.Z), not a major tag that moves.
            let tag = reference.strip_prefix('v').is_some_and(|v| {
                let parts: Vec<&str> = v.split('.').collect();
                parts.len() == 3
                    && parts
                        .iter()
                        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
            });
            let sha = reference.len() == 40 && reference.chars().all(|c| c.is_ascii_hexdigit());
            assert!(
                tag || sha,
                "{}: {u} must be pinned to a full release tag (vX.Y.Z) or a commit SHA",
                f.display()
            );
        }
    }
}

#[test]
fn nightly_is_the_workflow_issue_7_asks_for() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows/nightly.yml");
    let root = parse(&path);
    let on = get(&root, "on").expect("on");
    assert!(get(on, "schedule").is_some(), "cron");
    let inputs = get(get(on, "workflow_dispatch").expect("dispatch"), "inputs").expect("inputs");
    assert!(get(inputs, "suite").is_some() && get(inputs, "cell").is_some());
    assert!(get(&root, "concurrency").is_some());
    let jobs = get(&root, "jobs").expect("jobs");
    let Value::Map(entries) = &jobs.value else {
        panic!("jobs")
    };
    for (name, job) in entries {
        assert!(
            get(job, "timeout-minutes").is_some(),
            "job {name} has no timeout"
        );
    }
    let chaos = get(jobs, "chaos").expect("chaos job");
    let strategy = get(chaos, "strategy").expect("strategy");
    assert_eq!(
        get(strategy, "fail-fast").map(|n| n.value.clone()),
        Some(Value::Bool(false))
    );
    let text = std::fs::read_to_string(&path).unwrap();
    for needle in [
        // Issue 13: one build, the matrix from the binary, shards that run it.
        "cargo build --locked -p cni-chaos --bin cni-chaos",
        "target/debug/cni-chaos matrix --json",
        "include: ${{ fromJSON(needs.build.outputs.matrix).shards }}",
        "actions/download-artifact@",
        "bin/cni-chaos run -- --test-threads 1",
        "CHAOS_BACKEND: kind",
        "CHAOS_VERSIONS: ${{ matrix.cell }}",
        "CHAOS_SUITES: ${{ join(matrix.suites, ',') }}",
        "CHAOS_SCENARIOS: ${{ join(matrix.scenarios, ',') }}",
        "versions.yaml",
        "KIND_VERSION: ${{ matrix.kind-version }}",
        "sha256sum -c",
        "if: always()",
        "reports/latest/junit.xml",
        "name: reports-${{ matrix.id }}",
        "CHAOS_BASELINE",
        "bin/cni-chaos baseline --workflow nightly.yml",
        // Kube-OVN's CI frees disk space the same way; kind needs the
        // inotify limits.
        "uses: jlumbroso/free-disk-space@",
        "sudo sysctl -w fs.inotify.max_user_watches=524288",
        "sudo sysctl -w fs.inotify.max_user_instances=512",
    ] {
        assert!(text.contains(needle), "nightly.yml lacks {needle:?}");
    }
    // The deadline is set below the job's limit, leaving room for the
    // scenario in flight, teardown and the reports; and above the longest
    // shard estimate, so a run on time never meets it.
    let timeout = match get(chaos, "timeout-minutes").map(|n| &n.value) {
        Some(Value::Int(m)) => u64::try_from(*m).unwrap(),
        other => panic!("chaos timeout-minutes: {other:?}"),
    };
    let deadline: u64 = text
        .split_once("CHAOS_DEADLINE=$(date -u -d '+")
        .and_then(|(_, rest)| rest.split_once(" minutes'"))
        .map(|(m, _)| m.parse().unwrap())
        .expect("CHAOS_DEADLINE set from the job's start");
    let limit = cni_chaos::plan::SHARD_LIMIT.as_secs() / 60;
    assert!(
        limit < deadline && deadline + 20 <= timeout,
        "shard limit {limit} < deadline {deadline} <= timeout {timeout} - 20"
    );
    let ci = std::fs::read_to_string(path.with_file_name("ci.yml")).unwrap();
    // Neither workflow reads versions.yaml itself: the binary does.
    for (name, body) in [("nightly.yml", &text), ("ci.yml", &ci)] {
        for regex in ["import re", "re.findall", "re.match", "grep -E", "sed -n"] {
            assert!(!body.contains(regex), "{name} parses with {regex:?}");
        }
        assert!(
            body.contains("matrix --json"),
            "{name}: matrix from the binary"
        );
    }
    assert!(
        ci.contains("CHAOS_BACKEND=twin")
            && ci.contains("--test chaos")
            && ci.contains("versions.yaml"),
        "ci.yml must run the catalogue on the twin for every cell"
    );
    assert!(ci.contains("bash .ci/run"), "ci.yml runs what CI runs");
    assert!(
        ci.contains("target/report-screenshots/"),
        "ci.yml uploads the screenshots"
    );
}

#[tokio::test]
async fn workflows_validate_against_the_github_workflow_schema() {
    if !support::tool_runs(
        Command::new("check-jsonschema").arg("--version"),
        "pip install check-jsonschema",
    ) {
        return;
    }
    let mut cmd = Command::new("check-jsonschema")
        .args(["--builtin-schema", "vendor.github-workflows"])
        .timeout(Duration::from_secs(120));
    for f in workflows() {
        cmd = cmd.arg(f.display().to_string());
    }
    let out = LocalRunner::new()
        .run(&cmd)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.stdout_str().contains("ok -- validation done"),
        "{}",
        out.stdout_str()
    );

    // And the validator does reject a broken workflow, so the pass above means something.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/checkout@v4\n        timeout-minutes: soon\n").unwrap();
    let rejected = LocalRunner::new()
        .output(
            &Command::new("check-jsonschema")
                .args([
                    "--builtin-schema",
                    "vendor.github-workflows",
                    &bad.display().to_string(),
                ])
                .timeout(Duration::from_secs(120)),
        )
        .await
        .unwrap();
    assert!(
        !rejected.success(),
        "a broken workflow validated: {}",
        rejected.stdout_str()
    );
}
