//! kube-runtime watchers on pods, nodes and events feeding one [`Timeline`].
//!
//! The watchers back off and reconnect through API outages (a control-plane
//! reboot takes the API server away). A reconnect relists: objects re-delivered
//! unchanged are dropped by the timeline, changed ones are recorded at their
//! arrival, and objects missing from the relist are recorded as gone, so a
//! deletion that happened while disconnected is not lost.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event as WEvent};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::timeline::{ObjKind, ObjRef, Timeline};

/// Reconnect delays: 100 ms doubling to at most 2 s, reset on success.
///
/// Tighter than kube-runtime's default (up to 30 s plus jitter): the observer
/// talks to one local API server, and every second spent backing off after an
/// outage (a control-plane reboot) is a second of transitions that arrive late.
#[derive(Clone, Debug)]
pub struct Reconnect {
    next: Duration,
}

impl Reconnect {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(2);
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect { next: Self::FIRST }
    }
}

impl Iterator for Reconnect {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let now = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        Some(now)
    }
}

impl kube::runtime::utils::Backoff for Reconnect {
    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// Options for the watchers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WatchOptions {
    /// Use streaming lists (`sendInitialEvents`) instead of list + watch.
    pub streaming_lists: bool,
}

/// Counters a run can report.
#[derive(Debug, Default)]
pub struct WatchStats {
    /// Watch errors seen (each followed by a backoff and a retry).
    pub errors: std::sync::atomic::AtomicU64,
    /// Relists (initial one included).
    pub relists: std::sync::atomic::AtomicU64,
}

/// Running watchers and the timeline they feed.
pub struct Observer {
    timeline: Arc<Mutex<Timeline>>,
    version: watch::Receiver<u64>,
    stats: Arc<WatchStats>,
    tasks: Vec<JoinHandle<()>>,
}

struct Shared {
    timeline: Arc<Mutex<Timeline>>,
    bump: watch::Sender<u64>,
    stats: Arc<WatchStats>,
}

impl Shared {
    fn with<T>(&self, f: impl FnOnce(&mut Timeline) -> T) -> T {
        let out = f(&mut self.timeline.lock().unwrap_or_else(|p| p.into_inner()));
        self.bump.send_modify(|v| *v += 1);
        out
    }
}

impl Observer {
    /// Starts watching pods (all namespaces), nodes and events.
    pub fn start(
        client: kube::Client,
        origin: Instant,
        origin_wall: jiff::Timestamp,
        options: WatchOptions,
    ) -> Self {
        let timeline = Arc::new(Mutex::new(Timeline::new(origin, origin_wall)));
        let (bump, version) = watch::channel(0);
        let stats = Arc::new(WatchStats::default());
        let shared = Arc::new(Shared {
            timeline: timeline.clone(),
            bump,
            stats: stats.clone(),
        });
        let config = if options.streaming_lists {
            watcher::Config::default().streaming_lists()
        } else {
            watcher::Config::default()
        };
        let pods = watcher::watcher(Api::<Pod>::all(client.clone()), config.clone())
            .backoff(Reconnect::default());
        let nodes = watcher::watcher(Api::<Node>::all(client.clone()), config.clone())
            .backoff(Reconnect::default());
        let events =
            watcher::watcher(Api::<Event>::all(client), config).backoff(Reconnect::default());
        let tasks = vec![
            tokio::spawn(pump(pods, shared.clone(), Some(ObjKind::Pod))),
            tokio::spawn(pump(nodes, shared.clone(), Some(ObjKind::Node))),
            tokio::spawn(pump(events, shared, None)),
        ];
        Observer {
            timeline,
            version,
            stats,
            tasks,
        }
    }

    /// A handle on the live timeline, usable while something else holds the
    /// observer (progress displays during observation).
    pub fn live(&self) -> LiveTimeline {
        LiveTimeline(self.timeline.clone())
    }

    /// Runs `f` on the timeline as it is now, without copying it.
    pub fn with<T>(&self, f: impl FnOnce(&Timeline) -> T) -> T {
        self.live().with(f)
    }

    /// Records that the harness acted on the cluster now ([`Timeline::fence`]).
    pub fn fence(&self, at: Instant) {
        self.timeline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fence(at);
    }

    /// A copy of the timeline so far.
    pub fn timeline(&self) -> Timeline {
        self.timeline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits until anything new is recorded (or the watchers stop).
    pub async fn changed(&mut self) {
        let _ = self.version.changed().await;
    }

    /// A recorder for probe outcomes into this observer's timeline.
    pub fn probe_recorder(
        &self,
    ) -> impl FnMut(crate::slo::ProbeKind, bool, &str, Instant) + Send + 'static {
        let timeline = self.timeline.clone();
        move |kind, ok, detail, at| {
            timeline
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .probe(kind, ok, detail, at);
        }
    }

    /// What a pinger watch records a pinger's verdict with (see
    /// [`crate::observe::pinger::watch`]).
    pub fn pinger_recorder(
        &self,
    ) -> impl FnMut(&str, Option<&str>, &str, Instant) + Send + 'static {
        let timeline = self.timeline.clone();
        move |pod, node, verdict, at| {
            timeline
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pinger(pod, node, verdict, at);
        }
    }

    /// Counters.
    pub fn stats(&self) -> &WatchStats {
        &self.stats
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// What the pump needs from a watched kind.
trait Tracked: Send + 'static {
    /// The timeline key; none for kinds without presence (events).
    fn key(&self) -> Option<ObjRef>;
    /// Records the object as seen.
    fn record(&self, tl: &mut Timeline, at: Instant, occurrences: &mut HashSet<(String, String)>);
}

impl Tracked for Pod {
    fn key(&self) -> Option<ObjRef> {
        Some(ObjRef::pod(
            self.metadata.namespace.as_deref().unwrap_or("default"),
            self.metadata.name.as_deref().unwrap_or_default(),
        ))
    }
    fn record(&self, tl: &mut Timeline, at: Instant, _: &mut HashSet<(String, String)>) {
        tl.pod(self, at);
    }
}

impl Tracked for Node {
    fn key(&self) -> Option<ObjRef> {
        Some(ObjRef::node(
            self.metadata.name.as_deref().unwrap_or_default(),
        ))
    }
    fn record(&self, tl: &mut Timeline, at: Instant, _: &mut HashSet<(String, String)>) {
        tl.node(self, at);
    }
}

impl Tracked for Event {
    fn key(&self) -> Option<ObjRef> {
        None
    }
    /// Each (uid, resourceVersion) is one occurrence: a relist re-delivers
    /// old events, which must not be recorded twice.
    fn record(&self, tl: &mut Timeline, at: Instant, occurrences: &mut HashSet<(String, String)>) {
        let uid = self.metadata.uid.clone().unwrap_or_default();
        let rv = self.metadata.resource_version.clone().unwrap_or_default();
        if !occurrences.insert((uid, rv)) {
            return;
        }
        let io = &self.involved_object;
        let object = match io.kind.as_deref() {
            Some("Node") => ObjRef::node(io.name.as_deref().unwrap_or_default()),
            _ => ObjRef::pod(
                io.namespace.as_deref().unwrap_or("default"),
                io.name.as_deref().unwrap_or_default(),
            ),
        };
        tl.event(
            object,
            self.type_.as_deref().unwrap_or("Normal"),
            self.reason.as_deref().unwrap_or_default(),
            self.message.as_deref().unwrap_or_default(),
            at,
        );
    }
}

fn gone(tl: &mut Timeline, o: &ObjRef, at: Instant) {
    match o.kind {
        ObjKind::Pod => {
            tl.pod_gone(o.namespace.as_deref().unwrap_or("default"), &o.name, at);
        }
        ObjKind::Node => {
            tl.node_gone(&o.name, at);
        }
        ObjKind::Probe | ObjKind::Pinger => {}
    }
}

async fn pump<K: Tracked>(
    stream: impl Stream<Item = Result<WEvent<K>, watcher::Error>>,
    shared: Arc<Shared>,
    kind: Option<ObjKind>,
) {
    let mut stream = std::pin::pin!(stream);
    let mut seen: Option<HashSet<ObjRef>> = None;
    let mut occurrences = HashSet::new();
    while let Some(ev) = stream.next().await {
        let now = Instant::now();
        match ev {
            Ok(WEvent::Apply(obj)) => shared.with(|tl| obj.record(tl, now, &mut occurrences)),
            Ok(WEvent::Delete(obj)) => {
                if let Some(key) = obj.key() {
                    shared.with(|tl| gone(tl, &key, now));
                }
            }
            Ok(WEvent::Init) => {
                shared
                    .stats
                    .relists
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                seen = Some(HashSet::new());
            }
            Ok(WEvent::InitApply(obj)) => {
                if let (Some(seen), Some(key)) = (seen.as_mut(), obj.key()) {
                    seen.insert(key);
                }
                shared.with(|tl| obj.record(tl, now, &mut occurrences));
            }
            Ok(WEvent::InitDone) => {
                // Whatever the relist did not return was deleted while we were away.
                if let (Some(seen), Some(kind)) = (seen.take(), kind) {
                    shared.with(|tl| {
                        for o in tl.present(kind).into_iter().filter(|o| !seen.contains(o)) {
                            gone(tl, &o, now);
                        }
                    });
                }
            }
            Err(e) => {
                shared
                    .stats
                    .errors
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::debug!("watch error (retrying with backoff): {e}");
            }
        }
    }
}

/// A handle on an [`Observer`]'s timeline as it grows.
#[derive(Clone, Debug)]
pub struct LiveTimeline(Arc<Mutex<Timeline>>);

impl LiveTimeline {
    /// Runs `f` on the timeline as it is now.
    pub fn with<T>(&self, f: impl FnOnce(&Timeline) -> T) -> T {
        f(&self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
