//! Mprotect: every block is private anonymous memory, written in place and
//! `mprotect`ed to its final protection at finalize; code runs where it was
//! written. Code and read-only data are page-granular, so each object can
//! be protected on its own. The fallback where shared executable mappings
//! are refused.

use std::ops::Range;

use super::views::{self, os_error, Views, GRANULE};
use super::Class;
use crate::error::{Op, Result};
use crate::os::{self, Prot};
use crate::strategy::Strategy;

const STRATEGY: Strategy = Strategy::Mprotect;

/// The Mprotect views of an arena: the reservation alone.
#[derive(Debug)]
pub(super) struct Mprotect;

impl Mprotect {
    /// Whether `class` changes protection at finalize.
    fn protected(class: Class) -> bool {
        class != Class::ReadWrite
    }
}

impl Views for Mprotect {
    fn strategy(&self) -> Strategy {
        STRATEGY
    }

    fn granule(&self, class: Class, page: usize) -> usize {
        if Self::protected(class) {
            page
        } else {
            GRANULE
        }
    }

    fn writable_base(&self, _class: Class, base: usize) -> usize {
        base
    }

    fn needs_placement(&self, _class: Class) -> bool {
        false
    }

    fn map_span(&self, _class: Class, base: usize, span: &Range<usize>) -> Result<()> {
        views::map_anon(STRATEGY, base, span)
    }

    fn protect_final(&self, class: Class, base: usize, chunk: &Range<usize>) -> Result<()> {
        if !Self::protected(class) {
            return Ok(());
        }
        let prot = class.final_prot();
        // SAFETY: the chunk is a page-granular range of a mapped span owned by
        // the object being finalized; nobody writes it after finalize.
        unsafe { os::protect((base + chunk.start) as *mut u8, chunk.len(), prot) }
            .map_err(os_error(STRATEGY, Op::Protect(prot)))
    }

    fn retire(
        &self,
        class: Class,
        base: usize,
        chunk: &Range<usize>,
        protected: bool,
        _keep_resident: bool,
    ) -> Option<usize> {
        if class == Class::Code {
            // Not executable from here on (or never was): nothing to flush.
            crate::ledger::unwritten(base + chunk.start..base + chunk.end);
        }
        if !(protected && Self::protected(class)) {
            return Some(0);
        }
        let (addr, len) = ((base + chunk.start) as *mut u8, chunk.len());
        // SAFETY: the chunk is page-granular and no longer used by anyone.
        let writable = unsafe { os::protect(addr, len, Prot::ReadWrite) }.or_else(|_| {
            // SAFETY: as above; fresh pages replace the old code.
            unsafe { os::map_anon_fixed(addr, len, Prot::ReadWrite) }
        });
        // Not writable again: reusing it would fault on the next write, so
        // the chunk never rejoins the free list.
        writable.ok().map(|()| 0)
    }

    fn release(&self, _class: Class, base: usize, pages: Range<usize>) {
        views::discard(base + pages.start, pages.len());
    }

    fn unmap_span(&self, _class: Class, base: usize, span: &Range<usize>) -> bool {
        views::decommit(base, span);
        true
    }

    unsafe fn rebuild_after_fork(
        &self,
        _base: usize,
        _spans: &[(Class, Range<usize>)],
    ) -> Result<()> {
        Ok(()) // private memory is copy-on-write already
    }

    fn extra_range(&self) -> Option<Range<usize>> {
        None
    }
}
