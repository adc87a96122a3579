//! Follows a node's Multus pod after a fault until its init container has
//! run once more, and records what it met: whether a `multus-shim` ran on
//! the node then (multus-cni #1221 needs one holding the binary busy), and
//! the init container's last log line (`Text file busy` for #1221).
//!
//! Pod status and logs come through the API (the same on kind and the
//! twin); processes through the backend ([`Cluster::count_processes`]).
//! "Ran once more" is told from the init container's runs before the fault
//! (a [`Baseline`]), not from clocks (the twin's are virtual): a run is
//! known by its `startedAt`, so a run that was lost in a reboot, which the
//! kubelet then reports terminated (exit 255, `Unknown`) with a new
//! `finishedAt`, is not taken for a new one.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams};
use tokio::time::Instant;

use crate::backend::{BackendError, Cluster, NodeInfo};
use crate::fault::{MULTUS_INIT_CONTAINER, MULTUS_SELECTOR, MULTUS_SHIM_PROCESS, MultusInit};

/// How often the pod and the node's processes are sampled.
pub const POLL: Duration = Duration::from_secs(1);

/// The node's Multus pod and its init container's runs before the fault.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    /// The pod's uid.
    pub uid: String,
    /// The runs then known, by `startedAt` (`finishedAt` when a
    /// termination has no start).
    pub runs: Vec<String>,
}

/// A termination of the init container that was not in the baseline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRun {
    /// The pod.
    pub pod: String,
    /// The termination is the container's previous one (read its log with
    /// `previous=true`), not its current state.
    pub previous: bool,
}

/// The node's Multus pod in `pods` (a list of the app=multus pods on it).
fn multus_pod(pods: &[Pod]) -> Option<&Pod> {
    pods.iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .max_by_key(|p| p.metadata.creation_timestamp.clone().map(|t| t.0))
}

/// The init container's runs, current first: `(run, terminated, previous)`,
/// a run known by its `startedAt`.
fn runs(pod: &Pod) -> Vec<(String, bool, bool)> {
    let Some(s) = pod
        .status
        .as_ref()
        .and_then(|s| s.init_container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == MULTUS_INIT_CONTAINER))
    else {
        return Vec::new();
    };
    let at = |t: &k8s_openapi::api::core::v1::ContainerStateTerminated| {
        t.started_at
            .as_ref()
            .or(t.finished_at.as_ref())
            .map(|f| f.0.to_string())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    if let Some(st) = &s.state {
        if let Some(t) = &st.terminated {
            out.push((at(t), true, false));
        }
        if let Some(r) = &st.running {
            let start = r.started_at.as_ref().map(|f| f.0.to_string());
            out.push((start.unwrap_or_default(), false, false));
        }
    }
    if let Some(t) = s.last_state.as_ref().and_then(|st| st.terminated.as_ref()) {
        out.push((at(t), true, true));
    }
    out
}

/// The baseline of `pods` (the app=multus pods on the node before the fault).
pub fn baseline(pods: &[Pod]) -> Option<Baseline> {
    let pod = multus_pod(pods)?;
    Some(Baseline {
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        runs: runs(pod).into_iter().map(|(r, _, _)| r).collect(),
    })
}

/// A run of the init container that started after `base` was taken and
/// has finished: any finished run of a new pod, or one the baseline lacks.
pub fn new_run(pods: &[Pod], base: &Baseline) -> Option<NewRun> {
    let pod = multus_pod(pods)?;
    let same = pod.metadata.uid.as_deref().unwrap_or_default() == base.uid;
    runs(pod)
        .into_iter()
        .find(|(run, terminated, _)| *terminated && (!same || !base.runs.contains(run)))
        .map(|(_, _, previous)| NewRun {
            pod: pod.metadata.name.clone().unwrap_or_default(),
            previous,
        })
}

fn api_err(what: &str, e: kube::Error) -> BackendError {
    BackendError::other(what.to_string(), e.to_string())
}

/// The app=multus pods on `node`.
pub async fn list(client: &kube::Client, node: &str) -> Result<Vec<Pod>, BackendError> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let lp = ListParams::default()
        .labels(MULTUS_SELECTOR)
        .fields(&format!("spec.nodeName={node}"));
    Ok(api
        .list(&lp)
        .await
        .map_err(|e| api_err("list the Multus pods", e))?
        .items)
}

/// Follows the node's Multus pod for up to `within` after a fault, from
/// `base`, sampling every [`POLL`]; `None` when its init container did not
/// run again within that time.
pub async fn follow(
    cluster: &dyn Cluster,
    client: &kube::Client,
    node: &NodeInfo,
    base: &Baseline,
    within: Duration,
) -> Result<Option<MultusInit>, BackendError> {
    let deadline = Instant::now() + within;
    // The last two samples of the node's processes (`None`: could not be
    // listed, e.g. while the node boots), and the last errors seen.
    let mut shim_before: Option<bool> = None;
    let mut last_error: Option<String> = None;
    loop {
        let shim_now = match cluster.count_processes(node, MULTUS_SHIM_PROCESS).await {
            Ok(n) => n.map(|n| n > 0),
            Err(e) => {
                last_error = Some(format!("listing the node's processes: {e}"));
                None
            }
        };
        // The API may be down while a control-plane node boots.
        let run = match list(client, &node.name).await {
            Ok(pods) => new_run(&pods, base),
            Err(e) => {
                last_error = Some(e.to_string());
                None
            }
        };
        if let Some(run) = run {
            let api: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
            let lp = LogParams {
                container: Some(MULTUS_INIT_CONTAINER.into()),
                previous: run.previous,
                tail_lines: Some(1),
                ..LogParams::default()
            };
            let (last_log, log_error) = match api.logs(&run.pod, &lp).await {
                Ok(l) => (
                    Some(
                        l.lines()
                            .last()
                            .map(|s| s.trim().to_string())
                            .unwrap_or_default(),
                    ),
                    None,
                ),
                Err(e) => (None, Some(format!("reading its log: {e}"))),
            };
            // A shim seen at the sample that found the run's end, or at the
            // one before it (the run ended between the two).
            let shim_running = match (shim_before, shim_now) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) | (None, Some(false)) => Some(false),
                (_, None) => None,
            };
            let unrecorded = match (&log_error, shim_running) {
                (Some(e), _) => Some(e.clone()),
                (None, None) => last_error.clone(),
                (None, Some(_)) => None,
            };
            return Ok(Some(MultusInit {
                pod: run.pod,
                shim_running,
                last_log,
                unrecorded,
            }));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        shim_before = shim_now;
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pod whose init container's current and last runs started at the
    /// given times (each finished a second later).
    fn pod(uid: &str, current: Option<&str>, last: Option<&str>) -> Pod {
        let term = |s: &str| serde_json::json!({"terminated": {"exitCode": 1, "startedAt": s, "finishedAt": s.replace(":00Z", ":01Z")}});
        let mut status = serde_json::json!({"name": MULTUS_INIT_CONTAINER, "ready": false, "restartCount": 1, "image": "x", "imageID": ""});
        if let Some(f) = current {
            status["state"] = term(f);
        }
        if let Some(f) = last {
            status["lastState"] = term(f);
        }
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": format!("kube-multus-ds-{uid}"), "uid": uid, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"initContainerStatuses": [status]}
        }))
        .unwrap()
    }

    #[test]
    fn the_install_before_the_fault_is_not_a_new_run() {
        let before = [pod("a", Some("2026-01-01T00:01:00Z"), None)];
        let base = baseline(&before).unwrap();
        assert_eq!(new_run(&before, &base), None);
        // After a reboot the same pod's init container runs again.
        let again = [pod(
            "a",
            Some("2026-01-01T00:09:00Z"),
            Some("2026-01-01T00:01:00Z"),
        )];
        assert_eq!(
            new_run(&again, &base),
            Some(NewRun {
                pod: "kube-multus-ds-a".into(),
                previous: false
            })
        );
        // Waiting after a failure: the last termination is the new run.
        let waiting = [pod("a", None, Some("2026-01-01T00:09:30Z"))];
        assert!(new_run(&waiting, &base).unwrap().previous);
        // Running, its earlier run the baseline's: nothing new yet.
        let running = [pod("a", None, Some("2026-01-01T00:01:00Z"))];
        assert_eq!(new_run(&running, &base), None);
    }

    #[test]
    fn a_run_lost_in_the_reboot_is_not_a_new_run() {
        let base = baseline(&[pod("a", Some("2026-01-01T00:01:00Z"), None)]).unwrap();
        // After a crash the kubelet reports the lost run terminated anew
        // (exit 255, Unknown): same start, new finish.
        let lost: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "kube-multus-ds-a", "uid": "a", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"initContainerStatuses": [{
                "name": MULTUS_INIT_CONTAINER, "ready": false, "restartCount": 1, "image": "x", "imageID": "",
                "state": {"running": {"startedAt": "2026-01-01T00:09:10Z"}},
                "lastState": {"terminated": {"exitCode": 255, "reason": "Unknown", "startedAt": "2026-01-01T00:01:00Z", "finishedAt": "2026-01-01T00:09:00Z"}}
            }]}
        }))
        .unwrap();
        assert_eq!(new_run(std::slice::from_ref(&lost), &base), None);
    }

    #[test]
    fn a_replaced_pod_counts_from_its_first_termination() {
        let base = baseline(&[pod("a", Some("2026-01-01T00:01:00Z"), None)]).unwrap();
        let replaced = [pod("b", Some("2026-01-01T00:01:00Z"), None)];
        assert_eq!(new_run(&replaced, &base).unwrap().pod, "kube-multus-ds-b");
        assert_eq!(new_run(&[], &base), None);
        assert_eq!(baseline(&[]), None);
    }
}
