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
    bars: Mutex<HashMap<String, Lane>>,
    record: Mutex<Option<RunRecord>>,
}

/// One spinner and the phase it shows (what is not Ready is added to it).
struct Lane {
    bar: ProgressBar,
    phase: String,
}

impl Lane {
    fn new(mp: &MultiProgress, prefix: String) -> Self {
        let bar = mp.add(ProgressBar::new_spinner());
        bar.set_style(style());
        bar.set_prefix(prefix);
        bar.enable_steady_tick(TICK);
        Lane {
            bar,
            phase: String::new(),
        }
    }

    /// Shows `phase`, dropping what was not Ready in the last one.
    fn phase(&mut self, phase: String) {
        self.bar.set_message(phase.clone());
        self.phase = phase;
    }

    /// The phase, and what holds it back when something does.
    fn not_ready(&self, names: Option<String>) {
        match names {
            Some(nr) => self
                .bar
                .set_message(format!("{}; not Ready: {nr}", self.phase)),
            None => self.bar.set_message(self.phase.clone()),
        }
    }
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
            RunEvent::ProvisionStep { profile, step } => format!("cluster {profile}: {step}"),
            RunEvent::Provisioned {
                profile,
                cluster,
                error,
                elapsed,
            } => match (cluster, error) {
                (Some(c), _) => format!(
                    "cluster {profile}: {c} ready after {}",
                    duration::format(*elapsed)
                ),
                (None, e) => format!(
                    "cluster {profile}: provisioning failed after {}: {}",
                    duration::format(*elapsed),
                    e.as_deref().unwrap_or("no reason given")
                ),
            },
            RunEvent::Waiting {
                id,
                iteration,
                unready,
            } => format!("{}: not Ready: {}", key(id, *iteration), named(unready)?),
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
                let mut lane = Lane::new(mp, name(id, *iteration, *repeat));
                lane.phase("starting".into());
                if let Some(old) = bars.insert(key(id, *iteration), lane) {
                    old.bar.finish_and_clear();
                }
            }
            RunEvent::PhaseStarted {
                id,
                iteration,
                phase,
                budget,
            } => {
                if let Some(lane) = bars.get_mut(&key(id, *iteration)) {
                    lane.bar.reset_elapsed();
                    match budget {
                        Some(b) => lane
                            .bar
                            .set_length(u64::try_from(b.as_millis()).unwrap_or(u64::MAX)),
                        None => lane.bar.unset_length(),
                    }
                    lane.phase(phase.to_string());
                }
            }
            RunEvent::CheckFinished {
                id,
                iteration,
                check,
            } => {
                if let (Some(lane), Some(nr)) = (bars.get(&key(id, *iteration)), not_ready(check)) {
                    lane.not_ready(Some(nr));
                }
            }
            RunEvent::ProvisionStep { profile, step } => {
                let k = format!("cluster {profile}");
                bars.entry(k.clone())
                    .or_insert_with(|| Lane::new(mp, k))
                    .phase(step.clone());
            }
            RunEvent::Provisioned { profile, .. } => {
                if let Some(lane) = bars.remove(&format!("cluster {profile}")) {
                    lane.bar.finish_and_clear();
                }
                if let Some(line) = Self::line(event) {
                    let _ = mp.println(line);
                }
            }
            RunEvent::Waiting {
                id,
                iteration,
                unready,
            } => {
                if let Some(lane) = bars.get(&key(id, *iteration)) {
                    lane.not_ready(named(unready));
                }
            }
            RunEvent::ScenarioFinished(r) => {
                if let Some(lane) = bars.remove(&key(&r.id, r.iteration)) {
                    lane.bar.finish_and_clear();
                }
            }
            RunEvent::RunFinished { .. } => {
                for (_, lane) in bars.drain() {
                    lane.bar.finish_and_clear();
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

/// At most [`NAMED`] names, then `+N more`; `None` for no names.
fn named(names: &[String]) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let mut out: Vec<String> = names.iter().take(NAMED).cloned().collect();
    if names.len() > NAMED {
        out.push(format!("+{} more", names.len() - NAMED));
    }
    Some(out.join(", "))
}

/// The pods or nodes a failed check names, e.g. `kube-multus-ds-x (Init:CrashLoopBackOff), +2 more`.
fn not_ready(check: &crate::run::Check) -> Option<String> {
    if check.status == CheckStatus::Passed {
        return None;
    }
    let names: Vec<String> = check
        .culprits
        .iter()
        .map(|c| format!("{} ({})", c.name, c.reason))
        .collect();
    named(&names)
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

    fn provisioning_and_waiting(id: &crate::suite::ScenarioId) -> Vec<RunEvent> {
        vec![
            RunEvent::ProvisionStep {
                profile: "default@default".into(),
                step: "provisioning".into(),
            },
            RunEvent::ProvisionStep {
                profile: "default@default".into(),
                step: "chaos-1: install Kube-OVN (install.sh)".into(),
            },
            RunEvent::Provisioned {
                profile: "default@default".into(),
                cluster: Some("chaos-1".into()),
                error: None,
                elapsed: Duration::from_secs(154),
            },
            RunEvent::Provisioned {
                profile: "single@default".into(),
                cluster: None,
                error: Some("kind create cluster failed".into()),
                elapsed: Duration::from_secs(12),
            },
            RunEvent::Waiting {
                id: id.clone(),
                iteration: 1,
                unready: (0..5)
                    .map(|i| format!("pod-{i} (ContainerCreating)"))
                    .collect(),
            },
            RunEvent::Waiting {
                id: id.clone(),
                iteration: 1,
                unready: vec![],
            },
        ]
    }

    #[test]
    fn provisioning_steps_and_pods_still_not_ready_are_shown() {
        let id = fixtures::slo_fail().id;
        let lines: Vec<Option<String>> = provisioning_and_waiting(&id)
            .iter()
            .map(Progress::line)
            .collect();
        assert_eq!(
            lines[0].as_deref(),
            Some("cluster default@default: provisioning")
        );
        assert_eq!(
            lines[1].as_deref(),
            Some("cluster default@default: chaos-1: install Kube-OVN (install.sh)")
        );
        assert_eq!(
            lines[2].as_deref(),
            Some("cluster default@default: chaos-1 ready after 2m 34s")
        );
        assert_eq!(
            lines[3].as_deref(),
            Some(
                "cluster single@default: provisioning failed after 12s: kind create cluster failed"
            )
        );
        assert_eq!(
            lines[4].as_deref(),
            Some(
                "ovs::ovs-kill-slow#1: not Ready: pod-0 (ContainerCreating), pod-1 (ContainerCreating), pod-2 (ContainerCreating), +2 more"
            )
        );
        assert_eq!(lines[5], None, "everything Ready: nothing to say");

        // Spinners: one per profile while it provisions, gone when it is done.
        let p = Progress::bars(ProgressDrawTarget::hidden());
        let ev = provisioning_and_waiting(&id);
        p.emit(ev[0].clone());
        p.emit(ev[1].clone());
        assert_eq!(lock(&p.bars).len(), 1);
        let msg = lock(&p.bars)["cluster default@default"].bar.message();
        assert_eq!(msg, "chaos-1: install Kube-OVN (install.sh)");
        p.emit(ev[2].clone());
        assert!(lock(&p.bars).is_empty());

        // A scenario's spinner shows its phase and, while waiting, what is
        // not Ready yet; each wait replaces the last list.
        let k = key(&id, 1);
        p.emit(RunEvent::ScenarioStarted {
            id: id.clone(),
            iteration: 1,
            repeat: 1,
        });
        p.emit(RunEvent::PhaseStarted {
            id: id.clone(),
            iteration: 1,
            phase: crate::run::Phase::Observe,
            budget: None,
        });
        p.emit(ev[4].clone());
        let msg = lock(&p.bars)[&k].bar.message();
        assert_eq!(
            msg,
            "observe; not Ready: pod-0 (ContainerCreating), pod-1 (ContainerCreating), pod-2 (ContainerCreating), +2 more"
        );
        p.emit(ev[4].clone());
        assert_eq!(
            lock(&p.bars)[&k].bar.message(),
            msg,
            "replaced, not appended"
        );
        p.emit(ev[5].clone());
        assert_eq!(lock(&p.bars)[&k].bar.message(), "observe");
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
