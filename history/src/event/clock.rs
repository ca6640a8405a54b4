//! Reading the clock on the hot path: once per boundary of a call, in microseconds.
//!
//! `chrono::Utc::now()` plus truncation to the microsecond costs several times the
//! `clock_gettime` under it, and a UUID v7 from `Uuid::now_v7` reads the clock again and takes
//! a process-wide lock. Here the clock is read once, as whole microseconds since the Unix
//! epoch; the timestamp and the event id are both derived from that one reading.

use std::cell::{Cell, RefCell};
use std::hash::{BuildHasher, RandomState};
#[cfg(any(not(unix), test))]
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use uuid::{Builder, Uuid};

/// Microseconds since the Unix epoch, now (negative before it), rounded towards the past.
///
/// On Unix, `clock_gettime(CLOCK_REALTIME)` (the clock `SystemTime::now` reads, through the
/// vDSO on Linux) converted directly: `SystemTime::duration_since` and its checks cost more
/// than the read itself.
#[cfg(unix)]
#[inline]
pub(crate) fn now_micros() -> i64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    // `tv_nsec` is in 0..10^9 (even before the epoch), so this rounds towards the past.
    #[allow(clippy::useless_conversion)] // `c_long` on some targets, `i64` on most.
    let nanos = i64::from(now.tv_nsec);
    now.tv_sec
        .saturating_mul(1_000_000)
        .saturating_add(nanos / 1_000)
}

/// Microseconds since the Unix epoch, now (negative before it), rounded towards the past.
#[cfg(not(unix))]
#[inline]
pub(crate) fn now_micros() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => micros_of(d.as_secs(), d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            // Round towards the past, like the positive side.
            -micros_of(d.as_secs(), d.subsec_nanos().div_ceil(1_000) * 1_000)
        }
    }
}

#[cfg(any(not(unix), test))]
#[inline]
fn micros_of(secs: u64, nanos: u32) -> i64 {
    // Whole seconds times 10^6 fits an i64 until the year 294,247.
    (secs as i64)
        .saturating_mul(1_000_000)
        .saturating_add(i64::from(nanos / 1_000))
}

/// The instant `micros` microseconds after the Unix epoch.
#[inline]
pub(crate) fn datetime(micros: i64) -> DateTime<Utc> {
    let secs = micros.div_euclid(1_000_000);
    let nanos = (micros.rem_euclid(1_000_000) * 1_000) as u32;
    let (day, second) = (secs.div_euclid(86_400), secs.rem_euclid(86_400) as u32);
    let date = DAY
        .try_with(|cached| {
            let (cached_day, date) = cached.get();
            if cached_day == day {
                return Some(date);
            }
            // The calendar date of a day number is the costly part; it changes once a day.
            let date = date_of(day)?;
            cached.set((day, date));
            Some(date)
        })
        .ok()
        .flatten()
        .or_else(|| date_of(day));
    match (
        date,
        NaiveTime::from_num_seconds_from_midnight_opt(second, nanos),
    ) {
        (Some(date), Some(time)) => NaiveDateTime::new(date, time).and_utc(),
        _ => DateTime::from_timestamp_micros(micros).unwrap_or_default(),
    }
}

/// The date `day` days after 1970-01-01.
fn date_of(day: i64) -> Option<NaiveDate> {
    const EPOCH_DAYS_FROM_CE: i64 = 719_163;
    NaiveDate::from_num_days_from_ce_opt(i32::try_from(day + EPOCH_DAYS_FROM_CE).ok()?)
}

thread_local! {
    /// The last day number converted on this thread, and its date.
    static DAY: Cell<(i64, NaiveDate)> = const { Cell::new((i64::MIN, NaiveDate::MIN)) };
}

/// Makes UUID v7 ids from timestamps already read, monotonic on each thread.
///
/// Layout (RFC 9562 §5.7, with method 3 of §6.2 for the 12 bits after the milliseconds):
/// 48 bits of Unix milliseconds, the sub-millisecond fraction in 12 bits (so ids of one thread
/// and of different threads sort to the microsecond), 62 random bits. When the clock has not
/// moved past the thread's previous id, the previous id plus one is used instead, so ids made
/// one after the other on one thread always increase.
struct IdGen {
    /// The previous id as a 122-bit number: milliseconds, fraction, random bits.
    last: u128,
    rng: fastrand::Rng,
}

const PAYLOAD_BITS: u32 = 12 + 62;
const RANDOM_BITS: u32 = 62;

impl IdGen {
    fn new() -> IdGen {
        // `RandomState` is seeded from the operating system's randomness: two processes
        // starting at the same instant do not share a sequence.
        let seed = RandomState::new().hash_one(std::thread::current().id());
        IdGen {
            last: 0,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    fn next(&mut self, micros: i64) -> Uuid {
        let micros = u64::try_from(micros).unwrap_or(0);
        let millis = u128::from(micros / 1_000);
        // 0..1000 µs scaled onto 0..4096.
        let fraction = u128::from((micros % 1_000) * 4_096 / 1_000);
        let random = u128::from(self.rng.u64(..) >> (64 - RANDOM_BITS));
        let mut value = (millis << PAYLOAD_BITS) | (fraction << RANDOM_BITS) | random;
        if value <= self.last {
            value = self.last + 1;
        }
        self.last = value;
        let payload = value & ((1 << PAYLOAD_BITS) - 1);
        // rand_a (12 bits) at bits 75..64 of the 80 the builder takes, then the variant's
        // 2 bits (set by the builder), then rand_b (62 bits).
        let bits80 = ((payload >> RANDOM_BITS) << 64) | (payload & ((1 << RANDOM_BITS) - 1));
        let bytes = bits80.to_be_bytes();
        let mut counter_random = [0u8; 10];
        counter_random.copy_from_slice(&bytes[6..]);
        Builder::from_unix_timestamp_millis((value >> PAYLOAD_BITS) as u64, &counter_random)
            .into_uuid()
    }
}

thread_local! {
    static IDS: RefCell<Option<IdGen>> = const { RefCell::new(None) };
}

/// A UUID v7 for an event that started `micros` microseconds after the Unix epoch.
#[inline]
pub(crate) fn uuid_at(micros: i64) -> Uuid {
    IDS.try_with(|ids| {
        let mut ids = ids.try_borrow_mut().ok()?;
        Some(ids.get_or_insert_with(IdGen::new).next(micros))
    })
    .ok()
    .flatten()
    // The thread is exiting (its locals are gone): the shared generator still works.
    .unwrap_or_else(Uuid::now_v7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_the_time_they_were_made_at() {
        let micros = 1_700_000_000_123_456;
        let id = uuid_at(micros);
        assert_eq!(id.get_version_num(), 7);
        let (secs, nanos) = id.get_timestamp().expect("a v7 timestamp").to_unix();
        assert_eq!(
            secs * 1_000 + u64::from(nanos) / 1_000_000,
            1_700_000_000_123
        );
        // The 12 bits after the milliseconds hold the fraction: 456 µs → 456·4096/1000.
        let rand_a = u16::from_be_bytes([id.as_bytes()[6], id.as_bytes()[7]]) & 0x0FFF;
        assert_eq!(rand_a, 1_867);
    }

    #[test]
    fn ids_of_one_thread_increase_even_when_the_clock_does_not() {
        let micros = now_micros();
        let mut previous = uuid_at(micros);
        for i in 0..10_000 {
            // The same microsecond, then a clock that went back.
            let at = if i < 5_000 {
                micros
            } else {
                micros - 1_000_000
            };
            let id = uuid_at(at);
            assert!(id > previous, "{id} after {previous}");
            previous = id;
        }
    }

    #[test]
    fn ids_of_different_threads_differ() {
        let micros = now_micros();
        let a: Vec<Uuid> = (0..1_000).map(|_| uuid_at(micros)).collect();
        let b = std::thread::spawn(move || (0..1_000).map(|_| uuid_at(micros)).collect::<Vec<_>>())
            .join()
            .expect("the thread");
        let all: std::collections::HashSet<_> = a.iter().chain(&b).collect();
        assert_eq!(all.len(), 2_000);
    }

    #[test]
    fn the_clock_read_agrees_with_system_time() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970");
        let micros = now_micros();
        let after = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970");
        let (before, after) = (
            micros_of(before.as_secs(), before.subsec_nanos()),
            micros_of(after.as_secs(), after.subsec_nanos()),
        );
        assert!(
            before <= micros && micros <= after,
            "{before} <= {micros} <= {after}"
        );
    }

    #[test]
    fn micros_and_datetimes_agree() {
        let m = now_micros();
        let at = datetime(m);
        assert_eq!(at.timestamp_micros(), m);
        assert_eq!(datetime(-1).timestamp_micros(), -1);
        for m in [
            0,
            86_399_999_999,
            86_400_000_000,
            -86_400_000_001,
            1_700_000_000_123_456,
        ] {
            assert_eq!(
                datetime(m),
                DateTime::from_timestamp_micros(m).unwrap(),
                "{m}"
            );
        }
        let chrono_now = Utc::now().timestamp_micros();
        assert!((chrono_now - m).abs() < 5_000_000);
    }
}
