//! [`Journal`] (the per-user folder of run journals), [`RunJournal`] (one
//! run's writer) and [`RunLog`] (one run's journal as read back).

use std::collections::BTreeMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::{ContainerRef, JournalError, Owner, Record, Resource};
use crate::backend::kind::Undo;
use crate::exec::ChildLog;

/// Overrides the journal's folder (tests set it, so they never touch a
/// developer's real journal).
pub const JOURNAL_DIR_ENV: &str = "CHAOS_JOURNAL_DIR";

/// The file of the run record, the first of every run.
const RUN_FILE: &str = "00000000-run.json";

/// The folder holding one sub-folder per run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Journal {
    root: PathBuf,
}

impl Journal {
    /// The journal in `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Journal { root: root.into() }
    }

    /// `$CHAOS_JOURNAL_DIR`, else `$XDG_STATE_HOME/cni-chaos/journal`, else
    /// `$HOME/.local/state/cni-chaos/journal` (the XDG base directory
    /// specification's default): one per user.
    pub fn from_env() -> Result<Self, JournalError> {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        if let Some(dir) = var(JOURNAL_DIR_ENV) {
            return Ok(Journal::at(dir));
        }
        if let Some(state) = var("XDG_STATE_HOME") {
            return Ok(Journal::at(
                PathBuf::from(state).join("cni-chaos").join("journal"),
            ));
        }
        match var("HOME") {
            Some(home) => Ok(Journal::at(
                PathBuf::from(home).join(".local/state/cni-chaos/journal"),
            )),
            None => Err(JournalError::NoStateHome {
                env: JOURNAL_DIR_ENV,
            }),
        }
    }

    /// Its folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts the journal of a new run owned by this process, which uses
    /// the Docker daemon at `docker_host`.
    pub fn begin(&self, docker_host: Option<String>) -> Result<RunJournal, JournalError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|e| JournalError::io("creating", &self.root, e))?;
        let owner = Owner::current()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let run_id = format!("{}-{nanos:x}", owner.pid);
        let dir = self.root.join(&run_id);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| JournalError::io("creating", &dir, e))?;
        write_record(
            &dir,
            RUN_FILE,
            &Record::Run {
                run_id: run_id.clone(),
                owner,
                docker_host,
            },
        )?;
        Ok(RunJournal {
            dir,
            run_id,
            state: Mutex::default(),
        })
    }

    /// Every run's journal, oldest first by folder name. A missing folder
    /// holds none.
    pub fn runs(&self) -> Result<Vec<RunLog>, JournalError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(JournalError::io("listing", &self.root, e)),
        };
        let mut dirs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| JournalError::io("listing", &self.root, e))?;
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(entry.path());
            }
        }
        dirs.sort();
        dirs.into_iter().map(|d| RunLog::read(&d)).collect()
    }
}

/// Writes `record` to `dir/name`: to a temporary name first, then renamed
/// into place, so a kill mid-write leaves a stray temporary file, never a
/// half-written record under a record's name. Not synced to disk: a killed
/// process loses nothing it wrote; a power loss may, and the reader treats
/// a torn last record as expected.
fn write_record(dir: &Path, name: &str, record: &Record) -> Result<(), JournalError> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let bytes = serde_json::to_vec_pretty(record).map_err(|source| JournalError::Encode {
        path: path.clone(),
        source,
    })?;
    std::fs::write(&tmp, bytes).map_err(|e| JournalError::io("writing", &tmp, e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| JournalError::io("setting the mode of", &tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| JournalError::io("renaming", &tmp, e))
}

fn intent_file(id: u64) -> String {
    format!("{id:08}-intent.json")
}

fn done_file(id: u64) -> String {
    format!("{id:08}-done.json")
}

/// Removes a record file; one already gone is fine.
fn remove_file(path: &Path) -> Result<(), JournalError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(JournalError::io("removing", path, e)),
    }
}

/// Removes intent `id`'s records: the completion first, the intent last,
/// so a kill in between leaves the intent (replayed again, harmlessly)
/// and never a completion without its intent that means anything.
fn forget(dir: &Path, id: u64) -> Result<(), JournalError> {
    remove_file(&dir.join(done_file(id)))?;
    remove_file(&dir.join(intent_file(id)))
}

/// The journal a live run writes. Shared (behind an `Arc`) by everything
/// in the run that makes resources.
#[derive(Debug)]
pub struct RunJournal {
    dir: PathBuf,
    run_id: String,
    state: Mutex<WriterState>,
}

#[derive(Debug, Default)]
struct WriterState {
    last: u64,
    /// What is recorded and not yet undone, by intent.
    pending: BTreeMap<u64, Resource>,
    /// Child PID to its intent.
    children: BTreeMap<u32, u64>,
}

impl RunJournal {
    /// The run's ID.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The run's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn state(&self) -> std::sync::MutexGuard<'_, WriterState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the intent to make `resource`; returns its ID. Written
    /// before the action runs.
    pub fn intent(&self, resource: Resource) -> Result<u64, JournalError> {
        let mut state = self.state();
        state.last += 1;
        let id = state.last;
        write_record(
            &self.dir,
            &intent_file(id),
            &Record::Intent {
                id,
                resource: resource.clone(),
            },
        )?;
        state.pending.insert(id, resource);
        Ok(id)
    }

    /// Records that intent `id`'s action finished, with the containers it
    /// made.
    pub fn done(&self, id: u64, containers: Vec<ContainerRef>) -> Result<(), JournalError> {
        write_record(&self.dir, &done_file(id), &Record::Done { id, containers })
    }

    /// Records that intent `id` is undone: its records go.
    pub fn undone(&self, id: u64) -> Result<(), JournalError> {
        let mut state = self.state();
        forget(&self.dir, id)?;
        state.pending.remove(&id);
        Ok(())
    }

    /// Records that `undo` ran: every pending fault on its node whose undo
    /// is of the same kind is undone. (A fault records its undo before it
    /// acts, from what it plans; what it returns may name less, e.g. only
    /// the namespaces it got to make, or more, e.g. a busy shim frozen
    /// after the daemon; one fault of a kind runs on a node at a time.)
    pub fn undone_fault(&self, undo: &Undo) -> Result<(), JournalError> {
        let kind = std::mem::discriminant(undo);
        let ids: Vec<u64> = self
            .state()
            .pending
            .iter()
            .filter(|(_, r)| {
                matches!(r, Resource::NodeFault { undo: u, .. }
                    if std::mem::discriminant(u) == kind && u.node() == undo.node())
            })
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.undone(id)?;
        }
        Ok(())
    }

    /// The pending intent for cluster `name`, if any.
    pub fn cluster(&self, name: &str) -> Option<u64> {
        self.state().pending.iter().rev().find_map(|(id, r)| {
            matches!(r, Resource::Cluster { name: n } if n == name).then_some(*id)
        })
    }

    /// What is recorded and not undone.
    pub fn pending(&self) -> Vec<Resource> {
        self.state().pending.values().cloned().collect()
    }

    /// Ends the run's journal: its folder goes when nothing is pending (a
    /// kept cluster is: `clean` lists it). Returns whether it went.
    pub fn finish(&self) -> Result<bool, JournalError> {
        let state = self.state();
        if !state.pending.is_empty() {
            return Ok(false);
        }
        remove_file(&self.dir.join(RUN_FILE))?;
        std::fs::remove_dir(&self.dir).map_err(|e| JournalError::io("removing", &self.dir, e))?;
        Ok(true)
    }
}

impl ChildLog for RunJournal {
    fn started(&self, pid: u32, start_time: Option<u64>, command: &str) {
        match self.intent(Resource::Child {
            pid,
            start_time,
            command: command.to_string(),
        }) {
            Ok(id) => {
                self.state().children.insert(pid, id);
            }
            Err(e) => tracing::warn!("journal: recording child {pid} failed: {e}"),
        }
    }

    fn reaped(&self, pid: u32) {
        let id = self.state().children.remove(&pid);
        if let Some(id) = id
            && let Err(e) = self.undone(id)
        {
            tracing::warn!("journal: recording the end of child {pid} failed: {e}");
        }
    }
}

/// A pending resource of a run, as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Its intent's ID.
    pub id: u64,
    /// What it is.
    pub resource: Resource,
    /// Whether its action finished (else the runner died between the
    /// intent and the completion: the undo tolerates "never happened").
    pub done: bool,
    /// The containers its completion recorded.
    pub containers: Vec<ContainerRef>,
}

/// One run's journal as read back from disk.
#[derive(Clone, Debug)]
pub struct RunLog {
    /// Its folder.
    pub dir: PathBuf,
    /// The run record, when it could be read.
    pub run: Option<(String, Owner, Option<String>)>,
    /// What is pending, newest first.
    pub pending: Vec<Pending>,
    /// Records that cannot be read and are not the last one: each names
    /// its file. A run with any is left alone.
    pub corrupt: Vec<String>,
    /// A torn last record or stray temporary file (expected after a kill):
    /// skipped.
    pub torn: Vec<PathBuf>,
}

impl RunLog {
    /// Reads the run in `dir`.
    pub fn read(dir: &Path) -> Result<RunLog, JournalError> {
        let mut files = Vec::new();
        let mut torn = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| JournalError::io("listing", dir, e))? {
            let entry = entry.map_err(|e| JournalError::io("listing", dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                torn.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
        files.sort();
        let mut log = RunLog {
            dir: dir.to_path_buf(),
            run: None,
            pending: Vec::new(),
            corrupt: Vec::new(),
            torn,
        };
        let mut intents = BTreeMap::new();
        let mut done: BTreeMap<u64, Vec<ContainerRef>> = BTreeMap::new();
        let last = files.len().saturating_sub(1);
        for (i, path) in files.iter().enumerate() {
            let parsed = std::fs::read(path)
                .map_err(|e| e.to_string())
                .and_then(|b| serde_json::from_slice::<Record>(&b).map_err(|e| e.to_string()));
            match parsed {
                Ok(Record::Run {
                    run_id,
                    owner,
                    docker_host,
                }) => log.run = Some((run_id, owner, docker_host)),
                Ok(Record::Intent { id, resource }) => {
                    intents.insert(id, resource);
                }
                Ok(Record::Done { id, containers }) => {
                    done.insert(id, containers);
                }
                // The newest record is the one a kill (or a power loss)
                // can tear: expected, skipped.
                Err(_) if i == last && i > 0 => log.torn.push(path.clone()),
                Err(e) => log.corrupt.push(format!(
                    "{}: unreadable journal record ({e}); the run is left alone: look at it, then remove {} by hand",
                    path.display(),
                    dir.display()
                )),
            }
        }
        if log.run.is_none() && log.corrupt.is_empty() {
            log.corrupt.push(format!(
                "{}: no run record (the run's owner is unknown); the run is left alone",
                dir.join(RUN_FILE).display()
            ));
        }
        log.pending = intents
            .into_iter()
            .rev()
            .map(|(id, resource)| Pending {
                id,
                done: done.contains_key(&id),
                containers: done.remove(&id).unwrap_or_default(),
                resource,
            })
            .collect();
        Ok(log)
    }

    /// The run's ID (its folder's name).
    pub fn run_id(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Removes intent `id`'s records: it is undone.
    pub fn forget(&self, id: u64) -> Result<(), JournalError> {
        forget(&self.dir, id)
    }

    /// Removes the run's folder once nothing is pending: its run record,
    /// torn records, then the folder itself, which fails (and leaves it) if
    /// anything else is still in it.
    pub fn remove(&self) -> Result<(), JournalError> {
        // Nothing goes while a record this reading did not account for is
        // there (written since, or unknown): the run record stays with it.
        let mut others = Vec::new();
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let path = entry.path();
                if entry.file_name() != RUN_FILE && !self.torn.contains(&path) {
                    others.push(path.display().to_string());
                }
            }
        }
        if !others.is_empty() {
            return Err(JournalError::NotEmpty {
                dir: self.dir.clone(),
                files: others,
            });
        }
        for torn in &self.torn {
            remove_file(torn)?;
        }
        remove_file(&self.dir.join(RUN_FILE))?;
        // Another sweep (a second run starting at the same time) may have
        // removed it first.
        match std::fs::remove_dir(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(JournalError::io("removing", &self.dir, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(name: &str) -> Resource {
        Resource::Cluster { name: name.into() }
    }

    #[test]
    fn records_round_trip_and_undone_ones_go() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::at(tmp.path().join("j"));
        let run = journal.begin(Some("unix:///x.sock".into())).unwrap();
        let a = run.intent(cluster("chaos-a")).unwrap();
        run.done(
            a,
            vec![ContainerRef {
                name: "chaos-a-control-plane".into(),
                id: "abc".into(),
            }],
        )
        .unwrap();
        let b = run.intent(cluster("chaos-b")).unwrap();
        let c = run.intent(cluster("chaos-c")).unwrap();
        run.undone(c).unwrap();
        assert_eq!(run.cluster("chaos-b"), Some(b));
        assert_eq!(run.cluster("chaos-c"), None);
        let mode = std::fs::metadata(journal.root())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);

        let runs = journal.runs().unwrap();
        assert_eq!(runs.len(), 1);
        let log = &runs[0];
        assert_eq!(log.run_id(), run.run_id());
        let (id, owner, docker) = log.run.clone().unwrap();
        assert_eq!(id, run.run_id());
        assert_eq!(owner, Owner::current().unwrap());
        assert_eq!(docker.as_deref(), Some("unix:///x.sock"));
        assert!(log.corrupt.is_empty() && log.torn.is_empty(), "{log:?}");
        // Newest first; b never completed.
        let got: Vec<(u64, bool, usize)> = log
            .pending
            .iter()
            .map(|p| (p.id, p.done, p.containers.len()))
            .collect();
        assert_eq!(got, [(b, false, 0), (a, true, 1)]);

        // Not finished while something is pending; finished after.
        assert!(!run.finish().unwrap());
        run.undone(a).unwrap();
        run.undone(b).unwrap();
        assert!(run.finish().unwrap());
        assert!(journal.runs().unwrap().is_empty());
    }

    #[test]
    fn a_torn_last_record_is_skipped_and_a_corrupt_older_one_names_its_file() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::at(tmp.path());
        let run = journal.begin(None).unwrap();
        let a = run.intent(cluster("chaos-a")).unwrap();
        // A kill mid-write leaves a temporary file; a power loss, a torn
        // last record.
        std::fs::write(run.dir().join(".00000002-intent.json.tmp"), b"{\"rec").unwrap();
        std::fs::write(run.dir().join(intent_file(2)), b"{\"record\": \"int").unwrap();
        let log = &journal.runs().unwrap()[0];
        assert!(log.corrupt.is_empty(), "{:?}", log.corrupt);
        assert_eq!(log.torn.len(), 2, "{:?}", log.torn);
        assert_eq!(log.pending.len(), 1);
        assert_eq!(log.pending[0].id, a);
        assert!(log.run.is_some());

        // The same bytes followed by a good record: corruption, named.
        run.intent(cluster("chaos-x")).unwrap(); // id 2 over the torn file
        std::fs::write(run.dir().join(intent_file(2)), b"not json").unwrap();
        run.intent(cluster("chaos-y")).unwrap();
        let log = &journal.runs().unwrap()[0];
        assert_eq!(log.corrupt.len(), 1, "{:?}", log.corrupt);
        let path = run.dir().join(intent_file(2));
        assert!(
            log.corrupt[0].starts_with(&format!("{}: unreadable journal record", path.display())),
            "{}",
            log.corrupt[0]
        );
        // Removing the folder refuses while a record it does not know of
        // is in it.
        log.forget(1).unwrap();
        log.forget(3).unwrap();
        let err = log.remove().unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(run.dir().join(RUN_FILE).exists());
        // Once empty it goes, and a second removal (another sweep) is fine.
        std::fs::remove_file(&path).unwrap();
        let log = &journal.runs().unwrap()[0];
        assert!(log.run.is_some());
        log.remove().unwrap();
        assert!(!run.dir().exists());
        log.remove().unwrap();
    }

    #[test]
    fn a_run_without_its_run_record_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::at(tmp.path());
        let run = journal.begin(None).unwrap();
        run.intent(cluster("chaos-a")).unwrap();
        std::fs::remove_file(run.dir().join(RUN_FILE)).unwrap();
        let log = &journal.runs().unwrap()[0];
        assert!(log.run.is_none());
        assert_eq!(log.corrupt.len(), 1);
        assert!(
            log.corrupt[0].contains("no run record"),
            "{:?}",
            log.corrupt
        );
    }

    #[test]
    fn children_are_recorded_until_reaped() {
        let tmp = tempfile::tempdir().unwrap();
        let run = Journal::at(tmp.path()).begin(None).unwrap();
        run.started(4242, Some(7), "kind create cluster");
        assert_eq!(
            run.pending(),
            [Resource::Child {
                pid: 4242,
                start_time: Some(7),
                command: "kind create cluster".into()
            }]
        );
        run.reaped(4242);
        assert!(run.pending().is_empty());
        assert!(run.finish().unwrap());
    }

    #[test]
    fn the_folder_comes_from_the_override_then_xdg_then_home() {
        // Only reads: the environment of the test process is shared, so
        // the variables are not changed here; the override is what tests
        // set, and this one asserts the rule for the variables as they are.
        let got = Journal::from_env();
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        match (var(JOURNAL_DIR_ENV), var("XDG_STATE_HOME"), var("HOME")) {
            (Some(o), _, _) => assert_eq!(got.unwrap().root(), Path::new(&o)),
            (None, Some(x), _) => {
                assert_eq!(got.unwrap().root(), Path::new(&x).join("cni-chaos/journal"));
            }
            (None, None, Some(h)) => assert_eq!(
                got.unwrap().root(),
                Path::new(&h).join(".local/state/cni-chaos/journal")
            ),
            (None, None, None) => assert!(got.is_err()),
        }
    }
}
