//! The node runtime: kind nodes are Docker containers, and everything the
//! harness does to a node is a `docker` command run through a [`Runner`].
//!
//! Every destructive method first inspects the container and checks it with
//! the [`Guard`] (kind's `io.x-k8s.kind.cluster` label and node naming), so a
//! container that is not a node of the cluster is refused before anything
//! is run against it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::KindError;
use super::faults::Undo;
use super::ovs::{NodeOvs, OvsCommands};
use super::safety::{CLUSTER_LABEL, Guard, ROLE_LABEL};
use crate::exec::{Command, ExecError, Output, Runner};
use crate::fault::NodeRole;
use crate::journal::{OvsPlace, Resource, RunJournal};

/// The Docker network kind attaches nodes to (kubernetes-sigs/kind
/// pkg/cluster/internal/providers/docker/network.go, `fixedNetworkName`).
pub const KIND_NETWORK: &str = "kind";

/// Timeout of one docker command unless a method says otherwise.
pub const DOCKER_TIMEOUT: Duration = Duration::from_secs(60);

/// A node container as `docker inspect` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeState {
    /// Container name (= Kubernetes node name on kind).
    pub name: String,
    /// Full container ID (empty when the output has none).
    pub id: String,
    /// Whether it is running.
    pub running: bool,
    /// `State.StartedAt`, RFC 3339; changes on every (re)start.
    pub started_at: String,
    /// PID of its init process on the host (0 when stopped).
    pub pid: u32,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// IPv4 address per attached network.
    pub networks: BTreeMap<String, String>,
    /// Global IPv6 address per attached network that gave it one.
    pub networks_v6: BTreeMap<String, String>,
}

impl NodeState {
    /// Its kind role, from the `io.x-k8s.kind.role` label.
    pub fn role(&self) -> Option<NodeRole> {
        match self.labels.get(ROLE_LABEL).map(String::as_str) {
            Some("control-plane") => Some(NodeRole::ControlPlane),
            Some("worker") => Some(NodeRole::Worker),
            _ => None,
        }
    }
}

/// Docker commands against the node containers of one kind cluster.
#[derive(Clone, Debug)]
pub struct DockerNodes {
    runner: Arc<dyn Runner>,
    docker: String,
    cluster: String,
    guard: Guard,
    network: String,
    ovs: OvsCommands,
    dry_run: bool,
    /// The run's undo journal: faults are recorded in it before they run.
    journal: Option<Arc<RunJournal>>,
}

impl DockerNodes {
    /// The nodes of `cluster`, acted on through `runner`; `guard` decides
    /// which containers may be touched, `ovs` where Open vSwitch commands
    /// run (on kind: [`OvsCommands::OvsOvnPod`]).
    pub fn new(
        runner: Arc<dyn Runner>,
        cluster: impl Into<String>,
        guard: Guard,
        ovs: OvsCommands,
    ) -> Self {
        DockerNodes {
            runner,
            docker: "docker".into(),
            cluster: cluster.into(),
            guard,
            network: KIND_NETWORK.into(),
            ovs,
            dry_run: false,
            journal: None,
        }
    }

    /// Records every fault in `journal` before it runs, with its undo
    /// (never in a dry run, which makes nothing).
    #[must_use]
    pub fn with_journal(mut self, journal: Option<Arc<RunJournal>>) -> Self {
        self.journal = journal;
        self
    }

    /// Records, before a fault on `node` runs, the undo that takes it away
    /// again, with the node's container ID and start time (see
    /// [`Resource::NodeFault`]). Without a journal (or in a dry run) it
    /// runs nothing.
    pub async fn intend(&self, node: &str, undo: &Undo) -> Result<(), KindError> {
        let Some(journal) = self.journal.as_ref().filter(|_| !self.dry_run) else {
            return Ok(());
        };
        let state = self.guarded(node).await?;
        let ovs = match self.ovs {
            OvsCommands::OvsOvnPod(_) => OvsPlace::OvsOvnPod,
            OvsCommands::NodeContainer => OvsPlace::NodeContainer,
        };
        journal
            .intent(Resource::NodeFault {
                cluster: self.cluster.clone(),
                node: node.to_string(),
                container_id: state.id,
                started_at: state.started_at,
                network: self.network.clone(),
                ovs,
                undo: undo.clone(),
            })
            .map_err(KindError::journal)?;
        Ok(())
    }

    /// Whether faults are recorded in a journal before they run.
    pub fn is_journaled(&self) -> bool {
        self.journal.is_some() && !self.dry_run
    }

    /// Records that `undo` ran: the journal forgets the faults on its node
    /// that an undo of its kind takes away.
    pub fn undone(&self, undo: &Undo) -> Result<(), KindError> {
        match &self.journal {
            Some(journal) if !self.dry_run => {
                journal.undone_fault(undo).map_err(KindError::journal)
            }
            _ => Ok(()),
        }
    }

    /// Open vSwitch on `node` (through its `ovs-ovn` pod on kind).
    pub async fn ovs(&self, node: &str) -> Result<NodeOvs<'_>, KindError> {
        self.ovs.on(self, node).await
    }

    /// Uses another network as the cluster network (the system tests make
    /// their own).
    #[must_use]
    pub fn with_network(mut self, network: impl Into<String>) -> Self {
        self.network = network.into();
        self
    }

    /// Marks the runner as a dry run: outputs are empty, so inspections are
    /// answered from the command plan instead of parsed.
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Whether this is a dry run.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// The cluster name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// The cluster network's name.
    pub fn network(&self) -> &str {
        &self.network
    }

    /// The runner.
    pub fn runner(&self) -> &Arc<dyn Runner> {
        &self.runner
    }

    fn docker(&self) -> Command {
        Command::new(&self.docker).timeout(DOCKER_TIMEOUT)
    }

    /// Names and roles of the cluster's node containers, sorted by name
    /// (`docker ps -a --filter label=io.x-k8s.kind.cluster=<cluster>`).
    pub async fn list(&self) -> Result<Vec<(String, Option<NodeRole>)>, KindError> {
        let cmd = self.docker().args([
            "ps".to_string(),
            "-a".into(),
            "--filter".into(),
            format!("label={CLUSTER_LABEL}={}", self.cluster),
            "--format".into(),
            format!("{{{{.Names}}}}\t{{{{.Label \"{ROLE_LABEL}\"}}}}"),
        ]);
        let out = self.runner.run(&cmd).await?;
        let mut nodes: Vec<(String, Option<NodeRole>)> = out
            .stdout_str()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| {
                let (name, role) = l.split_once('\t').unwrap_or((l, ""));
                let role = match role.trim() {
                    "control-plane" => Some(NodeRole::ControlPlane),
                    "worker" => Some(NodeRole::Worker),
                    // kind's external load balancer is not a Kubernetes node.
                    "external-load-balancer" => return None,
                    _ => None,
                };
                Some((name.trim().to_string(), role))
            })
            .collect();
        nodes.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(nodes)
    }

    /// `docker inspect --type container <name>`, parsed. Read-only, so not
    /// guarded.
    pub async fn inspect(&self, name: &str) -> Result<NodeState, KindError> {
        let cmd = self.docker().args(["inspect", "--type", "container", name]);
        let out = self.runner.run(&cmd).await?;
        parse_inspect(&cmd.to_string(), &out.stdout_str())
    }

    /// Inspects `name` and checks it is a node of this cluster; every
    /// destructive method calls this first.
    pub async fn guarded(&self, name: &str) -> Result<NodeState, KindError> {
        if self.dry_run {
            // Planned like the real run, answered from the plan.
            self.runner
                .run(&self.docker().args(["inspect", "--type", "container", name]))
                .await?;
            return Ok(self.planned_state(name));
        }
        let state = self.inspect(name).await?;
        self.guard
            .check_container(&self.cluster, &state.name, &state.labels)?;
        Ok(state)
    }

    /// What a node is assumed to look like in a dry run.
    fn planned_state(&self, name: &str) -> NodeState {
        NodeState {
            id: "(dry run)".into(),
            name: name.to_string(),
            running: true,
            started_at: "(dry run)".into(),
            pid: 0,
            labels: BTreeMap::from([(CLUSTER_LABEL.to_string(), self.cluster.clone())]),
            networks: BTreeMap::from([(self.network.clone(), "(dry run)".into())]),
            networks_v6: BTreeMap::new(),
        }
    }

    /// Inspects again after an action (unguarded; the guard ran before it).
    pub async fn state(&self, name: &str) -> Result<NodeState, KindError> {
        if self.dry_run {
            self.runner
                .run(&self.docker().args(["inspect", "--type", "container", name]))
                .await?;
            return Ok(self.planned_state(name));
        }
        self.inspect(name).await
    }

    /// Hard kill: `docker kill --signal KILL <name>`.
    pub async fn kill(&self, name: &str) -> Result<(), KindError> {
        self.guarded(name).await?;
        let cmd = self.docker().args(["kill", "--signal", "KILL", name]);
        self.runner.run(&cmd).await?;
        Ok(())
    }

    /// `docker start <name>`.
    pub async fn start(&self, name: &str) -> Result<(), KindError> {
        self.guarded(name).await?;
        self.runner
            .run(&self.docker().args(["start", name]))
            .await?;
        Ok(())
    }

    /// Graceful stop: `docker stop -t <grace> <name>`. On a kind node the
    /// stop signal is `SIGRTMIN+3` (kind's base image `STOPSIGNAL`), so the
    /// node's systemd shuts down in order; Docker kills what is left after
    /// the grace period.
    pub async fn stop(&self, name: &str, grace: Duration) -> Result<(), KindError> {
        self.guarded(name).await?;
        let secs = grace.as_secs().max(1);
        let cmd = self
            .docker()
            .args([
                "stop".to_string(),
                "-t".into(),
                secs.to_string(),
                name.into(),
            ])
            .timeout(grace + DOCKER_TIMEOUT);
        self.runner.run(&cmd).await?;
        Ok(())
    }

    /// `docker cp <name>:<path> -`: `path` (a file or a folder) as a tar
    /// stream, read from the container's filesystem even while it is
    /// stopped; `None` when it does not exist there.
    pub async fn copy_out(&self, name: &str, path: &str) -> Result<Option<Vec<u8>>, KindError> {
        self.guarded(name).await?;
        let cmd = self.docker().args(["cp", &format!("{name}:{path}"), "-"]);
        let out = self.runner.output(&cmd).await?;
        if out.success() {
            return Ok(Some(out.stdout));
        }
        // Docker 20 to 24 say "No such container:path", newer ones "Could
        // not find the file".
        let err = out.stderr_str();
        if err.contains("No such container:path") || err.contains("Could not find the file") {
            return Ok(None);
        }
        Err(crate::exec::ExecError::failed(&cmd, &out).into())
    }

    /// Runs `argv` in the node and returns its output whatever its exit
    /// (`docker exec [-i] <name> argv...`).
    pub async fn exec_output(
        &self,
        name: &str,
        argv: &[&str],
        stdin: Option<&[u8]>,
    ) -> Result<Output, KindError> {
        self.guarded(name).await?;
        let mut cmd = self.docker().arg("exec");
        if let Some(bytes) = stdin {
            cmd = cmd.arg("-i").stdin(bytes.to_vec());
        }
        let cmd = cmd.arg(name).args(argv.iter().copied());
        Ok(self.runner.output(&cmd).await?)
    }

    /// Like [`DockerNodes::exec_output`], but a non-zero exit is an error.
    pub async fn exec(&self, name: &str, argv: &[&str]) -> Result<Output, KindError> {
        self.guarded(name).await?;
        let cmd = self
            .docker()
            .arg("exec")
            .arg(name)
            .args(argv.iter().copied());
        Ok(self.runner.run(&cmd).await?)
    }

    /// Starts `argv` in the node with `env`, `stdin` on its standard input,
    /// and returns at once; the command (`docker exec -i -e K=V ... <name>
    /// argv...`) runs through the runner in a background task until it
    /// exits or `timeout` elapses, and the task's handle yields its result.
    /// For a process that must outlive this call, like a CNI plugin waiting
    /// for its daemon.
    pub async fn spawn_exec(
        &self,
        name: &str,
        env: &[(&str, &str)],
        argv: &[&str],
        stdin: Vec<u8>,
        timeout: Duration,
    ) -> Result<tokio::task::JoinHandle<Result<Output, crate::exec::ExecError>>, KindError> {
        self.guarded(name).await?;
        let mut cmd = self.docker().args(["exec", "-i"]);
        for (k, v) in env {
            cmd = cmd.arg("-e").arg(format!("{k}={v}"));
        }
        let cmd = cmd
            .arg(name)
            .args(argv.iter().copied())
            .stdin(stdin)
            .timeout(timeout);
        let runner = self.runner.clone();
        if self.dry_run {
            // Planned, not run: printed in order, here and now.
            let out = runner.output(&cmd).await;
            return Ok(tokio::spawn(async move { out }));
        }
        Ok(tokio::spawn(async move {
            let out = runner.output(&cmd).await;
            match &out {
                Ok(o) => tracing::debug!("`{cmd}` ended with {}", o.status),
                Err(e) => tracing::debug!("`{cmd}` ended: {e}"),
            }
            out
        }))
    }

    /// PIDs (in the node's PID namespace) of processes named exactly
    /// `process` (`pgrep -x`; procps in kind's base image, busybox elsewhere).
    pub async fn pids(&self, name: &str, process: &str) -> Result<Vec<u32>, KindError> {
        let out = self
            .exec_output(name, &["pgrep", "-x", process], None)
            .await?;
        // pgrep exits 1 when nothing matches.
        if !out.success() && out.status.code() != Some(1) {
            return Err(crate::exec::ExecError::failed(
                &self.docker().args(["exec", name, "pgrep", "-x", process]),
                &out,
            )
            .into());
        }
        Ok(out
            .stdout_str()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect())
    }

    /// Sends `signal` (`KILL`, `STOP`, `CONT`, ...) to `pids` inside the node.
    pub async fn signal(&self, name: &str, pids: &[u32], signal: &str) -> Result<(), KindError> {
        let pids: Vec<String> = pids.iter().map(ToString::to_string).collect();
        let mut argv = vec!["kill", "-s", signal];
        argv.extend(pids.iter().map(String::as_str));
        self.exec(name, &argv).await?;
        Ok(())
    }

    /// Sends `signal` to `pid` inside the node; `false` when the process
    /// was gone already (`kill` says "No such process"), an error for any
    /// other failure.
    pub async fn signal_unless_gone(
        &self,
        name: &str,
        pid: u32,
        signal: &str,
    ) -> Result<bool, KindError> {
        let pid = pid.to_string();
        let argv = ["kill", "-s", signal, pid.as_str()];
        let out = self.exec_output(name, &argv, None).await?;
        if out.success() {
            return Ok(true);
        }
        if out.stderr_str().contains("No such process") {
            return Ok(false);
        }
        let cmd = self.docker().arg("exec").arg(name).args(argv);
        Err(crate::exec::ExecError::failed(&cmd, &out).into())
    }

    /// The state letter of `pid` in the node (`R`, `S`, `T`, `Z`, ...), or
    /// `None` when there is no such process, from `/proc/<pid>/stat`. Any
    /// other failure (the node unreachable, say) is an error, never "gone".
    pub async fn process_state(&self, name: &str, pid: u32) -> Result<Option<char>, KindError> {
        Ok(self.proc_stat(name, pid).await?.map(|s| s.state))
    }

    /// What `/proc/<pid>/stat` in the node says of `pid`; `None` when there
    /// is no such process, an error when the node cannot be asked.
    pub async fn proc_stat(&self, name: &str, pid: u32) -> Result<Option<ProcStat>, KindError> {
        let stat = self.read_file(name, &format!("/proc/{pid}/stat")).await?;
        Ok(stat.and_then(|b| parse_stat(&String::from_utf8_lossy(&b))))
    }

    /// Whether `pid` is a live process named `comm` in the node (not a
    /// zombie, not another program that got the PID since).
    pub async fn is_live(&self, name: &str, pid: u32, comm: &str) -> Result<bool, KindError> {
        Ok(self
            .proc_stat(name, pid)
            .await?
            .is_some_and(|s| s.comm == comm && s.is_live()))
    }

    /// `pid` as it is now, to be recognised later ([`DockerNodes::still`]),
    /// and its state letter; `None` when it is gone (or a zombie), or when
    /// its start time cannot be read (then it could not be told from a
    /// process that gets the PID later).
    pub async fn identify(
        &self,
        name: &str,
        pid: u32,
    ) -> Result<Option<(ProcessId, char)>, KindError> {
        Ok(self.proc_stat(name, pid).await?.and_then(|s| {
            let start_time = s.start_time.filter(|_| s.is_live())?;
            Some((
                ProcessId {
                    pid,
                    start_time,
                    name: s.comm,
                },
                s.state,
            ))
        }))
    }

    /// Whether `process` still runs in the node: the same PID, start time
    /// and name. A PID that another process got since is [`Still::Other`],
    /// never the process meant.
    pub async fn still(&self, name: &str, process: &ProcessId) -> Result<Still, KindError> {
        Ok(match self.proc_stat(name, process.pid).await? {
            None => Still::Gone,
            Some(s) if s.comm == process.name && s.start_time == Some(process.start_time) => {
                if s.is_live() {
                    Still::Same { state: s.state }
                } else {
                    Still::Gone
                }
            }
            Some(s) => Still::Other(s),
        })
    }

    /// The contents of `path` in the node, or `None` when it does not exist.
    pub async fn read_file(&self, name: &str, path: &str) -> Result<Option<Vec<u8>>, KindError> {
        Ok(self
            .exec_unless_missing(name, &["cat", path])
            .await?
            .map(|out| out.stdout))
    }

    /// Runs `argv` (which reads a file) in the node: its output, `None` when
    /// it failed because the file does not exist, an error for any other
    /// failure.
    async fn exec_unless_missing(
        &self,
        name: &str,
        argv: &[&str],
    ) -> Result<Option<Output>, KindError> {
        let out = self.exec_output(name, argv, None).await?;
        if out.success() {
            return Ok(Some(out));
        }
        if out.stderr_str().contains("No such file") {
            return Ok(None);
        }
        let cmd = self
            .docker()
            .arg("exec")
            .arg(name)
            .args(argv.iter().copied());
        Err(crate::exec::ExecError::failed(&cmd, &out).into())
    }

    /// The permission bits of `path` in the node in octal (`stat -c %a`,
    /// e.g. `600`), or `None` when it does not exist (and in a dry run).
    pub async fn file_mode(&self, name: &str, path: &str) -> Result<Option<String>, KindError> {
        let out = self
            .exec_unless_missing(name, &["stat", "-c", "%a", path])
            .await?;
        Ok(out
            .map(|o| o.stdout_str().trim().to_string())
            .filter(|m| !m.is_empty()))
    }

    /// Sets the permission bits of `path` in the node (`chmod <mode>`).
    pub async fn chmod(&self, name: &str, mode: &str, path: &str) -> Result<(), KindError> {
        self.exec(name, &["chmod", mode, path]).await?;
        Ok(())
    }

    /// Removes `path` in the node (`rm -f`).
    pub async fn remove_file(&self, name: &str, path: &str) -> Result<(), KindError> {
        self.exec(name, &["rm", "-f", path]).await?;
        Ok(())
    }

    /// Truncates `path` in the node to zero bytes (`truncate -s 0`).
    pub async fn truncate_file(&self, name: &str, path: &str) -> Result<(), KindError> {
        self.exec(name, &["truncate", "-s", "0", path]).await?;
        Ok(())
    }

    /// Writes `bytes` to `path` in the node (`docker exec -i <node> tee <path>`).
    pub async fn write_file(&self, name: &str, path: &str, bytes: &[u8]) -> Result<(), KindError> {
        self.guarded(name).await?;
        let cmd = self
            .docker()
            .args(["exec", "-i", name, "tee", path])
            .stdin(bytes.to_vec());
        self.runner.run(&cmd).await?;
        Ok(())
    }

    /// The entries of directory `path` in the node (`ls -1`); empty when it
    /// does not exist.
    pub async fn list_dir(&self, name: &str, path: &str) -> Result<Vec<String>, KindError> {
        let out = self.exec_output(name, &["ls", "-1", path], None).await?;
        if !out.success() {
            return Ok(Vec::new());
        }
        Ok(non_empty_lines(&out))
    }

    /// Creates network namespace `ns` in the node (`ip netns add`).
    pub async fn netns_add(&self, name: &str, ns: &str) -> Result<(), KindError> {
        self.exec(name, &["ip", "netns", "add", ns]).await?;
        Ok(())
    }

    /// Deletes network namespace `ns` in the node (`ip netns delete`).
    pub async fn netns_delete(&self, name: &str, ns: &str) -> Result<(), KindError> {
        self.exec(name, &["ip", "netns", "delete", ns]).await?;
        Ok(())
    }

    /// The network namespaces in the node (`ip netns list`).
    pub async fn netns_list(&self, name: &str) -> Result<Vec<String>, KindError> {
        let out = self.exec(name, &["ip", "netns", "list"]).await?;
        Ok(out
            .stdout_str()
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect())
    }

    /// Network namespaces in the node that no process uses any more
    /// (`ip netns pids <ns>` prints nothing): what an unclean shutdown leaves.
    pub async fn stale_netns(&self, name: &str) -> Result<Vec<String>, KindError> {
        let mut stale = Vec::new();
        for ns in self.netns_list(name).await? {
            let out = self.exec(name, &["ip", "netns", "pids", &ns]).await?;
            if out.stdout_str().trim().is_empty() {
                stale.push(ns);
            }
        }
        Ok(stale)
    }

    /// Disconnects the node from the cluster network
    /// (`docker network disconnect <network> <name>`).
    pub async fn disconnect(&self, name: &str) -> Result<(), KindError> {
        self.guarded(name).await?;
        let cmd = self
            .docker()
            .args(["network", "disconnect", &self.network, name]);
        self.runner.run(&cmd).await?;
        Ok(())
    }

    /// Reconnects the node to the cluster network with the addresses it
    /// had (`docker network connect --ip <v4> [--ip6 <v6>] <network>
    /// <name>`): a real partition keeps a node's address, a changed one is
    /// an artefact of the harness.
    ///
    /// Docker accepts a fixed address of a family only on a network with a
    /// user-configured subnet of that family (moby
    /// api/types/network/endpoint.go, `IsInRange` and
    /// `validateEndpointIPAddress`, per family: "user specified IP address
    /// is supported only when connecting to networks with user configured
    /// subnets"). kind's `kind` network configures only its IPv6 ULA subnet
    /// and lets IPAM pick IPv4 (kubernetes-sigs/kind
    /// pkg/cluster/internal/providers/docker/network.go, `createNetwork`),
    /// and `docker network inspect` lists the IPAM-picked IPv4 subnet like a
    /// configured one, so which it is can only be learnt by asking. On that
    /// refusal the node is reconnected with `--ip6` alone and IPv4 comes
    /// from IPAM: the lowest free address, its old one unless another
    /// container took it meanwhile. When an old address is taken ("Address
    /// already in use") nothing can bring it back, and the node is
    /// reconnected with IPAM's addresses rather than left partitioned. Both
    /// measured on Docker 20.10 by the system test. The caller compares the
    /// addresses and reports a change; `node-ip-stable` fails on it.
    pub async fn connect(
        &self,
        name: &str,
        ip: Option<&str>,
        ip6: Option<&str>,
    ) -> Result<Reconnected, KindError> {
        self.guarded(name).await?;
        let mut how = Reconnected {
            ip: ip.map(|_| true),
            ip6: ip6.map(|_| true),
            refusals: Vec::new(),
        };
        loop {
            let pin_ip = ip.filter(|_| how.ip == Some(true));
            let pin_ip6 = ip6.filter(|_| how.ip6 == Some(true));
            let cmd = self.connect_cmd(name, pin_ip, pin_ip6);
            if pin_ip.is_none() && pin_ip6.is_none() {
                self.runner.run(&cmd).await?;
                return Ok(how);
            }
            let out = self.runner.output(&cmd).await?;
            if out.success() {
                return Ok(how);
            }
            let stderr = out.stderr_str();
            if pin_ip.is_some() && stderr.contains(FIXED_IP_REFUSED) {
                how.ip = Some(false);
            } else if stderr.contains(ADDRESS_IN_USE) {
                how.ip = how.ip.map(|_| false);
                how.ip6 = how.ip6.map(|_| false);
            } else {
                return Err(ExecError::failed(&cmd, &out).into());
            }
            how.refusals.push(stderr.trim().to_string());
        }
    }

    fn connect_cmd(&self, name: &str, ip: Option<&str>, ip6: Option<&str>) -> Command {
        let mut cmd = self.docker().args(["network", "connect"]);
        if let Some(ip) = ip {
            cmd = cmd.args(["--ip", ip]);
        }
        if let Some(ip6) = ip6 {
            cmd = cmd.args(["--ip6", ip6]);
        }
        cmd.args([self.network.as_str(), name])
    }
}

/// Docker's refusal of a fixed address on a network without a
/// user-configured subnet of its family (moby api/types/network/endpoint.go).
pub const FIXED_IP_REFUSED: &str = "user specified IP address is supported only when connecting to networks with user configured subnets";

/// Docker's refusal of a fixed address another container holds.
pub const ADDRESS_IN_USE: &str = "Address already in use";

/// How [`DockerNodes::connect`] reconnected a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconnected {
    /// Whether the IPv4 address asked for was kept (`--ip`); `None`: none
    /// was asked for.
    pub ip: Option<bool>,
    /// Whether the IPv6 address asked for was kept (`--ip6`); `None`: none
    /// was asked for.
    pub ip6: Option<bool>,
    /// Docker's refusals on the way, in order.
    pub refusals: Vec<String>,
}

impl std::fmt::Display for Reconnected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let family = |pinned: Option<bool>, flag: &str, fam: &str| match pinned {
            Some(true) => Some(format!("{fam} kept with {flag}")),
            Some(false) => Some(format!("{fam} from Docker's IPAM")),
            None => None,
        };
        let parts: Vec<String> = [
            family(self.ip, "--ip", "IPv4"),
            family(self.ip6, "--ip6", "IPv6"),
        ]
        .into_iter()
        .flatten()
        .collect();
        f.write_str(&parts.join(", "))?;
        if !self.refusals.is_empty() {
            write!(f, " (Docker refused: {})", self.refusals.join("; "))?;
        }
        Ok(())
    }
}

/// What `/proc/<pid>/stat` says of a process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// Its name (`comm`, at most 15 bytes).
    pub comm: String,
    /// Its state letter (`R`, `S`, `T`, `Z`, ...).
    pub state: char,
    /// When it started, in clock ticks after boot (field 22,
    /// `starttime`); `None` when the line is cut short.
    pub start_time: Option<u64>,
}

impl ProcStat {
    /// Not a zombie (`Z`) or dead (`X`).
    pub fn is_live(&self) -> bool {
        !matches!(self.state, 'Z' | 'X')
    }
}

/// A process as the harness met it. A PID alone may be reused by another
/// program once the process is gone; PID, start time and name together
/// are not.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProcessId {
    /// Its PID in the node.
    pub pid: u32,
    /// Its `starttime` (clock ticks after boot).
    pub start_time: u64,
    /// Its name (`comm`).
    pub name: String,
}

impl std::fmt::Display for ProcessId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} PID {} (started at tick {})",
            self.name, self.pid, self.start_time
        )
    }
}

/// What became of a [`ProcessId`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Still {
    /// It still runs, in this state.
    Same {
        /// Its state letter.
        state: char,
    },
    /// It is gone (or a zombie).
    Gone,
    /// Its PID belongs to another process now.
    Other(ProcStat),
}

/// The command name, state letter and start time of a `/proc/<pid>/stat`
/// line (`pid (comm) S ppid ...`; comm may hold spaces and parentheses).
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?;
    let mut fields = text[close + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Fields 4 to 21 come between the state (3) and starttime (22).
    let start_time = fields.nth(18).and_then(|f| f.parse().ok());
    Some(ProcStat {
        comm: comm.to_string(),
        state,
        start_time,
    })
}

/// The non-empty lines of a command's stdout, trimmed.
pub fn non_empty_lines(out: &Output) -> Vec<String> {
    out.stdout_str()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspected {
    #[serde(default)]
    id: String,
    name: String,
    state: InspectedState,
    config: InspectedConfig,
    network_settings: InspectedNetworkSettings,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectedState {
    running: bool,
    pid: u32,
    started_at: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectedConfig {
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectedNetworkSettings {
    networks: Option<BTreeMap<String, InspectedNetwork>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InspectedNetwork {
    #[serde(rename = "IPAddress", default)]
    ip_address: String,
    #[serde(rename = "GlobalIPv6Address", default)]
    global_ipv6_address: String,
}

/// Parses `docker inspect` JSON (an array with one container).
pub fn parse_inspect(command: &str, text: &str) -> Result<NodeState, KindError> {
    let parsed: Vec<Inspected> =
        serde_json::from_str(text).map_err(|e| KindError::parse(command, e.to_string(), text))?;
    let Some(c) = parsed.into_iter().next() else {
        return Err(KindError::parse(
            command,
            "no container in the output",
            text,
        ));
    };
    let attached = c.network_settings.networks.unwrap_or_default();
    Ok(NodeState {
        id: c.id,
        name: c.name.trim_start_matches('/').to_string(),
        running: c.state.running,
        started_at: c.state.started_at,
        pid: c.state.pid,
        labels: c.config.labels.unwrap_or_default(),
        networks_v6: attached
            .iter()
            .filter(|(_, v)| !v.global_ipv6_address.is_empty())
            .map(|(k, v)| (k.clone(), v.global_ipv6_address.clone()))
            .collect(),
        networks: attached
            .into_iter()
            .map(|(k, v)| (k, v.ip_address))
            .collect(),
    })
}

/// `docker inspect` JSON for a container, for contract tests and fixtures.
pub fn inspect_json(
    name: &str,
    cluster_label: Option<&str>,
    role: &str,
    started_at: &str,
    networks: &[(&str, &str)],
) -> String {
    let mut labels = serde_json::Map::new();
    if let Some(c) = cluster_label {
        labels.insert(CLUSTER_LABEL.into(), c.into());
        labels.insert(ROLE_LABEL.into(), role.into());
    }
    let nets: serde_json::Map<String, serde_json::Value> = networks
        .iter()
        .map(|(n, ip)| ((*n).to_string(), serde_json::json!({ "IPAddress": ip })))
        .collect();
    serde_json::json!([{
        "Name": format!("/{name}"),
        "State": { "Running": true, "Pid": 4242, "StartedAt": started_at },
        "Config": { "Labels": labels },
        "NetworkSettings": { "Networks": nets },
    }])
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines() {
        let short = parse_stat("812 (ovs-vswitchd) S 1 812 812 0 -1\n").unwrap();
        assert_eq!((short.comm.as_str(), short.state), ("ovs-vswitchd", 'S'));
        assert_eq!(short.start_time, None, "cut short before starttime");
        let odd = parse_stat("9 (a (b) c) Z 1").unwrap();
        assert_eq!((odd.comm.as_str(), odd.state), ("a (b) c", 'Z'));
        assert!(!odd.is_live());
        assert_eq!(parse_stat("garbage"), None);
        // A whole line (Linux 6.x, proc_pid_stat(5)): starttime is field 22.
        let full = parse_stat(
            "977 (multus-shim) T 1 977 977 0 -1 4194560 120 0 0 0 1 0 0 0 20 0 5 0 123456 1253376 310 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
        )
        .unwrap();
        assert_eq!(
            full,
            ProcStat {
                comm: "multus-shim".into(),
                state: 'T',
                start_time: Some(123_456),
            }
        );
    }

    #[test]
    fn inspect_round_trip() {
        let text = inspect_json(
            "chaos-a-worker",
            Some("chaos-a"),
            "worker",
            "2026-01-01T00:00:00.1Z",
            &[("kind", "172.18.0.3")],
        );
        let s = parse_inspect("docker inspect", &text).unwrap();
        assert_eq!(s.name, "chaos-a-worker");
        assert_eq!(s.role(), Some(NodeRole::Worker));
        assert_eq!(s.networks["kind"], "172.18.0.3");
        assert_eq!(s.started_at, "2026-01-01T00:00:00.1Z");
        assert!(s.running);
    }

    #[test]
    fn inspect_errors_carry_the_command_and_output() {
        let e = parse_inspect("docker inspect x", "[]")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("docker inspect x") && e.contains("no container"),
            "{e}"
        );
        let e = parse_inspect("docker inspect x", "garbage")
            .unwrap_err()
            .to_string();
        assert!(e.contains("garbage"), "{e}");
    }
}
