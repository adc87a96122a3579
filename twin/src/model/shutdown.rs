//! Stopping a node container: the orderly systemd shutdown of `docker
//! stop|restart -t <timeout>`, and the crash of `docker kill`.

use super::error::ModelError;
use super::rng::Ms;
use super::world::{Ev, World};

/// `docker restart` / `docker stop` default timeout as the harness's
/// node-reboot fault and the kind backend use it (`-t 30`).
pub const STOP_TIMEOUT: Ms = 30_000;

impl World {
    /// Rule `graceful-stop-is-an-orderly-shutdown`: `docker stop|restart -t T` of a kind node sends its systemd SIGRTMIN+3; systemd stops every unit, the kubelet restarts nothing, every process gets SIGTERM followed by SIGCONT and runs its own clean exit; what has not exited after T is killed, then the container stops.
    /// Source: kubernetes-sigs/kind@v0.31.0:images/base/Dockerfile (STOPSIGNAL SIGRTMIN+3)
    /// Source: kubernetes-sigs/kind@v0.31.0:images/base/files/etc/containerd/config.toml (SystemdCgroup = true: pod processes live in systemd scopes)
    /// Source: kubernetes-sigs/kind@v0.31.0:images/base/files/etc/systemd/system/kubelet.service (KillMode=process; no shutdownGracePeriod, so the kubelet's node shutdown manager is off)
    /// Source: systemd/systemd@v257:man/systemd.kill.xml (SendSIGCONT= after KillSignal=, default yes)
    /// Source: FACTS.md (kind node facts: measured with a Debian systemd node image)
    /// Pinned by: harness/tests/node_systemd.rs::graceful_reboot_delivers_sigterm_and_the_daemon_removes_its_config
    /// Pinned by: harness/tests/node_systemd.rs::graceful_shutdown_wakes_a_frozen_daemon_and_it_cleans_up
    ///
    /// `restart` starts the container again once it is down. The
    /// per-program effects are in `programs.rs` ([`World::on_sigterm`]).
    pub fn halt_node(&mut self, name: &str, timeout: Ms, restart: bool) -> Result<(), ModelError> {
        let n = self.stoppable_node(name, if restart { "restart" } else { "stop" })?;
        let node = self.nodes[n].name.clone();
        self.note(format!(
            "fault: graceful {} of node {node} (timeout {} s): systemd shuts down",
            if restart { "restart" } else { "stop" },
            timeout / 1000
        ));
        if restart {
            self.reassign_ip(n);
        }
        let boot = self.nodes[n].boot;
        self.nodes[n].power = super::node::Power::Halting(super::node::Halt {
            deadline: self.now + timeout,
            restart,
        });
        self.nodes[n].kubelet_up = false;
        // Every process at once, in PID order (deterministic): SIGTERM, then
        // SIGCONT, so a frozen one runs its handler too.
        let pids: Vec<u32> = self.nodes[n].procs.keys().copied().collect();
        let mut ignored = Vec::new();
        for pid in pids {
            if let Some(p) = self.nodes[n].procs.get_mut(&pid) {
                p.stopped = false;
            }
            match self.on_sigterm(n, pid) {
                Some(d) => self.after(d, Ev::ProcExit { n, boot, pid }),
                None => ignored.push(pid),
            }
        }
        if !ignored.is_empty() {
            self.note(format!(
                "node {node}: pids {ignored:?} ignore SIGTERM; they are killed at the stop timeout"
            ));
        }
        self.after(timeout, Ev::StopTimeout { n, boot });
        self.halt_if_idle(n);
        self.flush();
        Ok(())
    }

    /// A process that got the shutdown's SIGTERM finished its exit: its
    /// clean-exit effects happen now (see [`World::clean_exit`]).
    pub(super) fn proc_exit(&mut self, n: usize, boot: u32, pid: u32) {
        let node = &self.nodes[n];
        if node.boot != boot || node.halting().is_none() {
            return;
        }
        let Some(p) = self.nodes[n].procs.remove(&pid) else {
            return;
        };
        if let super::node::Owner::Container(k, i, _) = p.owner
            && self
                .pods
                .get(&k)
                .is_some_and(|pd| pd.ctrs[i].pid == Some(pid))
        {
            self.clean_exit(k, i, n);
        }
        self.halt_if_idle(n);
    }

    /// When the last process has exited, systemd finishes (unmounts,
    /// `systemd-shutdown`) and the container stops.
    fn halt_if_idle(&mut self, n: usize) {
        if self.nodes[n].procs.is_empty() {
            let boot = self.nodes[n].boot;
            let d = self.rng.range(100, 400);
            self.after(d, Ev::NodeStopped { n, boot });
        }
    }

    /// The shutdown is over (everything exited, or Docker's stop timeout
    /// ran out and it kills the rest): the container stops, and starts
    /// again for a restart.
    pub(super) fn halted(&mut self, n: usize, boot: u32) {
        let node = &self.nodes[n];
        let Some(halt) = node.halting().filter(|_| node.boot == boot) else {
            return;
        };
        if !self.nodes[n].procs.is_empty() {
            let name = self.nodes[n].name.clone();
            let left: Vec<String> = self.nodes[n]
                .procs
                .values()
                .map(|p| format!("{} ({})", p.comm, p.pid))
                .collect();
            self.note(format!(
                "node {name}: stop timeout: docker kills {}",
                left.join(", ")
            ));
        }
        self.power_off(n);
        if halt.restart {
            let d = self.rng.range(300, 1000);
            self.after(d, Ev::NodeStart { n });
        }
    }

    /// `docker kill --signal KILL`, then `docker start` (`restart`) or not.
    /// Rule `hard-stop-kills-without-cleanup`: `docker kill --signal KILL` of a kind node kills every process at once; no program runs its clean exit, so files they would remove (`00-multus.conf`) stay on disk.
    /// Source: FACTS.md (kind node facts: after docker kill --signal KILL + docker start the file stayed)
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/server/config/manager.go (Start: the removal runs only in the config manager's goroutine after a cancel)
    /// Pinned by: harness/tests/node_systemd.rs::hard_reboot_keeps_the_config
    /// Pinned by: harness/tests/kind_system.rs::node_reboot_graceful_and_hard_wipe_run_and_keep_cni
    pub fn kill_node(&mut self, name: &str, restart: bool) -> Result<(), ModelError> {
        // A node that is shutting down can still be killed.
        let n = self.node_index(name)?;
        if !self.nodes[n].up() {
            return Err(ModelError::NodeDown {
                node: self.nodes[n].name.clone(),
                op: if restart { "restart" } else { "stop" }.to_string(),
            });
        }
        let node = self.nodes[n].name.clone();
        self.note(format!(
            "fault: hard {} of node {node}",
            if restart { "restart" } else { "stop" }
        ));
        if restart {
            self.reassign_ip(n);
        }
        self.power_off(n);
        if restart {
            let d = self.rng.range(200, 800);
            self.after(d, Ev::NodeStart { n });
        }
        self.flush();
        Ok(())
    }

    /// `docker restart -t 30` (graceful: [`World::halt_node`] with
    /// [`STOP_TIMEOUT`]) or `docker kill` + `docker start` (hard:
    /// [`World::kill_node`]). With the configured probability the node
    /// comes back with a new IP.
    pub fn restart_node(&mut self, name: &str, graceful: bool) -> Result<(), ModelError> {
        if graceful {
            self.halt_node(name, STOP_TIMEOUT, true)
        } else {
            self.kill_node(name, true)
        }
    }

    /// `docker stop -t 30` (graceful) or `docker kill --signal KILL`
    /// (hard); the node stays down until [`World::start_node`].
    pub fn stop_node(&mut self, name: &str, graceful: bool) -> Result<(), ModelError> {
        if graceful {
            self.halt_node(name, STOP_TIMEOUT, false)
        } else {
            self.kill_node(name, false)
        }
    }

    /// `docker start`. Docker may hand the container another address then
    /// (see [`World::reassign_ip`]).
    pub fn start_node(&mut self, name: &str) -> Result<(), ModelError> {
        let n = self.node_index(name)?;
        if !self.nodes[n].up() {
            self.reassign_ip(n);
            let d = self.rng.range(200, 800);
            self.after(d, Ev::NodeStart { n });
        }
        Ok(())
    }

    /// A running node that is not already shutting down.
    fn stoppable_node(&self, name: &str, op: &str) -> Result<usize, ModelError> {
        let n = self.node_index(name)?;
        if !self.nodes[n].active() {
            return Err(ModelError::NodeDown {
                node: self.nodes[n].name.clone(),
                op: op.to_string(),
            });
        }
        Ok(n)
    }
}
