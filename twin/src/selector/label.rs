//! Kubernetes label selectors in their string form (`app=multus`,
//! `tier in (a,b)`, `!canary`), parsed and validated like the API server does.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Serialize, Serializer};

/// A parsed, valid label selector. Requirements are ANDed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

/// One requirement of a selector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Requirement {
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value`.
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)`.
    NotIn(String, Vec<String>),
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
}

impl LabelSelector {
    /// Parses a selector string.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        skip_ws(&chars, &mut i);
        if i == chars.len() {
            return Err("a selector cannot be empty".to_string());
        }
        loop {
            requirements.push(parse_requirement(&chars, &mut i)?);
            skip_ws(&chars, &mut i);
            match chars.get(i) {
                None => break,
                Some(',') => {
                    i += 1;
                    skip_ws(&chars, &mut i);
                    if i == chars.len() {
                        return Err("a selector cannot end with ','".to_string());
                    }
                }
                Some(c) => return Err(format!("unexpected {c:?} at position {}", i + 1)),
            }
        }
        Ok(LabelSelector { requirements })
    }

    /// The requirements.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether a set of labels satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }
}

fn skip_ws(chars: &[char], i: &mut usize) {
    while chars.get(*i).is_some_and(|c| c.is_whitespace()) {
        *i += 1;
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

fn word(chars: &[char], i: &mut usize) -> String {
    let start = *i;
    while chars.get(*i).copied().is_some_and(is_key_char) {
        *i += 1;
    }
    chars[start..*i].iter().collect()
}

fn parse_requirement(chars: &[char], i: &mut usize) -> Result<Requirement, String> {
    skip_ws(chars, i);
    if chars.get(*i) == Some(&'!') {
        *i += 1;
        skip_ws(chars, i);
        let key = word(chars, i);
        validate_key(&key)?;
        return Ok(Requirement::DoesNotExist(key));
    }
    let key = word(chars, i);
    if key.is_empty() {
        return Err(match chars.get(*i) {
            Some(c) => format!("expected a label key at position {}, found {c:?}", *i + 1),
            None => "expected a label key".to_string(),
        });
    }
    validate_key(&key)?;
    skip_ws(chars, i);
    match chars.get(*i) {
        None | Some(',') => Ok(Requirement::Exists(key)),
        Some('=') => {
            *i += 1;
            if chars.get(*i) == Some(&'=') {
                *i += 1;
            }
            let value = value(chars, i)?;
            Ok(Requirement::Equals(key, value))
        }
        Some('!') if chars.get(*i + 1) == Some(&'=') => {
            *i += 2;
            let value = value(chars, i)?;
            Ok(Requirement::NotEquals(key, value))
        }
        Some(_) => {
            let op = word(chars, i);
            match op.as_str() {
                "in" => Ok(Requirement::In(key, set(chars, i)?)),
                "notin" => Ok(Requirement::NotIn(key, set(chars, i)?)),
                "" => Err(format!(
                    "unexpected {:?} after key {key:?}",
                    chars.get(*i).copied().unwrap_or(' ')
                )),
                other => Err(format!(
                    "unknown operator {other:?} after key {key:?}: expected =, ==, !=, in or notin"
                )),
            }
        }
    }
}

fn value(chars: &[char], i: &mut usize) -> Result<String, String> {
    skip_ws(chars, i);
    let v = word(chars, i);
    validate_value(&v)?;
    Ok(v)
}

fn set(chars: &[char], i: &mut usize) -> Result<Vec<String>, String> {
    skip_ws(chars, i);
    if chars.get(*i) != Some(&'(') {
        return Err("expected '(' after in/notin".to_string());
    }
    *i += 1;
    let mut values = Vec::new();
    loop {
        let v = value(chars, i)?;
        values.push(v);
        skip_ws(chars, i);
        match chars.get(*i) {
            Some(',') => *i += 1,
            Some(')') => {
                *i += 1;
                return Ok(values);
            }
            _ => return Err("expected ',' or ')' in a value set".to_string()),
        }
    }
}

fn validate_name(part: &str, what: &str) -> Result<(), String> {
    if part.is_empty() || part.len() > 63 {
        return Err(format!("{what} {part:?} must be 1 to 63 characters long"));
    }
    let ok_inner = part
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let ok_ends = part.starts_with(|c: char| c.is_ascii_alphanumeric())
        && part.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok_inner && ok_ends {
        Ok(())
    } else {
        Err(format!(
            "{what} {part:?} must consist of alphanumerics, '-', '_' or '.', and start and end with an alphanumeric"
        ))
    }
}

fn validate_key(key: &str) -> Result<(), String> {
    match key.split_once('/') {
        Some((prefix, name)) => {
            if prefix.is_empty() || prefix.len() > 253 {
                return Err(format!(
                    "label key prefix {prefix:?} must be 1 to 253 characters long"
                ));
            }
            let dns = prefix.split('.').all(|l| {
                !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
            if !dns {
                return Err(format!(
                    "label key prefix {prefix:?} must be a DNS subdomain"
                ));
            }
            validate_name(name, "label key name")
        }
        None => validate_name(key, "label key"),
    }
}

fn validate_value(v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Ok(());
    }
    validate_name(v, "label value")
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Equals(k, v) => write!(f, "{k}={v}"),
            Requirement::NotEquals(k, v) => write!(f, "{k}!={v}"),
            Requirement::In(k, vs) => write!(f, "{k} in ({})", vs.join(",")),
            Requirement::NotIn(k, vs) => write!(f, "{k} notin ({})", vs.join(",")),
            Requirement::Exists(k) => f.write_str(k),
            Requirement::DoesNotExist(k) => write!(f, "!{k}"),
        }
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

impl Serialize for LabelSelector {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_equality_and_set_forms_and_round_trips() {
        for (text, shown) in [
            ("app=multus", "app=multus"),
            ("app==multus", "app=multus"),
            ("app != ovs", "app!=ovs"),
            ("tier in (a, b),!canary", "tier in (a,b),!canary"),
            ("k8s-app notin (x),component", "k8s-app notin (x),component"),
            (
                "ovn.kubernetes.io/vpc-nat-gw=true",
                "ovn.kubernetes.io/vpc-nat-gw=true",
            ),
        ] {
            let sel = LabelSelector::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(sel.to_string(), shown);
            assert_eq!(LabelSelector::parse(shown).unwrap(), sel);
        }
    }

    #[test]
    fn matches_like_the_api_server() {
        let l = labels(&[("app", "multus"), ("tier", "b")]);
        assert!(LabelSelector::parse("app=multus").unwrap().matches(&l));
        assert!(!LabelSelector::parse("app=ovs").unwrap().matches(&l));
        assert!(
            LabelSelector::parse("tier in (a,b),!canary")
                .unwrap()
                .matches(&l)
        );
        assert!(!LabelSelector::parse("tier notin (b)").unwrap().matches(&l));
        assert!(
            LabelSelector::parse("missing notin (b)")
                .unwrap()
                .matches(&l)
        );
        assert!(LabelSelector::parse("app!=ovs").unwrap().matches(&l));
        assert!(!LabelSelector::parse("canary").unwrap().matches(&l));
    }

    #[test]
    fn rejects_bad_selectors_with_reasons() {
        for (text, want) in [
            ("", "empty"),
            ("app=", ""),
            ("app=multus,", "end with ','"),
            ("app in a,b", "expected '('"),
            ("app in (a", "expected ',' or ')'"),
            ("app ~ x", "unexpected"),
            ("-app=x", "start and end"),
            ("app like x", "unknown operator"),
            ("Bad_Prefix/app=x", "DNS subdomain"),
        ] {
            let r = LabelSelector::parse(text);
            if text == "app=" {
                // An empty value is valid, as in Kubernetes.
                assert!(r.is_ok(), "{text}: {r:?}");
                continue;
            }
            let err = r.expect_err(text);
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
