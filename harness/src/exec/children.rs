//! [`ChildLog`]: where a [`LocalRunner`](super::LocalRunner) reports the
//! processes it starts and reaps, so a journal can find them again after
//! the runner itself died.

/// Told of every child process a runner starts and reaps.
pub trait ChildLog: Send + Sync + std::fmt::Debug {
    /// Child `pid` was started for `command` (its rendered command line);
    /// `start_time` is its `starttime` in `/proc/<pid>/stat` (clock ticks
    /// after boot), `None` when it could not be read.
    fn started(&self, pid: u32, start_time: Option<u64>, command: &str);

    /// Child `pid` has ended: reaped, or killed when its future was dropped.
    fn reaped(&self, pid: u32);
}

/// The `starttime` of `pid` on this host (`/proc/<pid>/stat` field 22), and
/// whether it is still a live process (not a zombie); `None` when there is
/// no such process.
pub fn host_process(pid: u32) -> Option<(u64, char)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let close = text.rfind(')')?;
    let mut fields = text[close + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_start_time_and_runs() {
        let (start, state) = host_process(std::process::id()).expect("our own stat");
        assert!(start > 0);
        assert!(matches!(state, 'R' | 'S'), "{state}");
        // PID 0 is never a process in /proc.
        assert_eq!(host_process(0), None);
    }
}
