//! Errors from loading suite files.

use std::fmt;
use std::path::PathBuf;

use super::yaml::Loc;

/// One problem in a suite file, with everything needed to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// Line and column of the offending node.
    pub loc: Loc,
    /// The field path, e.g. `scenarios[1].fault.mode`.
    pub path: String,
    /// The offending value as written, if there is one.
    pub value: Option<String>,
    /// The rule it breaks.
    pub rule: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.loc)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.rule)?;
        if let Some(v) = &self.value {
            write!(f, " (found {v})")?;
        }
        Ok(())
    }
}

/// Loading suites failed.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// A file or directory could not be read.
    #[error("could not read {}: {source}", path.display())]
    Read {
        /// What was being read.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// One or more files are invalid; every problem found is listed.
    #[error("{} problem{} in suite files:\n{}", problems.len(), if problems.len() == 1 { "" } else { "s" }, Problems(problems))]
    Invalid {
        /// Every problem, in file and line order.
        problems: Vec<Problem>,
    },
    /// Nothing to run.
    #[error("no suite files (*.yaml) found in {}", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    NoSuites(Vec<PathBuf>),
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  {p}")?;
        }
        Ok(())
    }
}
