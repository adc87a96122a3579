//! A pod's network namespace, read on its kind node: `crictl` (in kind's
//! node image) finds the pod's ready sandbox and the path of its network
//! namespace, and `ip -o link` run in that namespace (`nsenter --net=`)
//! lists its links. What the pod really has, whatever its annotations say
//! (multus-cni #1387).
//!
//! The parsing is pure, below, and unit-tested; the argv sequence is pinned
//! in `tests/kind_contract.rs`.

use serde_json::Value;

use super::KindError;
use super::docker::{DockerNodes, non_empty_lines};

impl DockerNodes {
    /// The links in the network namespace of pod `namespace/name`'s ready
    /// sandbox on node `node`; `None` when it has no ready sandbox with a
    /// network namespace there.
    ///
    /// `crictl pods --name <name> --namespace <ns> --state ready -q` lists
    /// candidate sandboxes (`--name` is a pattern, so each is checked),
    /// `crictl inspectp <id>` gives the sandbox's metadata and its runtime
    /// spec's network namespace path, `nsenter --net=<path> ip -o link show`
    /// lists the links.
    pub async fn pod_interfaces(
        &self,
        node: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Vec<String>>, KindError> {
        let list = [
            "crictl",
            "pods",
            "--name",
            name,
            "--namespace",
            namespace,
            "--state",
            "ready",
            "-q",
        ];
        let ids = non_empty_lines(&self.exec(node, &list).await?);
        for id in ids {
            let inspect = ["crictl", "inspectp", id.as_str()];
            let out = self.exec(node, &inspect).await?;
            let text = out.stdout_str();
            let netns = sandbox_netns(&text, namespace, name)
                .map_err(|problem| KindError::parse(inspect.join(" "), problem, &text))?;
            let Some(path) = netns else { continue };
            let net = format!("--net={path}");
            let links = self
                .exec(node, &["nsenter", net.as_str(), "ip", "-o", "link", "show"])
                .await?;
            return Ok(Some(parse_links(&links.stdout_str())));
        }
        Ok(None)
    }
}

/// The network namespace path of the sandbox `crictl inspectp` describes in
/// `text`, when it is a ready sandbox of pod `namespace/name`; `None` for
/// another pod's sandbox (a `--name` pattern match), one that is not ready,
/// or one without a network namespace of its own (host network).
pub fn sandbox_netns(text: &str, namespace: &str, name: &str) -> Result<Option<String>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let meta = v
        .pointer("/status/metadata")
        .ok_or("no status.metadata in the sandbox")?;
    let field = |p: &str| meta.get(p).and_then(Value::as_str);
    if field("name") != Some(name) || field("namespace") != Some(namespace) {
        return Ok(None);
    }
    if v.pointer("/status/state").and_then(Value::as_str) != Some("SANDBOX_READY") {
        return Ok(None);
    }
    let namespaces = v
        .pointer("/info/runtimeSpec/linux/namespaces")
        .and_then(Value::as_array)
        .ok_or("no info.runtimeSpec.linux.namespaces (crictl without --verbose info?)")?;
    Ok(namespaces
        .iter()
        .find(|n| n.get("type").and_then(Value::as_str) == Some("network"))
        .and_then(|n| n.get("path").and_then(Value::as_str))
        .filter(|p| !p.is_empty())
        .map(str::to_string))
}

/// Link names from `ip -o link show` (`2: eth0@if12: <...> ...`; the
/// `@peer` suffix dropped).
pub fn parse_links(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let mut fields = l.split(": ");
            fields.next()?.trim().parse::<u32>().ok()?;
            let name = fields.next()?.trim();
            let name = name.split('@').next().unwrap_or(name);
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inspectp(name: &str, ns: &str, state: &str, netns: Option<&str>) -> String {
        let mut namespaces = vec![json!({"type": "pid"}), json!({"type": "ipc"})];
        if let Some(p) = netns {
            namespaces.push(json!({"type": "network", "path": p}));
        }
        json!({
            "status": {"id": "9f3a", "metadata": {"name": name, "namespace": ns, "uid": "u", "attempt": 1},
                       "state": state},
            "info": {"pid": 4242, "runtimeSpec": {"linux": {"namespaces": namespaces}}}
        })
        .to_string()
    }

    #[test]
    fn the_netns_path_is_read_only_for_the_pods_own_ready_sandbox() {
        let path = "/var/run/netns/cni-1b2c3d4e-aaaa-bbbb-cccc-0123456789ab";
        let ok = inspectp("web-0", "app", "SANDBOX_READY", Some(path));
        assert_eq!(sandbox_netns(&ok, "app", "web-0"), Ok(Some(path.into())));
        assert_eq!(sandbox_netns(&ok, "app", "web"), Ok(None), "pattern match");
        assert_eq!(sandbox_netns(&ok, "other", "web-0"), Ok(None));
        let stopped = inspectp("web-0", "app", "SANDBOX_NOTREADY", Some(path));
        assert_eq!(sandbox_netns(&stopped, "app", "web-0"), Ok(None));
        let host = inspectp("web-0", "app", "SANDBOX_READY", None);
        assert_eq!(sandbox_netns(&host, "app", "web-0"), Ok(None));
        assert!(sandbox_netns("{}", "app", "web-0").is_err());
        assert!(
            sandbox_netns("nope", "app", "web-0")
                .unwrap_err()
                .contains("JSON")
        );
        let no_info = json!({"status": {"metadata": {"name": "web-0", "namespace": "app"},
                                        "state": "SANDBOX_READY"}})
        .to_string();
        assert!(sandbox_netns(&no_info, "app", "web-0").is_err());
    }

    #[test]
    fn links_drop_their_peer_suffix() {
        let out = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n\
                   2: eth0@if14: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 qdisc noqueue state UP mode DEFAULT group default \\    link/ether 00:00:00:aa:bb:cc brd ff:ff:ff:ff:ff:ff link-netnsid 0\n\
                   3: net1@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n\
                   \n";
        assert_eq!(parse_links(out), vec!["lo", "eth0", "net1"]);
        assert!(parse_links("").is_empty());
        assert!(parse_links("Cannot open network namespace").is_empty());
    }
}
