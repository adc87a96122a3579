//! The harness's long-lived TCP connections: each long-lived pod's client
//! keeps one TCP connection to every other node's long-lived pod and
//! writes a numbered line over it every 200 ms; the server prints every
//! line it gets, in the format the harness's `observe::longlived` reads
//! (the same on kind). When a connection ends, the client's loop for
//! that peer connects again a second later with the next connection
//! number.

use super::rng::Ms;
use super::spec::{LONG_LIVED_LABEL, Program};
use super::world::{Ev, World};

/// The client's first line after its container started.
pub(super) const CLIENT_START: Ms = 500;
/// Between two lines (the harness's `observe::traffic::SEND_INTERVAL`).
pub(super) const LINE_INTERVAL: Ms = 200;
/// Linux's `TCP_RTO_MIN` (HZ/5): the first retransmission timeout of a
/// connection with a sub-millisecond round trip.
pub(super) const RTO_MIN: Ms = 200;
/// Linux's `TCP_RTO_MAX`: the backoff's ceiling.
pub(super) const RTO_MAX: Ms = 120_000;
/// Linux's default `net.ipv4.tcp_retries2`: retransmissions before the
/// connection is killed at the next timeout (about 924.6 s).
pub(super) const TCP_RETRIES2: u32 = 15;
/// The client's `sleep 1` before it connects again.
pub(super) const RECONNECT_AFTER: Ms = 1_000;

/// A retransmission in progress: the oldest unacknowledged line went out
/// at `since` and was not acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Retransmit {
    /// The next retransmission.
    next: Ms,
    /// The current timeout (doubles after each retransmission).
    rto: Ms,
    /// Retransmissions so far.
    tries: u32,
}

/// One client's connection to one server pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Peer {
    /// No connection: the next attempt at `retry_at` gets number `number + 1`.
    Down { number: u32, retry_at: Ms },
    /// Connection `number` to the server container `ctr`'s run `run` in
    /// its pod's sandbox `attempt`.
    Up {
        number: u32,
        ctr: usize,
        run: u32,
        attempt: u32,
        /// Lines written so far on it.
        seq: u64,
        /// Lines written and not yet delivered to the server.
        queued: Vec<String>,
        /// Retransmitting since a line was not acknowledged.
        retransmit: Option<Retransmit>,
    },
}

impl World {
    /// The server prints that it listens (the start of its log's
    /// coverage).
    pub(super) fn long_lived_server_start(&mut self, k: u64, i: usize, run: u32) {
        self.clog(k, i, run, "cni-chaos-long-lived-server listening port=9001");
    }

    /// A new client run has no connection yet.
    pub(super) fn long_lived_client_start(&mut self, k: u64, i: usize) {
        if let Some(p) = self.pods.get_mut(&k) {
            p.ctrs[i].peers.clear();
        }
    }

    /// Rule `long-lived-tcp-rides-out-a-freeze`: a long-lived client's TCP connection to a pod on another node carries its lines over the same data path as the traffic's probes; a line that finds the path down (a frozen ovs-vswitchd, a partition) is retransmitted after TCP_RTO_MIN (200 ms), the timeout doubling up to TCP_RTO_MAX (120 s), and arrives, with every line queued behind it, at the first retransmission after the path is back, so the gap the server sees ends there, not when the path returns; after tcp_retries2 (15) retransmissions the next timeout kills the connection (about 924.6 s). A server whose process ended while its sandbox lives answers with a reset, and the client connects again a second later with a new connection number; a server whose sandbox is gone answers nothing, so the client retransmits until it gives up. A frozen server's kernel still acknowledges, and its lines are printed when it resumes. Not modelled: a new connection's SYN backoff (the real `nc` has no `-w`, so a connect while the path is down retries at 1, 3, 7, 15 s and so on; the model tries again every second), so a broken pair's recovery reads early on the twin; nor the handshake a frozen server's kernel would still complete.
    /// Source: torvalds/linux@v6.12:Documentation/networking/ip-sysctl.rst (tcp_retries2: exponential backoff from TCP_RTO_MIN, N retransmissions, killed at the (N+1)th RTO; 15 yields about 924.6 s)
    /// Source: torvalds/linux@v6.12:include/net/tcp.h (TCP_RTO_MIN HZ/5, TCP_RTO_MAX 120*HZ)
    /// Source: torvalds/linux@v6.12:net/ipv4/tcp_timer.c (tcp_retransmit_timer: icsk_rto doubled up to the maximum; tcp_write_timeout gives up)
    /// Source: torvalds/linux@v6.12:net/ipv4/tcp_ipv4.c (tcp_v4_rcv no_tcp_socket: a segment for no socket gets tcp_v4_send_reset)
    /// Pinned by: harness/tests/traffic_system.rs::the_long_lived_commands_ride_out_a_link_flap_and_name_a_killed_server
    ///
    /// One line of client container `i` of pod `k` (run `run`) on node
    /// `n` to every peer, then the next one after the interval.
    pub(super) fn long_lived_write(&mut self, k: u64, i: usize, run: u32, n: usize) {
        let now = self.now;
        let from = self.nodes[n].name.clone();
        let client = format!("{}/{run}", self.pods[&k].name);
        let sent = self.timestamp(now).as_millisecond();
        let servers: Vec<u64> = self
            .pods
            .iter()
            .filter(|(qk, q)| {
                **qk != k
                    && q.node.is_some_and(|m| m != n)
                    && q.template.labels.contains_key(LONG_LIVED_LABEL)
            })
            .map(|(qk, _)| *qk)
            .collect();
        let here = self.overlay_up(k);
        for qk in servers {
            let Some((ctr, srun, listening)) = self.listener(qk, &Program::LongLivedServer) else {
                continue;
            };
            let attempt = self.pods[&qk].attempt;
            let ip = self.pods[&qk].ip.clone().unwrap_or_default();
            let path = here && self.overlay_up(qk);
            let peer = self.pods[&k].ctrs[i].peers.get(&qk).cloned();
            let mut peer = match peer {
                None => Peer::Down {
                    number: 0,
                    retry_at: now,
                },
                Some(p) => p,
            };
            let mut deliver: Vec<String> = Vec::new();
            peer = match peer {
                Peer::Down { number, retry_at } if now >= retry_at => {
                    // `nc ADDR 9001`: connected when the server listens
                    // behind a working path, else the loop sleeps a second
                    // and tries the next number.
                    if path && listening {
                        Peer::Up {
                            number: number + 1,
                            ctr,
                            run: srun,
                            attempt,
                            seq: 0,
                            queued: Vec::new(),
                            retransmit: None,
                        }
                    } else {
                        Peer::Down {
                            number: number + 1,
                            retry_at: now + RECONNECT_AFTER,
                        }
                    }
                }
                down @ Peer::Down { .. } => down,
                Peer::Up {
                    number,
                    ctr: c,
                    run: r,
                    attempt: a,
                    mut seq,
                    mut queued,
                    mut retransmit,
                } => {
                    seq += 1;
                    queued.push(format!(
                        "cni-chaos-traffic flow=long-lived-tcp from={from} sender={client}/{ip}/{number} seq={seq} sent={sent}"
                    ));
                    let same_sandbox = a == attempt;
                    let same_process = same_sandbox && c == ctr && r == srun;
                    // What the segments meet when they get through: the
                    // socket (printed now, or when a frozen server
                    // resumes), a reset, or nothing at all.
                    let try_now = retransmit.as_ref().is_none_or(|t| now >= t.next);
                    let mut reset = false;
                    let mut killed = false;
                    if try_now {
                        if path && same_process {
                            retransmit = None;
                            if listening {
                                deliver = std::mem::take(&mut queued);
                            }
                        } else if path && same_sandbox {
                            reset = true;
                        } else {
                            retransmit = Some(match retransmit {
                                None => Retransmit {
                                    next: now + RTO_MIN,
                                    rto: RTO_MIN,
                                    tries: 0,
                                },
                                Some(t) if t.tries >= TCP_RETRIES2 => {
                                    killed = true;
                                    t
                                }
                                Some(t) => {
                                    let rto = (t.rto * 2).min(RTO_MAX);
                                    Retransmit {
                                        next: t.next + rto,
                                        rto,
                                        tries: t.tries + 1,
                                    }
                                }
                            });
                        }
                    }
                    if reset || killed {
                        Peer::Down {
                            number,
                            retry_at: now + RECONNECT_AFTER,
                        }
                    } else {
                        Peer::Up {
                            number,
                            ctr: c,
                            run: r,
                            attempt: a,
                            seq,
                            queued,
                            retransmit,
                        }
                    }
                }
            };
            if let Some(p) = self.pods.get_mut(&k) {
                p.ctrs[i].peers.insert(qk, peer);
            }
            for line in deliver {
                self.clog(qk, ctr, srun, line);
            }
        }
        self.after(LINE_INTERVAL, Ev::Tick { pod: k, c: i, run });
    }
}
