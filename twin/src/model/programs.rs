//! What each container program does, step by step, with its sources.

use super::node::{CNI_SERVER_SOCK, MULTUS_CONF, MULTUS_SOCK, OVSDB_SOCK, Owner, SHIM};
use super::profile::{ConflistInstall, ShimInstall};
use super::rng::Ms;
use super::spec::{PROBE_TARGET_LABEL, ProbeKind, Program};
use super::world::{CState, Ev, Sandbox, World, valid_config};

/// Rule `multus-auto-config-1s-x120`: the thick daemon looks for its primary config, the first `.conf`/`.conflist` in `/etc/cni/net.d` that is not `00-multus*`, every 1 s up to 120 times, then exits 1.
/// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/server/config/generator.go (findMasterPlugin)
/// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/server/config/manager.go (getPrimaryCNIPluginName: 120 tries)
///
/// How often the Multus daemon looks for the primary config, and how many
/// times.
const MULTUS_CONFIG_TRIES: u32 = 120;
/// Rule `multus-readiness-indicator-1s-x45`: with `readinessindicatorfile` set (off by default) the daemon polls the file every 1 s for up to 45 s, then exits 1.
/// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/types/conf.go (GetReadinessIndicatorFile)
/// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:cmd/multus-daemon/main.go (exit 1 when the check fails)
const READINESS_INDICATOR_TRIES: u32 = 45;

impl World {
    pub(super) fn program_of(&self, k: u64, i: usize) -> Option<Program> {
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
        if prog == Program::Sleep {
            self.lsp_gc_start(k, i, run);
        }
        if prog == Program::CniServer && self.cfg.profile.cni_gc_interfaces {
            self.after(0, Ev::IfaceGc { pod: k, c: i, run });
        }
        let d = match prog {
            Program::Sleep | Program::CoreDns => return,
            Program::Completes => self.rng.range(100, 400),
            Program::InstallCni => self.rng.range(300, 900),
            Program::CniServer => self.rng.range(500, 1_500),
            Program::OvsOvn => self.rng.range(500, 1_500),
            Program::InstallMultus(_) => self.rng.range(100, 400),
            Program::MultusDaemon(_) => self.rng.range(300, 800),
            Program::NatGateway => self.rng.range(500, 1_500),
            // A fixed first round, so adding pinger's rounds drew nothing
            // from the seed's random sequence.
            Program::Pinger => 1_000,
            Program::Probe(_) => self.rng.range(200, 800),
            // Fixed, so the traffic pods draw nothing from the seed's
            // random sequence.
            Program::TrafficSender | Program::NatSender => super::traffic::SENDER_START,
            Program::TrafficReceiver => {
                self.traffic_receiver_start(k, i, run);
                return;
            }
            Program::LongLivedClient => {
                self.long_lived_client_start(k, i);
                super::longlived::CLIENT_START
            }
            Program::LongLivedServer => {
                self.long_lived_server_start(k, i, run);
                return;
            }
        };
        self.after(d, Ev::Tick { pod: k, c: i, run });
    }

    fn stage(&mut self, k: u64, i: usize) -> &mut super::world::Ctr {
        &mut self.pods.get_mut(&k).expect("pod exists").ctrs[i]
    }

    /// Rule `ovs-ovn-starts-ovsdb-then-vswitchd`: `start-ovs.sh` starts ovsdb-server, then ovs-vswitchd and ovn-controller, then waits on a log; the container keeps running when a daemon dies.
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/start-ovs.sh (ovs-ctl restart --no-ovs-vswitchd, then --no-ovsdb-server, ovn-ctl restart_controller, tail)
    ///
    /// Rule `cni-server-waits-for-ovs`: kube-ovn-cni's `start-cniserver.sh` waits until ovsdb-server and ovs-vswitchd answer, then the daemon initialises its OVS bridges and serves its socket.
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/start-cniserver.sh (waiting for ovs ready)
    /// Source: kubeovn/kube-ovn@v1.14.41:cmd/daemon/cniserver.go (InitOVSBridges, RunServer)
    ///
    /// Rule `nat-gateway-needs-net1`: the VPC NAT gateway's init configures its Multus attachment `net1`; without it the container fails.
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/vpcnatgateway/nat-gateway.sh (EIPs and routes on net1)
    ///
    /// The next step of a container's program.
    pub(super) fn tick(&mut self, k: u64, i: usize, run: u32) {
        let Some(p) = self.pods.get(&k) else { return };
        let Some(n) = p.node else { return };
        let c = &p.ctrs[i];
        // A node shutting down: the process got its SIGTERM and only
        // exits (`World::on_sigterm`).
        if c.runs != run || !matches!(c.state, CState::Running { .. }) || !self.nodes[n].active() {
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
            Program::Sleep
            | Program::CoreDns
            | Program::TrafficReceiver
            | Program::LongLivedServer => {}
            Program::LongLivedClient => self.long_lived_write(k, i, run, n),
            Program::Pinger => self.pinger_round(k, i, run, n),
            Program::TrafficSender => self.traffic_send(k, i, run, n),
            Program::NatSender => self.nat_send(k, i, run, n),
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
                } else {
                    self.nat_gw_sync(k, i, run);
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

    /// Rule `multus-watches-its-primary-config`: after writing `00-multus.conf` the daemon regenerates it on a Write or Create of its primary config, writes an empty one when the primary cannot be read, and ignores the primary's removal.
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/server/config/manager.go (monitorPluginConfiguration, shouldRegenerateConfig, GenerateConfig)
    /// Source: k8snetworkplumbingwg/multus-cni@v4.3.0:pkg/server/config/manager.go (same)
    ///
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

    /// Rule `multus-clean-exit-removes-config`: the Multus thick daemon turns SIGTERM into a clean exit whose config manager deletes `00-multus.conf` (its socket goes with `/run`); only once its handler is installed, after the API readiness check, so a daemon still looking for the primary config dies at once and leaves an old `00-multus.conf` in place.
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/server/config/manager.go (Start: "Delete old config", os.Remove after monitorPluginConfiguration returns)
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:cmd/multus-daemon/main.go (signal.Notify SIGINT/SIGTERM -> cancel, installed after WaitUntilAPIReady; wg.Wait)
    /// Source: k8snetworkplumbingwg/multus-cni@v4.1.3:pkg/server/config/manager.go (Start, same)
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.4:pkg/server/config/manager.go (Start, same)
    /// Source: k8snetworkplumbingwg/multus-cni@v4.3.0:pkg/server/config/manager.go (Start, same)
    /// Pinned by: harness/tests/node_systemd.rs::graceful_reboot_delivers_sigterm_and_the_daemon_removes_its_config
    ///
    /// What a container's program leaves behind on disk when it exits on
    /// SIGTERM. Every other program of the model changes nothing that
    /// survives a reboot on a clean exit (see [`World::on_sigterm`]).
    pub(super) fn clean_exit(&mut self, k: u64, i: usize, n: usize) {
        let Some(prog) = self.program_of(k, i) else {
            return;
        };
        if matches!(prog, Program::MultusDaemon(_)) && self.stage(k, i).stage >= 3 {
            self.nodes[n].remove(MULTUS_CONF);
            self.nodes[n].remove(MULTUS_SOCK);
            let name = self.nodes[n].name.clone();
            self.note(format!(
                "node {name}: multus-daemon clean exit removed {MULTUS_CONF}"
            ));
        }
    }

    /// How long process `pid` takes to exit after the SIGTERM (and
    /// SIGCONT) of an orderly node shutdown, or `None` when it ignores the
    /// signal and is killed at the stop timeout. What it does to persistent
    /// state on the way out is [`World::clean_exit`]; by program, from the
    /// source at the matrix's tags:
    ///
    /// Rule `sigterm-ovs-ovn-keeps-ovs-and-ovn-state`: `start-ovs.sh`'s EXIT trap stops ovn-controller with `--restart` (its chassis and ports stay) and OVS with `ovs-ctl stop` (the database on disk is kept); the OVS daemons' own SIGTERM handling only unlinks pidfiles and sockets under `/run`.
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/start-ovs.sh (quit, trap quit EXIT)
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/grace_stop_ovn_controller (stop_ovn_daemon ovn-controller --restart)
    /// Source: kubeovn/kube-ovn@v1.13.15:dist/images/start-ovs.sh (quit, same)
    /// Source: kubeovn/kube-ovn@v1.16.2:dist/images/start-ovs.sh (quit, same)
    ///
    /// Rule `sigterm-cni-server-removes-only-its-socket`: kube-ovn-cni's `start-cniserver.sh` EXIT trap removes `/run/openvswitch/kube-ovn-daemon.sock`; the daemon returns from main when its signal context is done; nothing under `/etc/cni` or `/opt/cni/bin` changes.
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/start-cniserver.sh (quit: rm -rf $CNI_SOCK)
    /// Source: kubeovn/kube-ovn@v1.14.41:cmd/daemon/cniserver.go (signals.SetupSignalHandler; <-stopCh)
    /// Source: kubeovn/kube-ovn@v1.16.2:cmd/daemon/cniserver.go (same)
    ///
    /// Rule `sigterm-install-steps-die-at-once`: the init steps (`install-cni.sh` with `kube-ovn-daemon --install-cni-config`, Multus' `cp` or `install_multus`, `hostpath-init`) install no handler and die on SIGTERM like on SIGKILL; a conflist write in flight stays truncated.
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/install-cni.sh (no trap)
    /// Source: kubeovn/kube-ovn@v1.14.41:cmd/daemon/cniserver.go (main: mvCNIConf runs before any signal handler)
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:deployments/multus-daemonset-thick.yml (install-multus-binary: sh -c cp)
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.3:cmd/install_multus/main.go (no signal handling)
    ///
    /// Rule `sigterm-multus-shim-dies-at-once`: a `multus-shim` waiting for the daemon installs no handler and dies on SIGTERM, releasing the binary.
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:cmd/multus-shim/main.go (skel.PluginMainFuncs, no signal handling)
    ///
    /// Rule `sigterm-coredns-lameduck`: CoreDNS drains for its `health` lameduck of 5 s, then exits; it has no state on the node.
    /// Source: kubernetes/kubernetes@v1.33.7:cmd/kubeadm/app/phases/addons/dns/manifests.go (CoreDNSConfigMap: health { lameduck 5s })
    ///
    /// Rule `sigterm-nat-gateway-ignores-it`: the VPC NAT gateway's container runs `sleep infinity` as the init of its PID namespace, which ignores a SIGTERM it has no handler for, so it holds the shutdown until the stop timeout kills it.
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/vpc_nat_gateway.go (genNatGwStatefulSet: Command sleep infinity)
    /// Source: torvalds/linux@v6.12:kernel/signal.c (sig_task_ignored: SIGNAL_UNKILLABLE init ignores default-action signals)
    ///
    /// Rule `sigterm-other-components-change-no-node-state`: kube-ovn-controller, kube-ovn-monitor, kube-ovn-pinger and ovn-central exit on SIGTERM without touching `/etc/cni/net.d`, `/opt/cni/bin` or the OVS database (ovn-central's EXIT trap stops northd; its database files stay; kube-ovn-controller releases its leader Lease, an API object the model does not keep).
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/start-db.sh (quit: ovn-ctl stop_northd)
    /// Source: kubeovn/kube-ovn@v1.14.41:cmd/pinger/pinger.go (signals.SetupSignalHandler)
    /// Source: kubeovn/kube-ovn@v1.14.41:cmd/controller/controller.go (ReleaseOnCancel: true)
    pub(super) fn on_sigterm(&mut self, n: usize, pid: u32) -> Option<Ms> {
        let owner = self.nodes[n].proc(pid)?.owner;
        let Owner::Container(k, i, _) = owner else {
            // multus-shim processes (the runtime's or one started by hand).
            return Some(0);
        };
        let main = self
            .pods
            .get(&k)
            .is_some_and(|p| p.ctrs[i].pid == Some(pid));
        if !main {
            // ovsdb-server, ovs-vswitchd, ovn-controller: fatal-signal
            // handlers unlink their /run files and exit.
            return Some(self.rng.range(5, 50));
        }
        Some(match self.program_of(k, i)? {
            Program::MultusDaemon(_) if self.stage(k, i).stage >= 3 => self.rng.range(5, 50),
            Program::MultusDaemon(_)
            | Program::InstallCni
            | Program::InstallMultus(_)
            | Program::Completes
            | Program::Probe(_) => 0,
            // quit() asks the API server about the DaemonSet's revisions
            // with kubectl, then runs ovs-ctl stop.
            Program::OvsOvn => self.rng.range(500, 2_000),
            Program::CniServer => self.rng.range(20, 200),
            Program::CoreDns => 5_000 + self.rng.range(0, 100),
            Program::Sleep | Program::Pinger => self.rng.range(10, 200),
            // busybox sh with its TERM trap: exits at once.
            Program::TrafficSender
            | Program::TrafficReceiver
            | Program::NatSender
            | Program::LongLivedClient
            | Program::LongLivedServer => 0,
            Program::NatGateway => return None,
        })
    }

    /// Rule `ovs-healthcheck-needs-both-daemons`: `ovs-healthcheck.sh` fails while ovsdb-server or ovs-vswitchd is not running or does not answer (a frozen one times out).
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/ovs-healthcheck.sh
    ///
    /// Rule `cni-server-readyz-needs-ovs`: kube-ovn-cni's `/readyz` fails while its server is not up or OVS is down.
    /// Source: FACTS.md (Kube-OVN facts: kube-ovn-cni /livez /readyz every 7 s)
    ///
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
            // `wget http://<server pod IP>:8080/` to the server pod the probe
            // names (label cni-chaos.io/probe-target), pinned to another
            // node: through the overlay, so both nodes' CNI and OVS must be
            // healthy and both nodes connected.
            ProbeKind::PodToPod => {
                self.kube_ovn_add(n).is_ok()
                    && p.template
                        .labels
                        .get(PROBE_TARGET_LABEL)
                        .is_some_and(|server| {
                            self.pods.values().any(|q| {
                                q.namespace == p.namespace
                                    && &q.name == server
                                    && q.deleting.is_none()
                                    && q.ip.is_some()
                                    && q.node.is_some_and(|m| {
                                        self.nodes[m].connected && self.kube_ovn_add(m).is_ok()
                                    })
                                    && super::render::pod_ready(self, q)
                            })
                        })
            }
            // `ip -o link show net1` in the probe pod.
            ProbeKind::MultusSecondary => p.has_interface("net1"),
            // `ip -o -4 addr show dev net1 | grep -q ' inet 10.251\.'`: the
            // Kube-OVN attachment's net1 exists only with its address (rule
            // `kube-ovn-attachment-needs-its-subnet`).
            ProbeKind::KubeOvnSecondary => p.has_interface("net1"),
            // Egress is translated only by a Ready gateway whose namespace
            // holds the SNAT rule and the EIP (rule
            // `nat-gateway-init-once-per-pod`).
            ProbeKind::NatGatewayEgress => self.pods.values().any(|q| {
                q.template
                    .labels
                    .get("ovn.kubernetes.io/vpc-nat-gw")
                    .map(String::as_str)
                    == Some("true")
                    && q.deleting.is_none()
                    && q.node.is_some_and(|m| self.nodes[m].connected)
                    && super::render::pod_ready(self, q)
                    && !q.nat.snat.is_empty()
                    && !q.nat.eips.is_empty()
            }),
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
