//! Running programs from the tests: through the harness's own runner, with
//! a timeout, so a hung child fails its test with its output instead of
//! hanging the whole `cargo test`.

#![allow(dead_code)] // Each test binary uses a part.

use std::path::Path;
use std::time::Duration;

use cni_chaos::exec::{Command, ExecError, LocalRunner, Output, Runner};

/// Generous: the slowest run-to-completion child (a whole catalogue on the
/// twin, debug build) takes seconds on these machines.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(600);

/// The `cni-chaos` binary under test, with [`CHILD_TIMEOUT`].
pub fn cni_chaos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cni-chaos")).timeout(CHILD_TIMEOUT)
}

/// A path as a command argument or environment value.
pub fn arg(p: impl AsRef<Path>) -> String {
    p.as_ref().display().to_string()
}

/// Runs `cmd` to completion, blocking (from sync or async tests alike),
/// through [`LocalRunner`]. Panics when it cannot be started or times out,
/// with the command line and whatever it printed.
pub fn output(cmd: Command) -> Output {
    try_output(cmd).unwrap_or_else(|e| panic!("{e}"))
}

/// [`try_output`], but a non-zero exit is an error too, with the command
/// line and what it printed.
pub fn try_run(cmd: Command) -> Result<Output, ExecError> {
    let out = try_output(cmd.clone())?;
    if out.success() {
        Ok(out)
    } else {
        Err(ExecError::failed(&cmd, &out))
    }
}

/// [`output`], but a program that cannot be started (or times out) is an
/// error, for tests that skip when a tool is missing.
pub fn try_output(cmd: Command) -> Result<Output, ExecError> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(LocalRunner::new().output(&cmd))
        })
        .join()
        .expect("runner thread")
    })
}

/// Prints `line` straight to the process's stderr, past libtest's capture,
/// so the CI log shows it (`.ci/run` greps `SYSTEM:` and `SKIPPED:` lines).
pub fn say(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A name no other test run uses at the same time, under the harness's
/// `chaos-` prefix (so its guard accepts it as a cluster name):
/// `chaos-systest-<tag>-<pid>-<5 hex digits from the clock>`.
pub fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "chaos-systest-{tag}-{}-{:05x}",
        std::process::id(),
        nanos & 0xfffff
    )
}

/// A tool this test needs is missing: fails the test under
/// `CHAOS_SYSTEM_TESTS=require` (CI), else prints `SKIPPED: <why>` past
/// libtest's capture and returns `false` so the test can return.
pub fn missing(why: &str) -> bool {
    assert!(
        std::env::var("CHAOS_SYSTEM_TESTS").as_deref() != Ok("require"),
        "{why}, and CHAOS_SYSTEM_TESTS=require"
    );
    say(&format!("SKIPPED: {why}"));
    false
}

/// Whether this test runs as root (network namespaces need it); when not,
/// [`missing`] with `test`'s name.
pub fn root(test: &str) -> bool {
    let root = try_output(Command::new("id").arg("-u")).is_ok_and(|o| o.stdout_str().trim() == "0");
    root || missing(&format!("{test} needs root to create network namespaces"))
}

/// Whether `probe` (e.g. `kubectl version --client`) runs and succeeds;
/// when not, [`missing`] with what went wrong and how to `install` it.
pub fn tool_runs(probe: Command, install: &str) -> bool {
    let line = probe.to_string();
    match try_output(probe.timeout(Duration::from_secs(60))) {
        Ok(o) if o.success() => true,
        Ok(o) => missing(&format!(
            "`{line}` failed ({}): {}; {install}",
            o.status
                .code()
                .map_or("killed".into(), |c| format!("exit {c}")),
            o.stderr_str().trim()
        )),
        Err(e) => missing(&format!("{e}; {install}")),
    }
}

/// `cni-chaos run` on the twin backend, with the suites at `suites` on
/// version set `cell`, its reports in `reports`, and none of the caller's
/// run-shaping variables (seed, baseline, GitHub's summary) leaking in.
pub fn twin_run(suites: impl AsRef<Path>, cell: &str, reports: &Path) -> Command {
    cni_chaos()
        .arg("run")
        .env("CHAOS_BACKEND", "twin")
        .env("CHAOS_SUITES", arg(suites))
        .env("CHAOS_VERSIONS", cell)
        .env("CHAOS_REPORT_DIR", arg(reports))
        .env_remove("CHAOS_SEED")
        .env_remove("CHAOS_BASELINE")
        .env_remove("CHAOS_DEADLINE")
        .env_remove("CHAOS_SCENARIOS")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
}

/// The `results.json` of the latest run in `reports`.
pub fn latest_results(reports: &Path) -> serde_json::Value {
    let path = reports.join("latest/results.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// A result's trial name, `suite::scenario`.
pub fn trial_name(result: &serde_json::Value) -> String {
    format!(
        "{}::{}",
        result["id"]["suite"].as_str().unwrap_or_default(),
        result["id"]["scenario"].as_str().unwrap_or_default()
    )
}

/// An event sink that drops every event.
pub struct Quiet;

impl cni_chaos::run::EventSink for Quiet {
    fn emit(&self, _: cni_chaos::run::RunEvent) {}
}

/// The suite `text` (named `file` in its problems), and a twin cluster for it.
pub fn twin_cluster(
    file: &str,
    text: &str,
) -> (
    cni_chaos::suite::Suite,
    std::sync::Arc<cni_chaos::backend::twin::TwinCluster>,
) {
    let suite =
        cni_chaos::suite::parse_str(Path::new(file), text).unwrap_or_else(|p| panic!("{p:?}"));
    let cluster = cni_chaos::backend::twin::TwinBackend::new(1, "test")
        .provision_twin(&suite.cluster)
        .expect("provision");
    (suite, cluster)
}

/// Runs the suite's first scenario on `cluster` with the engine, quietly.
pub async fn run_first(
    suite: &cni_chaos::suite::Suite,
    cluster: std::sync::Arc<cni_chaos::backend::twin::TwinCluster>,
) -> cni_chaos::run::ScenarioResult {
    let diagnostics = tempfile::tempdir().unwrap();
    let engine = cni_chaos::run::Engine {
        cluster,
        events: std::sync::Arc::new(Quiet),
        cancel: tokio_util::sync::CancellationToken::new(),
        seed: 1,
        diagnostics_dir: diagnostics.path().to_path_buf(),
    };
    let sc = &suite.scenarios[0];
    engine.run(&suite.id_of(sc), sc, 1).await
}
