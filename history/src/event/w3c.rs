//! External trace ids: the W3C Trace Context ids (the ones OpenTelemetry and a `traceparent`
//! header carry) of the distributed trace an event ran in — [`W3cTraceId`] and [`W3cSpanId`].
//!
//! They are not the history's own tree of nested calls ([`Event::trace_id`](crate::Event)):
//! they join an event to the logs and spans other tools keep of the same request.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// Writes `bytes` as lowercase hex digits.
fn write_hex(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 32];
    for (i, b) in bytes.iter().enumerate() {
        buf[2 * i] = DIGITS[usize::from(b >> 4)];
        buf[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
    }
    // Only ASCII digits were written.
    f.write_str(std::str::from_utf8(&buf[..2 * bytes.len()]).map_err(|_| fmt::Error)?)
}

/// Reads exactly `N` bytes from `2 * N` hex digits (either case); `None` otherwise.
fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

macro_rules! w3c_id {
    (
        $(#[$doc:meta])*
        $name:ident, $bytes:literal, $field:literal
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; $bytes]);

        impl $name {
            #[doc = concat!("The id of these ", stringify!($bytes), " bytes; `None` when all are zero (an invalid id by the W3C Trace Context specification).")]
            pub const fn from_bytes(bytes: [u8; $bytes]) -> Option<$name> {
                let mut i = 0;
                while i < $bytes {
                    if bytes[i] != 0 {
                        return Some($name(bytes));
                    }
                    i += 1;
                }
                None
            }

            /// The id's bytes (never all zero).
            pub const fn to_bytes(self) -> [u8; $bytes] {
                self.0
            }

            /// The id's bytes (never all zero).
            pub const fn as_bytes(&self) -> &[u8; $bytes] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            #[doc = concat!("Lowercase hex, ", stringify!($bytes), " × 2 digits.")]
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "("))?;
                write_hex(&self.0, f)?;
                f.write_str(")")
            }
        }

        impl FromStr for $name {
            type Err = Error;
            #[doc = concat!("Parses ", stringify!($bytes), " × 2 hex digits (either case); the error names the field `", $field, "`.")]
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let bytes = parse_hex::<$bytes>(s).ok_or_else(|| {
                    Error::invalid(
                        $field,
                        format!(
                            "must be {} hexadecimal digits (got {} characters)",
                            2 * $bytes,
                            s.chars().count()
                        ),
                    )
                })?;
                $name::from_bytes(bytes)
                    .ok_or_else(|| Error::invalid($field, "must not be all zeros"))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

w3c_id! {
    /// The trace id of a distributed trace as the W3C Trace Context specification (and
    /// OpenTelemetry) defines it: 16 bytes, not all zero, written as 32 lowercase hex digits
    /// (`4bf92f3577b34da6a3ce929d0e0e4736`). Serializes as that string.
    ///
    /// ```
    /// use history::event::W3cTraceId;
    /// let id: W3cTraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse()?;
    /// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// assert!("00000000000000000000000000000000".parse::<W3cTraceId>().is_err());
    /// # Ok::<(), history::Error>(())
    /// ```
    W3cTraceId, 16, "external_trace_id"
}

w3c_id! {
    /// The id of one span of a distributed trace as the W3C Trace Context specification (and
    /// OpenTelemetry) defines it: 8 bytes, not all zero, written as 16 lowercase hex digits
    /// (`00f067aa0ba902b7`). Serializes as that string.
    ///
    /// ```
    /// use history::event::W3cSpanId;
    /// let id: W3cSpanId = "00f067aa0ba902b7".parse()?;
    /// assert_eq!(id.to_bytes(), [0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
    /// # Ok::<(), history::Error>(())
    /// ```
    W3cSpanId, 8, "external_span_id"
}

/// The trace id and parent span id of a W3C `traceparent` header value
/// (`00-<32 hex>-<16 hex>-<2 hex>`); `None` when it is malformed or either id is all zeros
/// (the specification says to ignore such a header). A version above `00` may carry more
/// fields after the flags.
///
/// ```
/// use history::event::parse_traceparent;
/// let (trace, span) =
///     parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// assert_eq!(trace.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(span.to_string(), "00f067aa0ba902b7");
/// ```
pub fn parse_traceparent(value: &str) -> Option<(W3cTraceId, W3cSpanId)> {
    let mut fields = value.trim().split('-');
    let version = fields.next()?;
    let trace = fields.next()?;
    let span = fields.next()?;
    let flags = fields.next()?;
    let lower_hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !lower_hex(version, 2) || version == "ff" || !lower_hex(flags, 2) {
        return None;
    }
    if !lower_hex(trace, 32) || !lower_hex(span, 16) {
        return None;
    }
    if version == "00" && fields.next().is_some() {
        return None;
    }
    let trace = W3cTraceId::from_bytes(parse_hex::<16>(trace)?)?;
    let span = W3cSpanId::from_bytes(parse_hex::<8>(span)?)?;
    Some((trace, span))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_lowercase_hex() {
        let t: W3cTraceId = "4BF92F3577B34DA6A3CE929D0E0E4736".parse().unwrap();
        assert_eq!(t.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"4bf92f3577b34da6a3ce929d0e0e4736\""
        );
        let back: W3cTraceId =
            serde_json::from_str("\"4bf92f3577b34da6a3ce929d0e0e4736\"").unwrap();
        assert_eq!(back, t);
        let s = W3cSpanId::from_bytes([0, 0, 0, 0, 0, 0, 0, 1]).unwrap();
        assert_eq!(s.to_string(), "0000000000000001");
        assert_eq!(format!("{s:?}"), "W3cSpanId(0000000000000001)");
    }

    #[test]
    fn errors_name_the_field() {
        let e = "xyz".parse::<W3cTraceId>().unwrap_err().to_string();
        assert!(e.contains("external_trace_id"), "{e}");
        let e = "0000000000000000"
            .parse::<W3cSpanId>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("external_span_id") && e.contains("zeros"), "{e}");
        let e = serde_json::from_str::<W3cSpanId>("\"00f067aa0ba902\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("external_span_id"), "{e}");
        assert!(W3cTraceId::from_bytes([0; 16]).is_none());
    }

    #[test]
    fn traceparent() {
        let (t, s) =
            parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(t.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(s.to_string(), "00f067aa0ba902b7");
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473x-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
        // A later version may carry more fields.
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
                .is_some()
        );
    }
}
