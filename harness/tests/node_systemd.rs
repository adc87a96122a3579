//! Tier-3 system tests on a node that shuts down like a kind node: systemd
//! as PID 1, "pod" processes in transient systemd scopes, and the harness's
//! real node runtime and reboot injector acting on it.
//!
//! Why a node of its own: what a reboot leaves on a kind node's disk depends
//! on how the node shuts down. kind's base image sets `STOPSIGNAL
//! SIGRTMIN+3` (kind v0.31.0 `images/base/Dockerfile`), so a graceful stop
//! makes the node's systemd halt in order; containerd runs with `SystemdCgroup
//! = true`, so pod processes live in systemd scopes, and systemd stops each
//! with SIGTERM followed by SIGCONT (systemd.kill(5)). The Multus thick
//! daemon turns SIGTERM into a clean exit that deletes `00-multus.conf`
//! (multus-cni `pkg/server/config/manager.go`). A node whose PID 1 is a
//! shell would show none of this. FACTS.md, "kind node facts", states the
//! beliefs; each test here pins one of them:
//!
//! - `graceful_reboot_delivers_sigterm_and_the_daemon_removes_its_config`
//! - `hard_reboot_keeps_the_config`
//! - `kubelet_style_delete_of_a_frozen_daemon_runs_no_cleanup`
//! - `graceful_shutdown_wakes_a_frozen_daemon_and_it_cleans_up`
//!
//! The image: Debian bookworm from Debian's packages (`debootstrap
//! --variant=minbase` with systemd, systemd-sysv and procps, for `pgrep` and
//! `kill`, which the runtime runs in nodes) into a folder under the cargo
//! target dir, `docker import`ed, with a two-line Dockerfile on top
//! (`STOPSIGNAL SIGRTMIN+3`, `ENTRYPOINT ["/sbin/init"]`). Its tag is a hash
//! of those inputs, so a later run (or a later test in this binary) reuses
//! it while they are unchanged; containers run with `--pull never`.
//! Building it needs debootstrap, Debian's archive keyring, root (or
//! passwordless sudo) and the Debian mirror; reusing it needs only Docker.
//!
//! The nodes: named and labelled like kind workers (`<cluster>-worker`,
//! `io.x-k8s.kind.cluster`, `io.x-k8s.kind.role=worker`), with `--tmpfs
//! /run --tmpfs /run/lock --tmpfs /tmp`; the rest of the filesystem is the
//! container's own and survives a restart, as a kind node's `/etc` does.
//! No network (`--network none`): nothing here needs one. Removed by name on
//! drop.
//!
//! cgroups: on a cgroup v1 Docker host a node runs with `--cap-add SYS_ADMIN
//! -v /sys/fs/cgroup:/sys/fs/cgroup:ro`; systemd boots as PID 1 without
//! `--privileged` (measured; FACTS.md). On a cgroup v2 host (GitHub's Ubuntu
//! runners) that read-only bind no longer boots systemd (moby/moby#42275):
//! the unified hierarchy must be writable, and Docker's default private
//! cgroup namespace does not fit a bind of the host's tree. Docker mounts the
//! container's own cgroup2 subtree writable only for a privileged container,
//! so there the node runs as kind runs every node, `--privileged
//! --cgroupns=private` (kind's `pkg/cluster/internal/providers/docker/
//! provision.go`), and systemd manages the subtree rooted at the container's
//! cgroup (systemd.io/CONTAINER_INTERFACE). The version comes from the
//! Docker daemon (`docker info`), which is what mounts it. The v2 path is
//! written from those sources, not run on this project's v1 machine (which
//! also refuses `--privileged`); every `SYSTEM:` line names the version it
//! ran on, and the tests assert the same things on both.
//!
//! The stand-in Multus daemon: `dash` copied to
//! `/usr/local/bin/multus-daemon` (so `pgrep -x multus-daemon` finds it, as
//! the harness's injectors look for it), running a script that writes
//! `00-multus.conf` at start, appends to a log on the node's disk, and
//! removes the file in its SIGTERM trap. It is started with `systemd-run
//! --scope -p DefaultDependencies=no` (the properties runc's systemd cgroup
//! driver gives a container's scope) through `docker exec -d`, so the scope
//! outlives the exec. It is not restarted after a reboot, so the file's
//! presence after boot is exactly what shutdown left; the tests check that
//! no daemon runs then, and read the log for what the handler did.
//!
//! Reboots go through `kind::inject` with a `Fault::NodeReboot`, the
//! harness's public entry, so whatever the injector does (now: `docker
//! stop -t 30` or `docker kill`, `docker cp` of the CNI files out of the
//! stopped node, `docker start`) is what these tests exercise. The tests
//! read the node's files themselves after boot, and check that the
//! injector's record of the stopped node's disk (`preconditions.disk`,
//! with a stand-in `multus-shim` that nothing removes) says the same.
//!
//! Timing: a graceful reboot here takes about a second, and now and then
//! about 11 s. Both times the daemon gets SIGTERM with SIGCONT, from its
//! scope's stop or from systemd-shutdown's final broadcast (`kill(-1,
//! SIGSTOP)`, SIGTERM to each process, `kill(-1, SIGCONT)`; systemd
//! `src/shared/killall.c`). The slow case is that broadcast's wait: it
//! learns of its own children's exits by SIGCHLD, but checks others (the
//! daemon's parent is `docker exec`'s, outside the node) only when woken,
//! at the latest at its 10 s log deadline. The tests only require the
//! reboot to end within its 30 s grace period, which Docker would otherwise
//! end with SIGKILL.
//!
//! Without Docker, or (when the image must be built) debootstrap, the
//! keyring, root or the mirror, each test prints `SKIPPED:
//! node_systemd::<test>: <reason>` and returns; under
//! `CHAOS_SYSTEM_TESTS=require` it fails instead (`support::missing`).

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use cni_chaos::backend::NodeInfo;
use cni_chaos::backend::kind::{
    self, CLUSTER_LABEL, DockerNodes, Guard, MULTUS_CONF, MULTUS_SHIM, OvsCommands, ROLE_LABEL,
    hex_digest,
};
use cni_chaos::exec::{Command, LocalRunner, Output};
use cni_chaos::fault::{
    Evidence, Fault, MULTUS_DAEMON, NodeDisk, NodeReboot, NodeRole, NodeTarget, RebootMode,
};
use support::{say, try_output, try_run, unique};

/// The Debian release the node image is built from.
const SUITE: &str = "bookworm";
/// Where debootstrap fetches it.
const MIRROR: &str = "http://deb.debian.org/debian";
/// What debootstrap checks the release against (Debian's
/// `debian-archive-keyring`, also packaged by Ubuntu).
const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// systemd as `/sbin/init`; procps for the runtime's `pgrep` and `kill`.
const PACKAGES: &str = "systemd,systemd-sysv,procps";
/// What the node image adds to the imported root filesystem, after its
/// `FROM` line: a kind node's stop signal and systemd as PID 1.
const NODE_DOCKERFILE: &str = "STOPSIGNAL SIGRTMIN+3\nENTRYPOINT [\"/sbin/init\"]\n";
/// The node image's repository; its tag is [`inputs_hash`].
const IMAGE_REPO: &str = "cni-chaos-node";
/// The imported root filesystem's repository, same tag.
const ROOTFS_REPO: &str = "cni-chaos-node-rootfs";
/// debootstrap takes about 40 s here; a slow mirror may take minutes.
const DEBOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(900);
/// Timeout of the other image-build steps (tar, import, build).
const BUILD_STEP_TIMEOUT: Duration = Duration::from_secs(300);
/// Timeout of one docker command against a node.
const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);
/// How long systemd may take to finish booting a node.
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);
/// The graceful reboot's grace period (the harness's default).
const GRACE: Duration = Duration::from_secs(30);
/// The pod's grace period between the kubelet's SIGTERM and SIGKILL.
const POD_GRACE: Duration = Duration::from_secs(2);

/// The stand-in daemon's scope (`systemd-run --unit`).
const STANDIN_UNIT: &str = "multus-standin";
/// Its log, on the node's disk: what it did survives a reboot.
const STANDIN_LOG: &str = "/var/log/multus-standin.log";
/// Its PID, in the node's `/run`.
const STANDIN_PIDFILE: &str = "/run/multus-standin.pid";
/// What its SIGTERM handler writes to its log.
const HANDLED: &str = "SIGTERM: removed";

/// The stand-in Multus daemon: writes `00-multus.conf` (atomically, as
/// Multus does), records its start, and on SIGTERM removes the file and
/// exits 0, as the thick daemon's clean exit does. It waits in `wait`, so
/// the trap runs as soon as the signal arrives (and the process runs).
fn standin_script() -> String {
    format!(
        "conf={MULTUS_CONF}; log={STANDIN_LOG}; \
         trap 'rm -f \"$conf\"; echo \"{HANDLED} $conf\" >> \"$log\"; exit 0' TERM; \
         echo '{{\"cniVersion\":\"0.3.1\",\"name\":\"multus-cni-network\",\"type\":\"multus-shim\"}}' > \"$conf.new\"; \
         mv \"$conf.new\" \"$conf\"; \
         echo \"started $$\" >> \"$log\"; \
         echo $$ > {STANDIN_PIDFILE}; \
         while :; do sleep 1 & wait $!; done"
    )
}

/// debootstrap's arguments, with the root filesystem in `dir`.
fn debootstrap_args(dir: &str) -> Vec<String> {
    vec![
        "--variant=minbase".into(),
        format!("--include={PACKAGES}"),
        format!("--keyring={KEYRING}"),
        SUITE.into(),
        dir.into(),
        MIRROR.into(),
    ]
}

/// The image's tag: a hash of everything that goes into it (debootstrap's
/// arguments with a placeholder for the folder, and the Dockerfile's text).
fn inputs_hash() -> String {
    let mut inputs = debootstrap_args("<rootfs>").join("\0");
    inputs.push('\0');
    inputs.push_str(NODE_DOCKERFILE);
    hex_digest(inputs.as_bytes())[..16].to_string()
}

/// The cgroup version of the Docker host, which decides how a node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cgroup {
    V1,
    V2,
}

impl std::fmt::Display for Cgroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Cgroup::V1 => "cgroup v1",
            Cgroup::V2 => "cgroup v2",
        })
    }
}

impl Cgroup {
    /// The `docker run` arguments that let systemd boot as PID 1 (see the
    /// header).
    fn run_args(self) -> &'static [&'static str] {
        match self {
            Cgroup::V1 => &[
                "--cap-add",
                "SYS_ADMIN",
                "-v",
                "/sys/fs/cgroup:/sys/fs/cgroup:ro",
            ],
            Cgroup::V2 => &["--privileged", "--cgroupns=private"],
        }
    }
}

/// Why the nodes cannot be made here: "could not run" kept apart from "ran
/// and failed".
#[derive(Debug)]
enum Unready {
    /// A prerequisite is missing: skip, or fail under require.
    Missing(String),
    /// Building the image failed: always a failure.
    Failed(String),
}

/// The node image, and what this host needs to run it.
#[derive(Debug)]
struct Host {
    /// The image's tag.
    image: String,
    /// How long this process took to build it; `None`: it was there.
    built_in: Option<Duration>,
    /// The Docker host's cgroup version.
    cgroup: Cgroup,
}

impl Host {
    /// For the `SYSTEM:` lines.
    fn describe(&self) -> String {
        match self.built_in {
            Some(took) => format!(
                "{}; image {} built in {:.0} s",
                self.cgroup,
                self.image,
                took.as_secs_f64()
            ),
            None => format!("{}; image {} reused", self.cgroup, self.image),
        }
    }
}

/// Built once per test binary: the tests run in parallel, and the first to
/// get here builds while the others wait.
static HOST: OnceLock<Result<Host, Unready>> = OnceLock::new();

/// The host for `test`, or `None` after printing why it skips; panics when
/// the image could not be built, or under `CHAOS_SYSTEM_TESTS=require`.
fn host(test: &str) -> Option<&'static Host> {
    match HOST.get_or_init(prepare_host) {
        Ok(host) => Some(host),
        Err(Unready::Missing(why)) => {
            support::missing(&format!("node_systemd::{test}: {why}"));
            None
        }
        Err(Unready::Failed(why)) => panic!("node_systemd::{test}: {why}"),
    }
}

fn prepare_host() -> Result<Host, Unready> {
    let cgroup = docker_cgroup()?;
    let image = format!("{IMAGE_REPO}:{}", inputs_hash());
    let inspect = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &image])
        .timeout(DOCKER_TIMEOUT);
    if try_run(inspect).is_ok() {
        return Ok(Host {
            image,
            built_in: None,
            cgroup,
        });
    }
    let started = Instant::now();
    build_image(&image)?;
    Ok(Host {
        image,
        built_in: Some(started.elapsed()),
        cgroup,
    })
}

/// The Docker daemon's cgroup version (`docker info`); a daemon that does
/// not answer is a missing prerequisite.
fn docker_cgroup() -> Result<Cgroup, Unready> {
    let info = Command::new("docker")
        .args(["info", "--format", "{{.CgroupVersion}}"])
        .timeout(DOCKER_TIMEOUT);
    let out = match try_output(info) {
        Ok(out) => out,
        Err(e) => return Err(Unready::Missing(format!("the Docker CLI cannot run: {e}"))),
    };
    if !out.success() {
        return Err(Unready::Missing(format!(
            "no reachable Docker daemon (DOCKER_HOST={}): {}",
            std::env::var("DOCKER_HOST").unwrap_or_default(),
            out.stderr_str().lines().next().unwrap_or("")
        )));
    }
    match out.stdout_str().trim() {
        "1" => Ok(Cgroup::V1),
        "2" => Ok(Cgroup::V2),
        other => Err(Unready::Failed(format!(
            "`docker info` names no cgroup version 1 or 2: {other:?}"
        ))),
    }
}

/// How to run a program as root: directly when this process is root, else
/// through passwordless sudo; a missing prerequisite when neither works.
fn as_root() -> Result<Vec<&'static str>, Unready> {
    let uid = try_run(Command::new("id").arg("-u").timeout(DOCKER_TIMEOUT))
        .map_err(|e| Unready::Failed(e.to_string()))?;
    if uid.stdout_str().trim() == "0" {
        return Ok(Vec::new());
    }
    match try_run(
        Command::new("sudo")
            .args(["-n", "true"])
            .timeout(DOCKER_TIMEOUT),
    ) {
        Ok(_) => Ok(vec!["sudo", "-n"]),
        Err(e) => Err(Unready::Missing(format!(
            "building the node image runs debootstrap as root: run as root or with passwordless sudo ({e})"
        ))),
    }
}

/// `argv` as root (see [`as_root`]).
fn root_cmd(root: &[&str], argv: &[&str]) -> Command {
    let mut all = root.iter().chain(argv);
    let program = all.next().expect("a program");
    Command::new(*program).args(all.copied())
}

/// The scratch folder of one build, removed (as root: debootstrap's files
/// are root's) when the build ends, however it ends; never across a mount
/// an interrupted debootstrap may have left in it (its `/proc`, or the
/// host's device files it binds in a container).
struct Scratch {
    dir: PathBuf,
    root: Vec<&'static str>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let dir = self.dir.display().to_string();
        let _ = try_output(
            root_cmd(&self.root, &["rm", "-rf", "--one-file-system", &dir]).timeout(DOCKER_TIMEOUT),
        );
    }
}

/// debootstrap, `docker import`, then the Dockerfile on top, tagged `image`.
fn build_image(image: &str) -> Result<(), Unready> {
    let root = as_root()?;
    let probe = root_cmd(&root, &["debootstrap", "--version"]).timeout(DOCKER_TIMEOUT);
    if let Err(e) = try_run(probe) {
        return Err(Unready::Missing(format!(
            "building the node image needs debootstrap ({e}); install debootstrap"
        )));
    }
    if !Path::new(KEYRING).exists() {
        return Err(Unready::Missing(format!(
            "building the node image needs {KEYRING}; install debian-archive-keyring"
        )));
    }
    // One folder per process: two test runs may build at once.
    let scratch = Scratch {
        dir: Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("cni-chaos-node-rootfs")
            .join(format!("{}-{}", inputs_hash(), std::process::id())),
        root: root.clone(),
    };
    std::fs::create_dir_all(&scratch.dir)
        .map_err(|e| Unready::Failed(format!("{}: {e}", scratch.dir.display())))?;
    let rootfs = scratch.dir.join("rootfs").display().to_string();
    let tarball = scratch.dir.join("rootfs.tar").display().to_string();
    let args = debootstrap_args(&rootfs);
    let mut argv = vec!["debootstrap"];
    argv.extend(args.iter().map(String::as_str));
    if let Err(e) = try_run(root_cmd(&root, &argv).timeout(DEBOOTSTRAP_TIMEOUT)) {
        let text = e.to_string();
        // debootstrap's words when the mirror cannot be reached.
        return Err(if text.contains("Failed getting release file") {
            Unready::Missing(format!(
                "the Debian mirror {MIRROR} cannot be reached: {text}"
            ))
        } else {
            Unready::Failed(text)
        });
    }
    let failed = |e: cni_chaos::exec::ExecError| Unready::Failed(e.to_string());
    try_run(
        root_cmd(
            &root,
            &[
                "tar",
                "--numeric-owner",
                "-C",
                &rootfs,
                "-cf",
                &tarball,
                ".",
            ],
        )
        .timeout(BUILD_STEP_TIMEOUT),
    )
    .map_err(failed)?;
    let base = format!("{ROOTFS_REPO}:{}", inputs_hash());
    try_run(
        Command::new("docker")
            .args(["import", &tarball, &base])
            .timeout(BUILD_STEP_TIMEOUT),
    )
    .map_err(failed)?;
    try_run(
        Command::new("docker")
            .args(["build", "-q", "-t", image, "-"])
            .stdin(format!("FROM {base}\n{NODE_DOCKERFILE}"))
            // The classic builder: it needs no buildx plugin and builds
            // FROM a local image without looking at a registry.
            .env("DOCKER_BUILDKIT", "0")
            .timeout(BUILD_STEP_TIMEOUT),
    )
    .map_err(failed)?;
    Ok(())
}

/// Calls `probe` every 100 ms until it gives a value; after `timeout`,
/// panics with `what` and the last thing it said.
fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) => assert!(
                Instant::now() < deadline,
                "{what} within {timeout:?}: {last}"
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A kind-like worker node of a cluster of its own; removed by name on drop.
struct Node {
    cluster: String,
    name: String,
}

impl Node {
    /// Starts a worker (`<cluster>-worker`) from the node image and waits
    /// until systemd has booted it.
    fn start(tag: &str, host: &Host) -> Node {
        let cluster = unique(tag);
        let node = Node {
            name: format!("{cluster}-worker"),
            cluster,
        };
        let cluster_label = format!("{CLUSTER_LABEL}={}", node.cluster);
        let role_label = format!("{ROLE_LABEL}=worker");
        let mut argv = vec![
            "run",
            "-d",
            "--pull",
            "never",
            "--name",
            &node.name,
            "--hostname",
            &node.name,
            "--label",
            &cluster_label,
            "--label",
            &role_label,
            "--network",
            "none",
            "--init=false",
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/run/lock",
            "--tmpfs",
            "/tmp",
        ];
        argv.extend(host.cgroup.run_args());
        argv.push(&host.image);
        node.docker(&argv);
        node.wait_booted();
        // What a kind node with Multus has (a stand-in shim), and the
        // stand-in daemon's binary.
        node.sh(&format!(
            "mkdir -p /etc/cni/net.d /opt/cni/bin && cp /bin/true {MULTUS_SHIM} && cp /bin/dash /usr/local/bin/{MULTUS_DAEMON}"
        ));
        node
    }

    /// `docker <argv>`; panics with the output when it fails.
    fn docker(&self, argv: &[&str]) -> Output {
        try_run(
            Command::new("docker")
                .args(argv.iter().copied())
                .timeout(DOCKER_TIMEOUT),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", self.name))
    }

    /// Runs `script` with the node's `sh`; its stdout.
    fn sh(&self, script: &str) -> String {
        self.docker(&["exec", &self.name, "sh", "-c", script])
            .stdout_str()
            .into_owned()
    }

    /// Waits until `systemctl is-system-running` says the boot is over
    /// (`running`, or `degraded` when a unit failed); its answer.
    fn wait_booted(&self) -> String {
        wait_for(
            &format!("{}: systemd did not finish booting", self.name),
            BOOT_TIMEOUT,
            || {
                let out = try_output(
                    Command::new("docker")
                        .args(["exec", &self.name, "systemctl", "is-system-running"])
                        .timeout(DOCKER_TIMEOUT),
                );
                let said = match &out {
                    Ok(o) => format!("{}{}", o.stdout_str().trim(), o.stderr_str().trim()),
                    Err(e) => e.to_string(),
                };
                match said.as_str() {
                    "running" | "degraded" => Ok(said),
                    _ => Err(said),
                }
            },
        )
    }

    /// The harness's node runtime for this node's cluster, with kind's guard.
    fn runtime(&self) -> DockerNodes {
        DockerNodes::new(
            Arc::new(LocalRunner::new()),
            &self.cluster,
            Guard::harness(None),
            OvsCommands::NodeContainer,
        )
    }

    /// Starts the stand-in Multus daemon in a transient scope, as
    /// containerd's systemd cgroup driver places a pod's processes, and
    /// waits until it has written its config; its PID.
    fn start_standin(&self) -> u32 {
        let unit = format!("--unit={STANDIN_UNIT}");
        let daemon = format!("/usr/local/bin/{MULTUS_DAEMON}");
        let script = standin_script();
        self.docker(&[
            "exec",
            "-d",
            &self.name,
            "systemd-run",
            "--scope",
            &unit,
            "-p",
            "DefaultDependencies=no",
            "--",
            &daemon,
            "-c",
            &script,
        ]);
        wait_for(
            &format!(
                "{}: the stand-in daemon did not write {MULTUS_CONF}",
                self.name
            ),
            Duration::from_secs(10),
            || {
                let pid = self.sh(&format!(
                    "if [ -s {STANDIN_PIDFILE} ] && [ -f {MULTUS_CONF} ]; then cat {STANDIN_PIDFILE}; fi"
                ));
                pid.trim().parse().map_err(|_| format!("{pid:?}"))
            },
        )
    }

    fn info(&self) -> NodeInfo {
        NodeInfo {
            name: self.name.clone(),
            role: NodeRole::Worker,
            internal_ip: None,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = try_output(
            Command::new("docker")
                .args(["rm", "-f", "-v", &self.name])
                .timeout(DOCKER_TIMEOUT),
        );
    }
}

/// One test's node with the stand-in daemon running in its scope.
struct Fixture {
    host: &'static Host,
    node: Node,
    nodes: DockerNodes,
    /// The daemon's PID in the node.
    pid: u32,
    /// The config it wrote.
    conf: Vec<u8>,
}

impl Fixture {
    /// A node named after `tag` with the daemon started and checked to be
    /// where a pod's process is; `None` when `test` skips.
    async fn start(test: &str, tag: &str) -> Option<Fixture> {
        let host = host(test)?;
        let node = Node::start(tag, host);
        let nodes = node.runtime();
        let pid = node.start_standin();
        assert!(
            nodes.is_live(&node.name, pid, MULTUS_DAEMON).await.unwrap(),
            "PID {pid} is not a live {MULTUS_DAEMON}"
        );
        let cgroup = nodes
            .read_file(&node.name, &format!("/proc/{pid}/cgroup"))
            .await
            .unwrap()
            .expect("its cgroup");
        let cgroup = String::from_utf8_lossy(&cgroup);
        assert!(
            cgroup.contains(&format!("/{STANDIN_UNIT}.scope")),
            "the daemon is not in its systemd scope: {cgroup}"
        );
        let conf = nodes
            .read_file(&node.name, MULTUS_CONF)
            .await
            .unwrap()
            .expect("the daemon wrote its config");
        assert!(!conf.is_empty());
        Some(Fixture {
            host,
            node,
            nodes,
            pid,
            conf,
        })
    }

    /// SIGSTOPs the daemon through the runtime, and checks it is stopped.
    async fn freeze(&self) {
        let n = self.node.name.as_str();
        self.nodes.signal(n, &[self.pid], "STOP").await.unwrap();
        assert_eq!(
            self.nodes.process_state(n, self.pid).await.unwrap(),
            Some('T')
        );
    }

    /// Reboots the node through the harness's injector, then reads what
    /// its disk says (see [`after_boot`]), and checks that the injector's
    /// record of the stopped node's disk says the same.
    async fn reboot(&self, mode: RebootMode) -> Rebooted {
        let (took, evidence) = reboot(&self.nodes, &self.node, mode).await;
        let (conf, log) = after_boot(&self.nodes, &self.node).await;
        let Some(disk) = evidence.preconditions.disk.clone() else {
            panic!("the reboot recorded no disk: {evidence:?}");
        };
        assert_eq!(
            disk.multus_config,
            conf.is_some(),
            "the injector's copy of the stopped node disagrees with its disk after boot: {disk:?}"
        );
        assert!(disk.multus_shim, "{disk:?}");
        Rebooted {
            took,
            conf,
            log,
            disk,
        }
    }

    /// Prints this test's `SYSTEM:` line: `facts`, then the host's.
    fn say(&self, test: &str, facts: &str) {
        say(&format!(
            "SYSTEM: node_systemd::{test}: {facts}; {}",
            self.host.describe()
        ));
    }

    /// The daemon's handler ran: the file is gone and the log says so.
    fn assert_cleaned_up(&self, conf: Option<&[u8]>, log: &str) {
        assert_eq!(
            conf, None,
            "the daemon's SIGTERM handler did not run: {log}"
        );
        assert!(log.contains(HANDLED), "{log}");
    }

    /// It did not: the file is as the daemon wrote it and the log has no
    /// handler line.
    fn assert_kept(&self, conf: Option<&[u8]>, log: &str) {
        assert_eq!(conf, Some(&self.conf[..]), "{log}");
        assert!(!log.contains(HANDLED), "the handler ran: {log}");
    }
}

/// What a reboot through the injector did, as the node's disk says after
/// boot and as the injector recorded it while the node was down.
struct Rebooted {
    /// How long the injection took (stop, copy, start).
    took: Duration,
    /// `00-multus.conf` after boot.
    conf: Option<Vec<u8>>,
    /// The stand-in daemon's log.
    log: String,
    /// The injector's record of the stopped node's CNI files.
    disk: NodeDisk,
}

impl Rebooted {
    /// For the `SYSTEM:` lines.
    fn describe(&self) -> String {
        format!(
            "took {:.1} s; {MULTUS_CONF} {} after boot (the injector's copy of the stopped node: 00-multus.conf left {}, multus-shim left {})",
            self.took.as_secs_f64(),
            presence(self.conf.as_deref()),
            self.disk.multus_config,
            self.disk.multus_shim
        )
    }
}

/// Reboots `node` through the harness's injector; how long it took and its
/// evidence.
async fn reboot(nodes: &DockerNodes, node: &Node, mode: RebootMode) -> (Duration, Evidence) {
    let fault = Fault::NodeReboot(NodeReboot {
        target: NodeTarget::Name {
            name: "worker".into(),
        },
        mode,
        timeout: GRACE,
    });
    let started = Instant::now();
    let injected = kind::inject(nodes, None, &fault, Some(&node.info()))
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(
        injected.evidence.took_effect,
        "{mode:?}: {:?}",
        injected.evidence
    );
    if mode == RebootMode::Graceful {
        // Docker kills the node after the grace period: a graceful reboot
        // that took that long was no orderly halt.
        assert!(
            took < GRACE,
            "the graceful reboot took {took:?}: systemd did not halt within the grace period"
        );
    }
    (took, injected.evidence)
}

/// What a node's disk says after it came back: `00-multus.conf` and the
/// stand-in's log. Checks first that systemd booted it again and that no
/// daemon runs that could have rewritten the file.
async fn after_boot(nodes: &DockerNodes, node: &Node) -> (Option<Vec<u8>>, String) {
    node.wait_booted();
    let init = nodes.read_file(&node.name, "/proc/1/comm").await.unwrap();
    assert_eq!(init.as_deref(), Some(&b"systemd\n"[..]), "PID 1 after boot");
    assert_eq!(
        nodes.pids(&node.name, MULTUS_DAEMON).await.unwrap(),
        Vec::<u32>::new(),
        "no daemon runs after boot"
    );
    let conf = nodes.read_file(&node.name, MULTUS_CONF).await.unwrap();
    let log = nodes
        .read_file(&node.name, STANDIN_LOG)
        .await
        .unwrap()
        .expect("the stand-in's log");
    (conf, String::from_utf8_lossy(&log).into_owned())
}

/// The file's state for a `SYSTEM:` line.
fn presence(conf: Option<&[u8]>) -> &'static str {
    if conf.is_some() { "present" } else { "absent" }
}

/// A graceful reboot is an orderly systemd halt: the daemon in its scope
/// gets SIGTERM and its clean exit removes `00-multus.conf`, so the node
/// comes back without it (the #1221 precondition is absent).
#[tokio::test]
async fn graceful_reboot_delivers_sigterm_and_the_daemon_removes_its_config() {
    let test = "graceful_reboot_delivers_sigterm_and_the_daemon_removes_its_config";
    let Some(f) = Fixture::start(test, "nsd-grace").await else {
        return;
    };
    let r = f.reboot(RebootMode::Graceful).await;
    f.assert_cleaned_up(r.conf.as_deref(), &r.log);
    let (grace, pid, r) = (GRACE.as_secs(), f.pid, r.describe());
    f.say(test, &format!(
        "graceful reboot (grace {grace} s) through faults::inject {r}; daemon PID {pid} in {STANDIN_UNIT}.scope got SIGTERM and ran its handler"
    ));
}

/// A hard reboot (power loss) signals nothing: the file stays on disk with
/// no daemon behind it, the multus-cni #1221 precondition.
#[tokio::test]
async fn hard_reboot_keeps_the_config() {
    let test = "hard_reboot_keeps_the_config";
    let Some(f) = Fixture::start(test, "nsd-hard").await else {
        return;
    };
    let r = f.reboot(RebootMode::Hard).await;
    f.assert_kept(r.conf.as_deref(), &r.log);
    let (pid, r) = (f.pid, r.describe());
    f.say(
        test,
        &format!(
            "hard reboot through faults::inject {r}, unchanged; daemon PID {pid} ran no handler"
        ),
    );
}

/// A pod delete through the kubelet and runc: SIGTERM, SIGKILL after the
/// grace period, and no SIGCONT. A frozen daemon never runs its handler,
/// so the file stays.
#[tokio::test]
async fn kubelet_style_delete_of_a_frozen_daemon_runs_no_cleanup() {
    let test = "kubelet_style_delete_of_a_frozen_daemon_runs_no_cleanup";
    let Some(f) = Fixture::start(test, "nsd-pod").await else {
        return;
    };
    let (nodes, n, pid) = (&f.nodes, f.node.name.as_str(), f.pid);
    f.freeze().await;
    let started = Instant::now();
    nodes.signal(n, &[pid], "TERM").await.unwrap();
    tokio::time::sleep(POD_GRACE).await;
    assert_eq!(
        nodes.process_state(n, pid).await.unwrap(),
        Some('T'),
        "SIGTERM must not wake a stopped process"
    );
    nodes.signal(n, &[pid], "KILL").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while nodes.is_live(n, pid, MULTUS_DAEMON).await.unwrap() {
        assert!(Instant::now() < deadline, "SIGKILL did not end PID {pid}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gone = started.elapsed().as_secs_f64();
    let conf = nodes.read_file(n, MULTUS_CONF).await.unwrap();
    let log = nodes.read_file(n, STANDIN_LOG).await.unwrap().unwrap();
    f.assert_kept(conf.as_deref(), &String::from_utf8_lossy(&log));
    let (grace, file) = (POD_GRACE.as_secs(), presence(conf.as_deref()));
    f.say(test, &format!(
        "daemon PID {pid} SIGSTOPped, SIGTERM, {grace} s grace, SIGKILL, no SIGCONT: gone after {gone:.1} s with no handler run; {MULTUS_CONF} {file}"
    ));
}

/// systemd follows SIGTERM with SIGCONT (systemd.kill(5)): a frozen daemon
/// wakes during a graceful node shutdown and runs its cleanup.
#[tokio::test]
async fn graceful_shutdown_wakes_a_frozen_daemon_and_it_cleans_up() {
    let test = "graceful_shutdown_wakes_a_frozen_daemon_and_it_cleans_up";
    let Some(f) = Fixture::start(test, "nsd-wake").await else {
        return;
    };
    f.freeze().await;
    let r = f.reboot(RebootMode::Graceful).await;
    f.assert_cleaned_up(r.conf.as_deref(), &r.log);
    let (grace, pid, r) = (GRACE.as_secs(), f.pid, r.describe());
    f.say(test, &format!(
        "daemon PID {pid} SIGSTOPped, graceful reboot (grace {grace} s) through faults::inject {r}; systemd's SIGTERM+SIGCONT woke it and its handler ran"
    ));
}
