//! Get, list, create, update, patch and delete of resource paths.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Response;
use serde_json::{Value, json};

use super::params::Params;
use super::path::ResourceRoute;
use super::{patch, respond, table};
use crate::error::{ApiError, success_status};
use crate::store::{DeleteOutcome, ObjectKey, Write};
use crate::twin::Twin;

/// Whether the client asked for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.contains("as=Table")
}

fn not_found(route: &ResourceRoute, name: &str) -> ApiError {
    ApiError::NotFound {
        resource: route.rt.qualified(),
        name: name.to_string(),
    }
}

fn ns(route: &ResourceRoute) -> &str {
    route.namespace.as_deref().unwrap_or("")
}

/// GET of one object (or its status).
pub fn get(
    twin: &Twin,
    route: &ResourceRoute,
    name: &str,
    params: &Params,
    accept: &str,
) -> Result<Response<Body>, ApiError> {
    let obj = twin
        .with_store(|s| s.get(route.rt, ns(route), name))
        .ok_or_else(|| not_found(route, name))?;
    if wants_table(accept) {
        let meta = json!({"resourceVersion": obj.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null)});
        let t = table::table(
            route.rt,
            &[&obj],
            twin.clock().now(),
            params.include_object.as_deref(),
            meta,
        );
        return Ok(respond::json(200, &t));
    }
    Ok(respond::bytes(
        200,
        serde_json::to_vec(&*obj).unwrap_or_default(),
    ))
}

/// `GET .../pods/{name}/log?container=C&previous=true&tailLines=N`: the
/// container's log from the installed log source, as text. A pod that does
/// not exist is 404; a container it does not have is 400, as the API
/// server answers.
pub fn logs(
    twin: &Twin,
    route: &ResourceRoute,
    name: &str,
    query: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    twin.with_store(|s| s.get(route.rt, ns(route), name))
        .ok_or_else(|| not_found(route, name))?;
    let (mut container, mut previous, mut tail) = (None, false, None);
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "container" => container = Some(v.into_owned()),
            "previous" => previous = v == "true",
            "tailLines" => {
                tail = Some(v.parse::<usize>().map_err(|_| ApiError::BadRequest {
                    message: format!("tailLines: invalid value {v:?}"),
                })?);
            }
            _ => {}
        }
    }
    let q = crate::LogQuery {
        namespace: ns(route).to_string(),
        pod: name.to_string(),
        container: container.clone(),
        previous,
    };
    let text = twin.logs(&q).ok_or_else(|| ApiError::BadRequest {
        message: format!(
            "container {} is not valid for pod {name}",
            container.as_deref().unwrap_or("(none)")
        ),
    })?;
    let text = match tail {
        Some(n) => {
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(n);
            let mut out = lines[from..].join("\n");
            if !out.is_empty() {
                out.push('\n');
            }
            out
        }
        None => text,
    };
    Ok(respond::text(text))
}

fn encode_continue(rv: u64, key: &ObjectKey) -> String {
    format!("{rv}:{}/{}", key.namespace, key.name)
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_continue(token: &str) -> Result<(u64, String, String), ApiError> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token:?}"));
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes: Vec<u8> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2).unwrap_or(""), 16))
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (rv, rest) = text.split_once(':').ok_or_else(bad)?;
    let (ns, name) = rest.split_once('/').ok_or_else(bad)?;
    Ok((
        rv.parse().map_err(|_| bad())?,
        ns.to_string(),
        name.to_string(),
    ))
}

/// LIST of a collection: selectors, limit + continue (consistent pages at
/// the first page's resourceVersion), `resourceVersionMatch=Exact`.
pub fn list(
    twin: &Twin,
    route: &ResourceRoute,
    params: &Params,
    accept: &str,
) -> Result<Response<Body>, ApiError> {
    params.check_fields(route.rt)?;
    let rt = route.rt;
    let namespace = route.namespace.as_deref();
    let (items, rv, next, remaining) = twin.with_store(|s| -> Result<_, ApiError> {
        let (all, rv, after) = if let Some(token) = &params.continue_token {
            let (rv, ns, name) = decode_continue(token)?;
            let all = s.list_at(rt, namespace, rv)?;
            (all, rv, Some(ObjectKey::new(rt.plural, &ns, &name)))
        } else {
            let rv_param = params.resource_version.as_deref().unwrap_or("");
            let exact = params.resource_version_match.as_deref() == Some("Exact");
            match params.resource_version_match.as_deref() {
                None | Some("Exact" | "NotOlderThan") => {}
                Some(other) => {
                    return Err(ApiError::bad_request(format!(
                        "resourceVersionMatch: Unsupported value: {other:?}: supported values: \"Exact\", \"NotOlderThan\""
                    )));
                }
            }
            if params.resource_version_match.is_some() && rv_param.is_empty() {
                return Err(ApiError::Invalid {
                    kind: "ListOptions".into(),
                    name: String::new(),
                    message: "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided".into(),
                });
            }
            if exact && rv_param != "0" {
                let rv: u64 = rv_param.parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid resourceVersion {rv_param:?}"))
                })?;
                (s.list_at(rt, namespace, rv)?, rv, None)
            } else {
                if !rv_param.is_empty() && rv_param.parse::<u64>().is_err() {
                    return Err(ApiError::bad_request(format!("invalid resourceVersion {rv_param:?}")));
                }
                (s.list(rt, namespace), s.resource_version(), None)
            }
        };
        let mut matching = all
            .into_iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
            .filter(|(_, v)| params.matches(rt, v));
        let mut items: Vec<(ObjectKey, Arc<Value>)> = Vec::new();
        let limit = params.limit.unwrap_or(usize::MAX);
        for item in matching.by_ref() {
            items.push(item);
            if items.len() == limit {
                break;
            }
        }
        let remaining = matching.count();
        let next = (remaining > 0)
            .then(|| items.last().map(|(k, _)| encode_continue(rv, k)))
            .flatten();
        Ok((items, rv, next, remaining))
    })?;
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(next) = next {
        meta["continue"] = json!(next);
        meta["remainingItemCount"] = json!(remaining);
    }
    if wants_table(accept) {
        let objs: Vec<&Value> = items.iter().map(|(_, v)| v.as_ref()).collect();
        let t = table::table(
            rt,
            &objs,
            twin.clock().now(),
            params.include_object.as_deref(),
            meta,
        );
        return Ok(respond::json(200, &t));
    }
    // Serialize by hand so 10,000 items are not cloned into one Value.
    let mut out = Vec::with_capacity(items.len() * 1024 + 256);
    out.extend_from_slice(
        format!(
            "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
            rt.list_kind(),
            rt.api_version(),
            meta
        )
        .as_bytes(),
    );
    for (i, (_, obj)) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, obj.as_ref()).map_err(|e| ApiError::Internal {
            message: e.to_string(),
        })?;
    }
    out.extend_from_slice(b"]}");
    Ok(respond::bytes(200, out))
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the object provided is unrecognized: json parse error: {e}"
        ))
    })
}

fn no_dry_run(params: &Params) -> Result<(), ApiError> {
    if params.dry_run {
        return Err(ApiError::bad_request("dryRun is not supported by the twin"));
    }
    Ok(())
}

/// POST to a collection.
pub fn create(
    twin: &Twin,
    route: &ResourceRoute,
    params: &Params,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    no_dry_run(params)?;
    if route.rt.namespaced && route.namespace.is_none() {
        return Err(ApiError::MethodNotAllowed {
            method: "POST".into(),
        });
    }
    let obj = parse_body(body)?;
    params.check_strict(route.rt, &obj)?;
    let created = twin.with_store(|s| s.create(route.rt, ns(route), obj))?;
    Ok(respond::bytes(
        201,
        serde_json::to_vec(&*created).unwrap_or_default(),
    ))
}

/// PUT of an object or its status.
pub fn update(
    twin: &Twin,
    route: &ResourceRoute,
    name: &str,
    params: &Params,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    no_dry_run(params)?;
    let obj = parse_body(body)?;
    params.check_strict(route.rt, &obj)?;
    let write = if route.sub.is_some() {
        Write::Status
    } else {
        Write::Main
    };
    let updated = twin.with_store(|s| s.update(route.rt, ns(route), name, obj, write))?;
    Ok(respond::bytes(
        200,
        serde_json::to_vec(&*updated).unwrap_or_default(),
    ))
}

/// PATCH of an object or its status.
pub fn patch(
    twin: &Twin,
    route: &ResourceRoute,
    name: &str,
    params: &Params,
    content_type: &str,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    no_dry_run(params)?;
    let write = if route.sub.is_some() {
        Write::Status
    } else {
        Write::Main
    };
    let updated = twin.with_store(|s| {
        let current = s
            .get(route.rt, ns(route), name)
            .ok_or_else(|| not_found(route, name))?;
        let mut patched = patch::apply(route.rt, content_type, &current, body)?;
        params.check_strict(route.rt, &patched)?;
        // A patch never carries a stale-version precondition unless it sets
        // one explicitly; keep the current version so update accepts it.
        if patched.pointer("/metadata/resourceVersion")
            == current.pointer("/metadata/resourceVersion")
            && let Some(m) = patched.get_mut("metadata").and_then(Value::as_object_mut)
        {
            m.remove("resourceVersion");
        }
        s.update(route.rt, ns(route), name, patched, write)
    })?;
    Ok(respond::bytes(
        200,
        serde_json::to_vec(&*updated).unwrap_or_default(),
    ))
}

/// DELETE of an object, with DeleteOptions in the body or query.
pub fn delete(
    twin: &Twin,
    route: &ResourceRoute,
    name: &str,
    params: &Params,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    no_dry_run(params)?;
    let opts: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!(
                "the body of the request was in an unknown format: {e}"
            ))
        })?
    };
    if !opts.is_object() {
        return Err(ApiError::bad_request("DeleteOptions must be a JSON object"));
    }
    if opts
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
    {
        return Err(ApiError::bad_request("dryRun is not supported by the twin"));
    }
    let grace = match opts.get("gracePeriodSeconds") {
        None | Some(Value::Null) => params.grace_period,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| ApiError::bad_request("gracePeriodSeconds must be an integer"))?,
        ),
    };
    let uid = opts.pointer("/preconditions/uid").and_then(Value::as_str);
    let outcome = twin.delete_with(route.rt, ns(route), name, grace, uid)?;
    let body = match outcome {
        DeleteOutcome::Removed(obj) if route.rt.kind != "Pod" => success_status(json!({
            "name": name,
            "group": route.rt.group,
            "kind": route.rt.plural,
            "uid": obj.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
        })),
        DeleteOutcome::Removed(obj)
        | DeleteOutcome::Pending(obj)
        | DeleteOutcome::Graceful { object: obj, .. } => (*obj).clone(),
    };
    Ok(respond::json(200, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let key = ObjectKey::new("pods", "kube-system", "coredns-1");
        let t = encode_continue(42, &key);
        assert_eq!(
            decode_continue(&t).unwrap(),
            (42, "kube-system".into(), "coredns-1".into())
        );
        assert_eq!(decode_continue("zz").unwrap_err().code(), 400);
        assert_eq!(decode_continue("abc").unwrap_err().code(), 400);
    }
}
