//! Shared helpers of the executor tests: a recorder over a real SQLite file whose bytes can be
//! scanned, a store that logs every write, the real Terraform and its stand-in, the pinned
//! Ansible, and process checks.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use history::{
    Event, EventId, EventStatus, HistoryStore, MemoryStore, Page, Query, Recorder, StoreError,
    TerraformStatus,
};
use history_sqlite::SqliteStore;
use parking_lot::Mutex;

mod terraform;
#[allow(unused_imports)] // not every test file runs the real Terraform
pub(crate) use terraform::{real_terraform, RealTerraform, TfDir};

/// This crate's directory.
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace's directory (its scripts/).
pub(crate) fn workspace() -> PathBuf {
    root().join("..")
}

/// The stand-in `terraform` (tests/fixtures/terraform/terraform).
pub(crate) fn standin() -> PathBuf {
    root().join("tests/fixtures/terraform/terraform")
}

/// A directory of recorded Terraform streams.
pub(crate) fn tf_scenario(name: &str) -> PathBuf {
    root().join("tests/fixtures/terraform").join(name)
}

pub(crate) fn ansible_fixtures() -> PathBuf {
    root().join("tests/fixtures/ansible")
}

/// The directory holding the pinned `ansible-playbook`: `$HISTORY_ANSIBLE_BIN_DIR`, else what
/// scripts/install-ansible.sh prints (it installs once, then answers at once).
pub(crate) fn ansible_bin_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(find_ansible).clone()
}

fn find_ansible() -> PathBuf {
    if let Some(dir) = std::env::var_os("HISTORY_ANSIBLE_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let out = std::process::Command::new("bash")
        .arg(workspace().join("scripts/install-ansible.sh"))
        .output()
        .expect("run scripts/install-ansible.sh");
    assert!(
        out.status.success(),
        "scripts/install-ansible.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(
        stdout
            .lines()
            .last()
            .expect("the script prints the bin dir")
            .trim(),
    )
}

/// A recorder over a SQLite file in a temporary directory.
pub(crate) struct Db {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub recorder: Recorder,
}

impl Db {
    pub(crate) fn new() -> Db {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SqliteStore::open(dir.path().join("history.db")).expect("open"));
        let recorder = Recorder::builder()
            .spill_path(dir.path().join("spill"))
            .build_shared(store.clone())
            .expect("recorder");
        Db {
            dir,
            store,
            recorder,
        }
    }

    /// Flushes, then the stored event with this id.
    pub(crate) fn get(&self, id: EventId) -> Event {
        self.recorder.flush().expect("flush");
        self.store
            .get(id)
            .expect("get")
            .unwrap_or_else(|| panic!("event {id} is not stored"))
    }

    /// Flushes, then every stored event.
    pub(crate) fn all(&self) -> Vec<Event> {
        self.recorder.flush().expect("flush");
        self.store
            .query(&Query::new().limit(1_000))
            .expect("query")
            .items
    }

    /// Waits (up to 20 s) until the event is stored with a terminal status.
    pub(crate) fn wait_terminal(&self, id: EventId) -> Event {
        let start = Instant::now();
        loop {
            self.recorder.flush().expect("flush");
            if let Some(e) = self.store.get(id).expect("get") {
                if e.status.is_terminal() {
                    return e;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "event {id} never finished"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every byte of every file the store and recorder keep (database, WAL, spill).
    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.recorder.flush().expect("flush");
        let mut all = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                all.extend(std::fs::read(&path).expect("read"));
            }
        }
        all
    }

    /// Asserts `secret` is nowhere in the stored bytes.
    pub(crate) fn assert_absent(&self, secret: &str) {
        let bytes = self.bytes();
        assert!(!bytes.is_empty());
        assert!(
            !contains(&bytes, secret.as_bytes()),
            "{secret:?} was found in the database files"
        );
    }
}

pub(crate) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A store that keeps every version of every event it is given, to see the states a run
/// walked through.
#[derive(Default)]
pub(crate) struct LoggingStore {
    inner: MemoryStore,
    pub log: Mutex<Vec<(EventId, EventStatus, Option<TerraformStatus>)>>,
}

impl LoggingStore {
    pub(crate) fn walk(&self, id: EventId) -> Vec<(EventStatus, Option<TerraformStatus>)> {
        self.log
            .lock()
            .iter()
            .filter(|(i, _, _)| *i == id)
            .map(|(_, s, t)| (*s, *t))
            .collect()
    }
}

impl HistoryStore for LoggingStore {
    fn write_batch(&self, batch: &[Event]) -> Result<(), StoreError> {
        self.log
            .lock()
            .extend(batch.iter().map(|e| (e.id, e.status, e.terraform_status)));
        self.inner.write_batch(batch)
    }
    fn get(&self, id: EventId) -> Result<Option<Event>, StoreError> {
        self.inner.get(id)
    }
    fn query(&self, query: &Query) -> Result<Page<Event>, StoreError> {
        self.inner.query(query)
    }
    fn count(&self, query: &history::Filter) -> Result<u64, StoreError> {
        self.inner.count(query)
    }
}

/// Whether a process with this pid exists and is not a zombie.
pub(crate) fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat_state(&stat) != Some('Z'),
        Err(_) => false,
    }
}

/// Pids of live (non-zombie) processes in process group `pgid`.
pub(crate) fn group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return members;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the ")" that closes the command name: state, ppid, pgrp, ...
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2] == pgid.to_string() {
            members.push(pid);
        }
    }
    members
}

fn stat_state(stat: &str) -> Option<char> {
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].trim_start().chars().next())
}

/// Waits (up to 10 s) until `pid` and its process group are gone.
pub(crate) fn assert_gone(pid: u32) {
    let start = Instant::now();
    while alive(pid) || !group_members(pid).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "process {pid} or its group {:?} is still alive",
            group_members(pid)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON value of the event's execution details.
pub(crate) fn execution(e: &Event) -> serde_json::Value {
    e.execution.as_ref().expect("execution details").to_value()
}

/// The kept output lines recorded in the event, as text.
pub(crate) fn kept_lines(e: &Event) -> Vec<String> {
    let x = execution(e);
    let mut lines = Vec::new();
    for part in ["head", "tail"] {
        for l in x["output"][part].as_array().cloned().unwrap_or_default() {
            lines.push(l["text"].as_str().unwrap_or_default().to_owned());
        }
    }
    lines
}

pub(crate) fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
