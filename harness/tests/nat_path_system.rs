//! System test on real parts: the `nat-gateway-rules` path check
//! (`observe::natgw`, `path: true`) against real busybox `httpd` and `nc`
//! running the exact scripts the kind backend gives the target and the
//! client (`nat_path_server_script`, `nat_path_request`), through a real
//! gateway: a network namespace with `eth0` on the VPC side and `net1` on
//! the external side, forwarding, and the iptables chains and rules
//! kube-ovn's `nat-gateway.sh` makes (`init`, `add_snat`, `add_dnat`,
//! `add_eip`). The gateway's table and `net1` are read with the real
//! `iptables-save -t nat` and `ip -o -4 addr show dev net1` and judged by
//! the same code as on a cluster. Then: the SNAT rule deleted, the DNAT
//! rule deleted, and forwarding off with every rule in place (listed but
//! not in effect), each of which must fail naming what broke.
//!
//! Three namespaces and their veths are created and removed by name.
//! Needs root, `ip`, `iptables`, `unshare` and busybox; skips with the
//! reason otherwise, and fails under `CHAOS_SYSTEM_TESTS=require`.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use cni_chaos::backend::PodExec;
use cni_chaos::exec::{Command, Output};
use cni_chaos::observe::natgw::{
    self, GatewayReading, PathReading, PathRequest, Reading, Seen, parse_dnat_rules,
    parse_ipv4_addrs, parse_snat_rules,
};
use cni_chaos::slo::{DnatRule, Slo, SloStatus, SloVerdict};
use cni_chaos_twin::model::{
    NAT_DNAT_EXTERNAL_PORT, NAT_DNAT_INTERNAL_IP, NAT_DNAT_INTERNAL_PORT, NAT_EIP, NAT_LAN_IP,
    NAT_SNAT_CIDR, NAT_TARGET_HOSTNAME, NAT_TARGET_IP, NAT_TARGET_PORT, nat_path_request,
    nat_path_server_script,
};

/// The client pod's name, which its `httpd` CGI answers with.
const CLIENT: &str = "cni-chaos-nat-client-0";
/// The gateway pod's name in the verdict.
const GATEWAY: &str = "vpc-nat-gw-gw1-0";

/// Removes the namespaces (and with them the veths and the servers'
/// sockets) and stops the servers, by name and PID.
struct Cleanup {
    netns: Vec<String>,
    servers: Vec<std::process::Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &mut self.servers {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.netns {
            let _ = support::try_output(Command::new("ip").args(["netns", "del", ns.as_str()]));
        }
    }
}

fn run(cmd: Command) -> Output {
    support::try_run(cmd.timeout(Duration::from_secs(30))).unwrap_or_else(|e| panic!("{e}"))
}

/// `argv` in namespace `ns`, with busybox's applets first on the PATH.
fn in_ns(ns: &str, path: &str, argv: &[&str]) -> Command {
    Command::new("ip")
        .args(["netns", "exec", ns, "env"])
        .arg(format!("PATH={path}"))
        .args(argv.iter().copied())
}

/// The nat-gateway.sh commands in the gateway's namespace.
fn iptables(gw: &str, rule: &str) -> Command {
    Command::new("ip")
        .args(["netns", "exec", gw, "iptables", "-t", "nat"])
        .args(rule.split_whitespace())
}

/// Turns the gateway's IPv4 forwarding on (`"1"`) or off (`"0"`).
fn forwarding(gw: &str, on: &str) {
    run(Command::new("ip")
        .args(["netns", "exec", gw, "sysctl", "-qw"])
        .arg(format!("net.ipv4.ip_forward={on}")));
}

/// The path's request from namespace `ns` to `ip:port`, run as the
/// client's `kubectl exec` or the target's `docker exec` runs it.
fn ask(ns: &str, path: &str, ip: &str, port: u16, place: &str) -> PathRequest {
    let argv = nat_path_request(ip, port);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = support::try_output(in_ns(ns, path, &argv).timeout(Duration::from_secs(20)))
        .unwrap_or_else(|e| panic!("{e}"));
    PathRequest {
        place: place.into(),
        to: format!("{ip}:{port}"),
        command: argv.join(" "),
        answer: Ok(PodExec {
            status: out.status.code(),
            stdout: out.stdout_str().into_owned(),
            stderr: out.stderr_str().into_owned(),
        }),
    }
}

/// What the check reads: the gateway's table and `net1`, then the two
/// requests; and the verdict on it.
fn judge(gw: &str, vpc: &str, ext: &str, path: &str) -> (SloVerdict, Reading) {
    let saved = run(Command::new("ip").args(["netns", "exec", gw, "iptables-save", "-t", "nat"]));
    let saved = saved.stdout_str().into_owned();
    let addr = run(Command::new("ip").args([
        "netns", "exec", gw, "ip", "-o", "-4", "addr", "show", "dev", "net1",
    ]));
    let reading = Reading {
        gateways: vec![GatewayReading {
            pod: Seen {
                name: GATEWAY.into(),
                node: Some("chaos-system-worker".into()),
                not_running: None,
            },
            snat: parse_snat_rules(&saved),
            dnat: parse_dnat_rules(&saved),
            net1: parse_ipv4_addrs(&addr.stdout_str()),
        }],
        path: Some(PathReading {
            client: Some(Seen {
                name: CLIENT.into(),
                node: Some("chaos-system-control-plane".into()),
                not_running: None,
            }),
            egress: ask(vpc, path, NAT_TARGET_IP, NAT_TARGET_PORT, "the client"),
            ingress: Some(ask(
                ext,
                path,
                NAT_EIP,
                NAT_DNAT_EXTERNAL_PORT,
                "the target",
            )),
        }),
    };
    (natgw::judge(&slo(), Ok(&reading)), reading)
}

fn slo() -> Slo {
    Slo::NatGatewayRules {
        gateway: "gw1".into(),
        namespace: "kube-system".into(),
        eip: NAT_EIP.parse().unwrap(),
        snat_cidr: NAT_SNAT_CIDR.into(),
        dnat: Some(DnatRule {
            eip_port: NAT_DNAT_EXTERNAL_PORT,
            internal_ip: NAT_DNAT_INTERNAL_IP.parse().unwrap(),
            internal_port: NAT_DNAT_INTERNAL_PORT,
            protocol: "tcp".into(),
        }),
        path: true,
    }
}

/// Starts the path's `httpd` in `ns` as host `host` (its own UTS
/// namespace) from `dir`, and waits until it answers.
fn serve(ns: &str, path: &str, host: &str, dir: &Path, port: u16) -> std::process::Child {
    let script = format!(
        "hostname {host} && {}",
        nat_path_server_script(&dir.display().to_string(), port)
    );
    std::process::Command::new("ip")
        .args(["netns", "exec", ns, "unshare", "--uts", "env"])
        .arg(format!("PATH={path}"))
        .args(["sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting httpd in {ns}: {e}"))
}

#[test]
fn the_nat_path_check_on_real_httpd_nc_and_iptables() {
    if !support::root("nat_path_system") {
        return;
    }
    for (probe, install) in [
        (
            Command::new("ip").args(["netns", "list"]),
            "install iproute2",
        ),
        (
            Command::new("iptables").arg("--version"),
            "apt-get install -y iptables",
        ),
        (
            Command::new("unshare").arg("--version"),
            "install util-linux",
        ),
        (
            Command::new("busybox").args(["httpd", "--help"]),
            "apt-get install -y busybox-static",
        ),
    ] {
        if !support::tool_runs(probe, install) {
            return;
        }
    }
    // busybox's applets as the image's `sh`, `httpd`, `nc`, ...
    let bin = tempfile::tempdir().unwrap();
    let busybox = run(Command::new("sh").args(["-c", "command -v busybox"]));
    let busybox = busybox.stdout_str().trim().to_string();
    for applet in [
        "sh", "httpd", "nc", "hostname", "mkdir", "printf", "chmod", "timeout",
    ] {
        std::os::unix::fs::symlink(&busybox, bin.path().join(applet)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let pid = std::process::id();
    let [vpc, gw, ext] = ["vpc", "gw", "ext"].map(|n| format!("ccn-{pid}-{n}"));
    let mut cleanup = Cleanup {
        netns: vec![vpc.clone(), gw.clone(), ext.clone()],
        servers: Vec::new(),
    };
    for ns in [&vpc, &gw, &ext] {
        run(Command::new("ip").args(["netns", "add", ns.as_str()]));
        run(Command::new("ip").args([
            "netns",
            "exec",
            ns.as_str(),
            "ip",
            "link",
            "set",
            "lo",
            "up",
        ]));
    }
    let ip = |ns: &str, args: &str| {
        run(Command::new("ip")
            .args(["netns", "exec", ns, "ip"])
            .args(args.split_whitespace()));
    };
    // The gateway's eth0 on the VPC subnet, its net1 outside, as the
    // StatefulSet's pod has them.
    ip(
        &gw,
        &format!("link add eth0 type veth peer name eth0 netns {vpc}"),
    );
    ip(
        &gw,
        &format!("link add net1 type veth peer name eth0 netns {ext}"),
    );
    let prefix = NAT_SNAT_CIDR.split('/').nth(1).unwrap();
    ip(&gw, &format!("addr add {NAT_LAN_IP}/{prefix} dev eth0"));
    ip(&gw, "addr add 172.31.250.2/24 dev net1");
    ip(
        &vpc,
        &format!("addr add {NAT_DNAT_INTERNAL_IP}/{prefix} dev eth0"),
    );
    ip(&ext, &format!("addr add {NAT_TARGET_IP}/24 dev eth0"));
    for ns in [&vpc, &gw, &ext] {
        ip(ns, "link set eth0 up");
    }
    ip(&gw, "link set net1 up");
    // The VPC's default route to the gateway's lanIp (the Vpc's static
    // route); the target, like Docker's bridge, knows no way back into it.
    ip(&vpc, &format!("route add default via {NAT_LAN_IP}"));
    forwarding(&gw, "1");
    // nat-gateway.sh init, add_eip, add_snat, add_dnat.
    for rule in [
        "-N SNAT_FILTER",
        "-N EXCLUSIVE_SNAT",
        "-N SHARED_SNAT",
        "-A POSTROUTING -j SNAT_FILTER",
        "-A SNAT_FILTER -j EXCLUSIVE_SNAT",
        "-A SNAT_FILTER -j SHARED_SNAT",
        "-N DNAT_FILTER",
        "-N EXCLUSIVE_DNAT",
        "-N SHARED_DNAT",
        "-A PREROUTING -j DNAT_FILTER",
        "-A DNAT_FILTER -j EXCLUSIVE_DNAT",
        "-A DNAT_FILTER -j SHARED_DNAT",
    ] {
        run(iptables(&gw, rule));
    }
    ip(&gw, &format!("addr replace {NAT_EIP}/24 dev net1"));
    let snat = format!(
        "-A SHARED_SNAT -o net1 -s {NAT_SNAT_CIDR} -j SNAT --to-source {NAT_EIP} --random-fully"
    );
    let dnat = format!(
        "-A SHARED_DNAT -p tcp -d {NAT_EIP} --dport {NAT_DNAT_EXTERNAL_PORT} -j DNAT --to-destination {NAT_DNAT_INTERNAL_IP}:{NAT_DNAT_INTERNAL_PORT}"
    );
    run(iptables(&gw, &snat));
    run(iptables(&gw, &dnat));

    // The target's and the client's httpd, with the path's CGI.
    let www = tempfile::tempdir().unwrap();
    let (twww, cwww) = (www.path().join("target"), www.path().join("client"));
    cleanup.servers.push(serve(
        &ext,
        &path,
        NAT_TARGET_HOSTNAME,
        &twww,
        NAT_TARGET_PORT,
    ));
    cleanup
        .servers
        .push(serve(&vpc, &path, CLIENT, &cwww, NAT_DNAT_INTERNAL_PORT));
    // Up once each answers its own request (busybox nc has no -z).
    for (ns, ip, port) in [
        (&ext, NAT_TARGET_IP, NAT_TARGET_PORT),
        (&vpc, NAT_DNAT_INTERNAL_IP, NAT_DNAT_INTERNAL_PORT),
    ] {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let q = ask(ns, &path, ip, port, "itself");
            if q.answer.as_ref().is_ok_and(|o| o.status == Some(0)) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "httpd in {ns} did not come up: {q:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // 1. Everything in place: both directions get through, translated.
    let (v, r) = judge(&gw, &vpc, &ext, &path);
    assert_eq!(v.status, SloStatus::Pass, "{v:#?}\n{r:#?}");
    let p = r.path.as_ref().unwrap();
    let shown = |q: &PathRequest| {
        natgw::parse_path_answer(&q.answer.as_ref().unwrap().stdout)
            .map(|(peer, host)| format!("{host} saw {peer}"))
            .unwrap_or_else(|e| e)
    };
    let good = format!(
        "egress: {}; ingress: {}",
        shown(&p.egress),
        shown(p.ingress.as_ref().unwrap())
    );

    // 2. The SNAT rule gone: the target sees 10.250.1.10 and cannot
    // answer it. 3. The DNAT rule gone: the EIP is there, its port
    // refuses. Each names its rule and its direction, and only that.
    let mut no_snat = Duration::ZERO;
    for (rule, needles, other) in [
        (
            &snat,
            [
                "SNAT rule `-A SHARED_SNAT -s 10.250.1.0/24 -o net1 -j SNAT --to-source 172.31.250.101` missing",
                "egress: the request to 172.31.250.100:8080 got no answer (nc: timed out)",
            ],
            "ingress",
        ),
        (
            &dnat,
            [
                "DNAT rule `-A SHARED_DNAT -d 172.31.250.101/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.250.1.10:80` missing",
                "ingress: the request to 172.31.250.101:8080 got no answer (nc: can't connect to remote host (172.31.250.101): Connection refused)",
            ],
            "egress",
        ),
    ] {
        let t = Instant::now();
        run(iptables(&gw, &rule.replacen("-A", "-D", 1)));
        let (v, _) = judge(&gw, &vpc, &ext, &path);
        if rule == &snat {
            no_snat = t.elapsed();
        }
        assert_eq!(v.status, SloStatus::Fail, "{v:#?}");
        let reason = &v.culprits[0].reason;
        for needle in needles {
            assert!(reason.contains(needle), "no {needle:?} in {reason}");
        }
        assert!(!reason.contains(other), "{reason}");
        run(iptables(&gw, rule));
    }

    // 4. Every rule listed, none in effect (no forwarding): only the path
    // tells.
    forwarding(&gw, "0");
    let (v, _) = judge(&gw, &vpc, &ext, &path);
    assert_eq!(v.status, SloStatus::Fail, "{v:#?}");
    let reason = &v.culprits[0].reason;
    assert!(
        !reason.contains("missing"),
        "the rules are listed: {reason}"
    );
    assert!(
        reason.contains("egress: the request to 172.31.250.100:8080 got no answer"),
        "{reason}"
    );
    assert!(
        reason.contains("ingress: the request to 172.31.250.101:8080 got no answer"),
        "{reason}"
    );

    support::say(&format!(
        "SYSTEM: nat path through real iptables SNAT/DNAT: {good}; without the SNAT rule the client's request timed out after {} ms; without the DNAT rule the EIP's port refused; with forwarding off every rule was listed and both directions failed",
        no_snat.as_millis()
    ));
}
