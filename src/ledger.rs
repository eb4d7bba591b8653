//! The coherence ledger: a checker of the instruction-cache protocol,
//! independent of the architecture (cargo feature `coherence-ledger`, on in
//! the test suites and the cross-architecture runs; without it every call
//! here compiles to nothing).
//!
//! qemu-user never shows a stale instruction cache, so running there proves
//! little about flushing. The ledger proves the protocol instead, on every
//! target: code bytes that may have changed are *written*; the
//! architecture's maintenance, run through their executable address, makes
//! them *flushed* (each backend reports it only after its instructions or
//! system call succeeded); a publish to the other threads makes every
//! flushed range clean. Handing out code that is not clean, or reusing
//! freed code whose traps were never flushed, panics with the range and the
//! step that was skipped.

use std::ops::Range;

#[cfg(feature = "coherence-ledger")]
mod imp {
    use std::collections::BTreeMap;
    use std::ops::Range;

    use crate::sync::Mutex;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(super) enum State {
        Written,
        Flushed,
    }

    /// Ranges that are not clean, by start: `(end, state)`.
    static RANGES: Mutex<BTreeMap<usize, (usize, State)>> = Mutex::new(BTreeMap::new());

    /// Sets `range` to `state` (`None`: clean), splitting what overlaps it.
    pub(super) fn set(range: Range<usize>, state: Option<State>) {
        if range.is_empty() {
            return;
        }
        let mut ranges = RANGES.lock();
        let overlapping: Vec<(usize, (usize, State))> = ranges
            .range(..range.end)
            .rev()
            .take_while(|(_, &(end, _))| end > range.start)
            .map(|(&start, &v)| (start, v))
            .collect();
        for (start, (end, old)) in overlapping {
            ranges.remove(&start);
            if start < range.start {
                ranges.insert(start, (range.start, old));
            }
            if end > range.end {
                ranges.insert(range.end, (end, old));
            }
        }
        if let Some(state) = state {
            ranges.insert(range.start, (range.end, state));
        }
    }

    /// Marks every written part of `range` flushed.
    pub(super) fn flush(range: Range<usize>) {
        let written: Vec<Range<usize>> = overlapping(&range)
            .into_iter()
            .filter(|(_, s)| *s == State::Written)
            .map(|(r, _)| r.start.max(range.start)..r.end.min(range.end))
            .collect();
        for part in written {
            set(part, Some(State::Flushed));
        }
    }

    /// Makes every flushed range clean.
    pub(super) fn publish() {
        RANGES
            .lock()
            .retain(|_, (_, state)| *state != State::Flushed);
    }

    /// What is not clean within `range`.
    pub(super) fn overlapping(range: &Range<usize>) -> Vec<(Range<usize>, State)> {
        let ranges = RANGES.lock();
        let mut found: Vec<_> = ranges
            .range(..range.end)
            .rev()
            .take_while(|(_, &(end, _))| end > range.start)
            .map(|(&start, &(end, state))| (start..end, state))
            .collect();
        found.reverse();
        found
    }

    pub(super) fn lock_for_fork() {
        std::mem::forget(RANGES.lock());
    }

    /// # Safety
    /// Only after `lock_for_fork`, once.
    pub(super) unsafe fn unlock_after_fork() {
        // SAFETY: `lock_for_fork` took the lock and forgot its guard.
        unsafe { RANGES.force_unlock() };
    }
}

/// Code bytes at these executable addresses may have changed (handed to a
/// linker to write, or trap-filled).
#[inline]
pub(crate) fn written(exec: Range<usize>) {
    #[cfg(feature = "coherence-ledger")]
    imp::set(exec, Some(imp::State::Written));
    #[cfg(not(feature = "coherence-ledger"))]
    let _ = exec;
}

/// These addresses were never written after all (a reservation's unused
/// tail): nothing to flush.
#[inline]
pub(crate) fn unwritten(exec: Range<usize>) {
    #[cfg(feature = "coherence-ledger")]
    imp::set(exec, None);
    #[cfg(not(feature = "coherence-ledger"))]
    let _ = exec;
}

/// The architecture's maintenance for these executable addresses
/// succeeded (reported by each backend, after its instructions or call).
#[inline]
pub(crate) fn flushed(exec: Range<usize>) {
    #[cfg(feature = "coherence-ledger")]
    imp::flush(exec);
    #[cfg(not(feature = "coherence-ledger"))]
    let _ = exec;
}

/// Every other thread has seen every flushed range (or needs no step).
#[inline]
pub(crate) fn published() {
    #[cfg(feature = "coherence-ledger")]
    imp::publish();
}

/// Code at these addresses is about to be run: panics unless every byte was
/// flushed and published since it was last written.
#[inline]
pub(crate) fn handed_out(exec: Range<usize>) {
    #[cfg(feature = "coherence-ledger")]
    if let Some((range, state)) = imp::overlapping(&exec).into_iter().next() {
        let skipped = match state {
            imp::State::Written => "the flush through its executable address",
            imp::State::Flushed => "the publish to other threads",
        };
        panic!("coherence ledger: code at {range:#x?} handed out without {skipped}");
    }
    #[cfg(not(feature = "coherence-ledger"))]
    let _ = exec;
}

/// Freed code at these addresses is about to be handed to a linker again:
/// panics if its traps were never flushed (a stale caller could still run
/// the old code there).
#[inline]
pub(crate) fn reused(exec: Range<usize>) {
    #[cfg(feature = "coherence-ledger")]
    if let Some((range, _)) = imp::overlapping(&exec)
        .into_iter()
        .find(|(_, state)| *state == imp::State::Written)
    {
        panic!("coherence ledger: freed code at {range:#x?} reused without flushing its traps");
    }
    #[cfg(not(feature = "coherence-ledger"))]
    let _ = exec;
}

/// Holds the ledger's lock across fork() (see `crate::registry`).
#[inline]
pub(crate) fn lock_for_fork() {
    #[cfg(feature = "coherence-ledger")]
    imp::lock_for_fork();
}

/// Releases what [`lock_for_fork`] took.
///
/// # Safety
/// Only after `lock_for_fork`, once, in the parent or the child.
#[inline]
pub(crate) unsafe fn unlock_after_fork() {
    // SAFETY: guaranteed by the caller.
    #[cfg(feature = "coherence-ledger")]
    unsafe {
        imp::unlock_after_fork()
    };
}

#[cfg(all(test, feature = "coherence-ledger"))]
mod tests {
    use super::*;

    // Far from any arena: the ledger is process-wide. (Other tests publish
    // concurrently, which only ever cleans flushed ranges, so the checks
    // below hold whatever they do.)
    const AT: usize = usize::MAX / 2;

    #[test]
    #[should_panic(expected = "without the flush")]
    fn unflushed_code_is_caught() {
        written(AT..AT + 64);
        flushed(AT..AT + 32);
        published();
        handed_out(AT..AT + 64);
    }

    #[test]
    #[should_panic(expected = "reused without flushing its traps")]
    fn reuse_of_unflushed_traps_is_caught() {
        written(AT + 4096..AT + 4160);
        reused(AT + 4128..AT + 4192);
    }

    #[test]
    fn the_whole_protocol_passes() {
        written(AT + 8192..AT + 8256);
        flushed(AT + 8192..AT + 8256);
        published();
        handed_out(AT + 8192..AT + 8256);
        written(AT + 8192..AT + 8224);
        unwritten(AT + 8192..AT + 8224);
        reused(AT + 8192..AT + 8256);
    }
}
