//! Real kubectl (1.33) against `cni-chaos twin serve`: the verbs the
//! harness and its users rely on. Each test starts its own server (port 0,
//! kubeconfig in a temp dir) and drives kubectl through the project's
//! runner; twin-only changes (a pod made Ready, a crash-looping init
//! container) go through the `/twin/v1` HTTP paths.
//!
//! Skips with a visible reason when kubectl is absent; fails instead when
//! `CHAOS_SYSTEM_TESTS=require`.

mod support;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use cni_chaos::exec::{Command, LocalRunner, Output, Runner};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// A running `cni-chaos twin serve`.
struct Served {
    addr: String,
    kubeconfig: PathBuf,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

/// Starts the twin (at `speed` virtual seconds per second) and reads the
/// address and kubeconfig from its first line; `None` (after saying why)
/// when kubectl is not there.
async fn serve(speed: &str) -> Option<Served> {
    if !support::tool_runs(
        Command::new("kubectl").args(["version", "--client"]),
        "install kubectl 1.27 or newer",
    ) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_cni-chaos"))
        .args([
            "twin",
            "serve",
            "--port",
            "0",
            "--seed",
            "7",
            "--speed",
            speed,
            "--kubeconfig",
        ])
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("twin serve printed nothing within 60 s")
        .unwrap()
        .expect("twin serve exited before printing its address");
    // twin: serving http://127.0.0.1:PORT kubeconfig PATH
    let mut words = first.split_whitespace();
    assert_eq!(words.next(), Some("twin:"), "{first}");
    assert_eq!(words.next(), Some("serving"), "{first}");
    let url = words.next().unwrap_or_default();
    let addr = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    assert!(
        addr.starts_with("127.0.0.1:"),
        "serves on loopback only: {first}"
    );
    assert_eq!(words.next(), Some("kubeconfig"), "{first}");
    assert_eq!(PathBuf::from(words.next().unwrap()), kubeconfig, "{first}");
    let export = lines.next_line().await.unwrap().unwrap_or_default();
    assert_eq!(
        export,
        format!("export KUBECONFIG={}", kubeconfig.display())
    );
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(text.contains(&format!("server: http://{addr}")), "{text}");
    Some(Served {
        addr,
        kubeconfig,
        _child: child,
        _dir: dir,
    })
}

impl Served {
    fn cmd(&self, args: &[&str]) -> Command {
        Command::new("kubectl")
            .args(args.iter().copied())
            .env("KUBECONFIG", self.kubeconfig.display().to_string())
            .timeout(Duration::from_secs(60))
    }

    /// Runs kubectl (with `stdin`), asserting it succeeds or fails as
    /// `want_success` says; its output goes into the panic message.
    async fn run(&self, args: &[&str], stdin: Option<&str>, want_success: bool) -> Output {
        let mut cmd = self.cmd(args);
        if let Some(input) = stdin {
            cmd = cmd.stdin(input.as_bytes().to_vec());
        }
        let out = LocalRunner::new()
            .output(&cmd)
            .await
            .unwrap_or_else(|e| panic!("{cmd}: {e}"));
        assert_eq!(
            out.success(),
            want_success,
            "{cmd}: {}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            out.stdout_str(),
            out.stderr_str()
        );
        out
    }

    /// Runs kubectl, which must succeed; returns its stdout.
    async fn ok(&self, args: &[&str]) -> String {
        self.run(args, None, true).await.stdout_str().into_owned()
    }

    /// Runs kubectl with `stdin`, which must succeed; returns its stdout.
    async fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        self.run(args, Some(stdin), true)
            .await
            .stdout_str()
            .into_owned()
    }

    /// Runs kubectl, which must fail; returns its stderr.
    async fn fails(&self, args: &[&str]) -> String {
        self.run(args, None, false).await.stderr_str().into_owned()
    }

    /// One plain HTTP/1.1 request to the twin (for the /twin/v1 paths).
    async fn http(&self, method: &str, path: &str, body: &str) -> (u16, Value) {
        let mut s = tokio::net::TcpStream::connect(&self.addr).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8_lossy(&raw).to_string();
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (
            code,
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}")),
        )
    }

    async fn pods(&self, selector: &str) -> Vec<String> {
        let out = self
            .ok(&[
                "get",
                "pods",
                "-A",
                "-l",
                selector,
                "-o",
                "jsonpath={.items[*].metadata.name}",
            ])
            .await;
        let mut names: Vec<String> = out.split_whitespace().map(str::to_string).collect();
        names.sort();
        names
    }
}

/// The value of a `Key:   value` line of describe output.
fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key} line in\n{out}"))
}

fn row<'a>(table: &'a str, name: &str) -> Vec<&'a str> {
    table
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == name))
        .unwrap_or_else(|| panic!("no row for {name} in\n{table}"))
        .split_whitespace()
        .collect()
}

#[tokio::test]
async fn get_pods_prints_the_table_with_computed_status() {
    let Some(twin) = serve("1").await else {
        return;
    };
    let version = twin.ok(&["version", "-o", "json"]).await;
    let v: Value = serde_json::from_str(&version).unwrap();
    assert_eq!(v["serverVersion"]["gitVersion"], "v1.33.1", "{version}");
    let table = twin.ok(&["get", "pods", "-A"]).await;
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{table}"
    );
    let multus = twin.pods("app=multus").await;
    assert_eq!(multus.len(), 3, "{multus:?}");
    let r = row(&table, &multus[0]);
    assert_eq!(
        &r[..5],
        ["kube-system", multus[0].as_str(), "1/1", "Running", "0"],
        "{table}"
    );
    for name in [
        "ovn-central",
        "kube-ovn-controller",
        "kube-ovn-monitor",
        "coredns",
        "etcd-chaos-twin-control-plane",
    ] {
        assert!(table.contains(name), "{name} missing:\n{table}");
    }
    // The incident's signature, written through the twin-only path: the
    // Multus init container crash-looping after 3 restarts.
    let crashed = json!({
        "phase": "Pending",
        "conditions": [{"type": "Initialized", "status": "False"}, {"type": "Ready", "status": "False"}],
        "initContainerStatuses": [{
            "name": "install-multus-binary", "ready": false, "restartCount": 3, "image": "multus", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-01-01T00:00:00Z"}},
        }],
        "containerStatuses": [{"name": "kube-multus", "ready": false, "restartCount": 0, "image": "multus", "imageID": "",
            "state": {"waiting": {"reason": "PodInitializing"}}}],
    });
    let (code, body) = twin
        .http(
            "PATCH",
            &format!("/twin/v1/status/pods/kube-system/{}", multus[0]),
            &crashed.to_string(),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let table = twin
        .ok(&["get", "pods", "-n", "kube-system", &multus[0]])
        .await;
    let r = row(&table, &multus[0]);
    assert_eq!(&r[1..3], ["0/1", "Init:CrashLoopBackOff"], "{table}");
    assert_eq!(r[3], "3", "{table}");
    assert!(
        r[4].starts_with('(') && r[5] == "ago)",
        "RESTARTS is \"3 (Xs ago)\": {table}"
    );
    // A pod deleted without waiting is Terminating for its grace period.
    let pinger = twin.pods("app=kube-ovn-pinger").await;
    twin.ok(&[
        "delete",
        "pod",
        "-n",
        "kube-system",
        &pinger[0],
        "--wait=false",
    ])
    .await;
    let table = twin
        .ok(&["get", "pods", "-n", "kube-system", &pinger[0]])
        .await;
    assert_eq!(row(&table, &pinger[0])[2], "Terminating", "{table}");
}

#[tokio::test]
async fn wide_output_for_pods_and_nodes() {
    let Some(twin) = serve("1").await else {
        return;
    };
    let pods = twin
        .ok(&[
            "get",
            "pods",
            "-n",
            "kube-system",
            "-o",
            "wide",
            "-l",
            "app=ovs",
        ])
        .await;
    let header: Vec<&str> = pods.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED",
            "NODE",
            "READINESS",
            "GATES"
        ],
        "{pods}"
    );
    assert_eq!(pods.lines().count(), 4, "{pods}");
    for line in pods.lines().skip(1) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert!(
            cells[5].starts_with("172.18.0."),
            "ovs-ovn is hostNetwork: {pods}"
        );
        assert!(cells[6].starts_with("chaos-twin-"), "{pods}");
        assert_eq!(&cells[7..], ["<none>", "<none>"], "{pods}");
    }
    let nodes = twin.ok(&["get", "nodes", "-o", "wide"]).await;
    let header: Vec<&str> = nodes.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "STATUS",
            "ROLES",
            "AGE",
            "VERSION",
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME"
        ],
        "{nodes}"
    );
    let cp = row(&nodes, "chaos-twin-control-plane");
    assert_eq!(
        &cp[..3],
        ["chaos-twin-control-plane", "Ready", "control-plane"],
        "{nodes}"
    );
    assert_eq!(&cp[4..7], ["v1.33.1", "172.18.0.2", "<none>"], "{nodes}");
    assert_eq!(cp.last(), Some(&"containerd://2.1.1"), "{nodes}");
    assert_eq!(
        &row(&nodes, "chaos-twin-worker2")[1..3],
        ["Ready", "<none>"],
        "{nodes}"
    );
}

#[tokio::test]
async fn describe_pod_and_node_show_events_and_lease() {
    let Some(twin) = serve("1").await else {
        return;
    };
    let coredns = twin.pods("k8s-app=kube-dns").await;
    let out = twin
        .ok(&["describe", "pod", "-n", "kube-system", &coredns[0]])
        .await;
    assert_eq!(field(&out, "Name:"), coredns[0], "{out}");
    assert_eq!(field(&out, "Status:"), "Running", "{out}");
    assert_eq!(
        field(&out, "Node:"),
        "chaos-twin-worker/172.18.0.3",
        "{out}"
    );
    assert!(out.contains("k8s-app=kube-dns"), "{out}");
    let events = out
        .split("Events:")
        .nth(1)
        .unwrap_or_else(|| panic!("no Events section:\n{out}"));
    assert!(
        events.contains("Scheduled") && events.contains("default-scheduler"),
        "{out}"
    );
    assert!(events.contains("Started container coredns"), "{out}");
    // Only this pod's events (describe filters with involvedObject.*).
    assert!(!events.contains(&coredns[1]), "{out}");
    let node = twin.ok(&["describe", "node", "chaos-twin-worker"]).await;
    assert!(node.contains("InternalIP:  172.18.0.3"), "{node}");
    assert!(
        node.contains("HolderIdentity:  chaos-twin-worker"),
        "{node}"
    );
    assert!(node.contains("Ready            True"), "{node}");
    let non_terminated = node
        .split("Non-terminated Pods:")
        .nth(1)
        .unwrap_or_else(|| panic!("{node}"));
    assert!(non_terminated.contains("kube-multus-ds-"), "{node}");
    assert!(
        node.contains("Node chaos-twin-worker status is now: NodeReady"),
        "{node}"
    );
}

#[tokio::test]
async fn delete_pod_waits_until_the_grace_period_ends() {
    // 60 virtual seconds per second: the 30 s grace period takes 0.5 s.
    let Some(twin) = serve("60").await else {
        return;
    };
    let proxy = twin.pods("k8s-app=kube-proxy").await;
    let out = twin
        .ok(&["delete", "pod", "-n", "kube-system", &proxy[0]])
        .await;
    assert_eq!(out.trim(), format!("pod \"{}\" deleted", proxy[0]));
    let err = twin
        .fails(&["get", "pod", "-n", "kube-system", &proxy[0]])
        .await;
    assert!(
        err.contains(&format!("pods \"{}\" not found", proxy[0])),
        "{err}"
    );
    let (code, truth) = twin.http("GET", "/twin/v1/truth", "").await;
    assert_eq!(code, 200);
    let changes: Vec<&str> = truth["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"] == proxy[0].as_str())
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(changes, ["ADDED", "MODIFIED", "DELETED"], "{truth}");
}

#[tokio::test]
async fn cordon_and_uncordon() {
    let Some(twin) = serve("1").await else {
        return;
    };
    let out = twin.ok(&["cordon", "chaos-twin-worker"]).await;
    assert_eq!(out.trim(), "node/chaos-twin-worker cordoned");
    let nodes = twin.ok(&["get", "nodes"]).await;
    assert_eq!(
        row(&nodes, "chaos-twin-worker")[1],
        "Ready,SchedulingDisabled",
        "{nodes}"
    );
    let spec = twin
        .ok(&[
            "get",
            "node",
            "chaos-twin-worker",
            "-o",
            "jsonpath={.spec.unschedulable}",
        ])
        .await;
    assert_eq!(spec, "true");
    let listed = twin
        .ok(&[
            "get",
            "nodes",
            "--field-selector",
            "spec.unschedulable=true",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(listed.trim(), "node/chaos-twin-worker");
    let out = twin.ok(&["uncordon", "chaos-twin-worker"]).await;
    assert_eq!(out.trim(), "node/chaos-twin-worker uncordoned");
    let nodes = twin.ok(&["get", "nodes"]).await;
    assert_eq!(row(&nodes, "chaos-twin-worker")[1], "Ready", "{nodes}");
    let node = twin
        .ok(&["get", "node", "chaos-twin-worker", "-o", "json"])
        .await;
    let node: Value = serde_json::from_str(&node).unwrap();
    assert!(node["spec"].get("unschedulable").is_none(), "{node}");
    assert_eq!(
        node["spec"]["podCIDR"], "10.16.1.0/24",
        "the patch kept the rest: {node}"
    );
}

#[tokio::test]
async fn wait_for_ready_sees_the_pod_made_ready_through_the_twin() {
    let Some(twin) = serve("1").await else {
        return;
    };
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: probe\n  namespace: default\nspec:\n  containers:\n  - name: c\n    image: registry.k8s.io/pause:3.10\n";
    twin.ok_stdin(&["create", "-f", "-"], pod).await;
    let table = twin.ok(&["get", "pod", "probe"]).await;
    assert_eq!(&row(&table, "probe")[1..3], ["0/1", "Pending"], "{table}");
    let waiter = {
        let cmd = twin.cmd(&[
            "wait",
            "--for=condition=Ready",
            "pod/probe",
            "--timeout=60s",
        ]);
        tokio::spawn(async move { LocalRunner::new().output(&cmd).await })
    };
    // Let kubectl list and start watching, then make the pod Ready.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !waiter.is_finished(),
        "kubectl wait returned before the pod was Ready"
    );
    let (code, body) = twin
        .http("POST", "/twin/v1/pods/default/probe/ready?ready=true", "")
        .await;
    assert_eq!(code, 200, "{body}");
    let out = waiter.await.unwrap().unwrap();
    assert!(
        out.success(),
        "kubectl wait: {}\n{}",
        out.stdout_str(),
        out.stderr_str()
    );
    assert_eq!(out.stdout_str().trim(), "pod/probe condition met");
    let table = twin.ok(&["get", "pod", "probe"]).await;
    assert_eq!(&row(&table, "probe")[1..3], ["1/1", "Running"], "{table}");
}

#[tokio::test]
async fn events_with_field_selectors() {
    let Some(twin) = serve("1").await else {
        return;
    };
    let coredns = twin.pods("k8s-app=kube-dns").await;
    let selector = format!("involvedObject.kind=Pod,involvedObject.name={}", coredns[0]);
    let out = twin
        .ok(&[
            "get",
            "events",
            "-n",
            "kube-system",
            "--field-selector",
            &selector,
        ])
        .await;
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{out}"
    );
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "Scheduled, Created, Started:\n{out}");
    assert!(
        rows.iter()
            .all(|r| r.contains(&format!("pod/{}", coredns[0]))),
        "{out}"
    );
    let started = twin
        .ok(&[
            "get",
            "events",
            "-A",
            "--field-selector",
            "reason=Started",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(
        started.lines().count(),
        5,
        "2 coredns + 3 multus pods started:\n{started}"
    );
    let nodes = twin
        .ok(&[
            "get",
            "events",
            "-n",
            "default",
            "--field-selector",
            "involvedObject.kind=Node,reason!=Starting",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(nodes.lines().count(), 3, "{nodes}");
    let err = twin
        .fails(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.colour=red",
        ])
        .await;
    assert!(
        err.contains("field label not supported: involvedObject.colour"),
        "{err}"
    );
}

#[tokio::test]
async fn label_selectors_equality_and_set_based() {
    let Some(twin) = serve("1").await else {
        return;
    };
    let count = |v: &Vec<String>| v.len();
    assert_eq!(count(&twin.pods("app=multus").await), 3);
    assert_eq!(count(&twin.pods("app==ovs,component=network").await), 3);
    assert_eq!(count(&twin.pods("app in (ovs,multus)").await), 6);
    let network_not_ovs = twin.pods("component=network,app notin (ovs)").await;
    assert_eq!(
        count(&network_not_ovs),
        9,
        "cni 3 + pinger 3 + central + controller + monitor: {network_not_ovs:?}"
    );
    assert!(
        network_not_ovs.iter().all(|n| !n.starts_with("ovs-ovn")),
        "{network_not_ovs:?}"
    );
    assert_eq!(
        count(&twin.pods("tier=control-plane,component!=etcd").await),
        3
    );
    let no_app = twin.pods("!app,!k8s-app").await;
    assert_eq!(count(&no_app), 4, "the static pods: {no_app:?}");
    let ds = twin
        .ok(&[
            "get",
            "ds",
            "-n",
            "kube-system",
            "-l",
            "app in (multus)",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(ds.trim(), "daemonset.apps/kube-multus-ds");
    let err = twin.fails(&["get", "pods", "-l", "app in multus"]).await;
    assert!(
        err.contains("unable to parse requirement")
            || err.contains("found 'multus', expected: '('"),
        "{err}"
    );
}

#[tokio::test]
async fn json_and_yaml_round_trips() {
    let Some(twin) = serve("1").await else {
        return;
    };
    // -o json is the stored object, byte for byte as JSON.
    let cm = twin
        .ok(&[
            "get",
            "configmap",
            "-n",
            "kube-system",
            "coredns",
            "-o",
            "json",
        ])
        .await;
    let cm: Value = serde_json::from_str(&cm).unwrap();
    let (code, stored) = twin
        .http(
            "GET",
            "/api/v1/namespaces/kube-system/configmaps/coredns",
            "",
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(cm, stored);
    let list = twin.ok(&["get", "pods", "-A", "-o", "json"]).await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().unwrap().len(), 25, "{list}");
    // -o yaml, edited, goes back with replace (validated server-side).
    let yaml = twin
        .ok(&[
            "get",
            "configmap",
            "-n",
            "kube-system",
            "coredns",
            "-o",
            "yaml",
        ])
        .await;
    assert!(
        yaml.contains("name: coredns") && yaml.contains("cache 30"),
        "{yaml}"
    );
    twin.ok_stdin(
        &["replace", "-f", "-"],
        &yaml.replace("cache 30", "cache 60"),
    )
    .await;
    let corefile = twin
        .ok(&[
            "get",
            "configmap",
            "-n",
            "kube-system",
            "coredns",
            "-o",
            "jsonpath={.data.Corefile}",
        ])
        .await;
    assert!(corefile.contains("cache 60"), "{corefile}");
    // Replaying the old yaml conflicts: its resourceVersion is stale.
    let out = twin.run(&["replace", "-f", "-"], Some(&yaml), false).await;
    assert!(
        out.stderr_str().contains("the object has been modified"),
        "stale replace must conflict: {}",
        out.stderr_str()
    );
    // A pod's yaml, renamed and stripped of identity, creates a twin of it.
    let etcd = twin
        .ok(&[
            "get",
            "pod",
            "-n",
            "kube-system",
            "etcd-chaos-twin-control-plane",
            "-o",
            "yaml",
        ])
        .await;
    let copy: String = etcd
        .lines()
        .filter(|l| {
            !l.trim_start().starts_with("uid:")
                && !l.trim_start().starts_with("resourceVersion:")
                && !l.trim_start().starts_with("creationTimestamp:")
        })
        .map(|l| l.replace("name: etcd-chaos-twin-control-plane", "name: etcd-copy"))
        .collect::<Vec<_>>()
        .join("\n");
    twin.ok_stdin(&["create", "-f", "-"], &copy).await;
    let a: Value = serde_json::from_str(
        &twin
            .ok(&[
                "get",
                "pod",
                "-n",
                "kube-system",
                "etcd-chaos-twin-control-plane",
                "-o",
                "json",
            ])
            .await,
    )
    .unwrap();
    let b: Value = serde_json::from_str(
        &twin
            .ok(&["get", "pod", "-n", "kube-system", "etcd-copy", "-o", "json"])
            .await,
    )
    .unwrap();
    assert_eq!(a["spec"], b["spec"]);
    assert_eq!(a["status"], b["status"]);
    assert_eq!(a["metadata"]["labels"], b["metadata"]["labels"]);
    assert_ne!(a["metadata"]["uid"], b["metadata"]["uid"]);
    // Strict validation happens on the server: an unknown field is refused.
    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\n  namespace: default\ncolour: red\n";
    let out = twin.run(&["create", "-f", "-"], Some(bad), false).await;
    assert!(
        out.stderr_str().contains("unknown field \"colour\""),
        "{}",
        out.stderr_str()
    );
}

/// A speed the clock cannot run at is refused before anything is served.
#[tokio::test]
async fn serve_refuses_a_speed_it_cannot_run_at() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["0", "-3", "nan", "inf", "1e30", "fast"] {
        let out = LocalRunner::new()
            .output(
                &Command::new(env!("CARGO_BIN_EXE_cni-chaos"))
                    .args(["twin", "serve", "--port", "0", "--kubeconfig"])
                    .arg(dir.path().join("kubeconfig").display().to_string())
                    .arg(format!("--speed={bad}"))
                    .timeout(Duration::from_secs(60)),
            )
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--speed {bad}: {out:?}");
        let err = out.stderr_str();
        assert!(err.contains("--speed"), "{bad}: {err}");
        assert!(
            err.contains("more than 0 and at most 100000") || err.contains("is not a number"),
            "{bad}: {err}"
        );
        assert!(
            !dir.path().join("kubeconfig").exists(),
            "{bad}: nothing served"
        );
    }
}
