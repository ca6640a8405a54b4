//! Bodies captured while they stream: the first bytes are copied aside, the rest passes on.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use bytes::Bytes;
use history::redact::scrub_url_credentials;
use http_body::{Body, Frame, SizeHint};
use serde_json::Value;

/// The start of a body, and how long it was in all (so far).
#[derive(Debug, Default)]
pub(crate) struct Seen {
    bytes: Vec<u8>,
    total: u64,
}

/// A [`Seen`] shared between the body and whoever records it.
#[derive(Clone, Debug, Default)]
pub(crate) struct SharedSeen(Arc<Mutex<Seen>>);

impl SharedSeen {
    fn lock(&self) -> MutexGuard<'_, Seen> {
        // A panic while holding this lock leaves a byte buffer, still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The captured body as the event keeps it (see [`captured`]); `None` when it was empty.
    pub(crate) fn to_value(&self, content_type: Option<&str>) -> Option<Value> {
        let seen = self.lock();
        captured(&seen.bytes, seen.total, content_type)
    }
}

pin_project_lite::pin_project! {
    /// A body that copies its first `max` bytes into a [`SharedSeen`].
    pub(crate) struct Tee<B> {
        #[pin]
        inner: B,
        seen: SharedSeen,
        max: usize,
    }
}

impl<B> Tee<B> {
    /// Wraps `inner`; the second value fills as the body is read.
    pub(crate) fn new(inner: B, max: usize) -> (Tee<B>, SharedSeen) {
        let seen = SharedSeen::default();
        (
            Tee {
                inner,
                seen: seen.clone(),
                max,
            },
            seen,
        )
    }
}

impl<B: Body<Data = Bytes>> Body for Tee<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                let mut seen = this.seen.lock();
                let room = this.max.saturating_sub(seen.bytes.len());
                seen.bytes.extend_from_slice(&data[..room.min(data.len())]);
                seen.total += data.len() as u64;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A captured body as the event keeps it: a JSON body (complete, and said to be JSON) as JSON
/// with secret-named members redacted at every depth; text as a string (cut ones end with
/// `… [cut: N bytes in all]`); anything else as `"[binary: N bytes]"`. `None` when empty.
pub(crate) fn captured(bytes: &[u8], total: u64, content_type: Option<&str>) -> Option<Value> {
    if total == 0 {
        return None;
    }
    let complete = bytes.len() as u64 == total;
    let is_json = content_type.is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t.starts_with("application/json") || t.contains("+json")
    });
    if complete && is_json {
        if let Ok(mut value) = serde_json::from_slice::<Value>(bytes) {
            redact_json(&mut value);
            return Some(value);
        }
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        // Cut inside a character: keep what comes before it.
        Err(e) if !complete && e.error_len().is_none() => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return Some(Value::from(format!("[binary: {total} bytes]"))),
    };
    let text = scrub_url_credentials(text);
    Some(Value::from(if complete {
        text.into_owned()
    } else {
        format!("{text}… [cut: {total} bytes in all]")
    }))
}

/// Redacts members with secret names at every depth, and URL passwords in every string
/// ([`RedactionPolicy::redact_value`] under the default policy).
pub(crate) fn redact_json(value: &mut Value) {
    history::redact::RedactionPolicy::default().redact_value(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_bodies_are_redacted_at_every_depth() {
        let body = br#"{"name":"vm","auth":{"password":"pw","nested":[{"api_key":"k"}]},"dsn":"postgres://a:pw@h/db"}"#;
        let v = captured(body, body.len() as u64, Some("application/json")).unwrap();
        assert_eq!(
            v,
            json!({"name":"vm","auth":{"password":"[redacted]","nested":[{"api_key":"[redacted]"}]},
                   "dsn":"postgres://a:[redacted]@h/db"})
        );
    }

    #[test]
    fn cut_text_and_binary() {
        assert_eq!(
            captured(b"hello", 11, Some("text/plain")).unwrap(),
            json!("hello… [cut: 11 bytes in all]")
        );
        // A cut JSON body is kept as text (it would not parse).
        assert_eq!(
            captured(b"{\"a\":", 9, Some("application/json")).unwrap(),
            json!("{\"a\":… [cut: 9 bytes in all]")
        );
        assert_eq!(
            captured(&[0xff, 0x00, 0xfe], 3, None).unwrap(),
            json!("[binary: 3 bytes]")
        );
        // Cut inside a two-byte character: the partial character is dropped.
        assert_eq!(
            captured("aé".as_bytes().get(..2).unwrap(), 3, None).unwrap(),
            json!("a… [cut: 3 bytes in all]")
        );
        assert_eq!(captured(b"", 0, None), None);
    }
}
