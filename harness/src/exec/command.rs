//! [`Command`]: a description of one external program invocation.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Timeout applied to a [`Command`] unless [`Command::timeout`] sets another.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// One external program invocation: program, arguments, environment, stdin,
/// working directory and timeout.
///
/// The program is executed directly with its arguments; there is never a
/// shell in between. [`Display`](fmt::Display) renders a copy-pasteable
/// POSIX shell command line (environment as a `K=V` prefix; the working
/// directory and stdin are not shown).
///
/// ```
/// use std::time::Duration;
/// use cni_chaos::exec::Command;
///
/// let cmd = Command::new("docker")
///     .arg("exec")
///     .args(["kind-worker", "sh", "-c", "echo hi"])
///     .timeout(Duration::from_secs(30));
/// assert_eq!(cmd.to_string(), "docker exec kind-worker sh -c 'echo hi'");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    env_remove: Vec<String>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    cwd: Option<PathBuf>,
}

impl Command {
    /// A command running `program` with no arguments, the inherited
    /// environment, no stdin and the [`DEFAULT_TIMEOUT`].
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
            cwd: None,
        }
    }

    /// Appends one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    #[must_use]
    pub fn args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the program (on top of the inherited
    /// environment). Later settings of the same key win.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Removes an inherited environment variable for the program (a
    /// setting with [`Command::env`] still applies).
    #[must_use]
    pub fn env_remove(mut self, key: impl Into<String>) -> Self {
        self.env_remove.push(key.into());
        self
    }

    /// The inherited variables removed for the program.
    pub fn get_env_removes(&self) -> &[String] {
        &self.env_remove
    }

    /// Bytes written to the program's stdin (which is then closed). Without
    /// this, stdin is `/dev/null`.
    #[must_use]
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// Maximum wall-clock time the program may run before it is killed.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Working directory of the program.
    #[must_use]
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// The program name or path.
    pub fn get_program(&self) -> &str {
        &self.program
    }

    /// The arguments (without the program).
    pub fn get_args(&self) -> &[String] {
        &self.args
    }

    /// The environment variables set for the program, in insertion order.
    pub fn get_envs(&self) -> &[(String, String)] {
        &self.env
    }

    /// The bytes written to stdin, if any.
    pub fn get_stdin(&self) -> Option<&[u8]> {
        self.stdin.as_deref()
    }

    /// The timeout.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// The working directory, if set.
    pub fn get_cwd(&self) -> Option<&Path> {
        self.cwd.as_deref()
    }

    /// Program followed by its arguments.
    pub fn argv(&self) -> Vec<&str> {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect()
    }
}

/// The command line as a POSIX shell would take it: `K=V` assignments (or
/// `env` when a key is not a shell name), the program and its quoted
/// arguments; with a working directory, wrapped as `(cd DIR && ...)` so the
/// line still runs as shown when pasted into a shell.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(dir) = &self.cwd {
            write!(f, "(cd {} && ", shell_quote(&dir.display().to_string()))?;
        }
        self.fmt_line(f)?;
        if self.cwd.is_some() {
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl Command {
    /// The command line without its working directory.
    fn fmt_line(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut word = |f: &mut fmt::Formatter<'_>, w: &str| {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(w)
        };
        if !self.env.is_empty() || !self.env_remove.is_empty() {
            // `K=V` is only an assignment when K is a valid shell name;
            // otherwise go through `env`, which accepts any key (and `-u`).
            let assignable =
                self.env_remove.is_empty() && self.env.iter().all(|(k, _)| is_shell_name(k));
            if !assignable {
                word(f, "env")?;
            }
            for k in &self.env_remove {
                word(f, "-u")?;
                word(f, &shell_quote(k))?;
            }
            for (k, v) in &self.env {
                if assignable {
                    word(f, &format!("{k}={}", shell_quote(v)))?;
                } else {
                    word(f, &shell_quote(&format!("{k}={v}")))?;
                }
            }
        }
        // A program word containing `=` would be parsed as an assignment.
        if self.program.contains('=') {
            word(f, &force_quote(&self.program))?;
        } else {
            word(f, &shell_quote(&self.program))?;
        }
        for a in &self.args {
            word(f, &shell_quote(a))?;
        }
        Ok(())
    }
}

/// Quotes `s` for a POSIX shell if needed: unchanged when it consists only of
/// characters no shell treats specially, otherwise wrapped in single quotes
/// with each embedded `'` written as `'\''`.
pub(crate) fn shell_quote(s: &str) -> Cow<'_, str> {
    let safe = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'-' | b'.' | b'/' | b':' | b',' | b'+' | b'=' | b'@' | b'%'
                )
        });
    if safe {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(force_quote(s))
    }
}

fn force_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn is_shell_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_sets_everything() {
        let cmd = Command::new("docker")
            .arg("restart")
            .args(["-t", "30"])
            .env("K", "v")
            .stdin(b"data".to_vec())
            .timeout(Duration::from_secs(5))
            .cwd("/tmp")
            .arg("kind-worker");
        assert_eq!(cmd.get_program(), "docker");
        assert_eq!(cmd.get_args(), ["restart", "-t", "30", "kind-worker"]);
        assert_eq!(cmd.argv(), ["docker", "restart", "-t", "30", "kind-worker"]);
        assert_eq!(cmd.get_envs(), [("K".to_string(), "v".to_string())]);
        assert_eq!(cmd.get_stdin(), Some(&b"data"[..]));
        assert_eq!(cmd.get_timeout(), Duration::from_secs(5));
        assert_eq!(cmd.get_cwd(), Some(Path::new("/tmp")));
    }

    #[test]
    fn defaults() {
        let cmd = Command::new("kind");
        assert_eq!(cmd.get_timeout(), Duration::from_secs(60));
        assert_eq!(cmd.get_stdin(), None);
        assert_eq!(cmd.get_cwd(), None);
        assert!(cmd.get_envs().is_empty());
        assert_eq!(cmd.argv(), ["kind"]);
    }

    #[test]
    fn display_plain_words_unquoted() {
        let cmd = Command::new("kubectl").args([
            "get",
            "pods",
            "-n",
            "kube-system",
            "-o=jsonpath={.items}",
            "--kubeconfig=/tmp/a.conf",
            "user@host:1,2+3%",
        ]);
        assert_eq!(
            cmd.to_string(),
            "kubectl get pods -n kube-system '-o=jsonpath={.items}' --kubeconfig=/tmp/a.conf user@host:1,2+3%"
        );
        assert_eq!(Command::new("kind").arg("get").to_string(), "kind get");
    }

    #[test]
    fn display_quotes_when_needed() {
        let cases = [
            ("a b", "'a b'"),
            ("it's", r"'it'\''s'"),
            ("", "''"),
            ("$HOME", "'$HOME'"),
            ("*", "'*'"),
            ("~", "'~'"),
            ("a\nb", "'a\nb'"),
            ("'", r"''\'''"),
            ("plain", "plain"),
        ];
        for (arg, want) in cases {
            let got = Command::new("echo").arg(arg).to_string();
            assert_eq!(got, format!("echo {want}"), "argument {arg:?}");
        }
    }

    #[test]
    fn display_matches_example() {
        let cmd = Command::new("docker").args(["exec", "kind-worker", "sh", "-c", "echo hi"]);
        assert_eq!(cmd.to_string(), "docker exec kind-worker sh -c 'echo hi'");
    }

    #[test]
    fn display_env_prefix() {
        let cmd = Command::new("kubectl")
            .arg("version")
            .env("KUBECONFIG", "/tmp/kube config")
            .env("A", "it's")
            .env("B", "");
        assert_eq!(
            cmd.to_string(),
            r"KUBECONFIG='/tmp/kube config' A='it'\''s' B='' kubectl version"
        );
    }

    #[test]
    fn display_env_with_non_name_key_uses_env() {
        let cmd = Command::new("x").env("weird-key", "v v");
        assert_eq!(cmd.to_string(), "env 'weird-key=v v' x");
    }

    #[test]
    fn display_env_remove_uses_env_u() {
        let cmd = Command::new("cni-chaos")
            .arg("run")
            .env_remove("GITHUB_ACTIONS")
            .env("CHAOS_SEED", "3");
        assert_eq!(
            cmd.to_string(),
            "env -u GITHUB_ACTIONS CHAOS_SEED=3 cni-chaos run"
        );
        assert_eq!(cmd.get_env_removes(), ["GITHUB_ACTIONS"]);
    }

    #[test]
    fn display_wraps_a_working_directory_in_a_subshell() {
        let cmd = Command::new("bash")
            .arg("install.sh")
            .env("IPV6", "false")
            .cwd("/state/my cluster");
        assert_eq!(
            cmd.to_string(),
            "(cd '/state/my cluster' && IPV6=false bash install.sh)"
        );
        assert_eq!(
            Command::new("ls").cwd("/tmp").to_string(),
            "(cd /tmp && ls)"
        );
    }

    #[test]
    fn display_program_quoting() {
        assert_eq!(Command::new("my prog").arg("x").to_string(), "'my prog' x");
        assert_eq!(Command::new("A=b").to_string(), "'A=b'");
    }
}
