//! What leftover-multus-config records about the replacement Multus pod's
//! init container, the same way on every backend: its first finished run
//! (exit code, reason) as facts, and its last log line as the fault's
//! [`MultusInit`] precondition record (the engine follows the Multus pod
//! itself only after a reboot, so this run is read once). Not a verdict: a
//! racy Multus (`cp`) says "Text file busy" against the busy shim, a fixed
//! one (`install_multus`, atomic) succeeds, and the fault took effect
//! either way.

use std::time::Duration;

use serde_json::Value;

use super::{MULTUS_INIT_CONTAINER, MultusInit};
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

/// The facts of `run`: the new pod and how its init container exited.
pub fn init_run_facts(run: &InitRun) -> Vec<(String, String)> {
    vec![
        ("new Multus pod".into(), run.pod.clone()),
        (
            format!("{MULTUS_INIT_CONTAINER} exit code"),
            format!("{} ({})", run.exit_code, run.reason),
        ),
    ]
}

/// `run` as the fault's record of the Multus init container: its last log
/// line (empty when it printed nothing), or why the log could not be read;
/// a shim was running when `shim_held` (the fault's own frozen shim holds
/// the binary through the run), else it was not sampled.
pub fn init_run_record(run: &InitRun, log: Result<&str, String>, shim_held: bool) -> MultusInit {
    let (last_log, unrecorded) = match log {
        Ok(text) => (
            Some(
                text.lines()
                    .map(str::trim)
                    .rfind(|l| !l.is_empty())
                    .unwrap_or_default()
                    .to_string(),
            ),
            None,
        ),
        Err(why) => (None, Some(format!("reading its log: {why}"))),
    };
    MultusInit {
        pod: run.pod.clone(),
        shim_running: shim_held.then_some(true),
        last_log,
        unrecorded: unrecorded
            .or_else(|| (!shim_held).then(|| "the node's processes were not sampled".to_string())),
    }
}

/// The fact when no run finished within `waited`.
pub fn no_init_run_fact(waited: Duration) -> (String, String) {
    (
        format!("{MULTUS_INIT_CONTAINER} first run"),
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
        assert_eq!(init_run_facts(&run)[1].1, "1 (Error)");
        let busy = init_run_record(&run, Ok("copying\ncp: x: Text file busy\n\n"), true);
        assert_eq!(busy.last_log.as_deref(), Some("cp: x: Text file busy"));
        assert_eq!((busy.shim_running, busy.unrecorded), (Some(true), None));
        let empty = init_run_record(&run, Ok(""), true);
        assert_eq!(empty.last_log.as_deref(), Some(""));
        let unread = init_run_record(&run, Err("gone".into()), false);
        assert_eq!((unread.last_log, unread.shim_running), (None, None));
        assert!(unread.unrecorded.unwrap().contains("gone"));
        assert_eq!(
            finished_init_run(&list, &["old".into(), "new".into()]),
            None
        );
    }
}
