//! The version matrix (`versions.yaml` at the workspace root): which node
//! image, Kube-OVN and Multus each named version set pins, with the sha256 of
//! every manifest the harness downloads.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::KindError;
use super::config::{parse_validated, read_text};

/// The file name of the matrix at the workspace root.
pub const MATRIX_FILE: &str = "versions.yaml";

/// The whole matrix.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VersionMatrix {
    /// Format version; must be 1.
    pub schema: u32,
    /// kind requirements.
    pub kind: KindPins,
    /// The version sets, by name (`default` must exist).
    pub sets: BTreeMap<String, VersionSet>,
}

/// What the kind CLI must be.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KindPins {
    /// Oldest kind release the node images are known to work with (`vX.Y.Z`).
    pub min_version: String,
}

/// One cell of the matrix.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct VersionSet {
    /// What the cell is for.
    pub description: String,
    /// The Kubernetes node image.
    pub kubernetes: KubernetesPins,
    /// Kube-OVN.
    pub kube_ovn: KubeOvnPins,
    /// Multus (thick plugin).
    pub multus: MultusPins,
}

/// Kubernetes.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KubernetesPins {
    /// `kindest/node:vX.Y.Z@sha256:...`, passed to `kind create cluster --image`.
    pub node_image: String,
}

/// Kube-OVN.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KubeOvnPins {
    /// Release tag, e.g. `v1.16.2`.
    pub version: String,
    /// `dist/images/install.sh` at that tag.
    pub install_script: PinnedUrl,
    /// `dist/images/kubectl-ko` at that tag: the plugin `install.sh`'s last
    /// step copies out of a kube-ovn-cni pod into `/usr/local/bin` before
    /// `kubectl ko diagnose all`; the harness runs that diagnose itself,
    /// from the cluster's state folder (see `addons::DIAGNOSE_STEP`).
    pub kubectl_ko: PinnedUrl,
    /// The one image `install.sh` deploys (`$REGISTRY/kube-ovn:$VERSION`).
    pub image: String,
    /// The VPC NAT gateway image, loaded when NAT-gateway mode is on.
    pub nat_gateway_image: String,
}

/// Multus.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct MultusPins {
    /// Release tag, e.g. `v4.2.4`.
    pub version: String,
    /// `deployments/multus-daemonset-thick.yml` at that tag.
    pub manifest: PinnedUrl,
    /// `ghcr.io/k8snetworkplumbingwg/multus-cni:<version>-thick`; the
    /// manifest's `:snapshot-thick` is replaced by this tag, as Kube-OVN's
    /// `kind-install-multus` target does (kubeovn/kube-ovn
    /// makefiles/kind.mk, release-1.16).
    pub image: String,
    /// How the init container installs `multus-shim`.
    pub shim_install: ShimInstall,
}

/// How Multus' init container puts `multus-shim` on the host (multus-cni #1221).
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ShimInstall {
    /// `cp` over the (possibly busy) binary: v4.1.x to v4.2.2; fails with
    /// "Text file busy" while a shim runs.
    Cp,
    /// `install_multus -d /host/opt/cni/bin -t thick`: atomic; v4.2.3 on
    /// (multus-cni PR #1445).
    InstallMultus,
}

/// A file downloaded at run time and checked against its sha256.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PinnedUrl {
    /// Where to get it (https).
    pub url: String,
    /// Its sha256 as 64 lowercase hex digits; absent means unpinned, which
    /// the installer refuses unless `CHAOS_ALLOW_UNPINNED=1`.
    #[serde(default)]
    pub sha256: Option<String>,
}

impl VersionMatrix {
    /// Reads and validates `path`, reporting every problem at once.
    pub fn load(path: &Path) -> Result<Self, KindError> {
        Self::parse(&read_text(path)?, path)
    }

    /// Parses and validates the text; `path` is only used in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, KindError> {
        parse_validated(text, path, Self::problems)
    }

    /// Every rule the matrix breaks.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.schema != 1 {
            out.push(format!("schema: expected 1, found {}", self.schema));
        }
        if parse_semver(&self.kind.min_version).is_none() {
            out.push(format!(
                "kind.min-version: expected vX.Y.Z, found {:?}",
                self.kind.min_version
            ));
        }
        if !self.sets.contains_key("default") {
            out.push("sets: a set named `default` is required".into());
        }
        for (name, set) in &self.sets {
            let at = |field: &str| format!("sets.{name}.{field}");
            if !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            {
                out.push(format!("sets.{name}: names use [a-z0-9.-]"));
            }
            if !set.kubernetes.node_image.starts_with("kindest/node:v")
                || !set.kubernetes.node_image.contains("@sha256:")
            {
                out.push(format!(
                    "{}: expected kindest/node:vX.Y.Z@sha256:<digest>, found {:?}",
                    at("kubernetes.node-image"),
                    set.kubernetes.node_image
                ));
            }
            for (field, version) in [
                ("kube-ovn.version", &set.kube_ovn.version),
                ("multus.version", &set.multus.version),
            ] {
                if parse_semver(version).is_none() {
                    out.push(format!("{}: expected vX.Y.Z, found {version:?}", at(field)));
                }
            }
            for (field, pin, tag) in [
                (
                    "kube-ovn.install-script",
                    &set.kube_ovn.install_script,
                    &set.kube_ovn.version,
                ),
                (
                    "kube-ovn.kubectl-ko",
                    &set.kube_ovn.kubectl_ko,
                    &set.kube_ovn.version,
                ),
                ("multus.manifest", &set.multus.manifest, &set.multus.version),
            ] {
                if !pin.url.starts_with("https://") {
                    out.push(format!(
                        "{}.url: must be https, found {:?}",
                        at(field),
                        pin.url
                    ));
                }
                if !pin.url.contains(&format!("/{tag}/")) {
                    out.push(format!(
                        "{}.url: must name the pinned tag {tag}, found {:?}",
                        at(field),
                        pin.url
                    ));
                }
                if let Some(sha) = &pin.sha256
                    && !is_sha256(sha)
                {
                    out.push(format!(
                        "{}.sha256: expected 64 lowercase hex digits, found {sha:?}",
                        at(field)
                    ));
                }
            }
            let want = format!(":{}-thick", set.multus.version);
            if !set.multus.image.ends_with(&want) {
                out.push(format!(
                    "{}: must end with {want}, found {:?}",
                    at("multus.image"),
                    set.multus.image
                ));
            }
            for (field, image) in [
                ("kube-ovn.image", &set.kube_ovn.image),
                (
                    "kube-ovn.nat-gateway-image",
                    &set.kube_ovn.nat_gateway_image,
                ),
            ] {
                if !image.ends_with(&format!(":{}", set.kube_ovn.version)) {
                    out.push(format!(
                        "{}: must be tagged {}, found {image:?}",
                        at(field),
                        set.kube_ovn.version
                    ));
                }
            }
            // multus-cni #1221 / PR #1445: the atomic install arrived in v4.2.3.
            if let Some(v) = parse_semver(&set.multus.version) {
                let expected = if v >= (4, 2, 3) {
                    ShimInstall::InstallMultus
                } else {
                    ShimInstall::Cp
                };
                if set.multus.shim_install != expected {
                    out.push(format!(
                        "{}: Multus {} installs the shim with {}, not {}",
                        at("multus.shim-install"),
                        set.multus.version,
                        shim_name(expected),
                        shim_name(set.multus.shim_install)
                    ));
                }
            }
        }
        out
    }

    /// The set called `name`, or an error listing the ones there are.
    pub fn get(&self, name: &str) -> Result<&VersionSet, KindError> {
        self.sets.get(name).ok_or_else(|| KindError::Invalid {
            file: MATRIX_FILE.into(),
            problems: vec![format!(
                "no version set named {name:?}; there are: {}",
                self.sets.keys().cloned().collect::<Vec<_>>().join(", ")
            )],
        })
    }
}

fn shim_name(s: ShimInstall) -> &'static str {
    match s {
        ShimInstall::Cp => "cp",
        ShimInstall::InstallMultus => "install-multus",
    }
}

/// `true` for 64 lowercase hex digits.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `vX.Y.Z` (an optional `-suffix` is ignored) as a tuple.
pub fn parse_semver(v: &str) -> Option<(u64, u64, u64)> {
    let v = v.strip_prefix('v')?;
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    let out = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The workspace's `versions.yaml`, for tests.
    pub(crate) fn workspace_matrix() -> VersionMatrix {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(MATRIX_FILE);
        VersionMatrix::load(&path).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_workspace_matrix_is_valid_and_has_the_racy_and_fixed_cells() {
        let m = workspace_matrix();
        assert!(m.sets.contains_key("default"));
        let racy = m.get("kube-ovn-1.14-multus-4.2.1").unwrap();
        assert_eq!(racy.multus.shim_install, ShimInstall::Cp);
        let fixed = m.get("kube-ovn-1.15-multus-4.2.3").unwrap();
        assert_eq!(fixed.multus.shim_install, ShimInstall::InstallMultus);
        for set in m.sets.values() {
            assert!(set.kube_ovn.install_script.sha256.is_some());
            assert!(set.kube_ovn.kubectl_ko.sha256.is_some());
            assert!(set.multus.manifest.sha256.is_some());
        }
    }

    #[test]
    fn every_problem_is_reported() {
        let text = r#"
schema: 2
kind: {min-version: "0.31"}
sets:
  Bad_Name:
    description: x
    kubernetes: {node-image: "kindest/node:v1.35.0"}
    kube-ovn:
      version: v1.16.2
      install-script: {url: "http://x/v1.16.2/install.sh", sha256: "ABC"}
      kubectl-ko: {url: "https://x/v1.16.1/kubectl-ko"}
      image: docker.io/kubeovn/kube-ovn:v1.16.1
      nat-gateway-image: docker.io/kubeovn/vpc-nat-gateway:v1.16.2
    multus:
      version: v4.2.1
      manifest: {url: "https://x/v4.2.4/m.yml"}
      image: ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.4-thick
      shim-install: install-multus
"#;
        let err = VersionMatrix::parse(text, Path::new("v.yaml")).unwrap_err();
        let KindError::Invalid { problems, .. } = &err else {
            panic!("{err:?}");
        };
        let all = problems.join("\n");
        for needle in [
            "schema: expected 1",
            "kind.min-version",
            "`default` is required",
            "sets.Bad_Name: names use",
            "node-image: expected kindest/node",
            "install-script.url: must be https",
            "install-script.sha256: expected 64",
            "multus.manifest.url: must name the pinned tag v4.2.1",
            "multus.image: must end with :v4.2.1-thick",
            "kube-ovn.image: must be tagged v1.16.2",
            "kube-ovn.kubectl-ko.url: must name the pinned tag v1.16.2",
            "Multus v4.2.1 installs the shim with cp, not install-multus",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
        assert_eq!(problems.len(), 12, "{all}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = VersionMatrix::parse(
            "schema: 1\nkind: {min-version: v0.31.0}\nsets: {}\nextra: 1\n",
            Path::new("v.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("extra"), "{err}");
    }

    #[test]
    fn semver() {
        assert_eq!(parse_semver("v0.31.0"), Some((0, 31, 0)));
        assert_eq!(parse_semver("v1.35.0-alpha.1"), Some((1, 35, 0)));
        assert_eq!(parse_semver("1.2.3"), None);
        assert_eq!(parse_semver("v1.2"), None);
        assert_eq!(parse_semver("v1.2.3.4"), None);
    }
}
