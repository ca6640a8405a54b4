//! Hourly rollups for long-range statistics, kept by the server in every write's own
//! transaction: per (hour, event type, status, duration bucket) the number of events, the
//! sum of their durations and the exact minimum and maximum. The buckets are the layout of
//! [`history::stats::histogram`], the one every store shares, so this store and SQLite
//! answer alike: counts, rates, averages, minimum and maximum exact, percentiles within
//! about 4.5%.
//!
//! Statement-level triggers with transition tables keep the cells: the writer's upsert (its
//! inserted rows, and the old and new versions of the rows it replaced), recovery's marking
//! of interrupted events and retention's deletes each change them set-wise, once per
//! statement. Only rows whose type, status or duration changed move between cells. When a
//! removed duration was a cell's minimum or maximum, that cell's extremes are read again
//! from its events (one hour of one type and status). Dropping a partition removes the
//! cells of its hours (partitions span whole hours), and `TRUNCATE` empties the rollups.
//! Everything that changes events also takes the change-feed lock, so cells are never
//! changed by two transactions at once.

/// The cells of the rows `$src` selects (`started_at, event_type, status, duration_us`):
/// a `SELECT` of the rollup columns, one row per cell.
macro_rules! cells {
    ($src:literal) => {
        concat!(
            "SELECT date_trunc('hour', r.started_at, 'UTC'), r.event_type, r.status, \
             {s}.duration_bucket(r.duration_us), count(*), \
             coalesce(sum(r.duration_us), 0)::bigint, min(r.duration_us), max(r.duration_us) \
             FROM (",
            $src,
            ") r GROUP BY 1, 2, 3, 4"
        )
    };
}

/// Adds the rows `$src` selects to their cells.
macro_rules! add {
    ($src:literal) => {
        concat!(
            "    INSERT INTO {s}.stats_hourly AS h \
             (hour, event_type, status, bucket, events, sum_us, min_us, max_us) ",
            cells!($src),
            " ON CONFLICT (hour, event_type, status, bucket) DO UPDATE SET \
             events = h.events + excluded.events, sum_us = h.sum_us + excluded.sum_us, \
             min_us = least(h.min_us, excluded.min_us), \
             max_us = greatest(h.max_us, excluded.max_us);\n"
        )
    };
}

/// Takes the rows `$src` selects out of their cells: counts and sums down, emptied cells
/// deleted, and the extremes of a cell that lost its minimum or maximum read again.
macro_rules! remove {
    ($src:literal) => {
        concat!(
            "    WITH g (hour, event_type, status, bucket, n, total, lo, hi) AS (",
            cells!($src),
            ") UPDATE {s}.stats_hourly h SET events = h.events - g.n, \
             sum_us = h.sum_us - g.total, \
             min_us = CASE WHEN g.lo <= h.min_us THEN NULL ELSE h.min_us END, \
             max_us = CASE WHEN g.hi >= h.max_us THEN NULL ELSE h.max_us END \
             FROM g WHERE (h.hour, h.event_type, h.status, h.bucket) \
             = (g.hour, g.event_type, g.status, g.bucket);\n",
            "    WITH g (hour, event_type, status, bucket, n, total, lo, hi) AS (",
            cells!($src),
            ") DELETE FROM {s}.stats_hourly h USING g WHERE h.events <= 0 \
             AND (h.hour, h.event_type, h.status, h.bucket) \
             = (g.hour, g.event_type, g.status, g.bucket);\n",
            "    WITH g (hour, event_type, status, bucket, n, total, lo, hi) AS (",
            cells!($src),
            "), m AS (SELECT h.hour, h.event_type, h.status, h.bucket \
             FROM {s}.stats_hourly h JOIN g ON (h.hour, h.event_type, h.status, h.bucket) \
             = (g.hour, g.event_type, g.status, g.bucket) \
             WHERE h.bucket >= 0 AND (h.min_us IS NULL OR h.max_us IS NULL)) \
             UPDATE {s}.stats_hourly h SET min_us = x.lo, max_us = x.hi \
             FROM m CROSS JOIN LATERAL (SELECT min(e.duration_us) AS lo, \
             max(e.duration_us) AS hi FROM {s}.events e WHERE e.event_type = m.event_type \
             AND e.status = m.status AND e.started_at >= m.hour \
             AND e.started_at < m.hour + interval '1 hour' \
             AND {s}.duration_bucket(e.duration_us) = m.bucket) x \
             WHERE (h.hour, h.event_type, h.status, h.bucket) \
             = (m.hour, m.event_type, m.status, m.bucket);\n"
        )
    };
}

/// The migration that adds the rollups; `{s}` stands for the schema and
/// `{bucket_thresholds}` for [`history::stats::histogram::bucket_thresholds`].
pub(crate) const MIGRATION: &str = concat!(
    r#"
CREATE FUNCTION {s}.duration_bucket(us bigint) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN us IS NULL THEN -1
                      ELSE width_bucket(us, ARRAY[{bucket_thresholds}]::bigint[]) END $$;
CREATE TABLE {s}.stats_hourly (
    hour       timestamptz NOT NULL,
    event_type text        NOT NULL,
    status     text        NOT NULL,
    bucket     integer     NOT NULL,
    events     bigint      NOT NULL,
    sum_us     bigint      NOT NULL,
    min_us     bigint,
    max_us     bigint,
    PRIMARY KEY (hour, event_type, status, bucket)
);
COMMENT ON TABLE {s}.stats_hourly IS
    'Hourly rollups of events for long-range statistics; bucket -1 holds events without a duration';
INSERT INTO {s}.stats_hourly (hour, event_type, status, bucket, events, sum_us, min_us, max_us)
"#,
    cells!("SELECT started_at, event_type, status, duration_us FROM {s}.events"),
    r#";
CREATE FUNCTION {s}.rollup_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
"#,
    add!("SELECT started_at, event_type, status, duration_us FROM new_rows"),
    r#"
    RETURN NULL;
END $$;
CREATE FUNCTION {s}.rollup_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
"#,
    remove!("SELECT started_at, event_type, status, duration_us FROM old_rows"),
    r#"
    RETURN NULL;
END $$;
CREATE FUNCTION {s}.rollup_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM old_rows) THEN
        RETURN NULL;
    END IF;
"#,
    remove!(
        "SELECT o.started_at, o.event_type, o.status, o.duration_us FROM old_rows o \
         LEFT JOIN new_rows n ON n.id = o.id AND n.started_at = o.started_at \
         WHERE n.id IS NULL OR n.event_type <> o.event_type OR n.status <> o.status \
         OR n.duration_us IS DISTINCT FROM o.duration_us"
    ),
    add!(
        "SELECT n.started_at, n.event_type, n.status, n.duration_us FROM new_rows n \
         LEFT JOIN old_rows o ON o.id = n.id AND o.started_at = n.started_at \
         WHERE o.id IS NULL OR n.event_type <> o.event_type OR n.status <> o.status \
         OR n.duration_us IS DISTINCT FROM o.duration_us"
    ),
    r#"
    RETURN NULL;
END $$;
CREATE FUNCTION {s}.rollup_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM {s}.stats_hourly;
    RETURN NULL;
END $$;
CREATE TRIGGER rollup_inserted AFTER INSERT ON {s}.events
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {s}.rollup_inserted();
CREATE TRIGGER rollup_updated AFTER UPDATE ON {s}.events
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.rollup_updated();
CREATE TRIGGER rollup_deleted AFTER DELETE ON {s}.events
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {s}.rollup_deleted();
CREATE TRIGGER rollup_truncated AFTER TRUNCATE ON {s}.events
    FOR EACH STATEMENT EXECUTE FUNCTION {s}.rollup_truncated();
"#
);

/// The thresholds of the histogram's buckets as an SQL list (`1, 2, 2, …`).
pub(crate) fn thresholds_sql() -> String {
    history::stats::histogram::bucket_thresholds()
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Recomputes every cell from the events (the caller holds the change-feed lock).
pub(crate) const REBUILD: &str = concat!(
    "DELETE FROM {s}.stats_hourly; \
     INSERT INTO {s}.stats_hourly (hour, event_type, status, bucket, events, sum_us, min_us, max_us) ",
    cells!("SELECT started_at, event_type, status, duration_us FROM {s}.events")
);
