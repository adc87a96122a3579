//! Prerequisites: docker (with a reachable daemon), kind, kubectl and curl,
//! with their versions. A missing or too-old tool is an actionable error.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::KindError;
use super::versions::parse_semver;
use crate::exec::{Command, ExecError, Runner};

/// Oldest kubectl the harness drives (`kubectl wait --for=jsonpath`, `-o name`).
pub const MIN_KUBECTL: (u64, u64, u64) = (1, 27, 0);
/// How long a version probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

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

fn missing(tool: &str, problem: String, fix: &str) -> KindError {
    KindError::Prerequisite {
        tool: tool.into(),
        problem,
        fix: fix.into(),
    }
}

/// Checks every tool the kind backend runs, in order (docker, kind, kubectl,
/// curl); `min_kind` comes from the version matrix. In a dry run the probes
/// are planned like every other command and their (empty) answers accepted.
pub async fn check(
    runner: &dyn Runner,
    min_kind: &str,
    dry_run: bool,
) -> Result<ToolVersions, KindError> {
    let mut v = ToolVersions::default();
    let docker_fix = "install Docker (https://docs.docker.com/engine/install/), start the daemon, and check `docker version` shows a Server section (or set DOCKER_HOST)";
    match docker_reachable(runner).await {
        Ok(s) => v.docker = s,
        Err(_) if dry_run => {}
        Err(e) => {
            return Err(missing(
                "docker",
                format!("the daemon does not answer: {e}"),
                docker_fix,
            ));
        }
    }
    let kind_fix = format!(
        "install kind {min_kind} or newer (https://kind.sigs.k8s.io/docs/user/quick-start/#installation, e.g. `go install sigs.k8s.io/kind@{min_kind}`)"
    );
    let out = runner
        .output(&Command::new("kind").arg("version").timeout(PROBE_TIMEOUT))
        .await;
    match out {
        Ok(o) if o.success() || dry_run => {
            // "kind v0.31.0 go1.24.2 linux/amd64"
            let text = o.stdout_str();
            let found = text.split_whitespace().nth(1).unwrap_or("").to_string();
            if !dry_run {
                match (parse_semver(&found), parse_semver(min_kind)) {
                    (Some(have), Some(want)) if have >= want => {}
                    (Some(_), _) => {
                        return Err(missing(
                            "kind",
                            format!("found {found}, need {min_kind} or newer"),
                            &kind_fix,
                        ));
                    }
                    (None, _) => {
                        return Err(missing(
                            "kind",
                            format!("cannot read its version from {:?}", text.trim()),
                            &kind_fix,
                        ));
                    }
                }
            }
            v.kind = found;
        }
        Ok(o) => {
            return Err(missing(
                "kind",
                format!("`kind version` failed: {}", first_line(&o.stderr_str())),
                &kind_fix,
            ));
        }
        Err(ExecError::Spawn { .. }) => {
            return Err(missing("kind", "not found on PATH".into(), &kind_fix));
        }
        Err(e) => return Err(e.into()),
    }
    let kubectl_fix = "install kubectl 1.27 or newer (https://kubernetes.io/docs/tasks/tools/)";
    let out = runner
        .output(
            &Command::new("kubectl")
                .args(["version", "--client", "-o", "json"])
                .timeout(PROBE_TIMEOUT),
        )
        .await;
    match out {
        Ok(o) if o.success() || dry_run => {
            let text = o.stdout_str();
            let found = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|j| {
                    j["clientVersion"]["gitVersion"]
                        .as_str()
                        .map(str::to_string)
                })
                .unwrap_or_default();
            if !dry_run {
                match parse_semver(&found) {
                    Some(have) if have >= MIN_KUBECTL => {}
                    Some(_) => {
                        return Err(missing(
                            "kubectl",
                            format!("found {found}, need v1.27.0 or newer"),
                            kubectl_fix,
                        ));
                    }
                    None => {
                        return Err(missing(
                            "kubectl",
                            format!("cannot read its version from {:?}", text.trim()),
                            kubectl_fix,
                        ));
                    }
                }
            }
            v.kubectl = found;
        }
        Ok(o) => {
            return Err(missing(
                "kubectl",
                format!(
                    "`kubectl version --client` failed: {}",
                    first_line(&o.stderr_str())
                ),
                kubectl_fix,
            ));
        }
        Err(ExecError::Spawn { .. }) => {
            return Err(missing("kubectl", "not found on PATH".into(), kubectl_fix));
        }
        Err(e) => return Err(e.into()),
    }
    let curl_fix = "install curl (it downloads the pinned Kube-OVN and Multus manifests)";
    match runner
        .output(&Command::new("curl").arg("--version").timeout(PROBE_TIMEOUT))
        .await
    {
        Ok(o) if o.success() || dry_run => {
            v.curl = o
                .stdout_str()
                .split_whitespace()
                .nth(1)
                .unwrap_or("")
                .to_string();
        }
        Ok(o) => return Err(missing("curl", first_line(&o.stderr_str()), curl_fix)),
        Err(ExecError::Spawn { .. }) => {
            return Err(missing("curl", "not found on PATH".into(), curl_fix));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(v)
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
