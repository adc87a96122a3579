//! The safety guard: the harness acts only on kind clusters it created (name
//! prefix, node-container label, kube context `kind-<name>`) or on the one
//! named in `CHAOS_CLUSTER`, and refuses anything else before it runs a single
//! destructive command.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::KindError;

/// Label kind puts on every node container: the cluster name
/// (kubernetes-sigs/kind pkg/cluster/internal/providers/docker/constants.go).
pub const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
/// Label kind puts on every node container: its role.
pub const ROLE_LABEL: &str = "io.x-k8s.kind.role";
/// Prefix of every cluster name the harness makes.
pub const NAME_PREFIX: &str = "chaos-";

/// Decides what the harness may touch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guard {
    prefix: String,
    explicit: Option<String>,
}

impl Guard {
    /// A guard allowing clusters named `prefix*`, plus `explicit` (the value
    /// of `CHAOS_CLUSTER`) when set.
    pub fn new(prefix: impl Into<String>, explicit: Option<String>) -> Self {
        Guard {
            prefix: prefix.into(),
            explicit: explicit.filter(|s| !s.is_empty()),
        }
    }

    /// The guard with the default prefix ([`NAME_PREFIX`]).
    pub fn harness(explicit: Option<String>) -> Self {
        Self::new(NAME_PREFIX, explicit)
    }

    /// The prefix of names the harness makes.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether `cluster` is one the harness may act on.
    pub fn check_cluster(&self, cluster: &str) -> Result<(), KindError> {
        let valid = !cluster.is_empty()
            && cluster.len() <= 50
            && cluster
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid {
            return Err(KindError::Unsafe {
                what: format!("cluster {cluster:?}"),
                why: "not a valid kind cluster name ([a-z0-9.-], at most 50 characters)".into(),
            });
        }
        if cluster.starts_with(&self.prefix) || self.explicit.as_deref() == Some(cluster) {
            return Ok(());
        }
        Err(KindError::Unsafe {
            what: format!("kind cluster {cluster:?}"),
            why: format!(
                "the harness only acts on clusters it created (named {}*) or on the one named in CHAOS_CLUSTER{}",
                self.prefix,
                self.explicit
                    .as_deref()
                    .map(|e| format!(" ({e:?})"))
                    .unwrap_or_else(|| " (unset)".into())
            ),
        })
    }

    /// Whether a kubeconfig's current context is `kind-<cluster>` for a
    /// cluster the harness may act on.
    pub fn check_kubeconfig(&self, cluster: &str, kubeconfig: &str) -> Result<(), KindError> {
        self.check_cluster(cluster)?;
        #[derive(Deserialize)]
        struct Kubeconfig {
            #[serde(rename = "current-context", default)]
            current_context: Option<String>,
        }
        let parsed: Result<Kubeconfig, _> = serde_saphyr::from_str(kubeconfig);
        let current = match parsed {
            Ok(k) => k.current_context.unwrap_or_default(),
            Err(e) => {
                return Err(KindError::Unsafe {
                    what: format!("the kubeconfig for {cluster:?}"),
                    why: format!("it cannot be read as a kubeconfig: {e}"),
                });
            }
        };
        let want = format!("kind-{cluster}");
        if current == want {
            Ok(())
        } else {
            Err(KindError::Unsafe {
                what: format!(
                    "kube context {:?}",
                    if current.is_empty() {
                        "(none)"
                    } else {
                        &current
                    }
                ),
                why: format!(
                    "the kubeconfig's current context must be {want:?} (kind's context for cluster {cluster:?}); \
                     the harness never acts through another context"
                ),
            })
        }
    }

    /// Whether a container is a node of `cluster` (kind's labels and naming).
    pub fn check_container(
        &self,
        cluster: &str,
        container: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), KindError> {
        self.check_cluster(cluster)?;
        let what = format!("container {container:?}");
        match labels.get(CLUSTER_LABEL) {
            Some(c) if c == cluster => {}
            Some(other) => {
                return Err(KindError::Unsafe {
                    what,
                    why: format!("its {CLUSTER_LABEL} label is {other:?}, not {cluster:?}"),
                });
            }
            None => {
                return Err(KindError::Unsafe {
                    what,
                    why: format!(
                        "it has no {CLUSTER_LABEL} label, so it is not a kind node of {cluster:?}"
                    ),
                });
            }
        }
        if !labels.contains_key(ROLE_LABEL) {
            return Err(KindError::Unsafe {
                what,
                why: format!("it has no {ROLE_LABEL} label"),
            });
        }
        if !container.starts_with(&format!("{cluster}-")) {
            return Err(KindError::Unsafe {
                what,
                why: format!("kind names the nodes of {cluster:?} {cluster}-<role>[N]"),
            });
        }
        Ok(())
    }
}

/// A fresh cluster name: the prefix and 8 hex digits from the clock and the
/// process id.
pub fn new_cluster_name(prefix: &str) -> String {
    let nanos = jiff::Timestamp::now().as_nanosecond();
    let mut z = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    format!("{prefix}{:08x}", z & 0xffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(cluster: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (CLUSTER_LABEL.to_string(), cluster.to_string()),
            (ROLE_LABEL.to_string(), "worker".to_string()),
        ])
    }

    #[test]
    fn names() {
        let g = Guard::harness(None);
        g.check_cluster("chaos-1a2b").unwrap();
        let e = g.check_cluster("kind").unwrap_err().to_string();
        assert!(e.contains("only acts on clusters it created"), "{e}");
        assert!(e.contains("(unset)"), "{e}");
        assert!(g.check_cluster("Chaos-X").is_err());
        assert!(g.check_cluster("").is_err());
        let g = Guard::harness(Some("mine".into()));
        g.check_cluster("mine").unwrap();
        assert!(g.check_cluster("other").is_err());
        let n = new_cluster_name(NAME_PREFIX);
        assert!(n.starts_with("chaos-") && n.len() == 14, "{n}");
        Guard::harness(None).check_cluster(&n).unwrap();
    }

    #[test]
    fn kubeconfig_context() {
        let g = Guard::harness(None);
        g.check_kubeconfig("chaos-a", "apiVersion: v1\ncurrent-context: kind-chaos-a\n")
            .unwrap();
        let e = g
            .check_kubeconfig("chaos-a", "current-context: prod-admin\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("prod-admin") && e.contains("kind-chaos-a"),
            "{e}"
        );
        assert!(g.check_kubeconfig("chaos-a", "kind: Config\n").is_err());
        assert!(g.check_kubeconfig("chaos-a", "[not: yaml").is_err());
    }

    #[test]
    fn containers() {
        let g = Guard::harness(None);
        g.check_container("chaos-a", "chaos-a-worker", &labels("chaos-a"))
            .unwrap();
        let e = g
            .check_container("chaos-a", "chaos-a-worker", &labels("chaos-b"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"chaos-b\""), "{e}");
        let e = g
            .check_container("chaos-a", "chaos-a-worker", &BTreeMap::new())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no io.x-k8s.kind.cluster label"), "{e}");
        assert!(
            g.check_container("chaos-a", "postgres", &labels("chaos-a"))
                .is_err()
        );
    }
}
