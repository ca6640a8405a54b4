//! The limits a hand-built event must respect, and the checks that enforce them.
//!
//! Events the macros build are brought within these limits instead ([`Event::fit_to_limits`]):
//! an operation must never fail because its error message was long.
//!
//! [`Event::fit_to_limits`]: crate::Event::fit_to_limits

use crate::Error;

/// Names (operation, custom event type, label keys): 1 to this many characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Messages and label values: at most this many characters.
pub const MAX_MESSAGE_CHARS: usize = 10_000;
/// Textual ids (subject ids, correlation id): 1 to this many characters.
pub const MAX_ID_CHARS: usize = 256;
/// Labels on one event: at most this many.
pub const MAX_LABELS: usize = 64;

pub(crate) fn check_name(field: &str, value: &str) -> Result<(), Error> {
    check_len(field, value, 1, MAX_NAME_CHARS)
}

pub(crate) fn check_message(field: &str, value: &str) -> Result<(), Error> {
    check_len(field, value, 0, MAX_MESSAGE_CHARS)
}

pub(crate) fn check_id(field: &str, value: &str) -> Result<(), Error> {
    check_len(field, value, 1, MAX_ID_CHARS)
}

fn check_len(field: &str, value: &str, min: usize, max: usize) -> Result<(), Error> {
    // Count characters only when the byte length could be out of range.
    if value.len() >= min && value.len() <= max {
        return Ok(());
    }
    let chars = value.chars().count();
    if chars < min || chars > max {
        let range = if min == 0 {
            format!("at most {max} characters")
        } else {
            format!("{min} to {max} characters")
        };
        return Err(Error::invalid(
            field,
            format!("must be {range} (got {chars})"),
        ));
    }
    Ok(())
}

/// Cuts `value` to at most `max` characters (not bytes), ending it with a marker that says how
/// many characters were cut, such as `… [120 more characters]`; the marker counts towards
/// `max`. Returns whether it cut. Never splits a character.
///
/// ```
/// use history::event::limits::truncate;
/// let mut line = "x".repeat(100);
/// assert!(truncate(&mut line, 40));
/// assert_eq!(line.chars().count(), 40);
/// assert!(line.ends_with("more characters]"));
/// ```
pub fn truncate(value: &mut String, max: usize) -> bool {
    if value.len() <= max {
        return false;
    }
    let total = value.chars().count();
    if total <= max {
        return false;
    }
    let marker = format!("… [{} more characters]", total - max);
    let keep = max.saturating_sub(marker.chars().count());
    let cut = value
        .char_indices()
        .nth(keep)
        .map(|(i, _)| i)
        .unwrap_or(value.len());
    value.truncate(cut);
    value.push_str(&marker);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_within_limit_and_says_so() {
        let mut s = "é".repeat(20_000);
        assert!(truncate(&mut s, MAX_MESSAGE_CHARS));
        assert_eq!(s.chars().count(), MAX_MESSAGE_CHARS);
        assert!(s.ends_with("more characters]"));
        assert!(check_message("m", &s).is_ok());
        let mut short = String::from("ok");
        assert!(!truncate(&mut short, 10));
    }

    #[test]
    fn length_errors_name_field_and_limit() {
        let e = check_name("operation", "").unwrap_err().to_string();
        assert!(e.contains("operation") && e.contains("1 to 100"), "{e}");
        // multi-byte characters count as characters, not bytes
        assert!(check_name("operation", &"é".repeat(100)).is_ok());
    }
}
