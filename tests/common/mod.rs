//! Shared helpers of the macro behaviour tests: a recorder over a `MemoryStore` the test
//! can read back.

#![allow(dead_code)]

use std::sync::Arc;

use history::{Event, MemoryStore, Recorder};

/// A recorder and the store it writes to.
pub struct Mem {
    pub recorder: Recorder,
    pub store: Arc<MemoryStore>,
}

impl Mem {
    pub fn new() -> Mem {
        let store = Arc::new(MemoryStore::new());
        let recorder = Recorder::builder()
            .build_shared(store.clone())
            .expect("recorder starts");
        Mem { recorder, store }
    }

    /// Flushes, then every stored event, oldest first.
    pub fn events(&self) -> Vec<Event> {
        self.recorder.flush().expect("flush");
        self.store.all()
    }

    /// Flushes, then the only stored event (panics if there is not exactly one).
    pub fn only(&self) -> Event {
        let mut all = self.events();
        assert_eq!(all.len(), 1, "expected exactly one event, got {all:#?}");
        all.remove(0)
    }

    /// Runs `f` with this recorder as the thread's default.
    pub fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        history::with_default(&self.recorder, f)
    }
}
