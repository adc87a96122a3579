//! The twin-only control surface under [`CONTROL_PREFIX`], a prefix no
//! Kubernetes client uses: ground truth, notes, chaos on the API, and
//! direct status writes (what the model will do, for tests and served mode).
//!
//! | method + path | effect |
//! |---|---|
//! | `GET /twin/v1/truth?since=N` | `{"entries": [...], "next": M}` |
//! | `POST /twin/v1/notes` `{"text": ".."}` | adds a note to the truth log |
//! | `GET /twin/v1/clock` | `{"now": "...", "elapsedSeconds": s}` |
//! | `POST /twin/v1/chaos/gone?count=N` | next N resuming watches get 410 |
//! | `POST /twin/v1/chaos/drop-watches?midChunk=true` | cuts open watches |
//! | `POST /twin/v1/chaos/outage?seconds=S` | 503 for S virtual seconds |
//! | `POST /twin/v1/pods/{ns}/{name}/ready?ready=true` | marks a pod (not) Ready |
//! | `PATCH /twin/v1/status/{resource}/{ns or -}/{name}` | merge-patches status |

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Response};
use serde_json::{Value, json};

use super::respond;
use crate::error::ApiError;
use crate::twin::Twin;

/// The path prefix of the control surface.
pub const CONTROL_PREFIX: &str = "/twin/v1";

fn query(q: &str, key: &str) -> Option<String> {
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn flag(q: &str, key: &str, default: bool) -> Result<bool, ApiError> {
    match query(q, key).as_deref() {
        None => Ok(default),
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "{key}: expected true or false, got {other:?}"
        ))),
    }
}

fn number(q: &str, key: &str, default: f64) -> Result<f64, ApiError> {
    match query(q, key) {
        None => Ok(default),
        Some(v) => v
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .ok_or_else(|| {
                ApiError::bad_request(format!("{key}: expected a non-negative number, got {v:?}"))
            }),
    }
}

/// Handles a control request (`segs` are the path segments after the prefix).
pub fn handle(
    twin: &Twin,
    method: &Method,
    segs: &[String],
    q: &str,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let ok = |v: Value| Ok(respond::json(200, &v));
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["truth"]) => {
            let since = number(q, "since", 0.0)? as usize;
            let (entries, next) = twin.truth_since(since);
            ok(json!({"entries": entries, "next": next}))
        }
        ("POST", ["notes"]) => {
            let v: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
            let text = v
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::bad_request("body needs a \"text\" string"))?;
            twin.note(text);
            ok(json!({"noted": text}))
        }
        ("GET", ["clock"]) => ok(json!({
            "now": twin.clock().now().to_string(),
            "elapsedSeconds": twin.clock().elapsed().as_secs_f64(),
            "speed": twin.clock().speed(),
        })),
        ("POST", ["chaos", "gone"]) => {
            let count = number(q, "count", 1.0)? as u32;
            twin.force_gone(count);
            ok(json!({"forceGone": count}))
        }
        ("POST", ["chaos", "drop-watches"]) => {
            let mid = flag(q, "midChunk", false)?;
            twin.drop_watches(mid);
            ok(json!({"dropped": true, "midChunk": mid}))
        }
        ("POST", ["chaos", "outage"]) => {
            let secs = number(q, "seconds", 30.0)?;
            twin.outage(Duration::from_secs_f64(secs));
            ok(json!({"outageSeconds": secs}))
        }
        ("POST", ["pods", ns, name, "ready"]) => {
            let ready = flag(q, "ready", true)?;
            let pod = twin.set_pod_ready(ns, name, ready)?;
            ok((*pod).clone())
        }
        ("PATCH", ["status", resource, ns, name]) => {
            let patch: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
            let ns = if *ns == "-" { "" } else { ns };
            let obj = twin.patch_status(resource, ns, name, &patch)?;
            ok((*obj).clone())
        }
        (
            _,
            ["truth" | "notes" | "clock"]
            | ["chaos", ..]
            | ["pods", _, _, "ready"]
            | ["status", _, _, _],
        ) => Err(ApiError::MethodNotAllowed {
            method: method.to_string(),
        }),
        _ => Err(ApiError::UnknownResource {
            path: format!("{CONTROL_PREFIX}/{}", segs.join("/")),
        }),
    }
}
