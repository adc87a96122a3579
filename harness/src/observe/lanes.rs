//! Lanes: the timeline cut into per-object state segments over a window, for
//! the HTML report (one lane per pod and node, coloured by state).

use std::time::Duration;

use serde::Serialize;

use super::timeline::{Change, ObjKind, ObjRef, Timeline};
use super::traffic::FlowTraffic;

/// One object's states over the window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Lane {
    /// The object.
    pub object: ObjRef,
    /// The node it ran on (pods), last known.
    pub node: Option<String>,
    /// Consecutive segments covering the window.
    pub segments: Vec<Segment>,
}

/// A stretch of time in one state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Segment {
    /// Start, milliseconds from the fault.
    pub from_ms: i64,
    /// End, milliseconds from the fault.
    pub to_ms: i64,
    /// `Ready`, `NotReady`, `ContainerCreating`, `CrashLoopBackOff`,
    /// `Init:CrashLoopBackOff`, `Terminating`, `absent`, ...
    pub state: String,
}

/// What a lane shows for a change.
fn label(change: &Change) -> Option<String> {
    match change {
        Change::Pod(s) if s.deleting => Some("Terminating".into()),
        Change::Pod(s) if s.ready => Some("Ready".into()),
        Change::Pod(s) if s.init_crashloop => Some("Init:CrashLoopBackOff".into()),
        Change::Pod(s) if s.crashloop => Some("CrashLoopBackOff".into()),
        Change::Pod(s) if s.status == "Running" => Some("NotReady".into()),
        Change::Pod(s) => Some(s.status.clone()),
        Change::PodGone | Change::NodeGone => Some("absent".into()),
        Change::Node(n) if n.ready == Some(true) => Some("Ready".into()),
        Change::Node(_) => Some("NotReady".into()),
        Change::Pinger { verdict, .. } => Some(verdict.clone()),
        Change::Event { .. } | Change::Probe { .. } => None,
    }
}

/// Lanes for every pod and node seen, over `[from, to]` (timeline offsets),
/// with times relative to `fault_at`. Objects absent for the whole window are
/// left out.
pub fn lanes(tl: &Timeline, from: Duration, to: Duration, fault_at: Duration) -> Vec<Lane> {
    let rel = |d: Duration| {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
            - i64::try_from(fault_at.as_millis()).unwrap_or(0)
    };
    let mut out = Vec::new();
    for kind in [ObjKind::Node, ObjKind::Pod, ObjKind::Pinger] {
        for object in tl.objects(kind) {
            let mut state = "absent".to_string();
            let mut node = None;
            let mut start = from;
            let mut segments = Vec::new();
            for tr in tl.history(&object) {
                let Some(next) = label(&tr.change) else {
                    continue;
                };
                match &tr.change {
                    Change::Pod(s) => node = s.node.clone().or(node),
                    Change::Pinger { node: n, .. } => node = n.clone().or(node),
                    _ => {}
                }
                if tr.at <= from {
                    state = next;
                    continue;
                }
                if tr.at > to {
                    break;
                }
                if next != state {
                    segments.push(Segment {
                        from_ms: rel(start),
                        to_ms: rel(tr.at),
                        state: std::mem::replace(&mut state, next),
                    });
                    start = tr.at;
                }
            }
            segments.push(Segment {
                from_ms: rel(start),
                to_ms: rel(to),
                state,
            });
            segments.retain(|s| s.to_ms > s.from_ms);
            if segments.iter().all(|s| s.state == "absent") {
                continue;
            }
            out.push(Lane {
                object,
                node,
                segments,
            });
        }
    }
    out
}

/// One lane per traffic flow over `[from_ms, to_ms]` (milliseconds from
/// the fault; the flows' times are from the fault too): `flowing`,
/// `outage`, `not covered` (no receiver log covers it), or `no records`
/// for a flow that had none. Kind [`ObjKind::Probe`], named `flow <flow>`,
/// on the receiving node.
pub fn traffic_lanes(flows: &[FlowTraffic], from_ms: i64, to_ms: i64) -> Vec<Lane> {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    flows
        .iter()
        .map(|f| {
            let mut marks: Vec<(i64, i64, &str)> = f
                .outages
                .iter()
                .map(|o| (ms(o.start), ms(o.end), "outage"))
                .chain(
                    f.not_covered
                        .iter()
                        .map(|u| (ms(u.from), ms(u.to), "not covered")),
                )
                .collect();
            marks.sort();
            let base = if f.received == 0 {
                "no records"
            } else {
                "flowing"
            };
            let mut segments = Vec::new();
            let mut cursor = from_ms;
            for (a, b, state) in marks {
                let (a, b) = (a.max(cursor), b.min(to_ms));
                if b <= a {
                    continue;
                }
                if a > cursor {
                    segments.push(Segment {
                        from_ms: cursor,
                        to_ms: a,
                        state: base.into(),
                    });
                }
                segments.push(Segment {
                    from_ms: a,
                    to_ms: b,
                    state: state.into(),
                });
                cursor = b;
            }
            if cursor < to_ms {
                segments.push(Segment {
                    from_ms: cursor,
                    to_ms,
                    state: base.into(),
                });
            }
            Lane {
                object: ObjRef {
                    kind: ObjKind::Probe,
                    namespace: None,
                    name: format!("flow {}", f.flow),
                },
                node: super::flows::flow_node(&f.flow).map(str::to_string),
                segments,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_lane_shows_its_outages_and_what_is_not_covered() {
        let flow = crate::observe::traffic::sample_flow();
        let lanes = traffic_lanes(&[flow], -10_000, 60_000);
        assert_eq!(lanes[0].object.name, "flow pod-to-pod a -> b");
        assert_eq!(lanes[0].node.as_deref(), Some("b"));
        let got: Vec<(i64, i64, &str)> = lanes[0]
            .segments
            .iter()
            .map(|g| (g.from_ms, g.to_ms, g.state.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (-10_000, 4_000, "flowing"),
                (4_000, 24_135, "outage"),
                (24_135, 50_000, "flowing"),
                (50_000, 60_000, "not covered"),
            ]
        );
    }
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;
    use tokio::time::Instant;

    fn pod(ready: bool, init_loop: bool) -> Pod {
        let init = if init_loop {
            json!({"waiting": {"reason": "CrashLoopBackOff"}})
        } else {
            json!({"running": {}})
        };
        serde_json::from_value(json!({
            "metadata": {"name": "kube-multus-ds-x", "namespace": "kube-system"},
            "spec": {"nodeName": "w1", "initContainers": [{"name": "i"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}],
                "initContainerStatuses": [{"name": "i", "ready": false, "image": "", "imageID": "", "restartCount": 0, "state": init}]}
        }))
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn lanes_cut_states_into_segments_relative_to_the_fault() {
        let o = Instant::now();
        let mut tl = Timeline::new(o, "2026-01-01T00:00:00Z".parse().unwrap());
        let s = Duration::from_secs;
        tl.pod(&pod(true, false), o);
        tl.pod(&pod(false, false), o + s(12));
        tl.pod(&pod(false, true), o + s(30));
        let l = lanes(&tl, s(5), s(100), s(10));
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].node.as_deref(), Some("w1"));
        let segs: Vec<(i64, i64, &str)> = l[0]
            .segments
            .iter()
            .map(|x| (x.from_ms, x.to_ms, x.state.as_str()))
            .collect();
        assert_eq!(
            segs,
            vec![
                (-5000, 2000, "Ready"),
                (2000, 20000, "Init:0/1"),
                (20000, 90000, "Init:CrashLoopBackOff")
            ]
        );
    }
}
