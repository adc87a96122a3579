//! Addons: Kube-OVN (its `install.sh` at the pinned tag) and the Multus thick
//! DaemonSet (the manifest at the pinned tag, with Kube-OVN CI's limits).
//! Manifests are downloaded at run time and checked against their pinned
//! sha256; images are pulled on the host and `kind load`ed into the nodes.
//!
//! Everything a cluster's install writes goes into that cluster's private
//! state folder: `install.sh` runs with it as its working directory (the
//! script writes `kube-ovn-crd.yaml`, `ovn.yaml`, `ovs-ovn-ds.yaml`,
//! `kube-ovn.yaml`, ... into the current directory and applies them from
//! there), so two clusters provisioned at once share no file and nothing
//! lands in the process's working directory. Its last step (copy
//! `kubectl-ko` into `/usr/local/bin`, then `kubectl ko diagnose all` under
//! `set -e`: kube-ovn #5002) is cut from the copy that runs, and the
//! harness runs the diagnose itself from the state folder as an optional
//! step ([`DIAGNOSE_STEP`]).
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
use crate::observe::probe::PROBE_IMAGES;

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
    /// Options (state dir, pins, timeouts).
    pub options: &'a KindOptions,
    /// Whether the profile installs Kube-OVN in VPC-NAT-gateway mode
    /// ([`crate::suite::ClusterProfile::nat_gateway`]).
    pub nat_gateway: bool,
    /// The cluster name.
    pub cluster: &'a str,
    /// The cluster's private state folder (downloads, rendered manifests).
    pub state: &'a Path,
}

/// The pinned `install.sh` as downloaded and verified, in the state folder.
pub const INSTALL_SCRIPT: &str = "kube-ovn-install.sh";
/// The copy of [`INSTALL_SCRIPT`] that runs: [`DIAGNOSE_STEP`] cut out,
/// and kube-ovn-pinger's external checks off ([`PINGER_EXTERNAL_ARGS`]).
pub const INSTALL_SCRIPT_RUN: &str = "kube-ovn-install.no-diagnose.sh";
/// Kube-OVN's kubectl plugin at the pinned tag, in the state folder.
pub const KUBECTL_KO: &str = "kubectl-ko";

/// `install.sh`'s last step, byte for byte the same at every pinned tag
/// (v1.13.15, v1.14.41, v1.15.24, v1.16.2: `git show
/// <tag>:dist/images/install.sh` in kubeovn/kube-ovn). It writes into the
/// host's `/usr/local/bin` and its diagnose pings external addresses
/// (1.1.1.1) under `set -e`, so it fails installs on machines without that
/// write access or that egress (kube-ovn #5002). [`without_diagnose`] cuts
/// exactly these lines; the harness runs the same diagnose afterwards with
/// the pinned `kubectl-ko` from the state folder, a failure being a warning.
pub const DIAGNOSE_STEP: &str = r#"echo "[Step 6/6] Run network diagnose"
kubectl cp kube-system/"$(kubectl -n kube-system get pods -o wide | grep cni | awk '{print $1}' | awk 'NR==1{print}')":/kube-ovn/kubectl-ko /usr/local/bin/kubectl-ko
chmod +x /usr/local/bin/kubectl-ko
# show pod status in kube-system namespace before diagnose
kubectl get pod -n kube-system -o wide
kubectl ko diagnose all
"#;

/// What replaces [`DIAGNOSE_STEP`] in the copy that runs.
const DIAGNOSE_CUT: &str = "# cni-chaos: step 6/6 (kubectl-ko into /usr/local/bin, kubectl ko diagnose all) cut; the harness runs the diagnose from the cluster's state folder\n";

/// `script` with [`DIAGNOSE_STEP`] cut out. The step must appear exactly
/// once, as whole lines: a script whose last step changed is refused
/// (saying how), never run with a guessed cut.
pub fn without_diagnose(script: &str) -> Result<String, String> {
    replace_lines_once(script, DIAGNOSE_STEP, DIAGNOSE_CUT).map_err(|found| match found {
        0 => format!(
            "its last step is not the expected {} lines (copy kubectl-ko into /usr/local/bin, then `kubectl ko diagnose all`), so the harness cannot cut it; compare the script with addons::DIAGNOSE_STEP and update the cut for this tag",
            DIAGNOSE_STEP.lines().count()
        ),
        many => format!(
            "the step `kubectl ko diagnose all` appears {many} times; the harness cuts it only when it appears once"
        ),
    })
}

/// `script` with `lines` (whole lines, starting at a line's start)
/// replaced by `with`; `Err` with how often they appear unless exactly
/// once: an edit of the pinned script is never guessed.
fn replace_lines_once(script: &str, lines: &str, with: &str) -> Result<String, usize> {
    let at_line_start = |i: usize| i == 0 || script.as_bytes()[i - 1] == b'\n';
    let found: Vec<usize> = script
        .match_indices(lines)
        .map(|(i, _)| i)
        .filter(|&i| at_line_start(i))
        .collect();
    match found.as_slice() {
        [i] => Ok(format!(
            "{}{with}{}",
            &script[..*i],
            &script[i + lines.len()..]
        )),
        other => Err(other.len()),
    }
}

/// The pinger DaemonSet's external-check arguments in `install.sh`, byte
/// for byte the same at every pinned tag (v1.13.15, v1.14.41, v1.15.24,
/// v1.16.2): the script sets `PINGER_EXTERNAL_ADDRESS="1.1.1.1"` and
/// `PINGER_EXTERNAL_DOMAIN="kube-ovn.io."` unconditionally, and neither can
/// pass on a machine without egress.
pub const PINGER_EXTERNAL_ARGS: &str = "          - --external-address=$PINGER_EXTERNAL_ADDRESS
          - --external-dns=$PINGER_EXTERNAL_DOMAIN
";

/// What replaces [`PINGER_EXTERNAL_ARGS`]: empty values, which switch both
/// checks off (kubeovn/kube-ovn@v1.14.41:pkg/pinger/ping.go, `if
/// config.ExternalDNS != ""` and `if config.ExternalAddress != ""`; the same
/// at the other pinned tags).
const PINGER_EXTERNAL_OFF: &str = "          - --external-address=
          - --external-dns=
";

/// `script` with kube-ovn-pinger's external checks switched off
/// ([`PINGER_EXTERNAL_ARGS`] replaced, exactly once, as whole lines): the
/// pinger's verdict (`pinger-healthy`) then rests on what it can reach
/// offline, its pings to nodes and pods and its DNS lookup of
/// `kubernetes.default`.
pub fn without_pinger_external(script: &str) -> Result<String, String> {
    replace_lines_once(script, PINGER_EXTERNAL_ARGS, PINGER_EXTERNAL_OFF).map_err(|found| match found {
        0 => "its kube-ovn-pinger DaemonSet does not pass `--external-address=$PINGER_EXTERNAL_ADDRESS` and `--external-dns=$PINGER_EXTERNAL_DOMAIN` as the pinned tags do, so the harness cannot switch the external checks off; compare the script with addons::PINGER_EXTERNAL_ARGS".into(),
        many => format!(
            "the pinger's external-check arguments appear {many} times; the harness switches them off only when they appear once"
        ),
    })
}

/// Where the host's Docker keeps its images, which decides how they get
/// into the nodes (see [`Addons::load_images`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageStore {
    /// Docker's own store (a graph driver such as overlay2).
    Docker,
    /// containerd's image store (`features.containerd-snapshotter`; the
    /// default of Docker Desktop and of fresh Docker 29 installs).
    Containerd,
}

/// The archive one image goes through with containerd's image store, in the
/// cluster's state folder; removed after each load.
pub const IMAGE_ARCHIVE: &str = "image-archive.tar";

/// `docker image inspect` format of the platform the host holds an image
/// in, as `docker save --platform` takes it.
const PLATFORM_FORMAT: &str = "{{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}";

/// Reads `docker info --format '{{json .DriverStatus}}'`: Docker lists
/// `["driver-type", "io.containerd.snapshotter.v1"]` there when it uses
/// containerd's image store (`docker info` prints it as `Storage Driver:
/// overlayfs` / `driver-type: io.containerd.snapshotter.v1`, moby #45600);
/// a graph driver lists its own pairs (`Backing Filesystem`, ...) or
/// nothing (`null`).
pub fn parse_driver_status(text: &str) -> Result<ImageStore, String> {
    let pairs: Option<Vec<Vec<String>>> = serde_json::from_str(text.trim())
        .map_err(|e| format!("expected a JSON list of [name, value] pairs: {e}"))?;
    let containerd = pairs.unwrap_or_default().iter().any(|pair| {
        matches!(pair.as_slice(), [k, v] if k == "driver-type" && v == "io.containerd.snapshotter.v1")
    });
    Ok(if containerd {
        ImageStore::Containerd
    } else {
        ImageStore::Docker
    })
}

/// Replaces the manifest's `:snapshot-thick` image tag with the release's
/// (Kube-OVN makefiles/kind.mk, `kind-install-multus`).
pub fn patch_multus_manifest(text: &str, version: &str) -> String {
    text.replace(":snapshot-thick", &format!(":{version}-thick"))
}

impl Addons<'_> {
    /// Every image the cluster needs, in load order: Kube-OVN's (and its
    /// NAT gateway's for a `nat-gateway: true` profile), Multus', and the probes'
    /// ([`PROBE_IMAGES`]), so no probe waits for a registry.
    pub fn images(&self) -> Vec<String> {
        let mut images = vec![self.set.kube_ovn.image.clone()];
        if self.nat_gateway {
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

    /// Which image store the host's Docker uses: `docker info --format
    /// '{{json .DriverStatus}}'`, see [`parse_driver_status`]. A dry run
    /// plans the command and assumes Docker's own store.
    pub async fn image_store(&self) -> Result<ImageStore, KindError> {
        let cmd = Command::new("docker")
            .args(["info", "--format", "{{json .DriverStatus}}"])
            .timeout(Duration::from_secs(30));
        let out = self.runner.run(&cmd).await?;
        if self.options.dry_run {
            return Ok(ImageStore::Docker);
        }
        parse_driver_status(&out.stdout_str())
            .map_err(|problem| KindError::parse(cmd.to_string(), problem, &out.stdout_str()))
    }

    /// Loads every image into the nodes, the way `store` allows:
    /// `kind load docker-image <image> --name <cluster>` with Docker's own
    /// store; with containerd's (kind #3795: there `docker save` exports
    /// the image's whole multi-platform index while only the host's
    /// platform was pulled, and the node's `ctr import --all-platforms`
    /// fails on the first missing blob), per image: `docker image inspect`
    /// for the platform the host holds it in, `docker save --platform <it>
    /// -o $STATE/<cluster>/image-archive.tar <image>`, `kind load
    /// image-archive <tar> --name <cluster>`, and the tar removed, also
    /// when a step failed. (Kube-OVN v1.16.2 makefiles/kind.mk pipes
    /// `docker save` into `kind load image-archive` after `kind load
    /// docker-image` failed; kind's maintainers point to `docker save
    /// --platform`. A file instead of a pipe keeps every program an argv
    /// with its own timeout.)
    pub async fn load_images(&self, store: ImageStore) -> Result<(), KindError> {
        for image in self.images() {
            match store {
                ImageStore::Docker => {
                    let cmd = self.kind_load(["docker-image", image.as_str()]);
                    self.runner.run(&cmd).await?;
                }
                ImageStore::Containerd => {
                    let tar = self.state_file(IMAGE_ARCHIVE);
                    let loaded = self.load_archive(&image, &tar).await;
                    if let Err(e) = std::fs::remove_file(&tar)
                        && e.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!("removing {}: {e}", tar.display());
                    }
                    loaded?;
                }
            }
        }
        Ok(())
    }

    /// `kind load <what...> --name <cluster>`.
    fn kind_load<'s>(&self, what: impl IntoIterator<Item = &'s str>) -> Command {
        Command::new("kind")
            .arg("load")
            .args(what)
            .args(["--name", self.cluster])
            .timeout(self.options.timeouts.load)
    }

    /// One image through an archive at `tar` (containerd's image store).
    async fn load_archive(&self, image: &str, tar: &Path) -> Result<(), KindError> {
        let inspect = Command::new("docker")
            .args(["image", "inspect", "--format", PLATFORM_FORMAT, image])
            .timeout(Duration::from_secs(30));
        let out = self.runner.run(&inspect).await?;
        let platform = out.stdout_str().trim().to_string();
        if platform.split('/').count() < 2 || platform.contains(char::is_whitespace) {
            return Err(KindError::parse(
                inspect.to_string(),
                "expected the image's platform as os/architecture[/variant]",
                &out.stdout_str(),
            ));
        }
        let tar = tar.display().to_string();
        let save = Command::new("docker")
            .args([
                "save",
                "--platform",
                platform.as_str(),
                "-o",
                tar.as_str(),
                image,
            ])
            .timeout(self.options.timeouts.load);
        self.runner.run(&save).await?;
        self.runner
            .run(&self.kind_load(["image-archive", tar.as_str()]))
            .await?;
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

    /// Runs Kube-OVN's `install.sh` at the pinned tag, in the cluster's
    /// state folder: downloads and verifies it ([`INSTALL_SCRIPT`]) and the
    /// pinned `kubectl-ko` ([`KUBECTL_KO`], before the long install, so a
    /// bad pin fails fast), writes the copy without its last step and with
    /// the pinger's external checks off ([`INSTALL_SCRIPT_RUN`], see
    /// [`without_diagnose`] and [`without_pinger_external`]) and runs it as
    /// `(cd $STATE/<cluster> && KUBECONFIG=... <install env> bash
    /// $STATE/<cluster>/kube-ovn-install.no-diagnose.sh)`.
    pub async fn install_kube_ovn(&self) -> Result<(), KindError> {
        let pin = &self.set.kube_ovn.install_script;
        let script = self.state_file(INSTALL_SCRIPT);
        let bytes = self.download(pin, &script).await?;
        self.download(&self.set.kube_ovn.kubectl_ko, &self.state_file(KUBECTL_KO))
            .await?;
        let run = self.state_file(INSTALL_SCRIPT_RUN);
        if !self.options.dry_run {
            let text = String::from_utf8(bytes).map_err(|_| KindError::Script {
                url: pin.url.clone(),
                problem: "it is not UTF-8 text".into(),
            })?;
            let cut = without_diagnose(&text)
                .and_then(|t| without_pinger_external(&t))
                .map_err(|problem| KindError::Script {
                    url: pin.url.clone(),
                    problem,
                })?;
            std::fs::write(&run, cut).map_err(|source| KindError::Io {
                action: "writing",
                path: run.clone(),
                source,
            })?;
        }
        let mut cmd = self
            .in_state(Command::new("bash").arg(run.display().to_string()))
            .timeout(self.options.timeouts.install);
        for (k, v) in self.install_env() {
            cmd = cmd.env(k, v);
        }
        self.runner.run(&cmd).await?;
        Ok(())
    }

    /// `cmd` run in the cluster's state folder with its kubeconfig.
    fn in_state(&self, cmd: Command) -> Command {
        cmd.cwd(self.state).env(
            "KUBECONFIG",
            self.kubectl.kubeconfig().display().to_string(),
        )
    }

    /// `install.sh`'s cut last step, run by the harness: `(cd
    /// $STATE/<cluster> && KUBECONFIG=... bash $STATE/<cluster>/kubectl-ko
    /// diagnose all)` (what `kubectl ko diagnose all` runs, without putting
    /// the plugin on the host's PATH). It is optional: it pings external
    /// addresses, which a laptop or CI runner may not reach, so a failure
    /// or timeout is returned as a warning carrying its command line and
    /// output, and the install goes on. `None` when it passed.
    pub async fn diagnose_kube_ovn(&self) -> Option<String> {
        let cmd = self
            .in_state(
                Command::new("bash")
                    .arg(self.state_file(KUBECTL_KO).display().to_string())
                    .args(["diagnose", "all"]),
            )
            .timeout(DIAGNOSE_TIMEOUT);
        match self.runner.run(&cmd).await {
            Ok(_) => None,
            Err(e) => Some(format!(
                "Kube-OVN's diagnose (install.sh's last step, run separately) failed; the install goes on: {e}"
            )),
        }
    }

    /// `install.sh`'s stack and NAT gateway settings, every one set
    /// explicitly so the user's shell cannot leak in: `IPV6` and
    /// `DUAL_STACK` from the kind config, `ENABLE_NAT_GW` (install.sh at
    /// v1.16.2 defaults it to `true`; `false` here unless the profile says
    /// `nat-gateway: true`)
    /// and `CNI_CONFIG_PRIORITY` (`10` with the NAT gateway, as Kube-OVN's
    /// `kind-install-vpc-nat-gw`; else install.sh's default `01`, which
    /// [`resolve_cni_file`](super::resolve_cni_file) finds either way).
    pub fn install_env(&self) -> Vec<(&'static str, &'static str)> {
        let mut env = self.config.install_env();
        let (nat, priority) = if self.nat_gateway {
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

    /// Creates what the probes need (see `observe::probe`): their namespace,
    /// the `ptp` and Kube-OVN NetworkAttachmentDefinitions the secondary
    /// probes ask for, and the Kube-OVN attachment's Subnet. The manifest
    /// ([`probe_manifest`]) is rendered into the cluster's private state
    /// folder and applied once Multus' and Kube-OVN's CRDs are established.
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
                    SUBNET_CRD,
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

/// Time limit of `kubectl ko diagnose all` (it runs a pinger job per node).
const DIAGNOSE_TIMEOUT: Duration = Duration::from_secs(300);

/// The file the probe manifest is rendered to, in the cluster's state folder.
pub const PROBE_MANIFEST: &str = "cni-chaos-probes.json";
/// Multus' NetworkAttachmentDefinition CRD (in its thick manifest).
const NAD_CRD: &str = "crd/network-attachment-definitions.k8s.cni.cncf.io";
/// Kube-OVN's Subnet CRD (created by install.sh).
const SUBNET_CRD: &str = "crd/subnets.kubeovn.io";

/// The file the traffic's manifest is rendered to, in the cluster's state
/// folder, for a scenario with a `max-outage` or `max-loss` SLO.
pub const TRAFFIC_MANIFEST: &str = "cni-chaos-traffic.json";

/// What the probes need ([`crate::observe::probe::probe_objects`], the same
/// objects the twin creates) as a JSON `List` for `kubectl apply -f`.
pub fn probe_manifest() -> String {
    list_manifest(crate::observe::probe::probe_objects())
}

/// The continuous traffic's Service and DaemonSet
/// ([`crate::observe::flows::traffic_objects`], the same objects the twin
/// creates through its API) as a JSON `List` for `kubectl apply -f`.
pub fn traffic_manifest() -> String {
    list_manifest(crate::observe::flows::traffic_objects())
}

/// The file the long-lived connections' manifest is rendered to, for a
/// scenario with a `long-lived-tcp` SLO.
pub const LONG_LIVED_MANIFEST: &str = "cni-chaos-long-lived.json";

/// The long-lived connections' headless Service and DaemonSet
/// ([`crate::observe::longlived::objects`], the same objects the twin
/// creates through its API) as a JSON `List` for `kubectl apply -f`.
pub fn long_lived_manifest() -> String {
    list_manifest(crate::observe::longlived::objects())
}

fn list_manifest(items: Vec<serde_json::Value>) -> String {
    let list = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": items,
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
        // Kube-OVN as a secondary CNI: its attachment and the Subnet that
        // names it as provider, `<nad>.<namespace>.ovn`.
        assert_eq!(items[2]["kind"], "NetworkAttachmentDefinition");
        assert_eq!(items[2]["metadata"]["name"], "cni-chaos-ovn-net");
        let config: serde_json::Value =
            serde_json::from_str(items[2]["spec"]["config"].as_str().unwrap()).unwrap();
        assert_eq!(config["type"], "kube-ovn");
        assert_eq!(
            config["server_socket"],
            "/run/openvswitch/kube-ovn-daemon.sock"
        );
        assert_eq!(config["provider"], "cni-chaos-ovn-net.cni-chaos-probes.ovn");
        assert_eq!(items[3]["apiVersion"], "kubeovn.io/v1");
        assert_eq!(items[3]["kind"], "Subnet");
        assert_eq!(items[3]["spec"]["provider"], config["provider"]);
        assert_eq!(items[3]["spec"]["cidrBlock"], "10.251.0.0/16");
        for item in items {
            assert_eq!(
                item["metadata"]["labels"]["app.kubernetes.io/managed-by"],
                "cni-chaos"
            );
        }
    }

    #[test]
    fn the_pinger_external_checks_are_switched_off_only_when_exactly_there_once() {
        let ds = "        args:\n          - /kube-ovn/start-pinger.sh\n";
        let script = format!("{ds}{PINGER_EXTERNAL_ARGS}          - --logtostderr=false\n");
        let off = without_pinger_external(&script).unwrap();
        assert_eq!(
            off,
            format!(
                "{ds}          - --external-address=\n          - --external-dns=\n          - --logtostderr=false\n"
            )
        );
        assert!(!off.contains("PINGER_EXTERNAL"));
        assert!(without_pinger_external("no pinger here\n").is_err());
        let twice = format!("{PINGER_EXTERNAL_ARGS}{PINGER_EXTERNAL_ARGS}");
        assert!(
            without_pinger_external(&twice)
                .unwrap_err()
                .contains("2 times")
        );
        let indented = format!("  {PINGER_EXTERNAL_ARGS}");
        assert!(
            without_pinger_external(&indented).is_err(),
            "whole lines only"
        );
    }

    #[test]
    fn the_diagnose_step_is_cut_only_when_it_is_exactly_there_once() {
        let head = "#!/bin/bash\nset -euo pipefail\necho \"[Step 5/6] Install Kube-OVN\"\n";
        let tail = "\necho \"-------------------------------\"\n";
        let script = format!("{head}{DIAGNOSE_STEP}{tail}");
        let cut = without_diagnose(&script).unwrap();
        assert_eq!(cut, format!("{head}{DIAGNOSE_CUT}{tail}"));
        assert!(!cut.contains("kubectl cp ") && !cut.contains("\nkubectl ko diagnose all\n"));

        // A changed step (here: another diagnose) is refused, not guessed.
        let changed = script.replace("kubectl ko diagnose all", "kubectl ko diagnose all -v");
        let err = without_diagnose(&changed).unwrap_err();
        assert!(err.contains("not the expected 6 lines"), "{err}");
        // Not at the start of a line: the text is not the step.
        let inline = format!("{head}# {DIAGNOSE_STEP}{tail}");
        assert!(without_diagnose(&inline).is_err());
        let twice = format!("{head}{DIAGNOSE_STEP}{DIAGNOSE_STEP}{tail}");
        let err = without_diagnose(&twice).unwrap_err();
        assert!(err.contains("appears 2 times"), "{err}");
    }

    #[test]
    fn the_containerd_image_store_is_read_from_driver_status() {
        for (text, want) in [
            (
                r#"[["driver-type","io.containerd.snapshotter.v1"]]"#,
                ImageStore::Containerd,
            ),
            (
                r#"[["Backing Filesystem","extfs"],["Supports d_type","true"],["Using metacopy","false"],["Native Overlay Diff","true"],["userxattr","false"]]"#,
                ImageStore::Docker,
            ),
            ("null\n", ImageStore::Docker),
            ("[]", ImageStore::Docker),
        ] {
            assert_eq!(parse_driver_status(text), Ok(want), "{text}");
        }
        for bad in ["", "overlay2", r#"{"driver-type":"x"}"#] {
            assert!(parse_driver_status(bad).is_err(), "{bad:?}");
        }
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
