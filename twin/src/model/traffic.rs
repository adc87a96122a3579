//! The harness's continuous traffic: each traffic pod's sender sends a
//! numbered probe to every other node's traffic pod every 200 ms, and the
//! receiver prints each probe it gets, in the format the harness's
//! `observe::traffic` reads (the same on kind).

use super::rng::Ms;
use super::spec::{Program, TRAFFIC_LABEL};
use super::world::{CState, Ev, Sandbox, World};

/// The sender's first probe after its container started.
pub(super) const SENDER_START: Ms = 500;
/// Between two probes (the harness's `observe::traffic::SEND_INTERVAL`).
pub(super) const SEND_INTERVAL: Ms = 200;
/// How many lines a receiver's run keeps: the kubelet rotates a
/// container's log at 10 MiB (`containerLogMaxSize`), some 100 000 probe
/// lines; the model keeps fewer, enough for hours of two senders.
pub(super) const RECEIVER_LOG_LINES: usize = 50_000;

impl World {
    /// The receiver prints that it listens (the start of its log's
    /// coverage).
    pub(super) fn traffic_receiver_start(&mut self, k: u64, i: usize, run: u32) {
        self.clog(k, i, run, "cni-chaos-traffic-receiver listening port=9000");
    }

    /// Rule `traffic-probe-through-both-overlays`: a TCP probe from a pod to a pod on another node leaves through the sender's veth into br-int, crosses the Geneve tunnel and enters the receiver's veth on the other node's br-int, so it arrives only while both sandboxes exist, both nodes are connected, and OVS (ovsdb-server and ovs-vswitchd, not frozen) runs on both nodes, the same data path the twin's pinger and probes use; the kernel datapath's cached flows, which can outlive a frozen ovs-vswitchd for a while, are not modelled. The receiver prints each probe it gets; its runtime stamps the line.
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/daemon/ovs_linux.go (configureContainerNic: the pod's host-side veth becomes a port of br-int with external_ids:iface-id)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/pinger/ping.go (pingPods: the upstream check of the same pod-to-pod path)
    ///
    /// One probe of sender container `i` of pod `k` (run `run`) on node
    /// `n`, then the next one after the interval.
    pub(super) fn traffic_send(&mut self, k: u64, i: usize, run: u32, n: usize) {
        let c = &mut self.pods.get_mut(&k).expect("pod exists").ctrs[i];
        c.tries += 1;
        let seq = c.tries;
        let p = &self.pods[&k];
        let here = self.overlay_up(k);
        let sender = format!("{}/{run}", p.name);
        let from = self.nodes[n].name.clone();
        let sent = self.timestamp(self.now).as_millisecond();
        let mut to: Vec<(u64, usize, u32)> = Vec::new();
        for (&qk, q) in &self.pods {
            let Some(m) = q.node else { continue };
            if qk == k || m == n || !q.template.labels.contains_key(TRAFFIC_LABEL) {
                continue;
            }
            let Some((ri, rrun, listening)) = self.listener(qk, &Program::TrafficReceiver) else {
                continue;
            };
            if here && listening && self.overlay_up(qk) {
                to.push((qk, ri, rrun));
            }
        }
        to.sort();
        for (qk, ri, rrun) in to {
            self.clog(
                qk,
                ri,
                rrun,
                format!(
                    "cni-chaos-traffic flow=pod-to-pod from={from} sender={sender} seq={seq} sent={sent}"
                ),
            );
        }
        self.after(SEND_INTERVAL, Ev::Tick { pod: k, c: i, run });
    }

    /// Whether pod `k`'s end of the pod network works: its sandbox runs on
    /// a node that is up, connected, and whose OVS (ovsdb-server and
    /// ovs-vswitchd, not frozen) runs (rule
    /// `traffic-probe-through-both-overlays`).
    pub(super) fn overlay_up(&self, k: u64) -> bool {
        let Some(p) = self.pods.get(&k) else {
            return false;
        };
        let Some(n) = p.node else { return false };
        matches!(p.sandbox, Sandbox::Ready { .. })
            && self.nodes[n].active()
            && self.nodes[n].connected
            && self.ovs_healthy(n)
    }

    /// Pod `k`'s container running `program`: its index, its run, and
    /// whether its process runs now (not frozen).
    pub(super) fn listener(&self, k: u64, program: &Program) -> Option<(usize, u32, bool)> {
        let q = self.pods.get(&k)?;
        let m = q.node?;
        let ri = q
            .template
            .containers
            .iter()
            .position(|c| &c.program == program)?
            + q.n_init();
        let rc = &q.ctrs[ri];
        let running = matches!(rc.state, CState::Running { .. })
            && rc
                .pid
                .and_then(|pid| self.nodes[m].proc(pid))
                .is_some_and(|pr| !pr.stopped);
        Some((ri, rc.runs, running))
    }
}
