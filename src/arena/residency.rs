//! What stays resident, what goes back to the OS, and when — for one class.
//!
//! Freed chunks keep their pages until enough have piled up ([`Limits`]):
//! returning pages costs a system call and a page fault for each page used
//! again, so a JIT that frees and loads in turn would pay both at every
//! object. Then a *sweep* returns the whole pages of every free run that
//! has resident pages (a *dirty* run; the free list keeps that flag), except
//! the pages of the *hot* chunk: the one freed last, if small, so that a
//! JIT freeing and reloading an object of the same size (a REPL redefining a
//! function, a cache evicting a module) gets the same pages back without a
//! fault. The hot chunk cools — becomes an ordinary freed range, counted
//! towards the next sweep — when another chunk is freed, when it is handed
//! out again (what is left of it), when its span goes, or at a trim.
//!
//! The policy decides; the class heap keeps the free runs and the arena's
//! views return the pages.

use std::ops::Range;

/// The thresholds of the policy.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Freed-but-resident bytes of a class after which a sweep runs.
    pub sweep: usize,
    /// The same once the class holds no live chunk: lower, so that a JIT
    /// that dropped everything keeps little resident, but not zero, so that
    /// one object loaded and freed over and over does not sweep each time.
    pub empty_sweep: usize,
    /// The longest chunk that may be hot; longer freed chunks return their
    /// whole pages at once rather than being trap-filled page by page.
    pub hot: usize,
}

/// The limits jitmm runs with: at most 2 MiB per class stays resident once
/// everything is freed, and `trim` returns that too.
pub(super) const LIMITS: Limits = Limits {
    sweep: 256 << 10,
    empty_sweep: 64 << 10,
    hot: 2 << 20,
};

/// The free runs of a class, as the policy sees them.
pub(super) trait FreeRuns {
    /// Marks the free run holding `range` as having resident pages; false
    /// when no free run holds it.
    fn mark_dirty(&mut self, range: &Range<usize>) -> bool;
}

/// The chunk freed last in a class.
#[derive(Debug, Clone)]
struct Hot {
    range: Range<usize>,
    /// A sweep ran since it was freed, so its run may be marked clean
    /// although its pages are resident. Until then the run holding it is
    /// dirty still (only a sweep marks runs clean).
    swept: bool,
}

/// The residency state of one class.
#[derive(Debug)]
pub(super) struct Residency {
    page: usize,
    limits: Limits,
    /// Bytes freed since the last sweep that it will return.
    dirty: usize,
    hot: Option<Hot>,
}

impl Residency {
    pub(super) fn new(page: usize, limits: Limits) -> Residency {
        Residency {
            page,
            limits,
            dirty: 0,
            hot: None,
        }
    }

    /// Whether a freed chunk of `len` bytes stays resident (may become hot)
    /// rather than returning its whole pages at once.
    pub(super) fn keeps_resident(&self, len: usize) -> bool {
        len <= self.limits.hot
    }

    /// A chunk was handed out at `used`: the hot chunk cools, all of it but
    /// what `used` covers.
    pub(super) fn on_take(&mut self, used: &Range<usize>, runs: &mut impl FreeRuns) {
        self.cool(Some(used), runs);
    }

    /// A span is gone (every chunk of it free, its pages unmapped): the hot
    /// chunk goes with it if it lay there.
    pub(super) fn on_span_removed(&mut self, span: &Range<usize>, runs: &mut impl FreeRuns) {
        self.cool(Some(span), runs);
    }

    /// A chunk freed by its object, `released` bytes of it returned to the
    /// OS already: it becomes hot if short enough, and the chunk hot before
    /// cools.
    pub(super) fn on_free(
        &mut self,
        chunk: Range<usize>,
        released: usize,
        runs: &mut impl FreeRuns,
    ) {
        self.cool(None, runs);
        if self.keeps_resident(chunk.len()) {
            self.hot = Some(Hot {
                range: chunk,
                swept: false,
            });
        } else {
            self.dirty += chunk.len() - released;
        }
    }

    /// The unused tail of a reservation came back: never written, so only
    /// its whole pages can be resident on their own, and the hot chunk stays.
    pub(super) fn on_unused(&mut self, chunk: &Range<usize>) {
        self.dirty += whole_pages(chunk, self.page).len();
    }

    /// Whether a sweep is due, with `live` bytes of the class handed out.
    pub(super) fn sweep_due(&self, live: usize) -> bool {
        let threshold = if live == 0 {
            self.limits.empty_sweep
        } else {
            self.limits.sweep
        };
        self.dirty >= threshold
    }

    /// Starts a sweep: from now on the hot chunk's run may read clean.
    pub(super) fn begin_sweep(&mut self) {
        if let Some(hot) = &mut self.hot {
            hot.swept = true;
        }
        self.dirty = 0;
    }

    /// Starts a trim: the hot chunk cools, so the sweep that follows returns
    /// every free page.
    pub(super) fn begin_trim(&mut self, runs: &mut impl FreeRuns) {
        self.cool(None, runs);
        self.begin_sweep();
    }

    /// The pages of a dirty free run that a sweep returns: its whole pages,
    /// but those the hot chunk touches.
    pub(super) fn releasable(&self, run: &Range<usize>) -> [Range<usize>; 2] {
        let pages = whole_pages(run, self.page);
        match &self.hot {
            Some(Hot { range: hot, .. }) if run.start <= hot.start && hot.end <= run.end => {
                let keep_start = round_down(hot.start, self.page);
                let keep_end = round_up(hot.end, self.page);
                [
                    pages.start..pages.end.min(keep_start),
                    pages.start.max(keep_end)..pages.end,
                ]
            }
            _ => [pages, 0..0],
        }
    }

    /// Makes the hot chunk an ordinary freed range again (minus `used`, a
    /// range now handed out), counted towards the next sweep: all of it
    /// when nothing was reused; of a remainder beside a reused part, only
    /// its whole pages, the rest sharing a page with the new chunk — so an
    /// object reloaded over a slightly larger freed one never sweeps.
    fn cool(&mut self, used: Option<&Range<usize>>, runs: &mut impl FreeRuns) {
        let Some(Hot { range: hot, swept }) = self.hot.take() else {
            return;
        };
        let remainders = match used {
            Some(used) if used.start < hot.end && hot.start < used.end => [
                hot.start..used.start.max(hot.start),
                used.end.min(hot.end)..hot.end,
            ]
            .map(|r| {
                let counted = whole_pages(&r, self.page).len();
                (r, counted)
            }),
            _ => [(hot.clone(), hot.len()), (0..0, 0)],
        };
        for (range, counted) in remainders {
            if !swept {
                self.dirty += counted;
            } else if !range.is_empty() && runs.mark_dirty(&range) {
                // A sweep marked its run clean while its pages stayed. Even
                // a remainder with no whole page of its own may hold the
                // last bytes of a page that is otherwise free (the sweep
                // kept every page the hot chunk touched): its run must be
                // swept again, though only whole pages count towards when.
                self.dirty += counted;
            }
        }
    }
}

/// The whole pages inside `range` (empty when there are none).
pub(super) fn whole_pages(range: &Range<usize>, page: usize) -> Range<usize> {
    let start = round_up(range.start, page);
    let end = round_down(range.end, page);
    start..end.max(start)
}

fn round_up(x: usize, to: usize) -> usize {
    x.checked_add(to - 1)
        .map_or(usize::MAX & !(to - 1), |x| x & !(to - 1))
}

fn round_down(x: usize, to: usize) -> usize {
    x & !(to - 1)
}

#[cfg(test)]
mod tests;
