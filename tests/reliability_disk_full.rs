//! A full disk under the database, with room for the spill file: a group of staged batches
//! whose commit fails is written again, retried and spilled like any refused batch, never
//! counted as lost, and replayed once space returns.
//!
//! Uses a real full filesystem: a size-limited tmpfs mounted for the test (needs root, as on
//! the project's machines and CI). Where mounting is refused, the test says why and runs the
//! same scenario in a child process under a file size limit (`RLIMIT_FSIZE`) instead.

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

/// Set in the child process that runs the scenario under a file size limit.
const FSIZE_CHILD: &str = "HISTORY_TEST_FSIZE_CHILD";

#[test]
fn a_group_commit_that_fails_on_a_full_disk_loses_nothing() {
    if std::env::var_os(FSIZE_CHILD).is_some() {
        return under_a_file_size_limit();
    }
    let mounted = match std::env::var_os("HISTORY_TEST_NO_MOUNT") {
        Some(_) => Err("HISTORY_TEST_NO_MOUNT is set".to_owned()),
        None => Tmpfs::mount("16m"),
    };
    let fs = match mounted {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!(
                "cannot mount a tmpfs for the full-disk test ({why}): running it under \
                 RLIMIT_FSIZE in a child process instead"
            );
            let exe = std::env::current_exe().unwrap();
            let status = Command::new("sh")
                .arg("-c")
                // Writes past the limit then fail with EFBIG instead of killing the process.
                .arg("trap '' XFSZ && exec \"$0\" \"$@\"")
                .arg(&exe)
                .args([
                    "--exact",
                    "a_group_commit_that_fails_on_a_full_disk_loses_nothing",
                    "--nocapture",
                ])
                .env(FSIZE_CHILD, "1")
                .status()
                .unwrap();
            assert!(status.success(), "the child run failed: {status}");
            return;
        }
    };
    let db_dir = fs.path().to_owned();
    scenario(
        &db_dir,
        3_000,
        &mut || {
            fill(&db_dir);
        },
        &mut || std::fs::remove_file(db_dir.join("ballast")).unwrap(),
    );
}

/// The same scenario where no tmpfs can be mounted: every file of this process may grow only
/// so far, which the database's log reaches while the spill file (which starts empty) does not.
fn under_a_file_size_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().to_owned();
    let original = getrlimit(Resource::Fsize);
    let largest = || {
        std::fs::read_dir(&db_dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .max()
            .unwrap_or(0)
    };
    scenario(
        &db_dir,
        1_500,
        &mut || {
            let limit = largest() + (1 << 20);
            setrlimit(
                Resource::Fsize,
                Rlimit {
                    current: Some(limit),
                    maximum: original.maximum,
                },
            )
            .unwrap();
        },
        &mut || setrlimit(Resource::Fsize, original).unwrap(),
    );
}

fn scenario(db_dir: &Path, total: u64, make_full: &mut dyn FnMut(), make_room: &mut dyn FnMut()) {
    let spill_dir = tempfile::tempdir().unwrap();
    let db = db_dir.join("history.db");
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

    make_full();
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

    make_room();
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
