//! Validation a real API server applies on writes: the body decodes as the
//! resource's type (else 400, as the server's decoder answers), the name is
//! a DNS subdomain (else 422 Invalid).

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Pod};
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::resource::ResourceType;

/// Runs `$f::<T>($obj)` with `T` the k8s-openapi type of `$kind`, or
/// evaluates `$untyped` for kinds without one (custom resources).
macro_rules! typed {
    ($kind:expr, $f:ident($obj:expr), $untyped:expr) => {
        match $kind {
            "Pod" => $f::<Pod>($obj),
            "Node" => $f::<Node>($obj),
            "Namespace" => $f::<Namespace>($obj),
            "Event" => $f::<Event>($obj),
            "ConfigMap" => $f::<ConfigMap>($obj),
            "DaemonSet" => $f::<DaemonSet>($obj),
            "Deployment" => $f::<Deployment>($obj),
            "StatefulSet" => $f::<StatefulSet>($obj),
            "Lease" => $f::<Lease>($obj),
            _ => $untyped,
        }
    };
}

/// Checks that `obj` decodes as `rt`'s type; the error is the decoder's.
pub fn decodes(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    fn check<'a, T: Deserialize<'a>>(obj: &'a Value) -> Result<(), String> {
        T::deserialize(obj).map(|_| ()).map_err(|e| e.to_string())
    }
    let untyped = if obj.get("metadata").is_some_and(|m| !m.is_object()) {
        Err("metadata must be an object".to_string())
    } else {
        Ok(())
    };
    let result = typed!(rt.kind, check(obj), untyped);
    result.map_err(|e| {
        ApiError::bad_request(format!(
            "the object provided is unrecognized ({}): {e}",
            rt.kind
        ))
    })
}

/// Fields of `obj` that `rt`'s type does not know (dotted paths), found by
/// decoding into the typed struct and comparing with its re-encoding. Empty
/// for untyped resources (custom resources keep every field).
pub fn unknown_fields(rt: &ResourceType, obj: &Value) -> Vec<String> {
    fn round_trip<'a, T: Deserialize<'a> + serde::Serialize>(obj: &'a Value) -> Option<Value> {
        T::deserialize(obj)
            .ok()
            .and_then(|t| serde_json::to_value(t).ok())
    }
    let typed = typed!(rt.kind, round_trip(obj), None);
    let mut out = Vec::new();
    if let Some(typed) = typed {
        diff("", obj, &typed, &mut out);
    }
    out
}

fn diff(path: &str, given: &Value, known: &Value, out: &mut Vec<String>) {
    match (given, known) {
        (Value::Object(g), Value::Object(k)) => {
            for (key, v) in g {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match k.get(key) {
                    Some(kv) => diff(&p, v, kv, out),
                    None if !v.is_null() => out.push(p),
                    None => {}
                }
            }
        }
        (Value::Array(g), Value::Array(k)) => {
            for (i, (gv, kv)) in g.iter().zip(k).enumerate() {
                diff(&format!("{path}[{i}]"), gv, kv, out);
            }
        }
        _ => {}
    }
}

/// Validates a name as a DNS-1123 subdomain (what most resources require).
pub fn name(kind: &str, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::Invalid {
            kind: kind.to_string(),
            name: name.to_string(),
            message: format!(
                "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::by_plural;
    use serde_json::json;

    #[test]
    fn decoding_and_names() {
        let pods = by_plural("pods").unwrap();
        assert!(
            decodes(
                pods,
                &json!({"metadata": {"name": "a"}, "spec": {"containers": []}})
            )
            .is_ok()
        );
        let err = decodes(pods, &json!({"metadata": {"labels": {"a": 1}}})).unwrap_err();
        assert_eq!(err.code(), 400);
        assert!(name("Pod", "ovs-ovn-x2k9p").is_ok());
        let unknown = unknown_fields(
            pods,
            &json!({"metadata": {"name": "a", "bogus": 1}, "spec": {"containers": [{"name": "c", "colour": "red"}]}}),
        );
        assert_eq!(unknown, ["metadata.bogus", "spec.containers[0].colour"]);
        let nad = by_plural("network-attachment-definitions").unwrap();
        assert!(unknown_fields(nad, &json!({"spec": {"anything": 1}})).is_empty());
        assert_eq!(name("Pod", "Bad_Name").unwrap_err().code(), 422);
        assert_eq!(name("Pod", "").unwrap_err().code(), 422);
    }
}
