//! Fields of the running tracked call's event that are known only once it has started: the
//! `vm_id` the provider just assigned, a label, a correlation id from a response.
//!
//! Like [`tracing::Span::record`](https://docs.rs/tracing/latest/tracing/struct.Span.html#method.record),
//! but for the call the code runs in: whatever is set here is carried by the call's final
//! record (success, failure, panic or cancellation); the in-progress record keeps what was
//! known at the start. A value set here replaces one the attribute set. Label values under a
//! key that names a secret (`password`, `api_token`, ...) are stored as `"[redacted]"`, as the
//! attribute does for arguments.
//!
//! The call is the one this thread runs in, or the one a [`Snapshot`](crate::context::Snapshot)
//! carries to another thread or task. Outside any tracked call the setters do nothing and
//! return `false` (debug builds say so in the log, at debug level).
//!
//! ```
//! # #[cfg(feature = "macros")] {
//! use history::{current_call, track_history, EventType, MemoryStore, Recorder};
//! use std::sync::Arc;
//!
//! #[track_history(event_type = EventType::VmCreate)]
//! fn create_vm(name: &str) -> Result<String, std::io::Error> {
//!     let vm_id = format!("i-{name}"); // assigned by the provider
//!     current_call::set_vm_id(vm_id.clone());
//!     current_call::set_label("zone", "eu-west-1a");
//!     Ok(vm_id)
//! }
//!
//! let store = Arc::new(MemoryStore::new());
//! let recorder = Recorder::builder().build_shared(store.clone())?;
//! history::with_default(&recorder, || create_vm("web"))?;
//! recorder.flush()?;
//! let event = &store.all()[0];
//! assert_eq!(event.vm_id, Some("i-web".into()));
//! assert_eq!(event.labels["zone"], "eu-west-1a");
//!
//! // Outside a tracked call nothing happens.
//! assert!(!current_call::set_label("zone", "nowhere"));
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::LazyLock;

use parking_lot::Mutex;

use crate::redact::{scrub_string, RedactionPolicy, Redactor, REDACTED};
use crate::{Event, EventId, SubjectId};

/// Calls with fields waiting for their final record, at most this many at once; a setter
/// beyond it does nothing (and says so in debug builds' log). Only a field set from another
/// thread after its call has finished stays here for good.
const MAX_PENDING_CALLS: usize = 1024;

/// Sets the user the running call's event concerns. Returns whether there was a call.
pub fn set_user_id(id: impl Into<SubjectId>) -> bool {
    set(|f| f.user_id = Some(id.into()))
}

/// Sets the VM the running call's event concerns. Returns whether there was a call.
pub fn set_vm_id(id: impl Into<SubjectId>) -> bool {
    set(|f| f.vm_id = Some(id.into()))
}

/// Sets the credential the running call's event concerns (its id, never the secret).
/// Returns whether there was a call.
pub fn set_credential_id(id: impl Into<SubjectId>) -> bool {
    set(|f| f.credential_id = Some(id.into()))
}

/// Sets the organization the running call's event concerns. Returns whether there was a call.
pub fn set_organization_id(id: impl Into<SubjectId>) -> bool {
    set(|f| f.organization_id = Some(id.into()))
}

/// Sets the running call's correlation id. Returns whether there was a call.
pub fn set_correlation_id(id: impl Into<String>) -> bool {
    set(|f| f.correlation_id = Some(id.into()))
}

/// Sets a label of the running call's event (a key the recorder's redaction policy names
/// secret keeps its value out: `"[redacted]"`). Returns whether there was a call.
pub fn set_label(key: impl Into<String>, value: impl Into<String>) -> bool {
    set(|f| f.labels.push((key.into(), value.into())))
}

/// Applies to `event` what the setters above set while `event` was the running call (see
/// [`Snapshot::within_event`](crate::context::Snapshot::within_event)), and forgets it.
/// Returns whether anything was set. For events recorded by hand; tracked calls do this
/// themselves. Labels are redacted by the default policy here; [`Recorder::record`](crate::Recorder::record)
/// applies the recorder's own.
///
/// ```
/// use history::{context, current_call, Event, EventType};
///
/// let mut event = Event::new(EventType::ApiRequest, "GET /vms");
/// context::snapshot()
///     .within_event(event.id, event.id)
///     .in_scope(|| current_call::set_user_id(7));
/// assert!(current_call::apply_pending(&mut event));
/// assert_eq!(event.user_id, Some(7.into()));
/// ```
pub fn apply_pending(event: &mut Event) -> bool {
    match take(event.id) {
        Some(mut fields) => {
            fields.redact(&RedactionPolicy::default(), None);
            fields.apply(event);
            true
        }
        None => false,
    }
}

/// Fields set on one call, applied to its final record.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    user_id: Option<SubjectId>,
    vm_id: Option<SubjectId>,
    credential_id: Option<SubjectId>,
    organization_id: Option<SubjectId>,
    correlation_id: Option<String>,
    labels: Vec<(String, String)>,
}

impl Fields {
    /// Keeps secrets out as the call's capture does: labels under a name `policy` calls
    /// secret are redacted; URL passwords and the call's own redacted values (`secrets`) are
    /// scrubbed from the other labels and the correlation id.
    pub(crate) fn redact(&mut self, policy: &RedactionPolicy, secrets: Option<&Redactor>) {
        let texts = self
            .labels
            .iter_mut()
            .filter_map(|(key, value)| {
                if policy.is_secret(key) {
                    *value = REDACTED.to_owned();
                    None
                } else {
                    Some(value)
                }
            })
            .chain(self.correlation_id.as_mut());
        for text in texts {
            scrub_string(text);
            if let Some(secrets) = secrets {
                if let std::borrow::Cow::Owned(clean) = secrets.scrub(text) {
                    *text = clean;
                }
            }
        }
    }

    /// Writes the fields into `event`, kept within the event's limits.
    pub(crate) fn apply(self, event: &mut Event) {
        for (field, value) in [
            (&mut event.user_id, self.user_id),
            (&mut event.vm_id, self.vm_id),
            (&mut event.credential_id, self.credential_id),
            (&mut event.organization_id, self.organization_id),
        ] {
            if value.is_some() {
                *field = value;
            }
        }
        if self.correlation_id.is_some() {
            event.correlation_id = self.correlation_id;
        }
        event.labels.extend(self.labels);
        event.fit_to_limits();
    }
}

/// How many calls have fields waiting: the call's end looks them up only when this is not 0.
static PENDING_CALLS: AtomicUsize = AtomicUsize::new(0);
static PENDING: LazyLock<Mutex<HashMap<EventId, Fields>>> = LazyLock::new(Mutex::default);

fn set(write: impl FnOnce(&mut Fields)) -> bool {
    let Some(span) = crate::context::current_span() else {
        #[cfg(debug_assertions)]
        tracing::debug!("history: a field was set outside any tracked call; nothing recorded");
        return false;
    };
    let mut pending = PENDING.lock();
    if !pending.contains_key(&span.id) && pending.len() >= MAX_PENDING_CALLS {
        #[cfg(debug_assertions)]
        tracing::debug!(
            "history: a field of event {} was not kept: {MAX_PENDING_CALLS} calls already wait \
             for theirs",
            span.id
        );
        return false;
    }
    write(pending.entry(span.id).or_default());
    PENDING_CALLS.store(pending.len(), Ordering::Release);
    true
}

/// The fields set on the call `id`, taken for its final record.
#[inline]
pub(crate) fn take(id: EventId) -> Option<Fields> {
    if PENDING_CALLS.load(Ordering::Acquire) == 0 {
        return None;
    }
    let mut pending = PENDING.lock();
    let fields = pending.remove(&id);
    PENDING_CALLS.store(pending.len(), Ordering::Release);
    fields
}
