//! The notifier's durable progress — how far the feed has been read, the deliveries not yet
//! acknowledged, the open storm groups, which window rules are firing — and the private file
//! that keeps it across crashes.
//!
//! The file is JSON, written whole to `<file>.tmp` (mode 0600), fsynced, renamed over the
//! file, and the directory fsynced: after a crash it holds either the old state or the new,
//! never a mix. `<file>.lock` (0600) is held locked while a notifier runs, so two notifiers
//! never share one state.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::NotifyError;
use crate::notification::Notification;
use history::ChangeToken;

/// The state file's format version.
const FORMAT: u32 = 1;

/// Everything the notifier must not forget.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    pub(crate) format: u32,
    /// Every change up to this token has been evaluated and its notifications are in
    /// `pending` (or delivered).
    pub(crate) after: ChangeToken,
    /// Notifications not yet acknowledged, oldest first.
    #[serde(default)]
    pub(crate) pending: VecDeque<Delivery>,
    /// Notifications given up on after the most attempts allowed; kept until retried.
    #[serde(default)]
    pub(crate) failed: Vec<Delivery>,
    /// Per rule: grouping and firing state.
    #[serde(default)]
    pub(crate) rules: BTreeMap<String, RuleState>,
}

/// One notification on its way.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Delivery {
    pub(crate) notification: Notification,
    /// Failed attempts so far.
    pub(crate) attempts: u32,
    /// Not before this time (milliseconds since the Unix epoch).
    pub(crate) next_attempt_ms: i64,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_error: Option<String>,
}

/// A rule's memory.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct RuleState {
    /// When its last message was made (milliseconds since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_sent_ms: Option<i64>,
    /// Matches waiting for the end of the grouping interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) group: Option<Group>,
    /// A window rule above its threshold (it fires again only after coming back below).
    #[serde(default)]
    pub(crate) firing: bool,
}

/// A storm being grouped: the message it will become, and when.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Group {
    pub(crate) notification: Notification,
    pub(crate) due_ms: i64,
}

impl State {
    pub(crate) fn new(after: ChangeToken) -> State {
        State {
            format: FORMAT,
            after,
            pending: VecDeque::new(),
            failed: Vec::new(),
            rules: BTreeMap::new(),
        }
    }
}

/// The file a notifier's state lives in, locked while it runs.
#[derive(Debug)]
pub(crate) struct StateFile {
    path: PathBuf,
    tmp: PathBuf,
    /// Held locked for as long as this value lives.
    _lock: File,
}

fn private_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// `path` with `suffix` added to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

impl StateFile {
    /// Takes the lock beside `path`; fails if another notifier holds it.
    pub(crate) fn open(path: &Path) -> Result<StateFile, NotifyError> {
        let io = |source| NotifyError::State {
            path: path.to_owned(),
            source,
        };
        let lock_path = sibling(path, ".lock");
        let lock = private_options().open(&lock_path).map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "another notifier is using this state file",
                )))
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        Ok(StateFile {
            path: path.to_owned(),
            tmp: sibling(path, ".tmp"),
            _lock: lock,
        })
    }

    /// The saved state, if there is one.
    pub(crate) fn load(&self) -> Result<Option<State>, NotifyError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(NotifyError::State {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let state: State =
            serde_json::from_slice(&bytes).map_err(|e| NotifyError::CorruptState {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        if state.format != FORMAT {
            return Err(NotifyError::CorruptState {
                path: self.path.clone(),
                reason: format!("format {} (this version reads {FORMAT})", state.format),
            });
        }
        Ok(Some(state))
    }

    /// Replaces the saved state with `state`, durably and atomically.
    pub(crate) fn save(&self, state: &State) -> Result<(), NotifyError> {
        let io = |source| NotifyError::State {
            path: self.path.clone(),
            source,
        };
        let body = serde_json::to_vec(state).map_err(|e| io(std::io::Error::other(e)))?;
        let mut file = private_options()
            .truncate(true)
            .open(&self.tmp)
            .map_err(io)?;
        file.write_all(&body).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(io)?;
        #[cfg(unix)]
        if let Some(dir) = self.path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_state_is_private_survives_reopening_and_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.json");
        let file = StateFile::open(&path).unwrap();
        assert!(file.load().unwrap().is_none());
        let mut state = State::new(ChangeToken::from_seq(41));
        state.rules.entry("r".into()).or_default().firing = true;
        file.save(&state).unwrap();
        assert!(
            StateFile::open(&path).is_err(),
            "a second notifier must not share the file"
        );
        drop(file);
        let again = StateFile::open(&path).unwrap();
        let loaded = again.load().unwrap().unwrap();
        assert_eq!(loaded.after, ChangeToken::from_seq(41));
        assert!(loaded.rules["r"].firing);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for p in [path.clone(), sibling(&path, ".lock")] {
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", p.display());
            }
        }
        std::fs::write(&path, b"{not json").unwrap();
        assert!(matches!(
            again.load(),
            Err(NotifyError::CorruptState { .. })
        ));
    }
}
