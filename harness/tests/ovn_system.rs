//! Tier-3 system tests of the OVN consistency checker (`observe::ovn`, the
//! `ovn-consistent` SLO) on real OVN: Debian's `ovn-central` and `ovn-host`
//! (OVN 23.03 on bookworm) on userspace Open vSwitch.
//!
//! Each test starts, as its own direct children with their own run
//! directory in a temp dir: the NB and SB `ovsdb-server`s, `ovn-northd`, an
//! OVS `ovsdb-server`, `ovs-vswitchd` and `ovn-controller`. `ovs-vswitchd`
//! runs in a network namespace of its own (`unshare --net`; not root:
//! `unshare --user --map-root-user --net`, which gives it the
//! CAP_NET_ADMIN its tap devices need), so the internal ports it makes for
//! the stand-in pods never reach the host's namespace, and the namespace
//! goes with the process; `br-int` uses the userspace datapath
//! (`datapath_type=netdev`, no kernel module). Children are killed by PID
//! when the test ends, however it ends.
//!
//! The checker reads the real tools' answers to the very argv the harness
//! runs in Kube-OVN's pods (`ovn::LSP_ARGV`, `ovn::INTERFACE_ARGV`,
//! `ovn::CONTROLLER_ARGV`), run through the project's runner with
//! `OVN_RUNDIR`/`OVS_RUNDIR` pointing at the temp dir, where the sockets are
//! named as in the pods (`ovnnb_db.sock`, `db.sock`, `ovn-controller.pid`),
//! so no `--db` is needed. Kube-OVN v1.16.2 bundles OVN 24.03 (OVS 3.3);
//! the three commands and their CSV/`connection-status` output are the same
//! in 23.03 (OVS 3.1): `ovn-installed`/`ovn-installed-ts` in an Interface's
//! external_ids exist in both, and the checker ignores keys it does not
//! know.
//!
//! Without the tools, each test prints `SKIPPED: ovn_system::<test>:
//! <reason>` and returns; under `CHAOS_SYSTEM_TESTS=require` it fails.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cni_chaos::exec::{Command, Output};
use cni_chaos::observe::ovn::{
    self, CONTROLLER_ARGV, Check, Controller, INTERFACE_ARGV, LSP_ARGV, NodeOvn, PodFacts, Snapshot,
};
use support::{say, try_output, try_run};

/// The chassis (Kube-OVN: the node's name).
const NODE: &str = "ovn-system-node";
/// The tools the tests start or run.
const TOOLS: [&str; 8] = [
    "/usr/sbin/ovsdb-server",
    "/usr/sbin/ovs-vswitchd",
    "/usr/bin/ovsdb-tool",
    "/usr/bin/ovs-vsctl",
    "/usr/bin/ovn-northd",
    "/usr/bin/ovn-nbctl",
    "/usr/bin/ovn-controller",
    "/usr/bin/ovn-appctl",
];
/// The schemas the databases are created from.
const SCHEMAS: [&str; 3] = [
    "/usr/share/ovn/ovn-nb.ovsschema",
    "/usr/share/ovn/ovn-sb.ovsschema",
    "/usr/share/openvswitch/vswitch.ovsschema",
];
/// The directories OVS and OVN find their sockets, logs and databases by:
/// all the temp dir.
const DIRS: [&str; 6] = [
    "OVS_RUNDIR",
    "OVS_LOGDIR",
    "OVS_DBDIR",
    "OVN_RUNDIR",
    "OVN_LOGDIR",
    "OVN_DBDIR",
];
/// How long a daemon gets to answer.
const WAIT: Duration = Duration::from_secs(30);

/// Whether the tools are here; if not, skips (or fails under require).
fn prerequisites(test: &str) -> bool {
    let absent: Vec<&str> = TOOLS
        .iter()
        .chain(&SCHEMAS)
        .copied()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if !absent.is_empty() {
        return support::missing(&format!(
            "ovn_system::{test}: {} missing; apt-get install ovn-central ovn-host openvswitch-switch",
            absent.join(", ")
        ));
    }
    let mut probe = isolation();
    probe.push("true");
    support::tool_runs(
        Command::new(probe[0]).args(probe[1..].iter().copied()),
        "ovs-vswitchd runs in a network namespace of its own: unshare (util-linux) must create one (as root, or with unprivileged user namespaces)",
    )
}

/// The argv prefix that runs a program in a new network namespace: `unshare
/// --net` as root, else in a new user namespace mapped to root too.
fn isolation() -> Vec<&'static str> {
    let root = try_output(Command::new("id").arg("-u")).is_ok_and(|o| o.stdout_str().trim() == "0");
    if root {
        vec!["unshare", "--net"]
    } else {
        vec!["unshare", "--user", "--map-root-user", "--net"]
    }
}

/// One real OVN deployment: its daemons and its run directory.
struct Ovn {
    dir: tempfile::TempDir,
    /// (name, child), killed by PID on drop.
    children: Vec<(&'static str, Child)>,
}

impl Ovn {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn rundir(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// A command with this deployment's run, log and database directories.
    fn cmd(&self, argv: &[&str]) -> Command {
        let d = self.rundir();
        let mut c = Command::new(argv[0])
            .args(argv[1..].iter().copied())
            .timeout(WAIT);
        for var in DIRS {
            c = c.env(var, d.clone());
        }
        c
    }

    /// Runs `argv` through the project's runner; it must succeed.
    fn ok(&self, argv: &[&str]) -> String {
        let out = try_run(self.cmd(argv)).unwrap_or_else(|e| panic!("{e}"));
        out.stdout_str().into_owned()
    }

    /// Runs `argv` through the project's runner, whatever it answers.
    fn run(&self, argv: &[&str]) -> Output {
        try_output(self.cmd(argv)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts `argv` as a direct child, its output in `<name>.out`.
    fn spawn(&mut self, name: &'static str, argv: &[&str]) {
        let out = std::fs::File::create(self.path(&format!("{name}.out"))).unwrap();
        let mut c = std::process::Command::new(argv[0]);
        c.args(&argv[1..])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for var in DIRS {
            c.env(var, self.dir.path());
        }
        let child = c
            .spawn()
            .unwrap_or_else(|e| panic!("starting {argv:?}: {e}"));
        self.children.push((name, child));
    }

    /// Kills the child `name` (SIGKILL, by its PID) and reaps it.
    fn kill(&mut self, name: &str) {
        let i = self
            .children
            .iter()
            .position(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no child {name}"));
        let (_, mut child) = self.children.remove(i);
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Waits until `sock` exists (a daemon listens).
    fn wait_for(&mut self, what: &str, file: &str) {
        let start = Instant::now();
        while !self.path(file).exists() {
            for (name, child) in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(self.dir.path().join(format!("{name}.out")))
                        .unwrap_or_default();
                    panic!("{name} exited {status} before {what} was ready: {log}");
                }
            }
            assert!(start.elapsed() < WAIT, "{what}: no {file} within {WAIT:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls `probe` until it holds.
    fn until(&self, what: &str, probe: impl Fn(&Ovn) -> bool) -> Duration {
        let start = Instant::now();
        while !probe(self) {
            assert!(start.elapsed() < WAIT, "{what} within {WAIT:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
        start.elapsed()
    }

    /// NB and SB databases, northd, OVS (in a fresh namespace) with br-int
    /// on the userspace datapath, and ovn-controller as chassis [`NODE`].
    fn start(tag: &str) -> Ovn {
        let mut ovn = Ovn {
            dir: tempfile::Builder::new()
                .prefix(&format!("chaos-ovn-{tag}"))
                .tempdir()
                .unwrap(),
            children: Vec::new(),
        };
        let d = ovn.rundir();
        for (db, schema) in [
            ("nb.db", SCHEMAS[0]),
            ("sb.db", SCHEMAS[1]),
            ("conf.db", SCHEMAS[2]),
        ] {
            ovn.ok(&["ovsdb-tool", "create", &format!("{d}/{db}"), schema]);
        }
        for (name, db, sock) in [
            ("ovsdb-server-nb", "nb.db", "ovnnb_db"),
            ("ovsdb-server-sb", "sb.db", "ovnsb_db"),
        ] {
            ovn.spawn(
                name,
                &[
                    "ovsdb-server",
                    &format!("--remote=punix:{d}/{sock}.sock"),
                    &format!("--unixctl={d}/{sock}.ctl"),
                    &format!("--pidfile={d}/{sock}.pid"),
                    &format!("--log-file={d}/{sock}.log"),
                    &format!("{d}/{db}"),
                ],
            );
            ovn.wait_for(name, &format!("{sock}.sock"));
        }
        ovn.spawn(
            "ovsdb-server",
            &[
                "ovsdb-server",
                &format!("--remote=punix:{d}/db.sock"),
                &format!("--pidfile={d}/ovsdb-server.pid"),
                &format!("--log-file={d}/ovsdb-server.log"),
                &format!("{d}/conf.db"),
            ],
        );
        ovn.wait_for("ovsdb-server", "db.sock");
        ovn.spawn(
            "ovn-northd",
            &[
                "ovn-northd",
                &format!("--ovnnb-db=unix:{d}/ovnnb_db.sock"),
                &format!("--ovnsb-db=unix:{d}/ovnsb_db.sock"),
                &format!("--pidfile={d}/ovn-northd.pid"),
                &format!("--log-file={d}/ovn-northd.log"),
            ],
        );
        ovn.ok(&["ovs-vsctl", "--no-wait", "init"]);
        let db = format!("unix:{d}/db.sock");
        let pidfile = format!("--pidfile={d}/ovs-vswitchd.pid");
        let log = format!("--log-file={d}/ovs-vswitchd.log");
        let mut argv = isolation();
        argv.extend(["ovs-vswitchd", db.as_str(), pidfile.as_str(), log.as_str()]);
        ovn.spawn("ovs-vswitchd", &argv);
        ovn.wait_for("ovs-vswitchd", "ovs-vswitchd.pid");
        ovn.ok(&[
            "ovs-vsctl",
            "set",
            "open",
            ".",
            &format!("external_ids:system-id={NODE}"),
            &format!("external_ids:ovn-remote=unix:{d}/ovnsb_db.sock"),
            "external_ids:ovn-encap-type=geneve",
            "external_ids:ovn-encap-ip=127.0.0.1",
            "external_ids:ovn-bridge-datapath-type=netdev",
        ]);
        ovn.ok(&[
            "ovs-vsctl",
            "add-br",
            "br-int",
            "--",
            "set",
            "bridge",
            "br-int",
            "datapath_type=netdev",
            "fail-mode=secure",
        ]);
        ovn.spawn(
            "ovn-controller",
            &[
                "ovn-controller",
                &format!("unix:{d}/db.sock"),
                &format!("--pidfile={d}/ovn-controller.pid"),
                &format!("--log-file={d}/ovn-controller.log"),
            ],
        );
        ovn.wait_for("ovn-controller", "ovn-controller.pid");
        ovn.ok(&["ovn-nbctl", "ls-add", "ovn-default"]);
        ovn
    }

    /// A pod as Kube-OVN wires it: its logical switch port (name
    /// `<pod>.<ns>`, `"<mac> <ip>"`, `pod=<ns>/<pod>`) and an internal port
    /// on br-int with the external_ids kube-ovn-cni sets.
    fn add_lsp(&self, pod: &PodFacts) {
        let port = pod.port();
        let addresses = format!("{} {}", pod.mac.as_deref().unwrap(), pod.ips[0]);
        self.ok(&[
            "ovn-nbctl",
            "lsp-add",
            "ovn-default",
            &port,
            "--",
            "lsp-set-addresses",
            &port,
            &addresses,
            "--",
            "set",
            "Logical_Switch_Port",
            &port,
            &format!("external_ids:pod={}/{}", pod.namespace, pod.name),
            "external_ids:ls=ovn-default",
            "external_ids:vendor=kube-ovn",
        ]);
    }

    fn add_interface(&self, interface: &str, iface_id: &str, ns: &str, name: &str, ip: &str) {
        self.ok(&[
            "ovs-vsctl",
            "add-port",
            "br-int",
            interface,
            "--",
            "set",
            "Interface",
            interface,
            "type=internal",
            &format!("external_ids:iface-id={iface_id}"),
            "external_ids:vendor=kube-ovn",
            &format!("external_ids:pod_name={name}"),
            &format!("external_ids:pod_namespace={ns}"),
            &format!("external_ids:ip={ip}"),
            &format!("external_ids:pod_netns=/var/run/netns/cni-{name}"),
        ]);
    }

    /// Reads NB, the Interfaces and ovn-controller with the harness's argv
    /// and judges `pods` against them; also returns the raw outputs.
    fn check(&self, pods: &[PodFacts]) -> (Check, String) {
        let mut raw = String::new();
        let mut answer = |argv: &[&str]| {
            let out = self.run(argv);
            raw.push_str(&format!(
                "$ {}\n{}{}",
                argv.join(" "),
                out.stdout_str(),
                out.stderr_str()
            ));
            out
        };
        let nb = answer(&LSP_ARGV);
        let ifaces = answer(&INTERFACE_ARGV);
        let ctl = answer(&CONTROLLER_ARGV);
        let snapshot = Snapshot {
            pods: pods.to_vec(),
            namespaces: None,
            lsps: ovn::listing(
                nb.status.code(),
                &nb.stdout_str(),
                &nb.stderr_str(),
                ovn::parse_lsps,
            ),
            nodes: vec![NodeOvn {
                node: NODE.into(),
                interfaces: ovn::listing(
                    ifaces.status.code(),
                    &ifaces.stdout_str(),
                    &ifaces.stderr_str(),
                    ovn::parse_interfaces,
                ),
                controller: ovn::parse_controller(
                    ctl.status.code(),
                    &ctl.stdout_str(),
                    &ctl.stderr_str(),
                ),
            }],
        };
        (ovn::check(&snapshot), raw)
    }

    /// Whether OVN bound `port` to this chassis (`ovn-installed` on its
    /// Interface: ovn-controller installed its flows).
    fn installed(&self, interface: &str) -> bool {
        self.run(&[
            "ovs-vsctl",
            "--if-exists",
            "get",
            "Interface",
            interface,
            "external_ids:ovn-installed",
        ])
        .stdout_str()
        .trim()
            == "\"true\""
    }
}

impl Drop for Ovn {
    fn drop(&mut self) {
        // ovn-controller first, so it does not rewrite br-int as the rest
        // goes; each by its PID.
        while let Some((_, mut child)) = self.children.pop() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn pod(name: &str, ip: &str, mac: &str) -> PodFacts {
    PodFacts {
        namespace: "default".into(),
        name: name.into(),
        node: Some(NODE.into()),
        running: true,
        ips: vec![ip.into()],
        mac: Some(mac.into()),
    }
}

fn names(c: &Check) -> Vec<String> {
    c.findings.iter().map(ToString::to_string).collect()
}

/// A consistent deployment passes; then a logical port without an OVS
/// port, an OVS port whose iface-id no logical port has, and a second OVS
/// port claiming a live pod's port are each named.
#[test]
fn the_checker_names_a_missing_and_an_orphaned_port_on_real_ovn() {
    const TEST: &str = "the_checker_names_a_missing_and_an_orphaned_port_on_real_ovn";
    if !prerequisites(TEST) {
        return;
    }
    let t0 = Instant::now();
    let ovn = Ovn::start("ports");
    let version = ovn.ok(&["ovn-nbctl", "--version"]);
    let version = version.lines().next().unwrap_or_default().to_string();
    let web0 = pod("web-0", "10.16.0.5", "00:00:00:aa:00:01");
    let web1 = pod("web-1", "10.16.0.6", "00:00:00:aa:00:02");
    for (p, iface) in [(&web0, "veth-web0"), (&web1, "veth-web1")] {
        ovn.add_lsp(p);
        ovn.add_interface(iface, &p.port(), &p.namespace, &p.name, &p.ips[0]);
    }
    let bound = ovn.until("ovn-controller binds both ports", |o| {
        o.installed("veth-web0") && o.installed("veth-web1")
    });
    let (found, raw) = ovn.check(&[web0.clone(), web1.clone()]);
    assert_eq!(found, Check::default(), "consistent, yet:\n{raw}");
    say(&format!(
        "SYSTEM: ovn_system: {version} on userspace OVS: 2 pods' ports bound by ovn-controller in {} ms; the checker found them consistent and ovn-controller connected",
        bound.as_millis()
    ));

    // A logical port without an OVS port: web-2 is Running on the node, NB
    // has its port, br-int has nothing claiming it.
    let web2 = pod("web-2", "10.16.0.7", "00:00:00:aa:00:03");
    ovn.add_lsp(&web2);
    // An OVS port with an iface-id but no logical port (a pod deleted while
    // its node was down: kube-ovn-controller removed the port, the CNI DEL
    // never ran).
    ovn.add_interface(
        "veth-gone",
        "gone-0.default",
        "default",
        "gone-0",
        "10.16.0.9",
    );
    let pods = [web0.clone(), web1.clone(), web2.clone()];
    let (found, raw) = ovn.check(&pods);
    assert_eq!(
        names(&found),
        [
            format!("no Interface on br-int of {NODE} has external_ids:iface-id=web-2.default"),
            format!(
                "Interface veth-gone on {NODE} has iface-id=gone-0.default, which no logical switch port has"
            ),
        ],
        "{raw}"
    );
    assert!(found.unreadable.is_empty(), "{:?}", found.unreadable);
    let verdict = ovn::judge(
        &cni_chaos::slo::Slo::OvnConsistent {
            namespaces: Vec::new(),
            nodes: cni_chaos::slo::NodeScope::All,
        },
        Ok(&found),
    );
    assert_eq!(verdict.status, cni_chaos::slo::SloStatus::Fail);
    assert_eq!(verdict.culprits[0].name, "web-2");
    assert_eq!(verdict.culprits[1].name, NODE);
    say(&format!(
        "SYSTEM: ovn_system: on real OVN the checker named {} inconsistencies: {}",
        found.findings.len(),
        names(&found).join("; ")
    ));

    // A second Interface claiming web-0's port (the duplicate
    // kube-ovn-cni's CleanDuplicatePort clears) and the pod web-1 deleted
    // while its ports stayed.
    ovn.add_interface("veth-web0b", &web0.port(), "default", "web-0", "10.16.0.5");
    let (found, raw) = ovn.check(&[web0.clone(), web2.clone()]);
    let found = names(&found);
    for want in [
        format!("Interfaces veth-web0, veth-web0b on {NODE} all have iface-id=web-0.default"),
        "logical switch port web-1.default is for pod default/web-1, which no longer exists"
            .to_string(),
        format!(
            "Interface veth-web1 on {NODE} has iface-id=web-1.default, made for pod default/web-1, which no longer exists"
        ),
    ] {
        assert!(found.contains(&want), "{want:?} not in {found:#?}\n{raw}");
    }
    say(&format!(
        "SYSTEM: ovn_system: a duplicate Interface and a deleted pod's leftover ports named too ({} findings)",
        found.len(),
    ));

    // web-2's port given another MAC with the command the twin models
    // (`ovn-nbctl lsp-set-addresses`, rule `ovn-nb-port-per-pod`): named
    // with the port's addresses and the pod's MAC it lacks.
    let port = web2.port();
    ovn.ok(&[
        "ovn-nbctl",
        "lsp-set-addresses",
        &port,
        "00:00:00:de:ad:01 10.16.0.7",
    ]);
    let (found, raw) = ovn.check(std::slice::from_ref(&web2));
    let found = names(&found);
    let want = "logical switch port web-2.default has addresses \"00:00:00:de:ad:01 10.16.0.7\", lacking the pod's 00:00:00:aa:00:03";
    assert!(
        found.iter().any(|f| f == want),
        "{want:?} not in {found:#?}\n{raw}"
    );
    say(&format!(
        "SYSTEM: ovn_system: a port whose MAC differs from the pod's named: {want}; whole test {} ms",
        t0.elapsed().as_millis()
    ));
}

/// ovn-controller is reported connected; with the SB database gone, not
/// connected; killed, not running, named with ovn-appctl's own words.
#[test]
fn ovn_controller_disconnected_and_killed_are_named_on_real_ovn() {
    const TEST: &str = "ovn_controller_disconnected_and_killed_are_named_on_real_ovn";
    if !prerequisites(TEST) {
        return;
    }
    let mut ovn = Ovn::start("ctl");
    let connected = ovn.until("ovn-controller connects", |o| {
        o.run(&CONTROLLER_ARGV).stdout_str().trim() == "connected"
    });
    let (found, raw) = ovn.check(&[]);
    assert_eq!(found, Check::default(), "{raw}");

    ovn.kill("ovsdb-server-sb");
    let lost = ovn.until("ovn-controller notices the SB database is gone", |o| {
        o.run(&CONTROLLER_ARGV).stdout_str().trim() == "not connected"
    });
    let (found, raw) = ovn.check(&[]);
    assert_eq!(
        found.findings,
        [ovn::Finding::ControllerDown {
            node: NODE.into(),
            state: Controller::NotConnected
        }],
        "{raw}"
    );
    assert_eq!(
        names(&found),
        [format!(
            "ovn-controller on {NODE} is not connected to the southbound database"
        )]
    );

    ovn.kill("ovn-controller");
    let (found, raw) = ovn.check(&[]);
    let [
        ovn::Finding::ControllerDown {
            state: Controller::NotRunning(words),
            ..
        },
    ] = found.findings.as_slice()
    else {
        panic!("a killed ovn-controller must be named not running: {found:?}\n{raw}");
    };
    assert!(words.contains("ovn-controller"), "{words}");
    say(&format!(
        "SYSTEM: ovn_system: ovn-controller connected after {} ms; SB ovsdb-server killed: \"not connected\" after {} ms, named; ovn-controller killed: named not running ({words})",
        connected.as_millis(),
        lost.as_millis()
    ));
}
