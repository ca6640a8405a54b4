//! What the API and browser tests share: a real SQLite store, a real server, a real client.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use history::Recorder;
use history_sqlite::SqliteStore;

/// A recorder over a fresh SQLite file (the directory lives as long as the value).
pub struct Db {
    pub recorder: Recorder,
    pub store: Arc<SqliteStore>,
    _dir: tempfile::TempDir,
}

pub fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("history.db")).unwrap());
    let recorder = Recorder::builder().build_shared(store.clone()).unwrap();
    Db {
        recorder,
        store,
        _dir: dir,
    }
}

/// Serves `app` on a free port of 127.0.0.1 until the runtime ends.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

/// A response: status, content type, body text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    pub headers: http::HeaderMap,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// A request with a blocking client on the blocking pool.
pub async fn request(method: &str, url: String, headers: Vec<(String, String)>) -> Reply {
    let method = method.to_owned();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = http::Request::builder().method(method.as_str()).uri(url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let mut res = agent.run(req.body(()).unwrap()).unwrap();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let headers = res.headers().clone();
        let body = res.body_mut().read_to_string().unwrap_or_default();
        Reply {
            status: res.status().as_u16(),
            content_type,
            body,
            headers,
        }
    })
    .await
    .unwrap()
}

pub async fn get(url: String) -> Reply {
    request("GET", url, vec![]).await
}
