//! The twin's cluster model: kind node containers running Kube-OVN and
//! Multus, simulated from mechanisms on a virtual millisecond clock.
//!
//! Nothing here scripts an outcome. A hard node restart kills processes
//! and wipes `/run` (a graceful one first lets every program run its clean
//! exit, and Multus' deletes `00-multus.conf`); the kubelet re-creates
//! sandboxes through the first CNI config; after the crash
//! `00-multus.conf` survived, so the runtime runs `multus-shim`,
//! which waits for a daemon socket that is gone and keeps the binary busy;
//! the Multus init container's `cp` meets that busy file or not, depending
//! on the version profile. Whether the incident happens follows from those
//! rules (FACTS.md, multus-cni #1221).
//!
//! Deleting `ovs-ovn` (the seed report's fix) is modelled, but it does not
//! break the deadlock in the model: nothing ties OVS to the shim, the Multus
//! socket or the init container's `cp`. The report's recovery must come
//! from something the model leaves out or from the other steps reporters
//! took (deleting the shim and the Multus pod), see `twin/tests/model_incident.rs`.

mod driver;
mod error;
mod kubelet;
mod longlived;
mod natgw;
mod node;
mod ops;
mod ovn;
mod pinger;
mod profile;
mod programs;
mod render;
mod rng;
pub mod serve;
mod shutdown;
mod sink;
mod spec;
mod traffic;
mod world;

pub use driver::Model;
pub use error::ModelError;
pub use kubelet::{
    BACKOFF_INITIAL, BACKOFF_MAX, BACKOFF_RESET, CONTAINER_START, RUNTIME_REQUEST_TIMEOUT,
    SHIM_API_READY_TIMEOUT, SHIM_POLL, SYNC_RETRY,
};
pub use natgw::{
    ExecOutput, NAT_CLIENT, NAT_CLIENT_CONTAINER, NAT_DNAT_EXTERNAL_PORT, NAT_DNAT_INTERNAL_IP,
    NAT_DNAT_INTERNAL_PORT, NAT_DNAT_NAME, NAT_DNAT_PROTOCOL, NAT_DOCKER_IP_RANGE, NAT_EIP,
    NAT_EIP_NAME, NAT_EXCLUDE_IPS, NAT_EXTERNAL_CIDR, NAT_EXTERNAL_GATEWAY, NAT_EXTERNAL_PREFIX,
    NAT_EXTERNAL_SUBNET, NAT_GW_CONTAINER, NAT_GW_INIT_ANNOTATION, NAT_GW_NAME, NAT_LAN_IP,
    NAT_PATH_MARKER, NAT_PATH_TIMEOUT_S, NAT_SENDER_CONTAINER, NAT_SNAT_CIDR, NAT_SNAT_NAME,
    NAT_TARGET_HOSTNAME, NAT_TARGET_IP, NAT_TARGET_PORT, NAT_TARGET_TRAFFIC_PORT, NAT_VPC,
    NAT_VPC_SUBNET, nat_path_request, nat_path_server_script,
};
pub use node::{
    CNI_BIN, CNI_DIR, CNI_SERVER_SOCK, File, MULTUS_CONF, MULTUS_SOCK, OVSDB_SOCK, SHIM,
};
pub use ops::{NodeInfo, ProcessInfo, Signal};
pub use pinger::PINGER_INTERVAL;
pub use profile::{ConflistInstall, ShimInstall, VersionProfile, shim_install_for};
pub use programs::KUBE_OVN_CONFLIST;
pub use rng::{Ms, Rng};
pub use shutdown::STOP_TIMEOUT;
pub use sink::{Output, Recorder, Sink};
pub use spec::{
    Attachment, IP_ADDRESS_ANNOTATION, LOGICAL_SWITCH_ANNOTATION, LONG_LIVED_LABEL,
    NETWORKS_ANNOTATION, PROBE_IMAGE, PROBE_LABEL, PROBE_TARGET_LABEL, ProbeKind, TRAFFIC_LABEL,
};
pub use world::{ModelConfig, World};
