//! Query strings to filters and queries: every [`Filter`] condition is a query parameter.

use std::time::Duration;

use chrono::{DateTime, Utc};
use history::stats::{Bucket, GroupBy};
use history::{Cursor, EventId, EventStatus, EventType, Filter, Order, Query, SubjectId};

use super::problem::Problem;

/// The query parameters of a filter (documented in the OpenAPI document; a test keeps the
/// two in step).
#[cfg(test)]
pub(crate) const FILTER_PARAMS: &[&str] = &[
    "event_type",
    "status",
    "user_id",
    "vm_id",
    "credential_id",
    "organization_id",
    "parent_id",
    "trace_id",
    "correlation_id",
    "external_trace_id",
    "external_span_id",
    "operation",
    "host",
    "service",
    "label",
    "since",
    "until",
    "min_duration",
    "max_duration",
    "error_contains",
];

/// The query parameters of a page, beside the filter's.
pub(crate) const PAGE_PARAMS: &[&str] = &["order", "limit", "cursor", "with_total"];

/// The pairs of a query string, decoded.
pub(crate) fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn bad(name: &str, value: &str, expected: &str) -> Problem {
    Problem::bad_request(format!(
        "query parameter `{name}`: {value:?} is not {expected}"
    ))
}

fn subject(value: &str) -> SubjectId {
    match value.parse::<i64>() {
        Ok(n) => SubjectId::Int(n),
        Err(_) => SubjectId::Text(value.to_owned()),
    }
}

fn id(name: &str, value: &str) -> Result<EventId, Problem> {
    value
        .parse()
        .map_err(|_| bad(name, value, "an event id (a UUID)"))
}

fn time(name: &str, value: &str) -> Result<DateTime<Utc>, Problem> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad(name, value, "an RFC 3339 time (2026-01-31T12:00:00Z)"))
}

fn seconds(name: &str, value: &str) -> Result<Duration, Problem> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| bad(name, value, "a number of seconds"))
}

/// Applies one filter parameter; `Ok(false)` when `name` is not one.
fn filter_param(f: &mut Filter, name: &str, value: &str) -> Result<bool, Problem> {
    let each = || value.split(',').map(str::trim).filter(|v| !v.is_empty());
    match name {
        "event_type" => {
            for t in each() {
                let t: EventType = t
                    .parse()
                    .map_err(|_| bad(name, t, "an event type (vm_create, api_request, …)"))?;
                f.event_types.push(t);
            }
        }
        "status" => {
            for s in each() {
                let s: EventStatus = s.parse().map_err(|_| {
                    bad(
                        name,
                        s,
                        "a status (in_progress, success, failed, cancelled, interrupted)",
                    )
                })?;
                f.statuses.push(s);
            }
        }
        "user_id" => f.user_id = Some(subject(value)),
        "vm_id" => f.vm_id = Some(subject(value)),
        "credential_id" => f.credential_id = Some(subject(value)),
        "organization_id" => f.organization_id = Some(subject(value)),
        "parent_id" => f.parent_id = Some(id(name, value)?),
        "trace_id" => f.trace_id = Some(id(name, value)?),
        "correlation_id" => f.correlation_id = Some(value.to_owned()),
        "external_trace_id" => {
            f.external_trace_id = Some(
                value
                    .parse()
                    .map_err(|_| bad(name, value, "a W3C trace id (32 hex digits)"))?,
            )
        }
        "external_span_id" => {
            f.external_span_id = Some(
                value
                    .parse()
                    .map_err(|_| bad(name, value, "a W3C span id (16 hex digits)"))?,
            )
        }
        "operation" => f.operation = Some(value.to_owned()),
        "host" => f.host = Some(value.to_owned()),
        "service" => f.service = Some(value.to_owned()),
        "label" => {
            let (k, v) = value
                .split_once(':')
                .ok_or_else(|| bad(name, value, "`key:value`"))?;
            f.labels.insert(k.to_owned(), v.to_owned());
        }
        "since" => f.since = Some(time(name, value)?),
        "until" => f.until = Some(time(name, value)?),
        "min_duration" => f.min_duration = Some(seconds(name, value)?),
        "max_duration" => f.max_duration = Some(seconds(name, value)?),
        "error_contains" => f.error_contains = Some(value.to_owned()),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Rejects a parameter no endpoint knows (a typo would otherwise widen the filter).
fn unknown(name: &str) -> Problem {
    Problem::bad_request(format!("unknown query parameter `{name}`"))
}

/// A filter from a query string; `extra` names further parameters the caller reads itself.
pub(crate) fn filter(pairs: &[(String, String)], extra: &[&str]) -> Result<Filter, Problem> {
    let mut f = Filter::new();
    for (name, value) in pairs {
        if !filter_param(&mut f, name, value)? && !extra.contains(&name.as_str()) {
            return Err(unknown(name));
        }
    }
    f.validate()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    Ok(f)
}

/// A page request from a query string: the filter, `order` (`newest` or `oldest`), `limit`,
/// `cursor` and `with_total`.
pub(crate) fn query(pairs: &[(String, String)]) -> Result<Query, Problem> {
    let mut q = Query::matching(filter(pairs, PAGE_PARAMS)?);
    for (name, value) in pairs {
        match name.as_str() {
            "order" => {
                q = q.order(match value.as_str() {
                    "newest" | "newest_first" => Order::NewestFirst,
                    "oldest" | "oldest_first" => Order::OldestFirst,
                    _ => return Err(bad(name, value, "`newest` or `oldest`")),
                })
            }
            "limit" => {
                let n = value
                    .parse::<usize>()
                    .map_err(|_| bad(name, value, "a number"))?;
                q = q.limit(n);
            }
            "cursor" => {
                let c: Cursor = value
                    .parse()
                    .map_err(|_| bad(name, value, "a cursor from a previous page"))?;
                q = q.after(c);
            }
            "with_total" => q.with_total = parse_bool(name, value)?,
            _ => {}
        }
    }
    q.validate()
        .map_err(|e| Problem::bad_request(e.to_string()))?;
    Ok(q)
}

pub(crate) fn parse_bool(name: &str, value: &str) -> Result<bool, Problem> {
    match value {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(bad(name, value, "`true` or `false`")),
    }
}

/// `group_by` of the statistics endpoint.
pub(crate) fn group_by(value: &str) -> Result<GroupBy, Problem> {
    Ok(match value {
        "event_type" => GroupBy::EventType,
        "user" | "user_id" => GroupBy::User,
        "vm" | "vm_id" => GroupBy::Vm,
        "operation" => GroupBy::Operation,
        "minute" => GroupBy::Time(Bucket::Minute),
        "hour" => GroupBy::Time(Bucket::Hour),
        "day" => GroupBy::Time(Bucket::Day),
        _ => {
            return Err(bad(
                "group_by",
                value,
                "one of event_type, user, vm, operation, minute, hour, day",
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Result<Query, Problem> {
        query(&pairs(Some(s)))
    }

    #[test]
    fn every_filter_parameter_is_read() {
        let t = "2026-01-02T03:04:05Z";
        let id = "01a2016f-caab-724b-b810-01fa9e40f3cf";
        let s = format!(
            "event_type=vm_create,vm_start&status=failed&user_id=7&vm_id=web-1&credential_id=3\
             &organization_id=acme&parent_id={id}&trace_id={id}&correlation_id=req-1\
             &external_trace_id=4bf92f3577b34da6a3ce929d0e0e4736&external_span_id=00f067aa0ba902b7\
             &operation=GET%20%2Fvms&host=web-1&service=vm-api&label=region:eu&since={t}&until={t}&min_duration=0.5\
             &max_duration=2&error_contains=quota&order=oldest&limit=10&with_total=true"
        );
        let q = q(&s).unwrap();
        let f = &q.filter;
        assert_eq!(f.event_types, [EventType::VmCreate, EventType::VmStart]);
        assert_eq!(f.statuses, [EventStatus::Failed]);
        assert_eq!(f.user_id, Some(7.into()));
        assert_eq!(f.vm_id, Some("web-1".into()));
        assert_eq!(f.organization_id, Some("acme".into()));
        assert_eq!(f.parent_id.map(|i| i.to_string()).as_deref(), Some(id));
        assert_eq!(f.operation.as_deref(), Some("GET /vms"));
        assert_eq!(
            f.external_trace_id.map(|i| i.to_string()).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            f.external_span_id.map(|i| i.to_string()).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert_eq!(f.labels["region"], "eu");
        assert_eq!(
            (f.host.as_deref(), f.service.as_deref()),
            (Some("web-1"), Some("vm-api"))
        );
        assert_eq!(f.min_duration, Some(Duration::from_millis(500)));
        assert_eq!(f.error_contains.as_deref(), Some("quota"));
        assert_eq!(
            (q.order, q.limit, q.with_total),
            (Order::OldestFirst, 10, true)
        );
        // Every name the parser knows is listed (the OpenAPI test reads the list).
        for name in FILTER_PARAMS {
            assert!(s.contains(&format!("{name}=")), "{name}");
        }
    }

    #[test]
    fn every_field_of_filter_has_a_parameter() {
        // A field added to `Filter` shows up here: give it a query parameter.
        let fields = serde_json::to_value(Filter::new()).unwrap();
        let mut fields: Vec<&str> = fields
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        let mut params: Vec<&str> = FILTER_PARAMS
            .iter()
            .map(|p| match *p {
                "event_type" => "event_types",
                "status" => "statuses",
                "label" => "labels",
                p => p,
            })
            .collect();
        params.sort_unstable();
        assert_eq!(fields, params);
    }

    #[test]
    fn the_openapi_document_lists_every_parameter_the_parser_reads() {
        let doc: serde_json::Value = serde_json::from_str(super::super::OPENAPI).unwrap();
        for path in ["/events", "/events/{id}/children"] {
            let documented: Vec<&str> = doc["paths"][path]["get"]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "query")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            let mut read: Vec<&str> = FILTER_PARAMS.iter().chain(PAGE_PARAMS).copied().collect();
            let mut documented_sorted = documented.clone();
            read.sort_unstable();
            documented_sorted.sort_unstable();
            assert_eq!(documented_sorted, read, "{path}");
        }
        let stats: Vec<&str> = doc["paths"]["/stats"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for name in FILTER_PARAMS.iter().chain(&["group_by"]) {
            assert!(stats.contains(name), "/stats: {name}");
        }
    }

    #[test]
    fn mistakes_name_the_parameter() {
        for (s, word) in [
            ("status=broken", "status"),
            ("since=yesterday", "since"),
            ("limit=0", "limit"),
            ("limit=x", "limit"),
            ("cursor=nope", "cursor"),
            ("parent_id=12", "parent_id"),
            ("external_trace_id=12", "external_trace_id"),
            ("external_span_id=00f067aa0ba902b7aa", "external_span_id"),
            ("label=novalue", "label"),
            ("colour=red", "colour"),
            ("min_duration=3&max_duration=1", "min_duration"),
        ] {
            let p = q(s).unwrap_err();
            assert!(p.detail.contains(word), "{s}: {}", p.detail);
            assert_eq!(p.status, 400);
        }
    }
}
