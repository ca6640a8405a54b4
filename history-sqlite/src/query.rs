//! [`Filter`] and [`Query`] to SQL: a `WHERE` clause with bound values, and the keyset
//! condition.

use history::{Filter, Order, Query};
use rusqlite::types::Value;

use crate::codec::{duration_micros, micros, subject_value};

/// A `WHERE` clause (always valid SQL, `1` when nothing is filtered) and its values.
#[derive(Debug, Default)]
pub(crate) struct Where {
    pub sql: String,
    pub values: Vec<Value>,
}

impl Where {
    fn and(&mut self, clause: &str) {
        if !self.sql.is_empty() {
            self.sql.push_str(" AND ");
        }
        self.sql.push_str(clause);
    }

    fn bind(&mut self, v: Value) -> String {
        self.values.push(v);
        format!("?{}", self.values.len())
    }

    /// The clause, or `1` when empty.
    pub(crate) fn clause(&self) -> &str {
        if self.sql.is_empty() {
            "1"
        } else {
            &self.sql
        }
    }
}

/// The conditions of `q`.
pub(crate) fn filter(q: &Filter) -> Where {
    let mut f = Where::default();
    if !q.event_types.is_empty() {
        let list: Vec<String> = q
            .event_types
            .iter()
            .map(|t| f.bind(Value::Text(t.as_str().to_owned())))
            .collect();
        f.and(&format!("event_type IN ({})", list.join(", ")));
    }
    if !q.statuses.is_empty() {
        // Statuses are a closed set of snake_case words: inline them, so that the planner sees
        // literals (partial indexes on status can match).
        let list: Vec<String> = q
            .statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        f.and(&format!("status IN ({})", list.join(", ")));
    }
    for (column, value) in [
        ("user_id", &q.user_id),
        ("vm_id", &q.vm_id),
        ("credential_id", &q.credential_id),
        ("organization_id", &q.organization_id),
    ] {
        if let Some(v) = value {
            let p = f.bind(subject_value(v));
            f.and(&format!("{column} = {p}"));
        }
    }
    if let Some(id) = &q.parent_id {
        let p = f.bind(Value::Blob(id.as_bytes().to_vec()));
        f.and(&format!("parent_id = {p}"));
    }
    if let Some(id) = &q.trace_id {
        // The trace index holds the members below the root (schema 6); the root is found by
        // its id. Each side repeats its partial index's condition so the planner can use it.
        let p = f.bind(Value::Blob(id.as_bytes().to_vec()));
        f.and(&format!(
            "((trace_id = {p} AND trace_id IS NOT NULL AND trace_id <> id) \
             OR (id = {p} AND trace_id = id))"
        ));
    }
    if let Some(id) = &q.external_trace_id {
        let p = f.bind(Value::Blob(id.as_bytes().to_vec()));
        f.and(&format!("external_trace_id = {p}"));
    }
    if let Some(id) = &q.external_span_id {
        let p = f.bind(Value::Blob(id.as_bytes().to_vec()));
        f.and(&format!("external_span_id = {p}"));
    }
    if let Some(c) = &q.correlation_id {
        let p = f.bind(Value::Text(c.clone()));
        f.and(&format!("correlation_id = {p}"));
    }
    for (column, value) in [
        ("operation", &q.operation),
        ("host", &q.host),
        ("service", &q.service),
    ] {
        if let Some(v) = value {
            let p = f.bind(Value::Text(v.clone()));
            f.and(&format!("{column} = {p}"));
        }
    }
    for (k, v) in &q.labels {
        let pk = f.bind(Value::Text(k.clone()));
        let pv = f.bind(Value::Text(v.clone()));
        f.and(&format!(
            "EXISTS (SELECT 1 FROM json_each(events.labels) AS l \
             WHERE l.key = {pk} AND l.type = 'text' AND l.value = {pv})"
        ));
    }
    if let Some(t) = q.since {
        let p = f.bind(Value::Integer(micros(t)));
        f.and(&format!("started_at >= {p}"));
    }
    if let Some(t) = q.until {
        let p = f.bind(Value::Integer(micros(t)));
        f.and(&format!("started_at < {p}"));
    }
    if let Some(d) = q.min_duration {
        let p = f.bind(Value::Integer(duration_micros(d)));
        f.and(&format!("duration_us >= {p}"));
    }
    if let Some(d) = q.max_duration {
        let p = f.bind(Value::Integer(duration_micros(d)));
        f.and(&format!("duration_us <= {p}"));
    }
    if let Some(text) = &q.error_contains {
        let p = f.bind(Value::Text(text.clone()));
        f.and(&format!(
            "error IS NOT NULL AND (instr(error ->> '$.message', {p}) > 0 \
             OR EXISTS (SELECT 1 FROM json_each(events.error, '$.sources') AS s \
             WHERE instr(s.value, {p}) > 0))"
        ));
    }
    f
}

/// The `ORDER BY` of `order`.
pub(crate) fn order_by(order: Order) -> &'static str {
    match order {
        Order::NewestFirst => "started_at DESC, id DESC",
        Order::OldestFirst => "started_at ASC, id ASC",
    }
}

/// Adds the keyset condition of `q`'s cursor, written out (`ts <= ? AND (ts < ? OR id < ?)`)
/// rather than as a row value, whose plan leaves the index after `ANALYZE`.
pub(crate) fn add_cursor(f: &mut Where, q: &Query) {
    let Some(c) = &q.cursor else { return };
    let ts = f.bind(Value::Integer(micros(c.started_at)));
    let id = f.bind(Value::Blob(c.id.as_bytes().to_vec()));
    let (le, lt) = match q.order {
        Order::NewestFirst => ("<=", "<"),
        Order::OldestFirst => (">=", ">"),
    };
    f.and(&format!(
        "started_at {le} {ts} AND (started_at {lt} {ts} OR id {lt} {id})"
    ));
}
