//! What each container program does, step by step, with its sources.

use super::node::{CNI_SERVER_SOCK, MULTUS_CONF, MULTUS_SOCK, OVSDB_SOCK, Owner, SHIM};
use super::profile::{ConflistInstall, ShimInstall};
use super::spec::{ProbeKind, Program};
use super::world::{CState, Ev, Sandbox, World, valid_config};

/// How often the Multus daemon looks for the primary config, and how many
/// times (FACTS.md "Multus facts": every 1 s up to 120 times).
const MULTUS_CONFIG_TRIES: u32 = 120;
/// `readinessindicatorfile`: polled every 1 s for up to 45 s, then exit 1.
const READINESS_INDICATOR_TRIES: u32 = 45;

impl World {
    fn program_of(&self, k: u64, i: usize) -> Option<Program> {
        let p = self.pods.get(&k)?;
        let n_init = p.n_init();
        Some(if i < n_init {
            p.template.init[i].program.clone()
        } else {
            p.template.containers[i - n_init].program.clone()
        })
    }

    pub(super) fn program_start(&mut self, k: u64, i: usize, run: u32, _n: usize) {
        let Some(prog) = self.program_of(k, i) else {
            return;
        };
        let d = match prog {
            Program::Sleep | Program::CoreDns => return,
            Program::Completes => self.rng.range(100, 400),
            Program::InstallCni => self.rng.range(300, 900),
            Program::CniServer => self.rng.range(500, 1_500),
            Program::OvsOvn => self.rng.range(500, 1_500),
            Program::InstallMultus(_) => self.rng.range(100, 400),
            Program::MultusDaemon(_) => self.rng.range(300, 800),
            Program::NatGateway => self.rng.range(500, 1_500),
            Program::Probe(_) => self.rng.range(200, 800),
        };
        self.after(d, Ev::Tick { pod: k, c: i, run });
    }

    fn stage(&mut self, k: u64, i: usize) -> &mut super::world::Ctr {
        &mut self.pods.get_mut(&k).expect("pod exists").ctrs[i]
    }

    /// The next step of a container's program.
    pub(super) fn tick(&mut self, k: u64, i: usize, run: u32) {
        let Some(p) = self.pods.get(&k) else { return };
        let Some(n) = p.node else { return };
        let c = &p.ctrs[i];
        if c.runs != run || !matches!(c.state, CState::Running { .. }) || !self.nodes[n].up {
            return;
        }
        // A stopped process makes no progress; look again later.
        if c.pid
            .and_then(|pid| self.nodes[n].proc(pid))
            .is_some_and(|pr| pr.stopped)
        {
            self.after(1_000, Ev::Tick { pod: k, c: i, run });
            return;
        }
        let Some(prog) = self.program_of(k, i) else {
            return;
        };
        let node_name = self.nodes[n].name.clone();
        let owner = Owner::Container(k, i, run);
        match prog {
            Program::Sleep | Program::CoreDns => {}
            Program::Completes => self.container_exited(k, i, 0, "Completed"),
            Program::InstallCni => {
                // install-cni.sh: `cp -f` the plugins into /opt/cni/bin, then
                // `kube-ovn-daemon --install-cni-config` puts the conflist
                // in /etc/cni/net.d (mvCNIConf; rules per tag in
                // `ConflistInstall`). Before the cni-server runs: the node
                // can be NetworkReady while Kube-OVN cannot serve an ADD yet.
                let path = format!(
                    "/etc/cni/net.d/{}-kube-ovn.conflist",
                    self.cfg.profile.cni_priority
                );
                let stage = self.stage(k, i).stage;
                let mut ino = self.inode;
                if stage == 1 {
                    // The in-place write's content lands.
                    let mode = self.nodes[n].fs.get(&path).map_or(0o600, |f| f.mode);
                    self.nodes[n].write(&path, KUBE_OVN_CONFLIST, mode, &mut ino);
                    self.inode = ino;
                    self.clog(k, i, run, format!("Installing cni config file \"/kube-ovn/01-kube-ovn.conflist\" to \"{path}\""));
                    self.note(format!("node {node_name}: install-cni wrote {path}"));
                    self.container_exited(k, i, 0, "Completed");
                    return;
                }
                if self.cfg.profile.atomic_cni_conf {
                    self.nodes[n].write_atomic(
                        "/opt/cni/bin/kube-ovn",
                        "kube-ovn",
                        0o755,
                        &mut ino,
                    );
                } else {
                    self.nodes[n].write("/opt/cni/bin/kube-ovn", "kube-ovn", 0o755, &mut ino);
                }
                let existing = self.nodes[n].fs.get(&path).map(|f| f.mode);
                let keep_any = self.cfg.profile.conflist_install == ConflistInstall::KeepExisting;
                let new_mode = if keep_any { 0o644 } else { 0o600 };
                // What install-cni logs and the model notes when it is done;
                // none while a non-atomic write is still under way.
                let done = match existing {
                    Some(mode) if keep_any || mode == 0o600 => Some((
                        format!(
                            "CNI config file \"{path}\" already exists with correct permissions, skipping."
                        ),
                        format!(
                            "install-cni: CNI config file {path} already exists (mode {mode:o}), skipping"
                        ),
                    )),
                    Some(mode) => {
                        if let Some(f) = self.nodes[n].fs.get_mut(&path) {
                            f.mode = 0o600;
                        }
                        Some((
                            format!(
                                "Fixing permission of existing CNI config file \"{path}\" to 600"
                            ),
                            format!(
                                "install-cni: fixing permission of existing {path} ({mode:o}) to 600"
                            ),
                        ))
                    }
                    None if self.cfg.profile.atomic_cni_conf => {
                        // PR #7035: temporary file, then rename.
                        self.nodes[n].write_atomic(&path, KUBE_OVN_CONFLIST, new_mode, &mut ino);
                        Some((
                            format!(
                                "Installing cni config file \"/kube-ovn/01-kube-ovn.conflist\" to \"{path}\""
                            ),
                            format!("install-cni wrote {path} atomically"),
                        ))
                    }
                    None => {
                        // os.WriteFile: create and truncate, then write; a
                        // node killed in between keeps an empty file.
                        self.nodes[n].write(&path, "", new_mode, &mut ino);
                        None
                    }
                };
                self.inode = ino;
                match done {
                    Some((log, note)) => {
                        self.clog(k, i, run, log);
                        self.note(format!("node {node_name}: {note}"));
                        self.container_exited(k, i, 0, "Completed");
                    }
                    None => {
                        self.stage(k, i).stage = 1;
                        self.after(20, Ev::Tick { pod: k, c: i, run });
                    }
                }
            }
            Program::OvsOvn => {
                // start-ovs.sh starts ovsdb-server, then ovs-vswitchd and
                // ovn-controller, then waits (the container keeps running
                // if a daemon dies: SIGKILL is not one of the crash signals
                // OVS's --monitor restarts on).
                let stage = self.stage(k, i).stage;
                match stage {
                    0 => {
                        self.nodes[n].spawn("ovsdb-server", None, owner, self.now);
                        let mut ino = self.inode;
                        self.nodes[n].write(OVSDB_SOCK, "", 0o750, &mut ino);
                        self.inode = ino;
                        self.stage(k, i).stage = 1;
                        let d = self.rng.range(300, 1_200);
                        self.after(d, Ev::Tick { pod: k, c: i, run });
                    }
                    1 => {
                        self.nodes[n].spawn("ovs-vswitchd", None, owner, self.now);
                        self.nodes[n].spawn("ovn-controller", None, owner, self.now);
                        let stale: Vec<String> = self.nodes[n]
                            .ovs_ports
                            .iter()
                            .filter(|(_, ns)| {
                                ns.as_ref().is_none_or(|ns| {
                                    !self.nodes[n].fs.contains_key(&format!("/run/netns/{ns}"))
                                })
                            })
                            .map(|(p, _)| p.clone())
                            .collect();
                        if !stale.is_empty() {
                            self.clog(k, i, run, format!("ovs-vswitchd: could not open network device {} (No such device)", stale.join(", ")));
                            self.note(format!("node {node_name}: ovs-vswitchd: could not open network device {} (No such device)", stale.join(", ")));
                        }
                        self.stage(k, i).stage = 2;
                        self.clog(
                            k,
                            i,
                            run,
                            "ovsdb-server and ovs-vswitchd started".to_string(),
                        );
                        self.note(format!("node {node_name}: OVS started"));
                    }
                    _ => {}
                }
            }
            Program::CniServer => {
                // start-cniserver.sh: the daemon needs OVS (InitOVSBridges),
                // then serves the CNI socket the plugin talks to.
                let stage = self.stage(k, i).stage;
                if stage == 0 {
                    if !self.ovs_healthy(n) {
                        self.stage(k, i).tries += 1;
                        self.after(1_000, Ev::Tick { pod: k, c: i, run });
                        return;
                    }
                    let mut ino = self.inode;
                    self.nodes[n].write(CNI_SERVER_SOCK, "", 0o600, &mut ino);
                    self.inode = ino;
                    self.stage(k, i).stage = 3;
                    self.clog(
                        k,
                        i,
                        run,
                        "CNI server is listening on /run/openvswitch/kube-ovn-daemon.sock"
                            .to_string(),
                    );
                    self.note(format!("node {node_name}: cni-server serves"));
                }
            }
            Program::InstallMultus(mode) => {
                let mut ino = self.inode;
                match mode {
                    ShimInstall::Cp => {
                        // cp opens the destination with O_TRUNC: ETXTBSY
                        // while any process executes it (#1221 points 2-3).
                        let busy = self.nodes[n].busy(SHIM);
                        if !busy.is_empty() {
                            self.clog(k, i, run, "cp: cannot create regular file '/host/opt/cni/bin/multus-shim': Text file busy".to_string());
                            self.note(format!(
                                "node {node_name}: install-multus-binary: cp: cannot create regular file '/host/opt/cni/bin/multus-shim': Text file busy (held by pid {busy:?})"
                            ));
                            self.container_exited(k, i, 1, "Error");
                            return;
                        }
                        self.nodes[n].write(SHIM, "multus-shim", 0o755, &mut ino);
                    }
                    // install_multus: temp file + rename (PR #1445).
                    ShimInstall::InstallMultus => {
                        self.nodes[n].write_atomic(SHIM, "multus-shim", 0o755, &mut ino)
                    }
                }
                self.inode = ino;
                self.container_exited(k, i, 0, "Completed");
            }
            Program::MultusDaemon(indicator) => self.multus_tick(k, i, run, n, indicator),
            Program::NatGateway => {
                // What the gateway's script finds in its network namespace,
                // not what the annotation says (it may be stale).
                let has_net1 = self.pods[&k].has_interface("net1");
                if !has_net1 {
                    // The gateway's init script configures net1; without the
                    // Multus attachment it fails (pods that start with only
                    // the primary network, multus-cni #1387).
                    self.clog(
                        k,
                        i,
                        run,
                        "failed to find interface net1: Link not found".to_string(),
                    );
                    self.note(format!("node {node_name}: vpc-nat-gw: net1 not found"));
                    self.container_exited(k, i, 1, "Error");
                }
            }
            Program::Probe(kind) => {
                let ok = self.probe_result(k, n, kind);
                self.container_exited(
                    k,
                    i,
                    if ok { 0 } else { 1 },
                    if ok { "Completed" } else { "Error" },
                );
            }
        }
    }

    /// The Multus thick daemon (FACTS.md "Multus facts"; multus-cni
    /// `pkg/server/config/manager.go`, the same at v4.1.3, v4.2.1, v4.2.4 and
    /// v4.3.0): wait for the primary config (the first `.conf`/`.conflist`
    /// that is not `00-multus*`) every 1 s up to 120 times, write
    /// `00-multus.conf`, serve `/run/multus/multus.sock`, and watch the
    /// primary: a write regenerates `00-multus.conf`, and when the primary
    /// cannot be read `GenerateConfig` returns an empty configuration that
    /// `PersistMultusConfig` writes all the same (an empty `00-multus.conf`);
    /// a removal is ignored (`shouldRegenerateConfig` only takes Write and
    /// Create events for the primary), so `00-multus.conf` keeps pointing at
    /// the missing file. FACTS.md says deleting the primary makes the daemon
    /// exit; the source at these tags does not.
    fn multus_tick(&mut self, k: u64, i: usize, run: u32, n: usize, indicator: Option<String>) {
        let node_name = self.nodes[n].name.clone();
        let stage = self.stage(k, i).stage;
        let primary = self.nodes[n]
            .fs
            .iter()
            .filter(|(p, f)| {
                p.starts_with(super::node::CNI_DIR)
                    && !p[super::node::CNI_DIR.len()..].starts_with("00-multus")
                    && (p.ends_with(".conf") || p.ends_with(".conflist"))
                    && valid_config(&f.content)
            })
            .map(|(p, _)| p.clone())
            .next();
        match stage {
            0 => match primary {
                Some(p) => {
                    let c = self.stage(k, i);
                    c.stage = if indicator.is_some() { 1 } else { 2 };
                    c.tries = 0;
                    self.clog(
                        k,
                        i,
                        run,
                        format!("[verbose] Using {p} as the primary CNI config"),
                    );
                    self.note(format!(
                        "node {node_name}: multus-daemon found primary config {p}"
                    ));
                    self.after(10, Ev::Tick { pod: k, c: i, run });
                }
                None => {
                    let c = self.stage(k, i);
                    c.tries += 1;
                    if c.tries >= MULTUS_CONFIG_TRIES {
                        self.clog(k, i, run, "[error] failed to create the configuration manager for the primary CNI plugin: failed to find the cluster master CNI plugin: timed out waiting for the condition".to_string());
                        self.note(format!("node {node_name}: multus-daemon: timed out waiting for the primary CNI config"));
                        self.container_exited(k, i, 1, "Error");
                    } else {
                        self.after(1_000, Ev::Tick { pod: k, c: i, run });
                    }
                }
            },
            1 => {
                let path = indicator.unwrap_or_default();
                if self.nodes[n].fs.contains_key(&path) {
                    self.stage(k, i).stage = 2;
                    self.after(10, Ev::Tick { pod: k, c: i, run });
                } else {
                    let c = self.stage(k, i);
                    c.tries += 1;
                    if c.tries >= READINESS_INDICATOR_TRIES {
                        self.clog(k, i, run, format!("[error] have you checked that your default network is ready? still waiting for readinessindicatorfile @ {path}. pollimmediate error: timed out waiting for the condition"));
                        self.note(format!("node {node_name}: multus-daemon: readinessindicatorfile {path} did not appear"));
                        self.container_exited(k, i, 1, "Error");
                    } else {
                        self.after(1_000, Ev::Tick { pod: k, c: i, run });
                    }
                }
            }
            2 => {
                let Some(p) = primary else {
                    self.stage(k, i).stage = 0;
                    self.after(1_000, Ev::Tick { pod: k, c: i, run });
                    return;
                };
                let mut ino = self.inode;
                let conf = multus_conf(&p);
                self.nodes[n].write_atomic(MULTUS_CONF, &conf, 0o600, &mut ino);
                self.nodes[n].write(MULTUS_SOCK, "", 0o755, &mut ino);
                self.inode = ino;
                let c = self.stage(k, i);
                c.stage = 3;
                c.tries = 0;
                self.clog(k, i, run, format!("[verbose] Generated MultusCNI config; API readiness check done! serving {MULTUS_SOCK}"));
                self.note(format!(
                    "node {node_name}: multus-daemon wrote {MULTUS_CONF} and serves {MULTUS_SOCK}"
                ));
                let seen = self.nodes[n]
                    .fs
                    .get(&p)
                    .map(|f| f.content.clone())
                    .unwrap_or_default();
                self.pods_primary.insert(k, (p, seen));
                self.after(1_000, Ev::Tick { pod: k, c: i, run });
            }
            _ => {
                let (watched, seen) = self.pods_primary.get(&k).cloned().unwrap_or_default();
                let now = self.nodes[n].fs.get(&watched).map(|f| f.content.clone());
                if let Some(content) = now.filter(|c| *c != seen) {
                    // A Write or Create event on the primary: regenerate.
                    let conf = if valid_config(&content) {
                        multus_conf(&watched)
                    } else {
                        self.clog(k, i, run, format!("[error] failed to read the primary CNI plugin config from {watched}"));
                        self.note(format!(
                            "node {node_name}: multus-daemon: failed to read the primary CNI plugin config from {watched}; writing an empty {MULTUS_CONF}"
                        ));
                        String::new()
                    };
                    let mut ino = self.inode;
                    self.nodes[n].write(MULTUS_CONF, &conf, 0o600, &mut ino);
                    self.inode = ino;
                    self.pods_primary.insert(k, (watched, content));
                }
                self.after(1_000, Ev::Tick { pod: k, c: i, run });
            }
        }
    }

    /// SIGTERM (`graceful`) or SIGKILL of a container's program. Only a
    /// clean exit runs cleanup: the Multus daemon deletes `00-multus.conf`
    /// and its socket (FACTS.md "Multus facts").
    pub(super) fn program_term(&mut self, k: u64, i: usize, n: usize, graceful: bool) {
        let Some(prog) = self.program_of(k, i) else {
            return;
        };
        if graceful && matches!(prog, Program::MultusDaemon(_)) && self.stage(k, i).stage >= 3 {
            let frozen = self.pods[&k].ctrs[i]
                .pid
                .and_then(|pid| self.nodes[n].proc(pid))
                .is_some_and(|p| p.stopped);
            if !frozen {
                self.nodes[n].remove(MULTUS_CONF);
                self.nodes[n].remove(MULTUS_SOCK);
                let name = self.nodes[n].name.clone();
                self.note(format!(
                    "node {name}: multus-daemon clean exit removed {MULTUS_CONF}"
                ));
            }
        }
    }

    /// A probe's health check for container `i`.
    pub(super) fn health(&self, k: u64, i: usize, live: bool) -> Result<(), String> {
        let p = &self.pods[&k];
        let Some(n) = p.node else {
            return Err("no node".into());
        };
        let node = &self.nodes[n];
        let c = &p.ctrs[i];
        let run = c.runs;
        let frozen = c
            .pid
            .and_then(|pid| node.proc(pid))
            .is_some_and(|pr| pr.stopped);
        if frozen {
            return Err("command timed out: \"\" timed out after 1s".into());
        }
        match self.program_of(k, i) {
            Some(Program::OvsOvn) => {
                // ovs-healthcheck.sh: both daemons answer.
                let owned = |comm: &str| {
                    node.procs.values().any(|pr| {
                        pr.comm == comm && pr.owner == Owner::Container(k, i, run) && !pr.stopped
                    })
                };
                if self.pods[&k].ctrs[i].stage < 2 {
                    return Err("ovs-vswitchd is not running".into());
                }
                if !owned("ovsdb-server") {
                    return Err("ovsdb-server is not running".into());
                }
                if !owned("ovs-vswitchd") {
                    return Err("ovs-vswitchd is not running".into());
                }
                Ok(())
            }
            Some(Program::CniServer) => {
                if live {
                    return Ok(());
                }
                if !node.fs.contains_key(CNI_SERVER_SOCK) || c.stage < 3 {
                    return Err(format!(
                        "Get \"http://{}:10665/readyz\": dial tcp {}:10665: connect: connection refused",
                        node.ip, node.ip
                    ));
                }
                if !self.ovs_healthy(n) {
                    return Err(
                        "HTTP probe failed with statuscode: 500 (ovs-vswitchd is not running)"
                            .into(),
                    );
                }
                Ok(())
            }
            Some(Program::CoreDns) if !live && !node.connected => {
                Err("HTTP probe failed with statuscode: 503".into())
            }
            _ => Ok(()),
        }
    }

    /// A probe pod's outcome, decided by what the model has: a sandbox, a
    /// Ready CoreDNS pod, a Multus-written network-status, a NAT gateway.
    fn probe_result(&self, k: u64, n: usize, kind: ProbeKind) -> bool {
        let p = &self.pods[&k];
        if !matches!(p.sandbox, Sandbox::Ready { .. }) || !self.nodes[n].connected {
            return false;
        }
        let ready_pod = |label: (&str, &str)| {
            self.pods.values().any(|q| {
                q.template.labels.get(label.0).map(String::as_str) == Some(label.1)
                    && q.deleting.is_none()
                    && q.node.is_some_and(|m| self.nodes[m].connected)
                    && super::render::pod_ready(self, q)
            })
        };
        match kind {
            ProbeKind::Dns => ready_pod(("k8s-app", "kube-dns")),
            ProbeKind::PodToPod => self.kube_ovn_add(n).is_ok(),
            // `ip -o link show net1` in the probe pod.
            ProbeKind::MultusSecondary => p.has_interface("net1"),
            ProbeKind::NatGatewayEgress => ready_pod(("ovn.kubernetes.io/vpc-nat-gw", "true")),
        }
    }
}

/// Kube-OVN's conflist as `install-cni` ships it.
pub const KUBE_OVN_CONFLIST: &str = r#"{"name":"kube-ovn","cniVersion":"0.3.1","plugins":[{"type":"kube-ovn","server_socket":"/run/openvswitch/kube-ovn-daemon.sock"},{"type":"portmap","capabilities":{"portMappings":true}}]}"#;

/// The `00-multus.conf` the thick daemon generates for the primary config
/// at `primary` (its shim delegates every ADD to the daemon).
fn multus_conf(primary: &str) -> String {
    format!(
        "{{\"cniVersion\":\"0.3.1\",\"name\":\"multus-cni-network\",\"type\":\"multus-shim\",\"logLevel\":\"verbose\",\"clusterNetwork\":\"{primary}\"}}"
    )
}
