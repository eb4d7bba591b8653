//! The longest free run of each span of a class, by block index, in a max
//! segment tree: the lowest span whose run holds a chunk is found in
//! logarithmic time, however many spans are too full to hold it (a JIT
//! with tens of thousands of modules loaded has hundreds of spans, most with
//! a short run left).
//!
//! Hand-written: the crates offering segment trees are small and little
//! kept, and this needs one query only.

/// Per slot (a span's first block), its longest free run; 0 for a slot
/// without a span.
#[derive(Debug, Default)]
pub(super) struct LongestRuns {
    /// A power of two (or 0 before the first span).
    leaves: usize,
    /// `tree[leaves + slot]` is a slot's run; every node below `leaves`
    /// holds the larger of its two children; `tree[0]` is unused.
    tree: Vec<usize>,
}

impl LongestRuns {
    /// Sets the run of a slot, growing the tree to hold it.
    pub(super) fn set(&mut self, slot: usize, run: usize) {
        if slot >= self.leaves {
            self.grow(slot + 1);
        }
        let mut node = self.leaves + slot;
        self.tree[node] = run;
        while node > 1 {
            node /= 2;
            self.tree[node] = self.tree[2 * node].max(self.tree[2 * node + 1]);
        }
    }

    /// The run of a slot (0: no span there).
    #[cfg(test)]
    pub(super) fn get(&self, slot: usize) -> usize {
        if slot < self.leaves {
            self.tree[self.leaves + slot]
        } else {
            0
        }
    }

    /// The lowest slot at `from` or above whose run is at least `len`
    /// (`len` > 0).
    pub(super) fn lowest_holding(&self, len: usize, from: usize) -> Option<usize> {
        debug_assert!(len > 0);
        if self.leaves == 0 {
            return None;
        }
        self.lowest_in(1, 0..self.leaves, len, from)
    }

    /// [`Self::lowest_holding`] within the subtree of `node`, which covers
    /// `slots`.
    fn lowest_in(
        &self,
        node: usize,
        slots: std::ops::Range<usize>,
        len: usize,
        from: usize,
    ) -> Option<usize> {
        if slots.end <= from || self.tree[node] < len {
            return None;
        }
        if slots.len() == 1 {
            return Some(slots.start);
        }
        let mid = slots.start + slots.len() / 2;
        self.lowest_in(2 * node, slots.start..mid, len, from)
            .or_else(|| self.lowest_in(2 * node + 1, mid..slots.end, len, from))
    }

    /// Makes room for `slots` slots (amortised: the leaves at least double).
    fn grow(&mut self, slots: usize) {
        let leaves = slots.next_power_of_two().max(8).max(2 * self.leaves);
        let mut tree = vec![0; 2 * leaves];
        if self.leaves > 0 {
            tree[leaves..leaves + self.leaves].copy_from_slice(&self.tree[self.leaves..]);
        }
        for node in (1..leaves).rev() {
            tree[node] = tree[2 * node].max(tree[2 * node + 1]);
        }
        (self.leaves, self.tree) = (leaves, tree);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_the_lowest_slot_whose_run_is_long_enough() {
        let mut runs = LongestRuns::default();
        assert_eq!(runs.lowest_holding(1, 0), None);
        runs.set(3, 100);
        runs.set(9, 500);
        runs.set(20, 300);
        assert_eq!(runs.lowest_holding(50, 0), Some(3));
        assert_eq!(runs.lowest_holding(200, 0), Some(9));
        assert_eq!(runs.lowest_holding(400, 10), None);
        assert_eq!(runs.lowest_holding(200, 10), Some(20));
        assert_eq!(runs.lowest_holding(501, 0), None);
        runs.set(9, 0);
        assert_eq!(runs.lowest_holding(200, 0), Some(20));
        assert_eq!(runs.get(20), 300);
        assert_eq!(runs.get(1000), 0);
    }

    proptest! {
        /// Against a plain scan, through growth and updates.
        #[test]
        fn agrees_with_a_scan(
            sets in prop::collection::vec((0usize..300, 0usize..64), 1..80),
            len in 1usize..64,
            from in 0usize..320,
        ) {
            let mut runs = LongestRuns::default();
            let mut plain = vec![0usize; 300];
            for (slot, run) in sets {
                runs.set(slot, run);
                plain[slot] = run;
            }
            let scanned = (from..plain.len()).find(|&slot| plain[slot] >= len);
            prop_assert_eq!(runs.lowest_holding(len, from), scanned);
        }
    }
}
