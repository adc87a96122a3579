//! Finding and loading suite files. The runner and `cni-chaos validate` both
//! go through [`load`], so what validates is exactly what runs.

use std::path::{Path, PathBuf};

use super::error::{Problem, SuiteError};
use super::model::Suite;
use super::read::{self, Cx};
use super::yaml::{self, Loc};

/// Reads one suite from its text; `file` is used in problems only.
pub fn parse_str(file: &Path, text: &str) -> Result<Suite, Vec<Problem>> {
    let whole = |rule: String, loc: Loc| Problem {
        file: file.to_path_buf(),
        loc,
        path: String::new(),
        value: None,
        rule,
    };
    if text.trim().is_empty() {
        return Err(vec![whole(
            "the file is empty; a suite needs name, description and scenarios".into(),
            Loc { line: 1, column: 1 },
        )]);
    }
    let root = yaml::parse(text)
        .map_err(|e| vec![whole(format!("invalid YAML: {}", e.message), e.loc)])?;
    if root.value == super::yaml::Value::Null {
        // Only comments: as empty as an empty file.
        return Err(vec![whole(
            "the file is empty; a suite needs name, description and scenarios".into(),
            Loc { line: 1, column: 1 },
        )]);
    }
    let mut cx = Cx::new(file);
    let suite = read::suite(&mut cx, &root);
    match suite {
        Some(s) if cx.problems.is_empty() => Ok(s),
        _ => {
            let mut problems = cx.problems;
            if problems.is_empty() {
                // A reader returned None without saying why: never let that pass silently.
                problems.push(whole("the suite could not be read".into(), root.loc));
            }
            problems.sort_by_key(|p| p.loc);
            Err(problems)
        }
    }
}

/// Reads one suite file.
pub fn load_file(path: &Path) -> Result<Suite, SuiteError> {
    let text = std::fs::read_to_string(path).map_err(|source| SuiteError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_str(path, &text).map_err(|problems| SuiteError::Invalid { problems })
}

/// Expands files and directories into suite files: a directory contributes its
/// `*.yaml` and `*.yml` files (not recursive), sorted by name.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SuiteError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|source| SuiteError::Read {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| SuiteError::Read {
                path: path.clone(),
                source,
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
                })
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    if files.is_empty() {
        return Err(SuiteError::NoSuites(paths.to_vec()));
    }
    Ok(files)
}

/// Loads every suite under `paths`, reporting every problem in every file, and
/// checks that suite names are unique.
pub fn load(paths: &[PathBuf]) -> Result<Vec<Suite>, SuiteError> {
    let files = discover(paths)?;
    let mut suites: Vec<Suite> = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        match load_file(file) {
            Ok(suite) => {
                if let Some(first) = suites.iter().find(|s| s.name == suite.name) {
                    problems.push(Problem {
                        file: file.clone(),
                        loc: suite.locs.name,
                        path: "name".into(),
                        value: Some(format!("{:?}", suite.name)),
                        rule: format!(
                            "duplicate suite name (also in {}); trial names suite::scenario must be unique",
                            first.file.display()
                        ),
                    });
                } else {
                    suites.push(suite);
                }
            }
            Err(SuiteError::Invalid { problems: p }) => problems.extend(p),
            Err(other) => return Err(other),
        }
    }
    if problems.is_empty() {
        Ok(suites)
    } else {
        Err(SuiteError::Invalid { problems })
    }
}

/// The kind configs and version sets a workspace offers suites to name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Known {
    /// Names under `kind-configs/` (file stems).
    pub kind_configs: std::collections::BTreeSet<String>,
    /// Set names in `versions.yaml`.
    pub version_sets: std::collections::BTreeSet<String>,
}

/// Reports every suite whose `cluster.kind-config` or `cluster.versions`
/// names something `known` does not have, at that field.
pub fn check_references(suites: &[Suite], known: &Known) -> Result<(), SuiteError> {
    let mut problems = Vec::new();
    for s in suites {
        let refs = [
            (
                "cluster.kind-config",
                &s.cluster.kind_config,
                s.locs.kind_config,
                &known.kind_configs,
                "no such kind config under kind-configs/",
            ),
            (
                "cluster.versions",
                &s.cluster.versions,
                s.locs.versions,
                &known.version_sets,
                "no such version set in versions.yaml",
            ),
        ];
        for (path, name, loc, set, what) in refs {
            if !set.contains(name) {
                problems.push(Problem {
                    file: s.file.clone(),
                    // An unwritten field is the default: point at the suite.
                    loc: loc.unwrap_or(s.locs.name),
                    path: path.into(),
                    value: Some(format!("{name:?}")),
                    rule: format!(
                        "{what}; expected one of: {}",
                        set.iter().cloned().collect::<Vec<_>>().join(", ")
                    ),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SuiteError::Invalid { problems })
    }
}
