//! String arenas and interners: many short strings in one buffer, looked up in O(1).

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::error::{Error, Result};

/// Many strings packed into one buffer, addressed by dense `u32` index.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct StrArena {
    bytes: String,
    /// `ends[i]` is the end offset of string `i`; it starts at `ends[i - 1]` (or 0).
    ends: Vec<u32>,
}

impl StrArena {
    pub(crate) fn with_capacity(strings: usize, bytes: usize) -> Self {
        StrArena {
            bytes: String::with_capacity(bytes),
            ends: Vec::with_capacity(strings),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn push(&mut self, s: &str) -> Result<u32> {
        let index = u32::try_from(self.ends.len())
            .map_err(|_| Error::Capacity("more than 4,294,967,295 strings in one column".into()))?;
        let end = u32::try_from(self.bytes.len() + s.len())
            .map_err(|_| Error::Capacity("more than 4 GiB of id text in one column".into()))?;
        self.bytes.push_str(s);
        self.ends.push(end);
        Ok(index)
    }

    /// Drops strings `len..`.
    pub(crate) fn truncate(&mut self, len: usize) {
        if len < self.ends.len() {
            let end = if len == 0 {
                0
            } else {
                self.ends[len - 1] as usize
            };
            self.bytes.truncate(end);
            self.ends.truncate(len);
        }
    }

    /// Keeps strings `first..` only where `keep[i - first]`; earlier strings are untouched.
    pub(crate) fn retain_tail(&mut self, first: usize, keep: &[bool]) -> Result<()> {
        let kept: Vec<String> = (first..self.len())
            .filter(|&i| keep.get(i - first).copied().unwrap_or(false))
            .map(|i| self.get(i as u32).to_owned())
            .collect();
        self.truncate(first);
        for s in &kept {
            self.push(s)?;
        }
        Ok(())
    }

    pub(crate) fn get(&self, index: u32) -> &str {
        let i = index as usize;
        let end = self.ends.get(i).copied().unwrap_or(0) as usize;
        let start = if i == 0 {
            0
        } else {
            self.ends.get(i - 1).copied().unwrap_or(0) as usize
        };
        self.bytes.get(start..end).unwrap_or("")
    }

    /// Heap bytes used.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * size_of::<u32>()
    }

    /// A new arena holding the strings in the order of `order`.
    pub(crate) fn permuted(&self, order: &[u32]) -> Result<StrArena> {
        let mut out = StrArena::with_capacity(order.len(), self.bytes.len());
        for &i in order {
            out.push(self.get(i))?;
        }
        Ok(out)
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
        self.ends.shrink_to_fit();
    }
}

/// Interns strings: each distinct string gets the next dense `u32` index.
///
/// The table keeps 32 bits of each string's hash beside its index, so growing
/// the table never re-reads the strings and most probes are settled without
/// touching the arena (the cache misses that dominate interning at scale).
#[derive(Clone, Default)]
pub(crate) struct Interner {
    arena: StrArena,
    /// (index into `arena`, 32-bit hash of the string)
    table: HashTable<(u32, u32)>,
    hasher: DefaultHashBuilder,
}

/// Spreads a stored 32-bit hash over the 64 bits hashbrown uses for bucket
/// (low bits) and tag (top 7 bits): the 32 bits go low, and a multiplicative
/// mix of them fills the top.
fn table_hash(h32: u32) -> u64 {
    let mixed = u64::from(h32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed & 0xFFFF_FFFF_0000_0000) | u64::from(h32)
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner")
            .field("len", &self.arena.len())
            .finish()
    }
}

impl Interner {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Interner {
            arena: StrArena::with_capacity(n, n * 8),
            table: HashTable::with_capacity(n),
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// Reserves room for `additional` more strings of about `bytes_each` bytes.
    pub(crate) fn reserve(&mut self, additional: usize, bytes_each: usize) {
        self.arena.bytes.reserve(additional * bytes_each);
        self.arena.ends.reserve(additional);
        self.table.reserve(additional, |&(_, hi)| table_hash(hi));
    }

    pub(crate) fn len(&self) -> usize {
        self.arena.len()
    }

    fn hash32(&self, s: &str) -> u32 {
        (self.hasher.hash_one(s) >> 32) as u32
    }

    /// The index of `s`, if interned.
    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        let h = self.hash32(s);
        self.table
            .find(table_hash(h), |&(i, hi)| hi == h && self.arena.get(i) == s)
            .map(|&(i, _)| i)
    }

    /// Interns `s`, returning its index and whether it was new.
    pub(crate) fn intern(&mut self, s: &str) -> Result<(u32, bool)> {
        let h = self.hash32(s);
        let hash = table_hash(h);
        if let Some(&(i, _)) = self
            .table
            .find(hash, |&(i, hi)| hi == h && self.arena.get(i) == s)
        {
            return Ok((i, false));
        }
        let index = self.arena.push(s)?;
        self.table
            .insert_unique(hash, (index, h), |&(_, hi)| table_hash(hi));
        Ok((index, true))
    }

    /// Appends a string known to be new without indexing it: later `get`/`intern`
    /// calls will not find it. For bulk loads of ids unique by construction.
    pub(crate) fn push_unindexed(&mut self, s: &str) -> Result<u32> {
        self.arena.push(s)
    }

    /// Adds arena string `index` (appended with [`Interner::push_unindexed`]) to the index.
    /// The caller guarantees it is not equal to an indexed string.
    pub(crate) fn index_existing(&mut self, index: u32) {
        let h = self.hash32(self.arena.get(index));
        self.index_hashed(index, h);
    }

    /// [`index_existing`](Self::index_existing) with the string's
    /// [`index_hash`](Self::index_hash) already worked out (say on other threads).
    pub(crate) fn index_hashed(&mut self, index: u32, h: u32) {
        self.table
            .insert_unique(table_hash(h), (index, h), |&(_, hi)| table_hash(hi));
    }

    /// The hash the index files `s` under.
    pub(crate) fn index_hash(&self, s: &str) -> u32 {
        self.hash32(s)
    }

    /// Drops strings `len..`, which must not be indexed.
    pub(crate) fn truncate_unindexed(&mut self, len: usize) {
        self.arena.truncate(len);
    }

    /// Keeps unindexed strings `first..` where `keep[i - first]`.
    pub(crate) fn retain_unindexed_tail(&mut self, first: usize, keep: &[bool]) -> Result<()> {
        self.arena.retain_tail(first, keep)
    }

    pub(crate) fn resolve(&self, index: u32) -> &str {
        self.arena.get(index)
    }

    pub(crate) fn arena(&self) -> &StrArena {
        &self.arena
    }

    pub(crate) fn into_arena(self) -> StrArena {
        self.arena
    }

    /// Heap bytes used, including the hash table.
    pub(crate) fn heap_bytes(&self) -> usize {
        // hashbrown stores one (index, hash) pair and one control byte per bucket.
        self.arena.heap_bytes() + self.table.capacity() * (size_of::<(u32, u32)>() + 1)
    }
}

/// A small dictionary of distinct values, addressed by `u16` code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Dictionary<T> {
    values: Vec<T>,
}

impl<T> Default for Dictionary<T> {
    fn default() -> Self {
        Dictionary { values: Vec::new() }
    }
}

impl<T: PartialEq + Clone> Dictionary<T> {
    pub(crate) fn code(&mut self, value: &T) -> Result<u16> {
        if let Some(i) = self.values.iter().position(|v| v == value) {
            return Ok(i as u16);
        }
        let code = u16::try_from(self.values.len()).map_err(|_| {
            Error::Capacity("more than 65,535 distinct labels in one column".into())
        })?;
        self.values.push(value.clone());
        Ok(code)
    }

    pub(crate) fn get(&self, code: u16) -> Option<&T> {
        self.values.get(code as usize)
    }

    pub(crate) fn values(&self) -> &[T] {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_round_trips() {
        let mut i = Interner::with_capacity(2);
        assert_eq!(i.intern("00001").unwrap(), (0, true));
        assert_eq!(i.intern("1").unwrap(), (1, true));
        assert_eq!(i.intern("00001").unwrap(), (0, false));
        for n in 0..1000 {
            i.intern(&format!("id{n}")).unwrap();
        }
        assert_eq!(i.get("00001"), Some(0));
        assert_eq!(i.get("id999"), Some(1001));
        assert_eq!(i.resolve(1001), "id999");
        assert_eq!(i.get("nope"), None);
        assert_eq!(i.resolve(99_999), "");
    }
}
