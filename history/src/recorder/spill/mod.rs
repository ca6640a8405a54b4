//! The spill file: where batches go while the store keeps failing.
//!
//! An append-only file of frames ([`format`]): a header with a random key of its own, then
//! one frame per batch, tagged with a keyed hash, so only frames this file's writer wrote are
//! ever replayed. Every append is fsync'd before the batch counts as durable. The file is
//! private ([`private`]): created 0600, tightened when found looser, refused when another
//! user owns it.
//!
//! Files are replayed in order, frame by frame, once the store works again; a file is emptied
//! (and fsync'd) only after all of it is in the store. Bytes that are no frame of the file (a
//! damaged frame, a frame someone else appended) are skipped and counted as lost, the reader
//! resynchronises on the next frame and replays every intact one after it, and the file is
//! then kept aside as `<name>.corrupt-<time>` instead of being removed. A last frame cut short
//! (a crash while appending: never acknowledged) is ignored silently.
//!
//! A recorder holds an exclusive lock on the file it appends to, so two live recorders never
//! share one: the second uses `path.1`. Files found unlocked when a recorder starts were left
//! by one that died (or stopped while the store was down): they are adopted and replayed
//! first, and their records of calls that never finished are written as `interrupted`.
//!
//! A lock can also be held for a moment by a child process the application is starting: a
//! `fork` copies every open file, locks included, until the child's `exec` closes it. So a
//! file found locked when a recorder starts is tried again for a short while
//! ([`ADOPT_PATIENCE`]) before it is taken for a live recorder's.

mod format;
mod private;

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use format::{Header, Key, Layout, Step};

use crate::event::{ErrorInfo, Event, EventId, EventStatus};
use crate::store::StoreError;

/// How long a recorder starting up waits for a locked spill file to be released before it
/// leaves the file to the live recorder holding it: long enough for a child process that a
/// `fork` gave a copy of the lock to reach its `exec`, even on a busy machine; paid only when
/// a file is locked.
const ADOPT_PATIENCE: Duration = Duration::from_millis(200);

pub(super) struct Spill {
    base: PathBuf,
    /// Files with events not yet in the store, oldest first. When `own` is set, the last one
    /// is the file this recorder appends to.
    files: VecDeque<SpillFile>,
    own: bool,
    /// Events in spill files that could not be read at all, not yet reported.
    lost: u64,
}

struct SpillFile {
    path: PathBuf,
    /// Opened for reading and appending; locked exclusively while held.
    file: File,
    layout: Layout,
    /// Where the first frame not yet replayed starts.
    read_at: u64,
    /// The end of the last complete frame this recorder knows of.
    len: u64,
    /// Events in frames not yet replayed.
    events: u64,
    /// Whether some of its bytes were no frame of it: then it is kept aside once replayed.
    damaged: bool,
    /// For files adopted from a recorder that is gone: the ids whose last record there is
    /// unfinished, written as `interrupted`.
    unfinished: Option<HashSet<EventId>>,
}

/// What a replay did.
#[derive(Default)]
pub(super) struct Replayed {
    /// Events written to the store.
    pub events: u64,
    /// Events in frames that could not be read or verified (skipped, so they never block
    /// the rest), and why.
    pub lost: u64,
    pub lost_why: Option<String>,
}

/// Why a replay stopped before the end.
pub(super) enum ReplayStop {
    /// The store refused a frame; the frame is replayed again next time.
    Store(StoreError),
    /// The spill file could not be read or emptied.
    Io(io::Error),
}

impl From<io::Error> for ReplayStop {
    fn from(e: io::Error) -> Self {
        ReplayStop::Io(e)
    }
}

impl Spill {
    /// Adopts the unlocked spill files at `base` (and its numbered siblings).
    pub(super) fn open(base: PathBuf) -> io::Result<Spill> {
        let mut spill = Spill {
            base,
            files: VecDeque::new(),
            own: false,
            lost: 0,
        };
        for path in spill.existing_files()? {
            if let Some(file) = spill.adopt(&path, ADOPT_PATIENCE)? {
                spill.files.push_back(file);
            }
        }
        Ok(spill)
    }

    /// Events waiting in spill files.
    pub(super) fn pending_events(&self) -> u64 {
        self.files.iter().map(|f| f.events).sum()
    }

    pub(super) fn is_pending(&self) -> bool {
        self.files.iter().any(|f| f.events > 0)
    }

    /// Events found in files that could not be read at all, since the last call.
    pub(super) fn take_lost(&mut self) -> u64 {
        std::mem::take(&mut self.lost)
    }

    /// Appends `batch` as one frame and fsyncs it.
    pub(super) fn append(&mut self, batch: &[Event]) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        if !self.own {
            self.open_own()?;
        }
        let Some(own) = self.files.back_mut() else {
            return Err(io::Error::other("no spill file"));
        };
        let Layout::Keyed(key) = own.layout else {
            return Err(io::Error::other("the spill file is of the first format"));
        };
        let frame = format::encode(&key, batch)?;
        let written = (&own.file)
            .write_all(&frame)
            .and_then(|()| own.file.sync_data());
        if let Err(e) = written {
            // Cut the partial frame off, so frames appended later stay readable.
            if own
                .file
                .set_len(own.len)
                .and_then(|()| own.file.sync_all())
                .is_err()
            {
                // The file's end is unknown: keep what is readable for replay, append elsewhere.
                self.own = false;
            }
            return Err(e);
        }
        // Where the file ends now (appends land at the end, whatever else is there).
        own.len = own.file.metadata()?.len();
        own.events += batch.len() as u64;
        Ok(())
    }

    /// Writes spilled frames to the store in order with `write` (which returns an error only
    /// when the store is unavailable), emptying each file once all of it is written (or
    /// keeping it aside if some of it was unreadable). Stops at the first error; what is left
    /// is replayed by the next call.
    pub(super) fn replay(
        &mut self,
        write: &mut dyn FnMut(&[Event]) -> Result<(), StoreError>,
        done: &mut Replayed,
    ) -> Result<(), ReplayStop> {
        let mut remaining = self.files.len();
        while let Some(front) = self.files.front_mut() {
            let is_own = self.own && remaining == 1;
            remaining = remaining.saturating_sub(1);
            let end = front.file.metadata()?.len();
            while let Some((step, next)) =
                format::step(&mut front.file, front.layout, front.read_at, end)?
            {
                let mut events = match step {
                    Step::Events(events) => events,
                    Step::Undecodable(count) | Step::Rejected(count) => {
                        front.read_at = next;
                        front.damaged = true;
                        done.lost += count;
                        done.lost_why = Some(format!(
                            "the spill file {:?} held bytes that are no frame of it (damaged, \
                             or written by someone else); they were skipped",
                            front.path
                        ));
                        continue;
                    }
                };
                if let Some(unfinished) = &front.unfinished {
                    mark_interrupted(&mut events, unfinished);
                }
                write(&events).map_err(ReplayStop::Store)?;
                front.read_at = next;
                front.events = front.events.saturating_sub(events.len() as u64);
                done.events += events.len() as u64;
            }
            if front.damaged {
                // Everything readable is in the store; the rest stays for a person to see.
                match private::keep_aside(&front.path) {
                    Ok(aside) => tracing::error!(
                        "history: the spill file {:?} had unreadable bytes; kept as {aside:?}",
                        front.path
                    ),
                    Err(e) => tracing::error!(
                        "history: the spill file {:?} had unreadable bytes, and keeping it \
                         aside failed: {e}",
                        front.path
                    ),
                }
                if is_own {
                    self.own = false;
                }
                self.files.pop_front();
                continue;
            }
            // All of it is in the store: empty it durably before anything newer is written,
            // so it can never be replayed over newer records.
            let first = format::first_frame(front.layout);
            front
                .file
                .set_len(first)
                .and_then(|()| front.file.sync_all())?;
            front.read_at = first;
            front.len = first;
            front.events = 0;
            if is_own {
                break;
            }
            if let Some(file) = self.files.pop_front() {
                if let Err(e) = std::fs::remove_file(&file.path) {
                    tracing::warn!(
                        "history: removing the replayed spill file {:?}: {e}",
                        file.path
                    );
                }
            }
        }
        Ok(())
    }

    /// Removes this recorder's spill file if it is empty (at shutdown).
    pub(super) fn close(mut self) {
        if self.own {
            if let Some(own) = self.files.pop_back() {
                if own.len <= format::first_frame(own.layout) && !own.damaged {
                    let _ = std::fs::remove_file(&own.path);
                }
            }
        }
    }

    fn candidate(&self, n: u32) -> PathBuf {
        if n == 0 {
            self.base.clone()
        } else {
            let mut name = self.base.as_os_str().to_owned();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        }
    }

    /// `base` and `base.N`, in order.
    fn existing_files(&self) -> io::Result<Vec<PathBuf>> {
        let dir = private::parent_dir(&self.base);
        let Some(stem) = self.base.file_name().and_then(|n| n.to_str()) else {
            return Err(io::Error::other(
                "the spill path must end in a UTF-8 file name",
            ));
        };
        let mut found: Vec<(u32, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let n = if name == stem {
                Some(0)
            } else {
                name.strip_prefix(stem)
                    .and_then(|rest| rest.strip_prefix('.'))
                    .and_then(|digits| digits.parse::<u32>().ok())
            };
            if let Some(n) = n {
                found.push((n, entry.path()));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, p)| p).collect())
    }

    /// Picks the first candidate path no live recorder holds and makes it the append target.
    fn open_own(&mut self) -> io::Result<()> {
        for n in 0..1_000 {
            let path = self.candidate(n);
            if self.files.iter().any(|f| f.path == path) {
                continue;
            }
            let existed = path.exists();
            let mut file = private::open(&path, true)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => continue,
                Err(TryLockError::Error(e)) => return Err(e),
            }
            if file.metadata()?.len() > 0 {
                // Left by a recorder that died after this one started: replay it first.
                drop(file);
                if let Some(orphan) = self.adopt(&path, Duration::ZERO)? {
                    self.files.push_back(orphan);
                }
                continue;
            }
            let key = Key::random()?;
            file.write_all(&key.header())?;
            file.sync_all()?;
            if !existed {
                private::sync_dir(&path);
            }
            let first = format::first_frame(Layout::Keyed(key));
            self.files.push_back(SpillFile {
                path,
                file,
                layout: Layout::Keyed(key),
                read_at: first,
                len: first,
                events: 0,
                damaged: false,
                unfinished: None,
            });
            self.own = true;
            return Ok(());
        }
        Err(io::Error::other(format!(
            "no free spill file beside {:?}",
            self.base
        )))
    }

    /// Locks and reads a file left by a recorder that is gone; `None` when it stays locked
    /// (by a live one) for `patience`, holds nothing (then it is removed), or is no spill file
    /// this version reads (then it is kept aside and counted).
    fn adopt(&mut self, path: &Path, patience: Duration) -> io::Result<Option<SpillFile>> {
        let mut file = private::open(path, false)?;
        if !lock_within(&file, patience)? {
            return Ok(None);
        }
        let layout = match format::read_header(&mut file)? {
            Header::Layout(layout) => layout,
            Header::Empty => {
                drop(file);
                std::fs::remove_file(path)?;
                return Ok(None);
            }
            Header::Foreign => {
                drop(file);
                let aside = private::keep_aside(path)?;
                tracing::error!(
                    "history: {path:?} is not a spill file this version reads; kept as {aside:?}"
                );
                self.lost += 1;
                return Ok(None);
            }
        };
        if matches!(layout, Layout::Legacy) {
            tracing::warn!(
                "history: {path:?} is a spill file of the first format (no key): replaying it \
                 as it was written"
            );
        }
        let mut last_status: HashMap<EventId, bool> = HashMap::new();
        let mut events = 0u64;
        let mut rejected = 0u64;
        let end = file.metadata()?.len();
        let first = format::first_frame(layout);
        let mut at = first;
        while let Some((step, next)) = format::step(&mut file, layout, at, end)? {
            match step {
                Step::Events(batch) => {
                    events += batch.len() as u64;
                    for e in &batch {
                        last_status.insert(e.id, e.status.is_terminal());
                    }
                }
                Step::Undecodable(count) | Step::Rejected(count) => rejected += count,
            }
            at = next;
        }
        if events == 0 {
            drop(file);
            if rejected == 0 {
                std::fs::remove_file(path)?;
            } else {
                // Nothing to replay; what could not be read is counted now.
                let aside = private::keep_aside(path)?;
                tracing::error!(
                    "history: the spill file {path:?} held no readable frame; kept as {aside:?}"
                );
                self.lost += rejected;
            }
            return Ok(None);
        }
        tracing::warn!(
            events,
            "history: replaying the spill file {path:?} left by a recorder that did not finish"
        );
        let unfinished = last_status
            .into_iter()
            .filter_map(|(id, terminal)| (!terminal).then_some(id))
            .collect();
        Ok(Some(SpillFile {
            path: path.to_owned(),
            file,
            layout,
            read_at: first,
            len: at,
            events,
            damaged: false,
            unfinished: Some(unfinished),
        }))
    }
}

/// Takes the exclusive lock on `file`, trying again (1, 2, 4, … ms apart) while it is held,
/// for up to `patience`; whether it was taken.
fn lock_within(file: &File, patience: Duration) -> io::Result<bool> {
    let give_up = Instant::now() + patience;
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(true),
            Err(TryLockError::Error(e)) => return Err(e),
            Err(TryLockError::WouldBlock) => {
                let now = Instant::now();
                if now >= give_up {
                    return Ok(false);
                }
                std::thread::sleep(pause.min(give_up - now));
                pause = (pause * 2).min(Duration::from_millis(50));
            }
        }
    }
}

/// Records of calls that never finished, from a recorder that is gone, become `interrupted`.
fn mark_interrupted(events: &mut [Event], unfinished: &HashSet<EventId>) {
    for e in events {
        if unfinished.contains(&e.id) && !e.status.is_terminal() {
            e.status = EventStatus::Interrupted;
            e.error.get_or_insert_with(|| {
                Box::new(ErrorInfo {
                    message: "the process recording this event ended before the event finished"
                        .into(),
                    kind: Some("interrupted".into()),
                    ..ErrorInfo::default()
                })
            });
        }
    }
}
