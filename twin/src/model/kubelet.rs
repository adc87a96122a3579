//! The kubelet of each node: pod workers, sandboxes through CNI, init
//! containers in order, restart back-off, probes, termination.

use super::node::{CNI_SERVER_SOCK, MULTUS_CONF, MULTUS_SOCK, Owner, SHIM};
use super::rng::Ms;
use super::world::{CState, Ev, Sandbox, World, valid_config};

/// Initial container restart back-off (FACTS.md "Kubernetes facts").
pub const BACKOFF_INITIAL: Ms = 10_000;
/// Back-off cap.
pub const BACKOFF_MAX: Ms = 300_000;
/// A container that ran this long has its back-off reset.
pub const BACKOFF_RESET: Ms = 600_000;
/// The kubelet's `--runtime-request-timeout` default (2 min): a
/// RunPodSandbox call, and the CNI plugin it runs, is cancelled after it.
pub const RUNTIME_REQUEST_TIMEOUT: Ms = 120_000;
/// Rule `pod-sync-retry`: a pod sync that fails (no CNI config, a failed sandbox) is retried after 10 s with jitter factor 0.5.
/// Source: kubernetes/kubernetes@v1.33.7:pkg/kubelet/pod_workers.go (backOffPeriod, workerBackOffPeriodJitterFactor)
pub const SYNC_RETRY: Ms = 10_000;
/// Rule `multus-shim-waits-for-the-daemon`: a `multus-shim` run for a sandbox polls the daemon's API every 100 ms for up to 60 s, holding `/opt/cni/bin/multus-shim` open meanwhile, then fails the ADD; a shim outlives the pod it was started for.
/// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/server/api/api.go (WaitUntilAPIReady, APIReadyPollDuration, APIReadyPollTimeout)
/// Source: k8snetworkplumbingwg/multus-cni@v4.2.4:pkg/server/api/api.go (same)
/// Source: FACTS.md (root cause as upstream understands it, #1221 point 2)
/// Pinned by: harness/tests/kind_system.rs::a_busy_multus_shim_makes_a_plain_cp_fail_and_an_atomic_install_succeed
///
/// How often a blocked multus-shim asks the daemon's health endpoint.
pub const SHIM_POLL: Ms = 100;
/// How long a multus-shim ADD waits for the daemon before it fails:
/// `APIReadyPollTimeout`, 60 s (same source). While it waits it holds
/// `/opt/cni/bin/multus-shim` open (#1221 point 2).
pub const SHIM_API_READY_TIMEOUT: Ms = 60_000;
/// How long containerd and runc take to create and start a container whose
/// image is present (ms, uniform). An assumption, of the order measured on
/// kind nodes.
pub const CONTAINER_START: (Ms, Ms) = (300, 1_000);

impl World {
    /// Rule `kubelet-start-recreates-sandboxes`: a kubelet starting after a node restart finds every pod's sandbox gone, creates a new one through CNI, runs the init containers again, reports lost containers as terminated with exit code 255 and starts its back-off over.
    /// Source: kubernetes/kubernetes@v1.33.7:pkg/kubelet/kuberuntime/kuberuntime_manager.go (computePodActions: sandbox changed, kill and re-create, init containers first)
    /// Pinned by: harness/tests/kind_system.rs::node_reboot_graceful_and_hard_wipe_run_and_keep_cni
    ///
    /// The kubelet starts on a node: every pod bound to it gets a new
    /// sandbox, so init containers run again and every container that was
    /// running is reported terminated with reason Unknown, exit code 255
    /// (what a kubelet reports for containers lost with their node). The
    /// back-off state is in kubelet memory and starts over.
    pub(super) fn kubelet_up(&mut self, n: usize) {
        self.nodes[n].kubelet_up = true;
        // The kubelet posts its node status (addresses included) at start.
        self.dirty_nodes.insert(n);
        let boot = self.nodes[n].boot;
        let name = self.nodes[n].name.clone();
        self.note(format!("node {name}: kubelet started"));
        self.event_for_node(n, "Normal", "Starting", "Starting kubelet.");
        let keys: Vec<u64> = self.pods_on[n].iter().copied().collect();
        for k in keys {
            let Some(p) = self.pods.get_mut(&k) else {
                continue;
            };
            let changed = p.had_sandbox;
            p.sandbox = Sandbox::None;
            p.ip = if p.template.host_network {
                p.ip.clone()
            } else {
                None
            };
            let n_init = p.template.init.len();
            for (i, c) in p.ctrs.iter_mut().enumerate() {
                if let CState::Running { since } = c.state {
                    c.last = Some(CState::Terminated {
                        code: 255,
                        reason: "Unknown".into(),
                        started: since,
                        finished: self.now,
                    });
                }
                if c.runs > 0 || i < n_init {
                    let reason = if n_init > 0 {
                        "PodInitializing"
                    } else {
                        "ContainerCreating"
                    };
                    if !matches!(c.state, CState::Terminated { .. })
                        || i < n_init
                        || p.template.restart_always
                    {
                        c.state = CState::Waiting {
                            reason: reason.into(),
                            message: String::new(),
                        };
                    }
                }
                c.completed = false;
                c.starting = None;
                c.ready = false;
                c.ready_ok = false;
                c.backoff = None;
                c.not_before = 0;
                c.pid = None;
            }
            if changed {
                self.event_for_pod(
                    k,
                    "Normal",
                    "SandboxChanged",
                    "Pod sandbox changed, it will be killed and re-created.",
                    "kubelet",
                );
            }
            self.dirty_pods.insert(k);
            let d = self.rng.range(100, 1_500);
            self.sync_after(k, d);
        }
        self.heartbeat_now(n, boot);
    }

    fn heartbeat_now(&mut self, n: usize, boot: u32) {
        let d = self.rng.range(200, 800);
        self.after(d, Ev::Heartbeat { n, boot });
    }

    /// Rule `init-containers-run-in-order`: a pod's init containers run one at a time, in order, each only after the one before exited 0; a failing one is restarted with back-off and blocks the pod (`Init:CrashLoopBackOff`); app containers start after the last.
    /// Source: kubernetes/kubernetes@v1.33.7:pkg/kubelet/kuberuntime/kuberuntime_container.go (computeInitContainerActions)
    ///
    /// One pod worker sync.
    pub(super) fn sync(&mut self, k: u64) {
        let Some(p) = self.pods.get(&k) else { return };
        let Some(n) = p.node else {
            if p.deleting.is_some() {
                // Never bound: the API server removes it at once.
                self.finalize(k);
            }
            return;
        };
        if !self.nodes[n].kubelet_up {
            return;
        }
        if p.deleting.is_some() {
            self.terminate(k);
            return;
        }
        match p.sandbox {
            Sandbox::None => {
                self.start_sandbox(k, n);
                return;
            }
            Sandbox::Creating { .. } => return,
            Sandbox::Ready { .. } => {}
        }
        let n_init = p.n_init();
        for i in 0..p.ctrs.len() {
            let p = &self.pods[&k];
            let c = &p.ctrs[i];
            if i < n_init && c.completed {
                continue;
            }
            if c.starting.is_some() {
                if i < n_init {
                    return;
                }
                continue;
            }
            match c.state {
                CState::Running { .. } => {
                    if i < n_init {
                        return;
                    }
                    continue;
                }
                CState::Terminated { .. } if !p.template.restart_always && i >= n_init => continue,
                _ => {}
            }
            if c.not_before > self.now {
                let wait = c.not_before - self.now;
                self.sync_after(k, wait);
                if i < n_init {
                    return;
                }
                continue;
            }
            self.start_container(k, i);
            if i < n_init {
                return;
            }
        }
    }

    fn start_sandbox(&mut self, k: u64, n: usize) {
        let host = self.pods[&k].template.host_network;
        let attempt = {
            let p = self.pods.get_mut(&k).expect("pod exists");
            p.attempt += 1;
            p.attempt
        };
        if host {
            if let Some(p) = self.pods.get_mut(&k) {
                p.sandbox = Sandbox::Creating {
                    via_multus: false,
                    shim: None,
                    since: self.now,
                };
            }
            let d = self.rng.range(200, 700);
            self.after(d, Ev::SandboxDone { pod: k, attempt });
            return;
        }
        // The runtime loads the lexicographically first config (FACTS.md).
        let cfg = self.nodes[n]
            .first_cni_config()
            .map(|(path, f)| (path.to_string(), f.content.clone()));
        let Some((path, content)) = cfg.filter(|(_, c)| valid_config(c)) else {
            self.event_for_pod(
                k,
                "Warning",
                "NetworkNotReady",
                "network is not ready: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
                "kubelet",
            );
            if let Some(p) = self.pods.get_mut(&k) {
                p.sandbox = Sandbox::None;
            }
            let d = self.rng.jitter(SYNC_RETRY, 0.5);
            self.sync_after(k, d);
            return;
        };
        let netns = format!("cni-{}", super::world::uid(&mut self.rng));
        let mut ino = self.inode;
        self.nodes[n].write(&format!("/run/netns/{netns}"), "", 0o444, &mut ino);
        self.inode = ino;
        let _ = path;
        if content.contains("\"multus-shim\"") {
            // 00-multus.conf: the runtime executes /opt/cni/bin/multus-shim,
            // which talks to the daemon over its socket (FACTS.md #1221).
            let Some(exe) = self.nodes[n].fs.get(SHIM).map(|f| f.inode) else {
                self.sandbox_failed(k, n, "plugin type=\"multus-shim\" failed (add): failed to find plugin \"multus-shim\" in path [/opt/cni/bin]", Some(netns));
                return;
            };
            let pid =
                self.nodes[n].spawn("multus-shim", Some(exe), Owner::Cni(k, attempt), self.now);
            if let Some(p) = self.pods.get_mut(&k) {
                p.sandbox = Sandbox::Creating {
                    via_multus: true,
                    shim: Some(pid),
                    since: self.now,
                };
            }
            self.pending_netns.insert(k, netns);
            let d = self.rng.range(30, 120);
            self.after(d, Ev::ShimPoll { pod: k, attempt });
        } else {
            if let Some(p) = self.pods.get_mut(&k) {
                p.sandbox = Sandbox::Creating {
                    via_multus: false,
                    shim: None,
                    since: self.now,
                };
            }
            self.pending_netns.insert(k, netns);
            let d = self.rng.range(100, 400);
            self.after(d, Ev::SandboxDone { pod: k, attempt });
        }
    }

    /// Whether the Multus daemon answers on its socket: the socket exists and
    /// a live, not-stopped daemon serves it.
    pub(super) fn multus_serving(&self, n: usize) -> bool {
        let node = &self.nodes[n];
        node.fs.contains_key(MULTUS_SOCK) && node.running("multus-daemon")
    }

    /// Rule `multus-loads-the-cluster-network-at-every-add`: at every ADD the thick daemon loads the file `00-multus.conf`'s `clusterNetwork` names, so a missing or unreadable primary config fails every new sandbox on the node while the daemon serves.
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/k8sclient/k8sclient.go (GetDefaultNetworks, getNetDelegate)
    ///
    /// The cluster network the Multus daemon delegates to: at every ADD it
    /// loads the file `00-multus.conf`'s `clusterNetwork` names (multus-cni
    /// `pkg/k8sclient` `GetDefaultNetworks` -> `getNetDelegate`: `os.Stat`,
    /// then `LoadChainedPluginsFromFile` for a `.conflist`), so a missing or
    /// unreadable primary fails every new sandbox while the daemon serves.
    pub(super) fn multus_cluster_network(&self, n: usize) -> Result<(), String> {
        let node = &self.nodes[n];
        let path = node
            .fs
            .get(MULTUS_CONF)
            .and_then(|f| serde_json::from_str::<serde_json::Value>(&f.content).ok())
            .and_then(|v| v.get("clusterNetwork")?.as_str().map(str::to_string))
            .unwrap_or_default();
        match node.fs.get(&path) {
            None => Err(format!(
                "GetDefaultNetworks: failed to get clusterNetwork {path} in namespace kube-system: stat {path}: no such file or directory"
            )),
            Some(f) if !valid_config(&f.content) => Err(format!(
                "GetDefaultNetworks: failed to get clusterNetwork {path} in namespace kube-system: error loading CNI conflist file {path}: error parsing configuration list: unexpected end of JSON input"
            )),
            Some(_) => Ok(()),
        }
    }

    /// Rule `kube-ovn-static-ip-annotation`: a pod on the pod network gets the next free address of its Subnet (the twin's default `10.16.0.0/16`), unless it asks for one with `ovn.kubernetes.io/ip_address`, which kube-ovn-controller hands out as it is; a host-network pod has its node's address. The model takes the address as given: it neither checks it against the Subnet `ovn.kubernetes.io/logical_switch` names nor puts the pod's port on that Subnet's logical switch.
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/util/const.go (IPAddressAnnotationTemplate %s.kubernetes.io/ip_address, LogicalSwitchAnnotation)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/pod.go (acquireAddress: a static address from the ip_address annotation, else the Subnet's next free one)
    ///
    /// The address of pod `k`'s new sandbox on node `n`.
    fn primary_ip(&mut self, k: u64, n: usize, host: bool) -> String {
        if host {
            return self.nodes[n].ip.clone();
        }
        if let Some(ip) = self.pods.get(&k).and_then(|p| {
            p.template
                .annotations
                .get(super::spec::IP_ADDRESS_ANNOTATION)
        }) {
            return ip.clone();
        }
        self.next_pod_ip += 1;
        let i = self.next_pod_ip;
        format!("10.16.{}.{}", (i / 254) % 256, i % 254 + 1)
    }

    /// Rule `kube-ovn-add-needs-cni-server-and-ovs`: the `kube-ovn` plugin asks the cni-server over its socket, which configures the pod's port in OVS, so an ADD needs the binary, a serving cni-server and a running OVS.
    /// Source: kubeovn/kube-ovn@v1.14.41:cmd/cni/cni.go (cmdAdd: request to the server socket)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/daemon/handler.go (handleAdd: configureNic through ovs-vsctl)
    ///
    /// Whether a Kube-OVN CNI ADD can succeed: the cni-server socket is
    /// served and OVS is up (the cni-server configures the port in OVS).
    pub(super) fn kube_ovn_add(&self, n: usize) -> Result<(), String> {
        let node = &self.nodes[n];
        if !node.fs.contains_key("/opt/cni/bin/kube-ovn") {
            return Err("failed to find plugin \"kube-ovn\" in path [/opt/cni/bin]".into());
        }
        if !node.fs.contains_key(CNI_SERVER_SOCK) || !node.running("kube-ovn-daemon") {
            return Err(format!(
                "plugin type=\"kube-ovn\" failed (add): RPC failed; request ip return 500 dial unix {CNI_SERVER_SOCK}: connect: no such file or directory"
            ));
        }
        if !self.ovs_healthy(n) {
            return Err("plugin type=\"kube-ovn\" failed (add): RPC failed; request ip return 500 failed to configure nic: ovs-vsctl: unix:/var/run/openvswitch/db.sock: database connection failed".into());
        }
        Ok(())
    }

    /// Rule `kube-ovn-attachment-needs-its-subnet`: an attachment whose delegate is `kube-ovn` gets its address from the Subnet whose `provider` is the attachment's (`<nad>.<namespace>.ovn`): kube-ovn-controller allocates it there; without such a Subnet nothing is allocated and the cni-server fails the ADD.
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/controller/pod.go (getPodAttachmentNet: the subnet whose Spec.Provider is the attachment's provider)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/daemon/handler.go (handleAdd: waits 20 x 1 s for the allocated annotation, then "no address allocated to pod")
    ///
    /// The model fails the ADD at once instead of after the cni-server's
    /// 20 s wait. The delegate's ADD itself goes to the same cni-server as
    /// the primary network's, which the caller has checked.
    pub(super) fn kube_ovn_attachments(
        &self,
        p: &super::world::Pod,
        keys: &[String],
    ) -> Result<(), String> {
        for key in keys {
            let Some(Some(provider)) = self.nads.get(key) else {
                continue;
            };
            if !self.subnet_providers.values().any(|s| s == provider) {
                return Err(format!(
                    "Multus: [{}/{}/{}]: error adding container to network \"{}\": plugin type=\"kube-ovn\" failed (add): RPC failed; request ip return 500 no address allocated to pod {}/{} provider {provider}, please see kube-ovn-controller logs to find errors",
                    p.namespace,
                    p.name,
                    p.uid,
                    key.rsplit('/').next().unwrap_or(key),
                    p.namespace,
                    p.name
                ));
            }
        }
        Ok(())
    }

    /// ovsdb-server and ovs-vswitchd run and are not stopped.
    pub(super) fn ovs_healthy(&self, n: usize) -> bool {
        let node = &self.nodes[n];
        node.running("ovsdb-server")
            && node.running("ovs-vswitchd")
            && node.fs.contains_key(super::node::OVSDB_SOCK)
    }

    pub(super) fn shim_poll(&mut self, k: u64, attempt: u32) {
        let Some(p) = self.pods.get(&k) else { return };
        if p.attempt != attempt {
            return;
        }
        let Sandbox::Creating {
            shim: Some(pid),
            since,
            ..
        } = p.sandbox
        else {
            return;
        };
        let Some(n) = p.node else { return };
        if !self.nodes[n].active() {
            return;
        }
        if self.nodes[n].proc(pid).is_none() {
            // The shim was killed (by a fault): the ADD fails.
            self.sandbox_failed(
                k,
                n,
                "plugin type=\"multus-shim\" failed (add): signal: killed",
                None,
            );
            return;
        }
        if self.multus_serving(n) {
            let d = self.rng.range(80, 400);
            self.after(d, Ev::SandboxDone { pod: k, attempt });
            return;
        }
        if self.now.saturating_sub(since) >= SHIM_API_READY_TIMEOUT {
            // WaitUntilAPIReady gave up; CmdAdd (shim) returns its error and
            // the shim exits, releasing the binary.
            self.nodes[n].procs.remove(&pid);
            let pod = format!("{}/{}", p.namespace, p.name);
            self.note(format!(
                "node {}: multus-shim pid {pid} for {pod} gave up waiting for {MULTUS_SOCK} after 60 s",
                self.nodes[n].name
            ));
            self.sandbox_failed(
                k,
                n,
                "plugin type=\"multus-shim\" name=\"multus-cni-network\" failed (add): CmdAdd (shim): timed out waiting for the condition",
                None,
            );
            return;
        }
        if p.attempt == attempt && self.now.saturating_sub(since) < 2 * SHIM_POLL {
            let pod = format!("{}/{}", p.namespace, p.name);
            self.note(format!("node {}: multus-shim pid {pid} for {pod} waits for {MULTUS_SOCK} (holds {SHIM} open)", self.nodes[n].name));
        }
        let left = SHIM_API_READY_TIMEOUT - self.now.saturating_sub(since);
        self.after(SHIM_POLL.min(left), Ev::ShimPoll { pod: k, attempt });
    }

    /// A RunPodSandbox call completes: the network is set up through
    /// Multus or straight through Kube-OVN, or the sandbox fails.
    ///
    /// Rule `no-secondary-networks-before-multus`: a sandbox created while the first CNI config is Kube-OVN's (Multus not yet in front) gets only the primary network and never its secondary interfaces, until the pod is re-created.
    /// Source: FACTS.md (Multus facts: multus-cni #1387)
    ///
    /// Rule `missing-nad-fails-the-add`: Multus fails the ADD of a pod whose NetworkAttachmentDefinition does not exist.
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/k8sclient/k8sclient.go (getKubernetesDelegate: cannot find a network-attachment-definition)
    pub(super) fn sandbox_done(&mut self, k: u64, attempt: u32) {
        let Some(p) = self.pods.get(&k) else { return };
        if p.attempt != attempt {
            return;
        }
        let Sandbox::Creating {
            via_multus, shim, ..
        } = p.sandbox.clone()
        else {
            return;
        };
        let Some(n) = p.node else { return };
        // The runtime is stopped while the node shuts down.
        if !self.nodes[n].active() {
            return;
        }
        let host = p.template.host_network;
        let attachments = p.template.attachments(&p.namespace);
        let keys: Vec<String> = attachments
            .iter()
            .map(super::spec::Attachment::key)
            .collect();
        if let Some(pid) = shim {
            self.nodes[n].procs.remove(&pid);
        }
        let result = if host {
            Ok(None)
        } else if via_multus {
            if !self.multus_serving(n) {
                Err("plugin type=\"multus-shim\" failed (add): CmdAdd (shim): CNI request failed with status 400: connection refused".to_string())
            } else if let Err(e) = self.multus_cluster_network(n) {
                Err(format!(
                    "plugin type=\"multus-shim\" name=\"multus-cni-network\" failed (add): CmdAdd (shim): CNI request failed with status 400: 'ContainerID:\"{}\" Netns:\"\" IfName:\"eth0\" Args:\"\" Path:\"\" ERRORED: error configuring pod [{}/{}] networking: {e}'",
                    p.uid, p.namespace, p.name
                ))
            } else {
                self.kube_ovn_add(n)
                    .map_err(|e| format!("plugin type=\"multus-shim\" name=\"multus-cni-network\" failed (add): [{}/{}:kube-ovn]: error adding container to network \"kube-ovn\": {e}", p.namespace, p.name))
                    .and_then(|()| {
                        match keys.iter().find(|a| !self.nads.contains_key(*a)) {
                            Some(missing) => Err(format!("Multus: [{}/{}]: error loading k8s delegates k8s args: TryLoadPodDelegates: error in getting k8s network for pod: GetNetworkDelegates: failed getting the delegate: getKubernetesDelegate: cannot find a network-attachment-definition ({missing}) in namespace", p.namespace, p.name)),
                            None => self.kube_ovn_attachments(p, &keys).map(|()| Some(attachments.clone())),
                        }
                    })
            }
        } else {
            // Straight to Kube-OVN: no Multus, so no secondary interfaces
            // (multus-cni #1387).
            self.kube_ovn_add(n).map(|()| None)
        };
        match result {
            Ok(att) => {
                let netns = self.pending_netns.remove(&k);
                let ip = self.primary_ip(k, n, host);
                let interfaces = Self::sandbox_interfaces(host, att.as_deref());
                let status = att.map(|att| super::render::network_status(&ip, &att));
                if let Some(p) = self.pods.get_mut(&k) {
                    p.sandbox = Sandbox::Ready { netns, interfaces };
                    // A new network namespace: no NAT rules, no EIPs.
                    p.nat = Default::default();
                    p.had_sandbox = true;
                    p.ip = Some(ip);
                    // Only Multus writes the annotation: an ADD straight
                    // through Kube-OVN leaves what an earlier sandbox's
                    // Multus ADD wrote (see `sandbox_interfaces`).
                    if status.is_some() {
                        p.network_status = status;
                    }
                }
                self.dirty_pods.insert(k);
                self.sync(k);
            }
            Err(e) => self.sandbox_failed(k, n, &e, None),
        }
    }

    /// The links in a pod's new sandbox network namespace.
    ///
    /// Rule `cni-first-config-wins-1387`: the runtime runs CNI ADD through the lexicographically first
    /// config in `/etc/cni/net.d`; when `00-multus.conf` is absent (Multus deletes it on its clean
    /// exit and has not rewritten it since the node booted), the ADD goes straight to the Kube-OVN
    /// conflist and the sandbox gets `eth0` only, whatever networks the pod asks for, until the pod
    /// is deleted (multus-cni #1387).
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/server/config/manager.go (Start)
    ///
    /// Rule `multus-delegates-interfaces`: a CNI ADD through Multus runs the cluster network's
    /// delegate for `eth0`, then one delegate per requested network, each into its own interface.
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/multus/multus.go (CmdAdd)
    ///
    /// Rule `multus-network-status-stale`: only a Multus ADD writes the `network-status` annotation
    /// (a DEL does not clear it), so a sandbox re-created straight through Kube-OVN keeps the
    /// annotation the pod's previous sandbox got, listing interfaces its namespace lacks.
    /// Source: k8snetworkplumbingwg/multus-cni@v4.2.1:pkg/multus/multus.go (CmdDel)
    fn sandbox_interfaces(
        host: bool,
        attachments: Option<&[super::spec::Attachment]>,
    ) -> Vec<String> {
        if host {
            return Vec::new();
        }
        let mut links = vec!["lo".to_string(), "eth0".to_string()];
        for (i, a) in attachments.unwrap_or_default().iter().enumerate() {
            links.push(a.interface_at(i));
        }
        links
    }

    fn sandbox_failed(&mut self, k: u64, n: usize, err: &str, netns: Option<String>) {
        let netns = netns.or_else(|| self.pending_netns.remove(&k));
        if let Some(ns) = netns {
            self.nodes[n].remove(&format!("/run/netns/{ns}"));
        }
        let id = self.rng.hex(64);
        let msg = format!(
            "Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox \"{id}\": {err}"
        );
        let msg = if err.starts_with("rpc error") {
            format!("Failed to create pod sandbox: {err}")
        } else {
            msg
        };
        self.event_for_pod(k, "Warning", "FailedCreatePodSandBox", &msg, "kubelet");
        if let Some(p) = self.pods.get_mut(&k) {
            p.sandbox = Sandbox::None;
        }
        let deleting = self.pods.get(&k).is_some_and(|p| p.deleting.is_some());
        if deleting {
            self.terminate(k);
            return;
        }
        let d = self.rng.jitter(SYNC_RETRY, 0.5);
        self.sync_after(k, d);
    }

    /// The kubelet asks the runtime to create and start a container;
    /// containerd and runc take a moment (`CONTAINER_START`) before the
    /// process runs.
    pub(super) fn start_container(&mut self, k: u64, i: usize) {
        let Some(p) = self.pods.get(&k) else { return };
        let n_init = p.n_init();
        let spec = if i < n_init {
            p.template.init[i].clone()
        } else {
            p.template.containers[i - n_init].clone()
        };
        let run = p.ctrs[i].runs + 1;
        if let Some(p) = self.pods.get_mut(&k) {
            p.ctrs[i].starting = Some(run);
        }
        let image = spec.image.clone();
        self.event_for_pod(
            k,
            "Normal",
            "Pulled",
            &format!("Container image \"{image}\" already present on machine"),
            "kubelet",
        );
        self.event_for_pod(
            k,
            "Normal",
            "Created",
            &format!("Created container: {}", spec.name),
            "kubelet",
        );
        let d = self.rng.range(CONTAINER_START.0, CONTAINER_START.1);
        self.after(d, Ev::Started { pod: k, c: i, run });
    }

    /// The container's process runs.
    pub(super) fn container_started(&mut self, k: u64, i: usize, run: u32) {
        let Some(p) = self.pods.get(&k) else { return };
        let Some(n) = p.node else { return };
        if p.ctrs[i].starting != Some(run) || p.deleting.is_some() || !self.nodes[n].kubelet_up {
            return;
        }
        let n_init = p.n_init();
        let spec = if i < n_init {
            p.template.init[i].clone()
        } else {
            p.template.containers[i - n_init].clone()
        };
        let id = self.rng.hex(64);
        let pid = self.nodes[n].spawn(
            &comm(&spec.program, &spec.name),
            None,
            Owner::Container(k, i, run),
            self.now,
        );
        if let Some(p) = self.pods.get_mut(&k) {
            let c = &mut p.ctrs[i];
            c.runs = run;
            c.starting = None;
            c.state = CState::Running { since: self.now };
            c.pid = Some(pid);
            c.id = id;
            c.ready = spec.readiness.is_none() && i >= n_init;
            c.ready_ok = false;
            c.ready_fails = 0;
            c.live_fails = 0;
            c.stage = 0;
            c.tries = 0;
        }
        self.event_for_pod(
            k,
            "Normal",
            "Started",
            &format!("Started container {}", spec.name),
            "kubelet",
        );
        self.dirty_pods.insert(k);
        if let Some(r) = &spec.readiness {
            let d = r.initial_delay + self.rng.range(0, 1_000);
            self.after(
                d,
                Ev::Probe {
                    pod: k,
                    c: i,
                    run,
                    live: false,
                },
            );
        }
        if let Some(l) = &spec.liveness {
            let d = l.initial_delay + self.rng.range(0, 1_000);
            self.after(
                d,
                Ev::Probe {
                    pod: k,
                    c: i,
                    run,
                    live: true,
                },
            );
        }
        self.program_start(k, i, run, n);
        self.reconcile_soon();
    }

    /// Rule `container-restart-backoff`: a container that exits is restarted at once the first time, then after 10 s doubling to a cap of 300 s, shown as `back-off 2m40s restarting failed container=...`; a run of 10 minutes resets the back-off.
    /// Source: kubernetes/kubernetes@v1.33.7:pkg/kubelet/kubelet.go (containerBackOffPeriod, MaxContainerBackOff)
    /// Source: kubernetes/kubernetes@v1.33.7:staging/src/k8s.io/client-go/util/flowcontrol/backoff.go (Next, hasExpired after 2 x max)
    /// Source: kubernetes/kubernetes@v1.33.7:pkg/kubelet/kuberuntime/kuberuntime_manager.go (doBackOff: the message)
    ///
    /// A container's process exited with `code`. Restarts follow the
    /// back-off: the first restart is immediate, later ones wait 10 s,
    /// doubling to 300 s; a container that ran 10 min starts over
    /// (FACTS.md "Kubernetes facts").
    pub(super) fn container_exited(&mut self, k: u64, i: usize, code: i32, reason: &str) {
        let Some(p) = self.pods.get_mut(&k) else {
            return;
        };
        let Some(n) = p.node else { return };
        let run = p.ctrs[i].runs;
        let n_init = p.n_init();
        let name = if i < n_init {
            p.template.init[i].name.clone()
        } else {
            p.template.containers[i - n_init].name.clone()
        };
        let pod_ref = format!("{}_{}({})", p.name, p.namespace, p.uid);
        let restart_always = p.template.restart_always;
        let c = &mut p.ctrs[i];
        let CState::Running { since } = c.state else {
            return;
        };
        let term = CState::Terminated {
            code,
            reason: reason.into(),
            started: since,
            finished: self.now,
        };
        c.ready = false;
        c.pid = None;
        if self.now - since >= BACKOFF_RESET {
            c.backoff = None;
        }
        let init_ok = i < n_init && code == 0;
        c.completed = init_ok;
        let restarts = !init_ok && (restart_always || (i < n_init && code != 0));
        let mut backoff_msg = None;
        if restarts {
            let (wait, next) = match c.backoff {
                None => (0, BACKOFF_INITIAL),
                Some(b) => (b, (b * 2).min(BACKOFF_MAX)),
            };
            c.backoff = Some(next);
            c.not_before = self.now + wait;
            c.last = Some(term);
            if wait > 0 {
                let msg = format!(
                    "back-off {} restarting failed container={name} pod={pod_ref}",
                    go_duration(wait)
                );
                c.state = CState::Waiting {
                    reason: "CrashLoopBackOff".into(),
                    message: msg,
                };
                backoff_msg = Some(format!(
                    "Back-off restarting failed container {name} in pod {pod_ref}"
                ));
            } else {
                c.state = term_clone(&c.last);
            }
        } else {
            c.state = term;
        }
        self.nodes[n].kill_owned(Owner::Container(k, i, run));
        if let Some(m) = backoff_msg {
            self.event_for_pod(k, "Warning", "BackOff", &m, "kubelet");
        }
        self.dirty_pods.insert(k);
        self.reconcile_soon();
        let d = self.rng.range(50, 400);
        self.sync_after(k, d);
    }

    /// Rule `probes-act-after-their-failure-threshold`: a probe runs every period after its initial delay; `failureThreshold` consecutive readiness failures make the container unready, as many liveness failures make the kubelet kill it (exit 137) and restart it with back-off; each failure is an `Unhealthy` event.
    /// Source: kubernetes/kubernetes@v1.33.7:pkg/kubelet/prober/worker.go (doProbe: initialDelaySeconds, failureThreshold, resultRun)
    /// Source: kubernetes/kubernetes@v1.33.7:pkg/kubelet/kuberuntime/kuberuntime_manager.go (computePodActions: liveness failure kills the container)
    pub(super) fn probe(&mut self, k: u64, i: usize, run: u32, live: bool) {
        let Some(p) = self.pods.get(&k) else { return };
        let Some(n) = p.node else { return };
        if p.ctrs[i].runs != run
            || !matches!(p.ctrs[i].state, CState::Running { .. })
            || !self.nodes[n].kubelet_up
            || p.deleting.is_some()
        {
            return;
        }
        let n_init = p.n_init();
        let spec = &p.template.containers[i - n_init];
        let Some(ps) = (if live {
            spec.liveness.clone()
        } else {
            spec.readiness.clone()
        }) else {
            return;
        };
        let name = spec.name.clone();
        let result = self.health(k, i, live);
        let p = self.pods.get_mut(&k).expect("pod exists");
        let c = &mut p.ctrs[i];
        let mut events = Vec::new();
        let mut kill = false;
        match (&result, live) {
            (Ok(()), false) => {
                c.ready_fails = 0;
                c.ready_ok = true;
                if !c.ready {
                    c.ready = true;
                    self.dirty_pods.insert(k);
                    self.reconcile_soon();
                }
            }
            (Ok(()), true) => c.live_fails = 0,
            (Err(e), false) => {
                c.ready_fails += 1;
                events.push(("Unhealthy", format!("Readiness probe failed: {e}")));
                if c.ready_fails >= ps.failure_threshold && c.ready {
                    c.ready = false;
                    self.dirty_pods.insert(k);
                    self.reconcile_soon();
                }
            }
            (Err(e), true) => {
                c.live_fails += 1;
                events.push(("Unhealthy", format!("Liveness probe failed: {e}")));
                if c.live_fails >= ps.failure_threshold {
                    events.push((
                        "Killing",
                        format!("Container {name} failed liveness probe, will be restarted"),
                    ));
                    kill = true;
                }
            }
        }
        for (reason, msg) in events {
            let t = if reason == "Killing" {
                "Normal"
            } else {
                "Warning"
            };
            self.event_for_pod(k, t, reason, &msg, "kubelet");
        }
        if kill {
            self.container_exited(k, i, 137, "Error");
            return;
        }
        self.after(
            ps.period,
            Ev::Probe {
                pod: k,
                c: i,
                run,
                live,
            },
        );
    }

    /// A pod deletion reached the kubelet: stop containers (SIGTERM, so
    /// programs run their clean shutdown), tear down the sandbox, then
    /// remove the pod. A RunPodSandbox in flight is waited for. A container
    /// whose main process is frozen (SIGSTOP) cannot act on the SIGTERM:
    /// it keeps running until the pod's grace period is over, when the
    /// kubelet SIGKILLs it ([`World::grace_over`]).
    ///
    /// Rule `kubelet-stop-sends-no-sigcont`: the kubelet stops a container through the runtime with SIGTERM, then SIGKILL after the grace period, and no SIGCONT, so a frozen (SIGSTOPped) process dies without its clean exit.
    /// Source: containerd/containerd@v2.1.1:internal/cri/server/container_stop.go (stopContainer: stop signal, wait, then SIGKILL)
    /// Source: kubernetes/kubernetes@v1.33.7:pkg/kubelet/kuberuntime/kuberuntime_container.go (killContainer: StopContainer with the grace period)
    /// Pinned by: harness/tests/node_systemd.rs::kubelet_style_delete_of_a_frozen_daemon_runs_no_cleanup
    pub(super) fn terminate(&mut self, k: u64) {
        let Some(p) = self.pods.get(&k) else { return };
        let Some(n) = p.node else {
            self.finalize(k);
            return;
        };
        if !self.nodes[n].kubelet_up
            || matches!(p.sandbox, Sandbox::Creating { .. })
            || p.killing_at.is_some()
        {
            return;
        }
        let n_init = p.n_init();
        let running: Vec<(usize, String)> = p
            .ctrs
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c.state, CState::Running { .. }))
            .map(|(i, _)| {
                (
                    i,
                    if i < n_init {
                        p.template.init[i].name.clone()
                    } else {
                        p.template.containers[i - n_init].name.clone()
                    },
                )
            })
            .collect();
        let mut held = false;
        for (i, name) in running {
            self.event_for_pod(
                k,
                "Normal",
                "Killing",
                &format!("Stopping container {name}"),
                "kubelet",
            );
            if self.main_frozen(k, i, n) {
                held = true;
                continue;
            }
            self.clean_exit(k, i, n);
            let code = if i < n_init { 137 } else { 0 };
            self.stop_container(k, i, n, code);
        }
        let grace = self.pods.get(&k).map_or(0, |p| {
            u64::try_from(p.template.grace_s.max(0)).unwrap_or(0) * 1000
        });
        if let Some(p) = self.pods.get_mut(&k) {
            p.deleting = p.deleting.or(Some(self.now));
            p.sync_at = None;
            if held {
                p.killing_at = Some(self.now + grace);
            }
        }
        self.dirty_pods.insert(k);
        if held {
            self.after(grace, Ev::GraceOver { pod: k });
            return;
        }
        let d = self.rng.range(300, 1_500);
        self.after(d, Ev::Finalize { pod: k });
    }

    /// Whether container `i`'s main process is stopped (state T).
    fn main_frozen(&self, k: u64, i: usize, n: usize) -> bool {
        self.pods[&k].ctrs[i]
            .pid
            .and_then(|pid| self.nodes[n].proc(pid))
            .is_some_and(|p| p.stopped)
    }

    /// A running container ends with `code`; its processes are killed.
    fn stop_container(&mut self, k: u64, i: usize, n: usize, code: i32) {
        let Some(p) = self.pods.get_mut(&k) else {
            return;
        };
        let c = &mut p.ctrs[i];
        if let CState::Running { since } = c.state {
            c.state = CState::Terminated {
                code,
                reason: if code == 0 { "Completed" } else { "Error" }.into(),
                started: since,
                finished: self.now,
            };
            let run = c.runs;
            c.ready = false;
            self.nodes[n].kill_owned(Owner::Container(k, i, run));
        }
    }

    /// A deleted pod's grace period is over: the kubelet SIGKILLs the
    /// containers still running (no cleanup: a SIGKILL is not a clean
    /// exit, and a frozen process never saw its SIGTERM), then the pod
    /// goes.
    pub(super) fn grace_over(&mut self, k: u64) {
        let Some(p) = self.pods.get(&k) else { return };
        let Some(n) = p.node else { return };
        if p.killing_at.is_none_or(|t| t > self.now) {
            return;
        }
        let running: Vec<usize> = p
            .ctrs
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c.state, CState::Running { .. }))
            .map(|(i, _)| i)
            .collect();
        let node = self.nodes[n].name.clone();
        let pod = p.name.clone();
        for i in running {
            self.note(format!(
                "node {node}: grace period of {pod} over; SIGKILL of container {i}, which did not stop on SIGTERM"
            ));
            self.stop_container(k, i, n, 137);
        }
        self.dirty_pods.insert(k);
        let d = self.rng.range(300, 1_500);
        self.after(d, Ev::Finalize { pod: k });
    }

    pub(super) fn finalize(&mut self, k: u64) {
        let Some(p) = self.pods.get(&k) else { return };
        if p.deleting.is_none() {
            return;
        }
        if let (
            Some(n),
            Sandbox::Ready {
                netns: Some(ns), ..
            },
        ) = (p.node, &p.sandbox)
        {
            let path = format!("/run/netns/{ns}");
            self.nodes[n].remove(&path);
        }
        let (ns, name) = (p.namespace.clone(), p.name.clone());
        self.forget(k);
        self.remove("pods", &ns, &name);
    }

    /// A graceful deletion arrived through the API (the store already set
    /// `deletionTimestamp`).
    pub fn api_delete_pod(&mut self, namespace: &str, name: &str) -> bool {
        let Some(k) = self.pod_key(namespace, name) else {
            return false;
        };
        let p = self.pods.get_mut(&k).expect("indexed pod exists");
        if p.deleting.is_some() {
            return true;
        }
        p.deleting = Some(self.now);
        self.dirty_pods.insert(k);
        self.reconcile_soon();
        let d = self.rng.range(10, 100);
        self.sync_after(k, d);
        true
    }

    /// A pod was removed through the API at once (grace period 0): its
    /// processes are killed and the model forgets it.
    pub fn api_pod_removed(&mut self, namespace: &str, name: &str) {
        let Some(k) = self.pod_key(namespace, name) else {
            return;
        };
        if let Some(n) = self.pods[&k].node {
            let runs: Vec<(usize, u32)> = self.pods[&k]
                .ctrs
                .iter()
                .enumerate()
                .map(|(i, c)| (i, c.runs))
                .collect();
            for (i, run) in runs {
                self.nodes[n].kill_owned(Owner::Container(k, i, run));
            }
        }
        self.forget(k);
    }

    /// A pod created through the API (a probe pod, `kubectl run`): it goes
    /// through the same scheduler, kubelet and CNI path as every other pod.
    pub fn api_create_pod(&mut self, pod: &serde_json::Value) {
        let ns = pod
            .pointer("/metadata/namespace")
            .and_then(|v| v.as_str())
            .unwrap_or("default")
            .to_string();
        let name = pod
            .pointer("/metadata/name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        if name.is_empty() || self.pod_key(&ns, &name).is_some() {
            return;
        }
        let uid = pod
            .pointer("/metadata/uid")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        let template = super::spec::PodTemplate::from_pod(pod);
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(|v| v.as_str())
            .and_then(|n| self.nodes.iter().position(|x| x.name == n));
        let k = self.add_pod(ns, name, template, None, uid);
        if let Some(p) = self.pods.get_mut(&k) {
            p.from_api = true;
        }
        if let Some(n) = node {
            if let Some(p) = self.pods.get_mut(&k) {
                p.node = Some(n);
                p.scheduled = Some(self.now);
            }
            self.pods_on[n].insert(k);
            self.unschedule_done(k);
            self.sync_after(k, 50);
        }
    }

    /// Marks a node (un)schedulable (kubectl cordon through the API).
    pub fn api_node_unschedulable(&mut self, name: &str, unschedulable: bool) {
        if let Some(n) = self.nodes.iter().position(|x| x.name == name) {
            self.nodes[n].unschedulable = unschedulable;
            self.reconcile_soon();
        }
    }
}

fn term_clone(last: &Option<CState>) -> CState {
    last.clone().unwrap_or(CState::Waiting {
        reason: "ContainerCreating".into(),
        message: String::new(),
    })
}

fn comm(program: &super::spec::Program, name: &str) -> String {
    use super::spec::Program;
    match program {
        Program::OvsOvn => "start-ovs.sh".into(),
        Program::CniServer => "kube-ovn-daemon".into(),
        Program::MultusDaemon(_) => "multus-daemon".into(),
        Program::InstallMultus(_) => "cp".into(),
        Program::InstallCni => "install-cni.sh".into(),
        _ => name.chars().take(15).collect(),
    }
}

/// Whole seconds the way Go's `time.Duration.String` prints them, as the
/// kubelet's back-off message does: `10s`, `2m40s`, `5m0s`, `1h0m0s`.
pub fn go_duration(ms: Ms) -> String {
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m}m{s}s")
    } else if m > 0 {
        format!("{m}m{s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::go_duration;

    #[test]
    fn back_off_durations_print_like_go() {
        assert_eq!(go_duration(10_000), "10s");
        assert_eq!(go_duration(160_000), "2m40s");
        assert_eq!(go_duration(300_000), "5m0s");
        assert_eq!(go_duration(3_600_000), "1h0m0s");
    }
}
