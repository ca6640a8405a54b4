//! The files a SQLite store writes: private whatever the umask, tightened when found loose, a
//! read-only database refused with its name and the cause, and a path that looks like a
//! SQLite URI opened as the file it spells.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use history::{Event, EventType, HistoryStore, Query};
use history_sqlite::SqliteStore;

const CHILD: &str = env!("CARGO_BIN_EXE_history_test_child");

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[test]
fn the_database_and_its_wal_and_shm_are_private_under_umask_000() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    // umask is per process: a child that records with umask 000 and keeps the store open.
    let mut child = Command::new("sh")
        .args(["-c", "umask 000 && exec \"$@\"", "sh", CHILD, "crash"])
        .arg(&db)
        .arg("1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let acked = lines.any(|l| l.is_ok_and(|l| l.starts_with("ACK")));
    let modes = [
        ("database", mode(&db)),
        ("-wal", mode(&beside(&db, "-wal"))),
        ("-shm", mode(&beside(&db, "-shm"))),
    ];
    let _ = child.kill();
    let _ = child.wait();
    assert!(acked, "the child recorded nothing");
    for (file, m) in modes {
        assert_eq!(m, 0o600, "{file} has mode {m:o}");
    }
}

/// Log lines, captured.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_looser_database_is_tightened_at_open_and_that_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let e = Event::new(EventType::VmStart, "vm::start");
    SqliteStore::open(&db)
        .unwrap()
        .write_batch(std::slice::from_ref(&e))
        .unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();

    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let store = tracing::subscriber::with_default(subscriber, || SqliteStore::open(&db)).unwrap();
    store.write_batch(std::slice::from_ref(&e)).unwrap();
    assert_eq!(mode(&db), 0o600);
    assert_eq!(mode(&beside(&db, "-wal")), 0o600);
    assert_eq!(mode(&beside(&db, "-shm")), 0o600);
    assert_eq!(store.get(e.id).unwrap(), Some(e));
    let logged = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("WARN") && logged.contains(&db.display().to_string()),
        "{logged}"
    );
    assert!(logged.contains("644") && logged.contains("600"), "{logged}");
}

#[test]
fn a_path_that_looks_like_a_sqlite_uri_is_the_file_it_spells() {
    let dir = tempfile::tempdir().unwrap();
    let name = "file:h.db?mode=memory";
    // Relative, so that SQLite would read it as a URI; the child runs in `dir`.
    let out = Command::new(CHILD)
        .args(["load", name, "7", "10"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let store = SqliteStore::open(dir.path().join(name)).unwrap();
    assert_eq!(
        store.count(&Query::new().organization_id(7)).unwrap(),
        10,
        "what the child flushed is in the file it named"
    );
    assert!(!dir.path().join("h.db").exists());
}

/// A tmpfs mounted at a fresh directory (needs root, as on the project's machines and CI);
/// unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount() -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(dir.path())
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Tmpfs { dir })
    }

    fn read_only(&self) -> Result<(), String> {
        let out = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(self.dir.path())
            .output()
            .map_err(|e| format!("running mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_read_only_database_is_refused_naming_the_file_and_the_cause() {
    let fs = match Tmpfs::mount() {
        Ok(fs) => fs,
        Err(why) => {
            eprintln!("SKIPPED: cannot mount a tmpfs for the read-only test: {why}");
            return;
        }
    };
    let db = fs.dir.path().join("h.db");
    SqliteStore::open(&db)
        .unwrap()
        .write_batch(&[Event::new(EventType::VmStart, "vm::start")])
        .unwrap();
    fs.read_only().unwrap();
    let err = SqliteStore::open(&db).unwrap_err();
    let chain = history::ErrorInfo::from_error(&err).chain();
    assert!(chain.contains(&db.display().to_string()), "{chain}");
    assert!(chain.contains("read-only"), "{chain}");
}
