//! [`Owner`]: the process a run's journal belongs to, and whether it is
//! still alive.

use serde::{Deserialize, Serialize};

use super::JournalError;
use crate::exec::host_process;

/// The runner that writes a journal. A PID alone may be reused once the
/// process is gone; PID, start time and name together are not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Owner {
    /// Its PID on [`Owner::host`].
    pub pid: u32,
    /// Its `starttime` (`/proc/<pid>/stat` field 22, clock ticks after
    /// boot).
    pub start_time: u64,
    /// Its name (`comm`).
    pub name: String,
    /// The host it runs on (`/proc/sys/kernel/hostname`).
    pub host: String,
    /// The host's boot ID (`/proc/sys/kernel/random/boot_id`): a PID and
    /// start time from an earlier boot name nothing now.
    pub boot_id: String,
}

/// Whether a run's owner still runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// It does: its journal is not touched.
    Alive,
    /// It is gone: no such PID, another process has it now, it is a zombie,
    /// or the host rebooted since.
    Gone(String),
    /// It ran on another host, which this one cannot check.
    OtherHost(String),
}

/// This host's name.
pub fn this_host() -> String {
    read_trimmed("/proc/sys/kernel/hostname").unwrap_or_else(|| "unknown".into())
}

fn boot_id() -> String {
    read_trimmed("/proc/sys/kernel/random/boot_id").unwrap_or_default()
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

impl Owner {
    /// This process.
    pub fn current() -> Result<Owner, JournalError> {
        let pid = std::process::id();
        let (start_time, _) = host_process(pid).ok_or(JournalError::NoOwner)?;
        let name = read_trimmed("/proc/self/comm").ok_or(JournalError::NoOwner)?;
        Ok(Owner {
            pid,
            start_time,
            name,
            host: this_host(),
            boot_id: boot_id(),
        })
    }

    /// Whether it still runs, seen from this host.
    pub fn liveness(&self) -> Liveness {
        let host = this_host();
        if self.host != host {
            return Liveness::OtherHost(self.host.clone());
        }
        if !self.boot_id.is_empty() && self.boot_id != boot_id() {
            return Liveness::Gone("the host has rebooted since".into());
        }
        match host_process(self.pid) {
            None => Liveness::Gone(format!("PID {} is gone", self.pid)),
            Some((start, _)) if start != self.start_time => Liveness::Gone(format!(
                "PID {} is another process now (started at tick {start}, not {})",
                self.pid, self.start_time
            )),
            Some((_, 'Z' | 'X')) => {
                Liveness::Gone(format!("PID {} has exited (a zombie)", self.pid))
            }
            Some(_) => Liveness::Alive,
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} PID {} on {} (started at tick {})",
            self.name, self.pid, self.host, self.start_time
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_or_reused_pid_is_not() {
        let me = Owner::current().unwrap();
        assert_eq!(me.liveness(), Liveness::Alive);
        let reused = Owner {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert!(
            matches!(reused.liveness(), Liveness::Gone(why) if why.contains("another process"))
        );
        let elsewhere = Owner {
            host: "not-this-host".into(),
            ..me.clone()
        };
        assert_eq!(
            elsewhere.liveness(),
            Liveness::OtherHost("not-this-host".into())
        );
        let rebooted = Owner {
            boot_id: "an-earlier-boot".into(),
            ..me
        };
        assert!(matches!(rebooted.liveness(), Liveness::Gone(why) if why.contains("rebooted")));
    }
}
