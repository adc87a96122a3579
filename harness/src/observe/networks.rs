//! Secondary networks: what a pod asks Multus for
//! (`k8s.v1.cni.cncf.io/networks`), what Multus reported
//! (`k8s.v1.cni.cncf.io/network-status`), what its network namespace has,
//! and the judgement of [`Slo::SecondaryNetworksComplete`].
//!
//! Both checks are needed: a pod whose sandbox is re-created before Multus
//! is back (multus-cni #1387) has the primary network only, but keeps the
//! annotation its previous sandbox got (only a Multus ADD writes it); a
//! brand-new pod in the same window has no annotation at all.
//!
//! The parsing follows Multus' own (multus-cni v4.2.1
//! `pkg/k8sclient/k8sclient.go`, `parsePodNetworkAnnotation` and
//! `parsePodNetworkObjectName`; interface names from `pkg/multus/multus.go`,
//! `getIfname`).

use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;

use crate::backend::Cluster;
use crate::slo::{Culprit, CulpritKind, Measured, PodScope, Slo, SloStatus, SloVerdict};

/// The annotation a pod asks Multus for secondary networks with.
pub const NETWORKS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/networks";
/// The annotation Multus reports the attached networks in.
pub const NETWORK_STATUS_ANNOTATION: &str = "k8s.v1.cni.cncf.io/network-status";

/// One network a pod asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// `<namespace>/<name>` of the NetworkAttachmentDefinition (the pod's
    /// namespace by default), as Multus names it in network-status.
    pub network: String,
    /// The interface name asked for (`name@ifname`, `"interface"`), if any.
    pub interface: Option<String>,
}

fn attachment(
    namespace: &str,
    default_ns: &str,
    name: &str,
    interface: Option<String>,
) -> Attachment {
    let ns = if namespace.is_empty() {
        default_ns
    } else {
        namespace
    };
    Attachment {
        network: format!("{ns}/{name}"),
        interface: interface.filter(|i| !i.is_empty()),
    }
}

/// A JSON selection element; only the fields the check needs.
#[derive(Deserialize)]
struct Element {
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    interface: String,
    /// Before Multus v3.2; still honoured when `interface` is empty.
    #[serde(default, rename = "interfaceRequest")]
    interface_request: String,
}

/// Parses a networks annotation in either form Multus accepts: a JSON list
/// of selection elements, or a comma list of `[<ns>/]<name>[@<ifname>]`.
/// The namespace defaults to `pod_namespace`. An error says what Multus
/// would refuse.
pub fn parse_networks(text: &str, pod_namespace: &str) -> Result<Vec<Attachment>, String> {
    let mut out = Vec::new();
    if text.contains(['[', '{', '"']) {
        let elements: Vec<Element> = serde_json::from_str(text)
            .map_err(|e| format!("the JSON list of networks does not parse: {e}"))?;
        for e in elements {
            if e.name.is_empty() {
                return Err("a network in the JSON list has no name".into());
            }
            let interface = [e.interface, e.interface_request]
                .into_iter()
                .find(|i| !i.is_empty());
            out.push(attachment(&e.namespace, pod_namespace, &e.name, interface));
        }
        return Ok(out);
    }
    for item in text.split(',').map(str::trim) {
        let (namespace, rest) = match item.split('/').collect::<Vec<_>>().as_slice() {
            [name] => (String::new(), *name),
            [ns, name] => (ns.trim().to_string(), *name),
            _ => return Err(format!("{item:?}: more than one '/'")),
        };
        let (name, interface) = match rest.split('@').collect::<Vec<_>>().as_slice() {
            [name] => (name.trim(), None),
            [name, ifname] => (name.trim(), Some(ifname.trim().to_string())),
            _ => return Err(format!("{item:?}: more than one '@'")),
        };
        for part in [namespace.as_str(), name] {
            if !part.is_empty() && !dns_label(part) {
                return Err(format!(
                    "{item:?}: {part:?} is not a DNS-1123 label (lower case alphanumerics and '-')"
                ));
            }
        }
        if name.is_empty() {
            return Err(format!("{item:?}: no network name"));
        }
        out.push(attachment(&namespace, pod_namespace, name, interface));
    }
    Ok(out)
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let edge = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    b.first().is_some_and(edge)
        && b.last().is_some_and(edge)
        && b.iter().all(|c| edge(c) || *c == b'-')
}

/// One entry of a network-status annotation.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct NetworkStatus {
    /// The network: the cluster network's name, or `<ns>/<name>`.
    pub name: String,
    /// The interface in the pod, when the plugin reported one.
    #[serde(default)]
    pub interface: Option<String>,
    /// Whether it is the cluster (default) network.
    #[serde(default)]
    pub default: bool,
}

/// Parses a network-status annotation (a JSON list).
pub fn parse_network_status(text: &str) -> Result<Vec<NetworkStatus>, String> {
    serde_json::from_str(text).map_err(|e| format!("network-status does not parse: {e}"))
}

/// What the check needs to know about one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodNetworks {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Its node.
    pub node: Option<String>,
    /// Whether its phase is Running.
    pub running: bool,
    /// Its STATUS as kubectl shows it (`Running`, `ContainerCreating`, ...).
    pub state: String,
    /// The networks it asks for (an error: the annotation does not parse).
    pub requested: Result<Vec<Attachment>, String>,
    /// What Multus reported: none without the annotation, an error when it
    /// does not parse.
    pub status: Option<Result<Vec<NetworkStatus>, String>>,
    /// The links in its network namespace: `Ok(None)` when no sandbox
    /// network namespace was found on its node, an error when they could
    /// not be read.
    pub interfaces: Result<Option<Vec<String>>, String>,
}

/// Which check a requested network failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gap {
    /// `<ns>/<name>`.
    pub network: String,
    /// The interface it has or should have.
    pub interface: String,
    /// It is not in the network-status annotation.
    pub not_in_status: bool,
    /// Its interface is not in the network namespace.
    pub not_in_netns: bool,
}

impl std::fmt::Display for Gap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Gap {
            network, interface, ..
        } = self;
        match (self.not_in_status, self.not_in_netns) {
            (true, true) => write!(
                f,
                "{network}: not in network-status and no {interface} in the network namespace"
            ),
            (true, false) => write!(
                f,
                "{network}: {interface} is in the network namespace but not in network-status"
            ),
            (false, _) => write!(
                f,
                "{network}: no {interface} in the network namespace (network-status lists it, multus-cni #1387)"
            ),
        }
    }
}

/// The requested networks `pod` lacks, given the links read from its
/// network namespace (`links`: none when no namespace was found). Pure.
///
/// A network counts as reported when network-status has an entry of that
/// name (the k-th request of a network matching its k-th entry) with the
/// interface asked for, if one was; its interface is the entry's, else the
/// one asked for, else `net<i>` (Multus' `getIfname`, `i` counting from 1
/// after the cluster network).
pub fn gaps(
    requested: &[Attachment],
    status: &[NetworkStatus],
    links: Option<&[String]>,
) -> Vec<Gap> {
    let mut out = Vec::new();
    for (i, a) in requested.iter().enumerate() {
        let key = a.network.clone();
        let nth = requested[..i].iter().filter(|b| b.network == key).count();
        let entry = status
            .iter()
            .filter(|s| !s.default && s.name == key)
            .filter(|s| a.interface.is_none() || s.interface == a.interface)
            .nth(if a.interface.is_some() { 0 } else { nth });
        let interface = entry
            .and_then(|e| e.interface.clone())
            .or_else(|| a.interface.clone())
            .unwrap_or_else(|| format!("net{}", i + 1));
        let in_netns = links.is_some_and(|l| l.contains(&interface));
        if entry.is_none() || !in_netns {
            out.push(Gap {
                network: key,
                interface,
                not_in_status: entry.is_none(),
                not_in_netns: !in_netns,
            });
        }
    }
    out
}

/// Whether a pod is one the check judges, and what it asks for: not
/// finished (a pod that ran to completion needs no network) and not being
/// deleted, on the pod network, in `scope`, not a probe pod, and asking for
/// at least one network (or for something unparseable). A pod that is not
/// Running is judged too, and fails: it has not recovered, so its networks
/// cannot be shown to be there.
pub fn wanted(pod: &Pod, scope: &PodScope) -> Option<Result<Vec<Attachment>, String>> {
    let meta = &pod.metadata;
    // An empty annotation asks for nothing (Multus: no networks).
    let text = meta
        .annotations
        .as_ref()?
        .get(NETWORKS_ANNOTATION)
        .filter(|t| !t.trim().is_empty())?;
    let spec = pod.spec.as_ref()?;
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let finished = matches!(phase, Some("Succeeded" | "Failed"));
    let labels = meta.labels.clone().unwrap_or_default();
    let in_scope = scope
        .namespace
        .as_ref()
        .is_none_or(|ns| meta.namespace.as_ref() == Some(ns))
        && scope.selector.as_ref().is_none_or(|s| s.matches(&labels));
    let probe = labels.contains_key(super::probe::PROBE_LABEL);
    if finished
        || meta.deletion_timestamp.is_some()
        || spec.host_network == Some(true)
        || !in_scope
        || probe
    {
        return None;
    }
    let requested = parse_networks(text, meta.namespace.as_deref().unwrap_or("default"));
    match &requested {
        Ok(list) if list.is_empty() => None,
        _ => Some(requested),
    }
}

/// Reads what the check needs for every pod `scope` wants: the pods through
/// the API, their links through `cluster` on their nodes.
pub async fn read(
    client: &kube::Client,
    cluster: &dyn Cluster,
    scope: &PodScope,
) -> Result<Vec<PodNetworks>, String> {
    let api: kube::Api<Pod> = match &scope.namespace {
        Some(ns) => kube::Api::namespaced(client.clone(), ns),
        None => kube::Api::all(client.clone()),
    };
    let pods = api
        .list(&kube::api::ListParams::default())
        .await
        .map_err(|e| format!("listing pods: {e}"))?;
    let mut out = Vec::new();
    for pod in &pods.items {
        let Some(requested) = wanted(pod, scope) else {
            continue;
        };
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        let state = super::conditions::pod_status_text(pod);
        let status = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(NETWORK_STATUS_ANNOTATION))
            .map(|t| parse_network_status(t));
        let interfaces = match (&node, running) {
            (Some(n), true) => cluster
                .pod_interfaces(&namespace, &name, n)
                .await
                .map_err(|e| e.to_string()),
            _ => Ok(None),
        };
        out.push(PodNetworks {
            namespace,
            name,
            node,
            running,
            state,
            requested,
            status,
            interfaces,
        });
    }
    Ok(out)
}

/// Judges [`Slo::SecondaryNetworksComplete`] on what [`read`] found (or
/// why it could not read). Pure.
pub fn judge(slo: &Slo, pods: Result<&[PodNetworks], &str>) -> SloVerdict {
    let verdict = |status, measured, culprits, message: String| SloVerdict {
        slo: slo.clone(),
        status,
        measured,
        culprits,
        message,
    };
    let (scope, workload) = match slo {
        Slo::SecondaryNetworksComplete { scope, workload } => (scope, *workload),
        other => {
            let why = format!(
                "{} is not judged from secondary networks",
                other.kind().as_str()
            );
            return verdict(SloStatus::NotEvaluated(why.clone()), None, Vec::new(), why);
        }
    };
    let pods = match pods {
        Ok(p) => p,
        Err(why) => {
            let why = format!("could not read the pods: {why}");
            return verdict(SloStatus::NotEvaluated(why.clone()), None, Vec::new(), why);
        }
    };
    if pods.is_empty() {
        let hint = if workload {
            " (the harness's workload had no pod either)"
        } else {
            " (workload: true deploys one)"
        };
        let msg = format!("no pod in {scope} asks for a secondary network: nothing to judge{hint}");
        return verdict(SloStatus::Fail, None, Vec::new(), msg);
    }
    let mut culprits = Vec::new();
    let mut unread = Vec::new();
    let mut networks = 0usize;
    for p in pods {
        let culprit = |reason: String| Culprit {
            kind: CulpritKind::Pod,
            namespace: Some(p.namespace.clone()),
            name: p.name.clone(),
            node: p.node.clone(),
            reason,
            restarts: None,
            recovered_after: None,
        };
        let requested = match &p.requested {
            Ok(r) => r,
            Err(e) => {
                culprits.push(culprit(format!(
                    "{NETWORKS_ANNOTATION} does not parse: {e}"
                )));
                continue;
            }
        };
        let not_judged =
            |why: &str| format!("{}: {why}, so its networks cannot be judged", p.state);
        if !p.running {
            culprits.push(culprit(not_judged("not Running when observation ended")));
            continue;
        }
        networks += requested.len();
        let (status, notes) = match &p.status {
            None => (&[][..], Vec::new()),
            Some(Ok(s)) => (&s[..], Vec::new()),
            Some(Err(e)) => (&[][..], vec![e.clone()]),
        };
        let links = match &p.interfaces {
            Ok(l) => l.as_deref(),
            Err(e) => {
                unread.push(format!("{}/{}: {e}", p.namespace, p.name));
                continue;
            }
        };
        let Some(links) = links else {
            let node = p.node.as_deref().unwrap_or("its node");
            culprits.push(culprit(not_judged(&format!(
                "no ready sandbox with a network namespace on {node}"
            ))));
            continue;
        };
        let gaps = gaps(requested, status, Some(links));
        if !gaps.is_empty() {
            let mut parts: Vec<String> = gaps.iter().map(ToString::to_string).collect();
            parts.extend(notes);
            culprits.push(culprit(parts.join("; ")));
        }
    }
    let judged = pods.len() - unread.len();
    let count = Measured::Count(u64::try_from(culprits.len()).unwrap_or(u64::MAX));
    if !culprits.is_empty() {
        let mut msg = format!(
            "{} of {} pods do not show every secondary network they asked for",
            culprits.len(),
            pods.len()
        );
        if !unread.is_empty() {
            msg.push_str(&format!(
                "; {} could not be read ({})",
                unread.len(),
                unread[0]
            ));
        }
        return verdict(SloStatus::Fail, Some(count), culprits, msg);
    }
    if !unread.is_empty() {
        let why = format!(
            "could not read the network namespaces of {} of {} pods: {}",
            unread.len(),
            pods.len(),
            unread.join("; ")
        );
        return verdict(SloStatus::NotEvaluated(why.clone()), None, Vec::new(), why);
    }
    let msg = format!(
        "{judged} pods have all {networks} secondary networks they asked for, in network-status and in their network namespace"
    );
    verdict(SloStatus::Pass, Some(count), Vec::new(), msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn att(ns: &str, name: &str, interface: Option<&str>) -> Attachment {
        Attachment {
            network: format!("{ns}/{name}"),
            interface: interface.map(str::to_string),
        }
    }

    #[test]
    fn the_comma_form_takes_namespaces_and_interface_names() {
        assert_eq!(
            parse_networks("macvlan-a, other/b@ext0 ,c@net7", "app").unwrap(),
            vec![
                att("app", "macvlan-a", None),
                att("other", "b", Some("ext0")),
                att("app", "c", Some("net7"))
            ]
        );
        for (bad, why) in [
            ("a/b/c", "more than one '/'"),
            ("a@b@c", "more than one '@'"),
            ("Upper", "DNS-1123"),
            ("ns/", "no network name"),
            ("a,,b", "no network name"),
        ] {
            let err = parse_networks(bad, "app").unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn the_json_form_takes_namespace_and_interface_fields() {
        let text = r#"[{"name": "a"}, {"name": "b", "namespace": "other", "interface": "ext0"},
                       {"name": "c", "interfaceRequest": "old0"}]"#;
        assert_eq!(
            parse_networks(text, "app").unwrap(),
            vec![
                att("app", "a", None),
                att("other", "b", Some("ext0")),
                att("app", "c", Some("old0"))
            ]
        );
        assert!(parse_networks(r#"[{"namespace": "x"}]"#, "app").is_err());
        assert!(parse_networks("[{", "app").unwrap_err().contains("JSON"));
    }

    fn status(entries: &[(&str, &str)]) -> Vec<NetworkStatus> {
        entries
            .iter()
            .map(|(n, i)| NetworkStatus {
                name: (*n).into(),
                interface: Some((*i).into()),
                default: *n == "kube-ovn",
            })
            .collect()
    }

    fn links(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn network_status_parses_multus_json() {
        let text = r#"[{"name":"kube-ovn","interface":"eth0","ips":["10.16.0.5"],"default":true,"dns":{}},
                       {"name":"app/a","interface":"net1","ips":["172.19.0.10"],"dns":{}},
                       {"name":"app/dev"}]"#;
        let s = parse_network_status(text).unwrap();
        assert_eq!(s.len(), 3);
        assert!(s[0].default);
        assert_eq!(s[1].interface.as_deref(), Some("net1"));
        assert_eq!(s[2].interface, None);
        assert!(parse_network_status("{").is_err());
    }

    #[test]
    fn gaps_tell_the_annotation_from_the_namespace() {
        let want = vec![att("app", "a", None), att("app", "b", Some("ext0"))];
        let full = status(&[("kube-ovn", "eth0"), ("app/a", "net1"), ("app/b", "ext0")]);
        let all = links(&["lo", "eth0", "net1", "ext0"]);
        assert!(gaps(&want, &full, Some(&all)).is_empty());
        // #1387 after a reboot: the annotation is stale, the netns is not.
        let g = gaps(&want, &full, Some(&links(&["lo", "eth0"])));
        assert_eq!(g.len(), 2);
        assert!(!g[0].not_in_status && g[0].not_in_netns);
        assert_eq!(g[0].interface, "net1");
        assert!(g[0].to_string().contains("#1387"), "{}", g[0]);
        // A new pod in the window: no annotation either.
        let g = gaps(&want, &[], Some(&links(&["lo", "eth0"])));
        assert!(g.iter().all(|g| g.not_in_status && g.not_in_netns));
        assert_eq!(
            g[1].to_string(),
            "app/b: not in network-status and no ext0 in the network namespace"
        );
        // An interface named otherwise than asked for does not count.
        let wrong = status(&[("app/a", "net1"), ("app/b", "net2")]);
        let g = gaps(&want, &wrong, Some(&all));
        assert_eq!(g.len(), 1);
        assert!(g[0].not_in_status && !g[0].not_in_netns, "{g:?}");
        // No network namespace found at all.
        assert_eq!(gaps(&want, &full, None).len(), 2);
    }

    #[test]
    fn the_same_network_twice_needs_two_entries() {
        let want = vec![att("app", "a", None), att("app", "a", None)];
        let one = status(&[("app/a", "net1")]);
        let g = gaps(&want, &one, Some(&links(&["eth0", "net1", "net2"])));
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].interface, "net2");
        assert!(g[0].not_in_status);
    }

    fn pod(json: serde_json::Value) -> Pod {
        serde_json::from_value(json).unwrap()
    }

    fn scope(ns: Option<&str>) -> PodScope {
        PodScope {
            namespace: ns.map(str::to_string),
            selector: None,
        }
    }

    #[test]
    fn only_unfinished_pod_network_pods_that_ask_are_wanted() {
        let make = |phase: &str, host: bool, ann: Option<&str>, probe: bool| {
            let mut v = json!({"metadata": {"name": "p", "namespace": "app", "labels": {}},
                "spec": {"hostNetwork": host, "containers": []}, "status": {"phase": phase}});
            if let Some(a) = ann {
                v["metadata"]["annotations"] = json!({NETWORKS_ANNOTATION: a});
            }
            if probe {
                v["metadata"]["labels"] = json!({crate::observe::probe::PROBE_LABEL: "dns"});
            }
            pod(v)
        };
        let all = scope(None);
        assert_eq!(
            wanted(&make("Running", false, Some("a"), false), &all),
            Some(Ok(vec![att("app", "a", None)]))
        );
        assert!(
            wanted(&make("Running", false, Some("Bad!"), false), &all).is_some_and(|r| r.is_err())
        );
        assert!(wanted(&make("Pending", false, Some("a"), false), &all).is_some());
        assert_eq!(
            wanted(&make("Succeeded", false, Some("a"), false), &all),
            None
        );
        assert_eq!(wanted(&make("Running", true, Some("a"), false), &all), None);
        assert_eq!(wanted(&make("Running", false, None, false), &all), None);
        assert_eq!(wanted(&make("Running", false, Some("a"), true), &all), None);
        assert_eq!(wanted(&make("Running", false, Some(""), false), &all), None);
        assert_eq!(
            wanted(
                &make("Running", false, Some("a"), false),
                &scope(Some("kube-system"))
            ),
            None
        );
    }

    fn slo() -> Slo {
        Slo::SecondaryNetworksComplete {
            scope: scope(None),
            workload: true,
        }
    }

    fn observed(name: &str, links_: Option<&[&str]>, with_status: bool) -> PodNetworks {
        PodNetworks {
            namespace: "app".into(),
            name: name.into(),
            node: Some("kind-worker".into()),
            running: true,
            state: "Running".into(),
            requested: Ok(vec![att("app", "a", None)]),
            status: with_status.then(|| Ok(status(&[("kube-ovn", "eth0"), ("app/a", "net1")]))),
            interfaces: Ok(links_.map(links)),
        }
    }

    #[test]
    fn the_verdict_names_each_pod_and_what_it_lacks() {
        let good = observed("good", Some(&["lo", "eth0", "net1"]), true);
        let v = judge(&slo(), Ok(std::slice::from_ref(&good)));
        assert_eq!(v.status, SloStatus::Pass, "{v:?}");
        assert_eq!(v.measured, Some(Measured::Count(0)));

        let stale = observed("stale", Some(&["lo", "eth0"]), true);
        let fresh = observed("fresh", Some(&["lo", "eth0"]), false);
        let v = judge(&slo(), Ok(&[good.clone(), stale, fresh]));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.measured, Some(Measured::Count(2)));
        assert_eq!(v.culprits[0].name, "stale");
        assert_eq!(v.culprits[0].node.as_deref(), Some("kind-worker"));
        assert_eq!(
            v.culprits[0].reason,
            "app/a: no net1 in the network namespace (network-status lists it, multus-cni #1387)"
        );
        assert!(
            v.culprits[1].reason.contains("not in network-status"),
            "{:?}",
            v.culprits[1]
        );

        let gone = observed("gone", None, true);
        let v = judge(&slo(), Ok(&[gone]));
        assert!(
            v.culprits[0]
                .reason
                .contains("no ready sandbox with a network namespace on kind-worker")
        );

        // A pod that has not come back is not skipped.
        let mut late = observed("late", None, true);
        late.running = false;
        late.state = "ContainerCreating".into();
        let v = judge(&slo(), Ok(&[good, late]));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(
            v.culprits[0].reason,
            "ContainerCreating: not Running when observation ended, so its networks cannot be judged"
        );
    }

    #[test]
    fn nothing_to_judge_fails_and_unreadable_is_not_a_pass() {
        let v = judge(&slo(), Ok(&[]));
        assert_eq!(v.status, SloStatus::Fail);
        assert!(v.message.contains("nothing to judge"), "{}", v.message);

        let mut unread = observed("u", None, true);
        unread.interfaces = Err("crictl: not found".into());
        let v = judge(&slo(), Ok(&[unread.clone()]));
        assert!(
            matches!(v.status, SloStatus::NotEvaluated(ref w) if w.contains("crictl")),
            "{v:?}"
        );
        let bad = observed("bad", Some(&["eth0"]), true);
        let v = judge(&slo(), Ok(&[unread, bad]));
        assert_eq!(v.status, SloStatus::Fail, "a real gap still fails");
        assert!(v.message.contains("1 could not be read"), "{}", v.message);

        let v = judge(&slo(), Err("API down"));
        assert!(matches!(v.status, SloStatus::NotEvaluated(_)));

        let mut garbled = observed("g", Some(&["eth0"]), true);
        garbled.requested = Err("\"A\": not a DNS-1123 label".into());
        let v = judge(&slo(), Ok(&[garbled]));
        assert_eq!(v.status, SloStatus::Fail);
        assert!(v.culprits[0].reason.contains("does not parse"));
    }
}
