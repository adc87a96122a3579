//! Verdicts: what an SLO measured and who held it back.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::Slo;
use crate::util::duration;

/// The judgement of one SLO.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct SloVerdict {
    /// The objective.
    pub slo: Slo,
    /// Pass, fail, or not evaluated.
    pub status: SloStatus,
    /// What was measured (time to recovery, restart count, ...), if anything.
    pub measured: Option<Measured>,
    /// Pods or nodes that held it back (empty when it passed).
    pub culprits: Vec<Culprit>,
    /// One line for humans.
    pub message: String,
}

/// The result of judging one SLO.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "reason")]
pub enum SloStatus {
    /// The objective held.
    Pass,
    /// The objective did not hold.
    Fail,
    /// It could not be judged (e.g. the observation ended early), with why.
    NotEvaluated(String),
}

/// A measured value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "unit", content = "value")]
pub enum Measured {
    /// A duration in milliseconds (time to recovery).
    Millis(u64),
    /// A count (restarts, crash-loop entries).
    Count(u64),
}

impl Measured {
    /// A duration measurement.
    pub fn duration(d: Duration) -> Self {
        Measured::Millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Measured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Measured::Millis(ms) => f.write_str(&duration::format(Duration::from_millis(*ms))),
            Measured::Count(n) => write!(f, "{n}"),
        }
    }
}

/// Something that held an SLO back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Culprit {
    /// Pod or node.
    pub kind: CulpritKind,
    /// Namespace (pods only).
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// The node it ran on (pods only), if known.
    pub node: Option<String>,
    /// Its last waiting reason or condition, e.g. `Init:CrashLoopBackOff`, `NotReady`.
    pub reason: String,
    /// Container restarts since the fault (pods only).
    pub restarts: Option<u32>,
    /// When it recovered, measured from the reference instant; none: it did not.
    #[serde(with = "crate::util::serde_millis::option")]
    pub recovered_after: Option<Duration>,
}

impl Culprit {
    /// Each culprit once (by kind, namespace and name; the first seen
    /// wins), in order: one pod failing several SLOs is one culprit.
    pub fn unique<'a>(all: impl IntoIterator<Item = &'a Culprit>) -> Vec<Culprit> {
        let mut out: Vec<Culprit> = Vec::new();
        for c in all {
            if !out
                .iter()
                .any(|o| o.kind == c.kind && o.namespace == c.namespace && o.name == c.name)
            {
                out.push(c.clone());
            }
        }
        out
    }
}

/// What a culprit is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CulpritKind {
    /// A pod.
    Pod,
    /// A node.
    Node,
}

impl fmt::Display for Culprit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, &self.namespace) {
            (CulpritKind::Pod, Some(ns)) => write!(f, "pod {ns}/{}", self.name)?,
            (CulpritKind::Pod, None) => write!(f, "pod {}", self.name)?,
            (CulpritKind::Node, _) => write!(f, "node {}", self.name)?,
        }
        if let Some(node) = &self.node {
            write!(f, " on {node}")?;
        }
        write!(f, " ({}", self.reason)?;
        if let Some(r) = self.restarts {
            write!(f, ", {r} restarts")?;
        }
        match self.recovered_after {
            Some(d) => write!(f, ", recovered after {})", duration::format(d)),
            None => f.write_str(", not recovered)"),
        }
    }
}
