//! Node-level operations: how faults enter the model. They are the
//! operations the kind backend performs on node containers (`docker
//! restart|kill|start`, `docker exec ... kill|ip netns|rm|truncate|
//! ovs-vsctl`, `docker network disconnect|connect`), so a fault means the
//! same thing on both backends.

use super::error::ModelError;
use super::node::{File, Owner, SHIM};
use super::world::{Ev, World};

/// A signal sent to processes by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGKILL.
    Kill,
    /// SIGSTOP.
    Stop,
    /// SIGCONT.
    Cont,
}

/// A process as `ps` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// PID.
    pub pid: u32,
    /// Command name.
    pub comm: String,
    /// Stopped (state T).
    pub stopped: bool,
    /// When it started (virtual ms): with the PID and name, what tells it
    /// from a process that gets the PID later.
    pub started: u64,
}

/// A node container as `docker inspect` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// Control plane or worker.
    pub control_plane: bool,
    /// Running.
    pub up: bool,
    /// Container start time (virtual ms).
    pub started_at: u64,
    /// Boot count.
    pub boot: u32,
    /// Current IP.
    pub ip: String,
    /// Attached to the network.
    pub connected: bool,
}

impl World {
    /// Resolves a node by name or kind suffix (`worker`, `worker2`).
    pub fn node_index(&self, name: &str) -> Result<usize, ModelError> {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .or_else(|| {
                self.nodes
                    .iter()
                    .position(|n| n.name.ends_with(&format!("-{name}")))
            })
            .ok_or_else(|| ModelError::NoSuchNode {
                node: name.to_string(),
                available: self
                    .nodes
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    fn up_node(&self, name: &str, op: &str) -> Result<usize, ModelError> {
        let n = self.node_index(name)?;
        if !self.nodes[n].up() {
            return Err(ModelError::NodeDown {
                node: self.nodes[n].name.clone(),
                op: op.to_string(),
            });
        }
        Ok(n)
    }

    /// Every node container.
    pub fn node_infos(&self) -> Vec<NodeInfo> {
        self.nodes
            .iter()
            .map(|n| NodeInfo {
                name: n.name.clone(),
                control_plane: n.role == super::node::Role::ControlPlane,
                up: n.up(),
                started_at: n.started_at,
                boot: n.boot,
                ip: n.ip.clone(),
                connected: n.connected,
            })
            .collect()
    }

    /// Rule `ovs-daemon-killed-by-sigkill-stays-dead`: OVS's `--monitor` restarts a daemon only after a crash signal (SIGSEGV, SIGABRT, ...), not after SIGKILL, so a killed ovs-vswitchd or ovsdb-server stays down until the liveness probe restarts the ovs-ovn container.
    /// Source: openvswitch/ovs@v3.3.0:lib/daemon-unix.c (monitor_daemon: should_restart)
    /// Pinned by: harness/tests/kind_system.rs::ovs_vswitchd_kill_breaks_forwarding_until_restarted
    ///
    /// `pkill -<SIG> -x <comm>` inside the node; returns the PIDs signalled.
    /// Killing a container's main process ends the container (exit 137);
    /// killing a child (ovs-vswitchd) leaves the container running.
    pub fn signal(&mut self, name: &str, comm: &str, sig: Signal) -> Result<Vec<u32>, ModelError> {
        let n = self.up_node(name, "signal a process")?;
        let pids = self.nodes[n].pids_of(comm);
        if pids.is_empty() {
            return Err(ModelError::NoSuchProcess {
                node: self.nodes[n].name.clone(),
                comm: comm.to_string(),
            });
        }
        let node = self.nodes[n].name.clone();
        self.note(format!("fault: {sig:?} {comm} pids {pids:?} on {node}"));
        self.deliver(n, &pids, sig);
        Ok(pids)
    }

    /// `kill -<SIG> <pid>...` inside the node, for processes a fault started
    /// or froze itself; returns the PIDs that were still there (a process
    /// that is gone, e.g. after a restart of the node, is skipped, as `kill`
    /// would fail for it and nothing else).
    pub fn signal_pids(
        &mut self,
        name: &str,
        pids: &[u32],
        sig: Signal,
    ) -> Result<Vec<u32>, ModelError> {
        let n = self.up_node(name, "signal a process")?;
        let live: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|p| self.nodes[n].procs.contains_key(p))
            .collect();
        if !live.is_empty() {
            let node = self.nodes[n].name.clone();
            self.note(format!("fault: {sig:?} pids {live:?} on {node}"));
            self.deliver(n, &live, sig);
        }
        Ok(live)
    }

    fn deliver(&mut self, n: usize, pids: &[u32], sig: Signal) {
        for &pid in pids {
            let Some(p) = self.nodes[n].procs.get_mut(&pid) else {
                continue;
            };
            match sig {
                Signal::Stop => p.stopped = true,
                Signal::Cont => p.stopped = false,
                Signal::Kill => {
                    let owner = p.owner;
                    self.nodes[n].procs.remove(&pid);
                    if let Owner::Container(k, i, _) = owner {
                        let main = self
                            .pods
                            .get(&k)
                            .is_some_and(|pd| pd.ctrs[i].pid == Some(pid));
                        if main {
                            self.container_exited(k, i, 137, "Error");
                        }
                    }
                }
            }
        }
        self.flush();
    }

    /// Live processes on a node.
    pub fn processes(&self, name: &str) -> Result<Vec<ProcessInfo>, ModelError> {
        let n = self.node_index(name)?;
        Ok(self.nodes[n]
            .procs
            .values()
            .map(|p| ProcessInfo {
                pid: p.pid,
                comm: p.comm.clone(),
                stopped: p.stopped,
                started: p.started,
            })
            .collect())
    }

    /// A file on a node.
    pub fn file(&self, name: &str, path: &str) -> Result<Option<File>, ModelError> {
        let n = self.node_index(name)?;
        Ok(self.nodes[n].fs.get(path).cloned())
    }

    /// The files under `dir` with their content and mode, whether the node
    /// runs or is down (what `docker cp` reads out of a stopped container;
    /// `/run` is empty while the node is down).
    pub fn node_files(
        &self,
        name: &str,
        dir: &str,
    ) -> Result<Vec<(String, String, u32)>, ModelError> {
        let n = self.node_index(name)?;
        let dir = format!("{}/", dir.trim_end_matches('/'));
        Ok(self.nodes[n]
            .fs
            .range(dir.clone()..)
            .take_while(|(p, _)| p.starts_with(&dir))
            .map(|(p, f)| (p.clone(), f.content.clone(), f.mode))
            .collect())
    }

    /// Files under a directory.
    pub fn list_dir(&self, name: &str, dir: &str) -> Result<Vec<String>, ModelError> {
        let n = self.node_index(name)?;
        let dir = if dir.ends_with('/') {
            dir.to_string()
        } else {
            format!("{dir}/")
        };
        Ok(self.nodes[n]
            .fs
            .keys()
            .filter(|k| k.starts_with(&dir))
            .cloned()
            .collect())
    }

    /// `rm -f <path>`: running processes keep the inode.
    pub fn remove_file(&mut self, name: &str, path: &str) -> Result<File, ModelError> {
        let n = self.up_node(name, "remove a file")?;
        let f = self.nodes[n]
            .remove(path)
            .ok_or_else(|| ModelError::NoSuchFile {
                node: self.nodes[n].name.clone(),
                path: path.to_string(),
            })?;
        let node = self.nodes[n].name.clone();
        self.note(format!("fault: rm {path} on {node}"));
        self.flush();
        Ok(f)
    }

    /// `truncate -s 0 <path>` (same inode and mode).
    pub fn truncate_file(&mut self, name: &str, path: &str) -> Result<(), ModelError> {
        let n = self.up_node(name, "truncate a file")?;
        let node = self.nodes[n].name.clone();
        let f = self.nodes[n]
            .fs
            .get_mut(path)
            .ok_or_else(|| ModelError::NoSuchFile {
                node: node.clone(),
                path: path.to_string(),
            })?;
        f.content.clear();
        self.note(format!("fault: truncate {path} on {node}"));
        Ok(())
    }

    /// Writes a file (in place).
    pub fn write_file(
        &mut self,
        name: &str,
        path: &str,
        content: &str,
        mode: u32,
    ) -> Result<(), ModelError> {
        if !path.starts_with('/') {
            return Err(ModelError::Invalid {
                what: "path".into(),
                why: format!("{path:?} is not absolute"),
            });
        }
        let n = self.up_node(name, "write a file")?;
        let mut ino = self.inode;
        self.nodes[n].write(path, content, mode, &mut ino);
        self.inode = ino;
        let node = self.nodes[n].name.clone();
        self.note(format!(
            "fault: write {path} ({} bytes, mode {mode:o}) on {node}",
            content.len()
        ));
        Ok(())
    }

    /// Network namespaces under `/run/netns` (`ip netns list`).
    pub fn netns(&self, name: &str) -> Result<Vec<String>, ModelError> {
        let n = self.node_index(name)?;
        Ok(self.nodes[n].netns())
    }

    /// `ip netns add <name>`.
    pub fn create_netns(&mut self, name: &str, netns: &str) -> Result<(), ModelError> {
        if netns.is_empty() || netns.contains('/') {
            return Err(ModelError::Invalid {
                what: "netns name".into(),
                why: format!("{netns:?}"),
            });
        }
        self.write_file(name, &format!("/run/netns/{netns}"), "", 0o444)
    }

    /// `ip netns delete <name>`.
    pub fn delete_netns(&mut self, name: &str, netns: &str) -> Result<(), ModelError> {
        self.remove_file(name, &format!("/run/netns/{netns}"))
            .map(|_| ())
    }

    /// `ovs-vsctl add-port br-int <port>` with `external_ids:pod_netns` set
    /// to `netns` (which may not exist: a stale port). The OVS database is
    /// on the node's persistent disk.
    pub fn add_ovs_port(
        &mut self,
        name: &str,
        port: &str,
        netns: Option<&str>,
    ) -> Result<(), ModelError> {
        let n = self.up_node(name, "add an OVS port")?;
        self.nodes[n]
            .ovs_ports
            .insert(port.to_string(), netns.map(str::to_string));
        let node = self.nodes[n].name.clone();
        self.note(format!("fault: ovs-vsctl add-port br-int {port} on {node}"));
        Ok(())
    }

    /// `ovs-vsctl --if-exists del-port br-int <port>`; whether it was there.
    pub fn remove_ovs_port(&mut self, name: &str, port: &str) -> Result<bool, ModelError> {
        let n = self.up_node(name, "remove an OVS port")?;
        let was = self.nodes[n].ovs_ports.remove(port).is_some();
        if was {
            let node = self.nodes[n].name.clone();
            self.note(format!("fault: ovs-vsctl del-port br-int {port} on {node}"));
        }
        Ok(was)
    }

    /// OVS ports on br-int with their netns.
    pub fn ovs_ports(&self, name: &str) -> Result<Vec<(String, Option<String>)>, ModelError> {
        let n = self.node_index(name)?;
        Ok(self.nodes[n]
            .ovs_ports
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    /// `docker network disconnect`: the kubelet cannot reach the API (no
    /// status, no events), pods on the node cannot reach other nodes.
    pub fn disconnect(&mut self, name: &str) -> Result<(), ModelError> {
        let n = self.node_index(name)?;
        self.nodes[n].connected = false;
        let node = self.nodes[n].name.clone();
        self.note(format!("fault: disconnect {node}"));
        Ok(())
    }

    /// `docker network connect`: the kubelet posts its status again.
    pub fn reconnect(&mut self, name: &str) -> Result<(), ModelError> {
        let n = self.node_index(name)?;
        self.nodes[n].connected = true;
        let node = self.nodes[n].name.clone();
        self.note(format!("fault: reconnect {node}"));
        let keys: Vec<u64> = self.pods_on[n].iter().copied().collect();
        self.dirty_pods.extend(keys);
        if self.nodes[n].kubelet_up {
            let boot = self.nodes[n].boot;
            let d = self.rng.range(100, 1_000);
            self.after(d, Ev::Heartbeat { n, boot });
        }
        self.flush();
        Ok(())
    }

    /// `docker exec <node> /opt/cni/bin/multus-shim` (a CNI ADD): like the
    /// runtime's shims it holds the binary open while it waits for the
    /// daemon, and exits when the daemon answers or after
    /// [`super::SHIM_API_READY_TIMEOUT`] (the busy shim of #1221). It stays
    /// busy only while the daemon is not serving.
    pub fn exec_shim(&mut self, name: &str) -> Result<u32, ModelError> {
        let n = self.up_node(name, "run multus-shim")?;
        let exe =
            self.nodes[n]
                .fs
                .get(SHIM)
                .map(|f| f.inode)
                .ok_or_else(|| ModelError::NoSuchFile {
                    node: self.nodes[n].name.clone(),
                    path: SHIM.into(),
                })?;
        let pid = self.nodes[n].spawn("multus-shim", Some(exe), Owner::Exec, self.now);
        let node = self.nodes[n].name.clone();
        self.note(format!(
            "fault: multus-shim pid {pid} started by hand on {node}"
        ));
        let (boot, since) = (self.nodes[n].boot, self.now);
        self.exec_shim_poll(n, boot, pid, since);
        Ok(pid)
    }

    /// Rule `a-frozen-process-keeps-its-binary-busy`: a SIGSTOPped process makes no progress (no poll, no timeout of its own) and keeps the executable it runs open, so writing over that file fails with ETXTBSY ("Text file busy") until the process is killed or continued.
    /// Source: torvalds/linux@v6.1:kernel/signal.c (SIGSTOP stops the task until SIGCONT or SIGKILL)
    /// Source: torvalds/linux@v6.1:fs/open.c (do_dentry_open: get_write_access fails with ETXTBSY while exec holds deny_write_access)
    /// Pinned by: harness/tests/kind_system.rs::frozen_busy_shim_holds_the_binary_until_undone
    ///
    /// One poll of a hand-started shim (see [`World::exec_shim`]). A frozen
    /// shim makes no progress: it neither sees the daemon answer nor gives
    /// up, and keeps its binary busy until it is killed or continued.
    pub(super) fn exec_shim_poll(&mut self, n: usize, boot: u32, pid: u32, since: u64) {
        let Some(proc) = self.nodes[n]
            .proc(pid)
            .filter(|_| self.nodes[n].boot == boot)
        else {
            return;
        };
        let serving = !proc.stopped && self.multus_serving(n);
        let gave_up =
            !proc.stopped && self.now.saturating_sub(since) >= super::SHIM_API_READY_TIMEOUT;
        if serving || gave_up {
            self.nodes[n].procs.remove(&pid);
            let node = self.nodes[n].name.clone();
            self.note(format!(
                "node {node}: multus-shim pid {pid} (started by hand) exited: {}",
                if serving {
                    "the daemon answered"
                } else {
                    "CmdAdd (shim): timed out waiting for the condition"
                }
            ));
            return;
        }
        self.after(
            super::SHIM_POLL,
            Ev::ExecShimPoll {
                n,
                boot,
                pid,
                since,
            },
        );
    }

    /// Deletes a pod as the API does for a graceful delete (for pure model
    /// tests; through the API the store does this and the driver tells the
    /// model).
    pub fn delete_pod(&mut self, namespace: &str, name: &str) -> Result<(), ModelError> {
        if self.api_delete_pod(namespace, name) {
            self.flush();
            Ok(())
        } else {
            Err(ModelError::NoSuchPod {
                namespace: namespace.into(),
                name: name.into(),
            })
        }
    }

    /// Pod names in a namespace with a label, and their node.
    pub fn pods_with_label(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
    ) -> Vec<(String, Option<String>)> {
        self.pods
            .values()
            .filter(|p| {
                p.namespace == namespace
                    && p.template.labels.get(key).map(String::as_str) == Some(value)
            })
            .map(|p| (p.name.clone(), p.node.map(|n| self.nodes[n].name.clone())))
            .collect()
    }
}
