//! Union–find over record positions, the disjoint-set structure under
//! clustering and unlinking (Tarjan 1975).

/// Union–find over `0..n` with union by size and path halving.
pub(super) struct UnionFind {
    parent: Vec<usize>,
    pub(super) size: Vec<usize>,
}

impl UnionFind {
    pub(super) fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n).collect(),
            size: vec![1; n],
        }
    }

    /// Callers pass indices below `n` only.
    pub(super) fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    /// Joins two roots; returns the new root.
    pub(super) fn union_roots(&mut self, a: usize, b: usize) -> usize {
        let (big, small) = if self.size[a] >= self.size[b] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small] = big;
        self.size[big] += self.size[small];
        big
    }
}
