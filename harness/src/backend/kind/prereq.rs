//! The preflight: what this machine needs before the kind backend makes a
//! cluster. Docker (with a reachable daemon), kind, kubectl and curl with
//! their versions; free disk space under Docker's data root; the host
//! kernel's inotify limits. Like kind's config validation it collects every
//! problem, each a located [`Unmet`] with its fix, instead of stopping at
//! the first; what it cannot read is a warning, never a silent pass.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::KindError;
use super::error::{PreflightCheck, Unmet};
use super::versions::parse_semver;
use crate::exec::{Command, ExecError, Output, Runner};

/// Oldest kubectl the harness drives (`kubectl wait --for=jsonpath`, `-o name`).
pub const MIN_KUBECTL: (u64, u64, u64) = (1, 27, 0);
/// How long a version probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// `fs.inotify.max_user_watches` kind's known-issues page asks for ("Pod
/// errors due to too many open files": `sysctl fs.inotify.max_user_watches=524288`).
/// kind nodes are containers on the host's kernel, so the host's value is
/// the one every node (and each node's kubelet and containerd) shares.
pub const MIN_INOTIFY_WATCHES: u64 = 524_288;
/// `fs.inotify.max_user_instances`, from the same kind known issue
/// (`sysctl fs.inotify.max_user_instances=512`).
pub const MIN_INOTIFY_INSTANCES: u64 = 512;
/// What the inotify check reads from this host's kernel: its release (to
/// compare with the Docker daemon's kernel) and the two limits.
pub const KERNEL_FILES: [&str; 3] = [
    "/proc/sys/kernel/osrelease",
    "/proc/sys/fs/inotify/max_user_watches",
    "/proc/sys/fs/inotify/max_user_instances",
];

const GIB: u64 = 1 << 30;

/// Free space under Docker's data root that a cluster of `nodes` nodes needs,
/// in bytes. An estimate from the images one cell uses, rounded up:
///
/// - the node image, `kindest/node` (about 1 GB compressed), unpacked once in
///   Docker's store: 3 GiB;
/// - the add-on images pulled on the host (Kube-OVN's, about 0.4 GB
///   compressed and 1.2 GB unpacked; Multus' thick image, about 0.1 GB and
///   0.3 GB; the probes' busybox, a few MB): 1.5 GiB;
/// - the same images loaded into every node (`kind load` writes the image
///   archive into the node's containerd content store and unpacks it into a
///   snapshot, both on the node's `/var` volume, which lives under Docker's
///   data root): 3 GiB per node;
/// - room for etcd, container logs and `kind export logs`: 2 GiB.
///
/// So 6.5 GiB plus 3 GiB a node: 15.5 GiB for the default 1 + 2 cluster,
/// 9.5 GiB for a single node. Each further cell's Kube-OVN and Multus images
/// add to what Docker keeps; the figure is per cluster, not per run.
pub fn disk_needed(nodes: usize) -> u64 {
    const FIXED: u64 = 3 * GIB + 3 * GIB / 2 + 2 * GIB;
    FIXED + 3 * GIB * nodes.max(1) as u64
}

/// The tool versions found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ToolVersions {
    /// Docker server (daemon) version.
    pub docker: String,
    /// kind CLI version (`v0.31.0`).
    pub kind: String,
    /// kubectl client version (`v1.35.0`).
    pub kubectl: String,
    /// curl version.
    pub curl: String,
}

/// What a preflight that found no problem returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preflight {
    /// The tools' versions.
    pub tools: ToolVersions,
    /// What could not be checked from this host (a remote Docker daemon, no
    /// `/proc`), each saying what to check by hand. Also logged.
    pub warnings: Vec<String>,
}

/// What `auto` found on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detected {
    /// Where `kind` is, if on PATH.
    pub kind: Option<PathBuf>,
    /// The Docker daemon's version, or why it could not be reached.
    pub docker: Result<String, String>,
}

impl Detected {
    /// Whether the kind backend can run.
    pub fn kind_usable(&self) -> bool {
        self.kind.is_some() && self.docker.is_ok()
    }

    /// One line saying what was found.
    pub fn summary(&self) -> String {
        format!(
            "kind {}; Docker daemon {}",
            self.kind
                .as_ref()
                .map_or("not found on PATH".to_string(), |p| format!(
                    "at {}",
                    p.display()
                )),
            match &self.docker {
                Ok(v) => format!("{v} reachable"),
                Err(e) => format!("not reachable ({e})"),
            }
        )
    }
}

/// The first executable `name` on `PATH` (no program is run).
pub fn kind_on_path(path_var: Option<&str>) -> Option<PathBuf> {
    find_on_path("kind", path_var)
}

fn find_on_path(name: &str, path_var: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path_var = path_var?;
    std::env::split_paths(path_var)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
        .filter(|p| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// The Docker daemon's version, or why it does not answer
/// (`docker version --format {{.Server.Version}}`).
pub async fn docker_reachable(runner: &dyn Runner) -> Result<String, String> {
    let cmd = docker_probe();
    match runner.run(&cmd).await {
        Ok(out) => {
            let v = out.stdout_str().trim().to_string();
            if v.is_empty() {
                Err("docker printed no server version".into())
            } else {
                Ok(v)
            }
        }
        Err(ExecError::Spawn { .. }) => Err("the docker CLI is not installed".into()),
        Err(ExecError::Failed { stderr, .. }) => Err(first_line(&stderr)),
        Err(e) => Err(first_line(&e.to_string())),
    }
}

fn docker_probe() -> Command {
    Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .timeout(PROBE_TIMEOUT)
}

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_string()
}

/// Why a probe did not answer, in one line: "not found on PATH", the
/// failed command and the first line of what it said, or the timeout.
fn why(e: &ExecError) -> String {
    match e {
        ExecError::Spawn { .. } => "not found on PATH".into(),
        ExecError::Failed {
            command,
            stdout,
            stderr,
            ..
        } => {
            let said = if stderr.trim().is_empty() {
                stdout
            } else {
                stderr
            };
            format!("`{command}` failed: {}", first_line(said))
        }
        other => first_line(&other.to_string()),
    }
}

/// Problems and warnings, collected in check order.
#[derive(Default)]
struct Findings {
    problems: Vec<Unmet>,
    warnings: Vec<String>,
}

impl Findings {
    fn unmet(&mut self, check: PreflightCheck, problem: String, fix: impl Into<String>) {
        self.problems.push(Unmet {
            check,
            problem,
            fix: fix.into(),
        });
    }

    fn warn(&mut self, warning: String) {
        tracing::warn!("preflight: {warning}");
        self.warnings.push(warning);
    }
}

/// Runs `cmd` through the runner with the probe timeout; a non-zero exit
/// is an error carrying the command line and its output.
async fn probe(runner: &dyn Runner, cmd: Command) -> Result<Output, ExecError> {
    runner.run(&cmd.timeout(PROBE_TIMEOUT)).await
}

/// Runs `cmd` like [`probe`]; when it does not answer, records the warning
/// `warning(why)` and returns `None`.
async fn probe_or_warn(
    runner: &dyn Runner,
    cmd: Command,
    f: &mut Findings,
    warning: impl FnOnce(String) -> String,
) -> Option<Output> {
    match probe(runner, cmd).await {
        Ok(o) => Some(o),
        Err(e) => {
            f.warn(warning(why(&e)));
            None
        }
    }
}

/// Checks `found` (as printed by `check`'s tool) against `min`.
fn version_problem(
    found: &str,
    text: &str,
    min: (u64, u64, u64),
    min_text: &str,
) -> Option<String> {
    match parse_semver(found) {
        Some(have) if have >= min => None,
        Some(_) => Some(format!("found {found}, need {min_text} or newer")),
        None => Some(format!("cannot read its version from {:?}", text.trim())),
    }
}

/// The preflight, run before any cluster is made (and planned in a dry run):
/// docker, kind (at least `min_kind`, from the version matrix), kubectl,
/// curl, free disk under Docker's data root for a cluster of `nodes` nodes,
/// and the inotify limits. Every problem is reported together in one
/// [`KindError::Preflight`]. In a dry run the probes are planned like every
/// other command and their (empty) answers accepted.
pub async fn check(
    runner: &dyn Runner,
    min_kind: &str,
    nodes: usize,
    dry_run: bool,
) -> Result<Preflight, KindError> {
    let mut f = Findings::default();
    let mut v = ToolVersions::default();

    let docker_fix = "install Docker (https://docs.docker.com/engine/install/), start the daemon, and check `docker version` shows a Server section (or set DOCKER_HOST)";
    let docker_up = match docker_reachable(runner).await {
        Ok(s) => {
            v.docker = s;
            true
        }
        Err(_) if dry_run => true,
        Err(e) => {
            f.unmet(
                PreflightCheck::Docker,
                format!("the daemon does not answer: {e}"),
                docker_fix,
            );
            false
        }
    };

    let kind_fix = format!(
        "install kind {min_kind} or newer (https://kind.sigs.k8s.io/docs/user/quick-start/#installation, e.g. `go install sigs.k8s.io/kind@{min_kind}`)"
    );
    match probe(runner, Command::new("kind").arg("version")).await {
        Ok(o) => {
            // "kind v0.31.0 go1.24.2 linux/amd64"
            let text = o.stdout_str();
            v.kind = text.split_whitespace().nth(1).unwrap_or("").to_string();
            let problem = match parse_semver(min_kind) {
                Some(min) => version_problem(&v.kind, &text, min, min_kind),
                None => Some(format!(
                    "the version matrix's kind.min-version {min_kind:?} is not a version"
                )),
            };
            if let (Some(problem), false) = (problem, dry_run) {
                f.unmet(PreflightCheck::Kind, problem, &kind_fix);
            }
        }
        Err(e) => f.unmet(PreflightCheck::Kind, why(&e), &kind_fix),
    }

    let kubectl_fix = "install kubectl 1.27 or newer (https://kubernetes.io/docs/tasks/tools/)";
    match probe(
        runner,
        Command::new("kubectl").args(["version", "--client", "-o", "json"]),
    )
    .await
    {
        Ok(o) => {
            let text = o.stdout_str();
            v.kubectl = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|j| {
                    j["clientVersion"]["gitVersion"]
                        .as_str()
                        .map(str::to_string)
                })
                .unwrap_or_default();
            if let (Some(problem), false) = (
                version_problem(&v.kubectl, &text, MIN_KUBECTL, "v1.27.0"),
                dry_run,
            ) {
                f.unmet(PreflightCheck::Kubectl, problem, kubectl_fix);
            }
        }
        Err(e) => f.unmet(PreflightCheck::Kubectl, why(&e), kubectl_fix),
    }

    let curl_fix = "install curl (it downloads the pinned Kube-OVN and Multus manifests)";
    match probe(runner, Command::new("curl").arg("--version")).await {
        Ok(o) => {
            v.curl = o
                .stdout_str()
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
        }
        Err(e) => f.unmet(PreflightCheck::Curl, why(&e), curl_fix),
    }

    host_checks(runner, docker_up, nodes, dry_run, &mut f).await;

    if f.problems.is_empty() {
        Ok(Preflight {
            tools: v,
            warnings: f.warnings,
        })
    } else {
        Err(KindError::Preflight {
            problems: f.problems,
        })
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / GIB as f64)
}

/// The checks of the machine the nodes run on: `docker info` for the
/// daemon's kernel and data root (skipped without a daemon: the docker
/// problem already says so), this host's kernel release and inotify limits
/// (`cat` of [`KERNEL_FILES`]), then the free space under the data root.
/// When the daemon runs on another kernel than this host (a remote
/// `DOCKER_HOST`, Docker Desktop's VM), neither `df` nor `/proc` here says
/// anything about the nodes: one warning says what to check there.
async fn host_checks(
    runner: &dyn Runner,
    docker_up: bool,
    nodes: usize,
    dry_run: bool,
    f: &mut Findings,
) {
    let need = disk_needed(nodes);
    let disk_by_hand = format!(
        "check by hand that Docker's data root has {} free for a {nodes}-node cluster",
        gib(need)
    );
    let inotify_by_hand = format!(
        "check on the machine that runs the Docker daemon that fs.inotify.max_user_watches >= {MIN_INOTIFY_WATCHES} and fs.inotify.max_user_instances >= {MIN_INOTIFY_INSTANCES} (kind's known issue \"too many open files\")"
    );
    let daemon = if docker_up {
        probe_or_warn(
            runner,
            Command::new("docker").args(["info", "--format", DOCKER_INFO_FORMAT]),
            f,
            |why| format!("cannot read Docker's data root ({why}); {disk_by_hand}"),
        )
        .await
    } else {
        None
    };
    // "6.8.0-60-generic /var/lib/docker": a kernel release has no spaces.
    let daemon = daemon.map(|o| {
        let text = o.stdout_str().trim().to_string();
        let (kernel, root) = text.split_once(' ').unwrap_or((&text, ""));
        (kernel.to_string(), root.trim().to_string())
    });
    let host = probe_or_warn(runner, Command::new("cat").args(KERNEL_FILES), f, |why| {
        format!(
            "cannot read this host's kernel release and inotify limits ({why}); {inotify_by_hand}"
        )
    })
    .await
    .map(|o| o.stdout_str().to_string());
    let here = host
        .as_deref()
        .and_then(|t| t.lines().next())
        .unwrap_or("")
        .trim();
    if let Some((there, _)) = daemon
        .as_ref()
        .filter(|(k, _)| !k.is_empty() && !here.is_empty() && k != here)
    {
        f.warn(format!(
            "the Docker daemon runs on kernel {there} and this host on {here} (a remote DOCKER_HOST or a VM such as Docker Desktop's), so neither this host's disk nor its /proc is the nodes'; {disk_by_hand}, and {inotify_by_hand}"
        ));
        return;
    }
    if let Some(text) = &host {
        judge_inotify(text, dry_run, &inotify_by_hand, f);
    }
    let Some((_, root)) = daemon else { return };
    let root = match (root.is_empty(), dry_run) {
        (false, _) => root,
        // A dry run plans the measurement of a root it cannot know.
        (true, true) => "<DockerRootDir from docker info>".to_string(),
        (true, false) => {
            f.warn(format!(
                "`docker info` printed no DockerRootDir; {disk_by_hand}"
            ));
            return;
        }
    };
    let Some(out) = probe_or_warn(runner, Command::new("df").args(["-Pk", &root]), f, |why| {
        format!("Docker's data root {root} is not readable from this host ({why}); {disk_by_hand}")
    })
    .await
    else {
        return;
    };
    // POSIX format: a header, then "fs 1024-blocks used available capacity mount".
    let text = out.stdout_str();
    let free = text
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|k| k.parse::<u64>().ok())
        .map(|k| k * 1024);
    match free {
        Some(free) if free < need => f.unmet(
            PreflightCheck::Disk,
            format!(
                "{} free under Docker's data root {root}, need {} for a {nodes}-node cluster (the node image, the Kube-OVN, Multus and busybox images, and their copies loaded into every node)",
                gib(free),
                gib(need)
            ),
            "free space there (`docker system prune -a` removes stopped containers and unused images) or move Docker's data-root to a larger disk",
        ),
        Some(_) => {}
        None if dry_run => {}
        None => f.warn(format!(
            "cannot read the free space from `df -Pk {root}` ({:?}); {disk_by_hand}",
            first_line(&text)
        )),
    }
}

/// `docker info`'s answer: the daemon's kernel release and data root.
const DOCKER_INFO_FORMAT: &str = "{{.KernelVersion}} {{.DockerRootDir}}";

/// The inotify limits in `text` (the `cat` of [`KERNEL_FILES`]) against
/// kind's known-issue minimums; each short limit is its own problem, one
/// that cannot be read a warning.
fn judge_inotify(text: &str, dry_run: bool, by_hand: &str, f: &mut Findings) {
    let values: Vec<&str> = text.lines().skip(1).map(str::trim).collect();
    if values.is_empty() && dry_run {
        return;
    }
    let wanted = [
        ("fs.inotify.max_user_watches", MIN_INOTIFY_WATCHES),
        ("fs.inotify.max_user_instances", MIN_INOTIFY_INSTANCES),
    ];
    for (i, (key, min)) in wanted.into_iter().enumerate() {
        let value = values.get(i).copied().unwrap_or("");
        match value.parse::<u64>() {
            Ok(have) if have >= min => {}
            Ok(have) => f.unmet(
                PreflightCheck::Inotify,
                format!("{key} is {have}, multi-node kind clusters need {min} or more (kind's known issue \"too many open files\"; every node shares the host's kernel)"),
                format!("run `sudo sysctl -w {key}={min}` (and add `{key} = {min}` to /etc/sysctl.d/99-kind.conf to keep it after a reboot)"),
            ),
            Err(_) => f.warn(format!(
                "cannot read {key} from {} ({value:?}); {by_hand}",
                KERNEL_FILES[i + 1],
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_lookup() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(kind_on_path(Some(dir.path().to_str().unwrap())), None);
        let kind = dir.path().join("kind");
        std::fs::write(&kind, "#!/bin/sh\n").unwrap();
        assert_eq!(
            kind_on_path(Some(dir.path().to_str().unwrap())),
            None,
            "not executable"
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&kind, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(kind_on_path(Some(dir.path().to_str().unwrap())), Some(kind));
        assert_eq!(kind_on_path(None), None);
    }

    /// The disk figure: 6.5 GiB for the node image, the host's copies of
    /// the add-on images and room to work, plus 3 GiB of loaded images per
    /// node.
    #[test]
    fn disk_needed_grows_with_the_nodes() {
        assert_eq!(disk_needed(1), 19 * GIB / 2);
        assert_eq!(disk_needed(3), 31 * GIB / 2, "the default 1 + 2 cluster");
        assert_eq!(disk_needed(0), disk_needed(1));
        assert_eq!(gib(disk_needed(3)), "15.5 GiB");
    }

    #[test]
    fn summary() {
        let d = Detected {
            kind: None,
            docker: Err("Cannot connect".into()),
        };
        assert!(!d.kind_usable());
        assert_eq!(
            d.summary(),
            "kind not found on PATH; Docker daemon not reachable (Cannot connect)"
        );
    }
}
