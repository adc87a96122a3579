//! The nightly's matrix: cells of `versions.yaml` and shards of each cell's
//! scenarios, each shard short enough for one GitHub job.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::PlanError;
use super::estimate::{ClusterEstimate, Constants, Estimates, estimate_run, minutes, plan_of};
use crate::backend::kind::VersionMatrix;

/// No shard is planned longer than this (issue #13: about 45 minutes, so
/// that a job limit of an hour and a quarter leaves room for the scenario in
/// flight at the deadline, teardown and the reports).
pub const SHARD_LIMIT: Duration = Duration::from_secs(45 * 60);

/// One cell of the matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Cell {
    /// The version set's name.
    pub name: String,
    /// The kind release to install (versions.yaml `kind.min-version`).
    pub kind_version: String,
    /// The node image, pinned by digest.
    pub node_image: String,
    /// Kube-OVN's version.
    pub kube_ovn: String,
    /// Multus' version.
    pub multus: String,
}

/// One job of the nightly: some scenarios of one cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Shard {
    /// Stable id: `<cell>--<suites joined by +>-<n>`; also the suffix of the
    /// job's report artifact.
    pub id: String,
    /// The cell.
    pub cell: String,
    /// The kind release.
    pub kind_version: String,
    /// The cell's node image.
    pub node_image: String,
    /// The suites it draws from (`CHAOS_SUITES`).
    pub suites: Vec<String>,
    /// Its scenarios (`CHAOS_SCENARIOS`), in run order.
    pub scenarios: Vec<String>,
    /// The cluster profiles it provisions.
    pub profiles: Vec<String>,
    /// The job's expected wall time, in whole minutes (rounded up): job
    /// setup plus every cluster's estimate.
    pub estimate_minutes: u64,
    /// The job's own steps before the run.
    #[serde(with = "crate::util::serde_millis")]
    pub job_setup: Duration,
    /// Per cluster profile.
    pub clusters: Vec<ClusterEstimate>,
}

/// What `cni-chaos matrix --json` prints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Matrix {
    /// The shard limit, in minutes.
    pub limit_minutes: u64,
    /// The constants of every estimate.
    pub constants: Constants,
    /// The estimates file read.
    pub estimates: PathBuf,
    /// The cells.
    pub cells: Vec<Cell>,
    /// The shards, cell by cell.
    pub shards: Vec<Shard>,
}

/// The matrix of `cells` (every cell of `versions` when none) over the
/// suites at `suite_paths`. Each cell's scenarios are cut, in run order,
/// into the fewest shards of at most `limit` (then the fewest
/// runner-minutes); a shard provisions its own cluster, which its estimate
/// counts.
pub fn matrix(
    versions: &Path,
    suite_paths: &[PathBuf],
    estimates_path: &Path,
    cells: Option<&[String]>,
    constants: Constants,
    limit: Duration,
) -> Result<Matrix, PlanError> {
    let vm = VersionMatrix::load(versions).map_err(|e| PlanError::Load {
        what: versions.display().to_string(),
        message: e.to_string(),
    })?;
    let estimates = Estimates::load(estimates_path)?;
    let names: Vec<String> = match cells {
        None => vm.sets.keys().cloned().collect(),
        Some(wanted) => {
            for w in wanted {
                if !vm.sets.contains_key(w) {
                    return Err(PlanError::Load {
                        what: format!("--cell {w:?}"),
                        message: format!(
                            "no such version set in {}; expected one of: {}",
                            versions.display(),
                            vm.sets.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    });
                }
            }
            wanted.to_vec()
        }
    };
    let mut out = Matrix {
        limit_minutes: minutes(limit),
        constants,
        estimates: estimates_path.to_path_buf(),
        cells: Vec::new(),
        shards: Vec::new(),
    };
    for name in names {
        let set = &vm.sets[&name];
        let cell = Cell {
            name: name.clone(),
            kind_version: vm.kind.min_version.clone(),
            node_image: set.kubernetes.node_image.clone(),
            kube_ovn: set.kube_ovn.version.clone(),
            multus: set.multus.version.clone(),
        };
        let suites = crate::run::load_suites(suite_paths, Some(&name)).map_err(|message| {
            PlanError::Load {
                what: "suites".into(),
                message,
            }
        })?;
        let order: Vec<String> = plan_of(&suites)
            .into_iter()
            .flat_map(|(_, _, ids)| ids)
            .collect();
        let shards = pack(
            &cell,
            &suites,
            &order,
            &estimates,
            estimates_path,
            constants,
            limit,
        )?;
        out.shards.extend(shards);
        out.cells.push(cell);
    }
    Ok(out)
}

/// Packs `order` (scenario ids in run order) into shards of at most `limit`.
fn pack(
    cell: &Cell,
    suites: &[crate::suite::Suite],
    order: &[String],
    estimates: &Estimates,
    source: &Path,
    constants: Constants,
    limit: Duration,
) -> Result<Vec<Shard>, PlanError> {
    let build = |ids: &[String]| -> Shard {
        let picked = crate::run::select_scenarios(suites.to_vec(), Some(ids)).unwrap_or_default();
        let plan = plan_of(&picked);
        let est = estimate_run(estimates, source, constants, &plan);
        Shard {
            id: String::new(),
            cell: cell.name.clone(),
            kind_version: cell.kind_version.clone(),
            node_image: cell.node_image.clone(),
            suites: picked.iter().map(|s| s.name.clone()).collect(),
            scenarios: plan.iter().flat_map(|(_, _, ids)| ids.clone()).collect(),
            profiles: plan.iter().map(|(p, _, _)| p.clone()).collect(),
            estimate_minutes: minutes(constants.job_setup + est.total),
            job_setup: constants.job_setup,
            clusters: est.clusters,
        }
    };
    let over = |s: &Shard| s.estimate_minutes > minutes(limit);
    // The fewest shards, then the fewest runner-minutes, over every way of
    // cutting the run order into consecutive shards (n is a few dozen: the
    // O(n^2) shard estimates are instant). Cutting right after a scenario
    // that leaves its cluster to be replaced saves a provisioning, which a
    // greedy packing would not see.
    let n = order.len();
    let mut best: Vec<Option<(usize, u64, usize)>> = vec![None; n + 1];
    best[0] = Some((0, 0, 0));
    for end in 1..=n {
        for start in 0..end {
            let Some((count, total, _)) = best[start] else {
                continue;
            };
            let shard = build(&order[start..end]);
            // A lone scenario over the limit is still a shard: reported below.
            if over(&shard) && end - start > 1 {
                continue;
            }
            let candidate = (count + 1, total + shard.estimate_minutes, start);
            if best[end].is_none_or(|(c, t, _)| (candidate.0, candidate.1) < (c, t)) {
                best[end] = Some(candidate);
            }
        }
    }
    let mut cuts = vec![n];
    while let Some(&end) = cuts.last()
        && end > 0
    {
        let (_, _, start) = best[end].unwrap_or((0, 0, 0));
        cuts.push(start);
    }
    cuts.reverse();
    let mut shards: Vec<Shard> = cuts.windows(2).map(|w| build(&order[w[0]..w[1]])).collect();
    // Stable ids: the cell, the suites, and the shard's place among the
    // cell's shards of the same suites.
    let mut seen: std::collections::BTreeMap<String, u32> = Default::default();
    for s in &mut shards {
        let group = s.suites.join("+");
        let n = seen.entry(group.clone()).or_default();
        *n += 1;
        s.id = format!("{}--{group}-{n}", s.cell);
        if over(s) {
            let why = s
                .clusters
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            return Err(PlanError::OverLimit {
                shard: s.id.clone(),
                minutes: s.estimate_minutes,
                limit: minutes(limit),
                why: format!(
                    "{} alone; job setup {} min; {why}",
                    s.scenarios.join(", "),
                    minutes(s.job_setup)
                ),
            });
        }
    }
    Ok(shards)
}
