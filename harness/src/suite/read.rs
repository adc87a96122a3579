//! From the located YAML tree to the typed model, collecting every problem.
//!
//! Every reader returns `None` after recording a [`Problem`], so one pass over a
//! file reports all of its mistakes with `file:line:column`, the field path,
//! the value and the rule.

use std::path::Path;
use std::time::Duration;

use crate::fault::{
    CniConfig, CniConfigAction, CniFile, DEFAULT_HOLD_FOR, Fault, LeftoverMultusConfig,
    MAX_HOLD_FOR, MIN_HOLD_FOR, NetworkPartition, NodeReboot, NodeRole, NodeTarget, OvsKill,
    OvsProcess, OvsSignal, PodDelete, RebootMode, StaleNetns,
};
use crate::slo::{CrashLoopContainers, DnatRule, FlowKind, NodeScope, PodScope, ProbeKind, Slo};
use crate::util::duration;

use super::error::Problem;
use super::model::{
    ClusterProfile, CulpritMatch, Expect, ExpectedCulprit, Heal, Remediation, RemediationStep,
    Scenario, SloExpect, Suite, SuiteLocs,
};
use super::model::{Condition, PreconditionSet};
use super::version::{Constraint, VersionCondition};
use super::yaml::{Node, Value};
use crate::fault::Precondition;
use cni_chaos_twin::selector::LabelSelector;

/// The longest duration a suite may ask for.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// The default steady-state timeout.
const DEFAULT_STEADY_STATE_TIMEOUT: Duration = Duration::from_secs(300);

/// Collects problems while reading one file.
pub(crate) struct Cx<'f> {
    file: &'f Path,
    pub(crate) problems: Vec<Problem>,
    /// The suite's `cluster.nat-gateway`, once read (`None`: not known),
    /// which the `nat-gateway-rules` SLO is checked against.
    nat_gateway: Option<bool>,
}

impl<'f> Cx<'f> {
    pub(crate) fn new(file: &'f Path) -> Self {
        Cx {
            file,
            problems: Vec::new(),
            nat_gateway: None,
        }
    }

    fn problem(&mut self, node: &Node, path: &str, rule: impl Into<String>, show_value: bool) {
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            loc: node.loc,
            path: path.to_string(),
            value: show_value.then(|| node.to_string()),
            rule: rule.into(),
        });
    }

    /// A problem about the value of `node`.
    fn bad(&mut self, node: &Node, path: &str, rule: impl Into<String>) {
        self.problem(node, path, rule, true);
    }

    /// A problem located at `node` that is not about its value.
    fn at(&mut self, node: &Node, path: &str, rule: impl Into<String>) {
        self.problem(node, path, rule, false);
    }

    /// Opens a mapping, reporting every key not in `allowed`.
    fn map<'n>(&mut self, node: &'n Node, path: &str, allowed: &[&str]) -> Option<Map<'n>> {
        let Value::Map(entries) = &node.value else {
            self.bad(
                node,
                path,
                format!("expected a mapping, not {}", node.value.type_name()),
            );
            return None;
        };
        for (key, _) in entries {
            match &key.value {
                Value::Str(k) if allowed.contains(&k.as_str()) => {}
                Value::Str(k) => {
                    let rule = match suggest(k, allowed) {
                        Some(s) => format!("unknown field {k:?}; did you mean {s:?}?"),
                        None => format!(
                            "unknown field {k:?}; expected one of: {}",
                            allowed.join(", ")
                        ),
                    };
                    self.at(key, &join(path, k), rule);
                }
                _ => self.bad(key, path, "field names must be strings"),
            }
        }
        Some(Map {
            node,
            entries,
            path: path.to_string(),
        })
    }
}

/// An open mapping.
struct Map<'n> {
    node: &'n Node,
    entries: &'n [(Node, Node)],
    path: String,
}

impl<'n> Map<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map(|(_, v)| v)
            .filter(|v| v.value != Value::Null)
    }

    fn path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn key(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map(|(k, _)| k)
    }

    fn required(&self, cx: &mut Cx<'_>, key: &str) -> Option<&'n Node> {
        let v = self.get(key);
        if v.is_none() {
            match self.key(key) {
                Some(k) => cx.at(k, &self.path(key), format!("field {key:?} needs a value")),
                None => cx.at(
                    self.node,
                    &self.path,
                    format!("missing required field {key:?}"),
                ),
            }
        }
        v
    }

    fn opt<T>(
        &self,
        cx: &mut Cx<'_>,
        key: &str,
        read: impl FnOnce(&mut Cx<'_>, &Node, &str) -> Option<T>,
    ) -> Result<Option<T>, ()> {
        match self.get(key) {
            None => Ok(None),
            Some(n) => read(cx, n, &self.path(key)).map(Some).ok_or(()),
        }
    }

    fn req<T>(
        &self,
        cx: &mut Cx<'_>,
        key: &str,
        read: impl FnOnce(&mut Cx<'_>, &Node, &str) -> Option<T>,
    ) -> Option<T> {
        let n = self.required(cx, key)?;
        read(cx, n, &self.path(key))
    }
}

/// The value under `key` when `node` is a mapping.
fn map_value<'n>(node: &'n Node, key: &str) -> Option<&'n Node> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == key))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The closest candidate by edit distance, if it is close enough to be a typo.
fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---- scalars ---------------------------------------------------------------

fn string(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<String> {
    match &node.value {
        Value::Str(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Str(_) => {
            cx.bad(node, path, "must not be empty");
            None
        }
        other => {
            cx.bad(
                node,
                path,
                format!("expected a string, not {}", other.type_name()),
            );
            None
        }
    }
}

/// A DNS-label-like name: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, 1 to 63 characters.
fn name(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<String> {
    label(
        cx,
        node,
        path,
        '-',
        "a name must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit",
    )
}

/// 1 to 63 lowercase letters, digits, '-' or `also`, starting and ending
/// with a letter or digit; else `rule` is the problem.
fn label(cx: &mut Cx<'_>, node: &Node, path: &str, also: char, rule: &str) -> Option<String> {
    let s = string(cx, node, path)?;
    let ok = s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == also)
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
    if ok {
        Some(s)
    } else {
        cx.bad(node, path, rule);
        None
    }
}

fn boolean(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<bool> {
    match node.value {
        Value::Bool(b) => Some(b),
        _ => {
            cx.bad(
                node,
                path,
                format!("expected true or false, not {}", node.value.type_name()),
            );
            None
        }
    }
}

fn int_in(cx: &mut Cx<'_>, node: &Node, path: &str, min: u32, max: u32) -> Option<u32> {
    match node.value {
        Value::Int(i) if i >= i128::from(min) && i <= i128::from(max) => u32::try_from(i).ok(),
        Value::Int(_) | Value::Float(_) => {
            cx.bad(
                node,
                path,
                format!("must be a whole number between {min} and {max}"),
            );
            None
        }
        _ => {
            cx.bad(
                node,
                path,
                format!("expected an integer, not {}", node.value.type_name()),
            );
            None
        }
    }
}

/// A duration such as `90s` or `2m 30s`; `positive` rejects zero.
fn dur(cx: &mut Cx<'_>, node: &Node, path: &str, positive: bool) -> Option<Duration> {
    let text = match &node.value {
        Value::Str(s) => s,
        Value::Int(_) | Value::Float(_) => {
            cx.bad(
                node,
                path,
                "a duration needs a unit, e.g. \"90s\" or \"2m 30s\"",
            );
            return None;
        }
        other => {
            cx.bad(
                node,
                path,
                format!(
                    "expected a duration like \"90s\", not {}",
                    other.type_name()
                ),
            );
            return None;
        }
    };
    match duration::parse(text) {
        Err(rule) => {
            cx.bad(node, path, rule);
            None
        }
        Ok(d) if positive && d.is_zero() => {
            cx.bad(node, path, "must be longer than zero");
            None
        }
        Ok(d) if d > MAX_DURATION => {
            cx.bad(node, path, "must be at most 24h");
            None
        }
        Ok(d) => Some(d),
    }
}

/// A duration between `min` and `max`, both included.
fn dur_in(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    min: Duration,
    max: Duration,
) -> Option<Duration> {
    let d = dur(cx, node, path, true)?;
    if d < min || d > max {
        cx.bad(
            node,
            path,
            format!(
                "must be between {} and {}",
                duration::format(min),
                duration::format(max)
            ),
        );
        return None;
    }
    Some(d)
}

fn positive_dur(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Duration> {
    dur(cx, node, path, true)
}

/// The shortest settle window: one kubelet node status period (10 s), so
/// that "kept holding" has seen at least one status update.
pub const MIN_SETTLE: Duration = Duration::from_secs(10);
/// The longest settle window: the default steady-state timeout; beyond it
/// early ends save nothing.
pub const MAX_SETTLE: Duration = Duration::from_secs(300);

fn settle_window(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Duration> {
    let d = dur(cx, node, path, true)?;
    if !(MIN_SETTLE..=MAX_SETTLE).contains(&d) {
        cx.bad(
            node,
            path,
            format!(
                "a settle window must be {} to {} (at least one kubelet status period of 10s, at most the default steady-state timeout)",
                duration::format(MIN_SETTLE),
                duration::format(MAX_SETTLE)
            ),
        );
        return None;
    }
    Some(d)
}

fn any_dur(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Duration> {
    dur(cx, node, path, false)
}

/// One of a fixed set of words.
fn one_of<T: Copy>(cx: &mut Cx<'_>, node: &Node, path: &str, choices: &[(&str, T)]) -> Option<T> {
    let words: Vec<&str> = choices.iter().map(|(w, _)| *w).collect();
    let Value::Str(s) = &node.value else {
        cx.bad(node, path, format!("expected one of: {}", words.join(", ")));
        return None;
    };
    if let Some((_, v)) = choices.iter().find(|(w, _)| w == s) {
        return Some(*v);
    }
    let rule = match suggest(s, &words) {
        Some(w) => format!("expected one of: {}; did you mean {w:?}?", words.join(", ")),
        None => format!("expected one of: {}", words.join(", ")),
    };
    cx.bad(node, path, rule);
    None
}

fn selector(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<LabelSelector> {
    let s = match &node.value {
        Value::Str(s) => s.clone(),
        other => {
            cx.bad(
                node,
                path,
                format!(
                    "expected a label selector string like \"app=multus\", not {}",
                    other.type_name()
                ),
            );
            return None;
        }
    };
    match LabelSelector::parse(&s) {
        Ok(sel) => Some(sel),
        Err(why) => {
            cx.bad(node, path, format!("invalid label selector: {why}"));
            None
        }
    }
}

/// An IPv4 address (`172.31.250.101`).
fn ipv4(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<std::net::Ipv4Addr> {
    let s = string(cx, node, path)?;
    match s.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            cx.bad(node, path, "must be an IPv4 address (a.b.c.d)");
            None
        }
    }
}

/// An IPv4 network in CIDR form with no host bits set (`10.250.1.0/24`),
/// as iptables-save prints a rule's `-s`.
fn ipv4_cidr(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<String> {
    let s = string(cx, node, path)?;
    let parsed = s.split_once('/').and_then(|(a, l)| {
        let a: std::net::Ipv4Addr = a.parse().ok()?;
        let l: u32 = l.parse().ok().filter(|l| (1..=32).contains(l))?;
        let mask = u32::MAX.checked_shl(32 - l).unwrap_or(0);
        (u32::from(a) & !mask == 0).then_some(())
    });
    if parsed.is_none() {
        cx.bad(
            node,
            path,
            "must be an IPv4 network a.b.c.d/len with len 1 to 32 and no host bits set",
        );
        return None;
    }
    Some(s)
}

fn absolute_path(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<String> {
    let s = string(cx, node, path)?;
    if !s.starts_with('/') || s.split('/').any(|c| c == "..") {
        cx.bad(node, path, "must be an absolute path without '..'");
        return None;
    }
    Some(s)
}

// ---- suite -----------------------------------------------------------------

/// Reads a whole suite file.
pub(crate) fn suite(cx: &mut Cx<'_>, root: &Node) -> Option<Suite> {
    let m = cx.map(
        root,
        "",
        &["name", "description", "cluster", "defaults", "scenarios"],
    )?;
    let name = m.req(cx, "name", name);
    let description = m.req(cx, "description", string);
    let cluster = match m.get("cluster") {
        None => Some(ClusterProfile {
            kind_config: "default".into(),
            versions: "default".into(),
            nat_gateway: false,
        }),
        Some(n) => cluster(cx, n, "cluster"),
    };
    cx.nat_gateway = cluster.as_ref().map(|c| c.nat_gateway);
    // Bad defaults are reported, and the scenarios are still read (against
    // empty defaults) so their own problems are reported too.
    let (defaults, defaults_ok) = match m.get("defaults") {
        None => (Defaults::default(), true),
        Some(n) => match defaults(cx, n, "defaults") {
            Some(d) => (d, true),
            None => (
                Defaults {
                    slos_unreadable: true,
                    ..Defaults::default()
                },
                false,
            ),
        },
    };
    let defaults = Some(defaults);
    let scenarios_node = m.required(cx, "scenarios");
    let mut scenarios = Vec::new();
    let mut all_ok = true;
    if let (Some(node), Some(defaults)) = (scenarios_node, defaults.as_ref()) {
        match &node.value {
            Value::Seq(items) if items.is_empty() => {
                cx.at(node, "scenarios", "a suite needs at least one scenario");
                all_ok = false;
            }
            Value::Seq(items) => {
                let mut seen: Vec<(String, &Node)> = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let path = format!("scenarios[{i}]");
                    match scenario(cx, item, &path, defaults) {
                        Some(s) => {
                            if let Some((_, first)) = seen.iter().find(|(n, _)| *n == s.name) {
                                let rule = format!(
                                    "duplicate scenario name {:?} (first at line {})",
                                    s.name, first.loc.line
                                );
                                let at = map_value(item, "name").unwrap_or(item);
                                cx.at(at, &join(&path, "name"), rule);
                                all_ok = false;
                            } else {
                                seen.push((s.name.clone(), item));
                                scenarios.push(s);
                            }
                        }
                        None => all_ok = false,
                    }
                }
            }
            other => {
                cx.bad(
                    node,
                    "scenarios",
                    format!("expected a list of scenarios, not {}", other.type_name()),
                );
                all_ok = false;
            }
        }
    }
    if !all_ok || !defaults_ok {
        return None;
    }
    let cluster_node = m.get("cluster");
    let locs = SuiteLocs {
        name: m.get("name").map(|n| n.loc).unwrap_or_default(),
        kind_config: cluster_node
            .and_then(|c| map_value(c, "kind-config"))
            .map(|n| n.loc),
        versions: cluster_node
            .and_then(|c| map_value(c, "versions"))
            .map(|n| n.loc),
    };
    Some(Suite {
        name: name?,
        description: description?,
        file: cx.file.to_path_buf(),
        cluster: cluster?,
        scenarios,
        locs,
    })
}

fn cluster(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<ClusterProfile> {
    let m = cx.map(node, path, &["kind-config", "versions", "nat-gateway"])?;
    let kind_config = m.opt(cx, "kind-config", name);
    let versions = m.opt(cx, "versions", set_name);
    let nat_gateway = m.opt(cx, "nat-gateway", boolean);
    Some(ClusterProfile {
        kind_config: kind_config.ok()?.unwrap_or_else(|| "default".into()),
        versions: versions.ok()?.unwrap_or_else(|| "default".into()),
        nat_gateway: nat_gateway.ok()?.unwrap_or(false),
    })
}

/// A version set's name in `versions.yaml`: like [`name`], with dots
/// (`kube-ovn-1.14-multus-4.2.1`).
fn set_name(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<String> {
    label(
        cx,
        node,
        path,
        '.',
        "a version set name must be 1 to 63 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit",
    )
}

/// Per-suite defaults a scenario inherits.
#[derive(Clone, Debug)]
struct Defaults {
    repeat: u32,
    steady_state_timeout: Duration,
    settle: Duration,
    slos: Vec<Slo>,
    /// The defaults failed to read: do not also blame scenarios for lacking SLOs.
    slos_unreadable: bool,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            repeat: 1,
            steady_state_timeout: DEFAULT_STEADY_STATE_TIMEOUT,
            settle: crate::observe::DEFAULT_SETTLE,
            slos: Vec::new(),
            slos_unreadable: false,
        }
    }
}

fn defaults(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Defaults> {
    let m = cx.map(
        node,
        path,
        &["repeat", "steady-state-timeout", "settle", "slos"],
    )?;
    let repeat = m.opt(cx, "repeat", |cx, n, p| int_in(cx, n, p, 1, 100));
    let timeout = m.opt(cx, "steady-state-timeout", positive_dur);
    let settle = m.opt(cx, "settle", settle_window);
    let slos = m.opt(cx, "slos", slo_list);
    let base = Defaults::default();
    Some(Defaults {
        repeat: repeat.ok()?.unwrap_or(base.repeat),
        steady_state_timeout: timeout.ok()?.unwrap_or(base.steady_state_timeout),
        settle: settle.ok()?.unwrap_or(base.settle),
        slos: slos.ok()?.unwrap_or_default(),
        slos_unreadable: false,
    })
}

fn scenario(cx: &mut Cx<'_>, node: &Node, path: &str, defaults: &Defaults) -> Option<Scenario> {
    let m = cx.map(
        node,
        path,
        &[
            "name",
            "description",
            "fault",
            "remediation",
            "heal",
            "slos",
            "expect",
            "requires",
            "ignored",
            "repeat",
            "steady-state-timeout",
            "settle",
        ],
    )?;
    let name = m.req(cx, "name", name);
    let description = m.opt(cx, "description", string);
    let fault = m.req(cx, "fault", fault);
    let remediation = m.opt(cx, "remediation", remediation);
    let heal = m.opt(cx, "heal", heal);
    let slos = m.opt(cx, "slos", scenario_slos);
    // Read from the text, so that an SLO expectation with a problem of its
    // own does not also make the scenario's culprits look missing.
    let own_expects = m.get("slos").is_some_and(|n| match &n.value {
        Value::Seq(items) => items.iter().any(|i| map_value(i, "expect").is_some()),
        _ => false,
    });
    let expect = m.opt(cx, "expect", |cx, n, p| expect(cx, n, p, own_expects));
    let requires = m.opt(cx, "requires", |cx, n, p| {
        let before = cx.problems.len();
        let m = cx.map(n, p, PRECONDITION_NAMES)?;
        let set = preconditions(cx, &m, before)?;
        if set.is_empty() {
            cx.at(
                n,
                p,
                format!(
                    "\"requires\" needs at least one of: {}",
                    PRECONDITION_NAMES.join(", ")
                ),
            );
            return None;
        }
        Some(set)
    });
    let ignored = m.opt(cx, "ignored", string);
    let repeat = m.opt(cx, "repeat", |cx, n, p| int_in(cx, n, p, 1, 100));
    let timeout = m.opt(cx, "steady-state-timeout", positive_dur);
    let settle = m.opt(cx, "settle", settle_window);

    let slos = match slos {
        Ok(Some(s)) => Some(s),
        Ok(None) if !defaults.slos.is_empty() => {
            Some(defaults.slos.iter().map(|s| (s.clone(), None)).collect())
        }
        Ok(None) if defaults.slos_unreadable => None,
        Ok(None) => {
            cx.at(
                node,
                path,
                "a scenario needs at least one SLO (in \"slos\" or the suite's \"defaults.slos\"): with nothing to judge it could never fail",
            );
            None
        }
        Err(()) => None,
    };
    let fault = fault?;
    let (slos, own): (Vec<Slo>, Vec<_>) = slos?.into_iter().unzip();
    let expect = match expect.clone().ok()? {
        Some((
            Expect::Fail {
                reason, culprits, ..
            },
            when,
            source,
        )) => Some((
            Expect::Fail {
                reason,
                culprits,
                slos: own
                    .into_iter()
                    .enumerate()
                    .filter_map(|(slo, e)| {
                        e.map(|(culprits, source)| SloExpect {
                            slo,
                            culprits,
                            source,
                        })
                    })
                    .collect(),
            },
            when,
            source,
        )),
        other => {
            // An SLO's own expectation says which symptom the scenario's
            // expected failure shows; without one it has nothing to refine.
            if let Some(i) = own.iter().position(Option::is_some) {
                let item = m.get("slos").and_then(|n| match &n.value {
                    Value::Seq(items) => items.get(i),
                    _ => None,
                });
                let at = item.and_then(|n| map_value(n, "expect")).unwrap_or(node);
                cx.at(
                    at,
                    &format!("{path}.slos[{i}].expect"),
                    "an SLO's own \"expect\" needs the scenario's expect: {outcome: fail, reason: \"<upstream issue>\"}: it says which SLOs the expected failure fails",
                );
                return None;
            }
            other
        }
    };
    let requires = requires.ok()?.unwrap_or_default();
    let when = expect.clone().and_then(|e| e.1);
    // A precondition only a node reboot or the leftover-multus-config fault
    // records can never be met by another fault.
    for (key, set) in [
        ("requires", Some(&requires)),
        ("expect", when.as_ref().map(|w| &w.preconditions)),
    ] {
        let Some(set) = set else { continue };
        if let Some(p) = set.0.keys().find(|p| !records(&fault, **p)) {
            let at = m.get(key).unwrap_or(node);
            cx.at(
                at,
                &m.path(key),
                format!(
                    "{p} is recorded only by {}; the {} fault never records it, so this could never hold",
                    recorded_by(*p),
                    fault.kind().as_str()
                ),
            );
            return None;
        }
    }
    if fault.target().is_none() {
        let own = m.get("slos");
        for (i, slo) in slos.iter().enumerate() {
            let uses_target = matches!(
                slo,
                Slo::NodeReadyWithin {
                    nodes: NodeScope::FaultTarget,
                    ..
                } | Slo::NodeIpStable {
                    nodes: NodeScope::FaultTarget
                }
            );
            if !uses_target {
                continue;
            }
            let rule = "\"fault-target\" needs a fault that acts on a node (this pod-delete has no target)";
            match own.and_then(|n| match &n.value {
                Value::Seq(items) => items.get(i),
                _ => None,
            }) {
                Some(item) => {
                    let at = map_value(item, "nodes").unwrap_or(item);
                    cx.at(at, &format!("{path}.slos[{i}].nodes"), rule);
                }
                None => {
                    let at = m.get("fault").unwrap_or(node);
                    cx.at(
                        at,
                        &format!("{path}.fault"),
                        format!("defaults.slos[{i}] uses nodes: fault-target, but {rule}"),
                    );
                }
            }
            return None;
        }
    }
    if let Some(i) = slos.iter().position(|s| matches!(s, Slo::LongLivedTcp)) {
        let remediation = remediation.clone().ok().flatten();
        let steps = remediation.iter().flat_map(|r| &r.steps);
        if let Some(rule) = long_lived_refused(&fault, steps) {
            let item = m.get("slos").and_then(|n| match &n.value {
                Value::Seq(items) => items.get(i),
                _ => None,
            });
            match item {
                Some(item) => cx.at(item, &format!("{path}.slos[{i}]"), rule),
                None => {
                    let at = m.get("fault").unwrap_or(node);
                    cx.at(
                        at,
                        &format!("{path}.fault"),
                        format!("defaults.slos[{i}] is long-lived-tcp, but {rule}"),
                    );
                }
            }
            return None;
        }
    }
    Some(Scenario {
        name: name?,
        description: description.ok()?,
        fault,
        remediation: remediation.ok()?,
        heal: heal.ok()?,
        slos,
        expect_source: expect.clone().and_then(|e| e.2),
        expect: expect.map_or(Expect::Pass, |e| e.0),
        expect_when: when,
        requires,
        ignored: ignored.ok()?,
        repeat: repeat.ok()?.unwrap_or(defaults.repeat),
        steady_state_timeout: timeout.ok()?.unwrap_or(defaults.steady_state_timeout),
        settle: settle.ok()?.unwrap_or(defaults.settle),
        observe: crate::observe::ObserveMode::default(),
        loc: node.loc,
    })
}

/// Why [`Slo::LongLivedTcp`] is not offered with `fault` (and the
/// remediation's `steps`), if it is not: the check judges whether the
/// network keeps a connection alive, so a fault that kills one of its
/// endpoints (the long-lived pods run on every node) would fail it
/// whatever the network does. Per fault kind:
///
/// | fault | offered | why |
/// |---|---|---|
/// | `node-reboot` | no | every pod sandbox on the node dies with it, and so does the end of each connection there |
/// | `ovs-kill` | yes | the pods and their sandboxes stay; only the data path stops (until ovs-ovn restarts the daemon, or for `stop-for`) |
/// | `stale-netns` | yes | adds namespaces and ports; touches no running pod |
/// | `leftover-multus-config` | yes | replaces only the node's Multus pod; running sandboxes keep their interfaces |
/// | `cni-config` | yes | CNI configuration is read at sandbox creation (CNI ADD), not by running sandboxes |
/// | `pod-delete` | unless it deletes the long-lived pods | deleting an endpoint's pod kills its end of the connection |
/// | `network-partition` | yes | the long-lived pods tolerate every taint, so a NotReady node does not have them evicted |
///
/// A remediation `pod-delete` step is judged as the fault is.
pub(crate) fn long_lived_refused<'a>(
    fault: &Fault,
    steps: impl IntoIterator<Item = &'a RemediationStep>,
) -> Option<String> {
    use crate::observe::longlived::{LONG_LIVED, LONG_LIVED_LABEL};
    use crate::observe::probe::PROBE_NAMESPACE;
    let labels = std::collections::BTreeMap::from([
        (
            "app.kubernetes.io/managed-by".to_string(),
            "cni-chaos".to_string(),
        ),
        (LONG_LIVED_LABEL.to_string(), LONG_LIVED.to_string()),
    ]);
    let kills = |d: &PodDelete| d.namespace == PROBE_NAMESPACE && d.selector.matches(&labels);
    let deletes = |d: &PodDelete, what: &str| {
        format!(
            "long-lived-tcp is offered only for faults that leave the connections' endpoints alive, and {what} deletes the long-lived pods ({LONG_LIVED_LABEL}={LONG_LIVED} in {PROBE_NAMESPACE}, selector {}): their connections would break whatever the network does",
            d.selector
        )
    };
    match fault {
        Fault::NodeReboot(_) => {
            return Some(
                "long-lived-tcp is offered only for faults that leave the connections' endpoints alive, and a node-reboot kills every pod sandbox on its node, with the end of each long-lived connection there (the long-lived pods run on every node): use an ovs-kill, network-partition or cni-config fault"
                    .into(),
            );
        }
        Fault::PodDelete(d) if kills(d) => return Some(deletes(d, "this pod-delete fault")),
        Fault::PodDelete(_)
        | Fault::OvsKill(_)
        | Fault::StaleNetns(_)
        | Fault::LeftoverMultusConfig(_)
        | Fault::CniConfig(_)
        | Fault::NetworkPartition(_) => {}
    }
    steps.into_iter().find_map(|s| match s {
        RemediationStep::PodDelete(d) if kills(d) => {
            Some(deletes(d, "the remediation's pod-delete step"))
        }
        _ => None,
    })
}

/// An expectation, its optional condition and its cited source.
type Expectation = (Expect, Option<Condition>, Option<String>);

/// The precondition names suite files use.
const PRECONDITION_NAMES: &[&str] = &[
    "multus-config-left",
    "multus-shim-left",
    "shim-running-at-init",
    "init-text-file-busy",
];

/// Whether `fault` records precondition `p`: the disk while down only a
/// reboot; the Multus init container's run a reboot or a Multus pod
/// replacement.
fn records(fault: &Fault, p: Precondition) -> bool {
    match fault {
        Fault::NodeReboot(_) => true,
        Fault::LeftoverMultusConfig(_) => !p.known_after_inject(),
        _ => false,
    }
}

fn recorded_by(p: Precondition) -> &'static str {
    if p.known_after_inject() {
        "node-reboot"
    } else {
        "node-reboot and leftover-multus-config"
    }
}

/// The precondition keys of mapping `m` (read at `path`), each `true` or
/// `false`; `None` when one is not a boolean or `m` had unknown keys (the
/// problems recorded since `before`).
fn preconditions(cx: &mut Cx<'_>, m: &Map<'_>, before: usize) -> Option<PreconditionSet> {
    let mut out = std::collections::BTreeMap::new();
    let mut ok = cx.problems.len() == before;
    for p in Precondition::ALL {
        match m.opt(cx, p.as_str(), boolean) {
            Ok(Some(v)) => {
                out.insert(p, v);
            }
            Ok(None) => {}
            Err(()) => ok = false,
        }
    }
    ok.then_some(PreconditionSet(out))
}

/// `own_expects`: some SLO carries its own expectation, which then names
/// the culprits, so the scenario's `culprits` may be left out.
fn expect(cx: &mut Cx<'_>, node: &Node, path: &str, own_expects: bool) -> Option<Expectation> {
    if let Value::Str(_) = node.value {
        return match one_of(cx, node, path, &[("pass", true), ("fail", false)])? {
            true => Some((Expect::Pass, None, None)),
            false => {
                cx.at(
                    node,
                    path,
                    "\"expect: fail\" needs a reason: write expect: {outcome: fail, reason: \"<upstream issue>\"}",
                );
                None
            }
        };
    }
    let m = cx.map(
        node,
        path,
        &["outcome", "reason", "culprits", "when", "source"],
    )?;
    let pass = m.req(cx, "outcome", |cx, n, p| {
        one_of(cx, n, p, &[("pass", true), ("fail", false)])
    })?;
    let reason = m.opt(cx, "reason", string);
    let culprits = m.opt(cx, "culprits", |cx, n, p| list(cx, n, p, expected_culprit));
    let when = m.opt(cx, "when", condition);
    let source = m.opt(cx, "source", string).ok()?;
    if pass {
        for key in ["reason", "culprits", "when"] {
            if let Some(n) = m.get(key) {
                cx.at(
                    n,
                    &m.path(key),
                    "\"reason\", \"culprits\" and \"when\" belong to \"outcome: fail\"",
                );
                return None;
            }
        }
        return Some((Expect::Pass, None, source));
    }
    let reason = match reason.ok()? {
        Some(r) => r,
        None => {
            cx.at(
                node,
                path,
                "missing required field \"reason\": say which upstream bug makes it fail",
            );
            return None;
        }
    };
    // Without an expected culprit any failure would pass as the known bug,
    // hiding unrelated regressions behind it.
    let culprits = culprits.ok()?;
    let Some(culprits) = culprits.or_else(|| own_expects.then(Vec::new)) else {
        cx.at(
            node,
            path,
            "missing required field \"culprits\": name what the bug holds back, e.g. [{pod: kube-multus-ds, node: fault-target, reason: \"Init:CrashLoopBackOff\"}], so that another failure is not taken for it (or give each failing SLO its own expect: {culprits, source})",
        );
        return None;
    };
    Some((
        Expect::Fail {
            reason,
            culprits,
            slos: Vec::new(),
        },
        when.ok()?,
        source,
    ))
}

/// An expected culprit: a name prefix, `{pod: <prefix>, node: fault-target,
/// reason: <reason>}` or `{node: fault-target, reason: <reason>}`.
fn expected_culprit(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<ExpectedCulprit> {
    if let Value::Str(_) = node.value {
        return string(cx, node, path).map(ExpectedCulprit::prefix);
    }
    let m = cx.map(node, path, &["pod", "node", "reason"])?;
    let pod = m.opt(cx, "pod", string);
    let on = m.opt(cx, "node", |cx, n, p| {
        one_of(cx, n, p, &[("fault-target", ())])
    });
    let reason = m.opt(cx, "reason", string);
    let (pod, on, reason) = (pod.ok()?, on.ok()?, reason.ok()?);
    let what = match (pod, on) {
        (Some(prefix), on) => CulpritMatch::Pod {
            prefix,
            on_fault_target: on.is_some(),
        },
        (None, Some(())) => CulpritMatch::FaultTarget,
        (None, None) => {
            cx.at(
                node,
                path,
                "an expected culprit names a pod (pod: <name prefix>) or the faulted node (node: fault-target)",
            );
            return None;
        }
    };
    Some(ExpectedCulprit { what, reason })
}

/// `{multus: "<v4.2.3", kube-ovn: ">=v1.15", multus-config-left: true}`.
fn condition(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Condition> {
    const COMPONENTS: &[&str] = &["kubernetes", "kube-ovn", "multus"];
    let allowed: Vec<&str> = COMPONENTS
        .iter()
        .chain(PRECONDITION_NAMES)
        .copied()
        .collect();
    let before = cx.problems.len();
    let m = cx.map(node, path, &allowed)?;
    let unknown_keys = cx.problems.len() > before;
    let mut out = std::collections::BTreeMap::new();
    let mut ok = true;
    for c in COMPONENTS {
        match m.opt(cx, c, |cx, n, p| {
            let text = string(cx, n, p)?;
            Constraint::parse(&text)
                .map_err(|e| {
                    cx.bad(
                        n,
                        p,
                        format!("expected a version constraint like \"<v4.2.3\": {e}"),
                    )
                })
                .ok()
        }) {
            Ok(Some(con)) => {
                out.insert((*c).to_string(), con);
            }
            Ok(None) => {}
            Err(()) => ok = false,
        }
    }
    let pre_before = cx.problems.len();
    let pre = preconditions(cx, &m, pre_before);
    if out.is_empty() && pre.as_ref().is_some_and(PreconditionSet::is_empty) && ok && !unknown_keys
    {
        cx.at(
            node,
            path,
            format!("\"when\" needs at least one of: {}", allowed.join(", ")),
        );
        return None;
    }
    (ok && !unknown_keys).then_some(())?;
    Some(Condition {
        versions: VersionCondition(out),
        preconditions: pre?,
    })
}

fn list<T>(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    read: impl Fn(&mut Cx<'_>, &Node, &str) -> Option<T>,
) -> Option<Vec<T>> {
    let Value::Seq(items) = &node.value else {
        cx.bad(
            node,
            path,
            format!("expected a list, not {}", node.value.type_name()),
        );
        return None;
    };
    if items.is_empty() {
        cx.at(node, path, "must not be empty");
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        match read(cx, item, &format!("{path}[{i}]")) {
            Some(v) => out.push(v),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

// ---- faults ----------------------------------------------------------------

const FAULT_KINDS: &[&str] = &[
    "node-reboot",
    "ovs-kill",
    "stale-netns",
    "leftover-multus-config",
    "cni-config",
    "pod-delete",
    "network-partition",
];

/// Reads the `kind` of a tagged mapping.
fn kind<'n>(cx: &mut Cx<'_>, node: &'n Node, path: &str, kinds: &[&str]) -> Option<&'n str> {
    let Value::Map(entries) = &node.value else {
        cx.bad(
            node,
            path,
            format!(
                "expected a mapping with a \"kind\", not {}",
                node.value.type_name()
            ),
        );
        return None;
    };
    let Some((_, k)) = entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "kind"))
    else {
        cx.at(
            node,
            path,
            format!(
                "missing required field \"kind\" (one of: {})",
                kinds.join(", ")
            ),
        );
        return None;
    };
    let path = join(path, "kind");
    match &k.value {
        Value::Str(s) if kinds.contains(&s.as_str()) => Some(s.as_str()),
        _ => {
            let words: Vec<(&str, ())> = kinds.iter().map(|k| (*k, ())).collect();
            one_of(cx, k, &path, &words);
            None
        }
    }
}

fn fault(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Fault> {
    let kind = kind(cx, node, path, FAULT_KINDS)?;
    Some(match kind {
        "node-reboot" => {
            let m = cx.map(node, path, &["kind", "target", "mode", "timeout"])?;
            let target = m.req(cx, "target", fault_target);
            let mode = m.req(cx, "mode", |cx, n, p| {
                one_of(
                    cx,
                    n,
                    p,
                    &[
                        ("graceful", RebootMode::Graceful),
                        ("hard", RebootMode::Hard),
                    ],
                )
            });
            let timeout = m.opt(cx, "timeout", positive_dur);
            if let (Some(RebootMode::Hard), Some(n)) = (mode, m.get("timeout")) {
                cx.at(
                    n,
                    &m.path("timeout"),
                    "\"timeout\" only applies to mode: graceful",
                );
                return None;
            }
            Fault::NodeReboot(NodeReboot {
                target: target?,
                mode: mode?,
                timeout: timeout.ok()?.unwrap_or(Duration::from_secs(30)),
            })
        }
        "ovs-kill" => {
            let m = cx.map(
                node,
                path,
                &["kind", "target", "process", "signal", "stop-for"],
            )?;
            let target = m.req(cx, "target", fault_target);
            let process = m.req(cx, "process", |cx, n, p| {
                one_of(
                    cx,
                    n,
                    p,
                    &[
                        ("ovs-vswitchd", OvsProcess::OvsVswitchd),
                        ("ovsdb-server", OvsProcess::OvsdbServer),
                    ],
                )
            });
            let signal = m.req(cx, "signal", |cx, n, p| {
                one_of(
                    cx,
                    n,
                    p,
                    &[("kill", OvsSignal::Kill), ("stop", OvsSignal::Stop)],
                )
            });
            let stop_for = m.opt(cx, "stop-for", positive_dur);
            match (signal, m.get("stop-for")) {
                (Some(OvsSignal::Kill), Some(n)) => {
                    cx.at(
                        n,
                        &m.path("stop-for"),
                        "\"stop-for\" only applies to signal: stop",
                    );
                    return None;
                }
                (Some(OvsSignal::Stop), None) => {
                    cx.at(node, path, "signal: stop needs \"stop-for\" (how long the daemon stays frozen before SIGCONT)");
                    return None;
                }
                _ => {}
            }
            Fault::OvsKill(OvsKill {
                target: target?,
                process: process?,
                signal: signal?,
                stop_for: stop_for.ok()?,
            })
        }
        "stale-netns" => {
            let m = cx.map(node, path, &["kind", "target", "count", "ovs-ports"])?;
            let target = m.req(cx, "target", fault_target);
            let count = m.opt(cx, "count", |cx, n, p| int_in(cx, n, p, 1, 256));
            let ovs_ports = m.opt(cx, "ovs-ports", boolean);
            Fault::StaleNetns(StaleNetns {
                target: target?,
                count: count.ok()?.unwrap_or(1),
                ovs_ports: ovs_ports.ok()?.unwrap_or(false),
            })
        }
        "leftover-multus-config" => {
            let m = cx.map(node, path, &["kind", "target", "busy-shim", "hold-for"])?;
            let target = m.req(cx, "target", fault_target);
            let busy = m.opt(cx, "busy-shim", boolean);
            let hold_for = m.opt(cx, "hold-for", |cx, n, p| {
                dur_in(cx, n, p, MIN_HOLD_FOR, MAX_HOLD_FOR)
            });
            let busy = busy.ok()?.unwrap_or(true);
            if let (false, Some(n)) = (busy, m.get("hold-for")) {
                cx.at(
                    n,
                    &m.path("hold-for"),
                    "\"hold-for\" only applies to busy-shim: true (it is how long the frozen shim holds the binary)",
                );
                return None;
            }
            Fault::LeftoverMultusConfig(LeftoverMultusConfig {
                target: target?,
                busy_shim: busy,
                hold_for: hold_for.ok()?.unwrap_or(DEFAULT_HOLD_FOR),
            })
        }
        "cni-config" => {
            let m = cx.map(node, path, &["kind", "target", "action", "file", "delay"])?;
            let target = m.req(cx, "target", fault_target);
            #[derive(Clone, Copy)]
            enum A {
                Remove,
                Truncate,
                Delayed,
            }
            let action = m.req(cx, "action", |cx, n, p| {
                one_of(
                    cx,
                    n,
                    p,
                    &[
                        ("remove", A::Remove),
                        ("truncate", A::Truncate),
                        ("delayed-rewrite", A::Delayed),
                    ],
                )
            });
            let file = m.req(cx, "file", cni_file);
            let delay = m.opt(cx, "delay", positive_dur);
            let action = match (action?, delay.ok()?) {
                (A::Delayed, Some(delay)) => CniConfigAction::DelayedRewrite { delay },
                (A::Delayed, None) => {
                    cx.at(
                        node,
                        path,
                        "action: delayed-rewrite needs \"delay\" (how long the file stays missing)",
                    );
                    return None;
                }
                (_, Some(_)) => {
                    let n = m.get("delay").unwrap_or(node);
                    cx.at(
                        n,
                        &m.path("delay"),
                        "\"delay\" only applies to action: delayed-rewrite",
                    );
                    return None;
                }
                (A::Remove, None) => CniConfigAction::Remove,
                (A::Truncate, None) => CniConfigAction::Truncate,
            };
            Fault::CniConfig(CniConfig {
                target: target?,
                action,
                file: file?,
            })
        }
        "pod-delete" => Fault::PodDelete(pod_delete(cx, node, path, false)?),
        "network-partition" => {
            let m = cx.map(node, path, &["kind", "target", "duration"])?;
            let target = m.req(cx, "target", fault_target);
            let duration = m.req(cx, "duration", positive_dur);
            Fault::NetworkPartition(NetworkPartition {
                target: target?,
                duration: duration?,
            })
        }
        _ => return None,
    })
}

fn cni_file(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<CniFile> {
    let s = string(cx, node, path)?;
    match s.as_str() {
        "kube-ovn" => Some(CniFile::KubeOvn),
        "multus" => Some(CniFile::Multus),
        p if p.starts_with("/etc/cni/net.d/")
            && p.len() > "/etc/cni/net.d/".len()
            && !p.contains("..") =>
        {
            Some(CniFile::Path(p.to_string()))
        }
        _ => {
            cx.bad(
                node,
                path,
                "expected \"kube-ovn\", \"multus\" or an absolute path under /etc/cni/net.d/",
            );
            None
        }
    }
}

fn pod_delete(cx: &mut Cx<'_>, node: &Node, path: &str, remediation: bool) -> Option<PodDelete> {
    let m = cx.map(
        node,
        path,
        &["kind", "namespace", "selector", "target", "grace-period"],
    )?;
    let namespace = m.opt(cx, "namespace", name);
    let selector = m.req(cx, "selector", selector);
    let target = if remediation {
        m.opt(cx, "target", remediation_target)
            .map(|t| Some(t.unwrap_or(NodeTarget::FaultNode)))
    } else {
        m.opt(cx, "target", fault_target)
    };
    let grace = m.opt(cx, "grace-period", any_dur);
    Some(PodDelete {
        namespace: namespace.ok()?.unwrap_or_else(|| "kube-system".into()),
        selector: selector?,
        target: target.ok()?,
        grace_period: grace.ok()?,
    })
}

fn fault_target(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<NodeTarget> {
    if node.value == Value::Str("fault-node".into()) {
        cx.bad(
            node,
            path,
            "\"fault-node\" only makes sense in a remediation step",
        );
        return None;
    }
    node_target(cx, node, path)
}

fn remediation_target(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<NodeTarget> {
    if node.value == Value::Str("fault-node".into()) {
        return Some(NodeTarget::FaultNode);
    }
    node_target(cx, node, path)
}

fn node_target(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<NodeTarget> {
    if let Value::Str(_) = node.value {
        cx.bad(
            node,
            path,
            "expected a mapping such as {role: worker}, {role: worker, index: 1}, {role: worker, random: true} or {name: worker2}",
        );
        return None;
    }
    let m = cx.map(node, path, &["name", "role", "index", "random"])?;
    let name = m.opt(cx, "name", name);
    let role = m.opt(cx, "role", |cx, n, p| {
        one_of(
            cx,
            n,
            p,
            &[
                ("control-plane", NodeRole::ControlPlane),
                ("worker", NodeRole::Worker),
            ],
        )
    });
    let index = m.opt(cx, "index", |cx, n, p| int_in(cx, n, p, 0, 1000));
    let random = m.opt(cx, "random", boolean);
    let (name, role, index, random) = (name.ok()?, role.ok()?, index.ok()?, random.ok()?);
    match (name, role, index, random.unwrap_or(false)) {
        (Some(name), None, None, false) if random.is_none() => Some(NodeTarget::Name { name }),
        (Some(_), ..) => {
            cx.at(
                node,
                path,
                "\"name\" picks one node: it cannot be combined with role, index or random",
            );
            None
        }
        (None, Some(role), None, true) => Some(NodeTarget::Random { role }),
        (None, Some(_), Some(_), true) => {
            cx.at(
                node,
                path,
                "\"index\" and \"random: true\" exclude each other",
            );
            None
        }
        (None, Some(role), index, false) => Some(NodeTarget::Role {
            role,
            index: index.unwrap_or(0),
        }),
        (None, None, ..) => {
            cx.at(
                node,
                path,
                "a target needs \"role\" (with optional index or random) or \"name\"",
            );
            None
        }
    }
}

// ---- remediation -----------------------------------------------------------

fn remediation(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Remediation> {
    let m = cx.map(node, path, &["after", "steps"])?;
    let after = m.req(cx, "after", any_dur);
    let steps = m.req(cx, "steps", |cx, n, p| list(cx, n, p, remediation_step));
    Some(Remediation {
        after: after?,
        steps: steps?,
    })
}

/// The longest healing budget: the default steady-state timeout.
pub const MAX_HEAL_BUDGET: Duration = Duration::from_secs(300);

fn heal(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Heal> {
    let m = cx.map(node, path, &["budget", "steps"])?;
    let budget = m.opt(cx, "budget", |cx, n, p| {
        let d = positive_dur(cx, n, p)?;
        if d > MAX_HEAL_BUDGET {
            cx.bad(
                n,
                p,
                format!(
                    "a healing budget must be at most {} (past it, replacing the cluster is cheaper)",
                    duration::format(MAX_HEAL_BUDGET)
                ),
            );
            return None;
        }
        Some(d)
    });
    let steps = m.req(cx, "steps", |cx, n, p| {
        let steps = list(cx, n, p, remediation_step)?;
        if steps.is_empty() {
            cx.at(n, p, "\"heal.steps\" needs at least one step");
            return None;
        }
        Some(steps)
    });
    Some(Heal {
        budget: budget.ok()?.unwrap_or(DEFAULT_HEAL_BUDGET),
        steps: steps?,
    })
}

/// The healing budget when `heal.budget` is not set: two minutes, as long
/// as the remediation suite gives the same steps to bring a node back.
pub const DEFAULT_HEAL_BUDGET: Duration = Duration::from_secs(120);

fn remediation_step(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<RemediationStep> {
    match kind(cx, node, path, &["pod-delete", "remove-file"])? {
        "pod-delete" => Some(RemediationStep::PodDelete(pod_delete(
            cx, node, path, true,
        )?)),
        _ => {
            let m = cx.map(node, path, &["kind", "target", "path"])?;
            let target = m.opt(cx, "target", remediation_target);
            let file = m.req(cx, "path", absolute_path);
            Some(RemediationStep::RemoveFile {
                target: Some(target.ok()?.unwrap_or(NodeTarget::FaultNode)),
                path: file?,
            })
        }
    }
}

// ---- SLOs ------------------------------------------------------------------

const SLO_KINDS: &[&str] = &[
    "workloads-ready-within",
    "no-crashloop",
    "max-restarts",
    "node-ready-within",
    "node-ip-stable",
    "probe-succeeds-within",
    "secondary-networks-complete",
    "nat-gateway-rules",
    "pinger-healthy",
    "ovn-consistent",
    "max-outage",
    "max-loss",
    "long-lived-tcp",
];

fn slo_list(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Vec<Slo>> {
    list(cx, node, path, |cx, n, p| {
        let (slo_node, expect) = split_expect(n);
        if let Some(e) = expect {
            cx.at(
                e,
                &join(p, "expect"),
                "an SLO's own \"expect\" belongs to a scenario's \"slos\", where the scenario's expect says outcome: fail; defaults apply to every scenario",
            );
        }
        slo(cx, &slo_node, p).filter(|_| expect.is_none())
    })
}

/// A scenario's own SLOs, each with its own expectation if it has one.
type SloEntries = Vec<(Slo, Option<(Vec<ExpectedCulprit>, String)>)>;

fn scenario_slos(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<SloEntries> {
    list(cx, node, path, |cx, n, p| {
        let (slo_node, expect) = split_expect(n);
        let slo = slo(cx, &slo_node, p);
        let expect = expect.map(|e| slo_expect(cx, e, &join(p, "expect")));
        match expect {
            None => Some((slo?, None)),
            Some(e) => Some((slo?, Some(e?))),
        }
    })
}

/// An SLO mapping without its `expect` entry, and that entry's value: the
/// SLO kinds read their own fields, the expectation is the same for all.
fn split_expect(node: &Node) -> (std::borrow::Cow<'_, Node>, Option<&Node>) {
    let Value::Map(entries) = &node.value else {
        return (std::borrow::Cow::Borrowed(node), None);
    };
    let is_expect = |k: &Node| matches!(&k.value, Value::Str(s) if s == "expect");
    let Some((_, value)) = entries.iter().find(|(k, _)| is_expect(k)) else {
        return (std::borrow::Cow::Borrowed(node), None);
    };
    let rest = entries
        .iter()
        .filter(|(k, _)| !is_expect(k))
        .cloned()
        .collect();
    (
        std::borrow::Cow::Owned(Node {
            value: Value::Map(rest),
            loc: node.loc,
        }),
        Some(value),
    )
}

/// An SLO's own expectation: `{culprits: [...], source: "<upstream>"}`, both
/// required: the symptom's culprit keeps another failure from passing for
/// it, and the source says why it fails.
fn slo_expect(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<(Vec<ExpectedCulprit>, String)> {
    let m = cx.map(node, path, &["culprits", "source"])?;
    let culprits = m.req(cx, "culprits", |cx, n, p| list(cx, n, p, expected_culprit));
    let source = m.req(cx, "source", string);
    Some((culprits?, source?))
}

fn slo(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Slo> {
    let kind = kind(cx, node, path, SLO_KINDS)?;
    Some(match kind {
        "workloads-ready-within" => {
            let m = cx.map(node, path, &["kind", "namespace", "selector", "budget"])?;
            let scope = pod_scope(cx, &m, KUBE_SYSTEM);
            let budget = m.req(cx, "budget", positive_dur);
            Slo::WorkloadsReadyWithin {
                scope: scope?,
                budget: budget?,
            }
        }
        "no-crashloop" => {
            let m = cx.map(
                node,
                path,
                &["kind", "namespace", "selector", "containers", "allowance"],
            )?;
            let scope = pod_scope(cx, &m, KUBE_SYSTEM);
            let containers = m.opt(cx, "containers", |cx, n, p| {
                one_of(
                    cx,
                    n,
                    p,
                    &[
                        ("init", CrashLoopContainers::Init),
                        ("main", CrashLoopContainers::Main),
                        ("any", CrashLoopContainers::Any),
                    ],
                )
            });
            let allowance = m.opt(cx, "allowance", |cx, n, p| int_in(cx, n, p, 0, 1000));
            Slo::NoCrashLoop {
                scope: scope?,
                containers: containers.ok()?.unwrap_or(CrashLoopContainers::Any),
                allowance: allowance.ok()?.unwrap_or(0),
            }
        }
        "max-restarts" => {
            let m = cx.map(node, path, &["kind", "namespace", "selector", "max"])?;
            let scope = pod_scope(cx, &m, KUBE_SYSTEM);
            let max = m.req(cx, "max", |cx, n, p| int_in(cx, n, p, 0, 10_000));
            Slo::MaxRestarts {
                scope: scope?,
                max: max?,
            }
        }
        "node-ready-within" => {
            let m = cx.map(node, path, &["kind", "nodes", "budget"])?;
            let nodes = m.opt(cx, "nodes", node_scope);
            let budget = m.req(cx, "budget", positive_dur);
            Slo::NodeReadyWithin {
                nodes: nodes.ok()?.unwrap_or(NodeScope::All),
                budget: budget?,
            }
        }
        "node-ip-stable" => {
            let m = cx.map(node, path, &["kind", "nodes"])?;
            let nodes = m.opt(cx, "nodes", node_scope);
            Slo::NodeIpStable {
                nodes: nodes.ok()?.unwrap_or(NodeScope::All),
            }
        }
        "secondary-networks-complete" => {
            let m = cx.map(node, path, &["kind", "namespace", "selector", "workload"])?;
            let scope = pod_scope(cx, &m, None);
            let workload = m.opt(cx, "workload", boolean);
            Slo::SecondaryNetworksComplete {
                scope: scope?,
                workload: workload.ok()?.unwrap_or(true),
            }
        }
        "pinger-healthy" => {
            let m = cx.map(node, path, &["kind", "nodes"])?;
            let nodes = m.opt(cx, "nodes", node_scope);
            Slo::PingerHealthy {
                nodes: nodes.ok()?.unwrap_or(NodeScope::All),
            }
        }
        "ovn-consistent" => {
            let m = cx.map(node, path, &["kind", "namespaces", "nodes"])?;
            let namespaces = m.opt(cx, "namespaces", namespace_list);
            let nodes = m.opt(cx, "nodes", node_scope);
            Slo::OvnConsistent {
                namespaces: namespaces.ok()?.unwrap_or_default(),
                nodes: nodes.ok()?.unwrap_or(NodeScope::All),
            }
        }
        "long-lived-tcp" => {
            cx.map(node, path, &["kind"])?;
            Slo::LongLivedTcp
        }
        "max-outage" => {
            let m = cx.map(node, path, &["kind", "flow", "budget"])?;
            let flow = m.opt(cx, "flow", flow_kind);
            let budget = m.req(cx, "budget", positive_dur);
            Slo::MaxOutage {
                flow: flow.ok()?,
                budget: budget?,
            }
        }
        "max-loss" => {
            let m = cx.map(node, path, &["kind", "flow", "percent", "within"])?;
            let flow = m.opt(cx, "flow", flow_kind);
            let percent = m.req(cx, "percent", percent);
            let within = m.opt(cx, "within", positive_dur);
            Slo::MaxLoss {
                flow: flow.ok()?,
                percent: percent?,
                within: within.ok()?,
            }
        }
        "nat-gateway-rules" => {
            let m = cx.map(
                node,
                path,
                &[
                    "kind",
                    "gateway",
                    "namespace",
                    "eip",
                    "snat-cidr",
                    "dnat",
                    "path",
                ],
            )?;
            let dnat = m.opt(cx, "dnat", dnat_rule);
            let through = m.opt(cx, "path", boolean);
            let gateway = m.req(cx, "gateway", name);
            let namespace = m.opt(cx, "namespace", name);
            let eip = m.req(cx, "eip", ipv4);
            let snat_cidr = m.req(cx, "snat-cidr", ipv4_cidr);
            match cx.nat_gateway {
                Some(false) => {
                    cx.at(node, path, "needs the suite's `cluster: {nat-gateway: true}`: without it neither backend has a VPC NAT gateway to read");
                    return None;
                }
                Some(true) => {
                    // What the profile creates (kind: backend::kind::natgw;
                    // the twin serves the same names).
                    use cni_chaos_twin::model::{NAT_EIP, NAT_GW_NAME, NAT_SNAT_CIDR};
                    let made = format!(
                        "the `nat-gateway: true` profile creates gateway {NAT_GW_NAME} in kube-system with EIP {NAT_EIP} and SNAT of {NAT_SNAT_CIDR}"
                    );
                    let mut mismatch = false;
                    for (key, got, want) in [
                        ("gateway", gateway.clone(), Some(NAT_GW_NAME.to_string())),
                        (
                            "namespace",
                            namespace.clone().ok().flatten(),
                            Some("kube-system".to_string()),
                        ),
                        ("eip", eip.map(|e| e.to_string()), Some(NAT_EIP.to_string())),
                        (
                            "snat-cidr",
                            snat_cidr.clone(),
                            Some(NAT_SNAT_CIDR.to_string()),
                        ),
                    ] {
                        if let (Some(got), Some(want), Some(at)) = (got, want, m.get(key))
                            && got != want
                        {
                            cx.bad(at, &m.path(key), format!("{made}; this is not {want}"));
                            mismatch = true;
                        }
                    }
                    if let (Ok(Some(d)), Some(node)) = (&dnat, m.get("dnat")) {
                        mismatch |= !dnat_made(cx, node, &m.path("dnat"), d);
                    }
                    if mismatch {
                        return None;
                    }
                }
                None => {}
            }
            Slo::NatGatewayRules {
                gateway: gateway?,
                namespace: namespace.ok()?.unwrap_or_else(|| "kube-system".into()),
                eip: eip?,
                snat_cidr: snat_cidr?,
                dnat: dnat.ok()?,
                path: through.ok()?.unwrap_or(false),
            }
        }
        _ => {
            let m = cx.map(node, path, &["kind", "probe", "budget"])?;
            let probe = m.req(cx, "probe", |cx, n, p| {
                one_of(
                    cx,
                    n,
                    p,
                    &[
                        ("dns", ProbeKind::Dns),
                        ("pod-to-pod", ProbeKind::PodToPod),
                        ("multus-secondary", ProbeKind::MultusSecondary),
                        ("nat-gateway-egress", ProbeKind::NatGatewayEgress),
                        ("kube-ovn-secondary", ProbeKind::KubeOvnSecondary),
                    ],
                )
            });
            let budget = m.req(cx, "budget", positive_dur);
            Slo::ProbeSucceedsWithin {
                probe: probe?,
                budget: budget?,
            }
        }
    })
}

/// A non-empty list of namespace names, each once.
fn namespace_list(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<Vec<String>> {
    let names = list(cx, node, path, name)?;
    if let Value::Seq(items) = &node.value {
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                cx.at(
                    &items[i],
                    &format!("{path}[{i}]"),
                    format!("namespace {n:?} is listed twice"),
                );
                return None;
            }
        }
    }
    Some(names)
}

/// A traffic flow kind.
fn flow_kind(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<FlowKind> {
    one_of(
        cx,
        node,
        path,
        &[
            ("pod-to-pod", FlowKind::PodToPod),
            ("pod-to-service", FlowKind::PodToService),
            ("dns", FlowKind::Dns),
            ("secondary", FlowKind::Secondary),
            ("nat-egress", FlowKind::NatEgress),
        ],
    )
    .filter(|k| {
        let needs_nat = *k == FlowKind::NatEgress && cx.nat_gateway == Some(false);
        if needs_nat {
            cx.at(node, path, "the nat-egress flow needs the suite's `cluster: {nat-gateway: true}`: without it there is no VPC client and no target to send between");
        }
        !needs_nat
    })
}

/// A percentage from 0 to 100 (a number; `%` is not written).
fn percent(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<f64> {
    let v = match node.value {
        Value::Int(i) => i as f64,
        Value::Float(f) => f,
        _ => {
            cx.bad(
                node,
                path,
                format!("expected a number, not {}", node.value.type_name()),
            );
            return None;
        }
    };
    if !(0.0..=100.0).contains(&v) {
        cx.bad(node, path, "must be a percentage between 0 and 100");
        return None;
    }
    Some(v)
}

/// A `nat-gateway-rules` SLO's `dnat:` mapping.
fn dnat_rule(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<DnatRule> {
    let m = cx.map(
        node,
        path,
        &["eip-port", "internal-ip", "internal-port", "protocol"],
    )?;
    let port = |cx: &mut Cx<'_>, n: &Node, p: &str| {
        int_in(cx, n, p, 1, 65_535).and_then(|v| u16::try_from(v).ok())
    };
    let eip_port = m.req(cx, "eip-port", port);
    let internal_ip = m.req(cx, "internal-ip", ipv4);
    let internal_port = m.req(cx, "internal-port", port);
    let protocol = m.opt(cx, "protocol", |cx, n, p| {
        one_of(cx, n, p, &[("tcp", "tcp"), ("udp", "udp")])
    });
    Some(DnatRule {
        eip_port: eip_port?,
        internal_ip: internal_ip?,
        internal_port: internal_port?,
        protocol: protocol.ok()?.unwrap_or("tcp").to_string(),
    })
}

/// Whether `d` is the DNAT rule a `nat-gateway: true` profile creates;
/// records a problem at `node` when it is not.
fn dnat_made(cx: &mut Cx<'_>, node: &Node, path: &str, d: &DnatRule) -> bool {
    use cni_chaos_twin::model::{
        NAT_DNAT_EXTERNAL_PORT, NAT_DNAT_INTERNAL_IP, NAT_DNAT_INTERNAL_PORT, NAT_DNAT_PROTOCOL,
    };
    let made = DnatRule {
        eip_port: NAT_DNAT_EXTERNAL_PORT,
        internal_ip: NAT_DNAT_INTERNAL_IP.parse().expect("a constant address"),
        internal_port: NAT_DNAT_INTERNAL_PORT,
        protocol: NAT_DNAT_PROTOCOL.into(),
    };
    if *d == made {
        return true;
    }
    cx.at(
        node,
        path,
        format!(
            "the `nat-gateway: true` profile creates the DNAT rule {{eip-port: {}, internal-ip: {}, internal-port: {}, protocol: {}}}; this is another",
            made.eip_port, made.internal_ip, made.internal_port, made.protocol
        ),
    );
    false
}

fn node_scope(cx: &mut Cx<'_>, node: &Node, path: &str) -> Option<NodeScope> {
    one_of(
        cx,
        node,
        path,
        &[
            ("all", NodeScope::All),
            ("fault-target", NodeScope::FaultTarget),
        ],
    )
}

/// The default namespace of most pod scopes.
const KUBE_SYSTEM: Option<&str> = Some("kube-system");

/// `namespace` (default `default_ns`, none meaning all; `"*"` for all) and
/// an optional `selector`.
fn pod_scope(cx: &mut Cx<'_>, m: &Map<'_>, default_ns: Option<&str>) -> Option<PodScope> {
    let namespace = m.opt(cx, "namespace", |cx, n, p| {
        if n.value == Value::Str("*".into()) {
            Some(None)
        } else {
            name(cx, n, p).map(Some)
        }
    });
    let selector = m.opt(cx, "selector", selector);
    Some(PodScope {
        namespace: namespace
            .ok()?
            .unwrap_or_else(|| default_ns.map(str::to_string)),
        selector: selector.ok()?,
    })
}
