//! Terminal progress: on a TTY, an indicatif spinner per running scenario
//! showing its phase, the time spent in it against the phase's budget (the
//! longest SLO budget while observing), and the pods a check found not
//! Ready; in CI or when stderr is not a terminal, plain timestamped lines.
//! Either way, one line per finished scenario (the [`Console`] line).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::record::RunRecord;
use super::writer::Console;
use crate::run::{CheckStatus, EventSink, RunEvent};
use crate::suite::ScenarioId;
use crate::util::duration;

/// How many not-Ready pods a progress line names before `+N more`.
const NAMED: usize = 3;
/// How often spinners redraw.
const TICK: Duration = Duration::from_millis(200);

/// How progress is shown.
enum Mode {
    /// indicatif spinners on stderr.
    Bars(MultiProgress),
    /// Timestamped lines to a writer (stderr).
    Lines(Mutex<Box<dyn Write + Send>>),
}

/// An [`EventSink`] that shows a run's progress; see the module docs.
pub struct Progress {
    mode: Mode,
    bars: Mutex<HashMap<String, ProgressBar>>,
    record: Mutex<Option<RunRecord>>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mode = match self.mode {
            Mode::Bars(_) => "bars",
            Mode::Lines(_) => "lines",
        };
        f.debug_struct("Progress").field("mode", &mode).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Progress {
    /// Spinners when stderr is a terminal and `CI` is not `true`; plain
    /// lines otherwise.
    pub fn from_env() -> Self {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        if Self::use_bars(std::io::stderr().is_terminal(), ci) {
            Self::bars(ProgressDrawTarget::stderr())
        } else {
            Self::lines(Box::new(std::io::stderr()))
        }
    }

    /// Whether to draw spinners, given whether stderr is a terminal and
    /// whether `CI=true`.
    pub fn use_bars(terminal: bool, ci: bool) -> bool {
        terminal && !ci
    }

    /// Spinners drawn to `target`.
    pub fn bars(target: ProgressDrawTarget) -> Self {
        Progress {
            mode: Mode::Bars(MultiProgress::with_draw_target(target)),
            bars: Mutex::new(HashMap::new()),
            record: Mutex::new(None),
        }
    }

    /// Timestamped lines written to `out`.
    pub fn lines(out: Box<dyn Write + Send>) -> Self {
        Progress {
            mode: Mode::Lines(Mutex::new(out)),
            bars: Mutex::new(HashMap::new()),
            record: Mutex::new(None),
        }
    }

    /// The plain line for `event` (without the timestamp), if any.
    pub fn line(event: &RunEvent) -> Option<String> {
        Some(match event {
            RunEvent::RunStarted(info) => format!(
                "run {} started: backend {} ({}), seed {}",
                info.run_id, info.backend.name, info.backend.reason, info.seed
            ),
            RunEvent::ScenarioStarted {
                id,
                iteration,
                repeat,
            } => format!("{}: started", name(id, *iteration, *repeat)),
            RunEvent::PhaseStarted {
                id,
                iteration,
                phase,
                budget,
            } => {
                let mut s = format!("{}: {phase}", key(id, *iteration));
                if let Some(b) = budget {
                    let _ = write!(s, " (budget {})", duration::format(*b));
                }
                s
            }
            RunEvent::CheckFinished {
                id,
                iteration,
                check,
            } => {
                let status = match &check.status {
                    CheckStatus::Passed => "passed".to_string(),
                    CheckStatus::Failed => "FAILED".to_string(),
                    CheckStatus::Error => "ERROR".to_string(),
                    CheckStatus::Skipped(why) => format!("skipped ({why})"),
                };
                let mut s = format!("{}: {}: {status}", key(id, *iteration), check.name);
                if let Some(m) = check.measured {
                    let _ = write!(s, ", measured {m}");
                    if let Some(b) = check.budget {
                        let _ = write!(s, " of {}", duration::format(b));
                    }
                }
                if let Some(nr) = not_ready(check) {
                    let _ = write!(s, "; not Ready: {nr}");
                }
                s
            }
            RunEvent::ScenarioFinished(_) => Console::line(event)?,
            RunEvent::RunFinished {
                interrupted,
                teardown_errors,
                ..
            } => {
                let mut s = "run finished".to_string();
                if *interrupted {
                    s.push_str(" (interrupted)");
                }
                if !teardown_errors.is_empty() {
                    let _ = write!(s, "; {} teardown errors", teardown_errors.len());
                }
                s
            }
        })
    }

    fn print(&self, line: &str) {
        match &self.mode {
            Mode::Bars(mp) => {
                let _ = mp.println(line);
            }
            Mode::Lines(out) => {
                let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ");
                let mut out = lock(out);
                let _ = writeln!(out, "{now} {}", line.replace(['\r', '\n'], " "));
                let _ = out.flush();
            }
        }
    }

    fn bar(&self, mp: &MultiProgress, event: &RunEvent) {
        let mut bars = lock(&self.bars);
        match event {
            RunEvent::ScenarioStarted {
                id,
                iteration,
                repeat,
            } => {
                let bar = mp.add(ProgressBar::new_spinner());
                bar.set_style(style());
                bar.set_prefix(name(id, *iteration, *repeat));
                bar.set_message("starting");
                bar.enable_steady_tick(TICK);
                if let Some(old) = bars.insert(key(id, *iteration), bar) {
                    old.finish_and_clear();
                }
            }
            RunEvent::PhaseStarted {
                id,
                iteration,
                phase,
                budget,
            } => {
                if let Some(bar) = bars.get(&key(id, *iteration)) {
                    bar.reset_elapsed();
                    match budget {
                        Some(b) => bar.set_length(u64::try_from(b.as_millis()).unwrap_or(u64::MAX)),
                        None => bar.unset_length(),
                    }
                    bar.set_message(phase.to_string());
                }
            }
            RunEvent::CheckFinished {
                id,
                iteration,
                check,
            } => {
                if let (Some(bar), Some(nr)) = (bars.get(&key(id, *iteration)), not_ready(check)) {
                    bar.set_message(format!("{}; not Ready: {nr}", bar.message()));
                }
            }
            RunEvent::ScenarioFinished(r) => {
                if let Some(bar) = bars.remove(&key(&r.id, r.iteration)) {
                    bar.finish_and_clear();
                }
            }
            RunEvent::RunFinished { .. } => {
                for (_, bar) in bars.drain() {
                    bar.finish_and_clear();
                }
            }
            RunEvent::RunStarted(_) => {}
        }
    }

    /// The record of the run so far, as this sink saw it.
    pub fn record(&self) -> Option<RunRecord> {
        lock(&self.record).clone()
    }
}

fn key(id: &ScenarioId, iteration: u32) -> String {
    format!("{id}#{iteration}")
}

fn name(id: &ScenarioId, iteration: u32, repeat: u32) -> String {
    if repeat > 1 {
        format!("{id} #{iteration}/{repeat}")
    } else {
        id.to_string()
    }
}

/// The pods or nodes a failed check names, e.g. `kube-multus-ds-x (Init:CrashLoopBackOff), +2 more`.
fn not_ready(check: &crate::run::Check) -> Option<String> {
    if check.culprits.is_empty() || check.status == CheckStatus::Passed {
        return None;
    }
    let mut names: Vec<String> = check
        .culprits
        .iter()
        .take(NAMED)
        .map(|c| format!("{} ({})", c.name, c.reason))
        .collect();
    if check.culprits.len() > NAMED {
        names.push(format!("+{} more", check.culprits.len() - NAMED));
    }
    Some(names.join(", "))
}

/// `1m 12s / 3m` and a small gauge, from the bar's elapsed time and length
/// (the phase budget in milliseconds).
fn budget_key(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let elapsed = state.elapsed();
    let Some(len) = state.len().filter(|l| *l > 0) else {
        let _ = write!(w, "{}", duration::format(whole_seconds(elapsed)));
        return;
    };
    let budget = Duration::from_millis(len);
    #[allow(clippy::cast_precision_loss)]
    let frac = (elapsed.as_millis() as f64 / len as f64).min(1.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let filled = (frac * 20.0).round() as usize;
    let _ = write!(
        w,
        "[{}{}] {} / {}",
        "#".repeat(filled),
        "-".repeat(20 - filled),
        duration::format(whole_seconds(elapsed)),
        duration::format(budget)
    );
}

fn whole_seconds(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

/// `⠋ suite::scenario · observe · [#####-----] 1m 12s / 3m`; without a
/// budget (no length) just the elapsed time.
fn style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {prefix:.bold} · {msg} · {budget}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key("budget", budget_key)
}

impl EventSink for Progress {
    fn emit(&self, event: RunEvent) {
        if let Mode::Bars(mp) = &self.mode {
            self.bar(mp, &event);
            // On a terminal only finished scenarios and failed checks get a line.
            let print = match &event {
                RunEvent::ScenarioFinished(_) | RunEvent::RunStarted(_) => true,
                RunEvent::CheckFinished { check, .. } => check.status != CheckStatus::Passed,
                _ => false,
            };
            if print && let Some(line) = Self::line(&event) {
                self.print(&line);
            }
        } else if let Some(line) = Self::line(&event) {
            self.print(&line);
        }
        let mut record = lock(&self.record);
        match (&mut *record, event) {
            (slot @ None, RunEvent::RunStarted(info)) => *slot = Some(RunRecord::new(info)),
            (Some(r), event) => r.apply(event),
            (None, _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;
    use crate::run::{Check, CheckKind, Phase};
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn events() -> Vec<RunEvent> {
        let r = fixtures::slo_fail();
        let mut gate = Check::new(
            "steady state",
            CheckKind::SteadyState,
            CheckStatus::Failed,
            "not steady",
        );
        gate.culprits = vec![fixtures::multus_culprit()];
        vec![
            RunEvent::RunStarted(fixtures::info(true)),
            RunEvent::ScenarioStarted {
                id: r.id.clone(),
                iteration: 1,
                repeat: 1,
            },
            RunEvent::PhaseStarted {
                id: r.id.clone(),
                iteration: 1,
                phase: Phase::Observe,
                budget: Some(Duration::from_secs(180)),
            },
            RunEvent::CheckFinished {
                id: r.id.clone(),
                iteration: 1,
                check: gate,
            },
            RunEvent::ScenarioFinished(Box::new(r)),
            RunEvent::RunFinished {
                finished_at: "2024-06-01T12:30:00Z".parse().unwrap(),
                interrupted: false,
                teardown_errors: vec![],
            },
        ]
    }

    #[test]
    fn plain_lines_have_timestamps_phases_budgets_and_not_ready_pods() {
        let buf = Shared::default();
        let p = Progress::lines(Box::new(buf.clone()));
        for e in events() {
            p.emit(e);
        }
        let text = String::from_utf8(lock(&buf.0).clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        for l in &lines {
            let (ts, _) = l.split_once(' ').unwrap();
            assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{l}");
        }
        assert!(
            lines[0].ends_with("run 20240601-120000-abcd started: backend twin (test), seed 42")
        );
        assert!(lines[1].ends_with("ovs::ovs-kill-slow: started"));
        assert!(
            lines[2].ends_with("ovs::ovs-kill-slow#1: observe (budget 3m)"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].ends_with(
                "steady state: FAILED; not Ready: kube-multus-ds-abcde (Init:CrashLoopBackOff)"
            ),
            "{}",
            lines[3]
        );
        assert!(
            lines[4].contains("[FAIL] ovs::ovs-kill-slow"),
            "{}",
            lines[4]
        );
        assert!(lines[5].ends_with("run finished"));
        assert_eq!(p.record().unwrap().results.len(), 1);
    }

    #[test]
    fn bars_take_every_event_without_drawing_when_hidden() {
        let p = Progress::bars(ProgressDrawTarget::hidden());
        for e in events() {
            p.emit(e);
        }
        assert!(lock(&p.bars).is_empty());
        assert!(Progress::use_bars(true, false));
        assert!(!Progress::use_bars(true, true));
        assert!(!Progress::use_bars(false, false));
    }
}
