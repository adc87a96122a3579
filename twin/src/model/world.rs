//! [`World`]: the discrete-event simulation. Nodes, pods, controllers and a
//! queue of timed events on a virtual millisecond clock; every write goes to
//! an output buffer that a [`Sink`](super::Sink) drains.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};

use jiff::Timestamp;
use serde_json::Value;

use super::node::{Node, Role};
use super::profile::VersionProfile;
use super::rng::{Ms, Rng};
use super::sink::{Output, Sink};
use super::spec::{PodTemplate, Workload, WorkloadKind, catalogue};
use crate::clock::default_epoch;

/// How the model is set up.
#[derive(Clone, Debug)]
pub struct ModelConfig {
    /// Cluster name; nodes are `<cluster>-control-plane`, `<cluster>-worker`, ...
    pub cluster: String,
    /// Number of workers.
    pub workers: usize,
    /// Seed for every timing, name suffix and IP choice.
    pub seed: u64,
    /// Versions and the mechanisms they switch.
    pub profile: VersionProfile,
    /// Probability that a restarted node gets a new InternalIP (kind #2045).
    /// Default 0.
    pub ip_reassign_probability: f64,
    /// Run a VPC NAT gateway on the first worker. Default true.
    pub nat_gateway: bool,
    /// Extra pods (a Deployment `default/load`), for benchmarks. Default 0.
    pub load_pods: u32,
    /// Multus `readinessindicatorfile`, off by default (FACTS.md).
    pub readiness_indicator_file: Option<String>,
    /// Virtual time at model time 0.
    pub epoch: Timestamp,
}

impl ModelConfig {
    /// One control plane and two workers, seed 1.
    pub fn new(cluster: &str, profile: VersionProfile) -> Self {
        ModelConfig {
            cluster: cluster.to_string(),
            workers: 2,
            seed: 1,
            profile,
            ip_reassign_probability: 0.0,
            nat_gateway: true,
            load_pods: 0,
            readiness_indicator_file: None,
            epoch: default_epoch(),
        }
    }
}

/// How many runs of a container keep their log.
const LOG_RUNS: usize = 2;
/// How many lines a run's log keeps.
const LOG_LINES: usize = 200;

/// A scheduled event. Events carry the generation (node boot, container
/// run, sandbox attempt) they belong to and are dropped when it is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Ev {
    /// `docker start` finished: the node container runs.
    NodeStart { n: usize },
    /// An orderly shutdown finished: every process exited.
    NodeStopped { n: usize, boot: u32 },
    /// Docker's stop timeout ran out during an orderly shutdown.
    StopTimeout { n: usize, boot: u32 },
    /// A process finished the exit the shutdown's SIGTERM started.
    ProcExit { n: usize, boot: u32, pid: u32 },
    /// systemd started containerd and the kubelet.
    KubeletUp { n: usize, boot: u32 },
    /// The kubelet's node status update (every 10 s).
    Heartbeat { n: usize, boot: u32 },
    /// The node lifecycle controller's check (every 5 s).
    NodeMonitor,
    /// Controllers and scheduler.
    Reconcile,
    /// A kubelet pod worker sync.
    Sync { pod: u64 },
    /// A RunPodSandbox call completes.
    SandboxDone { pod: u64, attempt: u32 },
    /// A blocked multus-shim checks for the daemon socket.
    ShimPoll { pod: u64, attempt: u32 },
    /// A multus-shim started by hand (`docker exec`) checks for the daemon.
    ExecShimPoll {
        n: usize,
        boot: u32,
        pid: u32,
        since: Ms,
    },
    /// The runtime finished starting a container.
    Started { pod: u64, c: usize, run: u32 },
    /// A container program's next step.
    Tick { pod: u64, c: usize, run: u32 },
    /// A probe is due.
    Probe {
        pod: u64,
        c: usize,
        run: u32,
        live: bool,
    },
    /// Sandbox torn down after termination: the kubelet removes the pod.
    Finalize { pod: u64 },
    /// A deleted pod's grace period ran out: the kubelet SIGKILLs what its
    /// SIGTERM did not stop.
    GraceOver { pod: u64 },
    /// A pass of kube-ovn-controller's logical switch port GC.
    LspGc { pod: u64, c: usize, run: u32 },
    /// A pass of kube-ovn-cni's OVS Interface GC.
    IfaceGc { pod: u64, c: usize, run: u32 },
}

/// A container's state as the kubelet reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum CState {
    Waiting {
        reason: String,
        message: String,
    },
    Running {
        since: Ms,
    },
    Terminated {
        code: i32,
        reason: String,
        started: Ms,
        finished: Ms,
    },
}

/// One container of a pod, across restarts.
#[derive(Clone, Debug)]
pub(super) struct Ctr {
    pub state: CState,
    pub last: Option<CState>,
    /// Starts so far (restartCount is runs − 1).
    pub runs: u32,
    pub ready: bool,
    /// Init container finished with 0 in the current sandbox.
    pub completed: bool,
    /// Current back-off period; none until the first exit.
    pub backoff: Option<Ms>,
    /// Earliest restart.
    pub not_before: Ms,
    pub ready_fails: u32,
    pub ready_ok: bool,
    pub live_fails: u32,
    /// Program step and retry counter.
    pub stage: u32,
    pub tries: u32,
    pub pid: Option<u32>,
    pub id: String,
    /// A start of this run number is in flight.
    pub starting: Option<u32>,
    /// A long-lived client's connection to each server pod (by pod key),
    /// for the current run.
    pub peers: std::collections::BTreeMap<u64, super::longlived::Peer>,
}

impl Ctr {
    fn new(reason: &str) -> Self {
        Ctr {
            state: CState::Waiting {
                reason: reason.into(),
                message: String::new(),
            },
            last: None,
            runs: 0,
            ready: false,
            completed: false,
            backoff: None,
            not_before: 0,
            ready_fails: 0,
            ready_ok: false,
            live_fails: 0,
            stage: 0,
            tries: 0,
            pid: None,
            id: String::new(),
            starting: None,
            peers: std::collections::BTreeMap::new(),
        }
    }
}

/// The sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Sandbox {
    None,
    /// RunPodSandbox in flight; `shim` is the blocked multus-shim's PID.
    Creating {
        via_multus: bool,
        shim: Option<u32>,
        since: Ms,
    },
    /// The sandbox runs. `netns` is its network namespace under `/run/netns`
    /// (none for host-network pods); `interfaces` are the links in it, as
    /// `ip -o link` in that namespace lists them (`lo`, `eth0`, `net1`, ...).
    Ready {
        netns: Option<String>,
        interfaces: Vec<String>,
    },
}

/// A pod as the model knows it.
#[derive(Clone, Debug)]
pub(super) struct Pod {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub owner: Option<usize>,
    pub template: PodTemplate,
    pub node: Option<usize>,
    pub created: Ms,
    pub scheduled: Option<Ms>,
    pub ip: Option<String>,
    pub sandbox: Sandbox,
    pub attempt: u32,
    pub had_sandbox: bool,
    pub network_status: Option<String>,
    pub ctrs: Vec<Ctr>,
    pub deleting: Option<Ms>,
    /// When the kubelet SIGKILLs the containers its SIGTERM did not stop
    /// (a frozen main process), after the pod's grace period.
    pub killing_at: Option<Ms>,
    pub node_lost: bool,
    pub sync_at: Option<Ms>,
    /// Condition (type → status, lastTransitionTime).
    pub conds: BTreeMap<&'static str, (bool, Ms)>,
    pub last_written: Option<Value>,
    pub unschedulable_reported: bool,
    pub from_api: bool,
    /// kube-ovn-controller set `ovn.kubernetes.io/vpc_nat_gw_init` on it.
    pub nat_gw_init: bool,
    /// Addresses `ovn-nbctl lsp-set-addresses` gave its logical switch
    /// port (none: the MAC and IP kube-ovn-controller allocated).
    pub lsp_addresses: Option<String>,
    /// The NAT table and `net1` addresses in its sandbox's network namespace.
    pub nat: super::natgw::NatState,
}

impl Pod {
    pub(super) fn n_init(&self) -> usize {
        self.template.init.len()
    }

    /// The links in its sandbox's network namespace; none without a sandbox.
    pub(super) fn interfaces(&self) -> Option<&[String]> {
        match &self.sandbox {
            Sandbox::Ready { interfaces, .. } => Some(interfaces),
            _ => None,
        }
    }

    /// Whether its sandbox's network namespace has link `name`.
    pub(super) fn has_interface(&self, name: &str) -> bool {
        self.interfaces()
            .is_some_and(|links| links.iter().any(|l| l == name))
    }
}

/// A workload and its controller's state.
#[derive(Clone, Debug)]
pub(super) struct WorkloadRt {
    pub spec: Workload,
    pub uid: String,
    pub hash: String,
    pub pods: BTreeSet<u64>,
    pub last_status: Option<Value>,
}

/// The simulated cluster.
pub struct World {
    pub(super) cfg: ModelConfig,
    pub(super) now: Ms,
    pub(super) rng: Rng,
    queue: BinaryHeap<Reverse<(Ms, u64, Ev)>>,
    seq: u64,
    pub(super) nodes: Vec<Node>,
    pub(super) pods_on: Vec<BTreeSet<u64>>,
    pub(super) pods: BTreeMap<u64, Pod>,
    next_pod: u64,
    pub(super) by_name: HashMap<(String, String), u64>,
    pub(super) workloads: Vec<WorkloadRt>,
    pub(super) owner_count: HashMap<(usize, usize), u32>,
    /// NetworkAttachmentDefinitions (`<namespace>/<name>`), each with its
    /// Kube-OVN provider when its delegate is `kube-ovn`.
    pub(super) nads: BTreeMap<String, Option<String>>,
    /// The `provider`s of the Subnets that exist.
    pub(super) subnet_providers: BTreeMap<String, String>,
    pub(super) inode: u64,
    out: Vec<Output>,
    pub(super) dirty_pods: BTreeSet<u64>,
    pub(super) dirty_nodes: BTreeSet<usize>,
    reconcile_at: Option<Ms>,
    pub(super) events: HashMap<(String, String, String), (String, u32, Ms)>,
    pub(super) next_pod_ip: u32,
    pub(super) pending_netns: HashMap<u64, String>,
    /// Container logs: pod key -> container index -> run -> lines; the last
    /// [`LOG_RUNS`] runs, at most [`LOG_LINES`] lines each. By pod first, so
    /// a removed pod's logs go in one step.
    pub(super) clogs: HashMap<u64, HashMap<usize, std::collections::BTreeMap<u32, Vec<String>>>>,
    /// Per Multus daemon pod: the primary config it generated from, and
    /// that file's content then (to notice a write, as its fsnotify watch does).
    pub(super) pods_primary: HashMap<u64, (String, String)>,
    installed: bool,
    unscheduled: BTreeSet<u64>,
    next_node_ip: u32,
    processed: u64,
    /// Logical switch ports of pods deleted while kube-ovn-controller was
    /// not running, by port name, until its LSP GC removes them.
    pub(super) stale_lsps: BTreeMap<String, super::ovn::StaleLsp>,
    /// The NAT gateway profile's target container's log (`docker logs
    /// --timestamps`): its receiver's lines, stamped.
    pub(super) nat_target_log: std::collections::VecDeque<String>,
}

impl World {
    /// A cluster whose node containers are started at time 0 with empty
    /// disks; the Kube-OVN and Multus workloads exist, so the install
    /// happens in virtual time, through the same mechanisms as any restart.
    pub fn new(cfg: ModelConfig) -> Self {
        let mut rng = Rng::new(cfg.seed);
        let mut nodes = Vec::new();
        nodes.push(Node::new(
            format!("{}-control-plane", cfg.cluster),
            Role::ControlPlane,
            "172.18.0.2".into(),
        ));
        for i in 0..cfg.workers {
            let suffix = if i == 0 {
                String::new()
            } else {
                (i + 1).to_string()
            };
            nodes.push(Node::new(
                format!("{}-worker{suffix}", cfg.cluster),
                Role::Worker,
                format!("172.18.0.{}", i + 3),
            ));
        }
        let nat = (cfg.nat_gateway && cfg.workers > 0)
            .then(|| (nodes[1].name.clone(), nodes[0].name.clone()));
        let wls = catalogue(
            &cfg.profile,
            nat.as_ref().map(|(g, c)| (g.as_str(), c.as_str())),
            cfg.load_pods,
            cfg.readiness_indicator_file.as_deref(),
        );
        let workloads = wls
            .into_iter()
            .map(|spec| WorkloadRt {
                spec,
                uid: uid(&mut rng),
                hash: rng.suffix(10),
                pods: BTreeSet::new(),
                last_status: None,
            })
            .collect();
        let n = nodes.len();
        let mut w = World {
            now: 0,
            rng,
            queue: BinaryHeap::new(),
            seq: 0,
            pods_on: vec![BTreeSet::new(); n],
            nodes,
            pods: BTreeMap::new(),
            next_pod: 1,
            by_name: HashMap::new(),
            workloads,
            owner_count: HashMap::new(),
            nads: BTreeMap::new(),
            subnet_providers: BTreeMap::new(),
            inode: 1000,
            out: Vec::new(),
            dirty_pods: BTreeSet::new(),
            dirty_nodes: BTreeSet::new(),
            reconcile_at: None,
            events: HashMap::new(),
            next_pod_ip: 1,
            pending_netns: HashMap::new(),
            pods_primary: HashMap::new(),
            clogs: HashMap::new(),
            installed: false,
            unscheduled: BTreeSet::new(),
            next_node_ip: n as u32 + 2,
            processed: 0,
            stale_lsps: BTreeMap::new(),
            nat_target_log: std::collections::VecDeque::new(),
            cfg,
        };
        w.nads
            .insert("kube-system/ovn-vpc-external-network".into(), None);
        w.bootstrap();
        w
    }

    fn bootstrap(&mut self) {
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}});
            self.put("namespaces", "", ns, true, obj);
        }
        let nad = super::render::nad("kube-system", "ovn-vpc-external-network");
        self.put(
            "network-attachment-definitions",
            "kube-system",
            "ovn-vpc-external-network",
            true,
            nad,
        );
        if self.cfg.nat_gateway && self.cfg.workers > 0 {
            self.put_nat_objects(None);
            // The target runs before the cluster's objects exist (the kind
            // backend starts it first); its receiver listens from now on.
            let at = self.timestamp(self.now);
            self.nat_target_log.push_back(format!(
                "{at} cni-chaos-traffic-receiver listening port=9000"
            ));
        }
        for i in 0..self.workloads.len() {
            let obj = super::render::workload(self, i);
            let (plural, ns, name) = (
                self.workloads[i].spec.kind.plural(),
                self.workloads[i].spec.namespace.clone(),
                self.workloads[i].spec.name.clone(),
            );
            self.put(plural, &ns, &name, true, obj);
        }
        for n in 0..self.nodes.len() {
            // kind creates the node containers one after another.
            let at = self.rng.range(0, 500) + 300 * n as u64;
            self.at(at, Ev::NodeStart { n });
        }
        self.at(5_000, Ev::NodeMonitor);
        self.reconcile_soon();
    }

    /// Current virtual time (ms since the model started).
    pub fn now(&self) -> Ms {
        self.now
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Events processed so far.
    pub fn processed(&self) -> u64 {
        self.processed
    }

    /// Number of pods the model tracks.
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// Virtual time of the next event.
    pub fn next_event(&self) -> Option<Ms> {
        self.queue.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Processes every event up to and including `t`, then sets the clock
    /// to `t`.
    pub fn advance_to(&mut self, t: Ms) {
        while let Some(Reverse((at, _, _))) = self.queue.peek() {
            if *at > t {
                break;
            }
            let Some(Reverse((at, _, ev))) = self.queue.pop() else {
                break;
            };
            self.now = at.max(self.now);
            self.processed += 1;
            self.handle(ev);
            self.flush();
        }
        self.now = t.max(self.now);
    }

    /// Runs for `ms` of virtual time.
    pub fn run_for(&mut self, ms: Ms) {
        self.advance_to(self.now + ms);
    }

    /// Hands every pending write to `sink`.
    pub fn drain_into(&mut self, sink: &mut dyn Sink) {
        for o in self.out.drain(..) {
            sink.apply(o);
        }
    }

    /// Takes the pending writes.
    pub fn drain(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    pub(super) fn at(&mut self, t: Ms, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse((t.max(self.now), self.seq, ev)));
    }

    pub(super) fn after(&mut self, d: Ms, ev: Ev) {
        self.at(self.now + d, ev);
    }

    /// Appends a line to the log of run `run` of container `i` of pod `k`,
    /// as the program would print it (served by `.../pods/{name}/log`).
    pub(super) fn clog(&mut self, k: u64, i: usize, run: u32, line: impl Into<String>) {
        let at = self.timestamp(self.now);
        let cap = match self.program_of(k, i) {
            Some(super::spec::Program::TrafficReceiver | super::spec::Program::LongLivedServer) => {
                super::traffic::RECEIVER_LOG_LINES
            }
            _ => LOG_LINES,
        };
        let runs = self.clogs.entry(k).or_default().entry(i).or_default();
        let lines = runs.entry(run).or_default();
        lines.push(format!("{at} {}", line.into()));
        if lines.len() > cap {
            lines.remove(0);
        }
        while runs.len() > LOG_RUNS {
            runs.pop_first();
        }
    }

    /// The log of a pod's container, as `kubectl logs` shows it: the
    /// latest run's lines (or the one before, `previous`); `None` when the
    /// pod has no such container.
    pub fn container_log(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        previous: bool,
    ) -> Option<String> {
        let k = self.pod_key(namespace, pod)?;
        let p = self.pods.get(&k)?;
        let names: Vec<&str> = p
            .template
            .init
            .iter()
            .chain(p.template.containers.iter())
            .map(|c| c.name.as_str())
            .collect();
        let i = match container {
            Some(c) => names.iter().position(|n| *n == c)?,
            None => p.template.init.len(),
        };
        // The current container is the latest start, whether or not it has
        // printed anything yet; `previous` is the last terminated one
        // (`lastState.terminated`): the run before the current one while it
        // runs or has ended, but the latest run itself while the container
        // waits to be restarted (back-off), when there is no current one.
        let Some(c) = p.ctrs.get(i) else {
            return Some(String::new());
        };
        let latest = c.runs;
        let waiting = matches!(c.state, CState::Waiting { .. });
        let want = match (previous, waiting) {
            (false, _) => latest,
            (true, true) => latest,
            (true, false) => match latest.checked_sub(1) {
                Some(run) => run,
                None => return Some(String::new()),
            },
        };
        let lines = self
            .clogs
            .get(&k)
            .and_then(|c| c.get(&i))
            .and_then(|r| r.get(&want));
        Some(
            lines
                .map(|l| l.iter().map(|l| format!("{l}\n")).collect())
                .unwrap_or_default(),
        )
    }

    pub(super) fn note(&mut self, text: impl Into<String>) {
        self.out.push(Output::Note {
            at: self.now,
            text: text.into(),
        });
    }

    pub(super) fn put(
        &mut self,
        resource: &'static str,
        ns: &str,
        name: &str,
        main: bool,
        object: Value,
    ) {
        self.out.push(Output::Put {
            at: self.now,
            resource,
            namespace: ns.into(),
            name: name.into(),
            main,
            object,
        });
    }

    pub(super) fn remove(&mut self, resource: &'static str, ns: &str, name: &str) {
        self.out.push(Output::Remove {
            at: self.now,
            resource,
            namespace: ns.into(),
            name: name.into(),
        });
    }

    pub(super) fn reconcile_soon(&mut self) {
        if self.reconcile_at.is_none() {
            // Controllers batch changes through their work queues; a
            // 50-250 ms debounce keeps large clusters cheap.
            let at = self.now + self.rng.range(50, 250);
            self.reconcile_at = Some(at);
            self.at(at, Ev::Reconcile);
        }
    }

    /// Virtual time `ms` as a timestamp.
    pub fn timestamp(&self, ms: Ms) -> Timestamp {
        self.cfg
            .epoch
            .saturating_add(jiff::SignedDuration::from_millis(ms as i64))
            .unwrap_or(self.cfg.epoch)
    }

    fn handle(&mut self, ev: Ev) {
        match ev {
            Ev::NodeStart { n } => self.node_start(n),
            Ev::NodeStopped { n, boot } | Ev::StopTimeout { n, boot } => self.halted(n, boot),
            Ev::ProcExit { n, boot, pid } => self.proc_exit(n, boot, pid),
            Ev::KubeletUp { n, boot } => {
                // systemd starts no unit once it is shutting down.
                if self.nodes[n].boot == boot && self.nodes[n].active() {
                    self.kubelet_up(n);
                }
            }
            Ev::Heartbeat { n, boot } => {
                if self.nodes[n].boot == boot && self.nodes[n].kubelet_up {
                    self.heartbeat(n);
                    let d = self.rng.range(9_500, 10_500);
                    self.after(d, Ev::Heartbeat { n, boot });
                }
            }
            Ev::NodeMonitor => {
                self.node_monitor();
                self.after(5_000, Ev::NodeMonitor);
            }
            Ev::Reconcile => {
                self.reconcile_at = None;
                self.reconcile();
            }
            Ev::Sync { pod } => {
                if let Some(p) = self.pods.get_mut(&pod) {
                    if p.sync_at.is_some_and(|t| t <= self.now) {
                        p.sync_at = None;
                    }
                    self.sync(pod);
                }
            }
            Ev::SandboxDone { pod, attempt } => self.sandbox_done(pod, attempt),
            Ev::ShimPoll { pod, attempt } => self.shim_poll(pod, attempt),
            Ev::ExecShimPoll {
                n,
                boot,
                pid,
                since,
            } => self.exec_shim_poll(n, boot, pid, since),
            Ev::Started { pod, c, run } => self.container_started(pod, c, run),
            Ev::Tick { pod, c, run } => self.tick(pod, c, run),
            Ev::Probe { pod, c, run, live } => self.probe(pod, c, run, live),
            Ev::Finalize { pod } => self.finalize(pod),
            Ev::GraceOver { pod } => self.grace_over(pod),
            Ev::LspGc { pod, c, run } => self.lsp_gc(pod, c, run),
            Ev::IfaceGc { pod, c, run } => self.iface_gc(pod, c, run),
        }
    }

    /// Writes every changed pod and node.
    pub(super) fn flush(&mut self) {
        let pods: Vec<u64> = std::mem::take(&mut self.dirty_pods).into_iter().collect();
        for k in pods {
            self.refresh_conds(k);
            let Some(p) = self.pods.get(&k) else { continue };
            if let Some(n) = p.node
                && !self.nodes[n].connected
            {
                // The kubelet cannot reach the API; it writes when back.
                self.dirty_pods.insert(k);
                continue;
            }
            let obj = super::render::pod(self, k);
            let p = &self.pods[&k];
            if p.last_written.as_ref() == Some(&obj) {
                continue;
            }
            let main = p.last_written.as_ref().is_none_or(|o| {
                o.get("metadata") != obj.get("metadata") || o.get("spec") != obj.get("spec")
            });
            let (ns, name) = (p.namespace.clone(), p.name.clone());
            if let Some(p) = self.pods.get_mut(&k) {
                p.last_written = Some(obj.clone());
            }
            self.put("pods", &ns, &name, main, obj);
        }
        let nodes: Vec<usize> = std::mem::take(&mut self.dirty_nodes).into_iter().collect();
        for n in nodes {
            let obj = super::render::node(self, n);
            let name = self.nodes[n].name.clone();
            self.put("nodes", "", &name, true, obj);
        }
    }

    fn refresh_conds(&mut self, k: u64) {
        let Some(p) = self.pods.get(&k) else { return };
        let now = super::render::conditions_now(self, p);
        let t = self.now;
        if let Some(p) = self.pods.get_mut(&k) {
            for (ty, ok) in now {
                match p.conds.get(ty) {
                    Some((was, _)) if *was == ok => {}
                    _ => {
                        p.conds.insert(ty, (ok, t));
                    }
                }
            }
        }
    }

    // ---- nodes ----

    fn node_start(&mut self, n: usize) {
        if self.nodes[n].up() {
            return;
        }
        let first_pid = 1 + self.rng.below(50) as u32;
        self.nodes[n].power_on(self.now, first_pid);
        let boot = self.nodes[n].boot;
        let name = self.nodes[n].name.clone();
        let ip = self.nodes[n].ip.clone();
        self.note(format!(
            "node {name}: container started (boot {boot}, ip {ip})"
        ));
        // systemd brings up containerd, then the kubelet.
        let d = self.rng.range(2_000, 5_000);
        self.after(d, Ev::KubeletUp { n, boot });
    }

    /// The node container stops: whatever still runs is killed at once
    /// (the kernel kills the rest of a PID namespace when its init exits)
    /// and the tmpfs `/run` is gone. After `docker kill` that is every
    /// process, so none runs its own shutdown; after an orderly shutdown
    /// (`halt_node`) only what ignored SIGTERM or outlasted the stop
    /// timeout is left.
    pub(super) fn power_off(&mut self, n: usize) {
        let name = self.nodes[n].name.clone();
        let procs = self.nodes[n].procs.len();
        self.nodes[n].power_off();
        self.note(format!(
            "node {name}: container stopped, {procs} processes killed, /run wiped"
        ));
        let keys: Vec<u64> = self.pods_on[n].iter().copied().collect();
        for k in keys {
            if let Some(p) = self.pods.get_mut(&k) {
                if let Sandbox::Creating { .. } = p.sandbox {
                    p.sandbox = Sandbox::None;
                }
                for c in &mut p.ctrs {
                    c.pid = None;
                }
            }
        }
    }

    /// Rule `node-ip-may-change-on-restart`: Docker may hand a restarted kind node a new address on its network; the model does so with a configured probability (0 by default).
    /// Source: FACTS.md (kind node facts: kind #2045, #148)
    /// Pinned by: harness/tests/kind_system.rs::network_partition_heals_on_a_kind_like_network_and_reports_a_changed_address
    pub(super) fn reassign_ip(&mut self, n: usize) {
        if self.rng.chance(self.cfg.ip_reassign_probability) {
            self.next_node_ip += 1;
            let ip = format!("172.18.0.{}", self.next_node_ip);
            let name = self.nodes[n].name.clone();
            self.note(format!("node {name}: docker assigned a new address {ip}"));
            self.nodes[n].ip = ip;
        }
    }

    /// Rule `no-valid-cni-config-means-network-not-ready`: with no CNI config, or a first one that does not parse (empty, truncated), the runtime reports NetworkReady=false ("cni plugin not initialized") and the kubelet posts the node NotReady and creates no sandbox that needs a network.
    /// Source: containerd/go-cni@v1.1.12:opts.go (loadFromConfDir: ErrCNINotInitialized)
    /// Source: kubernetes/kubernetes@v1.33.7:pkg/kubelet/nodestatus/setters.go (ReadyCondition: runtime network errors make the node NotReady)
    /// Pinned by: harness/tests/kind_system.rs::cni_config_removal_truncation_and_delayed_rewrite
    ///
    /// Whether the runtime's network is ready: the first CNI config loads.
    pub(super) fn network_ready(&self, n: usize) -> bool {
        self.nodes[n]
            .first_cni_config()
            .is_some_and(|(_, f)| valid_config(&f.content))
    }

    fn heartbeat(&mut self, n: usize) {
        if !self.nodes[n].connected {
            return;
        }
        self.nodes[n].last_heartbeat = self.now;
        let ready = self.network_ready(n);
        let msg = if ready {
            "kubelet is posting ready status".to_string()
        } else {
            "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized".to_string()
        };
        let node = &mut self.nodes[n];
        if node.api_ready != Some(ready) || node.not_ready_message != msg {
            if node.api_ready != Some(ready) {
                node.ready_since = self.now;
            }
            node.api_ready = Some(ready);
            node.not_ready_message = msg;
            let name = node.name.clone();
            self.dirty_nodes.insert(n);
            self.note(format!("node {name}: kubelet posts Ready={ready}"));
            self.reconcile_soon();
            let keys: Vec<u64> = self.pods_on[n].iter().copied().collect();
            for k in keys {
                if let Some(p) = self.pods.get_mut(&k)
                    && p.node_lost
                {
                    p.node_lost = false;
                    self.dirty_pods.insert(k);
                }
            }
        }
    }

    /// Rule `node-monitor-grace-period-50s`: a node whose kubelet has posted no status for 50 s is marked Ready=Unknown by the node lifecycle controller, and its pods NotReady.
    /// Source: kubernetes/kubernetes@v1.33.7:pkg/controller/nodelifecycle/node_lifecycle_controller.go (monitorNodeHealth, MarkPodsNotReady)
    /// Source: kubernetes/kubernetes@v1.33.7:pkg/controller/nodelifecycle/config/v1alpha1/defaults.go (NodeMonitorGracePeriod default, 50 s since v1.32)
    ///
    /// The node lifecycle controller: a node whose kubelet has not posted
    /// status for the grace period (`--node-monitor-grace-period`, 50 s
    /// since Kubernetes 1.32) becomes Unknown and its pods NotReady
    /// (`MarkPodsNotReady`).
    fn node_monitor(&mut self) {
        for n in 0..self.nodes.len() {
            let node = &self.nodes[n];
            if node.api_ready.is_some() && self.now.saturating_sub(node.last_heartbeat) > 50_000 {
                let name = node.name.clone();
                let node = &mut self.nodes[n];
                node.api_ready = None;
                node.ready_since = self.now;
                node.not_ready_message = "Kubelet stopped posting node status.".into();
                self.dirty_nodes.insert(n);
                self.note(format!("node {name}: node controller marks Ready=Unknown"));
                let keys: Vec<u64> = self.pods_on[n].iter().copied().collect();
                for k in keys {
                    if let Some(p) = self.pods.get_mut(&k) {
                        p.node_lost = true;
                    }
                    self.mark_dirty_force(k);
                }
            }
        }
    }

    /// Marks a pod for a status write even though its node is away (the
    /// node controller writes it, not the kubelet).
    fn mark_dirty_force(&mut self, k: u64) {
        self.refresh_conds(k);
        let Some(p) = self.pods.get(&k) else { return };
        let obj = super::render::pod(self, k);
        if p.last_written.as_ref() != Some(&obj) {
            let (ns, name) = (p.namespace.clone(), p.name.clone());
            if let Some(p) = self.pods.get_mut(&k) {
                p.last_written = Some(obj.clone());
            }
            self.put("pods", &ns, &name, false, obj);
        }
    }

    // ---- controllers and scheduler ----

    fn reconcile(&mut self) {
        for i in 0..self.workloads.len() {
            match self.workloads[i].spec.kind {
                WorkloadKind::DaemonSet => {
                    let covered: BTreeSet<usize> = self.workloads[i]
                        .pods
                        .iter()
                        .filter_map(|k| self.pods.get(k).and_then(|p| p.node))
                        .collect();
                    for n in 0..self.nodes.len() {
                        let template = &self.workloads[i].spec.template;
                        if !selects(&template.node_selector, &self.nodes[n], n)
                            || (self.nodes[n].role == Role::ControlPlane
                                && !template.tolerates_control_plane)
                        {
                            continue;
                        }
                        if !covered.contains(&n) {
                            let name =
                                format!("{}-{}", self.workloads[i].spec.name, self.rng.suffix(5));
                            self.create_pod(i, name, Some(n));
                        }
                    }
                }
                WorkloadKind::Deployment => {
                    let active = self.workloads[i]
                        .pods
                        .iter()
                        .filter(|k| self.pods.get(k).is_some_and(|p| p.deleting.is_none()))
                        .count() as u32;
                    for _ in active..self.workloads[i].spec.replicas {
                        let name = format!(
                            "{}-{}-{}",
                            self.workloads[i].spec.name,
                            self.workloads[i].hash,
                            self.rng.suffix(5)
                        );
                        self.create_pod(i, name, None);
                    }
                }
                WorkloadKind::StatefulSet => {
                    for ord in 0..self.workloads[i].spec.replicas {
                        let name = format!("{}-{ord}", self.workloads[i].spec.name);
                        let key = (self.workloads[i].spec.namespace.clone(), name.clone());
                        if !self.by_name.contains_key(&key) {
                            self.create_pod(i, name, None);
                        }
                    }
                }
            }
        }
        self.install_step();
        self.schedule_pending();
        for i in 0..self.workloads.len() {
            let status = super::render::workload_status(self, i);
            if self.workloads[i].last_status.as_ref() != Some(&status) {
                self.workloads[i].last_status = Some(status);
                let obj = super::render::workload(self, i);
                let (plural, ns, name) = (
                    self.workloads[i].spec.kind.plural(),
                    self.workloads[i].spec.namespace.clone(),
                    self.workloads[i].spec.name.clone(),
                );
                self.put(plural, &ns, &name, false, obj);
            }
        }
    }

    /// Rule `install-sh-deletes-pods-not-in-host-network`: Kube-OVN's `install.sh` deletes every pod not in host network mode once kube-ovn-cni is ready, so pods started before the CNI come back with Kube-OVN addresses.
    /// Source: kubeovn/kube-ovn@v1.14.41:dist/images/install.sh ([Step 4/6] Delete pod that not in host network mode)
    ///
    /// Kube-OVN's `install.sh` ends by deleting every pod that is not in
    /// host network mode ("Delete pod that not in host network mode"), so
    /// that pods started before the CNI was ready get Kube-OVN addresses.
    /// Modelled once, when every `kube-ovn-cni` pod is first Ready; their
    /// replacements are spread by the scheduler.
    fn install_step(&mut self) {
        if self.installed {
            return;
        }
        let Some(cni) = self
            .workloads
            .iter()
            .position(|w| w.spec.name == "kube-ovn-cni")
        else {
            return;
        };
        let ready = self.workloads[cni]
            .pods
            .iter()
            .filter(|k| {
                self.pods
                    .get(k)
                    .is_some_and(|p| super::render::pod_ready(self, p))
            })
            .count();
        if ready < self.nodes.len() || self.nodes.iter().any(|n| n.api_ready != Some(true)) {
            return;
        }
        self.installed = true;
        self.note("install.sh: delete pods not in host network mode");
        let keys: Vec<(String, String)> = self
            .pods
            .values()
            .filter(|p| !p.template.host_network && p.template.restart_always && p.owner.is_some())
            .map(|p| (p.namespace.clone(), p.name.clone()))
            .collect();
        for (ns, name) in keys {
            self.api_delete_pod(&ns, &name);
        }
    }

    fn create_pod(&mut self, wl: usize, name: String, node: Option<usize>) {
        let template = self.workloads[wl].spec.template.clone();
        let ns = self.workloads[wl].spec.namespace.clone();
        let k = self.add_pod(ns, name, template, Some(wl), None);
        self.workloads[wl].pods.insert(k);
        if let Some(n) = node {
            self.bind(k, n);
        }
    }

    pub(super) fn add_pod(
        &mut self,
        namespace: String,
        name: String,
        template: PodTemplate,
        owner: Option<usize>,
        uid_given: Option<String>,
    ) -> u64 {
        let k = self.next_pod;
        self.next_pod += 1;
        let uid = uid_given.unwrap_or_else(|| uid(&mut self.rng));
        let n_init = template.init.len();
        let first = if n_init > 0 {
            "PodInitializing"
        } else {
            "ContainerCreating"
        };
        let mut ctrs: Vec<Ctr> = (0..n_init).map(|_| Ctr::new("PodInitializing")).collect();
        ctrs.extend(template.containers.iter().map(|_| Ctr::new(first)));
        self.by_name.insert((namespace.clone(), name.clone()), k);
        self.pods.insert(
            k,
            Pod {
                uid,
                namespace,
                name,
                owner,
                template,
                node: None,
                created: self.now,
                scheduled: None,
                ip: None,
                sandbox: Sandbox::None,
                attempt: 0,
                had_sandbox: false,
                network_status: None,
                ctrs,
                deleting: None,
                killing_at: None,
                node_lost: false,
                sync_at: None,
                conds: BTreeMap::new(),
                last_written: None,
                unschedulable_reported: false,
                from_api: false,
                nat_gw_init: false,
                lsp_addresses: None,
                nat: Default::default(),
            },
        );
        self.dirty_pods.insert(k);
        self.unscheduled.insert(k);
        self.reconcile_soon();
        k
    }

    /// Rule `not-ready-nodes-take-no-new-pods`: NotReady, unreachable and cordoned nodes carry NoSchedule taints, so the scheduler places new pods elsewhere, spreading a workload's pods over nodes.
    /// Source: kubernetes/kubernetes@v1.33.7:pkg/controller/nodelifecycle/node_lifecycle_controller.go (doNoScheduleTaintingPass)
    fn schedule_pending(&mut self) {
        let pending: Vec<u64> = self
            .unscheduled
            .iter()
            .copied()
            .filter(|k| {
                self.pods
                    .get(k)
                    .is_some_and(|p| p.node.is_none() && p.deleting.is_none())
            })
            .collect();
        for k in pending {
            let p = &self.pods[&k];
            let mut best: Option<(u32, usize, usize)> = None;
            for n in 0..self.nodes.len() {
                let node = &self.nodes[n];
                // NotReady and cordoned nodes carry NoSchedule taints.
                if node.api_ready != Some(true)
                    || node.unschedulable
                    || !selects(&p.template.node_selector, node, n)
                {
                    continue;
                }
                if node.role == Role::ControlPlane && !p.template.tolerates_control_plane {
                    continue;
                }
                let same = p
                    .owner
                    .map(|o| self.owner_count.get(&(n, o)).copied().unwrap_or(0))
                    .unwrap_or(0);
                let cand = (same, self.pods_on[n].len(), n);
                if best.is_none_or(|b| cand < b) {
                    best = Some(cand);
                }
            }
            match best {
                Some((_, _, n)) => self.bind(k, n),
                None => {
                    if let Some(p) = self.pods.get_mut(&k)
                        && !p.unschedulable_reported
                    {
                        p.unschedulable_reported = true;
                        let total = self.nodes.len();
                        self.event_for_pod(k, "Warning", "FailedScheduling", &format!("0/{total} nodes are available: {total} node(s) didn't match Pod's node affinity/selector or had untolerated taints."), "default-scheduler");
                        self.dirty_pods.insert(k);
                    }
                }
            }
        }
    }

    /// The pod no longer waits for the scheduler.
    pub(super) fn unschedule_done(&mut self, k: u64) {
        self.unscheduled.remove(&k);
    }

    fn bind(&mut self, k: u64, n: usize) {
        self.unscheduled.remove(&k);
        let Some(p) = self.pods.get_mut(&k) else {
            return;
        };
        p.node = Some(n);
        p.scheduled = Some(self.now);
        if let Some(o) = p.owner {
            *self.owner_count.entry((n, o)).or_default() += 1;
        }
        self.pods_on[n].insert(k);
        let msg = format!(
            "Successfully assigned {}/{} to {}",
            p.namespace, p.name, self.nodes[n].name
        );
        self.event_for_pod(k, "Normal", "Scheduled", &msg, "default-scheduler");
        self.dirty_pods.insert(k);
        let d = self.rng.range(20, 200);
        self.sync_after(k, d);
    }

    pub(super) fn sync_after(&mut self, k: u64, d: Ms) {
        let at = self.now + d;
        if let Some(p) = self.pods.get_mut(&k) {
            if p.sync_at.is_some_and(|t| t <= at && t >= self.now) {
                return;
            }
            p.sync_at = Some(at);
        }
        self.at(at, Ev::Sync { pod: k });
    }

    /// Removes a pod from the model (after the kubelet's final delete, or a
    /// force delete through the API).
    pub(super) fn forget(&mut self, k: u64) {
        self.unscheduled.remove(&k);
        self.lsp_missed(k);
        let Some(p) = self.pods.remove(&k) else {
            return;
        };
        self.by_name.remove(&(p.namespace.clone(), p.name.clone()));
        self.pending_netns.remove(&k);
        self.pods_primary.remove(&k);
        self.clogs.remove(&k);
        if let Some(n) = p.node {
            // A shim still waiting for the Multus daemon outlives its pod
            // until the daemon answers or it gives up (60 s), as a plugin
            // process the runtime started does; nothing polls it for the
            // pod any more, so it is polled on its own.
            if let Sandbox::Creating {
                shim: Some(pid),
                since,
                ..
            } = p.sandbox
                && self.nodes[n].proc(pid).is_some()
            {
                let boot = self.nodes[n].boot;
                self.after(
                    super::kubelet::SHIM_POLL,
                    Ev::ExecShimPoll {
                        n,
                        boot,
                        pid,
                        since,
                    },
                );
            }
            self.pods_on[n].remove(&k);
            if let Some(o) = p.owner
                && let Some(c) = self.owner_count.get_mut(&(n, o))
            {
                *c = c.saturating_sub(1);
            }
        }
        if let Some(o) = p.owner {
            self.workloads[o].pods.remove(&k);
        }
        self.dirty_pods.remove(&k);
        self.reconcile_soon();
    }

    // ---- events ----

    /// Records a Kubernetes Event about a pod, aggregating repeats the way
    /// the client-go event recorder does (count, lastTimestamp).
    pub(super) fn event_for_pod(
        &mut self,
        k: u64,
        type_: &str,
        reason: &str,
        message: &str,
        component: &str,
    ) {
        let Some(p) = self.pods.get(&k) else { return };
        if let Some(n) = p.node
            && component == "kubelet"
            && !self.nodes[n].connected
        {
            return;
        }
        let involved = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod", "namespace": p.namespace, "name": p.name, "uid": p.uid,
        });
        let host = p
            .node
            .map(|n| self.nodes[n].name.clone())
            .unwrap_or_default();
        let (ns, obj_name, uid) = (p.namespace.clone(), p.name.clone(), p.uid.clone());
        self.event(super::render::EventSpec {
            namespace: &ns,
            object: &obj_name,
            uid: &uid,
            involved,
            type_,
            reason,
            message,
            component,
            host: &host,
        });
    }

    /// Records an Event about a node.
    pub(super) fn event_for_node(&mut self, n: usize, type_: &str, reason: &str, message: &str) {
        let name = self.nodes[n].name.clone();
        let involved =
            serde_json::json!({"apiVersion": "v1", "kind": "Node", "name": name, "uid": name});
        self.event(super::render::EventSpec {
            namespace: "default",
            object: &name,
            uid: &name,
            involved,
            type_,
            reason,
            message,
            component: "kubelet",
            host: &name,
        });
    }

    fn event(&mut self, e: super::render::EventSpec<'_>) {
        let key = (
            e.uid.to_string(),
            e.reason.to_string(),
            e.message.to_string(),
        );
        let (name, count, first) = match self.events.get(&key) {
            Some((name, count, first)) => (name.clone(), count + 1, *first),
            None => (format!("{}.{}", e.object, self.rng.hex(16)), 1, self.now),
        };
        self.events.insert(key, (name.clone(), count, first));
        let value = super::render::event(self, &e, &name, count, first);
        self.put("events", e.namespace, &name, true, value);
    }

    /// The pod key for a namespace and name.
    pub(super) fn pod_key(&self, ns: &str, name: &str) -> Option<u64> {
        self.by_name
            .get(&(ns.to_string(), name.to_string()))
            .copied()
    }

    /// The links in the network namespace of pod `namespace/name`'s
    /// sandbox (`lo`, `eth0`, `net1`, ...), as `ip -o link` there would
    /// list them; `None` when the pod has no running sandbox with a network
    /// namespace of its own (no such pod, a sandbox not created yet, a
    /// host-network pod).
    pub fn pod_interfaces(&self, namespace: &str, name: &str) -> Option<Vec<String>> {
        let p = self.pods.get(&self.pod_key(namespace, name)?)?;
        match &p.sandbox {
            Sandbox::Ready {
                netns: Some(_),
                interfaces,
            } => Some(interfaces.clone()),
            _ => None,
        }
    }

    /// The node pod `namespace/name` is bound to.
    pub fn pod_node(&self, namespace: &str, name: &str) -> Option<String> {
        let p = self.pods.get(&self.pod_key(namespace, name)?)?;
        p.node.map(|n| self.nodes[n].name.clone())
    }

    /// A DaemonSet or Deployment created through the API (`resource` is its
    /// plural): from now on the model's controllers keep its pods, which run
    /// [`PodTemplate::from_pod`]'s reading of its pod template, exactly as
    /// they keep the catalogue's. One the model already runs is left alone.
    pub fn api_create_workload(&mut self, resource: &str, obj: &Value) {
        let kind = match resource {
            "daemonsets" => WorkloadKind::DaemonSet,
            "deployments" => WorkloadKind::Deployment,
            _ => return,
        };
        let field = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or("");
        let (namespace, name) = (field("/metadata/namespace"), field("/metadata/name"));
        if name.is_empty()
            || self
                .workloads
                .iter()
                .any(|w| w.spec.namespace == namespace && w.spec.name == name)
        {
            return;
        }
        let template = obj
            .pointer("/spec/template")
            .map(PodTemplate::from_pod)
            .unwrap_or_else(|| PodTemplate::from_pod(&Value::Null));
        let replicas = obj
            .pointer("/spec/replicas")
            .and_then(Value::as_u64)
            .unwrap_or(1) as u32;
        let uid = match field("/metadata/uid") {
            "" => uid(&mut self.rng),
            u => u.to_string(),
        };
        self.note(format!(
            "controllers: {} {namespace}/{name} created through the API",
            kind.kind()
        ));
        self.workloads.push(WorkloadRt {
            spec: Workload {
                kind,
                namespace: namespace.to_string(),
                name: name.to_string(),
                replicas,
                template,
            },
            uid,
            hash: self.rng.suffix(10),
            pods: BTreeSet::new(),
            last_status: None,
        });
        self.reconcile_soon();
    }

    /// Adds a network attachment definition (from the API).
    /// A NetworkAttachmentDefinition was created (`config`: its
    /// `spec.config`) or deleted (`None`).
    pub fn api_nad(&mut self, namespace: &str, name: &str, config: Option<&str>) {
        let key = format!("{namespace}/{name}");
        match config {
            Some(text) => {
                let config: Value = serde_json::from_str(text).unwrap_or_default();
                let provider = (config.get("type").and_then(Value::as_str) == Some("kube-ovn"))
                    .then(|| {
                        config
                            .get("provider")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string()
                    });
                self.nads.insert(key, provider);
            }
            None => {
                self.nads.remove(&key);
            }
        }
    }

    /// A kubeovn.io Subnet was created with `provider` (Kube-OVN's default
    /// `ovn` when unset), or deleted (`None`).
    pub fn api_subnet(&mut self, name: &str, provider: Option<&str>) {
        match provider {
            Some(p) => {
                self.subnet_providers
                    .insert(name.to_string(), p.to_string());
            }
            None => {
                self.subnet_providers.remove(name);
            }
        }
    }
}

/// Whether a CNI config parses: the runtime rejects an empty or truncated
/// file.
pub(super) fn valid_config(content: &str) -> bool {
    serde_json::from_str::<Value>(content).is_ok_and(|v| v.is_object())
}

fn selects(selector: &BTreeMap<String, String>, node: &Node, _n: usize) -> bool {
    selector.iter().all(|(k, v)| match k.as_str() {
        "kubernetes.io/hostname" => *v == node.name,
        "kube-ovn/role" => v == "master" && node.role == Role::ControlPlane,
        "node-role.kubernetes.io/control-plane" => node.role == Role::ControlPlane,
        "kubernetes.io/os" => v == "linux",
        _ => false,
    })
}

pub(super) fn uid(rng: &mut Rng) -> String {
    let h = rng.hex(32);
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}
