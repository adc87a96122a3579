//! The harness's continuous traffic ([`Slo::MaxOutage`], [`Slo::MaxLoss`]):
//! a DaemonSet [`TRAFFIC`] in [`PROBE_NAMESPACE`], one pod per node for the
//! whole scenario, whose `sender` sends a numbered TCP probe to every other
//! node's traffic pod every 200 ms and whose `receiver` prints each probe
//! it gets. At the end of observation every receiver's log (its current
//! run and, after a restart, the previous one) is read with the runtime's
//! timestamps and [`super::traffic`] derives each flow's outages and loss.
//! A flow is `pod-to-pod <sender's node> -> <receiver's node>`.
//!
//! It uses the probes' image (busybox, which the kind backend preloads)
//! and the probes' namespace, so the pod SLOs leave it out. Once deployed
//! it stays for the cluster's life.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, LogParams, PostParams};

use super::probe::{PROBE_IMAGE, PROBE_NAMESPACE};
use super::traffic::{FlowTraffic, LogSegment, SEND_INTERVAL, Window, from_node};
use crate::slo::{Culprit, CulpritKind, Measured, Slo, SloStatus, SloVerdict};
use crate::suite::Scenario;
use crate::util::duration;

/// The DaemonSet's (and its headless Service's) name.
pub const TRAFFIC: &str = "chaos-traffic";
/// The label (value [`TRAFFIC`]) on the DaemonSet and its pods (the twin's
/// `TRAFFIC_LABEL`).
pub const TRAFFIC_LABEL: &str = "cni-chaos.io/traffic";
/// The TCP port receivers listen on.
pub const PORT: u16 = 9000;

/// The receiver's command (busybox): says it listens (where its log's
/// coverage starts), then serves every TCP connection on port 9000 with a
/// `cat` to its stderr, so each probe is one line of its log.
pub const RECEIVER_SCRIPT: &str = "trap 'exit 0' TERM; echo \"cni-chaos-traffic-receiver listening port=9000\"; exec nc -ll -p 9000 -e sh -c 'cat >&2'";

/// How the pods find their peers: every traffic pod's address from the
/// headless Service's DNS name, but their own.
pub const PEERS_BY_DNS: &str = "nslookup chaos-traffic.cni-chaos-probes.svc.cluster.local 2>/dev/null | awk '/^Address/ && !/#/ {print $NF}' | grep -v \"^$POD_IP$\"";

/// A harness DaemonSet of receivers and senders with its headless Service
/// (the traffic's, [`TRAFFIC_SET`], and the long-lived connections',
/// `super::longlived::SET`): what [`ensure`] creates and [`read`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrafficSet {
    /// The DaemonSet's and the Service's name.
    pub name: &'static str,
    /// The label (value `name`) on both and on the pods.
    pub label: &'static str,
    /// The port receivers listen on.
    pub port: u16,
    /// The receiving container, whose log is read.
    pub receiver: &'static str,
    /// The kind of the flows its records name (the first word of a flow's
    /// name).
    pub flow: &'static str,
}

/// The continuous traffic's DaemonSet.
pub const TRAFFIC_SET: TrafficSet = TrafficSet {
    name: TRAFFIC,
    label: TRAFFIC_LABEL,
    port: PORT,
    receiver: "receiver",
    flow: "pod-to-pod",
};

/// The sender's command (busybox): every 200 ms one numbered probe, a TCP
/// connection of its own (`nc -w 1`: at most a second when a peer does
/// not answer), to each peer `peers` prints (run again every 50 probes),
/// tagged with its node, its pod and start time, and its send time (whole
/// seconds: busybox's `date` has no sub-second format).
pub fn sender_script(peers: &str) -> String {
    format!(
        "trap 'exit 0' TERM; run=$(date +%s); i=0; peers=''; while true; do if [ $((i % 50)) -eq 0 ]; then peers=$({peers}); fi; i=$((i+1)); for ip in $peers; do echo \"cni-chaos-traffic flow=pod-to-pod from=$NODE_NAME sender=$POD_NAME/$run seq=$i sent=$(date +%s)000\" | nc -w 1 $ip 9000; done; sleep 0.2; done"
    )
}

/// Whether `scenario` wants the traffic.
pub fn wanted(scenario: &Scenario) -> bool {
    scenario
        .slos
        .iter()
        .any(|s| matches!(s, Slo::MaxOutage { .. } | Slo::MaxLoss { .. }))
}

fn labels(set: &TrafficSet) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "cni-chaos".to_string(),
        ),
        (set.label.to_string(), set.name.to_string()),
    ])
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// A busybox container (the probes' image) running `script`, with its
/// node, pod name and pod IP in `NODE_NAME`, `POD_NAME`, `POD_IP`.
pub fn container(name: &str, script: &str) -> Container {
    Container {
        name: name.into(),
        image: Some(PROBE_IMAGE.into()),
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        env: Some(vec![
            field_env("NODE_NAME", "spec.nodeName"),
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_IP", "status.podIP"),
        ]),
        ..Container::default()
    }
}

/// The DaemonSet: on every node, the control plane's taint notwithstanding.
pub fn daemonset() -> DaemonSet {
    super::workload::own_daemonset(
        TRAFFIC,
        TRAFFIC_LABEL,
        None,
        vec![
            container("receiver", RECEIVER_SCRIPT),
            container("sender", &sender_script(PEERS_BY_DNS)),
        ],
    )
}

/// The headless Service whose DNS name lists every pod of `set`.
pub fn service(set: &TrafficSet) -> Service {
    Service {
        metadata: ObjectMeta {
            name: Some(set.name.into()),
            namespace: Some(PROBE_NAMESPACE.into()),
            labels: Some(labels(set)),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            selector: Some(labels(set)),
            ports: Some(vec![ServicePort {
                name: Some("probe".into()),
                protocol: Some("TCP".into()),
                port: i32::from(set.port),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// Creates `set`'s DaemonSet `ds` and its Service unless they exist.
pub async fn ensure(
    client: &kube::Client,
    set: &TrafficSet,
    ds: DaemonSet,
) -> Result<(), kube::Error> {
    let ignore_exists = |r: Result<(), kube::Error>| match r {
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        other => other,
    };
    let svc: Api<Service> = Api::namespaced(client.clone(), PROBE_NAMESPACE);
    if svc.get_opt(set.name).await?.is_none() {
        ignore_exists(
            svc.create(&PostParams::default(), &service(set))
                .await
                .map(drop),
        )?;
    }
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), PROBE_NAMESPACE);
    if api.get_opt(set.name).await?.is_none() {
        ignore_exists(api.create(&PostParams::default(), &ds).await.map(drop))?;
    }
    Ok(())
}

/// What was read from the receivers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reading {
    /// One segment per receiver run read.
    pub segments: Vec<LogSegment>,
    /// The flows there should be: every ordered pair of nodes with a
    /// traffic pod.
    pub expected: Vec<String>,
    /// Receivers whose log could not be read, with why.
    pub unreadable: Vec<String>,
}

/// A flow's name.
pub fn flow_name(kind: impl std::fmt::Display, from: &str, to: &str) -> String {
    format!("{kind} {from} -> {to}")
}

/// Reads every receiver's log of `set` now; timestamps are aligned on the
/// timeline whose offset zero is at wall time `origin`.
pub async fn read(
    client: &kube::Client,
    set: &TrafficSet,
    origin: jiff::Timestamp,
) -> Result<Reading, String> {
    let api: Api<Pod> = Api::namespaced(client.clone(), PROBE_NAMESPACE);
    let pods = api
        .list(&ListParams::default().labels(&format!("{}={}", set.label, set.name)))
        .await
        .map_err(|e| format!("listing the {} pods: {e}", set.name))?
        .items;
    let mut out = Reading::default();
    let nodes: Vec<String> = {
        let mut n: Vec<String> = pods
            .iter()
            .filter_map(|p| p.spec.as_ref()?.node_name.clone())
            .collect();
        n.sort();
        n.dedup();
        n
    };
    for a in &nodes {
        for b in nodes.iter().filter(|b| *b != a) {
            out.expected.push(flow_name(set.flow, a, b));
        }
    }
    for pod in &pods {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) else {
            continue;
        };
        let restarted = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.name == set.receiver))
            .is_some_and(|c| c.restart_count > 0);
        let rename =
            |_: &str, payload: &str| flow_name(set.flow, from_node(payload).unwrap_or("?"), &node);
        for previous in [true, false] {
            if previous && !restarted {
                continue;
            }
            let params = LogParams {
                container: Some(set.receiver.into()),
                timestamps: true,
                previous,
                ..LogParams::default()
            };
            match api.logs(&name, &params).await {
                Ok(log) => out
                    .segments
                    .push(super::traffic::parse_log(&log, origin, rename)),
                Err(e) => out.unreadable.push(format!(
                    "{name} ({}log): {e}",
                    if previous { "previous " } else { "" }
                )),
            }
        }
    }
    Ok(out)
}

/// The window loss is counted over for `slo`, or why it cannot be.
pub fn loss_window(slo: &Slo, fault_at: Duration, end: Duration) -> Result<Window, String> {
    match slo {
        Slo::MaxLoss {
            within: Some(within),
            ..
        } => {
            let to = fault_at + *within;
            if end < to {
                return Err(format!(
                    "observation ended {} after the fault, before the loss window's end ({})",
                    duration::format(end.saturating_sub(fault_at)),
                    duration::format(*within)
                ));
            }
            Ok(Window { from: fault_at, to })
        }
        _ => Ok(Window {
            from: fault_at,
            to: end,
        }),
    }
}

/// Derives every flow from what [`read`] found, over `window`.
pub fn derive(reading: &Reading, window: Window) -> Vec<FlowTraffic> {
    super::traffic::derive(&reading.segments, &reading.expected, window, SEND_INTERVAL)
}

/// The verdict of a [`Slo::MaxOutage`] or [`Slo::MaxLoss`] on the flows.
pub fn judge(slo: &Slo, flows: Result<&[FlowTraffic], &str>) -> SloVerdict {
    let verdict = |status, measured, culprits, message: String| SloVerdict {
        slo: slo.clone(),
        status,
        measured,
        culprits,
        message,
    };
    let flows = match flows {
        Ok(f) => f,
        Err(e) => {
            let why = format!("the traffic could not be read: {e}");
            return verdict(SloStatus::NotEvaluated(why.clone()), None, Vec::new(), why);
        }
    };
    let kind = match slo {
        Slo::MaxOutage { flow, .. } | Slo::MaxLoss { flow, .. } => *flow,
        _ => None,
    };
    let prefix = kind.map(|k| format!("{k} "));
    let flows: Vec<&FlowTraffic> = flows
        .iter()
        .filter(|f| {
            prefix
                .as_ref()
                .is_none_or(|p| f.flow.starts_with(p.as_str()))
        })
        .collect();
    if flows.is_empty() {
        let why = "no traffic flow in scope: no traffic pods on two nodes".to_string();
        return verdict(SloStatus::Fail, None, Vec::new(), why);
    }
    // A flow over its budget, on its receiving node; recovered (from the
    // fault) when its longest outage closed.
    let culprit = |f: &FlowTraffic, reason: String| Culprit {
        kind: CulpritKind::Pod,
        namespace: Some(PROBE_NAMESPACE.into()),
        name: format!("flow {}", f.flow),
        node: f.flow.rsplit(" -> ").next().map(str::to_string),
        reason,
        restarts: None,
        recovered_after: f
            .longest()
            .filter(|o| !o.open)
            .map(|o| o.end.saturating_sub(f.window.from)),
    };
    let unjudged: Vec<String> = flows
        .iter()
        .filter_map(|f| Some(format!("{}: {}", f.flow, f.unjudgeable()?)))
        .collect();
    let mut culprits = Vec::new();
    let (measured, summary) = match slo {
        Slo::MaxOutage { budget, .. } => {
            let longest = flows
                .iter()
                .filter_map(|f| f.longest())
                .map(|o| o.duration())
                .max()
                .unwrap_or_default();
            for f in &flows {
                if let Some(o) = f.longest().filter(|o| o.duration() > *budget) {
                    culprits.push(culprit(
                        f,
                        format!(
                            "out {}{} ({} probes lost)",
                            duration::format(o.duration()),
                            if o.open {
                                ", still when the records end"
                            } else {
                                ""
                            },
                            o.lost
                        ),
                    ));
                }
            }
            (
                Some(Measured::duration(longest)),
                format!(
                    "longest outage {} over {} flows (budget {})",
                    duration::format(longest),
                    flows.len(),
                    duration::format(*budget)
                ),
            )
        }
        Slo::MaxLoss { percent, .. } => {
            let worst = flows
                .iter()
                .filter_map(|f| f.loss_percent)
                .fold(0.0f64, f64::max);
            for f in &flows {
                if let Some(p) = f.loss_percent.filter(|p| p > percent) {
                    culprits.push(culprit(
                        f,
                        format!("lost {p:.2}% ({} of {})", f.lost, f.lost + f.received),
                    ));
                }
            }
            (
                None,
                format!(
                    "worst loss {worst:.2}% over {} flows (allowed {percent}%)",
                    flows.len()
                ),
            )
        }
        _ => (None, String::new()),
    };
    let unjudged = (!unjudged.is_empty()).then(|| format!("not covered: {}", unjudged.join("; ")));
    conclude(slo, measured, culprits, unjudged, summary)
}

/// A verdict from what the records showed: failed when there are
/// culprits (named after `summary`), else not evaluated when some part
/// could not be judged (`unjudged`, why), else passed with `summary`.
pub(crate) fn conclude(
    slo: &Slo,
    measured: Option<Measured>,
    culprits: Vec<Culprit>,
    unjudged: Option<String>,
    summary: String,
) -> SloVerdict {
    let verdict = |status, culprits, message| SloVerdict {
        slo: slo.clone(),
        status,
        measured,
        culprits,
        message,
    };
    if !culprits.is_empty() {
        let names: Vec<String> = culprits.iter().map(|c| c.to_string()).collect();
        let message = format!("{summary}: {}", names.join("; "));
        return verdict(SloStatus::Fail, culprits, message);
    }
    match unjudged {
        Some(why) => verdict(SloStatus::NotEvaluated(why.clone()), Vec::new(), why),
        None => verdict(SloStatus::Pass, Vec::new(), summary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::traffic::{MARKER, Outage};
    use crate::slo::FlowKind;

    fn flow(name: &str, outage_ms: Option<u64>, loss: f64, not_covered: bool) -> FlowTraffic {
        FlowTraffic {
            flow: name.into(),
            window: Window {
                from: Duration::ZERO,
                to: Duration::from_secs(60),
            },
            received: 100,
            lost: 0,
            loss_percent: Some(loss),
            outages: outage_ms
                .map(|ms| Outage {
                    start: Duration::from_secs(5),
                    end: Duration::from_secs(5) + Duration::from_millis(ms),
                    lost: ms / 200,
                    estimated: false,
                    open: false,
                })
                .into_iter()
                .collect(),
            not_covered: if not_covered {
                vec![super::super::traffic::Uncovered {
                    from: Duration::from_secs(50),
                    to: Duration::from_secs(60),
                }]
            } else {
                Vec::new()
            },
        }
    }

    fn max_outage(secs: u64) -> Slo {
        Slo::MaxOutage {
            flow: None,
            budget: Duration::from_secs(secs),
        }
    }

    #[test]
    fn outages_over_budget_fail_naming_the_flow_and_gaps_never_pass() {
        let a = flow("pod-to-pod a -> b", Some(20_200), 0.0, false);
        let b = flow("pod-to-pod b -> c", None, 0.0, false);
        let v = judge(&max_outage(25), Ok(&[a.clone(), b.clone()]));
        assert_eq!(v.status, SloStatus::Pass, "{}", v.message);
        assert_eq!(v.measured, Some(Measured::Millis(20_200)));
        let v = judge(&max_outage(5), Ok(&[a.clone(), b.clone()]));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.culprits.len(), 1);
        assert_eq!(v.culprits[0].name, "flow pod-to-pod a -> b");
        // A coverage gap: not evaluated, not a pass.
        let gap = flow("pod-to-pod c -> a", None, 0.0, true);
        let v = judge(&max_outage(25), Ok(&[a.clone(), gap]));
        assert!(matches!(v.status, SloStatus::NotEvaluated(_)), "{v:?}");
        assert!(v.message.contains("c -> a"), "{}", v.message);
        // No flows, or unreadable: never a pass.
        assert_eq!(judge(&max_outage(25), Ok(&[])).status, SloStatus::Fail);
        assert!(matches!(
            judge(&max_outage(25), Err("boom")).status,
            SloStatus::NotEvaluated(_)
        ));
    }

    #[test]
    fn loss_over_the_allowance_fails_and_the_window_must_be_observed() {
        let slo = Slo::MaxLoss {
            flow: Some(FlowKind::PodToPod),
            percent: 5.0,
            within: Some(Duration::from_secs(60)),
        };
        let ok = flow("pod-to-pod a -> b", None, 1.0, false);
        let bad = flow("pod-to-pod b -> a", None, 12.5, false);
        assert_eq!(
            judge(&slo, Ok(std::slice::from_ref(&ok))).status,
            SloStatus::Pass
        );
        let v = judge(&slo, Ok(&[ok, bad]));
        assert_eq!(v.status, SloStatus::Fail);
        assert!(v.culprits[0].reason.starts_with("lost 12.50%"), "{v:?}");
        let f = Duration::from_secs(10);
        assert_eq!(
            loss_window(&slo, f, Duration::from_secs(80)),
            Ok(Window {
                from: f,
                to: Duration::from_secs(70)
            })
        );
        assert!(loss_window(&slo, f, Duration::from_secs(40)).is_err());
        assert_eq!(
            loss_window(&max_outage(1), f, Duration::from_secs(40)),
            Ok(Window {
                from: f,
                to: Duration::from_secs(40)
            })
        );
    }

    #[test]
    fn the_daemonset_runs_a_sender_and_a_receiver_on_every_node_with_the_probe_image() {
        let ds = daemonset();
        let spec = ds.spec;
        let pod = spec.template.spec.unwrap();
        let names: Vec<&str> = pod.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["receiver", "sender"]);
        for c in &pod.containers {
            assert_eq!(c.image.as_deref(), Some(PROBE_IMAGE));
        }
        assert_eq!(
            pod.tolerations.unwrap()[0].operator.as_deref(),
            Some("Exists")
        );
        assert_eq!(
            spec.template.metadata.unwrap().labels.unwrap()[TRAFFIC_LABEL],
            TRAFFIC
        );
        assert_eq!(
            service(&TRAFFIC_SET).spec.unwrap().cluster_ip.as_deref(),
            Some("None")
        );
        assert!(sender_script(PEERS_BY_DNS).contains(MARKER));
    }
}
