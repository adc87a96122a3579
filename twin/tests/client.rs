//! The in-process client and the watch protocol, under tokio's paused
//! time: kube::Client over the router, graceful deletion in virtual time,
//! watch selector transitions, initial-events bookmarks, virtual timeouts,
//! consistent list pages, and the API chaos (half-sent events, outages).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::Request;
use cni_chaos_twin::store::{ChangeType, TruthEntry};
use cni_chaos_twin::{Twin, TwinConfig, snapshot};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tower::ServiceExt;

fn twin() -> Twin {
    let twin = Twin::new(TwinConfig::default());
    snapshot::kind_cluster(&twin, &Default::default()).unwrap();
    twin
}

async fn open(
    twin: &Twin,
    uri: &str,
) -> (
    u16,
    futures::stream::BoxStream<'static, Result<Bytes, axum::Error>>,
) {
    let req = Request::get(uri).body(Body::empty()).unwrap();
    let resp = twin.router().oneshot(req).await.unwrap();
    (
        resp.status().as_u16(),
        resp.into_body().into_data_stream().boxed(),
    )
}

/// Reads whole lines (events) until `n` are in, or the stream ends.
async fn events(
    stream: &mut futures::stream::BoxStream<'static, Result<Bytes, axum::Error>>,
    buf: &mut Vec<u8>,
    n: usize,
) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            out.push(serde_json::from_slice(&line).unwrap());
            if out.len() == n {
                return out;
            }
        }
        match stream.next().await {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            _ => return out,
        }
    }
}

fn pod(name: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"nodeName": "chaos-twin-worker", "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
        "status": {"phase": "Running"}})
}

#[tokio::test(start_paused = true)]
async fn kube_client_works_in_process_and_deletes_pods_in_virtual_time() {
    let twin = twin();
    let pods: Api<Pod> = Api::all(twin.client());
    let all = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(all.items.len(), 25);
    let multus = pods
        .list(&ListParams::default().labels("app=multus"))
        .await
        .unwrap();
    assert_eq!(multus.items.len(), 3);
    let on_worker = pods
        .list(&ListParams::default().fields("spec.nodeName=chaos-twin-worker"))
        .await
        .unwrap();
    assert!(
        on_worker
            .items
            .iter()
            .all(|p| p.spec.as_ref().unwrap().node_name.as_deref() == Some("chaos-twin-worker"))
    );

    let api: Api<Pod> = Api::default_namespaced(twin.client());
    let p: Pod = serde_json::from_value(pod("web", "web")).unwrap();
    let created = api.create(&PostParams::default(), &p).await.unwrap();
    assert_eq!(
        created
            .metadata
            .creation_timestamp
            .as_ref()
            .unwrap()
            .0
            .to_string(),
        "2026-01-01T00:00:00Z"
    );
    let patched = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "front"}}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.labels.as_ref().unwrap()["tier"], "front");
    let status = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"message": "hi"}})),
        )
        .await
        .unwrap();
    assert_eq!(status.status.unwrap().message.as_deref(), Some("hi"));

    tokio::time::advance(Duration::from_secs(5)).await;
    let deleting = api
        .delete("web", &DeleteParams::default())
        .await
        .unwrap()
        .left()
        .expect("a pod comes back while terminating");
    assert_eq!(deleting.metadata.deletion_grace_period_seconds, Some(30));
    assert_eq!(
        deleting.metadata.deletion_timestamp.unwrap().0.to_string(),
        "2026-01-01T00:00:35Z"
    );
    assert!(
        api.get_opt("web").await.unwrap().is_some(),
        "still there during the grace period"
    );
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert!(
        api.get_opt("web").await.unwrap().is_none(),
        "finalized after the grace period"
    );

    let truth: Vec<(ChangeType, String)> = twin
        .truth()
        .into_iter()
        .filter_map(|t| match t {
            TruthEntry::Change {
                name, change, at, ..
            } if name == "web" => Some((change, at.to_string())),
            _ => None,
        })
        .collect();
    let types: Vec<ChangeType> = truth.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        types,
        [
            ChangeType::Added,
            ChangeType::Modified,
            ChangeType::Modified,
            ChangeType::Modified,
            ChangeType::Deleted
        ]
    );
    assert_eq!(truth[3].1, "2026-01-01T00:00:05Z");
    assert_eq!(
        truth[4].1, "2026-01-01T00:00:35Z",
        "the default policy finalizes after exactly the grace period"
    );
}

#[tokio::test(start_paused = true)]
async fn watches_see_objects_enter_and_leave_their_selection() {
    let twin = twin();
    twin.create("pods", "default", pod("a", "x")).unwrap();
    let rv = twin.with_store(|s| s.resource_version());
    let (code, mut stream) = open(
        &twin,
        &format!(
            "/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Dx&resourceVersion={rv}"
        ),
    )
    .await;
    assert_eq!(code, 200);
    let mut buf = Vec::new();
    let relabel = |app: &str| {
        let mut p = (*twin.get("pods", "default", "a").unwrap()).clone();
        p["metadata"]["labels"]["app"] = json!(app);
        twin.replace("pods", "default", "a", p).unwrap();
    };
    relabel("y");
    twin.create("pods", "default", pod("b", "y")).unwrap();
    relabel("x");
    twin.patch_status("pods", "default", "a", &json!({"message": "m"}))
        .unwrap();
    twin.delete("pods", "default", "a", Some(0)).unwrap();
    let got = events(&mut stream, &mut buf, 4).await;
    let summary: Vec<(String, String)> = got
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["object"]["metadata"]["labels"]["app"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let want = [
        ("DELETED", "y"),
        ("ADDED", "x"),
        ("MODIFIED", "x"),
        ("DELETED", "x"),
    ]
    .map(|(a, b)| (a.to_string(), b.to_string()));
    assert_eq!(summary, want, "pod b (never selected) is not seen: {got:?}");
    let rvs: Vec<u64> = got
        .iter()
        .map(|e| {
            e["object"]["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]), "{rvs:?}");
}

#[tokio::test(start_paused = true)]
async fn initial_events_end_with_the_annotated_bookmark_and_timeouts_are_virtual() {
    let twin = twin();
    let uri = "/api/v1/namespaces/kube-system/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=290&labelSelector=app%3Dovs";
    let (code, mut stream) = open(&twin, uri).await;
    assert_eq!(code, 200);
    let mut buf = Vec::new();
    let got = events(&mut stream, &mut buf, 4).await;
    assert!(got[..3].iter().all(|e| e["type"] == "ADDED"), "{got:?}");
    assert_eq!(got[3]["type"], "BOOKMARK");
    assert_eq!(
        got[3]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    let rv = twin.with_store(|s| s.resource_version()).to_string();
    assert_eq!(got[3]["object"]["metadata"]["resourceVersion"], rv.as_str());
    // Idle: periodic bookmarks each virtual minute, then the stream ends
    // at the virtual timeout (with a last bookmark).
    let start = tokio::time::Instant::now();
    let rest = events(&mut stream, &mut buf, usize::MAX).await;
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(290),
        "the watch lasts its timeoutSeconds of virtual time"
    );
    assert!(
        rest.len() >= 4 && rest.iter().all(|e| e["type"] == "BOOKMARK"),
        "{rest:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_mid_chunk_drop_sends_half_an_event_then_fails() {
    let twin = twin();
    let rv = twin.with_store(|s| s.resource_version());
    let (_, mut stream) = open(
        &twin,
        &format!("/api/v1/namespaces/default/pods?watch=1&resourceVersion={rv}"),
    )
    .await;
    twin.create("pods", "default", pod("a", "x")).unwrap();
    twin.drop_watches(true);
    let mut bytes = Vec::new();
    let mut failed = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => bytes.extend_from_slice(&b),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(
        failed,
        "the stream ends with an error, as a cut connection does"
    );
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.starts_with("{\"type\":\"ADDED\""), "{text}");
    assert!(
        !text.contains('\n'),
        "only half of the event was sent: {text}"
    );
    assert!(serde_json::from_str::<Value>(&text).is_err());
    // Resuming from the same version replays the event whole.
    let (_, mut stream) = open(
        &twin,
        &format!("/api/v1/namespaces/default/pods?watch=1&resourceVersion={rv}"),
    )
    .await;
    let got = events(&mut stream, &mut Vec::new(), 1).await;
    assert_eq!(got[0]["object"]["metadata"]["name"], "a");
}

#[tokio::test(start_paused = true)]
async fn outages_refuse_requests_for_their_virtual_duration() {
    let twin = twin();
    let pods: Api<Pod> = Api::all(twin.client());
    twin.outage(Duration::from_secs(30));
    let err = pods.list(&ListParams::default()).await.unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 503);
            assert_eq!(s.reason, "ServiceUnavailable");
        }
        other => panic!("{other:?}"),
    }
    let (code, _) = open(&twin, "/twin/v1/truth").await;
    assert_eq!(code, 200, "the twin-only paths stay up");
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert!(pods.list(&ListParams::default()).await.is_err());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        pods.list(&ListParams::default()).await.unwrap().items.len(),
        25
    );
}

#[tokio::test(start_paused = true)]
async fn list_pages_stay_consistent_at_the_first_pages_version() {
    let twin = twin();
    let api: Api<Pod> = Api::namespaced(twin.client(), "kube-system");
    let first = api.list(&ListParams::default().limit(10)).await.unwrap();
    assert_eq!(first.items.len(), 10);
    assert_eq!(first.metadata.remaining_item_count, Some(14));
    let token = first.metadata.continue_.clone().unwrap();
    // Changes after the first page must not show in the later pages.
    let later: Vec<String> = (10..24).map(|_| String::new()).collect();
    let names: Vec<String> = twin
        .list("pods", Some("kube-system"))
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    twin.delete("pods", "kube-system", &names[20], Some(0))
        .unwrap();
    twin.patch_status(
        "pods",
        "kube-system",
        &names[15],
        &json!({"message": "changed"}),
    )
    .unwrap();
    let rest = api
        .list(&ListParams::default().limit(100).continue_token(&token))
        .await
        .unwrap();
    assert_eq!(rest.items.len(), later.len());
    assert_eq!(
        rest.metadata.resource_version,
        first.metadata.resource_version
    );
    assert!(
        rest.items
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some(names[20].as_str())),
        "deleted after the first page, still listed"
    );
    let p15 = rest
        .items
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(names[15].as_str()))
        .unwrap();
    assert_eq!(
        p15.status.as_ref().unwrap().message,
        None,
        "the page shows the state at the first page's version"
    );
    assert!(rest.metadata.continue_.as_deref().unwrap_or("").is_empty());
}
