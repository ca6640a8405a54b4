//! Every class of secret, recorded through a real `SqliteStore`, then the raw bytes of every
//! file the store and recorder write (the database, its `-wal` and `-shm`, any spill file)
//! are scanned for every secret passed in: while the store is open and after it is closed.

mod write_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use history::{track_history, Recorder};
use history_sqlite::SqliteStore;
use serde::Serialize;
use write_support::TestStore;

const SECRETS: [&str; 12] = [
    "sec01-nested-pw",
    "sec02-result-token",
    "sec03-label-session",
    "sec04-debug-password",
    "sec05-map-apikey",
    "sec06-url-pw",
    "sec07-echoed-pw",
    "sec08-pretty-secret",
    "sec09-source-pw",
    "sec10-camel-apiKey",
    "sec11-bearer",
    "sec12-cookie",
];
const VISIBLE: [&str; 3] = ["vis01-user", "vis02-host", "vis03-region"];

#[derive(Serialize)]
struct Conn {
    host: &'static str,
    auth: Auth,
}

#[derive(Serialize)]
struct Auth {
    password: &'static str,
    #[serde(rename = "apiKey")]
    api_key: &'static str,
}

#[derive(Serialize)]
struct Tokens {
    user: &'static str,
    access_token: &'static str,
}

#[derive(Debug)]
#[allow(dead_code)]
struct DebugOnly {
    user: &'static str,
    password: &'static str,
}

struct PrettyDebug(BTreeMap<&'static str, &'static str>);

impl std::fmt::Debug for PrettyDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#?}", self.0)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("login failed with {0}")]
struct Failed(String, #[source] std::io::Error);

#[track_history(event_type = "everything", labels(session = session_token, region = "vis03-region"))]
fn everything(
    conn: &Conn,
    session_token: &str,
    debug: DebugOnly,
    pretty: PrettyDebug,
    headers: &BTreeMap<&'static str, &'static str>,
    dsn: &str,
) -> Tokens {
    let _ = (conn, session_token, debug, pretty, headers, dsn);
    Tokens {
        user: "vis01-user",
        access_token: "sec02-result-token",
    }
}

#[track_history(event_type = "echo")]
fn echo(password: &str) -> Result<(), Failed> {
    Err(Failed(
        password.to_owned(),
        std::io::Error::other(format!("source saw {password}")),
    ))
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // The database, its -wal and -shm, and any spill file beside it.
        if name.starts_with("history.db") {
            out.push((name, std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn scan(dir: &Path, when: &str) {
    let files = files_of(dir);
    assert!(files.iter().any(|(n, _)| n == "history.db"), "{when}");
    let all: Vec<u8> = files.iter().flat_map(|(_, b)| b.clone()).collect();
    for visible in VISIBLE {
        assert!(
            contains(&all, visible),
            "{when}: {visible} should be recorded"
        );
    }
    for (name, bytes) in &files {
        for secret in SECRETS {
            assert!(!contains(bytes, secret), "{when}: {secret} found in {name}");
        }
    }
}

/// Records every class of secret through `recorder` (three events).
fn record_everything(recorder: &Recorder) {
    history::with_default(recorder, || {
        let conn = Conn {
            host: "vis02-host",
            auth: Auth {
                password: SECRETS[0],
                api_key: SECRETS[9],
            },
        };
        let mut headers = BTreeMap::new();
        headers.insert("X-API-KEY", SECRETS[4]);
        headers.insert("authorization", SECRETS[10]);
        headers.insert("Cookie", SECRETS[11]);
        let mut pretty = BTreeMap::new();
        pretty.insert("client_secret", SECRETS[7]);
        let dsn = format!("postgres://vis01-user:{}@vis02-host/db", SECRETS[5]);
        everything(
            &conn,
            SECRETS[2],
            DebugOnly {
                user: "vis01-user",
                password: SECRETS[3],
            },
            PrettyDebug(pretty),
            &headers,
            &dsn,
        );
        echo(SECRETS[6]).unwrap_err();
        echo(SECRETS[8]).unwrap_err();
    });
}

#[test]
fn no_secret_reaches_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("history.db")).unwrap();
    let recorder = Recorder::new(store).unwrap();
    record_everything(&recorder);
    recorder.flush().unwrap();
    assert_eq!(recorder.store().count(&history::Query::new()).unwrap(), 3);
    scan(dir.path(), "while open");
    recorder.shutdown().unwrap();
    drop(recorder);
    scan(dir.path(), "after close");
}

#[test]
fn no_secret_reaches_the_spill_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    let store = Arc::new(TestStore::over(SqliteStore::open(&db).unwrap()));
    store.failing.store(true, Ordering::SeqCst);
    let recorder = Recorder::builder()
        .max_retries(0)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(5))
        .spill_path(dir.path().join("history.db-spill"))
        .build_shared(store.clone())
        .unwrap();
    record_everything(&recorder);
    recorder.flush().unwrap();
    assert!(recorder.stats().spilled >= 3, "{:?}", recorder.stats());
    let spilled = files_of(dir.path());
    assert!(
        spilled
            .iter()
            .any(|(n, _)| n.starts_with("history.db-spill")),
        "a spill file was written: {:?}",
        spilled.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    scan(dir.path(), "spilled");

    store.failing.store(false, Ordering::SeqCst);
    recorder.flush().unwrap();
    assert_eq!(recorder.store().count(&history::Query::new()).unwrap(), 3);
    scan(dir.path(), "replayed");
    recorder.shutdown().unwrap();
    drop(recorder);
    scan(dir.path(), "after close");
}
