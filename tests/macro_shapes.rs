//! `#[track_history]` on every function shape: each call is recorded and the function's own
//! behaviour is unchanged.

mod common;

use common::Mem;
use history::{track_history, EventStatus, EventType, Recorder};
use serde_json::json;

#[derive(Debug)]
struct QuotaError {
    source: std::io::Error,
}
impl std::fmt::Display for QuotaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("quota exceeded")
    }
}
impl std::error::Error for QuotaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[track_history(event_type = EventType::VmCreate, user_id = user_id, vm_id = vm_id)]
fn create_vm(user_id: u64, vm_id: u32, name: &str) -> Result<String, QuotaError> {
    if name == "big" {
        return Err(QuotaError {
            source: std::io::Error::other("limit is 5 vms"),
        });
    }
    Ok(format!("i-{name}"))
}

#[test]
fn sync_fn_success_and_failure() {
    let mem = Mem::new();
    mem.with(|| {
        assert_eq!(create_vm(1, 2, "web").unwrap(), "i-web");
        assert!(create_vm(1, 3, "big").is_err());
    });
    let events = mem.events();
    assert_eq!(events.len(), 2);
    let ok = &events[0];
    assert_eq!(ok.event_type, EventType::VmCreate);
    assert_eq!(ok.status, EventStatus::Success);
    assert_eq!(ok.user_id, Some(1.into()));
    assert_eq!(ok.vm_id, Some(2.into()));
    assert_eq!(
        ok.parameters,
        json!({"user_id": 1, "vm_id": 2, "name": "web"})
    );
    assert_eq!(ok.result.as_ref().unwrap(), &json!("i-web"));
    assert!(ok.duration.is_some() && ok.finished_at.is_some());
    assert_eq!(ok.operation, "macro_shapes::create_vm");

    let failed = &events[1];
    assert_eq!(failed.status, EventStatus::Failed);
    let error = failed.error.as_ref().unwrap();
    assert_eq!(error.message, "quota exceeded");
    assert_eq!(error.sources, vec!["limit is 5 vms".to_owned()]);
    assert!(failed.result.is_none());
}

struct VmService {
    history: Recorder,
    region: String,
}

impl VmService {
    #[track_history(event_type = EventType::VmStart, vm_id = id, recorder = self.history, labels(region = self.region))]
    async fn start(&self, id: u64) -> Result<(), QuotaError> {
        tokio::task::yield_now().await;
        Ok(())
    }

    #[track_history(event_type = "vm_rename", recorder = self.history)]
    fn rename(&mut self, name: String) -> &str {
        self.region = name;
        &self.region
    }
}

#[tokio::test]
async fn async_method_with_explicit_recorder() {
    let mem = Mem::new();
    let mut svc = VmService {
        history: mem.recorder.clone(),
        region: "eu-west-1".into(),
    };
    svc.start(7).await.unwrap();
    assert_eq!(svc.rename("us-east-1".into()), "us-east-1");
    let events = mem.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].event_type, EventType::VmStart);
    assert_eq!(events[0].status, EventStatus::Success);
    assert_eq!(events[0].vm_id, Some(7.into()));
    assert_eq!(events[0].labels["region"], "eu-west-1");
    assert_eq!(events[0].operation, "macro_shapes::VmService::start");
    assert_eq!(events[0].result.as_ref().unwrap(), &json!(null));
    assert_eq!(events[1].event_type.as_str(), "vm_rename");
    assert_eq!(events[1].result.as_ref().unwrap(), &json!("us-east-1"));
}

// ---- receivers and associated functions ----

#[derive(Debug, serde::Serialize)]
struct Counter {
    n: u32,
}

impl Counter {
    #[track_history(event_type = "counter_new")]
    fn new(start: u32) -> Self {
        Counter { n: start }
    }

    #[track_history(event_type = "counter_bump")]
    fn bump(&mut self, by: u32) -> u32 {
        self.n += by;
        self.n
    }

    #[track_history(event_type = "counter_first")]
    fn first_mut(&mut self) -> &mut u32 {
        &mut self.n
    }

    #[track_history(event_type = "counter_into")]
    fn into_inner(self) -> u32 {
        self.n
    }

    #[track_history(event_type = "counter_peek")]
    fn peek<'a>(&'a self, _unused: &'a str) -> &'a u32 {
        &self.n
    }
}

#[test]
fn receivers_and_associated_fns() {
    let mem = Mem::new();
    let n = mem.with(|| {
        let mut c = Counter::new(1);
        assert_eq!(c.bump(2), 3);
        *c.first_mut() += 1;
        assert_eq!(*c.peek("x"), 4);
        c.into_inner()
    });
    assert_eq!(n, 4);
    let events = mem.events();
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "counter_new",
            "counter_bump",
            "counter_first",
            "counter_peek",
            "counter_into"
        ]
    );
    assert!(events.iter().all(|e| e.status == EventStatus::Success));
    // `Self` in the signature names the type; self is not captured.
    assert_eq!(events[0].operation, "macro_shapes::Counter::new");
    assert_eq!(events[0].result.as_ref().unwrap(), &json!({"n": 1}));
    assert_eq!(events[1].parameters, json!({"by": 2}));
    assert_eq!(events[1].result.as_ref().unwrap(), &json!(3));
    assert_eq!(events[4].operation, "macro_shapes::Counter::into_inner");
    assert_eq!(events[4].result.as_ref().unwrap(), &json!(4));
}

// ---- generics, where clauses, impl Trait, patterns, mut, lifetimes ----

#[track_history(event_type = "generic")]
fn largest<T>(items: &[T]) -> Option<T>
where
    T: PartialOrd + Copy + std::fmt::Debug + serde::Serialize,
{
    let mut best = *items.first()?;
    for &i in items {
        if i > best {
            best = i;
        }
    }
    Some(best)
}

#[track_history(event_type = "impl_trait")]
fn describe(value: impl std::fmt::Display, opaque: impl Into<String>) -> impl serde::Serialize {
    let s: String = opaque.into();
    vec![value.to_string(), s]
}

#[track_history(event_type = "impl_trait_result")]
fn parsed(text: &str) -> Result<impl serde::Serialize, std::num::ParseIntError> {
    let n: i64 = text.parse()?;
    Ok([n, n * 2])
}

#[derive(Clone, Copy)]
struct Point {
    x: i32,
    y: i32,
}

#[track_history(event_type = "patterns")]
fn patterns((a, b): (u32, u32), Point { x, y }: Point, mut acc: Vec<u32>) -> u32 {
    acc.push(a + b);
    acc.iter().sum::<u32>() + (x + y) as u32
}

#[track_history(event_type = "lifetimes")]
fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() {
        a
    } else {
        b
    }
}

#[track_history(event_type = "unsafe_fn")]
unsafe fn read_raw(p: *const u32) -> u32 {
    *p
}

#[test]
fn generics_impl_trait_patterns_lifetimes_unsafe() {
    let mem = Mem::new();
    mem.with(|| {
        assert_eq!(largest(&[3, 9, 2]), Some(9));
        assert_eq!(largest::<u8>(&[]), None);
        let _ = describe(5, "five");
        assert!(parsed("21").is_ok());
        assert!(parsed("x").is_err());
        assert_eq!(patterns((1, 2), Point { x: 3, y: 4 }, vec![10]), 20);
        assert_eq!(longest("ab", "abc"), "abc");
        let v = 11u32;
        assert_eq!(unsafe { read_raw(&v) }, 11);
    });
    let e = mem.events();
    assert_eq!(e.len(), 8);
    assert_eq!(e[0].parameters, json!({"items": [3, 9, 2]}));
    assert_eq!(e[0].result.as_ref().unwrap(), &json!(9));
    // `?` on None returns early: still a success (Option is a value unless error_if says so).
    assert_eq!(e[1].status, EventStatus::Success);
    assert_eq!(e[1].result.as_ref().unwrap(), &json!(null));
    // impl Display is not Serialize or Debug as far as the fn knows: the type name is kept.
    assert_eq!(e[2].parameters.to_value()["value"], json!("<i32>"));
    assert_eq!(e[2].parameters.to_value()["opaque"], json!("<&str>"));
    assert_eq!(e[2].result.as_ref().unwrap(), &json!(["5", "five"]));
    assert_eq!(e[3].result.as_ref().unwrap(), &json!([21, 42]));
    assert_eq!(e[4].status, EventStatus::Failed);
    assert_eq!(
        e[4].error.as_ref().unwrap().message,
        "invalid digit found in string"
    );
    assert_eq!(
        e[5].parameters,
        json!({"a": 1, "b": 2, "x": 3, "y": 4, "acc": [10]})
    );
    assert_eq!(e[6].result.as_ref().unwrap(), &json!("abc"));
    assert_eq!(e[7].result.as_ref().unwrap(), &json!(11));
    assert_eq!(
        e[7].parameters.to_value()["p"]
            .as_str()
            .map(|s| s.starts_with("0x")),
        Some(true)
    );
}

// ---- early return, ?, return kinds, error aliases ----

#[track_history(event_type = "early")]
fn early(n: i32) -> Result<i32, String> {
    if n < 0 {
        return Err(format!("negative: {n}"));
    }
    let doubled = n.checked_mul(2).ok_or("overflow")?;
    Ok(doubled)
}

#[track_history(event_type = "unit")]
fn unit(_n: i32) {}

#[track_history(event_type = "io")]
fn io_read(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    std::fs::read(path)
}

#[track_history(event_type = "anyhow")]
fn anyhow_op(fail: bool) -> anyhow::Result<u8> {
    use anyhow::Context as _;
    if fail {
        let inner: Result<u8, std::io::Error> = Err(std::io::Error::other("disk gone"));
        return inner.context("reading config");
    }
    Ok(1)
}

#[track_history(event_type = "boxed")]
fn boxed(fail: bool) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    if fail {
        Err("boxed failure")?;
    }
    Ok(())
}

#[test]
fn returns_and_error_types() {
    let mem = Mem::new();
    mem.with(|| {
        assert_eq!(early(-1), Err("negative: -1".into()));
        assert_eq!(early(i32::MAX), Err("overflow".into()));
        assert_eq!(early(2), Ok(4));
        unit(1);
        assert!(io_read(std::path::Path::new("/nonexistent/history-test")).is_err());
        assert!(anyhow_op(true).is_err());
        assert_eq!(anyhow_op(false).unwrap(), 1);
        assert!(boxed(true).is_err());
    });
    let e = mem.events();
    assert_eq!(e.len(), 8);
    assert_eq!(e[0].error.as_ref().unwrap().message, "negative: -1");
    assert_eq!(e[1].error.as_ref().unwrap().message, "overflow");
    assert_eq!(e[2].result.as_ref().unwrap(), &json!(4));
    assert_eq!(e[3].status, EventStatus::Success);
    assert_eq!(e[4].status, EventStatus::Failed);
    assert!(e[4]
        .error
        .as_ref()
        .unwrap()
        .kind
        .as_deref()
        .unwrap()
        .contains("io::error::Error"));
    let anyhow_err = e[5].error.as_ref().unwrap();
    assert_eq!(anyhow_err.message, "reading config");
    assert_eq!(anyhow_err.sources, vec!["disk gone".to_owned()]);
    assert_eq!(e[6].status, EventStatus::Success);
    assert_eq!(e[7].error.as_ref().unwrap().message, "boxed failure");
}

// ---- async: trait impls with #[async_trait], native async fn in traits ----

#[async_trait::async_trait]
trait Provider {
    async fn provision(&self, name: String) -> Result<u32, QuotaError>;
    async fn default_method(&self, n: u32) -> u32 {
        n
    }
    #[track_history(event_type = "trait_default")]
    async fn tracked_default(&self, (a, b): (u32, u32)) -> u32 {
        tokio::task::yield_now().await;
        a * b
    }
}

struct Aws;

#[async_trait::async_trait]
impl Provider for Aws {
    #[track_history(event_type = EventType::VmCreate, user_id = 5)]
    async fn provision(&self, name: String) -> Result<u32, QuotaError> {
        tokio::task::yield_now().await;
        if name.is_empty() {
            return Err(QuotaError {
                source: std::io::Error::other("empty name"),
            });
        }
        Ok(name.len() as u32)
    }

    #[track_history(event_type = "pattern_in_async_trait")]
    async fn default_method(&self, n: u32) -> u32 {
        n + 1
    }
}

trait Native {
    #[allow(async_fn_in_trait)]
    async fn native(&self, n: u32) -> Result<u32, String>;
}

struct Gcp;

impl Native for Gcp {
    #[track_history(event_type = "native_async")]
    async fn native(&self, n: u32) -> Result<u32, String> {
        tokio::task::yield_now().await;
        n.checked_sub(1).ok_or_else(|| "underflow".to_owned())
    }
}

#[track_history(event_type = "async_free")]
async fn async_free(mut n: u32) -> Result<Box<dyn std::fmt::Debug + Send>, String> {
    n += 1;
    tokio::task::yield_now().await;
    if n > 10 {
        return Err("too big".into());
    }
    Ok(Box::new(n))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_trait_native_trait_and_free_fns() {
    let mem = Mem::new();
    let _guard = history::set_default(&mem.recorder);
    let p: Box<dyn Provider + Send + Sync> = Box::new(Aws);
    assert_eq!(p.provision("web".into()).await.unwrap(), 3);
    assert!(p.provision(String::new()).await.is_err());
    assert_eq!(p.default_method(1).await, 2);
    assert_eq!(p.tracked_default((3, 4)).await, 12);
    assert_eq!(Gcp.native(1).await, Ok(0));
    assert!(Gcp.native(0).await.is_err());
    assert!(async_free(1).await.is_ok());
    assert!(async_free(10).await.is_err());
    // the futures stay Send: they can be spawned on a multi-threaded runtime
    fn assert_send<T: Send>(_: &T) {}
    assert_send(&async_free(1));
    assert_send(&Gcp.native(1));

    let e = mem.events();
    let defaults: Vec<_> = e
        .iter()
        .filter(|x| x.event_type.as_str() == "trait_default")
        .collect();
    assert_eq!(defaults.len(), 1);
    assert_eq!(defaults[0].result.as_ref().unwrap(), &json!(12));
    // `#[async_trait]` expanded first, yet the tuple pattern's names are recorded
    assert_eq!(defaults[0].parameters, json!({"a": 3, "b": 4}));
    let e: Vec<_> = e
        .into_iter()
        .filter(|x| x.event_type.as_str() != "trait_default")
        .collect();
    assert_eq!(e.len(), 7, "{e:#?}");
    assert_eq!(e[0].event_type, EventType::VmCreate);
    assert_eq!(e[0].user_id, Some(5.into()));
    assert_eq!(e[0].parameters, json!({"name": "web"}));
    assert_eq!(e[0].result.as_ref().unwrap(), &json!(3));
    assert_eq!(e[0].operation, "macro_shapes::Aws::provision");
    assert_eq!(e[1].status, EventStatus::Failed);
    assert_eq!(
        e[1].error.as_ref().unwrap().sources,
        vec!["empty name".to_owned()]
    );
    assert_eq!(e[2].result.as_ref().unwrap(), &json!(2));
    assert_eq!(e[3].result.as_ref().unwrap(), &json!(0));
    assert_eq!(e[4].error.as_ref().unwrap().message, "underflow");
    assert_eq!(e[5].parameters, json!({"n": 1}));
    assert_eq!(e[5].result.as_ref().unwrap(), &json!("2"));
    assert_eq!(e[6].error.as_ref().unwrap().message, "too big");
}
