//! `GET /stats`: the figures of a filter, durations in seconds.

use std::time::Duration;

use axum::extract::{OriginalUri, State};
use history::stats::{GroupKey, StatsQuery, Summary};
use serde_json::{json, Map, Value};

use super::params::{self, pairs};
use super::problem::Problem;
use super::HistoryApi;
use super::JsonBody;

/// `GET /stats?{filter}&group_by=…`.
pub(crate) async fn stats(
    State(api): State<HistoryApi>,
    OriginalUri(uri): OriginalUri,
) -> Result<JsonBody<Value>, Problem> {
    let pairs = pairs(uri.query());
    let mut query = StatsQuery::new(params::filter(&pairs, &["group_by"])?);
    for (k, v) in &pairs {
        if k == "group_by" {
            query = query.group_by(params::group_by(v)?);
        }
    }
    let stats = api.store.stats(query).await?;
    let groups: Vec<Value> = stats
        .groups
        .iter()
        .map(|(key, summary)| json!({ "key": key_text(key), "summary": summary_json(summary) }))
        .collect();
    Ok(JsonBody(json!({
        "summary": summary_json(&stats.summary),
        "groups": groups,
    })))
}

/// A group's key as one JSON value: the type, the id (or null), the operation, the bucket's
/// start (RFC 3339).
fn key_text(key: &GroupKey) -> Value {
    match key {
        GroupKey::EventType(t) => Value::from(t.as_str()),
        GroupKey::User(id) | GroupKey::Vm(id) => id.as_ref().map_or(Value::Null, |id| json!(id)),
        GroupKey::Operation(op) => Value::from(op.as_str()),
        GroupKey::Time(t) => Value::from(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        _ => Value::Null,
    }
}

fn secs(d: Duration) -> Value {
    json!(d.as_secs_f64())
}

fn summary_json(s: &Summary) -> Value {
    let mut out = Map::new();
    out.insert("total".into(), json!(s.total));
    out.insert("by_status".into(), json!(s.by_status));
    out.insert("success_rate".into(), json!(s.success_rate));
    out.insert(
        "duration".into(),
        match &s.duration {
            None => Value::Null,
            Some(d) => json!({
                "count": d.count,
                "avg": secs(d.avg), "min": secs(d.min), "max": secs(d.max),
                "p50": secs(d.p50), "p95": secs(d.p95), "p99": secs(d.p99),
            }),
        },
    );
    Value::Object(out)
}
