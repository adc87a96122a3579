//! Run options, from environment variables (documented in the README).

use std::path::PathBuf;

use crate::backend::BackendChoice;

/// Where things are when no variable says otherwise.
#[derive(Clone, Debug)]
pub struct RunDefaults {
    /// The suites folder (`suites/` of the workspace).
    pub suites_dir: PathBuf,
    /// The report root (`reports/` of the workspace).
    pub report_dir: PathBuf,
    /// What relative paths in `CHAOS_SUITES`, `CHAOS_REPORT_DIR` and
    /// `CHAOS_BASELINE` are relative to: the workspace root under `cargo
    /// test` (which runs the binary in `harness/`), the current directory
    /// for the `cni-chaos` binary.
    pub base: PathBuf,
}

impl RunDefaults {
    /// `path` as given when absolute, else under [`RunDefaults::base`]
    /// (what [`Path::join`](std::path::Path::join) does).
    pub fn resolve(&self, path: impl Into<PathBuf>) -> PathBuf {
        self.base.join(path.into())
    }
}

/// Options of one run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// `CHAOS_BACKEND` (+ `CHAOS_SCRIPT`): which backend; default `auto`.
    pub backend: BackendChoice,
    /// `CHAOS_SUITES`: comma-separated suite names (resolved in the suites
    /// folder) or paths to files or folders; default: every suite.
    pub suites: Vec<PathBuf>,
    /// `CHAOS_REPORT_DIR`: report root; default `reports/`.
    pub report_dir: PathBuf,
    /// `CHAOS_KEEP_CLUSTER=1`: keep clusters after the run (prints how to delete them).
    pub keep_cluster: bool,
    /// What relative paths in the variables are relative to (see
    /// [`RunDefaults::base`]).
    pub base: PathBuf,
    /// `CHAOS_SEED`: seed for random node picks and the twin. Unset: the
    /// runner picks one for the backend (see [`RunConfig::seed_for`]).
    pub seed: Option<u64>,
    /// `CHAOS_VERSIONS`: run every suite on this version set (a matrix cell
    /// of `versions.yaml`) instead of the one its `cluster.versions` names.
    pub versions: Option<String>,
    /// `CHAOS_OBSERVE`: `early` (default) ends observation as soon as every
    /// verdict is known; `full` observes the whole window and keeps the
    /// early verdicts beside the final ones, to compare them.
    pub observe: crate::observe::ObserveMode,
    /// `CHAOS_DRY_RUN=1`: print the plan (and the estimate), execute nothing.
    pub dry_run: bool,
    /// `CHAOS_DEADLINE`: past it no new scenario starts; the rest are
    /// reported as "not run: deadline".
    pub deadline: Option<Deadline>,
    /// `CHAOS_SCENARIOS`: comma-separated `suite::scenario` ids; only these
    /// run (a shard of `cni-chaos matrix`). Unset: every loaded scenario.
    pub scenarios: Option<Vec<String>>,
}

/// When a run stops starting scenarios (`CHAOS_DEADLINE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// An RFC 3339 instant on the wall clock (`2026-12-03T04:05:00Z`), as a
    /// workflow computes it from the job's start and its `timeout-minutes`.
    At(jiff::Timestamp),
    /// A duration (`40m`, `1h 10m`) from the run's start on the run's clock:
    /// the virtual clock on the twin, so a twin run can be tested past it.
    After(std::time::Duration),
}

impl Deadline {
    /// Parses `CHAOS_DEADLINE`: an RFC 3339 instant, else a duration.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if let Ok(at) = t.parse::<jiff::Timestamp>() {
            return Ok(Deadline::At(at));
        }
        match crate::util::duration::parse(t) {
            Ok(d) if !d.is_zero() => Ok(Deadline::After(d)),
            _ => Err(
                "expected an RFC 3339 instant (2026-12-03T04:05:00Z) or a duration from the run's start (40m, 1h 10m) greater than zero"
                    .into(),
            ),
        }
    }
}

impl std::fmt::Display for Deadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Deadline::At(t) => write!(f, "{t}"),
            Deadline::After(d) => {
                write!(f, "{} after the start", crate::util::duration::format(*d))
            }
        }
    }
}

/// A variable has a value the harness cannot use.
#[derive(Debug, thiserror::Error)]
#[error("{var}={value:?}: {rule}")]
pub struct ConfigError {
    /// The variable.
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// What it must be.
    pub rule: String,
}

/// The on/off variables: each is read where it is used, and validated
/// here first so a typo stops the run before a backend is chosen (an
/// unrecognised `CHAOS_DRY_RUN` must never mean "run for real").
pub const FLAGS: &[&str] = &[
    "CHAOS_KEEP_CLUSTER",
    "CHAOS_DRY_RUN",
    "CHAOS_ALLOW_UNPINNED",
];

/// Reads an on/off variable: unset, empty, `0`, `false` or `no` is off;
/// `1`, `true` or `yes` (any case) is on; anything else is an error.
pub fn flag(get: impl Fn(&str) -> Option<String>, var: &'static str) -> Result<bool, ConfigError> {
    let Some(value) = get(var) else {
        return Ok(false);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "false" | "no" => Ok(false),
        "1" | "true" | "yes" => Ok(true),
        _ => Err(ConfigError {
            var,
            value,
            rule: "expected 1 or 0 (true/false, yes/no)".into(),
        }),
    }
}

impl RunConfig {
    /// Reads the options through `get` (usually `std::env::var`), so tests can
    /// pass their own environment.
    pub fn from_lookup(
        defaults: &RunDefaults,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let backend_value = get("CHAOS_BACKEND").unwrap_or_default();
        let backend =
            BackendChoice::parse(backend_value.trim(), get("CHAOS_SCRIPT").map(PathBuf::from))
                .map_err(|rule| ConfigError {
                    var: "CHAOS_BACKEND",
                    value: backend_value.clone(),
                    rule,
                })?;
        let suites = match get("CHAOS_SUITES") {
            None => vec![defaults.suites_dir.clone()],
            Some(v) if v.trim().is_empty() => vec![defaults.suites_dir.clone()],
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    let looks_like_name =
                        !s.contains('/') && !s.ends_with(".yaml") && !s.ends_with(".yml");
                    if looks_like_name {
                        defaults.suites_dir.join(format!("{s}.yaml"))
                    } else {
                        defaults.resolve(s)
                    }
                })
                .collect(),
        };
        let report_dir = get("CHAOS_REPORT_DIR")
            .filter(|v| !v.trim().is_empty())
            .map_or_else(|| defaults.report_dir.clone(), |v| defaults.resolve(v));
        for var in FLAGS {
            flag(&get, var)?;
        }
        // Replaced by the profile setting: a run that still sets it would
        // otherwise silently install without the NAT gateway.
        if let Some(value) = get("CHAOS_NAT_GW") {
            return Err(ConfigError {
                var: "CHAOS_NAT_GW",
                value,
                rule:
                    "no longer read: set `nat-gateway: true` under the suite's `cluster:` instead"
                        .into(),
            });
        }
        let keep_cluster = flag(&get, "CHAOS_KEEP_CLUSTER")?;
        let seed = match get("CHAOS_SEED") {
            None => None,
            Some(v) if v.trim().is_empty() => None,
            Some(v) => Some(v.trim().parse().map_err(|_| ConfigError {
                var: "CHAOS_SEED",
                value: v.clone(),
                rule: "expected an unsigned integer".into(),
            })?),
        };
        let versions = match get("CHAOS_VERSIONS").map(|v| v.trim().to_string()) {
            None => None,
            Some(v) if v.is_empty() => None,
            Some(v)
                if v.len() <= 63
                    && v.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
                    }) =>
            {
                Some(v)
            }
            Some(v) => {
                return Err(ConfigError {
                    var: "CHAOS_VERSIONS",
                    value: v,
                    rule: "expected the name of a version set in versions.yaml (lowercase letters, digits, '-', '.')".into(),
                });
            }
        };
        let observe = match get("CHAOS_OBSERVE")
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("" | "early") => crate::observe::ObserveMode::Early,
            Some("full") => crate::observe::ObserveMode::Full,
            Some(_) => {
                return Err(ConfigError {
                    var: "CHAOS_OBSERVE",
                    value: get("CHAOS_OBSERVE").unwrap_or_default(),
                    rule: "expected early or full".into(),
                });
            }
        };
        let deadline = match get("CHAOS_DEADLINE") {
            Some(v) if !v.trim().is_empty() => {
                Some(Deadline::parse(&v).map_err(|rule| ConfigError {
                    var: "CHAOS_DEADLINE",
                    value: v.clone(),
                    rule,
                })?)
            }
            _ => None,
        };
        let scenarios = match get("CHAOS_SCENARIOS") {
            Some(v) if !v.trim().is_empty() => {
                let ids: Vec<String> = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                if let Some(bad) = ids.iter().find(|id| {
                    id.split_once("::")
                        .is_none_or(|(a, b)| a.is_empty() || b.is_empty() || b.contains("::"))
                }) {
                    return Err(ConfigError {
                        var: "CHAOS_SCENARIOS",
                        value: v.clone(),
                        rule: format!(
                            "{bad:?} is not a scenario id: expected comma-separated suite::scenario ids"
                        ),
                    });
                }
                Some(ids)
            }
            _ => None,
        };
        Ok(RunConfig {
            observe,
            dry_run: flag(&get, "CHAOS_DRY_RUN")?,
            deadline,
            scenarios,
            base: defaults.base.clone(),
            backend,
            suites,
            report_dir,
            keep_cluster,
            seed,
            versions,
        })
    }

    /// The run's seed: `CHAOS_SEED`, else the twin's fixed default on a
    /// backend with a virtual clock (a twin run is reproducible unless asked
    /// otherwise), else one from the clock. Printed and stored in every
    /// report either way.
    pub fn seed_for(&self, virtual_clock: bool) -> u64 {
        match self.seed {
            Some(s) => s,
            None if virtual_clock => crate::backend::twin::DEFAULT_SEED,
            None => clock_seed(),
        }
    }

    /// Reads the options from the process environment.
    pub fn from_env(defaults: &RunDefaults) -> Result<Self, ConfigError> {
        Self::from_lookup(defaults, |k| std::env::var(k).ok())
    }
}

fn clock_seed() -> u64 {
    let ns = jiff::Timestamp::now().as_nanosecond();
    u64::try_from(ns.rem_euclid(i128::from(u64::MAX))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> RunDefaults {
        RunDefaults {
            suites_dir: "/w/suites".into(),
            report_dir: "/w/reports".into(),
            base: "/w".into(),
        }
    }

    fn cfg(vars: &[(&str, &str)]) -> Result<RunConfig, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RunConfig::from_lookup(&defaults(), |k| {
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_apply() {
        let c = cfg(&[("CHAOS_SEED", "7")]).unwrap();
        assert_eq!(c.backend, BackendChoice::Auto);
        assert_eq!(c.suites, vec![PathBuf::from("/w/suites")]);
        assert_eq!(c.report_dir, PathBuf::from("/w/reports"));
        assert!(!c.keep_cluster);
        assert_eq!(c.seed, Some(7));
        assert_eq!(c.seed_for(false), 7);
        let unset = cfg(&[]).unwrap();
        assert_eq!(unset.seed_for(true), crate::backend::twin::DEFAULT_SEED);
    }

    #[test]
    fn a_deadline_is_an_instant_or_a_duration_from_the_start() {
        let c = cfg(&[("CHAOS_DEADLINE", "2026-12-03T04:05:00Z")]).unwrap();
        assert_eq!(
            c.deadline,
            Some(Deadline::At("2026-12-03T04:05:00Z".parse().unwrap()))
        );
        let c = cfg(&[("CHAOS_DEADLINE", " 1h 10m ")]).unwrap();
        assert_eq!(
            c.deadline,
            Some(Deadline::After(std::time::Duration::from_secs(70 * 60)))
        );
        assert_eq!(cfg(&[("CHAOS_DEADLINE", "")]).unwrap().deadline, None);
        let c = cfg(&[("CHAOS_SCENARIOS", "smoke::a, nightly::b")]).unwrap();
        assert_eq!(
            c.scenarios,
            Some(vec!["smoke::a".to_string(), "nightly::b".to_string()])
        );
    }

    #[test]
    fn suites_by_name_and_path() {
        let c = cfg(&[("CHAOS_SUITES", "smoke, ./x/y.yaml,incident")]).unwrap();
        assert_eq!(
            c.suites,
            vec![
                PathBuf::from("/w/suites/smoke.yaml"),
                PathBuf::from("/w/./x/y.yaml"),
                PathBuf::from("/w/suites/incident.yaml")
            ]
        );
    }

    #[test]
    fn relative_paths_are_relative_to_the_base_not_to_where_cargo_runs_us() {
        let c = cfg(&[
            ("CHAOS_REPORT_DIR", "out/reports"),
            ("CHAOS_SUITES", "/abs/s.yaml"),
        ])
        .unwrap();
        assert_eq!(c.report_dir, PathBuf::from("/w/out/reports"));
        assert_eq!(c.suites, vec![PathBuf::from("/abs/s.yaml")]);
        let c = cfg(&[("CHAOS_REPORT_DIR", "/tmp/r")]).unwrap();
        assert_eq!(c.report_dir, PathBuf::from("/tmp/r"));
    }

    #[test]
    fn bad_values_name_the_variable_and_rule() {
        let e = cfg(&[("CHAOS_BACKEND", "docker")]).unwrap_err().to_string();
        assert!(e.starts_with("CHAOS_BACKEND=\"docker\""), "{e}");
        assert!(e.contains("auto, kind, twin or scripted"), "{e}");
        let e = cfg(&[("CHAOS_KEEP_CLUSTER", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("CHAOS_KEEP_CLUSTER"), "{e}");
        // Every on/off variable is checked here, before a backend is
        // chosen: a dry run asked for with a typo must not run for real.
        for var in FLAGS {
            let e = cfg(&[(*var, "on")]).unwrap_err().to_string();
            assert_eq!(
                e,
                format!("{var}=\"on\": expected 1 or 0 (true/false, yes/no)")
            );
        }
        assert!(cfg(&[("CHAOS_DRY_RUN", " Yes ")]).is_ok());
        let e = cfg(&[("CHAOS_NAT_GW", "1")]).unwrap_err().to_string();
        assert!(
            e.contains("set `nat-gateway: true` under the suite's `cluster:`"),
            "{e}"
        );
        let e = cfg(&[("CHAOS_SEED", "-1")]).unwrap_err().to_string();
        assert!(e.contains("unsigned integer"), "{e}");
        let e = cfg(&[("CHAOS_DEADLINE", "soon")]).unwrap_err().to_string();
        assert!(
            e.starts_with("CHAOS_DEADLINE=\"soon\": expected an RFC 3339"),
            "{e}"
        );
        let e = cfg(&[("CHAOS_DEADLINE", "0s")]).unwrap_err().to_string();
        assert!(e.contains("greater than zero"), "{e}");
        let e = cfg(&[("CHAOS_SCENARIOS", "smoke::a,nightly")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"nightly\" is not a scenario id"), "{e}");
        let e = cfg(&[("CHAOS_BACKEND", "scripted")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("CHAOS_SCRIPT"), "{e}");
    }
}
