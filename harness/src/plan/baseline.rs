//! The trend baseline of a nightly shard: the newest completed scheduled
//! run of the workflow on the default branch that has a report artifact of
//! the shard's cell, found and downloaded with the GitHub CLI (`gh`).
//!
//! Every artifact of the cell in that run is downloaded (one folder each),
//! and the trend matches scenarios by id across them, so a shard whose
//! scenarios moved to other shards since still finds its baseline. A run
//! whose jobs failed is as good a baseline as a green one: its measured
//! values are what the trend compares. No such run (the first night, expired
//! artifacts) is "no baseline", not an error.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::PlanError;
use crate::exec::{Command, Runner};

/// What to look for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaselineQuery {
    /// `owner/name` (`$GITHUB_REPOSITORY`).
    pub repo: String,
    /// The workflow file, e.g. `nightly.yml`.
    pub workflow: String,
    /// The default branch.
    pub branch: String,
    /// The artifact names that count: every name starting with this, e.g.
    /// `reports-default--` for every shard of the cell `default`.
    pub artifact_prefix: String,
    /// Where to download them (one folder per artifact).
    pub dir: PathBuf,
    /// How many of the newest scheduled runs to consider.
    pub runs: u32,
    /// Time limit of each `gh` command.
    pub timeout: Duration,
}

/// What was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaselineFound {
    /// The run, when one had an artifact of the cell.
    pub run_id: Option<u64>,
    /// Its artifacts that were downloaded, each under `dir/<name>`.
    pub artifacts: Vec<String>,
    /// Why there is none, when there is none.
    pub none: Option<String>,
}

fn gh(args: &[String], timeout: Duration) -> Command {
    Command::new("gh")
        .args(args.iter().cloned())
        .timeout(timeout)
}

async fn json(runner: &dyn Runner, cmd: &Command) -> Result<Value, PlanError> {
    let line = cmd.argv().join(" ");
    let out = runner.run(cmd).await.map_err(|e| PlanError::Gh {
        command: line.clone(),
        message: e.to_string(),
    })?;
    let text = out.stdout_str();
    let text = text.trim();
    // `gh ... --jq` and some versions answer an empty list as nothing, or as
    // `null`: both mean "none", never a run id.
    if text.is_empty() || text == "null" {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| PlanError::Gh {
        command: line,
        message: format!("not JSON ({e}): {}", tail(text)),
    })
}

fn tail(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let start = chars.len().saturating_sub(400);
    chars[start..].iter().collect()
}

/// Finds and downloads the baseline of `query` with `gh` through `runner`.
pub async fn find_baseline(
    runner: &dyn Runner,
    query: &BaselineQuery,
) -> Result<BaselineFound, PlanError> {
    let s = |v: &str| v.to_string();
    let list = gh(
        &[
            s("run"),
            s("list"),
            s("--repo"),
            query.repo.clone(),
            s("--workflow"),
            query.workflow.clone(),
            s("--branch"),
            query.branch.clone(),
            s("--event"),
            s("schedule"),
            s("--status"),
            s("completed"),
            s("--limit"),
            query.runs.to_string(),
            s("--json"),
            s("databaseId,createdAt,conclusion"),
        ],
        query.timeout,
    );
    let runs = json(runner, &list).await?;
    let mut runs: Vec<(String, u64)> = match &runs {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|r| {
                let id = r.get("databaseId").and_then(Value::as_u64);
                let at = r.get("createdAt").and_then(Value::as_str).unwrap_or("");
                id.map(|id| (at.to_string(), id))
                    .ok_or_else(|| PlanError::Gh {
                        command: list.argv().join(" "),
                        message: format!("a run without a numeric databaseId: {r}"),
                    })
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(PlanError::Gh {
                command: list.argv().join(" "),
                message: format!(
                    "expected a JSON array of runs, got {}",
                    tail(&other.to_string())
                ),
            });
        }
    };
    // Newest first, whatever order the answer came in.
    runs.sort_by(|a, b| b.cmp(a));
    for (_, id) in &runs {
        let api = gh(
            &[
                s("api"),
                format!(
                    "repos/{}/actions/runs/{id}/artifacts?per_page=100",
                    query.repo
                ),
            ],
            query.timeout,
        );
        let answer = json(runner, &api).await?;
        let names: Vec<String> = answer
            .get("artifacts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|a| a.get("expired").and_then(Value::as_bool) != Some(true))
            .filter_map(|a| a.get("name").and_then(Value::as_str))
            .filter(|n| n.starts_with(&query.artifact_prefix))
            .map(str::to_string)
            .collect();
        if names.is_empty() {
            continue;
        }
        for name in &names {
            let download = gh(
                &[
                    s("run"),
                    s("download"),
                    id.to_string(),
                    s("--repo"),
                    query.repo.clone(),
                    s("--name"),
                    name.clone(),
                    s("--dir"),
                    query.dir.join(name).display().to_string(),
                ],
                query.timeout,
            );
            runner.run(&download).await.map_err(|e| PlanError::Gh {
                command: download.argv().join(" "),
                message: e.to_string(),
            })?;
        }
        return Ok(BaselineFound {
            run_id: Some(*id),
            artifacts: names,
            none: None,
        });
    }
    Ok(BaselineFound {
        run_id: None,
        artifacts: Vec::new(),
        none: Some(format!(
            "none of the {} newest completed scheduled runs of {} on {} has an unexpired artifact {}*",
            runs.len(),
            query.workflow,
            query.branch,
            query.artifact_prefix
        )),
    })
}
