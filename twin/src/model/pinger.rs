//! kube-ovn-pinger's rounds, printed to its log as the real one prints
//! them, from what the model has: pod-to-pod and pod-to-node reachability
//! through the overlay and a Ready CoreDNS.

use super::world::{Ev, World};

/// `--interval`: seconds between rounds (pinger's default, which the
/// DaemonSet of install.sh keeps).
pub const PINGER_INTERVAL: super::rng::Ms = 5_000;

impl World {
    /// Rule `pinger-round-pods-nodes-dns`: kube-ovn-pinger (mode server) runs a round every `--interval` (5 s): it checks the API server, pings every kube-ovn-pinger pod's IP and every node's InternalIP (3 packets each, logging `ping pod|node: NAME IP, count: 3, loss count N, ...`), and resolves the internal DNS name (`resolve dns ...` or `failed to resolve dns ...`); the external checks run only when `--external-address` / `--external-dns` are set. A ping reaches its target only through both ends' overlay (the peer's sandbox and both nodes' OVS).
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/pinger/ping.go (StartPinger, ping, pingPods, pingNodes, internalNslookup, pingExternal: returns when ExternalAddress is empty)
    /// Source: kubeovn/kube-ovn@v1.14.41:pkg/pinger/config.go (interval default 5, mode default server)
    ///
    /// One round of pinger container `i` of pod `k` (run `run`) on node
    /// `n`, then the next one after the interval.
    pub(super) fn pinger_round(&mut self, k: u64, i: usize, run: u32, n: usize) {
        let klog = |file_line: &str, msg: String| {
            format!("I0000 00:00:00.000000       1 {file_line}] {msg}")
        };
        let mut lines = vec![
            klog(
                "ping.go:389",
                "start to check apiserver connectivity".into(),
            ),
            klog(
                "ping.go:400",
                "connect to apiserver success in 1.00ms".into(),
            ),
            klog("ping.go:175", "start to check pod connectivity".into()),
        ];
        let here = self.nodes[n].connected && self.ovs_healthy(n);
        let mut peers: Vec<(String, String, bool)> = self
            .pods
            .values()
            .filter(|q| q.template.labels.get("app").map(String::as_str) == Some("kube-ovn-pinger"))
            .filter_map(|q| {
                let ip = q.ip.clone()?;
                let reached = here
                    && matches!(q.sandbox, super::world::Sandbox::Ready { .. })
                    && q.node
                        .is_some_and(|m| self.nodes[m].connected && self.ovs_healthy(m));
                Some((q.name.clone(), ip, reached))
            })
            .collect();
        peers.sort();
        for (name, ip, reached) in peers {
            let loss = if reached { 0 } else { 3 };
            lines.push(klog(
                "ping.go:226",
                format!(
                    "ping pod: {name} {ip}, count: 3, loss count {loss}, average rtt {:.2}ms",
                    if reached { 0.1 } else { 0.0 }
                ),
            ));
        }
        lines.push(klog(
            "ping.go:107",
            "start to check node connectivity".into(),
        ));
        for m in 0..self.nodes.len() {
            let reached = here && self.nodes[m].connected && self.ovs_healthy(m);
            let loss = if reached { 0 } else { 3 };
            lines.push(klog(
                "ping.go:152",
                format!(
                    "ping node: {} {}, count: 3, loss count {loss}, average rtt {:.2}ms",
                    self.nodes[m].name,
                    self.nodes[m].ip,
                    if reached { 0.1 } else { 0.0 }
                ),
            ));
        }
        lines.push(klog(
            "ping.go:345",
            "start to check dns connectivity".into(),
        ));
        let dns = here
            && self.pods.values().any(|q| {
                q.template.labels.get("k8s-app").map(String::as_str) == Some("kube-dns")
                    && q.deleting.is_none()
                    && q.node.is_some_and(|m| self.nodes[m].connected)
                    && super::render::pod_ready(self, q)
            });
        lines.push(if dns {
            klog(
                "ping.go:362",
                "resolve dns kubernetes.default to [10.96.0.1] in 1.00ms".into(),
            )
        } else {
            klog(
                "ping.go:353",
                "failed to resolve dns kubernetes.default, lookup kubernetes.default on 10.96.0.10:53: read udp: i/o timeout".into(),
            )
        });
        for l in lines {
            self.clog(k, i, run, l);
        }
        self.after(PINGER_INTERVAL, Ev::Tick { pod: k, c: i, run });
    }
}
