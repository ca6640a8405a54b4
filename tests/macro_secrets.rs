//! The secret test: annotated functions called with a password, an API token, a `redact`-ed
//! and a `skip`-ed argument (and sensitive Terraform variables) record through a real
//! `SqliteStore`; then every byte of the database files is scanned: no secret value appears,
//! while the ordinary values recorded next to them do.

use std::collections::BTreeMap;
use std::path::Path;

use history::{track_history, track_terraform, EventType, Recorder};
use history_sqlite::SqliteStore;

const SECRETS: [&str; 6] = [
    "pw-Zq81-hunter2",
    "tok-Xy77-abcdef",
    "dsn-Kd22-postgres",
    "pin-Wm90-4242",
    "tfvar-Qa11-dbpass",
    "tfvar-Lb33-custom",
];
const VISIBLE: [&str; 3] = ["alice-visible-1", "db-host-visible-2", "eu-visible-3"];

#[track_history(event_type = EventType::CredentialCreate, user_id = 1)]
fn store_credential(user: &str, password: &str, api_token: String) -> Result<u64, String> {
    if user.is_empty() || password.is_empty() || api_token.is_empty() {
        return Err("missing field".into());
    }
    Ok(7)
}

#[track_history(event_type = "db_connect", redact(dsn), skip(pin))]
fn connect(host: &str, dsn: &str, pin: &str) -> Result<(), std::io::Error> {
    let _ = (host, dsn, pin);
    Err(std::io::Error::other("connection refused"))
}

#[track_history(event_type = "login_async")]
async fn login(user: String, password: String) -> bool {
    tokio::task::yield_now().await;
    !user.is_empty() && !password.is_empty()
}

#[track_terraform(command = "apply", variables = vars, sensitive("admin_note"))]
fn apply(vars: &BTreeMap<&str, &str>) -> Result<u32, String> {
    Ok(vars.len() as u32)
}

fn scan_dir(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        bytes.extend(std::fs::read(&path).unwrap());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn secrets_never_reach_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("history.db")).unwrap();
    let recorder = Recorder::new(store).unwrap();
    history::with_default(&recorder, || {
        store_credential(VISIBLE[0], SECRETS[0], SECRETS[1].to_owned()).unwrap();
        connect(VISIBLE[1], SECRETS[2], SECRETS[3]).unwrap_err();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert!(rt.block_on(login(VISIBLE[0].to_owned(), SECRETS[0].to_owned())));
        let mut vars = BTreeMap::new();
        vars.insert("region", VISIBLE[2]);
        vars.insert("db_password", SECRETS[4]);
        vars.insert("admin_note", SECRETS[5]);
        apply(&vars).unwrap();
    });
    recorder.flush().unwrap();
    assert_eq!(recorder.store().count(&history::Query::new()).unwrap(), 4);
    recorder.shutdown().unwrap();
    drop(recorder);

    let bytes = scan_dir(dir.path());
    for visible in VISIBLE {
        assert!(contains(&bytes, visible), "{visible} should be recorded");
    }
    for secret in SECRETS {
        assert!(
            !contains(&bytes, secret),
            "{secret} leaked into the database files"
        );
    }
}
