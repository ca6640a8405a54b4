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

/// Log output captured in memory: a `tracing_subscriber` writer the test reads back.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
