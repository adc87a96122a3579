//! Faults other than the reboot, each through the node-level operation the
//! kind backend performs, observed through kube-rs, against what FACTS.md
//! predicts.

mod model_support;

use cni_chaos_twin::model::{CNI_DIR, MULTUS_CONF, Signal};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams};
use model_support::api::*;
use model_support::ready;

const FIXED: &str = "kube-ovn-1.15-multus-4.2.3";
const WORKER: &str = "twin-worker";

async fn events_for(client: &kube::Client, name: &str) -> Vec<(String, String)> {
    let api: Api<Event> = Api::all(client.clone());
    api.list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
        .await
        .expect("events")
        .items
        .into_iter()
        .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
        .collect()
}

async fn node_ready(client: &kube::Client, name: &str) -> Option<String> {
    let api: Api<Node> = Api::all(client.clone());
    let n = api.get(name).await.ok()?;
    n.status?
        .conditions?
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status)
}

fn name(p: &serde_json::Value) -> String {
    p["metadata"]["name"].as_str().unwrap_or("").to_string()
}

fn restarts(p: &serde_json::Value) -> i64 {
    p["status"]["containerStatuses"][0]["restartCount"]
        .as_i64()
        .unwrap_or(-1)
}

/// SIGKILL of ovs-vswitchd: OVS's monitor does not restart a daemon killed
/// by SIGKILL, so ovs-healthcheck fails: readiness within 3 periods of 5 s,
/// liveness after 5 misses, and the kubelet restarts the container
/// (FACTS.md: every 5 s, liveness after 60 s, 5 misses). Meanwhile the
/// cni-server's /readyz fails and a new pod on the node cannot get a
/// sandbox; everything is back within two minutes, no node restart.
#[tokio::test(start_paused = true)]
async fn ovs_kill_is_caught_by_the_liveness_probe_and_recovers() {
    let (_twin, model, client) = cluster(FIXED, 3);
    wait(240).await;
    let before = on(&pods(&client).await, "ovs-ovn-", WORKER)[0].clone();
    assert_eq!(restarts(&before), 0);
    let pids = model
        .with(|w| w.signal(WORKER, "ovs-vswitchd", Signal::Kill))
        .expect("kill");
    assert_eq!(pids.len(), 1);
    // A pod created on the node now cannot be wired into OVS.
    let probe: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "probe", "namespace": "default"},
        "spec": {"nodeName": WORKER, "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&Default::default(), &probe)
        .await
        .expect("create");
    // Sample once a virtual second while OVS is down and the liveness
    // probe has not yet restarted the container.
    let (mut ovs_unready, mut cni_unready) = (false, false);
    for _ in 0..30 {
        wait(1).await;
        let now = pods(&client).await;
        ovs_unready |= !ready(&on(&now, "ovs-ovn-", WORKER)[0]);
        cni_unready |= !ready(&on(&now, "kube-ovn-cni-", WORKER)[0]);
    }
    assert!(ovs_unready, "ovs-ovn NotReady after 3 failed checks");
    assert!(cni_unready, "cni-server /readyz fails without OVS");
    let ev = events_for(&client, "probe").await;
    assert!(
        ev.iter().any(|(r, _)| r == "FailedCreatePodSandBox"),
        "{ev:?}"
    );
    wait(120).await;
    let after = pods(&client).await;
    let ovs = &on(&after, "ovs-ovn-", WORKER)[0];
    assert_eq!(name(ovs), name(&before), "same pod, container restarted");
    assert_eq!(restarts(ovs), 1);
    let ev = events_for(&client, &name(ovs)).await;
    assert!(
        ev.iter()
            .any(|(r, m)| r == "Killing" && m.contains("failed liveness probe")),
        "{ev:?}"
    );
    assert!(
        ev.iter()
            .any(|(r, m)| r == "Unhealthy" && m.starts_with("Liveness probe failed")),
        "{ev:?}"
    );
    let bad = not_ready(&after);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(node_ready(&client, WORKER).await.as_deref(), Some("True"));
}

/// Stale network namespaces (and stale OVS ports) as an unclean shutdown
/// leaves them. In the model they do not block new sandboxes (sandbox
/// netns names are unique); a kind node restart removes them with the
/// tmpfs `/run` (FACTS.md "kind node facts"); the ports stay in the
/// persistent OVS database until kube-ovn-cni (v1.15+) deletes them. So in
/// kind, stale netns cannot be what breaks pods after a reboot.
#[tokio::test(start_paused = true)]
async fn stale_netns_do_not_block_sandboxes_and_a_restart_wipes_them() {
    let (_twin, model, client) = cluster(FIXED, 4);
    wait(240).await;
    model
        .with(|w| -> Result<(), cni_chaos_twin::model::ModelError> {
            for i in 0..5 {
                w.create_netns(WORKER, &format!("cni-stale-{i}"))?;
                w.add_ovs_port(
                    WORKER,
                    &format!("stale{i}_h"),
                    Some(&format!("cni-stale-{i}")),
                )?;
            }
            Ok(())
        })
        .expect("inject");
    let netns = model.with(|w| w.netns(WORKER)).unwrap();
    assert_eq!(
        netns.iter().filter(|n| n.starts_with("cni-stale-")).count(),
        5
    );
    // A new sandbox on the node (a pod bound to it: where the scheduler
    // put CoreDNS depends on the seed).
    let fresh = pod_on_worker(&client, "fresh-sandbox").await;
    wait(60).await;
    let all = pods(&client).await;
    assert!(
        all.iter().any(|p| name(p) == fresh),
        "the new pod exists: {fresh}"
    );
    let bad = not_ready(&all);
    assert!(bad.is_empty(), "new sandboxes despite stale netns: {bad:?}");
    model
        .with(|w| w.restart_node(WORKER, false))
        .expect("hard restart");
    wait(240).await;
    let netns = model.with(|w| w.netns(WORKER)).unwrap();
    assert!(
        !netns.iter().any(|n| n.starts_with("cni-stale-")),
        "{netns:?}"
    );
    // The ports were in the persistent OVS database, but this is Kube-OVN
    // v1.15: kube-ovn-cni deletes Interfaces of pods that do not exist
    // every minute (rule `kube-ovn-cni-gc-interfaces`); model_ovn.rs pins
    // that they survive a restart where it does not (v1.14).
    assert_eq!(
        model.with(|w| w.ovs_ports(WORKER)).unwrap().len(),
        0,
        "kube-ovn-cni's gcInterfaces deleted the stale ports"
    );
    let bad = not_ready(&pods(&client).await);
    assert!(bad.is_empty(), "{bad:?}");
}

/// Creates a pod bound to the worker (a probe, say) and returns its name.
async fn pod_on_worker(client: &kube::Client, name: &str) -> String {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": WORKER, "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    Api::<Pod>::namespaced(client.clone(), "default")
        .create(&Default::default(), &pod)
        .await
        .expect("create");
    name.to_string()
}

async fn pod_phase(client: &kube::Client, name: &str) -> String {
    let p = Api::<Pod>::namespaced(client.clone(), "default")
        .get(name)
        .await
        .expect("pod");
    p.status.and_then(|s| s.phase).unwrap_or_default()
}

/// Removing Kube-OVN's conflist (kube-ovn #4730). The Multus daemon ignores
/// the removal (its watch only acts on writes of the primary, multus-cni
/// `pkg/server/config/manager.go`), so `00-multus.conf` stays, still valid,
/// and the node stays Ready; but every ADD loads the cluster network from
/// the missing file and fails, so no new pod on the node gets a sandbox.
/// The conflist is only written when kube-ovn-cni starts: recreating it
/// writes the file, Multus regenerates its config, and new pods start.
#[tokio::test(start_paused = true)]
async fn removing_the_kube_ovn_conflist_fails_every_new_sandbox_on_the_node() {
    let (_twin, model, client) = cluster(FIXED, 5);
    wait(240).await;
    assert_eq!(node_ready(&client, WORKER).await.as_deref(), Some("True"));
    let daemon_before = restarts(&on(&pods(&client).await, "kube-multus-ds-", WORKER)[0]);
    model
        .with(|w| w.remove_file(WORKER, &format!("{CNI_DIR}01-kube-ovn.conflist")))
        .expect("rm");
    wait(30).await;
    let files = model.with(|w| w.list_dir(WORKER, CNI_DIR)).unwrap();
    assert_eq!(
        files,
        vec![MULTUS_CONF.to_string()],
        "only Multus' config is left"
    );
    let probe = pod_on_worker(&client, "probe").await;
    wait(300).await;
    assert_eq!(
        node_ready(&client, WORKER).await.as_deref(),
        Some("True"),
        "00-multus.conf is a valid config: the runtime's network is ready"
    );
    assert_eq!(pod_phase(&client, &probe).await, "Pending");
    let ev = events_for(&client, &probe).await;
    assert!(
        ev.iter().any(|(r, m)| r == "FailedCreatePodSandBox"
            && m.contains("failed to get clusterNetwork")
            && m.contains("01-kube-ovn.conflist: no such file or directory")),
        "{ev:?}"
    );
    let now = pods(&client).await;
    assert_eq!(
        restarts(&on(&now, "kube-multus-ds-", WORKER)[0]),
        daemon_before,
        "the daemon ignores the removal and keeps running"
    );
    let cni = name(&on(&now, "kube-ovn-cni-", WORKER)[0]);
    Api::<Pod>::namespaced(client.clone(), "kube-system")
        .delete(&cni, &DeleteParams::default())
        .await
        .expect("delete");
    wait(300).await;
    assert_eq!(pod_phase(&client, &probe).await, "Running");
    let bad = not_ready(&pods(&client).await);
    assert!(bad.is_empty(), "{bad:?}");
}

/// Truncating Kube-OVN's conflist: the Multus daemon sees the write,
/// cannot read the primary, and persists the empty configuration it then
/// generates (`GenerateConfig` returns "" without an error), so
/// `00-multus.conf` is empty too; the runtime cannot load its first config
/// and the node goes NotReady. install-cni never rewrites an existing 0600
/// conflist, so recreating kube-ovn-cni alone does not help; removing the
/// truncated file first does.
#[tokio::test(start_paused = true)]
async fn truncating_the_kube_ovn_conflist_empties_multus_config_and_the_node_goes_not_ready() {
    let (_twin, model, client) = cluster(FIXED, 5);
    wait(240).await;
    let conflist = format!("{CNI_DIR}01-kube-ovn.conflist");
    model
        .with(|w| w.truncate_file(WORKER, &conflist))
        .expect("truncate");
    wait(30).await;
    let multus = model
        .with(|w| w.file(WORKER, MULTUS_CONF))
        .unwrap()
        .expect("00-multus.conf");
    assert!(multus.content.is_empty(), "{multus:?}");
    assert_eq!(node_ready(&client, WORKER).await.as_deref(), Some("False"));
    let recreate = |client: kube::Client| async move {
        let cni = name(&on(&pods(&client).await, "kube-ovn-cni-", WORKER)[0]);
        Api::<Pod>::namespaced(client, "kube-system")
            .delete(&cni, &DeleteParams::default())
            .await
            .expect("delete");
    };
    recreate(client.clone()).await;
    wait(300).await;
    assert_eq!(
        node_ready(&client, WORKER).await.as_deref(),
        Some("False"),
        "install-cni keeps the existing (empty, 0600) conflist"
    );
    model
        .with(|w| w.remove_file(WORKER, &conflist))
        .expect("rm");
    recreate(client.clone()).await;
    wait(300).await;
    assert_eq!(node_ready(&client, WORKER).await.as_deref(), Some("True"));
    let bad = not_ready(&pods(&client).await);
    assert!(bad.is_empty(), "{bad:?}");
}

/// The multus pod on `node` that is not `except`, if any.
fn multus_on(pods: &[serde_json::Value], node: &str, except: &str) -> Option<String> {
    on(pods, "kube-multus-ds-", node)
        .iter()
        .map(name)
        .find(|n| n != except)
}

/// A graceful delete of the Multus pod (its own 10 s grace): an unfrozen
/// daemon acts on the kubelet's SIGTERM at once and its clean exit removes
/// `00-multus.conf`; a frozen one (SIGSTOP) cannot, so the kubelet waits
/// the grace, SIGKILLs it without a SIGCONT, and the file stays (FACTS.md,
/// "kind node facts" and "Multus facts"). The frozen daemon keeps its pod
/// Terminating for the whole grace.
#[tokio::test(start_paused = true)]
async fn a_frozen_multus_daemon_outlives_its_sigterm_and_dies_at_the_end_of_the_grace_without_cleanup()
 {
    const CONTROL: &str = "twin-worker2";
    let (_twin, model, client) = cluster(FIXED, 3);
    wait(240).await;
    let api: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let conf = |node: &str| model.with(|w| w.file(node, MULTUS_CONF)).expect("stat");
    assert!(conf(WORKER).is_some() && conf(CONTROL).is_some());

    // The control: not frozen, cleaned up on SIGTERM.
    let plain = multus_on(&pods(&client).await, CONTROL, "").expect("a multus pod");
    api.delete(&plain, &DeleteParams::default())
        .await
        .expect("delete");
    wait(3).await;
    assert!(
        conf(CONTROL).is_none(),
        "an unfrozen daemon's clean exit removes 00-multus.conf"
    );

    let frozen = multus_on(&pods(&client).await, WORKER, "").expect("a multus pod");
    let daemons = model
        .with(|w| w.signal(WORKER, "multus-daemon", Signal::Stop))
        .expect("stop");
    assert_eq!(daemons.len(), 1);
    api.delete(&frozen, &DeleteParams::default())
        .await
        .expect("delete");
    wait(5).await;
    let alive = |pid: u32| {
        model
            .with(|w| w.processes(WORKER))
            .expect("ps")
            .into_iter()
            .find(|p| p.pid == pid)
    };
    assert!(
        alive(daemons[0]).is_some_and(|p| p.stopped),
        "5 s into its 10 s grace the frozen daemon is still there"
    );
    assert!(
        on(&pods(&client).await, "kube-multus-ds-", WORKER)
            .iter()
            .any(|p| name(p) == frozen),
        "and its pod is still Terminating"
    );
    wait(10).await;
    assert!(alive(daemons[0]).is_none(), "SIGKILLed after the grace");
    assert!(
        conf(WORKER).is_some(),
        "no SIGCONT, no clean exit: 00-multus.conf stays"
    );
    assert!(
        !on(&pods(&client).await, "kube-multus-ds-", WORKER)
            .iter()
            .any(|p| name(p) == frozen),
        "the old pod is gone"
    );
}
