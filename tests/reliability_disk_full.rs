//! A full disk under the database, with room for the spill file: a group of staged batches
//! whose commit fails is written again, retried and spilled like any refused batch, never
//! counted as lost, and replayed once space returns.
//!
//! Uses a real full filesystem: a size-limited tmpfs mounted for the test (needs root, as on
//! the project's machines and CI). Where mounting is refused, the test says why and stops.

mod write_support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use history::{Json, Recorder};
use history_sqlite::SqliteStore;
use write_support::event;

/// A tmpfs of `size` mounted at a fresh directory; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
        }
        Ok(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Fills the filesystem holding `path` with one file there; returns it.
fn fill(dir: &Path) -> PathBuf {
    let ballast = dir.join("ballast");
    let mut file = std::fs::File::create(&ballast).unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    loop {
        if file.write_all(&chunk).is_err() {
            break;
        }
    }
    // The last partial pages too.
    while file.write_all(&[0x5a]).is_ok() {}
    let _ = file.sync_all();
    ballast
}

fn padded(n: u64) -> history::Event {
    let mut e = event(n);
    e.parameters = Json::from(serde_json::json!({ "n": n, "pad": "p".repeat(1_000) }));
    e
}

#[test]
fn a_group_commit_that_fails_on_a_full_disk_loses_nothing() {
    let fs = match Tmpfs::mount("16m") {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("SKIPPED: cannot mount a tmpfs for the full-disk test: {why}");
            return;
        }
    };
    let spill_dir = tempfile::tempdir().unwrap();
    let db = fs.path().join("history.db");
    let store = SqliteStore::open(&db).unwrap();
    let recorder = Recorder::builder()
        .batch_size(64)
        .capacity(1_024)
        .group_commit(4_096, Duration::from_secs(5))
        .max_retries(2)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(20))
        .spill_path(spill_dir.path().join("history.db-spill"))
        .build(store)
        .unwrap();
    for n in 0..50 {
        recorder.record(padded(n)).unwrap();
    }
    recorder.flush().unwrap();

    let ballast = fill(fs.path());
    let total = 3_000u64;
    for n in 50..total {
        recorder.record(padded(n)).unwrap();
    }
    let flushed = recorder.flush();
    let stats = recorder.stats();
    assert!(flushed.is_ok(), "flush on a full disk: {flushed:?}");
    assert_eq!(stats.lost, 0, "{stats:?}");
    assert!(
        stats.spilled > 0,
        "the disk was full, yet nothing was spilled: {stats:?}"
    );

    std::fs::remove_file(&ballast).unwrap();
    for _ in 0..600 {
        recorder.flush().unwrap();
        if recorder.stats().spill_pending == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = recorder.stats();
    assert_eq!(stats.spill_pending, 0, "{stats:?}");
    assert_eq!(stats.lost, 0, "{stats:?}");
    recorder.shutdown().unwrap();

    let conn = rusqlite::Connection::open(&db).unwrap();
    let (rows, ids): (i64, i64) = conn
        .query_row("SELECT count(*), count(DISTINCT id) FROM events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((rows, ids), (total as i64, total as i64));
    let users: i64 = conn
        .query_row("SELECT count(DISTINCT user_id) FROM events", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(users, total as i64, "every event, once");
}
