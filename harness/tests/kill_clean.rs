//! Tier-3 kill tests of the undo journal and `cni-chaos clean`, on real
//! Docker: a runner is SIGKILLed at a phase marker plus a seeded offset,
//! `cni-chaos clean` runs, and whatever is left is counted.
//!
//! The runner killed here is this test binary itself, started again as a
//! *victim* (`CHAOS_KILL_VICTIM` names what it does). It drives the kind
//! backend's own code: the journal, the [`LocalRunner`] with its
//! parent-death signal and child log, [`DockerNodes`] and the fault
//! injectors and undos of `backend/kind/faults.rs`, and `kind create` /
//! `kind delete cluster` for a cluster of its own. What it does not run is
//! the engine around them (gate, kube-rs observation, reports): the victim
//! stands in for it with phase markers (`PHASE <name> <ms>` on stdout).
//!
//! `kind` is a stand-in on `PATH` (a shell script written by the test) that
//! creates, lists, exports and deletes node containers named and labelled
//! exactly as kind does (`io.x-k8s.kind.cluster=<name>`,
//! `io.x-k8s.kind.role`, `<name>-control-plane`, `<name>-worker`), from a
//! `FROM scratch` busybox image built here, with `--pull never`. The nodes
//! run the host's Open vSwitch themselves, so the victim's node runtime
//! uses `OvsCommands::NodeContainer` (on kind it is the `ovs-ovn` pod).
//!
//! The kill is the runner's own timeout (SIGKILL of the victim, nothing
//! else), set from a calibration run's phase times plus a seeded offset;
//! the phase a kill landed in is the last marker the victim printed.
//!
//! Phases: provisioning and teardown of a cluster the victim creates (its
//! observation too); injection, observation and revert of each fault on a
//! cluster the test made, as a `CHAOS_CLUSTER` one is (a reboot starts its
//! node again itself, so it has no revert). Each kill is followed by
//! `cni-chaos clean` and a count of what is left (containers, network
//! namespaces, OVS ports, stopped or stray processes, CNI configs,
//! disconnected or stopped nodes, journal entries), which must be 0.
//!
//! Faults driven: node-reboot (hard and graceful), ovs-kill with SIGSTOP,
//! stale-netns with OVS ports, cni-config removal and truncation,
//! network-partition. Not driven, and why: leftover-multus-config needs a
//! Multus pod and the kube API (kubectl deletes the pod), which these nodes
//! do not have; its journal records are the same `KillFrozen` undo that
//! the unit and contract tests cover; pod-delete leaves no node state
//! (Kubernetes recreates the pods); ovs-kill with SIGKILL leaves nothing to
//! undo (ovs-ovn restarts the daemon).

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cni_chaos::backend::NodeInfo;
use cni_chaos::backend::kind::{
    self, CLUSTER_LABEL, DockerNodes, Guard, OvsCommands, cluster_containers,
};
use cni_chaos::exec::{Command, ExecError, LocalRunner, Output, Runner};
use cni_chaos::fault::{
    CniConfig, CniConfigAction, CniFile, Fault, NetworkPartition, NodeReboot, NodeRole, NodeTarget,
    OvsKill, OvsProcess, OvsSignal, RebootMode, StaleNetns,
};
use cni_chaos::journal::{JOURNAL_DIR_ENV, Journal, Resource};
use libtest_mimic::{Arguments, Failed, Trial};
use serde::{Deserialize, Serialize};
use support::{say, unique};

/// Set in a victim's environment: what it does (a [`Spec`] as JSON).
const VICTIM_ENV: &str = "CHAOS_KILL_VICTIM";
/// The seed of the kill offsets (printed; set it to replay a run).
const SEED_ENV: &str = "CHAOS_KILL_SEED";

/// PID 1 of a node: a shell that reaps what is reparented to it.
const INIT: &str = "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done";

/// Starts Open vSwitch in a node and gives it Kube-OVN's integration bridge.
const START_OVS: &str = "set -e; mkdir -p /run/openvswitch /var/log/openvswitch /etc/openvswitch; \
    [ -f /etc/openvswitch/conf.db ] || ovsdb-tool create /etc/openvswitch/conf.db /usr/share/openvswitch/vswitch.ovsschema; \
    ovsdb-server --remote=punix:/run/openvswitch/db.sock --pidfile=/run/openvswitch/ovsdb-server.pid --detach --log-file=/tmp/ovsdb-server.log /etc/openvswitch/conf.db; \
    ovs-vsctl --no-wait init; \
    ovs-vswitchd --pidfile=/run/openvswitch/ovs-vswitchd.pid --detach --log-file=/tmp/ovs-vswitchd.log unix:/run/openvswitch/db.sock; \
    ovs-vsctl --timeout=10 --may-exist add-br br-int -- set bridge br-int datapath_type=netdev";

/// The CNI config the cni-config faults remove or truncate.
const CONFLIST: &str = "/etc/cni/net.d/10-kube-ovn.conflist";
const CONFLIST_BODY: &str =
    r#"{"cniVersion":"0.3.1","name":"kube-ovn","plugins":[{"type":"kube-ovn"}]}"#;

/// The stand-in `kind`: node containers named and labelled as kind makes
/// them (kubernetes-sigs/kind pkg/cluster/internal/providers/docker
/// constants.go and provision.go), on `$KIND_EXPERIMENTAL_DOCKER_NETWORK`
/// (kind's own variable for the network), from `$STANDIN_IMAGE`, never
/// pulled.
const STANDIN_KIND: &str = r#"#!/bin/sh
# Stand-in kind for the kill tests (see harness/tests/kill_clean.rs).
set -eu
verb="${1:-} ${2:-}"
[ $# -ge 2 ] && shift 2 || shift $#
name=kind
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=$2; shift 2 ;;
    *) shift ;;
  esac
done
label=io.x-k8s.kind.cluster
case "$verb" in
  "create cluster")
    if [ -n "$(docker ps -aq --filter "label=$label=$name")" ]; then
      echo "ERROR: failed to create cluster: node(s) already exist for a cluster with the name \"$name\"" >&2
      exit 1
    fi
    for role in control-plane worker; do
      docker run -d --pull never --name "$name-$role" --hostname "$name-$role" \
        --label "$label=$name" --label "io.x-k8s.kind.role=$role" \
        --network "$KIND_EXPERIMENTAL_DOCKER_NETWORK" --tmpfs /run --tmpfs /tmp \
        --cap-add NET_ADMIN --cap-add SYS_ADMIN --device /dev/net/tun \
        -v /usr:/usr:ro -v /etc/alternatives:/etc/alternatives:ro \
        -e PATH=/usr/bin:/usr/sbin:/bin "$STANDIN_IMAGE" /bin/sh -c "$STANDIN_INIT" >/dev/null
    done ;;
  "get clusters")
    docker ps -a --filter "label=$label" --format "{{.Label \"$label\"}}" | sort -u ;;
  "get kubeconfig")
    printf 'apiVersion: v1\nkind: Config\ncurrent-context: kind-%s\n' "$name" ;;
  "delete cluster")
    ids=$(docker ps -aq --filter "label=$label=$name")
    if [ -n "$ids" ]; then docker rm -f -v $ids >/dev/null; fi ;;
  "export logs") ;;
  *) echo "stand-in kind: unsupported: $verb" >&2; exit 2 ;;
esac
"#;

/// What a victim does.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Spec {
    /// The cluster.
    cluster: String,
    /// Whether the victim creates (and deletes) it; else it was made by
    /// the test and is only used, as one named in `CHAOS_CLUSTER` is.
    own: bool,
    /// The fault injected on `<cluster>-worker` ([`fault`]), if any.
    fault: Option<String>,
    /// The cluster network.
    network: String,
    /// How long the observation phase lasts.
    observe_ms: u64,
}

/// The faults the kill tests drive, by name.
const FAULTS: [&str; 7] = [
    "node-reboot-hard",
    "node-reboot-graceful",
    "ovs-stop",
    "stale-netns",
    "cni-remove",
    "cni-truncate",
    "network-partition",
];

fn fault(name: &str) -> Fault {
    let target = NodeTarget::Name {
        name: "worker".into(),
    };
    match name {
        "node-reboot-hard" | "node-reboot-graceful" => Fault::NodeReboot(NodeReboot {
            target,
            mode: if name.ends_with("hard") {
                RebootMode::Hard
            } else {
                RebootMode::Graceful
            },
            timeout: Duration::from_secs(5),
        }),
        "ovs-stop" => Fault::OvsKill(OvsKill {
            target,
            process: OvsProcess::OvsVswitchd,
            signal: OvsSignal::Stop,
            stop_for: None,
        }),
        "stale-netns" => Fault::StaleNetns(StaleNetns {
            target,
            count: 2,
            ovs_ports: true,
        }),
        "stale-netns-only" => Fault::StaleNetns(StaleNetns {
            target,
            count: 2,
            ovs_ports: false,
        }),
        "cni-remove" | "cni-truncate" => Fault::CniConfig(CniConfig {
            target,
            action: if name == "cni-remove" {
                CniConfigAction::Remove
            } else {
                CniConfigAction::Truncate
            },
            file: CniFile::Path(CONFLIST.into()),
        }),
        "network-partition" => Fault::NetworkPartition(NetworkPartition {
            target,
            duration: Duration::from_secs(60),
        }),
        other => panic!("no fault {other:?} in the kill tests"),
    }
}

fn main() -> ExitCode {
    if let Ok(spec) = std::env::var(VICTIM_ENV) {
        return victim(&spec);
    }
    let args = Arguments::from_args();
    let trials = vec![
        Trial::test("kills_at_every_phase_leave_nothing_after_clean", || {
            kills_leave_nothing().map_err(Failed::from)
        }),
        Trial::test(
            "clean_leaves_live_runs_other_clusters_and_unlabelled_containers_alone",
            || isolation().map_err(Failed::from),
        ),
        Trial::test("every_kind_run_starts_with_the_sweep", || {
            sweep().map_err(Failed::from)
        }),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}

// ---------------------------------------------------------------- victim

/// Prints a phase marker, at once (the killer reads the last one).
fn mark(start: Instant, phase: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "PHASE {phase} {}", start.elapsed().as_millis());
    let _ = out.flush();
}

/// The victim: provision (own cluster), inject, observe, revert, tear down,
/// with the journal the kind backend keeps. Exits 0 only when its journal
/// ended empty.
fn victim(spec: &str) -> ExitCode {
    let spec: Spec = match serde_json::from_str(spec) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("victim: bad {VICTIM_ENV}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("victim: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(victim_run(&spec)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("victim: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn victim_run(spec: &Spec) -> Result<(), String> {
    let start = Instant::now();
    let journal = Journal::from_env()
        .and_then(|j| j.begin(std::env::var("DOCKER_HOST").ok()))
        .map_err(|e| e.to_string())?;
    let journal = Arc::new(journal);
    let runner: Arc<dyn Runner> = Arc::new(LocalRunner::new().with_child_log(journal.clone()));
    let kind_cmd = |verb: &str| {
        Command::new("kind")
            .args([verb, "cluster", "--name", &spec.cluster])
            .timeout(Duration::from_secs(120))
    };
    let mut made = None;
    if spec.own {
        mark(start, "provisioning");
        let id = journal
            .intent(Resource::Cluster {
                name: spec.cluster.clone(),
            })
            .map_err(|e| e.to_string())?;
        runner
            .run(&kind_cmd("create"))
            .await
            .map_err(|e| e.to_string())?;
        let containers = cluster_containers(&runner, &spec.cluster)
            .await
            .map_err(|e| e.to_string())?;
        journal.done(id, containers).map_err(|e| e.to_string())?;
        made = Some(id);
    }
    let nodes = DockerNodes::new(
        runner.clone(),
        &spec.cluster,
        Guard::harness(Some(spec.cluster.clone())),
        OvsCommands::NodeContainer,
    )
    .with_network(&spec.network)
    .with_journal(Some(journal.clone()));
    let node = NodeInfo {
        name: format!("{}-worker", spec.cluster),
        role: NodeRole::Worker,
        internal_ip: None,
    };
    let mut undo = None;
    if let Some(name) = &spec.fault {
        mark(start, "injection");
        let injected = kind::inject(&nodes, None, &fault(name), Some(&node))
            .await
            .map_err(|e| e.to_string())?;
        if !injected.evidence.took_effect {
            return Err(format!("{name} had no effect: {:?}", injected.evidence));
        }
        undo = injected.undo;
    }
    mark(start, "observation");
    tokio::time::sleep(Duration::from_millis(spec.observe_ms)).await;
    mark(start, "revert");
    if let Some(s) = undo {
        kind::undo(&nodes, &s.undo)
            .await
            .map_err(|e| e.to_string())?;
    }
    if let Some(id) = made {
        mark(start, "teardown");
        runner
            .run(&kind_cmd("delete"))
            .await
            .map_err(|e| e.to_string())?;
        journal.undone(id).map_err(|e| e.to_string())?;
    }
    if !journal.finish().map_err(|e| e.to_string())? {
        return Err(format!("the journal ended with {:?}", journal.pending()));
    }
    mark(start, "end");
    Ok(())
}

// ---------------------------------------------------------------- killer

/// Runs a command on this machine through the harness's runner.
fn host(argv: &[&str]) -> Output {
    support::output(Command::new(argv[0]).args(argv[1..].iter().copied()))
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

/// Why these tests cannot run here, if they cannot.
fn missing_prerequisite() -> Option<String> {
    let probe = Command::new("docker").args(["version", "--format", "{{.Server.Version}}"]);
    match support::try_output(probe) {
        Err(e) => return Some(format!("the Docker CLI cannot run: {e}")),
        Ok(out) if !out.success() => {
            return Some(format!(
                "no reachable Docker daemon: {}",
                out.stderr_str().lines().next().unwrap_or("")
            ));
        }
        Ok(_) => {}
    }
    for path in [
        "/usr/sbin/ovs-vswitchd",
        "/usr/sbin/ovsdb-server",
        "/usr/bin/ovs-vsctl",
        "/usr/bin/ovsdb-tool",
        "/usr/bin/ip",
        "/bin/busybox",
        "/dev/net/tun",
    ] {
        if !Path::new(path).exists() {
            return Some(format!(
                "{path} is missing (openvswitch-switch, iproute2, busybox-static)"
            ));
        }
    }
    None
}

/// `true` when the test should go on; prints the skip, or fails under
/// `CHAOS_SYSTEM_TESTS=require`.
fn prerequisites(test: &str) -> Result<bool, String> {
    match missing_prerequisite() {
        None => Ok(true),
        Some(reason) if std::env::var("CHAOS_SYSTEM_TESTS").as_deref() == Ok("require") => {
            Err(format!("{test}: CHAOS_SYSTEM_TESTS=require, but {reason}"))
        }
        Some(reason) => {
            say(&format!("SKIPPED: kill_clean::{test}: {reason}"));
            Ok(false)
        }
    }
}

/// The test's Docker world: the node image, a network, the stand-in kind,
/// a private journal; everything removed by name on drop, with every
/// cluster it knows of.
struct World {
    tag: String,
    image: String,
    network: String,
    dir: tempfile::TempDir,
    clusters: Vec<String>,
    extra: Vec<String>,
}

impl World {
    fn start(tag: &str) -> World {
        let tag = unique(tag);
        let dir = tempfile::tempdir().expect("tempdir");
        let w = World {
            image: format!("cni-chaos-killtest-node:{tag}"),
            network: format!("{tag}-net"),
            tag,
            dir,
            clusters: Vec::new(),
            extra: Vec::new(),
        };
        let ctx = w.dir.path().join("image");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::copy("/bin/busybox", ctx.join("busybox")).expect("copy busybox");
        std::fs::write(
            ctx.join("Dockerfile"),
            "FROM scratch\n\
             COPY busybox /bin/busybox\n\
             RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox --install -s /bin && ln -s usr/lib /lib && ln -s usr/lib64 /lib64 && ln -s usr/sbin /sbin && mkdir -p /etc/cni/net.d /opt/cni/bin /var /run /tmp /etc/openvswitch /etc/alternatives && ln -s /run /var/run\"]\n",
        )
        .unwrap();
        support::output(
            Command::new("docker")
                // No cache: see kind_system.rs (a shared cached image can be
                // deleted by another test's `docker rmi -f`).
                .args(["build", "-q", "--no-cache", "-t", &w.image])
                .arg(ctx.display().to_string())
                .env("DOCKER_BUILDKIT", "0")
                .timeout(Duration::from_secs(120)),
        );
        host_ok(&["docker", "network", "create", &w.network]);
        let bin = w.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let kind = bin.join("kind");
        std::fs::write(&kind, STANDIN_KIND).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&kind, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::create_dir_all(w.journal_dir()).unwrap();
        w
    }

    fn journal_dir(&self) -> PathBuf {
        self.dir.path().join("journal")
    }

    /// `cmd` with the stand-in kind first on PATH and the private journal.
    fn env(&self, cmd: Command) -> Command {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env("PATH", path)
            .env(JOURNAL_DIR_ENV, self.journal_dir().display().to_string())
            .env("STANDIN_IMAGE", &self.image)
            .env("STANDIN_INIT", INIT)
            .env("KIND_EXPERIMENTAL_DOCKER_NETWORK", &self.network)
    }

    /// A cluster made by the test through the stand-in kind (as a user's
    /// `CHAOS_CLUSTER` would be), with OVS and a CNI config on its worker.
    fn cluster(&mut self, suffix: &str) -> String {
        let name = format!("{}-{suffix}", self.tag);
        self.clusters.push(name.clone());
        let out = support::output(
            self.env(Command::new("kind").args(["create", "cluster", "--name", &name])),
        );
        assert!(out.success(), "{}", out.stderr_str());
        let worker = format!("{name}-worker");
        self.sh_ok(&worker, START_OVS);
        self.sh_ok(
            &worker,
            &format!("printf '%s' '{CONFLIST_BODY}' > {CONFLIST} && chmod 600 {CONFLIST}"),
        );
        name
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

    /// Starts OVS again where it is down on a running node (what the
    /// `ovs-ovn` pod does on kind after a node restart).
    fn heal_ovs(&self, node: &str) {
        if self.running(node) && !self.sh(node, "ovs-vsctl --timeout=3 show").success() {
            self.sh_ok(node, START_OVS);
        }
    }

    fn running(&self, node: &str) -> bool {
        host(&["docker", "inspect", "-f", "{{.State.Running}}", node])
            .stdout_str()
            .trim()
            == "true"
    }

    /// Runs a victim; `kill_after`: SIGKILL it then (the runner's timeout).
    /// Returns the phases it reached, with their times, and whether it was
    /// killed; a victim that failed on its own is an error.
    fn run_victim(&self, spec: &Spec, kill_after: Option<Duration>) -> Result<Victim, String> {
        let cmd = self.env(
            Command::new(support::arg(
                std::env::current_exe().map_err(|e| e.to_string())?,
            ))
            .env(
                VICTIM_ENV,
                serde_json::to_string(spec).map_err(|e| e.to_string())?,
            )
            .timeout(kill_after.unwrap_or(Duration::from_secs(300))),
        );
        match support::try_output(cmd) {
            Ok(out) if out.success() => Ok(Victim {
                phases: phases(&out.stdout_str()),
                killed: false,
            }),
            Ok(out) => Err(format!(
                "the victim failed ({}): {}{}",
                out.status,
                out.stdout_str(),
                out.stderr_str()
            )),
            Err(ExecError::Timeout { stdout, .. }) if kill_after.is_some() => Ok(Victim {
                phases: phases(&stdout),
                killed: true,
            }),
            Err(e) => Err(e.to_string()),
        }
    }

    /// `cni-chaos clean [args]` against the private journal.
    fn clean(&self, args: &[&str]) -> Output {
        support::output(self.env(support::cni_chaos().arg("clean").args(args.iter().copied())))
    }

    /// Files left in the journal.
    fn journal_files(&self) -> Vec<String> {
        let mut all = Vec::new();
        for run in std::fs::read_dir(self.journal_dir()).unwrap().flatten() {
            match std::fs::read_dir(run.path()) {
                Ok(files) => all.extend(files.flatten().map(|f| f.path().display().to_string())),
                Err(_) => all.push(run.path().display().to_string()),
            }
        }
        all.sort();
        all
    }

    /// Containers carrying kind's label for `cluster`.
    fn labelled(&self, cluster: &str) -> usize {
        host_ok(&[
            "docker",
            "ps",
            "-aq",
            "--filter",
            &format!("label={CLUSTER_LABEL}={cluster}"),
        ])
        .lines()
        .count()
    }

    /// What a killed run left on the test's cluster `cluster` (and on the
    /// host), by kind; all zero after a good clean.
    fn leftovers(&self, cluster: &str, own: Option<&str>) -> BTreeMap<&'static str, usize> {
        let mut left = BTreeMap::new();
        left.insert("containers", own.map_or(0, |c| self.labelled(c)));
        let worker = format!("{cluster}-worker");
        left.insert("stopped nodes", usize::from(!self.running(&worker)));
        self.heal_ovs(&worker);
        let netns = self.sh(&worker, "/usr/bin/ip netns list");
        left.insert(
            "netns",
            netns
                .stdout_str()
                .lines()
                .filter(|l| l.starts_with("chaos-stale-"))
                .count(),
        );
        let ports = self.sh(&worker, "ovs-vsctl --timeout=5 list-ports br-int");
        left.insert(
            "OVS ports",
            ports
                .stdout_str()
                .lines()
                .filter(|l| l.starts_with("chaos-stale-"))
                .count(),
        );
        let stopped = self.sh(
            &worker,
            "for f in /run/openvswitch/*.pid; do p=$(cat $f); cut -d' ' -f3 /proc/$p/stat; done",
        );
        left.insert(
            "stopped processes",
            stopped
                .stdout_str()
                .lines()
                .filter(|l| l.trim() == "T")
                .count(),
        );
        let conf = self.sh(
            &worker,
            &format!("cat {CONFLIST}; echo; stat -c %a {CONFLIST}"),
        );
        left.insert(
            "CNI configs not restored",
            usize::from(conf.stdout_str() != format!("{CONFLIST_BODY}\n600\n")),
        );
        let nets = host_ok(&[
            "docker",
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            &worker,
        ]);
        left.insert(
            "disconnected nodes",
            usize::from(!nets.split_whitespace().any(|n| n == self.network)),
        );
        left.insert("stray processes", stray_processes(&self.tag).len());
        left.insert("journal entries", self.journal_files().len());
        left
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for c in &self.clusters {
            let ids = host(&[
                "docker",
                "ps",
                "-aq",
                "--filter",
                &format!("label={CLUSTER_LABEL}={c}"),
            ]);
            for id in ids.stdout_str().split_whitespace() {
                host(&["docker", "rm", "-f", "-v", id]);
            }
        }
        for c in &self.extra {
            host(&["docker", "rm", "-f", "-v", c]);
        }
        host(&["docker", "network", "rm", &self.network]);
        host(&["docker", "rmi", "-f", &self.image]);
    }
}

/// A victim's run: the phases it reached, with their times.
struct Victim {
    phases: Vec<(String, u64)>,
    killed: bool,
}

impl Victim {
    fn last(&self) -> &str {
        self.phases.last().map_or("start", |(p, _)| p.as_str())
    }
}

fn phases(stdout: &str) -> Vec<(String, u64)> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut f = l.strip_prefix("PHASE ")?.split(' ');
            Some((f.next()?.to_string(), f.next()?.parse().ok()?))
        })
        .collect()
}

/// Live processes on this host (other than this one) whose command line
/// names `tag`: what a killed run's children could leave running.
fn stray_processes(tag: &str) -> Vec<String> {
    let me = std::process::id();
    let mut found = Vec::new();
    // Zombies of killed processes linger until reaped (PID 1 takes a
    // moment): give them that.
    for attempt in 0..30 {
        found.clear();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == me {
                continue;
            }
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            let zombie = cni_chaos::exec::host_process(pid).is_none_or(|(_, s)| s == 'Z');
            if text.contains(tag) && !zombie {
                found.push(format!("{pid}: {text}"));
            }
        }
        if found.is_empty() || attempt == 29 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    found
}

/// Each phase's start and end (the next phase's start), in ms after the
/// victim's start.
fn phase_windows(phases: &[(String, u64)]) -> BTreeMap<String, (u64, u64)> {
    phases
        .windows(2)
        .map(|p| (p[0].0.clone(), (p[0].1, p[1].1.max(p[0].1 + 1))))
        .collect()
}

/// xorshift64*: the kill offsets, from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// One kind of run to kill: a fault on the test's cluster, or a cluster's
/// own lifecycle.
struct Case {
    column: &'static str,
    fault: Option<&'static str>,
    own: bool,
    phases: &'static [&'static str],
}

fn kills_leave_nothing() -> Result<(), String> {
    const TEST: &str = "kills_at_every_phase_leave_nothing_after_clean";
    if !prerequisites(TEST)? {
        return Ok(());
    }
    let began = Instant::now();
    let seed = std::env::var(SEED_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        })
        | 1;
    say(&format!(
        "SYSTEM: kill_clean: seed {seed} (replay with {SEED_ENV}={seed})"
    ));
    let mut rng = Rng(seed);
    let mut w = World::start("kill");
    let target = w.cluster("shared");
    let mut cases: Vec<Case> = FAULTS
        .iter()
        .map(|f| Case {
            column: f,
            fault: Some(f),
            own: false,
            // A reboot starts its node again itself: it has no revert.
            phases: if f.starts_with("node-reboot") {
                &["injection", "observation"]
            } else {
                &["injection", "observation", "revert"]
            },
        })
        .collect();
    cases.push(Case {
        column: "cluster",
        fault: None,
        own: true,
        phases: &["provisioning", "observation", "teardown"],
    });
    let mut table: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut totals: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut kills, mut finished, mut mid_intent) = (0usize, 0usize, 0usize);
    let mut problems = Vec::new();
    for (ci, case) in cases.iter().enumerate() {
        let spec = |n: usize| Spec {
            cluster: if case.own {
                format!("{}-own{ci}x{n}", w.tag)
            } else {
                target.clone()
            },
            own: case.own,
            fault: case.fault.map(str::to_string),
            network: w.network.clone(),
            observe_ms: 300,
        };
        // Calibration: a run that is not killed ends with nothing pending
        // and nothing left, and gives the phases' times.
        let calib = spec(0);
        w.clusters.push(calib.cluster.clone());
        let run = w.run_victim(&calib, None)?;
        let left = w.leftovers(&target, case.own.then_some(calib.cluster.as_str()));
        if left.values().sum::<usize>() != 0 {
            problems.push(format!("{}: an unkilled run left {left:?}", case.column));
        }
        let mut times = phase_windows(&run.phases);
        // Kills per phase of the case (more for the cluster's own, which
        // has fewer cases); a run that ends before its kill re-times the
        // phases and is tried again, up to four times as often.
        let per_phase = if case.own { 4 } else { 2 };
        let mut n = 0;
        for phase in case.phases {
            let mut landed = 0;
            for _ in 0..per_phase * 4 {
                if landed >= per_phase {
                    break;
                }
                let Some(&(from, to)) = times.get(*phase) else {
                    return Err(format!(
                        "{}: the victim never reached {phase}: {:?}",
                        case.column, run.phases
                    ));
                };
                n += 1;
                let spec = spec(n);
                if case.own {
                    w.clusters.push(spec.cluster.clone());
                }
                // The victim's own start-up comes before its first marker.
                let at = Duration::from_millis(from + rng.below(to - from) + 40);
                let victim = w.run_victim(&spec, Some(at))?;
                if !victim.killed {
                    finished += 1;
                    times = phase_windows(&victim.phases);
                    let left = w.leftovers(&target, case.own.then_some(spec.cluster.as_str()));
                    if left.values().sum::<usize>() != 0 {
                        problems.push(format!("{}: an unkilled run left {left:?}", case.column));
                    }
                    continue;
                }
                kills += 1;
                landed += usize::from(victim.last() == *phase);
                *table
                    .entry((victim.last().to_string(), case.column.to_string()))
                    .or_default() += 1;
                // Killed with an intent written and its action unfinished?
                let runs = Journal::at(w.journal_dir())
                    .runs()
                    .map_err(|e| e.to_string())?;
                let open = runs
                    .iter()
                    .flat_map(|r| &r.pending)
                    .any(|p| match &p.resource {
                        Resource::Cluster { .. } => !p.done,
                        Resource::NodeFault { .. } => victim.last() == "injection",
                        _ => false,
                    });
                mid_intent += usize::from(open);
                // Like OVS on kind, which ovs-ovn restarts.
                w.heal_ovs(&format!("{target}-worker"));
                let out = w.clean(&[]);
                if !out.success() {
                    problems.push(format!(
                        "{} killed in {} after {at:?}: clean failed: {}{}",
                        case.column,
                        victim.last(),
                        out.stdout_str(),
                        out.stderr_str()
                    ));
                }
                let left = w.leftovers(&target, case.own.then_some(spec.cluster.as_str()));
                for (k, v) in &left {
                    *totals.entry(k).or_default() += v;
                }
                if left.values().sum::<usize>() != 0 {
                    problems.push(format!(
                        "{} killed in {} after {at:?}: left {left:?}; clean said:\n{}",
                        case.column,
                        victim.last(),
                        out.stdout_str()
                    ));
                }
            }
        }
    }
    // The test's own cluster is the user's: never deleted by clean.
    if w.labelled(&target) != 2 {
        problems.push(format!("clean touched the test's cluster {target}"));
    }
    let took = began.elapsed();
    say(&format!(
        "SYSTEM: kill_clean: {kills} kills ({finished} runs ended before their kill), {mid_intent} between an intent and its completion, in {:.0} s",
        took.as_secs_f64()
    ));
    let columns: Vec<&str> = cases.iter().map(|c| c.column).collect();
    say(&format!(
        "SYSTEM: kill_clean: coverage (kills) | phase | {} |",
        columns.join(" | ")
    ));
    for phase in [
        "provisioning",
        "injection",
        "observation",
        "revert",
        "teardown",
        "end",
        "start",
    ] {
        let row: Vec<String> = columns
            .iter()
            .map(|c| {
                table
                    .get(&(phase.to_string(), c.to_string()))
                    .copied()
                    .unwrap_or(0)
                    .to_string()
            })
            .collect();
        if row.iter().any(|v| v != "0") || phase != "start" && phase != "end" {
            say(&format!(
                "SYSTEM: kill_clean: coverage | {phase} | {} |",
                row.join(" | ")
            ));
        }
    }
    let all: usize = totals.values().sum();
    say(&format!(
        "SYSTEM: kill_clean: leftovers after clean: {all} over {kills} kills ({})",
        totals
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if kills < 50 {
        problems.push(format!("only {kills} kills landed; at least 50 are needed"));
    }
    for case in &cases {
        for phase in case.phases {
            if !table.contains_key(&(phase.to_string(), case.column.to_string())) {
                problems.push(format!("no kill landed in {phase} of {}", case.column));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// `clean` with a live run, a dead run, a cluster nobody journaled and an
/// unlabelled container named like a dead run's node: only the dead run's
/// cluster goes; `--dry-run` before it lists that cluster and the fault
/// pending on it, and changes nothing.
fn isolation() -> Result<(), String> {
    const TEST: &str = "clean_leaves_live_runs_other_clusters_and_unlabelled_containers_alone";
    if !prerequisites(TEST)? {
        return Ok(());
    }
    let mut w = World::start("iso");
    let live_cluster = w.cluster("live");
    let other = w.cluster("other");
    // The live run: a stale-netns fault, then a long observation.
    let live = Spec {
        cluster: live_cluster.clone(),
        own: false,
        fault: Some("stale-netns".into()),
        network: w.network.clone(),
        observe_ms: 20_000,
    };
    // The dead run: its own cluster and a fault on it, killed while
    // observing.
    let dead = Spec {
        cluster: format!("{}-dead", w.tag),
        own: true,
        fault: Some("stale-netns-only".into()),
        network: w.network.clone(),
        observe_ms: 60_000,
    };
    w.clusters.push(dead.cluster.clone());
    let victim = w.run_victim(&dead, Some(Duration::from_secs(8)))?;
    if !victim.killed || victim.last() != "observation" {
        return Err(format!(
            "the dead run was not killed while observing: {:?}",
            victim.phases
        ));
    }
    // A container named like a node of the dead cluster, without kind's
    // labels: not a node of it.
    let impostor = format!("{}-worker2", dead.cluster);
    w.extra.push(impostor.clone());
    host_ok(&[
        "docker",
        "run",
        "-d",
        "--pull",
        "never",
        "--name",
        &impostor,
        "--network",
        &w.network,
        &w.image,
        "/bin/sh",
        "-c",
        INIT,
    ]);
    std::thread::scope(|s| -> Result<(), String> {
        let live_run = s.spawn(|| w.run_victim(&live, None));
        // Wait until the live run has injected.
        let deadline = Instant::now() + Duration::from_secs(30);
        let live_dir = loop {
            let runs = Journal::at(w.journal_dir())
                .runs()
                .map_err(|e| e.to_string())?;
            let injected = runs.iter().find(|r| {
                r.pending.iter().any(|p| {
                    matches!(&p.resource, Resource::NodeFault { cluster, .. } if *cluster == live_cluster)
                })
            });
            if let Some(run) = injected {
                break run.dir.display().to_string();
            }
            if Instant::now() > deadline {
                return Err("the live run did not inject within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        std::thread::sleep(Duration::from_millis(500));
        let live_worker = format!("{live_cluster}-worker");
        let stale = |w: &World| {
            w.sh(&live_worker, "/usr/bin/ip netns list")
                .stdout_str()
                .lines()
                .filter(|l| l.starts_with("chaos-stale-"))
                .count()
        };
        if stale(&w) != 2 {
            return Err(format!(
                "the live run's fault is not in place: {} stale netns",
                stale(&w)
            ));
        }

        // --dry-run: lists the dead run's cluster and its pending undo,
        // changes nothing.
        // The live run goes on writing its own records meanwhile.
        let dead_files = |w: &World| {
            w.journal_files()
                .into_iter()
                .filter(|f| !f.starts_with(&live_dir))
                .collect::<Vec<_>>()
        };
        let files = dead_files(&w);
        if files.is_empty() {
            return Err("the dead run left no journal".into());
        }
        let out = w.clean(&["--dry-run"]);
        let text = out.stdout_str().into_owned();
        let dry_ok = out.success()
            && text.contains(&format!("would delete kind cluster {}", dead.cluster))
            && text.contains(&format!(
                "removing stale netns [\"chaos-stale-0\", \"chaos-stale-1\"] and OVS ports [] on node {}-worker of {} would go with its cluster",
                dead.cluster, dead.cluster
            ))
            && text.contains("live: run ");
        if !dry_ok {
            return Err(format!(
                "clean --dry-run did not list the dead run's cluster and undo:\n{text}{}",
                out.stderr_str()
            ));
        }
        if w.labelled(&dead.cluster) != 2 || dead_files(&w) != files {
            return Err(format!("clean --dry-run changed something:\n{text}"));
        }

        // The real clean.
        let out = w.clean(&[]);
        let text = out.stdout_str().into_owned();
        if !out.success() || !text.contains(&format!("deleted kind cluster {}", dead.cluster)) {
            return Err(format!(
                "clean did not delete the dead run's cluster:\n{text}{}",
                out.stderr_str()
            ));
        }
        let mut problems = Vec::new();
        if w.labelled(&dead.cluster) != 0 || !dead_files(&w).is_empty() {
            problems.push(format!(
                "the dead run's cluster or journal is still there: {:?}",
                dead_files(&w)
            ));
        }
        if stale(&w) != 2 {
            problems.push("clean undid the live run's fault".to_string());
        }
        if w.labelled(&other) != 2 || w.labelled(&live_cluster) != 2 {
            problems.push("clean touched a cluster no dead run made".to_string());
        }
        if !w.running(&impostor) {
            problems.push(format!("clean touched the unlabelled container {impostor}"));
        }
        // The live run goes on, reverts its fault and ends with its journal.
        match live_run.join() {
            Ok(Ok(v)) if v.last() == "end" => {}
            Ok(Ok(v)) => problems.push(format!("the live run stopped at {}", v.last())),
            Ok(Err(e)) => problems.push(format!("the live run failed: {e}")),
            Err(_) => problems.push("the live run's thread panicked".into()),
        }
        if stale(&w) != 0 || !w.journal_files().is_empty() {
            problems.push(format!(
                "after the live run: {} stale netns, journal {:?}",
                stale(&w),
                w.journal_files()
            ));
        }
        say(&format!(
            "SYSTEM: kill_clean: isolation: clean deleted the dead run's cluster and left a live run's fault, another cluster and an unlabelled container alone ({} problems)",
            problems.len()
        ));
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    })
}

/// A kind run sweeps dead runs before anything else: here its preflight
/// then fails (the stand-in kind has no `kind version`), after the sweep
/// deleted a killed run's cluster; the run's own journal ends empty.
fn sweep() -> Result<(), String> {
    const TEST: &str = "every_kind_run_starts_with_the_sweep";
    if !prerequisites(TEST)? {
        return Ok(());
    }
    let mut w = World::start("sweep");
    let dead = Spec {
        cluster: format!("{}-dead", w.tag),
        own: true,
        fault: None,
        network: w.network.clone(),
        observe_ms: 60_000,
    };
    w.clusters.push(dead.cluster.clone());
    let victim = w.run_victim(&dead, Some(Duration::from_secs(6)))?;
    if !victim.killed || w.labelled(&dead.cluster) != 2 || w.journal_files().is_empty() {
        return Err(format!(
            "the dead run did not leave its cluster and journal: {:?}",
            victim.phases
        ));
    }
    let reports = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = support::output(
        w.env(support::cni_chaos().arg("run"))
            .env("CHAOS_BACKEND", "kind")
            .env("CHAOS_SUITES", support::arg(root.join("suites/smoke.yaml")))
            .env("CHAOS_REPORT_DIR", support::arg(reports.path()))
            .env("CI", "true")
            .env_remove("CHAOS_CLUSTER")
            .env_remove("CHAOS_DRY_RUN")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("CHAOS_BASELINE"),
    );
    let stderr = out.stderr_str();
    let swept = "cni-chaos: sweep: did: run ";
    let deleted = format!("deleted kind cluster {}", dead.cluster);
    let line = stderr
        .lines()
        .find(|l| l.starts_with(swept) && l.contains(&deleted));
    let mut problems = Vec::new();
    if line.is_none() {
        problems.push(format!(
            "no sweep line deleting {}:\n{stderr}",
            dead.cluster
        ));
    }
    if w.labelled(&dead.cluster) != 0 {
        problems.push("the dead run's cluster is still there".into());
    }
    if !w.journal_files().is_empty() {
        problems.push(format!("journal left: {:?}", w.journal_files()));
    }
    say(&format!(
        "SYSTEM: kill_clean: sweep: a kind run's start deleted a killed run's cluster and ended with an empty journal ({} problems)",
        problems.len()
    ));
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}
