//! Malformed and failing requests get the Status a real API server gives
//! (kind Status, apiVersion v1, status Failure, message, reason, code) and
//! never a panic: one table, every row a raw HTTP request to the router.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use cni_chaos_twin::{Twin, TwinConfig, snapshot};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    code: u16,
    reason: &'static str,
    message_has: &'static str,
}

fn case(
    what: &'static str,
    method: &'static str,
    path: &str,
    code: u16,
    reason: &'static str,
    message_has: &'static str,
) -> Case {
    Case {
        what,
        method,
        path: path.to_string(),
        content_type: "application/json",
        body: Vec::new(),
        code,
        reason,
        message_has,
    }
}

fn with_body(mut c: Case, content_type: &'static str, body: impl Into<Vec<u8>>) -> Case {
    c.content_type = content_type;
    c.body = body.into();
    c
}

async fn send(twin: &Twin, c: &Case) -> (u16, Value, String) {
    let req = Request::builder()
        .method(c.method)
        .uri(&c.path)
        .header("content-type", c.content_type)
        .body(Body::from(c.body.clone()))
        .unwrap();
    let resp = twin
        .router()
        .oneshot(req)
        .await
        .expect("router never fails");
    let code = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (code, v, text)
}

#[tokio::test(start_paused = true)]
async fn malformed_requests_get_real_status_bodies() {
    let twin = Twin::new(TwinConfig::default());
    snapshot::kind_cluster(&twin, &Default::default()).unwrap();
    let coredns = twin
        .list("pods", Some("kube-system"))
        .into_iter()
        .find(|p| {
            p["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("coredns-")
        })
        .unwrap();
    let pod_name = coredns["metadata"]["name"].as_str().unwrap().to_string();
    let pod_path = format!("/api/v1/namespaces/kube-system/pods/{pod_name}");
    let mut stale = (*coredns).clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    let cm = |name: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}).to_string()
    };
    let cases = vec![
        case(
            "bad label selector",
            "GET",
            "/api/v1/pods?labelSelector=app%20~%20x",
            400,
            "BadRequest",
            "unable to parse requirement",
        ),
        case(
            "set selector without parens",
            "GET",
            "/api/v1/pods?labelSelector=app%20in%20a",
            400,
            "BadRequest",
            "expected '('",
        ),
        case(
            "field selector without operator",
            "GET",
            "/api/v1/pods?fieldSelector=spec.nodeName",
            400,
            "BadRequest",
            "invalid selector",
        ),
        case(
            "unsupported field label",
            "GET",
            "/api/v1/pods?fieldSelector=spec.bogus%3Dx",
            400,
            "BadRequest",
            "field label not supported: spec.bogus",
        ),
        case(
            "field label on the wrong resource",
            "GET",
            "/api/v1/nodes?fieldSelector=status.phase%3DRunning",
            400,
            "BadRequest",
            "field label not supported",
        ),
        case(
            "unknown resource",
            "GET",
            "/api/v1/widgets",
            404,
            "NotFound",
            "could not find the requested resource",
        ),
        case(
            "unknown group",
            "GET",
            "/apis/batch/v1/jobs",
            404,
            "NotFound",
            "could not find the requested resource",
        ),
        case(
            "cluster resource under a namespace",
            "GET",
            "/api/v1/namespaces/default/nodes",
            404,
            "NotFound",
            "could not find",
        ),
        case(
            "unknown subresource",
            "GET",
            &format!("{pod_path}/exec"),
            404,
            "NotFound",
            "could not find",
        ),
        case(
            "missing object",
            "GET",
            "/api/v1/namespaces/kube-system/pods/nope",
            404,
            "NotFound",
            "pods \"nope\" not found",
        ),
        case(
            "missing grouped object",
            "GET",
            "/apis/apps/v1/namespaces/kube-system/daemonsets/nope",
            404,
            "NotFound",
            "daemonsets.apps \"nope\" not found",
        ),
        case(
            "bad limit",
            "GET",
            "/api/v1/pods?limit=ten",
            400,
            "BadRequest",
            "limit",
        ),
        case(
            "bad continue token",
            "GET",
            "/api/v1/pods?limit=1&continue=zz",
            400,
            "BadRequest",
            "continue",
        ),
        case(
            "bad resourceVersion",
            "GET",
            "/api/v1/pods?resourceVersion=abc",
            400,
            "BadRequest",
            "resourceVersion",
        ),
        case(
            "bad resourceVersionMatch",
            "GET",
            "/api/v1/pods?resourceVersion=1&resourceVersionMatch=Sometime",
            400,
            "BadRequest",
            "resourceVersionMatch",
        ),
        case(
            "bad watch flag",
            "GET",
            "/api/v1/pods?watch=maybe",
            400,
            "BadRequest",
            "watch",
        ),
        case(
            "initial events without bookmarks",
            "GET",
            "/api/v1/pods?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
            422,
            "Invalid",
            "allowWatchBookmarks",
        ),
        case(
            "initial events without NotOlderThan",
            "GET",
            "/api/v1/pods?watch=1&sendInitialEvents=true&allowWatchBookmarks=true",
            422,
            "Invalid",
            "NotOlderThan",
        ),
        case(
            "resourceVersionMatch on a plain watch",
            "GET",
            "/api/v1/pods?watch=1&resourceVersionMatch=NotOlderThan",
            422,
            "Invalid",
            "forbidden for watch",
        ),
        case(
            "bad watch resourceVersion",
            "GET",
            "/api/v1/pods?watch=1&resourceVersion=x1",
            400,
            "BadRequest",
            "resourceVersion",
        ),
        with_body(
            case(
                "create with invalid JSON",
                "POST",
                "/api/v1/namespaces/default/configmaps",
                400,
                "BadRequest",
                "json parse error",
            ),
            "application/json",
            "{\"kind\":",
        ),
        with_body(
            case(
                "create a non-object",
                "POST",
                "/api/v1/namespaces/default/configmaps",
                400,
                "BadRequest",
                "expected a JSON object",
            ),
            "application/json",
            "[1,2]",
        ),
        with_body(
            case(
                "create the wrong kind",
                "POST",
                "/api/v1/namespaces/default/configmaps",
                400,
                "BadRequest",
                "does not match the expected kind",
            ),
            "application/json",
            json!({"kind": "Pod", "metadata": {"name": "x"}}).to_string(),
        ),
        with_body(
            case(
                "create the wrong apiVersion",
                "POST",
                "/api/v1/namespaces/default/configmaps",
                400,
                "BadRequest",
                "API version",
            ),
            "application/json",
            json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "x"}})
                .to_string(),
        ),
        with_body(
            case(
                "create with a badly typed field",
                "POST",
                "/api/v1/namespaces/default/configmaps",
                400,
                "BadRequest",
                "unrecognized",
            ),
            "application/json",
            json!({"metadata": {"name": "x"}, "data": {"a": 1}}).to_string(),
        ),
        with_body(
            case(
                "create without a name",
                "POST",
                "/api/v1/namespaces/default/configmaps",
                422,
                "Invalid",
                "name or generateName is required",
            ),
            "application/json",
            json!({"metadata": {}}).to_string(),
        ),
        with_body(
            case(
                "create with an invalid name",
                "POST",
                "/api/v1/namespaces/default/configmaps",
                422,
                "Invalid",
                "RFC 1123",
            ),
            "application/json",
            cm("Not_Valid"),
        ),
        with_body(
            case(
                "create in a missing namespace",
                "POST",
                "/api/v1/namespaces/nope/configmaps",
                404,
                "NotFound",
                "namespaces \"nope\" not found",
            ),
            "application/json",
            cm("x"),
        ),
        with_body(
            case(
                "create a duplicate",
                "POST",
                "/api/v1/namespaces/kube-system/configmaps",
                409,
                "AlreadyExists",
                "already exists",
            ),
            "application/json",
            cm("coredns"),
        ),
        with_body(
            case(
                "create with an unknown field, strict",
                "POST",
                "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
                400,
                "BadRequest",
                "unknown field \"bogus\"",
            ),
            "application/json",
            json!({"metadata": {"name": "y"}, "bogus": 1}).to_string(),
        ),
        with_body(
            case(
                "bad fieldValidation",
                "POST",
                "/api/v1/namespaces/default/configmaps?fieldValidation=Loose",
                400,
                "BadRequest",
                "fieldValidation",
            ),
            "application/json",
            cm("z"),
        ),
        with_body(
            case(
                "dry run",
                "POST",
                "/api/v1/namespaces/default/configmaps?dryRun=All",
                400,
                "BadRequest",
                "dryRun",
            ),
            "application/json",
            cm("z"),
        ),
        with_body(
            case(
                "update with a stale resourceVersion",
                "PUT",
                &pod_path,
                409,
                "Conflict",
                "the object has been modified",
            ),
            "application/json",
            stale.to_string(),
        ),
        with_body(
            case(
                "update with another name",
                "PUT",
                &pod_path,
                400,
                "BadRequest",
                "does not match the name on the URL",
            ),
            "application/json",
            json!({"metadata": {"name": "other"}}).to_string(),
        ),
        with_body(
            case(
                "update a missing object",
                "PUT",
                "/api/v1/namespaces/default/configmaps/none",
                404,
                "NotFound",
                "not found",
            ),
            "application/json",
            cm("none"),
        ),
        with_body(
            case(
                "malformed JSON patch",
                "PATCH",
                &pod_path,
                400,
                "BadRequest",
                "error decoding patch",
            ),
            "application/json-patch+json",
            "{\"op\":",
        ),
        with_body(
            case(
                "JSON patch that cannot apply",
                "PATCH",
                &pod_path,
                422,
                "Invalid",
                "rejected our request",
            ),
            "application/json-patch+json",
            r#"[{"op":"remove","path":"/spec/nothing"}]"#,
        ),
        with_body(
            case(
                "JSON patch test that fails",
                "PATCH",
                &pod_path,
                422,
                "Invalid",
                "rejected our request",
            ),
            "application/json-patch+json",
            r#"[{"op":"test","path":"/metadata/name","value":"x"}]"#,
        ),
        with_body(
            case(
                "malformed merge patch",
                "PATCH",
                &pod_path,
                400,
                "BadRequest",
                "error decoding patch",
            ),
            "application/merge-patch+json",
            "{labels",
        ),
        with_body(
            case(
                "malformed strategic merge patch",
                "PATCH",
                &pod_path,
                400,
                "BadRequest",
                "error decoding patch",
            ),
            "application/strategic-merge-patch+json",
            "nope",
        ),
        with_body(
            case(
                "strategic patch that is not an object",
                "PATCH",
                &pod_path,
                400,
                "BadRequest",
                "must be a JSON object",
            ),
            "application/strategic-merge-patch+json",
            "[1]",
        ),
        with_body(
            case(
                "patch that breaks the type",
                "PATCH",
                &pod_path,
                400,
                "BadRequest",
                "unrecognized",
            ),
            "application/merge-patch+json",
            r#"{"spec":{"containers":"x"}}"#,
        ),
        with_body(
            case(
                "patch that replaces the document",
                "PATCH",
                &pod_path,
                422,
                "Invalid",
                "not a JSON object",
            ),
            "application/json-patch+json",
            r#"[{"op":"replace","path":"","value":3}]"#,
        ),
        with_body(
            case(
                "server-side apply",
                "PATCH",
                &pod_path,
                415,
                "UnsupportedMediaType",
                "unknown format",
            ),
            "application/apply-patch+yaml",
            "a: b",
        ),
        with_body(
            case(
                "strategic patch on a custom resource",
                "PATCH",
                "/apis/k8s.cni.cncf.io/v1/namespaces/default/network-attachment-definitions/attachnet",
                415,
                "UnsupportedMediaType",
                "unknown format",
            ),
            "application/strategic-merge-patch+json",
            "{}",
        ),
        with_body(
            case(
                "oversized body",
                "POST",
                "/api/v1/namespaces/default/configmaps",
                413,
                "RequestEntityTooLarge",
                "limit is 3145728",
            ),
            "application/json",
            vec![b' '; 3 * 1024 * 1024 + 1],
        ),
        with_body(
            case(
                "delete with bad options",
                "DELETE",
                &pod_path,
                400,
                "BadRequest",
                "unknown format",
            ),
            "application/json",
            "{grace",
        ),
        with_body(
            case(
                "delete with a wrong uid precondition",
                "DELETE",
                &pod_path,
                409,
                "Conflict",
                "Precondition failed",
            ),
            "application/json",
            json!({"preconditions": {"uid": "not-it"}}).to_string(),
        ),
        case(
            "delete a missing object",
            "DELETE",
            "/api/v1/namespaces/default/configmaps/none",
            404,
            "NotFound",
            "not found",
        ),
        case(
            "delete a collection",
            "DELETE",
            "/api/v1/namespaces/default/configmaps",
            405,
            "MethodNotAllowed",
            "does not allow this method",
        ),
        case(
            "post to an object",
            "POST",
            &pod_path,
            405,
            "MethodNotAllowed",
            "does not allow",
        ),
        case(
            "create without a namespace",
            "POST",
            "/api/v1/pods",
            405,
            "MethodNotAllowed",
            "does not allow",
        ),
        case(
            "discovery is read-only",
            "DELETE",
            "/api/v1",
            405,
            "MethodNotAllowed",
            "does not allow",
        ),
        case(
            "twin path that does not exist",
            "GET",
            "/twin/v1/nothing",
            404,
            "NotFound",
            "could not find",
        ),
        case(
            "twin chaos with a bad number",
            "POST",
            "/twin/v1/chaos/outage?seconds=-3",
            400,
            "BadRequest",
            "non-negative",
        ),
        case(
            "twin ready on a missing pod",
            "POST",
            "/twin/v1/pods/default/none/ready",
            404,
            "NotFound",
            "not found",
        ),
    ];
    let before = twin.with_store(|s| s.resource_version());
    for c in &cases {
        let (code, v, text) = send(&twin, c).await;
        let ctx = format!("{}: {} {} -> {code} {text}", c.what, c.method, c.path);
        assert_eq!(code, c.code, "{ctx}");
        assert_eq!(v["kind"], "Status", "{ctx}");
        assert_eq!(v["apiVersion"], "v1", "{ctx}");
        assert_eq!(v["status"], "Failure", "{ctx}");
        assert_eq!(v["code"], c.code, "{ctx}");
        assert_eq!(v["reason"], c.reason, "{ctx}");
        assert!(
            v["message"].as_str().unwrap_or("").contains(c.message_has),
            "{ctx}"
        );
    }
    assert_eq!(
        twin.with_store(|s| s.resource_version()),
        before,
        "no failed request changed the store"
    );
    // The server still answers normally afterwards.
    let ok = send(
        &twin,
        &case("list", "GET", "/api/v1/pods?limit=2", 200, "", ""),
    )
    .await;
    assert_eq!(ok.0, StatusCode::OK.as_u16(), "{}", ok.2);
    assert_eq!(ok.1["items"].as_array().unwrap().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn watch_from_a_compacted_version_is_an_expired_error_event() {
    let twin = Twin::new(TwinConfig {
        history: 5,
        ..TwinConfig::default()
    });
    snapshot::kind_cluster(&twin, &Default::default()).unwrap();
    let c = case(
        "watch",
        "GET",
        "/api/v1/pods?watch=1&resourceVersion=3",
        200,
        "",
        "",
    );
    let (code, v, text) = send(&twin, &c).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(v["type"], "ERROR", "{text}");
    assert_eq!(v["object"]["code"], 410, "{text}");
    assert_eq!(v["object"]["reason"], "Expired", "{text}");
    assert!(
        v["object"]["message"]
            .as_str()
            .unwrap()
            .starts_with("too old resource version: 3 ("),
        "{text}"
    );
    // A continue token from before the history is Expired too ("0:/" hex).
    let c = case(
        "continue",
        "GET",
        "/api/v1/pods?limit=1&continue=303a2f",
        410,
        "Expired",
        "too old",
    );
    let (code, v, text) = send(&twin, &c).await;
    assert_eq!(code, 410, "{text}");
    assert_eq!(v["reason"], "Expired", "{text}");
    assert!(v["message"].as_str().unwrap().contains("too old"), "{text}");
}
