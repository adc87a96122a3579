//! [`ExecError`]: why running a [`Command`] did not give a usable result.

use std::time::Duration;

use super::command::Command;
use super::output::{Exit, Output};

/// At most this many bytes of each captured stream are kept in an error.
const KEEP_BYTES: usize = 64 * 1024;
/// At most this many bytes of each captured stream are shown in its message.
const SHOW_BYTES: usize = 4 * 1024;

/// Failure to run a [`Command`] to a successful end.
///
/// Every variant carries the command line ([`ExecError::command_line`]) as
/// rendered by `Command`'s `Display`, so messages are copy-pasteable.
#[derive(thiserror::Error, Debug)]
pub enum ExecError {
    /// The program could not be started (not found, not executable, bad
    /// working directory, ...).
    #[error("could not start `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The program did not finish within its timeout and was killed.
    #[error("`{command}` timed out after {timeout:?}{}", show_output(.stdout, .stderr))]
    Timeout {
        /// The command line.
        command: String,
        /// The timeout that elapsed.
        timeout: Duration,
        /// stdout captured before the kill (tail, lossy UTF-8).
        stdout: String,
        /// stderr captured before the kill (tail, lossy UTF-8).
        stderr: String,
    },

    /// The program ran but exited unsuccessfully.
    #[error("`{command}` failed with {exit}{}", show_output(.stdout, .stderr))]
    Failed {
        /// The command line.
        command: String,
        /// How it terminated.
        exit: Exit,
        /// Its stdout (tail, lossy UTF-8).
        stdout: String,
        /// Its stderr (tail, lossy UTF-8).
        stderr: String,
    },

    /// A scripted runner received a command its script did not expect.
    #[error("unexpected command `{command}`; the script expected {expected}")]
    Unexpected {
        /// The command line received.
        command: String,
        /// What the script expected instead.
        expected: String,
    },
}

impl ExecError {
    /// The command line of the command that failed.
    pub fn command_line(&self) -> &str {
        match self {
            ExecError::Spawn { command, .. }
            | ExecError::Timeout { command, .. }
            | ExecError::Failed { command, .. }
            | ExecError::Unexpected { command, .. } => command,
        }
    }

    /// A [`ExecError::Spawn`] for `cmd`.
    pub fn spawn(cmd: &Command, source: std::io::Error) -> Self {
        ExecError::Spawn {
            command: cmd.to_string(),
            source,
        }
    }

    /// A [`ExecError::Timeout`] for `cmd` with the output captured so far.
    pub fn timeout(cmd: &Command, stdout: &[u8], stderr: &[u8]) -> Self {
        ExecError::Timeout {
            command: cmd.to_string(),
            timeout: cmd.get_timeout(),
            stdout: tail(stdout, KEEP_BYTES),
            stderr: tail(stderr, KEEP_BYTES),
        }
    }

    /// A [`ExecError::Failed`] for `cmd` from its (unsuccessful) output.
    pub fn failed(cmd: &Command, output: &Output) -> Self {
        ExecError::Failed {
            command: cmd.to_string(),
            exit: output.status,
            stdout: tail(&output.stdout, KEEP_BYTES),
            stderr: tail(&output.stderr, KEEP_BYTES),
        }
    }
}

/// The last (about) `max` bytes of `bytes` as lossy UTF-8, with a marker
/// saying how much was dropped.
fn tail(bytes: &[u8], max: usize) -> String {
    tail_str(&String::from_utf8_lossy(bytes), max)
}

fn tail_str(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("[... {start} bytes omitted ...]{}", &s[start..])
}

/// Renders captured output for an error message: one section per non-empty
/// stream, each trimmed to its last [`SHOW_BYTES`].
fn show_output(stdout: &str, stderr: &str) -> String {
    let mut out = String::new();
    for (name, text) in [("stdout", stdout), ("stderr", stderr)] {
        let text = text.trim_end();
        if !text.is_empty() {
            out.push_str("\n--- ");
            out.push_str(name);
            out.push_str(" ---\n");
            out.push_str(&tail_str(text, SHOW_BYTES));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    fn cmd() -> Command {
        Command::new("sh").args(["-c", "exit 3"])
    }

    #[test]
    fn failed_message_has_command_exit_and_output() {
        let err = ExecError::failed(&cmd(), &Output::failed(3, "oops\n"));
        let msg = err.to_string();
        assert_eq!(
            msg,
            "`sh -c 'exit 3'` failed with exit code 3\n--- stderr ---\noops"
        );
        assert_eq!(err.command_line(), "sh -c 'exit 3'");
    }

    #[test]
    fn failed_message_with_signal_and_both_streams() {
        let out = Output::new(Exit::Signal(9), "partial", "dying");
        let msg = ExecError::failed(&cmd(), &out).to_string();
        assert!(msg.contains("killed by signal 9"), "{msg}");
        assert!(msg.contains("--- stdout ---\npartial"), "{msg}");
        assert!(msg.contains("--- stderr ---\ndying"), "{msg}");
    }

    #[test]
    fn long_output_is_trimmed_to_its_tail() {
        let mut stderr = "x".repeat(100 * 1024);
        stderr.push_str("THE END");
        let err = ExecError::failed(&cmd(), &Output::failed(1, stderr));
        let ExecError::Failed { stderr: kept, .. } = &err else {
            panic!("wrong variant: {err:?}");
        };
        assert!(kept.len() < KEEP_BYTES + 100);
        assert!(kept.ends_with("THE END"));
        let msg = err.to_string();
        assert!(
            msg.len() < SHOW_BYTES + 200,
            "message is {} bytes",
            msg.len()
        );
        assert!(msg.ends_with("THE END"));
        assert!(msg.contains("bytes omitted"));
    }

    #[test]
    fn tail_respects_char_boundaries() {
        let s = "é".repeat(10); // 20 bytes
        let t = tail_str(&s, 5);
        assert!(t.ends_with("éé"), "{t}");
        assert!(!t.ends_with("ééé"), "{t}");
    }

    #[test]
    fn timeout_message() {
        let c = Command::new("sleep")
            .arg("5")
            .timeout(Duration::from_millis(200));
        let err = ExecError::timeout(&c, b"early\n", b"");
        let msg = err.to_string();
        assert_eq!(
            msg,
            "`sleep 5` timed out after 200ms\n--- stdout ---\nearly"
        );
    }

    #[test]
    fn spawn_message_and_source() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let err = ExecError::spawn(&Command::new("nope").arg("x"), io);
        assert_eq!(err.to_string(), "could not start `nope x`: No such file");
        assert!(err.source().is_some());
    }

    #[test]
    fn unexpected_message() {
        let err = ExecError::Unexpected {
            command: "kubectl get pods".into(),
            expected: "`kind get clusters`".into(),
        };
        assert_eq!(
            err.to_string(),
            "unexpected command `kubectl get pods`; the script expected `kind get clusters`"
        );
        assert_eq!(err.command_line(), "kubectl get pods");
    }
}
