//! Evidence that a fault took effect.

use serde::Serialize;

/// What an injector observed before and after acting, and whether that proves
/// the fault took effect. A fault without proof fails its scenario as
/// "fault had no effect"; it never passes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Evidence {
    /// Whether the observations prove the fault happened.
    pub took_effect: bool,
    /// The node the fault acted on, if any.
    pub node: Option<String>,
    /// Observations as `(what, value)`, e.g. `("StartedAt before", "...")`.
    pub facts: Vec<(String, String)>,
    /// Why the fault is considered to have had no effect, when it did not.
    pub missing: Option<String>,
    /// A dry run: the fault's commands were planned, not executed, so
    /// nothing is proven either way.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub planned: bool,
}

impl Evidence {
    /// Evidence that proves the fault.
    pub fn proven(node: Option<String>, facts: Vec<(String, String)>) -> Self {
        Evidence {
            took_effect: true,
            node,
            facts,
            missing: None,
            planned: false,
        }
    }

    /// A dry run's evidence: the commands were printed, none was run.
    pub fn planned(node: Option<String>, why: impl Into<String>) -> Self {
        Evidence {
            took_effect: false,
            node,
            facts: Vec::new(),
            missing: Some(why.into()),
            planned: true,
        }
    }

    /// Evidence that the fault did nothing, with why.
    pub fn no_effect(node: Option<String>, why: impl Into<String>) -> Self {
        Evidence {
            took_effect: false,
            node,
            facts: Vec::new(),
            missing: Some(why.into()),
            planned: false,
        }
    }

    /// The facts as one line, for messages and JUnit properties.
    pub fn summary(&self) -> String {
        let facts: Vec<String> = self
            .facts
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let mut s = facts.join("; ");
        if let Some(why) = &self.missing {
            if !s.is_empty() {
                s.push_str("; ");
            }
            s.push_str(why);
        }
        s
    }
}
