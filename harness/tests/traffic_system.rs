//! System test on real parts: the traffic pods' exact commands
//! (`observe::flows`: busybox's `nc` in a loop) between two network
//! namespaces joined by a veth pair, which this test creates and removes
//! by name; the link goes down for a few seconds; the receiver's lines are
//! stamped as the container runtime stamps them (RFC 3339, nanoseconds, on
//! arrival) and the outage is derived by the same code as on a cluster
//! (`observe::traffic`). Prints the measured outage as a `SYSTEM:` figure
//! and asserts only a coarse bound. Needs root, `ip` and busybox; skips
//! with the reason otherwise, and fails under `CHAOS_SYSTEM_TESTS=require`.

mod support;

use std::time::Duration;

use cni_chaos::exec::{Command, LocalRunner, Runner};
use cni_chaos::observe::flows::{RECEIVER_SCRIPT, sender_script};
use cni_chaos::observe::traffic::{self, SEND_INTERVAL, Window};

/// How long the link stays down.
const DOWN: Duration = Duration::from_secs(3);
/// When it goes down, after the receiver started.
const DOWN_AT: Duration = Duration::from_secs(4);
/// How long sender and receiver run.
const RUN: Duration = Duration::from_secs(13);

/// Removes the namespaces (and with them the veth pair) by name.
struct Netns(Vec<String>);

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = support::try_output(Command::new("ip").args(["netns", "del", ns.as_str()]));
        }
    }
}

fn run(cmd: Command) {
    support::try_run(cmd.timeout(Duration::from_secs(30))).unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_traffic_commands_measure_a_link_outage_between_two_namespaces() {
    if !support::root("traffic_system") {
        return;
    }
    if !support::tool_runs(
        Command::new("ip").args(["netns", "list"]),
        "install iproute2",
    ) || !support::tool_runs(
        Command::new("busybox").args(["nc", "--help"]),
        "apt-get install -y busybox-static",
    ) || !support::tool_runs(
        Command::new("date").args(["-u", "+%N"]),
        "install coreutils",
    ) {
        return;
    }
    let pid = std::process::id();
    let (a, b) = (format!("cct-{pid}-a"), format!("cct-{pid}-b"));
    let (va, vb) = (format!("cct{pid}a"), format!("cct{pid}b"));
    let _cleanup = Netns(vec![a.clone(), b.clone()]);
    for ns in [&a, &b] {
        run(Command::new("ip").args(["netns", "add", ns.as_str()]));
    }
    run(Command::new("ip").args([
        "link", "add", &va, "netns", &a, "type", "veth", "peer", "name", &vb, "netns", &b,
    ]));
    for (ns, dev, addr) in [(&a, &va, "10.231.0.1/24"), (&b, &vb, "10.231.0.2/24")] {
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(["netns", "exec", ns.as_str(), "ip"])
                .args(args.iter().copied())
        };
        run(ip(&["addr", "add", addr, "dev", dev]));
        run(ip(&["link", "set", dev, "up"]));
        run(ip(&["link", "set", "lo", "up"]));
    }
    // The receiver, its output stamped per line on arrival (the container
    // runtime's part); busybox's applets as the image's `sh`, `nc`, `cat`.
    let secs = RUN.as_secs().to_string();
    let stamp = "while IFS= read -r l; do echo \"$(date -u +%Y-%m-%dT%H:%M:%S.%NZ) $l\"; done";
    let receiver = Command::new("ip")
        .args(["netns", "exec", b.as_str(), "timeout", secs.as_str()])
        .args(["sh", "-c"])
        .arg(format!("{{ busybox sh -c \"$RECEIVER\"; }} 2>&1 | {stamp}",))
        .env(
            "RECEIVER",
            RECEIVER_SCRIPT.replace("exec nc", "exec busybox nc"),
        )
        .timeout(RUN + Duration::from_secs(20));
    // The sender's files (its peers), in a folder of this test's.
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let sender = Command::new("ip")
        .args(["netns", "exec", a.as_str(), "timeout", secs.as_str()])
        .args(["busybox", "sh", "-c"])
        .arg(sender_script("echo 10.231.0.2").replace("| nc ", "| busybox nc "))
        .env("TMPDIR", tmp.path().display().to_string())
        .env("NODE_NAME", "a")
        .env("POD_NAME", "sender")
        .timeout(RUN + Duration::from_secs(20));
    let origin = jiff::Timestamp::now();
    let runner = LocalRunner::new();
    let flap = async {
        tokio::time::sleep(DOWN_AT).await;
        let link = |state: &str| {
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    a.as_str(),
                    "ip",
                    "link",
                    "set",
                    va.as_str(),
                    state,
                ])
                .timeout(Duration::from_secs(10))
        };
        let down = runner.output(&link("down")).await.expect("link down");
        assert!(down.success(), "{down:?}");
        let at = jiff::Timestamp::now();
        tokio::time::sleep(DOWN).await;
        let up = runner.output(&link("up")).await.expect("link up");
        assert!(up.success(), "{up:?}");
        at
    };
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
    let down_off: Duration = down_at.duration_since(origin).try_into().unwrap();
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
