//! Tier-3 system tests of the kind backend's node runtime and fault
//! injectors: real Docker containers named and labelled exactly like kind
//! nodes, real Open vSwitch (userspace datapath), real network namespaces.
//!
//! They use the Docker daemon in `DOCKER_HOST` (`.ci/run` starts a private
//! one). Without Docker, OVS, a static busybox or `/dev/net/tun` each test
//! prints `SKIPPED: <reason>` to stderr and returns, unless
//! `CHAOS_SYSTEM_TESTS=require`, when it fails instead.
//!
//! The node image is `FROM scratch` with busybox-static; the host's `/usr`
//! (OVS binaries and schema, iproute2, shared libraries) and
//! `/etc/alternatives` are bind-mounted read-only. Nodes run with
//! `--tmpfs /run --tmpfs /tmp` like kind nodes (kubernetes-sigs/kind
//! pkg/cluster/internal/providers/docker/provision.go), but with NET_ADMIN,
//! SYS_ADMIN and `/dev/net/tun` instead of `--privileged`. `/etc/cni` and
//! `/opt/cni/bin` are volumes, so a restart keeps them as kind's `/var`
//! volume and image layers do. Everything a test makes is removed by name in
//! a Drop guard.
//!
//! One difference from kind, on purpose: kind nodes have no Open vSwitch;
//! Kube-OVN runs it in the `ovs-ovn` pod, so on kind the harness runs
//! `ovs-vsctl`/`ovs-appctl` with `kubectl exec` in that pod
//! (`OvsCommands::OvsOvnPod`, pinned by the contract tests only). These fake
//! nodes run the host's OVS themselves, so the tests build their node
//! runtime with `OvsCommands::NodeContainer`, which runs the same argv with
//! `docker exec` in the node. Everything else (the injectors, their evidence
//! and undos, the guard, the daemons' pidfiles under `/run/openvswitch`,
//! which `ovs-ovn` shares with the node through a hostPath) is the code path
//! kind uses.

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cni_chaos::backend::kind::{
    self, CLUSTER_LABEL, DockerNodes, Guard, KindCluster, KindConfig, OvsCommands, ROLE_LABEL,
    STALE_PREFIX, Undo,
};
use cni_chaos::backend::{Cluster, NodeInfo, select_node};
use cni_chaos::exec::{Command, ExecError, LocalRunner, Output, Runner};
use cni_chaos::fault::{
    CniConfig, CniConfigAction, CniFile, DEFAULT_HOLD_FOR, Fault, LeftoverMultusConfig,
    NetworkPartition, NodeReboot, NodeRole, NodeTarget, OvsKill, OvsProcess, OvsSignal, RebootMode,
    StaleNetns,
};
use support::{say, unique};

/// Starts ovsdb-server and ovs-vswitchd inside a node (the database lives in
/// the container layer, the sockets and pidfiles in the /run tmpfs).
const START_OVS: &str = "set -e; mkdir -p /run/openvswitch /var/log/openvswitch; \
    [ -f /etc/openvswitch/conf.db ] || ovsdb-tool create /etc/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema; \
    ovsdb-server --remote=punix:/run/openvswitch/db.sock --pidfile=/run/openvswitch/ovsdb-server.pid --detach --log-file=/tmp/ovsdb-server.log /etc/openvswitch/conf.db; \
    ovs-vsctl --no-wait init; \
    ovs-vswitchd --pidfile=/run/openvswitch/ovs-vswitchd.pid --detach --log-file=/tmp/ovs-vswitchd.log unix:/run/openvswitch/db.sock";

/// Restarts ovs-vswitchd only (what ovs-ovn's liveness restart does).
const START_VSWITCHD: &str = "ovs-vswitchd --pidfile=/run/openvswitch/ovs-vswitchd.pid --detach --log-file=/tmp/ovs-vswitchd.log unix:/run/openvswitch/db.sock";

/// Two namespaces `a` (10.99.0.1) and `b` (10.99.0.2) joined by veth ports on
/// a userspace-datapath bridge. `ip` is the host's iproute2 by full path,
/// since busybox sh prefers its own applets.
const BRIDGE_TWO_NETNS: &str = "set -e; IP=/usr/bin/ip; \
    $IP netns add a; $IP netns add b; \
    $IP link add va0 type veth peer name va1; $IP link add vb0 type veth peer name vb1; \
    $IP link set va1 netns a; $IP link set vb1 netns b; \
    $IP -n a addr add 10.99.0.1/24 dev va1; $IP -n b addr add 10.99.0.2/24 dev vb1; \
    $IP -n a link set va1 up; $IP -n b link set vb1 up; $IP -n a link set lo up; $IP -n b link set lo up; \
    $IP link set va0 up; $IP link set vb0 up; \
    ovs-vsctl --timeout=10 add-br br0 -- set bridge br0 datapath_type=netdev; \
    ovs-vsctl --timeout=10 add-port br0 va0; ovs-vsctl --timeout=10 add-port br0 vb0";

/// PID 1 of a node: a shell that reaps the daemons reparented to it (a
/// bare `sleep` would leave killed daemons as zombies).
const INIT: &str = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done";

/// Runs a command on this machine (setup and cleanup, outside the code
/// under test), blocking, through the harness's own runner. Panics when it
/// cannot be started: only for tools the prerequisites checked.
fn host(argv: &[&str]) -> Output {
    host_cmd(Command::new(argv[0]).args(argv[1..].iter().copied()))
}

fn host_cmd(cmd: Command) -> Output {
    try_host_cmd(cmd).unwrap_or_else(|e| panic!("{e}"))
}

/// [`host_cmd`], but a program that cannot be started is an error.
fn try_host_cmd(cmd: Command) -> Result<Output, ExecError> {
    support::try_output(cmd)
}

fn host_ok(argv: &[&str]) -> String {
    let out = host(argv);
    assert!(
        out.success(),
        "`{}` failed: {}{}",
        argv.join(" "),
        out.stdout_str(),
        out.stderr_str()
    );
    out.stdout_str().into_owned()
}

/// Why the system tests cannot run here, if they cannot.
fn missing_prerequisite() -> Option<String> {
    missing_prerequisite_with("docker")
}

/// [`missing_prerequisite`] with `docker` as the Docker CLI.
fn missing_prerequisite_with(docker: &str) -> Option<String> {
    let probe = Command::new(docker).args(["version", "--format", "{{.Server.Version}}"]);
    let out = match try_host_cmd(probe) {
        Ok(out) => out,
        Err(e) => return Some(format!("the Docker CLI cannot run: {e}")),
    };
    if !out.success() {
        return Some(format!(
            "no reachable Docker daemon (DOCKER_HOST={}): {}",
            std::env::var("DOCKER_HOST").unwrap_or_default(),
            out.stderr_str().lines().next().unwrap_or("")
        ));
    }
    for path in [
        "/usr/sbin/ovs-vswitchd",
        "/usr/sbin/ovsdb-server",
        "/usr/bin/ovs-vsctl",
        "/usr/bin/ovs-appctl",
        "/usr/bin/ovsdb-tool",
        "/usr/share/openvswitch/vswitch.ovsschema",
        "/usr/bin/ip",
        "/bin/busybox",
        "/dev/net/tun",
    ] {
        if !std::path::Path::new(path).exists() {
            return Some(format!(
                "{path} is missing (openvswitch-switch, iproute2, busybox-static)"
            ));
        }
    }
    // Without ldd the linkage cannot be told; the image build then says.
    let ldd = try_host_cmd(Command::new("ldd").arg("/bin/busybox"));
    if ldd.is_ok_and(|o| o.success()) {
        return Some("/bin/busybox is dynamically linked; install busybox-static".into());
    }
    None
}

/// What a test does about a missing prerequisite (`reason`): `Ok(None)`
/// goes on, `Ok(Some(line))` skips with this `SKIPPED:` line, `Err` fails
/// with this message under `CHAOS_SYSTEM_TESTS=require` (`require`).
fn verdict(test: &str, reason: Option<String>, require: bool) -> Result<Option<String>, String> {
    match reason {
        None => Ok(None),
        Some(reason) if require => Err(format!("{test}: CHAOS_SYSTEM_TESTS=require, but {reason}")),
        Some(reason) => Ok(Some(format!("SKIPPED: kind_system::{test}: {reason}"))),
    }
}

/// `true` when the test should go on; prints the skip or panics under
/// `CHAOS_SYSTEM_TESTS=require`.
fn prerequisites(test: &str) -> bool {
    go_on(test, missing_prerequisite())
}

/// [`prerequisites`] for a given reason (or none).
fn go_on(test: &str, reason: Option<String>) -> bool {
    let require = std::env::var("CHAOS_SYSTEM_TESTS").as_deref() == Ok("require");
    match verdict(test, reason, require) {
        Ok(None) => true,
        Ok(Some(line)) => {
            say(&line);
            false
        }
        Err(e) => panic!("{e}"),
    }
}

/// A machine without the docker CLI skips these tests with the reason, and
/// fails them under `CHAOS_SYSTEM_TESTS=require`; it never panics on the
/// probe itself.
#[test]
fn a_missing_docker_cli_is_a_skip_reason_or_a_failure_under_require() {
    let reason = missing_prerequisite_with("cni-chaos-no-such-docker-cli")
        .expect("a missing CLI is a missing prerequisite");
    assert!(
        reason.starts_with(
            "the Docker CLI cannot run: could not start `cni-chaos-no-such-docker-cli version"
        ),
        "{reason}"
    );
    let skip = verdict("probe", Some(reason.clone()), false)
        .unwrap()
        .expect("a skip");
    assert!(
        skip.starts_with("SKIPPED: kind_system::probe: the Docker CLI cannot run"),
        "{skip}"
    );
    let failure = verdict("probe", Some(reason), true).unwrap_err();
    assert!(
        failure.starts_with("probe: CHAOS_SYSTEM_TESTS=require, but the Docker CLI cannot run"),
        "{failure}"
    );
    assert_eq!(verdict("probe", None, true), Ok(None));
}

/// Creates `name` as kind creates its `kind` network
/// (kubernetes-sigs/kind pkg/cluster/internal/providers/docker/network.go):
/// a bridge with masquerading whose only user-configured subnet is an IPv6
/// ULA /64, falling back to no subnet at all where IPv6 is unavailable.
/// Either way Docker's IPAM picks the IPv4 subnet, so, as on kind, a
/// container cannot be (re)connected with a fixed IPv4 address.
fn create_network_like_kind(name: &str) {
    let base = [
        "docker",
        "network",
        "create",
        "-d=bridge",
        "-o",
        "com.docker.network.bridge.enable_ip_masquerade=true",
    ];
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let ula = format!(
        "fc00:{:x}:{:x}::/64",
        std::process::id() & 0xffff,
        nanos & 0xffff
    );
    let mut v6 = base.to_vec();
    v6.extend(["--ipv6", "--subnet", &ula, name]);
    if host(&v6).success() {
        return;
    }
    let mut v4 = base.to_vec();
    v4.push(name);
    host_ok(&v4);
}

/// A fake kind cluster; everything in it is removed by name on drop.
struct SysCluster {
    name: String,
    image: String,
    network: String,
    containers: Vec<String>,
    volumes: Vec<String>,
    extra: Vec<String>,
}

impl SysCluster {
    /// Builds the node image, creates the cluster network the way kind
    /// creates `kind`, and starts `workers` workers and a control plane.
    fn start(tag: &str, workers: usize) -> Self {
        let name = unique(tag);
        let mut c = SysCluster {
            image: format!("cni-chaos-systest-node:{name}"),
            network: format!("{name}-net"),
            name,
            containers: Vec::new(),
            volumes: Vec::new(),
            extra: Vec::new(),
        };
        let ctx = tempfile::tempdir().expect("tempdir");
        std::fs::copy("/bin/busybox", ctx.path().join("busybox")).expect("copy busybox");
        std::fs::write(
            ctx.path().join("Dockerfile"),
            "FROM scratch\n\
             COPY busybox /bin/busybox\n\
             RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox --install -s /bin && ln -s usr/lib /lib && ln -s usr/lib64 /lib64 && ln -s usr/sbin /sbin && mkdir -p /etc/cni /opt/cni/bin /var /run /tmp /etc/openvswitch /etc/alternatives && ln -s /run /var/run\"]\n",
        )
        .expect("Dockerfile");
        host_cmd(
            Command::new("docker")
                // No cache: tests build the same content in parallel, and a
                // cached build shares its image with another test's tag,
                // which that test's `docker rmi -f` can delete under it.
                .args(["build", "-q", "--no-cache", "-t", &c.image])
                .arg(ctx.path().display().to_string())
                .env("DOCKER_BUILDKIT", "0")
                .timeout(Duration::from_secs(120)),
        );
        create_network_like_kind(&c.network);
        let mut nodes = vec![(format!("{}-control-plane", c.name), "control-plane")];
        for i in 0..workers {
            let suffix = if i == 0 {
                String::new()
            } else {
                (i + 1).to_string()
            };
            nodes.push((format!("{}-worker{suffix}", c.name), "worker"));
        }
        for (node, role) in nodes {
            c.run_node(&node, role, true);
        }
        c
    }

    /// Starts one node container; `labelled: false` makes an impostor.
    fn run_node(&mut self, node: &str, role: &str, labelled: bool) {
        let cni = format!("{node}-etc-cni");
        let bin = format!("{node}-opt-cni-bin");
        self.volumes.push(cni.clone());
        self.volumes.push(bin.clone());
        self.containers.push(node.to_string());
        let cluster_label = format!("{CLUSTER_LABEL}={}", self.name);
        let role_label = format!("{ROLE_LABEL}={role}");
        let etc = format!("{cni}:/etc/cni");
        let opt = format!("{bin}:/opt/cni/bin");
        let mut argv = vec![
            "docker",
            "run",
            "-d",
            "--name",
            node,
            "--hostname",
            node,
            "--network",
            &self.network,
        ];
        if labelled {
            argv.extend(["--label", &cluster_label, "--label", &role_label]);
        }
        argv.extend([
            "--tmpfs",
            "/run",
            "--tmpfs",
            "/tmp",
            "--cap-add",
            "NET_ADMIN",
            "--cap-add",
            "SYS_ADMIN",
            "--device",
            "/dev/net/tun",
            "-v",
            "/usr:/usr:ro",
            "-v",
            "/etc/alternatives:/etc/alternatives:ro",
            "-v",
            &etc,
            "-v",
            &opt,
            "-e",
            "PATH=/usr/bin:/usr/sbin:/bin",
            &self.image,
            "/bin/sh",
            "-c",
            INIT,
        ]);
        host_ok(&argv);
    }

    fn node(&self, suffix: &str) -> String {
        format!("{}-{suffix}", self.name)
    }

    fn info(&self, suffix: &str) -> NodeInfo {
        NodeInfo {
            name: self.node(suffix),
            role: if suffix.starts_with("control") {
                NodeRole::ControlPlane
            } else {
                NodeRole::Worker
            },
            internal_ip: None,
        }
    }

    fn runtime(&self) -> DockerNodes {
        let runner: Arc<dyn Runner> = Arc::new(LocalRunner::new());
        // The fake nodes run OVS themselves; on kind it runs in the ovs-ovn
        // pods (see the header).
        DockerNodes::new(
            runner,
            &self.name,
            Guard::harness(None),
            OvsCommands::NodeContainer,
        )
        .with_network(&self.network)
    }

    fn sh(&self, node: &str, script: &str) -> Output {
        host(&["docker", "exec", node, "sh", "-c", script])
    }

    fn sh_ok(&self, node: &str, script: &str) -> String {
        let out = self.sh(node, script);
        assert!(
            out.success(),
            "in {node}: `{script}` failed: {}{}",
            out.stdout_str(),
            out.stderr_str()
        );
        out.stdout_str().into_owned()
    }
}

impl Drop for SysCluster {
    fn drop(&mut self) {
        for c in self.containers.iter().chain(&self.extra) {
            host(&["docker", "rm", "-f", "-v", c]);
        }
        for v in &self.volumes {
            host(&["docker", "volume", "rm", "-f", v]);
        }
        host(&["docker", "network", "rm", &self.network]);
        host(&["docker", "rmi", "-f", &self.image]);
    }
}

/// Whether ovs-vswitchd answers on its control socket in `node`.
async fn ovs_responds(nodes: &DockerNodes, node: &str) -> bool {
    let ovs = nodes.ovs(node).await.unwrap();
    ovs.responds("ovs-vswitchd").await.unwrap()
}

fn fault_target(suffix: &str) -> NodeTarget {
    NodeTarget::Name {
        name: suffix.to_string(),
    }
}

fn fact<'a>(facts: &'a [(String, String)], key: &str) -> &'a str {
    facts
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

#[tokio::test]
async fn node_reboot_graceful_and_hard_wipe_run_and_keep_cni() {
    if !prerequisites("node_reboot_graceful_and_hard_wipe_run_and_keep_cni") {
        return;
    }
    let c = SysCluster::start("reboot", 1);
    let worker = c.node("worker");
    let nodes = c.runtime();
    for mode in [RebootMode::Graceful, RebootMode::Hard] {
        c.sh_ok(
            &worker,
            "echo up > /run/marker && mkdir -p /etc/cni/net.d && echo '{}' > /etc/cni/net.d/00-multus.conf && echo shim > /opt/cni/bin/multus-shim",
        );
        let before = nodes.inspect(&worker).await.unwrap();
        let fault = Fault::NodeReboot(NodeReboot {
            target: fault_target("worker"),
            mode,
            timeout: Duration::from_secs(2),
        });
        let started = Instant::now();
        let injected = kind::inject(&nodes, None, &fault, Some(&c.info("worker")))
            .await
            .unwrap();
        let e = &injected.evidence;
        assert!(e.took_effect, "{mode:?}: {e:?}");
        assert_eq!(fact(&e.facts, "StartedAt before"), before.started_at);
        assert_ne!(fact(&e.facts, "StartedAt after"), before.started_at);
        let after = nodes.inspect(&worker).await.unwrap();
        assert!(after.running);
        assert_ne!(after.started_at, before.started_at);
        // /run is a tmpfs: wiped. /etc/cni and /opt/cni/bin persist.
        assert!(
            !c.sh(&worker, "test -e /run/marker").success(),
            "/run survived"
        );
        assert_eq!(
            c.sh_ok(&worker, "cat /etc/cni/net.d/00-multus.conf").trim(),
            "{}"
        );
        assert_eq!(
            c.sh_ok(&worker, "cat /opt/cni/bin/multus-shim").trim(),
            "shim"
        );
        // The injector's copy of the stopped node, read from a real
        // `docker cp` tar: what is on its disk, the folder Multus keeps its
        // kubeconfig in left out.
        c.sh_ok(&worker, "mkdir -p /etc/cni/net.d/multus.d");
        let disk = e.preconditions.disk.as_ref().expect("the disk was read");
        assert!(disk.multus_config && disk.multus_shim, "{mode:?}: {disk:?}");
        assert_eq!(disk.configs, ["00-multus.conf"], "{mode:?}");
        say(&format!(
            "SYSTEM: node-reboot {mode:?} of {worker}: StartedAt {} -> {} in {:?}; /run wiped, /etc/cni/net.d and /opt/cni/bin kept",
            before.started_at,
            after.started_at,
            started.elapsed()
        ));
    }
    // A path the stopped node does not have is "not there" to the
    // runtime's copy (Docker's own wording for it), not an error.
    nodes.kill(&worker).await.unwrap();
    let missing = nodes
        .copy_out(&worker, "/opt/cni/bin/cni-chaos-no-such-plugin")
        .await;
    let there = nodes.copy_out(&worker, "/opt/cni/bin/multus-shim").await;
    nodes.start(&worker).await.unwrap();
    assert_eq!(missing.unwrap(), None);
    let tar = there.unwrap().expect("the shim is there");
    let entries = cni_chaos::util::tar::entries(&tar).unwrap();
    assert_eq!(entries[0].file_name(), "multus-shim");
    assert_eq!(entries[0].size, 5, "\"shim\\n\"");
}

#[tokio::test]
async fn ovs_vswitchd_kill_breaks_forwarding_until_restarted() {
    if !prerequisites("ovs_vswitchd_kill_breaks_forwarding_until_restarted") {
        return;
    }
    let c = SysCluster::start("ovs", 1);
    let worker = c.node("worker");
    let nodes = c.runtime();
    c.sh_ok(&worker, START_OVS);
    c.sh_ok(&worker, BRIDGE_TWO_NETNS);
    let ping = || {
        c.sh(&worker, "/usr/bin/ip netns exec a ping -c1 -W1 10.99.0.2")
            .success()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ping() {
        assert!(Instant::now() < deadline, "the bridge never forwarded");
    }
    assert!(ovs_responds(&nodes, &worker).await);
    let old = nodes.pids(&worker, "ovs-vswitchd").await.unwrap();
    assert_eq!(old.len(), 1, "{old:?}");

    let fault = Fault::OvsKill(OvsKill {
        target: fault_target("worker"),
        process: OvsProcess::OvsVswitchd,
        signal: OvsSignal::Kill,
        stop_for: None,
    });
    let killed_at = Instant::now();
    let injected = kind::inject(&nodes, None, &fault, Some(&c.info("worker")))
        .await
        .unwrap();
    assert!(injected.evidence.took_effect, "{:?}", injected.evidence);
    assert!(injected.undo.is_none());
    assert_eq!(
        fact(&injected.evidence.facts, "ovs-vswitchd PID before"),
        old[0].to_string()
    );
    assert!(
        nodes
            .pids(&worker, "ovs-vswitchd")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !ovs_responds(&nodes, &worker).await,
        "the health check must fail while ovs-vswitchd is gone"
    );
    assert!(!ping(), "forwarding must stop without ovs-vswitchd");

    // What ovs-ovn's liveness probe does: start it again.
    let restart_at = killed_at.elapsed();
    c.sh_ok(&worker, START_VSWITCHD);
    let new = nodes.pids(&worker, "ovs-vswitchd").await.unwrap();
    assert_eq!(new.len(), 1);
    assert_ne!(new, old, "a new ovs-vswitchd has a new PID");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ping() {
        assert!(Instant::now() < deadline, "forwarding never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered = killed_at.elapsed();
    assert!(ovs_responds(&nodes, &worker).await);
    say(&format!(
        "SYSTEM: ovs-vswitchd SIGKILL on {worker}: PID {} -> {}; restarted after {} ms; bridge forwarding between netns a and b again {} ms after the kill ({} ms after the restart)",
        old[0],
        new[0],
        restart_at.as_millis(),
        recovered.as_millis(),
        (recovered - restart_at).as_millis()
    ));

    // SIGSTOP freezes it (health check fails), the undo SIGCONTs it.
    let fault = Fault::OvsKill(OvsKill {
        target: fault_target("worker"),
        process: OvsProcess::OvsVswitchd,
        signal: OvsSignal::Stop,
        stop_for: Some(Duration::from_secs(1)),
    });
    let injected = kind::inject(&nodes, None, &fault, Some(&c.info("worker")))
        .await
        .unwrap();
    assert!(injected.evidence.took_effect, "{:?}", injected.evidence);
    let scheduled = injected.undo.expect("a stop is undone");
    assert_eq!(scheduled.after, Some(Duration::from_secs(1)));
    assert!(!ovs_responds(&nodes, &worker).await);
    kind::undo(&nodes, &scheduled.undo).await.unwrap();
    assert_eq!(
        nodes
            .process_state(&worker, new[0])
            .await
            .unwrap()
            .map(|s| s != 'T'),
        Some(true)
    );
    assert!(ovs_responds(&nodes, &worker).await);
    say(&format!(
        "SYSTEM: ovs-vswitchd SIGSTOP/SIGCONT on {worker}: frozen, health check failed, resumed"
    ));
}

/// On a control-plane node ovn-central runs more `ovsdb-server`s (the OVN
/// NB and SB databases, pidfiles under `/run/ovn`). Killing OVS's
/// `ovsdb-server` must pick it by its pidfile and spare them.
#[tokio::test]
async fn ovsdb_server_kill_picks_the_ovs_database_by_its_pidfile() {
    if !prerequisites("ovsdb_server_kill_picks_the_ovs_database_by_its_pidfile") {
        return;
    }
    let c = SysCluster::start("ovsdb", 0);
    let cp = c.node("control-plane");
    let nodes = c.runtime();
    c.sh_ok(&cp, START_OVS);
    // A stand-in for ovn-central's NB database server.
    c.sh_ok(
        &cp,
        "set -e; mkdir -p /run/ovn; \
         ovsdb-tool create /tmp/ovnnb_db.db /usr/share/openvswitch/vswitch.ovsschema; \
         ovsdb-server --remote=punix:/run/ovn/ovnnb_db.sock --pidfile=/run/ovn/ovnnb_db.pid \
           --unixctl=/run/ovn/ovnnb_db.ctl --detach --log-file=/tmp/ovnnb.log /tmp/ovnnb_db.db",
    );
    let by_name = nodes.pids(&cp, "ovsdb-server").await.unwrap();
    assert_eq!(by_name.len(), 2, "pgrep -x sees both: {by_name:?}");
    let ovs: u32 = c
        .sh_ok(&cp, "cat /run/openvswitch/ovsdb-server.pid")
        .trim()
        .parse()
        .unwrap();
    let nb: u32 = c
        .sh_ok(&cp, "cat /run/ovn/ovnnb_db.pid")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        kind::daemon_pid(&nodes, &cp, "ovsdb-server").await.unwrap(),
        Some(ovs)
    );
    let fault = Fault::OvsKill(OvsKill {
        target: fault_target("control-plane"),
        process: OvsProcess::OvsdbServer,
        signal: OvsSignal::Kill,
        stop_for: None,
    });
    let injected = kind::inject(&nodes, None, &fault, Some(&c.info("control-plane")))
        .await
        .unwrap();
    assert!(injected.evidence.took_effect, "{:?}", injected.evidence);
    assert_eq!(
        fact(&injected.evidence.facts, "ovsdb-server PID before"),
        ovs.to_string()
    );
    assert!(
        matches!(nodes.process_state(&cp, nb).await.unwrap(), Some(s) if s != 'Z'),
        "the OVN database server must survive"
    );
    // Its pidfile now names a dead process: a second kill has no target.
    assert_eq!(
        kind::daemon_pid(&nodes, &cp, "ovsdb-server").await.unwrap(),
        None
    );
    say(&format!(
        "SYSTEM: ovsdb-server SIGKILL on {cp}: pgrep -x saw PIDs {by_name:?}; the pidfile picked {ovs}, which died; the OVN NB stand-in {nb} kept running"
    ));
}

#[tokio::test]
async fn stale_netns_and_ports_are_injected_detected_and_cleaned() {
    if !prerequisites("stale_netns_and_ports_are_injected_detected_and_cleaned") {
        return;
    }
    let c = SysCluster::start("netns", 1);
    let worker = c.node("worker");
    let nodes = c.runtime();
    c.sh_ok(&worker, START_OVS);
    let fault = Fault::StaleNetns(StaleNetns {
        target: fault_target("worker"),
        count: 3,
        ovs_ports: true,
    });
    // No br-int yet: adding the first port fails after the namespaces were
    // made; the injection removes them before it reports the error.
    let err = kind::inject(&nodes, None, &fault, Some(&c.info("worker")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("add-port br-int"), "{err}");
    assert!(
        nodes.netns_list(&worker).await.unwrap().is_empty(),
        "a failed injection must not leak namespaces"
    );
    c.sh_ok(
        &worker,
        "ovs-vsctl --timeout=10 add-br br-int -- set bridge br-int datapath_type=netdev",
    );
    // A namespace in use is not stale.
    c.sh_ok(
        &worker,
        "/usr/bin/ip netns add busy && (/usr/bin/ip netns exec busy sleep 300 >/dev/null 2>&1 &)",
    );
    // A healthy pod-like port (its veth is there): OVS gives it a port
    // number and no error, so it is not stale.
    c.sh_ok(
        &worker,
        "/usr/bin/ip link add healthy0 type veth peer name healthy1 && /usr/bin/ip link set healthy0 up && ovs-vsctl --timeout=10 add-port br-int healthy0",
    );
    let injected = kind::inject(&nodes, None, &fault, Some(&c.info("worker")))
        .await
        .unwrap();
    assert!(injected.evidence.took_effect, "{:?}", injected.evidence);
    let stale = nodes.stale_netns(&worker).await.unwrap();
    let mine: Vec<String> = (0..3).map(|i| format!("{STALE_PREFIX}{i}")).collect();
    for ns in &mine {
        assert!(stale.contains(ns), "{ns} not detected as stale: {stale:?}");
    }
    assert!(!stale.contains(&"busy".to_string()), "{stale:?}");
    let mut present = nodes.netns_list(&worker).await.unwrap();
    present.sort();
    let mut want = mine.clone();
    want.push("busy".into());
    want.sort();
    assert_eq!(present, want);
    let ovs = nodes.ovs(&worker).await.unwrap();
    let mut ports = ovs.ports("br-int").await.unwrap();
    ports.sort();
    let mut want_ports = mine.clone();
    want_ports.push("healthy0".into());
    want_ports.sort();
    assert_eq!(ports, want_ports);
    // OVS's own verdict: each injected port has no device.
    let mut verdict = String::new();
    for p in &mine {
        let state = ovs.interface(p).await.unwrap().expect("not a dry run");
        assert!(state.is_stale(), "{p}: {state}");
        assert!(
            state.error.as_deref().unwrap_or("").contains(p.as_str()),
            "{p}: {state}"
        );
        assert!(
            !c.sh(&worker, &format!("/usr/bin/ip link show {p}"))
                .success(),
            "{p}'s device must be gone"
        );
        verdict = state.to_string();
    }
    let healthy = ovs
        .interface("healthy0")
        .await
        .unwrap()
        .expect("not a dry run");
    assert!(!healthy.is_stale(), "{healthy}");
    assert!(healthy.ofport.is_some_and(|n| n > 0), "{healthy}");
    let ids = c.sh_ok(
        &worker,
        "ovs-vsctl --timeout=10 get Interface chaos-stale-0 external_ids:iface-id external_ids:pod_netns",
    );
    assert_eq!(
        ids.lines().collect::<Vec<_>>(),
        [
            "chaos-stale-0.cni-chaos-stale",
            "\"/var/run/netns/chaos-stale-0\""
        ]
    );
    assert_eq!(
        fact(&injected.evidence.facts, "stale ports on br-int"),
        mine.join(",")
    );
    let scheduled = injected.undo.expect("stale netns are cleaned on revert");
    assert!(matches!(scheduled.undo, Undo::RemoveStale { .. }));
    kind::undo(&nodes, &scheduled.undo).await.unwrap();
    let left = nodes.netns_list(&worker).await.unwrap();
    assert_eq!(left, vec!["busy".to_string()]);
    assert_eq!(
        ovs.ports("br-int").await.unwrap(),
        vec!["healthy0".to_string()]
    );
    say(&format!(
        "SYSTEM: stale-netns on {worker}: a failed injection (no br-int) left no namespace behind; {} namespaces and pod ports injected, the namespaces detected as stale (the busy one was not), OVS reports each port {verdict} (the healthy port has ofport {:?}, no error); cleaned, the healthy port kept",
        mine.len(),
        healthy.ofport
    ));
}

#[tokio::test]
async fn cni_config_removal_truncation_and_delayed_rewrite() {
    if !prerequisites("cni_config_removal_truncation_and_delayed_rewrite") {
        return;
    }
    let c = SysCluster::start("cni", 1);
    let worker = c.node("worker");
    let nodes = c.runtime();
    let conflist = r#"{"cniVersion":"0.3.1","name":"kube-ovn","plugins":[{"type":"kube-ovn"}]}"#;
    c.sh_ok(
        &worker,
        &format!("mkdir -p /etc/cni/net.d && printf '%s' '{conflist}' > /etc/cni/net.d/01-kube-ovn.conflist && chmod 600 /etc/cni/net.d/01-kube-ovn.conflist"),
    );
    let path = "/etc/cni/net.d/01-kube-ovn.conflist";
    for action in [
        CniConfigAction::Remove,
        CniConfigAction::Truncate,
        CniConfigAction::DelayedRewrite {
            delay: Duration::from_millis(300),
        },
    ] {
        let fault = Fault::CniConfig(CniConfig {
            target: fault_target("worker"),
            action,
            file: CniFile::KubeOvn,
        });
        let injected = kind::inject(&nodes, None, &fault, Some(&c.info("worker")))
            .await
            .unwrap();
        let e = &injected.evidence;
        assert!(e.took_effect, "{action:?}: {e:?}");
        assert_eq!(fact(&e.facts, "file"), path);
        let now = nodes.read_file(&worker, path).await.unwrap();
        match action {
            CniConfigAction::Truncate => assert_eq!(now, Some(Vec::new())),
            _ => assert_eq!(now, None),
        }
        let scheduled = injected.undo.expect("the file is restored");
        if let Some(after) = scheduled.after {
            tokio::time::sleep(after).await;
        }
        let did = kind::undo(&nodes, &scheduled.undo).await.unwrap();
        assert!(did.starts_with("restored"), "{did}");
        assert_eq!(
            nodes.read_file(&worker, path).await.unwrap().as_deref(),
            Some(conflist.as_bytes())
        );
        // Kube-OVN leaves a 0600 conflist alone: the mode comes back too.
        assert_eq!(fact(&e.facts, "mode before"), "600");
        assert_eq!(
            c.sh_ok(&worker, &format!("stat -c %a {path}")).trim(),
            "600"
        );
    }
    // A file that is not there: no effect, never a pass.
    let fault = Fault::CniConfig(CniConfig {
        target: fault_target("worker"),
        action: CniConfigAction::Remove,
        file: CniFile::Multus,
    });
    let injected = kind::inject(&nodes, None, &fault, Some(&c.info("worker")))
        .await
        .unwrap();
    assert!(!injected.evidence.took_effect);
    say(&format!(
        "SYSTEM: cni-config on {worker}: remove, truncate and delayed rewrite of {path} proven and restored with its mode 0600; a missing 00-multus.conf is reported as no effect"
    ));
}

/// On a network like kind's (a user-set subnet for IPv6 only) the heal
/// asks for the node's old addresses; Docker refuses the fixed IPv4 (moby
/// checks each family against user-configured subnets), so the node is
/// reconnected with `--ip6` and IPAM's IPv4. With the old address still
/// free, IPAM hands it back and the node keeps both addresses. A container
/// started during a second partition takes the freed IPv4, so the node
/// comes back with another one, as a rebooted kind node may (kind #2045):
/// the heal reports both addresses, which is what the `node-ip-stable`
/// guard compares with the node's InternalIP.
#[tokio::test]
async fn network_partition_heals_on_a_kind_like_network_and_reports_a_changed_address() {
    if !prerequisites(
        "network_partition_heals_on_a_kind_like_network_and_reports_a_changed_address",
    ) {
        return;
    }
    let mut c = SysCluster::start("part", 1);
    // Started during the partition; removed by name with the rest.
    let squatter = format!("{}-squatter", c.name);
    c.extra.push(squatter.clone());
    let worker = c.node("worker");
    let cp = c.node("control-plane");
    let nodes = c.runtime();
    let before = nodes.inspect(&worker).await.unwrap();
    let ip = before.networks[&c.network].clone();
    let ip6 = before.networks_v6.get(&c.network).cloned();
    let reach = |addr: &str| c.sh(&cp, &format!("ping -c1 -W1 {addr}")).success();
    assert!(
        reach(&ip),
        "nodes must reach each other before the partition"
    );
    let fault = Fault::NetworkPartition(NetworkPartition {
        target: fault_target("worker"),
        duration: Duration::from_millis(500),
    });

    // 1. Nothing took the address: the node keeps it.
    let injected = kind::inject(&nodes, None, &fault, Some(&c.info("worker")))
        .await
        .unwrap();
    assert!(injected.evidence.took_effect, "{:?}", injected.evidence);
    assert_eq!(fact(&injected.evidence.facts, "IP before"), ip);
    assert!(!reach(&ip), "the partitioned node must be unreachable");
    let scheduled = injected.undo.expect("a partition heals");
    assert_eq!(scheduled.after, Some(Duration::from_millis(500)));
    let (did, heal) = kind::undo_recorded(&nodes, &scheduled.undo).await.unwrap();
    assert!(
        did.contains(kind::FIXED_IP_REFUSED),
        "Docker refuses --ip on a kind-like network: {did}"
    );
    assert!(did.ends_with(&format!("after {ip} (kept)")), "{did}");
    let heal = heal.expect("a reconnect records the addresses");
    assert_eq!(
        (heal.before.as_deref(), heal.after.as_str()),
        (Some(ip.as_str()), ip.as_str())
    );
    let kept = nodes.inspect(&worker).await.unwrap();
    assert_eq!(
        kept.networks_v6.get(&c.network),
        ip6.as_ref(),
        "--ip6 keeps IPv6"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !reach(&ip) {
        assert!(Instant::now() < deadline, "never reachable again");
    }

    // 2. Docker hands the freed address to the next container meanwhile.
    let injected = kind::inject(&nodes, None, &fault, Some(&c.info("worker")))
        .await
        .unwrap();
    assert!(injected.evidence.took_effect, "{:?}", injected.evidence);
    host_ok(&[
        "docker",
        "run",
        "-d",
        "--name",
        &squatter,
        "--network",
        &c.network,
        &c.image,
        "/bin/sh",
        "-c",
        INIT,
    ]);
    let taken = nodes.inspect(&squatter).await.unwrap().networks[&c.network].clone();
    assert_eq!(taken, ip, "Docker's IPAM reuses the lowest free address");
    let scheduled = injected.undo.expect("a partition heals");
    let (did, heal) = kind::undo_recorded(&nodes, &scheduled.undo).await.unwrap();
    let after = nodes.inspect(&worker).await.unwrap();
    let new_ip = after
        .networks
        .get(&c.network)
        .cloned()
        .expect("reconnected");
    assert_ne!(new_ip, ip);
    assert!(
        did.ends_with(&format!("IP before {ip}, after {new_ip} (changed)")),
        "{did}"
    );
    if ip6.is_some() {
        // The squatter got the lowest free IPv6 too: --ip6 is refused as
        // well, and IPAM picks both.
        assert!(did.contains(kind::ADDRESS_IN_USE), "{did}");
    }
    assert_eq!(
        heal,
        Some(cni_chaos::observe::HealedAddress {
            node: worker.clone(),
            before: Some(ip.clone()),
            after: new_ip.clone(),
        })
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !reach(&new_ip) {
        assert!(Instant::now() < deadline, "never reachable again");
    }
    // Undoing twice is harmless.
    let again = kind::undo(&nodes, &scheduled.undo).await.unwrap();
    assert!(again.contains("already connected"), "{again}");
    say(&format!(
        "SYSTEM: network-partition of {worker} on a kind-like network (user subnet for IPv6 only: {}): Docker refused --ip {ip}; reconnected with --ip6 and IPAM's IPv4, it kept {ip}; after a container took {ip} (and the freed IPv6) during a second partition, --ip6 was refused too (Address already in use) and it came back as {new_ip}, and the heal recorded both",
        ip6.as_deref().unwrap_or("no IPv6 here")
    ));
}

#[tokio::test]
async fn the_guard_refuses_containers_that_are_not_nodes_of_the_cluster() {
    if !prerequisites("the_guard_refuses_containers_that_are_not_nodes_of_the_cluster") {
        return;
    }
    let mut c = SysCluster::start("guard", 0);
    let impostor = c.node("worker");
    c.run_node(&impostor, "worker", false);
    let nodes = c.runtime();
    let before = nodes.inspect(&impostor).await.unwrap();
    let err = kind::reboot(&nodes, &impostor, None).await.unwrap_err();
    assert!(matches!(err, kind::KindError::Unsafe { .. }), "{err}");
    assert!(
        err.to_string().contains("no io.x-k8s.kind.cluster label"),
        "{err}"
    );
    let after = nodes.inspect(&impostor).await.unwrap();
    assert_eq!(
        before.started_at, after.started_at,
        "the impostor was touched"
    );
    // A labelled node of another cluster is refused too.
    let other = DockerNodes::new(
        Arc::new(LocalRunner::new()),
        "chaos-someone-else",
        Guard::harness(None),
        OvsCommands::NodeContainer,
    );
    let err = other
        .exec(&c.node("control-plane"), &["true"])
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("not \"chaos-someone-else\""),
        "{err}"
    );
    let listed: BTreeMap<String, Option<NodeRole>> =
        nodes.list().await.unwrap().into_iter().collect();
    assert_eq!(
        listed.len(),
        1,
        "only the labelled node is listed: {listed:?}"
    );
    say(&format!(
        "SYSTEM: guard on {}: an unlabelled container and another cluster's node were refused before any command",
        c.name
    ));
}

/// multus-cni #1221 on a real kernel, through the real injector: the
/// stand-in Multus daemon is frozen, the fault's `multus-shim` (the host's
/// dash reading a "config" that makes it wait, as the real shim waits for
/// the daemon's socket) is started and frozen, and real kubectl deletes
/// the node's Multus pod with its own grace, waits until it is gone and
/// reads the replacement's init container through an API server (the
/// twin's, served on loopback). A stand-in kubelet there runs what a racy
/// init container runs, a plain `cp` over the busy binary in the node, and
/// reports its real exit and output as the new pod's init container status
/// and log: "Text file busy" (Multus v4.1.x to v4.2.2), while an atomic
/// install (copy aside, then rename, as `install_multus` does from v4.2.3)
/// succeeds. Nothing here SIGKILLs the frozen daemon as a kubelet would,
/// so the undo finds it still frozen and kills it with the shim, and
/// leaves the runtime's own shim alone.
#[tokio::test]
async fn a_busy_multus_shim_makes_a_plain_cp_fail_and_an_atomic_install_succeed() {
    const TEST: &str = "a_busy_multus_shim_makes_a_plain_cp_fail_and_an_atomic_install_succeed";
    if !prerequisites(TEST) || !go_on(TEST, missing_dash()) {
        return;
    }
    let c = SysCluster::start("shim", 1);
    let worker = c.node("worker");
    let nodes = c.runtime();
    c.sh_ok(
        &worker,
        "mkdir -p /etc/cni/net.d && echo 'sleep 300' > /etc/cni/net.d/00-multus.conf && cp /usr/bin/dash /opt/cni/bin/multus-shim",
    );
    // A shim the runtime runs for a pod of its own: the fault must leave it.
    c.sh_ok(
        &worker,
        "echo 'sleep 300' > /tmp/theirs && (/opt/cni/bin/multus-shim < /tmp/theirs >/dev/null 2>&1 &)",
    );
    let theirs = nodes.pids(&worker, "multus-shim").await.unwrap();
    assert_eq!(theirs.len(), 1, "{theirs:?}");
    let daemon = start_stand_in_daemon(&c, &worker, &nodes).await;
    // An API server with this node's Multus pod, for real kubectl.
    let api_dir = tempfile::tempdir().unwrap();
    let bound = cni_chaos_twin::serve::bind(&cni_chaos_twin::serve::ServeConfig {
        seed: 1,
        speed: 1.0,
        epoch: "2026-01-01T00:00:00Z".parse().unwrap(),
        port: 0,
        kubeconfig: api_dir.path().join("twin-kubeconfig"),
        cluster: Default::default(),
    })
    .await
    .unwrap();
    let twin = bound.twin.clone();
    let multus_pod = |name: &str| {
        serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "kube-system", "labels": {"app": "multus", "name": "multus"}},
            "spec": {"nodeName": worker, "terminationGracePeriodSeconds": 1,
                     "initContainers": [{"name": "install-multus-binary", "image": "multus"}],
                     "containers": [{"name": "kube-multus", "image": "multus"}]}
        })
    };
    twin.create("pods", "kube-system", multus_pod("kube-multus-ds-sys"))
        .unwrap();
    // The stand-in kubelet: once the old pod is gone, the replacement's
    // init container runs the racy install in the node.
    let kubelet = tokio::spawn({
        let (twin, worker, new_pod) = (
            twin.clone(),
            worker.clone(),
            multus_pod("kube-multus-ds-new"),
        );
        async move {
            while twin
                .get("pods", "kube-system", "kube-multus-ds-sys")
                .is_some()
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            twin.create("pods", "kube-system", new_pod).unwrap();
            let cp = host(&[
                "docker",
                "exec",
                &worker,
                "cp",
                "/usr/bin/dash",
                "/opt/cni/bin/multus-shim",
            ]);
            let log = format!("{}{}", cp.stdout_str(), cp.stderr_str());
            let code = cp.status.code().unwrap_or(-1);
            twin.set_log_source(Arc::new({
                let log = log.clone();
                move |q: &cni_chaos_twin::LogQuery| {
                    (q.pod == "kube-multus-ds-new").then(|| log.clone())
                }
            }));
            twin.replace_status(
                "pods",
                "kube-system",
                "kube-multus-ds-new",
                serde_json::json!({"phase": "Pending", "initContainerStatuses": [{
                    "name": "install-multus-binary", "ready": false, "restartCount": 0,
                    "image": "multus", "imageID": "", 
                    "state": {"terminated": {"exitCode": code, "reason": if code == 0 { "Completed" } else { "Error" }}}
                }]}),
            )
            .unwrap();
            log
        }
    });
    let kubeconfig = api_dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        cni_chaos_twin::serve::kubeconfig(&format!("http://{}", bound.addr), &c.name)
            .replace(&format!("twin-{}", c.name), &format!("kind-{}", c.name)),
    )
    .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(bound.run({
        let stop = stop.clone();
        async move { stop.cancelled().await }
    }));
    let kubectl = kind::Kubectl::new(Arc::new(LocalRunner::new()), &kubeconfig, &c.name);

    let fault = Fault::LeftoverMultusConfig(LeftoverMultusConfig {
        target: fault_target("worker"),
        busy_shim: true,
        hold_for: DEFAULT_HOLD_FOR,
    });
    let injected = kind::inject(&nodes, Some(&kubectl), &fault, Some(&c.info("worker")))
        .await
        .unwrap();
    stop.cancel();
    let _ = server.await;
    let init_log = kubelet.await.unwrap();
    let facts = &injected.evidence.facts;
    assert!(injected.evidence.took_effect, "{:?}", injected.evidence);
    assert_eq!(
        fact(facts, "multus-daemon frozen (SIGSTOP)"),
        daemon.to_string()
    );
    assert_eq!(
        nodes.process_state(&worker, daemon).await.unwrap(),
        Some('T'),
        "the daemon is frozen, not killed"
    );
    assert_eq!(fact(facts, "old Multus pod gone"), "yes");
    assert_eq!(fact(facts, "00-multus.conf left"), "true");
    let pid = fact(facts, "busy multus-shim frozen (SIGSTOP)").to_string();
    assert!(!pid.is_empty(), "{facts:?}");
    assert_ne!(
        pid,
        theirs[0].to_string(),
        "its own shim, not the runtime's"
    );
    assert_eq!(
        fact(facts, "multus-shim already running (not ours)"),
        theirs[0].to_string()
    );
    assert!(init_log.contains("Text file busy"), "{init_log}");
    assert_eq!(fact(facts, "new Multus pod"), "kube-multus-ds-new");
    assert_eq!(fact(facts, "install-multus-binary exit code"), "1 (Error)");
    let init = injected
        .evidence
        .preconditions
        .multus_init
        .as_ref()
        .expect("the new init container's run is recorded");
    let line = init.last_log.clone().unwrap_or_default();
    assert!(line.contains("Text file busy"), "{init:?}");
    assert_eq!(init.shim_running, Some(true), "its own frozen shim");
    c.sh_ok(
        &worker,
        "cp /usr/bin/dash /opt/cni/bin/.multus-shim.new && mv -f /opt/cni/bin/.multus-shim.new /opt/cni/bin/multus-shim",
    );
    let scheduled = injected.undo.expect("what was frozen is killed on revert");
    assert_eq!(scheduled.after, Some(DEFAULT_HOLD_FOR));
    let did = kind::undo(&nodes, &scheduled.undo).await.unwrap();
    assert_eq!(
        nodes.pids(&worker, "multus-shim").await.unwrap(),
        theirs,
        "the undo kills only the shim the fault started: {did}"
    );
    assert!(
        nodes
            .pids(&worker, "multus-daemon")
            .await
            .unwrap()
            .is_empty(),
        "the still-frozen daemon was killed: {did}"
    );
    say(&format!(
        "SYSTEM: leftover-multus-config on {worker}: daemon PID {daemon} frozen, busy multus-shim PID {pid} started from an argv with the config on stdin and frozen, Multus pod deleted with its own grace and waited for by real kubectl, 00-multus.conf left; the new init container's plain cp said {line:?} (read by real kubectl logs), atomic copy-and-rename succeeded (multus-cni #1221); the undo ({did}) spared the runtime's shim {}",
        theirs[0]
    ));
}

/// Why the busy-shim tests cannot run here: they use the host's dash as a
/// stand-in ELF binary for `multus-shim` and `multus-daemon`.
fn missing_dash() -> Option<String> {
    (!std::path::Path::new("/usr/bin/dash").exists())
        .then(|| "/usr/bin/dash is missing".to_string())
}

/// Starts the stand-in Multus daemon in `node` (dash, named
/// `multus-daemon`, reading a script that sleeps) and returns its PID.
async fn start_stand_in_daemon(c: &SysCluster, node: &str, nodes: &DockerNodes) -> u32 {
    c.sh_ok(
        node,
        "cp /usr/bin/dash /opt/multus-daemon && echo 'sleep 300' > /opt/daemon-script && (/opt/multus-daemon < /opt/daemon-script >/dev/null 2>&1 &)",
    );
    let daemon = nodes.pids(node, "multus-daemon").await.unwrap();
    assert_eq!(daemon.len(), 1, "{daemon:?}");
    daemon[0]
}

/// The host's cgroup version, as `stat -f -c %T /sys/fs/cgroup` tells it.
fn cgroup_version() -> String {
    let fs = host_ok(&["stat", "-f", "-c", "%T", "/sys/fs/cgroup"]);
    match fs.trim() {
        "cgroup2fs" => "cgroup v2".into(),
        "tmpfs" => "cgroup v1".into(),
        other => format!("cgroup unknown ({other})"),
    }
}

/// The node-side half of leftover-multus-config on a real kernel, through
/// the injector's own [`kind::freeze_multus`] and [`kind::undo`]: a frozen
/// shim keeps `multus-shim` busy for the whole hold, well past the point
/// where it would have exited by itself. The stand-in shim (dash reading
/// the "config" on its stdin) gives up after `GIVE_UP`, as the real one
/// gives up after 60 s; the hold lasts longer, and a plain `cp` over the
/// binary fails with "Text file busy" at every check across it. After the
/// undo the `cp` succeeds, and the daemon and the shim are gone.
#[tokio::test]
async fn frozen_busy_shim_holds_the_binary_until_undone() {
    const TEST: &str = "frozen_busy_shim_holds_the_binary_until_undone";
    /// When the stand-in shim exits unless frozen.
    const GIVE_UP: Duration = Duration::from_secs(2);
    /// The hold: more than twice the stand-in's own timeout.
    const HOLD: Duration = Duration::from_secs(5);
    if !prerequisites(TEST) || !go_on(TEST, missing_dash()) {
        return;
    }
    let cgroup = cgroup_version();
    let c = SysCluster::start("frozen", 1);
    let worker = c.node("worker");
    let nodes = c.runtime();
    c.sh_ok(&worker, "cp /usr/bin/dash /opt/cni/bin/multus-shim");
    // Unfrozen, this shim exits after GIVE_UP, freeing the binary: the
    // control, so the hold below is the freeze's doing.
    let conf = format!("sleep {}; exit 1\n", GIVE_UP.as_secs());
    c.sh_ok(
        &worker,
        &format!("printf '{conf}' > /tmp/giveup && (/opt/cni/bin/multus-shim < /tmp/giveup >/dev/null 2>&1 &)"),
    );
    let busy = c.sh(&worker, "cp /usr/bin/dash /opt/cni/bin/multus-shim");
    assert!(
        busy.stderr_str().contains("Text file busy"),
        "{}",
        busy.stderr_str()
    );
    tokio::time::sleep(GIVE_UP + Duration::from_secs(1)).await;
    c.sh_ok(&worker, "cp /usr/bin/dash /opt/cni/bin/multus-shim");
    let daemon = start_stand_in_daemon(&c, &worker, &nodes).await;
    let conf = conf.into_bytes();
    let started = Instant::now();
    let frozen = kind::freeze_multus(&nodes, &worker, true, HOLD, conf)
        .await
        .unwrap();
    assert_eq!(frozen.missing, None, "{:?}", frozen.facts);
    let kind::Undo::KillFrozen { processes, .. } = &frozen.undo else {
        panic!("{:?}", frozen.undo);
    };
    assert_eq!(processes.len(), 2, "the daemon and the shim: {processes:?}");
    assert_eq!(processes[0].pid, daemon);
    assert_eq!(processes[0].name, "multus-daemon");
    let shim = processes[1].clone();
    assert_eq!(shim.name, "multus-shim");
    for p in processes {
        assert_eq!(
            nodes.still(&worker, p).await.unwrap(),
            kind::Still::Same { state: 'T' },
            "{p} is frozen"
        );
    }
    assert_eq!(
        fact(
            &frozen.facts,
            "busy multus-shim start time (ticks after boot)"
        ),
        shim.start_time.to_string()
    );
    let mut checks = 0;
    while started.elapsed() < HOLD {
        let cp = c.sh(&worker, "cp /usr/bin/dash /opt/cni/bin/multus-shim");
        assert!(
            !cp.success() && cp.stderr_str().contains("Text file busy"),
            "{:?} into the hold: the binary must still be busy: {}",
            started.elapsed(),
            cp.stderr_str()
        );
        checks += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        started.elapsed() > GIVE_UP * 2 && checks >= 5,
        "{checks} checks"
    );
    let did = kind::undo(&nodes, &frozen.undo).await.unwrap();
    c.sh_ok(&worker, "cp /usr/bin/dash /opt/cni/bin/multus-shim");
    for p in processes {
        let after = nodes.still(&worker, p).await.unwrap();
        assert_eq!(after, kind::Still::Gone, "{p} after the undo ({did})");
    }
    say(&format!(
        "SYSTEM: kind_system::{TEST}: on {cgroup}, multus-daemon PID {daemon} and busy multus-shim PID {} (start tick {}) frozen by the injector's freeze_multus; a plain cp over multus-shim failed with \"Text file busy\" {checks} times across a {:?} hold (the stand-in shim gives up after {:?} unless frozen); after the undo ({did}) the cp succeeded and both PIDs are gone",
        shim.pid, shim.start_time, HOLD, GIVE_UP
    ));
}

/// The cluster-level path on real Docker: `nodes()` lists and inspects the
/// labelled containers, and a partition injected through the `Cluster`
/// trait heals by itself after its duration, without waiting for the
/// revert. Nothing takes the node's address meanwhile, so Docker's IPAM (the
/// lowest free address) gives the old one back even without `--ip`.
#[tokio::test]
async fn a_partition_through_the_cluster_heals_by_itself_after_its_duration() {
    if !prerequisites("a_partition_through_the_cluster_heals_by_itself_after_its_duration") {
        return;
    }
    let c = SysCluster::start("heal", 2);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, format!("current-context: kind-{}\n", c.name)).unwrap();
    let config = KindConfig::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../kind-configs/default.yaml"),
    )
    .unwrap();
    let runner: Arc<dyn Runner> = Arc::new(LocalRunner::new());
    let cluster = KindCluster::open(
        runner,
        &c.name,
        config,
        kubeconfig,
        Guard::harness(None),
        false,
    )
    .unwrap()
    .on_network(&c.network);

    let nodes = cluster.nodes().await.unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(
        names,
        [c.node("control-plane"), c.node("worker"), c.node("worker2")]
    );
    assert!(nodes.iter().all(|n| n.internal_ip.is_some()), "{nodes:?}");
    let target = NodeTarget::Role {
        role: NodeRole::Worker,
        index: 1,
    };
    let node = select_node(&nodes, &target, None, 0).unwrap();
    assert_eq!(node.name, c.node("worker2"));
    let ip = node.internal_ip.clone().unwrap();
    let cp = c.node("control-plane");
    let reach = || c.sh(&cp, &format!("ping -c1 -W1 {ip}")).success();
    assert!(reach());

    let fault = Fault::NetworkPartition(NetworkPartition {
        target,
        duration: Duration::from_secs(2),
    });
    let started = Instant::now();
    let evidence = cluster.inject(&fault, Some(&node)).await.unwrap();
    assert!(evidence.took_effect, "{evidence:?}");
    assert!(!reach(), "partitioned");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reach() {
        assert!(
            Instant::now() < deadline,
            "the partition never healed by itself"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let healed = started.elapsed();
    assert!(
        healed >= Duration::from_secs(2),
        "healed too early: {healed:?}"
    );
    let after = cluster.nodes().await.unwrap();
    let same = after.iter().find(|n| n.name == node.name).unwrap();
    assert_eq!(same.internal_ip.as_deref(), Some(ip.as_str()));
    // Nothing is left for the revert to do.
    cluster.revert(&fault, &evidence).await.unwrap();
    say(&format!(
        "SYSTEM: network-partition through the Cluster trait on {}: 2 s partition healed by itself after {} ms with InternalIP {ip} kept",
        node.name,
        healed.as_millis()
    ));
}

/// Removes a NAT test's target and external network by name, whatever
/// happened: the nodes are disconnected first (Docker refuses to remove a
/// network with endpoints).
struct NatLeftovers {
    network: String,
    target: String,
    nodes: Vec<String>,
}

impl Drop for NatLeftovers {
    fn drop(&mut self) {
        host(&["docker", "rm", "-f", &self.target]);
        for n in &self.nodes {
            host(&["docker", "network", "disconnect", "-f", &self.network, n]);
        }
        host(&["docker", "network", "rm", &self.network]);
    }
}

/// The NAT gateway's Docker side on real Docker: the external network as
/// the kind backend creates it (labelled, its own subnet and range), every
/// node connected, each node's interface there found to be `eth1` by MAC
/// (what the macvlan attachment's master relies on); the target runs at
/// its fixed address and logs a node's request with the node's address on
/// that network; `cni-chaos clean` of a dead run removes the target, and
/// the network only once no node is connected to it.
#[tokio::test]
async fn the_nat_network_and_target_on_real_docker_and_their_clean() {
    const TEST: &str = "the_nat_network_and_target_on_real_docker_and_their_clean";
    if !prerequisites(TEST) {
        return;
    }
    let c = SysCluster::start("natgw", 1);
    let (cp, worker) = (c.node("control-plane"), c.node("worker"));
    let network = kind::network_name(&c.name);
    let target = kind::target_name(&c.name);
    let _leftovers = NatLeftovers {
        network: network.clone(),
        target: target.clone(),
        nodes: vec![cp.clone(), worker.clone()],
    };
    let runner: Arc<dyn Runner> = Arc::new(LocalRunner::new());
    let t0 = Instant::now();
    host_cmd(kind::network_create_cmd(&c.name));
    let labels = host_ok(&[
        "docker",
        "network",
        "inspect",
        "--format",
        "{{json .Labels}} {{range .IPAM.Config}}{{.Subnet}} {{.IPRange}}{{end}}",
        &network,
    ]);
    assert!(
        labels.contains(&format!("\"cni-chaos.io/cluster\":\"{}\"", c.name))
            && labels.contains("\"cni-chaos.io/role\":\"nat-external-network\"")
            && labels.contains("172.31.250.0/24 172.31.250.0/26"),
        "{labels}"
    );
    let kubectl = kind::Kubectl::new(runner.clone(), "/nonexistent/kubeconfig", &c.name);
    let setup = kind::NatGateway {
        runner: runner.clone(),
        kubectl: &kubectl,
        cluster: &c.name,
        nodes: vec![cp.clone(), worker.clone()],
        gateway_node: worker.clone(),
        client_node: cp.clone(),
        image: "unused",
        state: std::path::Path::new("/nonexistent"),
        dry_run: false,
        timeout: Duration::from_secs(30),
    };
    setup
        .connect_nodes()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let connected = t0.elapsed();
    host_cmd(kind::target_run_cmd(&c.name, &c.image));
    let worker_ip = host_ok(&[
        "docker",
        "inspect",
        "--format",
        &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"),
        &worker,
    ])
    .trim()
    .to_string();
    assert!(worker_ip.starts_with("172.31.250."), "{worker_ip}");
    let last: u8 = worker_ip.rsplit('.').next().unwrap().parse().unwrap();
    assert!(last < 64, "Docker's range is 172.31.250.0/26: {worker_ip}");
    // The target answers on its fixed address (busybox httpd: 404 for a
    // missing page is an answer) and logs who asked.
    let mut logged = String::new();
    for _ in 0..50 {
        c.sh(
            &worker,
            "wget -q -T 2 -O /dev/null http://172.31.250.100:8080/ 2>&1 || true",
        );
        let logs = host(&["docker", "logs", &target]);
        logged = format!("{}{}", logs.stdout_str(), logs.stderr_str());
        if logged.contains(&worker_ip) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(logged.contains(&worker_ip), "target log:\n{logged}");
    // The path's request, as the client in the VPC sends it, from the
    // node: the target's CGI names its host and the node's address as the
    // peer it saw (what `nat-gateway-rules` with `path: true` judges).
    let request = cni_chaos_twin::model::nat_path_request(
        cni_chaos_twin::model::NAT_TARGET_IP,
        cni_chaos_twin::model::NAT_TARGET_PORT,
    );
    let asked = host(
        &["docker", "exec", worker.as_str()]
            .into_iter()
            .chain(request.iter().map(String::as_str))
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        cni_chaos::observe::natgw::parse_path_answer(&asked.stdout_str())
            .unwrap_or_else(|e| panic!("{e}; stderr {}", asked.stderr_str())),
        (
            worker_ip.parse().unwrap(),
            cni_chaos_twin::model::NAT_TARGET_HOSTNAME.to_string()
        )
    );
    // And through `docker exec` of the target (the DNAT direction's
    // seam), to its own address.
    let own = runner
        .output(&kind::target_exec_cmd(
            &c.name,
            &request.iter().map(String::as_str).collect::<Vec<_>>(),
        ))
        .await
        .unwrap();
    let (peer, name) = cni_chaos::observe::natgw::parse_path_answer(&own.stdout_str())
        .unwrap_or_else(|e| panic!("{e}; stderr {}", own.stderr_str()));
    assert_eq!(peer.to_string(), cni_chaos_twin::model::NAT_TARGET_IP);
    assert_eq!(name, cni_chaos_twin::model::NAT_TARGET_HOSTNAME);
    // The nat-egress flow's probe, as the client's sender sends it, from
    // the node to the target's receiver; read back with `docker logs
    // --timestamps` (both streams) and parsed by the traffic code.
    let origin = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(60);
    let probe = format!(
        "echo \"cni-chaos-traffic flow=nat-egress from={worker} sender=system/1 seq=1 sent=0\" | nc -w 2 {} {}",
        cni_chaos_twin::model::NAT_TARGET_IP,
        cni_chaos_twin::model::NAT_TARGET_TRAFFIC_PORT
    );
    let mut records = Vec::new();
    for _ in 0..50 {
        c.sh(&worker, &probe);
        let log = runner
            .run(&kind::target_logs_cmd(&c.name))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let log = format!("{}{}", log.stdout_str(), log.stderr_str());
        let seg = cni_chaos::observe::traffic::parse_log(&log, origin, |f, p| {
            cni_chaos::observe::flows::record_flow(f, p, "target")
        });
        records = seg.records;
        if !records.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        records
            .iter()
            .any(|r| r.flow == format!("nat-egress {worker}")),
        "{records:?}"
    );
    eprintln!(
        "SYSTEM nat path: the target's CGI saw {worker_ip} from node {worker} and itself through docker exec; its receiver logged the node's nat-egress probe, read back through docker logs --timestamps"
    );

    // A dead run's journal of the two: clean removes the target, and
    // leaves the network while nodes are connected to it.
    let root = tempfile::tempdir().unwrap();
    let me = cni_chaos::journal::Owner::current().unwrap();
    let dead = cni_chaos::journal::Owner {
        start_time: me.start_time + 1,
        ..me
    };
    let run = root.path().join("1-dead");
    std::fs::create_dir_all(&run).unwrap();
    let docker_host = std::env::var("DOCKER_HOST").ok().filter(|s| !s.is_empty());
    let records = [
        cni_chaos::journal::Record::Run {
            run_id: "1-dead".into(),
            owner: dead,
            docker_host,
        },
        cni_chaos::journal::Record::Intent {
            id: 1,
            resource: cni_chaos::journal::Resource::DockerNetwork {
                cluster: c.name.clone(),
                name: network.clone(),
            },
        },
        cni_chaos::journal::Record::Intent {
            id: 2,
            resource: cni_chaos::journal::Resource::DockerContainer {
                cluster: c.name.clone(),
                name: target.clone(),
            },
        },
    ];
    for (file, r) in [
        "00000000-run.json",
        "00000001-intent.json",
        "00000002-intent.json",
    ]
    .iter()
    .zip(&records)
    {
        std::fs::write(run.join(file), serde_json::to_vec(r).unwrap()).unwrap();
    }
    let journal = cni_chaos::journal::Journal::at(root.path());
    let options = kind::CleanOptions::from_env(false, false);
    let clean = || async {
        let report = kind::clean(&journal, runner.clone(), &options)
            .await
            .unwrap();
        let did = report.did.join("\n");
        (report, did)
    };
    let (report, did) = clean().await;
    assert!(
        did.contains(&format!("removed container {target}")),
        "{report:#?}"
    );
    assert!(
        report.left.iter().any(|l| l.contains(&network)),
        "{report:#?}"
    );
    assert!(!host(&["docker", "inspect", &target]).success());
    // Once the nodes are gone from it (their cluster deleted), the next
    // clean removes the network and the journal.
    for n in [&cp, &worker] {
        host_ok(&["docker", "network", "disconnect", &network, n]);
    }
    let t1 = Instant::now();
    let (report, did) = clean().await;
    assert!(
        did.contains(&format!("removed Docker network {network}")),
        "{report:#?}"
    );
    assert!(!host(&["docker", "network", "inspect", &network]).success());
    assert!(journal.runs().unwrap().is_empty());
    say(&format!(
        "SYSTEM nat-network: created and connected 2 nodes with eth1 checked in {:.2}s; clean removed the network in {:.2}s",
        connected.as_secs_f64(),
        t1.elapsed().as_secs_f64()
    ));
}
