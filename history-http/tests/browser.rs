//! The web page in a real headless Chromium, driven through chromedriver (WebDriver).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`scripts/install-chromium.sh`
//! installs Debian's packages; `HISTORY_CHROMIUM` / `HISTORY_CHROMEDRIVER` point elsewhere).
//! Without them the test says it was skipped and why, unless `HISTORY_REQUIRE_BROWSER=1`
//! (set by `.ci/run`), which makes it fail instead.

mod common;
mod webdriver;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::Router;
use common::{serve, sqlite};
use history::{ErrorInfo, Event, EventStatus, EventType, HistoryStore};
use history_http::HistoryApi;
use serde_json::{json, Value};
use webdriver::{Driver, Session};

fn binary(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

/// The browser and its driver, or why the test cannot run.
fn browser() -> Result<(PathBuf, PathBuf), String> {
    let chromium = binary("HISTORY_CHROMIUM", "/usr/bin/chromium");
    let driver = binary("HISTORY_CHROMEDRIVER", "/usr/bin/chromedriver");
    for (what, path) in [("chromium", &chromium), ("chromedriver", &driver)] {
        if !path.exists() {
            return Err(format!(
                "{what} not found at {} (run scripts/install-chromium.sh, or set HISTORY_CHROMIUM / \
                 HISTORY_CHROMEDRIVER)",
                path.display()
            ));
        }
    }
    Ok((chromium, driver))
}

/// Polls `script` (a JS expression) until it is true.
fn wait_for(c: &Session, what: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = c.execute(&format!("return !!({script});")).unwrap();
        if v == Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            let body = c
                .execute("return document.body.innerText;")
                .unwrap_or_default();
            panic!("timed out waiting for {what} ({script}); the page shows: {body}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn js(c: &Session, script: &str) -> Value {
    c.execute(script).unwrap()
}

const SCRIPT_PAYLOAD: &str = "<script>window.__pwned = 1</script>";
const IMG_PAYLOAD: &str = "<img src=x onerror=\"window.__pwned = 2\">";

#[test]
fn the_page_lists_filters_opens_and_follows_events_safely() {
    let (chromium, driver_path) = match browser() {
        Ok(found) => found,
        Err(why) => {
            if std::env::var("HISTORY_REQUIRE_BROWSER").as_deref() == Ok("1") {
                panic!("browser tests are required (HISTORY_REQUIRE_BROWSER=1) but: {why}");
            }
            eprintln!("skipped: the browser test needs Chromium: {why}");
            return;
        }
    };
    let db = sqlite();
    let mut seeded = Vec::new();
    for i in 0..5 {
        seeded.push(
            Event::builder(EventType::VmCreate, "vm::create")
                .status(EventStatus::Success)
                .user_id(1)
                .vm_id(i)
                .parameters(&json!({"size": "small", "i": i}))
                .unwrap()
                .build()
                .unwrap(),
        );
    }
    let failed = Event::builder(EventType::VmDelete, "vm::delete")
        .status(EventStatus::Failed)
        .user_id(2)
        .vm_id(99)
        .error(ErrorInfo::new("no VM with id 99 <b>bold</b>"))
        .build()
        .unwrap();
    let hostile = Event::builder(EventType::custom("evil_input").unwrap(), "forms::submit")
        .status(EventStatus::Success)
        .user_id(3)
        .label("comment", IMG_PAYLOAD)
        .parameters(&json!({"name": SCRIPT_PAYLOAD, "note": IMG_PAYLOAD}))
        .unwrap()
        .external_trace(
            "4bf92f3577b34da6a3ce929d0e0e4736".parse().unwrap(),
            Some("00f067aa0ba902b7".parse().unwrap()),
        )
        .build()
        .unwrap();
    seeded.push(failed.clone());
    seeded.push(hostile.clone());
    db.store.write_batch(&seeded).unwrap();

    // The server runs on its own runtime; the test drives the browser from this thread with
    // blocking WebDriver calls.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(async {
        let api = HistoryApi::new(db.store.clone()).poll_interval(Duration::from_millis(100));
        serve(Router::new().nest("/history", api.router())).await
    });
    let page = format!("http://{addr}/history");

    let driver = Driver::start(&driver_path);
    let profile = tempfile::tempdir().unwrap();
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        },
        "goog:loggingPrefs": {"browser": "ALL"},
    });
    let c = driver.session(caps).expect("a WebDriver session");

    // Load: every event is listed.
    c.goto(&page).unwrap();
    wait_for(
        &c,
        "the list",
        "document.querySelectorAll('#events tbody tr').length === 7",
    );
    // A sentinel that a reload would clear.
    js(&c, "window.__sentinel = 'still here'; return null;");

    // Filter: only the failed one.
    let status = c.find("#filters select[name=status]").unwrap();
    c.select_by_value(&status, "failed").unwrap();
    c.click(&c.find("#apply").unwrap()).unwrap();
    wait_for(
        &c,
        "the filtered list",
        &format!(
            "document.querySelectorAll('#events tbody tr').length === 1 && \
             document.querySelector('#events tbody tr').dataset.id === '{}'",
            failed.id
        ),
    );

    // A new event appears without reloading, when it matches the filter…
    let live = Event::builder(EventType::VmDelete, "vm::delete_live")
        .status(EventStatus::Failed)
        .error(ErrorInfo::new("appeared live"))
        .build()
        .unwrap();
    db.store.write_batch(std::slice::from_ref(&live)).unwrap();
    wait_for(
        &c,
        "the live event",
        &format!(
            "document.querySelector('#events tbody tr[data-id=\"{}\"]') !== null",
            live.id
        ),
    );
    // …and one that does not match stays out.
    let other = Event::builder(EventType::VmStart, "vm::start")
        .status(EventStatus::Success)
        .build()
        .unwrap();
    db.store.write_batch(std::slice::from_ref(&other)).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        js(
            &c,
            &format!(
                "return document.querySelector('#events tbody tr[data-id=\"{}\"]') === null;",
                other.id
            )
        ),
        Value::Bool(true)
    );
    assert_eq!(
        js(&c, "return window.__sentinel;"),
        json!("still here"),
        "no reload"
    );

    // Clear the filter; open the hostile event from the list.
    c.click(&c.find("#clear").unwrap()).unwrap();
    wait_for(
        &c,
        "the whole list again",
        &format!(
            "document.querySelector('#events tbody tr[data-id=\"{}\"]') !== null",
            hostile.id
        ),
    );
    let link = c
        .find(&format!("#events tbody tr[data-id=\"{}\"] a", hostile.id))
        .unwrap();
    c.click(&link).unwrap();
    wait_for(
        &c,
        "the detail",
        "document.getElementById('detail-title') !== null",
    );
    wait_for(
        &c,
        "the trace",
        "document.querySelector('#trace ul.tree') !== null",
    );
    let text = js(
        &c,
        "return document.getElementById('view-detail').textContent;",
    );
    let text = text.as_str().unwrap();
    assert!(
        text.contains(SCRIPT_PAYLOAD),
        "the <script> payload is shown as text: {text}"
    );
    assert!(
        text.contains("window.__pwned = 2"),
        "the <img> payload is shown as text"
    );
    assert!(
        text.contains("4bf92f3577b34da6a3ce929d0e0e4736") && text.contains("00f067aa0ba902b7"),
        "the detail shows the external trace and span ids: {text}"
    );
    assert_eq!(
        js(
            &c,
            "return document.querySelectorAll('#main script, #main img, #main [onerror]').length;"
        ),
        json!(0),
        "no element was made from the payloads"
    );
    assert_eq!(js(&c, "return typeof window.__pwned;"), json!("undefined"));

    // The failed event's detail shows its error chain as text.
    c.goto(&format!("{page}#/events/{}", failed.id)).unwrap();
    wait_for(
        &c,
        "the error chain",
        "document.querySelector('#error-chain li') !== null",
    );
    assert_eq!(
        js(
            &c,
            "return document.querySelector('#error-chain li').textContent;"
        ),
        json!("no VM with id 99 <b>bold</b>")
    );

    // Statistics draw their charts.
    c.goto(&format!("{page}#/stats")).unwrap();
    wait_for(
        &c,
        "the charts",
        "document.querySelector('#chart-rate svg rect.bar') !== null",
    );
    wait_for(
        &c,
        "the per-type table",
        "document.querySelectorAll('#stats-types tbody tr').length >= 3",
    );

    // The console has no errors (CSP violations and failed loads are errors too).
    let log = c.browser_log().unwrap();
    let errors: Vec<&Value> = log.iter().filter(|e| e["level"] == "SEVERE").collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    c.close().unwrap();
}
