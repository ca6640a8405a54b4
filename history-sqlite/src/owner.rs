//! Owners: each open store registers in the `owners` table and keeps a heartbeat there, so
//! other processes can tell its unfinished events from those of a writer that died (see
//! `recovery.rs`).

use rusqlite::{params, Connection};

use crate::codec::micros;
use crate::connections::Connections;
use crate::SqliteError;

/// This machine's name, as recorded with each owner.
pub(crate) fn host() -> String {
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
pub(crate) fn process_gone(pid: i64) -> bool {
    if cfg!(target_os = "linux") {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        false
    }
}

/// Writes this store's owner row, opened and last seen at `now`.
fn insert_row(conn: &Connection, owner: &[u8; 16], now: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT OR REPLACE INTO owners (id, pid, host, opened_at, heartbeat_at) \
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![&owner[..], i64::from(std::process::id()), host(), now],
    )
}

/// Records this store as a live owner.
pub(crate) fn register(conns: &Connections) -> Result<(), SqliteError> {
    let now = micros(history::now());
    conns.write(|conn| {
        insert_row(conn, &conns.owner, now)?;
        Ok(())
    })
}

/// Removes this store's owner row: a clean close. Its unfinished events, if any, are then
/// recoverable at once.
pub(crate) fn unregister(conns: &Connections) {
    let _ = conns.write(|conn| {
        conn.execute("DELETE FROM owners WHERE id = ?1", [&conns.owner[..]])?;
        Ok(())
    });
}

/// Refreshes this store's heartbeat (registering again if another process took it for dead).
pub(crate) fn beat(conns: &Connections) -> Result<(), SqliteError> {
    let now = micros(history::now());
    conns.write(|conn| {
        let n = conn.execute(
            "UPDATE owners SET heartbeat_at = ?2 WHERE id = ?1",
            params![&conns.owner[..], now],
        )?;
        if n == 0 {
            // Another process took us for dead (we were stalled): register again.
            insert_row(conn, &conns.owner, now)?;
        }
        Ok(())
    })
}
