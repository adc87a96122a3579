//! What a journal holds: [`Record`]s about [`Resource`]s. Undoing a
//! resource removes its records (completion first, intent last), so what
//! is on disk is what is still pending.

use serde::{Deserialize, Serialize};

use super::Owner;
use crate::backend::kind::Undo;

/// One journal file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Record {
    /// The first record of every run: whose it is, and where its
    /// containers live.
    Run {
        /// The run's ID (also its folder's name).
        run_id: String,
        /// The process that writes it.
        owner: Owner,
        /// `DOCKER_HOST` as the run saw it (`None`: Docker's default).
        docker_host: Option<String>,
    },
    /// About to make `resource`; written before the action runs.
    Intent {
        /// The record's sequence number, which later records refer to.
        id: u64,
        /// What is about to exist.
        resource: Resource,
    },
    /// The action of intent `id` finished.
    Done {
        /// The intent.
        id: u64,
        /// The containers it made (a cluster's nodes), by name and ID.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        containers: Vec<ContainerRef>,
    },
}

/// Something the harness makes and must take away again. Adding a kind of
/// resource means adding a variant here and its replay in
/// [`crate::backend::kind::clean`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Resource {
    /// A kind cluster this run creates: deleted by `clean` (its nodes
    /// confirmed by kind's cluster label and, once known, their IDs).
    Cluster {
        /// Its name.
        name: String,
    },
    /// A cluster the run kept (`CHAOS_KEEP_CLUSTER`): `clean` lists it,
    /// and deletes it only when asked.
    Kept {
        /// Its name.
        name: String,
    },
    /// A fault on a node container, with what undoes it.
    NodeFault {
        /// The cluster.
        cluster: String,
        /// The node container's name.
        node: String,
        /// Its full container ID: `clean` touches it only while the
        /// container of that name is still this one.
        container_id: String,
        /// Its `State.StartedAt` when the fault was injected: the node's
        /// boot identity. A process undo (SIGCONT, kill a frozen process)
        /// is void once the node has restarted. (Every container shares
        /// the host's kernel, so `/proc/sys/kernel/random/boot_id` cannot
        /// tell a node restart.)
        started_at: String,
        /// The cluster network (partition undos reconnect to it).
        network: String,
        /// Where the node's Open vSwitch commands run.
        ovs: OvsPlace,
        /// What undoes the fault; it tolerates a fault that never happened.
        undo: Undo,
    },
    /// A Docker network of the harness's own beside cluster `cluster`
    /// (the VPC NAT gateway's external network): `clean` removes it after
    /// the cluster, while it carries the harness's labels for `cluster`.
    DockerNetwork {
        /// The cluster it belongs to.
        cluster: String,
        /// Its name.
        name: String,
    },
    /// A container of the harness's own beside cluster `cluster` (the
    /// NAT gateway's target): `clean` removes it while it carries the
    /// harness's labels for `cluster`.
    DockerContainer {
        /// The cluster it belongs to.
        cluster: String,
        /// Its name.
        name: String,
    },
    /// A child process of the runner (and its process group).
    Child {
        /// Its PID, which is also its process group's ID.
        pid: u32,
        /// Its `starttime`, when it could be read.
        start_time: Option<u64>,
        /// Its command line.
        command: String,
    },
}

impl Resource {
    /// One line for the console.
    pub fn describe(&self) -> String {
        match self {
            Resource::Cluster { name } => format!("kind cluster {name}"),
            Resource::Kept { name } => format!("kept kind cluster {name}"),
            Resource::NodeFault {
                cluster,
                node,
                undo,
                ..
            } => format!("{} on node {node} of {cluster}", undo.describe()),
            Resource::DockerNetwork { cluster, name } => {
                format!("Docker network {name} of kind cluster {cluster}")
            }
            Resource::DockerContainer { cluster, name } => {
                format!("container {name} of kind cluster {cluster}")
            }
            Resource::Child { pid, command, .. } => {
                format!("child process {pid} (`{command}`) and its process group")
            }
        }
    }
}

/// Where a node's Open vSwitch commands run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OvsPlace {
    /// In the node's `ovs-ovn` pod (kind with Kube-OVN).
    OvsOvnPod,
    /// In the node container itself (the system tests' nodes).
    NodeContainer,
}

/// A container by name and ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ContainerRef {
    /// Its name.
    pub name: String,
    /// Its full ID.
    pub id: String,
}
