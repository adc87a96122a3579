//! Real kubectl against `cni-chaos twin serve --model` after `cni-chaos
//! twin fault reboot`: what a user sees of the seed incident. The served
//! twin runs in real time at 60 virtual seconds per second, so this test
//! waits (seconds of wall time) instead of using paused time.
//!
//! Skips with a visible reason when kubectl is absent; fails instead when
//! `CHAOS_SYSTEM_TESTS=require`.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use cni_chaos::exec::{Command, LocalRunner, Output, Runner};
use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_cni-chaos");

/// `cni-chaos twin fault --kubeconfig <kc> <args>`, whatever its exit.
async fn twin_fault(kubeconfig: &Path, args: &[&str]) -> Output {
    LocalRunner::new()
        .output(
            &Command::new(BIN)
                .args(["twin", "fault", "--kubeconfig"])
                .arg(kubeconfig.display().to_string())
                .args(args.iter().copied())
                .timeout(Duration::from_secs(60)),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn kubectl(kubeconfig: &Path, args: &[&str]) -> String {
    let out = LocalRunner::new()
        .output(
            &Command::new("kubectl")
                .args(args.iter().copied())
                .env("KUBECONFIG", kubeconfig.display().to_string())
                .timeout(Duration::from_secs(60)),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `kubectl get pods -n kube-system -o wide --no-headers`.
async fn pods_wide(kubeconfig: &Path) -> String {
    kubectl(
        kubeconfig,
        &[
            "get",
            "pods",
            "-n",
            "kube-system",
            "-o",
            "wide",
            "--no-headers",
        ],
    )
    .await
}

/// `NAME READY STATUS` of the pods on `node` (kubectl's own columns).
fn on_node(wide: &str, node: &str) -> Vec<(String, String, String)> {
    wide.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 7 && f.contains(&node))
                .then(|| (f[0].to_string(), f[1].to_string(), f[2].to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_shows_the_incident_after_twin_fault_reboot() {
    if !support::tool_runs(
        Command::new("kubectl").args(["version", "--client"]),
        "install kubectl 1.27 or newer",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kubeconfig");
    let mut child = tokio::process::Command::new(BIN)
        .args([
            "twin",
            "serve",
            "--port",
            "0",
            "--seed",
            "2",
            "--speed",
            "60",
            "--model",
            "kube-ovn-1.14-multus-4.2.1",
            "--kubeconfig",
        ])
        .arg(&kc)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("serve printed its address")
        .unwrap()
        .unwrap();
    assert!(
        first.starts_with("twin: serving http://127.0.0.1:"),
        "{first}"
    );

    // About 5 virtual minutes to install and settle. With seed 2 the
    // scheduler puts a CoreDNS replica on the worker (the NAT gateway is
    // pinned there); which node CoreDNS lands on depends on which nodes
    // are Ready when its pods are created, which the seed decides.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let wide = pods_wide(&kc).await;
    let worker = on_node(&wide, "chaos-twin-worker");
    assert!(
        worker.len() >= 6 && worker.iter().all(|(_, r, s)| r == "1/1" && s == "Running"),
        "{wide}"
    );

    // A node the twin does not have: the server's reason reaches the user.
    let out = twin_fault(&kc, &["reboot", "nosuch"]).await;
    assert!(!out.success());
    let err = out.stderr_str();
    assert!(
        err.contains("error: twin fault: no node \"nosuch\"")
            && err.contains("chaos-twin-worker")
            && err.contains("(400 BadRequest)"),
        "{err}"
    );

    // A crash-like reboot: a graceful one is an orderly shutdown in which
    // the Multus daemon deletes 00-multus.conf, and nothing deadlocks.
    let out = twin_fault(&kc, &["reboot", "worker", "--hard"]).await;
    assert!(out.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hard restart"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Sample for about 8 virtual minutes (in the pure model the deadlock
    // holds at +10 min for 99 of 100 seeds; later, a gap between shim
    // timeouts can let a cp retry through).
    let mut crashloop_seen = false;
    let mut last = String::new();
    for _ in 0..16 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        last = pods_wide(&kc).await;
        let worker = on_node(&last, "chaos-twin-worker");
        crashloop_seen |= worker
            .iter()
            .any(|(n, _, s)| n.starts_with("kube-multus-ds-") && s == "Init:CrashLoopBackOff");
    }
    assert!(
        crashloop_seen,
        "kubectl never showed Init:CrashLoopBackOff:\n{last}"
    );
    let worker = on_node(&last, "chaos-twin-worker");
    for prefix in ["coredns-", "kube-ovn-pinger-", "vpc-nat-gw-"] {
        let p = worker
            .iter()
            .find(|(n, _, _)| n.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} on the worker:\n{last}"));
        assert_eq!(p.1, "0/1", "{prefix} not ready after the reboot:\n{last}");
    }
    for prefix in ["ovs-ovn-", "kube-ovn-cni-"] {
        let p = worker
            .iter()
            .find(|(n, _, _)| n.starts_with(prefix))
            .unwrap();
        assert_eq!(
            (p.1.as_str(), p.2.as_str()),
            ("1/1", "Running"),
            "Kube-OVN looks fine:\n{last}"
        );
    }
    let multus = worker
        .iter()
        .find(|(n, _, _)| n.starts_with("kube-multus-ds-"))
        .unwrap();
    let describe = kubectl(&kc, &["describe", "pod", "-n", "kube-system", &multus.0]).await;
    assert!(
        describe.contains("Back-off restarting failed container install-multus-binary"),
        "{describe}"
    );
    let logs = kubectl(
        &kc,
        &[
            "logs",
            "-n",
            "kube-system",
            &multus.0,
            "-c",
            "install-multus-binary",
            "--tail=3",
        ],
    )
    .await;
    assert!(
        logs.contains(
            "cp: cannot create regular file '/host/opt/cni/bin/multus-shim': Text file busy"
        ),
        "{logs}"
    );
    let events = kubectl(
        &kc,
        &[
            "get",
            "events",
            "-n",
            "kube-system",
            "--field-selector",
            "reason=FailedCreatePodSandBox",
        ],
    )
    .await;
    // The shims give up after multus-cni's APIReadyPollTimeout (60 s).
    assert!(
        events.contains("CmdAdd (shim): timed out waiting for the condition"),
        "{events}"
    );
}
