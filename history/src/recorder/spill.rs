//! The spill file: where batches go while the store keeps failing.
//!
//! An append-only file of frames, each `b"HSP1"`, payload length (u32 LE), event count
//! (u32 LE), CRC-32 of count and payload (u32 LE), payload (a JSON array of events). Every append is fsync'd before the
//! batch counts as durable. A frame cut short by a crash fails its length or checksum and ends
//! the readable part of the file, so a torn tail never replays garbage.
//!
//! Files are replayed in order, frame by frame, once the store works again; a file is emptied
//! (and fsync'd) only after all of it is in the store. A recorder holds an exclusive lock on
//! the file it appends to, so two live recorders never share one: the second uses `path.1`.
//! Files found unlocked when a recorder starts were left by one that died (or stopped while
//! the store was down): they are adopted and replayed first, and their records of calls that
//! never finished are written as `interrupted`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::event::{ErrorInfo, Event, EventId, EventStatus};
use crate::store::StoreError;

const MAGIC: &[u8; 4] = b"HSP1";
const HEADER: usize = 16;
/// No frame is larger than this; a larger length is a torn or foreign header.
const MAX_FRAME: u32 = 1 << 30;

pub(super) struct Spill {
    base: PathBuf,
    /// Files with events not yet in the store, oldest first. When `own` is set, the last one
    /// is the file this recorder appends to.
    files: VecDeque<SpillFile>,
    own: bool,
}

struct SpillFile {
    path: PathBuf,
    /// Opened for reading and appending; locked exclusively while held.
    file: File,
    /// Where the first frame not yet replayed starts.
    read_at: u64,
    /// The end of the last complete frame.
    len: u64,
    /// Events in frames not yet replayed.
    events: u64,
    /// For files adopted from a recorder that is gone: the ids whose last record there is
    /// unfinished, written as `interrupted`.
    unfinished: Option<HashSet<EventId>>,
}

/// What a replay did.
#[derive(Default)]
pub(super) struct Replayed {
    /// Events written to the store.
    pub events: u64,
    /// Events in frames that could not be decoded (skipped, so they never block the rest).
    pub undecodable: u64,
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

/// One step through a spill file.
enum Frame {
    Events(Vec<Event>),
    Undecodable(u64),
}

impl Spill {
    /// Adopts the unlocked spill files at `base` (and its numbered siblings).
    pub fn open(base: PathBuf) -> io::Result<Spill> {
        let mut spill = Spill {
            base,
            files: VecDeque::new(),
            own: false,
        };
        for path in spill.existing_files()? {
            if let Some(file) = adopt(&path)? {
                spill.files.push_back(file);
            }
        }
        Ok(spill)
    }

    /// Events waiting in spill files.
    pub fn pending_events(&self) -> u64 {
        self.files.iter().map(|f| f.events).sum()
    }

    pub fn is_pending(&self) -> bool {
        self.files.iter().any(|f| f.events > 0)
    }

    /// Appends `batch` as one frame and fsyncs it.
    pub fn append(&mut self, batch: &[Event]) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let payload = serde_json::to_vec(batch).map_err(io::Error::other)?;
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l <= MAX_FRAME)
            .ok_or_else(|| io::Error::other("a spilled batch is larger than 1 GiB"))?;
        let count = u32::try_from(batch.len()).map_err(io::Error::other)?;
        let mut frame = Vec::with_capacity(HEADER + payload.len());
        frame.extend_from_slice(MAGIC);
        frame.extend_from_slice(&len.to_le_bytes());
        frame.extend_from_slice(&count.to_le_bytes());
        frame.extend_from_slice(&checksum(count, &payload).to_le_bytes());
        frame.extend_from_slice(&payload);

        if !self.own {
            self.open_own()?;
        }
        let Some(own) = self.files.back_mut() else {
            return Err(io::Error::other("no spill file"));
        };
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
        own.len += frame.len() as u64;
        own.events += batch.len() as u64;
        Ok(())
    }

    /// Writes spilled frames to the store in order with `write` (which returns an error only
    /// when the store is unavailable), emptying each file once all of it is written. Stops at
    /// the first error; what is left is replayed by the next call.
    pub fn replay(
        &mut self,
        write: &mut dyn FnMut(&[Event]) -> Result<(), StoreError>,
        done: &mut Replayed,
    ) -> Result<(), ReplayStop> {
        while let Some(front) = self.files.front_mut() {
            while let Some((frame, next)) = read_frame(&mut front.file, front.read_at)? {
                let mut events = match frame {
                    Frame::Events(events) => events,
                    Frame::Undecodable(count) => {
                        front.read_at = next;
                        front.events = front.events.saturating_sub(count);
                        done.undecodable += count;
                        continue;
                    }
                };
                if let Some(unfinished) = &front.unfinished {
                    for e in &mut events {
                        if unfinished.contains(&e.id) && !e.status.is_terminal() {
                            e.status = EventStatus::Interrupted;
                            e.error.get_or_insert_with(|| {
                                Box::new(ErrorInfo {
                                    message: "the process recording this event ended before \
                                              the event finished"
                                        .into(),
                                    kind: Some("interrupted".into()),
                                    ..ErrorInfo::default()
                                })
                            });
                        }
                    }
                }
                write(&events).map_err(ReplayStop::Store)?;
                front.read_at = next;
                front.events = front.events.saturating_sub(events.len() as u64);
                done.events += events.len() as u64;
            }
            // All of it is in the store: empty it durably before anything newer is written,
            // so it can never be replayed over newer records.
            front.file.set_len(0).and_then(|()| front.file.sync_all())?;
            front.read_at = 0;
            front.len = 0;
            front.events = 0;
            let is_own = self.own && self.files.len() == 1;
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
    pub fn close(mut self) {
        if self.own {
            if let Some(own) = self.files.pop_back() {
                if own.len == 0 {
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
        let dir = parent_dir(&self.base);
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
            let file = OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => continue,
                Err(TryLockError::Error(e)) => return Err(e),
            }
            if file.metadata()?.len() > 0 {
                // Left by a recorder that died after this one started: replay it first.
                drop(file);
                if let Some(orphan) = adopt(&path)? {
                    self.files.push_back(orphan);
                }
                continue;
            }
            if !existed {
                sync_dir(&path);
            }
            self.files.push_back(SpillFile {
                path,
                file,
                read_at: 0,
                len: 0,
                events: 0,
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
}

/// Locks and reads a file left by a recorder that is gone; `None` when it is locked by a live
/// one or holds nothing (then it is removed).
fn adopt(path: &Path) -> io::Result<Option<SpillFile>> {
    let mut file = OpenOptions::new().read(true).append(true).open(path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(None),
        Err(TryLockError::Error(e)) => return Err(e),
    }
    let mut last_status: HashMap<EventId, bool> = HashMap::new();
    let mut events = 0u64;
    let mut at = 0u64;
    while let Some((frame, next)) = read_frame(&mut file, at)? {
        match frame {
            Frame::Events(batch) => {
                events += batch.len() as u64;
                for e in &batch {
                    last_status.insert(e.id, e.status.is_terminal());
                }
            }
            Frame::Undecodable(count) => events += count,
        }
        at = next;
    }
    if events == 0 {
        file.set_len(0)?;
        drop(file);
        std::fs::remove_file(path)?;
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
        read_at: 0,
        len: at,
        events,
        unfinished: Some(unfinished),
    }))
}

fn checksum(count: u32, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&count.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// The frame at `at` and where the next one starts; `None` at the end of the readable part.
fn read_frame(file: &mut File, at: u64) -> io::Result<Option<(Frame, u64)>> {
    file.seek(SeekFrom::Start(at))?;
    let mut header = [0u8; HEADER];
    if !read_full(file, &mut header)? || &header[0..4] != MAGIC {
        return Ok(None);
    }
    let word =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let (len, count, crc) = (word(4), word(8), word(12));
    if len > MAX_FRAME {
        return Ok(None);
    }
    let mut payload = vec![0u8; len as usize];
    if !read_full(file, &mut payload)? || checksum(count, &payload) != crc {
        return Ok(None);
    }
    let next = at + (HEADER + payload.len()) as u64;
    match serde_json::from_slice::<Vec<Event>>(&payload) {
        Ok(events) => Ok(Some((Frame::Events(events), next))),
        Err(e) => {
            tracing::error!(
                events = count,
                "history: a spill frame at byte {at} is not a batch of events, skipping it: {e}"
            );
            Ok(Some((Frame::Undecodable(u64::from(count)), next)))
        }
    }
}

/// Fills `buf`; `false` if the file ends first.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Makes a new file's directory entry durable (best effort; not possible on every platform).
fn sync_dir(path: &Path) {
    if let Ok(dir) = File::open(parent_dir(path)) {
        let _ = dir.sync_all();
    }
}
