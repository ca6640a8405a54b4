//! Which recorder a tracked call uses: `recorder = <expr>`, else the thread's default, else
//! the process-wide one; with none the call runs normally, records nothing and warns once.
//!
//! One test, in order: the process-wide default is process state.

mod common;

use std::sync::Arc;

use common::{Captured, Mem};
use history::{track_history, Recorder};

#[track_history(event_type = "default_choice")]
fn uses_default(n: u32) -> Result<u32, String> {
    Ok(n * 2)
}

struct Svc {
    history: Recorder,
    maybe: Option<Recorder>,
    shared: Arc<Recorder>,
}

impl Svc {
    #[track_history(event_type = "field", recorder = self.history)]
    fn field(&self) -> u8 {
        1
    }
    #[track_history(event_type = "optional", recorder = self.maybe)]
    fn optional(&self) -> u8 {
        2
    }
    #[track_history(event_type = "shared", recorder = self.shared)]
    fn shared(&self) -> u8 {
        3
    }
}

#[test]
fn recorder_choice() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    // 1. nothing set up: the call works, nothing recorded, one warning for any number of calls
    assert_eq!(uses_default(2), Ok(4));
    assert_eq!(uses_default(3), Ok(6));
    let text = logs.text();
    assert_eq!(text.matches("no recorder is set up").count(), 1, "{text}");
    assert!(text.contains("macro_recorder::uses_default"), "{text}");

    // 2. explicit recorders of several shapes
    let a = Mem::new();
    let svc = Svc {
        history: a.recorder.clone(),
        maybe: None,
        shared: Arc::new(a.recorder.clone()),
    };
    assert_eq!(svc.field() + svc.optional() + svc.shared(), 6);
    let types: Vec<String> = a
        .events()
        .iter()
        .map(|e| e.event_type.to_string())
        .collect();
    assert_eq!(types, ["field", "shared"]); // `None` records nothing

    // 3. the process-wide default
    let global = Mem::new();
    let guard = history::init(global.recorder.clone()).unwrap();
    uses_default(1).unwrap();
    // 4. a thread default wins over it, for that thread only
    let local = Mem::new();
    history::with_default(&local.recorder, || uses_default(5).unwrap());
    std::thread::spawn(|| uses_default(6).unwrap())
        .join()
        .unwrap();
    // an explicit recorder wins over both
    svc.field();

    let g: Vec<String> = global
        .events()
        .iter()
        .map(|e| e.parameters.to_string())
        .collect();
    assert_eq!(g, [r#"{"n":1}"#, r#"{"n":6}"#]);
    assert_eq!(local.only().parameters.to_string(), r#"{"n":5}"#);
    assert_eq!(a.events().len(), 3);
    drop(guard);
    // uninstalled again: runs, records nothing
    assert_eq!(uses_default(7), Ok(14));
    assert_eq!(global.events().len(), 2);

    // 5. a thread that keeps running sees each change of the default on its next call
    // (each thread keeps its own handle to the default: it must not go stale)
    let (calls, called) = (
        std::sync::mpsc::channel::<u32>(),
        std::sync::mpsc::channel(),
    );
    let (call, next_call) = calls;
    let (done, wait_done) = called;
    let worker = std::thread::spawn(move || {
        for n in next_call {
            done.send(uses_default(n).unwrap()).unwrap();
        }
    });
    let run = |n: u32| {
        call.send(n).unwrap();
        wait_done.recv().unwrap()
    };
    let first = Mem::new();
    let guard = history::init(first.recorder.clone()).unwrap();
    run(10);
    drop(guard);
    run(11);
    let second = Mem::new();
    let guard = history::init(second.recorder.clone()).unwrap();
    run(12);
    assert_eq!(first.only().parameters.to_string(), r#"{"n":10}"#);
    assert_eq!(second.only().parameters.to_string(), r#"{"n":12}"#);
    drop(guard);
    drop(call);
    worker.join().unwrap();
}
