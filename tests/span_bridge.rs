//! history → tracing (`history`'s `tracing-spans` feature): each tracked call runs inside a
//! span named after its function carrying its event id, type and subject ids, entered across
//! `.await`; log lines inside the call carry the event id. A real `tracing-subscriber` stack.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use history::{track_history, EventStatus, EventType, MemoryStore, Query, Recorder};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// What the fmt layer wrote.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// A span's name and its fields (as text).
type SpanFields = (String, BTreeMap<String, String>);

/// Every span's name and fields, as created and recorded.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<SpanFields>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);
impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

/// The index of a span in [`Spans`].
struct Index(usize);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Spans {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut all = self.0.lock().unwrap();
        all.push((attrs.metadata().name().to_owned(), fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Index(all.len() - 1));
        }
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(Index(i)) = span.extensions().get::<Index>().map(|i| Index(i.0)) else {
            return;
        };
        values.record(&mut Fields(&mut self.0.lock().unwrap()[i].1));
    }
}

#[track_history(event_type = EventType::VmCreate, user_id = user, vm_id = vm)]
fn create_vm(user: u64, vm: &str) -> Result<u32, String> {
    tracing::info!("inside the call");
    if vm == "bad" {
        return Err("quota exceeded".into());
    }
    Ok(1)
}

#[track_history(event_type = EventType::VmStart, no_span)]
fn start_vm_quietly() {
    tracing::info!("no span here");
}

#[track_history(event_type = "vm_resize")]
async fn resize(size: u32) -> u32 {
    tracing::info!("before the await");
    tokio::task::yield_now().await;
    tracing::info!("after the await");
    size
}

/// tracing's interest cache is process-wide: a callsite first reached by a test without a
/// subscriber, while another test's scoped subscriber is being set up, can be cached as
/// "never interested" for good (its registration races the other test's rebuild of the
/// cache). The tests of this binary take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn recorder() -> Recorder {
    Recorder::new(MemoryStore::new()).unwrap()
}

fn events(recorder: &Recorder) -> Vec<history::Event> {
    recorder.flush().unwrap();
    recorder
        .store()
        .query(&Query::new().oldest_first())
        .unwrap()
        .items
}

#[test]
fn log_lines_inside_a_tracked_call_carry_its_event_id() {
    let _turn = one_at_a_time();
    let recorder = recorder();
    let lines = Lines::default();
    let spans = Spans::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(move || writer.clone()),
        )
        .with(spans.clone());
    tracing::subscriber::with_default(subscriber, || {
        // A callsite first reached by an earlier test without a subscriber cached "never
        // interested" (tracing's interest cache is global): rebuild it under this one.
        tracing::callsite::rebuild_interest_cache();
        history::with_default(&recorder, || {
            create_vm(7, "web").unwrap();
            create_vm(7, "bad").unwrap_err();
            start_vm_quietly();
        })
    });
    let events = events(&recorder);
    assert_eq!(events.len(), 3);
    let text = lines.text();
    let line = |needle: &str| {
        text.lines()
            .filter(|l| l.contains(needle))
            .collect::<Vec<_>>()
    };
    let inside = line("inside the call");
    assert_eq!(inside.len(), 2, "{text}");
    for (line, event) in inside.iter().zip(&events) {
        assert!(
            line.contains(&format!("create_vm{{history.event_id={}", event.id)),
            "{line}"
        );
        assert!(line.contains("history.event_type=vm_create"), "{line}");
        assert!(line.contains("user_id=7"), "{line}");
        assert!(
            line.contains(&format!("vm_id={}", event.vm_id.as_ref().unwrap())),
            "{line}"
        );
    }
    let quiet = line("no span here");
    assert_eq!(quiet.len(), 1);
    assert!(
        !quiet[0].contains("history.event_id"),
        "no_span: {}",
        quiet[0]
    );

    let spans = spans.0.lock().unwrap();
    assert_eq!(spans.len(), 2, "one span per call, none for no_span");
    let (name, ok) = &spans[0];
    assert_eq!(name, "create_vm");
    assert_eq!(ok["history.event_id"], events[0].id.to_string());
    assert_eq!(ok["history.status"], "success");
    assert!(!ok.contains_key("otel.status_code"));
    let failed = &spans[1].1;
    assert_eq!(events[1].status, EventStatus::Failed);
    assert_eq!(failed["history.status"], "failed");
    assert_eq!(failed["otel.status_code"], "error");
}

#[test]
fn an_async_call_is_inside_its_span_on_every_poll() {
    let _turn = one_at_a_time();
    let recorder = recorder();
    let lines = Lines::default();
    let writer = lines.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        // A callsite first reached by an earlier test without a subscriber cached "never
        // interested" (tracing's interest cache is global): rebuild it under this one.
        tracing::callsite::rebuild_interest_cache();
        history::with_default(&recorder, || {
            assert_eq!(runtime.block_on(resize(8)), 8);
        })
    });
    let events = events(&recorder);
    let id = format!("resize{{history.event_id={}", events[0].id);
    let text = lines.text();
    for needle in ["before the await", "after the await"] {
        let line = text.lines().find(|l| l.contains(needle)).unwrap();
        assert!(line.contains(&id), "{line}");
    }
}

#[test]
fn without_a_subscriber_the_call_is_recorded_as_usual() {
    let _turn = one_at_a_time();
    let recorder = recorder();
    history::with_default(&recorder, || create_vm(1, "x").unwrap());
    let events = events(&recorder);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, EventStatus::Success);
}
