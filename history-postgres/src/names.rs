//! Names derived from the schema: quoted SQL, the notification channel, advisory lock keys.

/// The schema and what is named after it.
#[derive(Clone, Debug)]
pub(crate) struct Names {
    /// The schema, as configured (validated: lower-case letters, digits, `_`).
    pub schema: String,
    /// `"schema"`, for SQL.
    quoted: String,
    /// The channel writers notify after committing changes.
    pub channel: String,
}

impl Names {
    pub(crate) fn new(schema: &str) -> Names {
        Names {
            schema: schema.to_owned(),
            quoted: format!("\"{schema}\""),
            channel: format!("history_{schema}"),
        }
    }

    /// `sql` with every `{s}` replaced by the quoted schema.
    pub(crate) fn sql(&self, sql: &str) -> String {
        sql.replace("{s}", &self.quoted)
    }
}

/// A 64-bit advisory lock key for `what` in `schema` (FNV-1a: stable across versions and
/// hosts, unlike a hash the standard library may change).
pub(crate) fn lock_key(what: &str, schema: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "history:"
        .bytes()
        .chain(what.bytes())
        .chain(*b":")
        .chain(schema.bytes())
    {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}
