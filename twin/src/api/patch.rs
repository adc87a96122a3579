//! PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and
//! strategic merge patch for the map and keyed-list cases kubectl sends
//! (`cordon`: `{"spec":{"unschedulable":true}}`; label, annotation,
//! container and condition edits). Server-side apply is not served.

use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::resource::ResourceType;

/// Lists that strategic merge patch merges by a key instead of replacing.
const MERGE_KEYS: &[(&str, &str)] = &[
    ("containers", "name"),
    ("initContainers", "name"),
    ("ephemeralContainers", "name"),
    ("volumes", "name"),
    ("volumeMounts", "mountPath"),
    ("env", "name"),
    ("ports", "containerPort"),
    ("conditions", "type"),
    ("addresses", "type"),
    ("taints", "key"),
    ("ownerReferences", "uid"),
    ("imagePullSecrets", "name"),
    ("tolerations", "key"),
];

/// Primitive lists that strategic merge patch merges as sets.
const SET_LISTS: &[&str] = &["finalizers"];

/// Applies a patch body of `content_type` to `current`.
pub fn apply(
    rt: &ResourceType,
    content_type: &str,
    current: &Value,
    body: &[u8],
) -> Result<Value, ApiError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    let mut doc = current.clone();
    match media {
        "application/json-patch+json" => {
            let patch: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            json_patch::patch(&mut doc, &patch).map_err(|e| ApiError::UnprocessablePatch {
                message: format!(
                    "the server rejected our request due to an error in our request: {e}"
                ),
            })?;
        }
        "application/merge-patch+json" => {
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            json_patch::merge(&mut doc, &patch);
        }
        "application/strategic-merge-patch+json" => {
            if !rt.group.is_empty() && !matches!(rt.group, "apps" | "coordination.k8s.io") {
                return Err(ApiError::UnsupportedMediaType {
                    accepted: "application/json-patch+json, application/merge-patch+json".into(),
                });
            }
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
            if !patch.is_object() {
                return Err(ApiError::bad_request(
                    "strategic merge patch must be a JSON object",
                ));
            }
            doc = strategic_merge(&doc, &patch);
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType {
                accepted: "application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json".into(),
            });
        }
    }
    if !doc.is_object() {
        return Err(ApiError::UnprocessablePatch {
            message: "the patched object is not a JSON object".into(),
        });
    }
    Ok(doc)
}

/// Strategic merge patch of `patch` onto `original` for the cases listed
/// in [`MERGE_KEYS`] and [`SET_LISTS`]; other lists are replaced, `null`
/// deletes, `$`-directives for ordering and retained keys are dropped.
pub fn strategic_merge(original: &Value, patch: &Value) -> Value {
    merge_value(None, original, patch)
}

fn merge_value(field: Option<&str>, original: &Value, patch: &Value) -> Value {
    match (original, patch) {
        (Value::Object(o), Value::Object(p)) => {
            if p.get("$patch").and_then(Value::as_str) == Some("replace") {
                let mut p = p.clone();
                p.remove("$patch");
                return Value::Object(p);
            }
            let mut out = o.clone();
            for (k, v) in p {
                if let Some(list) = k.strip_prefix("$deleteFromPrimitiveList/") {
                    if let (Some(Value::Array(items)), Some(remove)) =
                        (out.get_mut(list), v.as_array())
                    {
                        items.retain(|x| !remove.contains(x));
                    }
                    continue;
                }
                if k.starts_with('$') {
                    continue;
                }
                if v.is_null() {
                    out.remove(k);
                    continue;
                }
                let merged = match out.get(k) {
                    Some(existing) => merge_value(Some(k), existing, v),
                    None => strip_directives(v),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(o), Value::Array(p)) => merge_list(field, o, p),
        (_, p) => strip_directives(p),
    }
}

fn merge_list(field: Option<&str>, original: &[Value], patch: &[Value]) -> Value {
    let Some(field) = field else {
        return Value::Array(patch.to_vec());
    };
    if SET_LISTS.contains(&field) {
        let mut out = original.to_vec();
        for v in patch {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        return Value::Array(out);
    }
    let Some((_, key)) = MERGE_KEYS.iter().find(|(f, _)| *f == field) else {
        return Value::Array(patch.iter().map(strip_directives).collect());
    };
    if !patch.iter().all(Value::is_object) {
        return Value::Array(patch.to_vec());
    }
    let mut out: Vec<Value> = original.to_vec();
    for p in patch {
        let id = p.get(*key);
        let pos = out.iter().position(|o| o.get(*key) == id && id.is_some());
        let delete = p.get("$patch").and_then(Value::as_str) == Some("delete");
        match (pos, delete) {
            (Some(i), true) => {
                out.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => out[i] = merge_value(None, &out[i], p),
            (None, false) => out.push(strip_directives(p)),
        }
    }
    Value::Array(out)
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let out: Map<String, Value> = m
                .iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect();
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::by_plural;
    use serde_json::json;

    #[test]
    fn cordon_and_uncordon_as_kubectl_sends_them() {
        let nodes = by_plural("nodes").unwrap();
        let node = json!({"metadata": {"name": "n"}, "spec": {"podCIDR": "10.0.0.0/24"}});
        let on = apply(
            nodes,
            "application/strategic-merge-patch+json",
            &node,
            br#"{"spec":{"unschedulable":true}}"#,
        )
        .unwrap();
        assert_eq!(
            on["spec"],
            json!({"podCIDR": "10.0.0.0/24", "unschedulable": true})
        );
        let off = apply(
            nodes,
            "application/strategic-merge-patch+json",
            &on,
            br#"{"spec":{"unschedulable":null}}"#,
        )
        .unwrap();
        assert_eq!(off["spec"], json!({"podCIDR": "10.0.0.0/24"}));
    }

    #[test]
    fn keyed_lists_merge_and_other_forms_apply() {
        let pods = by_plural("pods").unwrap();
        let pod = json!({"metadata": {"finalizers": ["a"]}, "spec": {"containers": [{"name": "c", "image": "1"}, {"name": "d", "image": "1"}]}});
        let out = strategic_merge(
            &pod,
            &json!({
                "metadata": {"finalizers": ["b"]},
                "spec": {"$setElementOrder/containers": [{"name": "c"}], "containers": [{"name": "c", "image": "2"}, {"name": "d", "$patch": "delete"}]}
            }),
        );
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "c", "image": "2"}])
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        let merged = apply(
            pods,
            "application/merge-patch+json",
            &pod,
            br#"{"metadata":{"labels":{"x":"y"}}}"#,
        )
        .unwrap();
        assert_eq!(merged["metadata"]["labels"]["x"], "y");
        let jp = apply(
            pods,
            "application/json-patch+json",
            &pod,
            br#"[{"op":"replace","path":"/spec/containers/0/image","value":"3"}]"#,
        )
        .unwrap();
        assert_eq!(jp["spec"]["containers"][0]["image"], "3");
        let bad = apply(
            pods,
            "application/json-patch+json",
            &pod,
            br#"[{"op":"remove","path":"/nope"}]"#,
        )
        .unwrap_err();
        assert_eq!(bad.code(), 422);
        assert_eq!(
            apply(pods, "application/json-patch+json", &pod, b"{")
                .unwrap_err()
                .code(),
            400
        );
        assert_eq!(
            apply(pods, "application/merge-patch+json", &pod, b"nope")
                .unwrap_err()
                .code(),
            400
        );
        assert_eq!(
            apply(pods, "application/apply-patch+yaml", &pod, b"a: b")
                .unwrap_err()
                .code(),
            415
        );
        let nad = by_plural("network-attachment-definitions").unwrap();
        assert_eq!(
            apply(nad, "application/strategic-merge-patch+json", &pod, b"{}")
                .unwrap_err()
                .code(),
            415
        );
    }
}
