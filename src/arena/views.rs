//! How an arena's blocks are mapped, made final and given back: one method
//! set, one implementation per strategy ([`DualMap`](super::dual_map),
//! [`Mprotect`](super::mprotect)). Every difference between the strategies
//! lives behind it.
//!
//! Offsets are arena offsets; `base` is the reservation's start, where every
//! block has its executable (or final) address.

use std::fmt::Debug;
use std::ops::Range;

use super::dual_map::DualMap;
use super::mprotect::Mprotect;
use super::Class;
pub(super) use crate::error::os_error;
use crate::error::{Error, Op, Result};
use crate::os::{self, Prot};
use crate::strategy::Strategy;

/// The smallest unit of a chunk: keeps free runs few and sections 16-aligned.
pub(super) const GRANULE: usize = 16;

/// One strategy's way with an arena's blocks.
pub(crate) trait Views: Debug + Send + Sync {
    /// Which strategy this is (never `Auto`).
    fn strategy(&self) -> Strategy;

    /// The unit chunks of `class` are rounded to.
    fn granule(&self, class: Class, page: usize) -> usize;

    /// The address of arena offset 0 in the view the linker writes `class`
    /// through (`base + offset` is where it runs).
    fn writable_base(&self, class: Class, base: usize) -> usize;

    /// Whether the linker must be told the executable addresses of `class`
    /// before it resolves relocations (they differ from the writable ones).
    fn needs_placement(&self, class: Class) -> bool;

    /// Maps a span of blocks just claimed for `class`.
    fn map_span(&self, class: Class, base: usize, span: &Range<usize>) -> Result<()>;

    /// Gives a chunk its final protection, at finalize.
    fn protect_final(&self, class: Class, base: usize, chunk: &Range<usize>) -> Result<()>;

    /// Makes a freed chunk safe to hand out again: code traps, or is
    /// writable once more. `protected`: finalize may have changed its
    /// protection; `keep_resident`: its pages stay (else whole pages may go
    /// back now). Returns the bytes already given back to the OS, or `None`
    /// when the chunk must never be reused.
    fn retire(
        &self,
        class: Class,
        base: usize,
        chunk: &Range<usize>,
        protected: bool,
        keep_resident: bool,
    ) -> Option<usize>;

    /// Returns the page-aligned `pages` of a free range of `class` to the OS.
    fn release(&self, class: Class, base: usize, pages: Range<usize>);

    /// Unmaps an empty span of `class`. False when its blocks must never be
    /// claimed again (a view could not be removed).
    fn unmap_span(&self, class: Class, base: usize, span: &Range<usize>) -> bool;

    /// In a forked child: gives it its own copy of every span in `spans`.
    ///
    /// # Safety
    /// Only in the child right after fork, no other thread running, with
    /// every lock of the arena held.
    unsafe fn rebuild_after_fork(&self, base: usize, spans: &[(Class, Range<usize>)])
        -> Result<()>;

    /// Address space owned besides the reservation (VMA counting).
    fn extra_range(&self) -> Option<Range<usize>>;
}

/// The views of `strategy` (concrete) for a reservation of `size` bytes.
pub(super) fn new(strategy: Strategy, size: usize) -> Result<Box<dyn Views>> {
    match strategy {
        Strategy::DualMap => Ok(Box::new(DualMap::new(size)?)),
        Strategy::Mprotect => Ok(Box::new(Mprotect)),
        Strategy::Auto => Err(Error::InvalidArgument(
            "an arena needs a concrete strategy (resolve Auto first)",
        )),
    }
}

/// Private anonymous, writable pages over a span: read-write data under
/// every strategy, and every class under Mprotect.
pub(super) fn map_anon(strategy: Strategy, base: usize, span: &Range<usize>) -> Result<()> {
    let addr = (base + span.start) as *mut u8;
    // SAFETY: the span is a range of the caller's reservation just claimed,
    // holding nothing.
    unsafe { os::map_anon_fixed(addr, span.len(), Prot::ReadWrite) }
        .map_err(os_error(strategy, Op::MapAnonFixed))
}

/// Drops the pages of a free range of private anonymous memory.
pub(super) fn discard(addr: usize, len: usize) {
    // SAFETY: a free, private anonymous range of an arena's span: nobody
    // uses its contents. Failure leaves the pages resident, nothing worse.
    let _ = unsafe { os::discard_anon(addr as *mut u8, len) };
}

/// Returns a span of the reservation to PROT_NONE address space.
pub(super) fn decommit(base: usize, span: &Range<usize>) {
    // SAFETY: the span's range of our reservation holds no live chunk.
    // Failure leaves it mapped and unused: the blocks can still be claimed.
    let _ = unsafe { os::decommit((base + span.start) as *mut u8, span.len()) };
}
