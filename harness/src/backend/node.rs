//! Nodes as the harness sees them, and picking the one a fault targets.

use serde::{Deserialize, Serialize};

use super::BackendError;
use crate::fault::{NodeRole, NodeTarget};

/// A cluster node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct NodeInfo {
    /// Node (and, on kind, container) name, e.g. `chaos-1a2b-worker2`.
    pub name: String,
    /// Its kind role.
    pub role: NodeRole,
    /// Its InternalIP, when known.
    pub internal_ip: Option<String>,
}

/// Picks the node a target names. `fault_node` resolves
/// [`NodeTarget::FaultNode`]; `seed` drives [`NodeTarget::Random`] so a run
/// can be repeated exactly.
pub fn select_node(
    nodes: &[NodeInfo],
    target: &NodeTarget,
    fault_node: Option<&NodeInfo>,
    seed: u64,
) -> Result<NodeInfo, BackendError> {
    let mut sorted: Vec<&NodeInfo> = nodes.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let of_role = |role: NodeRole| -> Vec<&NodeInfo> {
        sorted.iter().copied().filter(|n| n.role == role).collect()
    };
    let found = match target {
        NodeTarget::Name { name } => sorted
            .iter()
            .copied()
            .find(|n| n.name == *name || n.name.ends_with(&format!("-{name}"))),
        NodeTarget::Role { role, index } => of_role(*role)
            .get(usize::try_from(*index).unwrap_or(usize::MAX))
            .copied(),
        NodeTarget::Random { role } => {
            let candidates = of_role(*role);
            if candidates.is_empty() {
                None
            } else {
                let i = splitmix64(seed) % candidates.len() as u64;
                candidates.get(usize::try_from(i).unwrap_or(0)).copied()
            }
        }
        NodeTarget::FaultNode => fault_node,
    };
    found.cloned().ok_or_else(|| BackendError::NoSuchNode {
        target: target.to_string(),
        available: if nodes.is_empty() {
            "no nodes".to_string()
        } else {
            sorted
                .iter()
                .map(|n| format!("{} ({})", n.name, n.role))
                .collect::<Vec<_>>()
                .join(", ")
        },
    })
}

/// A well-mixed hash of the seed, so consecutive seeds pick different nodes.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes() -> Vec<NodeInfo> {
        ["c-worker2", "c-control-plane", "c-worker"]
            .iter()
            .map(|n| NodeInfo {
                name: n.to_string(),
                role: if n.contains("control") {
                    NodeRole::ControlPlane
                } else {
                    NodeRole::Worker
                },
                internal_ip: None,
            })
            .collect()
    }

    #[test]
    fn picks_by_role_index_and_name() {
        let n = nodes();
        let w = |i| NodeTarget::Role {
            role: NodeRole::Worker,
            index: i,
        };
        assert_eq!(select_node(&n, &w(0), None, 0).unwrap().name, "c-worker");
        assert_eq!(select_node(&n, &w(1), None, 0).unwrap().name, "c-worker2");
        let err = select_node(&n, &w(2), None, 0).unwrap_err().to_string();
        assert!(err.contains("c-worker2 (worker)"), "{err}");
        let by_name = NodeTarget::Name {
            name: "control-plane".into(),
        };
        assert_eq!(
            select_node(&n, &by_name, None, 0).unwrap().name,
            "c-control-plane"
        );
    }

    #[test]
    fn random_is_seeded_and_covers_candidates() {
        let n = nodes();
        let t = NodeTarget::Random {
            role: NodeRole::Worker,
        };
        let a = select_node(&n, &t, None, 7).unwrap();
        assert_eq!(select_node(&n, &t, None, 7).unwrap(), a);
        let picked: std::collections::BTreeSet<String> = (0..32)
            .map(|s| select_node(&n, &t, None, s).unwrap().name)
            .collect();
        assert_eq!(picked.len(), 2, "{picked:?}");
    }

    #[test]
    fn fault_node_needs_a_fault_node() {
        let n = nodes();
        assert!(select_node(&n, &NodeTarget::FaultNode, None, 0).is_err());
        assert_eq!(
            select_node(&n, &NodeTarget::FaultNode, Some(&n[0]), 0).unwrap(),
            n[0]
        );
    }
}
