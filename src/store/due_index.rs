//! The DynamoDB table's due index (`due-index`): its partition key, and how due records are
//! spread over more than one value of it ([`DueShards`]).

use std::hash::Hasher;

use crate::change::ChangeId;

pub const DUE_INDEX: &str = "due-index";

/// The due index's partition key, and its value in an unsharded table.
pub(super) const DUE: &str = "due";

/// How many partition values the due index spreads due records over
/// (`GRAPHGATE_DUE_SHARDS`). Raise it only: records already due in a shard that a lower value
/// no longer names would not be swept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueShards(u8);

impl DueShards {
    pub const MAX: u8 = 32;

    /// `None` unless `n` is 1 to [`DueShards::MAX`].
    pub fn new(n: u8) -> Option<Self> {
        (1..=Self::MAX).contains(&n).then_some(Self(n))
    }

    /// The shard value of the record with ID `id`: an FNV hash of the ID, fixed by its
    /// specification (unlike std's hasher), so that every process and every release puts a
    /// record in the same shard.
    pub(super) fn of(self, id: &ChangeId) -> String {
        let mut hasher = fnv::FnvHasher::default();
        hasher.write(id.as_ref().as_bytes());
        shard_value((hasher.finish() % u64::from(self.0)) as u8)
    }

    pub(super) fn values(self) -> impl Iterator<Item = String> {
        (0..self.0).map(shard_value)
    }
}

impl Default for DueShards {
    fn default() -> Self {
        Self(1)
    }
}

/// The due index's partition value of shard `n`; the first is the value of an unsharded table.
fn shard_value(n: u8) -> String {
    match n {
        0 => DUE.to_owned(),
        n => format!("{DUE}#{n}"),
    }
}
