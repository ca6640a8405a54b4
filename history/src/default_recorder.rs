//! The recorder annotated functions use when they are not given one: a process-wide default
//! ([`init`]) and a per-thread override ([`set_default`]), as `tracing` does for subscribers.
//!
//! Tracked calls look the recorder up on every call. Each thread keeps its own handle to it
//! (an `Arc` of a clone): taking the handle touches only that thread's counter, not the lock
//! word and reference count every thread shares. The process-wide default is cached per
//! thread under a version number that [`init`] and the guard's drop bump, so a thread sees a
//! change on its next call.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::{Error, Recorder};

static GLOBAL: RwLock<Option<Recorder>> = RwLock::new(None);

/// Bumped (under the write lock) each time [`GLOBAL`] changes. Starts at 1: a thread's cache
/// starts at 0, never current.
static VERSION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static SCOPED: RefCell<Option<Arc<Recorder>>> = const { RefCell::new(None) };
    /// This thread's handle to the process-wide default, and the version it was read at.
    static CACHED: RefCell<(u64, Option<Arc<Recorder>>)> = const { RefCell::new((0, None)) };
}

/// Installs `recorder` as the process-wide default.
///
/// Returns a guard: dropping it uninstalls the recorder and shuts it down, flushing what was
/// recorded (keep it alive in `main`, like `tracing_appender`'s guard). Fails with
/// [`Error::AlreadyInitialized`] while another default is installed.
///
/// ```
/// use history::{MemoryStore, Recorder};
/// let guard = history::init(Recorder::new(MemoryStore::new())?)?;
/// assert!(history::current().is_some());
/// drop(guard); // flushes and uninstalls
/// assert!(history::current().is_none());
/// # Ok::<(), history::Error>(())
/// ```
pub fn init(recorder: Recorder) -> Result<DefaultGuard, Error> {
    let mut global = GLOBAL.write();
    if global.is_some() {
        return Err(Error::AlreadyInitialized);
    }
    *global = Some(recorder.clone());
    VERSION.fetch_add(1, Ordering::Release);
    Ok(DefaultGuard { recorder })
}

/// Uninstalls and shuts down the process-wide default recorder when dropped.
#[must_use = "dropping the guard at once uninstalls the recorder"]
#[derive(Debug)]
pub struct DefaultGuard {
    recorder: Recorder,
}

impl DefaultGuard {
    /// The installed recorder.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }
}

impl Drop for DefaultGuard {
    fn drop(&mut self) {
        let mut global = GLOBAL.write();
        if global
            .as_ref()
            .is_some_and(|r| Recorder::ptr_eq(r, &self.recorder))
        {
            *global = None;
            VERSION.fetch_add(1, Ordering::Release);
        }
        drop(global);
        if let Err(e) = self.recorder.shutdown() {
            tracing::error!("history: shutting down the default recorder: {e}");
        }
    }
}

/// Makes `recorder` the default for the current thread until the guard is dropped (then the
/// previous one is restored). Takes precedence over the process-wide default.
pub fn set_default(recorder: &Recorder) -> ScopedGuard {
    let previous = SCOPED.with(|s| s.borrow_mut().replace(Arc::new(recorder.clone())));
    ScopedGuard {
        previous,
        _not_send: PhantomData,
    }
}

/// Restores the previous thread default when dropped. Not `Send`: it belongs to its thread.
#[must_use = "dropping the guard at once restores the previous default"]
#[derive(Debug)]
pub struct ScopedGuard {
    previous: Option<Arc<Recorder>>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for ScopedGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        SCOPED.with(|s| *s.borrow_mut() = previous);
    }
}

/// Runs `f` with `recorder` as this thread's default.
pub fn with_default<T>(recorder: &Recorder, f: impl FnOnce() -> T) -> T {
    let _guard = set_default(recorder);
    f()
}

/// The recorder in effect here: the thread's default, else the process-wide one.
pub fn current() -> Option<Recorder> {
    current_handle().map(|r| Recorder::clone(&r))
}

/// [`current`], as this thread's handle (see the module docs).
pub(crate) fn current_handle() -> Option<Arc<Recorder>> {
    if let Some(scoped) = SCOPED.try_with(|s| s.borrow().clone()).ok().flatten() {
        return Some(scoped);
    }
    let version = VERSION.load(Ordering::Acquire);
    CACHED
        .try_with(|cached| {
            let mut cached = cached.try_borrow_mut().ok()?;
            if cached.0 != version {
                let global = GLOBAL.read();
                // Read under the lock: the value and its version agree.
                *cached = (
                    VERSION.load(Ordering::Acquire),
                    global.as_ref().map(|r| Arc::new(r.clone())),
                );
            }
            Some(cached.1.clone())
        })
        .ok()
        .flatten()
        // The thread is exiting (its locals are gone), or a cache read is under way.
        .unwrap_or_else(|| GLOBAL.read().as_ref().map(|r| Arc::new(r.clone())))
}
