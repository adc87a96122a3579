//! Request paths, parsed into [`Route`]s.

use crate::resource::{self, ResourceType};

/// What a path addresses.
#[derive(Debug, PartialEq)]
pub enum Route {
    /// `/version`
    Version,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1`, `/apis/{group}/{version}`
    ResourceList { group: String, version: String },
    /// A resource collection or object.
    Resource(ResourceRoute),
    /// `/twin/v1/...` (segments after the prefix).
    Control(Vec<String>),
    /// `/healthz`, `/readyz`, `/livez`
    Health,
    /// `/openapi/v3`
    OpenApiRoot,
    /// `/openapi/v3/api/v1`, `/openapi/v3/apis/{group}/{version}`
    OpenApiGroup { group: String, version: String },
    /// Anything else.
    Unknown,
}

/// A resource path.
#[derive(Debug, PartialEq)]
pub struct ResourceRoute {
    /// The resource type.
    pub rt: &'static ResourceType,
    /// The namespace in the path; `None` for all namespaces or cluster scope.
    pub namespace: Option<String>,
    /// The object name, if the path names one.
    pub name: Option<String>,
    /// The subresource (`status`), if any.
    pub sub: Option<String>,
}

/// Parses a request path.
pub fn parse(path: &str) -> Route {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "readyz" | "livez", ..] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["openapi", "v3"] => Route::OpenApiRoot,
        ["openapi", "v3", "api", v] => Route::OpenApiGroup {
            group: String::new(),
            version: (*v).to_string(),
        },
        ["openapi", "v3", "apis", g, v] => Route::OpenApiGroup {
            group: (*g).to_string(),
            version: (*v).to_string(),
        },
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group((*g).to_string()),
        ["api", v] => Route::ResourceList {
            group: String::new(),
            version: (*v).to_string(),
        },
        ["apis", g, v] => Route::ResourceList {
            group: (*g).to_string(),
            version: (*v).to_string(),
        },
        ["twin", "v1", rest @ ..] => {
            Route::Control(rest.iter().map(|s| (*s).to_string()).collect())
        }
        ["api", v, rest @ ..] => resource_route("", v, rest),
        ["apis", g, v, rest @ ..] => resource_route(g, v, rest),
        _ => Route::Unknown,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Route {
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !matches!(*plural, "status" | "finalize") => {
            (Some((*ns).to_string()), [&[*plural][..], tail].concat())
        }
        _ => (None, rest.to_vec()),
    };
    let Some(rt) = rest.first().and_then(|p| resource::find(group, version, p)) else {
        return Route::Unknown;
    };
    if namespace.is_some() && !rt.namespaced {
        return Route::Unknown;
    }
    let name = rest.get(1).map(|s| (*s).to_string());
    let sub = rest.get(2).map(|s| (*s).to_string());
    let allowed = |s: &str| match s {
        "status" => rt.status_subresource,
        "log" => rt.plural == "pods",
        _ => false,
    };
    if rest.len() > 3 || sub.as_deref().is_some_and(|s| !allowed(s)) {
        return Route::Unknown;
    }
    Route::Resource(ResourceRoute {
        rt,
        namespace,
        name,
        sub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourceRoute {
        match parse(path) {
            Route::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn parses_kubernetes_paths() {
        let r = res("/api/v1/namespaces/kube-system/pods/coredns-x/status");
        assert_eq!(r.rt.plural, "pods");
        assert_eq!(r.namespace.as_deref(), Some("kube-system"));
        assert_eq!(r.name.as_deref(), Some("coredns-x"));
        assert_eq!(r.sub.as_deref(), Some("status"));
        let r = res("/api/v1/pods");
        assert!(r.namespace.is_none() && r.name.is_none());
        let r = res("/api/v1/namespaces/kube-system");
        assert_eq!(r.rt.plural, "namespaces");
        assert_eq!(r.name.as_deref(), Some("kube-system"));
        let r = res("/api/v1/namespaces/kube-system/status");
        assert_eq!(r.sub.as_deref(), Some("status"));
        let r = res("/apis/apps/v1/namespaces/kube-system/daemonsets/ovs-ovn");
        assert_eq!(r.rt.kind, "DaemonSet");
        let r = res("/apis/k8s.cni.cncf.io/v1/network-attachment-definitions");
        assert_eq!(r.rt.kind, "NetworkAttachmentDefinition");
        assert_eq!(parse("/api/v1/namespaces/x/nodes"), Route::Unknown);
        assert_eq!(parse("/api/v1/widgets"), Route::Unknown);
        assert_eq!(parse("/api/v1/pods/a/exec"), Route::Unknown);
        assert_eq!(parse("/apis/apps/v1/pods"), Route::Unknown);
        assert_eq!(parse("/version"), Route::Version);
        assert_eq!(
            parse("/twin/v1/truth"),
            Route::Control(vec!["truth".into()])
        );
    }
}
