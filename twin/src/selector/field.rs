//! Field selectors (`metadata.name=x,status.phase!=Running`): equality terms
//! only, with `\` escapes, as `k8s.io/apimachinery/pkg/fields` parses them.

use std::fmt;

/// A parsed field selector. Requirements are ANDed; an empty selector
/// matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// One term of a field selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    /// The field path, e.g. `spec.nodeName`.
    pub field: String,
    /// `true` for `=`/`==`, `false` for `!=`.
    pub equals: bool,
    /// The (unescaped) value.
    pub value: String,
}

impl FieldSelector {
    /// Parses a selector; the empty string is the empty selector.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for term in split_terms(text) {
            if term.is_empty() {
                continue;
            }
            let (field, equals, raw) = if let Some((k, v)) = split_op(&term, "!=") {
                (k, false, v)
            } else if let Some((k, v)) = split_op(&term, "==") {
                (k, true, v)
            } else if let Some((k, v)) = split_op(&term, "=") {
                (k, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                ));
            };
            let field = field.trim().to_string();
            if field.is_empty() {
                return Err(format!(
                    "invalid selector: '{text}'; empty field name in '{term}'"
                ));
            }
            requirements.push(FieldRequirement {
                field,
                equals,
                value: unescape(raw),
            });
        }
        Ok(Self { requirements })
    }

    /// The requirements.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    /// Whether there are no requirements.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object matches, given a function that returns the value of
    /// a field (`None` for a field the resource does not support, which the
    /// caller rejects before matching).
    pub fn matches(&self, value_of: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let v = value_of(&r.field).unwrap_or_default();
            (v == r.value) == r.equals
        })
    }
}

/// Splits on unescaped commas, keeping escapes for [`unescape`].
fn split_terms(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                if let Some(n) = chars.next() {
                    current.push(n);
                }
            }
            ',' => terms.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    terms.push(current);
    terms
}

/// Splits `term` at the first unescaped occurrence of `op`.
fn split_op<'a>(term: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let bytes = term.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if term[i..].starts_with(op) {
            // `=` must not be the first half of `==` or the second of `!=`.
            if op == "=" && (term[i + 1..].starts_with('=') || (i > 0 && bytes[i - 1] == b'!')) {
                i += 1;
                continue;
            }
            return Some((&term[..i], &term[i + op.len()..]));
        }
        i += 1;
    }
    None
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .requirements
            .iter()
            .map(|r| {
                let op = if r.equals { "=" } else { "!=" };
                format!("{}{op}{}", r.field, escape(&r.value))
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_kubectl_sends() {
        let s = FieldSelector::parse(
            "involvedObject.name=coredns-1,involvedObject.namespace=kube-system,status.phase!=Succeeded",
        )
        .unwrap();
        assert_eq!(s.requirements().len(), 3);
        assert!(!s.requirements()[2].equals);
        assert_eq!(s.requirements()[2].value, "Succeeded");
        assert_eq!(
            s.to_string(),
            "involvedObject.name=coredns-1,involvedObject.namespace=kube-system,status.phase!=Succeeded"
        );
        let s = FieldSelector::parse("metadata.name==a\\,b").unwrap();
        assert_eq!(s.requirements()[0].value, "a,b");
        assert!(FieldSelector::parse("").unwrap().is_empty());
    }

    #[test]
    fn matches_and_rejects() {
        let s = FieldSelector::parse("spec.nodeName=w1,status.phase!=Failed").unwrap();
        assert!(s.matches(|f| {
            Some(
                if f == "spec.nodeName" {
                    "w1"
                } else {
                    "Running"
                }
                .into(),
            )
        }));
        assert!(!s.matches(|f| {
            Some(
                if f == "spec.nodeName" {
                    "w2"
                } else {
                    "Running"
                }
                .into(),
            )
        }));
        let err = FieldSelector::parse("spec.nodeName").unwrap_err();
        assert!(err.contains("can't understand 'spec.nodeName'"), "{err}");
        assert!(FieldSelector::parse("=x").is_err());
    }
}
