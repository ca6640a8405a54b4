//! A varied, reproducible data set for the conformance suite (and benches).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use crate::event::{
    ErrorInfo, Event, EventId, EventStatus, EventType, SubjectId, W3cSpanId, W3cTraceId,
};
use crate::Json;

/// A small, fast, reproducible pseudo-random generator (xorshift64*), so the suite needs no
/// extra dependency and every run sees the same data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// One element of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The start of the sample data's time range.
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// `n` varied events from `seed`: every event type family, every status, integer and text
/// subject ids, labels, errors with source chains, parents and traces, durations or none, and
/// many events sharing a start time (ties). Start times fall within 10 days of
/// [`base_time`], at whole seconds so that ties are frequent.
pub fn sample_events(n: usize, seed: u64) -> Vec<Event> {
    let mut rng = Rng::new(seed);
    let types = [
        EventType::VmCreate,
        EventType::VmStart,
        EventType::VmDelete,
        EventType::TerraformApply,
        EventType::ApiRequest,
        EventType::Custom("backup_run".into()),
    ];
    let users = [
        SubjectId::Int(1),
        SubjectId::Int(2),
        SubjectId::Int(3),
        SubjectId::Text("u-1".into()),
        SubjectId::Text("1".into()),
    ];
    let ops = ["svc::create", "svc::start", "svc::delete", "tf::apply"];
    let regions = ["eu", "us", "ap"];
    let errors = [
        ("quota exceeded", vec!["disk full".to_string()]),
        ("timeout", vec![]),
        (
            "request failed",
            vec!["connection reset".into(), "quota: x".into()],
        ),
    ];
    let base = base_time();
    let mut out: Vec<Event> = Vec::with_capacity(n);
    for i in 0..n {
        let mut e = Event::new(rng.pick(&types).clone(), *rng.pick(&ops));
        // Many ties: a few hundred distinct seconds over 10 days.
        let secs = rng.below(400) as i64 * 2160;
        e.started_at = base + chrono::Duration::seconds(secs);
        e.status = *rng.pick(EventStatus::ALL);
        if e.status.is_terminal() && rng.chance(90) {
            let micros = rng.below(120_000_000);
            let d = Duration::from_micros(micros);
            e.duration = Some(d);
            e.finished_at = Some(e.started_at + chrono::Duration::microseconds(micros as i64));
        }
        if rng.chance(85) {
            e.user_id = Some(rng.pick(&users).clone());
        }
        if rng.chance(70) {
            e.vm_id = Some(SubjectId::Int(rng.below(6) as i64));
        }
        if rng.chance(30) {
            e.credential_id = Some(SubjectId::Text(format!("cred-{}", rng.below(3))));
        }
        if rng.chance(50) {
            e.organization_id = Some(SubjectId::Text(format!("org-{}", rng.below(2))));
        }
        if rng.chance(60) {
            e.labels
                .insert("region".into(), rng.pick(&regions).to_string());
        }
        if rng.chance(30) {
            e.labels.insert("tier".into(), "gold".into());
        }
        if rng.chance(10) {
            e.labels.insert("k.\"x".into(), "odd key".into());
        }
        e.parameters = Json::from(serde_json::json!({"n": i, "name": format!("vm-{}", i % 7)}));
        if e.status == EventStatus::Success && rng.chance(80) {
            e.result = Some(Json::from(serde_json::json!({"ok": true, "i": i})));
        }
        if matches!(e.status, EventStatus::Failed | EventStatus::Cancelled) || rng.chance(3) {
            let (msg, sources) = rng.pick(&errors).clone();
            let mut info = ErrorInfo::new(msg);
            info.sources = sources;
            if rng.chance(50) {
                info.kind = Some("CloudError".into());
            }
            e.error = Some(Box::new(info));
        }
        if i > 0 && rng.chance(25) {
            let parent = &out[rng.below(out.len() as u64) as usize];
            e.parent_id = Some(parent.id);
            e.trace_id = Some(parent.trace_id.unwrap_or(parent.id));
        } else if rng.chance(50) {
            // A root call is its own trace, as `#[track_history]` records it.
            e.trace_id = Some(e.id);
        }
        if rng.chance(20) {
            e.correlation_id = Some(format!("req-{}", rng.below(4)));
        }
        if e.event_type.is_terraform() && rng.chance(50) {
            e.execution = Some(Json::from(serde_json::json!({"exit_code": 0})));
        }
        // Where it ran: from the index, so the random sequence (and every other field) is
        // the same as without them. Most events carry both, some one, a few neither.
        if i % 7 != 0 {
            e.host = Some(format!("host-{}", i % 3));
        }
        if i % 5 != 0 {
            e.service = Some(["api", "worker"][i % 2].to_string());
        }
        // A distributed trace: every third event, in one of three traces; most with a span.
        if i % 3 == 0 {
            e.external_trace_id = W3cTraceId::from_bytes(((i % 9 / 3 + 1) as u128).to_be_bytes());
            if i % 2 == 0 {
                e.external_span_id = W3cSpanId::from_bytes((i as u64 + 1).to_be_bytes());
            }
        }
        out.push(e);
    }
    out
}

/// An id that no sample event has.
pub(super) fn unknown_id() -> EventId {
    EventId::new()
}
