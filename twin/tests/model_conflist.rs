//! Kube-OVN's conflist as `install-cni` installs it, per version profile
//! (`kube-ovn-daemon --install-cni-config`, `mvCNIConf` in
//! `cmd/daemon/cniserver.go` at each tag; see `ConflistInstall` and
//! `VersionProfile::atomic_cni_conf`):
//!
//! - v1.13.15 keeps any existing file as it is and writes a new one 0644,
//!   in place (`os.WriteFile`);
//! - v1.14.41 and v1.16.2 keep an existing 0600 file, only `chmod 0600`
//!   any other existing file, and write a new one 0600 in place;
//! - v1.15.24 is the same but writes a new file atomically
//!   (`fileutil.AtomicWriteFile`, kube-ovn PR #7035).
//!
//! An in-place write truncates, then writes: a node killed in between
//! keeps an empty file, and since an existing file is never rewritten, it
//! stays empty (FACTS.md, #1221 point 6: "before it a truncated conflist
//! was never rewritten").

mod model_support;

use cni_chaos_twin::model::{CNI_DIR, File, KUBE_OVN_CONFLIST, Recorder, VersionProfile, World};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use model_support::*;

const V1_13: &str = "kube-ovn-1.13-multus-4.1.3";
const V1_14: &str = "kube-ovn-1.14-multus-4.2.1";
const V1_15: &str = "kube-ovn-1.15-multus-4.2.3";
const WORKER: &str = "twin-worker";

fn conflist_path() -> String {
    format!("{CNI_DIR}01-kube-ovn.conflist")
}

fn conflist(w: &World) -> Option<File> {
    w.file(WORKER, &conflist_path()).expect("node exists")
}

/// Steps the model one event time at a time from its start until the
/// worker's conflist exists; returns the state of the file at every event
/// boundary from then until its content is complete, as (virtual ms,
/// file). Between two boundaries nothing happens, so a restart of the
/// node at any moment finds the file as one of these boundaries left it.
fn first_install(w: &mut World) -> Vec<(u64, File)> {
    let mut seen = Vec::new();
    loop {
        let t = w.next_event().expect("events pending");
        assert!(t < 300_000, "the worker has no complete conflist at 5 min");
        w.advance_to(t);
        if let Some(f) = conflist(w) {
            let done = !f.content.is_empty();
            seen.push((t, f));
            if done {
                return seen;
            }
        }
    }
}

/// Notes about the worker's `install-cni` from `since` on.
fn install_notes(rec: &Recorder, since: u64) -> Vec<String> {
    rec.notes
        .iter()
        .filter(|(t, n)| *t >= since && n.starts_with(&format!("node {WORKER}: install-cni")))
        .map(|(_, n)| n.clone())
        .collect()
}

/// The worker's `kube-ovn-cni` pod.
fn cni_pod_of_worker(w: &World) -> String {
    pod_on(w, "kube-ovn-cni", WORKER)
}

/// In place (v1.14.41): the first write leaves the file empty for exactly
/// the 20 ms between the truncate and the content. A hard restart of the
/// node in that window keeps the empty file (it is on the node's disk, not
/// the tmpfs `/run`); the rerun `install-cni` finds an existing 0600 file
/// and skips it, so the runtime never loads a network config:
/// NetworkReady=false, the node NotReady for good (FACTS.md "Kubernetes
/// facts"; kube-ovn #4730's empty config). Removing the file does not help
/// on its own (nothing runs `install-cni` again); deleting `kube-ovn-cni`
/// after the removal does.
#[test]
fn a_hard_restart_inside_the_in_place_write_leaves_an_empty_conflist_for_good() {
    let mut w = world(V1_14, 1);
    let mut rec = Recorder::default();
    let seen = first_install(&mut w);
    let (t0, empty) = seen.first().cloned().expect("observed");
    let (t1, full) = seen.last().cloned().expect("observed");
    assert!(
        empty.content.is_empty(),
        "the truncate comes first: {seen:?}"
    );
    assert_eq!(empty.mode, 0o600, "a new file is written 0600 from v1.14");
    assert_eq!(t1 - t0, 20, "the window between truncate and content");
    assert_eq!(full.content, KUBE_OVN_CONFLIST);

    // Again, and this time the node dies inside the window.
    let mut w = world(V1_14, 1);
    let mut t = 0;
    while conflist(&w).is_none() {
        t = w.next_event().expect("events pending");
        w.advance_to(t);
    }
    assert_eq!(t, t0, "same seed, same moment");
    w.restart_node("worker", false).expect("hard restart");
    run(&mut w, &mut rec, 600_000);
    let after = conflist(&w).expect("the file survives the restart");
    assert_eq!(after.content, "", "never rewritten");
    assert_eq!(after.mode, 0o600);
    assert_eq!(after.inode, empty.inode, "the same file");
    let skipped = install_notes(&rec, t0 + 1);
    assert!(
        skipped
            .iter()
            .any(|n| n.contains("already exists (mode 600), skipping")),
        "install-cni ran again after the restart and kept the file: {skipped:?}"
    );
    let ready = node_ready(&rec, WORKER).expect("the worker posted status");
    assert_eq!(ready["status"], "False", "{ready}");
    assert!(
        ready["message"]
            .as_str()
            .is_some_and(|m| m.contains("NetworkReady=false")),
        "{ready}"
    );
    for other in ["twin-control-plane", "twin-worker2"] {
        assert_eq!(node_ready(&rec, other).expect("status")["status"], "True");
    }

    w.remove_file(WORKER, &conflist_path()).expect("rm");
    run(&mut w, &mut rec, 180_000);
    assert!(conflist(&w).is_none(), "nothing writes it back on its own");
    assert_eq!(node_ready(&rec, WORKER).expect("status")["status"], "False");

    let removed_at = w.now();
    w.delete_pod("kube-system", &cni_pod_of_worker(&w))
        .expect("delete kube-ovn-cni");
    run(&mut w, &mut rec, 300_000);
    let fresh = conflist(&w).expect("the new install-cni wrote it");
    assert_eq!(fresh.content, KUBE_OVN_CONFLIST);
    assert_eq!(fresh.mode, 0o600);
    assert!(
        install_notes(&rec, removed_at)
            .iter()
            .any(|n| n.contains("wrote")),
        "{:?}",
        install_notes(&rec, removed_at)
    );
    assert_eq!(node_ready(&rec, WORKER).expect("status")["status"], "True");
}

/// Atomic (v1.15.24, PR #7035): at no event boundary is the conflist
/// present but empty, so a restart at any moment finds it absent or whole;
/// a hard restart at the moment it first appears (where v1.14's is empty)
/// leaves a working node.
#[test]
fn an_atomic_write_cannot_be_cut_by_a_restart() {
    for seed in 1..=5 {
        let mut w = world(V1_15, seed);
        let seen = first_install(&mut w);
        assert_eq!(seen.len(), 1, "whole at first sight: {seen:?}");
        assert_eq!(seen[0].1.content, KUBE_OVN_CONFLIST);
        assert_eq!(seen[0].1.mode, 0o600);
    }
    let mut w = world(V1_15, 1);
    let mut rec = Recorder::default();
    let (t, _) = first_install(&mut w)[0].clone();
    w.drain_into(&mut rec);
    w.restart_node("worker", false).expect("hard restart");
    run(&mut w, &mut rec, 600_000);
    assert_eq!(
        conflist(&w).expect("kept").content,
        KUBE_OVN_CONFLIST,
        "{:?}",
        install_notes(&rec, t)
    );
    assert_eq!(node_ready(&rec, WORKER).expect("status")["status"], "True");
    assert!(rec.all("pods").all(ready), "{}", table(&rec));
}

/// An existing conflist that is not 0600 (say one a v1.13 install wrote
/// 0644): from v1.14 on, `install-cni` only chmods it to 0600, keeping its
/// content and inode; v1.13 keeps it as it is, mode included. Also: the
/// mode a fresh install gives it (0644 on v1.13, 0600 after).
#[test]
fn a_non_0600_conflist_is_chmodded_from_v1_14_and_kept_as_is_on_v1_13() {
    let edited = KUBE_OVN_CONFLIST.replace("\"cniVersion\":\"0.3.1\"", "\"cniVersion\":\"1.0.0\"");
    assert_ne!(edited, KUBE_OVN_CONFLIST);
    for (profile, fresh_mode, kept_mode, note) in [
        (V1_13, 0o644, 0o644, "already exists (mode 644), skipping"),
        (V1_14, 0o600, 0o600, "fixing permission of existing"),
        (V1_15, 0o600, 0o600, "fixing permission of existing"),
        ("default", 0o600, 0o600, "fixing permission of existing"),
    ] {
        let mut w = world(profile, 7);
        let mut rec = Recorder::default();
        run(&mut w, &mut rec, 240_000);
        let fresh = conflist(&w).expect("installed");
        assert_eq!(fresh.content, KUBE_OVN_CONFLIST, "{profile}");
        assert_eq!(fresh.mode, fresh_mode, "{profile}: mode of a new file");
        w.write_file(WORKER, &conflist_path(), &edited, 0o644)
            .expect("write");
        let since = w.now();
        w.delete_pod("kube-system", &cni_pod_of_worker(&w))
            .expect("delete kube-ovn-cni");
        run(&mut w, &mut rec, 180_000);
        let notes = install_notes(&rec, since);
        assert_eq!(notes.len(), 1, "{profile}: install-cni ran once: {notes:?}");
        assert!(notes[0].contains(note), "{profile}: {notes:?}");
        let after = conflist(&w).expect("kept");
        assert_eq!(after.content, edited, "{profile}: not rewritten");
        assert_eq!(after.inode, fresh.inode, "{profile}: the same file");
        assert_eq!(after.mode, kept_mode, "{profile}");
        assert!(rec.all("pods").all(ready), "{profile}: {}", table(&rec));
    }
}

/// A truncated conflist is never rewritten by `install-cni`, on any
/// profile: every tag keeps an existing file's content (v1.13 keeps the
/// file, later tags at most chmod it). Through the API: the worker's
/// `kube-ovn-cni` pod is deleted, the DaemonSet's replacement runs
/// `install-cni`, and the file is still empty.
#[tokio::test(start_paused = true)]
async fn a_truncated_conflist_is_never_rewritten_on_any_profile() {
    for profile in VersionProfile::all() {
        let name = profile.name.clone();
        let (twin, model, client) = api::cluster(&name, 3);
        api::wait(240).await;
        let before = model.with(|w| conflist(w)).expect("installed");
        model
            .with(|w| w.truncate_file(WORKER, &conflist_path()))
            .expect("truncate");
        let old = api::on(&api::pods(&client).await, "kube-ovn-cni-", WORKER);
        let old = old[0]["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_string();
        let truth_before = twin.truth().len();
        Api::<Pod>::namespaced(client.clone(), "kube-system")
            .delete(&old, &DeleteParams::default())
            .await
            .expect("delete kube-ovn-cni");
        api::wait(120).await;
        let new = api::on(&api::pods(&client).await, "kube-ovn-cni-", WORKER);
        assert_eq!(new.len(), 1, "{name}");
        assert_ne!(new[0]["metadata"]["name"], old.as_str(), "{name}: replaced");
        let install = &new[0]["status"]["initContainerStatuses"][1];
        assert_eq!(install["name"], "install-cni", "{name}");
        assert_eq!(
            install["state"]["terminated"]["exitCode"], 0,
            "{name}: {install}"
        );
        let after = model.with(|w| conflist(w)).expect("kept");
        assert_eq!(after.content, "", "{name}: rewritten");
        assert_eq!(after.inode, before.inode, "{name}");
        assert_eq!(after.mode, before.mode, "{name}");
        let ran: Vec<String> = twin.truth()[truth_before..]
            .iter()
            .filter_map(|e| match e {
                cni_chaos_twin::store::TruthEntry::Note { text, .. }
                    if text.starts_with(&format!("node {WORKER}: install-cni")) =>
                {
                    Some(text.clone())
                }
                _ => None,
            })
            .collect();
        assert_eq!(ran.len(), 1, "{name}: {ran:?}");
        assert!(ran[0].contains("already exists"), "{name}: {ran:?}");
    }
}
