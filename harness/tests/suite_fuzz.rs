//! Property tests for the suite loader: whatever text it is given, it never
//! panics; what it rejects it rejects with located, explained problems; what it
//! accepts can actually run and be judged.

use std::path::Path;

use proptest::prelude::*;

use cni_chaos::suite::{Suite, parse_str};

const FILE: &str = "fuzz.yaml";

/// Checks the invariants of one `parse_str` result.
fn check(
    text: &str,
    result: &Result<Suite, Vec<cni_chaos::suite::Problem>>,
) -> Result<(), TestCaseError> {
    match result {
        Ok(suite) => {
            prop_assert!(
                !suite.scenarios.is_empty(),
                "accepted a suite without scenarios:\n{text}"
            );
            for s in &suite.scenarios {
                prop_assert!(
                    !s.slos.is_empty(),
                    "accepted scenario {} without SLOs:\n{text}",
                    s.name
                );
            }
        }
        Err(problems) => {
            prop_assert!(!problems.is_empty(), "rejected without a problem:\n{text}");
            for p in problems {
                prop_assert!(
                    p.loc.line >= 1 && p.loc.column >= 1,
                    "problem without a location: {p}\n--- input ---\n{text}"
                );
                prop_assert!(
                    !p.rule.trim().is_empty(),
                    "problem without a rule: {p:?}\n--- input ---\n{text}"
                );
                prop_assert_eq!(p.file.as_path(), Path::new(FILE));
            }
        }
    }
    Ok(())
}

// ---- (a) arbitrary text ----------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = parse_str(Path::new(FILE), &text);
    }

    #[test]
    fn yaml_punctuation_soup_never_panics(text in "[\\[\\]{}:,\\-#&*!|>'\"%@ \\n\\ta-z0-9]{0,300}") {
        let _ = parse_str(Path::new(FILE), &text);
    }
}

// ---- (b) suite-shaped documents --------------------------------------------

/// A YAML document to render.
#[derive(Clone, Debug)]
enum Y {
    /// A scalar written as-is (may be quoted, may be of the wrong type).
    S(String),
    /// A block (or, when `flow`, flow) sequence.
    Seq(Vec<Y>, bool),
    /// A block (or, when `flow`, flow) mapping.
    Map(Vec<(String, Y)>, bool),
}

fn s(text: &str) -> Y {
    Y::S(text.to_string())
}

fn is_flowable(y: &Y) -> bool {
    match y {
        Y::S(_) => true,
        Y::Seq(items, _) => items.iter().all(is_flowable),
        Y::Map(entries, _) => entries.iter().all(|(_, v)| is_flowable(v)),
    }
}

fn flow(y: &Y, out: &mut String) {
    match y {
        Y::S(t) => out.push_str(t),
        Y::Seq(items, _) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow(item, out);
            }
            out.push(']');
        }
        Y::Map(entries, _) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push_str(": ");
                flow(v, out);
            }
            out.push('}');
        }
    }
}

/// Renders `y` as the value after `key:` or `-`: inline when it is a scalar, an
/// empty or a flow collection, else on the following lines at `indent`.
fn value(y: &Y, indent: usize, out: &mut String) {
    let inline = match y {
        Y::S(_) => true,
        Y::Seq(items, f) => items.is_empty() || (*f && is_flowable(y)),
        Y::Map(entries, f) => entries.is_empty() || (*f && is_flowable(y)),
    };
    if inline {
        out.push(' ');
        flow(y, out);
        out.push('\n');
    } else {
        out.push('\n');
        block(y, indent, out);
    }
}

fn block(y: &Y, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match y {
        Y::S(_) => {
            out.push_str(&pad);
            flow(y, out);
            out.push('\n');
        }
        Y::Seq(items, _) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                value(item, indent + 2, out);
            }
        }
        Y::Map(entries, _) => {
            for (k, v) in entries {
                out.push_str(&pad);
                out.push_str(k);
                out.push(':');
                value(v, indent + 2, out);
            }
        }
    }
}

fn render(y: &Y) -> String {
    let mut out = String::new();
    match y {
        Y::Map(entries, _) if !entries.is_empty() => block(y, 0, &mut out),
        Y::Seq(items, _) if !items.is_empty() => block(y, 0, &mut out),
        _ => {
            flow(y, &mut out);
            out.push('\n');
        }
    }
    out
}

/// Scalars of every type, valid for some field and wrong for most others.
#[rustfmt::skip]
const SCALARS: &[&str] = &[
    "smoke", "worker-reboot", "Bad_Name", "-x", "\"\"", "''", "~", "null", "true", "false",
    "\"true\"", "0", "1", "2", "100", "101", "256", "300", "-1", "3.5", "1e3", "90", "90s",
    "2m 30s", "0s", "-5s", "25h", "24h", "soon", "1d", "500ms", "worker", "control-plane",
    "graceful", "hard", "kill", "stop", "ovs-vswitchd", "ovsdb-server", "kube-ovn", "multus",
    "/etc/cni/net.d/00-multus.conf", "/etc/cni/net.d/", "etc/x", "/tmp/../x", "remove",
    "truncate", "delayed-rewrite", "kube-system", "\"*\"", "app=multus", "\"app in (a, b)\"",
    "\"app in (a\"", "\"!canary\"", "\"a,\"", "all", "fault-target", "fault-node", "init",
    "main", "any", "dns", "pod-to-pod", "multus-secondary", "nat-gateway-egress", "pass", "fail",
    "default", "kind-worker", "\"line\\nbreak\"", "'it''s'",
    "99999999999999999999999999999999999999999999",
];

/// Fault kinds with their fields (`!` marks a required one); the last kind does not exist.
const FAULTS: &[(&str, &[&str])] = &[
    ("node-reboot", &["!target", "!mode", "timeout"]),
    ("ovs-kill", &["!target", "!process", "!signal", "stop-for"]),
    ("stale-netns", &["!target", "count", "ovs-ports"]),
    ("leftover-multus-config", &["!target", "busy-shim"]),
    ("cni-config", &["!target", "!action", "!file", "delay"]),
    (
        "pod-delete",
        &["namespace", "!selector", "target", "grace-period"],
    ),
    ("network-partition", &["!target", "!duration"]),
    ("node-restart", &["target", "mode"]),
];
/// SLO kinds with their fields; the last kind does not exist.
const SLOS: &[(&str, &[&str])] = &[
    (
        "workloads-ready-within",
        &["namespace", "selector", "!budget"],
    ),
    (
        "no-crashloop",
        &["namespace", "selector", "containers", "allowance"],
    ),
    ("max-restarts", &["namespace", "selector", "!max"]),
    ("node-ready-within", &["nodes", "!budget"]),
    ("node-ip-stable", &["nodes"]),
    ("probe-succeeds-within", &["!probe", "!budget"]),
    (
        "secondary-networks-complete",
        &["namespace", "selector", "workload"],
    ),
    (
        "nat-gateway-rules",
        &["!gateway", "namespace", "!eip", "!snat-cidr"],
    ),
    ("pinger-healthy", &["nodes"]),
    ("ovn-consistent", &["namespaces", "nodes"]),
    ("max-outage", &["flow", "!budget"]),
    ("max-loss", &["flow", "!percent", "within"]),
    ("long-lived-tcp", &[]),
    ("crashloop-free", &["namespace"]),
];
/// Remediation step kinds with their fields; the last kind does not exist.
const STEPS: &[(&str, &[&str])] = &[
    (
        "pod-delete",
        &["namespace", "!selector", "target", "grace-period"],
    ),
    ("remove-file", &["target", "!path"]),
    ("reboot", &["target"]),
];

/// Field names that belong somewhere, used as misplaced extra keys.
#[rustfmt::skip]
const SOME_FIELDS: &[&str] = &[
    "target", "mode", "timeout", "process", "signal", "stop-for", "count", "ovs-ports", "busy-shim",
    "action", "file", "delay", "namespace", "selector", "grace-period", "duration", "budget",
    "containers", "allowance", "max", "nodes", "probe", "name", "kind", "slos", "repeat",
    "workload",
];

/// Valid values for a field (only some combinations of them are valid together).
fn good_values(field: &str) -> &'static [&'static str] {
    match field {
        "mode" => &["graceful", "hard"],
        "timeout" => &["30s", "1m"],
        "process" => &["ovs-vswitchd", "ovsdb-server"],
        "signal" => &["kill", "stop"],
        "stop-for" => &["10s"],
        "count" => &["1", "3"],
        "ovs-ports" | "busy-shim" | "workload" => &["true", "false"],
        "action" => &["remove", "truncate", "delayed-rewrite"],
        "file" => &["kube-ovn", "multus", "/etc/cni/net.d/00-multus.conf"],
        "delay" | "duration" | "after" => &["5s", "30s"],
        "namespace" => &["kube-system", "\"*\""],
        "selector" => &["app=multus", "\"app in (a, b), !canary\""],
        "grace-period" => &["0s", "5s"],
        "budget" | "steady-state-timeout" => &["2m", "90s"],
        "containers" => &["init", "main", "any"],
        "allowance" | "max" => &["0", "3"],
        "nodes" => &["all", "fault-target"],
        "namespaces" => &["[default]", "[kube-system, default]"],
        "probe" => &[
            "dns",
            "pod-to-pod",
            "multus-secondary",
            "nat-gateway-egress",
        ],
        "path" => &["/etc/cni/net.d/00-multus.conf"],
        "gateway" => &["gw1"],
        "eip" => &["172.31.250.101"],
        "snat-cidr" => &["10.250.1.0/24", "192.168.0.0/16"],
        "repeat" => &["1", "3"],
        "kind-config" | "versions" => &["default"],
        "description" | "ignored" | "reason" => &["text", "\"kube-ovn#1234\""],
        _ => &["x"],
    }
}

fn scalar() -> impl Strategy<Value = Y> {
    prop::sample::select(SCALARS).prop_map(s)
}

/// Any small YAML value: scalars, nested lists and mappings.
fn any_node() -> impl Strategy<Value = Y> {
    scalar().prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..4), any::<bool>())
                .prop_map(|(v, f)| Y::Seq(v, f)),
            (
                prop::collection::vec(
                    (
                        prop::sample::select(SOME_FIELDS).prop_map(str::to_string),
                        inner
                    ),
                    0..4
                ),
                any::<bool>()
            )
                .prop_map(|(e, f)| Y::Map(e, f)),
        ]
    })
}

/// How a document is generated: `clean` documents only use well-typed values
/// and always carry their required fields (so a fair share of them is valid,
/// and what is rejected is rejected for a cross-field rule); dirty ones drop
/// fields and swap values for random nodes.
#[derive(Clone, Copy)]
struct Mode {
    clean: bool,
}

impl Mode {
    /// Mostly `good`; in dirty mode sometimes any other value.
    fn mostly(self, good: impl Strategy<Value = Y> + 'static) -> BoxedStrategy<Y> {
        if self.clean {
            good.boxed()
        } else {
            prop_oneof![9 => good, 1 => any_node()].boxed()
        }
    }

    /// A plausible value for `field`, sometimes a wrong one.
    fn value(self, field: &'static str) -> BoxedStrategy<Y> {
        if field == "target" {
            return self.target();
        }
        self.mostly(prop::sample::select(good_values(field)).prop_map(s))
    }

    /// Mapping entries in order: a field is present with its probability
    /// (always, in clean mode, when the probability is 1); in dirty mode a
    /// misplaced extra key is sometimes added.
    fn fields(
        self,
        parts: Vec<(&'static str, f64, BoxedStrategy<Y>)>,
    ) -> BoxedStrategy<Vec<(String, Y)>> {
        let clean = self.clean;
        let parts: Vec<BoxedStrategy<Option<(String, Y)>>> = parts
            .into_iter()
            .map(|(k, p, v)| {
                let v = v.prop_map(move |v| (k.to_string(), v));
                match (clean, p >= 1.0) {
                    (true, true) => v.prop_map(Some).boxed(),
                    (false, true) => prop::option::weighted(0.92, v).boxed(),
                    _ => prop::option::weighted(p, v).boxed(),
                }
            })
            .collect();
        let extra = if clean {
            Just(None).boxed()
        } else {
            prop::option::weighted(0.08, (prop::sample::select(SOME_FIELDS), any_node())).boxed()
        };
        (parts, extra)
            .prop_map(|(parts, extra)| {
                let mut out: Vec<(String, Y)> = parts.into_iter().flatten().collect();
                if let Some((k, v)) = extra {
                    out.push((k.to_string(), v));
                }
                out
            })
            .boxed()
    }

    fn block_map(self, parts: Vec<(&'static str, f64, BoxedStrategy<Y>)>) -> BoxedStrategy<Y> {
        self.fields(parts).prop_map(|e| Y::Map(e, false)).boxed()
    }

    /// A list; in clean mode never empty.
    fn list_of(self, item: BoxedStrategy<Y>, max: usize) -> BoxedStrategy<Y> {
        let min = usize::from(self.clean);
        (
            prop::collection::vec(item, min..max),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(v, f)| Y::Seq(v, f))
            .boxed()
    }

    fn target(self) -> BoxedStrategy<Y> {
        let clean = self.clean;
        let (roles, indexes, randoms): (
            &'static [&'static str],
            &'static [&'static str],
            &'static [&'static str],
        ) = if clean {
            (
                &["worker", "worker", "control-plane"],
                &["0", "1"],
                &["true", "false"],
            )
        } else {
            (
                &["worker", "worker", "control-plane", "master"],
                &["0", "1", "-1", "x"],
                &["true", "false", "\"yes\""],
            )
        };
        let by_role = (
            prop::sample::select(roles),
            prop::option::weighted(0.3, prop::sample::select(indexes)),
            prop::option::weighted(0.3, prop::sample::select(randoms)),
            if clean {
                Just(None).boxed()
            } else {
                prop::option::weighted(0.05, Just("kind-worker")).boxed()
            },
            any::<bool>(),
        )
            .prop_map(|(role, index, random, name, flow)| {
                let mut e = vec![("role".to_string(), s(role))];
                if let Some(i) = index {
                    e.push(("index".into(), s(i)));
                }
                if let Some(r) = random {
                    e.push(("random".into(), s(r)));
                }
                if let Some(n) = name {
                    e.push(("name".into(), s(n)));
                }
                Y::Map(e, flow)
            });
        let by_name = Just(Y::Map(vec![("name".into(), s("kind-worker2"))], true));
        if clean {
            prop_oneof![8 => by_role, 1 => by_name].boxed()
        } else {
            prop_oneof![
                8 => by_role,
                1 => by_name,
                1 => prop::sample::select(&["fault-node", "worker"][..]).prop_map(s),
                1 => any_node(),
            ]
            .boxed()
        }
    }

    /// A `kind`-tagged mapping of one of `spec`'s kinds; the last, unknown
    /// kind only in dirty mode.
    fn tagged(self, spec: &'static [(&'static str, &'static [&'static str])]) -> BoxedStrategy<Y> {
        let kinds = if self.clean {
            &spec[..spec.len() - 1]
        } else {
            spec
        };
        let arms: Vec<(u32, BoxedStrategy<Y>)> = kinds
            .iter()
            .enumerate()
            .map(|(i, (kind, names))| {
                let mut parts = vec![("kind", 1.0, self.mostly(Just(s(kind))))];
                parts.extend(names.iter().map(|n| match n.strip_prefix('!') {
                    Some(n) => (n, 1.0, self.value(n)),
                    None => (*n, 0.5, self.value(n)),
                }));
                let weight = if i + 1 == spec.len() { 1 } else { 6 };
                let arm =
                    (self.fields(parts), prop::bool::weighted(0.2)).prop_map(|(e, f)| Y::Map(e, f));
                (weight, arm.boxed())
            })
            .collect();
        self.mostly(prop::strategy::Union::new_weighted(arms))
    }

    fn slos(self) -> BoxedStrategy<Y> {
        self.mostly(self.list_of(self.tagged(SLOS), 4))
    }

    fn remediation(self) -> BoxedStrategy<Y> {
        self.mostly(self.block_map(vec![
            ("after", 1.0, self.value("after")),
            (
                "steps",
                1.0,
                self.mostly(self.list_of(self.tagged(STEPS), 3)),
            ),
        ]))
    }

    fn expect(self) -> BoxedStrategy<Y> {
        let outcome = self.mostly(prop::sample::select(&["pass", "fail"][..]).prop_map(s));
        let reason = if self.clean { 1.0 } else { 0.8 };
        let map = self.block_map(vec![
            ("outcome", 1.0, outcome),
            ("reason", reason, self.value("reason")),
            (
                "culprits",
                0.3,
                self.mostly(self.list_of(self.value("reason"), 3)),
            ),
        ]);
        let words: &'static [&'static str] = if self.clean {
            &["pass"]
        } else {
            &["pass", "fail", "maybe"]
        };
        prop_oneof![3 => prop::sample::select(words).prop_map(s), 3 => map, 1 => self.mostly(Just(s("pass")))].boxed()
    }

    fn scenario(self) -> BoxedStrategy<Y> {
        let name =
            prop::sample::select(&["a", "b", "c", "d", "e", "worker-reboot"][..]).prop_map(s);
        self.mostly(self.block_map(vec![
            ("name", 1.0, self.mostly(name)),
            ("description", 0.5, self.value("description")),
            ("fault", 1.0, self.tagged(FAULTS)),
            ("remediation", 0.2, self.remediation()),
            ("slos", 0.8, self.slos()),
            ("expect", 0.3, self.expect()),
            ("ignored", 0.1, self.value("ignored")),
            ("repeat", 0.2, self.value("repeat")),
            (
                "steady-state-timeout",
                0.2,
                self.value("steady-state-timeout"),
            ),
        ]))
    }

    fn scenarios(self) -> BoxedStrategy<Y> {
        let clean = self.clean;
        self.mostly(self.list_of(self.scenario(), 4).prop_map(move |y| {
            match y {
                // Clean documents get unique scenario names.
                Y::Seq(items, f) if clean => Y::Seq(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, item)| match item {
                            Y::Map(e, f) => Y::Map(
                                e.into_iter()
                                    .map(|(k, v)| {
                                        if k == "name" {
                                            (k, s(&format!("s{i}")))
                                        } else {
                                            (k, v)
                                        }
                                    })
                                    .collect(),
                                f,
                            ),
                            other => other,
                        })
                        .collect(),
                    f,
                ),
                other => other,
            }
        }))
    }

    fn suite(self) -> BoxedStrategy<Y> {
        let cluster = self.block_map(vec![
            ("kind-config", 0.7, self.value("kind-config")),
            ("versions", 0.7, self.value("versions")),
        ]);
        let defaults = self.block_map(vec![
            ("repeat", 0.4, self.value("repeat")),
            (
                "steady-state-timeout",
                0.4,
                self.value("steady-state-timeout"),
            ),
            ("slos", 0.7, self.slos()),
        ]);
        let names: &'static [&'static str] = if self.clean {
            &["smoke"]
        } else {
            &["smoke", "smoke", "smoke", "Smoke", "\"\""]
        };
        self.block_map(vec![
            (
                "name",
                1.0,
                self.mostly(prop::sample::select(names).prop_map(s)),
            ),
            ("description", 1.0, self.value("description")),
            ("cluster", 0.3, self.mostly(cluster)),
            ("defaults", 0.5, self.mostly(defaults)),
            ("scenarios", 1.0, self.scenarios()),
        ])
    }
}

/// Suite-shaped documents: a third clean, the rest dirty, a few arbitrary.
fn suite_doc() -> impl Strategy<Value = Y> {
    prop_oneof![
        6 => Mode { clean: true }.suite(),
        12 => Mode { clean: false }.suite(),
        1 => any_node(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn suite_shaped_documents_are_judged_soundly(doc in suite_doc()) {
        let text = render(&doc);
        let result = parse_str(Path::new(FILE), &text);
        check(&text, &result)?;
    }
}

/// The renderer itself must produce suites the loader accepts, or the
/// structured property would only ever test rejection.
#[test]
fn renderer_produces_a_valid_suite() {
    let fault = Y::Map(
        vec![
            ("kind".into(), s("node-reboot")),
            (
                "target".into(),
                Y::Map(vec![("role".into(), s("worker"))], true),
            ),
            ("mode".into(), s("graceful")),
        ],
        false,
    );
    let slo = Y::Map(vec![("kind".into(), s("node-ip-stable"))], false);
    let scenario = Y::Map(
        vec![
            ("name".into(), s("a")),
            ("fault".into(), fault),
            ("slos".into(), Y::Seq(vec![slo], false)),
        ],
        false,
    );
    let doc = Y::Map(
        vec![
            ("name".into(), s("smoke")),
            ("description".into(), s("d")),
            ("scenarios".into(), Y::Seq(vec![scenario], false)),
        ],
        false,
    );
    let text = render(&doc);
    let suite = parse_str(Path::new(FILE), &text).unwrap_or_else(|p| {
        panic!(
            "{text}\n{}",
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert_eq!(suite.scenarios.len(), 1);
}
