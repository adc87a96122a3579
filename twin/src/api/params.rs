//! Query parameters of list, watch, get and delete requests.

use std::time::Duration;

use crate::error::ApiError;
use crate::resource::ResourceType;
use crate::selector::{FieldSelector, LabelSelector};

/// Parsed query parameters. Unknown parameters are ignored, as the real
/// server ignores them.
#[derive(Debug, Default)]
pub struct Params {
    pub label_selector: Option<LabelSelector>,
    pub field_selector: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
    pub watch: bool,
    pub timeout: Option<Duration>,
    pub allow_bookmarks: bool,
    pub send_initial_events: Option<bool>,
    pub include_object: Option<String>,
    pub grace_period: Option<i64>,
    pub dry_run: bool,
    pub strict: bool,
}

fn boolean(key: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" | "1" | "True" => Ok(true),
        "false" | "0" | "False" | "" => Ok(false),
        other => Err(ApiError::bad_request(format!(
            "invalid value for {key}: {other:?}: expected a boolean"
        ))),
    }
}

fn number<T: std::str::FromStr>(key: &str, value: &str) -> Result<T, ApiError> {
    value.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "invalid value for {key}: {value:?}: expected an integer"
        ))
    })
}

impl Params {
    /// Parses a query string.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let mut p = Params::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "labelSelector" if !value.trim().is_empty() => {
                    p.label_selector = Some(LabelSelector::parse(&value).map_err(|e| {
                        ApiError::bad_request(format!("unable to parse requirement: {e}"))
                    })?);
                }
                "fieldSelector" => {
                    p.field_selector =
                        FieldSelector::parse(&value).map_err(ApiError::bad_request)?;
                }
                "limit" => {
                    let n: i64 = number("limit", &value)?;
                    p.limit = (n > 0).then_some(n as usize);
                }
                "continue" if !value.is_empty() => p.continue_token = Some(value.into_owned()),
                "resourceVersion" => p.resource_version = Some(value.into_owned()),
                "resourceVersionMatch" if !value.is_empty() => {
                    p.resource_version_match = Some(value.into_owned());
                }
                "watch" => p.watch = boolean("watch", &value)?,
                "timeoutSeconds" => {
                    let n: u64 = number("timeoutSeconds", &value)?;
                    p.timeout = Some(Duration::from_secs(n));
                }
                "allowWatchBookmarks" => {
                    p.allow_bookmarks = boolean("allowWatchBookmarks", &value)?
                }
                "sendInitialEvents" => {
                    p.send_initial_events = Some(boolean("sendInitialEvents", &value)?)
                }
                "includeObject" => p.include_object = Some(value.into_owned()),
                "gracePeriodSeconds" => {
                    p.grace_period = Some(number("gracePeriodSeconds", &value)?)
                }
                "dryRun" => p.dry_run = !value.is_empty(),
                "fieldValidation" => match value.as_ref() {
                    "Strict" => p.strict = true,
                    "Warn" | "Ignore" | "" => {}
                    other => {
                        return Err(ApiError::bad_request(format!(
                            "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
                        )));
                    }
                },
                _ => {}
            }
        }
        Ok(p)
    }

    /// With `fieldValidation=Strict`, rejects fields the type does not know,
    /// as the server's strict decoder does.
    pub fn check_strict(&self, rt: &ResourceType, obj: &serde_json::Value) -> Result<(), ApiError> {
        if !self.strict {
            return Ok(());
        }
        let unknown = crate::store::unknown_fields(rt, obj);
        if unknown.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            list.join(", ")
        )))
    }

    /// Rejects field selectors on fields the resource does not index.
    pub fn check_fields(&self, rt: &ResourceType) -> Result<(), ApiError> {
        for r in self.field_selector.requirements() {
            if !rt.supports_field(&r.field) {
                return Err(ApiError::bad_request(format!(
                    "field label not supported: {}",
                    r.field
                )));
            }
        }
        Ok(())
    }

    /// Whether `obj` passes both selectors.
    pub fn matches(&self, rt: &ResourceType, obj: &serde_json::Value) -> bool {
        if let Some(sel) = &self.label_selector {
            let labels = obj
                .pointer("/metadata/labels")
                .and_then(serde_json::Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            if !sel.matches(&labels) {
                return false;
            }
        }
        self.field_selector.matches(|f| rt.field_value(obj, f))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::by_plural;
    use serde_json::json;

    #[test]
    fn parses_and_matches() {
        let p = Params::parse(
            "labelSelector=app%20in%20(ovs,multus)&fieldSelector=spec.nodeName%3Dw&limit=2&watch=1&timeoutSeconds=290&allowWatchBookmarks=true",
        )
        .unwrap();
        assert_eq!(p.limit, Some(2));
        assert!(p.watch && p.allow_bookmarks);
        assert_eq!(p.timeout, Some(Duration::from_secs(290)));
        let pods = by_plural("pods").unwrap();
        p.check_fields(pods).unwrap();
        let pod = json!({"metadata": {"labels": {"app": "ovs"}}, "spec": {"nodeName": "w"}});
        assert!(p.matches(pods, &pod));
        let other = json!({"metadata": {"labels": {"app": "ovs"}}, "spec": {"nodeName": "x"}});
        assert!(!p.matches(pods, &other));
        assert_eq!(Params::parse("limit=x").unwrap_err().code(), 400);
        assert_eq!(
            Params::parse("labelSelector=a%20%7E%20b")
                .unwrap_err()
                .code(),
            400
        );
        let p = Params::parse("fieldSelector=spec.bogus%3D1").unwrap();
        assert_eq!(
            p.check_fields(pods).unwrap_err().to_string(),
            "field label not supported: spec.bogus"
        );
    }
}
