//! HistoryLayer against a real axum server on a real socket, and against bare tower services
//! for what a server hides (errors, panics, dropped futures).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Path;
use axum::http::{HeaderMap, Request, Response, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use history::{track_history, EventStatus, EventType, MemoryStore, Query, Recorder};
use history_http::HistoryLayer;
use serde_json::{json, Value};
use tower::{Service, ServiceBuilder, ServiceExt};

fn recorder() -> (Recorder, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::builder().build_shared(store.clone()).unwrap();
    (recorder, store)
}

/// Serves `app` on a free port; the server runs until the test's runtime ends.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

/// A blocking HTTP client call on the blocking pool: (status, body).
async fn call(
    method: &'static str,
    url: String,
    headers: Vec<(&'static str, &'static str)>,
    body: Option<&'static str>,
) -> (u16, String) {
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let mut res = match body {
            Some(b) => agent.run(req.body(b.to_owned()).unwrap()),
            None => agent.run(req.body(()).unwrap()),
        }
        .unwrap();
        let text = res.body_mut().read_to_string().unwrap();
        (res.status().as_u16(), text)
    })
    .await
    .unwrap()
}

fn events(recorder: &Recorder) -> Vec<history::Event> {
    recorder.flush().unwrap();
    let mut items = recorder
        .store()
        .query(&Query::new().oldest_first().limit(1000))
        .unwrap()
        .items;
    items.sort_by_key(|e| e.started_at);
    items
}

fn requests(recorder: &Recorder) -> Vec<history::Event> {
    events(recorder)
        .into_iter()
        .filter(|e| e.event_type == EventType::ApiRequest)
        .collect()
}

#[tokio::test]
async fn one_event_per_request_with_route_template_and_classification() {
    let (rec, _) = recorder();
    let app = Router::new()
        .route(
            "/vms/{id}",
            get(|Path(id): Path<u32>| async move { format!("vm {id}") }),
        )
        .route(
            "/broken",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }),
        )
        .route("/conflict", get(|| async { StatusCode::CONFLICT }))
        .route("/health", get(|| async { "ok" }))
        .layer(
            HistoryLayer::new(rec.clone())
                .skip_path("/health")
                .fail_on(StatusCode::CONFLICT),
        );
    let addr = serve(app).await;
    let base = format!("http://{addr}");
    assert_eq!(
        call("GET", format!("{base}/vms/42"), vec![], None).await.0,
        200
    );
    assert_eq!(
        call("GET", format!("{base}/broken"), vec![], None).await.0,
        503
    );
    assert_eq!(
        call("GET", format!("{base}/nowhere"), vec![], None).await.0,
        404
    );
    assert_eq!(
        call("GET", format!("{base}/conflict"), vec![], None)
            .await
            .0,
        409
    );
    assert_eq!(
        call("GET", format!("{base}/health"), vec![], None).await.0,
        200
    );

    let evs = requests(&rec);
    assert_eq!(evs.len(), 4, "{evs:#?}");
    let ok = &evs[0];
    assert_eq!(ok.operation, "GET /vms/{id}");
    assert_eq!(ok.status, EventStatus::Success);
    let p = ok.parameters.to_value();
    assert_eq!(p["path"], "/vms/42");
    assert_eq!(p["route"], "/vms/{id}");
    assert_eq!(p["method"], "GET");
    assert_eq!(
        p["client_addr"].as_str().unwrap().split(':').next(),
        Some("127.0.0.1")
    );
    assert_eq!(ok.result.as_ref().unwrap().to_value()["status"], 200);
    assert!(ok.duration.is_some() && ok.finished_at.is_some());
    assert_eq!(ok.trace_id, Some(ok.id));

    let broken = &evs[1];
    assert_eq!(broken.status, EventStatus::Failed);
    let err = broken.error.as_ref().unwrap();
    assert_eq!(err.message, "503 Service Unavailable");
    assert_eq!(err.kind.as_deref(), Some("http_status"));

    // 4xx succeeds by default; no route matched: the template is never the raw path.
    let missing = &evs[2];
    assert_eq!(missing.status, EventStatus::Success);
    assert_eq!(missing.operation, "GET (no route)");
    assert_eq!(evs[3].status, EventStatus::Failed, "409 fails by fail_on");
}

#[tokio::test]
async fn client_errors_can_fail() {
    let (rec, _) = recorder();
    let app = Router::new()
        .route("/x", get(|| async { StatusCode::NOT_FOUND }))
        .layer(HistoryLayer::new(rec.clone()).client_errors_fail(true));
    let addr = serve(app).await;
    call("GET", format!("http://{addr}/x"), vec![], None).await;
    let evs = requests(&rec);
    assert_eq!(evs[0].status, EventStatus::Failed);
    assert_eq!(evs[0].error.as_ref().unwrap().message, "404 Not Found");
}

#[tokio::test]
async fn secrets_in_headers_query_and_bodies_are_redacted() {
    let (rec, _) = recorder();
    let app = Router::new()
        .route(
            "/login",
            post(|body: String| async move {
                let mut headers = HeaderMap::new();
                headers.insert("set-cookie", "sid=SETCOOKIESECRET".parse().unwrap());
                headers.insert("content-type", "application/json".parse().unwrap());
                let reply =
                    json!({"ok": true, "echo_len": body.len(), "access_token": "RESPONSETOKEN"});
                (headers, reply.to_string())
            }),
        )
        .layer(
            HistoryLayer::new(rec.clone())
                .headers([
                    "authorization",
                    "cookie",
                    "set-cookie",
                    "x-api-key",
                    "user-agent",
                    "x-trace",
                ])
                .query_params(["page", "token"])
                .request_body(4096)
                .response_body(4096),
        );
    let addr = serve(app).await;
    let (status, _) = call(
        "POST",
        format!("http://{addr}/login?page=3&token=QUERYSECRET&other=NOTALLOWED"),
        vec![
            ("authorization", "Bearer AUTHSECRET"),
            ("cookie", "session=COOKIESECRET"),
            ("x-api-key", "APIKEYSECRET"),
            ("user-agent", "tests/1.0"),
            ("x-not-allowed", "HEADERNOTALLOWED"),
            ("content-type", "application/json"),
        ],
        Some(r#"{"user":"ann","password":"BODYSECRET","nested":{"client_secret":"NESTEDSECRET"}}"#),
    )
    .await;
    assert_eq!(status, 200);
    let evs = requests(&rec);
    let ev = &evs[0];
    let text = serde_json::to_string(ev).unwrap();
    for secret in [
        "AUTHSECRET",
        "COOKIESECRET",
        "APIKEYSECRET",
        "QUERYSECRET",
        "BODYSECRET",
        "NESTEDSECRET",
        "SETCOOKIESECRET",
        "RESPONSETOKEN",
        "NOTALLOWED",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let p = ev.parameters.to_value();
    assert_eq!(p["headers"]["authorization"], "[redacted]");
    assert_eq!(p["headers"]["cookie"], "[redacted]");
    assert_eq!(p["headers"]["x-api-key"], "[redacted]");
    assert_eq!(p["headers"]["user-agent"], "tests/1.0");
    assert_eq!(p["query"], json!({"page": "3", "token": "[redacted]"}));
    assert_eq!(p["body"]["user"], "ann");
    assert_eq!(p["body"]["password"], "[redacted]");
    let r = ev.result.as_ref().unwrap().to_value();
    assert_eq!(r["headers"]["set-cookie"], "[redacted]");
    assert_eq!(r["body"]["ok"], true);
    assert_eq!(r["body"]["access_token"], "[redacted]");
}

#[tokio::test]
async fn bodies_are_not_captured_unless_asked_and_are_capped() {
    let (rec, _) = recorder();
    let app = Router::new()
        .route("/a", post(|b: String| async move { b }))
        .route("/b", post(|b: String| async move { b }))
        .layer(HistoryLayer::new(rec.clone()));
    let capped = Router::new()
        .route("/c", post(|b: String| async move { b }))
        .layer(
            HistoryLayer::new(rec.clone())
                .request_body(5)
                .response_body(3),
        );
    let addr = serve(app.merge(capped)).await;
    let (_, echoed) = call(
        "POST",
        format!("http://{addr}/a"),
        vec![],
        Some("hello world"),
    )
    .await;
    assert_eq!(echoed, "hello world");
    let (_, echoed) = call(
        "POST",
        format!("http://{addr}/c"),
        vec![],
        Some("hello world"),
    )
    .await;
    assert_eq!(
        echoed, "hello world",
        "the whole body still reaches the handler and the client"
    );
    let evs = requests(&rec);
    assert_eq!(evs[0].parameters.to_value().get("body"), None);
    assert_eq!(evs[0].result.as_ref().unwrap().to_value().get("body"), None);
    assert_eq!(
        evs[1].parameters.to_value()["body"],
        "hello… [cut: 11 bytes in all]"
    );
    assert_eq!(
        evs[1].result.as_ref().unwrap().to_value()["body"],
        "hel… [cut: 11 bytes in all]"
    );
}

#[track_history(event_type = "vm_lookup", recorder = rec, skip(rec))]
async fn lookup_vm(rec: &Recorder, id: u32) -> Result<String, std::io::Error> {
    tokio::task::yield_now().await;
    inner_step(rec, id).await;
    Ok(format!("vm-{id}"))
}

#[track_history(event_type = "vm_inner", recorder = rec, skip(rec))]
async fn inner_step(rec: &Recorder, id: u32) -> u32 {
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    id
}

#[derive(Clone)]
struct AuthUser(i64);

#[tokio::test]
async fn tracked_calls_in_the_handler_nest_under_the_request() {
    let (rec, _) = recorder();
    let handler_rec = rec.clone();
    let app = Router::new()
        .route(
            "/vms/{id}",
            get(move |Path(id): Path<u32>| {
                let rec = handler_rec.clone();
                async move {
                    tokio::task::yield_now().await;
                    let vm = lookup_vm(&rec, id).await.unwrap();
                    // Known only in the handler: set on the request's own event.
                    history::current_call::set_label("vm_name", vm.clone());
                    vm
                }
            }),
        )
        .route(
            "/me",
            get(|| async {
                history::current_call::set_user_id(99);
                "me"
            }),
        )
        .layer(
            HistoryLayer::new(rec.clone())
                .user_id(|parts| parts.extensions.get::<AuthUser>().map(|u| u.0.into())),
        )
        // The user's auth layer runs before the history layer and sets the extension.
        .layer(axum::middleware::from_fn(
            |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
                if req.headers().contains_key("authorization") {
                    req.extensions_mut().insert(AuthUser(7));
                }
                next.run(req).await
            },
        ));
    let addr = serve(app).await;
    call(
        "GET",
        format!("http://{addr}/vms/5"),
        vec![("authorization", "Bearer x")],
        None,
    )
    .await;
    call(
        "GET",
        format!("http://{addr}/vms/6"),
        vec![(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
        None,
    )
    .await;
    call("GET", format!("http://{addr}/me"), vec![], None).await;

    let all = events(&rec);
    let reqs: Vec<_> = all
        .iter()
        .filter(|e| e.event_type == EventType::ApiRequest)
        .collect();
    assert_eq!(reqs.len(), 3);
    for (req, vm) in [(reqs[0], "vm-5"), (reqs[1], "vm-6")] {
        let lookup = all
            .iter()
            .find(|e| e.event_type.as_str() == "vm_lookup" && e.parent_id == Some(req.id))
            .unwrap_or_else(|| panic!("no vm_lookup under {}: {all:#?}", req.id));
        let inner = all
            .iter()
            .find(|e| e.event_type.as_str() == "vm_inner" && e.parent_id == Some(lookup.id))
            .expect("inner step nests under the lookup");
        assert_eq!(lookup.trace_id, req.trace_id);
        assert_eq!(inner.trace_id, req.trace_id);
        assert_eq!(req.labels["vm_name"], vm);
    }
    assert_eq!(reqs[0].user_id, Some(7.into()));
    assert_eq!(reqs[0].trace_id, Some(reqs[0].id));
    // The `traceparent` gives the external (W3C) ids; the history's own tree is the request's.
    assert_eq!(reqs[1].trace_id, Some(reqs[1].id));
    assert_eq!(
        reqs[1].external_trace_id.map(|t| t.to_string()).as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(
        reqs[1].external_span_id.map(|s| s.to_string()).as_deref(),
        Some("00f067aa0ba902b7")
    );
    assert_eq!(reqs[0].external_trace_id, None);
    assert_eq!(reqs[1].user_id, None);
    assert_eq!(reqs[2].user_id, Some(99.into()));
}

#[tokio::test]
async fn request_ids_from_tower_http_become_correlation_ids() {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    let (rec, _) = recorder();
    let app = Router::new().route("/", get(|| async { "hi" })).layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(HistoryLayer::new(rec.clone())),
    );
    let addr = serve(app).await;
    call(
        "GET",
        format!("http://{addr}/"),
        vec![("x-request-id", "req-abc")],
        None,
    )
    .await;
    call("GET", format!("http://{addr}/"), vec![], None).await;
    let evs = requests(&rec);
    assert_eq!(evs[0].correlation_id.as_deref(), Some("req-abc"));
    let generated = evs[1].correlation_id.as_deref().unwrap();
    assert_eq!(generated.len(), 36, "a uuid: {generated}");
}

#[derive(Debug)]
struct Boom;
impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("backend exploded")
    }
}

#[tokio::test]
async fn errors_of_the_inner_service_are_recorded_and_returned_unchanged() {
    let (rec, _) = recorder();
    let svc = ServiceBuilder::new()
        .layer(HistoryLayer::new(rec.clone()))
        .service(tower::service_fn(|_req: Request<axum::body::Body>| async {
            Err::<Response<axum::body::Body>, Boom>(Boom)
        }));
    let err = svc
        .oneshot(Request::get("/x").body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "backend exploded");
    let evs = requests(&rec);
    assert_eq!(evs[0].status, EventStatus::Failed);
    let e = evs[0].error.as_ref().unwrap();
    assert_eq!(
        (e.message.as_str(), e.kind.as_deref()),
        ("backend exploded", Some("service_error"))
    );
}

#[tokio::test]
async fn panics_are_recorded_and_propagate_with_their_payload() {
    let (rec, _) = recorder();
    // In the future.
    let svc = ServiceBuilder::new()
        .layer(HistoryLayer::new(rec.clone()))
        .service(tower::service_fn(|_req: Request<axum::body::Body>| async {
            tokio::task::yield_now().await;
            if true {
                panic!("handler blew up");
            }
            Ok::<_, Boom>(Response::new(axum::body::Body::empty()))
        }));
    let task =
        tokio::spawn(svc.oneshot(Request::get("/p").body(axum::body::Body::empty()).unwrap()));
    let payload = task.await.unwrap_err().into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"handler blew up"));

    // In `call` itself, before any future exists.
    let mut svc = HistoryLayer::new(rec.clone()).layer_fn_for_test();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(svc.call(Request::get("/q").body(axum::body::Body::empty()).unwrap()));
    }));
    let payload = caught.unwrap_err();
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied());
    assert_eq!(text, Some("call panicked: 7"));

    let evs = requests(&rec);
    assert_eq!(evs.len(), 2);
    for (ev, message) in evs.iter().zip(["handler blew up", "call panicked: 7"]) {
        assert_eq!(ev.status, EventStatus::Failed);
        let e = ev.error.as_ref().unwrap();
        assert_eq!(
            (e.message.as_str(), e.kind.as_deref()),
            (message, Some("panic"))
        );
    }
}

/// A service whose `call` panics.
#[derive(Clone)]
struct PanicsInCall;
impl Service<Request<axum::body::Body>> for PanicsInCall {
    type Response = Response<axum::body::Body>;
    type Error = Boom;
    type Future = std::future::Ready<Result<Self::Response, Boom>>;
    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Boom>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: Request<axum::body::Body>) -> Self::Future {
        let n = std::hint::black_box(7);
        panic!("call panicked: {n}")
    }
}

trait ForTest {
    fn layer_fn_for_test(self) -> history_http::HistoryService<PanicsInCall>;
}
impl ForTest for HistoryLayer {
    fn layer_fn_for_test(self) -> history_http::HistoryService<PanicsInCall> {
        tower::Layer::layer(&self, PanicsInCall)
    }
}

#[tokio::test]
async fn a_dropped_request_is_recorded_cancelled() {
    let (rec, _) = recorder();
    let svc = ServiceBuilder::new()
        .layer(HistoryLayer::new(rec.clone()))
        .service(tower::service_fn(|_req: Request<axum::body::Body>| async {
            std::future::pending::<()>().await;
            Ok::<_, Boom>(Response::new(axum::body::Body::empty()))
        }));
    let fut = svc.oneshot(
        Request::get("/slow")
            .body(axum::body::Body::empty())
            .unwrap(),
    );
    let timed_out = tokio::time::timeout(std::time::Duration::from_millis(20), fut).await;
    assert!(timed_out.is_err());
    let evs = requests(&rec);
    assert_eq!(evs[0].status, EventStatus::Cancelled);
    assert_eq!(evs[0].operation, "GET (no route)");
    let _: Value = evs[0].parameters.to_value();
}
