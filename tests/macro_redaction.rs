//! Secrets never reach the store: secret-looking argument names are redacted by default,
//! `redact(..)` redacts any argument, and `skip(..)` leaves one out entirely.

mod common;

use common::Mem;
use history::track_history;
use serde_json::json;

#[allow(clippy::too_many_arguments)]
#[track_history(event_type = "login")]
fn login(
    user: &str,
    password: &str,
    db_passwd: String,
    client_secret: String,
    api_token: &str,
    api_key: &str,
    ssh_private_key: &str,
    credentials: (String, String),
    credential_id: u64,
) -> bool {
    !user.is_empty()
        && !password.is_empty()
        && !db_passwd.is_empty()
        && !client_secret.is_empty()
        && !api_token.is_empty()
        && !api_key.is_empty()
        && !ssh_private_key.is_empty()
        && !credentials.0.is_empty()
        && credential_id > 0
}

#[track_history(event_type = "connect", redact(dsn), skip(pin))]
fn connect(host: &str, dsn: &str, pin: u32) -> u32 {
    host.len() as u32 + dsn.len() as u32 + pin
}

#[test]
fn secret_names_are_redacted_by_default() {
    let mem = Mem::new();
    let ok = mem.with(|| {
        login(
            "alice",
            "hunter2",
            "pw".into(),
            "cs".into(),
            "tok",
            "key",
            "pk",
            ("u".into(), "p".into()),
            9,
        )
    });
    assert!(ok);
    let e = mem.only();
    let r = "[redacted]";
    assert_eq!(
        e.parameters,
        json!({
            "user": "alice", "password": r, "db_passwd": r, "client_secret": r,
            "api_token": r, "api_key": r, "ssh_private_key": r, "credentials": r,
            "credential_id": 9,
        })
    );
}

#[test]
fn redact_and_skip_by_name() {
    let mem = Mem::new();
    mem.with(|| connect("db.local", "postgres://u:p@h/db", 1234));
    let e = mem.only();
    assert_eq!(
        e.parameters,
        json!({"host": "db.local", "dsn": "[redacted]"})
    );
    assert!(!e.parameters.as_str().contains("1234"));
}
