//! A kind node container: its filesystem (persistent part and the tmpfs
//! `/run`), its process table, its OVS port table and its InternalIP.

use std::collections::BTreeMap;

use super::rng::Ms;

/// Rule `tmpfs-run-wiped-on-restart`: a kind node runs with `--tmpfs /run --tmpfs /tmp`, so a stop or restart of its container empties them (sockets, `/run/netns`, the Multus socket) and keeps `/etc/cni/net.d`, `/opt/cni/bin` and the OVS database on its disk.
/// Source: kubernetes-sigs/kind@v0.31.0:pkg/cluster/internal/providers/docker/provision.go (--tmpfs /tmp, --tmpfs /run)
/// Pinned by: harness/tests/kind_system.rs::node_reboot_graceful_and_hard_wipe_run_and_keep_cni
///
/// Paths that live on a tmpfs in a kind node: a container restart empties
/// them.
pub const TMPFS: [&str; 2] = ["/run/", "/tmp/"];

/// The CNI config directory.
pub const CNI_DIR: &str = "/etc/cni/net.d/";
/// The CNI plugin directory.
pub const CNI_BIN: &str = "/opt/cni/bin/";
/// The Multus shim binary.
pub const SHIM: &str = "/opt/cni/bin/multus-shim";
/// The Multus daemon socket (`socketDir: /host/run/multus/` in the thick
/// manifest's daemon config).
pub const MULTUS_SOCK: &str = "/run/multus/multus.sock";
/// Multus' generated config.
pub const MULTUS_CONF: &str = "/etc/cni/net.d/00-multus.conf";
/// ovsdb-server's socket.
pub const OVSDB_SOCK: &str = "/run/openvswitch/db.sock";
/// kube-ovn-cni's cni-server socket (`--bind-socket` default).
pub const CNI_SERVER_SOCK: &str = "/run/openvswitch/kube-ovn-daemon.sock";

/// A kind node role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// The control plane (`<cluster>-control-plane`).
    ControlPlane,
    /// A worker (`<cluster>-worker`, `<cluster>-worker2`, ...).
    Worker,
}

/// One file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct File {
    /// Inode number: processes executing a file hold its inode, so an
    /// unlinked-and-recreated path is a different file.
    pub inode: u64,
    /// Permission bits, e.g. `0o600`.
    pub mode: u32,
    /// Contents (config files) or a tag (binaries).
    pub content: String,
}

/// Who a process belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// A container's main process or a child it started: (pod key,
    /// container index, run number).
    Container(u64, usize, u32),
    /// A CNI plugin the runtime executes for a pod sandbox (pod key, attempt).
    Cni(u64, u32),
    /// Started by a fault (`docker exec`).
    Exec,
}

/// One process in the node's PID namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// PID.
    pub pid: u32,
    /// Command name (`comm`), what `pkill`/`pidof` match.
    pub comm: String,
    /// The inode of the executable it runs, when it runs a file the model
    /// tracks (this is what makes a binary "busy").
    pub exe: Option<u64>,
    /// Stopped by SIGSTOP.
    pub stopped: bool,
    /// Who started it.
    pub owner: Owner,
    /// When it started.
    pub started: Ms,
}

/// Whether the node container runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Power {
    /// Stopped (or never started).
    Off,
    /// Running.
    On,
    /// Running, but its systemd is shutting down.
    Halting(Halt),
}

/// An orderly shutdown under way: the node's systemd is halting
/// (`docker stop -t <timeout>` / `docker restart -t <timeout>` sent it
/// `SIGRTMIN+3`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Halt {
    /// When Docker's stop timeout runs out and it kills what is left.
    pub deadline: Ms,
    /// Start the container again once it is down (`docker restart`).
    pub restart: bool,
}

/// A kind node container.
#[derive(Clone, Debug)]
pub struct Node {
    /// Name (`<cluster>-worker`).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Current InternalIP (Docker may hand out a new one on restart, kind
    /// #2045 and #148).
    pub ip: String,
    /// Whether the container runs, and whether it is shutting down.
    pub power: Power,
    /// The kubelet is running.
    pub kubelet_up: bool,
    /// Attached to the Docker network.
    pub connected: bool,
    /// Incremented on every container start; events of an older boot are
    /// dropped.
    pub boot: u32,
    /// When the container last started.
    pub started_at: Ms,
    /// Files by absolute path.
    pub fs: BTreeMap<String, File>,
    /// Processes by PID.
    pub procs: BTreeMap<u32, Process>,
    next_pid: u32,
    /// Rule `ovs-database-survives-a-restart`: ovs-ovn keeps the OVS database in the node's `/etc/origin/openvswitch`, on its persistent disk, so OVS ports (stale ones too) survive a restart.
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/install.sh (ovs-ovn volume host-config-openvswitch: hostPath /etc/origin/openvswitch)
    /// Pinned by: harness/tests/kind_system.rs::stale_netns_and_ports_are_injected_detected_and_cleaned
    ///
    /// OVS ports on br-int with the netns they belong to.
    pub ovs_ports: BTreeMap<String, Option<String>>,
    /// The node is cordoned.
    pub unschedulable: bool,
    /// The last heartbeat the API received.
    pub last_heartbeat: Ms,
    /// The Ready condition as the API shows it: Some(true/false), or None
    /// for Unknown (node controller).
    pub api_ready: Option<bool>,
    /// Why Ready is not True, for the condition's message.
    pub not_ready_message: String,
    /// When Ready last changed.
    pub ready_since: Ms,
}

impl Node {
    /// A stopped node with an empty filesystem.
    pub fn new(name: String, role: Role, ip: String) -> Self {
        Node {
            name,
            role,
            ip,
            power: Power::Off,
            kubelet_up: false,
            connected: true,
            boot: 0,
            started_at: 0,
            fs: BTreeMap::new(),
            procs: BTreeMap::new(),
            next_pid: 1,
            ovs_ports: BTreeMap::new(),
            unschedulable: false,
            last_heartbeat: 0,
            api_ready: None,
            not_ready_message: "kubelet has not posted status".into(),
            ready_since: 0,
        }
    }

    /// Writes `content` to `path` in place (same inode when it exists).
    pub fn write(&mut self, path: &str, content: &str, mode: u32, inode: &mut u64) {
        match self.fs.get_mut(path) {
            Some(f) => {
                f.content = content.to_string();
                f.mode = mode;
            }
            None => self.write_atomic(path, content, mode, inode),
        }
    }

    /// Writes through a temporary file and a rename: always a new inode.
    pub fn write_atomic(&mut self, path: &str, content: &str, mode: u32, inode: &mut u64) {
        *inode += 1;
        self.fs.insert(
            path.to_string(),
            File {
                inode: *inode,
                mode,
                content: content.to_string(),
            },
        );
    }

    /// Removes a file; running processes keep its inode.
    pub fn remove(&mut self, path: &str) -> Option<File> {
        self.fs.remove(path)
    }

    /// Rule `running-binary-is-busy`: opening a file for writing while a process executes it fails with `ETXTBSY` ("Text file busy"); an unlinked or renamed-over path is a new inode and is not busy.
    /// Source: FACTS.md (root cause as upstream understands it, #1221 points 2-3)
    /// Pinned by: harness/tests/kind_system.rs::a_busy_multus_shim_makes_a_plain_cp_fail_and_an_atomic_install_succeed
    ///
    /// Whether some live process executes the file at `path` (what makes an
    /// `open(O_TRUNC|O_WRONLY)` fail with ETXTBSY).
    pub fn busy(&self, path: &str) -> Vec<u32> {
        let Some(f) = self.fs.get(path) else {
            return Vec::new();
        };
        self.procs
            .values()
            .filter(|p| p.exe == Some(f.inode))
            .map(|p| p.pid)
            .collect()
    }

    /// Starts a process and returns its PID.
    pub fn spawn(&mut self, comm: &str, exe: Option<u64>, owner: Owner, now: Ms) -> u32 {
        let pid = self.next_pid;
        self.next_pid += 1 + (pid % 7);
        self.procs.insert(
            pid,
            Process {
                pid,
                comm: comm.to_string(),
                exe,
                stopped: false,
                owner,
                started: now,
            },
        );
        pid
    }

    /// A live process by PID.
    pub fn proc(&self, pid: u32) -> Option<&Process> {
        self.procs.get(&pid)
    }

    /// Live processes with this command name.
    pub fn pids_of(&self, comm: &str) -> Vec<u32> {
        self.procs
            .values()
            .filter(|p| p.comm == comm)
            .map(|p| p.pid)
            .collect()
    }

    /// Whether a process with this name runs and is not stopped.
    pub fn running(&self, comm: &str) -> bool {
        self.procs.values().any(|p| p.comm == comm && !p.stopped)
    }

    /// Kills every process a container run owns.
    pub fn kill_owned(&mut self, owner: Owner) {
        self.procs.retain(|_, p| p.owner != owner);
    }

    /// The container stopped: every process dies and the tmpfs is emptied.
    /// The PID namespace is torn down with it, so nothing gets to clean up.
    pub fn power_off(&mut self) {
        self.power = Power::Off;
        self.kubelet_up = false;
        self.procs.clear();
        self.fs
            .retain(|path, _| !TMPFS.iter().any(|t| path.starts_with(t)));
    }

    /// The container runs and is not shutting down: its kubelet, runtime
    /// and programs make progress.
    pub fn active(&self) -> bool {
        self.power == Power::On
    }

    /// The container runs (possibly shutting down).
    pub fn up(&self) -> bool {
        self.power != Power::Off
    }

    /// The orderly shutdown under way, if any.
    pub fn halting(&self) -> Option<Halt> {
        match self.power {
            Power::Halting(h) => Some(h),
            _ => None,
        }
    }

    /// The container started: a fresh PID namespace.
    pub fn power_on(&mut self, now: Ms, first_pid: u32) {
        self.power = Power::On;
        self.boot += 1;
        self.started_at = now;
        self.next_pid = first_pid;
    }

    /// Network namespaces under `/run/netns`.
    pub fn netns(&self) -> Vec<String> {
        self.fs
            .keys()
            .filter_map(|k| k.strip_prefix("/run/netns/"))
            .map(str::to_string)
            .collect()
    }

    /// Rule `runtime-uses-the-first-cni-config`: containerd loads the lexicographically first `.conf`, `.conflist` or `.json` in `/etc/cni/net.d`, so `00-multus.conf` wins over `01-kube-ovn.conflist` whenever it is there.
    /// Source: containerd/go-cni@v1.1.12:opts.go (loadFromConfDir: ConfFiles sorted, the first max of them)
    /// Pinned by: harness/tests/kind_system.rs::cni_config_removal_truncation_and_delayed_rewrite
    ///
    /// The CNI config the runtime loads.
    pub fn first_cni_config(&self) -> Option<(&str, &File)> {
        self.fs
            .range(CNI_DIR.to_string()..)
            .take_while(|(k, _)| k.starts_with(CNI_DIR))
            .find(|(k, _)| {
                let n = &k[CNI_DIR.len()..];
                !n.contains('/')
                    && (n.ends_with(".conf") || n.ends_with(".conflist") || n.ends_with(".json"))
            })
            .map(|(k, f)| (k.as_str(), f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_wipes_tmpfs_keeps_disk_and_busy_follows_the_inode() {
        let mut ino = 0;
        let mut n = Node::new("n".into(), Role::Worker, "172.18.0.2".into());
        n.power_on(0, 1);
        n.write(MULTUS_CONF, "{}", 0o600, &mut ino);
        n.write(SHIM, "shim", 0o755, &mut ino);
        n.write(MULTUS_SOCK, "", 0o755, &mut ino);
        let exe = n.fs[SHIM].inode;
        let pid = n.spawn("multus-shim", Some(exe), Owner::Exec, 0);
        assert_eq!(n.busy(SHIM), vec![pid]);
        n.remove(SHIM);
        assert!(n.busy(SHIM).is_empty());
        n.write(SHIM, "shim", 0o755, &mut ino);
        assert!(n.busy(SHIM).is_empty(), "a new inode is not busy");
        n.power_off();
        assert!(n.fs.contains_key(MULTUS_CONF) && !n.fs.contains_key(MULTUS_SOCK));
        assert!(n.procs.is_empty());
        assert_eq!(n.first_cni_config().unwrap().0, MULTUS_CONF);
    }
}
