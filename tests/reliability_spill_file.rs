//! The spill file's guarantees: private whatever the umask, refused when another user owns
//! it, frames authenticated by the file's own key (a forged or damaged frame is skipped and
//! counted, never replayed, and the intact frames after it are), damaged files kept aside,
//! a torn last frame silent, files of the first format still replayed.
//!
//! The tests read and damage the file through its documented layout: a 24-byte header, then
//! frames of a 24-byte header (marker, payload length u32 LE at +8, event count u32 LE at
//! +12, tag) and the payload.

mod common;
mod write_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use history::{Error, Recorder};
use write_support::{event, user_numbers, TestStore};

const FILE_HEADER: usize = 24;
const FRAME_HEADER: usize = 24;

fn builder() -> history::RecorderBuilder {
    Recorder::builder()
        .max_retries(0)
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(5))
}

/// Spills one frame per entry of `sizes` (events numbered from 0 on) through a recorder whose
/// store keeps failing, and leaves the file behind as a crashed recorder would.
fn spill_frames(path: &Path, sizes: &[u64]) {
    let store = TestStore::new();
    store.failing.store(true, Ordering::SeqCst);
    // Only `flush` ends a batch: a writer taking part of a group early (a busy machine) would
    // spill it as two frames and the tests' layout would not hold.
    let recorder = builder()
        .flush_interval(Duration::from_secs(3600))
        .spill_path(path)
        .build(store.clone())
        .unwrap();
    let mut n = 0;
    for size in sizes {
        for _ in 0..*size {
            recorder.record(event(n)).unwrap();
            n += 1;
        }
        recorder.flush().unwrap();
    }
    let stats = recorder.stats();
    assert_eq!(stats.spilled, n, "{stats:?}");
    let _ = recorder.shutdown();
    assert!(path.exists());
    assert_eq!(frames(path).len(), sizes.len(), "one frame per flush");
}

/// Where each frame of the file at `path` starts and ends.
fn frames(path: &Path) -> Vec<(usize, usize)> {
    let bytes = std::fs::read(path).unwrap();
    let mut at = FILE_HEADER;
    let mut out = Vec::new();
    while at + FRAME_HEADER <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        out.push((at, at + FRAME_HEADER + len));
        at += FRAME_HEADER + len;
    }
    out
}

/// A recorder over a healthy store that adopts the spill file at `path`, flushed once.
fn replay(path: &Path) -> (Recorder, Arc<TestStore>, Result<(), Error>) {
    let store = TestStore::new();
    let recorder = builder().spill_path(path).build(store.clone()).unwrap();
    let flushed = recorder.flush();
    (recorder, store, flushed)
}

fn corrupt_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".corrupt-"))
        .collect();
    v.sort();
    v
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().mode() & 0o777
}

#[test]
fn a_damaged_frame_in_the_middle_loses_only_its_own_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db-spill");
    spill_frames(&path, &[3, 4, 5]);
    let f = frames(&path);
    assert_eq!(f.len(), 3, "{f:?}");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = (f[1].0 + FRAME_HEADER + f[1].1) / 2;
    bytes[middle] ^= 0x20;
    bytes[middle + 1] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let (recorder, store, flushed) = replay(&path);
    match flushed {
        Err(Error::Lost { count: 4, .. }) => {}
        other => panic!("expected 4 events reported lost, got {other:?}"),
    }
    let stats = recorder.stats();
    assert_eq!((stats.lost, stats.replayed), (4, 8), "{stats:?}");
    let mut want: Vec<u64> = (0..3).chain(7..12).collect();
    want.sort();
    assert_eq!(user_numbers(&store.inner.all()), want);
    let aside = corrupt_files(dir.path());
    assert_eq!(aside.len(), 1, "the damaged file is kept aside");
    assert_eq!(mode(&aside[0]), 0o600);
    assert_eq!(std::fs::read(&aside[0]).unwrap(), bytes, "kept as it was");
    // The next spill goes to a fresh file; nothing is replayed twice.
    recorder.flush().unwrap();
    assert_eq!(store.len(), 8);
}

#[test]
fn a_forged_frame_appended_by_someone_else_is_rejected_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db-spill");
    spill_frames(&path, &[2]);
    // A well-formed frame with the right marker, a valid payload and a guessed tag.
    let forged = vec![event(999)];
    let payload = serde_json::to_vec(&forged).unwrap();
    let mut frame = std::fs::read(&path).unwrap()[FILE_HEADER..FILE_HEADER + 8].to_vec();
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&1u32.to_le_bytes());
    frame.extend_from_slice(&0x0123_4567_89ab_cdefu64.to_le_bytes());
    frame.extend_from_slice(&payload);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(&frame);
    std::fs::write(&path, &bytes).unwrap();

    let (recorder, store, flushed) = replay(&path);
    assert!(
        matches!(flushed, Err(Error::Lost { count: 1, .. })),
        "{flushed:?}"
    );
    assert_eq!(
        user_numbers(&store.inner.all()),
        vec![0, 1],
        "never replayed"
    );
    assert_eq!(recorder.stats().lost, 1);
    assert_eq!(corrupt_files(dir.path()).len(), 1);
}

#[test]
fn a_torn_last_frame_is_silent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db-spill");
    spill_frames(&path, &[2, 3]);
    let f = frames(&path);
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len((f[1].1 - 7) as u64).unwrap();
    drop(file);

    let (recorder, store, flushed) = replay(&path);
    assert!(flushed.is_ok(), "{flushed:?}");
    assert_eq!(user_numbers(&store.inner.all()), vec![0, 1]);
    assert_eq!(recorder.stats().lost, 0);
    assert!(corrupt_files(dir.path()).is_empty());
}

/// A lock held for a moment by someone else (a child process between its `fork` and its
/// `exec` holds a copy of every lock of its parent) does not make a starting recorder leave
/// the file alone: it is adopted and replayed once the lock is gone.
#[test]
fn a_spill_file_locked_for_a_moment_is_still_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db-spill");
    spill_frames(&path, &[2]);
    let holder = std::fs::File::open(&path).unwrap();
    holder.lock().unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        drop(holder);
    });
    let (recorder, store, flushed) = replay(&path);
    release.join().unwrap();
    assert!(flushed.is_ok(), "{flushed:?}");
    assert_eq!(user_numbers(&store.inner.all()), vec![0, 1]);
    assert_eq!(recorder.stats().replayed, 2);
}

#[test]
fn a_spill_file_of_the_first_format_is_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db-spill");
    let mut bytes = Vec::new();
    for batch in [vec![event(0), event(1)], vec![event(2)]] {
        let payload = serde_json::to_vec(&batch).unwrap();
        let count = batch.len() as u32;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&count.to_le_bytes());
        crc.update(&payload);
        bytes.extend_from_slice(b"HSP1");
        bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.extend_from_slice(&crc.finalize().to_le_bytes());
        bytes.extend_from_slice(&payload);
    }
    std::fs::write(&path, &bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();

    let (recorder, store, flushed) = replay(&path);
    assert!(flushed.is_ok(), "{flushed:?}");
    assert_eq!(user_numbers(&store.inner.all()), vec![0, 1, 2]);
    assert_eq!(recorder.stats().replayed, 3);
    assert!(!path.exists(), "replayed and removed");
}

#[test]
fn a_spill_file_owned_by_another_user_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db-spill");
    spill_frames(&path, &[2]);
    std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
    let refused = builder().spill_path(&path).build(TestStore::new());
    let message = match refused {
        Ok(_) => panic!("a spill file of uid 65534 was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(message.contains("history.db-spill"), "{message}");
    assert!(message.contains("65534"), "{message}");
}

#[test]
fn a_looser_spill_file_is_made_private_and_that_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db-spill");
    spill_frames(&path, &[2]);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let logs = common::Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let store = TestStore::new();
    store.failing.store(true, Ordering::SeqCst);
    let recorder = tracing::subscriber::with_default(subscriber, || {
        builder().spill_path(&path).build(store.clone()).unwrap()
    });
    assert_eq!(mode(&path), 0o600);
    assert!(logs.text().contains("made it private"), "{}", logs.text());
    drop(recorder);
}

/// Run in a child process with umask 000 (see the test below).
fn spill_under_open_umask(dir: &Path) {
    let path = dir.join("history.db-spill");
    spill_frames(&path, &[1]);
    assert_eq!(mode(&path), 0o600, "created under umask 000");
}

#[test]
fn the_spill_file_is_private_whatever_the_umask() {
    if let Ok(dir) = std::env::var("HISTORY_TEST_UMASK_CHILD") {
        spill_under_open_umask(Path::new(&dir));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && exec \"$0\" \"$@\"")
        .arg(&exe)
        .args([
            "--exact",
            "the_spill_file_is_private_whatever_the_umask",
            "--nocapture",
        ])
        .env("HISTORY_TEST_UMASK_CHILD", dir.path())
        .status()
        .unwrap();
    assert!(status.success(), "the child run failed: {status}");
    // The child really ran: its spill file is there, private.
    let path = dir.path().join("history.db-spill");
    assert_eq!(mode(&path), 0o600);
    // And a file created by this process under umask 000 would not have been.
    let probe = dir.path().join("probe");
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 000 && touch \"$0\" && stat -c %a \"$0\"")
        .arg(&probe)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "666");
}
