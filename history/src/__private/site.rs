//! What one call site settles before its call starts: its options, its recorder, its
//! operation name and event type.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::recorder_arg::AsRecorder;
use crate::{Durability, EventType, Recorder};

/// Per-call-site settings the expansion passes as a constant.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Walk `TerraformStatus` initiated → provisioning → completed / failed.
    pub terraform: bool,
    /// Capture a backtrace for every error, not only when `RUST_BACKTRACE` asks for one.
    pub backtrace: bool,
    /// How the final record is written (`durability = sync`: the call returns only once it
    /// is committed). The in-progress records are always buffered.
    pub durability: Durability,
}

/// The recorder `recorder = <expr>` names.
#[inline]
pub fn explicit_recorder<T: AsRecorder + ?Sized>(recorder: &T) -> Option<Recorder> {
    recorder.as_recorder().cloned()
}

static WARNED: AtomicBool = AtomicBool::new(false);

/// The default recorder ([`crate::current`]), as this thread's handle; with none, warns once
/// per process.
#[inline]
pub fn default_recorder(operation: &'static str) -> Option<Arc<Recorder>> {
    let recorder = crate::default_recorder::current_handle();
    if recorder.is_none() {
        warn_once(|| {
            format!(
                "history: `{operation}` and other tracked calls run unrecorded: no recorder is \
                 set up (call history::init, history::set_default, or pass recorder = ...)"
            )
        });
    }
    recorder
}

fn warn_once(message: impl FnOnce() -> String) {
    if WARNED.load(Ordering::Relaxed) || WARNED.swap(true, Ordering::Relaxed) {
        return;
    }
    let message = message();
    if tracing::dispatcher::has_been_set() {
        tracing::warn!("{message}");
    } else {
        eprintln!("{message}");
    }
}

/// The operation name: `module::Type::function` for methods, else `module::function`.
pub fn operation(module: &str, self_type: Option<&str>, function: &str) -> String {
    let mut op = String::with_capacity(module.len() + function.len() + 24);
    op.push_str(module);
    if let Some(ty) = self_type {
        // `a::b::Type<c::D>` → `Type`
        let base = ty.split('<').next().unwrap_or(ty);
        let name = base.rsplit("::").next().unwrap_or(base);
        if !name.is_empty() {
            op.push_str("::");
            op.push_str(name);
        }
    }
    op.push_str("::");
    op.push_str(function);
    op
}

/// `event_type = <expr>` must be an [`EventType`]; a wrong type is a compile error here.
#[inline]
pub fn event_type(event_type: EventType) -> EventType {
    event_type
}

/// A custom event type the macro has already validated.
#[inline]
pub fn custom_type(name: &str) -> EventType {
    EventType::custom(name).unwrap_or_else(|_| EventType::Custom(name.to_owned()))
}

/// Applies an `ok_if` / `error_if` condition to the returned value.
#[inline]
pub fn check<R: ?Sized>(value: &R, condition: impl FnOnce(&R) -> bool) -> bool {
    condition(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names() {
        assert_eq!(operation("a::b", None, "f"), "a::b::f");
        assert_eq!(
            operation("a::b", Some("a::b::Svc<x::Y>"), "create"),
            "a::b::Svc::create"
        );
    }
}
