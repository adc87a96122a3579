//! The write-ahead undo journal: before the harness makes something it has
//! to take away again (a kind cluster, a fault on a node, a child process),
//! it records the intent; after, the completion; after undoing it, that.
//! When the runner dies without its destructors (SIGKILL, OOM, a cancelled
//! CI job), `cni-chaos clean` and the sweep at the start of every kind run
//! read the journals of runs whose owner is gone and replay what is still
//! pending ([`crate::backend::kind::clean`]).
//!
//! One folder per run, one file per record, each written to a temporary
//! name and renamed into place, so a kill mid-write never corrupts an
//! earlier record; a torn last record is expected after a kill and is
//! skipped, a corrupt earlier one is a warning naming the file and leaves
//! the whole run alone.

mod error;
mod owner;
mod record;
mod store;

pub use error::JournalError;
pub use owner::{Liveness, Owner, this_host};
pub use record::{ContainerRef, OvsPlace, Record, Resource};
pub use store::{JOURNAL_DIR_ENV, Journal, Pending, RunJournal, RunLog};
