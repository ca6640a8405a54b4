//! The web page in a real headless Chromium, driven through chromedriver (WebDriver).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (`scripts/install-chromium.sh`
//! installs Debian's packages; `HISTORY_CHROMIUM` / `HISTORY_CHROMEDRIVER` point elsewhere).
//! Without them the test says it was skipped and why, unless `HISTORY_REQUIRE_BROWSER=1`
//! (set by `.ci/run`), which makes it fail instead.

mod common;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::Router;
use common::{serve, sqlite};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use history::{ErrorInfo, Event, EventStatus, EventType, HistoryStore};
use history_http::HistoryApi;
use serde_json::{json, Value};

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

/// Kills chromedriver (and with it the browser it started) when the test ends.
struct Driver(Child);
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_driver(path: &PathBuf) -> (Driver, String) {
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (driver, format!("http://127.0.0.1:{port}"))
}

/// `POST /session/{id}/se/log {"type": "browser"}`: the console's entries since last asked
/// (chromedriver's logging extension).
#[derive(Debug)]
struct BrowserLog;
impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }
    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}

/// Polls `script` (a JS expression) until it is true.
async fn wait_for(c: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = c
            .execute(&format!("return !!({script});"), vec![])
            .await
            .unwrap();
        if v == Value::Bool(true) {
            return;
        }
        if Instant::now() > deadline {
            let body = c
                .execute("return document.body.innerText;", vec![])
                .await
                .unwrap_or_default();
            panic!("timed out waiting for {what} ({script}); the page shows: {body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![]).await.unwrap()
}

const SCRIPT_PAYLOAD: &str = "<script>window.__pwned = 1</script>";
const IMG_PAYLOAD: &str = "<img src=x onerror=\"window.__pwned = 2\">";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_lists_filters_opens_and_follows_events_safely() {
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
        .build()
        .unwrap();
    seeded.push(failed.clone());
    seeded.push(hostile.clone());
    db.store.write_batch(&seeded).unwrap();

    let api = HistoryApi::new(db.store.clone()).poll_interval(Duration::from_millis(100));
    let app = Router::new().nest("/history", api.router());
    let addr = serve(app).await;
    let page = format!("http://{addr}/history");

    let (_driver, webdriver) = start_driver(&driver_path);
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        }),
    );
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let c = ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&webdriver)
        .await
        .expect("a WebDriver session");

    // Load: every event is listed.
    c.goto(&page).await.unwrap();
    wait_for(
        &c,
        "the list",
        "document.querySelectorAll('#events tbody tr').length === 7",
    )
    .await;
    // A sentinel that a reload would clear.
    js(&c, "window.__sentinel = 'still here'; return null;").await;

    // Filter: only the failed one.
    let status = c
        .find(Locator::Css("#filters select[name=status]"))
        .await
        .unwrap();
    status.select_by_value("failed").await.unwrap();
    c.find(Locator::Id("apply"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &c,
        "the filtered list",
        &format!(
            "document.querySelectorAll('#events tbody tr').length === 1 && \
             document.querySelector('#events tbody tr').dataset.id === '{}'",
            failed.id
        ),
    )
    .await;

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
    )
    .await;
    // …and one that does not match stays out.
    let other = Event::builder(EventType::VmStart, "vm::start")
        .status(EventStatus::Success)
        .build()
        .unwrap();
    db.store.write_batch(std::slice::from_ref(&other)).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        js(
            &c,
            &format!(
                "return document.querySelector('#events tbody tr[data-id=\"{}\"]') === null;",
                other.id
            )
        )
        .await,
        Value::Bool(true)
    );
    assert_eq!(
        js(&c, "return window.__sentinel;").await,
        json!("still here"),
        "no reload"
    );

    // Clear the filter; open the hostile event from the list.
    c.find(Locator::Id("clear"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &c,
        "the whole list again",
        &format!(
            "document.querySelector('#events tbody tr[data-id=\"{}\"]') !== null",
            hostile.id
        ),
    )
    .await;
    c.find(Locator::Css(&format!(
        "#events tbody tr[data-id=\"{}\"] a",
        hostile.id
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    wait_for(
        &c,
        "the detail",
        "document.getElementById('detail-title') !== null",
    )
    .await;
    wait_for(
        &c,
        "the trace",
        "document.querySelector('#trace ul.tree') !== null",
    )
    .await;
    let text = js(
        &c,
        "return document.getElementById('view-detail').textContent;",
    )
    .await;
    let text = text.as_str().unwrap();
    assert!(
        text.contains(SCRIPT_PAYLOAD),
        "the <script> payload is shown as text: {text}"
    );
    assert!(
        text.contains("window.__pwned = 2"),
        "the <img> payload is shown as text"
    );
    assert_eq!(
        js(
            &c,
            "return document.querySelectorAll('#main script, #main img, #main [onerror]').length;"
        )
        .await,
        json!(0),
        "no element was made from the payloads"
    );
    assert_eq!(
        js(&c, "return typeof window.__pwned;").await,
        json!("undefined")
    );

    // The failed event's detail shows its error chain as text.
    c.goto(&format!("{page}#/events/{}", failed.id))
        .await
        .unwrap();
    wait_for(
        &c,
        "the error chain",
        "document.querySelector('#error-chain li') !== null",
    )
    .await;
    assert_eq!(
        js(
            &c,
            "return document.querySelector('#error-chain li').textContent;"
        )
        .await,
        json!("no VM with id 99 <b>bold</b>")
    );

    // Statistics draw their charts.
    c.goto(&format!("{page}#/stats")).await.unwrap();
    wait_for(
        &c,
        "the charts",
        "document.querySelector('#chart-rate svg rect.bar') !== null",
    )
    .await;
    wait_for(
        &c,
        "the per-type table",
        "document.querySelectorAll('#stats-types tbody tr').length >= 3",
    )
    .await;

    // The console has no errors (CSP violations and failed loads are errors too).
    let log = c.issue_cmd(BrowserLog).await.unwrap();
    let errors: Vec<&Value> = log
        .as_array()
        .map(|entries| entries.iter().filter(|e| e["level"] == "SEVERE").collect())
        .unwrap_or_default();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    c.close().await.unwrap();
}
