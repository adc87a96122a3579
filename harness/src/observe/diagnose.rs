//! Diagnostics for culprits: a describe-like summary, the pod's events and the
//! last log lines of its containers (kube-rs logs API), written into the
//! report folder and returned for the JUnit system-out.

use std::fmt::Write as _;
use std::path::Path;

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, LogParams};

use super::conditions;
use crate::slo::{Culprit, CulpritKind};

/// How many log lines to keep per container.
pub const LOG_LINES: i64 = 50;

/// Gathers diagnostics for each culprit; a culprit that cannot be read gets
/// a line saying why, never an error that hides the others.
pub async fn diagnose(client: &kube::Client, culprits: &[Culprit], dir: &Path) -> String {
    let mut out = String::new();
    for c in culprits {
        let text = match c.kind {
            CulpritKind::Pod => pod_diagnostics(client, c).await,
            CulpritKind::Node => node_diagnostics(client, c).await,
        };
        let file = dir.join(format!(
            "{}{}.txt",
            c.namespace
                .as_deref()
                .map(|n| format!("{n}_"))
                .unwrap_or_default(),
            c.name.replace(['/', ' ', '(', ')'], "_")
        ));
        if let Err(e) = crate::util::atomic::write(&file, text.as_bytes()) {
            let _ = writeln!(out, "(could not write {}: {e})", file.display());
        }
        out.push_str(&text);
        out.push('\n');
    }
    out
}

async fn events_for(
    client: &kube::Client,
    namespace: Option<&str>,
    kind: &str,
    name: &str,
) -> String {
    let api: Api<Event> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let lp = ListParams::default().fields(&format!(
        "involvedObject.kind={kind},involvedObject.name={name}"
    ));
    match api.list(&lp).await {
        Ok(list) if list.items.is_empty() => "  <none>\n".to_string(),
        Ok(list) => {
            let mut s = String::new();
            for e in list.items.iter().rev().take(20).rev() {
                let _ = writeln!(
                    s,
                    "  {:<8} {:<24} x{:<3} {}",
                    e.type_.as_deref().unwrap_or(""),
                    e.reason.as_deref().unwrap_or(""),
                    e.count.unwrap_or(1),
                    e.message.as_deref().unwrap_or("").trim()
                );
            }
            s
        }
        Err(e) => format!("  (events unavailable: {e})\n"),
    }
}

async fn pod_diagnostics(client: &kube::Client, c: &Culprit) -> String {
    let ns = c.namespace.as_deref().unwrap_or("default");
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut s = format!("=== pod {ns}/{} ({}) ===\n", c.name, c.reason);
    let pod = match api.get_opt(&c.name).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            s.push_str("(gone)\n");
            return s;
        }
        Err(e) => {
            let _ = writeln!(s, "(could not get the pod: {e})");
            return s;
        }
    };
    let _ = writeln!(s, "Status:   {}", conditions::pod_status_text(&pod));
    let _ = writeln!(
        s,
        "Node:     {}",
        conditions::pod_node(&pod).unwrap_or("<none>")
    );
    let _ = writeln!(s, "Restarts: {}", conditions::pod_restarts(&pod));
    let status = pod.status.clone().unwrap_or_default();
    for (title, list) in [
        (
            "Init Containers",
            status.init_container_statuses.clone().unwrap_or_default(),
        ),
        (
            "Containers",
            status.container_statuses.clone().unwrap_or_default(),
        ),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(s, "{title}:");
        for cs in &list {
            let state = cs.state.clone().unwrap_or_default();
            let st = if let Some(w) = &state.waiting {
                format!("Waiting ({})", w.reason.as_deref().unwrap_or(""))
            } else if let Some(t) = &state.terminated {
                format!(
                    "Terminated ({}, exit {})",
                    t.reason.as_deref().unwrap_or(""),
                    t.exit_code
                )
            } else if state.running.is_some() {
                "Running".to_string()
            } else {
                "Unknown".to_string()
            };
            let last = cs
                .last_state
                .as_ref()
                .and_then(|l| l.terminated.as_ref())
                .map(|t| {
                    format!(
                        "; last: {} exit {}",
                        t.reason.as_deref().unwrap_or(""),
                        t.exit_code
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {}: {st}, ready={}, restarts={}{last}",
                cs.name, cs.ready, cs.restart_count
            );
        }
    }
    let _ = writeln!(s, "Events:");
    s.push_str(&events_for(client, Some(ns), "Pod", &c.name).await);
    let containers: Vec<String> = pod
        .spec
        .as_ref()
        .map(|sp| {
            sp.init_containers
                .iter()
                .flatten()
                .chain(sp.containers.iter())
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default();
    for container in containers {
        let lp = LogParams {
            container: Some(container.clone()),
            tail_lines: Some(LOG_LINES),
            ..LogParams::default()
        };
        match api.logs(&c.name, &lp).await {
            Ok(text) if text.trim().is_empty() => {}
            Ok(text) => {
                let _ = writeln!(s, "Logs of {container} (last {LOG_LINES} lines):");
                for line in text.lines() {
                    let _ = writeln!(s, "  {line}");
                }
            }
            Err(e) => {
                let _ = writeln!(s, "Logs of {container}: unavailable ({e})");
            }
        }
    }
    s
}

async fn node_diagnostics(client: &kube::Client, c: &Culprit) -> String {
    let api: Api<Node> = Api::all(client.clone());
    let mut s = format!("=== node {} ({}) ===\n", c.name, c.reason);
    match api.get_opt(&c.name).await {
        Ok(Some(n)) => {
            let _ = writeln!(
                s,
                "Ready: {:?}  NetworkUnavailable: {}  InternalIP: {}",
                conditions::node_ready(&n),
                conditions::node_network_unavailable(&n),
                conditions::node_internal_ip(&n).unwrap_or("<none>")
            );
            for cond in n.status.and_then(|st| st.conditions).unwrap_or_default() {
                let _ = writeln!(
                    s,
                    "  {:<20} {:<6} {} {}",
                    cond.type_,
                    cond.status,
                    cond.reason.unwrap_or_default(),
                    cond.message.unwrap_or_default()
                );
            }
        }
        Ok(None) => s.push_str("(gone)\n"),
        Err(e) => {
            let _ = writeln!(s, "(could not get the node: {e})");
        }
    }
    let _ = writeln!(s, "Events:");
    s.push_str(&events_for(client, None, "Node", &c.name).await);
    s
}
