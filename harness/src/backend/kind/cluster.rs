//! [`KindBackend`] and [`KindCluster`]: the cluster lifecycle (create with a
//! pinned node image and a private kubeconfig, install the addons, export
//! logs and delete on failure), reuse through `CHAOS_CLUSTER`, and the
//! [`Cluster`] operations on the Docker node runtime.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::KindError;
use super::addons::{Addons, ImageStore};
use super::clean::cluster_containers;
use super::config::KindConfig;
use super::docker::DockerNodes;
use super::faults::{self, Undo};
use super::kubectl::{KUBECTL_TIMEOUT, Kubectl};
use super::options::{KindOptions, NameSource};
use super::ovs::OvsCommands;
use super::prereq::{self, ToolVersions};
use super::safety::{Guard, new_cluster_name};
use super::versions::{MATRIX_FILE, VersionMatrix, VersionSet};
use crate::backend::{Backend, BackendError, BackendInfo, Cluster, Gate, NodeInfo, Observation};
use crate::exec::{Command, Runner};
use crate::fault::{Evidence, Fault};
use crate::journal::{Resource, RunJournal};
use crate::observe::{self, Observer, WatchOptions};
use crate::slo::{Culprit, CulpritKind, ProbeKind, Slo, SloStatus};
use crate::suite::{ClusterProfile, RemediationStep, Scenario};

/// Poll interval of the steady-state gate.
const STEADY_POLL: Duration = Duration::from_secs(2);

/// The kind backend.
#[derive(Debug)]
pub struct KindBackend {
    runner: Arc<dyn Runner>,
    options: KindOptions,
    matrix: VersionMatrix,
    reason: String,
    tools: Mutex<Option<ToolVersions>>,
    /// The state folder made at the first provisioning (when the options
    /// name none).
    state_root: Mutex<Option<PathBuf>>,
    /// Where provisioning steps are reported, when the run attached a sink.
    events: crate::run::LateSink,
    /// The run's undo journal (`None` in a dry run, and when it could not
    /// be started).
    journal: Option<Arc<RunJournal>>,
}

impl Drop for KindBackend {
    /// Removes the state folder the backend made, when no cluster left
    /// anything in it (a kept cluster's kubeconfig stays, and so does it),
    /// and ends the run's journal (which stays while it lists a kept
    /// cluster or anything not undone).
    fn drop(&mut self) {
        if let Some(journal) = &self.journal
            && let Err(e) = journal.finish()
        {
            tracing::warn!("ending the undo journal: {e}");
        }
        let made = self.state_root.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = &*made {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

impl KindBackend {
    /// A backend running every command through `runner`; reads and validates
    /// `versions.yaml` from the workspace. `reason` says why kind was chosen.
    pub fn new(
        runner: Arc<dyn Runner>,
        options: KindOptions,
        reason: impl Into<String>,
    ) -> Result<Self, KindError> {
        let matrix = VersionMatrix::load(&options.workspace.join(MATRIX_FILE))?;
        Ok(KindBackend {
            runner,
            options,
            matrix,
            reason: reason.into(),
            tools: Mutex::new(None),
            state_root: Mutex::new(None),
            events: crate::run::LateSink::default(),
            journal: None,
        })
    }

    /// Records every cluster it creates and every fault it injects in
    /// `journal` before acting (never in a dry run).
    #[must_use]
    pub fn with_journal(mut self, journal: Option<Arc<RunJournal>>) -> Self {
        self.journal = journal.filter(|_| !self.options.dry_run);
        self
    }

    /// Records an intent in the journal, if there is one.
    fn intent(&self, resource: Resource) -> Result<Option<u64>, KindError> {
        self.journal
            .as_ref()
            .map(|j| j.intent(resource))
            .transpose()
            .map_err(KindError::journal)
    }

    /// Records that intent `id` (if any) is undone; a failure is a warning.
    fn forget(&self, id: Option<u64>) {
        forget(self.journal.as_ref(), id);
    }

    /// Reports a provisioning step for `profile` to the attached sink.
    fn step(&self, profile: &str, step: &str) {
        use crate::run::EventSink as _;
        self.events.emit(crate::run::RunEvent::ProvisionStep {
            profile: profile.to_string(),
            step: step.to_string(),
        });
    }

    /// The version matrix.
    pub fn matrix(&self) -> &VersionMatrix {
        &self.matrix
    }

    /// The options.
    pub fn options(&self) -> &KindOptions {
        &self.options
    }

    /// The folder holding the clusters' private state folders: the one the
    /// options name, or the one made at the first provisioning (`None`
    /// before it).
    pub fn state_dir(&self) -> Option<PathBuf> {
        self.options.state_dir.clone().or_else(|| {
            self.state_root
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        })
    }

    fn guard(&self) -> Guard {
        Guard::new(self.options.prefix.clone(), self.options.reuse.clone())
    }

    fn kind(&self, args: &[&str], timeout: Duration) -> Command {
        Command::new("kind")
            .args(args.iter().copied())
            .timeout(timeout)
    }

    /// Exports logs (not after an interrupt) and deletes a cluster whose
    /// provisioning failed at `step`; the delete runs whatever the export
    /// did.
    async fn fail(
        &self,
        name: &str,
        kubeconfig: &Path,
        step: &str,
        err: KindError,
        interrupted: bool,
    ) -> KindError {
        let t = &self.options.timeouts;
        let logs = export_logs(
            &*self.runner,
            name,
            &self.options.logs_dir.join(name),
            t.logs,
            interrupted,
        )
        .await;
        if let Err(e) = self
            .runner
            .run(&delete_cmd(name, kubeconfig, t.delete))
            .await
        {
            tracing::error!(
                "deleting {name} after the failed {step} failed: {e}; delete it with `kind delete cluster --name {name}`"
            );
        }
        if let Some(dir) = kubeconfig.parent() {
            remove_state(dir);
        }
        KindError::Provision {
            cluster: name.to_string(),
            step: step.to_string(),
            logs,
            source: Box::new(err),
        }
    }

    /// The private state folder of cluster `name` (its kubeconfig and
    /// downloads), inside the backend's state folder, which is made on first
    /// use unless the options name one.
    fn cluster_dir(&self, name: &str) -> Result<PathBuf, KindError> {
        let root = match &self.options.state_dir {
            Some(dir) => dir.clone(),
            None => {
                let mut made = self.state_root.lock().unwrap_or_else(|p| p.into_inner());
                match &*made {
                    Some(dir) => dir.clone(),
                    None => {
                        let dir = new_state_root()?;
                        *made = Some(dir.clone());
                        dir
                    }
                }
            }
        };
        let dir = root.join(name);
        private_dir(&dir)?;
        Ok(dir)
    }

    /// Refuses `name` when `kind get clusters` lists it: a cluster of that
    /// name was not made by this run, and a failed create would otherwise
    /// export and delete it.
    async fn check_name_free(&self, name: &str) -> Result<(), KindError> {
        let out = self
            .runner
            .run(&self.kind(&["get", "clusters"], Duration::from_secs(30)))
            .await?;
        if out.stdout_str().lines().any(|l| l.trim() == name) {
            return Err(KindError::ClusterExists {
                cluster: name.into(),
                detail: String::new(),
            });
        }
        Ok(())
    }

    /// Creates and installs a new cluster called `name`.
    async fn create(
        &self,
        name: &str,
        config: KindConfig,
        config_path: &Path,
        set: &VersionSet,
        cancel: &CancellationToken,
        profile: &ClusterProfile,
    ) -> Result<KindCluster, KindError> {
        let nat_gateway = profile.nat_gateway;
        let node_names = config.node_names(name);
        // What the NAT gateway's setup made beside the cluster (journaled
        // before it was made), removed with the cluster.
        let made: Mutex<Vec<External>> = Mutex::new(Vec::new());
        let profile = profile.to_string();
        let profile = profile.as_str();
        // Never create over (and so never delete) a cluster this run did not
        // make: a name kind already knows is refused before anything runs.
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(KindError::Interrupted { step: "the cluster name check".into() }),
            r = self.check_name_free(name) => r?,
        }
        let dir = self.cluster_dir(name)?;
        let kubeconfig = dir.join("kubeconfig");
        let kubectl =
            Kubectl::new(self.runner.clone(), &kubeconfig, name).dry_run(self.options.dry_run);
        let addons = Addons {
            runner: self.runner.clone(),
            kubectl: &kubectl,
            set,
            config: &config,
            options: &self.options,
            nat_gateway,
            cluster: name,
            state: &dir,
        };
        // Before the cluster exists: a registry problem (or an interrupt)
        // costs no cluster.
        self.step(profile, &format!("{name}: docker pull"));
        let pulled = tokio::select! {
            biased;
            () = cancel.cancelled() => Err(KindError::Interrupted { step: "docker pull".into() }),
            r = async {
                let store = addons.image_store().await?;
                addons.pull_images().await?;
                Ok(store)
            } => r,
        };
        let store = match pulled {
            Ok(store) => store,
            Err(e) => {
                remove_state(&dir);
                return Err(e);
            }
        };

        let kc = kubeconfig.display().to_string();
        let cfg = config_path.display().to_string();
        // kubernetes-sigs/kind pkg/cmd/kind/create/cluster/createcluster.go:
        // --retain keeps the nodes when creation fails, so their logs can be
        // exported before the harness deletes them.
        let create = self.kind(
            &[
                "create",
                "cluster",
                "--name",
                name,
                "--config",
                &cfg,
                "--image",
                &set.kubernetes.node_image,
                "--kubeconfig",
                &kc,
                "--wait",
                "0s",
                "--retain",
            ],
            self.options.timeouts.create,
        );
        // Write-ahead: the cluster is recorded before kind makes it, so a
        // runner killed from here on leaves it to `cni-chaos clean`.
        let intent = match self.intent(Resource::Cluster { name: name.into() }) {
            Ok(id) => id,
            Err(e) => {
                remove_state(&dir);
                return Err(e);
            }
        };
        let steps = async {
            let step = "kind create cluster";
            self.step(profile, &format!("{name}: {step}"));
            match self.runner.run(&create).await {
                Ok(_) => {
                    if let (Some(journal), Some(id)) = (&self.journal, intent) {
                        let made = cluster_containers(&self.runner, name)
                            .await
                            .map_err(|e| (step, e))?;
                        journal
                            .done(id, made)
                            .map_err(|e| (step, KindError::journal(e)))?;
                    }
                }
                // Another cluster of this name appeared since the check:
                // it is not this run's, so it is neither exported nor deleted.
                Err(e) if name_taken(&e, name) => {
                    return Err((
                        step,
                        KindError::ClusterExists {
                            cluster: name.into(),
                            detail: format!("\n{e}"),
                        },
                    ));
                }
                Err(e) => return Err((step, KindError::from(e))),
            }
            if !self.options.dry_run {
                let text = std::fs::read_to_string(&kubeconfig).map_err(|source| {
                    (
                        step,
                        KindError::Io {
                            action: "reading",
                            path: kubeconfig.clone(),
                            source,
                        },
                    )
                })?;
                self.guard()
                    .check_kubeconfig(name, &text)
                    .map_err(|e| (step, e))?;
            }
            let load = match store {
                ImageStore::Docker => "kind load docker-image",
                ImageStore::Containerd => "docker save + kind load image-archive",
            };
            self.step(profile, &format!("{name}: {load}"));
            addons.load_images(store).await.map_err(|e| (load, e))?;
            self.step(profile, &format!("{name}: install Kube-OVN (install.sh)"));
            addons
                .install_kube_ovn()
                .await
                .map_err(|e| ("install Kube-OVN", e))?;
            self.step(
                profile,
                &format!("{name}: kubectl ko diagnose all (optional)"),
            );
            if let Some(warning) = addons.diagnose_kube_ovn().await {
                tracing::warn!("{name}: {warning}");
                self.step(profile, &format!("{name}: warning: {warning}"));
            }
            self.step(profile, &format!("{name}: install Multus (thick manifest)"));
            addons
                .install_multus()
                .await
                .map_err(|e| ("install Multus", e))?;
            self.step(profile, &format!("{name}: waiting for nodes and rollouts"));
            addons
                .wait_ready()
                .await
                .map_err(|e| ("readiness wait", e))?;
            self.step(profile, &format!("{name}: probe namespace and attachment"));
            addons
                .install_probe_resources()
                .await
                .map_err(|e| ("probe namespace and attachment", e))?;
            if nat_gateway {
                self.nat_gateway(name, &node_names, &kubectl, set, &dir, &made, profile)
                    .await
                    .map_err(|e| ("VPC NAT gateway setup", e))?;
            }
            Ok::<(), (&str, KindError)>(())
        };
        let outcome = tokio::select! {
            biased;
            () = cancel.cancelled() => Err(("provisioning", KindError::Interrupted { step: "provisioning".into() })),
            r = steps => r,
        };
        let made = made.into_inner().unwrap_or_else(|p| p.into_inner());
        if let Err((step, err)) = outcome {
            if matches!(err, KindError::ClusterExists { .. }) {
                // Not this run's: it is never deleted, by clean either.
                self.forget(intent);
                remove_state(&dir);
                return Err(err);
            }
            let err = self
                .fail(name, &kubeconfig, step, err, cancel.is_cancelled())
                .await;
            if intent.is_some() && !self.cluster_listed(name).await {
                self.forget(intent);
            }
            remove_external(&self.runner, self.journal.as_ref(), &made).await;
            return Err(err);
        }
        tracing::info!(
            "kind cluster {name} is ready; kubeconfig {} (context kind-{name})",
            kubeconfig.display()
        );
        let journaled = Journaled {
            journal: self.journal.clone(),
            intent,
            external: made,
        };
        KindCluster::build(self, name, config, kubeconfig, false, cancel, journaled).await
    }

    /// Sets up the VPC NAT gateway of a `nat-gateway: true` profile (see
    /// [`super::natgw`]): the external Docker network and the target
    /// container, each journaled before it is made and listed in `made`
    /// once made, then the kubeovn.io objects and their waits.
    #[allow(clippy::too_many_arguments)]
    async fn nat_gateway(
        &self,
        name: &str,
        nodes: &[(String, crate::fault::NodeRole)],
        kubectl: &Kubectl,
        set: &VersionSet,
        dir: &Path,
        made: &Mutex<Vec<External>>,
        profile: &str,
    ) -> Result<(), KindError> {
        use super::natgw;
        // The first worker by name (docs/authoring.md, "Placement"), as on
        // the twin; a config without workers pins it to the control plane.
        let mut workers: Vec<&str> = nodes
            .iter()
            .filter(|(_, r)| *r == crate::fault::NodeRole::Worker)
            .map(|(n, _)| n.as_str())
            .collect();
        workers.sort_unstable();
        let gateway_node = workers
            .first()
            .copied()
            .or_else(|| nodes.first().map(|(n, _)| n.as_str()))
            .unwrap_or_default()
            .to_string();
        // The path's client on the control plane, away from the gateway.
        let client_node = nodes
            .iter()
            .find(|(_, r)| *r == crate::fault::NodeRole::ControlPlane)
            .or_else(|| nodes.first())
            .map(|(n, _)| n.clone())
            .unwrap_or_default();
        let setup = natgw::NatGateway {
            runner: self.runner.clone(),
            kubectl,
            cluster: name,
            nodes: nodes.iter().map(|(n, _)| n.clone()).collect(),
            gateway_node: gateway_node.clone(),
            client_node: client_node.clone(),
            image: &set.kube_ovn.nat_gateway_image,
            state: dir,
            dry_run: self.options.dry_run,
            timeout: self.options.timeouts.ready,
        };
        let network = natgw::network_name(name);
        self.step(
            profile,
            &format!("{name}: VPC NAT gateway: Docker network {network}"),
        );
        self.make_external(
            Resource::DockerNetwork {
                cluster: name.into(),
                name: network.clone(),
            },
            natgw::network_create_cmd(name),
            made,
        )
        .await?;
        setup.connect_nodes().await?;
        let target = natgw::target_name(name);
        self.step(
            profile,
            &format!("{name}: VPC NAT gateway: target container {target}"),
        );
        self.make_external(
            Resource::DockerContainer {
                cluster: name.into(),
                name: target,
            },
            natgw::target_run_cmd(name, crate::observe::probe::PROBE_IMAGE),
            made,
        )
        .await?;
        self.step(
            profile,
            &format!(
                "{name}: VPC NAT gateway: {} on {gateway_node}, its EIP, SNAT and DNAT rules, the path's client {} on {client_node}",
                cni_chaos_twin::model::NAT_GW_NAME,
                cni_chaos_twin::model::NAT_CLIENT
            ),
        );
        setup.apply().await
    }

    /// Records `resource` in the journal, then runs `create`; once it ran
    /// (or may have: a timeout) the resource is listed in `made`, so the
    /// failure path and the teardown remove it. A create that failed
    /// outright made nothing, and its intent is forgotten.
    async fn make_external(
        &self,
        resource: Resource,
        create: Command,
        made: &Mutex<Vec<External>>,
    ) -> Result<(), KindError> {
        let intent = self.intent(resource.clone())?;
        let what = resource.describe();
        match self.runner.run(&create).await {
            Ok(_) => {
                made.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(External { resource, intent });
                Ok(())
            }
            Err(e) => {
                if matches!(e, crate::exec::ExecError::Timeout { .. }) {
                    made.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(External { resource, intent });
                } else {
                    self.forget(intent);
                }
                Err(KindError::NatGateway {
                    step: "creating".into(),
                    object: what,
                    detail: e.to_string(),
                })
            }
        }
    }

    /// Whether containers with kind's label for `name` still exist (a
    /// failed delete leaves the cluster's intent to `clean`). An error
    /// counts as "still there".
    async fn cluster_listed(&self, name: &str) -> bool {
        match cluster_containers(&self.runner, name).await {
            Ok(containers) => !containers.is_empty(),
            Err(_) => true,
        }
    }

    /// Attaches to the cluster named in `CHAOS_CLUSTER`, after checking that
    /// kind knows it, that its kubeconfig's context is `kind-<name>`, and that
    /// its node containers carry kind's labels. Runs nothing destructive.
    async fn attach(
        &self,
        name: &str,
        config: KindConfig,
        cancel: &CancellationToken,
    ) -> Result<KindCluster, KindError> {
        let guard = self.guard();
        guard.check_cluster(name)?;
        let out = self
            .runner
            .run(&self.kind(&["get", "clusters"], Duration::from_secs(30)))
            .await?;
        if !self.options.dry_run && !out.stdout_str().lines().any(|l| l.trim() == name) {
            return Err(KindError::Unsafe {
                what: format!("CHAOS_CLUSTER={name}"),
                why: format!(
                    "`kind get clusters` does not list it (it lists: {})",
                    out.stdout_str()
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        let out = self
            .runner
            .run(&self.kind(
                &["get", "kubeconfig", "--name", name],
                Duration::from_secs(30),
            ))
            .await?;
        if !self.options.dry_run {
            guard.check_kubeconfig(name, &out.stdout_str())?;
        }
        let dir = self.cluster_dir(name)?;
        let kubeconfig = dir.join("kubeconfig");
        write_private(&kubeconfig, &out.stdout)?;
        let kubectl =
            Kubectl::new(self.runner.clone(), &kubeconfig, name).dry_run(self.options.dry_run);
        let nodes = DockerNodes::new(
            self.runner.clone(),
            name,
            guard,
            OvsCommands::OvsOvnPod(kubectl),
        )
        .dry_run(self.options.dry_run);
        if !self.options.dry_run {
            let listed = nodes.list().await?;
            if listed.is_empty() {
                return Err(KindError::Unsafe {
                    what: format!("CHAOS_CLUSTER={name}"),
                    why: "no container carries its io.x-k8s.kind.cluster label".into(),
                });
            }
            for (n, _) in &listed {
                nodes.guarded(n).await?;
            }
        }
        KindCluster::build(
            self,
            name,
            config,
            kubeconfig,
            true,
            cancel,
            Journaled {
                journal: self.journal.clone(),
                ..Journaled::default()
            },
        )
        .await
    }
}

#[async_trait]
impl Backend for KindBackend {
    fn attach_events(&self, events: Arc<dyn crate::run::EventSink>) {
        self.events.attach(events);
    }

    fn info(&self) -> BackendInfo {
        let mut versions =
            BTreeMap::from([("kind-min".to_string(), self.matrix.kind.min_version.clone())]);
        if let Some(t) = self
            .tools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            versions.insert("docker".into(), t.docker.clone());
            versions.insert("kind".into(), t.kind.clone());
            versions.insert("kubectl".into(), t.kubectl.clone());
        }
        if self.options.dry_run {
            versions.insert("dry-run".into(), "true".into());
        }
        BackendInfo {
            name: "kind".into(),
            reason: self.reason.clone(),
            simulated: false,
            virtual_clock: false,
            versions,
        }
    }

    /// The `nat-gateway-egress` probe and the `nat-gateway-rules` SLO need
    /// Kube-OVN's VPC NAT gateway, which is installed and created (see
    /// [`super::natgw`]) only for a profile with `nat-gateway: true`:
    /// without it the scenario is refused here, before a cluster is made
    /// for it, rather than failing as a confusing probe timeout.
    fn check_scenario(
        &self,
        profile: &ClusterProfile,
        scenario: &Scenario,
    ) -> Result<(), BackendError> {
        if profile.nat_gateway {
            return Ok(());
        }
        let nat_probe = scenario.slos.iter().any(|s| {
            matches!(
                s,
                Slo::ProbeSucceedsWithin {
                    probe: ProbeKind::NatGatewayEgress,
                    ..
                }
            )
        });
        if let Some(Slo::NatGatewayRules { gateway, .. }) = scenario
            .slos
            .iter()
            .find(|s| matches!(s, Slo::NatGatewayRules { .. }))
        {
            return Err(KindError::Unsupported {
                scenario: scenario.name.clone(),
                problem: format!("its nat-gateway-rules SLO reads VPC NAT gateway {gateway}, but the suite's cluster profile has no `nat-gateway: true`, so Kube-OVN is installed without it (ENABLE_NAT_GW=false) and no gateway is created"),
                fix: "set `nat-gateway: true` under the suite's `cluster:` (the kind backend then creates the gateway, its EIP and rules, the external Docker network and the target; docs/authoring.md, \"The cluster profile: NAT-gateway mode\")".into(),
            }
            .into());
        }
        if nat_probe {
            return Err(KindError::Unsupported {
                scenario: scenario.name.clone(),
                problem: "its nat-gateway-egress probe needs Kube-OVN's VPC NAT gateway, which is not installed (ENABLE_NAT_GW=false)".into(),
                fix: "set `nat-gateway: true` under the suite's `cluster:` to install Kube-OVN with it and have the kind backend create the VPC, its subnet cni-chaos-vpc-subnet and the gateway, or drop the probe".into(),
            }
            .into());
        }
        Ok(())
    }

    async fn provision(
        &self,
        profile: &ClusterProfile,
        cancel: &CancellationToken,
    ) -> Result<Arc<dyn Cluster>, BackendError> {
        let (config, config_path) =
            KindConfig::load_named(&self.options.workspace, &profile.kind_config)?;
        let set = self.matrix.get(&profile.versions)?.clone();
        if let Some(name) = self.options.reuse.clone() {
            let cluster = self.attach(&name, config, cancel).await?;
            cluster.set_versions(&set);
            return Ok(Arc::new(cluster));
        }
        let preflight = prereq::check(
            &*self.runner,
            &self.matrix.kind.min_version,
            config.nodes.len(),
            self.options.dry_run,
        )
        .await?;
        *self.tools.lock().unwrap_or_else(|p| p.into_inner()) = Some(preflight.tools);
        let name = match &self.options.names {
            NameSource::Random => new_cluster_name(&self.options.prefix),
            NameSource::Fixed(n) => n.clone(),
        };
        self.guard().check_cluster(&name)?;
        tracing::info!(
            "creating kind cluster {name} ({profile}: {}, Kube-OVN {}, Multus {})",
            set.kubernetes.node_image,
            set.kube_ovn.version,
            set.multus.version
        );
        let cluster = self
            .create(&name, config, &config_path, &set, cancel, profile)
            .await?;
        cluster.set_versions(&set);
        Ok(Arc::new(cluster))
    }
}

/// One kind cluster the harness created (or was told to reuse).
#[derive(Clone)]
pub struct KindCluster {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KindCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KindCluster")
            .field("name", &self.inner.name)
            .field("reused", &self.inner.reused)
            .field("dry_run", &self.inner.dry_run)
            .finish_non_exhaustive()
    }
}

struct Inner {
    name: String,
    guard: Guard,
    runner: Arc<dyn Runner>,
    nodes: DockerNodes,
    kubectl: Kubectl,
    config: KindConfig,
    client: Option<kube::Client>,
    /// Watchers on pods, nodes and events, started with the client.
    observer: tokio::sync::Mutex<Option<Observer>>,
    /// Its timeline, readable while the observer is in use.
    live: Option<crate::observe::LiveTimeline>,
    reused: bool,
    dry_run: bool,
    timeouts: super::options::Timeouts,
    /// Where `kind export logs` writes before a cluster that saw a failure
    /// is deleted.
    logs_dir: PathBuf,
    /// The private folder the backend made for this cluster (kubeconfig,
    /// manifests), removed at teardown; `None` when the kubeconfig was given.
    owned_dir: Option<PathBuf>,
    /// The run's interrupt (SIGINT/SIGTERM): an interrupted teardown skips
    /// the log export and goes straight to the delete.
    cancel: CancellationToken,
    /// Set when a gate, a fault, an SLO or a revert failed on this cluster.
    failed: std::sync::atomic::AtomicBool,
    pending: tokio::sync::Mutex<Vec<Undo>>,
    /// The injection under way, if any. It runs in a task of its own, so
    /// that an interrupt that drops the engine's wait cannot cut a fault
    /// short between its steps (a node stopped but not started again, a
    /// daemon frozen before its undo was known); a revert or teardown first
    /// waits for it, which registers its undo.
    inflight: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The container addresses partition heals recorded since the last
    /// observation judged them (see [`observe::guard_healed_address`]).
    heals: std::sync::Mutex<Vec<observe::HealedAddress>>,
    /// Set once the continuous traffic's objects were applied (they stay
    /// for the cluster's life).
    traffic_applied: std::sync::atomic::AtomicBool,
    /// Whether the long-lived connections' manifest was applied.
    long_lived_applied: std::sync::atomic::AtomicBool,
    /// Component versions of the cell it runs, for version-conditional
    /// expectations.
    versions: std::sync::OnceLock<BTreeMap<String, String>>,
    /// The run's journal and the cluster's intent in it.
    journaled: Journaled,
}

/// A cluster's place in the run's undo journal.
#[derive(Debug, Default)]
struct Journaled {
    journal: Option<Arc<RunJournal>>,
    /// The intent that created it (`None` when reused or unjournaled).
    intent: Option<u64>,
    /// What the harness made beside it (the NAT gateway's external
    /// network and target), removed after it.
    external: Vec<External>,
}

/// A Docker object the harness made beside a cluster, and its intent.
#[derive(Clone, Debug)]
struct External {
    resource: Resource,
    intent: Option<u64>,
}

/// Removes what the harness made beside a cluster (after the cluster, so
/// no node is still connected to the network): containers first, then
/// networks. Each removed one's intent is forgotten; one that cannot be
/// removed stays journaled for `cni-chaos clean`, with a warning.
async fn remove_external(
    runner: &Arc<dyn Runner>,
    journal: Option<&Arc<RunJournal>>,
    made: &[External],
) {
    let containers = made
        .iter()
        .filter(|e| matches!(e.resource, Resource::DockerContainer { .. }));
    let networks = made
        .iter()
        .filter(|e| matches!(e.resource, Resource::DockerNetwork { .. }));
    for e in containers.chain(networks) {
        let cmd = match &e.resource {
            Resource::DockerContainer { cluster, .. } => super::natgw::target_rm_cmd(cluster),
            Resource::DockerNetwork { cluster, .. } => super::natgw::network_rm_cmd(cluster),
            _ => continue,
        };
        match runner.run(&cmd).await {
            Ok(_) => forget(journal, e.intent),
            Err(err) => tracing::warn!(
                "removing {} failed: {err}; `cni-chaos clean` removes it once this run is gone",
                e.resource.describe()
            ),
        }
    }
}

/// Records that intent `id` (if any) is undone; a failure is a warning
/// (the sweep then finds a cluster that is gone, and says so).
fn forget(journal: Option<&Arc<RunJournal>>, id: Option<u64>) {
    if let (Some(journal), Some(id)) = (journal, id)
        && let Err(e) = journal.undone(id)
    {
        tracing::warn!("journal: {e}");
    }
}

impl KindCluster {
    /// Records the versions of the matrix cell the cluster runs: Kubernetes
    /// from the node image tag (`kindest/node:v1.35.0@sha256:...`), Kube-OVN
    /// and Multus as pinned.
    fn set_versions(&self, set: &VersionSet) {
        let kubernetes = set
            .kubernetes
            .node_image
            .split_once(':')
            .map(|(_, tag)| tag.split('@').next().unwrap_or(tag).to_string())
            .unwrap_or_default();
        let versions = BTreeMap::from([
            ("kubernetes".to_string(), kubernetes),
            ("kube-ovn".to_string(), set.kube_ovn.version.clone()),
            ("multus".to_string(), set.multus.version.clone()),
        ]);
        let _ = self.inner.versions.set(versions);
    }

    async fn build(
        backend: &KindBackend,
        name: &str,
        config: KindConfig,
        kubeconfig: PathBuf,
        reused: bool,
        cancel: &CancellationToken,
        journaled: Journaled,
    ) -> Result<Self, KindError> {
        let dry_run = backend.options.dry_run;
        // build() is only reached from create() and attach(), which made
        // `<state dir>/<name>` for the kubeconfig.
        let owned_dir = kubeconfig.parent().map(Path::to_path_buf);
        let client = if dry_run {
            None
        } else {
            match kube_client(&kubeconfig, name).await {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!("no kube client for {name}: {e}");
                    None
                }
            }
        };
        Ok(Self::from_parts(
            backend.runner.clone(),
            name,
            config,
            kubeconfig,
            backend.guard(),
            reused,
            dry_run,
            client,
            backend.options.timeouts.clone(),
            backend.options.logs_dir.clone(),
            owned_dir,
            cancel.clone(),
            journaled,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn from_parts(
        runner: Arc<dyn Runner>,
        name: &str,
        config: KindConfig,
        kubeconfig: PathBuf,
        guard: Guard,
        reused: bool,
        dry_run: bool,
        client: Option<kube::Client>,
        timeouts: super::options::Timeouts,
        logs_dir: PathBuf,
        owned_dir: Option<PathBuf>,
        cancel: CancellationToken,
        journaled: Journaled,
    ) -> Self {
        let kubectl = Kubectl::new(runner.clone(), kubeconfig, name).dry_run(dry_run);
        let observer = client.clone().map(|c| {
            Observer::start(
                c,
                Instant::now(),
                jiff::Timestamp::now(),
                WatchOptions::default(),
            )
        });
        KindCluster {
            inner: Arc::new(Inner {
                name: name.to_string(),
                nodes: DockerNodes::new(
                    runner.clone(),
                    name,
                    guard.clone(),
                    OvsCommands::OvsOvnPod(kubectl.clone()),
                )
                .dry_run(dry_run)
                .with_journal(journaled.journal.clone()),
                guard,
                kubectl,
                runner,
                config,
                live: observer.as_ref().map(Observer::live),
                observer: tokio::sync::Mutex::new(observer),
                client,
                reused,
                dry_run,
                timeouts,
                logs_dir,
                owned_dir,
                cancel,
                failed: std::sync::atomic::AtomicBool::new(false),
                pending: tokio::sync::Mutex::new(Vec::new()),
                inflight: tokio::sync::Mutex::new(None),
                heals: std::sync::Mutex::new(Vec::new()),
                traffic_applied: std::sync::atomic::AtomicBool::new(false),
                long_lived_applied: std::sync::atomic::AtomicBool::new(false),
                versions: std::sync::OnceLock::new(),
                journaled,
            }),
        }
    }

    /// A handle on an existing harness cluster without provisioning, for
    /// contract tests and tools: checks the name and, unless dry-running,
    /// that `kubeconfig`'s current context is `kind-<name>`.
    pub fn open(
        runner: Arc<dyn Runner>,
        name: &str,
        config: KindConfig,
        kubeconfig: PathBuf,
        guard: Guard,
        dry_run: bool,
    ) -> Result<Self, KindError> {
        guard.check_cluster(name)?;
        if !dry_run {
            let text = std::fs::read_to_string(&kubeconfig).map_err(|source| KindError::Io {
                action: "reading",
                path: kubeconfig.clone(),
                source,
            })?;
            guard.check_kubeconfig(name, &text)?;
        }
        Ok(Self::from_parts(
            runner,
            name,
            config,
            kubeconfig,
            guard,
            false,
            dry_run,
            None,
            super::options::Timeouts::default(),
            PathBuf::from("reports/kind-logs"),
            None,
            CancellationToken::new(),
            Journaled::default(),
        ))
    }

    /// The same cluster with its nodes on another Docker network than kind's
    /// (`kind`); for the system tests, which must never touch a real kind
    /// network.
    ///
    /// # Panics
    ///
    /// When called on a handle that was already cloned.
    #[must_use]
    pub fn on_network(self, network: &str) -> Self {
        self.unshared(|inner| inner.nodes = inner.nodes.clone().with_network(network))
    }

    /// The same cluster watching `cancel` for the run's interrupt (what
    /// provisioning passes on); an interrupted teardown skips the log export.
    ///
    /// # Panics
    ///
    /// When called on a handle that was already cloned.
    #[must_use]
    pub fn with_interrupt(self, cancel: CancellationToken) -> Self {
        self.unshared(|inner| inner.cancel = cancel)
    }

    fn unshared(self, change: impl FnOnce(&mut Inner)) -> Self {
        let Ok(mut inner) = Arc::try_unwrap(self.inner) else {
            panic!("a KindCluster can only be reconfigured before the handle is shared");
        };
        change(&mut inner);
        KindCluster {
            inner: Arc::new(inner),
        }
    }

    /// The Docker node runtime of this cluster.
    pub fn node_runtime(&self) -> &DockerNodes {
        &self.inner.nodes
    }

    /// kubectl for this cluster.
    pub fn kubectl(&self) -> &Kubectl {
        &self.inner.kubectl
    }

    /// Applies the continuous traffic's Services and DaemonSet (see
    /// [`observe::flows`]) for a scenario with a `max-outage` or `max-loss`
    /// SLO ([`super::addons::traffic_manifest`]).
    async fn apply_traffic(&self) -> Result<(), KindError> {
        self.apply_once(
            &self.inner.traffic_applied,
            super::addons::TRAFFIC_MANIFEST,
            super::addons::traffic_manifest,
        )
        .await
    }

    /// Applies the long-lived connections' Service and DaemonSet (see
    /// [`observe::longlived`]) for a scenario with a `long-lived-tcp` SLO
    /// ([`super::addons::long_lived_manifest`]).
    async fn apply_long_lived(&self) -> Result<(), KindError> {
        self.apply_once(
            &self.inner.long_lived_applied,
            super::addons::LONG_LIVED_MANIFEST,
            super::addons::long_lived_manifest,
        )
        .await
    }

    /// Renders `manifest` into `file` in the cluster's private state
    /// folder, beside its kubeconfig, and applies it there, as the probes'
    /// resources are at provisioning. Once per cluster (`applied`): the
    /// objects stay until the cluster is deleted, and the gate's later
    /// calls (the remediation's check, the recovery's) run while a fault
    /// may hold the API server down.
    async fn apply_once(
        &self,
        applied: &std::sync::atomic::AtomicBool,
        file: &str,
        manifest: fn() -> String,
    ) -> Result<(), KindError> {
        use std::sync::atomic::Ordering;
        if applied.load(Ordering::Relaxed) {
            return Ok(());
        }
        let dir = self
            .inner
            .kubectl
            .kubeconfig()
            .parent()
            .unwrap_or_else(|| Path::new("."));
        let path = dir.join(file);
        if !self.inner.dry_run {
            std::fs::write(&path, manifest()).map_err(|source| KindError::Io {
                action: "writing",
                path: path.clone(),
                source,
            })?;
        }
        self.inner
            .kubectl
            .run(
                ["apply", "-f", &path.display().to_string()],
                KUBECTL_TIMEOUT,
            )
            .await?;
        applied.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Remembers that something failed on this cluster, so its logs are
    /// exported before it is deleted (a dry run fails nothing).
    fn mark_failed(&self, failed: bool) {
        if failed && !self.inner.dry_run {
            self.inner
                .failed
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Runs every pending undo now (each at most once).
    async fn run_pending(&self) -> Result<Vec<String>, KindError> {
        // An injection still under way (its caller was interrupted) ends
        // first, and leaves its undo.
        let inflight = self.inner.inflight.lock().await.take();
        if let Some(task) = inflight
            && let Err(e) = task.await
        {
            tracing::error!(
                "the interrupted injection on {} failed: {e}",
                self.inner.name
            );
        }
        let due: Vec<Undo> = std::mem::take(&mut *self.inner.pending.lock().await);
        let mut done = Vec::new();
        let mut first_err = None;
        for u in due {
            match self.undo(&u).await {
                Ok(s) => done.push(s),
                Err(e) => {
                    tracing::error!("undoing {u:?} failed: {e}");
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(done),
        }
    }

    /// Runs one undo and keeps the address a partition heal recorded.
    async fn undo(&self, undo: &Undo) -> Result<String, KindError> {
        let (text, heal) = faults::undo_recorded(&self.inner.nodes, undo).await?;
        if let Some(h) = heal {
            self.inner
                .heals
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(h);
        }
        Ok(text)
    }

    /// Registers `undo`, and runs it after `after` unless a revert ran it first.
    async fn schedule(&self, undo: Undo, after: Option<Duration>) {
        self.inner.pending.lock().await.push(undo.clone());
        let Some(after) = after else { return };
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let mine = {
                let mut pending = me.inner.pending.lock().await;
                pending
                    .iter()
                    .position(|u| *u == undo)
                    .map(|i| pending.remove(i))
            };
            if let Some(u) = mine {
                match me.undo(&u).await {
                    Ok(s) => tracing::info!("{s}"),
                    Err(e) => tracing::error!("timed undo failed: {e}"),
                }
            }
        });
    }

    async fn unhealthy(&self) -> Result<Vec<Culprit>, KindError> {
        let nodes = self
            .inner
            .kubectl
            .run(["get", "nodes", "-o", "json"], KUBECTL_TIMEOUT)
            .await?;
        let pods = self
            .inner
            .kubectl
            .run(
                ["-n", "kube-system", "get", "pods", "-o", "json"],
                KUBECTL_TIMEOUT,
            )
            .await?;
        if self.inner.dry_run {
            return Ok(Vec::new());
        }
        let mut out = unhealthy_nodes(&nodes.stdout_str())
            .map_err(|e| KindError::parse("kubectl get nodes -o json", e, &nodes.stdout_str()))?;
        out.extend(
            unhealthy_pods(&pods.stdout_str())
                .map_err(|e| KindError::parse("kubectl get pods -o json", e, &pods.stdout_str()))?,
        );
        Ok(out)
    }
}

/// A fresh folder for the run's state: a random name (`cni-chaos-kind-XXXXXX`)
/// under the system temp dir, created atomically with mode 0700, so nobody
/// else can have made it first or read the kubeconfigs in it. It outlives
/// the backend on purpose (a kept cluster's kubeconfig stays in it); the
/// teardown removes it once its clusters' folders are gone.
fn new_state_root() -> Result<PathBuf, KindError> {
    use std::os::unix::fs::PermissionsExt;
    tempfile::Builder::new()
        .prefix("cni-chaos-kind-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map(tempfile::TempDir::keep)
        .map_err(|source| KindError::Io {
            action: "creating a private state folder in",
            path: std::env::temp_dir(),
            source,
        })
}

/// Creates `dir` readable by the owner only (it will hold a cluster-admin
/// kubeconfig); its parent must exist. An existing `dir` is accepted only
/// when it is a real folder (not a link) that only its owner can use.
fn private_dir(dir: &Path) -> Result<(), KindError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let made = std::fs::DirBuilder::new().mode(0o700).create(dir);
    match made {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let meta = std::fs::symlink_metadata(dir).map_err(|source| KindError::Io {
                action: "inspecting",
                path: dir.to_path_buf(),
                source,
            })?;
            if meta.file_type().is_dir() && meta.permissions().mode() & 0o077 == 0 {
                Ok(())
            } else {
                Err(KindError::Unsafe {
                    what: format!("the state folder {}", dir.display()),
                    why: format!(
                        "it exists and is not a private folder (a {} with mode {:o}); it would hold a cluster-admin kubeconfig",
                        if meta.file_type().is_symlink() {
                            "link"
                        } else if meta.is_dir() {
                            "folder"
                        } else {
                            "file"
                        },
                        meta.permissions().mode() & 0o7777
                    ),
                })
            }
        }
        Err(source) => Err(KindError::Io {
            action: "creating",
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Writes `bytes` to a new file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KindError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|source| KindError::Io {
            action: "writing",
            path: path.to_path_buf(),
            source,
        })
}

/// Whether `kind create cluster` failed because cluster `name` exists
/// (kubernetes-sigs/kind pkg/cluster/internal/create/create.go,
/// `alreadyExists`: "node(s) already exist for a cluster with the name").
fn name_taken(err: &crate::exec::ExecError, name: &str) -> bool {
    match err {
        crate::exec::ExecError::Failed { stdout, stderr, .. } => [stdout, stderr].iter().any(|t| {
            t.contains(&format!(
                "node(s) already exist for a cluster with the name \"{name}\""
            ))
        }),
        _ => false,
    }
}

/// Removes the private folder the backend made for a cluster
/// (`<state dir>/<cluster>`), and the state dir when that is then empty.
/// Removes one cluster's state folder. The backend's own state folder
/// stays until the backend is dropped (the next cluster is made in it).
fn remove_state(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
}

async fn kube_client(kubeconfig: &Path, cluster: &str) -> Result<kube::Client, String> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|e| e.to_string())?;
    let opts = kube::config::KubeConfigOptions {
        context: Some(format!("kind-{cluster}")),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &opts)
        .await
        .map_err(|e| e.to_string())?;
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

/// Nodes whose `Ready` condition is not `True`.
pub fn unhealthy_nodes(json: &str) -> Result<Vec<Culprit>, String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let items = v["items"].as_array().ok_or("no items")?;
    Ok(items
        .iter()
        .filter_map(|n| {
            let ready = n["status"]["conditions"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                .map(|c| c["status"] == "True")
                .unwrap_or(false);
            (!ready).then(|| Culprit {
                kind: CulpritKind::Node,
                namespace: None,
                name: n["metadata"]["name"].as_str().unwrap_or("?").to_string(),
                node: None,
                reason: "NotReady".into(),
                restarts: None,
                recovered_after: None,
            })
        })
        .collect())
}

/// Pods that are neither Succeeded nor Running and Ready, with the waiting
/// reason that holds them (`Init:` for init containers).
pub fn unhealthy_pods(json: &str) -> Result<Vec<Culprit>, String> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let items = v["items"].as_array().ok_or("no items")?;
    Ok(items
        .iter()
        .filter_map(|p| {
            let status = &p["status"];
            let phase = status["phase"].as_str().unwrap_or("");
            let ready = status["conditions"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
                .map(|c| c["status"] == "True")
                .unwrap_or(false);
            if phase == "Succeeded" || (phase == "Running" && ready) {
                return None;
            }
            let waiting = |key: &str, prefix: &str| {
                status[key].as_array().and_then(|cs| {
                    cs.iter().find_map(|c| {
                        c["state"]["waiting"]["reason"]
                            .as_str()
                            .map(|r| format!("{prefix}{r}"))
                    })
                })
            };
            let restarts: u64 = status["containerStatuses"]
                .as_array()
                .map(|cs| cs.iter().filter_map(|c| c["restartCount"].as_u64()).sum())
                .unwrap_or(0);
            Some(Culprit {
                kind: CulpritKind::Pod,
                namespace: p["metadata"]["namespace"].as_str().map(str::to_string),
                name: p["metadata"]["name"].as_str().unwrap_or("?").to_string(),
                node: p["spec"]["nodeName"].as_str().map(str::to_string),
                reason: waiting("initContainerStatuses", "Init:")
                    .or_else(|| waiting("containerStatuses", ""))
                    .unwrap_or_else(|| {
                        if phase.is_empty() {
                            "NotReady".into()
                        } else {
                            format!("{phase}, not Ready")
                        }
                    }),
                restarts: u32::try_from(restarts).ok(),
                recovered_after: None,
            })
        })
        .collect())
}

#[async_trait]
impl Cluster for KindCluster {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn kube_client(&self) -> Option<kube::Client> {
        self.inner.client.clone()
    }

    fn versions(&self) -> BTreeMap<String, String> {
        self.inner.versions.get().cloned().unwrap_or_default()
    }

    async fn nodes(&self) -> Result<Vec<NodeInfo>, BackendError> {
        let i = &self.inner;
        if i.dry_run {
            i.nodes.list().await?;
            return Ok(i
                .config
                .node_names(&i.name)
                .into_iter()
                .map(|(name, role)| NodeInfo {
                    name,
                    role,
                    internal_ip: None,
                })
                .collect());
        }
        let mut out = Vec::new();
        for (name, role) in i.nodes.list().await? {
            let Some(role) = role else { continue };
            let state = i.nodes.inspect(&name).await?;
            out.push(NodeInfo {
                internal_ip: state.networks.get(i.nodes.network()).cloned(),
                name,
                role,
            });
        }
        Ok(out)
    }

    async fn count_processes(
        &self,
        node: &NodeInfo,
        comm: &str,
    ) -> Result<Option<usize>, BackendError> {
        let i = &self.inner;
        if i.dry_run {
            return Ok(None);
        }
        Ok(Some(i.nodes.pids(&node.name, comm).await?.len()))
    }

    async fn steady_state(
        &self,
        scenario: &Scenario,
        timeout: Duration,
    ) -> Result<Gate, BackendError> {
        if observe::flows::wanted(scenario) {
            self.apply_traffic()
                .await
                .inspect_err(|_| self.mark_failed(true))?;
        }
        if observe::longlived::wanted(scenario) {
            self.apply_long_lived()
                .await
                .inspect_err(|_| self.mark_failed(true))?;
        }
        if let (Some(client), Some(observer)) = (
            self.inner.client.as_ref(),
            self.inner.observer.lock().await.as_mut(),
        ) {
            let gate = observe::prepare_and_wait_steady(client, observer, scenario, timeout)
                .await
                .inspect_err(|_| self.mark_failed(true))?;
            self.mark_failed(!gate.steady);
            return Ok(gate);
        }
        // No API client (a dry run, or the kubeconfig could not be used):
        // poll with kubectl instead.
        let started = Instant::now();
        loop {
            let unhealthy = self.unhealthy().await?;
            if unhealthy.is_empty() {
                return Ok(Gate {
                    steady: true,
                    waited: started.elapsed(),
                    unhealthy,
                });
            }
            if started.elapsed() >= timeout {
                self.mark_failed(true);
                return Ok(Gate {
                    steady: false,
                    waited: started.elapsed(),
                    unhealthy,
                });
            }
            tokio::time::sleep(STEADY_POLL).await;
        }
    }

    async fn inject(
        &self,
        fault: &Fault,
        node: Option<&NodeInfo>,
    ) -> Result<Evidence, BackendError> {
        // In a task of its own (see `Inner::inflight`): the fault runs to its
        // end and registers its undo even when this call is dropped.
        let (tx, rx) = tokio::sync::oneshot::channel();
        let me = self.clone();
        let (fault, node) = (fault.clone(), node.cloned());
        let task = tokio::spawn(async move {
            let i = &me.inner;
            let result = faults::inject(&i.nodes, Some(&i.kubectl), &fault, node.as_ref()).await;
            let result = match result {
                Ok(injected) => {
                    if let Some(s) = injected.undo {
                        me.schedule(s.undo, s.after).await;
                    }
                    me.mark_failed(!injected.evidence.took_effect);
                    Ok(injected.evidence)
                }
                Err(e) => {
                    me.mark_failed(true);
                    Err(e)
                }
            };
            let _ = tx.send(result);
        });
        *self.inner.inflight.lock().await = Some(task);
        let result = rx.await.map_err(|_| {
            BackendError::other("inject", "the injection task ended without a result")
        })?;
        // Done: nothing for a revert to wait for.
        if let Some(task) = self.inner.inflight.lock().await.take() {
            let _ = task.await;
        }
        Ok(result?)
    }

    async fn remediate(
        &self,
        step: &RemediationStep,
        node: Option<&NodeInfo>,
    ) -> Result<String, BackendError> {
        match step {
            RemediationStep::PodDelete(p) => {
                let done = faults::pod_delete(&self.inner.kubectl, p, node).await?;
                Ok(done.evidence.summary())
            }
            RemediationStep::RemoveFile { path, .. } => {
                let node = node.ok_or_else(|| {
                    BackendError::other("remove-file", "no node to remove the file on")
                })?;
                self.inner.nodes.remove_file(&node.name, path).await?;
                Ok(format!("removed {path} on {}", node.name))
            }
        }
    }

    fn unready(&self, scenario: &Scenario) -> Vec<crate::slo::Culprit> {
        self.inner
            .live
            .as_ref()
            .map(|l| l.with(|tl| observe::unsteady(tl, scenario)))
            .unwrap_or_default()
    }

    async fn observe(
        &self,
        scenario: &Scenario,
        fault_at: Instant,
        since: Instant,
        node: Option<&NodeInfo>,
    ) -> Result<Observation, BackendError> {
        let guard = self.inner.observer.lock().await;
        match (&self.inner.client, guard.as_ref()) {
            (Some(client), Some(observer)) => {
                let mut observation = observe::observe_and_judge(
                    client, self, observer, scenario, fault_at, since, node,
                )
                .await;
                let heals = std::mem::take(
                    &mut *self
                        .inner
                        .heals
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                );
                let tl = observer.timeline();
                let end = tl.offset(Instant::now());
                for heal in &heals {
                    observe::guard_healed_address(&mut observation.verdicts, &tl, end, heal);
                }
                self.mark_failed(
                    observation
                        .verdicts
                        .iter()
                        .any(|v| v.status != SloStatus::Pass),
                );
                Ok(observation)
            }
            _ => Err(BackendError::Unavailable {
                name: "kind".into(),
                why: if self.inner.dry_run {
                    "a dry run has no API server to watch; nothing was judged".into()
                } else {
                    format!(
                        "no Kubernetes client for {} (its kubeconfig could not be used), so nothing can be watched",
                        self.inner.name
                    )
                },
            }),
        }
    }

    async fn rejudge(
        &self,
        scenario: &Scenario,
        fault_at: Instant,
        since: Instant,
        node: Option<&NodeInfo>,
        until: Instant,
    ) -> Option<Vec<crate::slo::SloVerdict>> {
        let guard = self.inner.observer.lock().await;
        guard
            .as_ref()
            .map(|o| observe::rejudge(o, scenario, fault_at, since, node, until))
    }

    async fn pod_interfaces(
        &self,
        namespace: &str,
        name: &str,
        node: &str,
    ) -> Result<Option<Vec<String>>, BackendError> {
        Ok(self
            .inner
            .nodes
            .pod_interfaces(node, namespace, name)
            .await?)
    }

    /// `kubectl exec -n NS NAME -c CONTAINER -- ARGV...` through the
    /// harness's kubeconfig and the cluster's context.
    async fn exec_in_pod(
        &self,
        namespace: &str,
        name: &str,
        container: &str,
        argv: &[&str],
    ) -> Result<crate::backend::PodExec, BackendError> {
        let out = self
            .inner
            .kubectl
            .output(exec_args(namespace, name, container, argv), KUBECTL_TIMEOUT)
            .await?;
        Ok(crate::backend::PodExec {
            status: out.status.code(),
            stdout: out.stdout_str().into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// `docker exec <cluster>-nat-target ARGV...` (the target a
    /// `nat-gateway: true` profile runs; by name, so a reused cluster's
    /// target answers too). Docker's own refusal (no such container, not
    /// running: `Error response from daemon: ...`) is an error, not the
    /// command's answer: nothing ran.
    async fn exec_on_nat_target(
        &self,
        argv: &[&str],
    ) -> Result<crate::backend::PodExec, BackendError> {
        let cmd = super::natgw::target_exec_cmd(&self.inner.name, argv);
        let out = self
            .inner
            .runner
            .output(&cmd)
            .await
            .map_err(KindError::Exec)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.success() && stderr.starts_with("Error response from daemon") {
            return Err(BackendError::other(cmd.to_string(), stderr.trim()));
        }
        Ok(crate::backend::PodExec {
            status: out.status.code(),
            stdout: out.stdout_str().into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// `docker logs --timestamps <cluster>-nat-target`: both of its
    /// streams (the receiver's probes and `httpd` go to stderr).
    async fn nat_target_log(&self) -> Result<String, BackendError> {
        let out = self
            .inner
            .runner
            .run(&super::natgw::target_logs_cmd(&self.inner.name))
            .await
            .map_err(KindError::Exec)?;
        Ok(format!("{}{}", out.stdout_str(), out.stderr_str()))
    }

    async fn diagnose(&self, culprits: &[Culprit], dir: &Path) -> Result<String, BackendError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            BackendError::other(format!("creating {}", dir.display()), e.to_string())
        })?;
        if let Some(client) = &self.inner.client {
            return Ok(observe::diagnose(client, culprits, dir).await);
        }
        let k = &self.inner.kubectl;
        let mut summary = String::new();
        let pods = k
            .output(["get", "pods", "-A", "-o", "wide"], KUBECTL_TIMEOUT)
            .await?;
        let _ = std::fs::write(dir.join("pods.txt"), &pods.stdout);
        for c in culprits.iter().filter(|c| c.kind == CulpritKind::Pod) {
            let ns = c.namespace.clone().unwrap_or_else(|| "kube-system".into());
            let out = k
                .output(
                    ["-n", ns.as_str(), "describe", "pod", c.name.as_str()],
                    KUBECTL_TIMEOUT,
                )
                .await?;
            let _ = std::fs::write(dir.join(format!("describe-{}.txt", c.name)), &out.stdout);
            summary.push_str(&format!("{c}\n"));
        }
        Ok(summary)
    }

    async fn revert(&self, _fault: &Fault, _evidence: &Evidence) -> Result<(), BackendError> {
        let done = self.run_pending().await;
        // Steadiness counts from the end of a revert that did something (or
        // failed trying): its effects (a node reconnected) reach the API
        // after it returns.
        if done.as_ref().map_or(true, |d| !d.is_empty())
            && let Some(o) = self.inner.observer.lock().await.as_ref()
        {
            o.fence(Instant::now());
        }
        let done = done.inspect_err(|_| self.mark_failed(true))?;
        for line in done {
            tracing::info!("revert: {line}");
        }
        Ok(())
    }

    async fn collect_logs(&self, dir: &Path) -> Result<(), BackendError> {
        let i = &self.inner;
        i.runner
            .run(&export_cmd(&i.name, dir, i.timeouts.logs))
            .await?;
        Ok(())
    }

    async fn teardown(&self) -> Result<(), BackendError> {
        let i = &self.inner;
        // Whatever a fault left behind goes first (a partitioned node), in
        // its own bound so the delete always gets its turn.
        match tokio::time::timeout(i.timeouts.undo, self.run_pending()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("undo before teardown failed: {e}"),
            Err(_) => tracing::warn!(
                "the pending undos on {} did not finish within {:?}; tearing down anyway",
                i.name,
                i.timeouts.undo
            ),
        }
        if i.reused {
            eprintln!(
                "cni-chaos: cluster {} came from CHAOS_CLUSTER and is left in place",
                i.name
            );
        } else {
            i.guard.check_cluster(&i.name)?;
            if i.failed.load(std::sync::atomic::Ordering::Relaxed) {
                // FACTS.md: the logs of a cluster that saw a failure go
                // with the report; the delete comes next whatever happens.
                let dir = i.logs_dir.join(&i.name);
                let interrupted = i.cancel.is_cancelled();
                if export_logs(&*i.runner, &i.name, &dir, i.timeouts.logs, interrupted)
                    .await
                    .is_some()
                {
                    eprintln!(
                        "cni-chaos: a scenario failed on {}; its logs are in {}",
                        i.name,
                        dir.display()
                    );
                }
            }
            i.runner
                .run(&delete_cmd(
                    &i.name,
                    i.kubectl.kubeconfig(),
                    i.timeouts.delete,
                ))
                .await?;
            forget(i.journaled.journal.as_ref(), i.journaled.intent);
            remove_external(
                &i.runner,
                i.journaled.journal.as_ref(),
                &i.journaled.external,
            )
            .await;
        }
        if let Some(dir) = &i.owned_dir {
            remove_state(dir);
        }
        Ok(())
    }

    /// Runs the pending undos (a kept cluster is never left partitioned,
    /// frozen or without its CNI config), deletes nothing, keeps the
    /// kubeconfig, and says how to use and delete the cluster.
    async fn keep(&self) -> Result<String, BackendError> {
        let i = &self.inner;
        let undone = tokio::time::timeout(i.timeouts.undo, self.run_pending()).await;
        let undone = match undone {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                return Err(BackendError::other(
                    format!("undoing the faults on kept cluster {}", i.name),
                    e.to_string(),
                ));
            }
            Err(_) => {
                return Err(BackendError::other(
                    format!("undoing the faults on kept cluster {}", i.name),
                    format!("not done within {:?}", i.timeouts.undo),
                ));
            }
        };
        for line in &undone {
            tracing::info!("undo before keeping {}: {line}", i.name);
        }
        let kc = i.kubectl.kubeconfig().display();
        if i.reused {
            if let Some(dir) = &i.owned_dir {
                remove_state(dir);
            }
            return Ok(format!(
                "cluster {} came from CHAOS_CLUSTER and is left in place",
                i.name
            ));
        }
        if let Some(journal) = &i.journaled.journal {
            // Listed by `clean`, deleted only with --delete-kept.
            journal
                .intent(Resource::Kept {
                    name: i.name.clone(),
                })
                .map_err(|e| BackendError::other("undo journal", e.to_string()))?;
            forget(Some(journal), i.journaled.intent);
        }
        // The NAT gateway's network and target stay with the cluster (and
        // journaled: `clean --delete-kept` removes them after it).
        let mut made: Vec<&External> = i.journaled.external.iter().collect();
        made.sort_by_key(|e| matches!(e.resource, Resource::DockerNetwork { .. }));
        let external: String = made
            .iter()
            .filter_map(|e| match &e.resource {
                Resource::DockerContainer { name, .. } => {
                    Some(format!(", then `docker rm --force {name}`"))
                }
                Resource::DockerNetwork { name, .. } => {
                    Some(format!(", then `docker network rm {name}`"))
                }
                _ => None,
            })
            .collect();
        Ok(format!(
            "kept kind cluster {name}; kubeconfig {kc} (context {ctx}): `kubectl --kubeconfig {kc} --context {ctx} get pods -A`; delete it with `kind delete cluster --name {name} --kubeconfig {kc}`{external}{rm}",
            name = i.name,
            ctx = i.kubectl.context(),
            rm = i
                .owned_dir
                .as_ref()
                .map(|d| format!(", then `rm -r {}`", d.display()))
                .unwrap_or_default(),
        ))
    }

    fn teardown_budget(&self) -> Duration {
        self.inner.timeouts.teardown()
    }
}

/// `kind export logs <dir> --name <cluster>`.
fn export_cmd(cluster: &str, dir: &Path, timeout: Duration) -> Command {
    Command::new("kind")
        .args(["export", "logs"])
        .arg(dir.display().to_string())
        .args(["--name", cluster])
        .timeout(timeout)
}

/// `kind delete cluster --name <cluster> --kubeconfig <kubeconfig>` (the
/// private kubeconfig, so kind never edits the user's).
fn delete_cmd(cluster: &str, kubeconfig: &Path, timeout: Duration) -> Command {
    Command::new("kind")
        .args(["delete", "cluster", "--name", cluster, "--kubeconfig"])
        .arg(kubeconfig.display().to_string())
        .timeout(timeout)
}

/// Exports a cluster's logs to `dir` before it is deleted: skipped after
/// an interrupt (the user wants out), bounded by `timeout`, and never an
/// error (the delete comes next whatever happens). Where they went, if
/// anywhere.
async fn export_logs(
    runner: &dyn Runner,
    cluster: &str,
    dir: &Path,
    timeout: Duration,
    interrupted: bool,
) -> Option<PathBuf> {
    if interrupted {
        eprintln!(
            "cni-chaos: the run was interrupted; not exporting the logs of {cluster} before deleting it"
        );
        return None;
    }
    match runner.run(&export_cmd(cluster, dir, timeout)).await {
        Ok(_) => Some(dir.to_path_buf()),
        Err(e) => {
            tracing::warn!("exporting the logs of {cluster} failed: {e}");
            None
        }
    }
}

/// kubectl's arguments for running `argv` in a pod's container.
pub fn exec_args(namespace: &str, name: &str, container: &str, argv: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["exec", "-n", namespace, name, "-c", container, "--"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(argv.iter().map(|s| s.to_string()));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_in_pod_is_kubectl_exec_with_the_container_and_argv_after_dashes() {
        assert_eq!(
            exec_args(
                "kube-system",
                "vpc-nat-gw-gw1-0",
                "vpc-nat-gw",
                &["iptables-save", "-t", "nat"]
            ),
            [
                "exec",
                "-n",
                "kube-system",
                "vpc-nat-gw-gw1-0",
                "-c",
                "vpc-nat-gw",
                "--",
                "iptables-save",
                "-t",
                "nat"
            ]
        );
    }

    #[test]
    fn pod_health() {
        let json = serde_json::json!({"items": [
            {"metadata": {"name": "ok", "namespace": "kube-system"}, "spec": {"nodeName": "n"},
             "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}},
            {"metadata": {"name": "kube-multus-ds-x", "namespace": "kube-system"}, "spec": {"nodeName": "w"},
             "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}],
                        "initContainerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
                        "containerStatuses": [{"restartCount": 0, "state": {"waiting": {"reason": "PodInitializing"}}}]}},
            {"metadata": {"name": "done", "namespace": "kube-system"}, "status": {"phase": "Succeeded"}}
        ]})
        .to_string();
        let bad = unhealthy_pods(&json).unwrap();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].name, "kube-multus-ds-x");
        assert_eq!(bad[0].reason, "Init:CrashLoopBackOff");
        assert_eq!(bad[0].node.as_deref(), Some("w"));
        assert!(unhealthy_pods("{}").is_err());
    }

    #[test]
    fn the_state_root_is_fresh_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let a = new_state_root().unwrap();
        let b = new_state_root().unwrap();
        assert_ne!(a, b, "random names");
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("cni-chaos-kind-"), "{name}");
        assert!(!name.contains(&std::process::id().to_string()), "{name}");
        for dir in [&a, &b] {
            let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
            std::fs::remove_dir(dir).unwrap();
        }
    }

    #[test]
    fn a_state_folder_someone_else_could_use_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let mine = root.path().join("chaos-a");
        private_dir(&mine).unwrap();
        let mode = std::fs::metadata(&mine).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        private_dir(&mine).unwrap();

        let open = root.path().join("chaos-b");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = private_dir(&open).unwrap_err().to_string();
        assert!(
            err.contains("not a private folder (a folder with mode 755)"),
            "{err}"
        );

        let link = root.path().join("chaos-c");
        std::os::unix::fs::symlink(&mine, &link).unwrap();
        let err = private_dir(&link).unwrap_err().to_string();
        assert!(err.contains("a link"), "{err}");

        // Its parent is never made on the way.
        let deep = root.path().join("missing").join("chaos-d");
        assert!(matches!(private_dir(&deep), Err(KindError::Io { .. })));
    }

    #[test]
    fn node_health() {
        let json = serde_json::json!({"items": [
            {"metadata": {"name": "a"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            {"metadata": {"name": "b"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
        ]})
        .to_string();
        let bad = unhealthy_nodes(&json).unwrap();
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].name, "b");
    }
}
