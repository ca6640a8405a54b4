//! The store conformance suite: one set of checks every [`HistoryStore`] must pass.
//!
//! [`Query::matches`] is the meaning of every filter; the suite writes a varied data set,
//! asks the store, and compares its answers with a plain computation over the same data.
//! Enabled by the `conformance` feature. A backend's tests run it with one line:
//!
//! ```ignore
//! history::conformance_tests!(|| history::MemoryStore::new());
//! ```
//!
//! The closure makes a fresh store for each case. When the store needs something kept alive
//! (a temporary directory), return a [`Guarded`] holding both.

mod capability_cases;
mod data;
mod feed_cases;
mod query_cases;
mod state_cases;

use crate::event::Event;
use crate::store::{HistoryStore, Query};

pub use capability_cases::{
    diff_of_stored_events, export_round_trip, retention_rules_with_dry_run,
    stats_agree_with_naive_computation,
};
pub use data::{base_time, sample_events, Rng};
pub use feed_cases::{
    changes_in_commit_order, changes_limit_is_validated, changes_under_concurrent_writers,
    final_state_wins_in_the_feed, follow, retention_removes_changes,
};
pub use query_cases::{
    count_agrees_with_matches, cursor_pages_survive_concurrent_inserts,
    cursor_pages_without_duplicates_or_gaps, every_filter_agrees_with_matches,
    get_returns_what_was_written, invalid_queries_are_rejected, limit_is_respected,
    ordering_both_ways_with_ties, total_counts_every_match, upsert_is_idempotent,
};
pub use state_cases::final_state_wins;

/// What a conformance case is given: a store, possibly with something that must outlive it.
pub trait Fixture {
    /// The store under test.
    type Store: HistoryStore;
    /// The store under test.
    fn store(&self) -> &Self::Store;
}

impl<S: HistoryStore> Fixture for S {
    type Store = S;
    fn store(&self) -> &S {
        self
    }
}

/// A store and a guard kept alive as long as it (e.g. a `tempfile::TempDir`).
#[derive(Debug)]
pub struct Guarded<S, G> {
    /// The store under test.
    pub store: S,
    /// Dropped after the case, never used.
    pub guard: G,
}

impl<S: HistoryStore, G> Fixture for Guarded<S, G> {
    type Store = S;
    fn store(&self) -> &S {
        &self.store
    }
}

/// Generates one `#[test]` per conformance case, each with a fresh store from `$make`
/// (a closure returning a [`HistoryStore`] or a [`Guarded`] one).
///
/// `conformance_tests!(optional $make)` takes a closure returning an `Option` of one: `None`
/// skips the case (for a backend whose server is not there; the closure says why).
#[macro_export]
macro_rules! conformance_tests {
    (optional $make:expr) => {
        $crate::conformance_tests!(@all (optional) $make);
    };
    ($make:expr) => {
        $crate::conformance_tests!(@all () $make);
    };
    (@all $mode:tt $make:expr) => {
        $crate::conformance_tests!(@cases $mode $make;
            upsert_is_idempotent,
            get_returns_what_was_written,
            every_filter_agrees_with_matches,
            ordering_both_ways_with_ties,
            limit_is_respected,
            invalid_queries_are_rejected,
            cursor_pages_without_duplicates_or_gaps,
            cursor_pages_survive_concurrent_inserts,
            count_agrees_with_matches,
            total_counts_every_match,
            stats_agree_with_naive_computation,
            retention_rules_with_dry_run,
            export_round_trip,
            diff_of_stored_events,
            final_state_wins,
            changes_in_commit_order,
            final_state_wins_in_the_feed,
            retention_removes_changes,
            changes_limit_is_validated,
            changes_under_concurrent_writers,
        );
    };
    (@cases () $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let fixture = ($make)();
                $crate::conformance::$case($crate::conformance::Fixture::store(&fixture));
            }
        )*
    };
    (@cases (optional) $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let Some(fixture) = ($make)() else { return };
                $crate::conformance::$case($crate::conformance::Fixture::store(&fixture));
            }
        )*
    };
}

/// Every event matching `query`, read page by page through its cursor.
pub fn collect_pages(store: &dyn HistoryStore, query: &Query) -> Vec<Event> {
    let mut q = query.clone();
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let page = store.query(&q).expect("query");
        assert!(page.items.len() <= q.limit, "page larger than the limit");
        out.extend(page.items);
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
    panic!("more than 100,000 pages: the cursor does not advance");
}

/// `data` filtered by `query` and sorted in its order: what a store must answer.
pub fn expected(data: &[Event], query: &Query) -> Vec<Event> {
    let mut v: Vec<Event> = data.iter().filter(|e| query.matches(e)).cloned().collect();
    v.sort_by_key(|e| (e.started_at, e.id));
    if query.order == crate::store::Order::NewestFirst {
        v.reverse();
    }
    v
}
