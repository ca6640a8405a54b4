//! Stand-in for `history::feed` until it lands (same shape as the contract).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::fmt;
use std::str::FromStr;

use history::{Event, HistoryStore, StoreError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ChangeToken(u64);
impl ChangeToken {
    pub const START: ChangeToken = ChangeToken(0);
    pub fn from_seq(seq: u64) -> Self {
        ChangeToken(seq)
    }
    pub fn seq(self) -> u64 {
        self.0
    }
}
impl fmt::Display for ChangeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl FromStr for ChangeToken {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(ChangeToken)
    }
}
impl Serialize for ChangeToken {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for ChangeToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
#[derive(Clone, Debug)]
pub struct Change {
    pub token: ChangeToken,
    pub event: Event,
}
#[derive(Clone, Debug)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    pub next: ChangeToken,
}
pub trait FeedExt {
    fn changes_after(&self, after: ChangeToken, limit: usize) -> Result<ChangePage, StoreError>;
    fn latest_change(&self) -> Result<ChangeToken, StoreError>;
}
impl<S: HistoryStore + ?Sized> FeedExt for S {
    fn changes_after(&self, _: ChangeToken, _: usize) -> Result<ChangePage, StoreError> {
        Err(StoreError::Backend("no feed yet".into()))
    }
    fn latest_change(&self) -> Result<ChangeToken, StoreError> {
        Err(StoreError::Backend("no feed yet".into()))
    }
}
