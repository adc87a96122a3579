//! [`ScriptedRunner`]: a [`Runner`] answering from a script, for tests.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::command::{Command, shell_quote};
use super::error::ExecError;
use super::output::Output;
use super::runner::Runner;

/// An `argv` element in an [`Expectation`] that matches any single argument.
const ANY: &str = "*";

/// What a [`ScriptedRunner`] does when a command matches an [`Expectation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Respond {
    /// Return this output (whatever its exit status).
    Output(Output),
    /// Do not return until the command's timeout has elapsed (on tokio's
    /// clock, so paused test time skips ahead), then fail with
    /// [`ExecError::Timeout`] carrying this partial output.
    Hang {
        /// stdout "captured" before the timeout.
        stdout: String,
        /// stderr "captured" before the timeout.
        stderr: String,
    },
    /// Fail with [`ExecError::Spawn`] (an I/O error of kind `NotFound` with
    /// this message), as if the program could not be started.
    SpawnError(String),
}

/// One scripted command: the `argv` it matches and how to respond.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// Program and arguments, matched exactly element by element; an element
    /// `"*"` matches any single argument.
    pub argv: Vec<String>,
    /// The response to a matching command.
    pub respond: Respond,
    /// The working directory the command must run in; `None` matches only
    /// a command without one (see [`Expectation::in_dir`]).
    pub cwd: Option<PathBuf>,
}

impl Expectation {
    /// An expectation of `argv` answered by `respond`.
    pub fn new<I>(argv: I, respond: Respond) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self {
            argv: argv.into_iter().map(Into::into).collect(),
            respond,
            cwd: None,
        }
    }

    /// Requires the command to run in `dir` (its [`Command::cwd`]).
    #[must_use]
    pub fn in_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// `argv` succeeds with this stdout.
    pub fn ok<I>(argv: I, stdout: impl Into<Vec<u8>>) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self::new(argv, Respond::Output(Output::ok(stdout)))
    }

    /// `argv` exits with `code` and this stderr.
    pub fn failed<I>(argv: I, code: i32, stderr: impl Into<Vec<u8>>) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self::new(argv, Respond::Output(Output::failed(code, stderr)))
    }

    /// `argv` hangs until its timeout, having written `stdout` so far.
    pub fn hang<I>(argv: I, stdout: impl Into<String>) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let respond = Respond::Hang {
            stdout: stdout.into(),
            stderr: String::new(),
        };
        Self::new(argv, respond)
    }

    /// `argv` cannot be started; `message` is the I/O error's text.
    pub fn spawn_error<I>(argv: I, message: impl Into<String>) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        Self::new(argv, Respond::SpawnError(message.into()))
    }

    /// Whether `cmd`'s argv and working directory match this expectation.
    pub fn matches(&self, cmd: &Command) -> bool {
        let argv = cmd.argv();
        self.cwd.as_deref() == cmd.get_cwd()
            && argv.len() == self.argv.len()
            && self
                .argv
                .iter()
                .zip(argv)
                .all(|(want, got)| want == ANY || want == got)
    }
}

/// The expected argv as a command line, `*` placeholders left unquoted,
/// in `(cd DIR && ...)` with a working directory (as [`Command`] shows it).
impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(dir) = &self.cwd {
            write!(f, "(cd {} && ", shell_quote(&dir.display().to_string()))?;
        }
        self.fmt_argv(f)?;
        if self.cwd.is_some() {
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl Expectation {
    fn fmt_argv(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.argv.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if a == ANY {
                f.write_str(ANY)?;
            } else {
                f.write_str(&shell_quote(a))?;
            }
        }
        Ok(())
    }
}

/// A [`Runner`] for tests that answers commands from a script of
/// [`Expectation`]s instead of running anything.
///
/// * [`ScriptedRunner::ordered`]: each call must match the next expectation,
///   otherwise it fails with [`ExecError::Unexpected`] (and the expectation
///   stays pending).
/// * [`ScriptedRunner::lenient`]: each call consumes the first pending
///   expectation it matches, in any order; calls matching none get the
///   fallback response (default: `Output::ok("")`).
///
/// Every call is recorded ([`ScriptedRunner::calls`]). Clones share the same
/// script and records, so a test can keep a handle while the code under test
/// owns another, then check [`ScriptedRunner::assert_done`].
#[derive(Debug, Clone)]
pub struct ScriptedRunner {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct State {
    ordered: bool,
    pending: VecDeque<Expectation>,
    fallback: Option<Respond>,
    calls: Vec<Command>,
}

impl ScriptedRunner {
    /// A runner requiring the calls to match `script` in order. Once the
    /// script is exhausted, further calls are unexpected (unless a fallback
    /// is set with [`ScriptedRunner::with_fallback`]).
    pub fn ordered(script: impl IntoIterator<Item = Expectation>) -> Self {
        Self::build(true, script, None)
    }

    /// A runner matching each call against any pending expectation (first
    /// match wins and is consumed); unmatched calls get `Output::ok("")`
    /// unless changed with [`ScriptedRunner::with_fallback`] or
    /// [`ScriptedRunner::without_fallback`].
    pub fn lenient(script: impl IntoIterator<Item = Expectation>) -> Self {
        Self::build(false, script, Some(Respond::Output(Output::ok(""))))
    }

    fn build(
        ordered: bool,
        script: impl IntoIterator<Item = Expectation>,
        fallback: Option<Respond>,
    ) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                ordered,
                pending: script.into_iter().collect(),
                fallback,
                calls: Vec::new(),
            })),
        }
    }

    /// Response for calls no expectation matches (lenient mode) or that come
    /// after the script is exhausted (ordered mode).
    #[must_use]
    pub fn with_fallback(self, respond: Respond) -> Self {
        self.lock().fallback = Some(respond);
        self
    }

    /// Makes calls no expectation matches fail with
    /// [`ExecError::Unexpected`].
    #[must_use]
    pub fn without_fallback(self) -> Self {
        self.lock().fallback = None;
        self
    }

    /// Appends an expectation to the script (visible to all clones).
    pub fn push(&self, expectation: Expectation) {
        self.lock().pending.push_back(expectation);
    }

    /// Every command received so far, in order (including unexpected ones).
    pub fn calls(&self) -> Vec<Command> {
        self.lock().calls.clone()
    }

    /// The command lines of [`ScriptedRunner::calls`].
    pub fn call_lines(&self) -> Vec<String> {
        self.lock().calls.iter().map(ToString::to_string).collect()
    }

    /// The expectations not consumed yet, in script order.
    pub fn remaining(&self) -> Vec<Expectation> {
        self.lock().pending.iter().cloned().collect()
    }

    /// Panics, listing them, if any expectations were not consumed.
    #[track_caller]
    pub fn assert_done(&self) {
        let (pending, calls) = {
            let state = self.lock();
            let pending: Vec<String> = state.pending.iter().map(|e| format!("  {e}")).collect();
            let calls: Vec<String> = state.calls.iter().map(|c| format!("  {c}")).collect();
            (pending, calls)
        };
        if !pending.is_empty() {
            panic!(
                "{} scripted command(s) were never run:\n{}\ncommands received:\n{}",
                pending.len(),
                pending.join("\n"),
                if calls.is_empty() {
                    "  (none)".to_owned()
                } else {
                    calls.join("\n")
                },
            );
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `cmd` and picks the response, without holding the lock
    /// across any await.
    fn next_response(&self, cmd: &Command) -> Result<Respond, ExecError> {
        let mut state = self.lock();
        state.calls.push(cmd.clone());
        let found = if state.ordered {
            match state.pending.front() {
                Some(e) if e.matches(cmd) => state.pending.pop_front(),
                Some(e) => {
                    return Err(ExecError::Unexpected {
                        command: cmd.to_string(),
                        expected: format!("`{e}`"),
                    });
                }
                None => None,
            }
        } else {
            let index = state.pending.iter().position(|e| e.matches(cmd));
            index.and_then(|i| state.pending.remove(i))
        };
        if let Some(e) = found {
            return Ok(e.respond);
        }
        if let Some(fallback) = &state.fallback {
            return Ok(fallback.clone());
        }
        let expected = if state.pending.is_empty() {
            "no more commands (script exhausted)".to_owned()
        } else {
            let list: Vec<String> = state.pending.iter().map(|e| format!("`{e}`")).collect();
            format!("one of {}", list.join(", "))
        };
        Err(ExecError::Unexpected {
            command: cmd.to_string(),
            expected,
        })
    }
}

#[async_trait::async_trait]
impl Runner for ScriptedRunner {
    async fn output(&self, cmd: &Command) -> Result<Output, ExecError> {
        match self.next_response(cmd)? {
            Respond::Output(output) => Ok(output),
            Respond::Hang { stdout, stderr } => {
                tokio::time::sleep(cmd.get_timeout()).await;
                Err(ExecError::timeout(
                    cmd,
                    stdout.as_bytes(),
                    stderr.as_bytes(),
                ))
            }
            Respond::SpawnError(message) => Err(ExecError::spawn(
                cmd,
                std::io::Error::new(std::io::ErrorKind::NotFound, message),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::exec::Exit;

    fn kubectl(args: &[&str]) -> Command {
        Command::new("kubectl").args(args.iter().copied())
    }

    #[tokio::test]
    async fn ordered_answers_in_order_and_records_calls() {
        let runner = ScriptedRunner::ordered([
            Expectation::ok(["kind", "get", "clusters"], "chaos\n"),
            Expectation::failed(["kubectl", "get", "pods"], 1, "NotFound"),
        ]);
        let handle = runner.clone();

        let out = runner
            .run(&Command::new("kind").args(["get", "clusters"]))
            .await
            .unwrap();
        assert_eq!(out.stdout_str(), "chaos\n");
        let out = runner.output(&kubectl(&["get", "pods"])).await.unwrap();
        assert_eq!(out.status, Exit::Code(1));
        assert_eq!(out.stderr_str(), "NotFound");

        assert_eq!(
            handle.call_lines(),
            ["kind get clusters", "kubectl get pods"]
        );
        assert_eq!(handle.calls()[1].argv(), ["kubectl", "get", "pods"]);
        assert!(handle.remaining().is_empty());
        handle.assert_done();
    }

    #[tokio::test]
    async fn ordered_mismatch_is_unexpected_and_not_consumed() {
        let runner = ScriptedRunner::ordered([
            Expectation::ok(["kind", "get", "clusters"], ""),
            Expectation::ok(["kubectl", "get", "nodes"], ""),
        ]);
        let err = runner
            .output(&kubectl(&["get", "nodes"]))
            .await
            .unwrap_err();
        let ExecError::Unexpected { command, expected } = &err else {
            panic!("expected Unexpected, got {err:?}");
        };
        assert_eq!(command, "kubectl get nodes");
        assert_eq!(expected, "`kind get clusters`");
        let msg = err.to_string();
        assert!(
            msg.contains("kubectl get nodes") && msg.contains("kind get clusters"),
            "{msg}"
        );

        assert_eq!(runner.remaining().len(), 2);
        assert_eq!(runner.call_lines(), ["kubectl get nodes"]);
        runner
            .output(&Command::new("kind").args(["get", "clusters"]))
            .await
            .unwrap();
        runner.output(&kubectl(&["get", "nodes"])).await.unwrap();
        runner.assert_done();
    }

    #[tokio::test]
    async fn the_working_directory_is_matched_recorded_and_shown() {
        let runner = ScriptedRunner::ordered([
            Expectation::ok(["bash", "install.sh"], "").in_dir("/state/a")
        ]);
        let elsewhere = Command::new("bash").arg("install.sh").cwd("/state/b");
        let err = runner.output(&elsewhere).await.unwrap_err();
        let ExecError::Unexpected { command, expected } = &err else {
            panic!("expected Unexpected, got {err:?}");
        };
        assert_eq!(command, "(cd /state/b && bash install.sh)");
        assert_eq!(expected, "`(cd /state/a && bash install.sh)`");
        let err = runner
            .output(&Command::new("bash").arg("install.sh"))
            .await
            .unwrap_err();
        assert!(matches!(err, ExecError::Unexpected { .. }), "{err:?}");

        let here = Command::new("bash").arg("install.sh").cwd("/state/a");
        runner.output(&here).await.unwrap();
        runner.assert_done();
        assert_eq!(
            runner.calls()[2].get_cwd(),
            Some(std::path::Path::new("/state/a"))
        );
    }

    #[tokio::test]
    async fn ordered_exhausted_is_unexpected_unless_fallback() {
        let runner = ScriptedRunner::ordered([]);
        let err = runner
            .output(&Command::new("docker").arg("ps"))
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("no more commands (script exhausted)"),
            "{err}"
        );

        let runner = ScriptedRunner::ordered([]).with_fallback(Respond::Output(Output::ok("fb")));
        let out = runner
            .output(&Command::new("docker").arg("ps"))
            .await
            .unwrap();
        assert_eq!(out.stdout_str(), "fb");
    }

    #[tokio::test]
    async fn wildcard_matches_any_single_arg() {
        let e = Expectation::ok(["docker", "restart", "*"], "");
        assert!(e.matches(&Command::new("docker").args(["restart", "kind-worker"])));
        assert!(e.matches(&Command::new("docker").args(["restart", "a b"])));
        assert!(!e.matches(&Command::new("docker").args(["restart"])));
        assert!(!e.matches(&Command::new("docker").args(["restart", "a", "b"])));
        assert!(!e.matches(&Command::new("docker").args(["stop", "a"])));
        // "*" is a placeholder only as a whole element.
        assert!(!Expectation::ok(["a*"], "").matches(&Command::new("ab")));
        assert_eq!(
            Expectation::ok(["sh", "-c", "echo hi", "*"], "").to_string(),
            "sh -c 'echo hi' *"
        );

        let runner = ScriptedRunner::ordered([e]);
        runner
            .run(&Command::new("docker").args(["restart", "kind-worker"]))
            .await
            .unwrap();
        runner.assert_done();
    }

    #[tokio::test]
    async fn lenient_matches_out_of_order_with_fallback() {
        let runner = ScriptedRunner::lenient([
            Expectation::ok(["kubectl", "get", "pods"], "pods"),
            Expectation::ok(["kubectl", "get", "nodes"], "nodes"),
            Expectation::ok(["kubectl", "get", "pods"], "pods again"),
        ]);
        let get = |what: &str| kubectl(&["get", what]);

        assert_eq!(
            runner.run(&get("nodes")).await.unwrap().stdout_str(),
            "nodes"
        );
        assert_eq!(runner.run(&get("pods")).await.unwrap().stdout_str(), "pods");
        // Unscripted: default fallback is a successful empty output.
        let out = runner.run(&get("svc")).await.unwrap();
        assert!(out.success() && out.stdout.is_empty());
        assert_eq!(runner.remaining().len(), 1);
        assert_eq!(
            runner.run(&get("pods")).await.unwrap().stdout_str(),
            "pods again"
        );
        runner.assert_done();
        assert_eq!(runner.call_lines().len(), 4);
    }

    #[tokio::test]
    async fn lenient_custom_fallback_and_no_fallback() {
        let runner =
            ScriptedRunner::lenient([]).with_fallback(Respond::Output(Output::failed(7, "nope")));
        let err = runner.run(&Command::new("x")).await.unwrap_err();
        assert!(
            matches!(
                err,
                ExecError::Failed {
                    exit: Exit::Code(7),
                    ..
                }
            ),
            "{err:?}"
        );

        let runner =
            ScriptedRunner::lenient([Expectation::ok(["a"], ""), Expectation::ok(["b", "*"], "")])
                .without_fallback();
        let err = runner.output(&Command::new("c")).await.unwrap_err();
        let ExecError::Unexpected { expected, .. } = &err else {
            panic!("expected Unexpected, got {err:?}");
        };
        assert_eq!(expected, "one of `a`, `b *`");
    }

    #[tokio::test]
    async fn spawn_error_response() {
        let runner = ScriptedRunner::ordered([Expectation::spawn_error(["kind"], "not installed")]);
        let err = runner.output(&Command::new("kind")).await.unwrap_err();
        let ExecError::Spawn { source, .. } = &err else {
            panic!("expected Spawn, got {err:?}");
        };
        assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(err.to_string(), "could not start `kind`: not installed");
    }

    #[tokio::test(start_paused = true)]
    async fn hang_times_out_after_command_timeout() {
        let runner = ScriptedRunner::ordered([Expectation::new(
            ["kubectl", "rollout", "status", "*"],
            Respond::Hang {
                stdout: "Waiting for rollout\n".into(),
                stderr: "slow\n".into(),
            },
        )]);
        let cmd =
            kubectl(&["rollout", "status", "ds/kube-ovn-cni"]).timeout(Duration::from_secs(90));
        let started = tokio::time::Instant::now();
        let err = runner.run(&cmd).await.unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(90));
        let ExecError::Timeout {
            timeout,
            stdout,
            stderr,
            command,
        } = &err
        else {
            panic!("expected Timeout, got {err:?}");
        };
        assert_eq!(*timeout, Duration::from_secs(90));
        assert_eq!(stdout, "Waiting for rollout\n");
        assert_eq!(stderr, "slow\n");
        assert_eq!(command, "kubectl rollout status ds/kube-ovn-cni");
        assert!(err.to_string().contains("timed out after 90s"), "{err}");
        runner.assert_done();
    }

    #[tokio::test(start_paused = true)]
    async fn hang_can_be_cut_short_by_caller_timeout() {
        let runner = ScriptedRunner::ordered([Expectation::hang(["sleep", "*"], "")]);
        let cmd = Command::new("sleep").arg("100");
        let res = tokio::time::timeout(Duration::from_secs(5), runner.output(&cmd)).await;
        assert!(
            res.is_err(),
            "the hang must outlast a shorter caller timeout"
        );
        runner.assert_done();
    }

    #[test]
    #[should_panic(
        expected = "2 scripted command(s) were never run:\n  kubectl delete pod * 'a b'\n  kind version\ncommands received:\n  (none)"
    )]
    fn assert_done_lists_unconsumed() {
        let runner = ScriptedRunner::ordered([
            Expectation::ok(["kubectl", "delete", "pod", "*", "a b"], ""),
            Expectation::ok(["kind", "version"], ""),
        ]);
        runner.assert_done();
    }

    #[tokio::test]
    async fn push_and_shared_state_across_clones() {
        let test_handle = ScriptedRunner::ordered([]);
        let owned: Box<dyn Runner> = Box::new(test_handle.clone());
        test_handle.push(Expectation::ok(["kind", "version"], "kind v0.30"));
        let out = owned
            .run(&Command::new("kind").arg("version").env("K", "v"))
            .await
            .unwrap();
        assert_eq!(out.stdout_str(), "kind v0.30");
        assert_eq!(
            test_handle.calls()[0].get_envs(),
            [("K".into(), "v".into())]
        );
        assert_eq!(test_handle.call_lines(), ["K=v kind version"]);
        test_handle.assert_done();
    }
}
