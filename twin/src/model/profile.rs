//! Version profiles: which upstream mechanisms a Kube-OVN / Multus pair has.
//!
//! Profile names are the version-set names of the version matrix
//! (`versions.yaml` at the workspace root, shared with the kind backend), so
//! a suite's `cluster.versions` picks the same pair on both backends.

use std::fmt;

/// Rule `multus-cp-fails-on-a-busy-shim`: Multus v4.1.x to v4.2.2's init container copies the shim with a plain `cp`, which fails with "Text file busy" while any shim runs; v4.2.3 and later run `install_multus`, a copy beside it and a rename, which never touches the busy file.
/// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:deployments/multus-daemonset-thick.yml (install-multus-binary: cp)
/// Source: k8snetworkplumbingwg/multus-cni@v4.1.3:deployments/multus-daemonset-thick.yml (install-multus-binary: cp)
/// Source: k8snetworkplumbingwg/multus-cni@v4.2.3:cmd/install_multus/main.go (CopyFileAtomic)
/// Source: k8snetworkplumbingwg/multus-cni@v4.2.3:pkg/cmdutils/utils.go (CopyFileAtomic: temp file, then rename)
/// Pinned by: harness/tests/kind_system.rs::a_busy_multus_shim_makes_a_plain_cp_fail_and_an_atomic_install_succeed
///
/// How the Multus init container `install-multus-binary` puts
/// `/opt/cni/bin/multus-shim` in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShimInstall {
    /// A plain `cp` over the destination: `open(O_TRUNC)` of a file that a
    /// running process executes fails with `ETXTBSY` ("Text file busy").
    /// Multus v4.1.x to v4.2.2 (FACTS.md, multus-cni #1221 point 4).
    Cp,
    /// `install_multus -d /host/opt/cni/bin -t thick`: copy to a temporary
    /// file and rename over the destination, which never touches the busy
    /// inode. Multus v4.2.3+ (PR #1445, commit a234ce68f).
    InstallMultus,
}

/// Rule `kube-ovn-keeps-an-existing-conflist`: `install-cni` never rewrites a conflist that exists: v1.13 keeps any file as it is, v1.14 and later keep a 0600 file and only chmod another one to 0600, so a truncated conflist stays truncated.
/// Source: kubeovn/kube-ovn@v1.13.15:cmd/daemon/cniserver.go (mvCNIConf)
/// Source: kubeovn/kube-ovn@v1.14.41:cmd/daemon/cniserver.go (mvCNIConf)
/// Source: kubeovn/kube-ovn@v1.16.2:cmd/daemon/cniserver.go (mvCNIConf)
///
/// What `kube-ovn-daemon --install-cni-config` (the last step of the
/// `install-cni` init container's `install-cni.sh`) does with a conflist
/// that is already in `/etc/cni/net.d` (`mvCNIConf` in
/// `cmd/daemon/cniserver.go`, read at each tag of the matrix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflistInstall {
    /// v1.13.15: any existing file is kept as it is; a new one is written
    /// with mode 0644.
    KeepExisting,
    /// v1.14.41, v1.15.24, v1.16.2 (PR #5558): an existing file with mode
    /// 0600 is kept, any other existing file only gets `chmod 0600`; a new
    /// one is written with mode 0600. An existing file is never rewritten,
    /// so a truncated one stays truncated (FACTS.md "Kube-OVN facts").
    ChmodExisting,
}

impl fmt::Display for ShimInstall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShimInstall::Cp => "cp",
            ShimInstall::InstallMultus => "install-multus",
        })
    }
}

/// One version pair and the mechanisms it switches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionProfile {
    /// The version-set name (`versions.yaml`).
    pub name: String,
    /// Kube-OVN release tag.
    pub kube_ovn: String,
    /// Multus release tag.
    pub multus: String,
    /// Rule `kubernetes-release-per-cell`: a cell runs the Kubernetes release its Kube-OVN line's CI tested with, among kind v0.31.0's node images (v1.33.7 for 1.13 and 1.14, v1.35.0 for 1.15, 1.16 and master); `/version` and each node's kubeletVersion say it.
    /// Source: FACTS.md (kind node facts: node images per Kube-OVN line)
    ///
    /// Kubernetes release of the cell's node image (`kindest/node` tag in
    /// `versions.yaml`): what `/version` and each node's
    /// `status.nodeInfo.kubeletVersion` report.
    pub kubernetes: String,
    /// How the Multus init container installs the shim.
    pub shim_install: ShimInstall,
    /// Rule `kube-ovn-conflist-written-in-place-before-7035`: without kube-ovn PR #7035 a new conflist is written in place (`os.WriteFile`: create and truncate, then write), so a node killed in between keeps an empty file; v1.15.24 and master write it to a temporary file and rename it.
    /// Source: kubeovn/kube-ovn@v1.14.41:cmd/daemon/cniserver.go (mvCNIConf: os.WriteFile)
    /// Source: kubeovn/kube-ovn@v1.15.24:cmd/daemon/cniserver.go (mvCNIConf: fileutil.AtomicWriteFile)
    ///
    /// Whether `install-cni` writes its conflist through a temporary file
    /// and a rename (kube-ovn PR #7035, merged 2026-07-13; at the matrix's
    /// tags only v1.15.24 has it, as `fileutil.AtomicWriteFile` in
    /// `mvCNIConf`, and master). Without it the file is written in place
    /// (`os.WriteFile`), so a node killed mid-write keeps a truncated file
    /// that is never rewritten (see [`ConflistInstall`]).
    pub atomic_cni_conf: bool,
    /// What `install-cni` does with an existing conflist.
    pub conflist_install: ConflistInstall,
    /// `CNI_CONFIG_PRIORITY`, the conflist's name prefix (default `01`).
    pub cni_priority: String,
    /// Whether kube-ovn-controller replaces a VPC NAT gateway pod whose
    /// container restarted (v1.14 and later; rule
    /// `nat-gateway-restart-rolls-the-pod-5072`).
    pub nat_gw_restart_rolls: bool,
    /// Whether kube-ovn-cni deletes, every minute, the OVS Interfaces of
    /// pods that are gone (v1.15 and later; rule
    /// `kube-ovn-cni-gc-interfaces`).
    pub cni_gc_interfaces: bool,
}

/// Multus releases before v4.2.3 use the racy `cp` (FACTS.md, #1221 point 4).
pub fn shim_install_for(multus: &str) -> ShimInstall {
    let v: Vec<u64> = multus
        .trim_start_matches('v')
        .split(['.', '-'])
        .map_while(|p| p.parse().ok())
        .collect();
    let key = (
        v.first().copied().unwrap_or(0),
        v.get(1).copied().unwrap_or(0),
        v.get(2).copied().unwrap_or(0),
    );
    if key < (4, 2, 3) {
        ShimInstall::Cp
    } else {
        ShimInstall::InstallMultus
    }
}

impl VersionProfile {
    /// A profile for any pair of tags, with mechanisms derived from them.
    /// Which Kube-OVN releases write the conflist atomically (#7035) was
    /// read at the matrix's tags only: v1.15.24 and master do, v1.13.15,
    /// v1.14.41 and v1.16.2 do not; other tags are treated as not.
    pub fn from_versions(name: &str, kubernetes: &str, kube_ovn: &str, multus: &str) -> Self {
        VersionProfile {
            name: name.to_string(),
            kube_ovn: kube_ovn.to_string(),
            multus: multus.to_string(),
            kubernetes: kubernetes.to_string(),
            shim_install: shim_install_for(multus),
            atomic_cni_conf: matches!(kube_ovn, "master" | "v1.15.24"),
            conflist_install: if kube_ovn.starts_with("v1.13.") {
                ConflistInstall::KeepExisting
            } else {
                ConflistInstall::ChmodExisting
            },
            cni_priority: "01".to_string(),
            nat_gw_restart_rolls: !kube_ovn.starts_with("v1.13."),
            cni_gc_interfaces: !kube_ovn.starts_with("v1.13.") && !kube_ovn.starts_with("v1.14."),
        }
    }

    /// The profiles of the version matrix, by set name, plus the twin-only
    /// `kube-ovn-master-multus-4.3.0` (Kube-OVN master CI pins Multus
    /// v4.3.0, FACTS.md #1221 point 5). The Kubernetes release is the one
    /// each Kube-OVN line's CI tested with, among the node images kind
    /// v0.31.0 publishes: v1.33.7 for release-1.13 and release-1.14,
    /// v1.35.0 for release-1.15, release-1.16 and master (FACTS.md "kind
    /// node facts"; the same tags as `versions.yaml`).
    pub fn all() -> Vec<VersionProfile> {
        [
            ("default", "v1.35.0", "v1.16.2", "v4.2.4"),
            (
                "kube-ovn-1.13-multus-4.1.3",
                "v1.33.7",
                "v1.13.15",
                "v4.1.3",
            ),
            (
                "kube-ovn-1.14-multus-4.2.1",
                "v1.33.7",
                "v1.14.41",
                "v4.2.1",
            ),
            (
                "kube-ovn-1.15-multus-4.2.3",
                "v1.35.0",
                "v1.15.24",
                "v4.2.3",
            ),
            (
                "kube-ovn-master-multus-4.3.0",
                "v1.35.0",
                "master",
                "v4.3.0",
            ),
        ]
        .into_iter()
        .map(|(n, kube, k, m)| VersionProfile::from_versions(n, kube, k, m))
        .collect()
    }

    /// The profile named `name`, if the matrix has it.
    pub fn named(name: &str) -> Option<VersionProfile> {
        Self::all().into_iter().find(|p| p.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn racy_before_4_2_3_fixed_after() {
        assert_eq!(shim_install_for("v4.1.3"), ShimInstall::Cp);
        assert_eq!(shim_install_for("v4.2.1"), ShimInstall::Cp);
        assert_eq!(shim_install_for("v4.2.2"), ShimInstall::Cp);
        assert_eq!(shim_install_for("v4.2.3"), ShimInstall::InstallMultus);
        assert_eq!(shim_install_for("v4.3.0"), ShimInstall::InstallMultus);
        assert_eq!(
            VersionProfile::named("kube-ovn-1.14-multus-4.2.1")
                .unwrap()
                .shim_install,
            ShimInstall::Cp
        );
        assert!(VersionProfile::named("nope").is_none());
    }
}
