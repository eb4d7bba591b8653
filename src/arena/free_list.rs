//! The free runs of one span.
//!
//! Runs are keyed by their *end*: an allocation takes the front of a run and
//! a freed chunk most often joins the run after it (a linker's objects are
//! freed and reloaded at the same place), and both only move a run's start.
//! A second index orders the runs by length, so that an allocation never
//! walks past runs too short for it: the runs an object leaves behind
//! (alignment gaps, sub-page tails of page-aligned segments) would otherwise
//! make every later allocation cost more the more objects are live.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound::{Excluded, Unbounded};
use std::ops::Range;

/// A free run `start..end` (its end is the map key).
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    /// Pages inside the run have been returned to the OS since it was freed.
    clean: bool,
    /// Where the run's never-handed-out part begins (its end if it has
    /// none): below it a chunk was handed out before, so another thread may
    /// have run code there.
    fresh_from: usize,
}

/// How many runs of about the right length [`FreeList::take`] tries at
/// most before it takes a longer one that fits at any alignment.
pub(super) const MISALIGNED_TRIES: usize = 8;

/// Free ranges of a span, coalesced, in arena offsets.
#[derive(Debug)]
pub(super) struct FreeList {
    runs: BTreeMap<usize, Run>,
    /// `(len, end)` of every run: best fit, the lowest run among equals.
    by_len: BTreeSet<(usize, usize)>,
}

impl FreeList {
    /// One clean run over a freshly mapped span.
    pub(super) fn new(span: Range<usize>) -> Self {
        let mut list = FreeList {
            runs: BTreeMap::new(),
            by_len: BTreeSet::new(),
        };
        let fresh_from = span.start;
        list.add(span, true, fresh_from);
        list
    }

    /// The length of the longest run (0 if none).
    pub(super) fn longest(&self) -> usize {
        self.by_len.last().map_or(0, |&(len, _)| len)
    }

    fn add(&mut self, range: Range<usize>, clean: bool, fresh_from: usize) {
        self.by_len.insert((range.len(), range.end));
        self.runs.insert(
            range.end,
            Run {
                start: range.start,
                clean,
                fresh_from: fresh_from.clamp(range.start, range.end),
            },
        );
    }

    /// Best fit: takes `len` bytes aligned to `align` (a power of two) from
    /// the shortest run that holds them, the lowest of equally long ones;
    /// returns their offset, and whether the chunk lies (partly) where a
    /// chunk was handed out before. Runs shorter than `len` are never
    /// visited. Of the runs too short to fit whatever their alignment, at
    /// most [`MISALIGNED_TRIES`] are tried before the shortest run that does
    /// fit whatever its alignment (`len + align - 1` long): many runs of the
    /// right length at the wrong alignment cost no more than a few.
    pub(super) fn take(&mut self, len: usize, align: usize) -> Option<(usize, bool)> {
        let surely = len.checked_add(align - 1)?;
        let fit = |&(run_len, end): &(usize, usize)| {
            let aligned = (end - run_len).checked_add(align - 1)? & !(align - 1);
            (aligned.checked_add(len)? <= end).then_some((run_len, end, aligned))
        };
        let (run_len, end, aligned) = self
            .by_len
            .range((len, 0)..(surely, 0))
            .take(MISALIGNED_TRIES)
            .find_map(fit)
            .or_else(|| self.by_len.range((surely, 0)..).next().and_then(fit))?;
        self.by_len.remove(&(run_len, end));
        let taken_end = aligned + len;
        let head = if taken_end < end {
            let run = self.runs.get_mut(&end).expect("indexed run");
            let head = *run;
            run.start = taken_end;
            run.fresh_from = run.fresh_from.max(taken_end);
            self.by_len.insert((end - taken_end, end));
            head
        } else {
            self.runs.remove(&end).expect("indexed run")
        };
        if aligned > head.start {
            self.add(head.start..aligned, head.clean, head.fresh_from);
        }
        Some((aligned, aligned < head.fresh_from))
    }

    /// Returns a range, merging it with the runs either side; the merged run
    /// holds resident pages (not clean). `fresh`: no chunk was ever handed
    /// out in the range. A run's fresh part is a suffix, so the merged run is
    /// fresh from the first byte after which every byte is.
    pub(super) fn insert(&mut self, range: Range<usize>, fresh: bool) {
        let Range { start, end } = range;
        let next = match self.runs.range((Excluded(end), Unbounded)).next() {
            Some((&next_end, next)) if next.start == end => Some((next_end, next.fresh_from)),
            _ => None,
        };
        // Fresh from here on, right to left: the next run's fresh part, then
        // the range if all after it is fresh, then the previous run's part.
        let mut fresh_from = next.map_or(end, |(_, f)| f);
        if fresh && fresh_from == end {
            fresh_from = start;
        }
        let merged_start = match self.runs.remove(&start) {
            Some(prev) => {
                self.by_len.remove(&(start - prev.start, start));
                if fresh_from == start {
                    fresh_from = prev.fresh_from;
                }
                prev.start
            }
            None => start,
        };
        match next {
            Some((next_end, _)) => {
                self.by_len.remove(&(next_end - end, next_end));
                self.by_len.insert((next_end - merged_start, next_end));
                let run = self.runs.get_mut(&next_end).expect("indexed run");
                run.start = merged_start;
                run.clean = false;
                run.fresh_from = fresh_from;
            }
            None => self.add(merged_start..end, false, fresh_from),
        }
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

    /// The runs as `(start, end)`, in order; checks the length index holds
    /// exactly them.
    #[cfg(test)]
    fn runs(&self) -> Vec<(usize, usize)> {
        let by_len: BTreeSet<_> = self
            .runs
            .iter()
            .map(|(&end, run)| (end - run.start, end))
            .collect();
        assert_eq!(by_len, self.by_len, "length index out of step");
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

    /// The free granules as runs `(start, end)`, in order.
    fn model_runs(free: &[bool]) -> Vec<(usize, usize)> {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for (g, &f) in free.iter().enumerate() {
            let at = BASE + g * 16;
            match runs.last_mut() {
                Some((_, end)) if f && *end == at => *end += 16,
                _ if f => runs.push((at, at + 16)),
                _ => {}
            }
        }
        runs
    }

    /// Best fit: the first offset aligned to `align` with `len` free bytes in
    /// the shortest run that has one, the lowest of equally long runs; of
    /// the runs shorter than `len + align - 1`, only the first
    /// `MISALIGNED_TRIES` are tried.
    fn model_fit(free: &[bool], len: usize, align: usize) -> Option<usize> {
        let mut runs = model_runs(free);
        runs.sort_by_key(|&(start, end)| (end - start, end));
        let fit = |&(start, end): &(usize, usize)| {
            let aligned = start.next_multiple_of(align);
            (aligned + len <= end).then_some(aligned)
        };
        let long_enough = runs.iter().filter(|(s, e)| e - s >= len);
        let (short, long): (Vec<_>, Vec<_>) =
            long_enough.partition(|(s, e)| e - s < len + align - 1);
        short
            .into_iter()
            .take(MISALIGNED_TRIES)
            .find_map(fit)
            .or_else(|| long.first().and_then(|r| fit(r)))
    }

    proptest! {
        /// Random takes and returns agree with the model: best fit, and the
        /// runs are exactly the free granules, coalesced; a chunk over a
        /// granule handed out before is always reported as reused.
        #[test]
        fn agrees_with_a_granule_model(
            ops in proptest::collection::vec((any::<bool>(), 1usize..64, 0u32..8, any::<usize>()), 1..200)
        ) {
            let mut list = FreeList::new(BASE..BASE + GRANULES * 16);
            let mut free = vec![true; GRANULES];
            let mut handed_out = vec![false; GRANULES];
            let mut taken: Vec<(usize, usize)> = Vec::new();
            for (take, granules, align_log2, pick) in ops {
                if take || taken.is_empty() {
                    let (len, align) = (granules * 16, 16 << align_log2);
                    let got = list.take(len, align);
                    prop_assert_eq!(got.map(|(o, _)| o), model_fit(&free, len, align));
                    if let Some((o, reused)) = got {
                        let granules = (o - BASE) / 16..(o - BASE + len) / 16;
                        let before = handed_out[granules.clone()].iter().any(|&h| h);
                        prop_assert!(reused || !before, "reuse of {o:#x} not reported");
                        free[granules.clone()].fill(false);
                        // Now and then the upper half goes back at once,
                        // unused, as a reservation's tail does.
                        let kept = if pick % 3 == 0 { len / 32 * 16 } else { len };
                        if kept < len {
                            list.insert(o + kept..o + len, !reused);
                            free[(o - BASE + kept) / 16..granules.end].fill(true);
                        }
                        if kept > 0 {
                            handed_out[granules.start..(o - BASE + kept) / 16].fill(true);
                            taken.push((o, kept));
                        }
                    }
                } else {
                    let (o, len) = taken.swap_remove(pick % taken.len());
                    list.insert(o..o + len, false);
                    free[(o - BASE) / 16..(o - BASE + len) / 16].fill(true);
                }
                let expected = model_runs(&free);
                prop_assert_eq!(list.runs(), expected);
            }
        }
    }

    #[test]
    fn freed_chunks_coalesce_with_both_neighbours() {
        let mut free = FreeList::new(0..64);
        assert_eq!(free.take(16, 16), Some((0, false)));
        assert_eq!(free.take(16, 16), Some((16, false)));
        assert_eq!(free.take(16, 16), Some((32, false)));
        free.insert(0..16, false);
        free.insert(32..48, false);
        assert_eq!(free.runs(), vec![(0, 16), (32, 64)]);
        free.insert(16..32, false);
        assert_eq!(free.runs(), vec![(0, 64)]);
    }

    #[test]
    fn alignment_leaves_the_gap_free() {
        let mut free = FreeList::new(16..128);
        assert_eq!(free.take(16, 64), Some((64, false)));
        assert_eq!(free.runs(), vec![(16, 64), (80, 128)]);
        // Best fit: the gap serves a request it can hold.
        assert_eq!(free.take(48, 16), Some((16, false)));
        assert_eq!(free.runs(), vec![(80, 128)]);
        assert_eq!(free.take(64, 16), None);
        assert_eq!(free.take(48, 16), Some((80, false)));
        assert_eq!(free.runs(), vec![]);
    }

    #[test]
    fn dirty_runs_are_reported_once() {
        let mut free = FreeList::new(0..4096);
        assert_eq!(free.take_dirty().count(), 0);
        assert_eq!(free.take(1024, 16), Some((0, false)));
        free.insert(0..1024, false);
        assert_eq!(free.take_dirty().collect::<Vec<_>>(), vec![0..4096]);
        assert_eq!(free.take_dirty().count(), 0);
        assert!(free.mark_dirty(&(100..200)));
        assert!(!free.mark_dirty(&(4000..5000)));
        assert_eq!(free.take_dirty().collect::<Vec<_>>(), vec![0..4096]);
    }

    #[test]
    fn runs_too_short_are_skipped_and_the_shortest_fit_wins() {
        // Page-aligned takes of a page and a half leave a half-page run
        // behind each: a page-long request passes them all.
        let mut free = FreeList::new(0..64 * 4096);
        for _ in 0..8 {
            let (at, _) = free.take(6144, 4096).unwrap();
            assert_eq!(at % 4096, 0);
        }
        assert_eq!(free.runs().len(), 8);
        assert_eq!(free.take(4096, 4096), Some((16 * 4096, false)));
        // A request a short run can hold goes there, not to the long tail.
        assert_eq!(free.take(2048, 16), Some((6144, false)));
    }

    #[test]
    fn only_addresses_handed_out_before_count_as_reused() {
        let mut free = FreeList::new(0..4096);
        assert_eq!(free.take(64, 16), Some((0, false)));
        assert_eq!(free.take(64, 16), Some((64, false)));
        // Freed next to the never-used tail: the tail stays fresh.
        free.insert(64..128, false);
        assert_eq!(free.take(32, 16), Some((64, true)));
        assert_eq!(free.take(64, 16), Some((96, true)));
        assert_eq!(free.take(64, 16), Some((160, false)));
    }

    #[test]
    fn many_misaligned_runs_cost_a_few_tries() {
        // Twelve freed page-long chunks between live guards, none on a page
        // boundary, then a long tail: a page-aligned page goes to the tail.
        let page = 4096;
        let mut free = FreeList::new(0..64 * page);
        let mut pages = Vec::new();
        for _ in 0..12 {
            free.take(16, 16).unwrap();
            pages.push(free.take(page, 16).unwrap().0);
        }
        let (tail, _) = free.take(16, 16).unwrap();
        for at in pages {
            free.insert(at..at + page, false);
        }
        assert_eq!(free.runs().len(), 13);
        assert_eq!(
            free.take(page, page),
            Some((tail.next_multiple_of(page), false))
        );
    }
}
