//! `cni-chaos pull-images`: pulls every image `versions.yaml` pins (for one
//! cell or all), so a wrong pin fails at once and says which, before any
//! cluster is made. The nightly workflow runs it as its first step.

use std::time::Duration;

use super::KindError;
use super::versions::{VersionMatrix, VersionSet};
use crate::exec::{Command, Runner};
use crate::observe::probe::PROBE_IMAGES;

/// One image to pull, and whether its reference carries a digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedImage {
    /// The reference as `versions.yaml` (or the probes) names it.
    pub image: String,
    /// Where it comes from (`sets.default.kubernetes.node-image`, ...).
    pub source: String,
}

impl PinnedImage {
    /// How it is pulled, for the log: by digest, or by tag only.
    pub fn how(&self) -> &'static str {
        if self.by_digest() {
            "by digest"
        } else {
            "by tag: no digest is pinned for it"
        }
    }

    /// `true` when the reference is `name@sha256:<digest>` (possibly with
    /// a tag): the pull checks the content; otherwise only the tag is pinned.
    pub fn by_digest(&self) -> bool {
        self.image.contains("@sha256:")
    }
}

/// Every image the cells named by `cell` (all cells when `None`) pin, each
/// once, in matrix order: the node image (with digest), Kube-OVN's image
/// and its VPC NAT gateway's, Multus' thick image (tags: versions.yaml
/// pins no digest for them), then the probes' images.
pub fn pinned_images(
    matrix: &VersionMatrix,
    cell: Option<&str>,
) -> Result<Vec<PinnedImage>, KindError> {
    let sets: Vec<(&str, &VersionSet)> = match cell {
        Some(name) => vec![(name, matrix.get(name)?)],
        None => matrix.sets.iter().map(|(n, s)| (n.as_str(), s)).collect(),
    };
    let mut out: Vec<PinnedImage> = Vec::new();
    let mut add = |image: &str, source: String| {
        if !out.iter().any(|p| p.image == image) {
            out.push(PinnedImage {
                image: image.to_string(),
                source,
            });
        }
    };
    for (name, set) in sets {
        let at = |field: &str| format!("versions.yaml sets.{name}.{field}");
        add(&set.kubernetes.node_image, at("kubernetes.node-image"));
        add(&set.kube_ovn.image, at("kube-ovn.image"));
        add(
            &set.kube_ovn.nat_gateway_image,
            at("kube-ovn.nat-gateway-image"),
        );
        add(&set.multus.image, at("multus.image"));
    }
    for image in PROBE_IMAGES {
        add(image, "observe::probe::PROBE_IMAGES".into());
    }
    Ok(out)
}

/// `docker pull <image>` for each image, every one attempted; the error
/// lists each failed image with its source and the failed command (argv
/// and output).
pub async fn pull_all(
    runner: &dyn Runner,
    images: &[PinnedImage],
    timeout: Duration,
) -> Result<(), KindError> {
    let mut failed = Vec::new();
    for p in images {
        let cmd = Command::new("docker")
            .args(["pull", p.image.as_str()])
            .timeout(timeout);
        if let Err(e) = runner.run(&cmd).await {
            failed.push(format!("{} ({}): {e}", p.image, p.source));
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(KindError::Pull { failed })
    }
}

#[cfg(test)]
mod tests {
    use super::super::versions::tests::workspace_matrix;
    use super::*;
    use crate::exec::{Expectation, ScriptedRunner};

    #[test]
    fn every_cell_pins_its_node_image_by_digest_and_images_are_listed_once() {
        let m = workspace_matrix();
        let all = pinned_images(&m, None).unwrap();
        for set in m.sets.values() {
            for image in [
                &set.kubernetes.node_image,
                &set.kube_ovn.image,
                &set.kube_ovn.nat_gateway_image,
                &set.multus.image,
            ] {
                assert_eq!(
                    all.iter().filter(|p| &p.image == image).count(),
                    1,
                    "{image}"
                );
            }
            assert!(
                all.iter()
                    .any(|p| p.image == set.kubernetes.node_image && p.by_digest())
            );
        }
        assert!(
            PROBE_IMAGES
                .iter()
                .all(|i| all.iter().any(|p| p.image == *i))
        );

        let one = pinned_images(&m, Some("default")).unwrap();
        assert_eq!(one[0].image, m.sets["default"].kubernetes.node_image);
        assert_eq!(
            one[0].source,
            "versions.yaml sets.default.kubernetes.node-image"
        );
        assert_eq!(one.len(), 4 + PROBE_IMAGES.len());
        let err = pinned_images(&m, Some("nope")).unwrap_err().to_string();
        assert!(err.contains("no version set named \"nope\""), "{err}");
    }

    #[tokio::test]
    async fn every_pull_is_attempted_and_each_failure_names_its_image_and_pin() {
        let images = vec![
            PinnedImage {
                image: "kindest/node:v1.35.0@sha256:0000".into(),
                source: "versions.yaml sets.x.kubernetes.node-image".into(),
            },
            PinnedImage {
                image: "docker.io/kubeovn/kube-ovn:v1.16.2".into(),
                source: "versions.yaml sets.x.kube-ovn.image".into(),
            },
        ];
        let runner = ScriptedRunner::ordered([
            Expectation::failed(
                ["docker", "pull", "kindest/node:v1.35.0@sha256:0000"],
                1,
                "Error response from daemon: manifest unknown",
            ),
            Expectation::ok(["docker", "pull", "docker.io/kubeovn/kube-ovn:v1.16.2"], ""),
        ]);
        let err = pull_all(&runner, &images, Duration::from_secs(5))
            .await
            .unwrap_err();
        runner.assert_done();
        let msg = err.to_string();
        assert!(
            msg.contains("1 pinned image(s) could not be pulled"),
            "{msg}"
        );
        assert!(msg.contains("sets.x.kubernetes.node-image"), "{msg}");
        assert!(
            msg.contains("docker pull kindest/node:v1.35.0@sha256:0000"),
            "{msg}"
        );
        assert!(msg.contains("manifest unknown"), "{msg}");
        assert!(!msg.contains("kube-ovn:v1.16.2"), "{msg}");
    }
}
