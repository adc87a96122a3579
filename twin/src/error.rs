//! [`ApiError`]: every way a request to the twin can fail, each mapped to
//! the HTTP code and `metav1.Status` body a real API server returns.

use serde_json::{Value, json};

/// A failed API request. [`ApiError::status`] renders the Kubernetes
/// `Status` object; [`ApiError::code`] the HTTP status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 404 for a named object that does not exist.
    #[error("{resource} \"{name}\" not found")]
    NotFound {
        /// Qualified resource (`pods`, `deployments.apps`).
        resource: String,
        /// Object name.
        name: String,
    },
    /// 404 for a path that names no resource.
    #[error("the server could not find the requested resource")]
    UnknownResource {
        /// The request path.
        path: String,
    },
    /// 409 on create of an existing name.
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists {
        /// Qualified resource.
        resource: String,
        /// Object name.
        name: String,
    },
    /// 409 on a stale `metadata.resourceVersion`.
    #[error(
        "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
    )]
    Conflict {
        /// Qualified resource.
        resource: String,
        /// Object name.
        name: String,
    },
    /// 409 when a delete precondition (uid) does not hold.
    #[error("{message}")]
    Precondition {
        /// The full message.
        message: String,
    },
    /// 410 for a resource version older than the retained history.
    #[error("{message}")]
    Expired {
        /// Human-readable detail (`too old resource version: 5 (100)`).
        message: String,
    },
    /// 422 for an object that fails validation.
    #[error("{kind} \"{name}\" is invalid: {message}")]
    Invalid {
        /// Kind of the object.
        kind: String,
        /// Object name (may be empty).
        name: String,
        /// What is wrong.
        message: String,
    },
    /// 422 for a patch that cannot be applied.
    #[error("{message}")]
    UnprocessablePatch {
        /// What went wrong applying it.
        message: String,
    },
    /// 400 for malformed requests: bodies, selectors, parameters.
    #[error("{message}")]
    BadRequest {
        /// What is wrong.
        message: String,
    },
    /// 405 for a verb the path does not support.
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed {
        /// The method used.
        method: String,
    },
    /// 413 for bodies over the limit.
    #[error("Request entity too large: limit is {limit}")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415 for a patch content type the server does not know.
    #[error(
        "the body of the request was in an unknown format - accepted media types include: {accepted}"
    )]
    UnsupportedMediaType {
        /// The accepted media types.
        accepted: String,
    },
    /// 503 during a simulated outage.
    #[error("the twin's API server is unavailable (simulated outage)")]
    Unavailable,
    /// 500 for a bug in the twin (never expected).
    #[error("internal error: {message}")]
    Internal {
        /// Detail.
        message: String,
    },
}

impl ApiError {
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } | ApiError::UnknownResource { .. } => 404,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::Precondition { .. } => 409,
            ApiError::Expired { .. } => 410,
            ApiError::Invalid { .. } | ApiError::UnprocessablePatch { .. } => 422,
            ApiError::BadRequest { .. } => 400,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::TooLarge { .. } => 413,
            ApiError::UnsupportedMediaType { .. } => 415,
            ApiError::Unavailable => 503,
            ApiError::Internal { .. } => 500,
        }
    }

    /// The `reason` field of the Status.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::UnknownResource { .. } => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::Precondition { .. } => "Conflict",
            ApiError::Expired { .. } => "Expired",
            ApiError::Invalid { .. } | ApiError::UnprocessablePatch { .. } => "Invalid",
            ApiError::BadRequest { .. } => "BadRequest",
            ApiError::MethodNotAllowed { .. } => "MethodNotAllowed",
            ApiError::TooLarge { .. } => "RequestEntityTooLarge",
            ApiError::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            ApiError::Unavailable => "ServiceUnavailable",
            ApiError::Internal { .. } => "InternalError",
        }
    }

    /// The `metav1.Status` body.
    pub fn status(&self) -> Value {
        let details = match self {
            ApiError::NotFound { resource, name }
            | ApiError::AlreadyExists { resource, name }
            | ApiError::Conflict { resource, name } => {
                let (kind, group) = match resource.split_once('.') {
                    Some((k, g)) => (k.to_string(), g.to_string()),
                    None => (resource.clone(), String::new()),
                };
                let mut d = json!({"name": name, "kind": kind});
                if !group.is_empty() {
                    d["group"] = Value::String(group);
                }
                d
            }
            ApiError::Invalid {
                kind,
                name,
                message,
            } => json!({
                "name": name,
                "kind": kind,
                "causes": [{"reason": "FieldValueInvalid", "message": message}],
            }),
            _ => json!({}),
        };
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "details": details,
            "code": self.code(),
        })
    }

    /// A [`ApiError::BadRequest`] with this message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
        }
    }
}

/// A `metav1.Status` of success, as some DELETE responses return.
pub fn success_status(details: Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_carry_code_reason_and_details() {
        let e = ApiError::NotFound {
            resource: "deployments.apps".into(),
            name: "coredns".into(),
        };
        let s = e.status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["message"], "deployments.apps \"coredns\" not found");
        assert_eq!(s["details"]["group"], "apps");
        assert_eq!(s["details"]["kind"], "deployments");
        assert_eq!(ApiError::TooLarge { limit: 3 }.status()["code"], 413);
        assert_eq!(
            ApiError::Unavailable.status()["reason"],
            "ServiceUnavailable"
        );
        let s = ApiError::Invalid {
            kind: "Pod".into(),
            name: "".into(),
            message: "metadata.name: Required value".into(),
        }
        .status();
        assert_eq!(s["code"], 422);
        assert_eq!(s["status"], "Failure");
    }
}
