//! System tests on real parts: the traffic pods' exact commands
//! (`observe::flows`: busybox's `nc` in a loop) and the long-lived
//! connections' (`observe::longlived`: one `nc` per connection) between two
//! network namespaces joined by a veth pair, which each test creates and
//! removes by name (killing what still runs in them first); the link goes
//! down for a few seconds; the receiver's lines are stamped as the
//! container runtime stamps them (RFC 3339, nanoseconds, on arrival) and
//! the outage, or the connection's fate, is derived by the same code as on
//! a cluster (`observe::traffic`, `observe::longlived`). Prints the
//! measured figures as `SYSTEM:` lines and asserts only coarse bounds.
//! Needs root, `ip` and busybox; skips with the reason otherwise, and
//! fails under `CHAOS_SYSTEM_TESTS=require`.

mod support;

use std::time::Duration;

use cni_chaos::exec::{Command, LocalRunner, Runner};
use cni_chaos::observe::flows::{RECEIVER_SCRIPT, sender_script};
use cni_chaos::observe::longlived::{self, Fate, SERVER_SCRIPT, client_script};
use cni_chaos::observe::traffic::{self, SEND_INTERVAL, Window};
use cni_chaos::slo::{Slo, SloStatus};

/// How long the link stays down.
const DOWN: Duration = Duration::from_secs(3);
/// When it goes down, after the receiver started.
const DOWN_AT: Duration = Duration::from_secs(4);
/// How long sender and receiver run.
const RUN: Duration = Duration::from_secs(13);

/// Removes the namespaces (and with them the veth pair) by name, after
/// killing every process still in them (a client's background loops
/// outlive its shell).
struct Netns(Vec<String>);

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in &self.0 {
            kill_all_in(ns);
            let _ = support::try_output(Command::new("ip").args(["netns", "del", ns.as_str()]));
        }
    }
}

/// SIGKILLs every process in namespace `ns` (`ip netns pids`).
fn kill_all_in(ns: &str) {
    let Ok(pids) = support::try_output(Command::new("ip").args(["netns", "pids", ns])) else {
        return;
    };
    let pids: Vec<String> = pids
        .stdout_str()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !pids.is_empty() {
        let _ = support::try_output(Command::new("kill").arg("-9").args(pids));
    }
}

fn run(cmd: Command) {
    support::try_run(cmd.timeout(Duration::from_secs(30))).unwrap_or_else(|e| panic!("{e}"));
}

/// Whether this host can run these tests (root, `ip`, busybox, GNU
/// `date`); says why not otherwise.
fn host_can() -> bool {
    if !support::root("traffic_system") {
        return false;
    }
    support::tool_runs(
        Command::new("ip").args(["netns", "list"]),
        "install iproute2",
    ) && support::tool_runs(
        Command::new("busybox").args(["nc", "--help"]),
        "apt-get install -y busybox-static",
    ) && support::tool_runs(
        Command::new("date").args(["-u", "+%N"]),
        "install coreutils",
    )
}

/// Two namespaces `cct-<pid>-<tag>a`/`b` joined by a veth pair with
/// `<net>.1/24` and `<net>.2/24`: the guard, the namespaces, and the
/// first one's veth.
fn namespaces(tag: &str, net: &str) -> (Netns, String, String, String) {
    let pid = std::process::id();
    let (a, b) = (format!("cct-{pid}-{tag}a"), format!("cct-{pid}-{tag}b"));
    let (va, vb) = (format!("cct{pid}{tag}a"), format!("cct{pid}{tag}b"));
    let guard = Netns(vec![a.clone(), b.clone()]);
    for ns in [&a, &b] {
        run(Command::new("ip").args(["netns", "add", ns.as_str()]));
    }
    run(Command::new("ip").args([
        "link", "add", &va, "netns", &a, "type", "veth", "peer", "name", &vb, "netns", &b,
    ]));
    for (ns, dev, addr) in [
        (&a, &va, format!("{net}.1/24")),
        (&b, &vb, format!("{net}.2/24")),
    ] {
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(["netns", "exec", ns.as_str(), "ip"])
                .args(args.iter().copied())
        };
        run(ip(&["addr", "add", addr.as_str(), "dev", dev]));
        run(ip(&["link", "set", dev, "up"]));
        run(ip(&["link", "set", "lo", "up"]));
    }
    (guard, a, b, va)
}

/// `script` (busybox `sh`) in namespace `ns` for `secs`, its output
/// stamped per line on arrival outside the namespace (the container
/// runtime's part).
fn stamped(ns: &str, script: &str, secs: u64) -> Command {
    let stamp = "while IFS= read -r l; do echo \"$(date -u +%Y-%m-%dT%H:%M:%S.%NZ) $l\"; done";
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{{ ip netns exec {ns} timeout {secs} busybox sh -c \"$SCRIPT\"; }} 2>&1 | {stamp}"
        ))
        .env("SCRIPT", script.replace("exec nc", "exec busybox nc"))
        .timeout(Duration::from_secs(secs + 20))
}

/// Sets `dev` in namespace `ns` down or up.
fn link(ns: &str, dev: &str, state: &str) -> Command {
    Command::new("ip")
        .args(["netns", "exec", ns, "ip", "link", "set", dev, state])
        .timeout(Duration::from_secs(10))
}

/// Takes the link down at `at` for [`DOWN`]; when it went down.
async fn flap(runner: &LocalRunner, ns: &str, dev: &str, at: Duration) -> jiff::Timestamp {
    tokio::time::sleep(at).await;
    let down = runner
        .output(&link(ns, dev, "down"))
        .await
        .expect("link down");
    assert!(down.success(), "{down:?}");
    let t = jiff::Timestamp::now();
    tokio::time::sleep(DOWN).await;
    let up = runner.output(&link(ns, dev, "up")).await.expect("link up");
    assert!(up.success(), "{up:?}");
    t
}

fn offset(t: jiff::Timestamp, origin: jiff::Timestamp) -> Duration {
    t.duration_since(origin).try_into().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_traffic_commands_measure_a_link_outage_between_two_namespaces() {
    if !host_can() {
        return;
    }
    let (_cleanup, a, b, va) = namespaces("t", "10.231.0");
    let secs = RUN.as_secs();
    let receiver = stamped(&b, RECEIVER_SCRIPT, secs);
    // The sender's files (its peers), in a folder of this test's.
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let sender = Command::new("ip")
        .args(["netns", "exec", a.as_str(), "timeout"])
        .arg(secs.to_string())
        .args(["busybox", "sh", "-c"])
        .arg(sender_script("echo 10.231.0.2").replace("| nc ", "| busybox nc "))
        .env("TMPDIR", tmp.path().display().to_string())
        .env("NODE_NAME", "a")
        .env("POD_NAME", "sender")
        .timeout(RUN + Duration::from_secs(20));
    let origin = jiff::Timestamp::now();
    let runner = LocalRunner::new();
    let flap = flap(&runner, &a, &va, DOWN_AT);
    let (rx, _tx, down_at) = tokio::join!(runner.output(&receiver), runner.output(&sender), flap);
    let rx = rx.expect("receiver ran");
    let log = rx.stdout_str();
    let seg = traffic::parse_log(&log, origin, |f, _| f.to_string());
    assert!(
        seg.records.len() > 20,
        "too few probes received ({}): {log}\n{}",
        seg.records.len(),
        rx.stderr_str()
    );
    let (_, last) = seg.span.expect("the receiver logged");
    let flows = traffic::derive(
        &[seg],
        &["pod-to-pod".into()],
        Window {
            from: Duration::ZERO,
            to: last,
        },
        SEND_INTERVAL,
    );
    let f = &flows[0];
    let down_off = offset(down_at, origin);
    let long: Vec<_> = f
        .outages
        .iter()
        .filter(|o| o.duration() >= Duration::from_secs(1))
        .collect();
    assert_eq!(long.len(), 1, "one outage around the link flap: {f:#?}");
    let o = long[0];
    support::say(&format!(
        "SYSTEM: traffic over a veth taken down for {} ms: outage {} ms ({} probes lost, starting {} ms from the link going down), {} received, loss {:.1}% over {} ms",
        DOWN.as_millis(),
        o.duration().as_millis(),
        o.lost,
        o.end.saturating_sub(o.duration()).as_millis() as i128 - down_off.as_millis() as i128,
        f.received,
        f.loss_percent.unwrap_or(0.0),
        last.as_millis()
    ));
    // Coarse: the link was down for 3 s; a probe's connect waits up to 1 s.
    assert!(
        o.duration() >= Duration::from_secs(2) && o.duration() <= Duration::from_secs(7),
        "{o:?}"
    );
    assert!(
        o.start <= down_off + Duration::from_secs(1),
        "{o:?} vs down at {down_off:?}"
    );
}

/// When the server is killed in the long-lived test.
const KILL_AT: Duration = Duration::from_secs(13);
/// When its successor starts.
const RESTART_AT: Duration = Duration::from_millis(13_500);
/// How long the long-lived client runs.
const LONG_RUN: Duration = Duration::from_secs(19);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_long_lived_commands_ride_out_a_link_flap_and_name_a_killed_server() {
    if !host_can() {
        return;
    }
    let (_cleanup, a, b, va) = namespaces("l", "10.232.0");
    let server = stamped(&b, SERVER_SCRIPT, LONG_RUN.as_secs());
    let successor = stamped(&b, SERVER_SCRIPT, (LONG_RUN - RESTART_AT).as_secs());
    let client = Command::new("ip")
        .args(["netns", "exec", a.as_str(), "timeout"])
        .arg(LONG_RUN.as_secs().to_string())
        .args(["busybox", "sh", "-c"])
        .arg(client_script("echo 10.232.0.2").replace("| nc ", "| busybox nc "))
        .env("NODE_NAME", "a")
        .env("POD_NAME", "client")
        .timeout(LONG_RUN + Duration::from_secs(20));
    let origin = jiff::Timestamp::now();
    let runner = LocalRunner::new();
    let flap = flap(&runner, &a, &va, DOWN_AT);
    // The server's every process killed (as its container's end would),
    // then a new server, as the restarted container's.
    let kill_and_restart = async {
        tokio::time::sleep(KILL_AT).await;
        let killed = jiff::Timestamp::now();
        kill_all_in(&b);
        tokio::time::sleep(RESTART_AT - KILL_AT).await;
        (
            killed,
            runner.output(&successor).await.expect("successor ran"),
        )
    };
    let (first, _client, down_at, (killed_at, second)) = tokio::join!(
        runner.output(&server),
        runner.output(&client),
        flap,
        kill_and_restart
    );
    let first = first.expect("server ran");
    let rename = |_: &str, p: &str| {
        cni_chaos::observe::flows::flow_name(
            longlived::FLOW,
            traffic::from_node(p).unwrap_or("?"),
            "b",
        )
    };
    let seg1 = traffic::parse_log(&first.stdout_str(), origin, rename);
    let seg2 = traffic::parse_log(&second.stdout_str(), origin, rename);
    assert!(
        seg1.records.len() > 20,
        "too few lines ({}): {}\n{}",
        seg1.records.len(),
        first.stdout_str(),
        first.stderr_str()
    );
    let expected = [format!("{} a -> b", longlived::FLOW)];
    // The flap: over the first server's log, one connection carried the
    // lines from before the link went down to the end.
    let down_off = offset(down_at, origin);
    let flapped = longlived::derive(std::slice::from_ref(&seg1), &expected, down_off);
    let c = &flapped[0];
    assert!(matches!(c.fate, Fate::Survived { .. }), "{c:#?}");
    let v = longlived::judge(&Slo::LongLivedTcp, Ok(&flapped), down_off);
    assert_eq!(v.status, SloStatus::Pass, "{v:#?}");
    let gap = c.longest_gap.expect("a gap").duration();
    // The kill: over both servers' logs, a reconnect to the successor.
    let kill_off = offset(killed_at, origin);
    let killed = longlived::derive(&[seg1, seg2], &expected, kill_off);
    let k = &killed[0];
    let v2 = longlived::judge(&Slo::LongLivedTcp, Ok(&killed), kill_off);
    support::say(&format!(
        "SYSTEM: a long-lived connection over a veth taken down for {} ms: survived, longest gap {} ms; server killed: {:?} ({})",
        DOWN.as_millis(),
        gap.as_millis(),
        v2.status,
        v2.culprits
            .first()
            .map(|c| c.reason.as_str())
            .unwrap_or("no culprit")
    ));
    // Coarse: down 3 s; the gap ends at a retransmission after it (the
    // doubling timeouts put one between 3 s and 12 s after the first loss).
    assert!(
        gap >= Duration::from_millis(2_500) && gap <= Duration::from_secs(13),
        "{c:#?}"
    );
    assert!(matches!(k.fate, Fate::Broke { .. }), "{k:#?}");
    assert_eq!(v2.status, SloStatus::Fail, "{v2:#?}");
    assert!(v2.culprits[0].reason.contains("broke"), "{v2:#?}");
}

/// The peers' addresses from `nslookup`, through busybox's own `awk`: the
/// DNS server's lines come first (busybox 1.36 prints its address with the
/// port, `10.96.0.10:53`, bind-utils with `#53`; mirror/busybox@1_36_1
/// networking/nslookup.c) and are never a peer; every `Address` after the
/// first `Name:` is.
#[test]
fn the_peer_lookup_takes_the_answers_and_never_the_dns_server() {
    if !support::tool_runs(
        Command::new("busybox").args(["awk", "BEGIN{}"]),
        "apt-get install -y busybox-static",
    ) {
        return;
    }
    let busybox = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\nName:\tchaos-traffic.cni-chaos-probes.svc.cluster.local\nAddress: 10.16.0.5\nName:\tchaos-traffic.cni-chaos-probes.svc.cluster.local\nAddress: 10.16.0.6\n\n";
    let bind = "Server:\t\t10.96.0.10\nAddress:\t10.96.0.10#53\n\nName:\tchaos-traffic.cni-chaos-probes.svc.cluster.local\nAddress: 10.16.0.5\n";
    for (text, want) in [(busybox, "10.16.0.5\n10.16.0.6\n"), (bind, "10.16.0.5\n")] {
        let out = support::try_output(
            Command::new("busybox")
                .args(["sh", "-c"])
                .arg(cni_chaos::observe::flows::NSLOOKUP_ADDRESSES.replacen(
                    "awk",
                    "busybox awk",
                    1,
                ))
                .stdin(text.as_bytes().to_vec())
                .timeout(Duration::from_secs(10)),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.stdout_str(), want, "{text:?}");
    }
    // A failed lookup (NXDOMAIN: no Name line) names no peer.
    let out = support::try_output(
        Command::new("busybox")
            .args(["sh", "-c"])
            .arg(cni_chaos::observe::flows::NSLOOKUP_ADDRESSES.replacen("awk", "busybox awk", 1))
            .stdin(b"Server:\t\t10.96.0.10\nAddress:\t10.96.0.10:53\n\n** server can't find x: NXDOMAIN\n".to_vec())
            .timeout(Duration::from_secs(10)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.stdout_str(), "");
}
