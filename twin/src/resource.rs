//! The resource types the twin serves, with the discovery facts a real API
//! server publishes for them (group, version, kind, scope, short names,
//! verbs) and the field selectors it accepts.

use serde_json::Value;

/// One served resource type.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceType {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// Plural resource name used in URLs, e.g. `pods`.
    pub plural: &'static str,
    /// Singular name, e.g. `pod`.
    pub singular: &'static str,
    /// Kind, e.g. `Pod`.
    pub kind: &'static str,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// kubectl short names.
    pub short_names: &'static [&'static str],
    /// Discovery categories (`all`).
    pub categories: &'static [&'static str],
    /// Whether the resource has a `status` subresource.
    pub status_subresource: bool,
    /// Whether `metadata.generation` tracks spec changes.
    pub generation: bool,
    /// Field selector paths beyond `metadata.name` / `metadata.namespace`.
    pub fields: &'static [&'static str],
}

impl ResourceType {
    /// `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural.group` (or just `plural`), as error messages name resources.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The kind of a list of this resource.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Whether `field` may be used in a field selector.
    pub fn supports_field(&self, field: &str) -> bool {
        matches!(field, "metadata.name" | "metadata.namespace") || self.fields.contains(&field)
    }

    /// The value of a selectable field of `obj` (the empty string when the
    /// object lacks it), or `None` for an unsupported field.
    pub fn field_value(&self, obj: &Value, field: &str) -> Option<String> {
        if !self.supports_field(field) {
            return None;
        }
        let v = match field {
            "source" => obj.pointer("/source/component").cloned(),
            "spec.unschedulable" | "spec.hostNetwork" => Some(Value::String(
                obj.pointer(&pointer(field))
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    .to_string(),
            )),
            _ => obj.pointer(&pointer(field)).cloned(),
        };
        Some(match v {
            Some(Value::String(s)) => s,
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        })
    }

    /// All verbs a collection of this type supports.
    pub fn verbs(&self) -> &'static [&'static str] {
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}

fn pointer(field: &str) -> String {
    format!("/{}", field.replace('.', "/"))
}

const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];

const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

/// Every resource type the twin serves.
pub static RESOURCES: &[ResourceType] = &[
    ResourceType {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        categories: &[],
        status_subresource: true,
        generation: false,
        fields: &["status.phase"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "nodes",
        singular: "node",
        kind: "Node",
        namespaced: false,
        short_names: &["no"],
        categories: &[],
        status_subresource: true,
        generation: false,
        fields: &["spec.unschedulable"],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        short_names: &["po"],
        categories: &["all"],
        status_subresource: true,
        generation: false,
        fields: POD_FIELDS,
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        categories: &[],
        status_subresource: false,
        generation: false,
        fields: EVENT_FIELDS,
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        short_names: &["cm"],
        categories: &[],
        status_subresource: false,
        generation: false,
        fields: &[],
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "services",
        singular: "service",
        kind: "Service",
        namespaced: true,
        short_names: &["svc"],
        categories: &["all"],
        status_subresource: true,
        generation: false,
        fields: &[],
    },
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "daemonsets",
        singular: "daemonset",
        kind: "DaemonSet",
        namespaced: true,
        short_names: &["ds"],
        categories: &["all"],
        status_subresource: true,
        generation: true,
        fields: &[],
    },
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "deployments",
        singular: "deployment",
        kind: "Deployment",
        namespaced: true,
        short_names: &["deploy"],
        categories: &["all"],
        status_subresource: true,
        generation: true,
        fields: &[],
    },
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "statefulsets",
        singular: "statefulset",
        kind: "StatefulSet",
        namespaced: true,
        short_names: &["sts"],
        categories: &["all"],
        status_subresource: true,
        generation: true,
        fields: &[],
    },
    ResourceType {
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        singular: "lease",
        kind: "Lease",
        namespaced: true,
        short_names: &[],
        categories: &[],
        status_subresource: false,
        generation: false,
        fields: &[],
    },
    ResourceType {
        group: "k8s.cni.cncf.io",
        version: "v1",
        plural: "network-attachment-definitions",
        singular: "network-attachment-definition",
        kind: "NetworkAttachmentDefinition",
        namespaced: true,
        short_names: &["net-attach-def"],
        categories: &[],
        status_subresource: false,
        generation: true,
        fields: &[],
    },
    // Kube-OVN's VPC NAT gateway resources (cluster-scoped, with status:
    // kubeovn/kube-ovn@v1.14.41:pkg/apis/kubeovn/v1, +genclient:nonNamespaced;
    // short names from dist/images/install.sh's CRDs).
    kubeovn("vpcs", "vpc", "Vpc", &["vpc"]),
    kubeovn("subnets", "subnet", "Subnet", &["subnet"]),
    kubeovn(
        "vpc-nat-gateways",
        "vpc-nat-gateway",
        "VpcNatGateway",
        &["vpc-nat-gw"],
    ),
    kubeovn("iptables-eips", "iptables-eip", "IptablesEIP", &["eip"]),
    kubeovn(
        "iptables-snat-rules",
        "iptables-snat-rule",
        "IptablesSnatRule",
        &["snat"],
    ),
];

/// A cluster-scoped `kubeovn.io/v1` resource with a status subresource.
const fn kubeovn(
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    short_names: &'static [&'static str],
) -> ResourceType {
    ResourceType {
        group: "kubeovn.io",
        version: "v1",
        plural,
        singular,
        kind,
        namespaced: false,
        short_names,
        categories: &[],
        status_subresource: true,
        generation: true,
        fields: &[],
    }
}

/// Looks a resource up by group, version and plural name.
pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// Looks a resource up by plural name alone (unique among [`RESOURCES`]).
pub fn by_plural(plural: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.plural == plural)
}

/// The API groups (other than core) and their versions, in discovery order.
pub fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !r.group.is_empty() && !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_resources_and_extracts_fields() {
        let pods = find("", "v1", "pods").unwrap();
        assert_eq!(pods.api_version(), "v1");
        let ds = by_plural("daemonsets").unwrap();
        assert_eq!(ds.qualified(), "daemonsets.apps");
        assert!(find("apps", "v1", "pods").is_none());
        let pod = json!({"spec": {"nodeName": "w"}, "status": {"phase": "Running"}});
        assert_eq!(
            pods.field_value(&pod, "spec.nodeName").as_deref(),
            Some("w")
        );
        assert_eq!(
            pods.field_value(&pod, "spec.hostNetwork").as_deref(),
            Some("false")
        );
        assert_eq!(pods.field_value(&pod, "status.podIP").as_deref(), Some(""));
        assert_eq!(pods.field_value(&pod, "spec.bogus"), None);
        let ev = by_plural("events").unwrap();
        let e = json!({"source": {"component": "kubelet"}});
        assert_eq!(ev.field_value(&e, "source").as_deref(), Some("kubelet"));
        assert_eq!(groups()[0], ("apps", "v1"));
    }
}
