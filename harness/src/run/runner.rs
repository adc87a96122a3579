//! The libtest-mimic runner behind `cargo test --test chaos` and `cni-chaos run`.
//!
//! One trial per scenario, named `suite::scenario`, sorted. `--list` loads and
//! validates the suites and touches nothing else. SIGINT and SIGTERM cancel the
//! running scenario, which reverts its fault; the clusters are torn down and the
//! reports written before `main` returns its exit code (never `process::exit`).

use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};
use tokio::runtime::Runtime;
use tokio_util::sync::CancellationToken;

use super::config::{Deadline, RunConfig, RunDefaults};
use super::engine::Engine;
use super::event::{EventSink, RunEvent, RunInfo};
use super::outcome::{Check, CheckKind, CheckStatus, Outcome, ScenarioResult, Verdict};
use super::pool::ClusterPool;
use crate::backend::{self, Backend};
use crate::report::{Fanout, Progress, Reporter, TrendOptions};
use crate::suite::{self, Scenario, ScenarioId, Suite};

/// Entry point of the chaos test binary: reads the environment, loads the
/// suites and runs the trials libtest's arguments select.
pub fn main(args: Arguments, defaults: RunDefaults) -> ExitCode {
    if let Err(e) = init_tracing() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let config = match RunConfig::from_env(&defaults) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let suites = match load_suites(&config.suites, config.versions.as_deref())
        .and_then(|s| select_scenarios(s, config.scenarios.as_deref()))
    {
        Ok(mut s) => {
            for scenario in s.iter_mut().flat_map(|s| s.scenarios.iter_mut()) {
                scenario.observe = config.observe;
            }
            s
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let count: usize = suites.iter().map(|s| s.scenarios.len()).sum();
    if count == 0 {
        eprintln!("error: no scenarios found in {}", paths(&config));
        return ExitCode::from(2);
    }
    if args.list {
        // Listing must not start a runtime, pick a backend or touch a cluster.
        let trials = trials(&suites, |_, _| Box::new(|| Ok(())));
        return libtest_mimic::run(&args, trials).exit_code();
    }
    let backend = match backend::select(&config) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    run_with(&args, &config, &suites, backend)
}

/// Loads and validates the suites exactly as a run does (`cni-chaos
/// validate` calls this too): every file's problems, then the kind configs
/// and version sets they name against the workspace's `kind-configs/` and
/// `versions.yaml`. `versions` (`CHAOS_VERSIONS`, a matrix cell) replaces
/// every suite's version set and must name one that exists.
pub fn load_suites(
    paths: &[std::path::PathBuf],
    versions: Option<&str>,
) -> Result<Vec<Suite>, String> {
    let mut suites = suite::load(paths).map_err(|e| e.to_string())?;
    let root = backend::workspace_root();
    let known = backend::known_profiles(&root)?;
    suite::check_references(&suites, &known).map_err(|e| e.to_string())?;
    // The kind configs the suites name are checked here too, so that
    // `validate` and a twin run catch a config only kind would read.
    let configs: std::collections::BTreeSet<&str> = suites
        .iter()
        .map(|s| s.cluster.kind_config.as_str())
        .collect();
    for name in configs {
        backend::kind::KindConfig::load_named(&root, name).map_err(|e| e.to_string())?;
    }
    if let Some(v) = versions {
        if !known.version_sets.contains(v) {
            return Err(format!(
                "CHAOS_VERSIONS={v:?}: no such version set in versions.yaml; expected one of: {}",
                known
                    .version_sets
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for s in &mut suites {
            s.cluster.versions = v.to_string();
        }
    }
    Ok(suites)
}

/// Keeps only the scenarios `ids` (`CHAOS_SCENARIOS`, `suite::scenario`)
/// names, and the suites that still have one; every id must name a loaded
/// scenario, so a shard that lost one of its scenarios fails loudly.
pub fn select_scenarios(suites: Vec<Suite>, ids: Option<&[String]>) -> Result<Vec<Suite>, String> {
    let Some(ids) = ids else {
        return Ok(suites);
    };
    let known: std::collections::BTreeSet<String> = suites
        .iter()
        .flat_map(|s| s.scenarios.iter().map(|sc| s.id_of(sc).to_string()))
        .collect();
    let missing: Vec<&str> = ids
        .iter()
        .filter(|id| !known.contains(id.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "CHAOS_SCENARIOS: {} not among the loaded suites' scenarios (check CHAOS_SUITES); known: {}",
            missing.join(", "),
            known.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let wanted: std::collections::BTreeSet<&str> = ids.iter().map(String::as_str).collect();
    Ok(suites
        .into_iter()
        .filter_map(|mut s| {
            let name = s.name.clone();
            s.scenarios
                .retain(|sc| wanted.contains(format!("{name}::{}", sc.name).as_str()));
            (!s.scenarios.is_empty()).then_some(s)
        })
        .collect())
}

fn paths(config: &RunConfig) -> String {
    config
        .suites
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Logs to stderr at `CHAOS_LOG` (a tracing filter; `info` when unset). A
/// filter that does not parse is an error, not a silent `info`.
fn init_tracing() -> Result<(), String> {
    let filter = match std::env::var("CHAOS_LOG") {
        Ok(v) if !v.trim().is_empty() => tracing_subscriber::EnvFilter::try_new(v.trim())
            .map_err(|e| {
                format!("CHAOS_LOG={v:?}: {e} (expected a tracing filter such as info, debug or cni_chaos=debug)")
            })?,
        _ => tracing_subscriber::EnvFilter::new("info"),
    };
    // Ignore the error when a subscriber is already installed (tests).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    Ok(())
}

type TrialBody = Box<dyn FnOnce() -> Result<(), Failed> + Send + 'static>;

fn trials(
    suites: &[Suite],
    mut body: impl FnMut(ScenarioId, &Scenario) -> TrialBody,
) -> Vec<Trial> {
    let mut out: Vec<(ScenarioId, Trial)> = Vec::new();
    for s in suites {
        for sc in &s.scenarios {
            let id = s.id_of(sc);
            let f = body(id.clone(), sc);
            let trial = Trial::test(id.to_string(), f).with_ignored_flag(sc.ignored.is_some());
            out.push((id, trial));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.into_iter().map(|(_, t)| t).collect()
}

/// Shared by every trial of a run.
struct Ctx {
    rt: Runtime,
    pool: ClusterPool,
    events: Arc<dyn EventSink>,
    cancel: CancellationToken,
    seed: u64,
    diagnostics_dir: std::path::PathBuf,
    /// `CHAOS_DEADLINE`, with the run's start on the run's clock.
    deadline: Option<(Deadline, tokio::time::Instant)>,
}

impl Ctx {
    fn trial(&self, id: &ScenarioId, suite: &Suite, scenario: &Scenario) -> Result<(), Failed> {
        if self.cancel.is_cancelled() {
            return Err("interrupted before it started".into());
        }
        let results = self.rt.block_on(self.scenario(id, suite, scenario));
        let failures: Vec<String> = results
            .iter()
            .filter(|r| !r.verdict.trial_passes())
            .map(|r| {
                let mut line = format!("{}: {} ({})", r.display_name(), r.verdict, r.outcome);
                let culprits = r.culprits();
                if !culprits.is_empty() {
                    let names: Vec<String> = culprits.iter().map(ToString::to_string).collect();
                    line.push_str(&format!("\n  culprits: {}", names.join("; ")));
                }
                // An expected failure that did not show its symptoms: which.
                for m in r.symptoms.iter().filter(|m| !m.met) {
                    line.push_str(&format!("\n  expected: {m}"));
                }
                line
            })
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("\n").into())
        }
    }

    async fn scenario(
        &self,
        id: &ScenarioId,
        suite: &Suite,
        scenario: &Scenario,
    ) -> Vec<ScenarioResult> {
        if let Err(e) = self.pool.check_scenario(&suite.cluster, scenario) {
            return vec![self.could_not_start(id, scenario, e.to_string())];
        }
        let mut results = Vec::new();
        for iteration in 1..=scenario.repeat {
            if self.cancel.is_cancelled() {
                break;
            }
            if let Some(deadline) = self.deadline_passed() {
                // No new scenario starts past the deadline; every remaining
                // iteration is reported, none is dropped.
                for it in iteration..=scenario.repeat {
                    results.push(self.past_deadline(id, scenario, it, deadline));
                }
                break;
            }
            let lease = match self.pool.acquire(&suite.cluster, &self.cancel).await {
                Ok(l) => l,
                Err(e) => {
                    results.push(self.could_not_start(id, scenario, e.to_string()));
                    break;
                }
            };
            let engine = Engine {
                cluster: lease.cluster.clone(),
                events: self.events.clone(),
                cancel: self.cancel.clone(),
                seed: self.seed,
                diagnostics_dir: self.diagnostics_dir.clone(),
            };
            let result = engine.run(id, scenario, iteration).await;
            if result.left_cluster_unhealthy() {
                self.pool.retire(lease).await;
            }
            results.push(result);
        }
        results
    }

    /// The deadline, when it has passed (checked on the run's clock: virtual
    /// on the twin).
    fn deadline_passed(&self) -> Option<Deadline> {
        let (deadline, start) = self.deadline?;
        let passed = match deadline {
            Deadline::At(t) => jiff::Timestamp::now() >= t,
            Deadline::After(d) => tokio::time::Instant::now() >= start + d,
        };
        passed.then_some(deadline)
    }

    /// The result of an iteration the deadline kept from starting.
    fn past_deadline(
        &self,
        id: &ScenarioId,
        scenario: &Scenario,
        iteration: u32,
        deadline: Deadline,
    ) -> ScenarioResult {
        tracing::warn!("{id}: not started, the run's deadline ({deadline}) has passed");
        let outcome = Outcome::Deadline {
            deadline: deadline.to_string(),
        };
        self.unstarted(id, scenario, iteration, outcome, Vec::new())
    }

    /// The result of a scenario whose cluster could not be had.
    fn could_not_start(
        &self,
        id: &ScenarioId,
        scenario: &Scenario,
        message: String,
    ) -> ScenarioResult {
        let outcome = if self.cancel.is_cancelled() {
            Outcome::Interrupted
        } else {
            Outcome::HarnessError {
                message: message.clone(),
            }
        };
        let check = Check::new(
            "cluster",
            CheckKind::SteadyState,
            CheckStatus::Error,
            message,
        );
        self.events.emit(RunEvent::CheckFinished {
            id: id.clone(),
            iteration: 1,
            check: check.clone(),
        });
        self.unstarted(id, scenario, 1, outcome, vec![check])
    }

    /// The result of an iteration that never reached its cluster, reported
    /// to the reporters.
    fn unstarted(
        &self,
        id: &ScenarioId,
        scenario: &Scenario,
        iteration: u32,
        outcome: Outcome,
        checks: Vec<Check>,
    ) -> ScenarioResult {
        let result = ScenarioResult {
            id: id.clone(),
            iteration,
            repeat: scenario.repeat,
            cluster: None,
            versions: Default::default(),
            fault: scenario.fault.to_string(),
            node: None,
            evidence: None,
            expect: scenario.expect.clone(),
            verdict: Verdict::judge(&outcome, &scenario.expect, &[], &[], None),
            outcome,
            checks,
            slos: Vec::new(),
            symptoms: Vec::new(),
            diagnostics: None,
            lanes: Vec::new(),
            traffic: Vec::new(),
            observation: None,
            early_slos: None,
            late_relapses: Vec::new(),
            remediation_ms: None,
            started_at: jiff::Timestamp::now(),
            elapsed: std::time::Duration::ZERO,
        };
        self.events
            .emit(RunEvent::ScenarioFinished(Box::new(result.clone())));
        result
    }
}

/// Runs the trials on `backend`; used by [`main`] and by tests that bring
/// their own backend.
pub fn run_with(
    args: &Arguments,
    config: &RunConfig,
    suites: &[Suite],
    backend: Arc<dyn Backend>,
) -> ExitCode {
    // A backend on a virtual clock (the twin) runs on one thread of a paused
    // runtime: every wait and budget passes in virtual time, auto-advanced
    // whenever the model and the watchers are idle, so a scenario that
    // observes for five virtual minutes takes a fraction of a second. One
    // trial at a time, or one trial's CPU work could let another's clock
    // jump. Real backends get real time and two worker threads.
    let virtual_clock = backend.info().virtual_clock;
    let seed = config.seed_for(virtual_clock);
    let built = if virtual_clock {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    };
    let mut args = args.clone();
    if virtual_clock {
        args.test_threads = Some(1);
    }
    let rt = match built {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let cancel = CancellationToken::new();
    if let Err(e) = install_signal_handlers(&rt, cancel.clone()) {
        eprintln!("error: cannot install signal handlers: {e}");
        return ExitCode::from(2);
    }

    let info = RunInfo {
        run_id: run_id(),
        backend: backend.info(),
        seed,
        started_at: jiff::Timestamp::now(),
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        estimate: estimate(suites),
    };
    // The expected wall time before anything starts: in full for a dry
    // run, the total otherwise.
    if let Some(e) = &info.estimate {
        let lines = e.lines();
        let shown = if config.dry_run {
            &lines[..]
        } else {
            &lines[lines.len() - 1..]
        };
        for line in shown {
            eprintln!("cni-chaos: {line}");
        }
    }
    // CHAOS_BASELINE and CHAOS_TREND_THRESHOLD (see the README).
    let trend = match TrendOptions::from_env() {
        Ok(mut t) => {
            t.baseline = t.baseline.map(|p| config.base.join(p));
            t
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let reporter = Arc::new(Reporter::new(config.report_dir.clone()).with_trend(trend));
    let events: Arc<dyn EventSink> = Arc::new(Fanout(vec![
        reporter.clone(),
        Arc::new(Progress::from_env()),
    ]));
    eprintln!(
        "cni-chaos: backend {} ({}); seed {}; reports in {}",
        info.backend.name,
        info.backend.reason,
        info.seed,
        config.report_dir.join(&info.run_id).display()
    );
    if info.backend.simulated {
        eprintln!(
            "cni-chaos: results come from a simulation ({}), not a real cluster",
            info.backend.name
        );
    }
    let diagnostics_dir = config.report_dir.join(&info.run_id).join("diagnostics");
    events.emit(RunEvent::RunStarted(info));

    let started = rt_now(&rt);
    let ctx = Arc::new(Ctx {
        rt,
        pool: ClusterPool::new(backend, config.keep_cluster).with_events(events.clone()),
        events: events.clone(),
        cancel: cancel.clone(),
        seed,
        diagnostics_dir,
        deadline: config.deadline.map(|d| (d, started)),
    });
    let suites: Arc<Vec<Suite>> = Arc::new(suites.to_vec());
    let list = trials(&suites, |id, sc| {
        let ctx = ctx.clone();
        let suites = suites.clone();
        let name = sc.name.clone();
        Box::new(move || {
            let suite = suites
                .iter()
                .find(|s| s.name == id.suite)
                .ok_or_else(|| Failed::from(format!("suite {} vanished", id.suite)))?;
            let scenario = suite
                .scenarios
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| Failed::from(format!("scenario {id} vanished")))?;
            ctx.trial(&id, suite, scenario)
        })
    });
    let conclusion = libtest_mimic::run(&args, list);

    let teardown_errors = ctx.rt.block_on(ctx.pool.teardown_all());
    for e in &teardown_errors {
        eprintln!("error: {e}");
    }
    let interrupted = cancel.is_cancelled();
    events.emit(RunEvent::RunFinished {
        finished_at: jiff::Timestamp::now(),
        interrupted,
        teardown_errors: teardown_errors.clone(),
    });
    let write_errors = reporter.write_errors();
    for e in &write_errors {
        eprintln!("error: writing reports: {e}");
    }
    if let Some(dir) = reporter.run_dir() {
        eprintln!("cni-chaos: reports written to {}", dir.display());
    }
    if let Some(record) = reporter.record() {
        github(&record, &suites);
    }
    if interrupted {
        eprintln!(
            "cni-chaos: interrupted; the running scenario was reverted and clusters torn down"
        );
        return ExitCode::from(130);
    }
    if !teardown_errors.is_empty() || !write_errors.is_empty() {
        return ExitCode::FAILURE;
    }
    conclusion.exit_code()
}

/// The run's estimate from the committed twin times
/// ([`crate::plan::ESTIMATES_FILE`]); none, with a warning, when the file
/// cannot be read.
fn estimate(suites: &[Suite]) -> Option<crate::plan::RunEstimate> {
    let path = backend::workspace_root().join(crate::plan::ESTIMATES_FILE);
    match crate::plan::Estimates::load(&path) {
        Ok(e) => Some(crate::plan::estimate_run(
            &e,
            std::path::Path::new(crate::plan::ESTIMATES_FILE),
            crate::plan::Constants::default(),
            &crate::plan::plan_of(suites),
        )),
        Err(e) => {
            eprintln!("cni-chaos: no estimate: {e}");
            None
        }
    }
}

/// Under GitHub Actions: annotations on stdout and the summary appended to
/// `$GITHUB_STEP_SUMMARY`.
fn github(record: &crate::report::RunRecord, suites: &[Suite]) {
    let workspace = std::env::var_os("GITHUB_WORKSPACE").map(std::path::PathBuf::from);
    let cwd = std::env::current_dir().unwrap_or_default();
    let files = suites
        .iter()
        .map(|s| {
            let file = crate::report::repo_path(&s.file, workspace.as_deref(), &cwd);
            (s.name.clone(), file)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if let Err(e) = crate::report::publish(record, &files, |k| std::env::var(k).ok(), &mut out) {
        eprintln!(
            "error: {e}: {}",
            std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_default()
        );
    }
}

fn install_signal_handlers(rt: &Runtime, cancel: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    // Registered here, before any trial starts, so the default "die at once"
    // disposition never applies while clusters exist.
    let _enter = rt.enter();
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    rt.spawn(async move {
        loop {
            let name = tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            };
            if cancel.is_cancelled() {
                eprintln!("cni-chaos: {name} again: still reverting and tearing down; please wait");
            } else {
                eprintln!("cni-chaos: {name}: stopping; reverting the running fault, tearing down clusters, writing reports");
                cancel.cancel();
            }
        }
    });
    Ok(())
}

/// The run's clock now: tokio's, which is virtual on a paused runtime.
fn rt_now(rt: &Runtime) -> tokio::time::Instant {
    rt.block_on(async { tokio::time::Instant::now() })
}

fn run_id() -> String {
    let now = jiff::Timestamp::now();
    format!("{}-{}", now.strftime("%Y%m%dT%H%M%SZ"), std::process::id())
}
