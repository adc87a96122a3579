//! `cni-chaos clean` and the sweep that starts every kind run: replays the
//! undo journal ([`crate::journal`]) of runs whose owner is gone.
//!
//! For each such run, newest record first: leftover child processes (and
//! their process groups) are killed before anything they were making is
//! touched; faults on nodes are undone, each only while the node container
//! of that name is still the one recorded (same ID, kind's cluster label),
//! and a process undo only while the node has not restarted since; the
//! clusters the run created are deleted with `kind delete cluster`, once
//! kind's cluster label shows only containers the run recorded. A cluster
//! the run attached to (`CHAOS_CLUSTER`) is never deleted; a kept one
//! (`CHAOS_KEEP_CLUSTER`) only with `--delete-kept`. What cannot be
//! confirmed is left, and said why; a journal that cannot be read is a
//! warning naming the file, and its run is left alone.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::KindError;
use super::docker::{DOCKER_TIMEOUT, DockerNodes, non_empty_lines};
use super::faults;
use super::kubectl::Kubectl;
use super::natgw::NAT_CLUSTER_LABEL;
use super::ovs::OvsCommands;
use super::safety::{CLUSTER_LABEL, Guard};
use crate::exec::{Command, Runner, host_process};
use crate::journal::{ContainerRef, Journal, Liveness, OvsPlace, Pending, Resource, RunLog};

/// How long `kind delete cluster` may take.
const DELETE_TIMEOUT: Duration = Duration::from_secs(300);
/// How often `kind delete cluster` is tried, and how long apart.
const DELETE_TRIES: u32 = 5;
const DELETE_RETRY: Duration = Duration::from_secs(2);
/// How long killed children may take to go.
const CHILD_GONE: Duration = Duration::from_secs(10);

/// What `clean` may do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanOptions {
    /// Only say what would be done.
    pub dry_run: bool,
    /// Also delete clusters kept with `CHAOS_KEEP_CLUSTER`.
    pub delete_kept: bool,
    /// `DOCKER_HOST` of this process: runs recorded with another Docker
    /// endpoint are left (their containers are not on this one).
    pub docker_host: Option<String>,
}

impl CleanOptions {
    /// The options with this process's `DOCKER_HOST`.
    pub fn from_env(dry_run: bool, delete_kept: bool) -> Self {
        CleanOptions {
            dry_run,
            delete_kept,
            docker_host: std::env::var("DOCKER_HOST").ok().filter(|s| !s.is_empty()),
        }
    }
}

/// What `clean` did, left and could not read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanReport {
    /// What was done (in a dry run: what would be).
    pub did: Vec<String>,
    /// What was left, and why.
    pub left: Vec<String>,
    /// Runs whose owner still runs: not touched.
    pub live: Vec<String>,
    /// Journals that cannot be read, each naming its file.
    pub warnings: Vec<String>,
    /// Dead runs found.
    pub dead_runs: usize,
}

impl CleanReport {
    /// The report as console lines: `did:`, `left:`, `live:`, `warning:`.
    pub fn lines(&self) -> Vec<String> {
        let tag = |t: &str, v: &[String]| v.iter().map(|l| format!("{t}: {l}")).collect::<Vec<_>>();
        let mut out = tag("did", &self.did);
        out.extend(tag("left", &self.left));
        out.extend(tag("live", &self.live));
        out.extend(tag("warning", &self.warnings));
        out
    }
}

/// Replays the journals in `journal` of runs whose owner is gone (see the
/// module docs); every external program runs through `runner`.
pub async fn clean(
    journal: &Journal,
    runner: Arc<dyn Runner>,
    options: &CleanOptions,
) -> Result<CleanReport, KindError> {
    let mut report = CleanReport::default();
    let me = std::process::id();
    for log in journal.runs().map_err(KindError::journal)? {
        let id = log.run_id();
        if !log.corrupt.is_empty() {
            report.warnings.extend(log.corrupt.iter().cloned());
            report.left.push(format!(
                "run {id}: left alone, its journal cannot be read in full"
            ));
            continue;
        }
        let Some((_, owner, docker_host)) = &log.run else {
            continue;
        };
        match owner.liveness() {
            Liveness::Alive if owner.pid == me => continue,
            Liveness::Alive => {
                report.live.push(format!(
                    "run {id} of {owner}: still running, not touched ({} pending)",
                    log.pending.len()
                ));
                continue;
            }
            Liveness::OtherHost(host) => {
                report.left.push(format!(
                    "run {id}: ran on host {host}, whose processes this host cannot check; clean it there"
                ));
                continue;
            }
            Liveness::Gone(why) => {
                report.dead_runs += 1;
                if docker_host != &options.docker_host {
                    report.left.push(format!(
                        "run {id} ({why}): it used Docker at {}, this is {}; run clean with DOCKER_HOST set to the former",
                        docker_host.as_deref().unwrap_or("the default endpoint"),
                        options.docker_host.as_deref().unwrap_or("the default endpoint"),
                    ));
                    continue;
                }
                replay(
                    &log,
                    &format!("run {id} ({why})"),
                    &runner,
                    options,
                    &mut report,
                )
                .await;
            }
        }
    }
    Ok(report)
}

/// Replays one dead run's pending records, newest first, children first.
async fn replay(
    log: &RunLog,
    run: &str,
    runner: &Arc<dyn Runner>,
    options: &CleanOptions,
    report: &mut CleanReport,
) {
    let kept: BTreeSet<&str> = log
        .pending
        .iter()
        .filter_map(|p| match &p.resource {
            Resource::Kept { name } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    // Clusters this run made and that go: faults on them go with them.
    let doomed: BTreeSet<&str> = log
        .pending
        .iter()
        .filter_map(|p| match &p.resource {
            Resource::Cluster { name } if !kept.contains(name.as_str()) => Some(name.as_str()),
            Resource::Kept { name } if options.delete_kept => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let mut forget = Vec::new();
    let mut all_done = true;
    let children = log
        .pending
        .iter()
        .filter(|p| matches!(p.resource, Resource::Child { .. }));
    // A cluster's external network goes after the cluster: Docker refuses
    // to remove a network that containers are still connected to.
    let rest = log.pending.iter().filter(|p| {
        !matches!(
            p.resource,
            Resource::Child { .. } | Resource::DockerNetwork { .. }
        )
    });
    let networks = log
        .pending
        .iter()
        .filter(|p| matches!(p.resource, Resource::DockerNetwork { .. }));
    let mut deleted = BTreeSet::new();
    for p in children.chain(rest).chain(networks) {
        let outcome = match &p.resource {
            Resource::Child {
                pid, start_time, ..
            } => kill_group(runner, *pid, *start_time, options.dry_run).await,
            Resource::NodeFault { cluster, .. } if doomed.contains(cluster.as_str()) => {
                // Forgotten once its cluster is deleted below.
                continue;
            }
            Resource::NodeFault { .. } => replay_fault(runner, p, options.dry_run).await,
            Resource::Cluster { name } if kept.contains(name.as_str()) => {
                Step::Done(format!("kind cluster {name} was kept; see below"))
            }
            Resource::Cluster { name } => {
                let step = delete_cluster(runner, name, &p.containers, options.dry_run).await;
                if matches!(step, Step::Done(_)) {
                    deleted.insert(name.clone());
                }
                step
            }
            Resource::Kept { name } if options.delete_kept => {
                let step = delete_cluster(runner, name, &p.containers, options.dry_run).await;
                if matches!(step, Step::Done(_)) {
                    deleted.insert(name.clone());
                }
                step
            }
            Resource::DockerNetwork { cluster, name }
            | Resource::DockerContainer { cluster, name }
                if kept.contains(cluster.as_str()) && !options.delete_kept =>
            {
                Step::Left(format!(
                    "{} stays with its kept cluster",
                    p.resource.describe()
                ))
            }
            Resource::DockerNetwork { cluster, name } => {
                remove_own(runner, Own::Network, cluster, name, options.dry_run).await
            }
            Resource::DockerContainer { cluster, name } => {
                remove_own(runner, Own::Container, cluster, name, options.dry_run).await
            }
            Resource::Kept { name } => match labelled(runner, name).await {
                Ok(l) if l.is_empty() => Step::Done(format!(
                    "kept kind cluster {name} is gone (deleted by hand)"
                )),
                Ok(_) => Step::Left(format!(
                    "kind cluster {name} was kept (CHAOS_KEEP_CLUSTER); delete it with `cni-chaos clean --delete-kept` or `kind delete cluster --name {name}`"
                )),
                Err(e) => Step::Left(format!("kept kind cluster {name}: {e}")),
            },
        };
        match outcome {
            Step::Done(what) => {
                report.did.push(format!("{run}: {what}"));
                forget.push(p.id);
            }
            Step::Left(why) => {
                report.left.push(format!("{run}: {why}"));
                all_done = false;
            }
        }
    }
    // Faults on a deleted cluster went with it.
    for p in &log.pending {
        if let Resource::NodeFault { cluster, .. } = &p.resource
            && doomed.contains(cluster.as_str())
        {
            if deleted.contains(cluster) {
                report.did.push(format!(
                    "{run}: {} {} with its cluster",
                    p.resource.describe(),
                    if options.dry_run { "would go" } else { "went" }
                ));
                forget.push(p.id);
            } else {
                report.left.push(format!(
                    "{run}: {} (its cluster is still there)",
                    p.resource.describe()
                ));
                all_done = false;
            }
        }
    }
    if options.dry_run {
        return;
    }
    for id in forget {
        if let Err(e) = log.forget(id) {
            report.warnings.push(e.to_string());
            all_done = false;
        }
    }
    if all_done && let Err(e) = log.remove() {
        report.warnings.push(e.to_string());
    }
}

/// One record's outcome.
enum Step {
    /// Done (or would be, in a dry run), or found void: forget it.
    Done(String),
    /// Left, and why: keep it.
    Left(String),
}

/// The members of process group `pgid` on this host that started at or
/// after `since` (a group ID is not reused while any member lives, so
/// these are the group's). The leader counts only with that very start.
fn group_members(pgid: u32, since: u64) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = text.rfind(')') else {
            continue;
        };
        let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
        // After comm: state(3) ppid(4) pgrp(5) ... starttime(22).
        let (Some(state), Some(group), Some(start)) = (
            fields.first(),
            fields.get(2).and_then(|f| f.parse::<u32>().ok()),
            fields.get(19).and_then(|f| f.parse::<u64>().ok()),
        ) else {
            continue;
        };
        if group == pgid && start >= since && !matches!(*state, "Z" | "X") {
            found.push(pid);
        }
    }
    found.sort_unstable();
    found
}

/// Kills what is left of a child's process group.
async fn kill_group(
    runner: &Arc<dyn Runner>,
    pid: u32,
    start_time: Option<u64>,
    dry_run: bool,
) -> Step {
    let Some(since) = start_time else {
        return match host_process(pid) {
            None => Step::Done(format!("child {pid}: gone")),
            Some(_) => Step::Left(format!(
                "child {pid}: its start time was not recorded, so PID {pid} may be another process now; not killed"
            )),
        };
    };
    let members = group_members(pid, since);
    if members.is_empty() {
        return Step::Done(format!("child {pid}: gone, with its process group"));
    }
    let list = members.iter().map(ToString::to_string).collect::<Vec<_>>();
    if dry_run {
        return Step::Done(format!(
            "would kill child {pid}'s process group: PIDs {}",
            list.join(",")
        ));
    }
    let kill = Command::new("kill")
        .args(["-s", "KILL"])
        .args(list.iter().cloned())
        .timeout(Duration::from_secs(10));
    if let Err(e) = runner.output(&kill).await {
        return Step::Left(format!("killing child {pid}'s process group failed: {e}"));
    }
    let deadline = tokio::time::Instant::now() + CHILD_GONE;
    loop {
        let still = group_members(pid, since);
        if still.is_empty() {
            return Step::Done(format!(
                "killed child {pid}'s process group: PIDs {}",
                list.join(",")
            ));
        }
        if tokio::time::Instant::now() >= deadline {
            return Step::Left(format!(
                "child {pid}'s process group still has PIDs {still:?} {CHILD_GONE:?} after SIGKILL"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Undoes one fault on a node, after confirming that the node container is
/// still the one recorded.
async fn replay_fault(runner: &Arc<dyn Runner>, p: &Pending, dry_run: bool) -> Step {
    let Resource::NodeFault {
        cluster,
        node,
        container_id,
        started_at,
        network,
        ovs,
        undo,
    } = &p.resource
    else {
        return Step::Left("not a node fault".into());
    };
    let what = format!("{} (intent {})", p.resource.describe(), p.id);
    let guard = Guard::harness(Some(cluster.clone()));
    let ps = Command::new("docker")
        .args(["ps", "-a", "--no-trunc", "--filter"])
        .arg(format!("name=^/{node}$"))
        .args(["--format", "{{.ID}}"])
        .timeout(DOCKER_TIMEOUT);
    let ids = match runner.run(&ps).await {
        Ok(out) => non_empty_lines(&out),
        Err(e) => return Step::Left(format!("{what}: listing containers failed: {e}")),
    };
    if ids.is_empty() {
        return Step::Done(format!(
            "{what}: node container {node} is gone; nothing to undo"
        ));
    }
    if ids.iter().all(|id| id != container_id) {
        return Step::Left(format!(
            "{what}: container {node} is {} now, not the recorded {container_id}; not touched",
            ids.join(",")
        ));
    }
    let kubeconfig = tempfile::tempdir();
    let ovs_commands = match (ovs, undo) {
        (OvsPlace::OvsOvnPod, faults::Undo::RemoveStale { ports, .. }) if !ports.is_empty() => {
            let dir = match &kubeconfig {
                Ok(d) => d.path().join("kubeconfig"),
                Err(e) => return Step::Left(format!("{what}: no temporary folder: {e}")),
            };
            let get = Command::new("kind")
                .args(["get", "kubeconfig", "--name", cluster])
                .timeout(Duration::from_secs(30));
            match runner.run(&get).await {
                Ok(out) => {
                    if let Err(e) = std::fs::write(&dir, &out.stdout) {
                        return Step::Left(format!("{what}: writing {}: {e}", dir.display()));
                    }
                }
                Err(e) => return Step::Left(format!("{what}: {e}")),
            }
            OvsCommands::OvsOvnPod(Kubectl::new(runner.clone(), dir, cluster))
        }
        _ => OvsCommands::NodeContainer,
    };
    let nodes = DockerNodes::new(runner.clone(), cluster.clone(), guard, ovs_commands)
        .with_network(network.clone());
    let state = match nodes.guarded(node).await {
        Ok(s) => s,
        Err(e) => return Step::Left(format!("{what}: {e}; not touched")),
    };
    if undo.is_process_undo() && &state.started_at != started_at {
        return Step::Done(format!(
            "{what}: void, {node} restarted since (started {}, recorded {started_at}), which ended those processes",
            state.started_at
        ));
    }
    if dry_run {
        return Step::Done(format!("would undo {what}"));
    }
    match faults::undo(&nodes, undo).await {
        Ok(did) => Step::Done(format!("undid {what}: {did}")),
        Err(e) => Step::Left(format!("undoing {what} failed: {e}")),
    }
}

/// A Docker object of the harness's own.
#[derive(Clone, Copy)]
enum Own {
    Network,
    Container,
}

/// Removes the harness's own network or container `name` of `cluster`,
/// only while an object of that name carries the harness's label for
/// `cluster` (`cni-chaos.io/cluster`).
async fn remove_own(
    runner: &Arc<dyn Runner>,
    what: Own,
    cluster: &str,
    name: &str,
    dry_run: bool,
) -> Step {
    let label = format!("label={NAT_CLUSTER_LABEL}={cluster}");
    let (noun, list, rm) = match what {
        Own::Network => (
            "Docker network",
            Command::new("docker")
                .args(["network", "ls", "--filter"])
                .arg(label)
                .args(["--format", "{{.Name}}"]),
            Command::new("docker").args(["network", "rm", name]),
        ),
        Own::Container => (
            "container",
            Command::new("docker")
                .args(["ps", "-a", "--filter"])
                .arg(label)
                .args(["--format", "{{.Names}}"]),
            Command::new("docker").args(["rm", "--force", name]),
        ),
    };
    let listed = match runner.run(&list.timeout(DOCKER_TIMEOUT)).await {
        Ok(out) => non_empty_lines(&out),
        Err(e) => return Step::Left(format!("{noun} {name} of {cluster}: {e}")),
    };
    if !listed.iter().any(|l| l == name) {
        return Step::Done(format!(
            "{noun} {name} of {cluster}: already gone (none of that name carries {NAT_CLUSTER_LABEL}={cluster})"
        ));
    }
    if dry_run {
        return Step::Done(format!("would remove {noun} {name} of {cluster}"));
    }
    match runner.run(&rm.timeout(DOCKER_TIMEOUT)).await {
        Ok(_) => Step::Done(format!("removed {noun} {name} of {cluster}")),
        Err(e) => Step::Left(format!("removing {noun} {name} of {cluster} failed: {e}")),
    }
}

/// Deletes a cluster the run created, once kind's cluster label shows only
/// containers the run recorded (when it got to record them).
async fn delete_cluster(
    runner: &Arc<dyn Runner>,
    name: &str,
    recorded: &[ContainerRef],
    dry_run: bool,
) -> Step {
    if let Err(e) = Guard::harness(Some(name.to_string())).check_cluster(name) {
        return Step::Left(format!("kind cluster {name}: {e}"));
    }
    let listed = match labelled(runner, name).await {
        Ok(l) => l,
        Err(e) => return Step::Left(format!("kind cluster {name}: {e}")),
    };
    if listed.is_empty() {
        return Step::Done(format!("kind cluster {name}: already gone"));
    }
    if !recorded.is_empty() {
        let strangers: Vec<&ContainerRef> = listed
            .iter()
            .filter(|c| !recorded.iter().any(|r| r.id == c.id))
            .collect();
        if !strangers.is_empty() {
            return Step::Left(format!(
                "kind cluster {name}: containers {} carry its label but the run did not record them; not deleted",
                strangers
                    .iter()
                    .map(|c| format!("{} ({})", c.name, c.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let names = listed
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if dry_run {
        return Step::Done(format!("would delete kind cluster {name} (nodes {names})"));
    }
    // A private kubeconfig, so kind never edits the user's.
    let tmp = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => return Step::Left(format!("kind cluster {name}: no temporary folder: {e}")),
    };
    let delete = Command::new("kind")
        .args(["delete", "cluster", "--name", name, "--kubeconfig"])
        .arg(tmp.path().join("kubeconfig").display().to_string())
        .timeout(DELETE_TIMEOUT);
    // The dead run's own `kind delete` (killed above with its process
    // group) may have left Docker removing a node: "removal of container
    // ... is already in progress". Docker finishes that by itself; the
    // delete is tried again after it.
    let mut why = String::new();
    for attempt in 0..DELETE_TRIES {
        if attempt > 0 {
            tokio::time::sleep(DELETE_RETRY).await;
        }
        why.clear();
        if let Err(e) = runner.run(&delete).await {
            why = format!("deleting kind cluster {name} failed: {e}");
        }
        match labelled(runner, name).await {
            Ok(l) if l.is_empty() => {
                return Step::Done(format!("deleted kind cluster {name} (nodes {names})"));
            }
            Ok(l) if why.is_empty() => {
                why = format!(
                    "kind cluster {name}: {} containers still carry its label after the delete",
                    l.len()
                );
            }
            Ok(_) => {}
            Err(e) => why = format!("kind cluster {name}: {e}"),
        }
    }
    Step::Left(why)
}

/// The containers carrying kind's cluster label for `name`.
async fn labelled(runner: &Arc<dyn Runner>, name: &str) -> Result<Vec<ContainerRef>, KindError> {
    let ps = Command::new("docker")
        .args(["ps", "-a", "--no-trunc", "--filter"])
        .arg(format!("label={CLUSTER_LABEL}={name}"))
        .args(["--format", "{{.ID}} {{.Names}}"])
        .timeout(DOCKER_TIMEOUT);
    let out = runner.run(&ps).await?;
    Ok(non_empty_lines(&out)
        .into_iter()
        .filter_map(|l| {
            let (id, name) = l.split_once(' ')?;
            Some(ContainerRef {
                name: name.to_string(),
                id: id.to_string(),
            })
        })
        .collect())
}

/// The containers of cluster `name` by name and ID, for the journal's
/// record of a created cluster.
pub async fn cluster_containers(
    runner: &Arc<dyn Runner>,
    name: &str,
) -> Result<Vec<ContainerRef>, KindError> {
    labelled(runner, name).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::kind::inspect_json;
    use crate::exec::{Expectation, ScriptedRunner};
    use crate::journal::{Owner, Record};

    /// Writes a run's journal by hand: the run record of `owner`, then
    /// `records` under their own file names.
    fn write_run(root: &std::path::Path, run: &str, owner: &Owner, records: &[(&str, Record)]) {
        let dir = root.join(run);
        std::fs::create_dir_all(&dir).unwrap();
        let head = Record::Run {
            run_id: run.into(),
            owner: owner.clone(),
            docker_host: None,
        };
        std::fs::write(
            dir.join("00000000-run.json"),
            serde_json::to_vec(&head).unwrap(),
        )
        .unwrap();
        for (name, r) in records {
            std::fs::write(dir.join(name), serde_json::to_vec(r).unwrap()).unwrap();
        }
    }

    fn dead_owner() -> Owner {
        let me = Owner::current().unwrap();
        Owner {
            start_time: me.start_time + 1,
            ..me
        }
    }

    fn files(root: &std::path::Path) -> Vec<String> {
        let mut all = Vec::new();
        for run in std::fs::read_dir(root).unwrap() {
            for f in std::fs::read_dir(run.unwrap().path()).unwrap() {
                all.push(f.unwrap().path().display().to_string());
            }
        }
        all.sort();
        all
    }

    fn fault(cluster: &str, node: &str, id: &str) -> Resource {
        Resource::NodeFault {
            cluster: cluster.into(),
            node: node.into(),
            container_id: id.into(),
            started_at: "2026-12-03T10:00:00Z".into(),
            network: "kind".into(),
            ovs: OvsPlace::OvsOvnPod,
            undo: faults::Undo::Restore {
                node: node.into(),
                path: "/etc/cni/net.d/01-kube-ovn.conflist".into(),
                bytes: b"{}".to_vec(),
                mode: Some("600".into()),
            },
        }
    }

    /// `docker ps` of the containers carrying kind's label for `cluster`.
    fn ps_kind(cluster: &str) -> Vec<String> {
        [
            "docker",
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &format!("label=io.x-k8s.kind.cluster={cluster}"),
            "--format",
            "{{.ID}} {{.Names}}",
        ]
        .map(String::from)
        .to_vec()
    }

    fn ps_name(node: &str) -> Vec<String> {
        [
            "docker",
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &format!("name=^/{node}$"),
            "--format",
            "{{.ID}}",
        ]
        .map(String::from)
        .to_vec()
    }

    /// A dead run's NAT-gateway network and target container go with its
    /// cluster: the container first, the network after the cluster (Docker
    /// refuses to remove a network nodes are connected to), each only while
    /// an object of that name carries the harness's label for the cluster.
    #[tokio::test]
    async fn a_dead_runs_nat_network_and_target_are_removed_after_its_cluster() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::at(tmp.path());
        let intent = |id: u64, resource: Resource| Record::Intent { id, resource };
        write_run(
            tmp.path(),
            "1-dead",
            &dead_owner(),
            &[
                (
                    "00000001-intent.json",
                    intent(
                        1,
                        Resource::Cluster {
                            name: "chaos-a".into(),
                        },
                    ),
                ),
                (
                    "00000002-intent.json",
                    intent(
                        2,
                        Resource::DockerNetwork {
                            cluster: "chaos-a".into(),
                            name: "chaos-a-nat-ext".into(),
                        },
                    ),
                ),
                (
                    "00000003-intent.json",
                    intent(
                        3,
                        Resource::DockerContainer {
                            cluster: "chaos-a".into(),
                            name: "chaos-a-nat-target".into(),
                        },
                    ),
                ),
                // A name no object with the label has (someone else's
                // container of that name is not listed): left unremoved.
                (
                    "00000004-intent.json",
                    intent(
                        4,
                        Resource::DockerContainer {
                            cluster: "chaos-a".into(),
                            name: "chaos-a-gone".into(),
                        },
                    ),
                ),
            ],
        );
        let ps_own = [
            "docker",
            "ps",
            "-a",
            "--filter",
            "label=cni-chaos.io/cluster=chaos-a",
            "--format",
            "{{.Names}}",
        ];
        let ps_kind = ps_kind("chaos-a");
        let runner = Arc::new(
            ScriptedRunner::ordered([
                Expectation::ok(ps_own, "chaos-a-nat-target\n"),
                Expectation::ok(ps_own, "chaos-a-nat-target\n"),
                Expectation::ok(["docker", "rm", "--force", "chaos-a-nat-target"], ""),
                Expectation::ok(ps_kind.clone(), "c0ffee chaos-a-control-plane\n"),
                Expectation::ok(
                    [
                        "kind",
                        "delete",
                        "cluster",
                        "--name",
                        "chaos-a",
                        "--kubeconfig",
                        "*",
                    ],
                    "",
                ),
                Expectation::ok(ps_kind, ""),
                Expectation::ok(
                    [
                        "docker",
                        "network",
                        "ls",
                        "--filter",
                        "label=cni-chaos.io/cluster=chaos-a",
                        "--format",
                        "{{.Name}}",
                    ],
                    "chaos-a-nat-ext\n",
                ),
                Expectation::ok(["docker", "network", "rm", "chaos-a-nat-ext"], ""),
            ])
            .without_fallback(),
        );
        let report = clean(&journal, runner.clone(), &CleanOptions::default())
            .await
            .unwrap();
        runner.assert_done();
        assert!(report.left.is_empty(), "{report:?}");
        let did = report.did.join("\n");
        assert!(
            did.contains("chaos-a-gone of chaos-a: already gone"),
            "{did}"
        );
        assert!(
            did.contains("removed container chaos-a-nat-target of chaos-a"),
            "{did}"
        );
        assert!(
            did.contains("removed Docker network chaos-a-nat-ext of chaos-a"),
            "{did}"
        );
        assert!(
            journal.runs().unwrap().is_empty(),
            "{:?}",
            files(tmp.path())
        );
    }

    #[tokio::test]
    async fn a_dry_run_lists_a_dead_runs_cluster_and_pending_undos_and_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::at(tmp.path());
        write_run(
            tmp.path(),
            "1-dead",
            &dead_owner(),
            &[
                (
                    "00000001-intent.json",
                    Record::Intent {
                        id: 1,
                        resource: Resource::Cluster {
                            name: "chaos-a".into(),
                        },
                    },
                ),
                (
                    "00000001-done.json",
                    Record::Done {
                        id: 1,
                        containers: vec![ContainerRef {
                            name: "chaos-a-control-plane".into(),
                            id: "c0ffee".into(),
                        }],
                    },
                ),
                (
                    "00000002-intent.json",
                    Record::Intent {
                        id: 2,
                        resource: fault("chaos-a", "chaos-a-control-plane", "c0ffee"),
                    },
                ),
                (
                    "00000003-intent.json",
                    Record::Intent {
                        id: 3,
                        resource: fault("dev", "dev-worker", "beef"),
                    },
                ),
            ],
        );
        let before = files(tmp.path());
        let runner = Arc::new(
            ScriptedRunner::ordered([
                // Newest first: the fault on the CHAOS_CLUSTER cluster, its
                // node confirmed by ID and labels...
                Expectation::ok(ps_name("dev-worker"), "beef\n"),
                Expectation::ok(
                    ["docker", "inspect", "--type", "container", "dev-worker"],
                    inspect_json(
                        "dev-worker",
                        Some("dev"),
                        "worker",
                        "2026-12-03T10:00:00Z",
                        &[("kind", "172.18.0.3")],
                    ),
                ),
                // ...then the run's own cluster, confirmed by its label.
                Expectation::ok(ps_kind("chaos-a"), "c0ffee chaos-a-control-plane\n"),
            ])
            .without_fallback(),
        );
        let options = CleanOptions {
            dry_run: true,
            ..CleanOptions::default()
        };
        let report = clean(&journal, runner.clone(), &options).await.unwrap();
        assert_eq!(report.dead_runs, 1);
        assert!(
            report.left.is_empty() && report.warnings.is_empty(),
            "{report:?}"
        );
        let did = report.did.join("\n");
        assert_eq!(report.did.len(), 3, "{did}");
        assert!(did.contains("would undo restoring /etc/cni/net.d/01-kube-ovn.conflist on node dev-worker of dev (intent 3)"), "{did}");
        assert!(
            did.contains("would delete kind cluster chaos-a (nodes chaos-a-control-plane)"),
            "{did}"
        );
        assert!(
            did.contains("on node chaos-a-control-plane of chaos-a would go with its cluster"),
            "{did}"
        );
        assert!(runner.remaining().is_empty());
        // Nothing changed: no command beyond the reads above, no record gone.
        assert_eq!(runner.calls().len(), 3);
        assert_eq!(files(tmp.path()), before);
    }

    /// `docker ps` for the kept cluster's nodes.
    const KEPT_PS: [&str; 8] = [
        "docker",
        "ps",
        "-a",
        "--no-trunc",
        "--filter",
        "label=io.x-k8s.kind.cluster=chaos-kept",
        "--format",
        "{{.ID}} {{.Names}}",
    ];

    /// A dead run's journal in `root` that kept cluster `chaos-kept`.
    fn kept_run(root: &std::path::Path) -> Journal {
        let kept = Record::Intent {
            id: 1,
            resource: Resource::Kept {
                name: "chaos-kept".into(),
            },
        };
        write_run(
            root,
            "1-kept",
            &dead_owner(),
            &[("00000001-intent.json", kept)],
        );
        Journal::at(root)
    }

    #[tokio::test]
    async fn a_kept_cluster_is_listed_until_it_is_gone_or_deletion_is_asked_for() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = kept_run(tmp.path());
        let ps = KEPT_PS;
        let there = "abc chaos-kept-control-plane\n";
        // Listed, not deleted.
        let runner =
            Arc::new(ScriptedRunner::ordered([Expectation::ok(ps, there)]).without_fallback());
        let report = clean(&journal, runner, &CleanOptions::default())
            .await
            .unwrap();
        assert_eq!(report.left.len(), 1, "{report:?}");
        assert!(
            report.left[0].contains("was kept (CHAOS_KEEP_CLUSTER)"),
            "{report:?}"
        );
        assert_eq!(journal.runs().unwrap().len(), 1);
        // Deleted when asked.
        let delete_kept = CleanOptions {
            delete_kept: true,
            ..CleanOptions::default()
        };
        let runner = Arc::new(
            ScriptedRunner::ordered([
                Expectation::ok(ps, there),
                Expectation::ok(
                    [
                        "kind",
                        "delete",
                        "cluster",
                        "--name",
                        "chaos-kept",
                        "--kubeconfig",
                        "*",
                    ],
                    "",
                ),
                Expectation::ok(ps, ""),
            ])
            .without_fallback(),
        );
        let report = clean(&journal, runner.clone(), &delete_kept).await.unwrap();
        assert!(report.left.is_empty(), "{report:?}");
        assert!(
            report.did[0].contains("deleted kind cluster chaos-kept"),
            "{report:?}"
        );
        assert!(runner.remaining().is_empty());
        assert!(journal.runs().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_kept_cluster_deleted_by_hand_is_forgotten() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = kept_run(tmp.path());
        let ps = KEPT_PS;
        let runner =
            Arc::new(ScriptedRunner::ordered([Expectation::ok(ps, "")]).without_fallback());
        let report = clean(&journal, runner, &CleanOptions::default())
            .await
            .unwrap();
        assert!(report.left.is_empty(), "{report:?}");
        assert!(
            report.did[0].contains("kept kind cluster chaos-kept is gone (deleted by hand)"),
            "{report:?}"
        );
        assert!(journal.runs().unwrap().is_empty());
    }

    #[tokio::test]
    async fn live_runs_unreadable_journals_and_replaced_containers_are_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::at(tmp.path());
        // A live owner that is not this process: our parent.
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let ppid: u32 = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let parent = Owner {
            pid: ppid,
            start_time: host_process(ppid).unwrap().0,
            name: "parent".into(),
            ..Owner::current().unwrap()
        };
        let cluster = |id| Record::Intent {
            id,
            resource: Resource::Cluster {
                name: "chaos-live".into(),
            },
        };
        write_run(
            tmp.path(),
            "1-live",
            &parent,
            &[("00000001-intent.json", cluster(1))],
        );
        // An unreadable older record: the run is left, the file named.
        write_run(
            tmp.path(),
            "2-corrupt",
            &dead_owner(),
            &[
                ("00000001-intent.json", cluster(1)),
                ("00000002-intent.json", cluster(2)),
            ],
        );
        let bad = tmp.path().join("2-corrupt/00000001-intent.json");
        std::fs::write(&bad, "{not json").unwrap();
        // A node container that is another container now.
        write_run(
            tmp.path(),
            "3-replaced",
            &dead_owner(),
            &[(
                "00000001-intent.json",
                Record::Intent {
                    id: 1,
                    resource: fault("dev", "dev-worker", "beef"),
                },
            )],
        );
        let before = files(tmp.path());
        let runner = Arc::new(
            ScriptedRunner::ordered([Expectation::ok(ps_name("dev-worker"), "f00d\n")])
                .without_fallback(),
        );
        let report = clean(&journal, runner.clone(), &CleanOptions::default())
            .await
            .unwrap();
        assert_eq!(report.live.len(), 1, "{report:?}");
        assert!(
            report.live[0].starts_with("run 1-live of parent PID"),
            "{report:?}"
        );
        assert_eq!(report.warnings.len(), 1, "{report:?}");
        assert!(
            report.warnings[0]
                .starts_with(&format!("{}: unreadable journal record", bad.display())),
            "{report:?}"
        );
        assert!(report.did.is_empty(), "{report:?}");
        assert_eq!(report.left.len(), 2, "{report:?}");
        assert!(
            report.left[0].contains("2-corrupt: left alone"),
            "{report:?}"
        );
        assert!(
            report.left[1]
                .contains("container dev-worker is f00d now, not the recorded beef; not touched"),
            "{report:?}"
        );
        assert_eq!(runner.calls().len(), 1);
        assert_eq!(files(tmp.path()), before);
    }
}
