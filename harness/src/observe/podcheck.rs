//! What the end-of-observation checks that look inside pods share
//! ([`super::natgw`], [`super::pinger`]): the pods to look at, and the
//! verdict from what each lacked or could not be read.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use crate::slo::{Culprit, CulpritKind, Measured, Slo, SloStatus, SloVerdict};

/// A pod a check looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// Its name.
    pub name: String,
    /// Its node.
    pub node: Option<String>,
    /// Its state when that is not Running (`ContainerCreating`, ...):
    /// nothing can be read in it.
    pub not_running: Option<String>,
}

/// The pods in `namespace` labelled `selector` that are not being deleted.
pub async fn live_pods(
    client: &kube::Client,
    namespace: &str,
    selector: &str,
) -> Result<Vec<Seen>, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let list = pods
        .list(&ListParams::default().labels(selector))
        .await
        .map_err(|e| format!("listing the pods {selector} in {namespace}: {e}"))?;
    Ok(list
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .map(|p| {
            let state = super::conditions::pod_status_text(p);
            Seen {
                name: p.metadata.name.clone().unwrap_or_default(),
                node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
                not_running: (state != "Running").then_some(state),
            }
        })
        .collect())
}

/// A culprit pod in `namespace`.
pub fn culprit(namespace: &str, seen: &Seen, reason: String) -> Culprit {
    Culprit {
        kind: CulpritKind::Pod,
        namespace: Some(namespace.to_string()),
        name: seen.name.clone(),
        node: seen.node.clone(),
        reason,
        restarts: None,
        recovered_after: None,
    }
}

/// `slo` not evaluated, for `why`.
pub fn not_evaluated(slo: &Slo, why: &str) -> SloVerdict {
    SloVerdict {
        slo: slo.clone(),
        status: SloStatus::NotEvaluated(why.to_string()),
        measured: None,
        culprits: Vec::new(),
        message: why.to_string(),
    }
}

/// The verdict on `total` pods (`what`: `gateway pods`, `pingers`): a
/// failure when any is a culprit, else not evaluated when any could not be
/// read, else `pass`; no pod at all fails with `none`.
pub fn conclude(
    slo: &Slo,
    what: &str,
    total: usize,
    culprits: Vec<Culprit>,
    unreadable: Vec<String>,
    none: String,
    pass: String,
) -> SloVerdict {
    let verdict = |status, measured, culprits, message| SloVerdict {
        slo: slo.clone(),
        status,
        measured,
        culprits,
        message,
    };
    if total == 0 {
        return verdict(SloStatus::Fail, None, Vec::new(), none);
    }
    if !culprits.is_empty() {
        let n = culprits.len();
        let mut message = format!(
            "{n} of {total} {what}: {}",
            culprits
                .iter()
                .map(|c| format!("{}: {}", c.name, c.reason))
                .collect::<Vec<_>>()
                .join("; ")
        );
        if !unreadable.is_empty() {
            message.push_str(&format!(" ({} could not be read)", unreadable.len()));
        }
        return verdict(
            SloStatus::Fail,
            Some(Measured::Count(n as u64)),
            culprits,
            message,
        );
    }
    if !unreadable.is_empty() {
        return not_evaluated(slo, &unreadable.join("; "));
    }
    verdict(SloStatus::Pass, Some(Measured::Count(0)), Vec::new(), pass)
}
