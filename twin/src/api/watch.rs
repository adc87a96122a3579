//! Watch streams: JSON lines over a chunked body, replayed from the change
//! history, with bookmarks, initial events (`sendInitialEvents`), virtual
//! timeouts, selector transitions, 410 Expired, and chaos (forced 410,
//! dropped streams, outages).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::Response;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::params::Params;
use super::path::ResourceRoute;
use crate::error::ApiError;
use crate::resource::ResourceType;
use crate::store::{Change, ChangeType};
use crate::twin::Twin;

/// Timeout when the client sets none (the real server picks 30 to 60 min).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// Virtual time between periodic bookmarks.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);

type Chunk = Result<Bytes, std::io::Error>;

fn event(kind: &str, object: &Value) -> Bytes {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    // Serializing a Value cannot fail.
    let _ = serde_json::to_writer(&mut out, object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event(
        "BOOKMARK",
        &json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": meta}),
    )
}

fn expired(requested: u64, oldest: u64) -> Bytes {
    let err = ApiError::Expired {
        message: format!("too old resource version: {requested} ({oldest})"),
    };
    event("ERROR", &err.status())
}

struct Watch {
    twin: Twin,
    rt: &'static ResourceType,
    namespace: Option<String>,
    params: Params,
    tx: mpsc::Sender<Chunk>,
    /// Subscribed when the request was accepted: a drop after that point
    /// cuts this stream even if its task has not run yet.
    drops: tokio::sync::watch::Receiver<crate::twin::DropSignal>,
}

impl Watch {
    fn relevant(&self, ch: &Change) -> bool {
        ch.key.resource == self.rt.plural
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| ch.key.namespace == ns)
    }

    /// The event this watcher sees for a change, if any: objects entering
    /// the selection are ADDED, leaving it DELETED.
    fn translate(&self, ch: &Change) -> Option<(&'static str, Arc<Value>)> {
        let now = self.params.matches(self.rt, &ch.object);
        let before = ch
            .prev
            .as_ref()
            .is_some_and(|p| self.params.matches(self.rt, p));
        let kind = match ch.change {
            ChangeType::Added => now.then_some("ADDED"),
            ChangeType::Modified => match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            },
            ChangeType::Deleted => (now || before).then_some("DELETED"),
        }?;
        Some((kind, ch.object.clone()))
    }

    async fn send(&self, chunk: Bytes) -> bool {
        self.tx.send(Ok(chunk)).await.is_ok()
    }

    async fn run(self, initial: Vec<Arc<Value>>, start: u64) {
        let clock = self.twin.clock().clone();
        let timeout = self.params.timeout.unwrap_or(DEFAULT_TIMEOUT);
        let deadline = tokio::time::sleep_until(clock.deadline(timeout));
        tokio::pin!(deadline);
        let mut notify = self.twin.with_store(|s| s.subscribe());
        let mut drops = self.drops.clone();
        for obj in &initial {
            if !self.send(event("ADDED", obj)).await {
                return;
            }
        }
        if self.params.send_initial_events == Some(true)
            && !self.send(bookmark(self.rt, start, true)).await
        {
            return;
        }
        let mut last = start;
        let mut next_bookmark = clock.deadline(BOOKMARK_EVERY);
        let mut pending: Option<Bytes> = None;
        loop {
            let _ = *notify.borrow_and_update();
            let batch = match self.twin.with_store(|s| s.changes_since(last)) {
                Ok(b) => b,
                Err(oldest) => {
                    let _ = self.send(expired(last, oldest)).await;
                    return;
                }
            };
            for ch in batch {
                last = ch.rv;
                if !self.relevant(&ch) {
                    continue;
                }
                if let Some((kind, obj)) = self.translate(&ch) {
                    let bytes = event(kind, &obj);
                    // Check for a drop between events so mid-chunk drops
                    // can cut a real event in half.
                    if drops.has_changed().unwrap_or(false) {
                        pending = Some(bytes);
                        break;
                    }
                    if !self.send(bytes).await {
                        return;
                    }
                }
            }
            if pending.is_none()
                && self.params.allow_bookmarks
                && tokio::time::Instant::now() >= next_bookmark
            {
                if !self.send(bookmark(self.rt, last, false)).await {
                    return;
                }
                next_bookmark = clock.deadline(BOOKMARK_EVERY);
            }
            if pending.is_some() {
                let signal = *drops.borrow_and_update();
                self.cut(pending.take(), signal).await;
                return;
            }
            let bookmark_due = tokio::time::sleep_until(next_bookmark);
            tokio::select! {
                biased;
                r = drops.changed() => {
                    if r.is_ok() {
                        let signal = *drops.borrow_and_update();
                        self.cut(None, signal).await;
                    }
                    return;
                }
                _ = &mut deadline => {
                    if self.params.allow_bookmarks {
                        let _ = self.send(bookmark(self.rt, last, false)).await;
                    }
                    return;
                }
                r = notify.changed() => {
                    if r.is_err() {
                        return;
                    }
                }
                _ = bookmark_due, if self.params.allow_bookmarks => {}
                _ = self.tx.closed() => return,
            }
        }
    }

    /// Ends the stream abruptly; mid-chunk, half of an event goes first.
    async fn cut(&self, pending: Option<Bytes>, signal: crate::twin::DropSignal) {
        if signal.mid_chunk {
            let whole = pending.unwrap_or_else(|| bookmark(self.rt, 0, false));
            let half = whole.slice(..whole.len() / 2);
            let _ = self.tx.send(Ok(half)).await;
        }
        let _ = self
            .tx
            .send(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "watch stream dropped by twin chaos",
            )))
            .await;
    }
}

/// Starts a watch and returns the streaming response.
pub fn watch(
    twin: &Twin,
    route: &ResourceRoute,
    params: Params,
) -> Result<Response<Body>, ApiError> {
    params.check_fields(route.rt)?;
    let rv_param = params.resource_version.clone().unwrap_or_default();
    let initial_events = params.send_initial_events == Some(true);
    if params.send_initial_events.is_some() {
        if !params.allow_bookmarks && initial_events {
            return Err(ApiError::Invalid {
                kind: "ListOptions".into(),
                name: String::new(),
                message: "allowWatchBookmarks: Required value: allowWatchBookmarks must be set to true when sendInitialEvents is provided".into(),
            });
        }
        if params.resource_version_match.as_deref() != Some("NotOlderThan") {
            return Err(ApiError::Invalid {
                kind: "ListOptions".into(),
                name: String::new(),
                message: "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan".into(),
            });
        }
    } else if params.resource_version_match.is_some() {
        return Err(ApiError::Invalid {
            kind: "ListOptions".into(),
            name: String::new(),
            message: "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided".into(),
        });
    }
    let requested: Option<u64> = match rv_param.as_str() {
        "" | "0" => None,
        other => Some(other.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resourceVersion {other:?}: must be an integer"
            ))
        })?),
    };
    let (tx, rx) = mpsc::channel::<Chunk>(64);
    let resume = requested.filter(|_| !initial_events);
    let (initial, start, gone) = twin.with_store(|s| match resume {
        Some(rv) => {
            let oldest = s.compacted();
            let gone = (rv < oldest).then_some((rv, oldest));
            (Vec::new(), rv, gone)
        }
        None => {
            let objs: Vec<Arc<Value>> = s
                .list(route.rt, route.namespace.as_deref())
                .into_iter()
                .map(|(_, v)| v)
                .filter(|v| params.matches(route.rt, v))
                .collect();
            (objs, s.resource_version(), None)
        }
    });
    let forced = resume.is_some() && twin.take_force_gone();
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    }));
    if gone.is_some() || forced {
        let (rv, oldest) = gone.unwrap_or((start, twin.with_store(|s| s.resource_version())));
        let _ = tx.try_send(Ok(expired(rv, oldest)));
        drop(tx);
    } else {
        let mut drops = twin.drop_signals();
        let _ = *drops.borrow_and_update();
        let w = Watch {
            drops,
            twin: twin.clone(),
            rt: route.rt,
            namespace: route.namespace.clone(),
            params,
            tx,
        };
        tokio::spawn(w.run(initial, start));
    }
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
