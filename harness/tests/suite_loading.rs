//! Loads every committed suite through the same loader the runner uses, and
//! drives `cni-chaos validate` as users do.

mod support;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn committed_suites_are_valid() {
    let suites = cni_chaos::run::load_suites(&[root().join("suites")], None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(suites.iter().any(|s| s.name == "smoke"), "no smoke suite");
    for s in &suites {
        assert!(!s.scenarios.is_empty(), "{} has no scenarios", s.name);
        for sc in &s.scenarios {
            assert!(!sc.slos.is_empty(), "{}::{} has no SLOs", s.name, sc.name);
        }
    }
}

/// Every expectation the catalogue writes down, and every reboot's (whose
/// outcome depends on what a real node does on the way down), was written
/// from upstream source, and cites it as `owner/repo@tag:path`.
#[test]
fn every_committed_expectation_cites_its_upstream_source() {
    let suites = cni_chaos::run::load_suites(&[root().join("suites")], None)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut missing = Vec::new();
    for s in &suites {
        for sc in &s.scenarios {
            let needs = matches!(sc.expect, cni_chaos::suite::Expect::Fail { .. })
                || matches!(sc.fault, cni_chaos::fault::Fault::NodeReboot(_));
            let cites = |src: &str| {
                src.split(';').all(|one| {
                    let one = one.trim();
                    let (repo, rest) = one.split_once('@').unwrap_or(("", ""));
                    repo.split('/').count() == 2 && rest.contains(':')
                })
            };
            let cited = sc.expect_source.as_deref().is_some_and(cites);
            if needs && !cited {
                missing.push(format!("{}::{} ({:?})", s.name, sc.name, sc.expect_source));
            }
            // Every symptom an SLO expects cites its own source too.
            if let cni_chaos::suite::Expect::Fail { slos, .. } = &sc.expect {
                for e in slos.iter().filter(|e| !cites(&e.source)) {
                    missing.push(format!(
                        "{}::{} slos[{}] ({:?})",
                        s.name, sc.name, e.slo, e.source
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "expectations without an upstream citation: {missing:#?}"
    );
}

/// The seed scenario is a crash-like reboot that requires the #1221
/// precondition, and every hard reboot's #1221 expectation selects on it.
#[test]
fn the_seed_is_a_hard_reboot_that_requires_the_leftover_config() {
    use cni_chaos::fault::{Fault, Precondition, RebootMode};
    let suites = cni_chaos::run::load_suites(&[root().join("suites")], None)
        .unwrap_or_else(|e| panic!("{e}"));
    let incident = suites.iter().find(|s| s.name == "incident").unwrap();
    let seed = &incident.scenarios[0];
    let Fault::NodeReboot(r) = &seed.fault else {
        panic!("{:?}", seed.fault)
    };
    assert_eq!(r.mode, RebootMode::Hard);
    assert_eq!(
        seed.requires.0.get(&Precondition::MultusConfigLeft),
        Some(&true)
    );
    for s in &suites {
        for sc in &s.scenarios {
            if let (Fault::NodeReboot(_), cni_chaos::suite::Expect::Fail { .. }) =
                (&sc.fault, &sc.expect)
            {
                let when = sc
                    .expect_when
                    .as_ref()
                    .expect("a reboot's #1221 expectation has a when");
                assert_eq!(
                    when.preconditions.0.get(&Precondition::MultusConfigLeft),
                    Some(&true),
                    "{}::{}",
                    s.name,
                    sc.name
                );
            }
        }
    }
}

#[test]
fn a_suite_naming_a_missing_kind_config_or_version_set_is_refused_where_it_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("refs.yaml");
    std::fs::write(
        &file,
        "name: refs\ndescription: d\ncluster:\n  kind-config: single-node\n  versions: kube-ovn-9.9-multus-9.9.9\nscenarios:\n  - name: a\n    fault: {kind: node-reboot, target: {role: worker}, mode: hard}\n    slos: [{kind: node-ip-stable}]\n",
    )
    .unwrap();
    let err = cni_chaos::run::load_suites(std::slice::from_ref(&file), None).unwrap_err();
    let shown = file.display().to_string();
    assert!(
        err.contains(&format!(
            "{shown}:4:16: cluster.kind-config: no such kind config"
        )),
        "{err}"
    );
    assert!(
        err.contains("expected one of: default, dual-stack, ha, single"),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{shown}:5:13: cluster.versions: no such version set"
        )),
        "{err}"
    );

    // A matrix cell that does not exist is refused before anything runs.
    let err =
        cni_chaos::run::load_suites(&[root().join("suites/smoke.yaml")], Some("nope")).unwrap_err();
    assert!(err.contains("CHAOS_VERSIONS=\"nope\""), "{err}");
}

fn validate(args: &[&Path]) -> cni_chaos::exec::Output {
    support::output(
        support::cni_chaos()
            .arg("validate")
            .args(args.iter().map(support::arg))
            .cwd(root()),
    )
}

#[test]
fn validate_passes_the_catalogue_and_lists_every_problem_of_bad_files() {
    let out = validate(&[&root().join("suites")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ok: 4 suites, "), "{stdout}");

    let bad = root().join("harness/tests/fixtures/invalid/48-several-problems.yaml");
    let out = validate(&[&bad]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Exactly the problems the fixture's `# expect:` lines declare, each at
    // its file:line:column with its field path.
    let text = std::fs::read_to_string(&bad).unwrap();
    let expected: Vec<(String, String)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|l| {
            let (loc_path, _) = l.split_once(" | ").unwrap();
            let (loc, path) = loc_path.split_once(' ').unwrap();
            (loc.to_string(), path.to_string())
        })
        .collect();
    let reported: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("48-several-problems.yaml:"))
        .collect();
    assert_eq!(reported.len(), expected.len(), "{stderr}");
    for (loc, path) in &expected {
        let needle = format!("48-several-problems.yaml:{loc}: {path}:");
        assert!(
            reported.iter().any(|l| l.contains(&needle)),
            "{needle} not in:\n{stderr}"
        );
    }
}

/// A kind config a suite names is validated with the suite, by `validate`
/// and by every run (a twin run too), not only when kind reads it.
#[test]
fn validate_checks_the_kind_config_a_suite_names() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("versions.yaml"),
        ws.path().join("versions.yaml"),
    )
    .unwrap();
    std::fs::create_dir(ws.path().join("kind-configs")).unwrap();
    let config = std::fs::read_to_string(root().join("kind-configs/default.yaml")).unwrap();
    let bad = format!("{config}bogus: 1\n");
    std::fs::write(ws.path().join("kind-configs/default.yaml"), &bad).unwrap();
    let suite = ws.path().join("s.yaml");
    std::fs::write(
        &suite,
        "name: s\ndescription: d\nscenarios:\n  - name: a\n    fault: {kind: node-reboot, target: {role: worker}, mode: hard}\n    slos: [{kind: node-ip-stable}]\n",
    )
    .unwrap();
    let out = support::output(
        support::cni_chaos()
            .arg("validate")
            .arg(support::arg(&suite))
            .cwd(ws.path()),
    );
    let stderr = out.stderr_str();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = bad.lines().count();
    assert!(
        stderr.contains("kind-configs/default.yaml") && stderr.contains("bogus"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(":{line}:")),
        "line {line}: {stderr}"
    );

    // The committed config is fine.
    std::fs::write(ws.path().join("kind-configs/default.yaml"), &config).unwrap();
    let out = support::output(
        support::cni_chaos()
            .arg("validate")
            .arg(support::arg(&suite))
            .cwd(ws.path()),
    );
    assert!(out.success(), "{}", out.stderr_str());
}
