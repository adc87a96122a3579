//! Loads every committed suite through the same loader the runner uses.

use std::path::PathBuf;

#[test]
fn committed_suites_are_valid() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../suites");
    let suites = cni_chaos::suite::load(&[dir]).unwrap_or_else(|e| panic!("{e}"));
    assert!(suites.iter().any(|s| s.name == "smoke"), "no smoke suite");
    for s in &suites {
        assert!(!s.scenarios.is_empty(), "{} has no scenarios", s.name);
        for sc in &s.scenarios {
            assert!(!sc.slos.is_empty(), "{}::{} has no SLOs", s.name, sc.name);
        }
    }
}
