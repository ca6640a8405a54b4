//! [`Sink`]: where a call's captured values are written, one JSON value at a time, redacted
//! under the recorder's policy, within its size cap; and [`Params`], the object of a call's
//! arguments built in it.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::recorder_arg::AsRecorder;
use crate::redact::json_writer::JsonWriter;
use crate::redact::serializer::{State, MIN_SECRET_LEN};
use crate::redact::{self as redaction, Capturing, Redactor};

pub use crate::redact::REDACTED;
use crate::Json;

thread_local! {
    /// A buffer reused by the captures on this thread, so that capturing a value costs one
    /// allocation (the shared copy in [`Json`]) instead of two.
    static SCRATCH: Cell<String> = const { Cell::new(String::new()) };
}

/// Buffers larger than this are not kept for reuse.
const SCRATCH_KEEP: usize = 64 * 1024;

fn scratch() -> String {
    // Taken, not borrowed: a capture that runs another tracked call (a `Serialize` impl,
    // say) just finds no buffer and allocates one.
    let mut buf = SCRATCH.try_with(Cell::take).unwrap_or_default();
    buf.clear();
    buf
}

fn json_from_scratch(buf: String) -> Json {
    // Text all along: no second look at the bytes.
    let json = Json::from_trusted_str(&buf);
    give_back(buf);
    json
}

fn give_back(buf: String) {
    if buf.capacity() <= SCRATCH_KEEP {
        let _ = SCRATCH.try_with(|s| s.set(buf));
    }
}

/// Where captured values are written: one JSON value at a time, redacted under the
/// recorder's policy, within its size cap; a capture that fails or panics leaves a marker.
#[derive(Debug)]
pub struct Sink<'c> {
    buf: String,
    settings: &'c Capturing,
    /// The text of every value redacted so far (to scrub from the rest of the event).
    pub(super) secrets: Vec<String>,
}

impl<'c> Sink<'c> {
    fn new(settings: &'c Capturing) -> Sink<'c> {
        Sink {
            buf: scratch(),
            settings,
            secrets: Vec::new(),
        }
    }

    /// Writes one JSON value with `write`: a panic or an error in it is caught and recorded
    /// as a marker naming it and the type; a value over the size cap is replaced by a marker
    /// that keeps its size.
    #[inline]
    pub(super) fn value<T: ?Sized>(
        &mut self,
        write: impl FnOnce(&mut String, &State<'_>) -> Result<(), serde_json::Error>,
    ) {
        let start = self.buf.len();
        let state = State {
            policy: &self.settings.policy,
            secrets: Some(RefCell::new(Vec::new())),
        };
        let buf = &mut self.buf;
        let outcome = catch_unwind(AssertUnwindSafe(|| write(buf, &state)));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.failed(start, std::any::type_name::<T>(), &e.to_string()),
            Err(payload) => {
                let why = super::outcome::panic_message(&*payload);
                self.failed(
                    start,
                    std::any::type_name::<T>(),
                    &format!("panicked: {why}"),
                );
            }
        }
        let len = self.buf.len() - start;
        if len > self.settings.max_value_bytes {
            self.too_large(start, len);
        }
        if let Some(found) = state.secrets.map(RefCell::into_inner) {
            if !found.is_empty() {
                self.secrets.extend(found);
            }
        }
    }

    /// Takes back what a failed capture wrote and writes a marker naming the type and why.
    #[cold]
    fn failed(&mut self, start: usize, type_name: &str, why: &str) {
        self.buf.truncate(start);
        let text = match why.strip_prefix("panicked: ") {
            Some(message) => format!("[panicked while capturing {type_name}: {message}]"),
            None => format!("<unserializable {type_name}: {why}>"),
        };
        self.marker(&text);
    }

    #[cold]
    fn too_large(&mut self, start: usize, len: usize) {
        self.buf.truncate(start);
        self.marker(&redaction::too_large(len, self.settings.max_value_bytes));
    }

    pub(super) fn marker(&mut self, text: &str) {
        write_string(&mut self.buf, text);
    }

    /// Writes `text` as a JSON string (URL passwords scrubbed).
    #[inline]
    pub fn write_str(&mut self, text: &str) {
        write_string(&mut self.buf, &redaction::scrub_url_credentials(text));
    }

    /// Writes a JSON value as given (already redacted by the caller).
    pub(crate) fn write_value(&mut self, value: &serde_json::Value) {
        self.value::<serde_json::Value>(|buf, _| {
            serde::Serialize::serialize(value, JsonWriter::new(buf))
        });
    }

    /// The recorder's redaction policy.
    pub(crate) fn policy(&self) -> &crate::redact::RedactionPolicy {
        &self.settings.policy
    }

    pub(super) fn remember(&mut self, text: String) {
        if text.len() >= MIN_SECRET_LEN {
            self.secrets.push(text);
        }
    }

    fn finish_json(self) -> (Json, Vec<String>) {
        (json_from_scratch(self.buf), self.secrets)
    }
}

#[inline]
fn write_string(out: &mut String, text: &str) {
    crate::redact::json_writer::write_escaped(out, text);
}

/// The captured parameters of a call, and the text of the values redacted in them.
#[derive(Debug, Default)]
pub struct Parameters {
    pub(crate) json: Json,
    pub(crate) secrets: Vec<String>,
}

impl From<Json> for Parameters {
    #[inline]
    fn from(json: Json) -> Self {
        Parameters {
            json,
            secrets: Vec::new(),
        }
    }
}

impl Parameters {
    /// A scrubber for the values redacted, if any were.
    pub(crate) fn redactor(&self) -> Option<Redactor> {
        (!self.secrets.is_empty()).then(|| Redactor::new(self.secrets.iter().cloned()))
    }
}

/// A JSON object under construction: the parameters of one call.
#[derive(Debug)]
pub struct Params<'c> {
    sink: Sink<'c>,
    empty: bool,
}

impl<'c> Params<'c> {
    /// An empty object, captured under `recorder`'s settings.
    #[inline]
    pub fn new<R: AsRecorder + ?Sized>(recorder: &'c R) -> Params<'c> {
        Params::with(match recorder.as_recorder() {
            Some(r) => r.capturing(),
            None => &redaction::DEFAULT_CAPTURING,
        })
    }

    /// An empty object, captured under `settings`.
    pub(crate) fn with(settings: &'c Capturing) -> Params<'c> {
        let mut sink = Sink::new(settings);
        sink.buf.push('{');
        Params { sink, empty: true }
    }

    /// The parameters of a call that captures none: `{}`.
    #[inline]
    pub fn none() -> Json {
        Json::empty_object()
    }

    /// Whether the argument `name` is redacted: `forced` by `redact(...)`, or secret by name
    /// (`by_name`: under the default rule, decided at compile time; a recorder's own policy
    /// is asked at run time).
    #[inline]
    pub fn redacts(&self, name: &'static str, forced: bool, by_name: bool) -> bool {
        forced || self.sink.settings.policy.is_secret_given(name, by_name)
    }

    /// Starts the field `key` (the expansion passes the quoted name and colon, `"name":`) and
    /// returns the sink its value must be written to, as exactly one JSON value.
    #[inline]
    pub fn field(&mut self, key: &'static str) -> &mut Sink<'c> {
        if !self.empty {
            self.sink.buf.push(',');
        }
        self.empty = false;
        self.sink.buf.push_str(key);
        &mut self.sink
    }

    /// Adds the field `key` with the value `"[redacted]"`.
    #[inline]
    pub fn redacted(&mut self, key: &'static str) {
        let out = self.field(key);
        out.marker(REDACTED);
    }

    /// The sink, to remember the value of a redacted argument in.
    #[inline]
    pub fn secrets(&mut self) -> &mut Sink<'c> {
        &mut self.sink
    }

    /// The finished object.
    #[inline]
    pub fn finish(mut self) -> Parameters {
        if self.empty {
            give_back(self.sink.buf);
            return Parameters {
                json: Json::empty_object(),
                secrets: self.sink.secrets,
            };
        }
        self.sink.buf.push('}');
        let max = self.sink.settings.max_value_bytes;
        let (json, secrets) = self.sink.finish_json();
        let json = if json.len() > max {
            Json::from(serde_json::json!({ "[too large]": redaction::too_large(json.len(), max) }))
        } else {
            json
        };
        Parameters { json, secrets }
    }
}

/// Captures one value under `settings` (the result of a call): runs `write`, returns the
/// value.
#[inline]
pub(crate) fn capture_with(settings: &Capturing, write: impl FnOnce(&mut Sink<'_>)) -> Json {
    let mut sink = Sink::new(settings);
    write(&mut sink);
    sink.finish_json().0
}
