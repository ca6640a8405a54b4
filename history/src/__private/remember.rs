//! Remembering the value of a redacted argument (its strings and numbers, `Display` or
//! `Debug` text), so that it can be scrubbed from the rest of the event: the error message,
//! its sources, `Debug` forms, the backtrace, labels, the result.

use std::fmt::{Debug, Display};
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::Serialize;

use super::sink::Sink;
use crate::redact::serializer::collect_texts;

/// A redacted argument, whose text is remembered so that it can be scrubbed from the rest of
/// the event; the expansion calls `(&&&&Redacted(&value)).__history_remember(sink)`.
#[derive(Debug)]
pub struct Redacted<'a, T: ?Sized>(pub &'a T);

/// Remembers the strings and numbers of a `Serialize` value (first choice).
pub trait RememberViaSerialize {
    /// Remembers the value's text.
    fn __history_remember(&self, out: &mut Sink<'_>);
}

impl<T: Serialize + ?Sized> RememberViaSerialize for &&&Redacted<'_, T> {
    fn __history_remember(&self, out: &mut Sink<'_>) {
        let value = self.0;
        if let Ok(Ok(v)) = catch_unwind(AssertUnwindSafe(|| serde_json::to_value(value))) {
            let mut found = Vec::new();
            collect_texts(&v, &mut found);
            out.secrets.extend(found);
        }
    }
}

/// Remembers the `Display` text.
pub trait RememberViaDisplay {
    /// Remembers the value's text.
    fn __history_remember(&self, out: &mut Sink<'_>);
}

impl<T: Display + ?Sized> RememberViaDisplay for &&Redacted<'_, T> {
    fn __history_remember(&self, out: &mut Sink<'_>) {
        let value = self.0;
        if let Ok(text) = catch_unwind(AssertUnwindSafe(|| value.to_string())) {
            out.remember(text);
        }
    }
}

/// Remembers the quoted strings in the `Debug` text.
pub trait RememberViaDebug {
    /// Remembers the value's text.
    fn __history_remember(&self, out: &mut Sink<'_>);
}

impl<T: Debug + ?Sized> RememberViaDebug for &Redacted<'_, T> {
    fn __history_remember(&self, out: &mut Sink<'_>) {
        let value = self.0;
        if let Ok(text) = catch_unwind(AssertUnwindSafe(|| format!("{value:?}"))) {
            for quoted in quoted_strings(&text) {
                out.remember(quoted);
            }
            out.remember(text);
        }
    }
}

/// Remembers nothing (a value with neither `Serialize`, `Display` nor `Debug`).
pub trait RememberNothing {
    /// Does nothing.
    fn __history_remember(&self, out: &mut Sink<'_>);
}

impl<T: ?Sized> RememberNothing for Redacted<'_, T> {
    fn __history_remember(&self, _: &mut Sink<'_>) {}
}

/// The contents of the `"…"` strings in `Debug` text (escapes undone for `\"` and `\\`).
fn quoted_strings(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        s.push(n);
                    }
                }
                '"' => break,
                c => s.push(c),
            }
        }
        out.push(s);
    }
    out
}
