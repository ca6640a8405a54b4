//! Handlers of the events, their trees and their differences.

use axum::extract::{OriginalUri, Path, State};
use axum::http::Uri;
use history::store::MAX_LIMIT;
use history::{Event, EventId, Order, Page, Query};
use serde::Serialize;
use serde_json::{json, Value};

use super::params::{self, pairs};
use super::problem::Problem;
use super::HistoryApi;
use super::JsonBody;

/// A page of events, with the link to the next one.
#[derive(Serialize)]
pub(crate) struct EventPage {
    items: Vec<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
    /// The URL of the next page: this request's, with the cursor set.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
}

impl EventPage {
    fn new(page: Page<Event>, uri: &Uri) -> EventPage {
        let next_cursor = page.next_cursor.map(|c| c.to_string());
        let next = next_cursor.as_ref().map(|cursor| {
            let mut q = form_urlencoded::Serializer::new(String::new());
            for (k, v) in pairs(uri.query()) {
                if k != "cursor" {
                    q.append_pair(&k, &v);
                }
            }
            q.append_pair("cursor", cursor);
            format!("{}?{}", uri.path(), q.finish())
        });
        EventPage {
            items: page.items,
            next_cursor,
            next,
            total: page.total,
        }
    }
}

pub(crate) fn event_id(raw: &str) -> Result<EventId, Problem> {
    raw.parse()
        .map_err(|_| Problem::bad_request(format!("{raw:?} is not an event id (a UUID)")))
}

/// `GET /events`.
pub(crate) async fn list(
    State(api): State<HistoryApi>,
    OriginalUri(uri): OriginalUri,
) -> Result<JsonBody<EventPage>, Problem> {
    let query = params::query(&pairs(uri.query()))?;
    let page = api.store.query(query).await?;
    Ok(JsonBody(EventPage::new(page, &uri)))
}

/// `GET /events/{id}`.
pub(crate) async fn one(
    State(api): State<HistoryApi>,
    Path(id): Path<String>,
) -> Result<JsonBody<Event>, Problem> {
    Ok(JsonBody(api.store.get(event_id(&id)?).await?))
}

/// `GET /events/{id}/children`: paged like `/events`, oldest first unless asked otherwise.
pub(crate) async fn children(
    State(api): State<HistoryApi>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<JsonBody<EventPage>, Problem> {
    let id = event_id(&id)?;
    let pairs = pairs(uri.query());
    let mut query = params::query(&pairs)?;
    if !pairs.iter().any(|(k, _)| k == "order") {
        query = query.order(Order::OldestFirst);
    }
    query.filter.parent_id = Some(id);
    // 404 for an id that names no event, rather than an empty list.
    api.store.get(id).await?;
    let page = api.store.query(query).await?;
    Ok(JsonBody(EventPage::new(page, &uri)))
}

/// `GET /events/{id}/trace`: every event of the event's trace, oldest first (at most
/// `limit`, default 1000).
pub(crate) async fn trace(
    State(api): State<HistoryApi>,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
) -> Result<JsonBody<Value>, Problem> {
    let event = api.store.get(event_id(&id)?).await?;
    let mut limit = 1000;
    for (k, v) in pairs(uri.query()) {
        match k.as_str() {
            "limit" => {
                limit = v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        Problem::bad_request(format!(
                            "query parameter `limit`: {v:?} is not a number from 1 to {MAX_LIMIT}"
                        ))
                    })?
            }
            _ => {
                return Err(Problem::bad_request(format!(
                    "unknown query parameter `{k}`"
                )))
            }
        }
    }
    let trace_id = event.trace_id.unwrap_or(event.id);
    let page = api
        .store
        .query(Query::new().trace_id(trace_id).oldest_first().limit(limit))
        .await?;
    let mut items = page.items;
    if !items.iter().any(|e| e.id == event.id) {
        items.insert(0, event);
    }
    Ok(JsonBody(json!({
        "trace_id": trace_id,
        "items": items,
        "truncated": page.next_cursor.is_some(),
    })))
}

/// `GET /events/{id}/diff/previous`.
pub(crate) async fn diff_previous(
    State(api): State<HistoryApi>,
    Path(id): Path<String>,
) -> Result<JsonBody<Value>, Problem> {
    let event = api.store.get(event_id(&id)?).await?;
    let id = event.id;
    let previous = api.store.previous_success(event.clone()).await?;
    // No earlier success is an answer, not a missing resource.
    let Some(previous) = previous else {
        return Ok(JsonBody(json!({ "old": null, "new": id, "diff": null })));
    };
    let diff = history::diff::diff(&previous, &event);
    Ok(JsonBody(
        json!({ "old": previous.id, "new": id, "diff": diff }),
    ))
}

/// `GET /diff?old={id}&new={id}`.
pub(crate) async fn diff(
    State(api): State<HistoryApi>,
    OriginalUri(uri): OriginalUri,
) -> Result<JsonBody<Value>, Problem> {
    let (mut old, mut new) = (None, None);
    for (k, v) in pairs(uri.query()) {
        match k.as_str() {
            "old" => old = Some(event_id(&v)?),
            "new" => new = Some(event_id(&v)?),
            _ => {
                return Err(Problem::bad_request(format!(
                    "unknown query parameter `{k}`"
                )))
            }
        }
    }
    let (Some(old), Some(new)) = (old, new) else {
        return Err(Problem::bad_request(
            "query parameters `old` and `new` (event ids) are both required",
        ));
    };
    let diff = api.store.diff(old, new).await?;
    Ok(JsonBody(json!({ "old": old, "new": new, "diff": diff })))
}

/// `GET /health`.
pub(crate) async fn health(State(api): State<HistoryApi>) -> Result<JsonBody<Value>, Problem> {
    api.store.query(Query::new().limit(1)).await?;
    Ok(JsonBody(json!({ "status": "ok" })))
}
