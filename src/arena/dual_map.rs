//! DualMap: code and read-only blocks are a memfd mapped twice — the final
//! view (RX or R) inside the reservation, a writable view at the same
//! offset of a mirror reservation — so no page is ever writable and
//! executable, and finalize needs no system call. Read-write data is
//! private anonymous memory, as under Mprotect.
//!
//! The writable views carry MADV_DONTFORK, so a forked child inherits no way
//! to write the parent's code; the fork handler then gives the child its own
//! memfd ([`Views::rebuild_after_fork`]).

use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

use super::views::{self, os_error, Views, GRANULE};
use super::Class;
use crate::error::{Op, Result};
use crate::icache::{self, TRAP_PATTERN};
use crate::os::{self, Prot, Reservation};
use crate::strategy::Strategy;

const STRATEGY: Strategy = Strategy::DualMap;

/// The memfd behind the views. Replaced only in a forked child, where no
/// other thread runs and every arena lock is held, so no borrow of the old
/// descriptor is alive then.
#[derive(Debug)]
struct Memfd(AtomicI32);

impl Memfd {
    fn new(fd: OwnedFd) -> Memfd {
        Memfd(AtomicI32::new(fd.into_raw_fd()))
    }

    fn get(&self) -> BorrowedFd<'_> {
        // SAFETY: the descriptor is owned by `self` and stays open while it
        // is borrowed (see the type's docs for the one replacement).
        unsafe { BorrowedFd::borrow_raw(self.0.load(Ordering::Relaxed)) }
    }

    /// # Safety
    /// No borrow from [`Memfd::get`] may be alive.
    unsafe fn replace(&self, new: OwnedFd) {
        let old = self.0.swap(new.into_raw_fd(), Ordering::Relaxed);
        // SAFETY: `old` was owned by `self` and is borrowed by nobody.
        drop(unsafe { OwnedFd::from_raw_fd(old) });
    }
}

impl Drop for Memfd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by `self`, which is going.
        drop(unsafe { OwnedFd::from_raw_fd(*self.0.get_mut()) });
    }
}

/// The DualMap views of one arena.
#[derive(Debug)]
pub(super) struct DualMap {
    /// Where the writable view of the block at offset `o` lives, at
    /// `mirror + o`, so adjacent views merge into one VMA like the
    /// executable side.
    mirror: Reservation,
    memfd: Memfd,
    /// An emulator keeps translations of code rewritten through the
    /// writable view (`Probe::dual_map_stale_reuse`): finalize maps the
    /// code's executable pages afresh, which drops them.
    remap_code: bool,
}

impl DualMap {
    pub(super) fn new(size: usize) -> Result<DualMap> {
        // Aligned as the reservation is, so both views of a span share its
        // cache colour (see `BLOCK_SIZE`).
        let mirror = Reservation::aligned(size, super::BLOCK_SIZE)
            .map_err(|(op, errno)| os_error(STRATEGY, op)(errno))?;
        let fd = os::memfd(c"jitmm", size).map_err(os_error(STRATEGY, Op::MemfdCreate))?;
        Ok(DualMap {
            mirror,
            memfd: Memfd::new(fd),
            remap_code: crate::probe::dual_map_stale_reuse(),
        })
    }

    /// Whether `class` lives in the memfd (else it is anonymous memory).
    fn shared(class: Class) -> bool {
        class != Class::ReadWrite
    }

    fn writable(&self, offset: usize) -> *mut u8 {
        (self.mirror.start() + offset) as *mut u8
    }
}

impl Views for DualMap {
    fn strategy(&self) -> Strategy {
        STRATEGY
    }

    fn granule(&self, _class: Class, _page: usize) -> usize {
        GRANULE
    }

    fn writable_base(&self, class: Class, base: usize) -> usize {
        if Self::shared(class) {
            self.mirror.start()
        } else {
            base
        }
    }

    fn needs_placement(&self, class: Class) -> bool {
        Self::shared(class)
    }

    fn map_span(&self, class: Class, base: usize, span: &Range<usize>) -> Result<()> {
        if !Self::shared(class) {
            return views::map_anon(STRATEGY, base, span);
        }
        let (len, fd) = (span.len(), self.memfd.get());
        let rw = self.writable(span.start);
        // SAFETY: the span's range of our mirror reservation, unused (its
        // blocks were just claimed).
        unsafe { os::map_shared_fixed(rw, len, Prot::ReadWrite, fd, span.start) }
            .map_err(os_error(STRATEGY, Op::MapSharedFixed(Prot::ReadWrite)))?;
        let undo = |e| {
            // SAFETY: `rw` is the view mapped above, not yet handed out.
            let _ = unsafe { os::decommit(rw, len) };
            e
        };
        // SAFETY: the RW view was just mapped and is ours alone.
        unsafe { os::dont_fork(rw, len) }
            .map_err(os_error(STRATEGY, Op::DontFork))
            .map_err(undo)?;
        let prot = class.final_prot();
        let exec = (base + span.start) as *mut u8;
        // SAFETY: a range of our reservation claimed for this span, holding
        // nothing.
        unsafe { os::map_shared_fixed(exec, len, prot, fd, span.start) }
            .map_err(os_error(STRATEGY, Op::MapSharedFixed(prot)))
            .map_err(undo)
    }

    fn protect_final(&self, class: Class, base: usize, chunk: &Range<usize>) -> Result<()> {
        // Every view has its final protection from the start; under an
        // emulator that would run stale translations, code pages are mapped
        // again (the same file pages, so neighbours sharing them run on).
        if !(self.remap_code && class == Class::Code) {
            return Ok(());
        }
        let page = os::page_size();
        let pages = chunk.start / page * page..chunk.end.div_ceil(page) * page;
        let prot = class.final_prot();
        let exec = (base + pages.start) as *mut u8;
        // SAFETY: whole pages of a span of ours, mapped again onto the same
        // file pages with the same protection: their contents do not change.
        unsafe { os::map_shared_fixed(exec, pages.len(), prot, self.memfd.get(), pages.start) }
            .map_err(os_error(STRATEGY, Op::MapSharedFixed(prot)))
    }

    fn retire(
        &self,
        class: Class,
        base: usize,
        chunk: &Range<usize>,
        _protected: bool,
        keep_resident: bool,
    ) -> Option<usize> {
        if class != Class::Code {
            return Some(0);
        }
        let rw = self.writable(chunk.start);
        // SAFETY: `rw` is the chunk's writable view, `len` bytes long, and
        // the chunk is ours until it rejoins the free list.
        let bytes = unsafe { std::slice::from_raw_parts_mut(rw, chunk.len()) };
        // Not to stay resident: whole pages go back to the OS now rather
        // than being filled first (which would touch every page, used or
        // not); the partial pages at the ends get traps.
        let pages = match keep_resident {
            true => 0..0,
            false => super::residency::whole_pages(chunk, os::page_size()),
        };
        let exec = base + chunk.start;
        // A chunk whose traps could not be flushed is never handed out again.
        if pages.is_empty() {
            return fill_traps(bytes, exec).then_some(0);
        }
        let (head, tail) = (pages.start - chunk.start, pages.end - chunk.start);
        let flushed =
            fill_traps(&mut bytes[..head], exec) & fill_traps(&mut bytes[tail..], exec + tail);
        if !flushed {
            return None;
        }
        let released = pages.len();
        // Pages given back come back as fresh zero pages, which the kernel
        // makes coherent when it maps them: nothing of the old code is left.
        crate::ledger::unwritten(base + pages.start..base + pages.end);
        self.release(class, base, pages);
        Some(released)
    }

    fn release(&self, class: Class, base: usize, pages: Range<usize>) {
        if Self::shared(class) {
            // Failure leaves the pages resident, nothing worse.
            let _ = os::punch_hole(self.memfd.get(), pages);
        } else {
            views::discard(base + pages.start, pages.len());
        }
    }

    fn unmap_span(&self, class: Class, base: usize, span: &Range<usize>) -> bool {
        if Self::shared(class) {
            // SAFETY: the span's RW view; the span is empty and being removed.
            let unmapped = unsafe { os::decommit(self.writable(span.start), span.len()) };
            let _ = os::punch_hole(self.memfd.get(), span.clone());
            if unmapped.is_err() {
                // The writable view stays (inside the mirror, unmapped with
                // it), so its blocks must never hold new code.
                return false;
            }
        }
        views::decommit(base, span);
        true
    }

    unsafe fn rebuild_after_fork(
        &self,
        base: usize,
        spans: &[(Class, Range<usize>)],
    ) -> Result<()> {
        let new = os::memfd(c"jitmm", self.mirror.range().len())
            .map_err(os_error(STRATEGY, Op::MemfdCreate))?;
        let old = self.memfd.get();
        for (class, span) in spans.iter().filter(|(class, _)| Self::shared(*class)) {
            let (exec, len) = ((base + span.start) as *mut u8, span.len());
            // SAFETY: `exec` is the readable view of this span of `old`.
            unsafe { os::copy_file_range_from_view(old, new.as_fd(), exec, span.clone()) }
                .map_err(os_error(STRATEGY, Op::CopyFile))?;
            let prot = class.final_prot();
            // SAFETY: replaces this arena's own block with an identical
            // private copy; only this thread runs (precondition).
            unsafe { os::map_shared_fixed(exec, len, prot, new.as_fd(), span.start) }
                .map_err(os_error(STRATEGY, Op::MapSharedFixed(prot)))?;
            // The writable view goes back where it was; the parent's view
            // there was not inherited (DONTFORK).
            let rw = self.writable(span.start);
            // SAFETY: the span's place in our mirror reservation.
            unsafe { os::map_shared_fixed(rw, len, Prot::ReadWrite, new.as_fd(), span.start) }
                .map_err(os_error(STRATEGY, Op::MapSharedFixed(Prot::ReadWrite)))?;
            // SAFETY: the view was just mapped and is ours.
            unsafe { os::dont_fork(rw, len) }.map_err(os_error(STRATEGY, Op::DontFork))?;
        }
        // SAFETY: no borrow of the old descriptor outlives this point: every
        // lock is held and no other thread runs (precondition).
        unsafe { self.memfd.replace(new) };
        Ok(())
    }

    fn extra_range(&self) -> Option<Range<usize>> {
        Some(self.mirror.range())
    }
}

/// Fills freed code with the architecture's trap instruction, written
/// through the writable view, and flushes it through `exec`, its executable
/// address, so that a stale call traps rather than running the old code
/// (where the caches are not coherent, unflushed traps would not be seen).
/// False when the kernel refused the flush: the chunk must not be reused.
#[must_use]
fn fill_traps(bytes: &mut [u8], exec: usize) -> bool {
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = TRAP_PATTERN[i % TRAP_PATTERN.len()];
    }
    crate::ledger::written(exec..exec + bytes.len());
    // SAFETY: `exec` is the executable view of these bytes, mapped in our
    // reservation.
    unsafe { icache::flush(exec as *const u8, bytes.len()) }.is_ok()
}
