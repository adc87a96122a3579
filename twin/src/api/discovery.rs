//! Discovery documents: `/version`, `/api`, `/apis`, `/apis/{g}`,
//! `/api/v1`, `/apis/{g}/{v}`. Always the legacy (unaggregated) JSON forms;
//! clients that ask for aggregated discovery (`as=APIGroupDiscoveryList`)
//! fall back to them, as kubectl does against servers without it.

use serde_json::{Value, json};

use crate::resource::{self, RESOURCES};

/// The Kubernetes version the twin claims to be without a cluster model
/// (kind's node image for 1.33); a model reports its cell's release.
pub const KUBE_VERSION: &str = "v1.33.1";

/// `/version` for the release `git_version` (`v1.35.0`): major and minor
/// from it; the build fields the twin cannot know (commit, date, Go
/// release) are empty, except for [`KUBE_VERSION`]'s own.
pub fn version(git_version: &str) -> Value {
    let mut parts = git_version.trim_start_matches('v').split('.');
    let major = parts.next().unwrap_or("1");
    let minor = parts.next().unwrap_or("");
    let (commit, date, go) = if git_version == KUBE_VERSION {
        (
            "8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828",
            "2025-05-15T08:19:08Z",
            "go1.24.2",
        )
    } else {
        ("", "", "")
    };
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": git_version,
        "gitCommit": commit,
        "gitTreeState": "clean",
        "buildDate": date,
        "goVersion": go,
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`.
pub fn core_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "172.18.0.2:6443"}],
    })
}

fn group(name: &str, version: &str) -> Value {
    let gv = format!("{name}/{version}");
    json!({
        "name": name,
        "versions": [{"groupVersion": gv, "version": version}],
        "preferredVersion": {"groupVersion": gv, "version": version},
    })
}

/// `/apis`.
pub fn groups() -> Value {
    let groups: Vec<Value> = resource::groups()
        .into_iter()
        .map(|(g, v)| group(g, v))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`, or `None` for an unknown group.
pub fn api_group(name: &str) -> Option<Value> {
    let (g, v) = resource::groups().into_iter().find(|(g, _)| *g == name)?;
    let mut doc = group(g, v);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// `/api/v1` or `/apis/{g}/{v}`, or `None` when no resource is served there.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for rt in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let mut r = json!({
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": rt.verbs(),
        });
        if !rt.short_names.is_empty() {
            r["shortNames"] = json!(rt.short_names);
        }
        if !rt.categories.is_empty() {
            r["categories"] = json!(rt.categories);
        }
        resources.push(r);
        if rt.status_subresource {
            resources.push(json!({
                "name": format!("{}/status", rt.plural),
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

/// The hash the OpenAPI v3 root advertises (the documents never change).
const OPENAPI_HASH: &str = "cnichaostwin0001";

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3`: one entry per served group-version.
pub fn openapi_v3_root() -> Value {
    let mut paths = serde_json::Map::new();
    let mut gvs = vec![(String::new(), "v1".to_string())];
    gvs.extend(
        resource::groups()
            .into_iter()
            .map(|(g, v)| (g.to_string(), v.to_string())),
    );
    for (g, v) in gvs {
        let p = gv_path(&g, &v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={OPENAPI_HASH}")}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/{api/v1 | apis/g/v}`: a minimal document that declares, per
/// kind, the PATCH operation with its `fieldValidation` query parameter.
/// That is all kubectl reads from it to decide that the server validates
/// fields itself (`--validate=strict` then sends `fieldValidation=Strict`
/// instead of validating client-side); schemas are not served.
pub fn openapi_v3_group(group: &str, version: &str) -> Option<Value> {
    let mut paths = serde_json::Map::new();
    for rt in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let base = format!("/{}", gv_path(group, version));
        let item = if rt.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", rt.plural)
        } else {
            format!("{base}/{}/{{name}}", rt.plural)
        };
        let gvk = json!({"group": group, "version": version, "kind": rt.kind});
        let params = json!([
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
        ]);
        let op = |verb: &str| {
            json!({
                "operationId": format!("{verb}{}", rt.kind),
                "parameters": params,
                "x-kubernetes-action": verb,
                "x-kubernetes-group-version-kind": gvk,
                "responses": {"200": {"description": "OK"}},
            })
        };
        paths.insert(item, json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
        let collection = if rt.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", rt.plural)
        } else {
            format!("{base}/{}", rt.plural)
        };
        paths.insert(collection, json!({"post": op("post"), "get": op("list")}));
    }
    if paths.is_empty() {
        return None;
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": KUBE_VERSION},
        "paths": paths,
        "components": {"schemas": {}},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_list_what_is_served() {
        let core = resource_list("", "v1").unwrap();
        let names: Vec<&str> = core["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains(&"pods") && names.contains(&"pods/status") && names.contains(&"events")
        );
        let apps = resource_list("apps", "v1").unwrap();
        assert_eq!(apps["groupVersion"], "apps/v1");
        assert!(resource_list("batch", "v1").is_none());
        let g = groups();
        assert!(
            g["groups"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["name"] == "k8s.cni.cncf.io")
        );
        assert_eq!(api_group("apps").unwrap()["kind"], "APIGroup");
        assert_eq!(version(KUBE_VERSION)["minor"], "33");
        let v = version("v1.35.0");
        assert_eq!((&v["major"], &v["minor"]), (&json!("1"), &json!("35")));
        assert_eq!(v["gitVersion"], "v1.35.0");
    }
}
