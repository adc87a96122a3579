//! [`Slo::PingerHealthy`]: kube-ovn-pinger's own verdict, read from its
//! log at the end of observation (the log subresource through the API
//! server, as `kubectl logs` reads it).
//!
//! A round (kube-ovn v1.14.41 `pkg/pinger/ping.go`, `ping`) starts with
//! `start to check apiserver connectivity`, then logs one
//! `ping pod: NAME IP, count: 3, loss count N, ...` per kube-ovn-pinger pod,
//! one `ping node: NAME IP, ...` per node, and `resolve dns ...` or
//! `failed to resolve dns ...`. The last complete round (between the last
//! two starts) is the pinger's verdict; any loss or DNS failure in it fails
//! the SLO. Its external checks (`ping external address: 1.1.1.1`, `failed
//! to resolve dns kube-ovn.io.`: install.sh hard-codes both, v1.13.15 to
//! v1.16.2) cannot pass offline: the kind backend's install switches them
//! off (`backend::kind::without_pinger_external`), and on a cluster it did
//! not install (`CHAOS_CLUSTER`) they may still run and are never judged.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};

use super::podcheck::{Seen, conclude, culprit, live_pods, not_evaluated};
use crate::slo::{NodeScope, Slo, SloVerdict};

/// Where pinger runs.
pub const NAMESPACE: &str = "kube-system";
/// How often a pinger watch reads the pingers' logs while observing
/// (pinger runs a round every 5 s).
pub const WATCH_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Pinger's DaemonSet label.
pub const PINGER_APP: &str = "kube-ovn-pinger";
/// Its container.
pub const PINGER_CONTAINER: &str = "pinger";
/// Pinger's `--internal-dns` default, which install.sh keeps.
pub const INTERNAL_DNS: &str = "kubernetes.default";
/// How many log lines are read (about 15 rounds on a three-node cluster).
const TAIL_LINES: i64 = 200;

/// What the last complete round found wrong (empty: nothing), or why it
/// cannot be told.
pub fn last_round_failures(log: &str) -> Result<Vec<String>, String> {
    let lines: Vec<&str> = log.lines().collect();
    let starts: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("start to check apiserver connectivity"))
        .map(|(i, _)| i)
        .collect();
    let [.., from, to] = starts[..] else {
        return Err(format!(
            "no complete round in the last {} log lines",
            lines.len()
        ));
    };
    let mut failures = Vec::new();
    for line in &lines[from..to] {
        for what in ["ping pod: ", "ping node: "] {
            let Some(at) = line.find(what) else { continue };
            let rest = &line[at..];
            let loss = rest
                .split("loss count ")
                .nth(1)
                .and_then(|s| s.split(',').next())
                .and_then(|n| n.trim().parse::<u32>().ok())
                .ok_or_else(|| format!("cannot read the loss count of {rest:?}"))?;
            if loss > 0 {
                let target = rest.split(',').next().unwrap_or(rest);
                failures.push(format!("{target}: {loss} of 3 lost"));
            }
        }
        // The internal name only: install.sh sets --external-dns
        // (kube-ovn.io.) and --external-address (1.1.1.1), whose checks
        // cannot pass offline; the harness's installs switch them off, and
        // where they still run (a reused cluster) they are not judged.
        if let Some(at) = line.find(&format!("failed to resolve dns {INTERNAL_DNS},")) {
            failures.push(line[at..].to_string());
        }
    }
    Ok(failures)
}

/// One pinger pod as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingerReading {
    /// The pod.
    pub pod: Seen,
    /// What its last complete round found wrong, or why it cannot be told.
    pub failures: Result<Vec<String>, String>,
}

/// Reads the pingers `slo` judges now (on the faulted node only with
/// `nodes: fault-target`).
pub async fn read(
    client: &kube::Client,
    slo: &Slo,
    fault_node: Option<&str>,
) -> Result<Vec<PingerReading>, String> {
    let Slo::PingerHealthy { nodes } = slo else {
        return Ok(Vec::new());
    };
    let api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let mut out = Vec::new();
    for pod in live_pods(client, NAMESPACE, &format!("app={PINGER_APP}")).await? {
        if *nodes == NodeScope::FaultTarget && pod.node.as_deref() != fault_node {
            continue;
        }
        if pod.not_running.is_some() {
            out.push(PingerReading {
                pod,
                failures: Ok(Vec::new()),
            });
            continue;
        }
        let params = LogParams {
            container: Some(PINGER_CONTAINER.into()),
            tail_lines: Some(TAIL_LINES),
            ..LogParams::default()
        };
        let failures = match api.logs(&pod.name, &params).await {
            Ok(log) => last_round_failures(&log),
            Err(e) => Err(format!("reading its log: {e}")),
        };
        out.push(PingerReading { pod, failures });
    }
    Ok(out)
}

/// A pinger's verdict in words, as the timeline and its lane show it:
/// `clean`, `lost: <what>`, the state of a pinger that is not Running, or
/// `unread: <why>`.
pub fn verdict_words(r: &PingerReading) -> String {
    match (&r.pod.not_running, &r.failures) {
        (Some(state), _) => state.clone(),
        (None, Ok(f)) if f.is_empty() => "clean".into(),
        (None, Ok(f)) => format!("lost: {}", f.join("; ")),
        (None, Err(e)) => format!("unread: {e}"),
    }
}

/// Reads the pingers `slo` judges every [`WATCH_EVERY`] until `stop`, and
/// records each one's verdict ([`verdict_words`]) through `record` (pod,
/// node, verdict, when): kube-ovn-pinger's findings on the timeline, not
/// only at the end. A read that fails is skipped (the end of observation
/// reads again and judges).
pub async fn watch(
    client: kube::Client,
    slo: Slo,
    fault_node: Option<String>,
    stop: tokio_util::sync::CancellationToken,
    mut record: impl FnMut(&str, Option<&str>, &str, tokio::time::Instant) + Send,
) {
    while !stop.is_cancelled() {
        if let Ok(readings) = read(&client, &slo, fault_node.as_deref()).await {
            let at = tokio::time::Instant::now();
            for r in &readings {
                record(&r.pod.name, r.pod.node.as_deref(), &verdict_words(r), at);
            }
        }
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(WATCH_EVERY) => {}
        }
    }
}

/// The verdict of a [`Slo::PingerHealthy`] on what [`read`] found.
pub fn judge(slo: &Slo, readings: Result<&[PingerReading], &str>) -> SloVerdict {
    let readings = match readings {
        Ok(r) => r,
        Err(e) => return not_evaluated(slo, e),
    };
    let mut culprits = Vec::new();
    let mut unreadable = Vec::new();
    for r in readings {
        let reason = match (&r.pod.not_running, &r.failures) {
            (Some(state), _) => format!("{state}: not Running when observation ended"),
            (None, Ok(f)) if f.is_empty() => continue,
            (None, Ok(f)) => f.join("; "),
            (None, Err(e)) => {
                unreadable.push(format!("{}: {e}", r.pod.name));
                continue;
            }
        };
        culprits.push(culprit(NAMESPACE, &r.pod, reason));
    }
    conclude(
        slo,
        "pingers report failures",
        readings.len(),
        culprits,
        unreadable,
        "no kube-ovn-pinger pod in scope when observation ended".into(),
        format!(
            "{} pingers: no loss and DNS resolved in their last round",
            readings.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::SloStatus;

    fn round(pod_loss: u32, dns: bool) -> String {
        let dns = if dns {
            "I1203 16:45:00.200000       1 ping.go:362] resolve dns kubernetes.default to [10.96.0.1] in 1.00ms"
        } else {
            "E1203 16:45:10.200000       1 ping.go:353] failed to resolve dns kubernetes.default, lookup kubernetes.default: i/o timeout"
        };
        format!(
            "I1203 16:45:00.000000       1 ping.go:389] start to check apiserver connectivity\n\
             I1203 16:45:00.010000       1 ping.go:175] start to check pod connectivity\n\
             I1203 16:45:00.100000       1 ping.go:226] ping pod: kube-ovn-pinger-abcde 10.16.0.7, count: 3, loss count {pod_loss}, average rtt 0.10ms\n\
             I1203 16:45:00.150000       1 ping.go:152] ping node: kind-worker 172.18.0.3, count: 3, loss count 0, average rtt 0.05ms\n\
             {dns}\n"
        )
    }

    #[test]
    fn a_verdict_in_words_for_the_timeline() {
        let seen = |not_running: Option<&str>| Seen {
            name: "kube-ovn-pinger-x".into(),
            node: Some("kind-worker".into()),
            not_running: not_running.map(str::to_string),
        };
        let reading = |not_running, failures| PingerReading {
            pod: seen(not_running),
            failures,
        };
        assert_eq!(verdict_words(&reading(None, Ok(Vec::new()))), "clean");
        assert_eq!(
            verdict_words(&reading(
                None,
                Ok(vec![
                    "ping node: kind-worker 172.18.0.3: 3 of 3 lost".into()
                ])
            )),
            "lost: ping node: kind-worker 172.18.0.3: 3 of 3 lost"
        );
        assert_eq!(
            verdict_words(&reading(Some("ContainerCreating"), Ok(Vec::new()))),
            "ContainerCreating"
        );
        assert_eq!(
            verdict_words(&reading(None, Err("no complete round".into()))),
            "unread: no complete round"
        );
    }

    #[test]
    fn the_last_complete_round_is_the_verdict() {
        // A failing round, then a clean one, then one in progress.
        let log = format!(
            "{}{}{}",
            round(3, false),
            round(0, true),
            "I1203 16:45:10 ping.go:389] start to check apiserver connectivity\n"
        );
        assert_eq!(last_round_failures(&log).unwrap(), Vec::<String>::new());
        let log = format!(
            "{}{}{}",
            round(0, true),
            round(3, false),
            "I1203 16:45:10 ping.go:389] start to check apiserver connectivity\n"
        );
        assert_eq!(
            last_round_failures(&log).unwrap(),
            [
                "ping pod: kube-ovn-pinger-abcde 10.16.0.7: 3 of 3 lost".to_string(),
                "failed to resolve dns kubernetes.default, lookup kubernetes.default: i/o timeout"
                    .to_string(),
            ]
        );
        // External checks fail offline and are not judged.
        let external = "I1203 16:45:00.300000       1 ping.go:277] ping external address: 1.1.1.1, total count: 3, loss count 3, average rtt 0.00ms\nE1203 16:45:00.400000       1 ping.go:375] failed to resolve dns kube-ovn.io., lookup kube-ovn.io.: i/o timeout\n";
        let offline = format!("{}{external}{}", round(0, true), round(0, true));
        assert_eq!(last_round_failures(&offline).unwrap(), Vec::<String>::new());
        assert!(
            last_round_failures(&round(0, true)).is_err(),
            "one start: no complete round"
        );
        let garbled = format!(
            "{}{}",
            round(0, true).replace("loss count 0", "loss count x"),
            round(0, true)
        );
        assert!(last_round_failures(&garbled).is_err());
    }

    fn slo() -> Slo {
        Slo::PingerHealthy {
            nodes: NodeScope::All,
        }
    }

    #[test]
    fn failures_name_the_pinger_and_unreadable_is_not_a_pass() {
        let good = PingerReading {
            pod: Seen {
                name: "kube-ovn-pinger-aaaaa".into(),
                node: Some("kind-worker".into()),
                not_running: None,
            },
            failures: Ok(Vec::new()),
        };
        assert_eq!(
            judge(&slo(), Ok(std::slice::from_ref(&good))).status,
            SloStatus::Pass
        );
        let mut stuck = good.clone();
        stuck.pod.name = "kube-ovn-pinger-bbbbb".into();
        stuck.pod.not_running = Some("ContainerCreating".into());
        let v = judge(&slo(), Ok(&[good.clone(), stuck]));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.culprits[0].name, "kube-ovn-pinger-bbbbb");
        assert_eq!(
            v.culprits[0].reason,
            "ContainerCreating: not Running when observation ended"
        );
        let mut lossy = good.clone();
        lossy.failures = Ok(vec![
            "ping node: kind-worker2 172.18.0.4: 3 of 3 lost".into(),
        ]);
        let v = judge(&slo(), Ok(&[lossy]));
        assert_eq!(v.status, SloStatus::Fail);
        assert!(v.message.contains("kind-worker2"), "{}", v.message);
        let mut unread = good;
        unread.failures = Err("no complete round".into());
        assert!(matches!(
            judge(&slo(), Ok(&[unread])).status,
            SloStatus::NotEvaluated(_)
        ));
        assert_eq!(judge(&slo(), Ok(&[])).status, SloStatus::Fail);
    }
}
