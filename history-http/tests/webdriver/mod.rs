//! A small W3C WebDriver client for the browser tests: JSON over HTTP to chromedriver with a
//! blocking `ureq` agent. Only the commands the tests use: a session, navigation, finding and
//! clicking elements, running a script and reading the browser console.

#![allow(dead_code, unreachable_pub)]

use std::fmt;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver command that did not succeed: transport failure, or the driver's error reply.
#[derive(Debug)]
pub struct WebDriverError {
    command: String,
    detail: String,
}

impl fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebDriver {}: {}", self.command, self.detail)
    }
}

impl std::error::Error for WebDriverError {}

type Result<T> = std::result::Result<T, WebDriverError>;

/// A chromedriver process on a free port of 127.0.0.1; killed (with the browsers it started)
/// when dropped.
pub struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Starts `path` and waits until it listens.
    pub fn start(path: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    /// Opens a browser session with these capabilities (merged into `alwaysMatch`).
    pub fn session(&self, capabilities: Value) -> Result<Session> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let reply = command(
            &agent,
            "POST",
            &format!("{}/session", self.url),
            Some(json!({ "capabilities": { "alwaysMatch": capabilities } })),
        )?;
        let id = reply["sessionId"]
            .as_str()
            .ok_or_else(|| WebDriverError {
                command: "POST /session".into(),
                detail: format!("no session id in {reply}"),
            })?
            .to_owned();
        Ok(Session {
            agent,
            base: format!("{}/session/{id}", self.url),
            open: true,
        })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One WebDriver request; the reply's `value`, or the driver's error.
fn command(agent: &ureq::Agent, method: &str, url: &str, body: Option<Value>) -> Result<Value> {
    let what = format!("{method} {url}");
    let fail = |detail: String| WebDriverError {
        command: what.clone(),
        detail,
    };
    let reply = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, body) => agent
            .post(url)
            .content_type("application/json; charset=utf-8")
            .send(body.unwrap_or_else(|| json!({})).to_string()),
    };
    let mut reply = reply.map_err(|e| fail(e.to_string()))?;
    let status = reply.status();
    let text = reply
        .body_mut()
        .read_to_string()
        .map_err(|e| fail(e.to_string()))?;
    let mut parsed: Value = serde_json::from_str(&text)
        .map_err(|e| fail(format!("{status}, not JSON ({e}): {text}")))?;
    let value = parsed["value"].take();
    if !status.is_success() {
        return Err(fail(format!(
            "{status} {}: {}",
            value["error"].as_str().unwrap_or("error"),
            value["message"].as_str().unwrap_or(&text)
        )));
    }
    Ok(value)
}

/// A browser session; deleted (closing the browser) when dropped.
pub struct Session {
    agent: ureq::Agent,
    /// `http://127.0.0.1:{port}/session/{id}`
    base: String,
    open: bool,
}

/// An element of the current page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Session {
    fn post(&self, path: &str, body: Value) -> Result<Value> {
        command(
            &self.agent,
            "POST",
            &format!("{}{path}", self.base),
            Some(body),
        )
    }

    fn get(&self, path: &str) -> Result<Value> {
        command(&self.agent, "GET", &format!("{}{path}", self.base), None)
    }

    /// Navigates to `url` and waits for the page to load.
    pub fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url })).map(drop)
    }

    /// The first element matching the CSS selector.
    pub fn find(&self, css: &str) -> Result<Element> {
        let found = self.post("/element", json!({ "using": "css selector", "value": css }))?;
        element(found, css)
    }

    /// The first element matching the CSS selector inside `parent`.
    pub fn find_in(&self, parent: &Element, css: &str) -> Result<Element> {
        let found = self.post(
            &format!("/element/{}/element", parent.0),
            json!({ "using": "css selector", "value": css }),
        )?;
        element(found, css)
    }

    /// Clicks the element.
    pub fn click(&self, element: &Element) -> Result<()> {
        self.post(&format!("/element/{}/click", element.0), json!({}))
            .map(drop)
    }

    /// Chooses the `<option>` with this value of a `<select>` element.
    pub fn select_by_value(&self, select: &Element, value: &str) -> Result<()> {
        let css = format!("option[value={}]", Value::from(value));
        let option = self.find_in(select, &css)?;
        self.click(&option)
    }

    /// Types `text` into the element.
    pub fn send_keys(&self, element: &Element, text: &str) -> Result<()> {
        self.post(
            &format!("/element/{}/value", element.0),
            json!({ "text": text }),
        )
        .map(drop)
    }

    /// The element's rendered text.
    pub fn text(&self, element: &Element) -> Result<String> {
        let text = self.get(&format!("/element/{}/text", element.0))?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }

    /// Runs `script` (a function body: `return …;`) in the page; its return value.
    pub fn execute(&self, script: &str) -> Result<Value> {
        self.post("/execute/sync", json!({ "script": script, "args": [] }))
    }

    /// The browser console's entries since last asked (chromedriver's log extension; needs
    /// the `goog:loggingPrefs` capability).
    pub fn browser_log(&self) -> Result<Vec<Value>> {
        let log = self.post("/se/log", json!({ "type": "browser" }))?;
        Ok(log.as_array().cloned().unwrap_or_default())
    }

    /// Ends the session and closes the browser.
    pub fn close(mut self) -> Result<()> {
        self.open = false;
        command(&self.agent, "DELETE", &self.base, None).map(drop)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.open {
            let _ = command(&self.agent, "DELETE", &self.base, None);
        }
    }
}

fn element(found: Value, css: &str) -> Result<Element> {
    found[ELEMENT_KEY]
        .as_str()
        .map(|id| Element(id.to_owned()))
        .ok_or_else(|| WebDriverError {
            command: format!("find {css}"),
            detail: format!("no element reference in {found}"),
        })
}
