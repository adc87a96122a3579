//! [`Output`] and [`Exit`]: what a finished program produced.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

/// How a program terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exit {
    /// It exited with this status code.
    Code(i32),
    /// It was killed by this signal number.
    Signal(i32),
}

impl Exit {
    /// `true` for exit code 0.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// The exit code, if the program exited normally.
    pub fn code(self) -> Option<i32> {
        match self {
            Exit::Code(c) => Some(c),
            Exit::Signal(_) => None,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

impl From<std::process::ExitStatus> for Exit {
    fn from(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(s)) => Exit::Signal(s),
            // Only possible for stopped/continued statuses, which `wait`
            // does not report; keep a recognisable non-success value.
            (None, None) => Exit::Code(-1),
        }
    }
}

/// Captured result of a program that ran to completion (whatever its exit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// How the program terminated.
    pub status: Exit,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
    /// Wall-clock time from spawn to exit.
    pub elapsed: Duration,
}

impl Output {
    /// An output with the given fields and zero elapsed time.
    pub fn new(status: Exit, stdout: impl Into<Vec<u8>>, stderr: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            stdout: stdout.into(),
            stderr: stderr.into(),
            elapsed: Duration::ZERO,
        }
    }

    /// A successful (exit code 0) output with this stdout and empty stderr.
    pub fn ok(stdout: impl Into<Vec<u8>>) -> Self {
        Self::new(Exit::Code(0), stdout, Vec::new())
    }

    /// A failed output with this exit code and stderr and empty stdout.
    pub fn failed(code: i32, stderr: impl Into<Vec<u8>>) -> Self {
        Self::new(Exit::Code(code), Vec::new(), stderr)
    }

    /// Replaces the elapsed time.
    #[must_use]
    pub fn with_elapsed(mut self, elapsed: Duration) -> Self {
        self.elapsed = elapsed;
        self
    }

    /// `true` when the program exited with code 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// stdout decoded as UTF-8, invalid sequences replaced.
    pub fn stdout_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }

    /// stderr decoded as UTF-8, invalid sequences replaced.
    pub fn stderr_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_and_failed_helpers() {
        let ok = Output::ok("hello\n");
        assert!(ok.success());
        assert_eq!(ok.status, Exit::Code(0));
        assert_eq!(ok.stdout_str(), "hello\n");
        assert_eq!(ok.stderr_str(), "");

        let failed = Output::failed(3, "boom");
        assert!(!failed.success());
        assert_eq!(failed.status.code(), Some(3));
        assert_eq!(failed.stderr_str(), "boom");
        assert!(failed.stdout.is_empty());
    }

    #[test]
    fn lossy_decoding() {
        let out = Output::ok(vec![b'a', 0xff, b'b']);
        assert_eq!(out.stdout_str(), "a\u{fffd}b");
    }

    #[test]
    fn exit_display_and_signal() {
        assert_eq!(Exit::Code(3).to_string(), "exit code 3");
        assert_eq!(Exit::Signal(9).to_string(), "killed by signal 9");
        assert!(!Exit::Signal(9).success());
        assert_eq!(Exit::Signal(9).code(), None);
    }

    #[test]
    fn exit_from_std_status() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            Exit::from(std::process::ExitStatus::from_raw(3 << 8)),
            Exit::Code(3)
        );
        assert_eq!(
            Exit::from(std::process::ExitStatus::from_raw(9)),
            Exit::Signal(9)
        );
    }
}
