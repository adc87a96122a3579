//! Process runner: every external program the harness runs (kind, docker,
//! kubectl, ...) goes through a [`Runner`].
//!
//! A [`Command`] describes one program invocation (never a shell string),
//! [`LocalRunner`] executes it on this machine with a timeout, and
//! [`ScriptedRunner`] replays canned responses in tests.

mod children;
mod command;
mod error;
mod local;
mod output;
mod runner;
mod scripted;

pub use children::{ChildLog, host_process};
pub use command::{Command, DEFAULT_TIMEOUT};
pub use error::ExecError;
pub use local::LocalRunner;
pub use output::{Exit, Output};
pub use runner::Runner;
pub use scripted::{Expectation, Respond, ScriptedRunner};
