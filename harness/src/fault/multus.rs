//! What leftover-multus-config records about the replacement Multus pod's
//! init container, the same way on every backend: its first finished run
//! (exit code, reason) and last log line. Facts, not a verdict: a racy
//! Multus (`cp`) says "Text file busy" against the busy shim, a fixed one
//! (`install_multus`, atomic) succeeds, and the fault took effect either
//! way.

use std::time::Duration;

use serde_json::Value;

use super::MULTUS_INIT_CONTAINER;
use crate::util::duration;

/// A finished run of [`MULTUS_INIT_CONTAINER`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitRun {
    /// The pod's name.
    pub pod: String,
    /// Its exit code.
    pub exit_code: i64,
    /// Its reason (`Error`, `Completed`).
    pub reason: String,
}

/// In a pod list (`kubectl get pods -o json`, the API's `PodList`): a pod
/// not in `old` (names, `pod/` prefix or not) whose
/// [`MULTUS_INIT_CONTAINER`] has finished a run (its state or last state is
/// `terminated`).
pub fn finished_init_run(list: &Value, old: &[String]) -> Option<InitRun> {
    list["items"].as_array()?.iter().find_map(|pod| {
        let name = pod["metadata"]["name"].as_str()?;
        if old.iter().any(|o| o.trim_start_matches("pod/") == name) {
            return None;
        }
        let status = pod["status"]["initContainerStatuses"]
            .as_array()?
            .iter()
            .find(|s| s["name"] == MULTUS_INIT_CONTAINER)?;
        let t = [
            &status["state"]["terminated"],
            &status["lastState"]["terminated"],
        ]
        .into_iter()
        .find(|t| t.is_object())?;
        Some(InitRun {
            pod: name.to_string(),
            exit_code: t["exitCode"].as_i64().unwrap_or_default(),
            reason: t["reason"].as_str().unwrap_or_default().to_string(),
        })
    })
}

fn key() -> String {
    format!("{MULTUS_INIT_CONTAINER} last log line")
}

/// The facts of `run`, whose log (or why it could not be read) is `log`.
pub fn init_run_facts(run: &InitRun, log: Result<&str, String>) -> Vec<(String, String)> {
    let line = match log {
        Ok(text) => text
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map_or("(empty)".to_string(), str::to_string),
        Err(why) => format!("(could not read: {why})"),
    };
    vec![
        ("new Multus pod".into(), run.pod.clone()),
        (
            format!("{MULTUS_INIT_CONTAINER} exit code"),
            format!("{} ({})", run.exit_code, run.reason),
        ),
        (
            format!("{MULTUS_INIT_CONTAINER} Text file busy"),
            if line.contains("Text file busy") {
                "yes"
            } else {
                "no"
            }
            .into(),
        ),
        (key(), line),
    ]
}

/// The fact when no run finished within `waited`.
pub fn no_init_run_fact(waited: Duration) -> (String, String) {
    (
        key(),
        format!(
            "(no finished run of the new pod's {MULTUS_INIT_CONTAINER} within {})",
            duration::format(waited)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_pods_finished_run_and_its_last_line() {
        let list = serde_json::json!({"items": [
            {"metadata": {"name": "old"}, "status": {"initContainerStatuses": [
                {"name": MULTUS_INIT_CONTAINER, "state": {"terminated": {"exitCode": 0}}}]}},
            {"metadata": {"name": "running"}, "status": {"initContainerStatuses": [
                {"name": MULTUS_INIT_CONTAINER, "state": {"running": {}}}]}},
            {"metadata": {"name": "new"}, "status": {"initContainerStatuses": [
                {"name": MULTUS_INIT_CONTAINER, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                 "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}}
        ]});
        let run = finished_init_run(&list, &["pod/old".into()]).unwrap();
        assert_eq!(
            run,
            InitRun {
                pod: "new".into(),
                exit_code: 1,
                reason: "Error".into()
            }
        );
        let facts = init_run_facts(&run, Ok("copying\ncp: x: Text file busy\n\n"));
        assert_eq!(facts[2].1, "yes");
        assert_eq!(facts[3].1, "cp: x: Text file busy");
        assert_eq!(init_run_facts(&run, Ok(""))[3].1, "(empty)");
        assert_eq!(init_run_facts(&run, Err("gone".into()))[2].1, "no");
        assert_eq!(
            finished_init_run(&list, &["old".into(), "new".into()]),
            None
        );
    }
}
