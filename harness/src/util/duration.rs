//! Human durations: `90s`, `2m 30s`, `1h` (jiff's friendly format).

use std::time::Duration;

/// Parses a friendly duration such as `90s`, `2m 30s` or `500ms`.
///
/// Negative and calendar (day and longer) units are rejected.
pub fn parse(text: &str) -> Result<Duration, String> {
    let signed: jiff::SignedDuration = text.trim().parse().map_err(|e: jiff::Error| {
        let msg = e.to_string();
        if msg.contains("unit designator") {
            "a duration needs a unit, e.g. \"90s\" or \"2m 30s\"".to_string()
        } else {
            format!("not a duration like \"90s\" or \"2m 30s\" ({msg})")
        }
    })?;
    if signed.is_negative() {
        return Err("a duration cannot be negative".to_string());
    }
    Duration::try_from(signed).map_err(|e| e.to_string())
}

/// Formats a duration the way suite files write them (`2m 30s`, `1.5s`, `250ms`).
pub fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let total_s = d.as_secs();
    let (h, m, s) = (total_s / 3600, (total_s / 60) % 60, total_s % 60);
    let frac = d.subsec_millis();
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 || frac > 0 {
        if frac > 0 {
            let secs = format!("{s}.{frac:03}");
            parts.push(format!("{}s", secs.trim_end_matches('0')));
        } else {
            parts.push(format!("{s}s"));
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("2m 30s"), Ok(Duration::from_secs(150)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn rejects_unitless_negative_and_garbage() {
        assert!(parse("90").unwrap_err().contains("needs a unit"));
        assert!(parse("-5s").unwrap_err().contains("negative"));
        assert!(parse("soon").is_err());
        assert!(parse("1d").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for text in ["90s", "2m 30s", "1h 2m 3s", "250ms", "1.5s", "0s"] {
            let d = parse(text).unwrap();
            assert_eq!(parse(&format(d)), Ok(d), "{text}");
        }
        assert_eq!(format(Duration::from_secs(150)), "2m 30s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
    }
}
