//! The harness's continuous traffic: every 200 ms each traffic pod's
//! sender sends a numbered probe to every other node's traffic pod
//! (`pod-to-pod`, and over `net1` `secondary`), one to the traffic's ClusterIP Service
//! (`pod-to-service`) and, when its lookup through CoreDNS answered, one to
//! its own receiver (`dns`); the receiver prints each probe it gets, in the
//! format the harness's `observe::traffic` reads (the same on kind).

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
    /// Rule `traffic-secondary-probe-over-net1`: a `secondary` probe goes from the sender's `net1` to the peer's `net1`, both added by Multus from the Kube-OVN attachment: Kube-OVN's CNI server wires each one as another port of br-int on the attachment's Subnet, a logical switch across the nodes, so it takes the pod-to-pod path (rule `traffic-probe-through-both-overlays`) and arrives only when both pods have `net1` as well (a pod Multus left without it, multus-cni #1387, neither sends nor gets any). The sender learns each peer's `net1` address from the peer's discovery port over the primary network; the model takes the address as known.
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/daemon/handler.go (handleAdd: the attachment's provider picks its Subnet, and the interface is configured like the primary one)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/daemon/ovs_linux.go (configureContainerNic: the host-side veth becomes a port of br-int)
    ///
    /// One probe of each flow of sender container `i` of pod `k` (run
    /// `run`) on node `n`, then the next one after the interval.
    pub(super) fn traffic_send(&mut self, k: u64, i: usize, run: u32, n: usize) {
        let c = &mut self.pods.get_mut(&k).expect("pod exists").ctrs[i];
        c.tries += 1;
        let seq = c.tries;
        let p = &self.pods[&k];
        let here = self.overlay_up(k);
        let sender = format!("{}/{run}", p.name);
        let from = self.nodes[n].name.clone();
        let sent = self.timestamp(self.now).as_millisecond();
        let tag = format!("from={from} sender={sender} seq={seq} sent={sent}");
        let mut lines: Vec<((u64, usize, u32), &str)> = Vec::new();
        let net1 = self.pods[&k].has_interface("net1");
        for (qk, m) in self.traffic_pods() {
            if qk == k || m == n {
                continue;
            }
            if let Some(to) = self.traffic_listening(qk).filter(|_| here) {
                lines.push((to, "pod-to-pod"));
                if net1 && self.pods[&qk].has_interface("net1") {
                    lines.push((to, "secondary"));
                }
            }
        }
        if let Some(to) = self.traffic_service_backend(&sender, seq).filter(|_| here) {
            lines.push((to, "pod-to-service"));
        }
        if here && self.traffic_dns_answers() {
            // Over loopback to its own receiver: no other node's path.
            if let Some((ri, rrun, true)) = self.listener(k, &Program::TrafficReceiver) {
                lines.push(((k, ri, rrun), "dns"));
            }
        }
        lines.sort();
        for ((qk, ri, rrun), flow) in lines {
            self.clog(qk, ri, rrun, format!("cni-chaos-traffic flow={flow} {tag}"));
        }
        self.after(SEND_INTERVAL, Ev::Tick { pod: k, c: i, run });
    }

    /// Whether node `n`'s side of the overlay carries traffic: connected,
    /// OVS running and not frozen.
    fn traffic_node_up(&self, n: usize) -> bool {
        self.nodes[n].connected && self.ovs_healthy(n)
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
            && self.traffic_node_up(n)
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

    /// Every traffic pod placed on a node, with its node.
    fn traffic_pods(&self) -> Vec<(u64, usize)> {
        self.pods
            .iter()
            .filter(|(_, q)| q.template.labels.contains_key(TRAFFIC_LABEL))
            .filter_map(|(&qk, q)| Some((qk, q.node?)))
            .collect()
    }

    /// The receiver of traffic pod `qk` as `(pod, container, run)` when a
    /// probe from another node gets there: it listens, and the pod's end of
    /// the overlay is up.
    fn traffic_listening(&self, qk: u64) -> Option<(u64, usize, u32)> {
        match self.listener(qk, &Program::TrafficReceiver)? {
            (ri, run, true) if self.overlay_up(qk) => Some((qk, ri, run)),
            _ => None,
        }
    }

    /// Rule `traffic-service-probe-through-the-load-balancer`: a probe to the traffic's ClusterIP Service is load-balanced by the OVN load balancer on the sender's logical switch to one of the Service's Ready endpoints (the traffic pods that are Ready and not being deleted, the sender's own included), picked per connection by a hash of its 5-tuple (no selection fields without session affinity), with no health check for a ClusterIP; the probe then takes the pod-to-pod path to that endpoint (rule `traffic-probe-through-both-overlays`), so while one endpoint is unreachable but still Ready the probes hashed to it are lost and the others arrive. The hash is modelled as a fixed function of the sender's run and the probe's sequence number.
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/controller/endpoint_slice.go (handleUpdateEndpointSlice: backends from getEndpointBackend, the Ready endpoints; health checks only for a switch-lb-rule VIP, ignoreHealthCheck for a ClusterIP)
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/controller/init.go (initLB: selection_fields only with session affinity, else OVN's default per-connection hash)
    ///
    /// The receiver a `pod-to-service` probe `seq` of `sender` gets to,
    /// if any.
    fn traffic_service_backend(&self, sender: &str, seq: u32) -> Option<(u64, usize, u32)> {
        let endpoints: Vec<u64> = self
            .traffic_pods()
            .into_iter()
            .map(|(qk, _)| qk)
            .filter(|qk| {
                let q = &self.pods[qk];
                q.deleting.is_none() && super::render::pod_ready(self, q)
            })
            .collect();
        if endpoints.is_empty() {
            return None;
        }
        // FNV-1a over the sender and the sequence number: a fixed stand-in
        // for the datapath's hash of a connection's 5-tuple.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in sender.bytes().chain(seq.to_le_bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        let pick = endpoints[usize::try_from(h % endpoints.len() as u64).unwrap_or(0)];
        self.traffic_listening(pick)
    }

    /// Rule `traffic-dns-probe-after-a-lookup`: the sender looks up the traffic Service's name through CoreDNS and sends its `dns` probe, over loopback to its own receiver, only when the lookup answered; a lookup answers when a CoreDNS pod (`k8s-app=kube-dns`) is Ready, not being deleted and on a connected node, as for the twin's `dns` probe and kube-ovn-pinger's DNS check (rule `pinger-round-pods-nodes-dns`), and the query can cross the overlay: the sender's and that CoreDNS pod's nodes both carry traffic (rule `traffic-probe-through-both-overlays`).
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/pinger/ping.go (internalNslookup: the upstream lookup of a cluster name from a pod)
    /// Source: kubeovn/kube-ovn@v1.16.2:pkg/controller/endpoint_slice.go (the kube-dns ClusterIP's backends are its Ready endpoints)
    fn traffic_dns_answers(&self) -> bool {
        self.pods.values().any(|q| {
            q.template.labels.get("k8s-app").map(String::as_str) == Some("kube-dns")
                && q.deleting.is_none()
                && q.node.is_some_and(|m| self.traffic_node_up(m))
                && super::render::pod_ready(self, q)
        })
    }
}
