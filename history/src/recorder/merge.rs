//! Records of one id within a batch, merged before the write: a call's in-progress record and
//! its final record in one batch cost one row write.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::event::{Event, EventId};

/// Event ids are UUID v7: 74 of their bits are random (or a counter), so folding the two
/// halves is a good hash, and far cheaper than SipHash on the writer's hot loop.
#[derive(Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(29) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(super) type IdMap = HashMap<EventId, usize, BuildHasherDefault<IdHasher>>;

/// Keeps the record of each id that the stores would keep (in place, in order); returns how
/// many of the records merged away were duplicates: at the same stage (both unfinished or
/// both finished) as the record kept, rather than its earlier progress.
pub(super) fn merge_same_ids(batch: &mut Vec<Event>, last_of: &mut IdMap) -> u64 {
    if batch.len() < 2 {
        return 0;
    }
    last_of.clear();
    last_of.reserve(batch.len());
    for (i, e) in batch.iter().enumerate() {
        match last_of.entry(e.id) {
            Entry::Occupied(mut kept) => {
                // The same rule as the stores': an older record never replaces a newer one.
                if e.replaces(&batch[*kept.get()]) {
                    kept.insert(i);
                }
            }
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
    }
    if last_of.len() == batch.len() {
        return 0;
    }
    let mut duplicates = 0;
    for (i, e) in batch.iter().enumerate() {
        if let Some(&kept) = last_of.get(&e.id) {
            if kept != i && batch[kept].status.is_terminal() == e.status.is_terminal() {
                duplicates += 1;
            }
        }
    }
    let mut i = 0;
    batch.retain(|e| {
        let keep = last_of.get(&e.id) == Some(&i);
        i += 1;
        keep
    });
    duplicates
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventStatus, EventType};

    #[test]
    fn merging_keeps_the_last_record_of_each_id() {
        let a = Event::new(EventType::VmStart, "a");
        let b = Event::new(EventType::VmStop, "b");
        let mut a2 = a.clone();
        a2.finish(EventStatus::Success);
        let mut batch = vec![a.clone(), b.clone(), a2.clone()];
        assert_eq!(merge_same_ids(&mut batch, &mut IdMap::default()), 0);
        assert_eq!(batch, vec![b.clone(), a2.clone()]);
        // The same final record twice, and a start resent: duplicates.
        let mut batch = vec![a.clone(), a2.clone(), b.clone(), a2.clone(), b.clone()];
        assert_eq!(merge_same_ids(&mut batch, &mut IdMap::default()), 2);
        assert_eq!(batch, vec![a2, b]);
    }
}
