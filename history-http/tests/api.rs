//! The JSON API over a real SQLite file, served by a real server, read by a real client.

mod common;

use std::time::Duration;

use axum::Router;
use chrono::{TimeDelta, Utc};
use common::{get, request, serve, sqlite, Db};
use history::{ErrorInfo, Event, EventStatus, EventType, Filter, HistoryStore, Query};
use serde_json::{json, Value};

struct Seeded {
    db: Db,
    base: String,
    ids: Vec<String>,
}

fn ev(
    t: EventType,
    op: &str,
    status: EventStatus,
    minute: i64,
    secs: f64,
) -> history::EventBuilder {
    let start = Utc::now() - TimeDelta::hours(1) + TimeDelta::minutes(minute);
    let d = Duration::from_secs_f64(secs);
    Event::builder(t, op)
        .status(status)
        .started_at(start)
        .finished_at(start + TimeDelta::from_std(d).unwrap())
        .duration(d)
}

async fn seeded() -> Seeded {
    let db = sqlite();
    let e1 = ev(
        EventType::VmCreate,
        "vm::create",
        EventStatus::Success,
        0,
        1.0,
    )
    .user_id(1)
    .vm_id(10)
    .label("region", "eu")
    .parameters(&json!({"size": "small", "name": "web"}))
    .unwrap()
    .result(&json!({"ip": "10.0.0.1"}))
    .unwrap()
    .build()
    .unwrap();
    let e2 = ev(
        EventType::VmCreate,
        "vm::create",
        EventStatus::Failed,
        1,
        3.0,
    )
    .user_id(2)
    .vm_id(10)
    .parameters(&json!({"size": "large"}))
    .unwrap()
    .error(ErrorInfo::new("quota exceeded in eu-west-1"))
    .build()
    .unwrap();
    let e3 = ev(
        EventType::ApiRequest,
        "GET /vms/{id}",
        EventStatus::Success,
        2,
        0.01,
    )
    .user_id(1)
    .correlation_id("req-1")
    .build()
    .unwrap();
    let e4 = ev(
        EventType::VmStart,
        "vm::start",
        EventStatus::Success,
        3,
        0.5,
    )
    .user_id(1)
    .vm_id(11)
    .credential_id(5)
    .organization_id("acme")
    .parent_id(e3.id)
    .trace_id(e3.id)
    .build()
    .unwrap();
    let e5 = ev(
        EventType::VmCreate,
        "vm::create",
        EventStatus::Success,
        4,
        2.0,
    )
    .user_id(1)
    .vm_id(10)
    .label("region", "eu")
    .parameters(&json!({"size": "medium", "name": "web"}))
    .unwrap()
    .result(&json!({"ip": "10.0.0.2"}))
    .unwrap()
    .build()
    .unwrap();
    let e6 = ev(
        EventType::custom("backup_run").unwrap(),
        "jobs::backup",
        EventStatus::Cancelled,
        5,
        9.0,
    )
    .label("region", "us")
    .build()
    .unwrap();
    let mut e3 = e3;
    e3.trace_id = Some(e3.id);
    let events = vec![e1, e2, e3, e4, e5, e6];
    db.store.write_batch(&events).unwrap();
    let ids = events.iter().map(|e| e.id.to_string()).collect();
    let app = Router::new().nest("/history", history_http::router(db.store.clone()));
    let base = format!("http://{}/history", serve(app).await);
    Seeded { db, base, ids }
}

fn ids_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_filter_parameter_selects_what_the_filter_selects() {
    let s = seeded().await;
    let [e1, e2, e3, ..] = &s.ids[..] else {
        unreachable!()
    };
    let since = (Utc::now() - TimeDelta::minutes(58)).to_rfc3339();
    let until = (Utc::now() - TimeDelta::minutes(57)).to_rfc3339();
    let cases: Vec<(String, Filter)> = vec![
        (
            "event_type=vm_create".into(),
            Filter::new().event_type(EventType::VmCreate),
        ),
        (
            "event_type=vm_start,backup_run".into(),
            Filter::new()
                .event_type(EventType::VmStart)
                .event_type(EventType::custom("backup_run").unwrap()),
        ),
        (
            "status=failed".into(),
            Filter::new().status(EventStatus::Failed),
        ),
        (
            "status=cancelled&status=failed".into(),
            Filter::new()
                .status(EventStatus::Cancelled)
                .status(EventStatus::Failed),
        ),
        ("user_id=1".into(), Filter::new().user_id(1)),
        ("vm_id=10".into(), Filter::new().vm_id(10)),
        ("credential_id=5".into(), Filter::new().credential_id(5)),
        (
            "organization_id=acme".into(),
            Filter::new().organization_id("acme"),
        ),
        (
            format!("parent_id={e3}"),
            Filter::new().parent_id(e3.parse().unwrap()),
        ),
        (
            format!("trace_id={e3}"),
            Filter::new().trace_id(e3.parse().unwrap()),
        ),
        (
            "correlation_id=req-1".into(),
            Filter::new().correlation_id("req-1"),
        ),
        (
            "operation=vm%3A%3Acreate".into(),
            Filter::new().operation("vm::create"),
        ),
        (
            "label=region:eu".into(),
            Filter::new().label("region", "eu"),
        ),
        (
            format!("since={}", urlenc(&since)),
            Filter::new().since(since.parse().unwrap()),
        ),
        (
            format!("until={}", urlenc(&until)),
            Filter::new().until(until.parse().unwrap()),
        ),
        (
            "min_duration=2".into(),
            Filter::new().min_duration(Duration::from_secs(2)),
        ),
        (
            "max_duration=0.5".into(),
            Filter::new().max_duration(Duration::from_millis(500)),
        ),
        (
            "error_contains=quota".into(),
            Filter::new().error_contains("quota"),
        ),
        (
            "user_id=1&event_type=vm_create&status=success".into(),
            Filter::new()
                .user_id(1)
                .event_type(EventType::VmCreate)
                .status(EventStatus::Success),
        ),
    ];
    for (qs, filter) in cases {
        let reply = get(format!("{}/events?{qs}", s.base)).await;
        assert_eq!(reply.status, 200, "{qs}: {}", reply.body);
        let got = ids_of(&reply.json());
        let want: Vec<String> =
            s.db.store
                .query(&Query::matching(filter))
                .unwrap()
                .items
                .iter()
                .map(|e| e.id.to_string())
                .collect();
        assert!(
            !want.is_empty() && want.len() < s.ids.len(),
            "{qs} selects a part: {want:?}"
        );
        assert_eq!(got, want, "{qs}");
    }
    // Newest first by default.
    let all = ids_of(&get(format!("{}/events", s.base)).await.json());
    let mut newest_first = s.ids.clone();
    newest_first.reverse();
    assert_eq!(all, newest_first);
    let _ = (e1, e2);
}

fn urlenc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn cursor_paging_follows_next_links_without_gaps_or_repeats() {
    let s = seeded().await;
    let origin = s.base.trim_end_matches("/history").to_owned();
    let mut url = format!("{}/events?limit=2&order=oldest&with_total=true", s.base);
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = get(url).await.json();
        pages += 1;
        assert_eq!(page["total"], 6);
        seen.extend(ids_of(&page));
        match page["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/history/events?"), "{next}");
                assert!(
                    next.contains("limit=2") && next.contains("order=oldest"),
                    "{next}"
                );
                url = format!("{origin}{next}");
            }
            None => break,
        }
    }
    assert_eq!(seen, s.ids);
    assert_eq!(pages, 3);
}

#[tokio::test]
async fn one_event_its_children_its_trace_and_diffs() {
    let s = seeded().await;
    let [e1, e2, e3, e4, e5, _e6] = &s.ids[..] else {
        unreachable!()
    };

    let one = get(format!("{}/events/{e1}", s.base)).await;
    assert_eq!(one.status, 200);
    assert!(one.content_type.starts_with("application/json"));
    let one = one.json();
    assert_eq!(one["parameters"]["size"], "small");
    assert_eq!(one["event_type"], "vm_create");

    let children = get(format!("{}/events/{e3}/children", s.base)).await.json();
    assert_eq!(ids_of(&children), std::slice::from_ref(e4));
    let trace = get(format!("{}/events/{e4}/trace", s.base)).await.json();
    assert_eq!(trace["trace_id"], e3.as_str());
    assert_eq!(ids_of(&trace), [e3.clone(), e4.clone()]);

    let d = get(format!("{}/diff?old={e1}&new={e2}", s.base))
        .await
        .json();
    assert_eq!(d["old"], e1.as_str());
    let changed: Vec<&str> = d["diff"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(changed, ["name", "size"]);

    // e5's previous successful vm::create on VM 10 is e1 (e2 failed).
    let prev = get(format!("{}/events/{e5}/diff/previous", s.base))
        .await
        .json();
    assert_eq!(prev["old"], e1.as_str());
    assert_eq!(prev["diff"]["parameters"][0]["new"], "medium");
    assert_eq!(prev["diff"]["result"][0]["path"], "ip");
    let none = get(format!("{}/events/{e1}/diff/previous", s.base)).await;
    assert_eq!(none.status, 200);
    assert_eq!(none.json(), json!({"old": null, "new": e1, "diff": null}));
}

#[tokio::test]
async fn stats_with_grouping_and_percentiles() {
    let s = seeded().await;
    let st = get(format!("{}/stats?event_type=vm_create", s.base))
        .await
        .json();
    assert_eq!(st["summary"]["total"], 3);
    let rate = st["summary"]["success_rate"].as_f64().unwrap();
    assert!((rate - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(st["summary"]["duration"]["max"], 3.0);
    assert_eq!(st["summary"]["duration"]["p50"], 2.0);
    let grouped = get(format!("{}/stats?group_by=event_type", s.base))
        .await
        .json();
    let keys: Vec<&str> = grouped["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    assert!(
        keys.contains(&"vm_create") && keys.contains(&"backup_run"),
        "{keys:?}"
    );
    let hourly = get(format!("{}/stats?group_by=hour&status=success", s.base))
        .await
        .json();
    let total: u64 = hourly["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["summary"]["total"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 4);
}

#[tokio::test]
async fn status_codes_and_problem_details() {
    let s = seeded().await;
    let problem = |r: &common::Reply, status: u16, word: &str| {
        assert_eq!(r.status, status, "{}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
        let p = r.json();
        assert_eq!(p["status"], status);
        assert!(p["title"].is_string() && p["type"].is_string());
        assert!(
            p["detail"].as_str().unwrap().contains(word),
            "{}",
            p["detail"]
        );
    };
    problem(
        &get(format!("{}/events?status=weird", s.base)).await,
        400,
        "status",
    );
    problem(
        &get(format!("{}/events?limit=0", s.base)).await,
        400,
        "limit",
    );
    problem(
        &get(format!("{}/events?limit=100000", s.base)).await,
        400,
        "limit",
    );
    problem(
        &get(format!("{}/events?cursor=abc", s.base)).await,
        400,
        "cursor",
    );
    problem(
        &get(format!("{}/events?since=monday", s.base)).await,
        400,
        "since",
    );
    problem(
        &get(format!("{}/events?colour=red", s.base)).await,
        400,
        "colour",
    );
    problem(
        &get(format!("{}/events/not-a-uuid", s.base)).await,
        400,
        "event id",
    );
    let missing = history::EventId::new();
    problem(
        &get(format!("{}/events/{missing}", s.base)).await,
        404,
        &missing.to_string(),
    );
    problem(
        &get(format!("{}/events/{missing}/children", s.base)).await,
        404,
        "no event",
    );
    problem(
        &get(format!("{}/diff?old={missing}", s.base)).await,
        400,
        "new",
    );
    problem(
        &get(format!("{}/stats?group_by=colour", s.base)).await,
        400,
        "group_by",
    );
    problem(
        &get(format!("{}/nothing/here", s.base)).await,
        404,
        "no such",
    );
    problem(
        &request("DELETE", format!("{}/events/{}", s.base, s.ids[0]), vec![]).await,
        405,
        "read-only",
    );
    let health = get(format!("{}/health", s.base)).await;
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );
}

#[tokio::test]
async fn the_openapi_document_matches_the_api() {
    let s = seeded().await;
    let served = get(format!("{}/openapi.json", s.base)).await;
    assert_eq!(served.status, 200);
    let doc = served.json();
    assert_eq!(
        doc,
        serde_json::from_str::<Value>(history_http::api::OPENAPI).unwrap()
    );
    assert_eq!(doc["openapi"], "3.1.0");
    let id = &s.ids[4];
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        if path == "/events/stream" {
            // It never ends; the_stream_follows_new_events_and_resumes_with_last_event_id
            // checks its parameters.
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(method, "get", "{path}: read-only");
            // Fill every parameter with a sample value; the API must accept each one.
            let mut qs = Vec::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "query" {
                    let name = p["name"].as_str().unwrap();
                    let sample = sample(name, &p["schema"], id);
                    qs.push(format!("{name}={}", urlenc(&sample)));
                }
            }
            let url = format!("{}{}?{}", s.base, path.replace("{id}", id), qs.join("&"));
            let r = get(url.clone()).await;
            let documented: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            assert!(
                documented.contains(&&r.status.to_string()),
                "{url} answered {} ({}), documented {documented:?}",
                r.status,
                r.body
            );
            assert_ne!(
                r.status, 400,
                "{url}: a documented parameter was refused: {}",
                r.body
            );
            // Without parameters too (unless some are required).
            let required = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["required"] == true && p["in"] == "query");
            if !required {
                let r = get(format!("{}{}", s.base, path.replace("{id}", id))).await;
                assert_eq!(r.status, 200, "{path}: {}", r.body);
                check_required(&doc, op, &r.json(), path);
            }
        }
    }
    // Every filter parameter is documented on /events, /events/{id}/children and /stats.
    for path in ["/events", "/events/{id}/children", "/stats"] {
        let names: Vec<&str> = paths[path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for name in [
            "event_type",
            "status",
            "user_id",
            "vm_id",
            "credential_id",
            "organization_id",
            "parent_id",
            "trace_id",
            "correlation_id",
            "operation",
            "host",
            "service",
            "label",
            "since",
            "until",
            "min_duration",
            "max_duration",
            "error_contains",
        ] {
            assert!(names.contains(&name), "{path} does not document {name}");
        }
    }
}

/// Checks the `required` properties of the 200 response's schema in `body`.
fn check_required(doc: &Value, op: &Value, body: &Value, path: &str) {
    let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
    let schema = match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => schema,
    };
    for field in schema["required"].as_array().into_iter().flatten() {
        let field = field.as_str().unwrap();
        assert!(
            body.get(field).is_some(),
            "{path}: `{field}` missing in {body}"
        );
    }
}

fn sample(name: &str, schema: &Value, id: &str) -> String {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.as_str().unwrap().to_owned();
    }
    match (name, schema["type"].as_str(), schema["format"].as_str()) {
        ("label", ..) => "region:eu".into(),
        ("cursor", ..) => format!("c1.1.{}", id.replace('-', "")),
        ("old" | "new", ..) | (_, _, Some("uuid")) => id.to_owned(),
        (_, _, Some("date-time")) => "2026-01-01T00:00:00Z".into(),
        ("limit", ..) => "5".into(),
        ("min_duration", ..) => "0".into(),
        ("max_duration", ..) => "100".into(),
        (_, Some("boolean"), _) => "true".into(),
        (_, Some("integer" | "number"), _) => "1".into(),
        ("event_type", ..) => "vm_create".into(),
        ("status", ..) => "success".into(),
        ("external_trace_id", ..) => "4bf92f3577b34da6a3ce929d0e0e4736".into(),
        ("external_span_id", ..) => "00f067aa0ba902b7".into(),
        _ => "x".into(),
    }
}

#[tokio::test]
async fn an_async_store_reads_without_blocking_the_runtime() {
    let db = sqlite();
    let e = Event::builder(EventType::VmCreate, "vm::create")
        .status(EventStatus::Success)
        .build()
        .unwrap();
    db.store.write_batch(std::slice::from_ref(&e)).unwrap();
    let store = history_http::AsyncStore::new(db.store.clone());
    assert_eq!(store.get(e.id).await.unwrap().id, e.id);
    assert_eq!(store.count(Filter::new()).await.unwrap(), 1);
    assert!(matches!(
        store.get(history::EventId::new()).await,
        Err(history_http::ReadError::NotFound(_))
    ));
    // A current-thread runtime still answers: the read runs on the blocking pool.
    let s2 = store.clone();
    let n = tokio::task::spawn(async move { s2.query(Query::new()).await.unwrap().len() })
        .await
        .unwrap();
    assert_eq!(n, 1);
}

/// Reads server-sent events from `url` until `n` arrived or `wait` passed: (id, event, data).
async fn sse(
    url: String,
    last_event_id: Option<String>,
    n: usize,
    wait: Duration,
) -> Vec<(String, String, String)> {
    tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(wait))
            .build()
            .into();
        let mut req = http::Request::get(url).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        let res = agent.run(req.body(()).unwrap()).unwrap();
        assert_eq!(res.status(), 200);
        let reader = std::io::BufReader::new(res.into_body().into_reader());
        let (mut out, mut id, mut event, mut data) =
            (Vec::new(), String::new(), String::new(), String::new());
        for line in reader.lines() {
            let Ok(line) = line else { break };
            if line.is_empty() {
                if !data.is_empty() {
                    out.push((
                        std::mem::take(&mut id),
                        std::mem::take(&mut event),
                        std::mem::take(&mut data),
                    ));
                    if out.len() == n {
                        break;
                    }
                }
                continue;
            }
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.trim_start());
            }
        }
        out
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_stream_follows_new_events_and_resumes_with_last_event_id() {
    let db = sqlite();
    let old = Event::builder(EventType::VmCreate, "vm::create")
        .status(EventStatus::Success)
        .build()
        .unwrap();
    db.store.write_batch(std::slice::from_ref(&old)).unwrap();
    let api =
        history_http::HistoryApi::new(db.store.clone()).poll_interval(Duration::from_millis(50));
    let base = format!(
        "http://{}/history",
        serve(Router::new().nest("/history", api.router())).await
    );

    // From now: the old event is not sent; new ones are, in commit order.
    let reader = tokio::spawn(sse(
        format!("{base}/events/stream"),
        None,
        3,
        Duration::from_secs(10),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mk = |op: &str, status| {
        Event::builder(EventType::VmStart, op)
            .status(status)
            .build()
            .unwrap()
    };
    let news = [
        mk("a", EventStatus::Success),
        mk("b", EventStatus::Failed),
        mk("c", EventStatus::Success),
    ];
    for e in &news {
        db.store.write_batch(std::slice::from_ref(e)).unwrap();
    }
    let got = reader.await.unwrap();
    let ids: Vec<String> = got
        .iter()
        .map(|(_, _, d)| {
            serde_json::from_str::<Value>(d).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        ids,
        news.iter().map(|e| e.id.to_string()).collect::<Vec<_>>()
    );
    assert!(got.iter().all(|(_, ev, _)| ev == "event"));
    let tokens: Vec<u64> = got.iter().map(|(id, _, _)| id.parse().unwrap()).collect();
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "{tokens:?}");

    // Resume after the first: the other two, and nothing before.
    let resumed = sse(
        format!("{base}/events/stream"),
        Some(got[0].0.clone()),
        2,
        Duration::from_secs(5),
    )
    .await;
    let resumed_ids: Vec<&str> = resumed.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(resumed_ids, [got[1].0.as_str(), got[2].0.as_str()]);
    // `?after=` does the same; a filter applies.
    let failed = sse(
        format!("{base}/events/stream?after=0&status=failed"),
        None,
        1,
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(failed.len(), 1);
    assert!(failed[0].2.contains(&news[1].id.to_string()));
    // Everything since the start, the old event first.
    let all = sse(
        format!("{base}/events/stream?after=0"),
        None,
        4,
        Duration::from_secs(5),
    )
    .await;
    assert!(all[0].2.contains(&old.id.to_string()));
    assert_eq!(all.len(), 4);
    // A token that is not one is a 400 problem.
    let bad = request(
        "GET",
        format!("{base}/events/stream"),
        vec![("last-event-id".into(), "soon".into())],
    )
    .await;
    assert_eq!(
        (bad.status, bad.content_type.as_str()),
        (400, "application/problem+json")
    );
}

#[tokio::test]
async fn the_page_and_its_assets_carry_a_strict_policy() {
    let s = seeded().await;
    for (path, kind) in [
        ("", "text/html"),
        ("/assets/app.js", "text/javascript"),
        ("/assets/app.css", "text/css"),
    ] {
        let r = get(format!("{}{path}", s.base)).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.content_type.starts_with(kind),
            "{path}: {}",
            r.content_type
        );
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
    }
    // Relative links resolve under the mount point.
    let page = get(s.base.clone()).await.body;
    assert!(page.contains(r#"src="/history/assets/app.js""#), "{page}");
}
