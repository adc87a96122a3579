//! Serialize a [`std::time::Duration`] as integer milliseconds (the JSON report's unit).

use std::time::Duration;

use serde::Serializer;

/// Serializes as integer milliseconds.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `Option<Duration>` as milliseconds or null.
pub mod option {
    use std::time::Duration;

    use serde::Serializer;

    /// Serializes as integer milliseconds or null.
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::serialize(d, s),
            None => s.serialize_none(),
        }
    }
}
