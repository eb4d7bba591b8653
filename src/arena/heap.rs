//! The heap of one class: its spans, their free runs, and its residency.

use std::collections::BTreeMap;
use std::ops::Range;

use super::blocks::BLOCK_SIZE;
use super::free_list::FreeList;
use super::longest_runs::LongestRuns;
use super::residency::{FreeRuns, Residency, LIMITS};

/// Where a chunk coming back to its heap comes from.
#[derive(Debug, Clone, Copy)]
pub(super) enum Origin {
    /// Freed by its object; `released` bytes of it already went back to the OS.
    Freed { released: usize },
    /// The unused tail of a reservation, never handed to a linker; `fresh`
    /// when no chunk was handed out there before the reservation either.
    Unused { fresh: bool },
}

/// One or more contiguous blocks given to the class.
#[derive(Debug)]
struct Span {
    len: usize,
    free: FreeList,
    free_bytes: usize,
}

/// The spans of a class, by start offset, indexed by their longest free
/// run: an allocation goes to the lowest span that can hold it without
/// visiting the others (a class may have hundreds of spans, most of them
/// full).
#[derive(Debug, Default)]
struct Spans {
    by_start: BTreeMap<usize, Span>,
    /// The longest free run of every span, by its first block.
    longest: LongestRuns,
}

/// How many spans whose longest run is long enough but maybe misaligned an
/// allocation tries before only spans where any alignment fits. One: each
/// try searches that span's own runs, cold in a JIT with many spans, and
/// the page-aligned requests where it matters (LLVM's debug-object copies)
/// fail in most spans; the next span tried surely fits.
const SPAN_MISALIGNED_TRIES: usize = 1;

/// A span's slot in the index: spans start on a block.
fn slot(start: usize) -> usize {
    debug_assert_eq!(start % BLOCK_SIZE, 0);
    start / BLOCK_SIZE
}

impl Spans {
    fn insert(&mut self, start: usize, span: Span) {
        self.longest.set(slot(start), span.free.longest());
        self.by_start.insert(start, span);
    }

    fn remove(&mut self, start: usize) -> Span {
        let span = self.by_start.remove(&start).expect("span present");
        self.longest.set(slot(start), 0);
        span
    }

    /// The start of the span holding an arena offset.
    fn holding(&self, offset: usize) -> usize {
        let (&start, _) = self
            .by_start
            .range(..=offset)
            .next_back()
            .expect("chunk belongs to a span");
        start
    }

    /// Changes the free runs of the span at `start`, keeping the index.
    fn update<R>(&mut self, start: usize, change: impl FnOnce(&mut Span) -> R) -> R {
        let span = self.by_start.get_mut(&start).expect("span present");
        let before = span.free.longest();
        let result = change(span);
        let after = span.free.longest();
        if after != before {
            self.longest.set(slot(start), after);
        }
        result
    }

    /// A chunk of `len` bytes at `align` from the lowest span whose longest
    /// run is long enough: only the index is searched, never a span too
    /// full to hold the chunk. Such a span may still fail at the wrong
    /// alignment; after [`SPAN_MISALIGNED_TRIES`] of those, only spans where
    /// any alignment fits are tried.
    fn take(&mut self, len: usize, align: usize) -> Option<(usize, bool)> {
        let surely = len.checked_add(align - 1)?;
        let (mut shortest, mut from) = (len, 0);
        let mut tries = 0;
        loop {
            let found = self.longest.lowest_holding(shortest, from)?;
            let start = found * BLOCK_SIZE;
            let taken = self.update(start, |span| {
                let taken = span.free.take(len, align)?;
                span.free_bytes -= len;
                Some(taken)
            });
            if taken.is_some() {
                return taken;
            }
            from = found + 1;
            tries += 1;
            if tries == SPAN_MISALIGNED_TRIES {
                (shortest, from) = (surely, 0);
            }
        }
    }
}

impl FreeRuns for Spans {
    fn mark_dirty(&mut self, range: &Range<usize>) -> bool {
        match self.by_start.range_mut(..=range.start).next_back() {
            Some((_, span)) => span.free.mark_dirty(range),
            None => false,
        }
    }
}

/// Whether a freed chunk of `len` bytes stays resident (may become hot)
/// rather than returning its whole pages at once.
pub(super) fn keeps_resident(len: usize) -> bool {
    len <= LIMITS.hot
}

/// The heap of one class.
#[derive(Debug)]
pub(super) struct ClassHeap {
    spans: Spans,
    /// Bytes handed out and not freed.
    live: usize,
    residency: Residency,
}

impl ClassHeap {
    pub(super) fn new(page: usize) -> ClassHeap {
        ClassHeap {
            spans: Spans::default(),
            live: 0,
            residency: Residency::new(page, LIMITS),
        }
    }

    /// Bytes handed out and not freed.
    pub(super) fn live(&self) -> usize {
        self.live
    }

    /// A freed chunk that never returns to the free list (see
    /// `Arena::free`): no longer live, never handed out again.
    pub(super) fn quarantine(&mut self, len: usize) {
        self.live -= len;
    }

    /// Every span, as arena offsets.
    pub(super) fn spans(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        self.spans
            .by_start
            .iter()
            .map(|(&start, s)| start..start + s.len)
    }

    /// A chunk from the lowest span that can hold it (see `Spans::take`),
    /// best fit within that span. Also says whether the chunk lies (partly)
    /// where a chunk was handed out before.
    pub(super) fn take(&mut self, len: usize, align: usize) -> Option<(Range<usize>, bool)> {
        let (start, reused) = self.spans.take(len, align)?;
        let chunk = start..start + len;
        self.residency.on_take(&chunk, &mut self.spans);
        self.live += len;
        Some((chunk, reused))
    }

    /// Adds a freshly mapped span and takes a chunk from it. The hot chunk
    /// stays hot: nothing of it was reused.
    pub(super) fn take_from_new_span(
        &mut self,
        span: Range<usize>,
        len: usize,
        align: usize,
    ) -> Range<usize> {
        let (start, span_len) = (span.start, span.len());
        let mut free = FreeList::new(span);
        let (chunk_start, _) = free.take(len, align).expect("a fresh span fits");
        let span = Span {
            len: span_len,
            free,
            free_bytes: span_len - len,
        };
        self.spans.insert(start, span);
        self.live += len;
        chunk_start..chunk_start + len
    }

    /// Takes a chunk back. Returns its span when that is now empty and
    /// should be unmapped (it has left the heap); otherwise sweeps when the
    /// residency policy says so, returning pages through `release`.
    pub(super) fn put_back(
        &mut self,
        chunk: Range<usize>,
        origin: Origin,
        release: impl FnMut(Range<usize>),
    ) -> Option<Range<usize>> {
        self.live -= chunk.len();
        let span_start = self.spans.holding(chunk.start);
        let fresh = matches!(origin, Origin::Unused { fresh: true });
        let empty = self.spans.update(span_start, |span| {
            span.free.insert(chunk.clone(), fresh);
            span.free_bytes += chunk.len();
            span.free_bytes == span.len
        });
        if empty && !self.keeps_as_spare(span_start) {
            let span = self.spans.remove(span_start);
            let span = span_start..span_start + span.len;
            self.residency.on_span_removed(&span, &mut self.spans);
            return Some(span);
        }
        match origin {
            Origin::Unused { .. } => self.residency.on_unused(&chunk),
            Origin::Freed { released } => self.residency.on_free(chunk, released, &mut self.spans),
        }
        if self.residency.sweep_due(self.live) {
            self.residency.begin_sweep();
            self.sweep(release);
        }
        None
    }

    /// Returns every free page now, the hot chunk's included.
    pub(super) fn trim(&mut self, release: impl FnMut(Range<usize>)) {
        self.residency.begin_trim(&mut self.spans);
        self.sweep(release);
    }

    /// Returns the releasable pages of every dirty free run.
    fn sweep(&mut self, mut release: impl FnMut(Range<usize>)) {
        for span in self.spans.by_start.values_mut() {
            for run in span.free.take_dirty() {
                for pages in self.residency.releasable(&run) {
                    if !pages.is_empty() {
                        release(pages);
                    }
                }
            }
        }
    }

    /// Whether an empty span should stay mapped: it is one block long and
    /// the class's only empty one-block span, kept so that a JIT freeing and
    /// loading around a block boundary does not map and unmap it each time.
    fn keeps_as_spare(&self, span_start: usize) -> bool {
        self.spans.by_start[&span_start].len == BLOCK_SIZE
            && !self
                .spans
                .by_start
                .iter()
                .any(|(&start, s)| start != span_start && s.free_bytes == s.len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ClassHeap {
        /// The span index holds exactly each span's longest run.
        fn check_index(&self) {
            let end = self.spans.by_start.keys().last().map_or(0, |&s| slot(s));
            for slot in 0..end + 8 {
                let span = self.spans.by_start.get(&(slot * BLOCK_SIZE));
                let expected = span.map_or(0, |span| span.free.longest());
                assert_eq!(self.spans.longest.get(slot), expected, "slot {slot}");
            }
        }
    }

    #[test]
    fn a_chunk_goes_to_the_lowest_span_whose_longest_run_holds_it() {
        let mut heap = ClassHeap::new(4096);
        let full = heap.take_from_new_span(0..BLOCK_SIZE, BLOCK_SIZE - 64, 16);
        let roomy = heap.take_from_new_span(BLOCK_SIZE..2 * BLOCK_SIZE, 16, 16);
        heap.check_index();
        // 64 bytes left in the first span: too few for 128.
        let (big, reused) = heap.take(128, 16).unwrap();
        assert!(!reused);
        assert_eq!(big.start, roomy.end);
        // 32 fit in both: the lower span.
        let (small, _) = heap.take(32, 16).unwrap();
        assert_eq!(small.start, full.end);
        heap.check_index();
        // Back again: the first span's run grows to 64, the index follows.
        assert_eq!(
            heap.put_back(small, Origin::Freed { released: 0 }, |_| {}),
            None
        );
        heap.check_index();
        assert_eq!(heap.take(64, 16).unwrap().0.start, full.end);
        assert_eq!(heap.take(4096, 4096).unwrap().0.start, BLOCK_SIZE + 4096);
        heap.check_index();
    }

    #[test]
    fn a_span_whose_long_run_is_misaligned_is_tried_once() {
        let mut heap = ClassHeap::new(4096);
        let whole = heap.take_from_new_span(0..BLOCK_SIZE, BLOCK_SIZE, 16);
        assert_eq!(whole, 0..BLOCK_SIZE);
        let _ = heap.take_from_new_span(BLOCK_SIZE..2 * BLOCK_SIZE, 16, 16);
        // 5000 free bytes at 5000: long enough for a page, but no page
        // boundary has a page of them after it.
        let freed = Origin::Freed { released: 0 };
        assert_eq!(heap.put_back(5000..10_000, freed, |_| {}), None);
        heap.check_index();
        // Page-aligned: the lower span fails, the next one that surely fits
        // takes it.
        assert_eq!(heap.take(4096, 4096).unwrap().0.start, BLOCK_SIZE + 4096);
        // A small alignment: the lower span.
        assert_eq!(heap.take(4096, 16).unwrap().0.start, 5008);
        heap.check_index();
    }
}
