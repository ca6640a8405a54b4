//! Writers across hosts: each open store registers a writer row and refreshes its heartbeat
//! (by the server's clock, so hosts' clocks need not agree). The unfinished events of a
//! writer whose heartbeat stopped are marked `interrupted` by whichever store notices first,
//! exactly once: the dead writer's row is deleted in the same transaction, and only the
//! transaction that deleted it marks its events.

use postgres::Client;
use uuid::Uuid;

use crate::names::{lock_key, Names};
use crate::PostgresError;

/// What this store registers as.
#[derive(Clone, Debug)]
pub(crate) struct Registration {
    pub id: Uuid,
    pub host: String,
    pub service: Option<String>,
}

/// Registers (again, after being taken for dead) and refreshes the heartbeat.
pub(crate) fn beat(
    client: &mut Client,
    names: &Names,
    me: &Registration,
) -> Result<(), PostgresError> {
    let n = client.execute(
        &names.sql("UPDATE {s}.writers SET heartbeat_at = now() WHERE id = $1"),
        &[&me.id],
    )?;
    if n == 0 {
        client.execute(
            &names.sql(
                "INSERT INTO {s}.writers (id, host, pid, service) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()",
            ),
            &[&me.id, &me.host, &(std::process::id() as i32), &me.service],
        )?;
    }
    Ok(())
}

/// Removes this store's registration (a clean close: its unfinished events, if any, become
/// orphans that the next recovery marks).
pub(crate) fn unregister(
    client: &mut Client,
    names: &Names,
    me: &Registration,
) -> Result<(), PostgresError> {
    client.execute(
        &names.sql("DELETE FROM {s}.writers WHERE id = $1"),
        &[&me.id],
    )?;
    Ok(())
}

/// Marks the unfinished events of writers whose heartbeat is older than `stale_secs` — and
/// of writers no longer registered at all — `interrupted`, with an error saying so. Returns
/// how many. Each change takes a new place in the change feed, in commit order.
pub(crate) fn recover(
    client: &mut Client,
    names: &Names,
    me: &Registration,
    stale_secs: f64,
) -> Result<u64, PostgresError> {
    let mut tx = client.transaction()?;
    // Only the store that deletes a dead writer's row marks its events: a second store
    // noticing at the same time waits for the row lock, then finds it gone.
    let dead: Vec<Uuid> = tx
        .query(
            &names.sql(
                "DELETE FROM {s}.writers WHERE id <> $1 \
                 AND heartbeat_at < now() - make_interval(secs => $2) RETURNING id",
            ),
            &[&me.id, &stale_secs],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Orphans of writers that are not registered (removed above, closed, or never seen):
    // looked up through the partial index of unfinished events.
    let orphans: i64 = tx
        .query_one(
            &names.sql(
                "SELECT count(*) FROM {s}.events WHERE status = 'in_progress' \
                 AND (writer IS NULL OR writer NOT IN (SELECT id FROM {s}.writers))",
            ),
            &[],
        )?
        .get(0);
    if orphans == 0 {
        tx.commit()?;
        return Ok(0);
    }
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&lock_key("changes", &names.schema)],
    )?;
    let n = tx.execute(
        &names.sql(
            "UPDATE {s}.events SET status = 'interrupted', writer = NULL, \
             change_seq = nextval('{s}.changes'), \
             error = coalesce(error, jsonb_build_object('message', \
               'the process recording this event ended before the event finished', \
               'kind', 'interrupted')) \
             WHERE status = 'in_progress' \
             AND (writer IS NULL OR writer NOT IN (SELECT id FROM {s}.writers))",
        ),
        &[],
    )?;
    if n > 0 {
        tx.batch_execute(&format!("NOTIFY \"{}\"", names.channel))?;
    }
    tx.commit()?;
    if n > 0 {
        tracing::warn!(
            events = n,
            writers = dead.len(),
            "history-postgres: marked events of writers that stopped as interrupted"
        );
    }
    Ok(n)
}
