//! The heap of one class: its spans, their free runs, and its residency.

use std::collections::BTreeMap;
use std::ops::Range;

use super::blocks::BLOCK_SIZE;
use super::free_list::FreeList;
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

/// The spans of a class, by start offset.
#[derive(Debug, Default)]
struct Spans(BTreeMap<usize, Span>);

impl Spans {
    /// The span holding an arena offset, and its start.
    fn holding(&mut self, offset: usize) -> (usize, &mut Span) {
        let (&start, span) = self
            .0
            .range_mut(..=offset)
            .next_back()
            .expect("chunk belongs to a span");
        (start, span)
    }
}

impl FreeRuns for Spans {
    fn mark_dirty(&mut self, range: &Range<usize>) -> bool {
        match self.0.range_mut(..=range.start).next_back() {
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
        self.spans.0.iter().map(|(&start, s)| start..start + s.len)
    }

    /// The lowest span that holds the chunk (best fit within it).
    /// Also says whether the chunk lies (partly) where a chunk was handed
    /// out before.
    pub(super) fn take(&mut self, len: usize, align: usize) -> Option<(Range<usize>, bool)> {
        let (start, reused) = self.spans.0.values_mut().find_map(|span| {
            if span.free_bytes < len {
                return None;
            }
            let taken = span.free.take(len, align)?;
            span.free_bytes -= len;
            Some(taken)
        })?;
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
        self.spans.0.insert(start, span);
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
        let (span_start, span) = self.spans.holding(chunk.start);
        span.free.insert(
            chunk.clone(),
            matches!(origin, Origin::Unused { fresh: true }),
        );
        span.free_bytes += chunk.len();
        if span.free_bytes == span.len && !self.keeps_as_spare(span_start) {
            let span = self.spans.0.remove(&span_start).expect("span present");
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
        for span in self.spans.0.values_mut() {
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
        self.spans.0[&span_start].len == BLOCK_SIZE
            && !self
                .spans
                .0
                .iter()
                .any(|(&start, s)| start != span_start && s.free_bytes == s.len)
    }
}
