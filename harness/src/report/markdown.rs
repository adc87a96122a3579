//! The Markdown summary, for `$GITHUB_STEP_SUMMARY`.

use std::fmt::Write as _;

use super::record::RunRecord;
use super::trend::Trend;
use crate::run::{Check, CheckKind, CheckStatus, ScenarioResult, Verdict};
use crate::slo::{Culprit, CulpritKind, Measured};
use crate::suite::Expect;
use crate::util::duration;

/// How many culprits the table names before `+N more`.
const TABLE_CULPRITS: usize = 3;
/// How many diagnostics lines a `<details>` block shows.
const DIAGNOSTIC_LINES: usize = 40;

/// Renders a run as Markdown: a heading, a banner for simulated backends, a
/// totals line, one table row per scenario iteration, then a `<details>`
/// block per scenario that did not simply pass, listing its failed checks
/// with measured against budget and culprits.
pub fn markdown(record: &RunRecord) -> String {
    let mut out = String::new();
    let info = &record.info;
    let _ = writeln!(out, "## cni-chaos run `{}`\n", code(&info.run_id));
    if let Some(banner) = record.banner() {
        let _ = writeln!(out, "> [!WARNING]\n> **Simulated:** {}\n", html(&banner));
    }
    let _ = writeln!(out, "{}\n", totals(record));
    let trend = record.trend.as_ref();
    if let Some(t) = trend {
        trend_note(&mut out, t);
    }
    if record.results.is_empty() {
        out.push_str("_No scenario has finished yet._\n");
        return out;
    }

    // The trend column appears only when there is a usable baseline.
    let trend = trend.filter(|t| t.warning.is_none());
    out.push_str("| Scenario | Verdict | Fault | Slowest SLO (measured / budget) | Culprits |");
    out.push_str(if trend.is_some() { " Trend |\n" } else { "\n" });
    out.push_str("|---|---|---|---|---|");
    out.push_str(if trend.is_some() { "---|\n" } else { "\n" });
    for r in &record.results {
        let _ = write!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&r.display_name()),
            marker(r.verdict),
            cell(&fault(r)),
            cell(&slowest(r)),
            cell(&culprit_names(r)),
        );
        if let Some(t) = trend {
            let _ = write!(out, " {} |", cell(&trend_cell(t, &r.display_name())));
        }
        out.push('\n');
    }
    if let Some(t) = trend {
        regressions(&mut out, t);
    }
    // Every result that did not pass, and every pass that relapsed after
    // its verdict was known.
    for r in record
        .results
        .iter()
        .filter(|r| r.verdict != Verdict::Pass || !r.late_relapses.is_empty())
    {
        out.push('\n');
        details(&mut out, r);
    }
    out
}

/// The trend cell of a scenario: its headline SLO's arrow and change.
fn trend_cell(t: &Trend, scenario: &str) -> String {
    match t.headline(scenario) {
        None => "—".into(),
        Some(h) if h.regression => format!("{} **regression**", h.label()),
        Some(h) => h.label(),
    }
}

fn trend_note(out: &mut String, t: &Trend) {
    match &t.warning {
        Some(w) => {
            let _ = writeln!(out, "> [!WARNING]\n> {}\n", html(&one_line(w)));
        }
        None => {
            let _ = writeln!(out, "_Trend: {}._\n", html(&one_line(&t.describe())));
        }
    }
}

fn regressions(out: &mut String, t: &Trend) {
    let list: Vec<_> = t.regressions().collect();
    if list.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n**Regressions** (slower than the baseline past the threshold, whether or not the SLO held):\n"
    );
    for r in list {
        let _ = writeln!(
            out,
            "- {} `{}`: {}: {} (baseline {}, {})",
            r.direction.arrow(),
            code(&r.scenario),
            html(&one_line(&r.slo)),
            r.current,
            r.baseline,
            r.delta()
        );
    }
}

/// The verdict as shown in the table.
fn marker(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "✅ pass",
        Verdict::Fail => "❌ FAIL",
        Verdict::XFail => "⚠️ xfail",
        Verdict::XPass => "❗ XPASS",
        Verdict::NotRun => "⏭ not run",
        Verdict::Unmet => "🚫 precondition unmet",
        Verdict::Error => "💥 error",
        Verdict::Interrupted => "⏹ interrupted",
        Verdict::Planned => "📝 planned (dry run)",
    }
}

fn totals(record: &RunRecord) -> String {
    let c = record.counts();
    let mut parts: Vec<String> = Verdict::ALL
        .into_iter()
        .filter(|v| c.get(*v) > 0)
        .map(|v| {
            let (icon, word) = marker(v).split_once(' ').unwrap_or(("", marker(v)));
            format!("{icon} {} {word}", c.get(v))
        })
        .collect();
    if parts.is_empty() {
        parts.push("nothing finished".into());
    }
    let mut line = format!(
        "**{} scenario{}**: {}",
        c.total,
        if c.total == 1 { "" } else { "s" },
        parts.join(" · ")
    );
    let _ = write!(
        line,
        " — backend `{}`, seed {}",
        code(&record.info.backend.name),
        record.info.seed
    );
    match record.elapsed() {
        Some(d) => {
            let _ = write!(line, ", took {}", duration::format(d));
        }
        None => line.push_str(", still running"),
    }
    if let Some(e) = record.estimate_line() {
        let _ = write!(line, " — {e}");
    }
    if record.interrupted {
        line.push_str(" — **run interrupted**");
    }
    if !record.teardown_errors.is_empty() {
        let n = record.teardown_errors.len();
        let _ = write!(
            line,
            " — **{n} teardown error{}**",
            if n == 1 { "" } else { "s" }
        );
    }
    line
}

pub(super) fn fault(r: &ScenarioResult) -> String {
    match &r.node {
        Some(node) => format!("{} on {node}", r.fault),
        None => r.fault.clone(),
    }
}

pub(super) fn slo_name(check: &Check) -> &str {
    check.name.strip_prefix("slo: ").unwrap_or(&check.name)
}

fn measured_vs_budget(check: &Check) -> Option<String> {
    let m = check.measured?;
    Some(match check.budget {
        Some(b) => format!("{m} / {}", duration::format(b)),
        None => m.to_string(),
    })
}

/// The SLO that took longest, with measured against budget.
pub(super) fn slowest(r: &ScenarioResult) -> String {
    r.checks
        .iter()
        .filter(|c| c.kind == CheckKind::Slo)
        .filter_map(|c| match c.measured {
            Some(Measured::Millis(ms)) => Some((ms, c)),
            _ => None,
        })
        .max_by_key(|(ms, _)| *ms)
        .and_then(|(_, c)| Some(format!("{}: {}", slo_name(c), measured_vs_budget(c)?)))
        .unwrap_or_else(|| "—".into())
}

fn culprit_names(r: &ScenarioResult) -> String {
    let all = r.culprits();
    if all.is_empty() {
        return "—".into();
    }
    let mut names: Vec<String> = all
        .iter()
        .take(TABLE_CULPRITS)
        .map(|c| format!("{} ({})", c.name, c.reason))
        .collect();
    if all.len() > TABLE_CULPRITS {
        names.push(format!("+{} more", all.len() - TABLE_CULPRITS));
    }
    names.join(", ")
}

fn culprit_line(c: &Culprit) -> String {
    let mut s = match (c.kind, &c.namespace) {
        (CulpritKind::Pod, Some(ns)) => format!("pod `{}`", code(&format!("{ns}/{}", c.name))),
        (CulpritKind::Pod, None) => format!("pod `{}`", code(&c.name)),
        (CulpritKind::Node, _) => format!("node `{}`", code(&c.name)),
    };
    if let Some(node) = &c.node {
        let _ = write!(s, " on node `{}`", code(node));
    }
    let _ = write!(s, ": {}", html(&c.reason));
    if let Some(n) = c.restarts {
        let _ = write!(s, ", {n} restart{}", if n == 1 { "" } else { "s" });
    }
    match c.recovered_after {
        Some(d) => {
            let _ = write!(s, ", recovered after {}", duration::format(d));
        }
        None => s.push_str(", not recovered"),
    }
    s
}

fn details(out: &mut String, r: &ScenarioResult) {
    let _ = writeln!(
        out,
        "<details>\n<summary>{} <code>{}</code>: {}</summary>\n",
        marker(r.verdict),
        html(&r.display_name()),
        html(&one_line(&r.outcome.to_string())),
    );
    if let Expect::Fail {
        reason, culprits, ..
    } = &r.expect
    {
        let _ = write!(out, "- **Expected to fail:** {}", html(&one_line(reason)));
        if !culprits.is_empty() {
            let _ = write!(
                out,
                " (expected culprits: {})",
                html(
                    &culprits
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            );
        }
        out.push('\n');
    }
    for m in &r.symptoms {
        let mark = if m.met { "✔" } else { "✘" };
        let _ = writeln!(out, "  - {mark} {}", html(&one_line(&m.to_string())));
    }
    if r.verdict == Verdict::XPass {
        out.push_str(
            "- **XPASS:** every SLO held; the bug may be fixed upstream: update the suite\n",
        );
    }
    let _ = writeln!(out, "- **Fault:** {}", html(&one_line(&fault(r))));
    for l in &r.late_relapses {
        let _ = writeln!(
            out,
            "- 🔁 **Late relapse** of {} (watched until {} after the fault): {}",
            html(&one_line(&l.slo)),
            duration::format(l.seen_until),
            html(&one_line(&l.message))
        );
    }
    if let Some(e) = &r.evidence {
        let summary = e.summary();
        if !summary.is_empty() {
            let _ = writeln!(out, "- **Evidence:** {}", html(&one_line(&summary)));
        }
        let pre = e.preconditions.summary();
        if !pre.is_empty() {
            let _ = writeln!(out, "- **Preconditions:** {}", html(&one_line(&pre)));
        }
    }
    for check in r
        .checks
        .iter()
        .filter(|c| matches!(c.status, CheckStatus::Failed | CheckStatus::Error))
    {
        let icon = match (&check.status, r.verdict, check.kind) {
            (CheckStatus::Error, _, _) => "💥",
            (_, Verdict::XFail, CheckKind::Slo) => "⚠️",
            _ => "❌",
        };
        let _ = write!(out, "- {icon} **{}**", html(&one_line(slo_name(check))));
        if let Some(mb) = measured_vs_budget(check) {
            let _ = write!(
                out,
                " — measured {}",
                html(&mb.replacen(" / ", " vs budget ", 1))
            );
        }
        if !check.message.is_empty() {
            let _ = write!(out, ": {}", html(&one_line(&check.message)));
        }
        out.push('\n');
        for c in &check.culprits {
            let _ = writeln!(out, "  - {}", culprit_line(c));
        }
    }
    if let Some(diag) = r.diagnostics.as_deref().filter(|d| !d.trim().is_empty()) {
        let lines: Vec<&str> = diag.lines().collect();
        let fence = "`".repeat(longest_backtick_run(diag).max(2) + 1);
        let _ = writeln!(out, "\n**Diagnostics:**\n\n{fence}text");
        for line in lines.iter().take(DIAGNOSTIC_LINES) {
            let _ = writeln!(out, "{line}");
        }
        if lines.len() > DIAGNOSTIC_LINES {
            let _ = writeln!(
                out,
                "… {} more lines in the JUnit system-out",
                lines.len() - DIAGNOSTIC_LINES
            );
        }
        let _ = writeln!(out, "{fence}");
    }
    out.push_str("\n</details>\n");
}

fn longest_backtick_run(s: &str) -> usize {
    s.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Newlines and tabs become spaces.
fn one_line(s: &str) -> String {
    s.split(['\r', '\n', '\t'])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Escapes what GitHub would read as HTML.
fn html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Text inside an inline code span: backticks would end it.
fn code(s: &str) -> String {
    s.replace('`', "'")
}

/// A table cell: no pipes, no newlines, no HTML.
fn cell(s: &str) -> String {
    let s = html(s).replace('|', "\\|");
    let parts: Vec<&str> = s.split(['\r', '\n']).filter(|p| !p.is_empty()).collect();
    parts.join("<br>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    fn row<'a>(md: &'a str, scenario: &str) -> &'a str {
        md.lines()
            .find(|l| l.starts_with(&format!("| {scenario} |")))
            .unwrap_or_else(|| panic!("no row for {scenario} in\n{md}"))
    }

    #[test]
    fn table_shows_every_verdict_distinctly() {
        let md = markdown(&fixtures::record(true));
        assert!(md.starts_with("## cni-chaos run `20240601-120000-abcd`"));
        assert!(md.contains("> **Simulated:** results from twin (simulated), not a real cluster"));
        assert!(md.contains(
            "| Scenario | Verdict | Fault | Slowest SLO (measured / budget) | Culprits |"
        ));
        assert!(row(&md, "ovs::ovs-kill").contains("✅ pass"));
        assert!(row(&md, "ovs::ovs-kill-slow").contains("❌ FAIL"));
        assert!(row(&md, "ovs::multus-leftover").contains("⚠️ xfail"));
        assert!(row(&md, "ovs::multus-fixed").contains("❗ XPASS"));
        assert!(row(&md, "ovs::not-steady").contains("⏭ not run"));
        assert!(row(&md, "ovs::exec-broke").contains("💥 error"));
        assert!(row(&md, "ovs::cut-short").contains("⏹ interrupted"));
        assert!(row(&md, "ovs::ovs-kill-repeat#2").contains("✅ pass"));
        let slow = row(&md, "ovs::ovs-kill-slow");
        assert!(
            slow.contains("workloads-ready-within 3m (namespace kube-system): 4m / 3m"),
            "{slow}"
        );
        assert!(
            slow.contains("kube-multus-ds-abcde (Init:CrashLoopBackOff)"),
            "{slow}"
        );
        assert!(row(&md, "ovs::ovs-kill").contains("40s / 3m"));
        let totals = md
            .lines()
            .find(|l| l.starts_with("**10 scenarios**"))
            .unwrap();
        assert!(
            totals.contains("✅ 3 pass") && totals.contains("⚠️ 1 xfail"),
            "{totals}"
        );
        assert!(totals.contains("run interrupted"), "{totals}");
    }

    #[test]
    fn a_pass_that_relapsed_after_its_verdict_gets_details_naming_the_relapse() {
        let mut record = fixtures::record(false);
        let md = markdown(&record);
        let before = md.matches("<details>").count();
        let r = record
            .results
            .iter_mut()
            .find(|r| r.verdict == Verdict::Pass)
            .expect("a pass");
        r.late_relapses.push(crate::run::LateRelapse {
            slo: "workloads-ready-within 3m (namespace kube-system)".into(),
            message: "1 of 18 pods not Ready within 3m".into(),
            culprits: Vec::new(),
            seen_until: std::time::Duration::from_secs(150),
        });
        let md = markdown(&record);
        assert_eq!(md.matches("<details>").count(), before + 1);
        assert!(
            md.contains("🔁 **Late relapse** of workloads-ready-within 3m (namespace kube-system) (watched until 2m 30s after the fault): 1 of 18 pods not Ready within 3m"),
            "{md}"
        );
    }

    #[test]
    fn details_list_failed_slos_with_culprits() {
        let md = markdown(&fixtures::record(false));
        assert!(!md.contains("[!WARNING]"));
        assert_eq!(md.matches("<details>").count(), 7, "every non-pass result");
        let slow = md
            .split("<details>")
            .find(|d| d.contains("<code>ovs::ovs-kill-slow</code>"))
            .unwrap();
        assert!(slow.contains("measured 4m vs budget 3m"), "{slow}");
        assert!(
            slow.contains(
                "pod `kube-system/kube-multus-ds-abcde` on node `kind-worker`: Init:CrashLoopBackOff, 5 restarts, not recovered"
            ),
            "{slow}"
        );
        assert!(slow.contains("```text\nkubectl describe pod"), "{slow}");
        let xfail = md
            .split("<details>")
            .find(|d| d.contains("<code>ovs::multus-leftover</code>"))
            .unwrap();
        assert!(xfail.contains(fixtures::XFAIL_REASON));
        assert!(xfail.contains("- ⚠️ **workloads-ready-within"), "{xfail}");
        let xpass = md
            .split("<details>")
            .find(|d| d.contains("<code>ovs::multus-fixed</code>"))
            .unwrap();
        assert!(xpass.contains("**XPASS:** every SLO held"), "{xpass}");
    }

    #[test]
    fn cells_are_escaped() {
        assert_eq!(cell("a|b\nc <d>"), "a\\|b<br>c &lt;d&gt;");
        let mut record = fixtures::record(false);
        record.results[0].fault = "x | y\nz".into();
        let md = markdown(&record);
        assert!(md.contains("| x \\| y<br>z on kind-worker |"), "{md}");
        assert!(
            md.lines()
                .filter(|l| l.starts_with("| "))
                .all(|l| l.ends_with(" |"))
        );
    }

    #[test]
    fn an_empty_run_says_so() {
        let md = markdown(&RunRecord::new(fixtures::info(false)));
        assert!(md.contains("**0 scenarios**: nothing finished"));
        assert!(md.contains("still running"));
        assert!(md.contains("No scenario has finished yet"));
    }

    #[test]
    fn an_unmet_precondition_is_shown_apart_with_the_recorded_values() {
        let mut record = fixtures::record(false);
        record.results = vec![fixtures::precondition_unmet()];
        let md = markdown(&record);
        assert!(
            row(&md, "ovs::crash-multus").contains("🚫 precondition unmet"),
            "{md}"
        );
        assert!(
            md.contains("- **Preconditions:** 00-multus.conf while down: absent; multus-shim while down: present; first CNI config while down: 01-kube-ovn.conflist"),
            "{md}"
        );
        assert!(
            md.contains("multus-config-left is false, the scenario requires true"),
            "{md}"
        );
    }
}
