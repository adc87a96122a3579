//! [`Slo::NatGatewayRules`]: the VPC NAT gateway's SNAT rule and EIP, read
//! in its pod through the command seam ([`Cluster::exec_in_pod`]) at the
//! end of observation. The same parsers read `kubectl exec` on kind and the
//! twin's answers, which come in the real tools' formats.
//!
//! What is checked, from kube-ovn's `nat-gateway.sh` (v1.14.41
//! `dist/images/vpcnatgateway/nat-gateway.sh`): `add_snat` appends
//! `-A SHARED_SNAT -o net1 -s CIDR -j SNAT --to-source EIP` (iptables-save
//! prints the match as `-s CIDR -o net1`), `add_eip` runs
//! `ip addr replace EIP dev net1`; with a `dnat:` check, `add_dnat`
//! appends `-A SHARED_DNAT -p PROTO -d EIP --dport PORT -j DNAT
//! --to-destination IP:PORT`, which iptables-save lists as `-A SHARED_DNAT
//! -d EIP/32 -p PROTO -m PROTO --dport PORT -j DNAT --to-destination
//! IP:PORT` (v1.13.15 to v1.16.2). A gateway that came back Ready without
//! them (kube-ovn #3241, #4193, #4987) fails, naming what is missing.
//!
//! With `path: true` traffic must get through as well, end to end: the
//! profile's client in the VPC (`cni-chaos-nat-client-0`) asks the target
//! outside it (`<cluster>-nat-target`, [`NAT_TARGET_IP`]) through busybox
//! `nc`, and the target's `httpd` CGI answers with the peer it saw, which
//! must be the EIP; with a `dnat:` check the target asks the EIP's port,
//! which must reach the client's `httpd` with the target as its peer. A
//! rule listed in the table but not in effect, or a path broken elsewhere
//! (the gateway's `eth0` on a node whose OVS is down), fails too. The raw
//! answers go into the diagnostics.

use cni_chaos_twin::model::{
    NAT_CLIENT, NAT_CLIENT_CONTAINER, NAT_PATH_MARKER, NAT_TARGET_HOSTNAME, NAT_TARGET_IP,
    NAT_TARGET_PORT, nat_path_request,
};

pub use super::podcheck::Seen;
use super::podcheck::{conclude, culprit, live_pods, not_evaluated};
use crate::backend::{Cluster, CommandOutput, PodExec};
use crate::slo::{Slo, SloVerdict};

/// The gateway container kube-ovn-controller's StatefulSet runs.
pub const NAT_GW_CONTAINER: &str = "vpc-nat-gw";

/// The label selector of a gateway's pods (`app=vpc-nat-gw-<gateway>`).
pub fn gateway_app(gateway: &str) -> String {
    format!("vpc-nat-gw-{gateway}")
}

/// One SNAT rule as `iptables-save` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnatRule {
    /// Its chain (`SHARED_SNAT`, `EXCLUSIVE_SNAT`).
    pub chain: String,
    /// `-s`.
    pub source: Option<String>,
    /// `-o`.
    pub out_interface: Option<String>,
    /// `--to-source`.
    pub to_source: String,
}

/// The `-A` lines of `iptables-save` output that jump to `target`, as
/// their words; an `Err` names such a line without a chain or without
/// `to_flag`.
fn rules_to(text: &str, target: &str, to_flag: &str) -> Result<Vec<Vec<String>>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        if words.first().map(String::as_str) != Some("-A")
            || flag(&words, "-j").as_deref() != Some(target)
        {
            continue;
        }
        if words.len() < 2 {
            return Err(format!("no chain in {line:?}"));
        }
        if flag(&words, to_flag).is_none() {
            return Err(format!("{target} without {to_flag}: {line:?}"));
        }
        out.push(words);
    }
    Ok(out)
}

/// The word after `name` in a rule's words.
fn flag(words: &[String], name: &str) -> Option<String> {
    words
        .iter()
        .position(|w| w == name)
        .and_then(|i| words.get(i + 1))
        .cloned()
}

/// The SNAT rules in `iptables-save -t nat` output (lines
/// `-A CHAIN ... -j SNAT --to-source ADDR`); an `Err` names a line that
/// claims to be SNAT but cannot be read.
pub fn parse_snat_rules(text: &str) -> Result<Vec<SnatRule>, String> {
    Ok(rules_to(text, "SNAT", "--to-source")?
        .iter()
        .map(|w| SnatRule {
            chain: w[1].clone(),
            // iptables-save prints a /32 source without its length.
            source: flag(w, "-s"),
            out_interface: flag(w, "-o"),
            to_source: flag(w, "--to-source").unwrap_or_default(),
        })
        .collect())
}

/// One DNAT rule as `iptables-save` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnatSeen {
    /// Its chain (`SHARED_DNAT`, `EXCLUSIVE_DNAT`).
    pub chain: String,
    /// `-d`.
    pub destination: Option<String>,
    /// `-p`.
    pub protocol: Option<String>,
    /// `--dport`.
    pub dport: Option<String>,
    /// `--to-destination`.
    pub to_destination: String,
}

/// The DNAT rules in `iptables-save -t nat` output (lines `-A CHAIN ...
/// -j DNAT --to-destination ADDR`); an `Err` names a line that claims to
/// be DNAT but cannot be read.
pub fn parse_dnat_rules(text: &str) -> Result<Vec<DnatSeen>, String> {
    Ok(rules_to(text, "DNAT", "--to-destination")?
        .iter()
        .map(|w| DnatSeen {
            chain: w[1].clone(),
            destination: flag(w, "-d"),
            protocol: flag(w, "-p"),
            dport: flag(w, "--dport"),
            to_destination: flag(w, "--to-destination").unwrap_or_default(),
        })
        .collect())
}

/// The IPv4 addresses (without their prefix length) in
/// `ip -o -4 addr show dev IF` output.
pub fn parse_ipv4_addrs(text: &str) -> Result<Vec<std::net::Ipv4Addr>, String> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some(i) = words.iter().position(|w| *w == "inet") else {
            return Err(format!("no inet address in {line:?}"));
        };
        let cidr = words
            .get(i + 1)
            .ok_or_else(|| format!("inet without an address: {line:?}"))?;
        let addr = cidr.split('/').next().unwrap_or(cidr);
        out.push(addr.parse().map_err(|e| format!("{addr:?}: {e}"))?);
    }
    Ok(out)
}

/// What was read of one gateway pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayReading {
    /// The pod.
    pub pod: Seen,
    /// Its SNAT rules, or why they could not be read.
    pub snat: Result<Vec<SnatRule>, String>,
    /// Its DNAT rules (from the same `iptables-save`), or why not.
    pub dnat: Result<Vec<DnatSeen>, String>,
    /// The IPv4 addresses on its `net1`, or why they could not be read.
    pub net1: Result<Vec<std::net::Ipv4Addr>, String>,
}

/// One request of the path and its raw answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathRequest {
    /// Where it ran (`kube-system/cni-chaos-nat-client-0 client`, `the
    /// target`).
    pub place: String,
    /// Where it went (`172.31.250.100:8080`).
    pub to: String,
    /// Its argv, as one line.
    pub command: String,
    /// What it printed, or why it could not be run.
    pub answer: Result<PodExec, String>,
}

impl PathRequest {
    /// The raw answer for the diagnostics.
    pub fn output(&self) -> CommandOutput {
        CommandOutput {
            place: self.place.clone(),
            command: self.command.clone(),
            text: match &self.answer {
                Ok(o) => format!("{}{}(exit {:?})\n", o.stdout, o.stderr, o.status),
                Err(e) => format!("not run: {e}\n"),
            },
        }
    }
}

/// What was read of the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathReading {
    /// The client pod in the VPC, if there is one.
    pub client: Option<Seen>,
    /// The client's request to the target.
    pub egress: PathRequest,
    /// The target's request to the EIP's DNAT port (with a `dnat:` check).
    pub ingress: Option<PathRequest>,
}

/// What [`read`] found: the gateway's pods, and the path when asked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    /// Each gateway pod.
    pub gateways: Vec<GatewayReading>,
    /// The path (`path: true`).
    pub path: Option<PathReading>,
}

impl Reading {
    /// The path's raw answers, for the diagnostics.
    pub fn outputs(&self) -> Vec<CommandOutput> {
        self.path
            .iter()
            .flat_map(|p| std::iter::once(&p.egress).chain(p.ingress.as_ref()))
            .map(PathRequest::output)
            .collect()
    }
}

/// Reads the gateway of `slo` now: its pods through the API, then
/// `iptables-save -t nat` and `ip -o -4 addr show dev net1` in each that
/// runs; with `path: true`, the path's two requests. `Err`: the pods could
/// not be listed.
pub async fn read(
    client: &kube::Client,
    cluster: &dyn Cluster,
    slo: &Slo,
) -> Result<Reading, String> {
    let Slo::NatGatewayRules {
        namespace,
        path,
        eip,
        dnat,
        ..
    } = slo
    else {
        return Ok(Reading::default());
    };
    let gateways = read_gateways(client, cluster, slo).await?;
    let path = if *path {
        Some(read_path(client, cluster, namespace, eip, dnat.as_ref()).await?)
    } else {
        None
    };
    Ok(Reading { gateways, path })
}

/// The path's two requests: the client's to the target (when the client
/// runs), the target's to the EIP's DNAT port (with `dnat`).
async fn read_path(
    client: &kube::Client,
    cluster: &dyn Cluster,
    namespace: &str,
    eip: &std::net::Ipv4Addr,
    dnat: Option<&crate::slo::DnatRule>,
) -> Result<PathReading, String> {
    let pod = live_pods(client, namespace, &format!("app={NAT_CLIENT}"))
        .await?
        .into_iter()
        .next();
    let target = format!("{NAT_TARGET_IP}:{NAT_TARGET_PORT}");
    let argv = nat_path_request(NAT_TARGET_IP, NAT_TARGET_PORT);
    let command = argv.join(" ");
    let egress = match &pod {
        None => PathRequest {
            place: format!("{namespace}/{NAT_CLIENT}-0 {NAT_CLIENT_CONTAINER}"),
            to: target,
            command,
            answer: Err(format!(
                "no pod of the path's client (app={NAT_CLIENT}) in {namespace}"
            )),
        },
        Some(p) => {
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let answer = match &p.not_running {
                Some(state) => Err(format!("the path's client {} is {state}", p.name)),
                None => cluster
                    .exec_in_pod(namespace, &p.name, NAT_CLIENT_CONTAINER, &argv)
                    .await
                    .map_err(|e| e.to_string()),
            };
            PathRequest {
                place: format!("{namespace}/{} {NAT_CLIENT_CONTAINER}", p.name),
                to: target,
                command,
                answer,
            }
        }
    };
    let ingress = match dnat {
        None => None,
        Some(d) => {
            let argv = nat_path_request(&eip.to_string(), d.eip_port);
            let command = argv.join(" ");
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            Some(PathRequest {
                place: "the target outside the VPC".into(),
                to: format!("{eip}:{}", d.eip_port),
                command,
                answer: cluster
                    .exec_on_nat_target(&argv)
                    .await
                    .map_err(|e| e.to_string()),
            })
        }
    };
    Ok(PathReading {
        client: pod,
        egress,
        ingress,
    })
}

/// The peer and host in a path answer (`cni-chaos-nat-path peer=IP
/// host=NAME`, after busybox `httpd`'s status line and the CGI's header).
pub fn parse_path_answer(stdout: &str) -> Result<(std::net::Ipv4Addr, String), String> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(NAT_PATH_MARKER))
        .ok_or_else(|| format!("no `{NAT_PATH_MARKER}` line in {stdout:?}"))?;
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .ok_or_else(|| format!("no {name} in {line:?}"))
    };
    let peer = field("peer=")?;
    // An httpd on an IPv6 socket names an IPv4 peer `[::ffff:a.b.c.d]`.
    let bare = peer
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_start_matches("::ffff:");
    Ok((
        bare.parse().map_err(|e| format!("peer {peer:?}: {e}"))?,
        field("host=")?.to_string(),
    ))
}

/// What is wrong with one request's answer: it must come from `host`
/// (any host when `None`) and name `peer` as the peer it saw. `Ok(None)`:
/// nothing; `Err`: the request could not be run.
fn path_finding(
    what: &str,
    req: &PathRequest,
    peer: std::net::Ipv4Addr,
    host: Option<&str>,
    why_peer: &str,
) -> Result<Option<String>, String> {
    let out = req.answer.as_ref().map_err(|e| format!("{what}: {e}"))?;
    if out.status != Some(0) {
        return Ok(Some(format!(
            "{what}: the request to {} got no answer ({})",
            req.to,
            match out.stderr.trim() {
                "" => format!("exit {:?}", out.status),
                e => e.to_string(),
            }
        )));
    }
    Ok(match parse_path_answer(&out.stdout) {
        Err(e) => Some(format!(
            "{what}: {} answered, but not the path's CGI: {e}",
            req.to
        )),
        Ok((_, got)) if host.is_some_and(|h| h != got) => Some(format!(
            "{what}: {} was answered by {got}, not {}",
            req.to,
            host.unwrap_or_default()
        )),
        Ok((seen, _)) if seen != peer => Some(format!(
            "{what}: {} saw the request come from {seen}, not {peer} ({why_peer})",
            req.to
        )),
        Ok(_) => None,
    })
}

/// The path's findings (each a reason against the gateway) and what could
/// not be read.
fn path_findings(path: &PathReading, eip: &std::net::Ipv4Addr) -> (Vec<String>, Vec<String>) {
    let mut found = Vec::new();
    let mut unreadable = Vec::new();
    let mut take = |r: Result<Option<String>, String>| match r {
        Ok(Some(f)) => found.push(f),
        Ok(None) => {}
        Err(e) => unreadable.push(e),
    };
    take(path_finding(
        "egress",
        &path.egress,
        *eip,
        Some(NAT_TARGET_HOSTNAME),
        "the SNAT rule did not translate it",
    ));
    if let Some(ingress) = &path.ingress {
        let target: std::net::Ipv4Addr = NAT_TARGET_IP
            .parse()
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
        take(path_finding(
            "ingress",
            ingress,
            target,
            path.client.as_ref().map(|c| c.name.as_str()),
            "DNAT keeps the peer's address",
        ));
    }
    (found, unreadable)
}

/// The gateway's pods and what each holds.
async fn read_gateways(
    client: &kube::Client,
    cluster: &dyn Cluster,
    slo: &Slo,
) -> Result<Vec<GatewayReading>, String> {
    let Slo::NatGatewayRules {
        gateway, namespace, ..
    } = slo
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for pod in live_pods(client, namespace, &format!("app={}", gateway_app(gateway))).await? {
        if pod.not_running.is_some() {
            let never = "not read: the pod is not Running".to_string();
            out.push(GatewayReading {
                pod,
                snat: Err(never.clone()),
                dnat: Err(never.clone()),
                net1: Err(never),
            });
            continue;
        }
        let run = |argv: &'static [&'static str]| {
            let name = pod.name.clone();
            async move {
                let out = cluster
                    .exec_in_pod(namespace, &name, NAT_GW_CONTAINER, argv)
                    .await
                    .map_err(|e| e.to_string())?;
                if out.status != Some(0) {
                    return Err(format!(
                        "`{}` exited {:?}: {}",
                        argv.join(" "),
                        out.status,
                        out.stderr.trim()
                    ));
                }
                Ok(out.stdout)
            }
        };
        let saved = run(&["iptables-save", "-t", "nat"]).await;
        let snat = saved.clone().and_then(|t| parse_snat_rules(&t));
        let dnat = saved.and_then(|t| parse_dnat_rules(&t));
        let net1 = run(&["ip", "-o", "-4", "addr", "show", "dev", "net1"])
            .await
            .and_then(|t| parse_ipv4_addrs(&t));
        out.push(GatewayReading {
            pod,
            snat,
            dnat,
            net1,
        });
    }
    Ok(out)
}

/// Whether `rule` is the SNAT rule `slo` asks for: in `SHARED_SNAT`, from
/// the subnet, out of `net1`, to the EIP.
fn is_wanted(rule: &SnatRule, cidr: &str, eip: &std::net::Ipv4Addr) -> bool {
    rule.chain == "SHARED_SNAT"
        && rule.source.as_deref() == Some(cidr)
        && rule.out_interface.as_deref() == Some("net1")
        && rule.to_source == eip.to_string()
}

/// Whether `rule` is the DNAT rule `want` on `eip`, in `SHARED_DNAT`.
fn is_wanted_dnat(rule: &DnatSeen, want: &crate::slo::DnatRule, eip: &std::net::Ipv4Addr) -> bool {
    rule.chain == "SHARED_DNAT"
        && rule.destination.as_deref() == Some(format!("{eip}/32").as_str())
        && rule.protocol.as_deref() == Some(want.protocol.as_str())
        && rule.dport.as_deref() == Some(want.eip_port.to_string().as_str())
        && rule.to_destination == format!("{}:{}", want.internal_ip, want.internal_port)
}

/// The verdict of a [`Slo::NatGatewayRules`] on what [`read`] found.
pub fn judge(slo: &Slo, reading: Result<&Reading, &str>) -> SloVerdict {
    let Slo::NatGatewayRules {
        gateway,
        namespace,
        eip,
        snat_cidr,
        dnat,
        path,
    } = slo
    else {
        return not_evaluated(slo, "not a nat-gateway-rules SLO");
    };
    let (readings, through) = match reading {
        Ok(r) => (r.gateways.as_slice(), r.path.as_ref()),
        Err(e) => return not_evaluated(slo, e),
    };
    let rule_text = format!("-A SHARED_SNAT -s {snat_cidr} -o net1 -j SNAT --to-source {eip}");
    let mut culprits = Vec::new();
    let mut unreadable = Vec::new();
    let (path_found, path_unread) = match (path, through) {
        (false, _) => (Vec::new(), Vec::new()),
        (true, Some(p)) => path_findings(p, eip),
        (true, None) => (Vec::new(), vec!["the path was not read".to_string()]),
    };
    unreadable.extend(path_unread);
    for r in readings {
        let mut missing = Vec::new();
        if let Some(state) = &r.pod.not_running {
            missing.push(format!(
                "{state}: not Running when observation ended, so it translates nothing ({rule_text} cannot be in effect)"
            ));
        } else {
            match &r.snat {
                Ok(rules) if rules.iter().any(|x| is_wanted(x, snat_cidr, eip)) => {}
                Ok(_) => missing.push(format!("SNAT rule `{rule_text}` missing")),
                Err(e) => unreadable.push(format!("{}: iptables-save: {e}", r.pod.name)),
            }
            if let Some(want) = dnat {
                match &r.dnat {
                    Ok(rules) if rules.iter().any(|x| is_wanted_dnat(x, want, eip)) => {}
                    Ok(_) => missing.push(format!("DNAT rule `{}` missing", want.saved(eip))),
                    Err(e) => unreadable.push(format!("{}: iptables-save: {e}", r.pod.name)),
                }
            }
            match &r.net1 {
                Ok(addrs) if addrs.contains(eip) => {}
                Ok(_) => missing.push(format!("EIP {eip} not on net1")),
                Err(e) => unreadable.push(format!("{}: ip addr: {e}", r.pod.name)),
            }
        }
        // The path goes through every gateway pod there is (one).
        missing.extend(path_found.iter().cloned());
        if !missing.is_empty() {
            culprits.push(culprit(namespace, &r.pod, missing.join("; ")));
        }
    }
    conclude(
        slo,
        "gateway pods",
        readings.len(),
        culprits,
        unreadable,
        format!(
            "no pod of gateway {gateway} (app={}) in {namespace} when observation ended: {rule_text} is nowhere",
            gateway_app(gateway)
        ),
        format!(
            "gateway {gateway} holds `{rule_text}`{} and EIP {eip} on net1{}",
            dnat.as_ref()
                .map(|d| format!(", `{}`", d.saved(eip)))
                .unwrap_or_default(),
            match (path, dnat) {
                (false, _) => String::new(),
                (true, None) => format!(
                    "; the client's request reached {NAT_TARGET_IP}:{NAT_TARGET_PORT} from {eip}"
                ),
                (true, Some(d)) => format!(
                    "; the client's request reached {NAT_TARGET_IP}:{NAT_TARGET_PORT} from {eip}, and the target's reached the client through {eip}:{}",
                    d.eip_port
                ),
            }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slo::SloStatus;

    /// `iptables-save -t nat` in a gateway after `nat-gateway.sh init` and
    /// `add_snat` (iptables v1.8, random-fully on).
    const SAVED: &str = "# Generated by iptables-save v1.8.9\n*nat\n:PREROUTING ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n:SHARED_SNAT - [0:0]\n:SNAT_FILTER - [0:0]\n-A POSTROUTING -j SNAT_FILTER\n-A SHARED_SNAT -s 10.250.1.0/24 -o net1 -j SNAT --to-source 172.31.250.101 --random-fully\n-A SNAT_FILTER -j SHARED_SNAT\nCOMMIT\n";
    const ADDR: &str = "2: net1    inet 172.31.250.101/24 scope global net1\\       valid_lft forever preferred_lft forever\n";

    fn slo() -> Slo {
        Slo::NatGatewayRules {
            gateway: "gw1".into(),
            namespace: "kube-system".into(),
            eip: "172.31.250.101".parse().unwrap(),
            snat_cidr: "10.250.1.0/24".into(),
            dnat: None,
            path: false,
        }
    }

    /// [`slo`] with the DNAT check of the harness's gateway.
    fn slo_with_dnat() -> Slo {
        let Slo::NatGatewayRules {
            gateway,
            namespace,
            eip,
            snat_cidr,
            ..
        } = slo()
        else {
            unreachable!()
        };
        Slo::NatGatewayRules {
            gateway,
            namespace,
            eip,
            snat_cidr,
            dnat: Some(crate::slo::DnatRule {
                eip_port: 8080,
                internal_ip: "10.250.1.10".parse().unwrap(),
                internal_port: 80,
                protocol: "tcp".into(),
            }),
            path: false,
        }
    }

    /// `iptables-save -t nat` after `add_dnat` too (its rule as the
    /// kube-ovn v1.16.2 e2e's `dnatRuleExists` documents it).
    const SAVED_DNAT: &str = "*nat\n:SHARED_DNAT - [0:0]\n:SHARED_SNAT - [0:0]\n-A SHARED_DNAT -d 172.31.250.101/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.250.1.10:80\n-A SHARED_SNAT -s 10.250.1.0/24 -o net1 -j SNAT --to-source 172.31.250.101 --random-fully\nCOMMIT\n";

    #[test]
    fn a_dnat_check_needs_its_rule_in_shared_dnat() {
        assert_eq!(
            parse_dnat_rules(SAVED_DNAT).unwrap(),
            [DnatSeen {
                chain: "SHARED_DNAT".into(),
                destination: Some("172.31.250.101/32".into()),
                protocol: Some("tcp".into()),
                dport: Some("8080".into()),
                to_destination: "10.250.1.10:80".into(),
            }]
        );
        assert!(parse_dnat_rules("-A X -j DNAT\n").is_err());
        let v = judge(
            &slo_with_dnat(),
            Ok(&gateways(vec![reading(SAVED_DNAT, ADDR)])),
        );
        assert_eq!(v.status, SloStatus::Pass, "{v:?}");
        // Without the DNAT check the SNAT-only table passes; with it, not.
        assert_eq!(
            judge(&slo(), Ok(&gateways(vec![reading(SAVED, ADDR)]))).status,
            SloStatus::Pass
        );
        let v = judge(&slo_with_dnat(), Ok(&gateways(vec![reading(SAVED, ADDR)])));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(
            v.culprits[0].reason,
            "DNAT rule `-A SHARED_DNAT -d 172.31.250.101/32 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.250.1.10:80` missing"
        );
        // Another port, or another destination, is not the rule.
        for other in [
            SAVED_DNAT.replace("--dport 8080", "--dport 8081"),
            SAVED_DNAT.replace("10.250.1.10:80", "10.250.1.11:80"),
        ] {
            let v = judge(&slo_with_dnat(), Ok(&gateways(vec![reading(&other, ADDR)])));
            assert_eq!(v.status, SloStatus::Fail, "{other}");
        }
    }

    /// A reading of `g` without the path.
    fn gateways(g: Vec<GatewayReading>) -> Reading {
        Reading {
            gateways: g,
            path: None,
        }
    }

    fn reading(saved: &str, addr: &str) -> GatewayReading {
        GatewayReading {
            pod: Seen {
                name: "vpc-nat-gw-gw1-0".into(),
                node: Some("kind-worker".into()),
                not_running: None,
            },
            snat: parse_snat_rules(saved),
            dnat: parse_dnat_rules(saved),
            net1: parse_ipv4_addrs(addr),
        }
    }

    #[test]
    fn the_snat_rule_and_the_eip_are_read_from_the_tools_output() {
        let rules = parse_snat_rules(SAVED).unwrap();
        assert_eq!(
            rules,
            [SnatRule {
                chain: "SHARED_SNAT".into(),
                source: Some("10.250.1.0/24".into()),
                out_interface: Some("net1".into()),
                to_source: "172.31.250.101".into(),
            }]
        );
        assert_eq!(
            parse_ipv4_addrs(ADDR).unwrap(),
            ["172.31.250.101".parse::<std::net::Ipv4Addr>().unwrap()]
        );
        assert!(parse_ipv4_addrs("2: net1 link/ether\n").is_err());
        assert!(parse_snat_rules("-A X -j SNAT\n").is_err());
    }

    #[test]
    fn a_gateway_without_its_rule_fails_naming_it_and_a_restored_one_passes() {
        let v = judge(&slo(), Ok(&gateways(vec![reading(SAVED, ADDR)])));
        assert_eq!(v.status, SloStatus::Pass, "{v:?}");

        let empty = "*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n";
        let v = judge(&slo(), Ok(&gateways(vec![reading(empty, "")])));
        assert_eq!(v.status, SloStatus::Fail);
        assert_eq!(v.culprits[0].name, "vpc-nat-gw-gw1-0");
        assert_eq!(v.culprits[0].node.as_deref(), Some("kind-worker"));
        assert_eq!(
            v.culprits[0].reason,
            "SNAT rule `-A SHARED_SNAT -s 10.250.1.0/24 -o net1 -j SNAT --to-source 172.31.250.101` missing; EIP 172.31.250.101 not on net1"
        );

        // A rule to another EIP is not the rule.
        let other = SAVED.replace("172.31.250.101 --random", "172.31.250.102 --random");
        let v = judge(&slo(), Ok(&gateways(vec![reading(&other, ADDR)])));
        assert_eq!(v.status, SloStatus::Fail);
        assert!(v.message.contains("SNAT rule"), "{}", v.message);
    }

    #[test]
    fn no_gateway_fails_and_an_unreadable_one_is_not_a_pass() {
        let v = judge(&slo(), Ok(&gateways(vec![])));
        assert_eq!(v.status, SloStatus::Fail);
        assert!(v.message.contains("no pod of gateway gw1"), "{}", v.message);

        let mut r = reading(SAVED, ADDR);
        r.snat = Err("container not found".into());
        let v = judge(&slo(), Ok(&gateways(vec![r])));
        assert!(matches!(v.status, SloStatus::NotEvaluated(_)), "{v:?}");

        let v = judge(&slo(), Err("API down"));
        assert!(matches!(v.status, SloStatus::NotEvaluated(_)));

        // A gateway stuck before its container runs fails: it translates
        // nothing, whatever could not be read in it.
        let mut stuck = reading(SAVED, ADDR);
        stuck.pod.not_running = Some("ContainerCreating".into());
        stuck.snat = Err("not read".into());
        stuck.net1 = Err("not read".into());
        let v = judge(&slo(), Ok(&gateways(vec![stuck])));
        assert_eq!(v.status, SloStatus::Fail, "{v:?}");
        assert!(
            v.culprits[0]
                .reason
                .starts_with("ContainerCreating: not Running"),
            "{:?}",
            v.culprits[0]
        );
    }

    /// What busybox `nc` printed for the path's request to a real busybox
    /// 1.35 `httpd` running the path's CGI (captured on this machine; the
    /// system test `nat_path_system` checks it stays so).
    fn answer(peer: &str, host: &str) -> PodExec {
        PodExec {
            status: Some(0),
            stdout: format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\ncni-chaos-nat-path peer={peer} host={host}\n"
            ),
            stderr: String::new(),
        }
    }

    fn failed(stderr: &str) -> PodExec {
        PodExec {
            status: Some(1),
            stdout: String::new(),
            stderr: format!("{stderr}\n"),
        }
    }

    fn request(to: &str, answer: Result<PodExec, String>) -> PathRequest {
        PathRequest {
            place: "here".into(),
            to: to.into(),
            command: "sh -c ...".into(),
            answer,
        }
    }

    /// The full reading with the path: the gateway holds its rules; the
    /// two requests answered `egress` and `ingress`.
    fn through(egress: Result<PodExec, String>, ingress: Result<PodExec, String>) -> Reading {
        Reading {
            gateways: vec![reading(SAVED_DNAT, ADDR)],
            path: Some(PathReading {
                client: Some(Seen {
                    name: "cni-chaos-nat-client-0".into(),
                    node: Some("kind-control-plane".into()),
                    not_running: None,
                }),
                egress: request("172.31.250.100:8080", egress),
                ingress: Some(request("172.31.250.101:8080", ingress)),
            }),
        }
    }

    fn slo_with_path() -> Slo {
        let mut s = slo_with_dnat();
        if let Slo::NatGatewayRules { path, .. } = &mut s {
            *path = true;
        }
        s
    }

    #[test]
    fn a_path_answer_names_the_peer_and_the_host() {
        let a = answer("172.31.250.101", "cni-chaos-nat-target");
        assert_eq!(
            parse_path_answer(&a.stdout).unwrap(),
            (
                "172.31.250.101".parse().unwrap(),
                "cni-chaos-nat-target".to_string()
            )
        );
        assert_eq!(
            parse_path_answer("cni-chaos-nat-path peer=[::ffff:172.31.250.100] host=h\n")
                .unwrap()
                .0,
            "172.31.250.100".parse::<std::net::Ipv4Addr>().unwrap()
        );
        assert!(parse_path_answer("cni-chaos-nat-path peer=[::1] host=h\n").is_err());
        assert!(parse_path_answer("HTTP/1.1 404 Not Found\r\n\r\n").is_err());
        assert!(parse_path_answer("cni-chaos-nat-path peer=x host=y\n").is_err());
        assert!(parse_path_answer("cni-chaos-nat-path peer=10.0.0.1\n").is_err());
    }

    #[test]
    fn the_path_passes_only_when_both_directions_get_through_as_translated() {
        let ok_out = || answer("172.31.250.101", "cni-chaos-nat-target");
        let ok_in = || answer("172.31.250.100", "cni-chaos-nat-client-0");
        let v = judge(&slo_with_path(), Ok(&through(Ok(ok_out()), Ok(ok_in()))));
        assert_eq!(v.status, SloStatus::Pass, "{v:?}");
        assert!(v.message.contains("from 172.31.250.101"), "{}", v.message);

        // Without the path the same rules pass without a word on it.
        let v = judge(
            &slo_with_dnat(),
            Ok(&through(Err("x".into()), Err("y".into()))),
        );
        assert_eq!(v.status, SloStatus::Pass, "{v:?}");

        let cases = [
            (
                through(
                    Ok(answer("10.250.1.10", "cni-chaos-nat-target")),
                    Ok(ok_in()),
                ),
                "egress: 172.31.250.100:8080 saw the request come from 10.250.1.10, not 172.31.250.101 (the SNAT rule did not translate it)",
            ),
            (
                through(Ok(failed("nc: timed out")), Ok(ok_in())),
                "egress: the request to 172.31.250.100:8080 got no answer (nc: timed out)",
            ),
            (
                through(
                    Ok(ok_out()),
                    Ok(failed(
                        "nc: can't connect to remote host (172.31.250.101): Connection refused",
                    )),
                ),
                "ingress: the request to 172.31.250.101:8080 got no answer (nc: can't connect to remote host (172.31.250.101): Connection refused)",
            ),
            (
                through(Ok(ok_out()), Ok(answer("172.31.250.100", "someone-else"))),
                "ingress: 172.31.250.101:8080 was answered by someone-else, not cni-chaos-nat-client-0",
            ),
            (
                through(
                    Ok(ok_out()),
                    Ok(answer("172.31.250.101", "cni-chaos-nat-client-0")),
                ),
                "ingress: 172.31.250.101:8080 saw the request come from 172.31.250.101, not 172.31.250.100 (DNAT keeps the peer's address)",
            ),
            (
                through(
                    Ok(PodExec {
                        status: Some(0),
                        stdout: "HTTP/1.1 404 Not Found\r\n\r\n".into(),
                        stderr: String::new(),
                    }),
                    Ok(ok_in()),
                ),
                "egress: 172.31.250.100:8080 answered, but not the path's CGI",
            ),
        ];
        for (r, want) in cases {
            let v = judge(&slo_with_path(), Ok(&r));
            assert_eq!(v.status, SloStatus::Fail, "{want}: {v:?}");
            assert_eq!(v.culprits.len(), 1, "{v:?}");
            assert_eq!(v.culprits[0].name, "vpc-nat-gw-gw1-0");
            assert!(
                v.culprits[0].reason.starts_with(want),
                "{want}\n{:?}",
                v.culprits[0].reason
            );
        }
    }

    #[test]
    fn a_path_that_could_not_be_asked_is_not_a_pass_and_its_answers_are_kept() {
        let v = judge(
            &slo_with_path(),
            Ok(&through(
                Err("the path's client cni-chaos-nat-client-0 is Pending".into()),
                Ok(answer("172.31.250.100", "cni-chaos-nat-client-0")),
            )),
        );
        assert!(matches!(v.status, SloStatus::NotEvaluated(_)), "{v:?}");
        assert!(v.message.contains("is Pending"), "{}", v.message);

        let v = judge(
            &slo_with_path(),
            Ok(&gateways(vec![reading(SAVED_DNAT, ADDR)])),
        );
        assert!(matches!(v.status, SloStatus::NotEvaluated(_)), "{v:?}");

        // A gateway without its rules fails on them and on the path.
        let mut r = through(Ok(failed("nc: timed out")), Ok(failed("nc: timed out")));
        r.gateways = vec![reading("*nat\nCOMMIT\n", "")];
        let v = judge(&slo_with_path(), Ok(&r));
        assert_eq!(v.status, SloStatus::Fail);
        assert!(
            v.culprits[0].reason.contains("SNAT rule"),
            "{:?}",
            v.culprits[0]
        );
        assert!(
            v.culprits[0].reason.contains("egress: "),
            "{:?}",
            v.culprits[0]
        );
        assert!(
            v.culprits[0].reason.contains("ingress: "),
            "{:?}",
            v.culprits[0]
        );

        let outs = r.outputs();
        assert_eq!(outs.len(), 2);
        assert!(outs[0].text.contains("nc: timed out"), "{}", outs[0]);
        assert!(outs[0].text.contains("exit Some(1)"), "{}", outs[0]);
    }
}
