//! Version conditions on expectations: `when: {multus: "<v4.2.3"}` makes an
//! expected failure apply only to clusters whose versions match, so one
//! scenario is `expect: fail` on racy Multus and `expect: pass` on the fix.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};

/// A version like `v4.2.3`, `4.2` or `v1.16.2`, compared numerically.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(Vec<u64>);

impl Version {
    /// Parses `v1.2.3`, `1.2.3`, `1.2`; suffixes like `-thick` are ignored.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim().trim_start_matches('v');
        let core = t.split(['-', '+', '@']).next().unwrap_or("");
        let parts: Result<Vec<u64>, _> = core.split('.').map(str::parse::<u64>).collect();
        match parts {
            Ok(p) if !p.is_empty() && p.len() <= 4 => Ok(Version(p)),
            _ => Err(format!("{text:?} is not a version like v4.2.3")),
        }
    }

    fn cmp_padded(&self, other: &Version) -> Ordering {
        let n = self.0.len().max(other.0.len());
        let get = |v: &Version, i: usize| v.0.get(i).copied().unwrap_or(0);
        (0..n)
            .map(|i| get(self, i).cmp(&get(other, i)))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "v{}", parts.join("."))
    }
}

/// `<v4.2.3`, `>=v1.15`, `=v4.2.1`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Constraint {
    op: Op,
    version: Version,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Constraint {
    /// Parses an operator (`<`, `<=`, `>`, `>=`, `=`; none means `=`) and a version.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let (op, rest) = if let Some(r) = t.strip_prefix("<=") {
            (Op::Le, r)
        } else if let Some(r) = t.strip_prefix(">=") {
            (Op::Ge, r)
        } else if let Some(r) = t.strip_prefix('<') {
            (Op::Lt, r)
        } else if let Some(r) = t.strip_prefix('>') {
            (Op::Gt, r)
        } else if let Some(r) = t.strip_prefix('=') {
            (Op::Eq, r)
        } else {
            (Op::Eq, t)
        };
        Ok(Constraint {
            op,
            version: Version::parse(rest)?,
        })
    }

    /// Whether `v` satisfies it.
    pub fn matches(&self, v: &Version) -> bool {
        let o = v.cmp_padded(&self.version);
        match self.op {
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
            Op::Eq => o == Ordering::Equal,
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "=",
        };
        write!(f, "{op}{}", self.version)
    }
}

/// Component name (`multus`, `kube-ovn`, `kubernetes`) to constraint; all must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionCondition(pub BTreeMap<String, Constraint>);

impl VersionCondition {
    /// Whether the cluster's `versions` satisfy every constraint; an error
    /// names a component the cluster does not report or cannot parse.
    pub fn holds(&self, versions: &BTreeMap<String, String>) -> Result<bool, String> {
        for (component, c) in &self.0 {
            let have = versions.get(component).ok_or_else(|| {
                format!(
                    "the expectation depends on the {component} version, which this cluster does not report (it reports: {})",
                    if versions.is_empty() { "nothing".to_string() } else { versions.keys().cloned().collect::<Vec<_>>().join(", ") }
                )
            })?;
            if !c.matches(&Version::parse(have)?) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

impl fmt::Display for VersionCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, c)| format!("{k} {c}")).collect();
        f.write_str(&parts.join(", "))
    }
}

impl Serialize for VersionCondition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, c)| (k, c.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(multus: &str) -> BTreeMap<String, String> {
        BTreeMap::from([("multus".to_string(), multus.to_string())])
    }

    #[test]
    fn racy_multus_versions_match_below_the_fix() {
        let c = VersionCondition(BTreeMap::from([(
            "multus".to_string(),
            Constraint::parse("<v4.2.3").unwrap(),
        )]));
        for racy in ["v4.1.1", "v4.1.3", "v4.2.1", "v4.2.2", "4.2.1-thick"] {
            assert_eq!(c.holds(&versions(racy)), Ok(true), "{racy}");
        }
        for fixed in ["v4.2.3", "v4.2.4", "v4.3.0", "v5"] {
            assert_eq!(c.holds(&versions(fixed)), Ok(false), "{fixed}");
        }
        let err = c.holds(&BTreeMap::new()).unwrap_err();
        assert!(err.contains("multus version"), "{err}");
    }

    #[test]
    fn operators_and_padding() {
        let v = |s| Version::parse(s).unwrap();
        assert!(Constraint::parse(">=v1.15").unwrap().matches(&v("v1.15.0")));
        assert!(Constraint::parse("<=1.15").unwrap().matches(&v("1.15")));
        assert!(Constraint::parse(">v1.14").unwrap().matches(&v("v1.14.1")));
        assert!(Constraint::parse("v4.2.1").unwrap().matches(&v("v4.2.1")));
        assert!(!Constraint::parse("=v4.2.1").unwrap().matches(&v("v4.2.10")));
        assert!(Version::parse("latest").is_err());
        assert!(Constraint::parse("<soon").is_err());
        assert_eq!(
            Constraint::parse(" >= v4.2 ").unwrap().to_string(),
            ">=v4.2"
        );
    }
}
