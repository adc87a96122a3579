//! The kind backend: real kind clusters with pinned Kube-OVN and Multus,
//! Docker as the node runtime, fault injectors that prove their effect, and a
//! safety guard that keeps the harness off clusters it did not create.

mod addons;
mod clean;
mod cluster;
mod config;
mod docker;
mod error;
mod faults;
mod kubectl;
mod natgw;
mod options;
mod ovs;
mod prereq;
mod pull;
mod safety;
mod sandbox;
mod sha256;
mod versions;

pub use addons::{
    Addons, DIAGNOSE_STEP, IMAGE_ARCHIVE, INSTALL_SCRIPT, INSTALL_SCRIPT_RUN, ImageStore,
    KUBECTL_KO, LONG_LIVED_MANIFEST, PINGER_EXTERNAL_ARGS, PROBE_MANIFEST, TRAFFIC_MANIFEST,
    parse_driver_status, patch_multus_manifest, probe_manifest, traffic_manifest, without_diagnose,
    without_pinger_external,
};
pub use clean::{CleanOptions, CleanReport, clean, cluster_containers};
pub use cluster::{KindBackend, KindCluster};
pub use config::{CONFIG_DIR, IpFamily, KindConfig, KindNode, Networking};
pub use docker::{
    ADDRESS_IN_USE, DOCKER_TIMEOUT, DockerNodes, FIXED_IP_REFUSED, KIND_NETWORK, NodeState,
    ProcStat, ProcessId, Reconnected, Still, inspect_json, parse_inspect, parse_stat,
};
pub use error::{KindError, PreflightCheck, Unmet};
pub use faults::{
    BUSY_SHIM_ID, CNI_CONF_DIR, FrozenMultus, INTEGRATION_BRIDGE, Injected, MULTUS_CONF,
    MULTUS_SHIM, STALE_POD_NAMESPACE, STALE_PREFIX, Scheduled, Undo, cni_config, freeze_multus,
    inject, kill_process, pod_delete, reboot, resolve_cni_file, stop_process, undo, undo_recorded,
};
pub use kubectl::{KUBECTL_TIMEOUT, Kubectl};
pub use natgw::{
    DOCKER_IP_RANGE, EXCLUDE_IPS, EXTERNAL_CIDR, EXTERNAL_GATEWAY, EXTERNAL_NIC,
    NAT_CLIENT_MANIFEST, NAT_CLUSTER_LABEL, NAT_GATEWAY_MANIFEST, NAT_ROLE_LABEL,
    NAT_RULES_MANIFEST, NatGateway, PATH_WWW, TARGET_IP, TARGET_PORT, client_manifest,
    gateway_manifest, network_create_cmd, network_name, network_rm_cmd, rules_manifest,
    target_exec_cmd, target_logs_cmd, target_name, target_rm_cmd, target_run_cmd, target_script,
};
pub use options::{KindOptions, NameSource, Timeouts};
pub use ovs::{
    InterfaceState, NodeOvs, OVS_CONTAINER, OVS_NAMESPACE, OVS_RUN_DIR, OVS_SELECTOR, OvsCommands,
    PodPort, daemon_pid, parse_interface_state, pidfile,
};
pub use prereq::{
    Detected, KERNEL_FILES, MIN_INOTIFY_INSTANCES, MIN_INOTIFY_WATCHES, Preflight, ToolVersions,
    check as preflight, disk_needed, docker_reachable, kind_on_path,
};
pub use pull::{PinnedImage, pinned_images, pull_all};
pub use safety::{CLUSTER_LABEL, Guard, NAME_PREFIX, ROLE_LABEL, new_cluster_name};
pub use sandbox::{parse_links, sandbox_netns};
pub use sha256::hex_digest;
pub use versions::{
    KindPins, KubeOvnPins, KubernetesPins, MATRIX_FILE, MultusPins, PinnedUrl, ShimInstall,
    VersionMatrix, VersionSet, is_sha256, parse_semver,
};
