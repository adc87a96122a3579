//! Contract tests of the kind backend (tier 1): the exact argv sequences it
//! issues for create, install, every fault and its revert, log export and
//! delete, on success and failure paths, pinned with a [`ScriptedRunner`].
//! No Docker, kind or cluster is needed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cni_chaos::backend::kind::{
    self, Addons, DIAGNOSE_STEP, Guard, IMAGE_ARCHIVE, INSTALL_SCRIPT, INSTALL_SCRIPT_RUN,
    ImageStore, KUBECTL_KO, KindBackend, KindCluster, KindConfig, KindError, KindOptions, Kubectl,
    NameSource, PINGER_EXTERNAL_ARGS, VersionMatrix, hex_digest, inspect_json,
};
use cni_chaos::backend::{Backend, BackendError, Cluster, NodeInfo, select_node};
use cni_chaos::exec::{
    ExecError, Expectation, LocalRunner, Output, Respond, Runner, ScriptedRunner,
};
use cni_chaos::fault::{
    CniConfig, CniConfigAction, CniFile, DEFAULT_HOLD_FOR, Evidence, Fault, LeftoverMultusConfig,
    NetworkPartition, NodeReboot, NodeRole, NodeTarget, OvsKill, OvsProcess, OvsSignal, PodDelete,
    Precondition, RebootMode, StaleNetns,
};
use cni_chaos::suite::{ClusterProfile, LabelSelector, RemediationStep};
use tokio_util::sync::CancellationToken;

const CLUSTER: &str = "chaos-contract";
const WORKER: &str = "chaos-contract-worker";
const INSTALL_HEAD: &str = "#!/usr/bin/env bash\nset -euo pipefail\necho install kube-ovn\n";
const INSTALL_TAIL: &str = "\necho \"Thanks for choosing Kube-OVN!\"\n";
const KUBECTL_KO_SH: &str = "#!/bin/bash\necho kubectl-ko \"$@\"\n";

/// A stand-in for the pinned `install.sh`: as the real one at every pinned
/// tag, it passes the pinger its external checks and ends with the
/// diagnose step; the harness switches the one off and cuts the other.
fn install_sh() -> String {
    format!("{INSTALL_HEAD}{PINGER_EXTERNAL_ARGS}{DIAGNOSE_STEP}{INSTALL_TAIL}")
}
const MULTUS_YML: &str = "image: ghcr.io/k8snetworkplumbingwg/multus-cni:snapshot-thick\n";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A workspace with the real kind configs and a one-cell matrix whose pins
/// match the test's install script and manifest (or not, with `pin_ok`).
fn workspace(pin_ok: bool) -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    let configs = ws.path().join("kind-configs");
    std::fs::create_dir_all(&configs).unwrap();
    for config in ["default.yaml", "dual-stack.yaml"] {
        std::fs::copy(
            repo().join("kind-configs").join(config),
            configs.join(config),
        )
        .unwrap();
    }
    let multus_sha = if pin_ok {
        hex_digest(MULTUS_YML.as_bytes())
    } else {
        "0".repeat(64)
    };
    let matrix = format!(
        r"schema: 1
kind: {{min-version: v0.31.0}}
sets:
  default:
    description: contract
    kubernetes: {{node-image: 'kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f'}}
    kube-ovn:
      version: v1.16.2
      install-script: {{url: 'https://example.invalid/v1.16.2/install.sh', sha256: {}}}
      kubectl-ko: {{url: 'https://example.invalid/v1.16.2/kubectl-ko', sha256: {}}}
      image: docker.io/kubeovn/kube-ovn:v1.16.2
      nat-gateway-image: docker.io/kubeovn/vpc-nat-gateway:v1.16.2
    multus:
      version: v4.2.4
      manifest: {{url: 'https://example.invalid/v4.2.4/multus-daemonset-thick.yml', sha256: {multus_sha}}}
      image: ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.4-thick
      shim-install: install-multus
",
        hex_digest(install_sh().as_bytes()),
        hex_digest(KUBECTL_KO_SH.as_bytes()),
    );
    // A Kube-OVN 1.14 cell: the repository's node image for it, the same
    // test pins for the rest.
    let repo_matrix = kind::VersionMatrix::load(&repo().join("versions.yaml")).unwrap();
    let node_image = &repo_matrix.get(CELL_1_14).unwrap().kubernetes.node_image;
    let default_image = "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f";
    let (default_cell, rest) = matrix.split_once("  default:\n").unwrap();
    let matrix = format!(
        "{default_cell}  default:\n{rest}  {CELL_1_14}:\n{}",
        rest.replace(default_image, node_image)
    );
    std::fs::write(ws.path().join("versions.yaml"), matrix).unwrap();
    ws
}

/// The matrix cell of Kube-OVN's release-1.14 line.
const CELL_1_14: &str = "kube-ovn-1.14-multus-4.2.1";

struct Fixture {
    _ws: tempfile::TempDir,
    state: tempfile::TempDir,
    backend: KindBackend,
    /// What `docker info` reports for the image store (default: Docker's).
    store: ImageStore,
    /// Whether the profile provisioned asks for NAT-gateway mode.
    nat_gateway: bool,
}

impl Fixture {
    fn new(runner: &ScriptedRunner, pin_ok: bool) -> Self {
        Self::with(runner, pin_ok, |_| {})
    }

    /// A fixture whose options `tweak` changes.
    fn with(runner: &ScriptedRunner, pin_ok: bool, tweak: impl FnOnce(&mut KindOptions)) -> Self {
        Self::through(Arc::new(runner.clone()), pin_ok, tweak)
    }

    /// [`Fixture::with`], its backend running commands through `runner`.
    fn through(
        runner: Arc<dyn Runner>,
        pin_ok: bool,
        tweak: impl FnOnce(&mut KindOptions),
    ) -> Self {
        let ws = workspace(pin_ok);
        let state = tempfile::tempdir().unwrap();
        let mut options = KindOptions::new(ws.path());
        options.state_dir = Some(state.path().to_path_buf());
        options.logs_dir = state.path().join("logs");
        options.names = NameSource::Fixed(CLUSTER.into());
        tweak(&mut options);
        // What `curl --output` would have written, in the cluster's private
        // folder.
        let dir = state.path().join(CLUSTER);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        std::fs::write(dir.join(INSTALL_SCRIPT), install_sh()).unwrap();
        std::fs::write(dir.join(KUBECTL_KO), KUBECTL_KO_SH).unwrap();
        std::fs::write(dir.join("multus-daemonset-thick.yml"), MULTUS_YML).unwrap();
        std::fs::write(
            dir.join("kubeconfig"),
            format!("apiVersion: v1\ncurrent-context: kind-{CLUSTER}\n"),
        )
        .unwrap();
        let backend = KindBackend::new(runner, options, "contract").unwrap();
        Fixture {
            _ws: ws,
            state,
            backend,
            store: ImageStore::Docker,
            nat_gateway: false,
        }
    }

    /// A fixture whose profile asks for NAT-gateway mode (`nat-gateway: true`).
    fn with_nat_gateway(runner: &ScriptedRunner) -> Self {
        Fixture {
            nat_gateway: true,
            ..Self::new(runner, true)
        }
    }

    /// The same fixture, its backend keeping `journal`.
    fn journaled(self, journal: Arc<cni_chaos::journal::RunJournal>) -> Self {
        let Fixture {
            _ws,
            state,
            backend,
            store,
            nat_gateway,
        } = self;
        Fixture {
            _ws,
            state,
            backend: backend.with_journal(Some(journal)),
            store,
            nat_gateway,
        }
    }

    /// The cluster's private state folder.
    fn dir(&self) -> PathBuf {
        self.state.path().join(CLUSTER)
    }

    fn path(&self, file: &str) -> String {
        self.state
            .path()
            .join(CLUSTER)
            .join(file)
            .display()
            .to_string()
    }

    fn kubectl(&self, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = ["kubectl", "--kubeconfig"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.push(self.path("kubeconfig"));
        v.push("--context".into());
        v.push(format!("kind-{CLUSTER}"));
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }
}

/// Provisions the default profile, which must fail; returns the message.
async fn fails(backend: &KindBackend) -> String {
    fails_with(backend, &CancellationToken::new()).await
}

/// [`fails`] with the run's interrupt token `cancel`.
async fn fails_with(backend: &KindBackend, cancel: &CancellationToken) -> String {
    backend
        .provision(&profile(), cancel)
        .await
        .err()
        .expect("provisioning must fail")
        .to_string()
}

fn ok(argv: Vec<String>) -> Expectation {
    Expectation::ok(argv, "")
}

fn words(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_string).collect()
}

fn profile() -> ClusterProfile {
    ClusterProfile {
        kind_config: "default".into(),
        versions: "default".into(),
        nat_gateway: false,
    }
}

/// `df -Pk` of Docker's data root with `avail_kib` KiB available.
fn df(avail_kib: u64) -> Expectation {
    Expectation::ok(
        ["df", "-Pk", "/var/lib/docker"],
        format!(
            "Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/nvme0n1p2  490617784 300000000 {avail_kib}      87% /\n"
        ),
    )
}

/// `cat` of this host's kernel release and inotify limits, answering
/// `watches` and `instances` on the Docker daemon's kernel.
fn inotify(watches: u64, instances: u64) -> Expectation {
    Expectation::ok(
        kind::KERNEL_FILES
            .iter()
            .fold(vec!["cat".to_string()], |mut v, f| {
                v.push(f.to_string());
                v
            }),
        format!("{KERNEL}\n{watches}\n{instances}\n"),
    )
}

/// The kernel release Docker and this host report.
const KERNEL: &str = "6.8.0-60-generic";

/// The preflight's probes, in order, answered with good versions, 40 GiB
/// free and kind's recommended inotify limits.
fn probes() -> Vec<Expectation> {
    vec![
        Expectation::ok(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            "28.2.2\n",
        ),
        Expectation::ok(["kind", "version"], "kind v0.31.0 go1.24.2 linux/amd64\n"),
        Expectation::ok(
            ["kubectl", "version", "--client", "-o", "json"],
            r#"{"clientVersion":{"gitVersion":"v1.35.0"}}"#,
        ),
        Expectation::ok(["curl", "--version"], "curl 8.5.0 (x86_64-pc-linux-gnu)\n"),
        Expectation::ok(
            [
                "docker",
                "info",
                "--format",
                "{{.KernelVersion}} {{.DockerRootDir}}",
            ],
            format!("{KERNEL} /var/lib/docker\n"),
        ),
        inotify(524_288, 512),
        df(40 << 20),
    ]
}

/// [`probes`] with the probe at `i` answered by `e` instead.
fn probes_with(changes: impl IntoIterator<Item = (usize, Expectation)>) -> Vec<Expectation> {
    let mut p = probes();
    for (i, e) in changes {
        p[i] = e;
    }
    p
}

/// Every image the fixture's cluster needs, in pull and load order.
fn images(f: &Fixture) -> Vec<&'static str> {
    let mut images = vec!["docker.io/kubeovn/kube-ovn:v1.16.2"];
    if f.nat_gateway {
        images.push("docker.io/kubeovn/vpc-nat-gateway:v1.16.2");
    }
    images.push("ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.4-thick");
    // The probes' image (observe::probe::PROBE_IMAGES), preloaded.
    images.push("docker.io/library/busybox:1.36.1");
    images
}

/// `docker info`'s DriverStatus for the fixture's image store (moby
/// #45600 shows the containerd one; the other is overlay2's).
fn driver_status(f: &Fixture) -> Expectation {
    let status = match f.store {
        ImageStore::Containerd => r#"[["driver-type","io.containerd.snapshotter.v1"]]"#,
        ImageStore::Docker => {
            r#"[["Backing Filesystem","extfs"],["Supports d_type","true"],["Using metacopy","false"],["Native Overlay Diff","true"],["userxattr","false"]]"#
        }
    };
    Expectation::ok(
        ["docker", "info", "--format", "{{json .DriverStatus}}"],
        format!("{status}\n"),
    )
}

/// What runs between the probes and `kind create cluster`: the check that
/// no cluster of the name exists (another one is listed), the image store
/// detection, then the pulls.
fn pulls(f: &Fixture) -> Vec<Expectation> {
    let check = Expectation::ok(["kind", "get", "clusters"], "kind\nchaos-other\n");
    [check, driver_status(f)]
        .into_iter()
        .chain(
            images(f)
                .into_iter()
                .map(|i| ok(words(&format!("docker pull {i}")))),
        )
        .collect()
}

fn create_argv(f: &Fixture) -> Vec<String> {
    create_argv_for(f, "default")
}

fn create_argv_for(f: &Fixture, kind_config: &str) -> Vec<String> {
    create_argv_with(
        f,
        kind_config,
        "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f",
    )
}

/// `kind create cluster` of `kind_config` with the node image `image`.
fn create_argv_with(f: &Fixture, kind_config: &str, image: &str) -> Vec<String> {
    let config = f
        .backend
        .options()
        .workspace
        .join(format!("kind-configs/{kind_config}.yaml"));
    let mut v = words("kind create cluster --name chaos-contract --config");
    v.push(config.display().to_string());
    v.push("--image".into());
    v.push(image.into());
    v.push("--kubeconfig".into());
    v.push(f.path("kubeconfig"));
    v.extend(words("--wait 0s --retain"));
    v
}

fn curl(url: &str, dest: String) -> Vec<String> {
    let mut v =
        words("curl --fail --silent --show-error --location --retry 3 --max-time 120 --output");
    v.push(dest);
    v.push(url.into());
    v
}

fn export_and_delete(f: &Fixture) -> Vec<Expectation> {
    let logs = f.state.path().join("logs").join(CLUSTER);
    let mut export = words("kind export logs");
    export.push(logs.display().to_string());
    export.extend(words("--name chaos-contract"));
    let mut delete = words("kind delete cluster --name chaos-contract --kubeconfig");
    delete.push(f.path("kubeconfig"));
    vec![ok(export), ok(delete)]
}

/// The provisioning script up to and including the first `steps` of
/// [`install_sequence`] (which starts after `kind create cluster`).
fn provision_script(f: &Fixture, steps: usize) -> Vec<Expectation> {
    probes()
        .into_iter()
        .chain(pulls(f))
        .chain([ok(create_argv(f))])
        .chain(install_sequence(f).into_iter().take(steps))
        .collect()
}

/// `install.sh` as it runs: the copy without its last step, in the
/// cluster's state folder.
fn install_run(f: &Fixture) -> Expectation {
    ok(vec!["bash".into(), f.path(INSTALL_SCRIPT_RUN)]).in_dir(f.dir())
}

/// `e` failing with `stderr` (same argv and working directory).
fn failing(e: &Expectation, stderr: &str) -> Expectation {
    let mut failed = Expectation::failed(e.argv.clone(), 1, stderr);
    failed.cwd = e.cwd.clone();
    failed
}

/// Provisioning runs until `install.sh`, which hangs after printing `stdout`.
fn hang_in_install(runner: &ScriptedRunner, f: &Fixture, stdout: &str) {
    for e in provision_script(f, install_step(f, "bash")) {
        runner.push(e);
    }
    runner.push(Expectation::hang(install_run(f).argv, stdout).in_dir(f.dir()));
}

/// The index in [`install_sequence`] of the first step whose command line
/// contains `pattern` (`*` stands for any text); the steps before it are
/// the ones that succeed when it fails.
fn install_step(f: &Fixture, pattern: &str) -> usize {
    let parts: Vec<&str> = pattern.split('*').collect();
    install_sequence(f)
        .iter()
        .position(|e| {
            let line = e.to_string();
            let mut rest = line.as_str();
            parts.iter().all(|p| match rest.find(p) {
                Some(i) => {
                    rest = &rest[i + p.len()..];
                    true
                }
                None => false,
            })
        })
        .unwrap_or_else(|| panic!("no install step matches {pattern:?}"))
}

/// How the fixture's images get into the nodes: `kind load docker-image`
/// with Docker's store; with containerd's, per image its platform, `docker
/// save --platform` into the state folder and `kind load image-archive`.
fn loads(f: &Fixture) -> Vec<Expectation> {
    let tar = f.path(IMAGE_ARCHIVE);
    images(f)
        .into_iter()
        .flat_map(|i| match f.store {
            ImageStore::Docker => vec![ok(words(&format!(
                "kind load docker-image {i} --name chaos-contract"
            )))],
            ImageStore::Containerd => vec![
                Expectation::ok(
                    [
                        "docker",
                        "image",
                        "inspect",
                        "--format",
                        "{{.Os}}/{{.Architecture}}{{with .Variant}}/{{.}}{{end}}",
                        i,
                    ],
                    "linux/amd64\n",
                ),
                ok(words(&format!(
                    "docker save --platform linux/amd64 -o {tar} {i}"
                ))),
                ok(words(&format!(
                    "kind load image-archive {tar} --name chaos-contract"
                ))),
            ],
        })
        .collect()
}

/// The diagnose `install.sh` would have ended with, run from the state
/// folder with the pinned plugin.
fn diagnose(f: &Fixture) -> Expectation {
    ok(vec![
        "bash".into(),
        f.path(KUBECTL_KO),
        "diagnose".into(),
        "all".into(),
    ])
    .in_dir(f.dir())
}

fn install_sequence(f: &Fixture) -> Vec<Expectation> {
    let mut s = loads(f);
    s.extend([
        ok(curl(
            "https://example.invalid/v1.16.2/install.sh",
            f.path(INSTALL_SCRIPT),
        )),
        ok(curl(
            "https://example.invalid/v1.16.2/kubectl-ko",
            f.path(KUBECTL_KO),
        )),
        install_run(f),
        diagnose(f),
        ok(curl(
            "https://example.invalid/v4.2.4/multus-daemonset-thick.yml",
            f.path("multus-daemonset-thick.yml"),
        )),
        ok(f.kubectl(&["apply", "-f", &f.path("multus-daemonset-thick.patched.yml")])),
        ok(f.kubectl(&[
            "-n",
            "kube-system",
            "set",
            "resources",
            "daemonset/kube-multus-ds",
            "-c",
            "kube-multus",
            "--limits=cpu=200m,memory=200Mi",
        ])),
        ok(f.kubectl(&[
            "wait",
            "--for=condition=Ready",
            "nodes",
            "--all",
            "--timeout=300s",
        ])),
    ]);
    for what in [
        "daemonset/ovs-ovn",
        "deployment/kube-ovn-controller",
        "daemonset/kube-ovn-cni",
        "deployment/coredns",
        "daemonset/kube-multus-ds",
    ] {
        s.push(ok(f.kubectl(&[
            "-n",
            "kube-system",
            "rollout",
            "status",
            what,
            "--timeout=300s",
        ])));
    }
    s.extend(probe_resources(f));
    s
}

/// The probes' namespace, their ptp and Kube-OVN attachments and the
/// Kube-OVN attachment's Subnet, applied once Multus' and Kube-OVN's CRDs
/// are there.
fn probe_resources(f: &Fixture) -> Vec<Expectation> {
    vec![
        ok(f.kubectl(&[
            "wait",
            "--for=condition=Established",
            "crd/network-attachment-definitions.k8s.cni.cncf.io",
            "crd/subnets.kubeovn.io",
            "--timeout=60s",
        ])),
        ok(f.kubectl(&["apply", "-f", &f.path("cni-chaos-probes.json")])),
    ]
}

#[tokio::test]
async fn create_installs_the_pinned_addons_in_order_and_delete_cleans_up() {
    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::new(&runner, true);
    for e in probes()
        .into_iter()
        .chain(pulls(&f))
        .chain([ok(create_argv(&f))])
        .chain(install_sequence(&f))
    {
        runner.push(e);
    }
    let cluster = provisioned(&f, &runner).await;
    assert_eq!(cluster.name(), CLUSTER);
    // The cell's versions, for version-conditional expectations.
    let v = cluster.versions();
    assert_eq!(v.get("multus").map(String::as_str), Some("v4.2.4"));
    assert_eq!(v.get("kube-ovn").map(String::as_str), Some("v1.16.2"));
    assert_eq!(v.get("kubernetes").map(String::as_str), Some("v1.35.0"));
    // install.sh ran against the private kubeconfig, never ~/.kube/config.
    let bash = runner
        .calls()
        .into_iter()
        .find(|c| c.get_program() == "bash")
        .unwrap();
    // Every setting install.sh reads for the stack and the NAT gateway is
    // explicit, so the user's shell cannot leak in.
    assert_eq!(
        bash.get_envs(),
        install_env(&f, "false", "false", "false", "01")
    );
    // The Multus manifest was verified, then its image tag pinned.
    let patched = std::fs::read_to_string(f.path("multus-daemonset-thick.patched.yml")).unwrap();
    assert_eq!(
        patched,
        "image: ghcr.io/k8snetworkplumbingwg/multus-cni:v4.2.4-thick\n"
    );
    // The probes' namespace and attachment, as applied.
    let probes = std::fs::read_to_string(f.path("cni-chaos-probes.json")).unwrap();
    assert_eq!(probes, kind::probe_manifest());
    let versions = f.backend.info().versions;
    assert_eq!(versions["kind"], "v0.31.0");
    assert_eq!(versions["kubectl"], "v1.35.0");

    // Log export, then delete.
    let logs = f.state.path().join("exported");
    let mut export = words("kind export logs");
    export.push(logs.display().to_string());
    export.extend(words("--name chaos-contract"));
    runner.push(ok(export));
    let mut delete = words("kind delete cluster --name chaos-contract --kubeconfig");
    delete.push(f.path("kubeconfig"));
    runner.push(ok(delete));
    cluster.collect_logs(&logs).await.unwrap();
    cluster.teardown().await.unwrap();
    runner.assert_done();
}

/// The receiver's, the sender's and the discovery's exact commands, as pinned by
/// [`a_traffic_scenario_applies_the_traffic_objects_before_its_gate`].
const TRAFFIC_RECEIVER: &str = "trap 'exit 0' TERM; echo \"cni-chaos-traffic-receiver listening port=9000\"; exec nc -ll -p 9000 -e sh -c 'cat >&2'";
const TRAFFIC_SENDER: &str = "trap 'exit 0' TERM; run=$(date +%s); i=0; d=${TMPDIR:-/tmp}/cni-chaos-traffic; mkdir -p $d/net1; svc=${CHAOS_TRAFFIC_LB_SERVICE_HOST:-chaos-traffic-lb.cni-chaos-probes.svc.cluster.local}; while true; do if [ $((i % 50)) -eq 0 ]; then { p=$(nslookup chaos-traffic.cni-chaos-probes.svc.cluster.local 2>/dev/null | awk '/^Name:/ {n=1} n && /^Address/ {print $NF}' | grep -v \"^$POD_IP$\"); if [ -n \"$p\" ]; then echo $p > $d/peers.new && mv $d/peers.new $d/peers; rm -rf $d/net1.new; mkdir -p $d/net1.new; for ip in $p; do a=$(nc -w 1 $ip 9001 </dev/null); [ -n \"$a\" ] || a=$(cat $d/net1/$ip 2>/dev/null); [ -n \"$a\" ] && echo $a > $d/net1.new/$ip; done; rm -rf $d/net1.old; mv $d/net1 $d/net1.old; mv $d/net1.new $d/net1; fi; } & fi; i=$((i+1)); peers=$(cat $d/peers 2>/dev/null); net1=$(cat $d/net1/* 2>/dev/null); tag=\"from=$NODE_NAME sender=$POD_NAME/$run seq=$i sent=$(date +%s)000\"; for ip in $peers; do echo \"cni-chaos-traffic flow=pod-to-pod $tag\" | nc -w 1 $ip 9000 & done; for ip in $net1; do echo \"cni-chaos-traffic flow=secondary $tag\" | nc -w 1 $ip 9000 & done; echo \"cni-chaos-traffic flow=pod-to-service $tag\" | nc -w 1 $svc 9000 & { timeout 1 nslookup chaos-traffic-lb.cni-chaos-probes.svc.cluster.local >/dev/null 2>&1 && echo \"cni-chaos-traffic flow=dns $tag\" | nc -w 1 127.0.0.1 9000; } & sleep 0.2; done";
const TRAFFIC_DISCOVERY: &str = "trap 'exit 0' TERM; a=$(ip -o -4 addr show dev net1 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n 1); echo \"cni-chaos-traffic-discovery net1=$a port=9001\"; exec nc -ll -p 9001 -e echo \"$a\"";

/// The continuous traffic on kind: before the gate of a scenario with a
/// `max-outage` SLO the backend renders the traffic's Service and
/// DaemonSet into the cluster's state folder and applies them (the
/// pinned probe image, the probes' namespace, the harness's labels, the
/// exact scripts), once per cluster; a scenario without one applies
/// nothing; the objects are never deleted on their own, only with the
/// cluster; a failing apply fails the gate with kubectl's words.
#[tokio::test]
async fn a_traffic_scenario_applies_the_traffic_objects_before_its_gate() {
    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::new(&runner, true);
    for e in provision_script(&f, usize::MAX) {
        runner.push(e);
    }
    let cluster = provisioned(&f, &runner).await;
    let suite = cni_chaos::suite::parse_str(
        Path::new("traffic.yaml"),
        "name: traffic\ndescription: traffic.\nscenarios:\n  - name: with\n    fault: {kind: node-reboot, target: {role: worker}, mode: hard}\n    slos:\n      - {kind: max-outage, budget: 30s}\n  - name: without\n    fault: {kind: node-reboot, target: {role: worker}, mode: hard}\n    slos:\n      - {kind: node-ready-within, budget: 2m}\n",
    )
    .unwrap_or_else(|p| panic!("{p:?}"));
    let apply = f.kubectl(&["apply", "-f", &f.path(kind::TRAFFIC_MANIFEST)]);
    let gate = || {
        [
            Expectation::ok(
                f.kubectl(&["get", "nodes", "-o", "json"]),
                r#"{"items":[]}"#,
            ),
            Expectation::ok(
                f.kubectl(&["-n", "kube-system", "get", "pods", "-o", "json"]),
                r#"{"items":[]}"#,
            ),
        ]
    };
    // A failing apply fails the gate, saying why.
    runner.push(failing(
        &ok(apply.clone()),
        "error: no objects passed to apply",
    ));
    let err = cluster
        .steady_state(&suite.scenarios[0], Duration::ZERO)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no objects passed to apply"), "{err}");
    assert!(err.contains("cni-chaos-traffic.json"), "{err}");
    runner.assert_done();

    runner.push(ok(apply));
    for e in gate() {
        runner.push(e);
    }
    let g = cluster
        .steady_state(&suite.scenarios[0], Duration::ZERO)
        .await
        .unwrap();
    assert!(g.steady, "{g:?}");
    runner.assert_done();
    // Applied once per cluster: the next gate of such a scenario (a
    // remediation's or recovery's check, maybe with the API server down)
    // applies nothing.
    for e in gate() {
        runner.push(e);
    }
    cluster
        .steady_state(&suite.scenarios[0], Duration::ZERO)
        .await
        .unwrap();
    runner.assert_done();

    let text = std::fs::read_to_string(f.path(kind::TRAFFIC_MANIFEST)).unwrap();
    assert_eq!(text, kind::traffic_manifest());
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["kind"], "List");
    let items = v["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Service", "Service", "DaemonSet"]);
    let labels = serde_json::json!({
        "app.kubernetes.io/managed-by": "cni-chaos",
        "cni-chaos.io/traffic": "chaos-traffic",
    });
    let names: Vec<&str> = items
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["chaos-traffic", "chaos-traffic-lb", "chaos-traffic"]
    );
    for o in items {
        assert_eq!(o["metadata"]["namespace"], "cni-chaos-probes", "{o:#}");
        assert_eq!(o["metadata"]["labels"], labels, "{o:#}");
    }
    let ds = &items[2];
    // The headless Service (the peers' addresses), then the ClusterIP one
    // in front of every receiver (the pod-to-service flow).
    for (svc, cluster_ip) in [
        (&items[0], serde_json::json!("None")),
        (&items[1], serde_json::Value::Null),
    ] {
        assert_eq!(svc["spec"]["clusterIP"], cluster_ip, "{svc:#}");
        assert_eq!(svc["spec"]["selector"], labels);
        assert_eq!(svc["spec"]["ports"][0]["port"], 9000);
    }
    assert_eq!(ds["apiVersion"], "apps/v1");
    assert_eq!(
        ds["spec"]["template"]["metadata"]["labels"]["cni-chaos.io/traffic"],
        "chaos-traffic"
    );
    let pod = &ds["spec"]["template"]["spec"];
    assert_eq!(pod["tolerations"][0]["operator"], "Exists", "{pod:#}");
    let containers = pod["containers"].as_array().unwrap();
    let scripts: Vec<(&str, &str)> = containers
        .iter()
        .map(|c| {
            assert_eq!(c["image"], "docker.io/library/busybox:1.36.1", "{c:#}");
            assert_eq!(c["command"][0], "sh", "{c:#}");
            assert_eq!(c["command"][1], "-c", "{c:#}");
            (
                c["name"].as_str().unwrap(),
                c["command"][2].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        scripts,
        [
            ("receiver", TRAFFIC_RECEIVER),
            ("sender", TRAFFIC_SENDER),
            ("discovery", TRAFFIC_DISCOVERY)
        ]
    );
    // The pods ask Multus for the Kube-OVN attachment (the secondary flow).
    assert_eq!(
        ds["spec"]["template"]["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"],
        "cni-chaos-ovn-net"
    );
    let env: Vec<(&str, &str)> = containers[1]["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap(),
                e["valueFrom"]["fieldRef"]["fieldPath"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        env,
        [
            ("NODE_NAME", "spec.nodeName"),
            ("POD_NAME", "metadata.name"),
            ("POD_IP", "status.podIP"),
        ]
    );

    // Without a traffic SLO: the gate alone.
    for e in gate() {
        runner.push(e);
    }
    cluster
        .steady_state(&suite.scenarios[1], Duration::ZERO)
        .await
        .unwrap();
    runner.assert_done();

    // Removed with the cluster: the delete, and no delete of its own.
    for e in export_and_delete(&f) {
        runner.push(e);
    }
    cluster
        .collect_logs(&f.state.path().join("logs").join(CLUSTER))
        .await
        .unwrap();
    cluster.teardown().await.unwrap();
    runner.assert_done();
    assert!(
        runner
            .call_lines()
            .iter()
            .all(|l| !(l.contains("delete") && l.contains("chaos-traffic"))),
        "{:#?}",
        runner.call_lines()
    );
}

/// Runs commands through a [`ScriptedRunner`], noting what the journal in
/// `journal` held when `kind create cluster` ran.
#[derive(Debug)]
struct Snoop {
    inner: ScriptedRunner,
    journal: PathBuf,
    at_create: std::sync::Mutex<Option<Vec<cni_chaos::journal::Pending>>>,
}

#[async_trait::async_trait]
impl Runner for Snoop {
    async fn output(&self, cmd: &cni_chaos::exec::Command) -> Result<Output, ExecError> {
        if cmd.get_program() == "kind"
            && cmd.get_args().first().map(String::as_str) == Some("create")
        {
            let runs = cni_chaos::journal::Journal::at(&self.journal)
                .runs()
                .unwrap();
            *self.at_create.lock().unwrap() = Some(runs[0].pending.clone());
        }
        self.inner.output(cmd).await
    }
}

/// A journaled run records the cluster before `kind create cluster`, its
/// node containers by ID after it, and forgets it once deleted; the run's
/// journal folder goes with the backend.
#[tokio::test]
async fn the_journal_holds_a_cluster_from_before_its_create_until_its_delete() {
    use cni_chaos::journal::{ContainerRef, Journal, Resource};
    let tmp = tempfile::tempdir().unwrap();
    let journal = Arc::new(Journal::at(tmp.path()).begin(None).unwrap());
    let runner = ScriptedRunner::ordered([]);
    let snoop = Arc::new(Snoop {
        inner: runner.clone(),
        journal: tmp.path().to_path_buf(),
        at_create: std::sync::Mutex::default(),
    });
    let f = Fixture::through(snoop.clone(), true, |_| {}).journaled(journal.clone());
    let pending = || Journal::at(tmp.path()).runs().unwrap()[0].pending.clone();
    push_created(&f, &runner);
    for e in install_sequence(&f) {
        runner.push(e);
    }
    let cluster = provisioned(&f, &runner).await;
    let at_create = snoop
        .at_create
        .lock()
        .unwrap()
        .clone()
        .expect("kind create ran");
    assert_eq!(at_create.len(), 1, "{at_create:?}");
    assert_eq!(
        at_create[0].resource,
        Resource::Cluster {
            name: CLUSTER.into()
        }
    );
    assert!(!at_create[0].done);
    let now = pending();
    assert_eq!(now.len(), 1, "{now:?}");
    assert!(now[0].done);
    assert_eq!(
        now[0].containers,
        [ContainerRef {
            name: "chaos-contract-control-plane".into(),
            id: "c0ffee".into()
        }]
    );
    let mut delete = words("kind delete cluster --name chaos-contract --kubeconfig");
    delete.push(f.path("kubeconfig"));
    runner.push(ok(delete));
    cluster.teardown().await.unwrap();
    runner.assert_done();
    assert!(pending().is_empty(), "{:?}", pending());
    drop(cluster);
    drop(f);
    assert!(
        Journal::at(tmp.path()).runs().unwrap().is_empty(),
        "the run's journal outlived its backend"
    );
}

/// install.sh runs in the cluster's private state folder (where it writes
/// its manifests) from a copy without its last step, which the harness
/// runs afterwards with the pinned plugin: nothing goes to
/// `/usr/local/bin`, nothing into the process's working directory.
#[tokio::test]
async fn install_sh_runs_in_the_state_folder_without_its_diagnose_step() {
    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::new(&runner, true);
    for e in provision_script(&f, install_sequence(&f).len()) {
        runner.push(e);
    }
    let _cluster = provisioned(&f, &runner).await;
    let calls = runner.calls();
    let bash: Vec<_> = calls.iter().filter(|c| c.get_program() == "bash").collect();
    assert_eq!(bash.len(), 2, "install.sh, then the diagnose");
    for c in &bash {
        assert_eq!(c.get_cwd(), Some(f.dir().as_path()), "{c}");
        assert_eq!(c.get_envs()[0], ("KUBECONFIG".into(), f.path("kubeconfig")));
    }
    assert_eq!(bash[0].get_args(), [f.path(INSTALL_SCRIPT_RUN)]);
    assert_eq!(
        bash[1].get_args(),
        [f.path(KUBECTL_KO), "diagnose".into(), "all".into()]
    );
    // Only commands that write run in a folder, and only in the cluster's.
    assert!(
        calls
            .iter()
            .filter(|c| c.get_program() != "bash")
            .all(|c| c.get_cwd().is_none()),
        "{:#?}",
        runner.call_lines()
    );
    let ran = std::fs::read_to_string(f.path(INSTALL_SCRIPT_RUN)).unwrap();
    assert!(
        ran.starts_with(INSTALL_HEAD) && ran.ends_with(INSTALL_TAIL),
        "{ran}"
    );
    assert!(
        !ran.contains(DIAGNOSE_STEP) && !ran.contains("/usr/local/bin/kubectl-ko"),
        "{ran}"
    );
    // The pinger's external checks are off: empty values skip them.
    assert!(
        !ran.contains("$PINGER_EXTERNAL")
            && ran.contains("          - --external-address=\n          - --external-dns=\n"),
        "{ran}"
    );
    // The verified original is kept as downloaded.
    assert_eq!(
        std::fs::read_to_string(f.path(INSTALL_SCRIPT)).unwrap(),
        install_sh()
    );
}

/// The diagnose pings external addresses (kube-ovn #5002): its failure is
/// a warning with its output, and the install goes on.
#[tokio::test]
async fn a_failing_diagnose_is_a_warning_and_the_install_goes_on() {
    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::new(&runner, true);
    let at = install_step(&f, "diagnose all");
    for (i, e) in provision_script(&f, install_sequence(&f).len())
        .into_iter()
        .enumerate()
    {
        let step = i.checked_sub(probes().len() + pulls(&f).len() + 1);
        runner.push(if step == Some(at) {
            failing(&e, "### pinger diagnose results:\nping 1.1.1.1 failed")
        } else {
            e
        });
    }
    f.backend
        .provision(&profile(), &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("a failed diagnose must not fail the install: {e}"));
    runner.assert_done();
}

/// A cluster's addon steps, without a backend: for tests that need their
/// own pins or several clusters.
struct AddonsFixture {
    _ws: tempfile::TempDir,
    dir: PathBuf,
    name: String,
    kubectl: Kubectl,
    matrix: VersionMatrix,
    config: KindConfig,
    options: KindOptions,
    runner: ScriptedRunner,
}

impl AddonsFixture {
    /// Cluster `name` with its state folder under `root`, whose pinned and
    /// downloaded `install.sh` is `script`.
    fn new(runner: &ScriptedRunner, root: &Path, name: &str, script: &str) -> Self {
        let ws = workspace(true);
        let matrix = ws.path().join("versions.yaml");
        let text = std::fs::read_to_string(&matrix).unwrap().replace(
            &hex_digest(install_sh().as_bytes()),
            &hex_digest(script.as_bytes()),
        );
        std::fs::write(&matrix, text).unwrap();
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(INSTALL_SCRIPT), script).unwrap();
        std::fs::write(dir.join(KUBECTL_KO), KUBECTL_KO_SH).unwrap();
        let kubectl = Kubectl::new(Arc::new(runner.clone()), dir.join("kubeconfig"), name);
        AddonsFixture {
            matrix: VersionMatrix::load(&matrix).unwrap(),
            config: KindConfig::load(&repo().join("kind-configs/default.yaml")).unwrap(),
            options: KindOptions::new(ws.path()),
            _ws: ws,
            dir,
            name: name.into(),
            kubectl,
            runner: runner.clone(),
        }
    }

    fn addons(&self) -> Addons<'_> {
        Addons {
            runner: Arc::new(self.runner.clone()),
            kubectl: &self.kubectl,
            set: self.matrix.get("default").unwrap(),
            config: &self.config,
            options: &self.options,
            nat_gateway: false,
            cluster: &self.name,
            state: &self.dir,
        }
    }
}

/// A script whose last step is not the one the harness cuts is refused
/// (saying so) before anything runs it; its sha256 was right.
#[tokio::test]
async fn an_install_sh_whose_last_step_changed_is_refused_before_it_runs() {
    let runner = ScriptedRunner::lenient([]);
    let root = tempfile::tempdir().unwrap();
    let changed = install_sh().replace(
        "kubectl ko diagnose all\n",
        "kubectl ko diagnose all || true\n",
    );
    let a = AddonsFixture::new(&runner, root.path(), "chaos-a", &changed);
    let err = a.addons().install_kube_ovn().await.unwrap_err();
    assert!(matches!(err, KindError::Script { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("https://example.invalid/v1.16.2/install.sh"),
        "{msg}"
    );
    assert!(msg.contains("not the expected 6 lines"), "{msg}");
    assert!(
        runner.calls().iter().all(|c| c.get_program() == "curl"),
        "only the downloads ran: {:#?}",
        runner.call_lines()
    );
    assert!(!a.dir.join(INSTALL_SCRIPT_RUN).exists());
}

/// Two clusters' addon steps at once: each install.sh, diagnose and image
/// archive stays in its own cluster's folder, and nothing is written to the
/// process's working directory (under cargo test, harness/).
#[tokio::test]
async fn two_clusters_installed_at_once_share_no_folder_and_leave_the_cwd_alone() {
    let cwd = std::env::current_dir().unwrap();
    let listing = |dir: &Path| {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        names
    };
    let before = listing(&cwd);
    // Every command succeeds; `docker image inspect` reads the platform.
    let runner =
        ScriptedRunner::lenient([]).with_fallback(Respond::Output(Output::ok("linux/amd64\n")));
    let root = tempfile::tempdir().unwrap();
    let a = AddonsFixture::new(&runner, root.path(), "chaos-a", &install_sh());
    let b = AddonsFixture::new(&runner, root.path(), "chaos-b", &install_sh());
    let (ra, rb) = tokio::join!(
        async {
            let x = a.addons();
            x.load_images(ImageStore::Containerd).await?;
            x.install_kube_ovn().await?;
            Ok::<_, KindError>(x.diagnose_kube_ovn().await)
        },
        async {
            let x = b.addons();
            x.load_images(ImageStore::Containerd).await?;
            x.install_kube_ovn().await?;
            Ok::<_, KindError>(x.diagnose_kube_ovn().await)
        },
    );
    assert_eq!(ra.unwrap(), None);
    assert_eq!(rb.unwrap(), None);

    for (own, other) in [(&a, &b), (&b, &a)] {
        let of = |c: &cni_chaos::exec::Command| {
            c.argv()
                .iter()
                .any(|w| w.contains(&format!("{}", own.dir.display())))
        };
        let calls: Vec<_> = runner.calls().into_iter().filter(of).collect();
        // Its install.sh and diagnose ran in its own folder, on its files.
        let bash: Vec<_> = calls.iter().filter(|c| c.get_program() == "bash").collect();
        assert_eq!(bash.len(), 2);
        for c in &bash {
            assert_eq!(c.get_cwd(), Some(own.dir.as_path()), "{c}");
        }
        // Its images went through an archive in its own folder.
        let tar = own.dir.join(IMAGE_ARCHIVE).display().to_string();
        assert!(
            calls
                .iter()
                .any(|c| c.argv()[..2] == ["kind", "load"] && c.argv().contains(&tar.as_str())),
            "{:#?}",
            runner.call_lines()
        );
        // No command of this cluster names the other's folder.
        let theirs = format!("{}", other.dir.display());
        assert!(
            calls
                .iter()
                .all(|c| !c.to_string().contains(&format!("{theirs}/"))),
            "{:#?}",
            runner.call_lines()
        );
        assert!(own.dir.join(INSTALL_SCRIPT_RUN).exists());
        assert!(!own.dir.join(IMAGE_ARCHIVE).exists());
    }
    assert_eq!(listing(&cwd), before, "files appeared in {}", cwd.display());
}

/// Docker's containerd image store (kind #3795): detected up front, and
/// every image goes through `docker save --platform` into an archive in the
/// state folder and `kind load image-archive`; the archive is removed.
#[tokio::test]
async fn the_containerd_image_store_loads_through_an_archive() {
    let runner = ScriptedRunner::ordered([]);
    let mut f = Fixture::new(&runner, true);
    f.store = ImageStore::Containerd;
    for e in provision_script(&f, install_sequence(&f).len()) {
        runner.push(e);
    }
    // What a `docker save -o` would leave; the load removes it.
    std::fs::write(f.path(IMAGE_ARCHIVE), "tar").unwrap();
    f.backend
        .provision(&profile(), &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    runner.assert_done();
    assert!(!Path::new(&f.path(IMAGE_ARCHIVE)).exists());
    assert_never_ran(&runner, "load docker-image");
}

/// A failed `docker save` (e.g. an old Docker without `--platform`) fails
/// provisioning with its output, then the cluster is cleaned up.
#[tokio::test]
async fn a_failing_docker_save_exports_logs_and_deletes() {
    let runner = ScriptedRunner::ordered([]);
    let mut f = Fixture::new(&runner, true);
    f.store = ImageStore::Containerd;
    let step = install_step(&f, "docker save");
    let stderr = "unknown flag: --platform";
    for e in provision_script(&f, step)
        .into_iter()
        .chain([failing(&install_sequence(&f)[step], stderr)])
        .chain(export_and_delete(&f))
    {
        runner.push(e);
    }
    let msg = fails(&f.backend).await;
    runner.assert_done();
    assert!(
        msg.contains("docker save + kind load image-archive failed"),
        "{msg}"
    );
    assert!(msg.contains(stderr), "{msg}");
}

/// Each Kube-OVN line's cell creates its cluster from its own node image
/// (kind v0.31.0's v1.33.7 for the 1.14 line, v1.35.0 for the default
/// cell), and the cluster reports that image's Kubernetes version, so an
/// expectation's `when: {kubernetes: ...}` selects on it.
#[tokio::test]
async fn each_cell_creates_its_cluster_from_its_node_image_and_when_selects_on_its_kubernetes() {
    let suite = cni_chaos::suite::parse_str(
        Path::new("k8s.yaml"),
        r#"
name: k8s
description: selects on the node image's Kubernetes
scenarios:
  - name: old-kubernetes-bug
    fault: {kind: node-reboot, target: {role: worker}, mode: graceful}
    expect: {outcome: fail, reason: "a bug of Kubernetes before 1.34", culprits: [kube-multus-ds], when: {kubernetes: "<v1.34"}}
    slos:
      - {kind: no-crashloop, containers: init}
"#,
    )
    .unwrap_or_else(|p| panic!("{p:?}"));
    let scenario = &suite.scenarios[0];
    let cases = [
        (
            CELL_1_14,
            "kindest/node:v1.33.7@sha256:d26ef333bdb2cbe9862a0f7c3803ecc7b4303d8cea8e814b481b09949d353040",
            "v1.33.7",
            true,
        ),
        (
            "default",
            "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f",
            "v1.35.0",
            false,
        ),
    ];
    for (cell, image, kubernetes, expects_failure) in cases {
        let runner = ScriptedRunner::ordered([]);
        let f = Fixture::new(&runner, true);
        for e in probes()
            .into_iter()
            .chain(pulls(&f))
            .chain([ok(create_argv_with(&f, "default", image))])
            .chain(install_sequence(&f))
        {
            runner.push(e);
        }
        let profile = ClusterProfile {
            kind_config: "default".into(),
            versions: cell.into(),
            nat_gateway: false,
        };
        let cluster = f
            .backend
            .provision(&profile, &CancellationToken::new())
            .await
            .unwrap_or_else(|e| panic!("{cell}: {e}"));
        runner.assert_done();
        let versions = cluster.versions();
        assert_eq!(versions["kubernetes"], kubernetes, "{cell}");
        let expect = scenario
            .expectation(&versions, &Default::default())
            .unwrap();
        assert_eq!(
            matches!(expect, cni_chaos::suite::Expect::Fail { .. }),
            expects_failure,
            "{cell}: {expect:?}"
        );
    }
}

/// Provisions the default profile with `f`'s backend, which must succeed
/// and use up `runner`'s whole script.
async fn provisioned(f: &Fixture, runner: &ScriptedRunner) -> Arc<dyn Cluster> {
    let cluster = f
        .backend
        .provision(&profile(), &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    runner.assert_done();
    cluster
}

/// A fixture whose provisioning reaches `kind create cluster`, which fails
/// with `stderr`.
fn create_fails_with(stderr: &str) -> (ScriptedRunner, Fixture) {
    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::new(&runner, true);
    for e in probes().into_iter().chain(pulls(&f)) {
        runner.push(e);
    }
    runner.push(Expectation::failed(create_argv(&f), 1, stderr));
    (runner, f)
}

#[tokio::test]
async fn a_failed_kind_create_exports_logs_then_deletes_the_cluster() {
    let (runner, f) =
        create_fails_with("ERROR: failed to create cluster: failed to init node with kubeadm");
    for e in export_and_delete(&f) {
        runner.push(e);
    }
    let err = f
        .backend
        .provision(&profile(), &CancellationToken::new())
        .await
        .err()
        .expect("create fails");
    runner.assert_done();
    let msg = err.to_string();
    assert!(
        msg.contains("kind create cluster failed for cluster chaos-contract"),
        "{msg}"
    );
    assert!(msg.contains("failed to init node with kubeadm"), "{msg}");
    assert!(msg.contains("cluster logs exported to"), "{msg}");
}

/// The environment `install.sh` runs with.
fn install_env(
    f: &Fixture,
    ipv6: &str,
    dual_stack: &str,
    nat_gw: &str,
    priority: &str,
) -> Vec<(String, String)> {
    [
        ("KUBECONFIG", f.path("kubeconfig").as_str()),
        ("IPV6", ipv6),
        ("DUAL_STACK", dual_stack),
        ("ENABLE_NAT_GW", nat_gw),
        ("CNI_CONFIG_PRIORITY", priority),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Provisions `kind_config` up to `install.sh`, which fails; returns its
/// environment after checking the export and delete followed.
async fn install_env_of(
    f: &Fixture,
    runner: &ScriptedRunner,
    kind_config: &str,
) -> Vec<(String, String)> {
    for e in probes()
        .into_iter()
        .chain(pulls(f))
        .chain([ok(create_argv_for(f, kind_config))])
    {
        runner.push(e);
    }
    for e in install_sequence(f)
        .into_iter()
        .take(install_step(f, "bash"))
    {
        runner.push(e);
    }
    runner.push(failing(
        &install_run(f),
        "error: the server doesn't have a resource type \"vpc-nat-gateways\"",
    ));
    for e in export_and_delete(f) {
        runner.push(e);
    }
    let profile = ClusterProfile {
        kind_config: kind_config.into(),
        versions: "default".into(),
        nat_gateway: f.nat_gateway,
    };
    let msg = f
        .backend
        .provision(&profile, &CancellationToken::new())
        .await
        .err()
        .expect("install.sh fails")
        .to_string();
    runner.assert_done();
    assert!(msg.contains("install Kube-OVN failed"), "{msg}");
    assert!(msg.contains("vpc-nat-gateways"), "{msg}");
    let bash = runner
        .calls()
        .into_iter()
        .find(|c| c.get_program() == "bash")
        .unwrap();
    bash.get_envs().to_vec()
}

/// A `nat-gateway: true` profile: the NAT gateway image is pulled and loaded, and
/// install.sh gets ENABLE_NAT_GW=true CNI_CONFIG_PRIORITY=10 (Kube-OVN's
/// kind-install-vpc-nat-gw); a dual-stack config gets DUAL_STACK=true and
/// the NAT gateway stays off (install.sh v1.16.2 would default it on).
#[tokio::test]
async fn nat_gateway_and_dual_stack_install_environments() {
    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::with_nat_gateway(&runner);
    let env = install_env_of(&f, &runner, "default").await;
    assert_eq!(env, install_env(&f, "false", "false", "true", "10"));
    assert!(
        runner
            .call_lines()
            .contains(&"kind load docker-image docker.io/kubeovn/vpc-nat-gateway:v1.16.2 --name chaos-contract".to_string()),
        "{:#?}",
        runner.call_lines()
    );

    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::new(&runner, true);
    let env = install_env_of(&f, &runner, "dual-stack").await;
    assert_eq!(env, install_env(&f, "false", "true", "false", "01"));
}

/// A scenario with the nat-gateway-egress probe is refused before a
/// cluster is made for it unless the profile's `nat-gateway: true`
/// installs the NAT gateway.
#[tokio::test]
async fn a_nat_gateway_probe_without_nat_mode_is_refused_before_provisioning() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nat.yaml");
    std::fs::write(
        &file,
        "name: nat\ndescription: NAT gateway egress after a reboot.\nscenarios:\n  - name: egress\n    fault: {kind: node-reboot, target: {role: worker}, mode: hard}\n    slos:\n      - {kind: probe-succeeds-within, probe: nat-gateway-egress, budget: 2m}\n  - name: dns\n    fault: {kind: node-reboot, target: {role: worker}, mode: hard}\n    slos:\n      - {kind: probe-succeeds-within, probe: dns, budget: 2m}\n",
    )
    .unwrap();
    let suites = cni_chaos::suite::load(&[file]).unwrap_or_else(|e| panic!("{e}"));
    let (egress, dns) = (&suites[0].scenarios[0], &suites[0].scenarios[1]);
    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::new(&runner, true);
    let mut profile = suites[0].cluster.clone();
    let err = f
        .backend
        .check_scenario(&profile, egress)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("scenario egress cannot run on kind: its nat-gateway-egress probe needs Kube-OVN's VPC NAT gateway"),
        "{err}"
    );
    assert!(
        err.contains("set `nat-gateway: true` under the suite's `cluster:`"),
        "{err}"
    );
    f.backend.check_scenario(&profile, dns).unwrap();
    profile.nat_gateway = true;
    f.backend.check_scenario(&profile, egress).unwrap();
    assert!(runner.calls().is_empty(), "{:#?}", runner.call_lines());
}

/// A scenario with a nat-gateway-rules SLO runs on kind with a
/// `nat-gateway: true` profile (the backend creates the gateway it reads)
/// and is refused, with the fix, for one without it. (`validate` already
/// rejects such a suite file; a profile can still differ when the backend
/// is handed another one.)
#[tokio::test]
async fn nat_gateway_rules_without_nat_mode_are_refused_before_provisioning() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nat.yaml");
    std::fs::write(
        &file,
        "name: nat\ndescription: NAT rules after a reboot.\ncluster: {nat-gateway: true}\nscenarios:\n  - name: rules\n    fault: {kind: node-reboot, target: {role: worker}, mode: hard}\n    slos:\n      - {kind: nat-gateway-rules, gateway: gw1, eip: 172.31.250.101, snat-cidr: 10.250.1.0/24}\n",
    )
    .unwrap();
    let suites = cni_chaos::suite::load(&[file]).unwrap_or_else(|e| panic!("{e}"));
    let rules = &suites[0].scenarios[0];
    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::new(&runner, true);
    f.backend.check_scenario(&suites[0].cluster, rules).unwrap();
    let err = f
        .backend
        .check_scenario(&profile(), rules)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("scenario rules cannot run on kind: its nat-gateway-rules SLO reads VPC NAT gateway gw1, but the suite's cluster profile has no `nat-gateway: true`"),
        "{err}"
    );
    assert!(
        err.contains("set `nat-gateway: true` under the suite's `cluster:`"),
        "{err}"
    );
    assert!(runner.calls().is_empty(), "{:#?}", runner.call_lines());
}

/// A failing `kubectl apply` (Multus, or the probe resources) or `set
/// resources` ends provisioning with its command and output, then exports
/// the logs and deletes the cluster.
#[tokio::test]
async fn a_failing_kubectl_apply_or_set_resources_cleans_up() {
    for (step, what, stderr) in [
        (
            "apply -f *multus-daemonset-thick.patched.yml",
            "install Multus failed",
            "error: unable to recognize \"multus\": no matches for kind \"DaemonSet\"",
        ),
        (
            "set resources",
            "install Multus failed",
            "Error from server (NotFound): daemonsets.apps \"kube-multus-ds\" not found",
        ),
        (
            "apply -f *cni-chaos-probes.json",
            "probe namespace and attachment failed",
            "error: resource mapping not found for name: \"cni-chaos-probe-net\"",
        ),
    ] {
        let msg = install_step_fails(step, stderr).await;
        assert!(msg.contains(what), "{msg}");
    }
}

#[tokio::test]
async fn an_existing_cluster_of_the_same_name_is_never_created_over_or_deleted() {
    let runner = ScriptedRunner::ordered(probes());
    let f = Fixture::new(&runner, true);
    runner.push(Expectation::ok(
        ["kind", "get", "clusters"],
        "chaos-contract\nkind\n",
    ));
    let msg = fails(&f.backend).await;
    runner.assert_done();
    assert!(
        msg.contains(
            "kind cluster \"chaos-contract\" already exists and this run did not create it"
        ),
        "{msg}"
    );
    assert!(msg.contains("CHAOS_CLUSTER=chaos-contract"), "{msg}");

    // The race: kind itself says the name is taken.
    let (runner, f) = create_fails_with(
        "ERROR: failed to create cluster: node(s) already exist for a cluster with the name \"chaos-contract\"",
    );
    let msg = fails(&f.backend).await;
    runner.assert_done();
    assert!(
        msg.contains("already exists and this run did not create it"),
        "{msg}"
    );
    assert!(msg.contains("node(s) already exist"), "{msg}");
    let lines = runner.call_lines();
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("kind delete") || l.starts_with("kind export")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_manifest_with_the_wrong_sha256_is_never_applied() {
    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::new(&runner, false);
    for e in probes()
        .into_iter()
        .chain(pulls(&f))
        .chain([ok(create_argv(&f))])
        .chain(
            install_sequence(&f)
                .into_iter()
                .take(install_step(&f, "apply -f")),
        )
    {
        runner.push(e);
    }
    for e in export_and_delete(&f) {
        runner.push(e);
    }
    let err = f
        .backend
        .provision(&profile(), &CancellationToken::new())
        .await
        .err()
        .expect("digest mismatch");
    runner.assert_done();
    let msg = err.to_string();
    assert!(msg.contains("install Multus failed"), "{msg}");
    assert!(msg.contains("refusing to apply it"), "{msg}");
    assert!(
        !runner.call_lines().iter().any(|l| l.contains("apply")),
        "nothing may be applied: {:#?}",
        runner.call_lines()
    );
}

#[tokio::test]
async fn an_install_timeout_carries_the_command_and_its_output_then_cleans_up() {
    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::new(&runner, true);
    hang_in_install(
        &runner,
        &f,
        "-------------------------------\nWait for ovn-central\n",
    );
    for e in export_and_delete(&f) {
        runner.push(e);
    }
    tokio::time::pause();
    let err = f
        .backend
        .provision(&profile(), &CancellationToken::new())
        .await
        .err()
        .expect("install hangs");
    runner.assert_done();
    let msg = err.to_string();
    assert!(msg.contains("install Kube-OVN failed"), "{msg}");
    assert!(
        msg.contains(&format!(
            "`(cd {} && KUBECONFIG={} IPV6=false DUAL_STACK=false ENABLE_NAT_GW=false CNI_CONFIG_PRIORITY=01 bash {})` timed out after 900s",
            f.dir().display(),
            f.path("kubeconfig"),
            f.path(INSTALL_SCRIPT_RUN)
        )),
        "{msg}"
    );
    assert!(msg.contains("Wait for ovn-central"), "{msg}");
}

/// Index of each probe in [`probes`].
const DOCKER: usize = 0;
const KIND: usize = 1;
const KUBECTL: usize = 2;
const CURL: usize = 3;
const DOCKER_INFO: usize = 4;
const INOTIFY: usize = 5;
const DF: usize = 6;

/// Each preflight check's failure stops the run before anything is made,
/// with its problem and its fix; the other checks still ran.
#[tokio::test]
async fn each_preflight_problem_is_an_actionable_error_before_anything_runs() {
    let p = probes();
    let cases: Vec<(Vec<Expectation>, &str)> = vec![
        (
            probes_with([(
                KIND,
                Expectation::spawn_error(p[KIND].argv.clone(), "No such file or directory"),
            )]),
            "kind: not found on PATH; fix: install kind v0.31.0 or newer (https://kind.sigs.k8s.io/docs/user/quick-start/#installation, e.g. `go install sigs.k8s.io/kind@v0.31.0`)",
        ),
        (
            probes_with([(
                KIND,
                Expectation::ok(p[KIND].argv.clone(), "kind v0.20.0 go1.20 linux/amd64\n"),
            )]),
            "kind: found v0.20.0, need v0.31.0 or newer; fix: install kind v0.31.0",
        ),
        (
            probes_with([(
                KIND,
                Expectation::ok(p[KIND].argv.clone(), "kind version (devel)\n"),
            )]),
            "kind: cannot read its version from \"kind version (devel)\"",
        ),
        (
            probes_with([(
                KIND,
                Expectation::failed(p[KIND].argv.clone(), 2, "fatal: bad CPU type\n"),
            )]),
            "kind: `kind version` failed: fatal: bad CPU type; fix: install kind v0.31.0",
        ),
        (
            probes_with([(
                KUBECTL,
                Expectation::spawn_error(p[KUBECTL].argv.clone(), "No such file or directory"),
            )]),
            "kubectl: not found on PATH; fix: install kubectl 1.27 or newer (https://kubernetes.io/docs/tasks/tools/)",
        ),
        (
            probes_with([(
                KUBECTL,
                Expectation::ok(
                    p[KUBECTL].argv.clone(),
                    r#"{"clientVersion":{"gitVersion":"v1.25.3"}}"#,
                ),
            )]),
            "kubectl: found v1.25.3, need v1.27.0 or newer; fix: install kubectl 1.27 or newer",
        ),
        (
            probes_with([(
                CURL,
                Expectation::spawn_error(p[CURL].argv.clone(), "No such file or directory"),
            )]),
            "curl: not found on PATH; fix: install curl (it downloads the pinned Kube-OVN and Multus manifests)",
        ),
        (
            probes_with([(DF, df(4 << 20))]),
            "disk space: 4.0 GiB free under Docker's data root /var/lib/docker, need 15.5 GiB for a 3-node cluster (the node image, the Kube-OVN, Multus and busybox images, and their copies loaded into every node); fix: free space there (`docker system prune -a` removes stopped containers and unused images) or move Docker's data-root to a larger disk",
        ),
        (
            probes_with([(INOTIFY, inotify(8192, 512))]),
            "inotify limits: fs.inotify.max_user_watches is 8192, multi-node kind clusters need 524288 or more (kind's known issue \"too many open files\"; every node shares the host's kernel); fix: run `sudo sysctl -w fs.inotify.max_user_watches=524288` (and add `fs.inotify.max_user_watches = 524288` to /etc/sysctl.d/99-kind.conf to keep it after a reboot)",
        ),
        (
            probes_with([(INOTIFY, inotify(524_288, 128))]),
            "inotify limits: fs.inotify.max_user_instances is 128, multi-node kind clusters need 512 or more (kind's known issue \"too many open files\"; every node shares the host's kernel); fix: run `sudo sysctl -w fs.inotify.max_user_instances=512`",
        ),
        // No daemon: no data root to measure, the other checks still run.
        (
            vec![
                Expectation::failed(
                    p[DOCKER].argv.clone(),
                    1,
                    "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
                ),
                p[KIND].clone(),
                p[KUBECTL].clone(),
                p[CURL].clone(),
                p[INOTIFY].clone(),
            ],
            "docker: the daemon does not answer: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?; fix: install Docker (https://docs.docker.com/engine/install/), start the daemon, and check `docker version` shows a Server section (or set DOCKER_HOST)",
        ),
    ];
    for (script, want) in cases {
        let runner = ScriptedRunner::ordered(script);
        let msg = fails(&Fixture::new(&runner, true).backend).await;
        runner.assert_done();
        assert!(
            msg.starts_with(
                "kind backend: this machine is not ready for the kind backend (1 problem):\n  - "
            ),
            "{msg}"
        );
        assert!(msg.contains(want), "{msg}");
        assert!(
            runner.call_lines().iter().all(|l| !destructive(l)),
            "{:#?}",
            runner.call_lines()
        );
    }
}

/// Several problems are reported together, in check order, in one error.
#[tokio::test]
async fn several_preflight_problems_are_reported_together() {
    let p = probes();
    let runner = ScriptedRunner::ordered(probes_with([
        (
            KIND,
            Expectation::ok(p[KIND].argv.clone(), "kind v0.29.0 go1.24.2 linux/amd64\n"),
        ),
        (
            KUBECTL,
            Expectation::spawn_error(p[KUBECTL].argv.clone(), "No such file or directory"),
        ),
        (DF, df(10 << 20)),
        (INOTIFY, inotify(8192, 128)),
    ]));
    let err = Fixture::new(&runner, true)
        .backend
        .provision(&profile(), &CancellationToken::new())
        .await
        .err()
        .expect("the preflight must fail");
    runner.assert_done();
    assert_eq!(
        err.to_string(),
        "kind backend: this machine is not ready for the kind backend (5 problems):
  - kind: found v0.29.0, need v0.31.0 or newer; fix: install kind v0.31.0 or newer (https://kind.sigs.k8s.io/docs/user/quick-start/#installation, e.g. `go install sigs.k8s.io/kind@v0.31.0`)
  - kubectl: not found on PATH; fix: install kubectl 1.27 or newer (https://kubernetes.io/docs/tasks/tools/)
  - inotify limits: fs.inotify.max_user_watches is 8192, multi-node kind clusters need 524288 or more (kind's known issue \"too many open files\"; every node shares the host's kernel); fix: run `sudo sysctl -w fs.inotify.max_user_watches=524288` (and add `fs.inotify.max_user_watches = 524288` to /etc/sysctl.d/99-kind.conf to keep it after a reboot)
  - inotify limits: fs.inotify.max_user_instances is 128, multi-node kind clusters need 512 or more (kind's known issue \"too many open files\"; every node shares the host's kernel); fix: run `sudo sysctl -w fs.inotify.max_user_instances=512` (and add `fs.inotify.max_user_instances = 512` to /etc/sysctl.d/99-kind.conf to keep it after a reboot)
  - disk space: 10.0 GiB free under Docker's data root /var/lib/docker, need 15.5 GiB for a 3-node cluster (the node image, the Kube-OVN, Multus and busybox images, and their copies loaded into every node); fix: free space there (`docker system prune -a` removes stopped containers and unused images) or move Docker's data-root to a larger disk"
    );
}

/// What the preflight cannot read from this host (a remote daemon's data
/// root, a host without `/proc`) is a warning saying what to check by hand,
/// never a silent pass and never a refusal.
#[tokio::test]
async fn what_the_preflight_cannot_read_is_a_warning() {
    let p = probes();
    let runner = ScriptedRunner::ordered(probes_with([
        (
            DF,
            Expectation::failed(
                p[DF].argv.clone(),
                1,
                "df: /var/lib/docker: No such file or directory\n",
            ),
        ),
        (
            INOTIFY,
            Expectation::failed(
                p[INOTIFY].argv.clone(),
                1,
                "cat: /proc/sys/kernel/osrelease: No such file or directory\n",
            ),
        ),
    ]));
    let found = kind::preflight(&runner, "v0.31.0", 3, false).await.unwrap();
    runner.assert_done();
    assert_eq!(found.tools.kind, "v0.31.0");
    assert_eq!(
        found.warnings,
        [
            "cannot read this host's kernel release and inotify limits (`cat /proc/sys/kernel/osrelease /proc/sys/fs/inotify/max_user_watches /proc/sys/fs/inotify/max_user_instances` failed: cat: /proc/sys/kernel/osrelease: No such file or directory); check on the machine that runs the Docker daemon that fs.inotify.max_user_watches >= 524288 and fs.inotify.max_user_instances >= 512 (kind's known issue \"too many open files\")",
            "Docker's data root /var/lib/docker is not readable from this host (`df -Pk /var/lib/docker` failed: df: /var/lib/docker: No such file or directory); check by hand that Docker's data root has 15.5 GiB free for a 3-node cluster",
        ]
    );

    // No data root at all, and a df whose output is not POSIX format.
    let mut script = probes_with([(
        DOCKER_INFO,
        Expectation::failed(p[DOCKER_INFO].argv.clone(), 1, "permission denied\n"),
    )]);
    script.remove(DF);
    let runner = ScriptedRunner::ordered(script);
    let found = kind::preflight(&runner, "v0.31.0", 1, false).await.unwrap();
    assert_eq!(
        found.warnings,
        [
            "cannot read Docker's data root (`docker info --format '{{.KernelVersion}} {{.DockerRootDir}}'` failed: permission denied); check by hand that Docker's data root has 9.5 GiB free for a 1-node cluster"
        ]
    );
    let runner = ScriptedRunner::ordered(probes_with([(
        DF,
        Expectation::ok(p[DF].argv.clone(), "weird\n"),
    )]));
    let found = kind::preflight(&runner, "v0.31.0", 1, false).await.unwrap();
    assert_eq!(
        found.warnings,
        [
            "cannot read the free space from `df -Pk /var/lib/docker` (\"weird\"); check by hand that Docker's data root has 9.5 GiB free for a 1-node cluster"
        ]
    );

    // A daemon on another kernel (Docker Desktop's VM, a remote
    // DOCKER_HOST): this host's df and /proc say nothing about the nodes,
    // even when their limits here are short; df is not run.
    let mut script = probes_with([
        (
            DOCKER_INFO,
            Expectation::ok(
                p[DOCKER_INFO].argv.clone(),
                "6.10.14-linuxkit /var/lib/docker\n",
            ),
        ),
        (INOTIFY, inotify(8192, 128)),
    ]);
    script.remove(DF);
    let runner = ScriptedRunner::ordered(script);
    let found = kind::preflight(&runner, "v0.31.0", 3, false).await.unwrap();
    runner.assert_done();
    assert_eq!(
        found.warnings,
        [
            "the Docker daemon runs on kernel 6.10.14-linuxkit and this host on 6.8.0-60-generic (a remote DOCKER_HOST or a VM such as Docker Desktop's), so neither this host's disk nor its /proc is the nodes'; check by hand that Docker's data root has 15.5 GiB free for a 3-node cluster, and check on the machine that runs the Docker daemon that fs.inotify.max_user_watches >= 524288 and fs.inotify.max_user_instances >= 512 (kind's known issue \"too many open files\")"
        ]
    );
}

// ---- faults on a cluster --------------------------------------------------

fn open(runner: &ScriptedRunner) -> (tempfile::TempDir, KindCluster) {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, format!("current-context: kind-{CLUSTER}\n")).unwrap();
    let config = KindConfig::load(&repo().join("kind-configs/default.yaml")).unwrap();
    let cluster = KindCluster::open(
        Arc::new(runner.clone()),
        CLUSTER,
        config,
        kubeconfig,
        Guard::harness(None),
        false,
    )
    .unwrap();
    (dir, cluster)
}

fn worker() -> NodeInfo {
    NodeInfo {
        name: WORKER.into(),
        role: NodeRole::Worker,
        internal_ip: Some("172.18.0.3".into()),
    }
}

fn inspect(started: &str, attached: bool) -> Expectation {
    let nets: &[(&str, &str)] = if attached {
        &[("kind", "172.18.0.3")]
    } else {
        &[]
    };
    Expectation::ok(
        ["docker", "inspect", "--type", "container", WORKER],
        inspect_json(WORKER, Some(CLUSTER), "worker", started, nets),
    )
}

fn exec(argv: &str, stdout: &str) -> Expectation {
    let mut v = vec!["docker".to_string(), "exec".into(), WORKER.into()];
    v.extend(words(argv));
    Expectation::ok(v, stdout)
}

fn exec_failed(argv: &str, code: i32, stderr: &str) -> Expectation {
    let mut v = vec!["docker".to_string(), "exec".into(), WORKER.into()];
    v.extend(words(argv));
    Expectation::failed(v, code, stderr)
}

const T0: &str = "2026-11-25T10:00:00.1Z";
const T1: &str = "2026-11-25T10:00:31.5Z";

fn target() -> NodeTarget {
    NodeTarget::Role {
        role: NodeRole::Worker,
        index: 0,
    }
}

async fn inject_and_revert(
    runner: &ScriptedRunner,
    fault: Fault,
    revert: Vec<Expectation>,
) -> Evidence {
    let (_dir, cluster) = open(runner);
    let evidence = cluster.inject(&fault, Some(&worker())).await.unwrap();
    runner.assert_done();
    for e in revert {
        runner.push(e);
    }
    cluster.revert(&fault, &evidence).await.unwrap();
    runner.assert_done();
    evidence
}

/// Injects `fault` on the worker, which must fail after the whole script
/// ran; returns the error message.
async fn inject_fails(runner: &ScriptedRunner, fault: &Fault) -> String {
    let (_dir, cluster) = open(runner);
    let err = cluster
        .inject(fault, Some(&worker()))
        .await
        .expect_err("the injection must fail")
        .to_string();
    runner.assert_done();
    err
}

/// No command the runner saw contains `needle`.
fn assert_never_ran(runner: &ScriptedRunner, needle: &str) {
    let lines = runner.call_lines();
    assert!(
        !lines.iter().any(|l| l.contains(needle)),
        "{needle:?} ran: {lines:#?}"
    );
}

/// `docker cp <worker>:<path> -` answering with a tar of `entries`.
fn copy_out(path: &str, entries: &[(&str, u8, &[u8])]) -> Expectation {
    Expectation::ok(
        ["docker", "cp", &format!("{WORKER}:{path}"), "-"],
        cni_chaos::util::tar::build(entries),
    )
}

/// `docker cp` of a path the stopped node does not have.
fn copy_missing(path: &str) -> Expectation {
    Expectation::failed(
        ["docker", "cp", &format!("{WORKER}:{path}"), "-"],
        1,
        format!("Error: No such container:path: {WORKER}:{path}"),
    )
}

/// The node's disk while it is down: `00-multus.conf` there or not, with
/// Kube-OVN's conflist and Multus' own folder beside it.
fn net_d(multus_conf: bool) -> Expectation {
    let mut entries: Vec<(&str, u8, &[u8])> = vec![
        ("net.d/", b'5', b""),
        ("net.d/01-kube-ovn.conflist", b'0', b"{}"),
        ("net.d/multus.d/", b'5', b""),
        ("net.d/multus.d/multus.kubeconfig", b'0', b"x"),
    ];
    if multus_conf {
        entries.push(("net.d/00-multus.conf", b'0', b"{}"));
    }
    copy_out("/etc/cni/net.d", &entries)
}

fn shim_there() -> Expectation {
    copy_out(
        "/opt/cni/bin/multus-shim",
        &[("multus-shim", b'0', b"\x7fELF")],
    )
}

/// The whole reboot as the node runtime runs it, each command after the
/// guard's inspect: `stop` (`docker stop -t 30` or `docker kill`), the two
/// copies out of the stopped node, `docker start`, and the inspect that
/// reads the new start time (`started_after`).
fn reboot_script(
    stop: &str,
    net_d: Expectation,
    shim: Expectation,
    started_after: &str,
) -> Vec<Expectation> {
    vec![
        inspect(T0, true),
        inspect(T0, true),
        ok(words(stop)),
        inspect(T0, true),
        net_d,
        inspect(T0, true),
        shim,
        inspect(T0, true),
        ok(words("docker start chaos-contract-worker")),
        inspect(started_after, true),
    ]
}

/// Graceful: `docker stop -t 30` (an orderly systemd shutdown on a kind
/// node), the node's CNI files copied out while it is down, `docker start`.
#[tokio::test]
async fn graceful_reboot_is_stop_copy_start_and_records_the_disk_while_down() {
    let runner = ScriptedRunner::ordered(reboot_script(
        "docker stop -t 30 chaos-contract-worker",
        net_d(false),
        shim_there(),
        T1,
    ));
    let e = inject_and_revert(
        &runner,
        Fault::NodeReboot(NodeReboot {
            target: target(),
            mode: RebootMode::Graceful,
            timeout: Duration::from_secs(30),
        }),
        vec![],
    )
    .await;
    assert!(e.took_effect, "{e:?}");
    let summary = e.summary();
    assert!(
        summary.contains(
            "StartedAt before: 2026-11-25T10:00:00.1Z; StartedAt after: 2026-11-25T10:00:31.5Z"
        ),
        "{summary}"
    );
    // The Multus daemon's clean exit removed its config: the runtime
    // loads Kube-OVN's conflist at boot (the multus #1387 window).
    let disk = e.preconditions.disk.as_ref().expect("the disk was read");
    assert!(!disk.multus_config && disk.multus_shim, "{disk:?}");
    assert_eq!(disk.configs, ["01-kube-ovn.conflist"]);
    assert_eq!(disk.first_config.as_deref(), Some("01-kube-ovn.conflist"));
    let pre = e.preconditions.summary();
    assert!(pre.contains("00-multus.conf while down: absent"), "{pre}");
    assert_eq!(
        e.preconditions.value(Precondition::MultusConfigLeft),
        Some(false)
    );
}

/// Hard: `docker kill --signal KILL`, the copy, `docker start`; here the
/// start time did not change, which is no effect, but the disk was read.
#[tokio::test]
async fn hard_reboot_is_kill_copy_start_and_an_unchanged_start_time_is_no_effect() {
    let runner = ScriptedRunner::ordered(reboot_script(
        "docker kill --signal KILL chaos-contract-worker",
        net_d(true),
        copy_missing("/opt/cni/bin/multus-shim"),
        T0,
    ));
    let e = inject_and_revert(
        &runner,
        Fault::NodeReboot(NodeReboot {
            target: target(),
            mode: RebootMode::Hard,
            timeout: Duration::from_secs(30),
        }),
        vec![],
    )
    .await;
    assert!(!e.took_effect);
    assert!(
        e.summary().contains("StartedAt did not change"),
        "{}",
        e.summary()
    );
    let disk = e.preconditions.disk.as_ref().expect("the disk was read");
    assert!(disk.multus_config && !disk.multus_shim, "{disk:?}");
    assert_eq!(disk.first_config.as_deref(), Some("00-multus.conf"));
    assert_eq!(disk.first_primary.as_deref(), Some("01-kube-ovn.conflist"));
}

/// A copy that fails for another reason than a missing path is an error,
/// and the node is started all the same: a failed copy never leaves it down.
#[tokio::test]
async fn a_failed_copy_is_an_error_after_the_node_is_started_again() {
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        inspect(T0, true),
        ok(words("docker kill --signal KILL chaos-contract-worker")),
        inspect(T0, true),
        Expectation::failed(
            words("docker cp chaos-contract-worker:/etc/cni/net.d -"),
            1,
            "Error response from daemon: mount failed",
        ),
        inspect(T0, true),
        ok(words("docker start chaos-contract-worker")),
    ]);
    let err = inject_fails(
        &runner,
        &Fault::NodeReboot(NodeReboot {
            target: target(),
            mode: RebootMode::Hard,
            timeout: Duration::from_secs(30),
        }),
    )
    .await;
    assert!(
        err.contains("`docker cp chaos-contract-worker:/etc/cni/net.d -` failed"),
        "{err}"
    );
    assert!(err.contains("mount failed"), "{err}");
}

/// An interrupt while the node is down (the engine drops its wait for the
/// injection) does not leave it down: the reboot runs to its end in its own
/// task, and the revert waits for it, so `docker start` still runs.
#[tokio::test(start_paused = true)]
async fn an_interrupted_reboot_still_starts_the_node_before_the_revert_returns() {
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        inspect(T0, true),
        ok(words("docker kill --signal KILL chaos-contract-worker")),
        inspect(T0, true),
        Expectation::new(
            words("docker cp chaos-contract-worker:/etc/cni/net.d -"),
            cni_chaos::exec::Respond::Hang {
                stdout: String::new(),
                stderr: String::new(),
            },
        ),
        inspect(T0, true),
        ok(words("docker start chaos-contract-worker")),
    ]);
    let (_dir, cluster) = open(&runner);
    let fault = Fault::NodeReboot(NodeReboot {
        target: target(),
        mode: RebootMode::Hard,
        timeout: Duration::from_secs(30),
    });
    // The interrupt: the engine stops waiting one second in.
    let cut = tokio::time::timeout(
        Duration::from_secs(1),
        cluster.inject(&fault, Some(&worker())),
    )
    .await;
    assert!(cut.is_err(), "the copy hangs, so the wait is cut: {cut:?}");
    assert!(
        !runner
            .call_lines()
            .iter()
            .any(|l| l.starts_with("docker start")),
        "not yet started: {:#?}",
        runner.call_lines()
    );
    // The revert waits for the injection, whose copy times out; the node
    // is started all the same.
    cluster.revert(&fault, &Evidence::default()).await.unwrap();
    runner.assert_done();
    assert_eq!(
        runner.call_lines().last().map(String::as_str),
        Some("docker start chaos-contract-worker")
    );
}

#[tokio::test]
async fn ovs_kill_proves_the_old_pid_is_gone_or_a_zombie() {
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec("cat /run/openvswitch/ovs-vswitchd.pid", "812\n"),
        inspect(T0, true),
        exec(
            "cat /proc/812/stat",
            "812 (ovs-vswitchd) S 1 812 812 0 -1\n",
        ),
        inspect(T0, true),
        exec("kill -s KILL 812", ""),
        inspect(T0, true),
        exec(
            "cat /proc/812/stat",
            "812 (ovs-vswitchd) Z 1 812 812 0 -1\n",
        ),
    ]);
    let e = inject_and_revert(
        &runner,
        Fault::OvsKill(OvsKill {
            target: target(),
            process: OvsProcess::OvsVswitchd,
            signal: OvsSignal::Kill,
            stop_for: None,
        }),
        vec![],
    )
    .await;
    assert!(e.took_effect, "{e:?}");
    assert_eq!(
        e.summary(),
        "ovs-vswitchd PID before: 812; signal: SIGKILL; ovs-vswitchd PID after: gone"
    );
}

/// The pidfile of `daemon` names `pid`, whose `/proc/<pid>/stat` shows
/// `comm` in `state`.
fn pid_lookup(daemon: &str, pid: u32, comm: &str, state: char) -> Vec<Expectation> {
    vec![
        inspect(T0, true),
        exec(
            &format!("cat /run/openvswitch/{daemon}.pid"),
            &format!("{pid}\n"),
        ),
        inspect(T0, true),
        exec(
            &format!("cat /proc/{pid}/stat"),
            &format!("{pid} ({comm}) {state} 1 {pid} {pid} 0 -1\n"),
        ),
    ]
}

fn ovs_kill(process: OvsProcess) -> Fault {
    Fault::OvsKill(OvsKill {
        target: target(),
        process,
        signal: OvsSignal::Kill,
        stop_for: None,
    })
}

#[tokio::test]
async fn ovs_kill_of_a_process_that_is_not_running_is_no_effect() {
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec_failed(
            "cat /run/openvswitch/ovsdb-server.pid",
            1,
            "cat: /run/openvswitch/ovsdb-server.pid: No such file or directory",
        ),
    ]);
    let e = inject_and_revert(
        &runner,
        Fault::OvsKill(OvsKill {
            target: target(),
            process: OvsProcess::OvsdbServer,
            signal: OvsSignal::Kill,
            stop_for: None,
        }),
        vec![],
    )
    .await;
    assert!(!e.took_effect);
    assert!(
        e.summary().contains("ovsdb-server is not running"),
        "{}",
        e.summary()
    );
}

/// `pgrep -x ovsdb-server` would also match ovn-central's NB and SB
/// databases on a control-plane node: the PID comes from OVS's pidfile, and
/// a pidfile naming another process is stale, never a target.
#[tokio::test]
async fn ovsdb_server_is_found_by_its_pidfile_and_a_stale_pidfile_is_no_effect() {
    let kill = ovs_kill;
    let runner = ScriptedRunner::ordered(pid_lookup("ovsdb-server", 640, "ovsdb-server", 'S'));
    for e in [
        inspect(T0, true),
        exec("kill -s KILL 640", ""),
        inspect(T0, true),
        exec_failed(
            "cat /proc/640/stat",
            1,
            "cat: /proc/640/stat: No such file or directory",
        ),
    ] {
        runner.push(e);
    }
    let e = inject_and_revert(&runner, kill(OvsProcess::OvsdbServer), vec![]).await;
    assert!(e.took_effect, "{e:?}");
    assert_eq!(
        e.summary(),
        "ovsdb-server PID before: 640; signal: SIGKILL; ovsdb-server PID after: gone"
    );
    assert!(
        runner.call_lines().iter().all(|l| !l.contains("pgrep")),
        "{:#?}",
        runner.call_lines()
    );

    // The pidfile outlived its daemon and the PID is now someone else's.
    let runner = ScriptedRunner::ordered(pid_lookup("ovsdb-server", 640, "ovn-northd", 'S'));
    let e = inject_and_revert(&runner, kill(OvsProcess::OvsdbServer), vec![]).await;
    assert!(!e.took_effect);
    assert!(
        e.summary()
            .contains("no live ovsdb-server in /run/openvswitch/ovsdb-server.pid"),
        "{}",
        e.summary()
    );

    // The daemon died and lingers as a zombie: nothing left to kill.
    let runner = ScriptedRunner::ordered(pid_lookup("ovsdb-server", 640, "ovsdb-server", 'Z'));
    let e = inject_and_revert(&runner, kill(OvsProcess::OvsdbServer), vec![]).await;
    assert!(!e.took_effect, "{e:?}");

    // A pidfile that cannot be read for another reason is an error.
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec_failed(
            "cat /run/openvswitch/ovs-vswitchd.pid",
            126,
            "OCI runtime exec failed: exec failed: unable to start container process",
        ),
    ]);
    let err = inject_fails(&runner, &kill(OvsProcess::OvsVswitchd)).await;
    assert!(
        err.contains("cat /run/openvswitch/ovs-vswitchd.pid` failed with exit code 126"),
        "{err}"
    );
}

/// SIGSTOP of ovs-vswitchd (PID 812, from its pidfile) for an hour.
fn stop_fault() -> Fault {
    Fault::OvsKill(OvsKill {
        target: target(),
        process: OvsProcess::OvsVswitchd,
        signal: OvsSignal::Stop,
        stop_for: Some(Duration::from_secs(3600)),
    })
}

/// The injection of [`stop_fault`]: pidfile, stat, STOP, stopped.
fn stop_vswitchd() -> Vec<Expectation> {
    vec![
        inspect(T0, true),
        exec("cat /run/openvswitch/ovs-vswitchd.pid", "812\n"),
        inspect(T0, true),
        exec(
            "cat /proc/812/stat",
            "812 (ovs-vswitchd) S 1 812 812 0 -1\n",
        ),
        inspect(T0, true),
        exec("kill -s STOP 812", ""),
        inspect(T0, true),
        exec(
            "cat /proc/812/stat",
            "812 (ovs-vswitchd) T 1 812 812 0 -1\n",
        ),
    ]
}

#[tokio::test]
async fn ovs_stop_is_sigstop_and_revert_sends_sigcont() {
    let runner = ScriptedRunner::ordered(stop_vswitchd());
    let e = inject_and_revert(
        &runner,
        stop_fault(),
        vec![
            inspect(T0, true),
            exec(
                "cat /proc/812/stat",
                "812 (ovs-vswitchd) T 1 812 812 0 -1\n",
            ),
            inspect(T0, true),
            exec("kill -s CONT 812", ""),
        ],
    )
    .await;
    assert!(e.took_effect, "{e:?}");
}

/// A stopped daemon whose PID belongs to another program by revert time
/// (it was restarted, the PID reused) gets no SIGCONT.
#[tokio::test]
async fn ovs_stop_revert_leaves_a_reused_pid_alone() {
    let runner = ScriptedRunner::ordered(stop_vswitchd());
    inject_and_revert(
        &runner,
        stop_fault(),
        vec![
            inspect(T0, true),
            exec("cat /proc/812/stat", "812 (sleep) S 1 812 812 0 -1\n"),
        ],
    )
    .await;
    assert!(
        !runner
            .call_lines()
            .iter()
            .any(|l| l.ends_with("kill -s CONT 812")),
        "{:#?}",
        runner.call_lines()
    );
}

/// `kubectl` against the contract cluster (any kubeconfig path) with `args`.
fn kc(args: &str) -> Vec<String> {
    let mut v = vec![
        "kubectl".to_string(),
        "--kubeconfig".into(),
        "*".into(),
        "--context".into(),
        format!("kind-{CLUSTER}"),
    ];
    v.extend(words(args));
    v
}

const OVS_POD: &str = "pod/ovs-ovn-7xk2p";

/// The lookup of the worker's `ovs-ovn` pod, answered with `pods`.
fn ovs_pod_lookup(pods: &str) -> Expectation {
    Expectation::ok(
        kc(
            "-n kube-system get pods -l app=ovs --field-selector spec.nodeName=chaos-contract-worker -o name",
        ),
        pods,
    )
}

/// `argv` run by kubectl exec in the worker's `ovs-ovn` pod.
fn ovs_exec(argv: &str, stdout: &str) -> Expectation {
    Expectation::ok(
        kc(&format!(
            "-n kube-system exec {OVS_POD} -c openvswitch -- {argv}"
        )),
        stdout,
    )
}

/// The port Kube-OVN's CNI server would have written for a pod
/// `chaos-stale-0` in `cni-chaos-stale` (kube-ovn v1.16.2
/// pkg/daemon/ovs_linux.go `configureNic`), with no device behind it.
const ADD_STALE_PORT: &str = "ovs-vsctl --timeout=10 add-port br-int chaos-stale-0 -- set Interface chaos-stale-0 external_ids:iface-id=chaos-stale-0.cni-chaos-stale external_ids:vendor=kube-ovn external_ids:pod_name=chaos-stale-0 external_ids:pod_namespace=cni-chaos-stale external_ids:ip=198.51.100.1 external_ids:pod_netns=/var/run/netns/chaos-stale-0 external_ids:cni-chaos=stale";

/// OVS's verdict on the stale port.
const GET_STALE_PORT: &str = "ovs-vsctl --timeout=10 get Interface chaos-stale-0 error ofport";

/// The namespace `chaos-stale-0` and its port are made.
fn netns0_and_port() -> Vec<Expectation> {
    vec![
        inspect(T0, true),
        exec("ip netns add chaos-stale-0", ""),
        ovs_pod_lookup(&format!("{OVS_POD}\n")),
        ovs_exec(ADD_STALE_PORT, ""),
    ]
}

/// kind nodes have no OVS: ovs-vsctl runs in the node's ovs-ovn pod,
/// container openvswitch, found by label and node name.
#[tokio::test]
async fn stale_netns_with_ports_and_their_cleanup() {
    let runner = ScriptedRunner::ordered(netns0_and_port());
    for e in [
        inspect(T0, true),
        exec("ip netns list", "chaos-stale-0\ncni-1234 (id: 0)\n"),
        inspect(T0, true),
        exec("ip netns list", "chaos-stale-0\ncni-1234 (id: 0)\n"),
        inspect(T0, true),
        exec("ip netns pids chaos-stale-0", ""),
        inspect(T0, true),
        exec("ip netns pids cni-1234", "4711\n"),
        // OVS needs a moment to give up on the device.
        ovs_exec(GET_STALE_PORT, "[]\n[]\n"),
        ovs_exec(
            GET_STALE_PORT,
            "\"could not open network device chaos-stale-0 (No such device)\"\n-1\n",
        ),
    ] {
        runner.push(e);
    }
    let e = inject_and_revert(
        &runner,
        Fault::StaleNetns(StaleNetns {
            target: target(),
            count: 1,
            ovs_ports: true,
        }),
        vec![
            ovs_pod_lookup(&format!("{OVS_POD}\n")),
            ovs_exec(
                "ovs-vsctl --timeout=10 --if-exists del-port br-int chaos-stale-0",
                "",
            ),
            inspect(T0, true),
            exec("ip netns list", "chaos-stale-0\ncni-1234 (id: 0)\n"),
            inspect(T0, true),
            exec("ip netns delete chaos-stale-0", ""),
        ],
    )
    .await;
    assert!(e.took_effect, "{e:?}");
    assert!(
        e.facts.contains(&(
            "OVS verdict".to_string(),
            "chaos-stale-0: ofport -1, error \"could not open network device chaos-stale-0 (No such device)\"".to_string()
        )),
        "{e:?}"
    );
    assert!(
        runner
            .call_lines()
            .iter()
            .all(|l| !l.starts_with("docker exec chaos-contract-worker ovs-")),
        "OVS never runs in the kind node: {:#?}",
        runner.call_lines()
    );
}

/// What removes the namespace `chaos-stale-0` a failed injection made.
fn cleanup_netns0() -> Vec<Expectation> {
    vec![
        inspect(T0, true),
        exec("ip netns list", "chaos-stale-0\n"),
        inspect(T0, true),
        exec("ip netns delete chaos-stale-0", ""),
    ]
}

/// A step failing half-way removes the namespaces and ports already made
/// (and only those), then reports the step's error.
#[tokio::test]
async fn a_failed_stale_netns_injection_removes_what_it_made() {
    let fault = |count, ovs_ports| {
        Fault::StaleNetns(StaleNetns {
            target: target(),
            count,
            ovs_ports,
        })
    };
    // The second namespace already exists (not ours): only the first goes.
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec("ip netns add chaos-stale-0", ""),
        inspect(T0, true),
        exec_failed(
            "ip netns add chaos-stale-1",
            1,
            "Cannot create namespace file \"/var/run/netns/chaos-stale-1\": File exists",
        ),
        inspect(T0, true),
        exec("ip netns list", "chaos-stale-1\nchaos-stale-0\n"),
        inspect(T0, true),
        exec("ip netns delete chaos-stale-0", ""),
    ]);
    let err = inject_fails(&runner, &fault(3, false)).await;
    assert!(
        err.contains("`docker exec chaos-contract-worker ip netns add chaos-stale-1` failed"),
        "{err}"
    );
    assert!(err.contains("File exists"), "{err}");

    // Listing fails after a namespace and a port were made: both go.
    let runner = ScriptedRunner::ordered(netns0_and_port());
    for e in [
        inspect(T0, true),
        exec_failed("ip netns list", 1, "mount --make-shared /run/netns failed"),
        ovs_pod_lookup(&format!("{OVS_POD}\n")),
        ovs_exec(
            "ovs-vsctl --timeout=10 --if-exists del-port br-int chaos-stale-0",
            "",
        ),
        inspect(T0, true),
        exec("ip netns list", "chaos-stale-0\n"),
        inspect(T0, true),
        exec("ip netns delete chaos-stale-0", ""),
    ] {
        runner.push(e);
    }
    let err = inject_fails(&runner, &fault(1, true)).await;
    assert!(err.contains("ip netns list` failed"), "{err}");

    // The first namespace cannot be made: nothing to remove, nothing run.
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec_failed("ip netns add chaos-stale-0", 1, "Permission denied"),
    ]);
    let err = inject_fails(&runner, &fault(2, true)).await;
    assert!(err.contains("Permission denied"), "{err}");
}

#[tokio::test]
async fn ovs_commands_need_exactly_one_ovs_ovn_pod_and_a_failing_ovs_vsctl_is_an_error() {
    let fault = Fault::StaleNetns(StaleNetns {
        target: target(),
        count: 1,
        ovs_ports: true,
    });
    for (pods, want) in [
        ("", "no pod labelled app=ovs in kube-system runs on it"),
        (
            "pod/ovs-ovn-a\npod/ovs-ovn-b\n",
            "several app=ovs pods run on it (pod/ovs-ovn-a, pod/ovs-ovn-b)",
        ),
    ] {
        let runner = ScriptedRunner::ordered(
            [
                inspect(T0, true),
                exec("ip netns add chaos-stale-0", ""),
                ovs_pod_lookup(pods),
            ]
            .into_iter()
            .chain(cleanup_netns0()),
        );
        let err = inject_fails(&runner, &fault).await;
        assert!(
            err.contains("cannot run Open vSwitch commands on chaos-contract-worker"),
            "{err}"
        );
        assert!(err.contains(want), "{err}");
    }

    // ovs-vsctl fails: the error carries the kubectl exec line and stderr.
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec("ip netns add chaos-stale-0", ""),
        ovs_pod_lookup(&format!("{OVS_POD}\n")),
        Expectation::failed(
            kc(&format!(
                "-n kube-system exec {OVS_POD} -c openvswitch -- {ADD_STALE_PORT}"
            )),
            1,
            "ovs-vsctl: no bridge named br-int",
        ),
    ]);
    for e in cleanup_netns0() {
        runner.push(e);
    }
    let err = inject_fails(&runner, &fault).await;
    assert!(
        err.contains("exec pod/ovs-ovn-7xk2p -c openvswitch -- ovs-vsctl --timeout=10 add-port br-int chaos-stale-0"),
        "{err}"
    );
    assert!(err.contains("no bridge named br-int"), "{err}");
}

#[tokio::test]
async fn cni_config_remove_finds_the_kube_ovn_conflist_and_revert_restores_it() {
    let conf = "{\"name\":\"kube-ovn\"}";
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec(
            "ls -1 /etc/cni/net.d",
            "00-multus.conf\n01-kube-ovn.conflist\n",
        ),
        inspect(T0, true),
        exec("cat /etc/cni/net.d/01-kube-ovn.conflist", conf),
        inspect(T0, true),
        exec("stat -c %a /etc/cni/net.d/01-kube-ovn.conflist", "600\n"),
        inspect(T0, true),
        exec("rm -f /etc/cni/net.d/01-kube-ovn.conflist", ""),
        inspect(T0, true),
        exec_failed(
            "cat /etc/cni/net.d/01-kube-ovn.conflist",
            1,
            "cat: /etc/cni/net.d/01-kube-ovn.conflist: No such file or directory",
        ),
    ]);
    let e = inject_and_revert(
        &runner,
        Fault::CniConfig(CniConfig {
            target: target(),
            action: CniConfigAction::Remove,
            file: CniFile::KubeOvn,
        }),
        vec![
            inspect(T0, true),
            exec_failed(
                "cat /etc/cni/net.d/01-kube-ovn.conflist",
                1,
                "cat: /etc/cni/net.d/01-kube-ovn.conflist: No such file or directory",
            ),
            inspect(T0, true),
            ok(words(
                "docker exec -i chaos-contract-worker tee /etc/cni/net.d/01-kube-ovn.conflist",
            )),
            // tee made a new file with the umask's mode; Kube-OVN's 0600
            // decides whether it rewrites the file, so it is set back.
            inspect(T0, true),
            exec("chmod 600 /etc/cni/net.d/01-kube-ovn.conflist", ""),
        ],
    )
    .await;
    assert!(e.took_effect, "{e:?}");
    assert!(e.summary().contains("mode before: 600"), "{}", e.summary());
    let calls = runner.calls();
    let tee = &calls[calls.len() - 3];
    assert_eq!(tee.get_args()[..2], ["exec", "-i"]);
    assert_eq!(tee.get_stdin(), Some(conf.as_bytes()));
}

/// `00-multus.conf` (`{}`, mode 644) is read before a fault.
fn multus_conf_read() -> Vec<Expectation> {
    vec![
        inspect(T0, true),
        exec("cat /etc/cni/net.d/00-multus.conf", "{}"),
        inspect(T0, true),
        exec("stat -c %a /etc/cni/net.d/00-multus.conf", "644\n"),
    ]
}

/// A delayed rewrite restores the file (and its mode) by itself once the
/// delay is over, without waiting for the revert.
#[tokio::test(start_paused = true)]
async fn a_delayed_rewrite_restores_the_file_and_its_mode_by_itself_after_the_delay() {
    let missing = || {
        exec_failed(
            "cat /etc/cni/net.d/00-multus.conf",
            1,
            "cat: /etc/cni/net.d/00-multus.conf: No such file or directory",
        )
    };
    let runner = ScriptedRunner::ordered(multus_conf_read());
    for e in [
        inspect(T0, true),
        exec("rm -f /etc/cni/net.d/00-multus.conf", ""),
        inspect(T0, true),
        missing(),
    ] {
        runner.push(e);
    }
    let (_dir, cluster) = open(&runner);
    let fault = Fault::CniConfig(CniConfig {
        target: target(),
        action: CniConfigAction::DelayedRewrite {
            delay: Duration::from_secs(30),
        },
        file: CniFile::Multus,
    });
    let e = cluster.inject(&fault, Some(&worker())).await.unwrap();
    assert!(e.took_effect, "{e:?}");
    runner.assert_done();
    for e in [
        inspect(T0, true),
        missing(),
        inspect(T0, true),
        ok(words(
            "docker exec -i chaos-contract-worker tee /etc/cni/net.d/00-multus.conf",
        )),
        inspect(T0, true),
        exec("chmod 644 /etc/cni/net.d/00-multus.conf", ""),
    ] {
        runner.push(e);
    }
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert_eq!(runner.remaining().len(), 6, "not before the delay");
    tokio::time::sleep(Duration::from_secs(2)).await;
    runner.assert_done();
    // Nothing is left for the revert.
    cluster.revert(&fault, &e).await.unwrap();
    runner.assert_done();
}

#[tokio::test]
async fn cni_config_truncate_leaves_zero_bytes_and_a_rewritten_file_is_left_alone() {
    let runner = ScriptedRunner::ordered(multus_conf_read());
    for e in [
        inspect(T0, true),
        exec("truncate -s 0 /etc/cni/net.d/00-multus.conf", ""),
        inspect(T0, true),
        exec("cat /etc/cni/net.d/00-multus.conf", ""),
    ] {
        runner.push(e);
    }
    let e = inject_and_revert(
        &runner,
        Fault::CniConfig(CniConfig {
            target: target(),
            action: CniConfigAction::Truncate,
            file: CniFile::Multus,
        }),
        vec![
            inspect(T0, true),
            exec("cat /etc/cni/net.d/00-multus.conf", "{\"rewritten\":true}"),
        ],
    )
    .await;
    assert!(e.took_effect, "{e:?}");
}

/// Truncating a file that is already empty would change nothing: the
/// fault has no effect, and nothing is run or left to undo.
#[tokio::test]
async fn cni_config_truncate_of_an_empty_file_has_no_effect_and_runs_nothing() {
    let runner = ScriptedRunner::ordered(vec![
        inspect(T0, true),
        exec("cat /etc/cni/net.d/00-multus.conf", ""),
    ]);
    let (_dir, cluster) = open(&runner);
    let fault = Fault::CniConfig(CniConfig {
        target: target(),
        action: CniConfigAction::Truncate,
        file: CniFile::Multus,
    });
    let e = cluster.inject(&fault, Some(&worker())).await.unwrap();
    assert!(!e.took_effect, "{e:?}");
    assert!(
        e.missing
            .as_deref()
            .is_some_and(|m| m.contains("already empty")),
        "{e:?}"
    );
    runner.assert_done();
    assert!(
        !runner.call_lines().iter().any(|l| l.contains("truncate")),
        "{:?}",
        runner.call_lines()
    );
    cluster.revert(&fault, &e).await.unwrap();
    runner.assert_done();
}

/// `docker exec -i` of the shim itself from an argv, with the config on
/// stdin (no shell).
fn shim_exec() -> Vec<String> {
    let mut v = words(
        "docker exec -i -e CNI_COMMAND=ADD -e CNI_CONTAINERID=cni-chaos-busy-shim -e CNI_NETNS=/var/run/netns/cni-chaos-busy-shim -e CNI_IFNAME=eth0 -e CNI_PATH=/opt/cni/bin",
    );
    v.push(WORKER.into());
    v.push("/opt/cni/bin/multus-shim".into());
    v
}

const MULTUS_CONF_JSON: &str = "{\"socketDir\":\"/run/multus/\"}";
const TEXT_FILE_BUSY: &str =
    "cp: cannot create regular file '/host/opt/cni/bin/multus-shim': Text file busy";

/// A whole `/proc/<pid>/stat` line (proc_pid_stat(5)): `starttime`, field
/// 22, is `start`.
fn stat(pid: u32, comm: &str, state: char, start: u64) -> String {
    format!(
        "{pid} ({comm}) {state} 1 {pid} {pid} 0 -1 4194560 120 0 0 0 1 0 0 0 20 0 5 0 {start} 1253376 310 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
    )
}

fn read_stat(pid: u32, comm: &str, state: char, start: u64) -> Vec<Expectation> {
    vec![
        inspect(T0, true),
        exec(
            &format!("cat /proc/{pid}/stat"),
            &stat(pid, comm, state, start),
        ),
    ]
}

fn stat_gone(pid: u32) -> Vec<Expectation> {
    vec![
        inspect(T0, true),
        exec_failed(
            &format!("cat /proc/{pid}/stat"),
            1,
            &format!("cat: /proc/{pid}/stat: No such file or directory"),
        ),
    ]
}

/// Steps 1 and 2: the daemon (240) is frozen, then the fault's own shim
/// (977) is started, told apart from one the runtime already runs (311, by
/// a pgrep before and after) and from one the runtime starts meanwhile
/// (976, by its CNI_CONTAINERID), and frozen too.
fn freeze_daemon_and_shim() -> Vec<Expectation> {
    let mut s = vec![
        inspect(T0, true),
        exec("cat /etc/cni/net.d/00-multus.conf", MULTUS_CONF_JSON),
        inspect(T0, true),
        exec("pgrep -x multus-daemon", "240\n"),
        inspect(T0, true),
        exec("kill -s STOP 240", ""),
    ];
    s.extend(read_stat(240, "multus-daemon", 'T', 5_000));
    s.extend([
        inspect(T0, true),
        exec("pgrep -x multus-shim", "311\n"),
        inspect(T0, true),
        Expectation::hang(shim_exec(), ""),
        inspect(T0, true),
        exec("pgrep -x multus-shim", "311\n976\n977\n"),
        inspect(T0, true),
        exec(
            "cat /proc/976/environ",
            "CNI_COMMAND=ADD\0CNI_CONTAINERID=5f2d0c1e9a\0",
        ),
        inspect(T0, true),
        exec(
            "cat /proc/977/environ",
            "PATH=/usr/bin\0CNI_COMMAND=ADD\0CNI_CONTAINERID=cni-chaos-busy-shim\0",
        ),
        inspect(T0, true),
        exec("kill -s STOP 977", ""),
    ]);
    s.extend(read_stat(977, "multus-shim", 'T', 9_000));
    s
}

/// Steps 3 and 4: the Multus pod is deleted with its own grace (no
/// `--grace-period`), waited for until gone, then the config is read and
/// the new pod's init container asked for its last run and log line.
fn replace_multus_pod(init_log: &str) -> Vec<Expectation> {
    let mut s = vec![
        Expectation::ok(
            kc(
                "-n kube-system get pods -l app=multus --field-selector spec.nodeName=chaos-contract-worker -o name",
            ),
            "pod/kube-multus-ds-abcde\n",
        ),
        Expectation::ok(
            kc("-n kube-system delete pod/kube-multus-ds-abcde --wait=false"),
            "pod \"kube-multus-ds-abcde\" deleted\n",
        ),
        Expectation::ok(
            kc("-n kube-system wait --for=delete pod/kube-multus-ds-abcde --timeout=60s"),
            "pod/kube-multus-ds-abcde condition met\n",
        ),
    ];
    s.extend(stat_gone(240));
    s.extend([
        inspect(T0, true),
        exec("cat /etc/cni/net.d/00-multus.conf", MULTUS_CONF_JSON),
        Expectation::ok(
            kc(
                "-n kube-system get pods -l app=multus --field-selector spec.nodeName=chaos-contract-worker -o json",
            ),
            serde_json::json!({"items": [
                {"metadata": {"name": "kube-multus-ds-abcde"}, "status": {"initContainerStatuses": [
                    {"name": "install-multus-binary", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}},
                {"metadata": {"name": "kube-multus-ds-fghij"}, "status": {"initContainerStatuses": [
                    {"name": "install-multus-binary",
                     "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                     "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}}
            ]})
            .to_string(),
        ),
        Expectation::ok(
            kc("-n kube-system logs kube-multus-ds-fghij -c install-multus-binary --tail=1"),
            format!("{init_log}\n"),
        ),
    ]);
    s
}

fn busy_shim_fault() -> Fault {
    Fault::LeftoverMultusConfig(LeftoverMultusConfig {
        target: target(),
        busy_shim: true,
        hold_for: DEFAULT_HOLD_FOR,
    })
}

/// Injects `fault` on the worker through the kind injector itself, so the
/// scheduled undo can be looked at.
async fn inject_directly(runner: &ScriptedRunner, fault: &Fault) -> kind::Injected {
    let (_dir, cluster) = open(runner);
    let kubectl = kind::Kubectl::new(Arc::new(runner.clone()), "/kubeconfig", CLUSTER);
    kind::inject(
        cluster.node_runtime(),
        Some(&kubectl),
        fault,
        Some(&worker()),
    )
    .await
    .unwrap()
}

fn frozen(pid: u32, name: &str, start_time: u64) -> kind::ProcessId {
    kind::ProcessId {
        pid,
        start_time,
        name: name.into(),
    }
}

/// The #1221 race without a reboot, deterministic: SIGSTOP the daemon,
/// start the fault's own shim against it and SIGSTOP that too, delete the
/// Multus pod with its own grace (the kubelet's SIGTERM reaches a frozen
/// daemon and its SIGKILL follows: no clean exit), wait until the old pod
/// is gone, and only then read 00-multus.conf and the new init container's
/// last log line. The undo, due after hold-for, kills the shim and the
/// daemon by PID after checking start time and name, and tolerates a
/// daemon that is gone.
#[tokio::test]
async fn leftover_multus_config_freezes_the_daemon_and_a_busy_shim_then_replaces_the_pod() {
    let mut script = freeze_daemon_and_shim();
    script.extend(replace_multus_pod(TEXT_FILE_BUSY));
    let runner = ScriptedRunner::ordered(script);
    let injected = inject_directly(&runner, &busy_shim_fault()).await;
    runner.assert_done();
    let e = &injected.evidence;
    assert!(e.took_effect, "{e:?}");
    let summary = e.summary();
    for part in [
        "multus-daemon frozen (SIGSTOP): 240",
        "multus-shim already running (not ours): 311",
        "busy multus-shim frozen (SIGSTOP): 977",
        "busy multus-shim start time (ticks after boot): 9000",
        "deleted: pod/kube-multus-ds-abcde",
        "old Multus pod gone: yes",
        "multus-daemon 240 after the delete: gone, without its clean exit",
        "00-multus.conf left: true",
        "new Multus pod: kube-multus-ds-fghij",
        "install-multus-binary exit code: 1 (Error)",
    ] {
        assert!(summary.contains(part), "{part} not in {summary}");
    }
    // The new init container's run is the fault's record, read once here:
    // its own frozen shim held the binary through it.
    let pre = &injected.evidence.preconditions;
    let init = pre.multus_init.as_ref().expect("the init container's run");
    assert_eq!(init.last_log.as_deref(), Some(TEXT_FILE_BUSY));
    assert_eq!(pre.value(Precondition::InitTextFileBusy), Some(true));
    assert_eq!(pre.value(Precondition::ShimRunningAtInit), Some(true));
    let scheduled = injected.undo.expect("what was frozen is killed");
    assert_eq!(scheduled.after, Some(Duration::from_secs(90)), "hold-for");
    assert_eq!(
        scheduled.undo,
        kind::Undo::KillFrozen {
            node: WORKER.into(),
            processes: vec![
                frozen(240, "multus-daemon", 5_000),
                frozen(977, "multus-shim", 9_000)
            ],
        }
    );
    let shim = runner
        .calls()
        .into_iter()
        .find(|c| {
            c.get_args()
                .contains(&"/opt/cni/bin/multus-shim".to_string())
        })
        .unwrap();
    assert_eq!(shim.get_stdin(), Some(MULTUS_CONF_JSON.as_bytes()));
    assert!(
        shim.get_timeout() > Duration::from_secs(90),
        "the shim's docker exec outlives the hold: {:?}",
        shim.get_timeout()
    );
    let lines = runner.call_lines();
    assert!(
        lines.iter().all(|l| !l.contains(" sh -c ")
            && !l.contains("--grace-period")
            && !l.contains("--force")
            && !l.contains("-s CONT")
            && !l.contains("311")
            && !l.contains("kill -s STOP 976")
            || l.ends_with("pgrep -x multus-shim")),
        "no shell, no grace override, no SIGCONT, and the runtime's shims are never touched: {lines:#?}"
    );

    // The undo: the daemon is gone (the kubelet SIGKILLed it), the shim is
    // still the one frozen and is killed.
    let mut undo = stat_gone(240);
    undo.extend(read_stat(977, "multus-shim", 'T', 9_000));
    undo.extend([inspect(T0, true), exec("kill -s KILL 977", "")]);
    let runner = ScriptedRunner::ordered(undo);
    let (_dir, cluster) = open(&runner);
    let did = kind::undo(cluster.node_runtime(), &scheduled.undo)
        .await
        .unwrap();
    runner.assert_done();
    assert_eq!(
        did,
        "on chaos-contract-worker: killed [multus-shim PID 977 (started at tick 9000)]; already gone [multus-daemon PID 240 (started at tick 5000)]; left alone (PID reused) []"
    );
}

/// A fixed Multus (install_multus, atomic) installs the shim over the busy
/// file: the init container succeeds, which is recorded, and the fault
/// still took (config left, shim busy and frozen, pod replaced).
#[tokio::test]
async fn leftover_multus_config_records_an_init_container_that_succeeds_and_still_took_effect() {
    let mut script = freeze_daemon_and_shim();
    let mut replace = replace_multus_pod("");
    // The new pod's init container finished with exit 0.
    let n = replace.len();
    replace[n - 2] = Expectation::ok(
        kc(
            "-n kube-system get pods -l app=multus --field-selector spec.nodeName=chaos-contract-worker -o json",
        ),
        serde_json::json!({"items": [
            {"metadata": {"name": "kube-multus-ds-fghij"}, "status": {"initContainerStatuses": [
                {"name": "install-multus-binary", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}
        ]})
        .to_string(),
    );
    script.extend(replace);
    let runner = ScriptedRunner::ordered(script);
    let injected = inject_directly(&runner, &busy_shim_fault()).await;
    runner.assert_done();
    let e = &injected.evidence;
    assert!(e.took_effect, "{e:?}");
    assert!(
        e.summary()
            .contains("install-multus-binary exit code: 0 (Completed)"),
        "{}",
        e.summary()
    );
    let init = e.preconditions.multus_init.as_ref().expect("the run");
    assert_eq!(init.last_log.as_deref(), Some(""));
    assert_eq!(
        e.preconditions.value(Precondition::InitTextFileBusy),
        Some(false)
    );
}

/// The undo kills only what is still the very process frozen: a daemon
/// still frozen is killed; a shim PID that another program got since (the
/// name or the start time changed) is left alone and reported; a process
/// that ends between the check and the kill is "already gone".
#[tokio::test]
async fn the_frozen_multus_undo_checks_start_time_and_name_and_leaves_a_reused_pid_alone() {
    let undo = kind::Undo::KillFrozen {
        node: WORKER.into(),
        processes: vec![
            frozen(240, "multus-daemon", 5_000),
            frozen(977, "multus-shim", 9_000),
            frozen(978, "multus-shim", 9_100),
            frozen(979, "multus-shim", 9_200),
        ],
    };
    let mut script = read_stat(240, "multus-daemon", 'T', 5_000);
    script.extend([inspect(T0, true), exec("kill -s KILL 240", "")]);
    // Same name, another start time: another multus-shim got the PID.
    script.extend(read_stat(977, "multus-shim", 'S', 12_345));
    // Another name.
    script.extend(read_stat(978, "sleep", 'S', 9_100));
    // Still the one frozen, but gone by the time of the kill.
    script.extend(read_stat(979, "multus-shim", 'T', 9_200));
    script.extend([
        inspect(T0, true),
        exec_failed("kill -s KILL 979", 1, "kill: (979) - No such process"),
    ]);
    let runner = ScriptedRunner::ordered(script);
    let (_dir, cluster) = open(&runner);
    let did = kind::undo(cluster.node_runtime(), &undo).await.unwrap();
    runner.assert_done();
    assert_eq!(
        did,
        "on chaos-contract-worker: killed [multus-daemon PID 240 (started at tick 5000)]; already gone [multus-shim PID 979 (started at tick 9200)]; left alone (PID reused) [multus-shim PID 977 (started at tick 9000): PID now multus-shim started at tick 12345, multus-shim PID 978 (started at tick 9100): PID now sleep started at tick 9100]"
    );
    let lines = runner.call_lines();
    assert!(
        !lines
            .iter()
            .any(|l| l.ends_with("KILL 977") || l.ends_with("KILL 978")),
        "{lines:#?}"
    );
    // Any other kill failure is an error with the command and its output,
    // after every other process got its kill: the busy shim does not stay
    // frozen because the daemon could not be killed.
    let mut script = read_stat(240, "multus-daemon", 'T', 5_000);
    script.extend([
        inspect(T0, true),
        exec_failed(
            "kill -s KILL 240",
            1,
            "kill: (240) - Operation not permitted",
        ),
    ]);
    script.extend(read_stat(979, "multus-shim", 'T', 9_200));
    script.extend([inspect(T0, true), exec("kill -s KILL 979", "")]);
    let runner = ScriptedRunner::ordered(script);
    let (_dir, cluster) = open(&runner);
    let err = kind::undo(
        cluster.node_runtime(),
        &kind::Undo::KillFrozen {
            node: WORKER.into(),
            processes: vec![
                frozen(240, "multus-daemon", 5_000),
                frozen(979, "multus-shim", 9_200),
            ],
        },
    )
    .await
    .unwrap_err()
    .to_string();
    runner.assert_done();
    assert!(
        err.contains("kill -s KILL 240") && err.contains("Operation not permitted"),
        "{err}"
    );
}

/// No Multus daemon is no effect, before anything is frozen or deleted; a
/// shim that exits at once (something answers on the socket) is no effect
/// with its exit, nothing is deleted, and the frozen daemon is still killed
/// by the undo.
#[tokio::test]
async fn leftover_multus_config_without_a_daemon_or_with_an_answering_socket_is_no_effect() {
    let fault = busy_shim_fault();
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec("cat /etc/cni/net.d/00-multus.conf", "{}"),
        inspect(T0, true),
        exec_failed("pgrep -x multus-daemon", 1, ""),
    ]);
    let injected = inject_directly(&runner, &fault).await;
    runner.assert_done();
    assert!(!injected.evidence.took_effect);
    assert!(
        injected
            .evidence
            .summary()
            .contains("no multus-daemon runs"),
        "{}",
        injected.evidence.summary()
    );
    assert_eq!(injected.undo, None, "nothing was frozen");

    let mut script = vec![
        inspect(T0, true),
        exec("cat /etc/cni/net.d/00-multus.conf", "{}"),
        inspect(T0, true),
        exec("pgrep -x multus-daemon", "240\n"),
        inspect(T0, true),
        exec("kill -s STOP 240", ""),
    ];
    script.extend(read_stat(240, "multus-daemon", 'T', 5_000));
    script.extend([
        inspect(T0, true),
        exec_failed("pgrep -x multus-shim", 1, ""),
        inspect(T0, true),
        Expectation::failed(shim_exec(), 1, "CmdAdd (shim): invalid CNI configuration"),
        inspect(T0, true),
        exec_failed("pgrep -x multus-shim", 1, ""),
    ]);
    let runner = ScriptedRunner::ordered(script);
    let injected = inject_directly(&runner, &fault).await;
    runner.assert_done();
    let e = &injected.evidence;
    assert!(!e.took_effect);
    assert!(
        e.summary()
            .contains("it exited with exit code 1: CmdAdd (shim): invalid CNI configuration"),
        "{}",
        e.summary()
    );
    assert!(
        !runner.call_lines().iter().any(|l| l.contains("delete")),
        "nothing is deleted when the shim did not take: {:#?}",
        runner.call_lines()
    );
    assert_eq!(
        injected.undo.map(|s| s.undo),
        Some(kind::Undo::KillFrozen {
            node: WORKER.into(),
            processes: vec![frozen(240, "multus-daemon", 5_000)],
        })
    );
}

/// An old pod that is still there when the bounded wait ends is no
/// effect: the config cannot be judged while the daemon may still exit.
#[tokio::test]
async fn leftover_multus_config_whose_old_pod_does_not_go_is_no_effect() {
    let mut script = freeze_daemon_and_shim();
    let mut replace = replace_multus_pod(TEXT_FILE_BUSY);
    replace[2] = Expectation::failed(
        kc("-n kube-system wait --for=delete pod/kube-multus-ds-abcde --timeout=60s"),
        1,
        "error: timed out waiting for the condition on pods/kube-multus-ds-abcde",
    );
    script.extend(replace);
    let runner = ScriptedRunner::ordered(script);
    let injected = inject_directly(&runner, &busy_shim_fault()).await;
    runner.assert_done();
    let e = &injected.evidence;
    assert!(!e.took_effect, "{e:?}");
    assert!(
        e.missing.as_deref().is_some_and(|m| m.contains(
            "the old Multus pod was not gone 1m after its delete: pod/kube-multus-ds-abcde: error: timed out"
        )),
        "{e:?}"
    );
}

/// A replacement that fails half-way (the delete is refused) kills what
/// was frozen before the error is returned: nothing is left stopped.
#[tokio::test]
async fn a_failed_multus_pod_delete_kills_what_was_frozen_before_the_error() {
    let mut script = freeze_daemon_and_shim();
    script.extend([
        Expectation::ok(
            kc(
                "-n kube-system get pods -l app=multus --field-selector spec.nodeName=chaos-contract-worker -o name",
            ),
            "pod/kube-multus-ds-abcde\n",
        ),
        Expectation::failed(
            kc("-n kube-system delete pod/kube-multus-ds-abcde --wait=false"),
            1,
            "Error from server (Forbidden): pods \"kube-multus-ds-abcde\" is forbidden",
        ),
    ]);
    script.extend(read_stat(240, "multus-daemon", 'T', 5_000));
    script.extend([inspect(T0, true), exec("kill -s KILL 240", "")]);
    script.extend(read_stat(977, "multus-shim", 'T', 9_000));
    script.extend([inspect(T0, true), exec("kill -s KILL 977", "")]);
    let runner = ScriptedRunner::ordered(script);
    let err = inject_fails(&runner, &busy_shim_fault()).await;
    assert!(err.contains("Forbidden"), "{err}");
}

/// The worker's `docker inspect` with this address on `kind`.
fn inspect_at(started: &str, ip: &str) -> Expectation {
    Expectation::ok(
        ["docker", "inspect", "--type", "container", WORKER],
        inspect_json(WORKER, Some(CLUSTER), "worker", started, &[("kind", ip)]),
    )
}

/// The worker is disconnected from `kind` (a partition's injection).
fn disconnect() -> Vec<Expectation> {
    vec![
        inspect(T0, true),
        inspect(T0, true),
        ok(words(
            "docker network disconnect kind chaos-contract-worker",
        )),
        inspect(T0, false),
    ]
}

/// The worker's `docker inspect` on `kind` with IPv4 172.18.0.3 and an
/// IPv6 address from kind's ULA subnet.
fn inspect_dual(attached: bool) -> Expectation {
    let nets: &[(&str, &str)] = if attached {
        &[("kind", "172.18.0.3")]
    } else {
        &[]
    };
    let mut json: serde_json::Value =
        serde_json::from_str(&inspect_json(WORKER, Some(CLUSTER), "worker", T0, nets)).unwrap();
    if attached {
        json[0]["NetworkSettings"]["Networks"]["kind"]["GlobalIPv6Address"] =
            "fc00:f853:ccd:e793::3".into();
    }
    Expectation::ok(
        ["docker", "inspect", "--type", "container", WORKER],
        json.to_string(),
    )
}

/// A real partition keeps the node's address: the heal reconnects with
/// `--ip <the old IPv4>`.
#[tokio::test]
async fn partition_disconnects_and_revert_reconnects_with_the_old_address() {
    let runner = ScriptedRunner::ordered(disconnect());
    let e = inject_and_revert(
        &runner,
        Fault::NetworkPartition(NetworkPartition {
            target: target(),
            duration: Duration::from_secs(3600),
        }),
        vec![
            inspect(T0, false),
            inspect(T0, false),
            ok(words(
                "docker network connect --ip 172.18.0.3 kind chaos-contract-worker",
            )),
            inspect(T0, true),
        ],
    )
    .await;
    assert!(e.took_effect, "{e:?}");
    assert!(
        e.summary().contains("IP before: 172.18.0.3"),
        "{}",
        e.summary()
    );
}

/// kind's `kind` network has a user-set subnet only for IPv6, so Docker
/// refuses a fixed IPv4 address there (moby api/types/network/endpoint.go,
/// per family): the heal asks for both, and on that refusal reconnects with
/// `--ip6` alone and reports where IPv4 came from.
#[tokio::test]
async fn on_kinds_network_the_heal_keeps_ipv6_and_lets_ipam_pick_ipv4() {
    let mut inject = vec![inspect_dual(true), inspect_dual(true)];
    inject.push(ok(words(
        "docker network disconnect kind chaos-contract-worker",
    )));
    inject.push(inspect_dual(false));
    let runner = ScriptedRunner::ordered(inject);
    let (_dir, cluster) = open(&runner);
    let fault = Fault::NetworkPartition(NetworkPartition {
        target: target(),
        duration: Duration::from_secs(3600),
    });
    let e = cluster.inject(&fault, Some(&worker())).await.unwrap();
    runner.assert_done();
    assert!(
        e.facts
            .contains(&("IPv6 before".into(), "fc00:f853:ccd:e793::3".into())),
        "{e:?}"
    );
    for x in [
        inspect_dual(false),
        inspect_dual(false),
        Expectation::failed(
            words(
                "docker network connect --ip 172.18.0.3 --ip6 fc00:f853:ccd:e793::3 kind chaos-contract-worker",
            ),
            1,
            "Error response from daemon: user specified IP address is supported only when connecting to networks with user configured subnets\n",
        ),
        ok(words(
            "docker network connect --ip6 fc00:f853:ccd:e793::3 kind chaos-contract-worker",
        )),
        inspect_dual(true),
    ] {
        runner.push(x);
    }
    let nodes = cluster.node_runtime();
    let undo = reconnect_undo(Some("fc00:f853:ccd:e793::3"));
    let did = kind::undo(nodes, &undo).await.unwrap();
    runner.assert_done();
    assert_eq!(
        did,
        "reconnected chaos-contract-worker to kind (IPv4 from Docker's IPAM, IPv6 kept with --ip6 (Docker refused: Error response from daemon: user specified IP address is supported only when connecting to networks with user configured subnets)): IP before 172.18.0.3, after 172.18.0.3 (kept)"
    );
}

/// Docker refusing `docker network connect <flags> kind <worker>` with `why`.
fn connect_refused(flags: &str, why: &str) -> Expectation {
    Expectation::failed(
        words(&format!(
            "docker network connect {flags} kind chaos-contract-worker"
        )),
        1,
        format!("Error response from daemon: {why}"),
    )
}

/// Docker's words for a fixed address on a family without a configured subnet.
const NO_USER_SUBNET: &str = "user specified IP address is supported only when connecting to networks with user configured subnets";

/// The heal of the worker's partition, with its old addresses.
fn reconnect_undo(ip6: Option<&str>) -> kind::Undo {
    kind::Undo::Reconnect {
        node: WORKER.into(),
        ip_before: Some("172.18.0.3".into()),
        ip6_before: ip6.map(str::to_string),
    }
}

/// An old address another container holds cannot come back: after the
/// IPv4 refusal, `--ip6` is refused as in use, and the node is reconnected
/// with IPAM's addresses rather than left partitioned; the heal records the
/// change for node-ip-stable.
#[tokio::test]
async fn a_heal_whose_old_addresses_are_taken_reconnects_with_ipams() {
    let runner = ScriptedRunner::ordered([
        inspect(T0, false),
        inspect(T0, false),
        connect_refused(
            "--ip 172.18.0.3 --ip6 fc00:f853:ccd:e793::3",
            NO_USER_SUBNET,
        ),
        connect_refused("--ip6 fc00:f853:ccd:e793::3", "Address already in use"),
        ok(words("docker network connect kind chaos-contract-worker")),
        inspect_at(T0, "172.18.0.5"),
    ]);
    let (_dir, cluster) = open(&runner);
    let undo = reconnect_undo(Some("fc00:f853:ccd:e793::3"));
    let (did, heal) = kind::undo_recorded(cluster.node_runtime(), &undo)
        .await
        .unwrap();
    runner.assert_done();
    assert!(
        did.contains("(IPv4 from Docker's IPAM, IPv6 from Docker's IPAM (Docker refused: "),
        "{did}"
    );
    assert!(did.contains("Address already in use"), "{did}");
    assert!(
        did.ends_with("IP before 172.18.0.3, after 172.18.0.5 (changed)"),
        "{did}"
    );
    assert_eq!(heal.map(|h| h.after), Some("172.18.0.5".to_string()));
}

#[tokio::test]
async fn a_healed_partition_reports_a_changed_address_and_a_failed_connect_is_an_error() {
    let runner = ScriptedRunner::ordered([
        inspect(T0, false),
        inspect(T0, false),
        connect_refused("--ip 172.18.0.3", NO_USER_SUBNET),
        ok(words("docker network connect kind chaos-contract-worker")),
        inspect_at(T0, "172.18.0.9"),
    ]);
    let (_dir, cluster) = open(&runner);
    let nodes = cluster.node_runtime();
    let undo = reconnect_undo(None);
    let (did, heal) = kind::undo_recorded(nodes, &undo).await.unwrap();
    runner.assert_done();
    assert!(
        did.ends_with("IP before 172.18.0.3, after 172.18.0.9 (changed)"),
        "{did}"
    );
    assert_eq!(
        heal,
        Some(cni_chaos::observe::HealedAddress {
            node: WORKER.into(),
            before: Some("172.18.0.3".into()),
            after: "172.18.0.9".into(),
        })
    );

    // Any other refusal is an error carrying its command and stderr.
    let runner = ScriptedRunner::ordered([
        inspect(T0, false),
        inspect(T0, false),
        connect_refused("--ip 172.18.0.3", "network kind not found"),
    ]);
    let (_dir, cluster) = open(&runner);
    let nodes = cluster.node_runtime();
    let err = kind::undo(nodes, &undo).await.unwrap_err().to_string();
    runner.assert_done();
    assert!(
        err.contains("`docker network connect --ip 172.18.0.3 kind chaos-contract-worker` failed with exit code 1"),
        "{err}"
    );
    assert!(err.contains("network kind not found"), "{err}");
}

#[tokio::test]
async fn pod_delete_deletes_what_the_selector_matched_and_nothing_matched_is_no_effect() {
    let kubectl = kc;
    let runner = ScriptedRunner::ordered([
        Expectation::ok(
            kubectl(
                "-n kube-system get pods -l app=multus --field-selector spec.nodeName=chaos-contract-worker -o name",
            ),
            "pod/kube-multus-ds-abcde\n",
        ),
        Expectation::ok(
            kubectl("-n kube-system delete pod/kube-multus-ds-abcde --wait=false --grace-period=0"),
            "pod \"kube-multus-ds-abcde\" deleted\n",
        ),
        Expectation::ok(
            kubectl(
                "-n kube-system get pods -l app=nothing --field-selector spec.nodeName=chaos-contract-worker -o name",
            ),
            "",
        ),
    ]);
    let fault = |sel: &str| {
        Fault::PodDelete(PodDelete {
            namespace: "kube-system".into(),
            selector: LabelSelector::parse(sel).unwrap(),
            target: Some(target()),
            grace_period: Some(Duration::ZERO),
        })
    };
    let (_dir, cluster) = open(&runner);
    let e = cluster
        .inject(&fault("app=multus"), Some(&worker()))
        .await
        .unwrap();
    assert!(e.took_effect, "{e:?}");
    let e = cluster
        .inject(&fault("app=nothing"), Some(&worker()))
        .await
        .unwrap();
    assert!(!e.took_effect);
    assert!(e.summary().contains("matched no pod"), "{}", e.summary());
    runner.assert_done();
}

#[tokio::test(start_paused = true)]
async fn a_hanging_docker_command_times_out_with_its_command_line_and_output() {
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        inspect(T0, true),
        Expectation::new(
            words("docker stop -t 30 chaos-contract-worker"),
            cni_chaos::exec::Respond::Hang {
                stdout: String::new(),
                stderr: "Error response from daemon: stopping container: still running\n".into(),
            },
        ),
    ]);
    let (_dir, cluster) = open(&runner);
    let fault = Fault::NodeReboot(NodeReboot {
        target: target(),
        mode: RebootMode::Graceful,
        timeout: Duration::from_secs(30),
    });
    let err = cluster.inject(&fault, Some(&worker())).await.unwrap_err();
    runner.assert_done();
    let BackendError::Exec(ExecError::Timeout {
        command,
        timeout,
        stderr,
        ..
    }) = &err
    else {
        panic!("expected a timeout, got {err:?}");
    };
    assert_eq!(command, "docker stop -t 30 chaos-contract-worker");
    assert_eq!(*timeout, Duration::from_secs(90));
    assert!(stderr.contains("still running"));
    assert!(err.to_string().contains("timed out after 90s"), "{err}");
}

// ---- safety ---------------------------------------------------------------

/// Commands that change something.
fn destructive(line: &str) -> bool {
    let read_only = [
        "docker inspect",
        "docker ps",
        "docker version",
        "kind get",
        "kind version",
        "kubectl version",
        "curl --version",
        "docker info --format",
        "df -Pk",
        "cat /proc/sys/kernel/osrelease /proc/sys/fs/inotify/",
    ];
    !read_only.iter().any(|p| line.starts_with(p))
}

#[tokio::test]
async fn a_kubeconfig_for_another_context_is_refused_before_any_command() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, "current-context: prod-admin@prod\n").unwrap();
    let runner = ScriptedRunner::ordered([]);
    let config = KindConfig::load(&repo().join("kind-configs/default.yaml")).unwrap();
    let err = KindCluster::open(
        Arc::new(runner.clone()),
        CLUSTER,
        config.clone(),
        kubeconfig.clone(),
        Guard::harness(None),
        false,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("refusing to act on kube context \"prod-admin@prod\""),
        "{msg}"
    );
    assert!(msg.contains("kind-chaos-contract"), "{msg}");
    // A name the harness did not make is refused too.
    let err = KindCluster::open(
        Arc::new(runner.clone()),
        "kind",
        config,
        kubeconfig,
        Guard::harness(None),
        false,
    )
    .unwrap_err();
    assert!(matches!(err, KindError::Unsafe { .. }), "{err}");
    assert!(runner.calls().is_empty(), "{:?}", runner.call_lines());
}

/// Attaching to CHAOS_CLUSTER=chaos-old: kind lists `clusters`, its
/// kubeconfig has the right context, and `docker ps` lists `nodes`.
fn attach_script(clusters: &str, nodes: &str) -> Vec<Expectation> {
    vec![
        Expectation::ok(["kind", "get", "clusters"], clusters),
        Expectation::ok(
            ["kind", "get", "kubeconfig", "--name", "chaos-old"],
            "apiVersion: v1\ncurrent-context: kind-chaos-old\n",
        ),
        Expectation::ok(
            [
                "docker",
                "ps",
                "-a",
                "--filter",
                "label=io.x-k8s.kind.cluster=chaos-old",
                "--format",
                "{{.Names}}\t{{.Label \"io.x-k8s.kind.role\"}}",
            ],
            nodes,
        ),
    ]
}

#[tokio::test]
async fn chaos_cluster_reuse_checks_kind_the_context_and_the_labels() {
    let ws = workspace(true);
    let state = tempfile::tempdir().unwrap();
    // Known to kind, the right context, but no labelled node containers.
    let runner = ScriptedRunner::ordered(attach_script("kind\nchaos-old\n", ""));
    let mut options = KindOptions::new(ws.path());
    options.state_dir = Some(state.path().into());
    options.reuse = Some("chaos-old".into());
    let backend = KindBackend::new(Arc::new(runner.clone()), options.clone(), "contract").unwrap();
    let msg = fails(&backend).await;
    assert!(
        msg.contains("no container carries its io.x-k8s.kind.cluster label"),
        "{msg}"
    );
    runner.assert_done();
    let lines = runner.call_lines();
    assert!(lines.iter().all(|l| !destructive(l)), "{lines:#?}");

    // A CHAOS_CLUSTER whose kubeconfig points elsewhere is refused.
    let runner = ScriptedRunner::ordered([
        Expectation::ok(["kind", "get", "clusters"], "chaos-old\n"),
        Expectation::ok(
            ["kind", "get", "kubeconfig", "--name", "chaos-old"],
            "current-context: prod-admin@prod\n",
        ),
    ]);
    options.reuse = Some("chaos-old".into());
    let backend = KindBackend::new(Arc::new(runner.clone()), options.clone(), "contract").unwrap();
    let msg = fails(&backend).await;
    assert!(msg.contains("prod-admin@prod"), "{msg}");
    runner.assert_done();
    assert!(runner.call_lines().iter().all(|l| !destructive(l)));

    // A CHAOS_CLUSTER kind does not know is refused.
    let runner = ScriptedRunner::ordered([Expectation::ok(["kind", "get", "clusters"], "other\n")]);
    options.reuse = Some("chaos-gone".into());
    let backend = KindBackend::new(Arc::new(runner.clone()), options, "contract").unwrap();
    let msg = fails(&backend).await;
    assert!(msg.contains("does not list it"), "{msg}");
    runner.assert_done();
}

/// CHAOS_CLUSTER on the success path: the kubeconfig kind prints is kept in
/// a fresh private state folder (random name, mode 0700, file 0600), and
/// the teardown leaves the cluster in place and removes only that folder.
#[tokio::test]
async fn a_reused_cluster_is_attached_privately_and_never_deleted() {
    use std::os::unix::fs::PermissionsExt;
    let ws = workspace(true);
    let node = |n: &str, role: &str| {
        Expectation::ok(
            ["docker", "inspect", "--type", "container", n],
            inspect_json(n, Some("chaos-old"), role, T0, &[("kind", "172.18.0.2")]),
        )
    };
    let runner = ScriptedRunner::ordered(attach_script(
        "chaos-old\n",
        "chaos-old-control-plane\tcontrol-plane\nchaos-old-worker\tworker\n",
    ));
    runner.push(node("chaos-old-control-plane", "control-plane"));
    runner.push(node("chaos-old-worker", "worker"));
    let mut options = KindOptions::new(ws.path());
    options.reuse = Some("chaos-old".into());
    assert_eq!(options.state_dir, None);
    let backend = KindBackend::new(Arc::new(runner.clone()), options, "contract").unwrap();
    assert_eq!(
        backend.state_dir(),
        None,
        "nothing is made before it is needed"
    );
    let cluster = backend
        .provision(&profile(), &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    runner.assert_done();
    let root = backend.state_dir().expect("made at the first provisioning");
    let name = root.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("cni-chaos-kind-"), "{name}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&root), 0o700);
    assert_eq!(mode(&root.join("chaos-old")), 0o700);
    assert_eq!(mode(&root.join("chaos-old/kubeconfig")), 0o600);

    cluster.teardown().await.unwrap();
    runner.assert_done();
    assert!(
        runner.call_lines().iter().all(|l| !destructive(l)),
        "{:#?}",
        runner.call_lines()
    );
    assert!(
        !root.join("chaos-old").exists(),
        "the cluster's folder is removed"
    );

    // A replacement (a cluster retired after a failed recovery) is made in
    // the same state folder, which outlived the first cluster.
    for e in attach_script(
        "chaos-old\n",
        "chaos-old-control-plane\tcontrol-plane\nchaos-old-worker\tworker\n",
    ) {
        runner.push(e);
    }
    runner.push(node("chaos-old-control-plane", "control-plane"));
    runner.push(node("chaos-old-worker", "worker"));
    let again = backend
        .provision(&profile(), &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    runner.assert_done();
    assert_eq!(backend.state_dir().as_deref(), Some(root.as_path()));
    again.teardown().await.unwrap();
    drop(backend);
    assert!(!root.exists(), "the state folder goes with the backend");
}

#[tokio::test]
async fn node_containers_without_the_kind_label_are_refused_before_any_destructive_command() {
    let unlabelled = Expectation::ok(
        ["docker", "inspect", "--type", "container", WORKER],
        inspect_json(WORKER, None, "worker", T0, &[("kind", "172.18.0.3")]),
    );
    let other_cluster = Expectation::ok(
        ["docker", "inspect", "--type", "container", WORKER],
        inspect_json(WORKER, Some("chaos-someone-else"), "worker", T0, &[]),
    );
    let faults = [
        Fault::NodeReboot(NodeReboot {
            target: target(),
            mode: RebootMode::Hard,
            timeout: Duration::from_secs(30),
        }),
        Fault::OvsKill(OvsKill {
            target: target(),
            process: OvsProcess::OvsVswitchd,
            signal: OvsSignal::Kill,
            stop_for: None,
        }),
        Fault::NetworkPartition(NetworkPartition {
            target: target(),
            duration: Duration::from_secs(5),
        }),
        Fault::CniConfig(CniConfig {
            target: target(),
            action: CniConfigAction::Remove,
            file: CniFile::Multus,
        }),
        Fault::StaleNetns(StaleNetns {
            target: target(),
            count: 1,
            ovs_ports: false,
        }),
    ];
    for answer in [unlabelled, other_cluster] {
        for fault in &faults {
            let runner = ScriptedRunner::ordered([answer.clone()]);
            let (_dir, cluster) = open(&runner);
            let err = cluster.inject(fault, Some(&worker())).await.unwrap_err();
            assert!(matches!(err, BackendError::Unsafe { .. }), "{fault}: {err}");
            let lines = runner.call_lines();
            assert_eq!(lines.len(), 1, "{fault}: {lines:#?}");
            assert!(lines.iter().all(|l| !destructive(l)), "{fault}: {lines:#?}");
        }
    }
}

// ---- the dry-run plan -----------------------------------------------------

/// The full `CHAOS_DRY_RUN=1` command plan of `suite` on its own matrix
/// cell: provision, each scenario's steady-state gate (with what it
/// deploys first), inject and revert, log export, delete.
async fn dry_run_plan(suite: &str) -> String {
    dry_run_plan_of(&repo().join(format!("suites/{suite}.yaml"))).await
}

/// [`dry_run_plan`] of the suite file `file`.
async fn dry_run_plan_of(file: &Path) -> String {
    let state = tempfile::tempdir().unwrap();
    let runner = LocalRunner::dry_run();
    let mut options = KindOptions::new(repo());
    options.dry_run = true;
    options.state_dir = Some(state.path().into());
    options.logs_dir = PathBuf::from("reports/kind-logs");
    options.names = NameSource::Fixed("chaos-plan".into());
    let backend = KindBackend::new(Arc::new(runner.clone()), options, "plan").unwrap();
    let suites = cni_chaos::suite::load(&[file.to_path_buf()]).unwrap();
    let suite = &suites[0];
    let cluster = backend
        .provision(&suite.cluster, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let nodes = cluster.nodes().await.unwrap();
    for scenario in &suite.scenarios {
        let gate = cluster
            .steady_state(scenario, Duration::ZERO)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(gate.steady, "a dry run's gate is steady: {gate:?}");
        let node = scenario
            .fault
            .target()
            .map(|t| select_node(&nodes, t, None, 0).unwrap());
        let evidence = cluster
            .inject(&scenario.fault, node.as_ref())
            .await
            .unwrap();
        assert!(
            evidence.planned && !evidence.took_effect,
            "a dry run is planned and proves nothing: {evidence:?}"
        );
        cluster.revert(&scenario.fault, &evidence).await.unwrap();
    }
    cluster
        .collect_logs(Path::new("reports/kind-logs/chaos-plan"))
        .await
        .unwrap();
    cluster.teardown().await.unwrap();

    let state_dir = state.path().display().to_string();
    let repo_dir = repo().display().to_string();
    runner
        .planned()
        .iter()
        .map(|l| {
            format!(
                "{}\n",
                l.replace(&state_dir, "$STATE").replace(&repo_dir, "$REPO")
            )
        })
        .collect()
}

/// Compares a plan with its golden file; `CHAOS_BLESS=1` rewrites it (review
/// the diff).
fn check_golden(plan: &str, name: &str) {
    let golden = repo().join(format!("harness/tests/fixtures/kind/{name}.plan"));
    if std::env::var("CHAOS_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
        std::fs::write(&golden, plan).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_default();
    assert_eq!(
        plan, want,
        "the dry-run plan changed; rerun with CHAOS_BLESS=1 and review the diff"
    );
}

#[tokio::test]
async fn dry_run_plan_of_the_smoke_suite_for_the_default_cell() {
    check_golden(&dry_run_plan("smoke").await, "smoke-default");
}

/// Every fault kind, on workers and the control plane.
#[tokio::test]
async fn dry_run_plan_of_the_nightly_suite_for_the_default_cell() {
    let plan = dry_run_plan("nightly").await;
    for needle in [
        "docker stop -t 30 chaos-plan-control-plane",
        "docker cp chaos-plan-control-plane:/etc/cni/net.d -",
        "docker kill --signal KILL chaos-plan-worker",
        "cat /run/openvswitch/ovsdb-server.pid",
        "kill -s STOP '<PID in /run/openvswitch/ovsdb-server.pid>'",
        "kill -s CONT '<PID in /run/openvswitch/ovsdb-server.pid>'",
        "ip netns add chaos-stale-0",
        "get pods -l app=ovs --field-selector spec.nodeName=chaos-plan-worker -o name",
        "exec 'pod/<ovs-ovn pod on chaos-plan-worker>' -c openvswitch -- ovs-vsctl --timeout=10 add-port br-int chaos-stale-0",
        "docker exec -i -e CNI_COMMAND=ADD",
        "kind load docker-image docker.io/library/busybox:1.36.1 --name chaos-plan",
        "apply -f $STATE/chaos-plan/cni-chaos-probes.json",
        "truncate -s 0 /etc/cni/net.d/01-kube-ovn.conflist",
        "delete '<pods",
        "docker network disconnect kind chaos-plan-worker",
        "docker network connect --ip '<IPv4 of chaos-plan-worker on kind before the partition>' --ip6 '<IPv6 of chaos-plan-worker on kind before the partition, if any>' kind chaos-plan-worker",
    ] {
        assert!(plan.contains(needle), "no {needle:?} in the plan:\n{plan}");
    }
    check_golden(&plan, "nightly-default");
}

/// A `nat-gateway: true` suite: the gateway's whole setup (network,
/// nodes connected, their `eth1` checked, the target, the objects and
/// their waits) and its removal are in the plan, with no manual step and
/// no environment variable.
#[tokio::test]
async fn dry_run_plan_of_a_nat_gateway_suite() {
    let plan =
        dry_run_plan_of(&repo().join("harness/tests/fixtures/kind/nat-gateway.suite.yaml")).await;
    for needle in [
        "ENABLE_NAT_GW=true",
        "CNI_CONFIG_PRIORITY=10",
        "docker network create --driver bridge --subnet 172.31.250.0/24 --gateway 172.31.250.1 --ip-range 172.31.250.0/26 --label cni-chaos.io/cluster=chaos-plan --label cni-chaos.io/role=nat-external-network chaos-plan-nat-ext",
        "docker network connect chaos-plan-nat-ext chaos-plan-worker2",
        "docker exec chaos-plan-worker cat /sys/class/net/eth1/address",
        "docker run --detach --name chaos-plan-nat-target --label cni-chaos.io/cluster=chaos-plan --label cni-chaos.io/role=nat-target --hostname cni-chaos-nat-target --network chaos-plan-nat-ext --ip 172.31.250.100 docker.io/library/busybox:1.36.1 sh -c",
        "exec httpd -f -vv -p 0.0.0.0:8080 -h /tmp/cni-chaos-www",
        "apply -f $STATE/chaos-plan/cni-chaos-nat-gateway.json",
        "rollout status statefulset/vpc-nat-gw-gw1",
        "apply -f $STATE/chaos-plan/cni-chaos-nat-rules.json",
        "wait '--for=jsonpath={.status.ready}=true' iptables-dnat-rules.kubeovn.io/dnat-gw1",
        "apply -f $STATE/chaos-plan/cni-chaos-nat-client.json",
        "rollout status statefulset/cni-chaos-nat-client",
        "docker rm --force chaos-plan-nat-target",
        "docker network rm chaos-plan-nat-ext",
    ] {
        assert!(plan.contains(needle), "no {needle:?} in the plan:\n{plan}");
    }
    let at = |needle: &str| plan.find(needle).unwrap();
    assert!(at("kind delete cluster") < at("docker network rm chaos-plan-nat-ext"));
    check_golden(&plan, "nat-gateway-default");
}

/// A suite with `max-outage` and `max-loss`: the traffic's Service and
/// DaemonSet are applied from the cluster's state folder before the
/// scenario's gate, and removed only with the cluster (no delete of them
/// before `kind delete cluster`).
#[tokio::test]
async fn dry_run_plan_of_a_traffic_suite() {
    let plan =
        dry_run_plan_of(&repo().join("harness/tests/fixtures/kind/traffic.suite.yaml")).await;
    let apply = "apply -f $STATE/chaos-plan/cni-chaos-traffic.json";
    let at = |needle: &str| {
        plan.find(needle)
            .unwrap_or_else(|| panic!("no {needle:?} in the plan:\n{plan}"))
    };
    assert!(at(apply) > at("apply -f $STATE/chaos-plan/cni-chaos-probes.json"));
    assert!(at(apply) < at("kill -s STOP"), "applied before the fault");
    assert_eq!(plan.matches(apply).count(), 1, "{plan}");
    assert!(
        plan.lines()
            .all(|l| !(l.contains("delete") && l.contains("traffic"))),
        "never deleted on its own: {plan}"
    );
    // The long-lived connections' objects, the same way, once.
    let long_lived = "apply -f $STATE/chaos-plan/cni-chaos-long-lived.json";
    assert!(
        at(long_lived) < at("kill -s STOP"),
        "applied before the fault"
    );
    assert_eq!(plan.matches(long_lived).count(), 1, "{plan}");
    check_golden(&plan, "traffic-default");
    // A suite without them never applies the traffic.
    let smoke = dry_run_plan("smoke").await;
    assert!(!smoke.contains("cni-chaos-traffic"));
    assert!(!smoke.contains("cni-chaos-long-lived"));
}

#[test]
fn the_shipped_matrix_is_what_the_backend_loads() {
    let backend = KindBackend::new(
        Arc::new(ScriptedRunner::ordered([])),
        KindOptions::new(repo()),
        "contract",
    )
    .unwrap();
    let m = backend.matrix();
    assert!(m.sets.len() >= 4, "{:?}", m.sets.keys());
    let _ = kind::MATRIX_FILE;
}

/// A cluster (watching `cancel`) on which a fault had no effect, so its
/// logs are due before the delete.
async fn failed_cluster(
    runner: &ScriptedRunner,
    cancel: &CancellationToken,
) -> (tempfile::TempDir, KindCluster) {
    // StartedAt unchanged: the fault had no effect.
    for e in reboot_script(
        "docker stop -t 30 chaos-contract-worker",
        net_d(true),
        shim_there(),
        T0,
    ) {
        runner.push(e);
    }
    let (dir, cluster) = open(runner);
    let cluster = cluster.with_interrupt(cancel.clone());
    let fault = Fault::NodeReboot(NodeReboot {
        target: target(),
        mode: RebootMode::Graceful,
        timeout: Duration::from_secs(30),
    });
    let e = cluster.inject(&fault, Some(&worker())).await.unwrap();
    assert!(!e.took_effect);
    runner.assert_done();
    (dir, cluster)
}

const EXPORT: &str = "kind export logs reports/kind-logs/chaos-contract --name chaos-contract";

fn delete_argv(dir: &Path) -> Vec<String> {
    let mut delete = words("kind delete cluster --name chaos-contract --kubeconfig");
    delete.push(dir.join("kubeconfig").display().to_string());
    delete
}

#[tokio::test]
async fn a_cluster_that_saw_a_failure_has_its_logs_exported_before_it_is_deleted() {
    let runner = ScriptedRunner::ordered([]);
    let (dir, cluster) = failed_cluster(&runner, &CancellationToken::new()).await;
    runner.push(ok(words(EXPORT)));
    runner.push(ok(delete_argv(dir.path())));
    cluster.teardown().await.unwrap();
    runner.assert_done();
}

/// CHAOS_KEEP_CLUSTER=1 keeps the cluster, not the fault: the pending
/// reconnect still runs, nothing is exported or deleted, and the message
/// says where the kubeconfig is and how to delete the cluster.
#[tokio::test]
async fn a_kept_cluster_is_healed_but_not_deleted_and_says_how_to_delete_it() {
    let runner = ScriptedRunner::ordered(disconnect());
    let (dir, cluster) = open(&runner);
    let fault = Fault::NetworkPartition(NetworkPartition {
        target: target(),
        duration: Duration::from_secs(3600),
    });
    let e = cluster.inject(&fault, Some(&worker())).await.unwrap();
    assert!(e.took_effect, "{e:?}");
    for e in [
        inspect(T0, false),
        inspect(T0, false),
        ok(words(
            "docker network connect --ip 172.18.0.3 kind chaos-contract-worker",
        )),
        inspect(T0, true),
    ] {
        runner.push(e);
    }
    let how = cluster.keep().await.unwrap();
    runner.assert_done();
    let kc = dir.path().join("kubeconfig");
    assert!(kc.exists(), "the kubeconfig stays");
    assert!(
        how.contains(&format!(
            "kubeconfig {} (context kind-chaos-contract)",
            kc.display()
        )),
        "{how}"
    );
    assert!(
        how.contains(&format!(
            "delete it with `kind delete cluster --name chaos-contract --kubeconfig {}`",
            kc.display()
        )),
        "{how}"
    );
    assert!(
        !runner.call_lines().iter().any(|l| l.starts_with("kind ")),
        "{:#?}",
        runner.call_lines()
    );
}

/// The teardown budget holds the undos, the export and the delete, each
/// with its own bound: an export that hangs or fails never keeps the
/// delete from running.
#[tokio::test(start_paused = true)]
async fn a_hanging_or_failing_log_export_still_lets_the_delete_run_within_the_budget() {
    let timeouts = kind::Timeouts::default();
    assert_eq!(timeouts.logs, Duration::from_secs(120));
    assert_eq!(
        timeouts.teardown(),
        timeouts.undo + timeouts.logs + timeouts.delete + Duration::from_secs(30)
    );
    let runner = ScriptedRunner::ordered([]);
    let (dir, cluster) = failed_cluster(&runner, &CancellationToken::new()).await;
    assert_eq!(cluster.teardown_budget(), timeouts.teardown());
    runner.push(Expectation::hang(
        words(EXPORT),
        "Exporting logs for cluster",
    ));
    runner.push(ok(delete_argv(dir.path())));
    let started = tokio::time::Instant::now();
    tokio::time::timeout(cluster.teardown_budget(), cluster.teardown())
        .await
        .expect("within the budget")
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(120));
    runner.assert_done();

    let runner = ScriptedRunner::ordered([]);
    let (dir, cluster) = failed_cluster(&runner, &CancellationToken::new()).await;
    runner.push(Expectation::failed(
        words(EXPORT),
        1,
        "ERROR: unknown cluster \"chaos-contract\"",
    ));
    runner.push(ok(delete_argv(dir.path())));
    cluster.teardown().await.unwrap();
    runner.assert_done();
}

#[tokio::test]
async fn an_interrupted_teardown_skips_the_log_export_and_deletes() {
    let runner = ScriptedRunner::ordered([]);
    let cancel = CancellationToken::new();
    let (dir, cluster) = failed_cluster(&runner, &cancel).await;
    cancel.cancel();
    runner.push(ok(delete_argv(dir.path())));
    cluster.teardown().await.unwrap();
    runner.assert_done();
    assert_never_ran(&runner, "export logs");
}

#[tokio::test]
async fn a_failed_kind_delete_is_a_teardown_error_with_its_command_and_output() {
    let runner = ScriptedRunner::ordered([]);
    let (dir, cluster) = failed_cluster(&runner, &CancellationToken::new()).await;
    runner.push(ok(words(EXPORT)));
    runner.push(Expectation::failed(
        delete_argv(dir.path()),
        1,
        "ERROR: failed to delete cluster \"chaos-contract\": error deleting nodes",
    ));
    let err = cluster.teardown().await.unwrap_err().to_string();
    runner.assert_done();
    assert!(
        err.contains("`kind delete cluster --name chaos-contract --kubeconfig"),
        "{err}"
    );
    assert!(err.contains("error deleting nodes"), "{err}");
}

/// An interrupt while the cluster is being installed deletes it at once,
/// without the log export.
#[tokio::test(start_paused = true)]
async fn an_interrupt_during_provisioning_deletes_the_cluster_without_exporting_logs() {
    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::new(&runner, true);
    hang_in_install(&runner, &f, "");
    let mut delete = words("kind delete cluster --name chaos-contract --kubeconfig");
    delete.push(f.path("kubeconfig"));
    runner.push(ok(delete));
    let cancel = CancellationToken::new();
    let interrupt = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        interrupt.cancel();
    });
    let msg = fails_with(&f.backend, &cancel).await;
    runner.assert_done();
    assert!(msg.contains("interrupted during provisioning"), "{msg}");
    assert!(!msg.contains("cluster logs exported"), "{msg}");
}

#[tokio::test]
async fn an_interrupt_before_the_cluster_exists_creates_and_deletes_nothing() {
    let runner = ScriptedRunner::ordered(probes());
    let f = Fixture::new(&runner, true);
    let cancel = CancellationToken::new();
    cancel.cancel();
    let msg = fails_with(&f.backend, &cancel).await;
    assert!(
        msg.contains("interrupted during the cluster name check"),
        "{msg}"
    );
    runner.assert_done();
    assert!(
        runner
            .call_lines()
            .iter()
            .all(|l| !l.starts_with("kind ") || l == "kind version"),
        "{:#?}",
        runner.call_lines()
    );
}

// ---- failure paths --------------------------------------------------------

/// Provisioning in which install step `pattern` (see [`install_step`])
/// fails with `stderr`: the error names the step, the command's output is
/// in it, and the logs are exported before the delete. Returns the message.
async fn install_step_fails(pattern: &str, stderr: &str) -> String {
    let runner = ScriptedRunner::ordered([]);
    let f = Fixture::new(&runner, true);
    let step = install_step(&f, pattern);
    let failed = failing(&install_sequence(&f)[step], stderr);
    for e in provision_script(&f, step)
        .into_iter()
        .chain([failed])
        .chain(export_and_delete(&f))
    {
        runner.push(e);
    }
    let msg = fails(&f.backend).await;
    runner.assert_done();
    assert!(msg.contains(stderr), "{msg}");
    assert!(msg.contains("cluster logs exported to"), "{msg}");
    msg
}

#[tokio::test]
async fn a_failing_kind_load_or_download_exports_logs_and_deletes() {
    let msg = install_step_fails(
        "kind load docker-image docker.io/kubeovn/kube-ovn",
        "ERROR: image: \"docker.io/kubeovn/kube-ovn:v1.16.2\" not present locally",
    )
    .await;
    assert!(msg.contains("kind load docker-image failed"), "{msg}");
    let msg = install_step_fails(
        "curl *install.sh",
        "curl: (22) The requested URL returned error: 404",
    )
    .await;
    assert!(msg.contains("install Kube-OVN failed"), "{msg}");
    assert!(msg.contains("`curl --fail"), "{msg}");
}

/// A registry problem costs no cluster: nothing is created or deleted,
/// and the cluster's state folder goes.
#[tokio::test]
async fn a_failing_docker_pull_creates_and_deletes_nothing() {
    let runner = ScriptedRunner::ordered(probes());
    let f = Fixture::new(&runner, true);
    let mut before = pulls(&f);
    // The name check and the image store detection.
    before.truncate(2);
    for e in before {
        runner.push(e);
    }
    runner.push(Expectation::failed(
        words("docker pull docker.io/kubeovn/kube-ovn:v1.16.2"),
        1,
        "Error response from daemon: manifest for kubeovn/kube-ovn:v1.16.2 not found: manifest unknown",
    ));
    let msg = fails(&f.backend).await;
    runner.assert_done();
    assert!(msg.contains("manifest unknown"), "{msg}");
    assert!(
        runner
            .call_lines()
            .iter()
            .all(|l| !l.starts_with("kind ") || l == "kind version" || l == "kind get clusters"),
        "{:#?}",
        runner.call_lines()
    );
    assert!(!Path::new(&f.path("kubeconfig")).exists());
}

/// A readiness wait that fails or times out ends with the cluster's pods
/// (`kubectl get pods -A -o wide`) in the error, then export and delete.
#[tokio::test(start_paused = true)]
async fn a_readiness_timeout_carries_the_pods_then_cleans_up() {
    const PODS: &str = "NAMESPACE     NAME                   READY   STATUS                  RESTARTS\nkube-system   kube-multus-ds-x7k2p   0/1     Init:CrashLoopBackOff   4\n";
    let rollout = "Waiting for daemon set \"kube-multus-ds\" rollout to finish: 0 of 3 updated pods are available...\n";
    let nodes = "error: timed out waiting for the condition on nodes/chaos-contract-worker";
    for hang in [false, true] {
        let runner = ScriptedRunner::ordered([]);
        let f = Fixture::new(&runner, true);
        let step = install_step(
            &f,
            if hang {
                "rollout status daemonset/kube-multus-ds"
            } else {
                "wait --for=condition=Ready nodes"
            },
        );
        let argv = install_sequence(&f)[step].argv.clone();
        for e in provision_script(&f, step) {
            runner.push(e);
        }
        runner.push(if hang {
            Expectation::hang(argv, rollout)
        } else {
            Expectation::failed(argv, 1, nodes)
        });
        runner.push(Expectation::ok(
            f.kubectl(&["get", "pods", "-A", "-o", "wide"]),
            PODS,
        ));
        for e in export_and_delete(&f) {
            runner.push(e);
        }
        let msg = fails(&f.backend).await;
        runner.assert_done();
        assert!(msg.contains("readiness wait failed"), "{msg}");
        assert!(msg.contains("did not happen within 300s"), "{msg}");
        assert!(msg.contains("kube-multus-ds-x7k2p"), "{msg}");
        assert!(msg.contains("Init:CrashLoopBackOff"), "{msg}");
        assert!(
            msg.contains(if hang { rollout.trim() } else { nodes }),
            "{msg}"
        );
    }
}

/// The provisioning failure path deletes the cluster also when exporting
/// its logs fails.
#[tokio::test]
async fn a_failed_export_during_provisioning_still_deletes() {
    let (runner, f) =
        create_fails_with("ERROR: failed to create cluster: failed to init node with kubeadm");
    let mut cleanup = export_and_delete(&f);
    let export = cleanup.remove(0);
    runner.push(Expectation::failed(
        export.argv,
        1,
        "ERROR: unknown cluster \"chaos-contract\"",
    ));
    for e in cleanup {
        runner.push(e);
    }
    let msg = fails(&f.backend).await;
    runner.assert_done();
    assert!(msg.contains("failed to init node with kubeadm"), "{msg}");
    assert!(!msg.contains("cluster logs exported"), "{msg}");
}

/// A hard reboot whose `docker kill` or `docker start` fails is an error
/// with the command and Docker's answer, never a silent no-effect.
#[tokio::test]
async fn a_failing_docker_kill_or_start_is_an_error() {
    let fault = Fault::NodeReboot(NodeReboot {
        target: target(),
        mode: RebootMode::Hard,
        timeout: Duration::from_secs(30),
    });
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        inspect(T0, true),
        Expectation::failed(
            words("docker kill --signal KILL chaos-contract-worker"),
            1,
            "Error response from daemon: cannot kill container: chaos-contract-worker is not running",
        ),
    ]);
    let err = inject_fails(&runner, &fault).await;
    assert!(
        err.contains("`docker kill --signal KILL chaos-contract-worker` failed with exit code 1"),
        "{err}"
    );
    assert!(err.contains("is not running"), "{err}");

    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        inspect(T0, true),
        ok(words("docker kill --signal KILL chaos-contract-worker")),
        inspect(T0, true),
        net_d(true),
        inspect(T0, true),
        shim_there(),
        inspect(T0, true),
        Expectation::failed(
            words("docker start chaos-contract-worker"),
            1,
            "Error response from daemon: failed to create task for container: OCI runtime create failed",
        ),
    ]);
    let err = inject_fails(&runner, &fault).await;
    assert!(
        err.contains("`docker start chaos-contract-worker` failed"),
        "{err}"
    );
    assert!(err.contains("OCI runtime create failed"), "{err}");
}

/// `pgrep` exits 1 when nothing matches; any other exit is an error, never
/// "no process".
#[tokio::test]
async fn a_pgrep_failure_other_than_no_match_is_an_error() {
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec("cat /etc/cni/net.d/00-multus.conf", "{}"),
        inspect(T0, true),
        exec_failed("pgrep -x multus-daemon", 2, "pgrep: cannot open /proc"),
    ]);
    let err = inject_fails(&runner, &busy_shim_fault()).await;
    assert!(
        err.contains(
            "`docker exec chaos-contract-worker pgrep -x multus-daemon` failed with exit code 2"
        ),
        "{err}"
    );
    assert!(err.contains("cannot open /proc"), "{err}");
}

/// The remove-file remediation step is a guarded `rm -f` on the node.
#[tokio::test]
async fn remediation_remove_file_is_a_guarded_rm_on_the_node() {
    let step = RemediationStep::RemoveFile {
        target: None,
        path: "/opt/cni/bin/multus-shim".into(),
    };
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec("rm -f /opt/cni/bin/multus-shim", ""),
    ]);
    let (_dir, cluster) = open(&runner);
    let did = cluster.remediate(&step, Some(&worker())).await.unwrap();
    runner.assert_done();
    assert_eq!(
        did,
        "removed /opt/cni/bin/multus-shim on chaos-contract-worker"
    );

    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec_failed(
            "rm -f /opt/cni/bin/multus-shim",
            1,
            "rm: cannot remove '/opt/cni/bin/multus-shim': Read-only file system",
        ),
    ]);
    let (_dir, cluster) = open(&runner);
    let err = cluster
        .remediate(&step, Some(&worker()))
        .await
        .unwrap_err()
        .to_string();
    runner.assert_done();
    assert!(err.contains("Read-only file system"), "{err}");
    // Without a node there is nothing to remove it on.
    let err = cluster
        .remediate(&step, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no node to remove the file on"), "{err}");
}

// ---- a pod's network namespace ---------------------------------------------

const SANDBOX: &str = "5f1e2d3c4b5a";
const NETNS: &str = "/var/run/netns/cni-0b8c7a52-1c1e-4f7e-9d3e-6a1f2b3c4d5e";

/// `crictl inspectp` of a ready sandbox of pod `ns/name`.
fn inspectp(ns: &str, name: &str) -> String {
    serde_json::json!({
        "status": {"id": SANDBOX, "metadata": {"name": name, "namespace": ns, "uid": "u", "attempt": 0},
                   "state": "SANDBOX_READY"},
        "info": {"runtimeSpec": {"linux": {"namespaces": [
            {"type": "pid"}, {"type": "network", "path": NETNS}]}}}
    })
    .to_string()
}

const LIST_SANDBOX: &str =
    "crictl pods --name chaos-secondary-x7k2p --namespace cni-chaos-probes --state ready -q";

/// The links of a pod come from its own sandbox's network namespace, on
/// its node: crictl finds the ready sandbox (checking the exact name, as
/// `--name` is a pattern), nsenter runs `ip -o link` in it.
#[tokio::test]
async fn pod_interfaces_are_read_in_the_sandbox_netns_through_crictl_and_nsenter() {
    let links = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n\
                 2: eth0@if17: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc noqueue state UP\n";
    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec(LIST_SANDBOX, "0aa1\n5f1e2d3c4b5a\n"),
        inspect(T0, true),
        // A longer name matching the pattern: not this pod's sandbox.
        exec(
            "crictl inspectp 0aa1",
            &inspectp("cni-chaos-probes", "chaos-secondary-x7k2p-old"),
        ),
        inspect(T0, true),
        exec(
            &format!("crictl inspectp {SANDBOX}"),
            &inspectp("cni-chaos-probes", "chaos-secondary-x7k2p"),
        ),
        inspect(T0, true),
        exec(&format!("nsenter --net={NETNS} ip -o link show"), links),
    ]);
    let (_dir, cluster) = open(&runner);
    let got = cluster
        .pod_interfaces("cni-chaos-probes", "chaos-secondary-x7k2p", WORKER)
        .await
        .unwrap();
    runner.assert_done();
    assert_eq!(got, Some(vec!["lo".to_string(), "eth0".into()]));
}

/// The path's request from outside the VPC runs in the target through
/// `docker exec`, by name; what it printed and its status come back as
/// they are (a failed request is an answer, not an error), and a target
/// that is gone (Docker's own refusal) is an error naming the command.
#[tokio::test]
async fn the_targets_request_is_docker_exec_by_name() {
    let request = "printf 'GET /cgi-bin/whoami HTTP/1.0\\r\\n\\r\\n' | timeout 10 nc -w 5 172.31.250.101 8080";
    let argv = ["docker", "exec", NAT_TARGET, "sh", "-c", request];
    let answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\ncni-chaos-nat-path peer=172.31.250.100 host=cni-chaos-nat-client-0\n";
    let runner = ScriptedRunner::ordered([
        Expectation::ok(argv, answer),
        Expectation::failed(argv, 1, "nc: timed out"),
        Expectation::failed(
            argv,
            1,
            "Error response from daemon: No such container: chaos-contract-nat-target",
        ),
    ]);
    let (_dir, cluster) = open(&runner);
    let req = cni_chaos_twin::model::nat_path_request("172.31.250.101", 8080);
    let req: Vec<&str> = req.iter().map(String::as_str).collect();
    let got = cluster.exec_on_nat_target(&req).await.unwrap();
    assert_eq!((got.status, got.stdout.as_str()), (Some(0), answer));
    let got = cluster.exec_on_nat_target(&req).await.unwrap();
    assert_eq!(got.status, Some(1));
    assert!(got.stderr.contains("nc: timed out"), "{got:?}");
    let err = cluster
        .exec_on_nat_target(&req)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("No such container"), "{err}");
    assert!(
        err.contains("docker exec chaos-contract-nat-target sh -c"),
        "{err}"
    );
    runner.assert_done();
}

/// The nat-egress flow's records come from the target's log, both of its
/// streams, as `docker logs --timestamps` prints them; a target that is
/// gone is an error with Docker's words.
#[tokio::test]
async fn the_targets_log_is_docker_logs_with_timestamps() {
    let argv = ["docker", "logs", "--timestamps", NAT_TARGET];
    let runner = ScriptedRunner::ordered([
        Expectation::new(argv, {
            let mut out = cni_chaos::exec::Output::ok(
                "2026-12-03T10:00:00.000000001Z cni-chaos-traffic-receiver listening port=9000\n",
            );
            out.stderr = b"2026-12-03T10:00:01.200000000Z cni-chaos-traffic flow=nat-egress from=chaos-contract-control-plane sender=cni-chaos-nat-client-0/1 seq=1 sent=1796292001000\n".to_vec();
            cni_chaos::exec::Respond::Output(out)
        }),
        Expectation::failed(
            argv,
            1,
            "Error response from daemon: No such container: chaos-contract-nat-target",
        ),
    ]);
    let (_dir, cluster) = open(&runner);
    let log = cluster.nat_target_log().await.unwrap();
    assert!(log.contains("listening port=9000\n"), "{log}");
    assert!(log.contains("flow=nat-egress"), "{log}");
    let err = cluster.nat_target_log().await.unwrap_err().to_string();
    assert!(err.contains("No such container"), "{err}");
    runner.assert_done();
}

/// No ready sandbox is `None`; a failing crictl is an error with its
/// command line, never "no interfaces".
#[tokio::test]
async fn no_sandbox_is_none_and_a_failing_crictl_is_an_error() {
    let runner = ScriptedRunner::ordered([inspect(T0, true), exec(LIST_SANDBOX, "")]);
    let (_dir, cluster) = open(&runner);
    let got = cluster
        .pod_interfaces("cni-chaos-probes", "chaos-secondary-x7k2p", WORKER)
        .await
        .unwrap();
    runner.assert_done();
    assert_eq!(got, None);

    let runner = ScriptedRunner::ordered([
        inspect(T0, true),
        exec_failed(
            LIST_SANDBOX,
            1,
            "time=\"...\" level=fatal msg=\"validate service connection: connect: connection refused\"",
        ),
    ]);
    let (_dir, cluster) = open(&runner);
    let err = cluster
        .pod_interfaces("cni-chaos-probes", "chaos-secondary-x7k2p", WORKER)
        .await
        .unwrap_err()
        .to_string();
    runner.assert_done();
    assert!(
        err.contains("crictl pods --name chaos-secondary-x7k2p"),
        "{err}"
    );
    assert!(err.contains("connection refused"), "{err}");
}

// ---- the VPC NAT gateway of a `nat-gateway: true` profile ------------------

const NAT_NET: &str = "chaos-contract-nat-ext";
const NAT_TARGET: &str = "chaos-contract-nat-target";
const NODES: [&str; 3] = [
    "chaos-contract-control-plane",
    "chaos-contract-worker",
    "chaos-contract-worker2",
];

fn nat_profile() -> ClusterProfile {
    ClusterProfile {
        nat_gateway: true,
        ..profile()
    }
}

/// The external network, labelled as the harness's.
fn nat_network_create() -> Vec<String> {
    words(
        "docker network create --driver bridge --subnet 172.31.250.0/24 --gateway 172.31.250.1 --ip-range 172.31.250.0/26 --label cni-chaos.io/cluster=chaos-contract --label cni-chaos.io/role=nat-external-network chaos-contract-nat-ext",
    )
}

/// The path's `httpd` with its CGI, as a `sh -c` script (port `port`).
fn path_server(port: u16) -> String {
    format!(
        "mkdir -p /tmp/cni-chaos-www/cgi-bin && printf '#!/bin/sh\\nprintf \"Content-Type: text/plain\\\\r\\\\n\\\\r\\\\n\"\\necho \"cni-chaos-nat-path peer=$REMOTE_ADDR host=$(hostname)\"\\n' > /tmp/cni-chaos-www/cgi-bin/whoami && chmod 755 /tmp/cni-chaos-www/cgi-bin/whoami && exec httpd -f -vv -p 0.0.0.0:{port} -h /tmp/cni-chaos-www"
    )
}

/// The target: named cni-chaos-nat-target inside, on the external network
/// at its fixed address, serving the path's CGI on 8080.
fn nat_target_run() -> Vec<String> {
    let mut argv = words(
        "docker run --detach --name chaos-contract-nat-target --label cni-chaos.io/cluster=chaos-contract --label cni-chaos.io/role=nat-target --hostname cni-chaos-nat-target --network chaos-contract-nat-ext --ip 172.31.250.100 docker.io/library/busybox:1.36.1 sh -c",
    );
    argv.push(format!(
        "{{ trap 'exit 0' TERM; echo \"cni-chaos-traffic-receiver listening port=9000\"; exec nc -ll -p 9000 -e sh -c 'cat >&2'; }} & {}",
        path_server(8080)
    ));
    argv
}

/// Node `i`'s MAC on the external network, as Docker and sysfs show it.
fn nat_mac(i: usize) -> String {
    format!("02:42:ac:1f:fa:{:02x}\n", i + 2)
}

/// Every command of the gateway's setup, after the probe resources.
fn nat_setup(f: &Fixture) -> Vec<Expectation> {
    let mut s = vec![ok(nat_network_create())];
    for node in NODES {
        s.push(ok(words(&format!(
            "docker network connect {NAT_NET} {node}"
        ))));
    }
    for (i, node) in NODES.iter().enumerate() {
        s.push(Expectation::ok(
            [
                "docker",
                "inspect",
                "--format",
                &format!("{{{{(index .NetworkSettings.Networks \"{NAT_NET}\").MacAddress}}}}"),
                node,
            ],
            nat_mac(i),
        ));
        s.push(Expectation::ok(
            ["docker", "exec", node, "cat", "/sys/class/net/eth1/address"],
            nat_mac(i).to_uppercase(),
        ));
    }
    s.push(ok(nat_target_run()));
    let apply = |file: &str| ok(f.kubectl(&["apply", "-f", &f.path(file)]));
    let wait = |condition: &str, object: &str| {
        ok(f.kubectl(&["wait", condition, object, "--timeout=300s"]))
    };
    s.push(apply("cni-chaos-nat-gateway.json"));
    s.push(wait(
        "--for=condition=Ready",
        "subnets.kubeovn.io/ovn-vpc-external-network",
    ));
    s.push(wait(
        "--for=condition=Ready",
        "subnets.kubeovn.io/cni-chaos-vpc-subnet",
    ));
    s.push(wait(
        "--for=jsonpath={.status.standby}=true",
        "vpcs.kubeovn.io/cni-chaos-vpc",
    ));
    s.push(Expectation::ok(
        f.kubectl(&GATEWAY_LOOKUP),
        "statefulset.apps/vpc-nat-gw-gw1\n",
    ));
    s.push(ok(f.kubectl(&[
        "-n",
        "kube-system",
        "rollout",
        "status",
        "statefulset/vpc-nat-gw-gw1",
        "--timeout=300s",
    ])));
    s.push(apply("cni-chaos-nat-rules.json"));
    for object in [
        "iptables-eips.kubeovn.io/eip-gw1",
        "iptables-snat-rules.kubeovn.io/snat-gw1",
        "iptables-dnat-rules.kubeovn.io/dnat-gw1",
    ] {
        s.push(wait("--for=jsonpath={.status.ready}=true", object));
    }
    s.push(apply("cni-chaos-nat-client.json"));
    s.push(ok(f.kubectl(&[
        "-n",
        "kube-system",
        "rollout",
        "status",
        "statefulset/cni-chaos-nat-client",
        "--timeout=300s",
    ])));
    s
}

/// kubectl's look for the gateway's StatefulSet.
const GATEWAY_LOOKUP: [&str; 7] = [
    "-n",
    "kube-system",
    "get",
    "statefulset/vpc-nat-gw-gw1",
    "--ignore-not-found",
    "-o",
    "name",
];

/// What removes the gateway's Docker objects, after the cluster.
fn nat_removal() -> Vec<Expectation> {
    vec![
        ok(words(&format!("docker rm --force {NAT_TARGET}"))),
        ok(words(&format!("docker network rm {NAT_NET}"))),
    ]
}

/// The journal's pending resources, by their description.
fn pending_of(root: &Path) -> Vec<String> {
    cni_chaos::journal::Journal::at(root)
        .runs()
        .unwrap()
        .first()
        .map(|r| r.pending.iter().map(|p| p.resource.describe()).collect())
        .unwrap_or_default()
}

/// Runs commands through a [`ScriptedRunner`], noting what the journal
/// held before each `docker network create` and `docker run`.
#[derive(Debug)]
struct SnoopMakes {
    inner: ScriptedRunner,
    journal: PathBuf,
    seen: std::sync::Mutex<Vec<(String, Vec<String>)>>,
}

#[async_trait::async_trait]
impl Runner for SnoopMakes {
    async fn output(&self, cmd: &cni_chaos::exec::Command) -> Result<Output, ExecError> {
        let args = cmd.get_args();
        let makes = cmd.get_program() == "docker"
            && (args.starts_with(&["network".into(), "create".into()])
                || args.first().map(String::as_str) == Some("run"));
        if makes {
            self.seen
                .lock()
                .unwrap()
                .push((args.join(" "), pending_of(&self.journal)));
        }
        self.inner.output(cmd).await
    }
}

/// A `nat-gateway: true` profile: after the addons, the harness makes the
/// external Docker network (labelled, journaled before it exists) and
/// connects every node, checks each node's `eth1` is its interface there,
/// runs the labelled target, applies the gateway's objects and the EIP,
/// SNAT and DNAT rules (as rendered by `kind::gateway_manifest` and
/// `kind::rules_manifest`), waiting for each; teardown removes the
/// target and the network after the cluster and forgets them.
#[tokio::test]
async fn a_nat_gateway_profile_creates_the_gateway_its_network_and_target_and_removes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Arc::new(
        cni_chaos::journal::Journal::at(tmp.path())
            .begin(None)
            .unwrap(),
    );
    let runner = ScriptedRunner::ordered([]);
    let snoop = Arc::new(SnoopMakes {
        inner: runner.clone(),
        journal: tmp.path().to_path_buf(),
        seen: std::sync::Mutex::default(),
    });
    let f = Fixture {
        nat_gateway: true,
        ..Fixture::through(snoop.clone(), true, |_| {})
    }
    .journaled(journal.clone());
    push_created(&f, &runner);
    for e in install_sequence(&f).into_iter().chain(nat_setup(&f)) {
        runner.push(e);
    }
    let cluster = f
        .backend
        .provision(&nat_profile(), &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    runner.assert_done();

    // Each Docker object was journaled before it was made.
    let seen = snoop.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert!(seen[0].0.starts_with("network create"), "{seen:#?}");
    assert!(
        seen[0].1.contains(&format!(
            "Docker network {NAT_NET} of kind cluster {CLUSTER}"
        )),
        "{seen:#?}"
    );
    assert!(seen[1].0.starts_with("run"), "{seen:#?}");
    assert!(
        seen[1]
            .1
            .contains(&format!("container {NAT_TARGET} of kind cluster {CLUSTER}")),
        "{seen:#?}"
    );
    assert_eq!(
        pending_of(tmp.path()).len(),
        3,
        "{:?}",
        pending_of(tmp.path())
    );

    // The objects as applied: the gateway pinned to the first worker.
    let applied = |file: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(f.path(file)).unwrap()).unwrap()
    };
    let gateway = applied("cni-chaos-nat-gateway.json");
    assert_eq!(
        gateway,
        kind::gateway_manifest(
            "docker.io/kubeovn/vpc-nat-gateway:v1.16.2",
            "chaos-contract-worker"
        )
    );
    assert_eq!(
        gateway["items"][6]["spec"]["selector"],
        serde_json::json!(["kubernetes.io/hostname: chaos-contract-worker"])
    );
    assert_eq!(applied("cni-chaos-nat-rules.json"), kind::rules_manifest());
    let rules = applied("cni-chaos-nat-rules.json");
    let kinds: Vec<&str> = rules["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["IptablesEIP", "IptablesSnatRule", "IptablesDnatRule"]
    );
    // The path's client: in the VPC subnet at the DNAT rule's internal
    // IP, on the control plane, serving the path's CGI on port 80.
    let client = applied("cni-chaos-nat-client.json");
    assert_eq!(
        client,
        kind::client_manifest(
            "docker.io/library/busybox:1.36.1",
            "chaos-contract-control-plane"
        )
    );
    let t = &client["spec"]["template"];
    assert_eq!(
        t["metadata"]["annotations"],
        serde_json::json!({"ovn.kubernetes.io/logical_switch": "cni-chaos-vpc-subnet",
                           "ovn.kubernetes.io/ip_address": "10.250.1.10"})
    );
    assert_eq!(
        t["spec"]["nodeSelector"],
        serde_json::json!({"kubernetes.io/hostname": "chaos-contract-control-plane"})
    );
    assert_eq!(
        t["spec"]["tolerations"][0]["key"],
        "node-role.kubernetes.io/control-plane"
    );
    assert_eq!(
        t["spec"]["containers"][0]["command"],
        serde_json::json!(["sh", "-c", path_server(80)])
    );
    assert_eq!(t["spec"]["containers"][0]["name"], "client");
    // Its sender: the nat-egress traffic flow to the target's receiver.
    let sender = &t["spec"]["containers"][1];
    assert_eq!(sender["name"], "sender");
    assert_eq!(
        sender["command"],
        serde_json::json!([
            "sh",
            "-c",
            "trap 'exit 0' TERM; run=$(date +%s); i=0; while true; do i=$((i+1)); echo \"cni-chaos-traffic flow=nat-egress from=$NODE_NAME sender=$POD_NAME/$run seq=$i sent=$(date +%s)000\" | nc -w 1 172.31.250.100 9000 & sleep 0.2; done"
        ])
    );
    assert_eq!(
        sender["env"],
        serde_json::json!([
            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ])
    );

    // Teardown: the cluster, then the target and the network.
    let mut delete = words("kind delete cluster --name chaos-contract --kubeconfig");
    delete.push(f.path("kubeconfig"));
    runner.push(ok(delete));
    for e in nat_removal() {
        runner.push(e);
    }
    cluster.teardown().await.unwrap();
    runner.assert_done();
    assert!(
        pending_of(tmp.path()).is_empty(),
        "{:?}",
        pending_of(tmp.path())
    );
}

/// A journaled `nat-gateway: true` fixture whose script runs up to and
/// including `kind create cluster` and the record of its nodes; returns
/// the `docker ps` of kind's label, which the failure path runs again.
fn nat_fixture_created(runner: &ScriptedRunner, journal: &Path) -> (Fixture, Vec<String>) {
    let journal = Arc::new(
        cni_chaos::journal::Journal::at(journal)
            .begin(None)
            .unwrap(),
    );
    let f = Fixture::with_nat_gateway(runner).journaled(journal);
    let ps = push_created(&f, runner);
    (f, ps)
}

/// Scripts a journaled provisioning up to `kind create cluster` and the
/// record of its nodes (one control plane); returns that `docker ps`.
fn push_created(f: &Fixture, runner: &ScriptedRunner) -> Vec<String> {
    for e in probes()
        .into_iter()
        .chain(pulls(f))
        .chain([ok(create_argv(f))])
    {
        runner.push(e);
    }
    let mut ps = words(
        "docker ps -a --no-trunc --filter label=io.x-k8s.kind.cluster=chaos-contract --format",
    );
    ps.push("{{.ID}} {{.Names}}".into());
    runner.push(Expectation::ok(
        ps.clone(),
        "c0ffee chaos-contract-control-plane\n",
    ));
    ps
}

/// Provisions the `nat-gateway: true` profile, which must fail; returns
/// the message.
async fn nat_fails(f: &Fixture) -> String {
    f.backend
        .provision(&nat_profile(), &CancellationToken::new())
        .await
        .err()
        .expect("provisioning must fail")
        .to_string()
}

/// A NAT-gateway step that fails (the EIP never turns ready) ends the
/// provisioning with an error that names the step and the object and
/// carries kubectl's output and what kubectl shows of the gateway; the
/// cluster is exported and deleted, the target and network removed, and
/// nothing stays journaled. A network that cannot be removed stays
/// journaled for `cni-chaos clean`.
#[tokio::test]
async fn a_failing_nat_gateway_step_reports_its_output_and_leaks_nothing() {
    for network_rm_fails in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let runner = ScriptedRunner::ordered([]);
        let (f, ps) = nat_fixture_created(&runner, tmp.path());
        let mut setup = nat_setup(&f);
        // The three rule waits and the client come last.
        let eip_wait = setup.len() - 5;
        let failed = Expectation::failed(
            setup[eip_wait].argv.clone(),
            1,
            "error: timed out waiting for the condition on iptables-eips/eip-gw1",
        );
        setup.truncate(eip_wait);
        for e in install_sequence(&f).into_iter().chain(setup) {
            runner.push(e);
        }
        runner.push(failed);
        runner.push(Expectation::ok(
            f.kubectl(&[
                "get",
                "vpc-nat-gateways.kubeovn.io,iptables-eips.kubeovn.io,iptables-snat-rules.kubeovn.io,iptables-dnat-rules.kubeovn.io",
                "-o",
                "wide",
            ]),
            "NAME              V4IP             READY\neip-gw1           172.31.250.101   false\n",
        ));
        for e in export_and_delete(&f) {
            runner.push(e);
        }
        runner.push(Expectation::ok(ps, ""));
        runner.push(ok(words(&format!("docker rm --force {NAT_TARGET}"))));
        let rm = words(&format!("docker network rm {NAT_NET}"));
        runner.push(if network_rm_fails {
            Expectation::failed(
                rm,
                1,
                "Error response from daemon: error while removing network: network chaos-contract-nat-ext has active endpoints",
            )
        } else {
            ok(rm)
        });
        let err = nat_fails(&f).await;
        runner.assert_done();
        for needle in [
            "VPC NAT gateway setup failed for cluster chaos-contract",
            "waiting iptables-eips eip-gw1 failed",
            "timed out waiting for the condition on iptables-eips/eip-gw1",
            "eip-gw1           172.31.250.101   false",
        ] {
            assert!(err.contains(needle), "no {needle:?} in:\n{err}");
        }
        let left = pending_of(tmp.path());
        if network_rm_fails {
            assert_eq!(
                left,
                [format!(
                    "Docker network {NAT_NET} of kind cluster {CLUSTER}"
                )],
                "the network that could not be removed stays for clean"
            );
        } else {
            assert!(left.is_empty(), "{left:?}");
        }
    }
}

/// A `docker network create` that fails (its subnet overlaps another
/// network) made nothing: its intent is forgotten, nothing is removed
/// but the cluster, and the error carries Docker's output.
#[tokio::test]
async fn a_failing_network_create_is_forgotten_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    let runner = ScriptedRunner::ordered([]);
    let (f, ps) = nat_fixture_created(&runner, tmp.path());
    for e in install_sequence(&f) {
        runner.push(e);
    }
    runner.push(Expectation::failed(
        nat_network_create(),
        1,
        "Error response from daemon: invalid pool request: Pool overlaps with other one on this address space",
    ));
    for e in export_and_delete(&f) {
        runner.push(e);
    }
    runner.push(Expectation::ok(ps, ""));
    let err = nat_fails(&f).await;
    runner.assert_done();
    assert!(
        err.contains(&format!(
            "creating Docker network {NAT_NET} of kind cluster {CLUSTER} failed"
        )),
        "{err}"
    );
    assert!(err.contains("Pool overlaps"), "{err}");
    assert!(pending_of(tmp.path()).is_empty());
}

/// The gateway's StatefulSet is looked for every 2 s until
/// kube-ovn-controller has made it (a `rollout status` of a missing object
/// fails at once); one that never appears is an error naming it, with
/// what kubectl shows of the gateway, once the wait's timeout is spent.
#[tokio::test(start_paused = true)]
async fn the_gateway_statefulset_is_polled_until_it_exists_or_the_timeout() {
    for appears in [true, false] {
        let runner = ScriptedRunner::ordered([]);
        let state = tempfile::tempdir().unwrap();
        let kubectl = Kubectl::new(Arc::new(runner.clone()), "/k", "c");
        let k = |args: &[&str]| {
            let mut v = words("kubectl --kubeconfig /k --context kind-c");
            v.extend(args.iter().map(|s| s.to_string()));
            v
        };
        let apply = state.path().join("cni-chaos-nat-gateway.json");
        runner.push(ok(k(&["apply", "-f", &apply.display().to_string()])));
        for (cond, object) in [
            (
                "--for=condition=Ready",
                "subnets.kubeovn.io/ovn-vpc-external-network",
            ),
            (
                "--for=condition=Ready",
                "subnets.kubeovn.io/cni-chaos-vpc-subnet",
            ),
            (
                "--for=jsonpath={.status.standby}=true",
                "vpcs.kubeovn.io/cni-chaos-vpc",
            ),
        ] {
            runner.push(ok(k(&["wait", cond, object, "--timeout=10s"])));
        }
        let get = k(&GATEWAY_LOOKUP);
        // t = 0, 2, 4, 6, 8, 10 s: the sixth look is at the deadline.
        let empty = if appears { 2 } else { 6 };
        for _ in 0..empty {
            runner.push(Expectation::ok(get.clone(), ""));
        }
        if appears {
            runner.push(Expectation::ok(
                get.clone(),
                "statefulset.apps/vpc-nat-gw-gw1\n",
            ));
            runner.push(ok(k(&[
                "-n",
                "kube-system",
                "rollout",
                "status",
                "statefulset/vpc-nat-gw-gw1",
                "--timeout=10s",
            ])));
            // Stops the run at the rules: enough for the poll.
            runner.push(Expectation::failed(
                k(&[
                    "apply",
                    "-f",
                    &state
                        .path()
                        .join("cni-chaos-nat-rules.json")
                        .display()
                        .to_string(),
                ]),
                1,
                "error: no matches for kind \"IptablesEIP\"",
            ));
        }
        runner.push(Expectation::ok(
            k(&[
                "get",
                "vpc-nat-gateways.kubeovn.io,iptables-eips.kubeovn.io,iptables-snat-rules.kubeovn.io,iptables-dnat-rules.kubeovn.io",
                "-o",
                "wide",
            ]),
            "NAME   VPC             SUBNET\ngw1    cni-chaos-vpc   cni-chaos-vpc-subnet\n",
        ));
        let setup = kind::NatGateway {
            runner: Arc::new(runner.clone()),
            kubectl: &kubectl,
            cluster: "c",
            nodes: vec![],
            gateway_node: "c-worker".into(),
            client_node: "c-control-plane".into(),
            image: "docker.io/kubeovn/vpc-nat-gateway:v1.16.2",
            state: state.path(),
            dry_run: false,
            timeout: Duration::from_secs(10),
        };
        let started = tokio::time::Instant::now();
        let err = setup.apply().await.unwrap_err().to_string();
        runner.assert_done();
        assert!(err.contains("gw1    cni-chaos-vpc"), "{err}");
        if appears {
            assert!(err.contains("kubectl apply"), "{err}");
            assert!(err.contains("no matches for kind"), "{err}");
            assert_eq!(started.elapsed(), Duration::from_secs(4));
        } else {
            assert!(
                err.contains("waiting for statefulset/vpc-nat-gw-gw1 failed: kube-ovn-controller did not create it within 10s"),
                "{err}"
            );
            assert_eq!(started.elapsed(), Duration::from_secs(10));
        }
    }
}
