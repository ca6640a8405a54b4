//! Crash recovery: each open store registers as an owner and keeps a heartbeat; unfinished
//! events carry their writer's owner id. Events whose owner is dead are marked interrupted.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::{params, TransactionBehavior};

use crate::codec::micros;
use crate::rollup::Deltas;
use crate::store::Inner;
use crate::SqliteError;

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether process `pid` on this host is gone. Only known on Linux; elsewhere the heartbeat
/// decides.
fn process_gone(pid: i64) -> bool {
    if cfg!(target_os = "linux") {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        false
    }
}

/// Records this store as a live owner.
pub(crate) fn register(inner: &Inner) -> Result<(), SqliteError> {
    let now = micros(history::now());
    inner.write(|conn| {
        conn.execute(
            "INSERT OR REPLACE INTO owners (id, pid, host, opened_at, heartbeat_at) \
             VALUES (?1, ?2, ?3, ?4, ?4)",
            params![&inner.owner[..], i64::from(std::process::id()), host(), now],
        )?;
        Ok(())
    })
}

/// Removes this store's owner row: a clean close. Its unfinished events, if any, are then
/// recoverable at once.
pub(crate) fn unregister(inner: &Inner) {
    let _ = inner.write(|conn| {
        conn.execute("DELETE FROM owners WHERE id = ?1", [&inner.owner[..]])?;
        Ok(())
    });
}

/// How often the background thread checkpoints the WAL while writes happen.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Starts the thread that refreshes this store's heartbeat and, on its own connection,
/// checkpoints the WAL after writes (a passive checkpoint never blocks the writer); it stops
/// when the sender drops.
pub(crate) fn start_heartbeat(
    inner: &Arc<Inner>,
) -> Result<(mpsc::Sender<()>, JoinHandle<()>), SqliteError> {
    let (stop, stopped) = mpsc::channel::<()>();
    let weak = Arc::downgrade(inner);
    let every = inner.options.heartbeat;
    let tick = every.min(CHECKPOINT_EVERY);
    let checkpointer = crate::schema::open_checkpoint_connection(
        &inner.path,
        std::time::Duration::from_millis(100),
    )?;
    let handle = std::thread::Builder::new()
        .name("history-sqlite-heartbeat".into())
        .spawn(move || {
            let mut last_beat = std::time::Instant::now();
            let mut seen_writes = 0;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                let Some(inner) = weak.upgrade() else { return };
                let writes = inner.writes.load(std::sync::atomic::Ordering::Relaxed);
                if writes != seen_writes {
                    seen_writes = writes;
                    // Busy (another checkpoint running) is fine: the next tick retries.
                    let _ = checkpointer.execute_batch("PRAGMA wal_checkpoint(PASSIVE)");
                }
                if last_beat.elapsed() >= every {
                    last_beat = std::time::Instant::now();
                    // A busy database only delays the heartbeat; the next one retries.
                    let _ = beat(&inner);
                }
            }
        })
        .map_err(|e| SqliteError::CannotOpen {
            path: inner.path.clone(),
            source: e,
        })?;
    Ok((stop, handle))
}

fn beat(inner: &Inner) -> Result<(), SqliteError> {
    let now = micros(history::now());
    inner.write(|conn| {
        let n = conn.execute(
            "UPDATE owners SET heartbeat_at = ?2 WHERE id = ?1",
            params![&inner.owner[..], now],
        )?;
        if n == 0 {
            // Another process took us for dead (we were stalled): register again.
            conn.execute(
                "INSERT OR REPLACE INTO owners (id, pid, host, opened_at, heartbeat_at) \
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![&inner.owner[..], i64::from(std::process::id()), host(), now],
            )?;
        }
        Ok(())
    })
}

/// Marks the unfinished events of dead owners interrupted, in one write transaction (so an
/// owner registering meanwhile is seen).
pub(crate) fn recover(inner: &Inner) -> Result<u64, SqliteError> {
    let now = micros(history::now());
    let stale_us = i64::try_from(inner.options.stale_after.as_micros()).unwrap_or(i64::MAX);
    let this_host = host();
    inner.write(|conn| {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let owners: Vec<(Vec<u8>, i64, String, i64)> = {
            let mut stmt = tx.prepare("SELECT id, pid, host, heartbeat_at FROM owners")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (id, pid, host, heartbeat_at) in owners {
            if id[..] == inner.owner[..] {
                continue;
            }
            let stale = heartbeat_at < now.saturating_sub(stale_us);
            let gone = host == this_host && process_gone(pid);
            if stale || gone {
                tx.execute("DELETE FROM owners WHERE id = ?1", [&id])?;
            }
        }
        // Each row's old status leaves the rollups, `interrupted` enters them.
        let mut deltas = Deltas::default();
        let mut n = 0u64;
        {
            let mut stmt = tx.prepare(
                "SELECT started_at, event_type, status, duration_us FROM events \
                 WHERE status IN ('pending', 'in_progress') \
                   AND (owner IS NULL OR owner NOT IN (SELECT id FROM owners))",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(r) = rows.next()? {
                let (t, ty, st, d): (i64, String, String, Option<i64>) =
                    (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                deltas.remove(t, &ty, &st, d);
                deltas.add(t, &ty, "interrupted", d);
                n += 1;
            }
        }
        let changed = tx.execute(
            "UPDATE events SET status = 'interrupted', owner = NULL, \
             error = coalesce(error, json_object('message', \
               'the process recording this event ended before the event finished', \
               'kind', 'interrupted')) \
             WHERE status IN ('pending', 'in_progress') \
               AND (owner IS NULL OR owner NOT IN (SELECT id FROM owners))",
            [],
        )?;
        debug_assert_eq!(changed as u64, n);
        deltas.apply(&tx)?;
        tx.commit()?;
        Ok(n)
    })
}
