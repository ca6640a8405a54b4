//! Secrets are redacted at every depth of what a tracked call captures: fields of arguments,
//! returned structs, labels, error texts, `Debug`-only types, map keys, URL passwords; and the
//! value of a redacted argument is scrubbed from everything else in the event.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::Mem;
use history::track_history;
use serde::Serialize;

const R: &str = "[redacted]";

fn text_of(e: &history::Event) -> String {
    serde_json::to_string(e).unwrap()
}

fn assert_absent(e: &history::Event, secrets: &[&str]) {
    let text = text_of(e);
    for s in secrets {
        assert!(!text.contains(s), "{s} leaked: {text}");
    }
}

#[derive(Serialize, Debug)]
struct Db {
    host: String,
    password: String,
}

#[derive(Serialize, Debug)]
struct Settings {
    name: String,
    db: Db,
    layers: Vec<Layer>,
}

#[derive(Serialize, Debug)]
struct Layer {
    #[serde(rename = "apiKey")]
    api_key: String,
    #[serde(rename = "X-Auth-Token")]
    header: String,
    credential_id: u64,
}

#[track_history(event_type = "configure")]
fn configure(settings: &Settings) -> usize {
    settings.name.len()
}

#[test]
fn nested_fields_of_an_argument() {
    let mem = Mem::new();
    mem.with(|| {
        configure(&Settings {
            name: "vm-visible".into(),
            db: Db {
                host: "db-host".into(),
                password: "pw-nested-1".into(),
            },
            layers: vec![Layer {
                api_key: "ak-nested-2".into(),
                header: "tok-nested-3".into(),
                credential_id: 42,
            }],
        })
    });
    let e = mem.only();
    let p = e.parameters.to_value();
    assert_eq!(p["settings"]["db"]["password"], R);
    assert_eq!(p["settings"]["db"]["host"], "db-host");
    assert_eq!(p["settings"]["layers"][0]["apiKey"], R);
    assert_eq!(p["settings"]["layers"][0]["X-Auth-Token"], R);
    assert_eq!(p["settings"]["layers"][0]["credential_id"], 42);
    assert_absent(&e, &["pw-nested-1", "ak-nested-2", "tok-nested-3"]);
}

#[derive(Serialize, Debug)]
struct Issued {
    user: String,
    access_token: String,
    refresh_token: String,
    token_type: String,
}

#[track_history(event_type = "issue")]
fn issue(user: &str) -> Issued {
    Issued {
        user: user.into(),
        access_token: "at-result-1".into(),
        refresh_token: "rt-result-2".into(),
        token_type: "Bearer".into(),
    }
}

#[test]
fn returned_struct() {
    let mem = Mem::new();
    let issued = mem.with(|| issue("alice"));
    assert_eq!(
        issued.access_token, "at-result-1",
        "the caller gets its value"
    );
    let e = mem.only();
    let r = e.result.as_ref().unwrap().to_value();
    assert_eq!(r["access_token"], R);
    assert_eq!(r["refresh_token"], R);
    assert_eq!(r["token_type"], "Bearer");
    assert_eq!(r["user"], "alice");
    assert_absent(&e, &["at-result-1", "rt-result-2"]);
}

#[track_history(
    event_type = "labelled",
    labels(session = token_text, endpoint = url, region = "eu")
)]
fn labelled(token_text: &str, url: &str) -> bool {
    !token_text.is_empty() && !url.is_empty()
}

#[test]
fn labels() {
    let mem = Mem::new();
    mem.with(|| labelled("sess-label-1", "https://bob:pw-label-2@api.example/v1"));
    let e = mem.only();
    assert_eq!(e.labels["session"], R);
    assert_eq!(
        e.labels["endpoint"],
        "https://bob:[redacted]@api.example/v1"
    );
    assert_eq!(e.labels["region"], "eu");
    assert_absent(&e, &["sess-label-1", "pw-label-2"]);
}

/// Shows only through `Debug`.
struct Login {
    user: &'static str,
    password: &'static str,
    extra: BTreeMap<&'static str, &'static str>,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("user", &self.user)
            .field("password", &self.password)
            .field("extra", &self.extra)
            .finish()
    }
}

/// `Debug` in the pretty, multi-line form.
struct Pretty(Login);

impl std::fmt::Debug for Pretty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#?}", self.0)
    }
}

#[track_history(event_type = "debug_only")]
fn debug_only(login: Login, pretty: Pretty) -> bool {
    !login.user.is_empty() && !pretty.0.user.is_empty()
}

#[test]
fn debug_only_types_plain_and_pretty() {
    let login = |pw, key| Login {
        user: "alice-visible",
        password: pw,
        extra: [("secret", key), ("zone", "z-visible")]
            .into_iter()
            .collect(),
    };
    let mem = Mem::new();
    mem.with(|| {
        debug_only(
            login("pw-debug-1", "key-debug-2"),
            Pretty(login("pw-debug-3", "key-debug-4")),
        )
    });
    let e = mem.only();
    assert_absent(
        &e,
        &["pw-debug-1", "key-debug-2", "pw-debug-3", "key-debug-4"],
    );
    let text = e.parameters.as_str();
    assert!(
        text.contains("alice-visible") && text.contains("z-visible"),
        "{text}"
    );
    assert!(text.contains("password: [redacted]"), "{text}");
}

#[track_history(event_type = "maps")]
fn maps(
    headers: &HashMap<String, String>,
    nested: &BTreeMap<String, BTreeMap<String, u32>>,
) -> usize {
    headers.len() + nested.len()
}

#[test]
fn map_keys_and_normalised_names() {
    let mut headers = HashMap::new();
    headers.insert("API-KEY".to_owned(), "ak-map-1".to_owned());
    headers.insert("Authorization".to_owned(), "Bearer au-map-2".to_owned());
    headers.insert("Cookie".to_owned(), "ck-map-3".to_owned());
    headers.insert("Accept".to_owned(), "text/plain".to_owned());
    let mut inner = BTreeMap::new();
    inner.insert("clientSecret".to_owned(), 9_876_543u32);
    inner.insert("port".to_owned(), 5432);
    let mut nested = BTreeMap::new();
    nested.insert("db".to_owned(), inner);
    let mem = Mem::new();
    mem.with(|| maps(&headers, &nested));
    let e = mem.only();
    let p = e.parameters.to_value();
    assert_eq!(p["headers"]["API-KEY"], R);
    assert_eq!(p["headers"]["Authorization"], R);
    assert_eq!(p["headers"]["Cookie"], R);
    assert_eq!(p["headers"]["Accept"], "text/plain");
    assert_eq!(p["nested"]["db"]["clientSecret"], R);
    assert_eq!(p["nested"]["db"]["port"], 5432);
    assert_absent(&e, &["ak-map-1", "au-map-2", "ck-map-3", "9876543"]);
}

#[derive(Debug, thiserror::Error)]
#[error("cannot connect to {url}")]
struct ConnectError {
    url: String,
    #[source]
    cause: std::io::Error,
}

#[track_history(event_type = "url_connect")]
fn url_connect(dsn: &str) -> Result<(), ConnectError> {
    Err(ConnectError {
        url: dsn.to_owned(),
        cause: std::io::Error::other(format!("refused by {dsn}")),
    })
}

#[test]
fn url_credentials_everywhere() {
    let mem = Mem::new();
    mem.with(|| url_connect("postgres://app:pw-url-1@db:5432/main").unwrap_err());
    let e = mem.only();
    assert_eq!(
        e.parameters.to_value()["dsn"],
        "postgres://app:[redacted]@db:5432/main"
    );
    let err = e.error.as_ref().unwrap();
    assert!(err.message.contains("app:[redacted]@db"), "{}", err.message);
    assert_absent(&e, &["pw-url-1"]);
}

#[derive(Debug, thiserror::Error)]
#[error("login failed for {user} with {password}")]
struct LoginError {
    user: String,
    password: String,
    #[source]
    cause: std::io::Error,
}

#[track_history(event_type = "login_echo", labels(attempt = format!("{user}/{password}")))]
fn login_echo(user: &str, password: &str) -> Result<(), LoginError> {
    Err(LoginError {
        user: user.into(),
        password: password.into(),
        cause: std::io::Error::other(format!("bad password {password}")),
    })
}

#[track_history(event_type = "pin_echo", redact(pin))]
fn pin_echo(pin: u32) -> Result<u32, String> {
    Err(format!("pin {pin} rejected"))
}

#[test]
fn a_redacted_argument_never_appears_elsewhere() {
    let mem = Mem::new();
    mem.with(|| {
        login_echo("alice", "pw-echo-Qx81").unwrap_err();
        pin_echo(48_151_623).unwrap_err();
    });
    let events = mem.events();
    assert_eq!(events.len(), 2);
    for e in &events {
        assert_absent(e, &["pw-echo-Qx81", "48151623"]);
    }
    let err = events[0].error.as_ref().unwrap();
    assert!(err.message.contains("alice"), "{}", err.message);
    assert_eq!(err.sources, vec!["bad password [redacted]".to_owned()]);
    assert_eq!(events[0].labels["attempt"], "alice/[redacted]");
}

#[derive(Serialize)]
struct Card {
    number_last4: String,
    card_pin: String,
    session: String,
}

#[track_history(event_type = "pay")]
fn pay(card: &Card, pin: &str, session: &str) -> bool {
    !card.card_pin.is_empty() && !pin.is_empty() && !session.is_empty()
}

#[test]
fn per_recorder_policy_extends_and_narrows() {
    let store = std::sync::Arc::new(history::MemoryStore::new());
    let recorder = history::Recorder::builder()
        .redaction(
            history::redact::RedactionPolicy::default()
                .also("pin")
                .allow("session"),
        )
        .build_shared(store.clone())
        .unwrap();
    let card = Card {
        number_last4: "4242".into(),
        card_pin: "cp-policy-1".into(),
        session: "sess-visible".into(),
    };
    history::with_default(&recorder, || pay(&card, "pin-policy-2", "sess-arg-visible"));
    recorder.flush().unwrap();
    let e = store.all().remove(0);
    let p = e.parameters.to_value();
    assert_eq!(p["card"]["card_pin"], R);
    assert_eq!(p["pin"], R);
    assert_eq!(p["card"]["session"], "sess-visible");
    assert_eq!(p["session"], "sess-arg-visible");
    assert_absent(&e, &["cp-policy-1", "pin-policy-2"]);

    // The default policy redacts `session` and keeps `pin`.
    let mem = Mem::new();
    mem.with(|| pay(&card, "pin-visible", "sess-arg-2"));
    let p = mem.only().parameters.to_value();
    assert_eq!(p["session"], R);
    assert_eq!(p["card"]["session"], R);
    assert_eq!(p["pin"], "pin-visible");
}

#[test]
fn events_recorded_by_hand_are_redacted_too() {
    let mem = Mem::new();
    let mut e = history::Event::builder(history::EventType::VmCreate, "by_hand")
        .parameters(&serde_json::json!({"db": {"host": "h", "Password": "pw-hand-1"}}))
        .unwrap()
        .label("session", "sess-hand-2")
        .label("endpoint", "https://u:pw-hand-3@api/x")
        .build()
        .unwrap();
    e.execution = Some(history::Json::from(serde_json::json!({
        "steps": [{"env": {"AWS_SECRET_ACCESS_KEY": "ak-hand-4", "REGION": "eu"}}]
    })));
    mem.recorder.record(e).unwrap();
    let e = mem.only();
    assert_absent(&e, &["pw-hand-1", "sess-hand-2", "pw-hand-3", "ak-hand-4"]);
    assert_eq!(e.parameters.to_value()["db"]["Password"], R);
    assert_eq!(e.parameters.to_value()["db"]["host"], "h");
    assert_eq!(e.labels["session"], R);
    assert_eq!(
        e.execution.unwrap().to_value()["steps"][0]["env"]["REGION"],
        "eu"
    );
    let mem2 = Mem::new();
    let mut again = history::Event::builder(history::EventType::VmCreate, "by_hand")
        .build()
        .unwrap();
    again.result = Some(history::Json::from(
        serde_json::json!({"token": "tok-hand-5"}),
    ));
    mem2.recorder.record(again).unwrap();
    assert_absent(&mem2.only(), &["tok-hand-5"]);
}

#[derive(Serialize)]
struct WithJson {
    doc: history::Json,
}

#[track_history(event_type = "with_json")]
fn with_json(arg: &WithJson) -> history::Json {
    arg.doc.clone()
}

#[test]
fn json_documents_inside_values_are_redacted_in_one_pass() {
    let doc = history::Json::from(serde_json::json!({
        "a": {"password": "pw-json-1", "b": [1, {"token": "tok-json-2"}]},
        "c": "https://u:pw-json-3@h"
    }));
    let mem = Mem::new();
    mem.with(|| with_json(&WithJson { doc: doc.clone() }));
    let e = mem.only();
    assert_absent(&e, &["pw-json-1", "tok-json-2", "pw-json-3"]);
    let p = e.parameters.to_value();
    assert_eq!(p["arg"]["doc"]["a"]["password"], R);
    assert_eq!(p["arg"]["doc"]["a"]["b"][0], 1);
    assert_eq!(e.result.unwrap().to_value()["a"]["b"][1]["token"], R);
}
