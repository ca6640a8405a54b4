//! The schema: every table in the store's own schema, versioned migrations embedded here
//! with their bookkeeping (`schema_migrations`) inside that schema, and the refusal of a
//! schema written by a newer version or holding another application's tables.

use postgres::Client;

use crate::names::{lock_key, Names};
use crate::PostgresError;

/// The schema version this library writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// One step: a description and its SQL, where `{s}` stands for the quoted schema name and
/// `{bucket_thresholds}` for the duration histogram's bucket thresholds.
struct Migration {
    description: &'static str,
    sql: &'static str,
}

/// Migration `i` takes the schema from version `i` to `i + 1`. Never edit a released one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        description: "events partitioned by start time, writers, change sequence",
        // Events are range-partitioned on their start time (partitions are created by the
        // writers, `partitions.rs`; the default partition catches anything else). The key is
        // (id, started_at) because a partitioned table's unique keys must hold the partition
        // key; the records of one call share its start time. Subject ids are jsonb, so 1 and
        // "1" stay different subjects. `change_seq` is the event's place in the change feed,
        // taken in commit order (`write.rs`); `writer` names the store instance that wrote an
        // unfinished event (crash recovery, `writers.rs`).
        //
        // Indexes follow the query model: time order with the id as tie-break (every page and
        // its keyset cursor), a user's, a VM's and a host's events by time, type and status by
        // time, the sparse tree, trace and correlation ids, labels by containment, failed
        // events by time (error-text search scans only those), the change feed, and the
        // unfinished events of each writer.
        sql: r#"
CREATE TABLE {s}.settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
CREATE SEQUENCE {s}.changes AS bigint;
CREATE TABLE {s}.events (
    id               uuid        NOT NULL,
    started_at       timestamptz NOT NULL,
    event_type       text        NOT NULL,
    status           text        NOT NULL,
    finished_at      timestamptz,
    duration_us      bigint,
    operation        text        NOT NULL,
    user_id          jsonb,
    vm_id            jsonb,
    credential_id    jsonb,
    organization_id  jsonb,
    parent_id        uuid,
    trace_id         uuid,
    correlation_id   text,
    host             text,
    service          text,
    labels           jsonb,
    parameters       jsonb       NOT NULL,
    result           jsonb,
    error            jsonb,
    terraform_status text,
    execution        jsonb,
    writer           uuid,
    change_seq       bigint      NOT NULL,
    PRIMARY KEY (id, started_at)
) PARTITION BY RANGE (started_at);
CREATE TABLE {s}.events_default PARTITION OF {s}.events DEFAULT;
CREATE INDEX events_by_time ON {s}.events (started_at, id);
CREATE INDEX events_by_user ON {s}.events (user_id, started_at) WHERE user_id IS NOT NULL;
CREATE INDEX events_by_vm ON {s}.events (vm_id, started_at) WHERE vm_id IS NOT NULL;
CREATE INDEX events_by_host ON {s}.events (host, started_at) WHERE host IS NOT NULL;
CREATE INDEX events_by_type ON {s}.events (event_type, status, started_at);
CREATE INDEX events_by_trace ON {s}.events (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX events_by_parent ON {s}.events (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX events_by_correlation ON {s}.events (correlation_id)
    WHERE correlation_id IS NOT NULL;
CREATE INDEX events_by_label ON {s}.events USING gin (labels jsonb_path_ops)
    WHERE labels IS NOT NULL;
CREATE INDEX events_failed ON {s}.events (started_at) WHERE error IS NOT NULL;
CREATE INDEX events_by_change ON {s}.events (change_seq);
CREATE INDEX events_unfinished ON {s}.events (writer) WHERE status = 'in_progress';
CREATE TABLE {s}.writers (
    id           uuid        PRIMARY KEY,
    host         text        NOT NULL,
    pid          integer     NOT NULL,
    service      text,
    opened_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
"#,
    },
    Migration {
        description: "external (W3C) trace and span ids",
        // 16 and 8 bytes; sparse, so partial indexes (a filter on either is a lookup, and
        // events without them cost nothing).
        sql: r#"
ALTER TABLE {s}.events ADD COLUMN external_trace_id bytea;
ALTER TABLE {s}.events ADD COLUMN external_span_id bytea;
CREATE INDEX events_by_external_trace ON {s}.events (external_trace_id)
    WHERE external_trace_id IS NOT NULL;
CREATE INDEX events_by_external_span ON {s}.events (external_span_id)
    WHERE external_span_id IS NOT NULL;
"#,
    },
    Migration {
        description: "hourly rollups for long-range statistics, kept by triggers",
        sql: crate::rollup::MIGRATION,
    },
];

/// Brings the schema to [`SCHEMA_VERSION`] in one transaction, under a lock so that hosts
/// opening at once take turns. Checks first, changing nothing when refusing. Records the
/// partition span when the schema is created; returns the span in force (seconds).
pub(crate) fn migrate(
    client: &mut Client,
    names: &Names,
    partition_span_secs: i64,
) -> Result<i64, PostgresError> {
    let mut tx = client.transaction()?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&lock_key("migrate", &names.schema)],
    )?;
    let tables: Vec<String> = tx
        .query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY tablename",
            &[&names.schema],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let version: i32 = if tables.iter().any(|t| t == "schema_migrations") {
        tx.query_one(
            &names.sql("SELECT coalesce(max(version), 0) FROM {s}.schema_migrations"),
            &[],
        )?
        .get(0)
    } else if tables.is_empty() {
        0
    } else {
        let mut listed: Vec<&str> = tables.iter().take(5).map(String::as_str).collect();
        if tables.len() > 5 {
            listed.push("…");
        }
        return Err(PostgresError::ForeignSchema {
            schema: names.schema.clone(),
            tables: listed.join(", "),
        });
    };
    if version > SCHEMA_VERSION {
        return Err(PostgresError::NewerSchema {
            schema: names.schema.clone(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    if version < SCHEMA_VERSION {
        tx.batch_execute(&names.sql(
            "CREATE SCHEMA IF NOT EXISTS {s}; \
             CREATE TABLE IF NOT EXISTS {s}.schema_migrations ( \
                 version     integer     PRIMARY KEY, \
                 description text        NOT NULL, \
                 applied_at  timestamptz NOT NULL DEFAULT now())",
        ))?;
        let thresholds = crate::rollup::thresholds_sql();
        for (from, step) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.batch_execute(
                &names
                    .sql(step.sql)
                    .replace("{bucket_thresholds}", &thresholds),
            )?;
            tx.execute(
                &names.sql(
                    "INSERT INTO {s}.schema_migrations (version, description) VALUES ($1, $2)",
                ),
                &[&(from as i32 + 1), &step.description],
            )?;
        }
        tx.execute(
            &names.sql(
                "INSERT INTO {s}.settings (key, value) VALUES ('partition_span_secs', $1) \
                 ON CONFLICT (key) DO NOTHING",
            ),
            &[&partition_span_secs.to_string()],
        )?;
    }
    let span: String = tx
        .query_one(
            &names.sql("SELECT value FROM {s}.settings WHERE key = 'partition_span_secs'"),
            &[],
        )?
        .get(0);
    tx.commit()?;
    span.parse::<i64>()
        .ok()
        .filter(|s| *s >= 3_600)
        .ok_or_else(|| PostgresError::Corrupt(format!("settings: partition span {span:?}")))
}
