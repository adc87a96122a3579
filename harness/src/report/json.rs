//! The JSON report: the run, a summary and every result, in kebab-case keys.

use serde::Serialize;
use serde_json::{Map, Value};

use super::record::RunRecord;

/// The JSON report's `schema-version`; bumped on incompatible changes.
///
/// 2: evidence carries `preconditions` (the node's disk while down, the
/// Multus init container's run), results may have the verdict
/// `precondition-unmet` and checks the kind `precondition`, the summary
/// counts `precondition-unmet`, and measured recoveries count from the
/// start of a fault's injection (before: from its end).
pub const SCHEMA_VERSION: u32 = 2;

/// Renders a run as JSON:
///
/// ```text
/// { "schema-version": 2,
///   "run": { "run-id", "backend", "seed", "started-at", "harness-version",
///            "estimate": { "clusters", "total", "per-scenario", "constants", "source" } },
///   "summary": { "passed", "total", "counts": { "pass", "fail", "xfail", "xpass",
///                "not-run", "precondition-unmet", "error", "interrupted", "planned" },
///                "interrupted",
///                "teardown-errors", "finished-at", "elapsed", "estimate",
///                "scenarios-elapsed", "estimate-scenarios", "simulated", "banner" },
///   "results": [ <ScenarioResult as serialized by serde> ],
///   "trend": { "baseline", "baseline-run", "threshold", "slos": [ { "scenario",
///              "slo", "current", "baseline", "direction", "regression" } ],
///              "warning" } }
/// ```
///
/// `trend` is there only when the run was compared with a baseline.
///
/// Durations are integer milliseconds; timestamps are RFC 3339.
pub fn json(record: &RunRecord) -> Value {
    let counts = record.counts();
    let mut summary = Map::new();
    summary.insert("passed".into(), Value::Bool(record.passed()));
    summary.insert("total".into(), value(&counts.total));
    summary.insert("counts".into(), value(&counts));
    summary.insert("interrupted".into(), Value::Bool(record.interrupted));
    summary.insert("teardown-errors".into(), value(&record.teardown_errors));
    summary.insert("finished-at".into(), value(&record.finished_at));
    summary.insert(
        "elapsed".into(),
        value(
            &record
                .elapsed()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        ),
    );
    // The estimate beside the actual time, so that it can be calibrated.
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    summary.insert(
        "estimate".into(),
        value(&record.info.estimate.as_ref().map(|e| ms(e.total))),
    );
    summary.insert(
        "scenarios-elapsed".into(),
        value(&ms(record.scenarios_elapsed())),
    );
    summary.insert(
        "estimate-scenarios".into(),
        value(
            &record
                .info
                .estimate
                .as_ref()
                .map(|e| ms(e.clusters.iter().map(|c| c.scenarios_time).sum())),
        ),
    );
    summary.insert("simulated".into(), Value::Bool(record.simulated()));
    summary.insert("banner".into(), value(&record.banner()));

    let mut top = Map::new();
    top.insert("schema-version".into(), value(&SCHEMA_VERSION));
    top.insert("run".into(), value(&record.info));
    top.insert("summary".into(), Value::Object(summary));
    top.insert(
        "results".into(),
        Value::Array(record.results.iter().map(value).collect()),
    );
    if let Some(trend) = &record.trend {
        top.insert("trend".into(), value(trend));
    }
    Value::Object(top)
}

/// Serializes without panicking: a value that cannot be represented becomes
/// `{"serialize-error": "..."}` so the rest of the report survives.
fn value<T: Serialize + ?Sized>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or_else(|e| {
        let mut m = Map::new();
        m.insert("serialize-error".into(), Value::String(e.to_string()));
        Value::Object(m)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn has_schema_run_summary_and_results() {
        let record = fixtures::record(true);
        let v = json(&record);
        assert_eq!(v["schema-version"], 2);
        assert_eq!(v["run"]["run-id"], "20240601-120000-abcd");
        assert_eq!(v["run"]["backend"]["simulated"], true);
        assert_eq!(v["run"]["started-at"], "2024-06-01T12:00:00Z");
        let s = &v["summary"];
        assert_eq!(s["total"], 10);
        assert_eq!(s["counts"]["pass"], 3);
        assert_eq!(s["counts"]["not-run"], 1);
        assert_eq!(s["counts"]["xfail"], 1);
        assert_eq!(s["interrupted"], true);
        assert_eq!(s["passed"], false);
        assert_eq!(s["finished-at"], "2024-06-01T12:30:00Z");
        assert_eq!(s["elapsed"], 1_800_000);
        assert_eq!(s["teardown-errors"], serde_json::json!([]));
        assert_eq!(
            s["banner"],
            "results from twin (simulated), not a real cluster"
        );

        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), record.results.len());
        let fail = &results[1];
        assert_eq!(fail["id"]["suite"], "ovs");
        assert_eq!(fail["outcome"]["outcome"], "slo-failed");
        assert_eq!(fail["elapsed"], 75_000);
        assert_eq!(
            fail["slos"][0]["culprits"][0]["name"],
            "kube-multus-ds-abcde"
        );

        let text = serde_json::to_string_pretty(&v).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn an_unfinished_run_has_nulls() {
        let record = RunRecord::new(fixtures::info(false));
        let v = json(&record);
        assert_eq!(v["summary"]["finished-at"], Value::Null);
        assert_eq!(v["summary"]["elapsed"], Value::Null);
        assert_eq!(v["summary"]["banner"], Value::Null);
        assert_eq!(v["summary"]["passed"], true);
        assert_eq!(v["results"], serde_json::json!([]));
    }
}
