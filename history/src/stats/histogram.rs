//! The duration histogram stores keep in their rollups for long-range statistics, so that
//! every store answers alike: durations in microseconds fall into buckets 2^(1/8) wide
//! (bucket 0 holds zero, bucket `b ≥ 1` the durations `d` with `floor(8 · log2 d) = b − 1`),
//! and a percentile read from the histogram is the geometric middle of its bucket — within
//! about 4.5% of the exact figure — clamped to the exact minimum and maximum.
//!
//! ```
//! use std::collections::BTreeMap;
//! use history::stats::histogram::{bucket, duration_stats};
//!
//! let mut buckets = BTreeMap::new();
//! for us in [1_000i64, 2_000, 3_000, 40_000] {
//!     *buckets.entry(bucket(us)).or_insert(0) += 1;
//! }
//! let d = duration_stats(4, 46_000, 1_000, 40_000, &buckets).expect("timed events");
//! assert_eq!(d.max.as_micros(), 40_000);
//! let p50 = d.p50.as_micros() as f64;
//! assert!((p50 - 2_000.0).abs() / 2_000.0 < 0.05);
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use super::DurationStats;

const PER_OCTAVE: f64 = 8.0;

/// The highest bucket (that of `i64::MAX` microseconds).
pub const MAX_BUCKET: u16 = 505;

/// The histogram bucket of a duration in microseconds: 0 for zero (or less), else
/// `1 + floor(8 · log2(us))`.
pub fn bucket(us: i64) -> u16 {
    if us <= 0 {
        0
    } else {
        ((us as f64).log2() * PER_OCTAVE).floor() as u16 + 1
    }
}

/// The duration that stands for bucket `b` (the geometric middle of its range).
pub fn bucket_value(b: u16) -> i64 {
    if b == 0 {
        0
    } else {
        (2f64).powf((f64::from(b) - 0.5) / PER_OCTAVE).round() as i64
    }
}

/// The smallest duration of each bucket from 1 to [`MAX_BUCKET`], in order: the bucket of
/// `us` is the number of these that are `≤ us`. A database computes [`bucket`] exactly
/// with them (PostgreSQL: `width_bucket(us, thresholds)`), with no floating point of its own.
pub fn bucket_thresholds() -> Vec<i64> {
    (1..=MAX_BUCKET)
        .map(|b| {
            // The smallest `d ≥ 1` with `bucket(d) ≥ b` (`bucket` never decreases).
            let (mut lo, mut hi) = (1i64, i64::MAX);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if bucket(mid) >= b {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            lo
        })
        .collect()
}

/// Duration figures from rollups: `timed` durations summing to `sum_us`, their exact
/// minimum and maximum, and how many fell in each bucket (negative counts read as none).
/// `None` when `timed` is zero.
pub fn duration_stats(
    timed: u64,
    sum_us: i64,
    min_us: i64,
    max_us: i64,
    buckets: &BTreeMap<u16, i64>,
) -> Option<DurationStats> {
    if timed == 0 {
        return None;
    }
    let at = |p: u64| -> Duration {
        let rank = (p * timed).div_ceil(100).max(1);
        let mut seen = 0u64;
        let mut value = max_us;
        for (b, k) in buckets {
            seen += (*k).max(0) as u64;
            if seen >= rank {
                value = bucket_value(*b);
                break;
            }
        }
        Duration::from_micros(value.clamp(min_us, max_us.max(min_us)).max(0) as u64)
    };
    let us = |v: i64| Duration::from_micros(v.max(0) as u64);
    Some(DurationStats::new(
        timed,
        us(sum_us / timed as i64),
        us(min_us),
        us(max_us),
        [at(50), at(95), at(99)],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_their_values_are_close() {
        let mut last = 0;
        for us in [
            1i64,
            2,
            3,
            10,
            999,
            1_000,
            65_432,
            5_000_000,
            86_400_000_000,
        ] {
            let b = bucket(us);
            assert!(b >= last);
            last = b;
            let v = bucket_value(b) as f64;
            let err = (v - us as f64).abs() / us as f64;
            assert!(err <= 0.0906, "{us}: {v} ({err})");
        }
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(i64::MAX), MAX_BUCKET);
    }

    #[test]
    fn thresholds_give_the_same_bucket() {
        let t = bucket_thresholds();
        assert_eq!(t.len(), usize::from(MAX_BUCKET));
        let by_thresholds = |us: i64| t.iter().filter(|x| **x <= us).count() as u16;
        for us in (0..5_000i64).chain([65_535, 65_536, 1 << 40, (1 << 40) - 1, i64::MAX]) {
            assert_eq!(by_thresholds(us), bucket(us), "{us}");
        }
        for x in &t {
            assert_eq!(by_thresholds(*x), bucket(*x));
            assert_eq!(by_thresholds(*x - 1), bucket(*x - 1));
        }
    }
}
