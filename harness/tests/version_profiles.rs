//! The version matrix drives both backends: every cell of `versions.yaml`
//! (what the kind backend installs) has a twin profile of the same name with
//! the same Kube-OVN and Multus versions and the same way of installing the
//! Multus shim, the mechanism that decides whether multus-cni #1221 can
//! happen. A cell added without its twin profile fails here, not at run time.

use std::path::PathBuf;

use cni_chaos::backend::kind::{ShimInstall, VersionMatrix};
use cni_chaos_twin::model::{ShimInstall as TwinShim, VersionProfile};

#[test]
fn every_matrix_cell_has_a_matching_twin_profile() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let matrix = VersionMatrix::load(&root.join("versions.yaml")).unwrap();
    assert!(matrix.sets.len() >= 4, "{:?}", matrix.sets.keys());
    for (name, set) in &matrix.sets {
        let p = VersionProfile::named(name)
            .unwrap_or_else(|| panic!("versions.yaml set {name:?} has no twin profile"));
        assert_eq!(p.kube_ovn, set.kube_ovn.version, "{name}: Kube-OVN");
        assert_eq!(p.multus, set.multus.version, "{name}: Multus");
        let twin_shim = match set.multus.shim_install {
            ShimInstall::Cp => TwinShim::Cp,
            ShimInstall::InstallMultus => TwinShim::InstallMultus,
        };
        assert_eq!(
            p.shim_install, twin_shim,
            "{name}: how the shim is installed"
        );
    }
    // The twin's only extra profile is the Kube-OVN master one, which has no
    // released manifests to pin for kind.
    for p in VersionProfile::all() {
        assert!(
            matrix.sets.contains_key(&p.name) || p.kube_ovn == "master",
            "twin profile {} is not in versions.yaml",
            p.name
        );
    }
}
