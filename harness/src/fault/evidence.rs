//! Evidence that a fault took effect.

use serde::Serialize;

/// What an injector observed before and after acting, and whether that proves
/// the fault took effect. A fault without proof fails its scenario as
/// "fault had no effect"; it never passes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Evidence {
    /// Whether the observations prove the fault happened.
    pub took_effect: bool,
    /// The node the fault acted on, if any.
    pub node: Option<String>,
    /// Observations as `(what, value)`, e.g. `("StartedAt before", "...")`.
    pub facts: Vec<(String, String)>,
    /// Why the fault is considered to have had no effect, when it did not.
    pub missing: Option<String>,
    /// A dry run: the fault's commands were planned, not executed, so
    /// nothing is proven either way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub planned: bool,
    /// What the fault found on the node that decides which bug it can show
    /// (e.g. whether `00-multus.conf` outlived a reboot); expectations may
    /// select on it (`when:`) or require it (`requires:`).
    #[serde(default, skip_serializing_if = "Preconditions::is_empty")]
    pub preconditions: Preconditions,
}

/// The recorded state a verdict depends on. Each part is `None` when the
/// fault did not record it (not every fault looks at a node's disk).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Preconditions {
    /// The node's CNI files as they were while the node was down (copied
    /// out of the stopped node container, so the boot cannot race it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<NodeDisk>,
    /// The node's Multus init container the first time it ran after the fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multus_init: Option<MultusInit>,
}

impl Preconditions {
    /// Nothing recorded.
    pub fn is_empty(&self) -> bool {
        self.disk.is_none() && self.multus_init.is_none()
    }

    /// The value of one precondition, when it was recorded.
    pub fn value(&self, p: Precondition) -> Option<bool> {
        match p {
            Precondition::MultusConfigLeft => self.disk.as_ref().map(|d| d.multus_config),
            Precondition::MultusShimLeft => self.disk.as_ref().map(|d| d.multus_shim),
            Precondition::ShimRunningAtInit => {
                self.multus_init.as_ref().and_then(|m| m.shim_running)
            }
            Precondition::InitTextFileBusy => self
                .multus_init
                .as_ref()
                .and_then(|m| m.last_log.as_deref())
                .map(|l| l.contains("Text file busy")),
        }
    }

    /// The recorded values on one line, for reports; empty when none.
    pub fn summary(&self) -> String {
        self.facts()
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The recorded values as `(name, value)` facts, for reports.
    pub fn facts(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(d) = &self.disk {
            out.push(("00-multus.conf while down".into(), present(d.multus_config)));
            out.push(("multus-shim while down".into(), present(d.multus_shim)));
            out.push((
                "first CNI config while down".into(),
                d.first_config.clone().unwrap_or_else(|| "none".into()),
            ));
            out.push((
                "first primary CNI config while down".into(),
                d.first_primary.clone().unwrap_or_else(|| "none".into()),
            ));
        }
        if let Some(m) = &self.multus_init {
            let unknown = || {
                format!(
                    "not recorded ({})",
                    m.unrecorded.as_deref().unwrap_or("no reason given")
                )
            };
            out.push((
                "multus-shim running when the Multus init container ran".into(),
                m.shim_running.map_or_else(unknown, |b| b.to_string()),
            ));
            out.push((
                "Multus init container last log line".into(),
                match m.last_log.as_deref() {
                    Some("") => "(empty)".into(),
                    Some(l) => l.to_string(),
                    None => unknown(),
                },
            ));
        }
        out
    }
}

fn present(yes: bool) -> String {
    if yes { "present" } else { "absent" }.to_string()
}

/// A node's CNI files while it was down.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NodeDisk {
    /// `/etc/cni/net.d/00-multus.conf` was there (multus-cni #1221 point 1).
    pub multus_config: bool,
    /// `/opt/cni/bin/multus-shim` was there.
    pub multus_shim: bool,
    /// The config files in `/etc/cni/net.d`, sorted.
    pub configs: Vec<String>,
    /// The one the runtime loads: the lexicographically first `.conf`,
    /// `.conflist` or `.json` file, folders skipped
    /// (containernetworking/cni@v1.2.3:libcni/conf.go `ConfFiles`, whose
    /// list containerd's go-cni sorts and takes the first of; FACTS.md
    /// "Kubernetes facts"). Pinned on real Docker by
    /// harness/tests/kind_system.rs::node_reboot_graceful_and_hard_wipe_run_and_keep_cni.
    pub first_config: Option<String>,
    /// The one Multus' auto config would pick: the first that is not
    /// `00-multus*`.
    pub first_primary: Option<String>,
}

impl NodeDisk {
    /// From the file names in `/etc/cni/net.d` and whether the shim was there.
    pub fn from_names(names: impl IntoIterator<Item = String>, multus_shim: bool) -> Self {
        let mut configs: Vec<String> = names
            .into_iter()
            .filter(|n| {
                [".conf", ".conflist", ".json"]
                    .iter()
                    .any(|ext| n.ends_with(ext))
            })
            .collect();
        configs.sort();
        configs.dedup();
        NodeDisk {
            multus_config: configs.iter().any(|c| c == "00-multus.conf"),
            multus_shim,
            first_config: configs.first().cloned(),
            first_primary: configs
                .iter()
                .find(|c| !c.starts_with("00-multus"))
                .cloned(),
            configs,
        }
    }
}

/// What the node's Multus init container met the first time it ran after
/// the fault.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct MultusInit {
    /// The Multus pod.
    pub pod: String,
    /// A `multus-shim` process ran on the node when the end of the init
    /// container's run was seen (polled every second; the #1221 deadlock
    /// needs one holding the binary busy); `None` when the node's
    /// processes could not be listed.
    pub shim_running: Option<bool>,
    /// The init container's last log line (for #1221: `cp: cannot create
    /// regular file '/host/opt/cni/bin/multus-shim': Text file busy`),
    /// empty when it printed nothing; `None` when the log could not be read.
    pub last_log: Option<String>,
    /// Why a part could not be recorded, when one could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unrecorded: Option<String>,
}

/// A recorded precondition, by its suite-file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Precondition {
    /// `00-multus.conf` was on the node's disk while it was down.
    MultusConfigLeft,
    /// `multus-shim` was on the node's disk while it was down.
    MultusShimLeft,
    /// A `multus-shim` ran when the Multus init container ran.
    ShimRunningAtInit,
    /// The Multus init container's last log line says `Text file busy`.
    InitTextFileBusy,
}

impl Precondition {
    /// Every precondition, in documentation order.
    pub const ALL: [Precondition; 4] = [
        Precondition::MultusConfigLeft,
        Precondition::MultusShimLeft,
        Precondition::ShimRunningAtInit,
        Precondition::InitTextFileBusy,
    ];

    /// The name used in suite files.
    pub fn as_str(self) -> &'static str {
        match self {
            Precondition::MultusConfigLeft => "multus-config-left",
            Precondition::MultusShimLeft => "multus-shim-left",
            Precondition::ShimRunningAtInit => "shim-running-at-init",
            Precondition::InitTextFileBusy => "init-text-file-busy",
        }
    }

    /// Whether it is known right after the fault (the disk), or only once
    /// the node's Multus pod has run its init container.
    pub fn known_after_inject(self) -> bool {
        matches!(
            self,
            Precondition::MultusConfigLeft | Precondition::MultusShimLeft
        )
    }
}

impl std::fmt::Display for Precondition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Evidence {
    /// Evidence that proves the fault.
    pub fn proven(node: Option<String>, facts: Vec<(String, String)>) -> Self {
        Evidence {
            took_effect: true,
            node,
            facts,
            missing: None,
            planned: false,
            preconditions: Preconditions::default(),
        }
    }

    /// A dry run's evidence: the commands were printed, none was run.
    pub fn planned(node: Option<String>, why: impl Into<String>) -> Self {
        Evidence {
            took_effect: false,
            node,
            facts: Vec::new(),
            missing: Some(why.into()),
            planned: true,
            preconditions: Preconditions::default(),
        }
    }

    /// Evidence that the fault did nothing, with why.
    pub fn no_effect(node: Option<String>, why: impl Into<String>) -> Self {
        Evidence {
            took_effect: false,
            node,
            facts: Vec::new(),
            missing: Some(why.into()),
            planned: false,
            preconditions: Preconditions::default(),
        }
    }

    /// The facts as one line, for messages and JUnit properties.
    pub fn summary(&self) -> String {
        let facts: Vec<String> = self
            .facts
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let mut s = facts.join("; ");
        if let Some(why) = &self.missing {
            if !s.is_empty() {
                s.push_str("; ");
            }
            s.push_str(why);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_loads_the_first_config_and_multus_skips_its_own() {
        let d = NodeDisk::from_names(
            [
                "01-kube-ovn.conflist",
                "00-multus.conf",
                "multus.d",
                "README",
                "10-other.json",
            ]
            .map(String::from),
            true,
        );
        assert!(d.multus_config && d.multus_shim);
        assert_eq!(
            d.configs,
            ["00-multus.conf", "01-kube-ovn.conflist", "10-other.json"]
        );
        assert_eq!(d.first_config.as_deref(), Some("00-multus.conf"));
        assert_eq!(d.first_primary.as_deref(), Some("01-kube-ovn.conflist"));
    }

    #[test]
    fn after_a_clean_multus_exit_kube_ovn_comes_first() {
        let d = NodeDisk::from_names(["01-kube-ovn.conflist".to_string()], true);
        assert!(!d.multus_config);
        let p = Preconditions {
            disk: Some(d),
            multus_init: None,
        };
        assert_eq!(p.value(Precondition::MultusConfigLeft), Some(false));
        assert_eq!(p.value(Precondition::MultusShimLeft), Some(true));
        assert_eq!(p.value(Precondition::ShimRunningAtInit), None);
        assert_eq!(p.value(Precondition::InitTextFileBusy), None);
        let facts = p.facts();
        assert!(facts.contains(&("00-multus.conf while down".into(), "absent".into())));
        assert!(facts.contains(&(
            "first CNI config while down".into(),
            "01-kube-ovn.conflist".into()
        )));
    }

    #[test]
    fn text_file_busy_is_read_from_the_init_containers_last_line() {
        let p = Preconditions {
            disk: None,
            multus_init: Some(MultusInit {
                pod: "kube-multus-ds-x".into(),
                shim_running: Some(true),
                last_log: Some(
                    "cp: cannot create regular file '/host/opt/cni/bin/multus-shim': Text file busy"
                        .into(),
                ),
                unrecorded: None,
            }),
        };
        assert_eq!(p.value(Precondition::InitTextFileBusy), Some(true));
        assert_eq!(p.value(Precondition::ShimRunningAtInit), Some(true));
        // An empty log is a recorded "no"; an unreadable one is not recorded.
        let empty = Preconditions {
            disk: None,
            multus_init: Some(MultusInit {
                last_log: Some(String::new()),
                ..MultusInit::default()
            }),
        };
        assert_eq!(empty.value(Precondition::InitTextFileBusy), Some(false));
        let unread = Preconditions {
            disk: None,
            multus_init: Some(MultusInit {
                unrecorded: Some("logs: connection refused".into()),
                ..MultusInit::default()
            }),
        };
        assert_eq!(unread.value(Precondition::InitTextFileBusy), None);
        assert_eq!(unread.value(Precondition::ShimRunningAtInit), None);
        assert!(unread.facts().contains(&(
            "Multus init container last log line".into(),
            "not recorded (logs: connection refused)".into()
        )));
    }
}
