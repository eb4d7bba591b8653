//! The arena: one address-space reservation holding every section of the
//! JITs that share it, carved into blocks segregated by final protection.
//!
//! Layout: the reservation is PROT_NONE address space. A *span* is one or
//! more contiguous [`BLOCK_SIZE`] blocks given to one [`Class`]; spans of a
//! class are mapped with that class's final protection (DualMap) or RW
//! (Mprotect), so adjacent spans of a class merge into one VMA and the
//! process's VMA count grows with spans, not objects. Within a span, chunks
//! are handed out first-fit from a coalescing free list.
//!
//! Because everything lies inside one reservation no larger than the
//! architecture's relocation range, any section can reach any other with the
//! default code model; a request that does not fit is an error, never a
//! placement out of range.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

mod free_list;

use crate::sync::{Mutex, MutexGuard};
use free_list::FreeList;

use crate::config::{Config, Strategy};
use crate::error::{Errno, Error, Result};
use crate::os::{self, Prot};
use crate::stats::{self, bump, drop_by, COUNTERS};

/// Granularity of the reservation handed to classes.
pub const BLOCK_SIZE: usize = 2 << 20;

/// Smallest unit of a chunk: keeps free runs few and sections 16-aligned.
const GRANULE: usize = 16;

/// Freed-but-resident bytes per class after which pages go back to the OS.
const SWEEP_THRESHOLD: usize = 256 << 10;

/// The same, once a class holds no live chunk: lower, so that a JIT that
/// dropped everything keeps little resident, but not zero, so that one
/// object loaded and freed over and over does not sweep each time.
const EMPTY_SWEEP_THRESHOLD: usize = 64 << 10;

/// The most recently freed chunk of a class stays resident through sweeps
/// if it is no longer than this: a JIT that frees and reloads an object of
/// the same size (a REPL redefining a function, a cache evicting a module)
/// gets the same pages back without page faults. At most this much per
/// class stays resident once everything is freed; [`Arena::trim`] returns
/// it too.
const HOT_LIMIT: usize = 2 << 20;

/// The default reservation: the span within which every section reaches
/// every other with the default code model's PC-relative relocations
/// (x86-64 rel32 ±2 GiB, AArch64 ADRP ±4 GiB, RISC-V AUIPC ±2 GiB,
/// PowerPC64 / s390x / LoongArch64 ±2 GiB); 32-bit targets keep address
/// space for the rest of the process.
pub const fn default_reservation_size() -> usize {
    if cfg!(target_pointer_width = "64") {
        1 << 30
    } else {
        128 << 20
    }
}

/// The final protection of a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Class {
    /// Code: read + execute.
    Code = 0,
    /// Read-only data (constants, EH frames).
    ReadOnly = 1,
    /// Read-write data (globals).
    ReadWrite = 2,
}

impl Class {
    /// All classes, in index order.
    pub const ALL: [Class; 3] = [Class::Code, Class::ReadOnly, Class::ReadWrite];

    /// The class for an index used across the C boundary.
    pub fn from_index(i: i32) -> Option<Class> {
        Self::ALL.get(usize::try_from(i).ok()?).copied()
    }

    /// The protection its sections have once finalized.
    pub fn final_prot(self) -> Prot {
        match self {
            Class::Code => Prot::ReadExec,
            Class::ReadOnly => Prot::Read,
            Class::ReadWrite => Prot::ReadWrite,
        }
    }
}

/// A chunk handed out by the arena, in arena offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub class: Class,
    pub offset: usize,
    pub len: usize,
    /// Address of the chunk in the view the linker writes through.
    pub rw: usize,
}

struct Span {
    len: usize,
    /// Base of the writable view (== executable base where there is one view).
    rw_base: usize,
    free: FreeList,
    free_bytes: usize,
}

#[derive(Default)]
struct ClassHeap {
    spans: BTreeMap<usize, Span>,
    /// Bytes handed out and not freed.
    live: usize,
    dirty: usize,
    /// The last freed chunk, spared by sweeps.
    hot: Option<Hot>,
}

/// The chunk freed last in a class (see [`HOT_LIMIT`]).
#[derive(Debug, Clone, Copy)]
struct Hot {
    lo: usize,
    hi: usize,
    /// A sweep ran since it was freed, so its run may be marked clean
    /// although its pages are resident. Until then the run holding it is
    /// dirty still (only a sweep marks runs clean).
    swept: bool,
}

impl ClassHeap {
    /// Makes the hot chunk an ordinary freed range again (minus `used`, a
    /// range now allocated), so the next sweep returns its pages.
    ///
    /// Counted towards a sweep: all of it when nothing was reused; of a
    /// remainder left beside a reused part, only its whole pages (`page`),
    /// the rest sharing a page with the new chunk — so an object reloaded
    /// over a slightly larger freed one never triggers a sweep.
    fn cool(&mut self, used: (usize, usize), page: usize) {
        let Some(Hot { lo, hi, swept }) = self.hot.take() else {
            return;
        };
        let (used_lo, used_hi) = used;
        let remainders = if used_lo >= hi || lo >= used_hi {
            [(lo, hi, hi - lo), (0, 0, 0)]
        } else {
            [(lo, used_lo), (used_hi, hi)].map(|(a, b)| (a, b, page_bytes_within(a, b, page)))
        };
        for (a, b, counted) in remainders {
            if swept {
                // A remainder with no whole page shares its pages with live
                // chunks or with runs that go dirty when those are freed.
                if counted > 0 {
                    self.mark_dirty(a, b, counted);
                }
            } else {
                self.dirty += counted;
            }
        }
    }

    /// Marks the free run holding `lo..hi` as having resident pages, and
    /// counts `counted` bytes of it towards the next sweep.
    fn mark_dirty(&mut self, lo: usize, hi: usize, counted: usize) {
        if lo >= hi {
            return;
        }
        let Some((_, span)) = self.spans.range_mut(..=lo).next_back() else {
            return;
        };
        if span.free.mark_dirty(lo, hi) {
            self.dirty += counted;
        }
    }

    /// The span holding an arena offset, and its start.
    fn span_mut(&mut self, offset: usize) -> (usize, &mut Span) {
        let (&start, span) = self
            .spans
            .range_mut(..=offset)
            .next_back()
            .expect("chunk belongs to a span");
        (start, span)
    }

    /// Whether an empty span should stay mapped: it is one block long and
    /// the class's only empty one-block span, kept so that a JIT freeing and
    /// loading around a block boundary does not map and unmap it each time.
    fn keeps_as_spare(&self, span_start: usize) -> bool {
        self.spans[&span_start].len == BLOCK_SIZE
            && !self
                .spans
                .iter()
                .any(|(&start, s)| start != span_start && s.free_bytes == s.len)
    }
}

/// How a chunk comes back to its span.
#[derive(Debug, Clone, Copy)]
enum Return {
    /// Freed by its object; `released` bytes of it already went back to the OS.
    Freed { released: usize },
    /// The unused tail of a reservation, never handed to a linker.
    Unused,
}

/// One reservation and the blocks carved from it.
pub struct Arena {
    base: usize,
    size: usize,
    /// DualMap: a second reservation of `size` bytes where the writable view
    /// of the block at offset `o` lives at `mirror + o`, so adjacent views
    /// merge into one VMA like the executable side. 0 otherwise.
    mirror: usize,
    strategy: Strategy,
    page: usize,
    /// The memfd behind DualMap blocks (-1: none). Replaced in a forked
    /// child, which gets private copies of the code (see `crate::fork`).
    fd: AtomicI32,
    /// Nonzero: the errno that left the arena unusable (a failed rebuild
    /// after fork); every later allocation reports it.
    broken: AtomicI32,
    blocks: Mutex<Vec<bool>>,
    heaps: [Mutex<ClassHeap>; 3],
    live_objects: AtomicUsize,
}

fn round_up(x: usize, to: usize) -> Option<usize> {
    Some(x.checked_add(to - 1)? & !(to - 1))
}

fn round_down(x: usize, to: usize) -> usize {
    x & !(to - 1)
}

/// The whole pages inside `lo..hi`, as a page-aligned range (empty, with
/// start ≥ end, when there are none).
fn whole_pages(lo: usize, hi: usize, page: usize) -> (usize, usize) {
    (
        round_up(lo, page).unwrap_or(usize::MAX),
        round_down(hi, page),
    )
}

/// Bytes of the whole pages inside `lo..hi`.
fn page_bytes_within(lo: usize, hi: usize, page: usize) -> usize {
    let (first, end) = whole_pages(lo, hi, page);
    end.saturating_sub(first)
}

impl Arena {
    /// Reserves a new arena of `size` bytes (rounded up to blocks) using a
    /// concrete strategy.
    pub fn new(size: usize, strategy: Strategy) -> Result<Arc<Arena>> {
        let strategy = match strategy {
            Strategy::Auto => crate::probe().auto_strategy,
            s => s,
        };
        if strategy == Strategy::DualMap {
            if let Err((step, errno)) = crate::probe::dual_map_support() {
                return Err(Error::Unsupported {
                    strategy,
                    reason: format!("{step} refused: {errno}"),
                });
            }
        }
        let size = round_up(size.max(BLOCK_SIZE), BLOCK_SIZE).ok_or(Error::TooLarge {
            size,
            limit: usize::MAX,
        })?;
        let os_err = |op| {
            move |errno| Error::Os {
                op,
                strategy,
                errno,
            }
        };
        let base = os::reserve(size).map_err(os_err("mmap (reserve)"))? as usize;
        let (fd, mirror) = if strategy == Strategy::DualMap {
            crate::fork::install_handlers();
            let mirror = os::reserve(size);
            let fd = mirror
                .map_err(os_err("mmap (reserve RW mirror)"))
                .and_then(|mirror| match os::memfd(&memfd_name(), size) {
                    Ok(fd) => Ok((fd, mirror as usize)),
                    Err(errno) => {
                        // SAFETY: the mirror reservation made above, unused.
                        let _ = unsafe { os::unmap(mirror, size) };
                        Err(os_err("memfd_create")(errno))
                    }
                });
            match fd {
                Ok(pair) => pair,
                Err(e) => {
                    // SAFETY: `base` is the reservation made above, unused.
                    let _ = unsafe { os::unmap(base as *mut u8, size) };
                    return Err(e);
                }
            }
        } else {
            (-1, 0)
        };
        bump(&COUNTERS.bytes_reserved, size as u64);
        let arena = Arc::new(Arena {
            base,
            size,
            mirror,
            strategy,
            page: os::page_size(),
            fd: AtomicI32::new(fd),
            broken: AtomicI32::new(0),
            blocks: Mutex::new(vec![false; size / BLOCK_SIZE]),
            heaps: Default::default(),
            live_objects: AtomicUsize::new(0),
        });
        registry().push(Arc::downgrade(&arena));
        Ok(arena)
    }

    /// The arena a config asks for: a new private one, or the process-wide
    /// arena of the resolved strategy (created on first use).
    pub fn for_config(config: &Config) -> Result<Arc<Arena>> {
        let strategy = match config.requested_strategy()? {
            Strategy::Auto => crate::probe().auto_strategy,
            s => s,
        };
        if config.private_arena {
            let size = config
                .reservation_size
                .unwrap_or(default_reservation_size());
            return Arena::new(size, strategy);
        }
        let slot = usize::from(strategy == Strategy::Mprotect);
        let mut shared = lock(&SHARED_ARENAS);
        if let Some(arena) = &shared[slot] {
            return Ok(arena.clone());
        }
        let arena = Arena::new(default_reservation_size(), strategy)?;
        shared[slot] = Some(arena.clone());
        Ok(arena)
    }

    /// The concrete strategy (never `Auto`).
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Whether code and read-only data have a writable view apart from the
    /// executable one.
    pub fn is_dual_mapped(&self) -> bool {
        self.strategy == Strategy::DualMap
    }

    /// Start and size of the reservation.
    pub fn reservation(&self) -> (usize, usize) {
        (self.base, self.size)
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
        self.heaps.iter().map(|heap| lock(heap).live).sum()
    }

    pub(crate) fn object_created(&self) {
        self.live_objects.fetch_add(1, Ordering::Relaxed);
        bump(&COUNTERS.objects_live, 1);
    }

    pub(crate) fn object_dropped(&self) {
        self.live_objects.fetch_sub(1, Ordering::Relaxed);
        drop_by(&COUNTERS.objects_live, 1);
    }

    fn os_error(&self, op: &'static str) -> impl Fn(Errno) -> Error {
        let strategy = self.strategy;
        move |errno| Error::Os {
            op,
            strategy,
            errno,
        }
    }

    /// The unit chunks of a class are rounded to. Under Mprotect, code and
    /// rodata are page-granular so each object can be protected on its own.
    pub(crate) fn granule(&self, class: Class) -> usize {
        if self.strategy == Strategy::Mprotect && class != Class::ReadWrite {
            self.page
        } else {
            GRANULE
        }
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
        let too_large = Error::TooLarge {
            size,
            limit: self.size,
        };
        let granule = self.granule(class);
        let len = round_up(size, granule).ok_or(too_large.clone())?;
        if len > self.size {
            return Err(too_large);
        }
        Ok((len, align.max(granule)))
    }

    /// Hands out a chunk of `class` (length and alignment as from `layout`).
    pub(crate) fn allocate(&self, class: Class, len: usize, align: usize) -> Result<Chunk> {
        match self.broken.load(Ordering::Relaxed) {
            0 => {}
            errno => {
                return Err(self.os_error("rebuild of the dual mapping after fork")(
                    Errno(errno),
                ))
            }
        }
        let mut heap = lock(&self.heaps[class as usize]);
        if let Some(chunk) = Self::take_fit(&mut heap, class, len, align) {
            heap.cool((chunk.offset, chunk.offset + chunk.len), self.page);
            heap.live += len;
            stats::live(class, len as isize);
            return Ok(chunk);
        }
        let span_len = round_up(len, BLOCK_SIZE).ok_or(Error::TooLarge {
            size: len,
            limit: self.size,
        })?;
        let start = self.new_span(class, span_len)?;
        let rw_base = self.map_span(class, start, span_len).inspect_err(|_| {
            self.release_blocks(start, span_len);
        })?;
        heap.spans.insert(
            start,
            Span {
                len: span_len,
                rw_base,
                free: FreeList::new(start, span_len),
                free_bytes: span_len,
            },
        );
        let chunk = Self::take_fit(&mut heap, class, len, align).expect("fresh span fits");
        heap.live += len;
        stats::live(class, len as isize);
        Ok(chunk)
    }

    fn take_fit(heap: &mut ClassHeap, class: Class, len: usize, align: usize) -> Option<Chunk> {
        heap.spans.iter_mut().find_map(|(&span_start, span)| {
            if span.free_bytes < len {
                return None;
            }
            let offset = span.free.take(len, align)?;
            span.free_bytes -= len;
            Some(Chunk {
                class,
                offset,
                len,
                rw: span.rw_base + (offset - span_start),
            })
        })
    }

    /// Claims `len / BLOCK_SIZE` contiguous free blocks; returns the offset.
    ///
    /// Each class starts its search in a zone of its own (code at the
    /// bottom, read-only data from the middle, read-write data from three
    /// quarters up), so the blocks of a class are adjacent and merge into
    /// one VMA; when its zone is full a class takes free blocks anywhere.
    fn new_span(&self, class: Class, len: usize) -> Result<usize> {
        let n = len / BLOCK_SIZE;
        let mut blocks = lock(&self.blocks);
        let total = blocks.len();
        let zone = match class {
            Class::Code => 0,
            Class::ReadOnly => total / 2,
            Class::ReadWrite => total * 3 / 4,
        };
        let found = first_free_run(&blocks[zone..], n)
            .map(|i| i + zone)
            .or_else(|| first_free_run(&blocks, n));
        let Some(first) = found else {
            return Err(Error::ReservationExhausted {
                requested: len,
                reserved: self.size,
            });
        };
        blocks[first..first + n].iter_mut().for_each(|b| *b = true);
        Ok(first * BLOCK_SIZE)
    }

    fn release_blocks(&self, start: usize, len: usize) {
        let mut blocks = lock(&self.blocks);
        let first = start / BLOCK_SIZE;
        blocks[first..first + len / BLOCK_SIZE]
            .iter_mut()
            .for_each(|b| *b = false);
    }

    /// Maps a span's blocks; returns the base of its writable view.
    fn map_span(&self, class: Class, start: usize, len: usize) -> Result<usize> {
        let exec = (self.base + start) as *mut u8;
        match (self.fd(), class) {
            (Some(fd), Class::Code | Class::ReadOnly) => {
                let rw = (self.mirror + start) as *mut u8;
                // SAFETY: the span's range of our mirror reservation, unused
                // (its blocks were just claimed).
                unsafe { os::map_shared_fixed(rw, len, Prot::ReadWrite, fd, start) }
                    .map_err(self.os_error("mmap (RW view)"))?;
                let undo = |e| {
                    // SAFETY: `rw` is the view mapped above, not yet handed out.
                    let _ = unsafe { os::unreserve(rw, len) };
                    e
                };
                // SAFETY: the RW view was just mapped and is ours alone.
                unsafe { os::dont_fork(rw, len) }
                    .map_err(self.os_error("madvise (DONTFORK)"))
                    .map_err(undo)?;
                // SAFETY: `exec` is a range of our reservation claimed by
                // `new_span`, holding nothing.
                unsafe { os::map_shared_fixed(exec, len, class.final_prot(), fd, start) }
                    .map_err(self.os_error("mmap (exec view)"))
                    .map_err(undo)?;
                bump(&COUNTERS.bytes_committed, len as u64);
                Ok(rw as usize)
            }
            _ => {
                // SAFETY: as above, a claimed and empty range of our reservation.
                unsafe { os::map_anon_fixed(exec, len, Prot::ReadWrite) }
                    .map_err(self.os_error("mmap (block)"))?;
                bump(&COUNTERS.bytes_committed, len as u64);
                Ok(exec as usize)
            }
        }
    }

    fn fd(&self) -> Option<RawFd> {
        Some(self.fd.load(Ordering::Relaxed)).filter(|&fd| fd >= 0)
    }

    /// Locks every lock of the arena and keeps them locked (fork prepare).
    ///
    /// Lock order, here and everywhere: class heaps (in class order), then
    /// `blocks`; no path takes a heap while holding `blocks`.
    pub(crate) fn lock_all(&self) {
        for heap in &self.heaps {
            std::mem::forget(heap.lock());
        }
        std::mem::forget(self.blocks.lock());
    }

    /// Releases what `lock_all` took.
    ///
    /// # Safety
    /// `lock_all` must have been called by this thread (or, in a forked
    /// child, by the thread that forked) and not yet undone.
    pub(crate) unsafe fn unlock_all(&self) {
        // SAFETY: the locks are held with their guards forgotten (precondition).
        unsafe {
            self.blocks.force_unlock();
            for heap in &self.heaps {
                heap.force_unlock();
            }
        }
    }

    /// In a forked child: gives the child private copies of every code and
    /// read-only block, so that it neither sees the parent's later writes nor
    /// writes into the parent's code, and new writable views (the parent's
    /// were not inherited: MADV_DONTFORK). On failure the arena refuses
    /// further allocations; code already loaded keeps running.
    ///
    /// # Safety
    /// Only in the child right after fork, with `lock_all` in effect.
    pub(crate) unsafe fn rebuild_after_fork(&self) {
        let Some(old) = self.fd() else {
            return;
        };
        let result = (|| {
            let new = os::memfd(&memfd_name(), self.size)?;
            for class in [Class::Code, Class::ReadOnly] {
                // SAFETY: the heap lock is held by this thread (precondition).
                let heap = unsafe { &*self.heaps[class as usize].data_ptr() };
                for (&start, span) in &heap.spans {
                    let exec = (self.base + start) as *mut u8;
                    // SAFETY: `exec` is the readable view of this span of `old`.
                    unsafe { os::copy_file_range_from_view(old, new, exec, start, span.len)? };
                    // SAFETY: replaces this arena's own block with an
                    // identical private copy; only this thread runs.
                    unsafe {
                        os::map_shared_fixed(exec, span.len, class.final_prot(), new, start)?
                    };
                    // The writable view goes back where it was (span.rw_base).
                    let rw = span.rw_base as *mut u8;
                    // SAFETY: the span's place in our mirror reservation; the
                    // parent's view there was not inherited (DONTFORK).
                    unsafe { os::map_shared_fixed(rw, span.len, Prot::ReadWrite, new, start)? };
                    // SAFETY: the view was just mapped and is ours.
                    unsafe { os::dont_fork(rw, span.len)? };
                }
            }
            self.fd.store(new, Ordering::Relaxed);
            os::close(old);
            Ok(())
        })();
        if let Err(Errno(errno)) = result {
            self.broken.store(errno.max(1), Ordering::Relaxed);
        }
    }

    /// Executable address of an arena offset.
    pub(crate) fn exec_addr(&self, offset: usize) -> usize {
        self.base + offset
    }

    /// Makes a chunk of code or read-only data final (Mprotect only).
    pub(crate) fn protect_final(&self, chunk: &Chunk) -> Result<()> {
        if self.strategy != Strategy::Mprotect || chunk.class == Class::ReadWrite {
            return Ok(());
        }
        let op = match chunk.class {
            Class::Code => "mprotect (RX)",
            _ => "mprotect (R)",
        };
        // SAFETY: the chunk is a page-granular range of a mapped span owned by
        // the object being finalized; nobody writes it after finalize.
        unsafe {
            os::protect(
                self.exec_addr(chunk.offset) as *mut u8,
                chunk.len,
                chunk.class.final_prot(),
            )
        }
        .map_err(self.os_error(op))
    }

    /// Returns a chunk: code is overwritten with traps (or made non-executable
    /// under Mprotect), the range rejoins the free list, and resident pages go
    /// back to the OS once enough have accumulated.
    ///
    /// `protected`: the chunk may have been given its final protection
    /// (finalize ran, even if it failed part way).
    pub(crate) fn free(&self, chunk: &Chunk, protected: bool) {
        stats::live(chunk.class, -(chunk.len as isize));
        if self.strategy == Strategy::Mprotect && protected && chunk.class != Class::ReadWrite {
            let addr = self.exec_addr(chunk.offset) as *mut u8;
            // SAFETY: the chunk is page-granular and no longer used by anyone.
            let writable = unsafe { os::protect(addr, chunk.len, Prot::ReadWrite) }.or_else(|_| {
                // SAFETY: as above; fresh pages replace the old code.
                unsafe { os::map_anon_fixed(addr, chunk.len, Prot::ReadWrite) }
            });
            if writable.is_err() {
                // Not writable again: reusing it would fault on the next
                // write, so the chunk never rejoins the free list.
                return;
            }
        }
        let mut heap = lock(&self.heaps[chunk.class as usize]);
        let page = self.page;
        let (span_start, span) = heap.span_mut(chunk.offset);
        // Bytes of the chunk already returned to the OS (not owed a sweep).
        let mut released = 0;
        if self.strategy == Strategy::DualMap && chunk.class == Class::Code {
            let rw = span.rw_base + (chunk.offset - span_start);
            // SAFETY: `rw` is the chunk's writable view, `len` bytes long, and
            // the chunk is ours until it rejoins the free list.
            let bytes = unsafe { std::slice::from_raw_parts_mut(rw as *mut u8, chunk.len) };
            if chunk.len <= HOT_LIMIT {
                fill_traps(bytes);
            } else {
                // Too large to stay resident (see `HOT_LIMIT`): whole pages go
                // back to the OS now rather than being filled first (which
                // would touch every page, used or not); the partial pages at
                // the ends get traps.
                let (lo, hi) = whole_pages(chunk.offset, chunk.offset + chunk.len, page);
                if lo < hi {
                    fill_traps(&mut bytes[..lo - chunk.offset]);
                    fill_traps(&mut bytes[hi - chunk.offset..]);
                    let rw_shift = span.rw_base.wrapping_sub(span_start);
                    self.release_pages(chunk.class, rw_shift, lo, hi);
                    released = hi - lo;
                } else {
                    fill_traps(bytes);
                }
            }
        }
        self.put_back(&mut heap, span_start, chunk, Return::Freed { released });
    }

    /// Gives back the unused tail of a reserved chunk. The linker never had
    /// it, so nothing was written there: no traps, and the chunk freed last
    /// stays the hot one.
    pub(crate) fn free_unused(&self, chunk: &Chunk) {
        stats::live(chunk.class, -(chunk.len as isize));
        let mut heap = lock(&self.heaps[chunk.class as usize]);
        let (span_start, _) = heap.span_mut(chunk.offset);
        self.put_back(&mut heap, span_start, chunk, Return::Unused);
    }

    /// Puts a chunk back on the free list of its span (which starts at
    /// `span_start`); unmaps the span if that empties it, or sweeps the class
    /// once enough freed pages are resident.
    fn put_back(&self, heap: &mut ClassHeap, span_start: usize, chunk: &Chunk, how: Return) {
        heap.live -= chunk.len;
        let span = heap.spans.get_mut(&span_start).expect("span present");
        span.free.insert(chunk.offset, chunk.len);
        span.free_bytes += chunk.len;
        let span_len = span.len;
        if span.free_bytes == span_len && !heap.keeps_as_spare(span_start) {
            let span = heap.spans.remove(&span_start).expect("span present");
            heap.cool((span_start, span_start + span_len), self.page);
            self.unmap_span(span_start, &span);
            return;
        }
        let end = chunk.offset + chunk.len;
        match how {
            // Only its whole pages can have been resident on their own.
            Return::Unused => {
                heap.dirty += page_bytes_within(chunk.offset, end, self.page);
            }
            // The chunk freed before becomes an ordinary dirty range; this
            // one counts towards a sweep only once it cools in turn.
            Return::Freed { released } => {
                heap.cool((0, 0), self.page);
                if chunk.len <= HOT_LIMIT {
                    heap.hot = Some(Hot {
                        lo: chunk.offset,
                        hi: end,
                        swept: false,
                    });
                } else {
                    heap.dirty += chunk.len - released;
                }
            }
        }
        // Sweep when enough has piled up, and sooner when the class's last
        // chunk goes (a JIT that dropped everything gets its memory back).
        let threshold = if heap.live == 0 {
            EMPTY_SWEEP_THRESHOLD
        } else {
            SWEEP_THRESHOLD
        };
        if heap.dirty >= threshold {
            self.sweep(heap, chunk.class);
        }
    }

    /// Returns the pages of dirty free runs to the OS, except those of the
    /// hot chunk (see [`HOT_LIMIT`]).
    fn sweep(&self, heap: &mut ClassHeap, class: Class) {
        if let Some(hot) = &mut heap.hot {
            hot.swept = true;
        }
        let hot = heap.hot;
        heap.dirty = 0;
        for (&span_start, span) in heap.spans.iter_mut() {
            // Writable address of arena offset `o` in this span: `o + rw_shift`.
            let rw_shift = span.rw_base.wrapping_sub(span_start);
            for (start, end) in span.free.take_dirty() {
                let (lo, hi) = whole_pages(start, end, self.page);
                match hot.filter(|h| start <= h.lo && h.hi <= end) {
                    Some(Hot {
                        lo: h_lo, hi: h_hi, ..
                    }) => {
                        // Keep the pages the hot chunk touches.
                        let keep_lo = round_down(h_lo, self.page);
                        let keep_hi = round_up(h_hi, self.page).unwrap_or(usize::MAX);
                        self.release_pages(class, rw_shift, lo, hi.min(keep_lo));
                        self.release_pages(class, rw_shift, lo.max(keep_hi), hi);
                    }
                    None => self.release_pages(class, rw_shift, lo, hi),
                }
            }
        }
    }

    /// Returns the pages `lo..hi` (arena offsets, page-aligned) of a span's
    /// free range to the OS (`rw_shift`: see `sweep`); an empty range does
    /// nothing.
    fn release_pages(&self, class: Class, rw_shift: usize, lo: usize, hi: usize) {
        if lo >= hi {
            return;
        }
        match (self.fd(), class) {
            (Some(fd), Class::Code | Class::ReadOnly) => {
                let _ = os::punch_hole(fd, lo, hi - lo);
            }
            _ => {
                let addr = lo.wrapping_add(rw_shift);
                // SAFETY: a free, private anonymous range of our span.
                let _ = unsafe { os::discard_anon(addr as *mut u8, hi - lo) };
            }
        }
    }

    fn unmap_span(&self, start: usize, span: &Span) {
        if let (Some(fd), true) = (self.fd(), span.rw_base != self.base + start) {
            // SAFETY: the span's RW view; the span is empty and being removed.
            let unmapped = unsafe { os::unreserve(span.rw_base as *mut u8, span.len) };
            let _ = os::punch_hole(fd, start, span.len);
            if unmapped.is_err() {
                // The writable view stays (inside the mirror, unmapped when
                // the arena is dropped), so its blocks must never hold new
                // code: they stay claimed.
                drop_by(&COUNTERS.bytes_committed, span.len as u64);
                return;
            }
        }
        // SAFETY: the span's range of our reservation holds no live chunk.
        let _ = unsafe { os::unreserve((self.base + start) as *mut u8, span.len) };
        drop_by(&COUNTERS.bytes_committed, span.len as u64);
        self.release_blocks(start, span.len);
    }

    /// Returns every free page of every class to the OS now, including the
    /// last freed chunks that sweeps keep resident.
    pub fn trim(&self) {
        for class in Class::ALL {
            let mut heap = lock(&self.heaps[class as usize]);
            heap.cool((0, 0), self.page);
            self.sweep(&mut heap, class);
        }
    }

    /// Address ranges this arena owns (the reservation and the RW mirror,
    /// which holds every writable view).
    fn ranges(&self) -> Vec<(usize, usize)> {
        let mut ranges = vec![(self.base, self.base + self.size)];
        if self.mirror != 0 {
            ranges.push((self.mirror, self.mirror + self.size));
        }
        ranges
    }
}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena")
            .field("base", &format_args!("{:#x}", self.base))
            .field("size", &self.size)
            .field("strategy", &self.strategy)
            .field("live_objects", &self.live_objects())
            .finish()
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        if self.mirror != 0 {
            // SAFETY: the mirror reservation and the writable views in it; no
            // object outlives the arena (objects hold an `Arc` to it).
            let _ = unsafe { os::unmap(self.mirror as *mut u8, self.size) };
        }
        // SAFETY: the whole reservation, unused once the last object is gone.
        let _ = unsafe { os::unmap(self.base as *mut u8, self.size) };
        if let Some(fd) = self.fd() {
            os::close(fd);
        }
        for class in Class::ALL {
            let heap = lock(&self.heaps[class as usize]);
            let committed: usize = heap.spans.values().map(|s| s.len).sum();
            drop_by(&COUNTERS.bytes_committed, committed as u64);
        }
        drop_by(&COUNTERS.bytes_reserved, self.size as u64);
    }
}

/// Index of the first run of `n` free (`false`) entries.
fn first_free_run(blocks: &[bool], n: usize) -> Option<usize> {
    let mut run = 0;
    for (i, &taken) in blocks.iter().enumerate() {
        run = if taken { 0 } else { run + 1 };
        if run == n {
            return Some(i + 1 - n);
        }
    }
    None
}

/// Fills freed code with the architecture's trap instruction.
fn fill_traps(bytes: &mut [u8]) {
    let pattern = crate::icache::TRAP_PATTERN;
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = pattern[i % pattern.len()];
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock()
}

fn memfd_name() -> CString {
    CString::new("jitmm").expect("no interior NUL")
}

/// The process-wide arenas, one per concrete strategy (DualMap, Mprotect).
/// Lock order: this, then [`ARENAS`], then an arena's own locks.
pub(crate) static SHARED_ARENAS: Mutex<[Option<Arc<Arena>>; 2]> = Mutex::new([None, None]);

/// Every arena of the process, for stats and fork handling.
pub(crate) static ARENAS: Mutex<Vec<Weak<Arena>>> = Mutex::new(Vec::new());

fn registry() -> MutexGuard<'static, Vec<Weak<Arena>>> {
    let mut arenas = lock(&ARENAS);
    arenas.retain(|a| a.strong_count() > 0);
    arenas
}

/// Returns every free page of every arena to the OS now (see [`Arena::trim`]).
pub fn trim() {
    let arenas: Vec<Arc<Arena>> = registry().iter().filter_map(Weak::upgrade).collect();
    for arena in arenas {
        arena.trim();
    }
}

/// Address ranges owned by every live arena, for counting VMAs.
pub(crate) fn owned_ranges() -> Vec<(usize, usize)> {
    let arenas: Vec<Arc<Arena>> = registry().iter().filter_map(Weak::upgrade).collect();
    arenas.iter().flat_map(|a| a.ranges()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_indices_round_trip() {
        for class in Class::ALL {
            assert_eq!(Class::from_index(class as i32), Some(class));
        }
        assert_eq!(Class::from_index(3), None);
        assert_eq!(Class::from_index(-1), None);
    }
}
