//! [`AsRecorder`]: what `recorder = <expr>` may name.

use std::sync::Arc;

use crate::Recorder;

/// Types `recorder = <expr>` accepts: `Recorder`, `Option<Recorder>`, `Arc<Recorder>` and
/// references to them.
pub trait AsRecorder {
    /// The recorder, if there is one.
    fn as_recorder(&self) -> Option<&Recorder>;
}
impl AsRecorder for Recorder {
    fn as_recorder(&self) -> Option<&Recorder> {
        Some(self)
    }
}
impl<T: AsRecorder> AsRecorder for Option<T> {
    fn as_recorder(&self) -> Option<&Recorder> {
        self.as_ref().and_then(|r| r.as_recorder())
    }
}
impl<T: AsRecorder + ?Sized> AsRecorder for &T {
    fn as_recorder(&self) -> Option<&Recorder> {
        (**self).as_recorder()
    }
}
impl<T: AsRecorder + ?Sized> AsRecorder for Arc<T> {
    fn as_recorder(&self) -> Option<&Recorder> {
        (**self).as_recorder()
    }
}
