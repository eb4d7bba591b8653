//! The arena: one address-space reservation holding every section of the
//! JITs that share it, carved into blocks segregated by final protection.
//!
//! A *span* is one or more contiguous [`BLOCK_SIZE`] blocks given to one
//! [`Class`] (`blocks.rs`); the spans of a class are mapped alike, so adjacent
//! ones merge into one VMA and the process's VMA count grows with spans,
//! not objects. A chunk goes to the lowest span whose longest free run
//! holds it (`heap.rs`), and within it best-fit (shortest run, then lowest)
//! from a coalescing free list indexed by length (`free_list.rs`), so no
//! allocation walks the runs or spans too short for it; freed pages stay
//! resident or go back to the OS as `residency.rs` decides. How blocks are
//! mapped, protected and given back is the strategy's (`views.rs`).
//!
//! Because everything lies inside one reservation no larger than the
//! architecture's relocation range, any section can reach any other with the
//! default code model; a request that does not fit is an error, never a
//! placement out of range.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

mod blocks;
mod class;
mod dual_map;
mod fork;
mod free_list;
mod heap;
mod longest_runs;
mod mprotect;
mod residency;
mod views;

pub use blocks::BLOCK_SIZE;
pub use class::Class;

use crate::error::{Error, Result};
use crate::icache;
use crate::ledger;
use crate::os::{self, Reservation};
use crate::stats::{self, bump, drop_by, COUNTERS};
use crate::strategy::Strategy;
use crate::sync::Mutex;
use blocks::Blocks;
use heap::{ClassHeap, Origin};
use views::Views;

/// A chunk handed out by the arena, in arena offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub class: Class,
    pub range: Range<usize>,
    /// It lies (partly) where an earlier chunk was: other threads may have
    /// run code there.
    pub reused: bool,
}

/// One reservation and the blocks carved from it.
pub struct Arena {
    /// The strategy's views; dropped before the reservation they lie in.
    views: Box<dyn Views>,
    reservation: Reservation,
    page: usize,
    /// Why the arena is unusable, once a rebuild after fork failed; every
    /// later allocation reports it.
    broken: OnceLock<Error>,
    /// Lock order, here and everywhere: class heaps (in class order), then
    /// `blocks`; no path takes a heap while holding `blocks`.
    heaps: [Mutex<ClassHeap>; 3],
    blocks: Mutex<Blocks>,
    live_objects: AtomicUsize,
}

impl Arena {
    /// Reserves an arena of `size` bytes (rounded up to blocks) with a
    /// concrete strategy. Not yet known to the process's registry: see
    /// [`Arena::new`].
    pub(crate) fn create(size: usize, strategy: Strategy) -> Result<Arena> {
        let too_large = Error::TooLarge {
            size,
            limit: usize::MAX,
        };
        let size = size
            .max(BLOCK_SIZE)
            .checked_next_multiple_of(BLOCK_SIZE)
            .ok_or(too_large)?;
        let reservation = Reservation::aligned(size, BLOCK_SIZE)
            .map_err(|(op, errno)| views::os_error(strategy, op)(errno))?;
        let views = views::new(strategy, size)?;
        bump(&COUNTERS.bytes_reserved, size as u64);
        let page = os::page_size();
        let blocks = Blocks::new(reservation.start(), size);
        Ok(Arena {
            views,
            reservation,
            page,
            broken: OnceLock::new(),
            heaps: [(); 3].map(|()| Mutex::new(ClassHeap::new(page))),
            blocks: Mutex::new(blocks),
            live_objects: AtomicUsize::new(0),
        })
    }

    /// The concrete strategy (never `Auto`).
    pub fn strategy(&self) -> Strategy {
        self.views.strategy()
    }

    /// Start and size of the reservation.
    pub fn reservation(&self) -> (usize, usize) {
        let range = self.reservation.range();
        (range.start, range.len())
    }

    /// The page size this arena rounds to.
    pub fn page_size(&self) -> usize {
        self.page
    }

    /// Objects allocated from this arena and not yet freed.
    pub fn live_objects(&self) -> usize {
        self.live_objects.load(Ordering::Relaxed)
    }

    /// Bytes of this arena handed out to live objects (all classes).
    pub fn live_bytes(&self) -> usize {
        self.heaps.iter().map(|heap| heap.lock().live()).sum()
    }

    pub(crate) fn object_created(&self) {
        self.live_objects.fetch_add(1, Ordering::Relaxed);
        bump(&COUNTERS.objects_live, 1);
    }

    pub(crate) fn object_dropped(&self) {
        self.live_objects.fetch_sub(1, Ordering::Relaxed);
        drop_by(&COUNTERS.objects_live, 1);
    }

    fn base(&self) -> usize {
        self.reservation.start()
    }

    /// The unit chunks of a class are rounded to.
    pub(crate) fn granule(&self, class: Class) -> usize {
        self.views.granule(class, self.page)
    }

    /// Whether the linker must learn the executable addresses of `class`
    /// before it resolves relocations.
    pub(crate) fn needs_placement(&self, class: Class) -> bool {
        self.views.needs_placement(class)
    }

    /// Where arena offset `offset` of `class` runs, and where it is written.
    pub(crate) fn addresses(&self, class: Class, offset: usize) -> (usize, usize) {
        let base = self.base();
        (
            base + offset,
            self.views.writable_base(class, base) + offset,
        )
    }

    /// Where a chunk runs (or is read).
    pub(crate) fn exec_range(&self, chunk: &Chunk) -> Range<usize> {
        self.base() + chunk.range.start..self.base() + chunk.range.end
    }

    /// Checks a request and returns the chunk length and alignment to use.
    pub(crate) fn layout(&self, class: Class, size: usize, align: usize) -> Result<(usize, usize)> {
        if size == 0 {
            return Err(Error::ZeroSize);
        }
        if !align.is_power_of_two() || align > self.page {
            return Err(Error::BadAlignment {
                align,
                page: self.page,
            });
        }
        let limit = self.reservation.range().len();
        let too_large = Error::TooLarge { size, limit };
        let granule = self.granule(class);
        let len = size
            .checked_next_multiple_of(granule)
            .ok_or(too_large.clone())?;
        if len > limit {
            return Err(too_large);
        }
        Ok((len, align.max(granule)))
    }

    /// Hands out a chunk of `class` (length and alignment as from `layout`).
    pub(crate) fn allocate(&self, class: Class, len: usize, align: usize) -> Result<Chunk> {
        if let Some(error) = self.broken.get() {
            return Err(error.clone());
        }
        let mut heap = self.heaps[class as usize].lock();
        let (range, reused) = match heap.take(len, align) {
            Some(taken) => taken,
            None => (
                heap.take_from_new_span(self.new_span(class, len)?, len, align),
                false,
            ),
        };
        stats::live(class as usize, len as isize);
        let chunk = Chunk {
            class,
            range,
            reused,
        };
        if class == Class::Code {
            let exec = self.exec_range(&chunk);
            ledger::reused(exec.clone());
            ledger::written(exec);
        }
        Ok(chunk)
    }

    /// Claims and maps blocks for a chunk of `len` bytes.
    fn new_span(&self, class: Class, len: usize) -> Result<Range<usize>> {
        let (_, reserved) = self.reservation();
        let span_len = len
            .checked_next_multiple_of(BLOCK_SIZE)
            .ok_or(Error::TooLarge {
                size: len,
                limit: reserved,
            })?;
        let span =
            self.blocks
                .lock()
                .claim(class, span_len)
                .ok_or(Error::ReservationExhausted {
                    requested: span_len,
                    reserved,
                })?;
        if let Err(e) = self.views.map_span(class, self.base(), &span) {
            self.blocks.lock().release(span);
            return Err(e);
        }
        bump(&COUNTERS.bytes_committed, span.len() as u64);
        Ok(span)
    }

    /// Makes a chunk of code or read-only data final (a no-op where the
    /// views have their final protection from the start).
    pub(crate) fn protect_final(&self, chunk: &Chunk) -> Result<()> {
        self.views
            .protect_final(chunk.class, self.base(), &chunk.range)
    }

    /// Returns a chunk: the views retire it (code traps, or is writable
    /// again), the range rejoins the free list, and resident pages go back
    /// to the OS once enough have accumulated.
    ///
    /// `protected`: the chunk may have been given its final protection
    /// (finalize ran, even if it failed part way).
    pub(crate) fn free(&self, chunk: &Chunk, protected: bool) {
        let (class, range, base) = (chunk.class, &chunk.range, self.base());
        stats::live(class as usize, -(range.len() as isize));
        // Where nothing can make other threads drop instructions they
        // fetched (every membarrier refused), freed code addresses are
        // never handed out again, and their whole pages go back now.
        let quarantine = class == Class::Code && !icache::reuses_code_addresses();
        let keep = !quarantine && heap::keeps_resident(range.len());
        let retired = self.views.retire(class, base, range, protected, keep);
        let Some(released) = retired else {
            return; // never to be reused
        };
        let mut heap = self.heaps[class as usize].lock();
        if quarantine {
            heap.quarantine(range.len());
            let pages = residency::whole_pages(range, self.page);
            if released == 0 && !pages.is_empty() {
                self.views.release(class, base, pages);
            }
            return;
        }
        self.put_back(&mut heap, chunk, Origin::Freed { released });
    }

    /// Gives back the unused tail of a reserved chunk. The linker never had
    /// it, so nothing was written there: no traps, and the chunk freed last
    /// stays the hot one.
    pub(crate) fn free_unused(&self, chunk: &Chunk) {
        stats::live(chunk.class as usize, -(chunk.range.len() as isize));
        ledger::unwritten(self.exec_range(chunk));
        let mut heap = self.heaps[chunk.class as usize].lock();
        let fresh = !chunk.reused;
        self.put_back(&mut heap, chunk, Origin::Unused { fresh });
    }

    fn put_back(&self, heap: &mut ClassHeap, chunk: &Chunk, origin: Origin) {
        let (class, base) = (chunk.class, self.base());
        let release = |pages| self.views.release(class, base, pages);
        let Some(span) = heap.put_back(chunk.range.clone(), origin, release) else {
            return;
        };
        let reusable = self.views.unmap_span(class, base, &span);
        drop_by(&COUNTERS.bytes_committed, span.len() as u64);
        if reusable {
            self.blocks.lock().release(span);
        }
    }

    /// Returns every free page of every class to the OS now, including the
    /// last freed chunks that sweeps keep resident.
    pub fn trim(&self) {
        for class in Class::ALL {
            let base = self.base();
            let release = |pages| self.views.release(class, base, pages);
            self.heaps[class as usize].lock().trim(release);
        }
    }

    /// Address ranges this arena owns (the reservation, and a strategy's
    /// own, such as DualMap's mirror of writable views).
    pub(crate) fn ranges(&self) -> impl Iterator<Item = Range<usize>> {
        std::iter::once(self.reservation.range()).chain(self.views.extra_range())
    }
}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena")
            .field("reservation", &self.reservation.range())
            .field("strategy", &self.strategy())
            .field("live_objects", &self.live_objects())
            .finish()
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // The views and the reservation unmap themselves (no object
        // outlives the arena: objects hold an `Arc` to it).
        for heap in &self.heaps {
            let committed: usize = heap.lock().spans().map(|span| span.len()).sum();
            drop_by(&COUNTERS.bytes_committed, committed as u64);
        }
        drop_by(
            &COUNTERS.bytes_reserved,
            self.reservation.range().len() as u64,
        );
    }
}
