//! `GET /events/stream`: committed events as server-sent events, from the store's change
//! feed, resumable with `Last-Event-ID`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{OriginalUri, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use history::{Change, ChangeToken, Filter};

use super::params::{self, pairs};
use super::problem::Problem;
use super::HistoryApi;
use crate::read::AsyncStore;

/// Changes asked of the store at once.
const BATCH: usize = 256;

/// Where a follower stands.
struct Follow {
    store: AsyncStore,
    filter: Filter,
    token: ChangeToken,
    ready: VecDeque<Change>,
    poll: Duration,
    /// Whether the last read failed (said once per outage).
    failing: bool,
}

/// The resume token: `Last-Event-ID` (what browsers send on reconnecting), else `?after=`.
fn resume(headers: &HeaderMap, pairs: &[(String, String)]) -> Result<Option<ChangeToken>, Problem> {
    let header = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let query = pairs
        .iter()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.as_str());
    match header.or(query) {
        None => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(|_| {
            Problem::bad_request(format!(
                "`Last-Event-ID` / `after`: {raw:?} is not a change token (the `id` of an event \
                 this stream sent)"
            ))
        }),
    }
}

/// `GET /events/stream?{filter}`: every committed event that matches, as an SSE event of type
/// `event` whose `id` is its change token and whose data is the event's JSON. An event is
/// sent again each time it changes (in progress, then final). Without `Last-Event-ID` (or
/// `?after=`) the stream starts from now.
pub(crate) async fn stream(
    State(api): State<HistoryApi>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, Problem> {
    let pairs = pairs(uri.query());
    let filter = params::filter(&pairs, &["after"])?;
    let token = match resume(&headers, &pairs)? {
        Some(token) => token,
        None => api.store.latest_change().await?,
    };
    let follow = Follow {
        store: api.store.clone(),
        filter,
        token,
        ready: VecDeque::new(),
        poll: api.poll_interval,
        failing: false,
    };
    let events = stream::unfold(follow, |mut f| async move {
        loop {
            if let Some(change) = f.ready.pop_front() {
                return Some((Ok(sse_event(&change)), f));
            }
            match f.store.changes_after(f.token, BATCH).await {
                Ok(page) => {
                    f.failing = false;
                    let full = page.changes.len() == BATCH;
                    f.token = page.next;
                    let filter = &f.filter;
                    f.ready.extend(
                        page.changes
                            .into_iter()
                            .filter(|c| filter.matches(&c.event)),
                    );
                    if f.ready.is_empty() && !full {
                        tokio::time::sleep(f.poll).await;
                    }
                }
                Err(e) => {
                    let first = !f.failing;
                    f.failing = true;
                    if first {
                        let note = SseEvent::default()
                            .event("problem")
                            .data(format!("the store did not answer; retrying: {e}"));
                        return Some((Ok(note), f));
                    }
                    tokio::time::sleep(f.poll * 4).await;
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn sse_event(change: &Change) -> SseEvent {
    let data = serde_json::to_string(&change.event).unwrap_or_else(|_| "null".into());
    SseEvent::default()
        .event("event")
        .id(change.token.to_string())
        .data(data)
}
