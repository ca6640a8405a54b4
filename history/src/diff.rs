//! Compare two events, e.g. two runs of the same operation: which parameters and result keys
//! changed, appeared or disappeared.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::Event;

/// One difference between two JSON documents, at a path of object keys and array indexes
/// (`"disk.size"`, `"tags.0"`; the whole document is `""`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// Present in both, with different values.
    Changed {
        /// Where.
        path: String,
        /// The old value.
        old: Value,
        /// The new value.
        new: Value,
    },
    /// Only in the new document.
    Added {
        /// Where.
        path: String,
        /// The new value.
        new: Value,
    },
    /// Only in the old document.
    Removed {
        /// Where.
        path: String,
        /// The old value.
        old: Value,
    },
}

impl Change {
    /// Where the difference is.
    pub fn path(&self) -> &str {
        match self {
            Change::Changed { path, .. }
            | Change::Added { path, .. }
            | Change::Removed { path, .. } => path,
        }
    }
}

/// The differences between two events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EventDiff {
    /// Differences in the parameters.
    pub parameters: Vec<Change>,
    /// Differences in the results (a missing result counts as `null`).
    pub result: Vec<Change>,
    /// Other fields that differ (status, operation, duration, error, …): name, old, new.
    pub fields: Vec<Change>,
}

impl EventDiff {
    /// Whether the two events differ in nothing compared.
    pub fn is_empty(&self) -> bool {
        self.parameters.is_empty() && self.result.is_empty() && self.fields.is_empty()
    }
}

/// Compares `old` with `new`: parameters and results key by key (nested objects are walked,
/// arrays compared by index), other fields as wholes. The ids and times are not compared.
///
/// ```
/// use history::{diff::{diff, Change}, Event, EventType};
/// let a = Event::builder(EventType::VmCreate, "vm::create")
///     .parameters(&serde_json::json!({"size": "small", "region": "eu"}))?.build()?;
/// let b = Event::builder(EventType::VmCreate, "vm::create")
///     .parameters(&serde_json::json!({"size": "large", "zone": "b"}))?.build()?;
/// let d = diff(&a, &b);
/// let paths: Vec<&str> = d.parameters.iter().map(Change::path).collect();
/// assert_eq!(paths, ["region", "size", "zone"]);
/// # Ok::<(), history::Error>(())
/// ```
pub fn diff(old: &Event, new: &Event) -> EventDiff {
    let mut d = EventDiff::default();
    json_diff(
        "",
        &old.parameters.to_value(),
        &new.parameters.to_value(),
        &mut d.parameters,
    );
    let result = |e: &Event| e.result.as_ref().map_or(Value::Null, |j| j.to_value());
    json_diff("", &result(old), &result(new), &mut d.result);
    let fields = |e: &Event| -> serde_json::Map<String, Value> {
        let mut v = match serde_json::to_value(e) {
            Ok(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        for skip in [
            "id",
            "timestamp",
            "finished_at",
            "parameters",
            "result",
            "parent_id",
            "trace_id",
            "external_trace_id",
            "external_span_id",
        ] {
            v.remove(skip);
        }
        v
    };
    json_diff(
        "",
        &Value::Object(fields(old)),
        &Value::Object(fields(new)),
        &mut d.fields,
    );
    d
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Appends the differences between `old` and `new` under `path`, in key order.
pub fn json_diff(path: &str, old: &Value, new: &Value, out: &mut Vec<Change>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = join(path, k);
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => json_diff(&p, x, y, out),
                    (Some(x), None) => out.push(Change::Removed {
                        path: p,
                        old: x.clone(),
                    }),
                    (None, Some(y)) => out.push(Change::Added {
                        path: p,
                        new: y.clone(),
                    }),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for i in 0..a.len().max(b.len()) {
                let p = join(path, &i.to_string());
                match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => json_diff(&p, x, y, out),
                    (Some(x), None) => out.push(Change::Removed {
                        path: p,
                        old: x.clone(),
                    }),
                    (None, Some(y)) => out.push(Change::Added {
                        path: p,
                        new: y.clone(),
                    }),
                    (None, None) => {}
                }
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(Change::Changed {
            path: path.to_owned(),
            old: a.clone(),
            new: b.clone(),
        }),
    }
}
