//! The spill file's bytes: a header with a per-file random key, then frames whose tag is a
//! keyed hash of their contents.
//!
//! ```text
//! file header  b"HSPILL\0\x02" (8 bytes), key (16 random bytes)
//! frame        marker (8 bytes), payload length (u32 LE), event count (u32 LE),
//!              tag (u64 LE: SipHash-2-4 under the key, of length, count and payload),
//!              payload (a JSON array of events)
//! ```
//!
//! What the tag stops, and what it does not: a frame is replayed only if it verifies under
//! the key of the file it is in, so frames appended by anyone who cannot read the file (they
//! do not know its key), copied from another spill file, or damaged on disk are rejected and
//! counted, never written to the store. Anyone who can read the file can read its key and
//! forge frames; that is why the file is private to its owner (mode 0600, refused if owned by
//! another user). The tag is not a defence against the file's owner (root or the process's
//! own user).
//!
//! The marker contains a NUL and bytes that are never valid UTF-8, so it never occurs inside
//! a payload (serde_json writes neither): after a damaged frame, the reader finds the next
//! frame boundary by scanning for the marker and keeps the first candidate that verifies.
//!
//! Files of the first format (`b"HSP1"` frames with a plain CRC-32, no key) are still read,
//! as they were: up to the first frame that does not check.

use std::fs::File;
use std::hash::Hasher;
use std::io::{self, Read, Seek, SeekFrom};

use siphasher::sip::SipHasher24;

use crate::event::Event;

pub(super) const FILE_MAGIC: &[u8; 8] = b"HSPILL\0\x02";
/// Magic and key.
pub(super) const FILE_HEADER: u64 = 24;
const MARKER: &[u8; 8] = b"\0\xF5HSF\xF5\xFF\0";
const FRAME_HEADER: usize = 24;
/// No frame is larger than this; a larger length is a torn or damaged header.
const MAX_FRAME: u32 = 1 << 30;
const LEGACY_MAGIC: &[u8; 4] = b"HSP1";
const LEGACY_HEADER: usize = 16;
/// How much of the file a resynchronising scan reads at once.
const SCAN_CHUNK: usize = 1 << 20;

/// The random key of one spill file.
#[derive(Clone, Copy)]
pub(super) struct Key([u8; 16]);

impl Key {
    /// A fresh key from the operating system's random source.
    pub(super) fn random() -> io::Result<Key> {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key).map_err(|e| io::Error::other(format!("random key: {e}")))?;
        Ok(Key(key))
    }

    /// The file header that carries this key.
    pub(super) fn header(&self) -> [u8; FILE_HEADER as usize] {
        let mut h = [0u8; FILE_HEADER as usize];
        h[..8].copy_from_slice(FILE_MAGIC);
        h[8..].copy_from_slice(&self.0);
        h
    }

    fn tag(&self, len: u32, count: u32, payload: &[u8]) -> u64 {
        let (k0, k1) = self.0.split_at(8);
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        let mut h = SipHasher24::new_with_keys(word(k0), word(k1));
        h.write(&len.to_le_bytes());
        h.write(&count.to_le_bytes());
        h.write(payload);
        h.finish()
    }
}

/// How a spill file is laid out.
#[derive(Clone, Copy)]
pub(super) enum Layout {
    /// Keyed frames after the header.
    Keyed(Key),
    /// The first format: CRC-32 frames from the start.
    Legacy,
}

/// What a file's first bytes say.
pub(super) enum Header {
    /// Nothing, or the start of a header cut short by a crash: nothing was ever written.
    Empty,
    Layout(Layout),
    /// Not a spill file this version writes or reads.
    Foreign,
}

/// Reads the header of `file`.
pub(super) fn read_header(file: &mut File) -> io::Result<Header> {
    let mut head = [0u8; FILE_HEADER as usize];
    file.seek(SeekFrom::Start(0))?;
    let n = read_some(file, &mut head)?;
    if n >= 4 && &head[..4] == LEGACY_MAGIC {
        return Ok(Header::Layout(Layout::Legacy));
    }
    if n < head.len() {
        let prefix = &head[..n.min(FILE_MAGIC.len())];
        return Ok(if FILE_MAGIC.starts_with(prefix) {
            Header::Empty
        } else {
            Header::Foreign
        });
    }
    if &head[..8] != FILE_MAGIC {
        return Ok(Header::Foreign);
    }
    let mut key = [0u8; 16];
    key.copy_from_slice(&head[8..]);
    Ok(Header::Layout(Layout::Keyed(Key(key))))
}

/// Where the first frame starts.
pub(super) fn first_frame(layout: Layout) -> u64 {
    match layout {
        Layout::Keyed(_) => FILE_HEADER,
        Layout::Legacy => 0,
    }
}

/// `batch` as one frame under `key`.
pub(super) fn encode(key: &Key, batch: &[Event]) -> io::Result<Vec<u8>> {
    let mut frame = vec![0u8; FRAME_HEADER];
    serde_json::to_writer(&mut frame, batch).map_err(io::Error::other)?;
    let len = u32::try_from(frame.len() - FRAME_HEADER)
        .ok()
        .filter(|l| *l <= MAX_FRAME)
        .ok_or_else(|| io::Error::other("a spilled batch is larger than 1 GiB"))?;
    let count = u32::try_from(batch.len()).map_err(io::Error::other)?;
    let tag = key.tag(len, count, &frame[FRAME_HEADER..]);
    frame[..8].copy_from_slice(MARKER);
    frame[8..12].copy_from_slice(&len.to_le_bytes());
    frame[12..16].copy_from_slice(&count.to_le_bytes());
    frame[16..24].copy_from_slice(&tag.to_le_bytes());
    Ok(frame)
}

/// One step through a spill file.
pub(super) enum Step {
    /// A frame that verifies, and its events.
    Events(Vec<Event>),
    /// A frame that verifies but does not hold events this version reads.
    Undecodable(u64),
    /// Bytes that are no frame of this file (damaged, or appended by someone else), up to
    /// the next frame that verifies or the end: how many events they claim to hold (at least
    /// one when their header cannot be trusted either).
    Rejected(u64),
}

/// The step at `at` and where the next one starts; `None` at the end of the readable part
/// (which is the end of the file, or a last frame cut short by a crash: never acknowledged,
/// so silently ignored). `end` is the file's length.
pub(super) fn step(
    file: &mut File,
    layout: Layout,
    at: u64,
    end: u64,
) -> io::Result<Option<(Step, u64)>> {
    let key = match layout {
        Layout::Keyed(key) => key,
        Layout::Legacy => return legacy_step(file, at, end),
    };
    if at >= end {
        return Ok(None);
    }
    if let Some((payload, count, next)) = verified(file, &key, at, end)? {
        return Ok(Some((decode(payload, count, at), next)));
    }
    // Not a frame of this file: find where the next one starts.
    let claimed = claimed_frame(file, at, end)?;
    match resync(file, &key, at + 1, end)? {
        Some(next) => {
            let count = claimed.filter(|(_, e)| *e == next).map_or(1, |(c, _)| c);
            tracing::error!(
                events = count,
                "history: spill bytes {at}..{next} are not a frame of this file (damaged, or \
                 written by someone else): skipping them"
            );
            Ok(Some((Step::Rejected(count), next)))
        }
        None => {
            let torn = match claimed {
                // A header that claims more bytes than the file has: cut short by a crash.
                None => end - at < FRAME_HEADER as u64 || is_torn(file, at, end)?,
                Some((_, frame_end)) => frame_end > end,
            };
            if torn {
                return Ok(None);
            }
            let count = claimed.filter(|(_, e)| *e == end).map_or(1, |(c, _)| c);
            tracing::error!(
                events = count,
                "history: the spill file's last bytes ({at}..{end}) are not a frame of this \
                 file (damaged, or appended by someone else): skipping them"
            );
            Ok(Some((Step::Rejected(count), end)))
        }
    }
}

fn decode(payload: Vec<u8>, count: u32, at: u64) -> Step {
    match serde_json::from_slice::<Vec<Event>>(&payload) {
        Ok(events) => Step::Events(events),
        Err(e) => {
            tracing::error!(
                events = count,
                "history: a spill frame at byte {at} is not a batch of events, skipping it: {e}"
            );
            Step::Undecodable(u64::from(count))
        }
    }
}

/// The payload, count and end of the frame at `at`, if there is one that verifies.
fn verified(
    file: &mut File,
    key: &Key,
    at: u64,
    end: u64,
) -> io::Result<Option<(Vec<u8>, u32, u64)>> {
    let Some((len, count, tag)) = frame_header(file, at)? else {
        return Ok(None);
    };
    let next = at + (FRAME_HEADER as u64) + u64::from(len);
    if len > MAX_FRAME || next > end {
        return Ok(None);
    }
    let mut payload = vec![0u8; len as usize];
    if !read_full(file, &mut payload)? || key.tag(len, count, &payload) != tag {
        return Ok(None);
    }
    Ok(Some((payload, count, next)))
}

/// The length, count and tag of a frame header at `at` (unverified), if its marker is there.
fn frame_header(file: &mut File, at: u64) -> io::Result<Option<(u32, u32, u64)>> {
    file.seek(SeekFrom::Start(at))?;
    let mut header = [0u8; FRAME_HEADER];
    if !read_full(file, &mut header)? || &header[..8] != MARKER {
        return Ok(None);
    }
    let mut word = [0u8; 4];
    word.copy_from_slice(&header[8..12]);
    let len = u32::from_le_bytes(word);
    word.copy_from_slice(&header[12..16]);
    let count = u32::from_le_bytes(word);
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&header[16..24]);
    Ok(Some((len, count, u64::from_le_bytes(tag))))
}

/// What an unverified header at `at` claims: its event count and where it would end.
fn claimed_frame(file: &mut File, at: u64, end: u64) -> io::Result<Option<(u64, u64)>> {
    if end - at < FRAME_HEADER as u64 {
        return Ok(None);
    }
    Ok(frame_header(file, at)?
        .map(|(len, count, _)| (u64::from(count), at + FRAME_HEADER as u64 + u64::from(len))))
}

/// Bytes from `at` to the end that hold no frame header: all zeros (a file extended but not
/// written before a crash) count as torn.
fn is_torn(file: &mut File, at: u64, end: u64) -> io::Result<bool> {
    file.seek(SeekFrom::Start(at))?;
    let mut buf = vec![0u8; SCAN_CHUNK.min((end - at) as usize)];
    let mut left = end - at;
    while left > 0 {
        let n = read_some(file, &mut buf[..SCAN_CHUNK.min(left as usize)])?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|b| *b != 0) {
            return Ok(false);
        }
        left -= n as u64;
    }
    Ok(true)
}

/// The first position from `from` where a frame of this file starts, if any.
fn resync(file: &mut File, key: &Key, from: u64, end: u64) -> io::Result<Option<u64>> {
    let mut pos = from;
    let mut buf = vec![0u8; SCAN_CHUNK];
    while pos + (FRAME_HEADER as u64) <= end {
        file.seek(SeekFrom::Start(pos))?;
        let want = SCAN_CHUNK.min((end - pos) as usize);
        let n = read_some(file, &mut buf[..want])?;
        if n < MARKER.len() {
            return Ok(None);
        }
        let candidates: Vec<u64> = buf[..n]
            .windows(MARKER.len())
            .enumerate()
            .filter(|(_, w)| w == MARKER)
            .map(|(i, _)| pos + i as u64)
            .collect();
        for candidate in candidates {
            if verified(file, key, candidate, end)?.is_some() {
                return Ok(Some(candidate));
            }
        }
        // The next chunk overlaps this one by a marker's length, less one byte.
        pos += (n - (MARKER.len() - 1)) as u64;
    }
    Ok(None)
}

/// The first format's frame at `at`. That format has no way to find the next frame: from
/// the first frame that does not check, the rest of the file is rejected as one (unless it is
/// a last frame cut short).
fn legacy_step(file: &mut File, at: u64, end: u64) -> io::Result<Option<(Step, u64)>> {
    if at >= end {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(at))?;
    let mut header = [0u8; LEGACY_HEADER];
    if !read_full(file, &mut header)? {
        return Ok(None);
    }
    if &header[0..4] != LEGACY_MAGIC {
        return Ok((!is_torn(file, at, end)?).then_some((Step::Rejected(1), end)));
    }
    let word =
        |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
    let (len, count, crc) = (word(4), word(8), word(12));
    let next = at + (LEGACY_HEADER as u64) + u64::from(len);
    if len > MAX_FRAME || next > end {
        return Ok(None);
    }
    let mut payload = vec![0u8; len as usize];
    if !read_full(file, &mut payload)? {
        return Ok(None);
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&count.to_le_bytes());
    h.update(&payload);
    if h.finalize() != crc {
        tracing::error!(
            events = count,
            "history: a spill frame of the first format at byte {at} does not check: \
             skipping the rest of the file"
        );
        return Ok(Some((Step::Rejected(u64::from(count).max(1)), end)));
    }
    Ok(Some((decode(payload, count, at), next)))
}

/// Fills `buf`; `false` if the file ends first.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<bool> {
    Ok(read_some(file, buf)? == buf.len())
}

/// Reads until `buf` is full or the file ends; how many bytes.
fn read_some(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
