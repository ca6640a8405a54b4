//! Trace correlation: with an OpenTelemetry context active (through `tracing-opentelemetry` or
//! the `opentelemetry` API), events store its W3C trace id and span id, read on the caller's
//! thread when the call starts. A real OpenTelemetry SDK tracer provider behind a real
//! `tracing-opentelemetry` layer; the spans it ends are collected by a span processor.

use std::sync::{Arc, Mutex, Once};

use history::{track_history, Event, EventType, MemoryStore, Query, Recorder};
use history_tracing::HistoryLayer;
use opentelemetry::trace::{SpanContext, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// The spans the SDK ended, by name.
#[derive(Debug, Clone, Default)]
struct Ended(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Ended {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {}
    fn on_end(&self, span: SpanData) {
        self.0.lock().unwrap().push(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| history_tracing::install_opentelemetry().unwrap());
}

/// The current tracing span's OpenTelemetry span context.
fn current() -> SpanContext {
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .clone()
}

#[track_history(event_type = EventType::VmCreate)]
fn create_vm(name: &str) -> SpanContext {
    // Inside the call's own span (the bridge).
    current()
}

#[track_history(event_type = EventType::VmStart, no_span)]
fn start_vm() {}

fn events(recorder: &Recorder) -> Vec<Event> {
    recorder.flush().unwrap();
    recorder
        .store()
        .query(&Query::new().oldest_first())
        .unwrap()
        .items
}

fn hex(context: &SpanContext) -> (String, String) {
    (
        context.trace_id().to_string(),
        context.span_id().to_string(),
    )
}

fn ids(e: &Event) -> (String, String) {
    (
        e.external_trace_id.unwrap().to_string(),
        e.external_span_id.unwrap().to_string(),
    )
}

#[test]
fn tracked_calls_store_the_trace_of_the_request_and_their_own_span() {
    install();
    let ended = Ended::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(ended.clone())
        .build();
    let recorder = Recorder::new(MemoryStore::new()).unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
        .with(HistoryLayer::new(recorder.clone()));
    let (request, inside) = tracing::subscriber::with_default(subscriber, || {
        history::with_default(&recorder, || {
            let span = tracing::info_span!("request");
            let _entered = span.enter();
            let request = current();
            let inside = create_vm("web");
            start_vm();
            tracing::info_span!("probe", history.event_type = "vm_probe").in_scope(|| ());
            (request, inside)
        })
    });
    let events = events(&recorder);
    assert_eq!(events.len(), 3, "{events:#?}");
    assert!(request.is_valid());
    let (create, start, probe) = (&events[0], &events[1], &events[2]);
    // The tracked call: the request's trace, its own span (a child of the request's).
    assert_eq!(ids(create), hex(&inside));
    assert_eq!(hex(&inside).0, hex(&request).0);
    assert_ne!(hex(&inside).1, hex(&request).1);
    // Without its own span (`no_span`): the caller's span.
    assert_eq!(ids(start), hex(&request));
    // A span recorded by the layer: its own span in the same trace.
    assert_eq!(ids(probe).0, hex(&request).0);
    assert_ne!(ids(probe).1, hex(&request).1);

    // tracing-opentelemetry saw the tracked call: a span named after the function, in the
    // request's trace, carrying the event id.
    drop(provider);
    let ended = ended.0.lock().unwrap();
    let span = ended
        .iter()
        .find(|s| s.name == "create_vm")
        .expect("the tracked call's span was exported");
    assert_eq!(span.span_context.span_id().to_string(), ids(create).1);
    assert_eq!(span.parent_span_id.to_string(), hex(&request).1);
    assert!(span
        .attributes
        .iter()
        .any(|kv| kv.key.as_str() == "history.event_id"
            && kv.value.as_str() == create.id.to_string()));
}

#[test]
fn a_context_attached_with_the_opentelemetry_api_is_used_too() {
    install();
    let provider = SdkTracerProvider::builder().build();
    let tracer = provider.tracer("api");
    let recorder = Recorder::new(MemoryStore::new()).unwrap();
    // No tracing subscriber at all: the context comes from the opentelemetry API alone.
    let span = tracer.start("job");
    let context = opentelemetry::Context::current_with_span(span);
    let expected = hex(context.span().span_context());
    {
        let _attached = context.clone().attach();
        history::with_default(&recorder, start_vm);
    }
    history::with_default(&recorder, start_vm);
    let events = events(&recorder);
    assert_eq!(ids(&events[0]), expected);
    assert_eq!(events[1].external_trace_id, None, "no context: no ids");
}
