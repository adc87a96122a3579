//! Long-lived TCP connections ([`Slo::LongLivedTcp`]): a DaemonSet [`LONG_LIVED`]
//! in the probes' namespace, one pod per node for the cluster's life,
//! whose `client` keeps ONE TCP connection open to every other node's
//! pod and writes a numbered line over it every 200 ms, and whose `server`
//! prints every line it gets (the same receiver as the traffic's,
//! [`super::flows`], on its own port). When a connection breaks, the
//! client's loop for that peer opens a new one with a new identity
//! (`sender=<pod>/<run>/<server's address>/<connection number>`), so the
//! server's log shows a reconnect as a change of identity (the address
//! keeps a replaced server's first connection apart from its
//! predecessor's).
//!
//! The verdict is derived from the servers' logs with the runtime's
//! timestamps, read by [`super::flows::read_pairs`] and parsed by
//! [`super::traffic::parse_log`] (the lines have the traffic's format,
//! with flow `long-lived-tcp`): per ordered pair of nodes (a
//! [`Connection`]), the connection that carried the last line before the
//! fault must carry every line after it, and must still be heard when the
//! records end ([`derive`], [`judge`]). The longest gap between two lines
//! of it is the measured value: a data-path freeze shows as a gap, which
//! TCP's retransmission bridges while it is shorter than the give-up
//! (`net.ipv4.tcp_retries2`, about 924.6 s by default: torvalds/linux
//! `Documentation/networking/ip-sysctl.rst`), and as a retransmission
//! backs off exponentially, the gap ends at the first retransmission after
//! the path is back, not at the path's return.
//!
//! The check is offered only for faults that leave every endpoint alive
//! (see `suite::read`'s `long_lived_refused` for the fault table): a
//! connection whose pod is killed breaks whatever the network does.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::DaemonSet;
use serde::Serialize;

use super::flows::{Reading, TrafficSet};
use super::probe::PROBE_NAMESPACE;
use super::traffic::{LogSegment, Record, SEND_INTERVAL, outage_gap};
use crate::slo::{Culprit, CulpritKind, Measured, Slo, SloStatus, SloVerdict};
use crate::util::duration;

/// The DaemonSet's (and its headless Service's) name.
pub const LONG_LIVED: &str = "chaos-long-lived";
/// The label (value [`LONG_LIVED`]) on the DaemonSet and its pods (the
/// twin's `LONG_LIVED_LABEL`).
pub const LONG_LIVED_LABEL: &str = "cni-chaos.io/long-lived";
/// The TCP port servers listen on.
pub const PORT: u16 = 9001;
/// The flow kind the lines name.
pub const FLOW: &str = "long-lived-tcp";

/// How long Linux retransmits unacknowledged data before it kills the
/// connection with the default `net.ipv4.tcp_retries2` (15): "a
/// hypothetical timeout of 924.6 seconds" (torvalds/linux
/// `Documentation/networking/ip-sysctl.rst`). A connection silent for less
/// may still deliver at its next retransmission.
pub const TCP_GIVE_UP: Duration = Duration::from_millis(924_600);

/// The long-lived connections' DaemonSet.
pub const SET: TrafficSet = TrafficSet {
    name: LONG_LIVED,
    label: LONG_LIVED_LABEL,
    port: PORT,
    receiver: "server",
    flow: FLOW,
};

/// The server's command (busybox): says it listens (where its log's
/// coverage starts), then serves every TCP connection on port 9001 with a
/// `cat` to its stderr, so each line a client writes is one line of its
/// log, for as long as the connection lives.
pub const SERVER_SCRIPT: &str = "trap 'exit 0' TERM; echo \"cni-chaos-long-lived-server listening port=9001\"; exec nc -ll -p 9001 -e sh -c 'cat >&2'";

/// The client's command (busybox): every 5 s it asks `peers` (a command
/// printing addresses) for peers, and for each peer it has not seen yet
/// starts a loop that opens ONE connection (`nc ADDR 9001`, fed by a
/// numbered line every 200 ms) and, when that connection ends (`nc`
/// exits; the writer then dies of SIGPIPE), opens the next one after a
/// second with the next connection number.
pub fn client_script(peers: &str) -> String {
    format!(
        "trap 'exit 0' TERM; run=$(date +%s); seen=' '; while true; do for ip in $({peers}); do case \"$seen\" in *\" $ip \"*) ;; *) seen=\"$seen$ip \"; (c=0; while true; do c=$((c+1)); i=0; while true; do i=$((i+1)); echo \"cni-chaos-traffic flow={FLOW} from=$NODE_NAME sender=$POD_NAME/$run/$ip/$c seq=$i sent=$(date +%s)000\"; sleep 0.2; done | nc $ip 9001; sleep 1; done) & ;; esac; done; sleep 5; done"
    )
}

/// The DaemonSet: on every node, the control plane's taint notwithstanding
/// (its pods tolerate every taint, so a NotReady node does not evict them).
pub fn daemonset() -> DaemonSet {
    super::workload::own_daemonset(
        LONG_LIVED,
        LONG_LIVED_LABEL,
        None,
        vec![
            super::flows::container("server", SERVER_SCRIPT),
            super::flows::container(
                "client",
                &client_script(&super::flows::peers_by_dns(LONG_LIVED)),
            ),
        ],
    )
}

/// The headless Service, then the DaemonSet, as JSON objects: what the
/// kind backend applies before a scenario that wants them (in its dry-run
/// plan) and what the gate creates through the API where nothing applied
/// them (the twin).
pub fn objects() -> Vec<serde_json::Value> {
    super::flows::set_objects(&[super::flows::service(&SET)], &daemonset())
}

/// Linux's `TCP_RTO_MIN` (HZ/5): the first retransmission timeout of a
/// connection with a sub-millisecond round trip (torvalds/linux
/// `include/net/tcp.h`).
pub const RTO_MIN: Duration = Duration::from_millis(200);
/// Linux's `TCP_RTO_MAX`: the backoff's ceiling.
pub const RTO_MAX: Duration = Duration::from_secs(120);

/// By when a connection whose path was down for `down` from the fault is
/// heard again at the latest: its first retransmission at or after
/// `down` (timeouts from [`RTO_MIN`] doubling up to [`RTO_MAX`], counted
/// from the first line lost), plus the line interval the first loss can
/// lag the fault by.
pub fn heard_again_by(down: Duration) -> Duration {
    let (mut t, mut rto) = (Duration::ZERO, RTO_MIN);
    while t < down {
        t += rto;
        rto = (rto * 2).min(RTO_MAX);
    }
    t + SEND_INTERVAL
}

/// Raises observation's floor so a connection stopped for as long as
/// `fault` acts ([`Fault::acts_until`]: a freeze's `stop-for`, a
/// partition's `duration`) is heard again before the settle window starts:
/// judged earlier, it would be silent and not evaluated.
pub fn raise_floor(
    floor: &mut super::Floor,
    fault: &crate::fault::Fault,
    fault_at: Duration,
    settle: Duration,
) {
    let acts = fault.acts_until();
    if acts.is_zero() {
        return;
    }
    let heard = heard_again_by(acts);
    floor.raise(fault_at + heard + settle, || {
        format!(
            "a long-lived connection stopped for the fault's {} is heard again by +{} (its first TCP retransmission after it), then the settle window ({})",
            duration::format(acts),
            duration::format(heard),
            duration::format(settle)
        )
    });
}

/// Whether `scenario` wants the long-lived connections.
pub fn wanted(scenario: &crate::suite::Scenario) -> bool {
    scenario.slos.iter().any(|s| matches!(s, Slo::LongLivedTcp))
}

/// A silence on a connection: between two of its lines, or from its last
/// line to the end of the records (`open`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Gap {
    /// The line before it.
    #[serde(with = "crate::util::serde_millis")]
    pub from: Duration,
    /// The line after it, or the end of the records.
    #[serde(with = "crate::util::serde_millis")]
    pub to: Duration,
    /// No line came before the records end.
    pub open: bool,
}

impl Gap {
    /// How long it lasted.
    pub fn duration(&self) -> Duration {
        self.to.saturating_sub(self.from)
    }
}

/// What became of the connection of one pair of nodes over the fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "fate")]
pub enum Fate {
    /// The connection that carried the last line before the fault carried
    /// every line after it and was heard until the records end.
    Survived {
        /// Its identity.
        id: String,
    },
    /// Lines after the fault came over another connection: the first one
    /// broke and the client reconnected.
    Broke {
        /// The connection before the fault.
        id: String,
        /// Its last line.
        #[serde(with = "crate::util::serde_millis")]
        last: Duration,
        /// The connection that followed.
        next: String,
        /// Its first line.
        #[serde(with = "crate::util::serde_millis")]
        next_at: Duration,
    },
    /// The connection went silent and nothing came after it before the
    /// records end (a broken connection not yet noticed, or a server that
    /// restarted and has not been reconnected to).
    Silent {
        /// The connection.
        id: String,
        /// Its last line.
        #[serde(with = "crate::util::serde_millis")]
        since: Duration,
        /// Where the records end: it has been silent from `since` to here.
        #[serde(with = "crate::util::serde_millis")]
        until: Duration,
    },
    /// Cannot be judged: no line before the fault (the connection was not
    /// up, or the server's log from then is gone).
    Unknown {
        /// Why.
        why: String,
    },
}

/// One ordered pair of nodes' connection over the fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Connection {
    /// `long-lived-tcp <client's node> -> <server's node>`.
    pub flow: String,
    /// What became of it.
    pub fate: Fate,
    /// The longest gap on the connection from its last line before the
    /// fault on (on the first connection, up to its end when it broke).
    pub longest_gap: Option<Gap>,
    /// How many connections carried lines after the fault.
    pub connections_after: usize,
}

/// Derives every pair's connection from the servers' segments: `fault_at`
/// is the fault's timeline offset; the records end where the last segment
/// that has a line ends. `expected` names pairs that must be there.
pub fn derive(segments: &[LogSegment], expected: &[String], fault_at: Duration) -> Vec<Connection> {
    let records_end = segments
        .iter()
        .filter_map(|s| s.span.map(|(_, e)| e))
        .max()
        .unwrap_or_default();
    let silence = outage_gap(SEND_INTERVAL);
    let mut by_flow: BTreeMap<String, Vec<&Record>> =
        expected.iter().map(|f| (f.clone(), Vec::new())).collect();
    for r in segments.iter().flat_map(|s| &s.records) {
        by_flow.entry(r.flow.clone()).or_default().push(r);
    }
    by_flow
        .into_iter()
        .map(|(flow, mut records)| {
            records.sort_by_key(|r| r.at);
            let before = records.iter().rev().find(|r| r.at <= fault_at);
            let after: Vec<&&Record> = records.iter().filter(|r| r.at > fault_at).collect();
            let mut ids: Vec<&str> = after.iter().map(|r| r.sender.as_str()).collect();
            ids.dedup();
            ids.sort_unstable();
            ids.dedup();
            let connections_after = ids.len();
            let Some(before) = before else {
                let why = if records.is_empty() {
                    "no line from this pair at all".to_string()
                } else {
                    "no line before the fault (the connection was not up yet, or the server's log from then is gone)".to_string()
                };
                return Connection {
                    flow,
                    fate: Fate::Unknown { why },
                    longest_gap: None,
                    connections_after,
                };
            };
            let id = before.sender.clone();
            // The first connection's lines from its last one before the
            // fault on, up to the first line of another.
            let other = after.iter().find(|r| r.sender != id);
            let own: Vec<Duration> = std::iter::once(before.at)
                .chain(
                    after
                        .iter()
                        .filter(|r| r.sender == id && other.is_none_or(|o| r.at < o.at))
                        .map(|r| r.at),
                )
                .collect();
            let mut longest: Option<Gap> = own
                .windows(2)
                .map(|w| Gap {
                    from: w[0],
                    to: w[1],
                    open: false,
                })
                .max_by_key(Gap::duration);
            let last = *own.last().expect("at least the line before the fault");
            let fate = match other {
                Some(o) => {
                    let gap = Gap {
                        from: last,
                        to: o.at,
                        open: false,
                    };
                    if longest.is_none_or(|l| gap.duration() > l.duration()) {
                        longest = Some(gap);
                    }
                    Fate::Broke {
                        id,
                        last,
                        next: o.sender.clone(),
                        next_at: o.at,
                    }
                }
                None if records_end.saturating_sub(last) > silence => {
                    let gap = Gap {
                        from: last,
                        to: records_end,
                        open: true,
                    };
                    if longest.is_none_or(|l| gap.duration() > l.duration()) {
                        longest = Some(gap);
                    }
                    Fate::Silent {
                        id,
                        since: last,
                        until: records_end,
                    }
                }
                None => Fate::Survived { id },
            };
            Connection {
                flow,
                fate,
                longest_gap: longest,
                connections_after,
            }
        })
        .collect()
}

/// Derives every pair's connection from what [`super::flows::read_pairs`] found.
pub fn derive_reading(reading: &Reading, fault_at: Duration) -> Vec<Connection> {
    derive(&reading.segments, &reading.expected, fault_at)
}

/// The verdict of a [`Slo::LongLivedTcp`] on the connections (timeline
/// offsets; `fault_at` for the messages).
pub fn judge(slo: &Slo, conns: Result<&[Connection], &str>, fault_at: Duration) -> SloVerdict {
    let unmeasured = |status: SloStatus, message: String| SloVerdict {
        slo: slo.clone(),
        status,
        measured: None,
        culprits: Vec::new(),
        message,
    };
    let conns = match conns {
        Err(e) => {
            let why = format!("the long-lived connections' servers could not be read: {e}");
            return unmeasured(SloStatus::NotEvaluated(why.clone()), why);
        }
        Ok([]) => {
            let why = "no long-lived connection in scope: no long-lived pods on two nodes";
            return unmeasured(SloStatus::Fail, why.to_string());
        }
        Ok(c) => c,
    };
    let rel = |t: Duration| {
        if t >= fault_at {
            format!("+{}", duration::format(t - fault_at))
        } else {
            format!("-{}", duration::format(fault_at - t))
        }
    };
    let longest = conns
        .iter()
        .filter_map(|c| c.longest_gap)
        .map(|g| g.duration())
        .max()
        .unwrap_or_default();
    let mut culprits = Vec::new();
    let mut unjudged = Vec::new();
    for c in conns {
        let reason = match &c.fate {
            Fate::Survived { .. } => continue,
            Fate::Unknown { why } => {
                unjudged.push(format!("{}: {why}", c.flow));
                continue;
            }
            Fate::Broke {
                id,
                last,
                next,
                next_at,
            } => format!(
                "connection {id} broke: its last line at {} from the fault, then a reconnect as {next} at {} (silent {})",
                rel(*last),
                rel(*next_at),
                duration::format(next_at.saturating_sub(*last))
            ),
            Fate::Silent { id, since, until } => {
                // Its last silence, not an earlier gap that closed.
                let silent = until.saturating_sub(*since);
                if silent <= TCP_GIVE_UP {
                    // Still within the retransmission backoff: the next
                    // retransmission may deliver every queued line.
                    unjudged.push(format!(
                        "{}: connection {id} silent since {} from the fault until the records end ({}), within TCP's retransmission backoff (it gives up after about {}): it may still deliver; a longer settle window decides",
                        c.flow,
                        rel(*since),
                        duration::format(silent),
                        duration::format(TCP_GIVE_UP)
                    ));
                    continue;
                }
                format!(
                    "connection {id} silent since {} from the fault until the records end ({}), past TCP's give-up ({}), and no reconnect reached the server",
                    rel(*since),
                    duration::format(silent),
                    duration::format(TCP_GIVE_UP)
                )
            }
        };
        culprits.push(Culprit {
            kind: CulpritKind::Pod,
            namespace: Some(PROBE_NAMESPACE.into()),
            name: format!("connection {}", c.flow),
            node: c.flow.rsplit(" -> ").next().map(str::to_string),
            reason,
            restarts: None,
            // The pair's lines came back, over a new connection.
            recovered_after: match &c.fate {
                Fate::Broke { next_at, .. } => Some(next_at.saturating_sub(fault_at)),
                _ => None,
            },
        });
    }
    let summary = format!(
        "longest gap {} over {} connections",
        duration::format(longest),
        conns.len()
    );
    let measured = Some(Measured::duration(longest));
    let unjudged = (!unjudged.is_empty()).then(|| format!("not judged: {}", unjudged.join("; ")));
    super::flows::conclude(slo, measured, culprits, unjudged, summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::traffic::MARKER;

    const FLOW_AB: &str = "long-lived-tcp a -> b";

    /// A segment spanning `span` (ms) with lines `(connection, at ms)`.
    fn seg(span: (u64, u64), lines: &[(&str, u64)]) -> LogSegment {
        let ms = Duration::from_millis;
        LogSegment {
            span: Some((ms(span.0), ms(span.1))),
            records: lines
                .iter()
                .enumerate()
                .map(|(i, (id, at))| Record {
                    flow: FLOW_AB.into(),
                    sender: (*id).into(),
                    seq: i as u64 + 1,
                    sent_unix_ms: None,
                    at: ms(*at),
                })
                .collect(),
            unreadable: 0,
        }
    }

    /// Lines of `id` every 200 ms over `[from, to)`.
    fn every(id: &'static str, from: u64, to: u64) -> Vec<(&'static str, u64)> {
        (from..to).step_by(200).map(|t| (id, t)).collect()
    }

    const FAULT: Duration = Duration::from_secs(10);

    fn one(segments: &[LogSegment]) -> Connection {
        let mut c = derive(segments, &[FLOW_AB.into()], FAULT);
        assert_eq!(c.len(), 1, "{c:#?}");
        c.remove(0)
    }

    #[test]
    fn the_fate_of_a_connection_over_the_fault() {
        let ms = Duration::from_millis;
        // (case, segments, expected fate, longest gap in ms)
        let survived = [every("p/1/1", 0, 10_000), every("p/1/1", 35_400, 60_000)].concat();
        let reconnect = [every("p/1/1", 0, 12_000), every("p/1/2", 40_000, 60_000)].concat();
        let lost_tail = every("p/1/1", 0, 30_000);
        let cases: Vec<(&str, Vec<LogSegment>, Fate, Option<u64>)> = vec![
            (
                "a 25.4 s freeze bridged by TCP: survived, the gap measured",
                vec![seg((0, 60_000), &survived)],
                Fate::Survived { id: "p/1/1".into() },
                Some(25_600),
            ),
            (
                "a reconnect after the fault: broke, naming both connections",
                vec![seg((0, 60_000), &reconnect)],
                Fate::Broke {
                    id: "p/1/1".into(),
                    last: ms(11_800),
                    next: "p/1/2".into(),
                    next_at: ms(40_000),
                },
                Some(28_200),
            ),
            (
                "a lost tail: silent until the records end",
                vec![seg((0, 60_000), &lost_tail)],
                Fate::Silent {
                    id: "p/1/1".into(),
                    since: ms(29_800),
                    until: ms(60_000),
                },
                Some(30_200),
            ),
            (
                "a restarted server: its previous run's log, then the new one's with a new connection",
                vec![
                    seg((0, 20_000), &every("p/1/1", 0, 20_000)),
                    seg((21_000, 60_000), &every("p/1/2", 22_000, 60_000)),
                ],
                Fate::Broke {
                    id: "p/1/1".into(),
                    last: ms(19_800),
                    next: "p/1/2".into(),
                    next_at: ms(22_000),
                },
                Some(2_200),
            ),
            (
                "a restarted server whose previous log is gone: no line before the fault",
                vec![seg((21_000, 60_000), &every("p/1/2", 22_000, 60_000))],
                Fate::Unknown {
                    why: "no line before the fault (the connection was not up yet, or the server's log from then is gone)".into(),
                },
                None,
            ),
        ];
        for (case, segments, fate, gap) in cases {
            let c = one(&segments);
            assert_eq!(c.fate, fate, "{case}: {c:#?}");
            assert_eq!(
                c.longest_gap.map(|g| g.duration().as_millis() as u64),
                gap,
                "{case}: {c:#?}"
            );
        }
        // A pair with no line at all is there, unknown.
        let c = one(&[seg((0, 60_000), &[])]);
        assert!(matches!(c.fate, Fate::Unknown { .. }), "{c:#?}");
    }

    #[test]
    fn a_stopped_connection_is_heard_again_at_its_first_retransmission_after_the_stop() {
        let ms = Duration::from_millis;
        // (down, heard again by): retransmissions at 0.2, 0.6, 1.4, 3.0,
        // 6.2, 12.6, 25.4, 51.0, 102.2 s after the first loss.
        for (down, by) in [
            (0, 200),
            (3_000, 3_200),
            (3_001, 6_400),
            (20_000, 25_600),
            (30_000, 51_200),
            (60_000, 102_400),
        ] {
            assert_eq!(heard_again_by(ms(down)), ms(by), "down {down} ms");
        }
        // The ceiling: past 204.6 s every step is 120 s.
        assert_eq!(heard_again_by(ms(300_000)), ms(324_600 + 200));
        let fault = |stop_for: u64| {
            crate::fault::Fault::OvsKill(crate::fault::OvsKill {
                target: crate::fault::NodeTarget::Name { name: "w".into() },
                process: crate::fault::OvsProcess::OvsVswitchd,
                signal: crate::fault::OvsSignal::Stop,
                stop_for: Some(Duration::from_secs(stop_for)),
            })
        };
        // A floor at +70 s raised for a 60 s freeze from +10 s, not for a
        // 20 s one (heard again by +35.6 s, settled by +65.6 s).
        let raised = |stop_for: u64| {
            let mut floor = super::super::Floor {
                at: Duration::from_secs(70),
                why: "before".into(),
            };
            let (at, settle) = (Duration::from_secs(10), Duration::from_secs(30));
            raise_floor(&mut floor, &fault(stop_for), at, settle);
            floor
        };
        let floor = raised(60);
        assert_eq!(floor.at, ms(10_000 + 102_400 + 30_000));
        assert!(
            floor.why.contains("heard again by +1m 42.4s"),
            "{}",
            floor.why
        );
        let floor = raised(20);
        assert_eq!(floor.at, Duration::from_secs(70), "{}", floor.why);
    }

    #[test]
    fn only_survivors_pass_and_breaks_fail_naming_the_connection() {
        let slo = Slo::LongLivedTcp;
        let ok = one(&[seg(
            (0, 60_000),
            &[every("p/1/1", 0, 10_000), every("p/1/1", 30_000, 60_000)].concat(),
        )]);
        let v = judge(&slo, Ok(std::slice::from_ref(&ok)), FAULT);
        assert_eq!(v.status, SloStatus::Pass, "{}", v.message);
        assert_eq!(v.measured, Some(Measured::Millis(20_200)));
        let broke = one(&[seg(
            (0, 60_000),
            &[every("p/1/1", 0, 12_000), every("p/1/2", 40_000, 60_000)].concat(),
        )]);
        let v = judge(&slo, Ok(&[ok.clone(), broke]), FAULT);
        assert_eq!(v.status, SloStatus::Fail, "{v:#?}");
        assert_eq!(v.culprits.len(), 1);
        assert_eq!(v.culprits[0].name, format!("connection {FLOW_AB}"));
        assert_eq!(v.culprits[0].node.as_deref(), Some("b"));
        assert_eq!(v.culprits[0].recovered_after, Some(Duration::from_secs(30)));
        let reason = &v.culprits[0].reason;
        assert!(
            reason.contains("p/1/1 broke") && reason.contains("reconnect as p/1/2 at +30s"),
            "{reason}"
        );
        // A silent connection: not judged within TCP's backoff (it may
        // still deliver), failed past its give-up.
        let lost_tail = one(&[seg((0, 60_000), &every("p/1/1", 0, 30_000))]);
        let v = judge(&slo, Ok(std::slice::from_ref(&lost_tail)), FAULT);
        assert!(
            matches!(&v.status, SloStatus::NotEvaluated(why) if why.contains("within TCP's retransmission backoff")),
            "{v:#?}"
        );
        let dead = one(&[seg((0, 1_000_000), &every("p/1/1", 0, 30_000))]);
        let v = judge(&slo, Ok(std::slice::from_ref(&dead)), FAULT);
        assert_eq!(v.status, SloStatus::Fail, "{v:#?}");
        assert!(
            v.culprits[0].reason.contains("past TCP's give-up"),
            "{v:#?}"
        );
        // Unknown pairs are never a pass; nothing at all is a failure.
        let unknown = one(&[seg((0, 60_000), &[])]);
        let v = judge(&slo, Ok(&[ok, unknown]), FAULT);
        assert!(matches!(v.status, SloStatus::NotEvaluated(_)), "{v:#?}");
        assert_eq!(judge(&slo, Ok(&[]), FAULT).status, SloStatus::Fail);
        assert!(matches!(
            judge(&slo, Err("boom"), FAULT).status,
            SloStatus::NotEvaluated(_)
        ));
    }

    #[test]
    fn the_daemonset_runs_a_server_and_a_client_whose_lines_parse_as_records() {
        let ds = daemonset();
        let pod = ds.spec.template.spec.unwrap();
        let names: Vec<&str> = pod.containers.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["server", "client"]);
        let client = client_script(&super::super::flows::peers_by_dns(LONG_LIVED));
        assert!(client.contains(MARKER) && client.contains("| nc $ip 9001"));
        // The line the client writes, as the server's runtime logs it.
        let log = format!(
            "2026-12-03T18:00:01.000000000Z {MARKER} flow={FLOW} from=a sender=p/1/3 seq=7 sent=1\n"
        );
        let origin: jiff::Timestamp = "2026-12-03T18:00:00Z".parse().unwrap();
        let s = super::super::traffic::parse_log(&log, origin, |_, p| {
            super::super::flows::flow_name(FLOW, super::super::traffic::from_node(p).unwrap(), "b")
        });
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.records[0].flow, FLOW_AB);
        assert_eq!(s.records[0].sender, "p/1/3");
        assert_eq!(s.records[0].at, Duration::from_secs(1));
    }
}
