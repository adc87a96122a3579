//! Typed kind `Cluster` configs (`kind-configs/<name>.yaml`), validated
//! before they are passed to `kind create cluster --config`.
//!
//! The fields are the subset of kind's v1alpha4 API
//! (kubernetes-sigs/kind pkg/apis/config/v1alpha4/types.go) the harness's
//! configs use; anything else is rejected rather than passed on unchecked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::KindError;
use crate::fault::NodeRole;

/// The folder of kind configs at the workspace root.
pub const CONFIG_DIR: &str = "kind-configs";

/// Kube-OVN CI's pod subnet (kubeovn/kube-ovn yamls/kind.yaml.j2).
pub const POD_SUBNET_V4: &str = "10.16.0.0/16";
/// Kube-OVN CI's service subnet (same file).
pub const SERVICE_SUBNET_V4: &str = "10.96.0.0/12";

/// A kind `Cluster` config.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindConfig {
    /// Must be `Cluster`.
    pub kind: String,
    /// Must be `kind.x-k8s.io/v1alpha4`.
    pub api_version: String,
    /// Cluster networking.
    pub networking: Networking,
    /// The nodes, in order; kind names them `<cluster>-control-plane`,
    /// `<cluster>-worker`, `<cluster>-worker2`, ...
    pub nodes: Vec<KindNode>,
}

/// `networking` of a kind config.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Networking {
    /// Must be `true`: Kube-OVN is the CNI.
    #[serde(rename = "disableDefaultCNI")]
    pub disable_default_cni: bool,
    /// `ipvs` in Kube-OVN's CI.
    pub kube_proxy_mode: String,
    /// `ipv4`, `ipv6` or `dual`.
    pub ip_family: IpFamily,
    /// Pod CIDR(s), comma-separated for dual stack.
    pub pod_subnet: String,
    /// Service CIDR(s), comma-separated for dual stack.
    pub service_subnet: String,
}

/// kind's `ipFamily`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum IpFamily {
    /// IPv4 only.
    Ipv4,
    /// IPv6 only.
    Ipv6,
    /// Both.
    Dual,
}

/// One node of a kind config.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KindNode {
    /// `control-plane` or `worker`.
    pub role: NodeRole,
    /// Kubernetes node labels kind applies.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl KindConfig {
    /// Reads and validates `kind-configs/<name>.yaml` under `workspace`;
    /// returns the config and its path.
    pub fn load_named(workspace: &Path, name: &str) -> Result<(Self, PathBuf), KindError> {
        let dir = workspace.join(CONFIG_DIR);
        let path = dir.join(format!("{name}.yaml"));
        if !path.is_file() {
            let there = Self::names(workspace).unwrap_or_default();
            return Err(KindError::Invalid {
                file: path,
                problems: vec![format!(
                    "no kind config named {name:?}; there are: {}",
                    there.join(", ")
                )],
            });
        }
        Ok((Self::load(&path)?, path))
    }

    /// The names of the configs under `workspace` (`kind-configs/*.yaml`
    /// without `.yaml`), sorted.
    pub fn names(workspace: &Path) -> Result<Vec<String>, KindError> {
        let dir = workspace.join(CONFIG_DIR);
        let entries = std::fs::read_dir(&dir).map_err(|source| KindError::Io {
            action: "listing the kind configs in",
            path: dir.clone(),
            source,
        })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".yaml"))
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// Reads and validates one config file.
    pub fn load(path: &Path) -> Result<Self, KindError> {
        Self::parse(&read_text(path)?, path)
    }

    /// Parses and validates the text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, KindError> {
        parse_validated(text, path, Self::problems)
    }

    /// Every rule the config breaks (Kube-OVN CI's kind setup, FACTS.md).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.kind != "Cluster" {
            out.push(format!("kind: expected Cluster, found {:?}", self.kind));
        }
        if self.api_version != "kind.x-k8s.io/v1alpha4" {
            out.push(format!(
                "apiVersion: expected kind.x-k8s.io/v1alpha4, found {:?}",
                self.api_version
            ));
        }
        let n = &self.networking;
        if !n.disable_default_cni {
            out.push("networking.disableDefaultCNI: must be true (Kube-OVN is the CNI)".into());
        }
        if n.kube_proxy_mode != "ipvs" {
            out.push(format!(
                "networking.kubeProxyMode: Kube-OVN CI uses ipvs, found {:?}",
                n.kube_proxy_mode
            ));
        }
        let (want_pod, want_svc) = match n.ip_family {
            IpFamily::Ipv4 => (POD_SUBNET_V4.to_string(), SERVICE_SUBNET_V4.to_string()),
            IpFamily::Ipv6 => ("fd00:10:16::/112".into(), "fd00:10:96::/108".into()),
            IpFamily::Dual => (
                format!("{POD_SUBNET_V4},fd00:10:16::/112"),
                format!("{SERVICE_SUBNET_V4},fd00:10:96::/108"),
            ),
        };
        if n.pod_subnet != want_pod {
            out.push(format!(
                "networking.podSubnet: expected {want_pod} for this ipFamily, found {:?}",
                n.pod_subnet
            ));
        }
        if n.service_subnet != want_svc {
            out.push(format!(
                "networking.serviceSubnet: expected {want_svc} for this ipFamily, found {:?}",
                n.service_subnet
            ));
        }
        if self.nodes.is_empty() {
            out.push("nodes: at least one node is required".into());
        }
        if !self.nodes.iter().any(|n| n.role == NodeRole::ControlPlane) {
            out.push("nodes: a control-plane node is required".into());
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if node.role == NodeRole::ControlPlane
                && node.labels.get("kube-ovn/role").map(String::as_str) != Some("master")
            {
                out.push(format!(
                    "nodes[{i}].labels: a control-plane node must carry kube-ovn/role: master"
                ));
            }
        }
        out
    }

    /// The node container names kind gives this config's nodes in `cluster`
    /// (kubernetes-sigs/kind pkg/cluster/internal/providers/common/namer.go:
    /// the first of a role has no number, then 2, 3, ...).
    pub fn node_names(&self, cluster: &str) -> Vec<(String, NodeRole)> {
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        self.nodes
            .iter()
            .map(|n| {
                let role = n.role.to_string();
                let count = counts.entry(role.clone()).or_insert(0);
                *count += 1;
                let suffix = if *count == 1 {
                    String::new()
                } else {
                    count.to_string()
                };
                (format!("{cluster}-{role}{suffix}"), n.role)
            })
            .collect()
    }

    /// Environment for Kube-OVN's `install.sh` that this config implies:
    /// `IPV6` and `DUAL_STACK`, both always set (install.sh reads them with
    /// `${IPV6:-false}` defaults, so a value in the user's shell would
    /// otherwise leak in). Kube-OVN's kind targets set `IPV6=true` for IPv6
    /// and `DUAL_STACK=true` for dual stack (makefiles/kind.mk).
    pub fn install_env(&self) -> Vec<(&'static str, &'static str)> {
        let (ipv6, dual) = match self.networking.ip_family {
            IpFamily::Ipv4 => ("false", "false"),
            IpFamily::Ipv6 => ("true", "false"),
            IpFamily::Dual => ("false", "true"),
        };
        vec![("IPV6", ipv6), ("DUAL_STACK", dual)]
    }
}

/// Reads a text file, with the path in the error.
pub(super) fn read_text(path: &Path) -> Result<String, KindError> {
    std::fs::read_to_string(path).map_err(|source| KindError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    })
}

/// Deserializes YAML (unknown fields are errors) and collects every problem
/// `problems` finds; `path` is only used in errors.
pub(super) fn parse_validated<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
    problems: impl Fn(&T) -> Vec<String>,
) -> Result<T, KindError> {
    let value: T = serde_saphyr::from_str(text).map_err(|e| KindError::Invalid {
        file: path.to_path_buf(),
        problems: vec![e.to_string()],
    })?;
    let found = problems(&value);
    if found.is_empty() {
        Ok(value)
    } else {
        Err(KindError::Invalid {
            file: path.to_path_buf(),
            problems: found,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    #[test]
    fn every_shipped_config_is_valid() {
        for name in ["default", "single", "ha", "dual-stack"] {
            let (config, _) = KindConfig::load_named(&workspace(), name)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(config.networking.disable_default_cni, "{name}");
        }
    }

    #[test]
    fn default_is_one_control_plane_and_two_workers_named_like_kind() {
        let (config, _) = KindConfig::load_named(&workspace(), "default").unwrap();
        assert_eq!(
            config.node_names("chaos-x"),
            vec![
                ("chaos-x-control-plane".to_string(), NodeRole::ControlPlane),
                ("chaos-x-worker".to_string(), NodeRole::Worker),
                ("chaos-x-worker2".to_string(), NodeRole::Worker),
            ]
        );
        assert_eq!(
            config.install_env(),
            vec![("IPV6", "false"), ("DUAL_STACK", "false")]
        );
        let (dual, _) = KindConfig::load_named(&workspace(), "dual-stack").unwrap();
        assert_eq!(
            dual.install_env(),
            vec![("IPV6", "false"), ("DUAL_STACK", "true")]
        );
    }

    #[test]
    fn unknown_config_lists_the_known_ones() {
        let err = KindConfig::load_named(&workspace(), "nope")
            .unwrap_err()
            .to_string();
        assert!(err.contains("default, dual-stack, ha, single"), "{err}");
    }

    #[test]
    fn every_problem_is_reported() {
        let text = r"
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha3
networking:
  disableDefaultCNI: false
  kubeProxyMode: iptables
  ipFamily: ipv4
  podSubnet: 10.244.0.0/16
  serviceSubnet: 10.96.0.0/16
nodes:
  - role: worker
";
        let err = KindConfig::parse(text, Path::new("x.yaml")).unwrap_err();
        let KindError::Invalid { problems, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(problems.len(), 6, "{problems:#?}");
        let text = r"
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
networking: {disableDefaultCNI: true, kubeProxyMode: ipvs, ipFamily: ipv4, podSubnet: 10.16.0.0/16, serviceSubnet: 10.96.0.0/12}
nodes:
  - role: control-plane
";
        let err = KindConfig::parse(text, Path::new("x.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("kube-ovn/role: master"), "{err}");
        let err = KindConfig::parse(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking: {}\nnodes: []\nfeatureGates: {}\n",
            Path::new("x.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("x.yaml"), "{err}");
    }
}
