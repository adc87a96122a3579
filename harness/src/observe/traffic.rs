//! Continuous traffic accounting: outages and loss per flow, derived from
//! the receivers' raw per-probe records.
//!
//! Senders send a numbered probe every [`SEND_INTERVAL`] (200 ms); the
//! receiver prints each probe it gets as one line, and the container
//! runtime stamps it (`kubectl logs --timestamps`: RFC 3339 with
//! nanoseconds, taken by the runtime when it reads the line from the
//! container's stdout). A probe's line is
//!
//! ```text
//! 2026-12-03T18:00:00.123456789Z cni-chaos-traffic flow=pod-to-pod from=kind-worker sender=traffic-abcde/3 seq=42 sent=1764784800120
//! ```
//!
//! (`sent`, the sender's clock in Unix milliseconds, is optional and only
//! reported). Any other line is not a record but still shows that the
//! receiver's log covers its moment. One receiver run's log is one
//! [`LogSegment`]: it covers the time from its first to its last line.
//!
//! **Alignment.** A record's time on the harness's timeline is its runtime
//! timestamp minus the timeline's wall origin (the wall clock read when the
//! timeline started). On kind both clocks are the host's (the node
//! containers share the host kernel's clock), so the error is the runtime's
//! read delay after the receiver's write (sub-millisecond when the receiver
//! is not starved) plus the receiver's own delay after the packet arrived;
//! the wall origin is read within a millisecond of the monotonic origin. On
//! the twin both are the twin's virtual clock and the error is zero. A
//! record's time is not its send time: a probe delayed in a queue shows up
//! late, never early.
//!
//! **Outage.** A gap between two consecutive received probes of a flow
//! (ordered by receive time, so reordering does not make gaps) longer than
//! [`outage_gap`] (2.5 sending intervals: two or more probes in a row
//! lost, robust to a quarter interval of jitter) is an outage from the
//! last probe before it to the first one after it. Its probes lost are the
//! sequence numbers of one sender missing between the two (estimated from
//! the gap's length when the sender restarted in between). A flow whose
//! last probe is followed by more than the outage gap of covered time is in
//! an outage still open where the records end: it ends at the end of
//! coverage, never later.
//!
//! **Coverage.** Time inside the window that no log segment covers (before
//! the first line, between a restarted receiver's runs, after a log cut
//! short) is *not covered*: a gap across it is not an outage, and a flow
//! with any of it is not judged (it never passes). A flow without any
//! record in the window is not judged either.
//!
//! **Loss window.** Loss is counted over a stated [`Window`] of timeline
//! offsets: from the fault to the end of observation (when observation
//! ends early, the early end), or to `fault + within` for a `max-loss`
//! with `within`. Loss is probes lost ÷ (probes received + probes lost),
//! where a probe counts in the window when it was received in it, or (lost)
//! when its estimated send time is in it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

/// How often senders send a probe.
pub const SEND_INTERVAL: Duration = Duration::from_millis(200);
/// The marker every probe line starts with.
pub const MARKER: &str = "cni-chaos-traffic";

/// A gap between probes longer than this is an outage (2.5 intervals).
pub fn outage_gap(interval: Duration) -> Duration {
    interval * 5 / 2
}

/// One probe as the receiver logged it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The flow's name (kind and endpoints).
    pub flow: String,
    /// Who sent it: the sender's pod and run (sequence numbers count per
    /// sender run).
    pub sender: String,
    /// Its sequence number.
    pub seq: u64,
    /// The sender's send time (Unix ms), if it carried one.
    pub sent_unix_ms: Option<u64>,
    /// When the receiver's runtime logged it, as a timeline offset.
    pub at: Duration,
}

/// One receiver run's log, read at the end of observation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogSegment {
    /// Its first and last line, as timeline offsets (`None`: empty log).
    pub span: Option<(Duration, Duration)>,
    /// Its probe records.
    pub records: Vec<Record>,
    /// Lines that had no runtime timestamp (never expected).
    pub unreadable: usize,
}

/// The window loss is counted over, as timeline offsets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Window {
    /// Its start (the fault).
    #[serde(with = "crate::util::serde_millis")]
    pub from: Duration,
    /// Its end.
    #[serde(with = "crate::util::serde_millis")]
    pub to: Duration,
}

/// One outage of one flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Outage {
    /// The last probe received before it.
    #[serde(with = "crate::util::serde_millis")]
    pub start: Duration,
    /// The first probe received after it, or the end of coverage when
    /// `open`.
    #[serde(with = "crate::util::serde_millis")]
    pub end: Duration,
    /// Probes lost in it.
    pub lost: u64,
    /// `lost` is estimated from the gap's length (the sender restarted).
    pub estimated: bool,
    /// No probe came back before the records end.
    pub open: bool,
}

impl Outage {
    /// How long it lasted.
    pub fn duration(&self) -> Duration {
        self.end.saturating_sub(self.start)
    }
}

/// A stretch of the window no receiver log covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Uncovered {
    /// From.
    #[serde(with = "crate::util::serde_millis")]
    pub from: Duration,
    /// To.
    #[serde(with = "crate::util::serde_millis")]
    pub to: Duration,
}

/// What the records say about one flow.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FlowTraffic {
    /// The flow.
    pub flow: String,
    /// The window loss was counted over.
    pub window: Window,
    /// Probes received in the window.
    pub received: u64,
    /// Probes lost in the window.
    pub lost: u64,
    /// Lost ÷ (received + lost) in percent; `None` when nothing is known.
    pub loss_percent: Option<f64>,
    /// Outages that overlap the window, in order.
    pub outages: Vec<Outage>,
    /// Parts of the window the records do not cover.
    pub not_covered: Vec<Uncovered>,
}

impl FlowTraffic {
    /// The longest outage, if any.
    pub fn longest(&self) -> Option<&Outage> {
        self.outages.iter().max_by_key(|o| o.duration())
    }

    /// The same with every time counted from `origin` (the fault) instead
    /// of the timeline's start (times before it become zero).
    pub fn relative_to(mut self, origin: Duration) -> Self {
        let r = |d: &mut Duration| *d = d.saturating_sub(origin);
        r(&mut self.window.from);
        r(&mut self.window.to);
        for o in &mut self.outages {
            r(&mut o.start);
            r(&mut o.end);
        }
        for u in &mut self.not_covered {
            r(&mut u.from);
            r(&mut u.to);
        }
        self
    }

    /// Why this flow cannot be judged, if it cannot.
    pub fn unjudgeable(&self) -> Option<String> {
        if self.received == 0 {
            return Some("no probe received in the window".into());
        }
        let gaps: Vec<String> = self
            .not_covered
            .iter()
            .map(|u| {
                format!(
                    "{}..{}",
                    crate::util::duration::format(u.from),
                    crate::util::duration::format(u.to)
                )
            })
            .collect();
        (!gaps.is_empty()).then(|| {
            format!(
                "the receiver's log does not cover {} (log cut short or receiver restarted)",
                gaps.join(", ")
            )
        })
    }
}

/// A flow for report tests: `pod-to-pod a -> b` over 0..60 s, 200
/// received, 100 lost, one 20.135 s outage from 4 s, 50..60 s not covered.
#[cfg(test)]
pub(crate) fn sample_flow() -> FlowTraffic {
    let s = Duration::from_secs;
    FlowTraffic {
        flow: "pod-to-pod a -> b".into(),
        window: Window {
            from: s(0),
            to: s(60),
        },
        received: 200,
        lost: 100,
        loss_percent: Some(100.0 / 3.0),
        outages: vec![Outage {
            start: s(4),
            end: Duration::from_millis(24_135),
            lost: 100,
            estimated: false,
            open: false,
        }],
        not_covered: vec![Uncovered {
            from: s(50),
            to: s(60),
        }],
    }
}

/// Parses one probe line's payload (after the runtime's timestamp).
fn parse_payload(payload: &str, at: Duration) -> Option<Record> {
    let mut words = payload.split_whitespace();
    if words.next()? != MARKER {
        return None;
    }
    let (mut flow, mut sender, mut seq, mut sent) = (None, None, None, None);
    for w in words {
        let (k, v) = w.split_once('=')?;
        match k {
            "flow" => flow = Some(v.to_string()),
            "from" => {}
            "sender" => sender = Some(v.to_string()),
            "seq" => seq = Some(v.parse().ok()?),
            "sent" => sent = Some(v.parse().ok()?),
            _ => {}
        }
    }
    Some(Record {
        flow: flow?,
        sender: sender?,
        seq: seq?,
        sent_unix_ms: sent,
        at,
    })
}

/// The `from=` field of a probe line: the sender's node.
pub fn from_node(payload: &str) -> Option<&str> {
    payload
        .split_whitespace()
        .find_map(|w| w.strip_prefix("from="))
}

/// Reads one receiver run's log as `kubectl logs --timestamps` prints it,
/// aligning the runtime's timestamps on the timeline whose offset zero is
/// at wall time `origin` (lines before it are dropped). `rename` may
/// rewrite each record's flow name (it gets the line's payload), e.g. to
/// add the receiver's node.
pub fn parse_log(
    log: &str,
    origin: jiff::Timestamp,
    rename: impl Fn(&str, &str) -> String,
) -> LogSegment {
    let mut seg = LogSegment::default();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let Some((ts, payload)) = line.split_once(' ') else {
            seg.unreadable += 1;
            continue;
        };
        let Ok(ts) = ts.parse::<jiff::Timestamp>() else {
            seg.unreadable += 1;
            continue;
        };
        let Ok(d) = ts.duration_since(origin).try_into() else {
            // Before the origin: outside every window.
            continue;
        };
        let at: Duration = d;
        seg.span = Some(match seg.span {
            None => (at, at),
            Some((a, b)) => (a.min(at), b.max(at)),
        });
        if let Some(mut r) = parse_payload(payload, at) {
            r.flow = rename(&r.flow, payload);
            seg.records.push(r);
        }
    }
    seg
}

/// The covered stretches: the union of the segments' spans.
fn coverage(segments: &[LogSegment]) -> Vec<(Duration, Duration)> {
    let mut spans: Vec<(Duration, Duration)> = segments.iter().filter_map(|s| s.span).collect();
    spans.sort();
    let mut out: Vec<(Duration, Duration)> = Vec::new();
    for (a, b) in spans {
        match out.last_mut() {
            Some((_, e)) if a <= *e => *e = (*e).max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Whether `[a, b]` lies inside one covered stretch.
fn covered(cov: &[(Duration, Duration)], a: Duration, b: Duration) -> bool {
    cov.iter().any(|&(s, e)| s <= a && b <= e)
}

/// Derives every flow's outages and loss from the receivers' segments.
/// Flows are named by their records; `expected` names flows that must be
/// there (reported with no records when they have none).
pub fn derive(
    segments: &[LogSegment],
    expected: &[String],
    window: Window,
    interval: Duration,
) -> Vec<FlowTraffic> {
    let cov = coverage(segments);
    let gap = outage_gap(interval);
    let mut by_flow: BTreeMap<String, Vec<&Record>> =
        expected.iter().map(|f| (f.clone(), Vec::new())).collect();
    for r in segments.iter().flat_map(|s| &s.records) {
        by_flow.entry(r.flow.clone()).or_default().push(r);
    }
    // Window parts without coverage (slack: one outage gap at each edge,
    // since a covered moment is only known where a line was logged).
    let mut not_covered = Vec::new();
    let mut cursor = window.from;
    for &(s, e) in &cov {
        if e < window.from {
            continue;
        }
        if s > window.to {
            break;
        }
        if s > cursor + gap {
            not_covered.push(Uncovered {
                from: cursor,
                to: s.min(window.to),
            });
        }
        cursor = cursor.max(e);
    }
    if window.to > cursor + gap {
        not_covered.push(Uncovered {
            from: cursor,
            to: window.to,
        });
    }
    by_flow
        .into_iter()
        .map(|(flow, mut recs)| {
            recs.sort_by_key(|r| (r.at, r.seq));
            flow_traffic(flow, &recs, &cov, &not_covered, window, interval, gap)
        })
        .collect()
}

fn flow_traffic(
    flow: String,
    recs: &[&Record],
    cov: &[(Duration, Duration)],
    not_covered: &[Uncovered],
    window: Window,
    interval: Duration,
    gap: Duration,
) -> FlowTraffic {
    let in_window = |t: Duration| window.from <= t && t <= window.to;
    let estimate = |d: Duration| -> u64 {
        let n = (d.as_millis() + interval.as_millis() / 2) / interval.as_millis().max(1);
        u64::try_from(n).unwrap_or(u64::MAX).saturating_sub(1)
    };
    // Every sender's received sequence numbers.
    let mut seen: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for r in recs {
        seen.entry(&r.sender).or_default().insert(r.seq);
    }
    let missing_between = |sender: &str, a: u64, b: u64| -> u64 {
        let got = seen[sender].range(a + 1..b).count() as u64;
        (b.saturating_sub(a + 1)).saturating_sub(got)
    };
    let mut outages = Vec::new();
    let mut lost = 0u64;
    for pair in recs.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let d = b.at.saturating_sub(a.at);
        let same = a.sender == b.sender && b.seq > a.seq;
        let (n, estimated) = if same {
            (missing_between(&a.sender, a.seq, b.seq), false)
        } else if d > gap {
            (estimate(d), true)
        } else {
            (0, false)
        };
        if d > gap {
            if !covered(cov, a.at, b.at) {
                // Across a coverage hole: not an outage, not covered.
                continue;
            }
            if b.at >= window.from && a.at <= window.to {
                outages.push(Outage {
                    start: a.at,
                    end: b.at,
                    lost: n,
                    estimated,
                    open: false,
                });
            }
        }
        // Lost probes count in the window by their estimated send time:
        // spread evenly over the gap.
        if n > 0 {
            let step = d / u32::try_from(n + 1).unwrap_or(u32::MAX);
            lost += (1..=n)
                .filter(|i| in_window(a.at + step * u32::try_from(*i).unwrap_or(u32::MAX)))
                .count() as u64;
        }
    }
    // A tail with covered time after the last probe: an open outage, up to
    // where the coverage ends.
    if let Some(last) = recs.last()
        && let Some(&(_, end)) = cov.iter().find(|&&(s, e)| s <= last.at && last.at <= e)
    {
        let end = end.min(window.to.max(last.at));
        let d = end.saturating_sub(last.at);
        if d > gap && end >= window.from {
            let n = estimate(d);
            let step = d / u32::try_from(n + 1).unwrap_or(u32::MAX);
            lost += (1..=n)
                .filter(|i| in_window(last.at + step * u32::try_from(*i).unwrap_or(u32::MAX)))
                .count() as u64;
            outages.push(Outage {
                start: last.at,
                end,
                lost: n,
                estimated: true,
                open: true,
            });
        }
    }
    let received = recs.iter().filter(|r| in_window(r.at)).count() as u64;
    let total = received + lost;
    FlowTraffic {
        flow,
        window,
        received,
        lost,
        loss_percent: (total > 0).then(|| lost as f64 * 100.0 / total as f64),
        outages,
        not_covered: not_covered.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: Duration = SEND_INTERVAL;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn origin() -> jiff::Timestamp {
        "2026-12-03T18:00:00Z".parse().unwrap()
    }

    /// A log line at offset `at_ms`.
    fn line(at_ms: u64, payload: &str) -> String {
        let ts = origin()
            .checked_add(jiff::SignedDuration::from_millis(at_ms as i64))
            .unwrap();
        format!("{ts} {payload}\n")
    }

    fn probe(at_ms: u64, flow: &str, sender: &str, seq: u64) -> String {
        line(
            at_ms,
            &format!("{MARKER} flow={flow} from=n1 sender={sender} seq={seq} sent=1"),
        )
    }

    /// A sender sending every interval from `from_ms` for `n` probes,
    /// received with `jitter` (ms, per probe, cycling), skipping the
    /// probes `lost` says.
    fn stream(
        flow: &str,
        sender: &str,
        first_seq: u64,
        from_ms: u64,
        n: u64,
        jitter: &[u64],
        lost: impl Fn(u64) -> bool,
    ) -> Vec<(u64, String)> {
        (0..n)
            .filter(|i| !lost(first_seq + i))
            .map(|i| {
                let at = from_ms + i * 200 + jitter[(i as usize) % jitter.len()];
                (at, probe(at, flow, sender, first_seq + i))
            })
            .collect()
    }

    /// Lines sorted by time, as a runtime writes them.
    fn log(mut lines: Vec<(u64, String)>) -> String {
        lines.sort_by_key(|(at, _)| *at);
        lines.into_iter().map(|(_, l)| l).collect()
    }

    fn seg(text: &str) -> LogSegment {
        parse_log(text, origin(), |f, _| f.to_string())
    }

    #[test]
    fn parsing_takes_the_runtime_timestamp_and_ignores_other_lines() {
        let text = format!(
            "{}{}{}garbage-without-timestamp\n",
            line(1_000, "cni-chaos-traffic-receiver listening"),
            probe(1_200, "f", "s/1", 7),
            line(1_400, "cni-chaos-traffic flow=f seq=notanumber sender=s/1"),
        );
        let s = seg(&text);
        assert_eq!(s.span, Some((ms(1_000), ms(1_400))));
        assert_eq!(s.unreadable, 1);
        assert_eq!(
            s.records,
            vec![Record {
                flow: "f".into(),
                sender: "s/1".into(),
                seq: 7,
                sent_unix_ms: Some(1),
                at: ms(1_200),
            }]
        );
        // Nanosecond timestamps, as containerd prints them.
        let s = seg("2026-12-03T18:00:01.500000001Z cni-chaos-traffic flow=f sender=s seq=1\n");
        assert_eq!(s.records[0].at, Duration::new(1, 500_000_001));
        // Before the origin: dropped.
        let s = seg("2026-12-03T17:59:59Z cni-chaos-traffic flow=f sender=s seq=1\n");
        assert_eq!((s.span, s.records.len()), (None, 0));
    }

    /// A flow's outages as (start, end, lost, open), in ms.
    fn outage_rows(f: &FlowTraffic) -> Vec<(u64, u64, u64, bool)> {
        f.outages
            .iter()
            .map(|o| {
                (
                    o.start.as_millis() as u64,
                    o.end.as_millis() as u64,
                    o.lost,
                    o.open,
                )
            })
            .collect()
    }

    /// A flow's uncovered stretches as (from, to), in ms.
    fn uncovered_rows(f: &FlowTraffic) -> Vec<(u64, u64)> {
        f.not_covered
            .iter()
            .map(|u| (u.from.as_millis() as u64, u.to.as_millis() as u64))
            .collect()
    }

    struct Case {
        name: &'static str,
        lines: Vec<(u64, String)>,
        /// Segments: the lines' split points by time (a receiver restart
        /// between `a` and `b` drops lines in it).
        restart: Option<(u64, u64)>,
        window: (u64, u64),
        /// (start, end, lost, open) per outage.
        outages: Vec<(u64, u64, u64, bool)>,
        lost: u64,
        not_covered: Vec<(u64, u64)>,
    }

    #[test]
    fn outages_and_loss_table() {
        let jitter = [0, 37, 5, 61, 12, 90, 3];
        let cases = vec![
            Case {
                name: "steady with jitter: no outage, no loss",
                lines: stream("f", "s/1", 1, 0, 100, &jitter, |_| false),
                restart: None,
                window: (1_000, 19_000),
                outages: vec![],
                lost: 0,
                not_covered: vec![],
            },
            Case {
                name: "one lost probe is loss, not an outage",
                lines: stream("f", "s/1", 1, 0, 100, &[0], |s| s == 50),
                restart: None,
                window: (1_000, 19_000),
                outages: vec![],
                lost: 1,
                not_covered: vec![],
            },
            Case {
                // Probes 26..=125 (sent 5 s .. 24.8 s) lost: the gap runs
                // from probe 25 (4.8 s) to probe 126 (25 s): 20.2 s.
                name: "a 20 s outage with jitter",
                lines: stream("f", "s/1", 1, 0, 200, &[0], |s| (26..=125).contains(&s)),
                restart: None,
                window: (1_000, 39_000),
                outages: vec![(4_800, 25_000, 100, false)],
                lost: 100,
                not_covered: vec![],
            },
            Case {
                // Reordered: 11 arrives after 12 (both late), 30..=34 lost.
                name: "reordering makes no outage and no loss",
                lines: {
                    let mut l = stream("f", "s/1", 1, 0, 100, &[0], |s| {
                        s == 11 || (30..=34).contains(&s)
                    });
                    l.push((2_150, probe(2_150, "f", "s/1", 11)));
                    l
                },
                restart: None,
                window: (0, 19_800),
                outages: vec![(5_600, 6_800, 5, false)],
                lost: 5,
                not_covered: vec![],
            },
            Case {
                // The sender restarts (new run, seq from 1) after a 3 s gap.
                name: "a restarted sender: outage estimated from time",
                lines: {
                    let mut l = stream("f", "s/1", 1, 0, 50, &[0], |_| false);
                    l.extend(stream("f", "s/2", 1, 12_800, 50, &[0], |_| false));
                    l
                },
                restart: None,
                window: (0, 22_000),
                outages: vec![(9_800, 12_800, 14, false)],
                lost: 14,
                not_covered: vec![],
            },
            Case {
                // The log ends at 10 s (cut short) but the window runs to
                // 20 s: not an outage, not covered.
                name: "a lost log tail is not covered, not an outage",
                lines: stream("f", "s/1", 1, 0, 51, &[0], |_| false),
                restart: None,
                window: (1_000, 20_000),
                outages: vec![],
                lost: 0,
                not_covered: vec![(10_000, 20_000)],
            },
            Case {
                // The receiver restarted between 6 s and 9 s: its previous
                // run's log ends at 6 s, the new one starts at 9 s.
                name: "a restarted receiver's gap is not covered",
                lines: stream("f", "s/1", 1, 0, 100, &[0], |_| false),
                restart: Some((6_000, 9_000)),
                window: (1_000, 19_000),
                outages: vec![],
                lost: 0,
                not_covered: vec![(6_000, 9_000)],
            },
            Case {
                // The flow stops at 10 s while the receiver keeps logging
                // (another flow): open outage up to the coverage's end.
                name: "an outage still open ends where the records end",
                lines: {
                    let mut l = stream("f", "s/1", 1, 0, 51, &[0], |_| false);
                    l.extend(stream("g", "t/1", 1, 0, 100, &[0], |_| false));
                    l
                },
                restart: None,
                window: (1_000, 25_000),
                outages: vec![(10_000, 19_800, 48, true)],
                lost: 48,
                not_covered: vec![(19_800, 25_000)],
            },
        ];
        for c in cases {
            let text = log(c.lines.clone());
            let segments = match c.restart {
                None => vec![seg(&text)],
                Some((a, b)) => {
                    let before: Vec<_> = c.lines.iter().filter(|(t, _)| *t <= a).cloned().collect();
                    let after: Vec<_> = c.lines.iter().filter(|(t, _)| *t >= b).cloned().collect();
                    vec![seg(&log(before)), seg(&log(after))]
                }
            };
            let w = Window {
                from: ms(c.window.0),
                to: ms(c.window.1),
            };
            let all = derive(&segments, &["f".into()], w, I);
            let f = all.iter().find(|f| f.flow == "f").unwrap();
            let got = outage_rows(f);
            assert_eq!(got, c.outages, "{}: outages", c.name);
            assert_eq!(f.lost, c.lost, "{}: lost", c.name);
            let nc = uncovered_rows(f);
            assert_eq!(nc, c.not_covered, "{}: not covered", c.name);
            assert_eq!(
                f.unjudgeable().is_some(),
                !c.not_covered.is_empty(),
                "{}: judgeable",
                c.name
            );
        }
    }

    /// A load-balanced flow (`pod-to-service n1`): one sender's probes
    /// spread over three receivers, each logging its share with its own
    /// jitter (so consecutive probes can arrive out of order across
    /// receivers); the flow merges their records by the sender's sequence
    /// numbers before outages and loss are derived.
    struct MergeCase {
        name: &'static str,
        /// Whether probe `seq` is lost on the way.
        lost: fn(u64) -> bool,
        /// Where each receiver's log ends (ms; `None`: it runs to 20 s).
        log_ends: [Option<u64>; 3],
        /// (start, end, lost, open) per outage.
        outages: Vec<(u64, u64, u64, bool)>,
        lost_count: u64,
        received: u64,
        not_covered: Vec<(u64, u64)>,
    }

    #[test]
    fn a_load_balanced_flow_merges_every_receivers_records() {
        const FLOW: &str = "pod-to-service n1";
        let jitters: [&[u64]; 3] = [&[0, 37, 5], &[90, 12, 61], &[150, 3, 120]];
        let cases = vec![
            MergeCase {
                name: "spread with jitter: no outage, no loss",
                lost: |_| false,
                log_ends: [None; 3],
                outages: vec![],
                lost_count: 0,
                received: 100,
                not_covered: vec![],
            },
            MergeCase {
                // Probes 26..=75 (sent 5 s .. 14.8 s) lost whichever
                // receiver they were for: one outage across the receivers,
                // from probe 25 (sent 4.8 s, logged by receiver 1 with
                // 90 ms of jitter) to probe 76 (15 s, also receiver 1's,
                // +90 ms).
                name: "a 10 s outage seen across the receivers",
                lost: |s| (26..=75).contains(&s),
                log_ends: [None; 3],
                outages: vec![(4_890, 15_090, 50, false)],
                lost_count: 50,
                received: 50,
                not_covered: vec![],
            },
            MergeCase {
                // One backend unreachable from 6 s to 12 s: every third
                // probe lost, the others keep arriving (gaps under 2.5
                // intervals): loss, no outage.
                name: "one unreachable backend is loss, not an outage",
                lost: |s| s % 3 == 2 && (31..=61).contains(&s),
                log_ends: [None; 3],
                outages: vec![],
                lost_count: 10,
                received: 90,
                not_covered: vec![],
            },
            MergeCase {
                // Receiver 2's log is cut at 10 s while the others go on:
                // the records cannot tell its later share from probes lost
                // on the way, so they count as lost (every third: never
                // an outage); the time stays covered by the other logs.
                name: "one receiver's lost log tail: its share is loss, not an outage",
                lost: |_| false,
                log_ends: [None, None, Some(10_000)],
                outages: vec![],
                lost_count: 16,
                received: 84,
                not_covered: vec![],
            },
            MergeCase {
                // Every receiver's log cut at 10 s: from the last line
                // (probe 50, sent 9.8 s, +3 ms of jitter) not covered, and
                // not an outage.
                name: "every receiver's lost log tail is not covered",
                lost: |_| false,
                log_ends: [Some(10_000); 3],
                outages: vec![],
                lost_count: 0,
                received: 50,
                not_covered: vec![(9_803, 20_000)],
            },
        ];
        for c in cases {
            let segments: Vec<LogSegment> = (0..3u64)
                .map(|r| {
                    let end = c.log_ends[r as usize].unwrap_or(u64::MAX);
                    let mine = |s: u64| s % 3 == r;
                    let lines: Vec<(u64, String)> = stream(
                        "pod-to-service",
                        "s/1",
                        1,
                        0,
                        100,
                        jitters[r as usize],
                        |s| !mine(s) || (c.lost)(s),
                    )
                    .into_iter()
                    .chain([(0, line(0, "cni-chaos-traffic-receiver listening"))])
                    .filter(|(t, _)| *t <= end)
                    .collect();
                    let node = format!("n{}", r + 2);
                    parse_log(&log(lines), origin(), |f, p| {
                        crate::observe::flows::record_flow(f, p, &node)
                    })
                })
                .collect();
            let w = Window {
                from: ms(0),
                to: ms(20_000),
            };
            let all = derive(&segments, &[FLOW.into()], w, I);
            assert_eq!(all.len(), 1, "{}: one merged flow: {all:#?}", c.name);
            let f = &all[0];
            assert_eq!(f.flow, FLOW);
            let got = outage_rows(f);
            assert_eq!(got, c.outages, "{}: outages", c.name);
            assert_eq!(
                (f.lost, f.received),
                (c.lost_count, c.received),
                "{}: lost, received",
                c.name
            );
            let nc = uncovered_rows(f);
            assert_eq!(nc, c.not_covered, "{}: not covered", c.name);
        }
    }

    #[test]
    fn loss_percent_and_a_flow_without_records() {
        let text = log(stream("f", "s/1", 1, 0, 101, &[0], |s| s % 10 == 0));
        let all = derive(
            &[seg(&text)],
            &["f".into(), "missing".into()],
            Window {
                from: ms(0),
                to: ms(19_800),
            },
            I,
        );
        let f = &all[0];
        assert_eq!((f.received, f.lost), (90, 10));
        assert_eq!(f.loss_percent, Some(10.0));
        let m = &all[1];
        assert_eq!(m.flow, "missing");
        assert_eq!(m.loss_percent, None);
        assert_eq!(
            m.unjudgeable().as_deref(),
            Some("no probe received in the window")
        );
    }
}
