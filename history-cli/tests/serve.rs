//! `serve`: the web page and JSON API over a history file, read-only, and nothing secret
//! served even from events that bypassed the recorder's redaction.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::*;

/// A running `historyctl serve`, killed when dropped (also when a test fails).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `historyctl serve` on a free port; returns it and its base URL.
fn serve(dir: &std::path::Path) -> (Server, String) {
    let mut child = historyctl(dir)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn historyctl serve");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the address line");
    let start = line.find("http://").expect("a URL in the first line");
    let url = line[start..]
        .split_whitespace()
        .next()
        .expect("url")
        .trim_end_matches('/')
        .to_owned();
    (server, url)
}

fn get(url: &str) -> (u16, String, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent.get(url).call().expect("a response");
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().expect("a body");
    (status, body, csp)
}

#[test]
fn serves_the_page_and_the_api_read_only_and_redacted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = fixture(dir.path());
    let before = fingerprint(&db);
    let (_server, url) = serve(dir.path());

    let (status, page, csp) = get(&format!("{url}/"));
    assert_eq!(status, 200);
    assert!(
        page.contains("<html") || page.contains("<!doctype"),
        "{page}"
    );
    let csp = csp.expect("a Content-Security-Policy header");
    assert!(csp.contains("script-src 'self'"), "{csp}");

    let (status, events, _) = get(&format!("{url}/events?limit=100"));
    assert_eq!(status, 200, "{events}");
    let listed: serde_json::Value = serde_json::from_str(&events).expect("JSON");
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert_eq!(ids.len(), events_count(), "every event listed: {events}");
    for secret in SECRETS {
        assert!(!events.contains(secret), "{secret} served: {events}");
    }
    let (status, one, _) = get(&format!("{url}/events/{}", ids[0]));
    assert_eq!(status, 200, "{one}");
    for secret in SECRETS {
        assert!(!one.contains(secret), "{secret} served: {one}");
    }

    let (status, _, _) = get(&format!("{url}/events/not-an-id"));
    assert_eq!(status, 400);
    drop(_server);
    assert!(fingerprint(&db) == before, "serving never writes the file");
}

#[test]
fn an_address_in_use_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    fixture(dir.path());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = run(dir.path(), &["serve", "--addr", &addr]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

fn events_count() -> usize {
    events().len()
}
