//! The seed's symptoms as SLOs of their own on the twin, after the seed
//! scenario's crash-like reboot of the worker that runs the VPC NAT gateway
//! (placement pinned: the fault targets the first worker, the twin's
//! gateway node): the Multus init crash loop, DNS answered from the faulted
//! node, kube-ovn-pinger's own verdict (its log's last round), and the NAT
//! gateway path with its rules. On a racy cell each fails with its own
//! culprit on the faulted node while the Kube-OVN pods there stay Running
//! (the seed's negative control); on a fixed cell all pass (a pinger's
//! clean last round is needed for that: its log is read, not assumed).
//!
//! `nat-gateway-rules` alone: a graceful reboot of the
//! worker that runs the VPC NAT gateway re-creates the gateway's sandbox,
//! so its network namespace comes back without the NAT chains, the SNAT
//! rule and the EIP. Whether kube-ovn-controller puts them back is a
//! property of the Kube-OVN release (twin rules
//! `nat-gateway-init-once-per-pod`, `nat-gateway-restart-rolls-the-pod-5072`):
//! v1.14 and later replace the pod whose container restarted and initialise
//! the new one; v1.13.15 keeps the pod and its init annotation, so nothing
//! re-applies the rules. The SLO reads them through the command seam
//! (`iptables-save -t nat`, `ip -o -4 addr show dev net1` in the gateway),
//! the same parsers as `kubectl exec` output on kind.
//!
//! The reboot is graceful so that Multus' clean exit removes
//! `00-multus.conf` (no #1221 deadlock): the gateway's `net1` comes back on
//! both releases, and only the rule restore differs.

mod support;

use std::sync::Arc;

use cni_chaos::backend::Cluster;
use cni_chaos::backend::twin::TwinCluster;
use cni_chaos::run::{ScenarioResult, Verdict};
use cni_chaos::slo::{SloKind, SloStatus, SloVerdict};
use cni_chaos::suite;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};

/// The first worker, where the twin runs the NAT gateway; every fault here targets it.
const NODE: &str = "chaos-twin-worker";

/// The suite `text`, and a twin cluster for it.
fn cluster(text: &str) -> (suite::Suite, Arc<TwinCluster>) {
    support::twin_cluster("symptoms.yaml", text)
}

/// Runs the suite's first scenario on `cluster`.
async fn run(suite: &suite::Suite, cluster: Arc<TwinCluster>) -> ScenarioResult {
    support::run_first(suite, cluster).await
}

/// A kubeovn.io/v1 object as the cluster's API serves it.
async fn kubeovn(cluster: &TwinCluster, kind: &str, plural: &str, name: &str) -> serde_json::Value {
    let gvk = GroupVersionKind::gvk("kubeovn.io", "v1", kind);
    let api: Api<DynamicObject> = Api::all_with(
        cluster.kube_client().expect("client"),
        &ApiResource::from_gvk_with_plural(&gvk, plural),
    );
    serde_json::to_value(api.get(name).await.expect("get")).unwrap()
}

/// Waits for the cluster to be steady; the kube-system pods API and the
/// gateway's pod then.
async fn steady_gateway(suite: &suite::Suite, cluster: &TwinCluster) -> (Api<Pod>, Pod) {
    let pods: Api<Pod> = Api::namespaced(cluster.kube_client().expect("client"), "kube-system");
    let gate = cluster
        .steady_state(&suite.scenarios[0], std::time::Duration::from_secs(600))
        .await
        .expect("gate");
    assert!(gate.steady, "{gate:#?}");
    let gw = pods.get("vpc-nat-gw-gw1-0").await.expect("gateway pod");
    (pods, gw)
}

fn verdict(r: &ScenarioResult, kind: SloKind) -> &SloVerdict {
    r.slos
        .iter()
        .find(|v| v.slo.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind:?} verdict in {:#?}", r.slos))
}

fn seed_suite(versions: &str) -> String {
    format!(
        r#"
name: seed
description: the seed's symptoms after a crash-like reboot of the gateway's node
cluster: {{versions: {versions}, nat-gateway: true}}
scenarios:
  - name: worker-reboot-multus
    fault: {{kind: node-reboot, target: {{role: worker, index: 0}}, mode: hard}}
    slos:
      - {{kind: no-crashloop, namespace: kube-system, selector: app=multus, containers: init}}
      - {{kind: probe-succeeds-within, probe: dns, budget: 3m}}
      - {{kind: nat-gateway-rules, gateway: gw1, eip: 172.31.250.101, snat-cidr: 10.250.1.0/24}}
      - {{kind: pinger-healthy, nodes: all}}
"#
    )
}

/// The scenario's result and the Kube-OVN pods on the faulted node with
/// their status when it ended.
async fn run_seed(versions: &str) -> (ScenarioResult, Vec<(String, String)>) {
    let (suite, cluster) = cluster(&seed_suite(versions));
    let r = run(&suite, cluster.clone()).await;
    let pods: Api<Pod> = Api::namespaced(cluster.kube_client().expect("client"), "kube-system");
    let mut kube_ovn = Vec::new();
    for app in ["ovs", "kube-ovn-cni"] {
        for p in pods
            .list(&ListParams::default().labels(&format!("app={app}")))
            .await
            .expect("list")
            .items
        {
            if p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(NODE) {
                kube_ovn.push((
                    p.metadata.name.clone().unwrap_or_default(),
                    cni_chaos::observe::conditions::pod_status_text(&p),
                ));
            }
        }
    }
    (r, kube_ovn)
}

#[tokio::test(start_paused = true)]
async fn on_a_racy_cell_each_symptom_fails_with_its_own_culprit_while_kube_ovn_looks_running() {
    let (r, kube_ovn) = run_seed("kube-ovn-1.14-multus-4.2.1").await;
    assert_eq!(r.slos.len(), 4);
    for v in &r.slos {
        assert_eq!(v.status, SloStatus::Fail, "{v:#?}");
    }
    let multus = verdict(&r, SloKind::NoCrashLoop);
    assert!(
        multus
            .culprits
            .iter()
            .any(|c| c.name.starts_with("kube-multus-ds")
                && c.node.as_deref() == Some(NODE)
                && c.reason.contains("Init:CrashLoopBackOff")),
        "{multus:#?}"
    );
    let dns = verdict(&r, SloKind::ProbeSucceedsWithin);
    // The probe pod on the faulted node never gets a sandbox: its CNI ADD
    // waits in the multus-shim behind the deadlocked daemon.
    assert!(
        dns.culprits
            .iter()
            .any(|c| c.name == "probe-dns" && c.reason.contains("ContainerCreating")),
        "{dns:#?}"
    );
    let nat = verdict(&r, SloKind::NatGatewayRules);
    assert_eq!(nat.culprits.len(), 1, "{nat:#?}");
    assert_eq!(nat.culprits[0].name, "vpc-nat-gw-gw1-0");
    assert_eq!(nat.culprits[0].node.as_deref(), Some(NODE));
    assert!(nat.culprits[0].reason.contains("not Running"), "{nat:#?}");
    // Pinger's own verdict: the pinger on the faulted node never runs
    // again (its sandbox waits behind the deadlocked Multus).
    let pinger = verdict(&r, SloKind::PingerHealthy);
    assert_eq!(pinger.culprits.len(), 1, "{pinger:#?}");
    assert!(pinger.culprits[0].name.starts_with("kube-ovn-pinger-"));
    assert_eq!(pinger.culprits[0].node.as_deref(), Some(NODE));
    assert_eq!(
        pinger.culprits[0].reason,
        "ContainerCreating: not Running when observation ended"
    );
    // The negative control: Kube-OVN's own pods on the node look Running.
    assert_eq!(kube_ovn.len(), 2, "{kube_ovn:?}");
    for (name, status) in &kube_ovn {
        assert_eq!(status, "Running", "{name}");
    }
}

#[tokio::test(start_paused = true)]
async fn on_a_fixed_cell_every_symptom_passes() {
    let (r, _) = run_seed("kube-ovn-1.15-multus-4.2.3").await;
    assert_eq!(r.slos.len(), 4);
    for v in &r.slos {
        assert_eq!(v.status, SloStatus::Pass, "{v:#?}");
    }
}

/// `suites/incident.yaml` itself, on the cell `versions`.
fn incident_suite(versions: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/incident.yaml");
    let text = std::fs::read_to_string(&path).expect("suites/incident.yaml");
    let pinned = "versions: kube-ovn-1.14-multus-4.2.1";
    assert!(
        text.contains(pinned),
        "incident.yaml no longer pins {pinned}"
    );
    text.replacen(pinned, &format!("versions: {versions}"), 1)
}

#[tokio::test(start_paused = true)]
async fn the_incident_suite_fails_exactly_its_four_symptoms_on_a_racy_cell() {
    let (suite, cluster) = cluster(&incident_suite("kube-ovn-1.14-multus-4.2.1"));
    let r = run(&suite, cluster).await;
    assert_eq!(r.verdict, Verdict::XFail, "{:#?}", r.symptoms);
    // Four symptoms, each failed with its own culprit on the faulted node;
    // the negative control held.
    let failed: Vec<(SloKind, &SloVerdict)> = r
        .slos
        .iter()
        .filter(|v| v.status == SloStatus::Fail)
        .map(|v| (v.slo.kind(), v))
        .collect();
    assert_eq!(
        failed.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        [
            SloKind::NoCrashLoop,
            SloKind::ProbeSucceedsWithin,
            SloKind::PingerHealthy,
            SloKind::NatGatewayRules
        ],
        "{:#?}",
        r.slos
    );
    for (kind, v) in &failed {
        assert!(
            v.culprits.iter().all(|c| c.node.as_deref() == Some(NODE)),
            "{kind:?}: every culprit on the faulted node: {v:#?}"
        );
    }
    let names: Vec<Vec<&str>> = failed
        .iter()
        .map(|(_, v)| v.culprits.iter().map(|c| c.name.as_str()).collect())
        .collect();
    assert!(
        names[0].iter().all(|n| n.starts_with("kube-multus-ds-")),
        "{names:?}"
    );
    assert_eq!(names[1], ["probe-dns"]);
    assert!(
        names[2].iter().all(|n| n.starts_with("kube-ovn-pinger-")),
        "{names:?}"
    );
    assert_eq!(names[3], ["vpc-nat-gw-gw1-0"]);
    // The suite's NAT check asks for the path as well: neither direction
    // gets through a gateway without a sandbox.
    let nat_reason = &failed[3].1.culprits[0].reason;
    assert!(
        nat_reason.contains("egress: the request to 172.31.250.100:8080 got no answer")
            && nat_reason.contains("ingress: the request to 172.31.250.101:8080 got no answer"),
        "{nat_reason}"
    );
    // Pinger's verdict was read onto the timeline while observing: its
    // lane for the faulted node's pinger starts clean (the minute before
    // the fault) and ends with the pinger not Running.
    let lane = r
        .lanes
        .iter()
        .find(|l| l.object.kind == cni_chaos::observe::ObjKind::Pinger)
        .unwrap_or_else(|| panic!("no pinger lane in {:#?}", r.lanes));
    assert!(
        lane.object.name.starts_with("kube-ovn-pinger-"),
        "{lane:#?}"
    );
    assert_eq!(lane.node.as_deref(), Some(NODE), "{lane:#?}");
    let states: Vec<&str> = lane.segments.iter().map(|s| s.state.as_str()).collect();
    assert!(states.contains(&"clean"), "{states:?}");
    assert_eq!(states.last(), Some(&"ContainerCreating"), "{states:?}");
    // The engine matched each SLO to its own expectation, once.
    assert_eq!(r.symptoms.len(), r.slos.len());
    assert!(r.symptoms.iter().all(|m| m.met), "{:#?}", r.symptoms);
    assert_eq!(r.symptoms.iter().filter(|m| m.expected_to_fail).count(), 4);
    assert!(
        r.symptoms
            .iter()
            .filter(|m| m.expected_to_fail)
            .all(|m| m.source.as_deref().is_some_and(|s| s.contains('@'))),
        "every symptom cites its upstream source: {:#?}",
        r.symptoms
    );
}

#[tokio::test(start_paused = true)]
async fn the_incident_suite_passes_every_slo_on_a_fixed_cell() {
    let (suite, cluster) = cluster(&incident_suite("kube-ovn-1.15-multus-4.2.3"));
    let r = run(&suite, cluster).await;
    for v in &r.slos {
        assert_eq!(v.status, SloStatus::Pass, "{v:#?}");
    }
    assert_eq!(r.verdict, Verdict::Pass, "{:#?}", r.outcome);
    assert!(r.symptoms.is_empty(), "no expected failure here");
    let nat = verdict(&r, SloKind::NatGatewayRules);
    assert!(
        nat.message.contains("the client's request reached 172.31.250.100:8080 from 172.31.250.101, and the target's reached the client through 172.31.250.101:8080"),
        "{}",
        nat.message
    );
}

/// The first worker runs the gateway in the twin; the fault targets it.
fn nat_suite(versions: &str) -> String {
    format!(
        r"
name: nat
description: the NAT gateway's rules after a reboot of its node
cluster: {{versions: {versions}, nat-gateway: true}}
scenarios:
  - name: reboot-gateway-node
    fault: {{kind: node-reboot, target: {{role: worker, index: 0}}, mode: graceful, timeout: 30s}}
    slos:
      - {{kind: workloads-ready-within, namespace: kube-system, budget: 3m}}
      - kind: nat-gateway-rules
        gateway: gw1
        eip: 172.31.250.101
        snat-cidr: 10.250.1.0/24
        dnat: {{eip-port: 8080, internal-ip: 10.250.1.10, internal-port: 80, protocol: tcp}}
        path: true
"
    )
}

/// The gateway's IptablesDnatRule as the twin serves it.
async fn dnat_object(cluster: &TwinCluster) -> serde_json::Value {
    kubeovn(
        cluster,
        "IptablesDnatRule",
        "iptables-dnat-rules",
        "dnat-gw1",
    )
    .await
}

/// The DNAT rule `nat-gateway.sh add_dnat` appends, as iptables-save
/// lists it (the kube-ovn v1.16.2 e2e's `dnatRuleExists`).
const DNAT_SAVED: &str = "-A SHARED_DNAT -d 172.31.250.101/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.250.1.10:80";

fn nat(r: &ScenarioResult) -> &SloVerdict {
    verdict(r, SloKind::NatGatewayRules)
}

#[tokio::test(start_paused = true)]
async fn a_gateway_that_comes_back_without_its_snat_rule_fails_naming_it() {
    let (suite, cluster) = cluster(&nat_suite("kube-ovn-1.13-multus-4.1.3"));
    let (pods, before) = steady_gateway(&suite, &cluster).await;
    let r = run(&suite, cluster.clone()).await;
    // v1.13.15 keeps the pod (and its init annotation) through the reboot.
    let gw = pods.get("vpc-nat-gw-gw1-0").await.expect("gateway pod");
    assert_eq!(gw.metadata.uid, before.metadata.uid);
    assert_eq!(
        gw.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("ovn.kubernetes.io/vpc_nat_gw_init"))
            .map(String::as_str),
        Some("true")
    );
    // The SNAT rule's status still says ready: only the pod's own table
    // tells the rule is gone.
    let snat = kubeovn(
        &cluster,
        "IptablesSnatRule",
        "iptables-snat-rules",
        "snat-gw1",
    )
    .await;
    assert_eq!(snat["status"]["ready"], true, "{snat}");
    let v = nat(&r);
    assert_eq!(v.status, SloStatus::Fail, "{v:#?}");
    assert_eq!(v.culprits.len(), 1, "{v:#?}");
    let c = &v.culprits[0];
    assert_eq!(c.name, "vpc-nat-gw-gw1-0");
    assert_eq!(c.node.as_deref(), Some(NODE));
    assert!(
        c.reason.contains(
            "SNAT rule `-A SHARED_SNAT -s 10.250.1.0/24 -o net1 -j SNAT --to-source 172.31.250.101` missing"
        ),
        "{c:#?}"
    );
    assert!(
        c.reason
            .contains(&format!("DNAT rule `{DNAT_SAVED}` missing")),
        "{c:#?}"
    );
    assert!(
        c.reason.contains("EIP 172.31.250.101 not on net1"),
        "{c:#?}"
    );
    // And the path is broken both ways: without the SNAT rule and the EIP
    // nothing answers the client, and without the EIP no one answers the
    // target.
    for broken in [
        "egress: the request to 172.31.250.100:8080 got no answer (nc: timed out)",
        "ingress: the request to 172.31.250.101:8080 got no answer (nc: timed out)",
    ] {
        assert!(c.reason.contains(broken), "{broken}: {c:#?}");
    }
    // The gateway itself is back Ready: readiness alone would have passed.
    let ready = &r.slos[0];
    assert_eq!(ready.status, SloStatus::Pass, "{ready:#?}");
}

#[tokio::test(start_paused = true)]
async fn a_gateway_whose_rules_are_restored_passes() {
    let (suite, cluster) = cluster(&nat_suite("kube-ovn-1.14-multus-4.2.1"));
    let (pods, before) = steady_gateway(&suite, &cluster).await;
    let r = run(&suite, cluster.clone()).await;
    // The gateway pod was replaced (#5072), and the rules redone for the
    // new one.
    let gw = pods.get("vpc-nat-gw-gw1-0").await.expect("gateway pod");
    assert_ne!(gw.metadata.uid, before.metadata.uid);
    let created = gw.metadata.creation_timestamp.expect("created").0;
    let snat = kubeovn(
        &cluster,
        "IptablesSnatRule",
        "iptables-snat-rules",
        "snat-gw1",
    )
    .await;
    assert_eq!(
        snat["status"]["redo"].as_str().map(|r| format!("{r}Z")),
        Some(created.to_string()),
        "{snat}"
    );
    let dnat = dnat_object(&cluster).await;
    assert_eq!(dnat["status"]["redo"], snat["status"]["redo"], "{dnat}");
    let v = nat(&r);
    assert_eq!(v.status, SloStatus::Pass, "{v:#?}");
    assert!(
        v.message.contains(&format!(
            "holds `-A SHARED_SNAT -s 10.250.1.0/24 -o net1 -j SNAT --to-source 172.31.250.101`, `{DNAT_SAVED}` and EIP 172.31.250.101 on net1; the client's request reached 172.31.250.100:8080 from 172.31.250.101, and the target's reached the client through 172.31.250.101:8080"
        )),
        "{}",
        v.message
    );
}

/// The path's two requests through the seam: the client in the VPC (on
/// the control plane, at the DNAT rule's internal IP) reaches the target
/// as the EIP; the target reaches the client through the EIP's port.
#[tokio::test(start_paused = true)]
async fn the_path_answers_through_the_gateway_in_the_tools_format() {
    use cni_chaos::observe::natgw::parse_path_answer;
    use cni_chaos_twin::model::nat_path_request;
    let (suite, cluster) = cluster(&nat_suite("kube-ovn-1.14-multus-4.2.1"));
    let (pods, _) = steady_gateway(&suite, &cluster).await;
    let client = pods
        .get("cni-chaos-nat-client-0")
        .await
        .expect("client pod");
    let spec = client.spec.as_ref().unwrap();
    assert_eq!(spec.node_name.as_deref(), Some("chaos-twin-control-plane"));
    assert_eq!(
        client.status.as_ref().and_then(|s| s.pod_ip.as_deref()),
        Some("10.250.1.10")
    );
    let egress = nat_path_request("172.31.250.100", 8080);
    let egress: Vec<&str> = egress.iter().map(String::as_str).collect();
    let out = cluster
        .exec_in_pod("kube-system", "cni-chaos-nat-client-0", "client", &egress)
        .await
        .expect("exec");
    assert_eq!(out.status, Some(0), "{out:?}");
    assert!(out.stdout.starts_with("HTTP/1.1 200 OK\r\n"), "{out:?}");
    assert_eq!(
        parse_path_answer(&out.stdout).unwrap(),
        (
            "172.31.250.101".parse().unwrap(),
            "cni-chaos-nat-target".into()
        )
    );
    let ingress = nat_path_request("172.31.250.101", 8080);
    let ingress: Vec<&str> = ingress.iter().map(String::as_str).collect();
    let out = cluster.exec_on_nat_target(&ingress).await.expect("exec");
    assert_eq!(
        parse_path_answer(&out.stdout).unwrap(),
        (
            "172.31.250.100".parse().unwrap(),
            "cni-chaos-nat-client-0".into()
        )
    );
    // Anything else in the target is not modelled: an error saying so,
    // never an answer a check would read as a broken path.
    let other = cluster
        .exec_on_nat_target(&["ls"])
        .await
        .unwrap_err()
        .to_string();
    assert!(other.contains("does not model `ls`"), "{other}");
}

/// The seam answers as the tools do, and refuses a pod that does not run.
#[tokio::test(start_paused = true)]
async fn the_command_seam_answers_in_the_tools_formats() {
    let (suite, cluster) = cluster(&nat_suite("kube-ovn-1.14-multus-4.2.1"));
    let (_, gw) = steady_gateway(&suite, &cluster).await;
    // The kubeovn.io objects the setup made, with the status the
    // controller wrote when it applied the rules for this pod.
    let snat = kubeovn(
        &cluster,
        "IptablesSnatRule",
        "iptables-snat-rules",
        "snat-gw1",
    )
    .await;
    assert_eq!(snat["spec"]["eip"], "eip-gw1");
    assert_eq!(snat["spec"]["internalCIDR"], "10.250.1.0/24");
    assert_eq!(snat["status"]["ready"], true, "{snat}");
    let created = gw
        .metadata
        .creation_timestamp
        .expect("created")
        .0
        .to_string();
    assert_eq!(
        snat["status"]["redo"].as_str().map(|r| format!("{r}Z")),
        Some(created.clone()),
        "{snat}"
    );
    let eip = kubeovn(&cluster, "IptablesEIP", "iptables-eips", "eip-gw1").await;
    assert_eq!(eip["spec"]["v4ip"], "172.31.250.101");
    assert_eq!(eip["status"]["ready"], true, "{eip}");
    let gw_obj = kubeovn(&cluster, "VpcNatGateway", "vpc-nat-gateways", "gw1").await;
    assert_eq!(gw_obj["spec"]["vpc"], "cni-chaos-vpc");
    assert_eq!(
        gw_obj["spec"]["selector"][0],
        format!("kubernetes.io/hostname: {NODE}")
    );
    for (kind, plural, name) in [
        ("Vpc", "vpcs", "cni-chaos-vpc"),
        ("Subnet", "subnets", "cni-chaos-vpc-subnet"),
        ("Subnet", "subnets", "ovn-vpc-external-network"),
        ("IptablesDnatRule", "iptables-dnat-rules", "dnat-gw1"),
    ] {
        let o = kubeovn(&cluster, kind, plural, name).await;
        assert_eq!(o["metadata"]["name"], name, "{o}");
    }
    let out = cluster
        .exec_in_pod(
            "kube-system",
            "vpc-nat-gw-gw1-0",
            "vpc-nat-gw",
            &["iptables-save", "-t", "nat"],
        )
        .await
        .expect("exec");
    assert_eq!(out.status, Some(0));
    assert!(
        out.stdout.starts_with("# Generated by iptables-save"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\n*nat\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "-A SHARED_SNAT -s 10.250.1.0/24 -o net1 -j SNAT --to-source 172.31.250.101\n"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("\n{DNAT_SAVED}\n")),
        "{}",
        out.stdout
    );
    let dnat = dnat_object(&cluster).await;
    assert_eq!(dnat["spec"]["eip"], "eip-gw1");
    assert_eq!(dnat["spec"]["externalPort"], "8080");
    assert_eq!(dnat["spec"]["internalIp"], "10.250.1.10");
    assert_eq!(dnat["status"]["ready"], true, "{dnat}");
    assert_eq!(eip["status"]["nat"], "dnat,snat", "{eip}");
    let addr = cluster
        .exec_in_pod(
            "kube-system",
            "vpc-nat-gw-gw1-0",
            "vpc-nat-gw",
            &["ip", "-o", "-4", "addr", "show", "dev", "net1"],
        )
        .await
        .expect("exec");
    assert_eq!(
        cni_chaos::observe::natgw::parse_ipv4_addrs(&addr.stdout).unwrap(),
        ["172.31.250.101".parse::<std::net::Ipv4Addr>().unwrap()]
    );
    let unknown = cluster
        .exec_in_pod(
            "kube-system",
            "vpc-nat-gw-gw1-0",
            "vpc-nat-gw",
            &["nft", "list", "ruleset"],
        )
        .await
        .expect("exec");
    assert_eq!(unknown.status, Some(127));
    assert!(
        cluster
            .exec_in_pod(
                "kube-system",
                "no-such-pod",
                "vpc-nat-gw",
                &["iptables-save", "-t", "nat"]
            )
            .await
            .is_err()
    );
}
