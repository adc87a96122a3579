//! [`LocalRunner`]: runs commands as real processes on this machine.

use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;

use super::children::{ChildLog, host_process};
use super::command::Command;
use super::error::ExecError;
use super::output::{Exit, Output};
use super::runner::Runner;

/// How long to keep reading stdout/stderr after the process exited. Whatever
/// it wrote is already in the pipe, so this only matters when a background
/// descendant still holds the pipes open.
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);
/// How long to keep reading stdout/stderr after killing a timed-out process.
const DRAIN_AFTER_KILL: Duration = Duration::from_millis(200);

/// Runs [`Command`]s as child processes via `tokio::process`.
///
/// * The program is executed directly (no shell) with piped stdout/stderr,
///   which are read concurrently; stdin is the command's bytes (written, then
///   closed) or `/dev/null`.
/// * Each child gets its own process group, so a terminal Ctrl-C reaches only
///   the harness, which decides how to tear down; children are killed when
///   the future running them is dropped.
/// * Each child gets SIGKILL as its parent-death signal
///   (`PR_SET_PDEATHSIG`), so it dies with the runner even when the runner
///   is SIGKILLed and no destructor runs. Linux sends it when the *thread*
///   that started the child ends: tokio's worker threads and a `block_on`
///   thread live as long as their runtime, so start children there, not
///   from `spawn_blocking`. Grandchildren do not inherit it; they are in
///   the child's process group, which a [`ChildLog`] records.
/// * With [`LocalRunner::with_child_log`], every child's PID and start
///   time are reported when it starts and again when it is reaped.
/// * On timeout the child is killed (SIGKILL) and reaped, and
///   [`ExecError::Timeout`] carries the output captured so far. Only the
///   direct child is killed; descendants it started may outlive it.
/// * Timeouts use tokio's clock: do not use this runner under paused time.
///
/// [`LocalRunner::dry_run`] builds a runner that executes nothing and only
/// records the command lines it would have run.
#[derive(Debug, Clone, Default)]
pub struct LocalRunner {
    /// `Some` in dry-run mode: the command lines "run" so far.
    planned: Option<Arc<Mutex<Vec<String>>>>,
    /// Told of every child started and reaped.
    children: Option<Arc<dyn ChildLog>>,
}

impl LocalRunner {
    /// A runner that really executes commands.
    pub fn new() -> Self {
        Self::default()
    }

    /// A runner that executes nothing: each command is logged at info level
    /// as `[dry-run] <command line>`, recorded (see [`LocalRunner::planned`])
    /// and answered with a successful, empty [`Output`].
    pub fn dry_run() -> Self {
        Self {
            planned: Some(Arc::default()),
            children: None,
        }
    }

    /// Reports every child this runner starts and reaps to `log`.
    #[must_use]
    pub fn with_child_log(mut self, log: Arc<dyn ChildLog>) -> Self {
        self.children = Some(log);
        self
    }

    /// `true` for a runner built with [`LocalRunner::dry_run`].
    pub fn is_dry_run(&self) -> bool {
        self.planned.is_some()
    }

    /// In dry-run mode, the command lines received so far, in order (shared
    /// between clones). Empty for a real runner.
    pub fn planned(&self) -> Vec<String> {
        self.planned
            .as_ref()
            .map(|p| p.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl Runner for LocalRunner {
    async fn output(&self, cmd: &Command) -> Result<Output, ExecError> {
        let line = cmd.to_string();
        if let Some(planned) = &self.planned {
            tracing::info!("[dry-run] {line}");
            planned
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line);
            return Ok(Output::ok(""));
        }
        execute(cmd, &line, self.children.as_deref()).await
    }
}

/// Makes the child die with its parent: SIGKILL as its parent-death
/// signal, and an exit at once when the parent is already gone (the signal
/// is only sent for a death after `prctl`).
fn die_with_parent(proc: &mut tokio::process::Command) {
    // SAFETY: the closure runs in the child between fork and exec, and
    // calls only async-signal-safe functions (getppid, prctl, _exit) on
    // values copied in; it allocates nothing and takes no lock.
    #[allow(unsafe_code)]
    unsafe {
        let parent = libc::getpid();
        proc.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(137);
            }
            Ok(())
        });
    }
}

/// Reports a reaped child when dropped, whichever way [`execute`] ends.
struct Reaped<'a> {
    log: Option<&'a dyn ChildLog>,
    pid: Option<u32>,
}

impl Drop for Reaped<'_> {
    fn drop(&mut self) {
        if let (Some(log), Some(pid)) = (self.log, self.pid) {
            log.reaped(pid);
        }
    }
}

async fn execute(
    cmd: &Command,
    line: &str,
    children: Option<&dyn ChildLog>,
) -> Result<Output, ExecError> {
    tracing::debug!(command = %line, "exec");

    let mut proc = tokio::process::Command::new(cmd.get_program());
    for key in cmd.get_env_removes() {
        proc.env_remove(key);
    }
    proc.args(cmd.get_args())
        .envs(cmd.get_envs().iter().map(|(k, v)| (k, v)))
        .stdin(if cmd.get_stdin().is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    if let Some(dir) = cmd.get_cwd() {
        proc.current_dir(dir);
    }
    die_with_parent(&mut proc);

    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + cmd.get_timeout();
    let mut child = proc.spawn().map_err(|e| ExecError::spawn(cmd, e))?;
    let pid = child.id();
    if let (Some(log), Some(pid)) = (children, pid) {
        log.started(pid, host_process(pid).map(|(start, _)| start), line);
    }
    // Dropped last: reported once the child is reaped (kill_on_drop reaps
    // a child whose future is dropped).
    let _reaped = Reaped { log: children, pid };

    let stdin_task = match (child.stdin.take(), cmd.get_stdin()) {
        (Some(mut pipe), Some(bytes)) => {
            let bytes = bytes.to_vec();
            let line = line.to_owned();
            Some(tokio::spawn(async move {
                // Dropping `pipe` at the end closes the child's stdin.
                if let Err(e) = pipe.write_all(&bytes).await {
                    tracing::debug!(command = %line, error = %e, "writing stdin failed");
                }
            }))
        }
        _ => None,
    };
    let mut stdout = Capture::start(child.stdout.take());
    let mut stderr = Capture::start(child.stderr.take());

    let waited = tokio::time::timeout_at(deadline, child.wait()).await;
    let elapsed = started.elapsed();
    if let Some(task) = stdin_task {
        task.abort();
    }

    match waited {
        Ok(Ok(status)) => {
            let status = Exit::from(status);
            if !drain(&mut stdout, &mut stderr, DRAIN_AFTER_EXIT).await {
                tracing::warn!(
                    command = %line,
                    "output pipes still open {DRAIN_AFTER_EXIT:?} after exit \
                     (held by a background process?); output may be incomplete"
                );
            }
            tracing::debug!(command = %line, ?elapsed, exit = %status, "exec finished");
            Ok(Output {
                status,
                stdout: stdout.take(),
                stderr: stderr.take(),
                elapsed,
            })
        }
        Ok(Err(e)) => {
            // `wait` itself failed: the process state is unknown; kill it.
            let _ = child.start_kill();
            stdout.abort();
            stderr.abort();
            Err(ExecError::spawn(
                cmd,
                std::io::Error::new(e.kind(), format!("waiting for the process failed: {e}")),
            ))
        }
        Err(_elapsed) => {
            // It may have exited just now; then there is nothing to kill.
            if let Err(e) = child.start_kill() {
                tracing::debug!(command = %line, error = %e, "kill after timeout failed");
            }
            let status = child.wait().await.map(Exit::from);
            drain(&mut stdout, &mut stderr, DRAIN_AFTER_KILL).await;
            tracing::debug!(
                command = %line,
                ?elapsed,
                timeout = ?cmd.get_timeout(),
                exit = ?status,
                "exec timed out; killed"
            );
            Err(ExecError::timeout(cmd, &stdout.take(), &stderr.take()))
        }
    }
}

/// Waits up to `limit` for both readers to reach end of file; aborts them
/// otherwise. Returns whether both finished.
async fn drain(a: &mut Capture, b: &mut Capture, limit: Duration) -> bool {
    let both = async {
        a.finished().await;
        b.finished().await;
    };
    let done = tokio::time::timeout(limit, both).await.is_ok();
    if !done {
        a.abort();
        b.abort();
    }
    done
}

/// A task reading one pipe into a shared buffer, so what was read so far is
/// available even if the reader never finishes.
struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
    task: Option<JoinHandle<()>>,
}

impl Capture {
    fn start<R: AsyncRead + Unpin + Send + 'static>(pipe: Option<R>) -> Self {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let task = pipe.map(|mut pipe| {
            let buf = Arc::clone(&buf);
            tokio::spawn(async move {
                let mut chunk = vec![0u8; 16 * 1024];
                loop {
                    match pipe.read(&mut chunk).await {
                        Ok(0) => break,
                        Ok(n) => buf
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            tracing::debug!(error = %e, "reading child output failed");
                            break;
                        }
                    }
                }
            })
        });
        Self { buf, task }
    }

    /// Resolves when the reader reached end of file (or failed).
    async fn finished(&mut self) {
        if let Some(task) = &mut self.task {
            // A reader task cannot panic; a cancelled one has finished too.
            let _ = task.await;
            self.task = None;
        }
    }

    fn abort(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut *self.buf.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        Command::new("sh").args(["-c", script])
    }

    #[tokio::test]
    async fn echo_captures_stdout() {
        let out = LocalRunner::new()
            .run(&Command::new("echo").args(["hello", "world"]))
            .await
            .unwrap();
        assert!(out.success());
        assert_eq!(out.status, Exit::Code(0));
        assert_eq!(out.stdout_str(), "hello world\n");
        assert_eq!(out.stderr_str(), "");
        assert!(out.elapsed < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn args_are_not_shell_interpreted() {
        let out = LocalRunner::new()
            .run(&Command::new("printf").args(["%s|", "$HOME", "a b", "*", "it's"]))
            .await
            .unwrap();
        assert_eq!(out.stdout_str(), "$HOME|a b|*|it's|");
    }

    #[tokio::test]
    async fn nonzero_exit_is_failed_with_code_and_stderr() {
        let cmd = sh("echo oops >&2; exit 3");
        let runner = LocalRunner::new();

        let out = runner
            .output(&cmd)
            .await
            .expect("output() is Ok for non-zero exit");
        assert_eq!(out.status, Exit::Code(3));
        assert_eq!(out.stderr_str(), "oops\n");

        let err = runner.run(&cmd).await.unwrap_err();
        let ExecError::Failed {
            exit, ref stderr, ..
        } = err
        else {
            panic!("expected Failed, got {err:?}");
        };
        assert_eq!(exit, Exit::Code(3));
        assert_eq!(stderr, "oops\n");
        let msg = err.to_string();
        assert!(msg.contains("oops"), "{msg}");
        assert!(msg.contains("exit code 3"), "{msg}");
        assert!(msg.contains("sh -c 'echo oops >&2; exit 3'"), "{msg}");
    }

    #[tokio::test]
    async fn killed_by_signal() {
        let out = LocalRunner::new().output(&sh("kill -9 $$")).await.unwrap();
        assert_eq!(out.status, Exit::Signal(9));
        assert!(!out.success());
    }

    #[tokio::test]
    async fn missing_program_is_spawn_error() {
        let cmd = Command::new("cni-chaos-no-such-program-xyz").arg("x");
        let err = LocalRunner::new().output(&cmd).await.unwrap_err();
        let ExecError::Spawn { ref source, .. } = err else {
            panic!("expected Spawn, got {err:?}");
        };
        assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        assert!(
            err.to_string()
                .starts_with("could not start `cni-chaos-no-such-program-xyz x`: "),
            "{err}"
        );
        assert_eq!(err.command_line(), "cni-chaos-no-such-program-xyz x");
    }

    #[tokio::test]
    async fn timeout_kills_and_names_command() {
        let cmd = Command::new("sleep")
            .arg("5")
            .timeout(Duration::from_millis(200));
        let started = Instant::now();
        let err = LocalRunner::new().output(&cmd).await.unwrap_err();
        let took = started.elapsed();
        assert!(took < Duration::from_millis(1500), "took {took:?}");
        assert!(took >= Duration::from_millis(200), "took {took:?}");
        let ExecError::Timeout { timeout, .. } = &err else {
            panic!("expected Timeout, got {err:?}");
        };
        assert_eq!(*timeout, Duration::from_millis(200));
        let msg = err.to_string();
        assert!(msg.contains("`sleep 5`"), "{msg}");
        assert!(msg.contains("200ms"), "{msg}");
    }

    #[tokio::test]
    async fn timeout_keeps_partial_output() {
        let cmd = sh("echo early; echo warn >&2; sleep 5").timeout(Duration::from_millis(700));
        let started = Instant::now();
        let err = LocalRunner::new().output(&cmd).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "took {:?}",
            started.elapsed()
        );
        let ExecError::Timeout { stdout, stderr, .. } = &err else {
            panic!("expected Timeout, got {err:?}");
        };
        assert_eq!(stdout, "early\n");
        assert_eq!(stderr, "warn\n");
        let msg = err.to_string();
        assert!(msg.contains("early"), "{msg}");
        assert!(msg.contains("warn"), "{msg}");
    }

    #[tokio::test]
    async fn stdin_is_passed_and_closed() {
        let out = LocalRunner::new()
            .run(&Command::new("cat").stdin("hello stdin"))
            .await
            .unwrap();
        assert_eq!(out.stdout_str(), "hello stdin");
    }

    #[tokio::test]
    async fn large_stdin_and_stdout_do_not_deadlock() {
        let data: Vec<u8> = (0..2 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let out = LocalRunner::new()
            .run(
                &Command::new("cat")
                    .stdin(data.clone())
                    .timeout(Duration::from_secs(20)),
            )
            .await
            .unwrap();
        assert_eq!(out.stdout.len(), data.len());
        assert!(out.stdout == data);
    }

    #[tokio::test]
    async fn stdin_is_dev_null_by_default() {
        let out = LocalRunner::new().run(&Command::new("cat")).await.unwrap();
        assert!(out.stdout.is_empty());
    }

    #[tokio::test]
    async fn env_is_passed() {
        let out = LocalRunner::new()
            .run(
                &Command::new("printenv")
                    .arg("CNI_CHAOS_TEST_VAR")
                    .env("CNI_CHAOS_TEST_VAR", "it's set"),
            )
            .await
            .unwrap();
        assert_eq!(out.stdout_str(), "it's set\n");
    }

    #[tokio::test]
    async fn env_remove_hides_an_inherited_variable() {
        // Cargo sets it for the test process, so the child inherits it
        // unless removed.
        assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
        let inherited = LocalRunner::new()
            .output(&Command::new("printenv").arg("CARGO_MANIFEST_DIR"))
            .await
            .unwrap();
        assert!(inherited.success());
        let removed = LocalRunner::new()
            .output(
                &Command::new("printenv")
                    .arg("CARGO_MANIFEST_DIR")
                    .env_remove("CARGO_MANIFEST_DIR"),
            )
            .await
            .unwrap();
        assert_eq!(removed.status.code(), Some(1), "{removed:?}");
        assert!(removed.stdout.is_empty());
    }

    #[tokio::test]
    async fn cwd_is_used() {
        let dir = std::env::temp_dir().canonicalize().unwrap();
        let out = LocalRunner::new()
            .run(&Command::new("pwd").cwd(&dir))
            .await
            .unwrap();
        assert_eq!(out.stdout_str().trim_end(), dir.to_str().unwrap());
    }

    #[tokio::test]
    async fn runs_in_own_process_group() {
        // Field 5 of /proc/<pid>/stat is the process group; with
        // process_group(0) it equals the shell's own pid.
        let out = LocalRunner::new()
            .run(&sh("echo $$; cut -d' ' -f5 /proc/$$/stat"))
            .await
            .unwrap();
        let text = out.stdout_str();
        let mut lines = text.lines().map(str::trim);
        let pid = lines.next().unwrap();
        let pgid = lines.next().unwrap();
        assert_eq!(pid, pgid, "{text}");
    }

    #[derive(Debug, Default)]
    struct Recorded(Mutex<Vec<String>>);

    impl ChildLog for Recorded {
        fn started(&self, pid: u32, start_time: Option<u64>, command: &str) {
            let mut seen = self.0.lock().unwrap();
            seen.push(format!("started {pid} {} {command}", start_time.is_some()));
        }
        fn reaped(&self, pid: u32) {
            self.0.lock().unwrap().push(format!("reaped {pid}"));
        }
    }

    #[tokio::test]
    async fn the_child_log_hears_of_every_start_and_end() {
        let log = Arc::new(Recorded::default());
        let runner = LocalRunner::new().with_child_log(log.clone());
        let out = runner.run(&sh("echo $$")).await.unwrap();
        let pid = out.stdout_str().trim().to_string();
        let _ = runner
            .output(
                &Command::new("sleep")
                    .arg("5")
                    .timeout(Duration::from_millis(100)),
            )
            .await
            .unwrap_err();
        let seen = log.0.lock().unwrap().clone();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert_eq!(seen[0], format!("started {pid} true sh -c 'echo $$'"));
        assert_eq!(seen[1], format!("reaped {pid}"));
        assert!(
            seen[2].starts_with("started ") && seen[2].ends_with(" true sleep 5"),
            "{seen:?}"
        );
        let sleep_pid = seen[2].split(' ').nth(1).unwrap();
        assert_eq!(seen[3], format!("reaped {sleep_pid}"));
    }

    #[tokio::test]
    async fn dry_run_records_and_executes_nothing() {
        let runner = LocalRunner::dry_run();
        assert!(runner.is_dry_run());
        let handle = runner.clone();
        let out = runner
            .run(&Command::new("cni-chaos-no-such-program-xyz").args(["delete", "a b"]))
            .await
            .unwrap();
        assert!(out.success());
        assert!(out.stdout.is_empty());
        runner
            .run(&Command::new("kind").env("K", "v"))
            .await
            .unwrap();
        assert_eq!(
            handle.planned(),
            ["cni-chaos-no-such-program-xyz delete 'a b'", "K=v kind"]
        );
        assert!(!LocalRunner::new().is_dry_run());
        assert!(LocalRunner::new().planned().is_empty());
    }
}
