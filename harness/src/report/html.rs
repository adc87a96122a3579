//! The HTML report: one self-contained page per run (inline CSS, a few lines
//! of inline JS, no external assets, no network) with a summary table and,
//! per scenario, a recovery timeline of every node and pod.
//!
//! Stable hooks for tests and scripts:
//!
//! - `section.scenario[data-scenario="suite::scenario"]`, with class
//!   `verdict-<key>` (`pass`, `fail`, `xfail`, `xpass`, `not-run`, `error`,
//!   `interrupted`);
//! - `div.lane[data-lane][data-kind][data-node]` per node (`data-lane` is the
//!   node name) and pod (`namespace/name`), nodes first, then pods grouped by
//!   node, and per kube-ovn-pinger verdict (`data-kind="pinger"`, `data-lane`
//!   the pinger pod's name, states `clean`, `lost: ...`); class `culprit` on lanes an SLO names as culprit, `fault-target` on
//!   the faulted node;
//! - `span.seg[data-state][data-from-ms][data-to-ms]` per state segment, with
//!   a class per state family (`st-ready`, `st-notready`, `st-creating`,
//!   `st-crashloop`, `st-init-crashloop`, `st-terminating`, `st-absent`,
//!   `st-other`) and a hover title;
//! - `.fault-line` (the fault instant) and `.budget-line[data-slo]
//!   [data-budget-ms]` (each SLO budget) over the lanes;
//! - `#simulated-banner` when the backend is simulated; `.trend` cells and
//!   `.regression` when a recovery got slower than the trend threshold.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use super::markdown::{fault, slowest};
use super::record::{RunRecord, verdict_key};
use super::trend::{Direction, SloTrend, Trend};
use crate::observe::{Lane, ObjKind};
use crate::run::{Check, CheckKind, CheckStatus, ScenarioResult, Verdict};
use crate::slo::{Culprit, CulpritKind, SloStatus};
use crate::suite::Expect;
use crate::util::duration;

/// How long before the fault a timeline starts at the latest.
const LEAD_IN_MS: i64 = 60_000;
/// How many culprits the summary table names before `+N more`.
const TABLE_CULPRITS: usize = 3;

/// Renders a run as one self-contained HTML page.
pub fn html(record: &RunRecord) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let info = &record.info;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>cni-chaos run {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&info.run_id)
    );
    let _ = writeln!(
        out,
        "<header>\n<h1>cni-chaos run <code>{}</code></h1>",
        esc(&info.run_id)
    );
    if let Some(banner) = record.banner() {
        let _ = writeln!(
            out,
            "<div class=\"banner simulated\" id=\"simulated-banner\"><strong>Simulated:</strong> {}</div>",
            esc(&banner)
        );
    }
    let _ = writeln!(out, "<p class=\"totals\">{}</p>", totals(record));
    if let Some(trend) = &record.trend {
        trend_note(&mut out, trend);
    }
    out.push_str("</header>\n<main>\n");
    summary(&mut out, record);
    legend(&mut out);
    for (i, r) in record.results.iter().enumerate() {
        scenario(&mut out, record, i, r);
    }
    out.push_str("</main>\n");
    let _ = writeln!(out, "<script>{SCRIPT}</script>\n</body>\n</html>");
    out
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The class of a lane state's colour family.
pub fn state_class(state: &str) -> &'static str {
    match state {
        // kube-ovn-pinger's verdict lanes (`observe::pinger::verdict_words`)
        // and traffic flows' lanes.
        "Ready" | "clean" | "flowing" => "st-ready",
        s if s.starts_with("lost: ") => "st-crashloop",
        s if s.starts_with("unread: ") => "st-other",
        "NotReady" | "Running" | "Unknown" => "st-notready",
        // A traffic flow's outage.
        "outage" => "st-crashloop",
        "not covered" | "no records" => "st-absent",
        "Init:CrashLoopBackOff" => "st-init-crashloop",
        "CrashLoopBackOff"
        | "Error"
        | "Failed"
        | "OOMKilled"
        | "ImagePullBackOff"
        | "ErrImagePull"
        | "CreateContainerError"
        | "RunContainerError" => "st-crashloop",
        "Terminating" => "st-terminating",
        "absent" => "st-absent",
        "ContainerCreating" | "Pending" | "PodInitializing" | "Completed" => "st-creating",
        s if s.starts_with("Init:") => "st-creating",
        _ => "st-other",
    }
}

fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "FAIL",
        Verdict::XFail => "xfail (expected failure)",
        Verdict::XPass => "XPASS (expected to fail, passed)",
        Verdict::NotRun => "not run",
        Verdict::Unmet => "precondition unmet (tested something else)",
        Verdict::Error => "ERROR",
        Verdict::Interrupted => "interrupted",
        Verdict::Planned => "planned (dry run)",
    }
}

fn verdict_badge(v: Verdict) -> String {
    format!(
        "<span class=\"verdict v-{}\">{}</span>",
        verdict_key(v),
        esc(verdict_label(v))
    )
}

fn totals(record: &RunRecord) -> String {
    let c = record.counts();
    let mut parts: Vec<String> = Verdict::ALL
        .into_iter()
        .filter(|v| c.get(*v) > 0)
        .map(|v| format!("{} {}", c.get(v), verdict_badge(v)))
        .collect();
    if parts.is_empty() {
        parts.push("nothing finished".into());
    }
    let mut line = format!(
        "<strong>{} scenario{}</strong>: {} — backend <code>{}</code>, seed {}",
        c.total,
        if c.total == 1 { "" } else { "s" },
        parts.join(" · "),
        esc(&record.info.backend.name),
        record.info.seed
    );
    match record.elapsed() {
        Some(d) => {
            let _ = write!(line, ", took {}", esc(&duration::format(d)));
        }
        None => line.push_str(", still running"),
    }
    if record.interrupted {
        line.push_str(" — <strong class=\"bad\">run interrupted</strong>");
    }
    for e in &record.teardown_errors {
        let _ = write!(
            line,
            " — <strong class=\"bad\">teardown error:</strong> {}",
            esc(e)
        );
    }
    line
}

fn trend_note(out: &mut String, trend: &Trend) {
    if let Some(w) = &trend.warning {
        let _ = writeln!(
            out,
            "<div class=\"banner trend-warning\" id=\"trend-warning\">{}</div>",
            esc(w)
        );
        return;
    }
    let n = trend.regressions().count();
    let _ = writeln!(
        out,
        "<p class=\"trend-note\" id=\"trend-note\">Trend: {}.{}</p>",
        esc(&trend.describe()),
        if n > 0 {
            format!(
                " <strong class=\"regression\">{n} regression{}</strong>",
                if n == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        }
    );
}

fn anchor(i: usize) -> String {
    format!("scenario-{i}")
}

fn trend_cell(t: Option<&SloTrend>) -> String {
    match t {
        None => "<td class=\"trend none\">—</td>".into(),
        Some(t) => {
            let class = match (t.regression, t.direction) {
                (true, _) => "trend regression",
                (false, Direction::Up) => "trend up",
                (false, Direction::Down) => "trend down",
                (false, Direction::Flat) => "trend flat",
            };
            format!(
                "<td class=\"{class}\" data-trend=\"{}\" title=\"{}\">{}{}</td>",
                esc(&t.delta()),
                esc(&format!(
                    "{}: {} now, {} in the baseline",
                    t.slo, t.current, t.baseline
                )),
                esc(&t.label()),
                if t.regression { " regression" } else { "" }
            )
        }
    }
}

fn summary(out: &mut String, record: &RunRecord) {
    out.push_str("<section id=\"summary\">\n<h2>Scenarios</h2>\n");
    if record.results.is_empty() {
        out.push_str("<p>No scenario has finished yet.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<table class=\"summary\">\n<thead><tr><th>Scenario</th><th>Verdict</th><th>Fault</th>\
         <th>Slowest SLO (measured / budget)</th><th>Culprits</th>",
    );
    let trend = record.trend.as_ref().filter(|t| t.warning.is_none());
    out.push_str(if trend.is_some() {
        "<th>Trend</th></tr></thead>\n<tbody>\n"
    } else {
        "</tr></thead>\n<tbody>\n"
    });
    for (i, r) in record.results.iter().enumerate() {
        let all = r.culprits();
        let mut names: Vec<String> = all
            .iter()
            .take(TABLE_CULPRITS)
            .map(|c| format!("{} ({})", c.name, c.reason))
            .collect();
        if all.len() > TABLE_CULPRITS {
            names.push(format!("+{} more", all.len() - TABLE_CULPRITS));
        }
        let culprit_text = if names.is_empty() {
            "—".to_string()
        } else {
            names.join(", ")
        };
        let name = r.display_name();
        let trend_td = trend.map_or_else(String::new, |t| trend_cell(t.headline(&name)));
        let _ = writeln!(
            out,
            "<tr class=\"verdict-{}\" data-scenario=\"{}\"><td><a href=\"#{}\">{}</a></td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td>{}</tr>",
            verdict_key(r.verdict),
            esc(&name),
            anchor(i),
            esc(&name),
            verdict_badge(r.verdict),
            esc(&fault(r)),
            esc(&slowest(r)),
            esc(&culprit_text),
            trend_td,
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

/// The states in the legend, with a sample state for each.
const LEGEND: [(&str, &str); 8] = [
    ("Ready", "Ready"),
    ("NotReady", "NotReady"),
    ("ContainerCreating / Init:N/M", "ContainerCreating"),
    ("CrashLoopBackOff", "CrashLoopBackOff"),
    ("Init:CrashLoopBackOff", "Init:CrashLoopBackOff"),
    ("Terminating", "Terminating"),
    ("absent", "absent"),
    ("other", "?"),
];

fn legend(out: &mut String) {
    out.push_str("<div class=\"legend\" id=\"legend\">");
    for (label, state) in LEGEND {
        let _ = write!(
            out,
            "<span class=\"key\"><span class=\"swatch {}\"></span>{}</span>",
            state_class(state),
            esc(label)
        );
    }
    out.push_str(
        "<span class=\"key\"><span class=\"swatch line fault\"></span>fault</span>\
         <span class=\"key\"><span class=\"swatch line budget\"></span>SLO budget</span>\
         <span class=\"key\"><span class=\"swatch culprit-key\"></span>culprit</span></div>\n",
    );
}

fn check_status(c: &Check) -> (&'static str, String) {
    match &c.status {
        CheckStatus::Passed => ("passed", "passed".into()),
        CheckStatus::Failed => ("failed", "failed".into()),
        CheckStatus::Error => ("error", "error".into()),
        CheckStatus::Skipped(why) => ("skipped", format!("skipped: {why}")),
    }
}

fn scenario(out: &mut String, record: &RunRecord, i: usize, r: &ScenarioResult) {
    let name = r.display_name();
    let _ = writeln!(
        out,
        "<section class=\"scenario verdict-{}\" id=\"{}\" data-scenario=\"{}\">",
        verdict_key(r.verdict),
        anchor(i),
        esc(&name)
    );
    let _ = writeln!(
        out,
        "<h2><code>{}</code> {}</h2>",
        esc(&name),
        verdict_badge(r.verdict)
    );
    if let Some(banner) = record.banner() {
        let _ = writeln!(
            out,
            "<div class=\"banner simulated scenario-banner\">Simulated: {}</div>",
            esc(&banner)
        );
    }
    let _ = writeln!(
        out,
        "<p class=\"outcome\">{}</p>",
        esc(&r.outcome.to_string())
    );
    timeline(out, i, r);
    slo_table(out, record.trend.as_ref(), &name, r);

    let mut facts = vec![("Fault", fault(r))];
    if let Some(cluster) = &r.cluster {
        facts.push(("Cluster", cluster.clone()));
    }
    if let Some(e) = &r.evidence {
        let s = e.summary();
        if !s.is_empty() {
            facts.push(("Evidence", s));
        }
        let pre = e.preconditions.summary();
        if !pre.is_empty() {
            facts.push(("Preconditions", pre));
        }
    }
    if let Expect::Fail {
        reason, culprits, ..
    } = &r.expect
    {
        let mut s = reason.clone();
        if !culprits.is_empty() {
            s.push_str(&format!(
                " (expected culprits: {})",
                culprits
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        facts.push(("Expected to fail", s));
    }
    for m in &r.symptoms {
        facts.push(("Expected", m.to_string()));
    }
    if r.verdict == Verdict::XPass {
        facts.push((
            "XPASS",
            "every SLO held; the bug may be fixed upstream: update the suite".into(),
        ));
    }
    facts.push(("Took", duration::format(r.elapsed)));
    out.push_str("<dl class=\"facts\">");
    for (k, v) in facts {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&v));
    }
    out.push_str("</dl>\n");

    let other: Vec<&Check> = r
        .checks
        .iter()
        .filter(|c| c.kind != CheckKind::Slo)
        .collect();
    if !other.is_empty() {
        out.push_str("<details class=\"checks\"><summary>Checks</summary>\n<ul>\n");
        for c in other {
            let (class, status) = check_status(c);
            let _ = writeln!(
                out,
                "<li class=\"check {class}\"><strong>{}</strong>: {} ({}){}</li>",
                esc(&c.name),
                esc(&status),
                esc(&duration::format(c.elapsed)),
                if c.message.is_empty() {
                    String::new()
                } else {
                    format!(" — {}", esc(&c.message))
                }
            );
        }
        out.push_str("</ul>\n</details>\n");
    }
    if let Some(diag) = r.diagnostics.as_deref().filter(|d| !d.trim().is_empty()) {
        let _ = writeln!(
            out,
            "<details class=\"diagnostics\"><summary>Diagnostics ({} lines)</summary>\n<pre>{}</pre>\n</details>",
            diag.lines().count(),
            esc(diag)
        );
    }
    out.push_str("</section>\n");
}

fn slo_table(out: &mut String, trend: Option<&Trend>, name: &str, r: &ScenarioResult) {
    if r.slos.is_empty() {
        return;
    }
    // The trend column only when there is a usable baseline.
    let trend = trend.filter(|t| t.warning.is_none());
    let _ = writeln!(
        out,
        "<table class=\"slos\">\n<thead><tr><th>SLO</th><th>Status</th><th>Measured</th>\
         <th>Budget</th>{}<th>Culprits</th></tr></thead>\n<tbody>",
        if trend.is_some() {
            "<th>Trend</th>"
        } else {
            ""
        }
    );
    for v in &r.slos {
        let slo = v.slo.to_string();
        let (class, status) = match (&v.status, r.verdict) {
            (SloStatus::Pass, _) => ("passed", "held".to_string()),
            (SloStatus::Fail, Verdict::XFail) => ("xfailed", "failed (expected)".to_string()),
            (SloStatus::Fail, _) => ("failed", "FAILED".to_string()),
            (SloStatus::NotEvaluated(why), _) => ("skipped", format!("not evaluated: {why}")),
        };
        let t = trend.and_then(|t| t.get(name, &slo));
        let trend_td = trend.map_or_else(String::new, |_| trend_cell(t));
        let culprit_list: Vec<String> = v.culprits.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "<tr class=\"slo {class}{}\" data-slo=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}<td>{}</td></tr>",
            if t.is_some_and(|t| t.regression) {
                " regression"
            } else {
                ""
            },
            esc(&slo),
            esc(&slo),
            esc(&status),
            esc(&v
                .measured
                .map_or_else(|| "—".to_string(), |m| m.to_string())),
            esc(&v
                .slo
                .budget()
                .map_or_else(|| "—".to_string(), duration::format)),
            trend_td,
            if culprit_list.is_empty() {
                "—".to_string()
            } else {
                culprit_list
                    .iter()
                    .map(|c| esc(c))
                    .collect::<Vec<_>>()
                    .join("<br>")
            },
        );
        if !v.message.is_empty() {
            let _ = writeln!(
                out,
                "<tr class=\"slo-message\"><td colspan=\"{}\">{}</td></tr>",
                if trend.is_some() { 6 } else { 5 },
                esc(&v.message)
            );
        }
    }
    out.push_str("</tbody>\n</table>\n");
}

/// A signed offset from the fault, e.g. `-1m`, `+2m 30s`, `0s`.
fn rel(ms: i64) -> String {
    let d = duration::format(Duration::from_millis(ms.unsigned_abs()));
    match ms.signum() {
        -1 => format!("-{d}"),
        1 => format!("+{d}"),
        _ => d,
    }
}

/// A tick step that gives about eight ticks over `span` milliseconds.
fn tick_step(span: i64) -> i64 {
    const STEPS: [i64; 14] = [
        1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
        1_800_000, 3_600_000, 7_200_000,
    ];
    STEPS
        .into_iter()
        .find(|s| span / s <= 10)
        .unwrap_or(14_400_000)
}

/// One lane's key for culprit matching.
fn lane_key(l: &Lane) -> String {
    match (&l.object.kind, &l.object.namespace) {
        (ObjKind::Pod, Some(ns)) => format!("{ns}/{}", l.object.name),
        _ => l.object.name.clone(),
    }
}

fn culprit_key(c: &Culprit) -> String {
    match (c.kind, &c.namespace) {
        (CulpritKind::Pod, Some(ns)) => format!("{ns}/{}", c.name),
        _ => c.name.clone(),
    }
}

/// Lanes in display order: nodes by name, then the pods of the faulted node,
/// then the pods of every other node by node name, then pods on no known
/// node; pods by `namespace/name` within a group. Group `None` holds the
/// nodes, `Some("")` the pods on no known node.
fn ordered<'a>(lanes: &'a [Lane], faulted: Option<&str>) -> Vec<(Option<String>, Vec<&'a Lane>)> {
    let mut nodes: Vec<&Lane> = lanes
        .iter()
        .filter(|l| l.object.kind == ObjKind::Node)
        .collect();
    nodes.sort_by(|a, b| a.object.name.cmp(&b.object.name));
    let mut by_node: BTreeMap<Option<String>, Vec<&Lane>> = BTreeMap::new();
    for l in lanes.iter().filter(|l| l.object.kind != ObjKind::Node) {
        by_node.entry(l.node.clone()).or_default().push(l);
    }
    for pods in by_node.values_mut() {
        pods.sort_by_key(|l| lane_key(l));
    }
    let mut out = vec![(None, nodes)];
    if let Some(pods) = faulted.and_then(|f| by_node.remove(&Some(f.to_string()))) {
        out.push((faulted.map(str::to_string), pods));
    }
    // Other nodes in name order (BTreeMap: None sorts first; move it last).
    let unplaced = by_node.remove(&None);
    for (node, pods) in by_node {
        out.push((node, pods));
    }
    if let Some(pods) = unplaced {
        out.push((Some(String::new()), pods));
    }
    out
}

fn timeline(out: &mut String, i: usize, r: &ScenarioResult) {
    if r.lanes.is_empty() {
        out.push_str(
            "<p class=\"no-lanes\">No timeline: the backend recorded no pod or node states for this scenario.</p>\n",
        );
        return;
    }
    // Budget lines: from the fault, or from the remediation when there was
    // one.
    let lane_end = r
        .lanes
        .iter()
        .flat_map(|l| l.segments.iter().map(|s| s.to_ms))
        .max()
        .unwrap_or(0);
    let lane_start = r
        .lanes
        .iter()
        .flat_map(|l| l.segments.iter().map(|s| s.from_ms))
        .min()
        .unwrap_or(0);
    // Budgets count from the remediation when there was one (applied, or
    // due and skipped because the cluster had recovered): the engine
    // records when, so nothing here guesses it.
    let remediated = r.remediation_ms.is_some();
    let reference = r.remediation_ms.unwrap_or(0);
    let mut budgets: Vec<(String, i64, bool, String)> = Vec::new();
    for v in &r.slos {
        if let Some(b) = v.slo.budget() {
            let b_ms = i64::try_from(b.as_millis()).unwrap_or(i64::MAX);
            let from = if remediated { "remediation" } else { "fault" };
            budgets.push((
                v.slo.to_string(),
                reference.saturating_add(b_ms),
                matches!(v.status, SloStatus::Fail),
                format!(
                    "{} ({from} + {})",
                    v.slo.kind().as_str(),
                    duration::format(b)
                ),
            ));
        }
    }
    let start = lane_start.min(-LEAD_IN_MS).min(0);
    let budget_end = budgets.iter().map(|b| b.1).max().unwrap_or(0);
    let mut end = lane_end.max(budget_end).max(1);
    if budget_end >= lane_end {
        end += (end - start) / 50;
    }
    let span = (end - start).max(1);
    #[allow(clippy::cast_precision_loss)]
    let pct = |ms: i64| ((ms.clamp(start, end) - start) as f64 / span as f64) * 100.0;

    let culprit_keys: Vec<(String, CulpritKind)> = r
        .culprits()
        .iter()
        .map(|c| (culprit_key(c), c.kind))
        .collect();
    let is_culprit = |l: &Lane| {
        let want = match l.object.kind {
            ObjKind::Node => CulpritKind::Node,
            _ => CulpritKind::Pod,
        };
        let key = lane_key(l);
        culprit_keys
            .iter()
            .any(|(k, kind)| *kind == want && *k == key)
    };

    let _ = writeln!(
        out,
        "<div class=\"timeline-tools\"><label><input type=\"checkbox\" class=\"only-changed\" \
         data-target=\"timeline-{i}\"> only lanes that changed or are culprits</label> \
         <span class=\"lane-count\">{} lanes, {} to {} from the fault</span></div>",
        r.lanes.len(),
        esc(&rel(start)),
        esc(&rel(end))
    );
    let _ = writeln!(
        out,
        "<div class=\"timeline\" id=\"timeline-{i}\" data-start-ms=\"{start}\" data-end-ms=\"{end}\" data-lanes=\"{}\">",
        r.lanes.len()
    );
    out.push_str("<div class=\"rows\">\n");

    // The vertical lines: (class, at, label, hover title, extra attributes).
    let mut lines: Vec<(String, i64, String, String, String)> = vec![(
        "fault-line".into(),
        0,
        "fault".into(),
        format!("fault: {}", fault(r)),
        String::new(),
    )];
    if remediated {
        lines.push((
            "remediation-line".into(),
            reference,
            "remediation".into(),
            format!("remediation (about {} from the fault)", rel(reference)),
            String::new(),
        ));
    }
    for (slo, at, failed, label) in &budgets {
        lines.push((
            format!("budget-line{}", if *failed { " failed" } else { "" }),
            *at,
            label.clone(),
            format!("budget of {slo}: {} from the fault", rel(*at)),
            format!(" data-slo=\"{}\" data-budget-ms=\"{at}\"", esc(slo)),
        ));
    }

    // Axis: line labels on top (one row each), ticks below; sticky.
    let label_rows = i32::try_from(lines.len()).unwrap_or(i32::MAX);
    let _ = write!(
        out,
        "<div class=\"row axis\" style=\"height:{}px\"><div class=\"label\">time from fault</div><div class=\"track\">",
        20 + label_rows * 13
    );
    for (n, (class, at, label, title, _)) in lines.iter().enumerate() {
        let x = pct(*at);
        let kind = class.split(' ').next().unwrap_or_default();
        let _ = write!(
            out,
            "<span class=\"line-label {kind}-label{}{}\" style=\"left:{x:.3}%;top:{}px\" title=\"{}\">{}</span>",
            if class.ends_with(" failed") {
                " failed"
            } else {
                ""
            },
            if x > 70.0 { " flip" } else { "" },
            2 + n * 13,
            esc(title),
            esc(label)
        );
    }
    let step = tick_step(span);
    let mut t = start.div_euclid(step) * step;
    while t <= end {
        if t >= start {
            let x = pct(t);
            let edge = if x < 2.0 {
                " start"
            } else if x > 98.0 {
                " end"
            } else {
                ""
            };
            let _ = write!(
                out,
                "<span class=\"tick{edge}\" style=\"left:{x:.3}%\">{}</span>",
                esc(&rel(t))
            );
        }
        t += step;
    }
    out.push_str("</div></div>\n");

    // The lines over every lane.
    out.push_str("<div class=\"overlay\">");
    for (class, at, _, title, attrs) in &lines {
        let _ = write!(
            out,
            "<div class=\"{class}\" style=\"left:{:.3}%\" data-at-ms=\"{at}\"{attrs} title=\"{}\"></div>",
            pct(*at),
            esc(title)
        );
    }
    out.push_str("</div>\n");

    for (group, lanes) in ordered(&r.lanes, r.node.as_deref()) {
        if lanes.is_empty() {
            continue;
        }
        let heading = match &group {
            None => "nodes".to_string(),
            Some(n) if n.is_empty() => "pods on no known node".to_string(),
            Some(n) if r.node.as_deref() == Some(n.as_str()) => {
                format!("pods on {n} (faulted node)")
            }
            Some(n) => format!("pods on {n}"),
        };
        let _ = writeln!(
            out,
            "<div class=\"row group\" data-group=\"{}\"><div class=\"label\">{}</div><div class=\"track\"></div></div>",
            esc(group.as_deref().unwrap_or("nodes")),
            esc(&heading)
        );
        for l in lanes {
            lane(out, l, r, is_culprit(l), &pct);
        }
    }
    out.push_str("</div>\n</div>\n");
}

fn lane(out: &mut String, l: &Lane, r: &ScenarioResult, culprit: bool, pct: &dyn Fn(i64) -> f64) {
    let key = lane_key(l);
    let is_node = l.object.kind == ObjKind::Node;
    let target = is_node && r.node.as_deref() == Some(l.object.name.as_str());
    let steady = l.segments.len() == 1 && l.segments[0].state == "Ready";
    let mut classes = vec!["row", "lane", if is_node { "node" } else { "pod" }];
    if culprit {
        classes.push("culprit");
    }
    if target {
        classes.push("fault-target");
    }
    if steady {
        classes.push("steady");
    }
    let node = if is_node {
        l.object.name.clone()
    } else {
        l.node.clone().unwrap_or_default()
    };
    let who = if is_node {
        format!("node {}", l.object.name)
    } else if l.object.kind == ObjKind::Pinger {
        format!("kube-ovn-pinger's verdict, {} on {node}", l.object.name)
    } else if node.is_empty() {
        format!("pod {key}")
    } else {
        format!("pod {key} on {node}")
    };
    let _ = write!(
        out,
        "<div class=\"{}\" data-lane=\"{}\" data-kind=\"{}\" data-node=\"{}\">",
        classes.join(" "),
        esc(&key),
        match l.object.kind {
            ObjKind::Node => "node",
            ObjKind::Pinger => "pinger",
            _ => "pod",
        },
        esc(&node)
    );
    let label_title = format!(
        "{who}{}{}",
        if culprit { " — culprit" } else { "" },
        if target { " — faulted node" } else { "" }
    );
    let _ = write!(
        out,
        "<div class=\"label\" title=\"{}\"><span class=\"name\">{}{}</span>",
        esc(&label_title),
        if culprit {
            "⚠ "
        } else if target {
            "⚡ "
        } else {
            ""
        },
        esc(if is_node { &l.object.name } else { &key })
    );
    if !is_node && !node.is_empty() {
        let _ = write!(out, "<span class=\"on\">{}</span>", esc(&node));
    }
    out.push_str("</div><div class=\"track\">");
    for s in &l.segments {
        let left = pct(s.from_ms);
        let width = (pct(s.to_ms) - left).max(0.0);
        let title = format!(
            "{who}: {} from {} to {} ({})",
            s.state,
            rel(s.from_ms),
            rel(s.to_ms),
            duration::format(Duration::from_millis(
                u64::try_from(s.to_ms - s.from_ms).unwrap_or(0)
            ))
        );
        let _ = write!(
            out,
            "<span class=\"seg {}\" data-state=\"{}\" data-from-ms=\"{}\" data-to-ms=\"{}\" style=\"left:{left:.3}%;width:{width:.3}%\" title=\"{}\"></span>",
            state_class(&s.state),
            esc(&s.state),
            s.from_ms,
            s.to_ms,
            esc(&title)
        );
    }
    out.push_str("</div></div>\n");
}

const STYLE: &str = r#"
:root{--label-w:340px;--row-h:16px;--ready:#2f9e44;--notready:#f0a202;--creating:#7d9bc1;
--crash:#d62828;--init-crash:#7a0010;--terminating:#8e44ad;--other:#9e9e9e;--fg:#1d2430;--muted:#5c6675;
--line:#d0d5dd;--bg:#fff;--alt:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0 24px 48px}
h1{font-size:22px;margin:16px 0 8px}h2{font-size:18px;margin:28px 0 8px}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:0.95em}
.banner{padding:8px 12px;border-radius:6px;margin:8px 0;border:1px solid}
.banner.scenario-banner{padding:2px 8px;font-size:12px;display:inline-block}
.banner.simulated{background:#fff4d6;border-color:#e0b341}
.banner.trend-warning{background:#fde8e8;border-color:#d62828}
.bad,.regression{color:#b3261e}
.totals{margin:4px 0}.trend-note{color:var(--muted);margin:4px 0}
table{border-collapse:collapse;margin:8px 0;width:100%}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--alt)}
tr.verdict-fail td:first-child,tr.verdict-error td:first-child,tr.verdict-xpass td:first-child{border-left:4px solid #d62828}
tr.verdict-pass td:first-child{border-left:4px solid #2f9e44}
tr.verdict-xfail td:first-child{border-left:4px solid #f0a202}
.verdict{display:inline-block;padding:0 6px;border-radius:4px;font-weight:600;font-size:12px;vertical-align:middle}
.v-pass{background:#d3f0da;color:#14532d}.v-fail,.v-error{background:#fbd5d5;color:#7f1d1d}
.v-xfail{background:#fdecc8;color:#7a4b00}.v-xpass{background:#fbd5d5;color:#7f1d1d;outline:2px solid #d62828}
.v-not-run,.v-interrupted{background:#e5e7eb;color:#374151}
td.trend.regression{background:#fde8e8;font-weight:600}td.trend.down{color:#14532d}
tr.slo.failed td:nth-child(2){color:#b3261e;font-weight:600}tr.slo.xfailed td:nth-child(2){color:#7a4b00}
tr.slo-message td{color:var(--muted);font-size:12px;border-top:none}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin:16px 0 0;padding:8px;border:1px solid var(--line);border-radius:6px;position:sticky;top:0;background:var(--bg);z-index:20}
.key{display:inline-flex;align-items:center;gap:6px;font-size:12px}
.swatch{display:inline-block;width:22px;height:12px;border:1px solid #0002}
.swatch.line{width:0;height:14px;border:none;border-left:2px solid}
.swatch.line.fault{border-left:3px solid #111}.swatch.line.budget{border-left:2px dashed #1f6feb}
.swatch.culprit-key{background:#fde8e8;border:2px solid #d62828}
section.scenario{border-top:2px solid var(--line);margin-top:24px}
.timeline-tools{font-size:12px;color:var(--muted);margin:8px 0 4px;display:flex;gap:16px}
.timeline{max-height:75vh;overflow:auto;border:1px solid var(--line);border-radius:6px}
.rows{position:relative;min-width:1100px}
.row{display:grid;grid-template-columns:var(--label-w) 1fr;height:var(--row-h);align-items:stretch}
.row:nth-child(even of .lane){background:var(--alt)}
.row .label{position:sticky;left:0;z-index:5;background:inherit;background-color:var(--bg);white-space:nowrap;overflow:hidden;text-overflow:ellipsis;
 font:11px/var(--row-h) ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;padding:0 6px;border-right:1px solid var(--line)}
.row .label .on{color:var(--muted);margin-left:8px}
.row .track{position:relative}
.row.axis{position:sticky;top:0;z-index:15;background:var(--bg);border-bottom:1px solid var(--line)}
.row.axis .label{font-weight:600;line-height:normal;display:flex;align-items:flex-end;padding-bottom:2px}
.tick{position:absolute;bottom:2px;transform:translateX(-50%);font-size:10px;color:var(--muted);white-space:nowrap}
.tick::after{content:"";position:absolute;left:50%;bottom:-3px;height:4px;border-left:1px solid var(--muted)}
.row.group{height:20px;background:#eef1f5}
.row.group .label{font:600 11px/20px system-ui,sans-serif;background-color:#eef1f5;color:var(--muted)}
.lane.culprit .label{color:#b3261e;font-weight:700;background-color:#fde8e8}
.lane.culprit .track{box-shadow:inset 0 0 0 2px #d62828}
.lane.fault-target .label{font-weight:700}
.seg{position:absolute;top:2px;bottom:2px;border-right:1px solid #fff8}
.st-ready{background:var(--ready)}.st-notready{background:var(--notready)}.st-creating{background:var(--creating)}
.st-crashloop{background:var(--crash)}
.st-init-crashloop{background:repeating-linear-gradient(135deg,var(--init-crash) 0 4px,#c0392b 4px 7px)}
.st-terminating{background:var(--terminating)}.st-absent{background:transparent}.st-other{background:var(--other)}
.swatch.st-absent{background:#fff;border:1px dashed #999}
.overlay{position:absolute;top:0;bottom:0;left:var(--label-w);right:0;pointer-events:none;z-index:10}
.fault-line,.budget-line,.remediation-line{position:absolute;top:0;bottom:0;width:0}
.fault-line{border-left:3px solid #111}
.remediation-line{border-left:2px dotted #111}
.budget-line{border-left:2px dashed #1f6feb}
.budget-line.failed{border-left-color:#d62828}
.line-label{position:absolute;font-size:10px;line-height:12px;white-space:nowrap;padding:0 4px;border-left:2px solid;background:#fff}
.line-label.flip{transform:translateX(-100%);border-left:none;border-right:2px solid}
.fault-line-label{font-weight:700;border-color:#111}
.remediation-line-label{border-style:dotted;border-color:#111}
.budget-line-label{color:#1f4ea8;border-color:#1f6feb;border-left-style:dashed}
.budget-line-label.failed{color:#b3261e;border-color:#d62828}
.tick.start{transform:none}.tick.end{transform:translateX(-100%)}
.timeline.only-changed .lane.steady:not(.culprit){display:none}
details{margin:8px 0}summary{cursor:pointer;font-weight:600}
details pre{background:var(--alt);padding:8px;overflow:auto;max-height:480px;font-size:12px;white-space:pre-wrap}
.no-lanes{color:var(--muted);font-style:italic}
"#;

const SCRIPT: &str = r#"
document.querySelectorAll('input.only-changed').forEach(function(box){
  box.addEventListener('change', function(){
    var t = document.getElementById(box.getAttribute('data-target'));
    if (t) { t.classList.toggle('only-changed', box.checked); }
  });
});
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{ObjRef, Segment};
    use crate::report::fixtures;

    fn seg(from_ms: i64, to_ms: i64, state: &str) -> Segment {
        Segment {
            from_ms,
            to_ms,
            state: state.into(),
        }
    }

    fn lanes() -> Vec<Lane> {
        vec![
            Lane {
                object: ObjRef::pod("kube-system", "kube-multus-ds-abcde"),
                node: Some("kind-worker".into()),
                segments: vec![
                    seg(-60_000, 2_000, "Ready"),
                    seg(2_000, 20_000, "Init:0/1"),
                    seg(20_000, 245_000, "Init:CrashLoopBackOff"),
                ],
            },
            Lane {
                object: ObjRef {
                    kind: ObjKind::Node,
                    namespace: None,
                    name: "kind-worker".into(),
                },
                node: None,
                segments: vec![
                    seg(-60_000, 1_000, "Ready"),
                    seg(1_000, 30_000, "NotReady"),
                    seg(30_000, 245_000, "Ready"),
                ],
            },
            Lane {
                object: ObjRef::pod("default", "web-<script>"),
                node: Some("kind-worker2".into()),
                segments: vec![seg(-60_000, 245_000, "Ready")],
            },
        ]
    }

    #[test]
    fn escapes_everything() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let mut record = fixtures::record(true);
        record.results[1].lanes = lanes();
        record.results[1].diagnostics = Some("</pre><script>alert(1)</script>".into());
        let page = html(&record);
        assert!(!page.contains("web-<script>"));
        assert!(page.contains("web-&lt;script&gt;"));
        assert!(!page.contains("<script>alert"));
        assert_eq!(page.matches("<script>").count(), 1, "only our own script");
    }

    #[test]
    fn a_pinger_verdict_lane_says_what_it_is_and_colours_losses() {
        use crate::observe::{Lane, ObjRef, Segment};
        let mut record = fixtures::record(false);
        record.results[0].lanes = vec![Lane {
            object: ObjRef {
                kind: ObjKind::Pinger,
                namespace: Some("kube-system".into()),
                name: "kube-ovn-pinger-x7k2p".into(),
            },
            node: Some("kind-worker".into()),
            segments: vec![
                Segment {
                    from_ms: -60_000,
                    to_ms: 5_000,
                    state: "clean".into(),
                },
                Segment {
                    from_ms: 5_000,
                    to_ms: 40_000,
                    state: "lost: ping node: kind-worker2 172.18.0.4: 3 of 3 lost".into(),
                },
            ],
        }];
        let page = html(&record);
        assert!(
            page.contains(
                "data-lane=\"kube-ovn-pinger-x7k2p\" data-kind=\"pinger\" data-node=\"kind-worker\""
            ),
            "{page}"
        );
        assert!(
            page.contains("kube-ovn-pinger&#39;s verdict, kube-ovn-pinger-x7k2p on kind-worker"),
            "{page}"
        );
        assert_eq!(state_class("clean"), "st-ready");
        assert_eq!(
            state_class("lost: ping pod: x 10.16.0.9: 3 of 3 lost"),
            "st-crashloop"
        );
    }

    #[test]
    fn timeline_has_lanes_lines_and_culprits() {
        let mut record = fixtures::record(false);
        let i = record
            .results
            .iter()
            .position(|r| r.id.scenario == "ovs-kill-slow")
            .unwrap();
        record.results[i].lanes = lanes();
        let page = html(&record);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(!page.contains("simulated-banner"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no external assets"
        );
        let section = page
            .split("<section class=\"scenario")
            .skip(1)
            .find(|s| s.contains("data-scenario=\"ovs::ovs-kill-slow\""))
            .unwrap();
        // Nodes first, then pods grouped by node.
        let node = section
            .find("data-lane=\"kind-worker\" data-kind=\"node\"")
            .unwrap();
        let multus = section
            .find("data-lane=\"kube-system/kube-multus-ds-abcde\"")
            .unwrap();
        let web = section
            .find("data-lane=\"default/web-&lt;script&gt;\"")
            .unwrap();
        assert!(node < multus && multus < web);
        assert!(section.contains(
            "class=\"row lane pod culprit\" data-lane=\"kube-system/kube-multus-ds-abcde\""
        ));
        assert!(
            section.contains("class=\"row lane node fault-target\" data-lane=\"kind-worker\""),
            "{section}"
        );
        assert!(section.contains("data-state=\"Init:CrashLoopBackOff\""));
        assert!(section.contains("class=\"seg st-init-crashloop\""));
        assert!(section.contains("class=\"seg st-creating\" data-state=\"Init:0/1\""));
        assert_eq!(section.matches("class=\"fault-line\"").count(), 1);
        assert!(section.contains("class=\"budget-line failed\""));
        assert!(section.contains("data-budget-ms=\"180000\""));
        assert!(section.contains("workloads-ready-within (fault + 3m)"));
        assert!(section.contains("title=\"pod kube-system/kube-multus-ds-abcde on kind-worker: Init:CrashLoopBackOff from +20s to +4m 5s (3m 45s)\""), "{section}");
        assert!(section.contains("<details class=\"diagnostics\">"));
        // The window starts a minute before the fault.
        assert!(section.contains("data-start-ms=\"-60000\""));
    }

    #[test]
    fn summary_and_banner() {
        let page = html(&fixtures::record(true));
        assert!(page.contains("id=\"simulated-banner\""));
        assert!(page.contains("<table class=\"summary\">"));
        for key in [
            "pass",
            "fail",
            "xfail",
            "xpass",
            "not-run",
            "error",
            "interrupted",
        ] {
            assert!(
                page.contains(&format!("<tr class=\"verdict-{key}\"")),
                "{key}"
            );
        }
        assert!(page.contains("kube-multus-ds-abcde (Init:CrashLoopBackOff)"));
        assert!(page.contains("No timeline"));
    }

    #[test]
    fn an_unmet_precondition_has_its_own_row_and_shows_what_was_recorded() {
        let mut record = fixtures::record(false);
        record.results = vec![fixtures::precondition_unmet()];
        let page = html(&record);
        assert!(
            page.contains("<tr class=\"verdict-precondition-unmet\""),
            "{page}"
        );
        assert!(page.contains("precondition unmet (tested something else)"));
        assert!(page.contains("Preconditions"));
        assert!(page.contains("00-multus.conf while down: absent"));
        assert!(page.contains("multus-config-left is false, the scenario requires true"));
    }

    #[test]
    fn budgets_after_a_remediation_count_from_it() {
        let mut record = fixtures::record(false);
        let r = &mut record.results[1];
        assert_eq!(r.id.scenario, "ovs-kill-slow");
        r.lanes = lanes();
        r.checks.push(Check::new(
            "remediation",
            CheckKind::Remediation,
            CheckStatus::Passed,
            "deleted kube-multus-ds-abcde",
        ));
        // The engine recorded when it was applied: 60 s after the fault.
        r.remediation_ms = Some(60_000);
        let page = html(&record);
        assert!(
            page.contains("class=\"remediation-line\" style=\"left:"),
            "{page}"
        );
        assert!(page.contains("data-at-ms=\"60000\""));
        assert!(page.contains("data-budget-ms=\"240000\""));
        assert!(page.contains("workloads-ready-within (remediation + 3m)"));

        // With the instant recorded, the line sits exactly there.
        record.results[1].remediation_ms = Some(90_000);
        let page = html(&record);
        assert!(page.contains("data-at-ms=\"90000\""), "{page}");
        assert!(page.contains("data-budget-ms=\"270000\""));
    }

    #[test]
    fn many_lanes_stay_compact() {
        let mut record = fixtures::record(false);
        let mut many = Vec::new();
        for n in 0..150 {
            many.push(Lane {
                object: ObjRef::pod("default", &format!("app-{n:03}")),
                node: Some(format!("kind-worker{}", n % 3)),
                segments: vec![seg(-60_000, 200_000, "Ready")],
            });
        }
        record.results[0].lanes = many;
        let page = html(&record);
        assert_eq!(page.matches("class=\"row lane pod steady\"").count(), 150);
        assert!(page.contains("position:sticky;left:0"));
        assert_eq!(tick_step(305_000), 30_000);
        assert_eq!(rel(-60_000), "-1m");
        assert_eq!(rel(0), "0s");
        assert_eq!(state_class("Init:2/3"), "st-creating");
        assert_eq!(state_class("Whatever"), "st-other");
    }
}
