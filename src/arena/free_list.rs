//! The free runs of one span.
//!
//! Runs are keyed by their *end*: an allocation takes the front of a run and
//! a freed chunk most often joins the run after it (a linker's objects are
//! freed and reloaded at the same place), and both only move a run's start —
//! an update in place, with no tree node allocated or freed.

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};
use std::ops::Range;

/// A free run `start..end` (its end is the map key).
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    /// Pages inside the run have been returned to the OS since it was freed.
    clean: bool,
}

/// Free ranges of a span, coalesced, in arena offsets.
#[derive(Debug)]
pub(super) struct FreeList {
    runs: BTreeMap<usize, Run>,
}

impl FreeList {
    /// One clean run over a freshly mapped span.
    pub(super) fn new(span: Range<usize>) -> Self {
        let mut runs = BTreeMap::new();
        runs.insert(
            span.end,
            Run {
                start: span.start,
                clean: true,
            },
        );
        FreeList { runs }
    }

    /// First fit: takes `len` bytes aligned to `align` (a power of two) from
    /// the lowest run that holds them; returns their offset.
    pub(super) fn take(&mut self, len: usize, align: usize) -> Option<usize> {
        let (end, run, aligned) = self.runs.iter_mut().find_map(|(&end, run)| {
            let aligned = run.start.checked_add(align - 1)? & !(align - 1);
            (aligned.checked_add(len)? <= end).then_some((end, run, aligned))
        })?;
        let head = *run;
        let taken_end = aligned + len;
        if taken_end < end {
            run.start = taken_end;
        } else {
            self.runs.remove(&end);
        }
        if aligned > head.start {
            self.runs.insert(aligned, head);
        }
        Some(aligned)
    }

    /// Returns a range, merging it with the runs either side; the merged run
    /// holds resident pages (not clean).
    pub(super) fn insert(&mut self, range: Range<usize>) {
        let Range { start, end } = range;
        let merged_start = self.runs.remove(&start).map_or(start, |prev| prev.start);
        if let Some((_, next)) = self.runs.range_mut((Excluded(end), Unbounded)).next() {
            if next.start == end {
                next.start = merged_start;
                next.clean = false;
                return;
            }
        }
        self.runs.insert(
            end,
            Run {
                start: merged_start,
                clean: false,
            },
        );
    }

    /// Marks the run holding `range` as having resident pages; false if no
    /// single run holds it.
    pub(super) fn mark_dirty(&mut self, range: &Range<usize>) -> bool {
        match self.runs.range_mut(range.end..).next() {
            Some((_, run)) if run.start <= range.start => {
                run.clean = false;
                true
            }
            _ => false,
        }
    }

    /// Marks every run clean and returns those that were not: their pages
    /// are about to be returned to the OS.
    pub(super) fn take_dirty(&mut self) -> impl Iterator<Item = Range<usize>> + '_ {
        self.runs
            .iter_mut()
            .filter(|(_, run)| !run.clean)
            .map(|(&end, run)| {
                run.clean = true;
                run.start..end
            })
    }

    /// The runs as `(start, end)`, in order.
    #[cfg(test)]
    fn runs(&self) -> Vec<(usize, usize)> {
        self.runs
            .iter()
            .map(|(&end, run)| (run.start, end))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The model: one flag per 16-byte granule of a span at offset `BASE`.
    const BASE: usize = 1 << 21;
    const GRANULES: usize = 256;

    /// The lowest offset aligned to `align` where `len` free bytes start.
    fn model_fit(free: &[bool], len: usize, align: usize) -> Option<usize> {
        (0..GRANULES)
            .map(|g| BASE + g * 16)
            .filter(|o| o % align == 0)
            .find(|&o| {
                let (first, n) = ((o - BASE) / 16, len / 16);
                first + n <= GRANULES && free[first..first + n].iter().all(|&f| f)
            })
    }

    proptest! {
        /// Random takes and returns agree with the model: first fit, and the
        /// runs are exactly the free granules, coalesced.
        #[test]
        fn agrees_with_a_granule_model(
            ops in proptest::collection::vec((any::<bool>(), 1usize..64, 0u32..8, any::<usize>()), 1..200)
        ) {
            let mut list = FreeList::new(BASE..BASE + GRANULES * 16);
            let mut free = vec![true; GRANULES];
            let mut taken: Vec<(usize, usize)> = Vec::new();
            for (take, granules, align_log2, pick) in ops {
                if take || taken.is_empty() {
                    let (len, align) = (granules * 16, 16 << align_log2);
                    let got = list.take(len, align);
                    prop_assert_eq!(got, model_fit(&free, len, align));
                    if let Some(o) = got {
                        free[(o - BASE) / 16..(o - BASE + len) / 16].fill(false);
                        taken.push((o, len));
                    }
                } else {
                    let (o, len) = taken.swap_remove(pick % taken.len());
                    list.insert(o..o + len);
                    free[(o - BASE) / 16..(o - BASE + len) / 16].fill(true);
                }
                let mut expected = Vec::new();
                for (g, &f) in free.iter().enumerate() {
                    let at = BASE + g * 16;
                    match expected.last_mut() {
                        Some((_, end)) if f && *end == at => *end += 16,
                        _ if f => expected.push((at, at + 16)),
                        _ => {}
                    }
                }
                prop_assert_eq!(list.runs(), expected);
            }
        }
    }

    #[test]
    fn freed_chunks_coalesce_with_both_neighbours() {
        let mut free = FreeList::new(0..64);
        assert_eq!(free.take(16, 16), Some(0));
        assert_eq!(free.take(16, 16), Some(16));
        assert_eq!(free.take(16, 16), Some(32));
        free.insert(0..16);
        free.insert(32..48);
        assert_eq!(free.runs(), vec![(0, 16), (32, 64)]);
        free.insert(16..32);
        assert_eq!(free.runs(), vec![(0, 64)]);
    }

    #[test]
    fn alignment_leaves_the_gap_free() {
        let mut free = FreeList::new(16..128);
        assert_eq!(free.take(16, 64), Some(64));
        assert_eq!(free.runs(), vec![(16, 64), (80, 128)]);
        // First fit: the gap serves a request it can hold.
        assert_eq!(free.take(48, 16), Some(16));
        assert_eq!(free.runs(), vec![(80, 128)]);
        assert_eq!(free.take(64, 16), None);
        assert_eq!(free.take(48, 16), Some(80));
        assert_eq!(free.runs(), vec![]);
    }

    #[test]
    fn dirty_runs_are_reported_once() {
        let mut free = FreeList::new(0..4096);
        assert_eq!(free.take_dirty().count(), 0);
        assert_eq!(free.take(1024, 16), Some(0));
        free.insert(0..1024);
        assert_eq!(free.take_dirty().collect::<Vec<_>>(), vec![0..4096]);
        assert_eq!(free.take_dirty().count(), 0);
        assert!(free.mark_dirty(&(100..200)));
        assert!(!free.mark_dirty(&(4000..5000)));
        assert_eq!(free.take_dirty().collect::<Vec<_>>(), vec![0..4096]);
    }
}
