//! [`Filter`] and [`Query`] to SQL: a `WHERE` clause with bound values, and the keyset
//! condition.

use history::{Filter, Order, Query};
use postgres::types::ToSql;

use crate::codec::{duration_micros, subject_json};

/// A bound value.
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// A `WHERE` clause (always valid SQL, `true` when nothing is filtered) and its values.
#[derive(Default)]
pub(crate) struct Where {
    pub sql: String,
    pub values: Vec<Param>,
}

impl std::fmt::Debug for Where {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Where").field("sql", &self.sql).finish()
    }
}

impl Where {
    pub(crate) fn and(&mut self, clause: &str) {
        if !self.sql.is_empty() {
            self.sql.push_str(" AND ");
        }
        self.sql.push_str(clause);
    }

    pub(crate) fn bind(&mut self, v: impl ToSql + Sync + Send + 'static) -> String {
        self.values.push(Box::new(v));
        format!("${}", self.values.len())
    }

    /// The clause, or `true` when empty.
    pub(crate) fn clause(&self) -> &str {
        if self.sql.is_empty() {
            "true"
        } else {
            &self.sql
        }
    }

    /// The values, as the client takes them.
    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|v| &**v as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The conditions of `q`.
pub(crate) fn filter(q: &Filter) -> Where {
    let mut f = Where::default();
    if !q.event_types.is_empty() {
        let list: Vec<String> = q
            .event_types
            .iter()
            .map(|t| t.as_str().to_owned())
            .collect();
        let p = f.bind(list);
        f.and(&format!("event_type = ANY({p})"));
    }
    if !q.statuses.is_empty() {
        // A closed set of snake_case words: inlined, so the planner sees literals (the
        // partial index of unfinished events can match).
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
            let p = f.bind(subject_json(v));
            f.and(&format!("{column} = {p}"));
        }
    }
    for (column, value) in [("parent_id", &q.parent_id), ("trace_id", &q.trace_id)] {
        if let Some(id) = value {
            let p = f.bind(*id.as_uuid());
            f.and(&format!("{column} = {p}"));
        }
    }
    if let Some(id) = &q.external_trace_id {
        let p = f.bind(id.as_bytes().to_vec());
        f.and(&format!("external_trace_id = {p}"));
    }
    if let Some(id) = &q.external_span_id {
        let p = f.bind(id.as_bytes().to_vec());
        f.and(&format!("external_span_id = {p}"));
    }
    for (column, value) in [
        ("correlation_id", &q.correlation_id),
        ("operation", &q.operation),
        ("host", &q.host),
        ("service", &q.service),
    ] {
        if let Some(v) = value {
            let p = f.bind(v.clone());
            f.and(&format!("{column} = {p}"));
        }
    }
    if !q.labels.is_empty() {
        let object: serde_json::Map<String, serde_json::Value> = q
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
            .collect();
        let p = f.bind(serde_json::Value::Object(object));
        f.and(&format!("labels IS NOT NULL AND labels @> {p}"));
    }
    if let Some(t) = q.since {
        let p = f.bind(t);
        f.and(&format!("started_at >= {p}"));
    }
    if let Some(t) = q.until {
        let p = f.bind(t);
        f.and(&format!("started_at < {p}"));
    }
    if let Some(d) = q.min_duration {
        let p = f.bind(duration_micros(d));
        f.and(&format!("duration_us >= {p}"));
    }
    if let Some(d) = q.max_duration {
        let p = f.bind(duration_micros(d));
        f.and(&format!("duration_us <= {p}"));
    }
    if let Some(text) = &q.error_contains {
        let p = f.bind(text.clone());
        f.and(&format!(
            "error IS NOT NULL AND (strpos(error ->> 'message', {p}) > 0 \
             OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(\
               CASE WHEN jsonb_typeof(error -> 'sources') = 'array' THEN error -> 'sources' \
               ELSE '[]'::jsonb END) AS s(v) WHERE strpos(s.v, {p}) > 0))"
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

/// Adds the keyset condition of `q`'s cursor (a row comparison, which the time index serves).
pub(crate) fn add_cursor(f: &mut Where, q: &Query) {
    let Some(c) = &q.cursor else { return };
    let ts = f.bind(c.started_at);
    let id = f.bind(*c.id.as_uuid());
    let op = match q.order {
        Order::NewestFirst => "<",
        Order::OldestFirst => ">",
    };
    f.and(&format!("(started_at, id) {op} ({ts}, {id})"));
}
