//! Addons: Kube-OVN (its `install.sh` at the pinned tag) and the Multus thick
//! DaemonSet (the manifest at the pinned tag, with Kube-OVN CI's limits).
//! Manifests are downloaded at run time and checked against their pinned
//! sha256; images are pulled on the host and `kind load`ed into the nodes.
//!
//! The steps follow Kube-OVN's own kind targets (kubeovn/kube-ovn
//! makefiles/kind.mk on release-1.16): `kind-install` runs `install.sh`,
//! `kind-install-multus` loads `$(MULTUS_IMAGE)`, applies the manifest with
//! `:snapshot-thick` replaced by `:$(MULTUS_VERSION)-thick`, sets the
//! `kube-multus` container's limits to cpu=200m,memory=200Mi and waits for
//! the rollout; `kind-install-vpc-nat-gw` adds `ENABLE_NAT_GW=true
//! CNI_CONFIG_PRIORITY=10`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::KindError;
use super::config::KindConfig;
use super::kubectl::{KUBECTL_TIMEOUT, Kubectl};
use super::options::KindOptions;
use super::sha256::hex_digest;
use super::versions::{PinnedUrl, VersionSet};
use crate::exec::{Command, Runner};
use crate::observe::probe::{PROBE_IMAGES, PROBE_NAD, PROBE_NAMESPACE};

/// Installs the addons of one cluster.
#[derive(Debug)]
pub struct Addons<'a> {
    /// Runs every command.
    pub runner: Arc<dyn Runner>,
    /// kubectl for the cluster.
    pub kubectl: &'a Kubectl,
    /// The version set.
    pub set: &'a VersionSet,
    /// The kind config (its IP family picks `install.sh`'s stack).
    pub config: &'a KindConfig,
    /// Options (state dir, pins, NAT gateway, timeouts).
    pub options: &'a KindOptions,
    /// The cluster name.
    pub cluster: &'a str,
    /// The cluster's private state folder (downloads, rendered manifests).
    pub state: &'a Path,
}

/// Replaces the manifest's `:snapshot-thick` image tag with the release's
/// (Kube-OVN makefiles/kind.mk, `kind-install-multus`).
pub fn patch_multus_manifest(text: &str, version: &str) -> String {
    text.replace(":snapshot-thick", &format!(":{version}-thick"))
}

impl Addons<'_> {
    /// Every image the cluster needs, in load order: Kube-OVN's (and its
    /// NAT gateway's with `CHAOS_NAT_GW=1`), Multus', and the probes'
    /// ([`PROBE_IMAGES`]), so no probe waits for a registry.
    pub fn images(&self) -> Vec<String> {
        let mut images = vec![self.set.kube_ovn.image.clone()];
        if self.options.nat_gateway {
            images.push(self.set.kube_ovn.nat_gateway_image.clone());
        }
        images.push(self.set.multus.image.clone());
        images.extend(PROBE_IMAGES.iter().map(|i| (*i).to_string()));
        images
    }

    /// `docker pull` every image on the host (before the cluster exists, so
    /// a registry problem fails fast).
    pub async fn pull_images(&self) -> Result<(), KindError> {
        for image in self.images() {
            let cmd = Command::new("docker")
                .args(["pull", image.as_str()])
                .timeout(self.options.timeouts.pull);
            self.runner.run(&cmd).await?;
        }
        Ok(())
    }

    /// `kind load docker-image <image> --name <cluster>` for every image.
    pub async fn load_images(&self) -> Result<(), KindError> {
        for image in self.images() {
            let cmd = Command::new("kind")
                .args([
                    "load",
                    "docker-image",
                    image.as_str(),
                    "--name",
                    self.cluster,
                ])
                .timeout(self.options.timeouts.load);
            self.runner.run(&cmd).await?;
        }
        Ok(())
    }

    /// Downloads `pin.url` to `dest` with curl and checks its sha256.
    pub async fn download(&self, pin: &PinnedUrl, dest: &Path) -> Result<Vec<u8>, KindError> {
        let cmd = Command::new("curl")
            .args([
                "--fail",
                "--silent",
                "--show-error",
                "--location",
                "--retry",
                "3",
                "--max-time",
                "120",
                "--output",
            ])
            .arg(dest.display().to_string())
            .arg(pin.url.clone())
            .timeout(Duration::from_secs(400));
        self.runner.run(&cmd).await?;
        if self.options.dry_run {
            return Ok(Vec::new());
        }
        let bytes = std::fs::read(dest).map_err(|source| KindError::Io {
            action: "reading the download",
            path: dest.to_path_buf(),
            source,
        })?;
        verify(pin, &bytes, self.options.allow_unpinned)?;
        Ok(bytes)
    }

    fn state_file(&self, name: &str) -> PathBuf {
        self.state.join(name)
    }

    /// Runs Kube-OVN's `install.sh` at the pinned tag.
    pub async fn install_kube_ovn(&self) -> Result<(), KindError> {
        let script = self.state_file("kube-ovn-install.sh");
        self.download(&self.set.kube_ovn.install_script, &script)
            .await?;
        let mut cmd = Command::new("bash")
            .arg(script.display().to_string())
            .env(
                "KUBECONFIG",
                self.kubectl.kubeconfig().display().to_string(),
            )
            .timeout(self.options.timeouts.install);
        for (k, v) in self.install_env() {
            cmd = cmd.env(k, v);
        }
        self.runner.run(&cmd).await?;
        Ok(())
    }

    /// `install.sh`'s stack and NAT gateway settings, every one set
    /// explicitly so the user's shell cannot leak in: `IPV6` and
    /// `DUAL_STACK` from the kind config, `ENABLE_NAT_GW` (install.sh at
    /// v1.16.2 defaults it to `true`; `false` here unless `CHAOS_NAT_GW=1`)
    /// and `CNI_CONFIG_PRIORITY` (`10` with the NAT gateway, as Kube-OVN's
    /// `kind-install-vpc-nat-gw`; else install.sh's default `01`, which
    /// [`resolve_cni_file`](super::resolve_cni_file) finds either way).
    pub fn install_env(&self) -> Vec<(&'static str, &'static str)> {
        let mut env = self.config.install_env();
        let (nat, priority) = if self.options.nat_gateway {
            ("true", "10")
        } else {
            ("false", "01")
        };
        env.extend([("ENABLE_NAT_GW", nat), ("CNI_CONFIG_PRIORITY", priority)]);
        env
    }

    /// Applies the pinned Multus thick manifest with Kube-OVN CI's limits.
    pub async fn install_multus(&self) -> Result<(), KindError> {
        let raw = self.state_file("multus-daemonset-thick.yml");
        let bytes = self.download(&self.set.multus.manifest, &raw).await?;
        let patched_path = self.state_file("multus-daemonset-thick.patched.yml");
        let text = String::from_utf8_lossy(&bytes);
        let patched = patch_multus_manifest(&text, &self.set.multus.version);
        if !self.options.dry_run {
            std::fs::write(&patched_path, patched).map_err(|source| KindError::Io {
                action: "writing",
                path: patched_path.clone(),
                source,
            })?;
        }
        self.kubectl
            .run(
                ["apply", "-f", &patched_path.display().to_string()],
                KUBECTL_TIMEOUT,
            )
            .await?;
        self.kubectl
            .run(
                [
                    "-n",
                    "kube-system",
                    "set",
                    "resources",
                    "daemonset/kube-multus-ds",
                    "-c",
                    "kube-multus",
                    "--limits=cpu=200m,memory=200Mi",
                ],
                KUBECTL_TIMEOUT,
            )
            .await?;
        Ok(())
    }

    /// Creates what the probes need (see `observe::probe`): their namespace
    /// and the NetworkAttachmentDefinition the multus-secondary probe asks
    /// for. The manifest ([`probe_manifest`]) is rendered into the cluster's
    /// private state folder and applied once Multus' CRD is established.
    pub async fn install_probe_resources(&self) -> Result<(), KindError> {
        let path = self.state_file(PROBE_MANIFEST);
        if !self.options.dry_run {
            std::fs::write(&path, probe_manifest()).map_err(|source| KindError::Io {
                action: "writing",
                path: path.clone(),
                source,
            })?;
        }
        self.kubectl
            .run(
                [
                    "wait",
                    "--for=condition=Established",
                    NAD_CRD,
                    "--timeout=60s",
                ],
                Duration::from_secs(90),
            )
            .await?;
        self.kubectl
            .run(
                ["apply", "-f", &path.display().to_string()],
                KUBECTL_TIMEOUT,
            )
            .await?;
        Ok(())
    }

    /// Waits for the nodes and the CNI workloads, each with its own timeout;
    /// on a timeout the error carries `kubectl get pods -A -o wide`.
    pub async fn wait_ready(&self) -> Result<(), KindError> {
        let t = self.options.timeouts.ready;
        let timeout_arg = format!("--timeout={}s", t.as_secs());
        let mut waits: Vec<(String, Vec<String>)> = vec![(
            "every node Ready".into(),
            vec![
                "wait".into(),
                "--for=condition=Ready".into(),
                "nodes".into(),
                "--all".into(),
                timeout_arg.clone(),
            ],
        )];
        for what in [
            "daemonset/ovs-ovn",
            "deployment/kube-ovn-controller",
            "daemonset/kube-ovn-cni",
            "deployment/coredns",
            "daemonset/kube-multus-ds",
        ] {
            waits.push((
                format!("rollout of {what}"),
                vec![
                    "-n".into(),
                    "kube-system".into(),
                    "rollout".into(),
                    "status".into(),
                    what.into(),
                    timeout_arg.clone(),
                ],
            ));
        }
        for (what, args) in waits {
            let out = self.kubectl.output(args, t + Duration::from_secs(30)).await;
            let failed =
                match out {
                    Ok(o) if o.success() => continue,
                    Ok(o) => format!("{}{}", o.stdout_str(), o.stderr_str()),
                    Err(crate::backend::kind::KindError::Exec(
                        crate::exec::ExecError::Timeout { stdout, stderr, .. },
                    )) => format!("{stdout}{stderr}"),
                    Err(e) => return Err(e),
                };
            let pods = self
                .kubectl
                .output(["get", "pods", "-A", "-o", "wide"], KUBECTL_TIMEOUT)
                .await
                .map(|o| format!("{}{}", o.stdout_str(), o.stderr_str()))
                .unwrap_or_else(|e| format!("(kubectl get pods failed: {e})"));
            return Err(KindError::NotReady {
                what,
                timeout: t,
                diagnostics: format!("{}\n{pods}", failed.trim_end()),
            });
        }
        Ok(())
    }
}

/// The file the probe manifest is rendered to, in the cluster's state folder.
pub const PROBE_MANIFEST: &str = "cni-chaos-probes.json";
/// Multus' NetworkAttachmentDefinition CRD (in its thick manifest).
const NAD_CRD: &str = "crd/network-attachment-definitions.k8s.cni.cncf.io";
/// The probe attachment's address range: clear of Kube-OVN CI's pods
/// (10.16.0.0/16) and services (10.96.0.0/12).
const PROBE_NET_SUBNET: &str = "10.250.0.0/16";

/// The probes' namespace ([`PROBE_NAMESPACE`]) and NetworkAttachmentDefinition
/// ([`PROBE_NAD`]) as a JSON `List` for `kubectl apply -f`. The attachment is
/// a `ptp` interface with `host-local` addresses: the two plugins kind's node
/// image ships besides loopback and portmap (kubernetes-sigs/kind
/// images/base/Dockerfile), so it works on any kind node; the probe only
/// checks that `net1` appears.
pub fn probe_manifest() -> String {
    let config = serde_json::json!({
        "cniVersion": "0.3.1",
        "name": PROBE_NAD,
        "type": "ptp",
        "ipam": {"type": "host-local", "subnet": PROBE_NET_SUBNET},
    });
    let labels = serde_json::json!({"app.kubernetes.io/managed-by": "cni-chaos"});
    let list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": PROBE_NAMESPACE, "labels": labels},
            },
            {
                "apiVersion": "k8s.cni.cncf.io/v1",
                "kind": "NetworkAttachmentDefinition",
                "metadata": {"name": PROBE_NAD, "namespace": PROBE_NAMESPACE, "labels": labels},
                "spec": {"config": config.to_string()},
            },
        ],
    });
    format!("{list:#}\n")
}

/// Checks `bytes` against the pin: a mismatch is always refused, a missing
/// pin unless `allow_unpinned`.
pub fn verify(pin: &PinnedUrl, bytes: &[u8], allow_unpinned: bool) -> Result<(), KindError> {
    let got = hex_digest(bytes);
    match &pin.sha256 {
        Some(want) if *want == got => Ok(()),
        Some(want) => Err(KindError::Digest {
            url: pin.url.clone(),
            problem: format!(
                "sha256 is {got}, but versions.yaml pins {want}; refusing to apply it"
            ),
        }),
        None if allow_unpinned => {
            tracing::warn!(
                "{}: no sha256 pin; applying it because CHAOS_ALLOW_UNPINNED=1 (its sha256 is {got})",
                pin.url
            );
            Ok(())
        }
        None => Err(KindError::Digest {
            url: pin.url.clone(),
            problem: format!(
                "versions.yaml has no sha256 pin for it (its sha256 is {got}); pin it, or set CHAOS_ALLOW_UNPINNED=1 to apply it unverified"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_manifest_holds_the_namespace_and_the_attachment() {
        let v: serde_json::Value = serde_json::from_str(&probe_manifest()).unwrap();
        let items = v["items"].as_array().unwrap();
        assert_eq!(items[0]["kind"], "Namespace");
        assert_eq!(items[0]["metadata"]["name"], "cni-chaos-probes");
        assert_eq!(items[1]["kind"], "NetworkAttachmentDefinition");
        assert_eq!(items[1]["metadata"]["name"], "cni-chaos-probe-net");
        assert_eq!(items[1]["metadata"]["namespace"], "cni-chaos-probes");
        let config: serde_json::Value =
            serde_json::from_str(items[1]["spec"]["config"].as_str().unwrap()).unwrap();
        assert_eq!(config["type"], "ptp");
        assert_eq!(config["ipam"]["type"], "host-local");
    }

    #[test]
    fn patch_replaces_every_snapshot_tag() {
        let text = "image: ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot-thick\n  image: ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot-thick\n";
        let out = patch_multus_manifest(text, "v4.2.1");
        assert_eq!(out.matches(":v4.2.1-thick").count(), 2);
        assert!(!out.contains("snapshot"));
    }

    #[test]
    fn verify_refuses_mismatch_and_unpinned() {
        let pin = |sha: Option<&str>| PinnedUrl {
            url: "https://x/v1/f".into(),
            sha256: sha.map(str::to_string),
        };
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        verify(&pin(Some(abc)), b"abc", false).unwrap();
        let e = verify(&pin(Some(abc)), b"abd", true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("refusing") && e.contains(abc), "{e}");
        let e = verify(&pin(None), b"abc", false).unwrap_err().to_string();
        assert!(
            e.contains("CHAOS_ALLOW_UNPINNED=1") && e.contains(abc),
            "{e}"
        );
        verify(&pin(None), b"abc", true).unwrap();
    }
}
