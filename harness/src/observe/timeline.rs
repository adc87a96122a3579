//! The Timeline: every observed state change of pods, nodes, events and probes,
//! stamped on arrival with a monotonic offset (milliseconds matter; Kubernetes'
//! own timestamps have one-second resolution, FACTS.md) and a wall time.
//!
//! Relists and reconnects re-deliver objects; a state identical to the last one
//! recorded for that object is not a transition and is dropped, so nothing is
//! duplicated, and the last-state map makes sure a change seen only through a
//! relist is still recorded.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use serde::Serialize;
use tokio::time::Instant;

use super::conditions;
use crate::slo::ProbeKind;

/// What an entry is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ObjRef {
    /// `Pod`, `Node` or `Probe`.
    pub kind: ObjKind,
    /// Namespace (pods).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

/// The kind of object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjKind {
    /// A pod.
    Pod,
    /// A node.
    Node,
    /// A data-plane probe.
    Probe,
    /// kube-ovn-pinger's own verdict, per pinger pod (its last complete
    /// round, read from its log while observing).
    Pinger,
}

impl ObjRef {
    /// A pod reference.
    pub fn pod(namespace: &str, name: &str) -> Self {
        ObjRef {
            kind: ObjKind::Pod,
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        }
    }

    /// A node reference.
    pub fn node(name: &str) -> Self {
        ObjRef {
            kind: ObjKind::Node,
            namespace: None,
            name: name.to_string(),
        }
    }
}

/// What the harness tracks of a pod.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct PodState {
    /// STATUS as kubectl shows it.
    pub status: String,
    /// The Ready condition.
    pub ready: bool,
    /// Container restarts (init + main).
    pub restarts: u32,
    /// An init container is in CrashLoopBackOff.
    pub init_crashloop: bool,
    /// A main container is in CrashLoopBackOff.
    pub crashloop: bool,
    /// Its node.
    pub node: Option<String>,
    /// Being deleted.
    pub deleting: bool,
    /// Its labels, for SLO scopes.
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
    /// How late its liveness probes can still restart a container.
    #[serde(skip)]
    pub liveness: Option<conditions::LivenessTimer>,
}

impl PodState {
    /// Reads the tracked state from a pod.
    pub fn of(pod: &Pod) -> Self {
        PodState {
            status: conditions::pod_status_text(pod),
            ready: conditions::pod_ready(pod),
            restarts: conditions::pod_restarts(pod),
            init_crashloop: conditions::in_init_crashloop(pod),
            crashloop: conditions::in_crashloop(pod),
            node: conditions::pod_node(pod).map(str::to_string),
            deleting: pod.metadata.deletion_timestamp.is_some(),
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            liveness: conditions::liveness_timer(pod),
        }
    }

    /// Ready and not on its way out.
    pub fn serving(&self) -> bool {
        self.ready && !self.deleting
    }
}

/// What the harness tracks of a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NodeState {
    /// Ready condition (`None`: not reported).
    pub ready: Option<bool>,
    /// NetworkUnavailable is True.
    pub network_unavailable: bool,
    /// InternalIP.
    pub internal_ip: Option<String>,
}

impl NodeState {
    /// Reads the tracked state from a node.
    pub fn of(node: &Node) -> Self {
        NodeState {
            ready: conditions::node_ready(node),
            network_unavailable: conditions::node_network_unavailable(node),
            internal_ip: conditions::node_internal_ip(node).map(str::to_string),
        }
    }
}

/// One change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "change")]
pub enum Change {
    /// A pod appeared or changed.
    Pod(PodState),
    /// A pod is gone.
    PodGone,
    /// A node appeared or changed.
    Node(NodeState),
    /// A node is gone.
    NodeGone,
    /// A Kubernetes Event about the object.
    Event {
        /// `Normal` or `Warning`.
        type_: String,
        /// E.g. `BackOff`, `FailedCreatePodSandBox`.
        reason: String,
        /// The message.
        message: String,
    },
    /// A pinger's verdict changed: `clean`, what its last complete round
    /// lost, or why none could be read.
    Pinger {
        /// The pinger pod's node.
        node: Option<String>,
        /// The verdict, in words.
        verdict: String,
    },
    /// A probe attempt finished.
    Probe {
        /// Which probe.
        probe: ProbeKind,
        /// Whether it succeeded.
        success: bool,
        /// What it saw.
        detail: String,
    },
}

/// One timeline entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Transition {
    /// Arrival, as an offset from the timeline's origin.
    #[serde(with = "crate::util::serde_millis")]
    pub at: Duration,
    /// Arrival, wall clock.
    pub wall: jiff::Timestamp,
    /// About what.
    pub object: ObjRef,
    /// What changed.
    pub change: Change,
}

/// Every transition of a run window, in arrival order.
#[derive(Clone, Debug)]
pub struct Timeline {
    origin: Instant,
    origin_wall: jiff::Timestamp,
    transitions: Vec<Transition>,
    last: HashMap<ObjRef, Change>,
    /// When the harness last acted on the cluster (see [`Timeline::fence`]).
    fence: Duration,
}

impl Timeline {
    /// An empty timeline whose offsets count from `origin` (wall time `origin_wall`).
    pub fn new(origin: Instant, origin_wall: jiff::Timestamp) -> Self {
        Timeline {
            origin,
            origin_wall,
            transitions: Vec::new(),
            last: HashMap::new(),
            fence: Duration::ZERO,
        }
    }

    /// The offset of an instant.
    pub fn offset(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.origin)
    }

    /// The origin.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// The origin's wall time (the twin's clock on the twin).
    pub fn origin_wall(&self) -> jiff::Timestamp {
        self.origin_wall
    }

    fn push(&mut self, at: Instant, object: ObjRef, change: Change) -> bool {
        let dedupe = !matches!(change, Change::Event { .. } | Change::Probe { .. });
        if dedupe && self.last.get(&object) == Some(&change) {
            return false;
        }
        if dedupe {
            // Gone twice is once.
            if matches!(change, Change::PodGone | Change::NodeGone)
                && !self.last.contains_key(&object)
            {
                return false;
            }
            if matches!(change, Change::PodGone | Change::NodeGone) {
                self.last.remove(&object);
            } else {
                self.last.insert(object.clone(), change.clone());
            }
        }
        let offset = self.offset(at);
        let wall = self
            .origin_wall
            .checked_add(jiff::SignedDuration::try_from(offset).unwrap_or_default())
            .unwrap_or(self.origin_wall);
        self.transitions.push(Transition {
            at: offset,
            wall,
            object,
            change,
        });
        true
    }

    /// Records a pod as seen at `at`; returns whether it was a transition.
    pub fn pod(&mut self, pod: &Pod, at: Instant) -> bool {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        self.push(at, ObjRef::pod(ns, name), Change::Pod(PodState::of(pod)))
    }

    /// Records a pod as gone.
    pub fn pod_gone(&mut self, namespace: &str, name: &str, at: Instant) -> bool {
        self.push(at, ObjRef::pod(namespace, name), Change::PodGone)
    }

    /// Records a node as seen.
    pub fn node(&mut self, node: &Node, at: Instant) -> bool {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        self.push(at, ObjRef::node(name), Change::Node(NodeState::of(node)))
    }

    /// Records a node as gone.
    pub fn node_gone(&mut self, name: &str, at: Instant) -> bool {
        self.push(at, ObjRef::node(name), Change::NodeGone)
    }

    /// Records an Event about `object`.
    pub fn event(&mut self, object: ObjRef, type_: &str, reason: &str, message: &str, at: Instant) {
        self.push(
            at,
            object,
            Change::Event {
                type_: type_.to_string(),
                reason: reason.to_string(),
                message: message.to_string(),
            },
        );
    }

    /// Records a probe attempt.
    pub fn probe(&mut self, probe: ProbeKind, success: bool, detail: &str, at: Instant) {
        self.push(
            at,
            ObjRef {
                kind: ObjKind::Probe,
                namespace: None,
                name: probe.to_string(),
            },
            Change::Probe {
                probe,
                success,
                detail: detail.to_string(),
            },
        );
    }

    /// Records a pinger's verdict (kept only when it changed).
    pub fn pinger(&mut self, pod: &str, node: Option<&str>, verdict: &str, at: Instant) {
        self.push(
            at,
            ObjRef {
                kind: ObjKind::Pinger,
                namespace: Some(crate::observe::pinger::NAMESPACE.to_string()),
                name: pod.to_string(),
            },
            Change::Pinger {
                node: node.map(str::to_string),
                verdict: verdict.to_string(),
            },
        );
    }

    /// Every transition, in arrival order.
    pub fn transitions(&self) -> &[Transition] {
        &self.transitions
    }

    /// The objects of a kind that have any transition.
    pub fn objects(&self, kind: ObjKind) -> Vec<ObjRef> {
        let mut out: Vec<ObjRef> = self
            .transitions
            .iter()
            .filter(|t| t.object.kind == kind)
            .map(|t| t.object.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The transitions of one object, in order.
    pub fn history<'a>(&'a self, object: &ObjRef) -> impl Iterator<Item = &'a Transition> + 'a {
        let object = object.clone();
        self.transitions.iter().filter(move |t| t.object == object)
    }

    /// The object's own state changes (pod or node appeared, changed or
    /// gone), in arrival order: its history without the Events and probe
    /// results about it, which say nothing about its state.
    pub fn states<'a>(&'a self, object: &ObjRef) -> impl Iterator<Item = &'a Transition> + 'a {
        self.history(object).filter(|t| {
            matches!(
                t.change,
                Change::Pod(_) | Change::PodGone | Change::Node(_) | Change::NodeGone
            )
        })
    }

    /// The pod's state at offset `t` (`None`: absent).
    pub fn pod_at(&self, object: &ObjRef, t: Duration) -> Option<&PodState> {
        let mut state = None;
        for tr in self.history(object).take_while(|tr| tr.at <= t) {
            state = match &tr.change {
                Change::Pod(s) => Some(s),
                Change::PodGone => None,
                _ => state,
            };
        }
        state
    }

    /// The node's state at offset `t` (`None`: absent).
    pub fn node_at(&self, object: &ObjRef, t: Duration) -> Option<&NodeState> {
        let mut state = None;
        for tr in self.history(object).take_while(|tr| tr.at <= t) {
            state = match &tr.change {
                Change::Node(s) => Some(s),
                Change::NodeGone => None,
                _ => state,
            };
        }
        state
    }

    /// The objects of a kind present now (seen and not gone).
    pub fn present(&self, kind: ObjKind) -> Vec<ObjRef> {
        let mut out: Vec<ObjRef> = self
            .last
            .keys()
            .filter(|o| o.kind == kind)
            .cloned()
            .collect();
        out.sort();
        out
    }

    /// The objects of a kind present now, with their last state.
    pub fn current(&self, kind: ObjKind) -> impl Iterator<Item = (&ObjRef, &Change)> + '_ {
        self.last.iter().filter(move |(o, _)| o.kind == kind)
    }

    /// Records that the harness acted on the cluster at `at` (a revert):
    /// what the timeline showed before then says nothing about how steady
    /// the cluster is after it, since the action's effects may still be on
    /// their way through the API.
    pub fn fence(&mut self, at: Instant) {
        self.fence = self.fence.max(self.offset(at));
    }

    /// Since when the cluster's pods and nodes have not changed, as an
    /// offset: the last state change (not counting the harness's own probe
    /// pods), and never before the last [`Timeline::fence`].
    pub fn unchanged_since(&self) -> Duration {
        let last = self
            .transitions
            .iter()
            .rev()
            .find(|t| match &t.change {
                Change::Pod(s) => {
                    !s.labels.contains_key(crate::observe::probe::PROBE_LABEL)
                        && t.object.namespace.as_deref()
                            != Some(crate::observe::probe::PROBE_NAMESPACE)
                }
                Change::PodGone => {
                    t.object.namespace.as_deref() != Some(crate::observe::probe::PROBE_NAMESPACE)
                }
                Change::Node(_) | Change::NodeGone => true,
                Change::Event { .. } | Change::Probe { .. } | Change::Pinger { .. } => false,
            })
            .map_or(Duration::ZERO, |t| t.at);
        last.max(self.fence)
    }

    /// The offset of the last transition, if any.
    pub fn end(&self) -> Duration {
        self.transitions.last().map_or(Duration::ZERO, |t| t.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "kube-system", "labels": {"app": "x"}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn relisted_identical_states_are_not_transitions() {
        let origin = Instant::now();
        let mut tl = Timeline::new(origin, "2026-01-01T00:00:00Z".parse().unwrap());
        assert!(tl.pod(&pod("a", true), origin));
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert!(
            !tl.pod(&pod("a", true), Instant::now()),
            "relist of the same state"
        );
        assert!(tl.pod(&pod("a", false), Instant::now()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(tl.pod_gone("kube-system", "a", Instant::now()));
        assert!(
            !tl.pod_gone("kube-system", "a", Instant::now()),
            "gone twice"
        );
        assert_eq!(tl.transitions().len(), 3);
        assert_eq!(tl.transitions()[1].at, Duration::from_millis(1500));
        assert_eq!(
            tl.transitions()[1].wall,
            "2026-01-01T00:00:01.5Z".parse::<jiff::Timestamp>().unwrap()
        );
        let a = ObjRef::pod("kube-system", "a");
        assert!(tl.pod_at(&a, Duration::from_millis(10)).unwrap().ready);
        assert!(!tl.pod_at(&a, Duration::from_millis(1500)).unwrap().ready);
        assert!(tl.pod_at(&a, Duration::from_secs(5)).is_none());
    }
}
