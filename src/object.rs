//! One loaded object: its sections, finalize, free.
//!
//! An [`Object`] collects the sections a linker allocates for one object
//! file or link graph. [`Object::finalize`] consumes it and yields a
//! [`FinalizedObject`], which offers no way left to write its code; dropping
//! either frees every section (code is overwritten with traps first).

use std::sync::Arc;

use smallvec::SmallVec;

use crate::arena::{Arena, Chunk, Class};
use crate::config::Config;
use crate::error::{os_error, Error, Op, Result};
use crate::icache;
use crate::ledger;
use crate::perf_map::{self, Symbol};
use crate::stats::{bump, COUNTERS};

/// Where a section lives: written through `rw`, run or read at `exec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    /// The address the linker writes through.
    pub rw: *mut u8,
    /// The address the section has when the program runs. Equal to `rw` for
    /// read-write data and under [`Strategy::Mprotect`](crate::Strategy::Mprotect).
    pub exec: *mut u8,
    /// Requested size in bytes.
    pub len: usize,
    /// Its class.
    pub class: Class,
}

// SAFETY: `Section` is a plain description of addresses; it grants no access
// by itself (every dereference is the user's `unsafe`).
unsafe impl Send for Section {}
// SAFETY: as above.
unsafe impl Sync for Section {}

/// Space reserved up front for one class (`reserveAllocationSpace`), with
/// what allocating from it needs, so that it touches neither the arena nor
/// the chunk list (the linker calls in with caches cold from compiling).
#[derive(Debug, Clone)]
struct Reserved {
    /// Its index in the object's chunks.
    index: usize,
    chunk: Chunk,
    /// Executable and writable addresses of its start.
    exec: usize,
    rw: usize,
    granule: usize,
    /// The largest alignment a section may ask for (the page).
    max_align: usize,
    used: usize,
}

/// How many times an object is finalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Batches {
    /// Once: one object file or link graph.
    One,
    /// After each batch of sections: every object file one manager loads
    /// until it frees them all together (an MCJIT engine). Reservations are
    /// carved from slabs the batches share, so a batch costs no arena
    /// allocation, and finalize seals what its batch allocated.
    Many,
}

/// The least a reservation of a [`Batches::Many`] object takes from the
/// arena per class: room for the next batches (an MCJIT module is often a
/// few hundred bytes a class).
const SLAB: usize = 16 * 1024;

/// The shared state of an object, finalized or not.
#[derive(Debug)]
pub struct ObjectCore {
    arena: Arc<Arena>,
    batches: Batches,
    /// Inline for the usual object (a chunk per class, or a few sections).
    chunks: SmallVec<[Chunk; 4]>,
    reserved: [Option<Reserved>; 3],
    /// [`Batches::Many`]: what the open batch allocated, in granules.
    batch: SmallVec<[Chunk; 4]>,
    /// The linker has placed every section: it knows their executable
    /// addresses, and allocates nothing more from what it reserved.
    placed: bool,
    /// `finalize` began changing protections (it may have failed part way).
    protecting: bool,
    finalized: bool,
    /// Functions to name in the perf map at finalize; `None`: map off.
    symbols: Option<Vec<Symbol>>,
}

impl ObjectCore {
    pub(crate) fn new(arena: Arc<Arena>) -> Self {
        Self::with_batches(arena, Batches::One)
    }

    pub(crate) fn with_batches(arena: Arc<Arena>, batches: Batches) -> Self {
        arena.object_created();
        ObjectCore {
            arena,
            batches,
            chunks: SmallVec::new(),
            reserved: [const { None }; 3],
            batch: SmallVec::new(),
            placed: false,
            protecting: false,
            finalized: false,
            symbols: None,
        }
    }

    /// Turns on collection of symbols for the perf map.
    pub(crate) fn enable_perf_map(&mut self) {
        self.symbols.get_or_insert_with(Vec::new);
    }

    /// Whether symbols are wanted (the perf map is on).
    pub(crate) fn wants_symbols(&self) -> bool {
        self.symbols.is_some()
    }

    /// Names a function at its executable address for the perf map.
    pub(crate) fn add_symbol(&mut self, name: String, addr: u64, size: u64) {
        if let Some(symbols) = &mut self.symbols {
            symbols.push(Symbol { addr, size, name });
        }
    }

    pub(crate) fn arena(&self) -> &Arc<Arena> {
        &self.arena
    }

    /// Reserves one contiguous chunk per class so that every section of the
    /// object lands next to its siblings. A new reservation replaces what
    /// is left of an earlier one (its unused tail goes back to the arena);
    /// a [`Batches::Many`] object only makes sure its slabs have the room.
    pub(crate) fn reserve(&mut self, sizes: [(usize, usize); 3]) -> Result<()> {
        if self.finalized {
            return Err(Error::AlreadyFinalized);
        }
        let sizes = Class::ALL
            .into_iter()
            .zip(sizes)
            .filter(|(_, (size, _))| *size != 0);
        if self.batches == Batches::Many {
            for (class, (size, align)) in sizes {
                self.make_room(class, size, align.max(1))?;
            }
            return Ok(());
        }
        // An earlier reservation would otherwise stay whole until the object
        // is freed, and (code / rodata) make an object without such
        // sections need mapping before finalize.
        self.trim_reservations();
        let mut taken: SmallVec<[(Class, Chunk); 3]> = SmallVec::new();
        for (class, (size, align)) in sizes {
            let result = self
                .arena
                .layout(class, size, align.max(1))
                .and_then(|(len, align)| self.arena.allocate(class, len, align));
            match result {
                Ok(chunk) => taken.push((class, chunk)),
                Err(e) => {
                    for (_, chunk) in &taken {
                        self.arena.free(chunk, false);
                    }
                    return Err(e);
                }
            }
        }
        for (class, chunk) in taken {
            self.reserve_chunk(class, chunk);
        }
        Ok(())
    }

    /// [`Batches::Many`]: makes sure the slab of `class` holds `size` bytes
    /// at `align`, else gives back its tail and takes a new one.
    fn make_room(&mut self, class: Class, size: usize, align: usize) -> Result<()> {
        if self.reserved_start(class, size, align).is_some() {
            return Ok(());
        }
        let (len, align) = self.arena.layout(class, size.max(SLAB), align)?;
        let chunk = self.arena.allocate(class, len, align)?;
        self.trim_reservation(class);
        self.drop_empty_chunks();
        self.reserve_chunk(class, chunk);
        Ok(())
    }

    /// Makes a chunk the reservation of its class.
    fn reserve_chunk(&mut self, class: Class, chunk: Chunk) {
        let (exec, rw) = self.arena.addresses(class, chunk.range.start);
        self.reserved[class as usize] = Some(Reserved {
            index: self.chunks.len(),
            chunk: chunk.clone(),
            exec,
            rw,
            granule: self.arena.granule(class),
            max_align: self.arena.page_size(),
            used: 0,
        });
        self.chunks.push(chunk);
    }

    /// Allocates one section. An alignment of 0 means 16 (LLVM's default).
    /// A [`Batches::Many`] object takes every section from its slabs,
    /// reserved or not.
    #[link_section = ".text.hot.jitmm"]
    pub(crate) fn allocate(&mut self, class: Class, size: usize, align: usize) -> Result<Section> {
        if self.finalized {
            return Err(Error::AlreadyFinalized);
        }
        if self.batches == Batches::Many {
            // A new batch is not placed until the linker says so.
            self.placed = false;
        }
        let align = if align == 0 { 16 } else { align };
        // A request `layout` would refuse never fits a reservation.
        if let Some(section) = self.take_reserved(class, size, align) {
            return Ok(section);
        }
        let (len, chunk_align) = self.arena.layout(class, size, align)?;
        if self.batches == Batches::Many {
            self.make_room(class, size, align)?;
            return self
                .take_reserved(class, size, align)
                .ok_or(Error::InvalidArgument(
                    "a new slab does not hold the section",
                ));
        }
        let chunk = self.arena.allocate(class, len, chunk_align)?;
        let section = self.section_at(&chunk, 0, size);
        self.chunks.push(chunk);
        Ok(section)
    }

    /// The section of `size` bytes at `start` within a chunk.
    fn section_at(&self, chunk: &Chunk, start: usize, size: usize) -> Section {
        let (exec, rw) = self.arena.addresses(chunk.class, chunk.range.start + start);
        Section {
            rw: rw as *mut u8,
            exec: exec as *mut u8,
            len: size,
            class: chunk.class,
        }
    }

    /// Where in its class's reserved chunk `size` bytes at `align` would
    /// start, if they fit. Alignment holds in the executable view (the
    /// writable one is at a block-aligned distance).
    fn reserved_start(&self, class: Class, size: usize, align: usize) -> Option<usize> {
        let reserved = self.reserved[class as usize].as_ref()?;
        if size == 0 || !align.is_power_of_two() || align > reserved.max_align {
            return None;
        }
        let aligned = (reserved.exec + reserved.used).checked_add(align - 1)? & !(align - 1);
        let start = aligned - reserved.exec;
        (start.checked_add(size)? <= reserved.chunk.range.len()).then_some(start)
    }

    #[link_section = ".text.hot.jitmm"]
    fn take_reserved(&mut self, class: Class, size: usize, align: usize) -> Option<Section> {
        let start = self.reserved_start(class, size, align)?;
        let reserved = self.reserved[class as usize].as_mut()?;
        reserved.used = start + size;
        if self.batches == Batches::Many {
            let (offset, granule) = (reserved.chunk.range.start, reserved.granule);
            self.batch.push(Chunk {
                range: offset + start / granule * granule
                    ..offset + reserved.used.div_ceil(granule) * granule,
                ..reserved.chunk.clone()
            });
        }
        Some(Section {
            rw: (reserved.rw + start) as *mut u8,
            exec: (reserved.exec + start) as *mut u8,
            len: size,
            class,
        })
    }

    /// The linker has placed every section and knows their executable
    /// addresses (`notifyObjectLoaded`, JITLink's allocation done): what
    /// was reserved and not used goes back to the arena.
    #[link_section = ".text.hot.jitmm"]
    pub(crate) fn sections_placed(&mut self) {
        self.placed = true;
        if self.batches == Batches::One {
            self.trim_reservations();
        }
    }

    /// Gives back the unused tail of each chunk reserved up front: once the
    /// linker has placed every section (it tells us, or finalizes), nothing
    /// more is allocated from it.
    fn trim_reservations(&mut self) {
        for class in Class::ALL {
            self.trim_reservation(class);
        }
        self.drop_empty_chunks();
    }

    /// Forgets chunks a trim left empty, keeping the reservations' indices.
    fn drop_empty_chunks(&mut self) {
        // The new index of each chunk; no reservation is left on an empty
        // one (trimming it took the reservation).
        let mut index: SmallVec<[usize; 8]> = SmallVec::new();
        let mut kept = 0;
        for chunk in &self.chunks {
            index.push(kept);
            kept += usize::from(!chunk.range.is_empty());
        }
        for reserved in self.reserved.iter_mut().flatten() {
            reserved.index = index[reserved.index];
        }
        self.chunks.retain(|c| !c.range.is_empty());
    }

    /// Gives back the unused tail of the chunk reserved for `class`.
    fn trim_reservation(&mut self, class: Class) {
        let Some(reserved) = self.reserved[class as usize].take() else {
            return;
        };
        let chunk = &mut self.chunks[reserved.index];
        let end = chunk.range.start + reserved.used.div_ceil(reserved.granule) * reserved.granule;
        if end >= chunk.range.end {
            return;
        }
        let tail = Chunk {
            class,
            range: end..chunk.range.end,
            reused: chunk.reused,
        };
        chunk.range.end = end;
        self.arena.free_unused(&tail);
    }

    /// Protections and instruction-cache coherence, in this order: the
    /// final protection of every chunk (Mprotect: `mprotect` code to RX and
    /// rodata to R); flush every code chunk through its executable address;
    /// publish to other threads once. A refused flush or publish is an
    /// error: the code must not run.
    #[link_section = ".text.hot.jitmm"]
    pub(crate) fn finalize(&mut self) -> Result<()> {
        if self.finalized {
            return Err(Error::AlreadyFinalized);
        }
        let sealing = match self.batches {
            Batches::One => {
                self.trim_reservations();
                &self.chunks
            }
            Batches::Many => &self.batch,
        };
        let unplaced = |c: &Chunk| self.arena.needs_placement(c.class);
        if !self.placed && sealing.iter().any(unplaced) {
            return Err(Error::NotMapped);
        }
        self.protecting = true;
        for chunk in sealing {
            self.arena.protect_final(chunk)?;
        }
        let strategy = self.arena.strategy();
        let code = || sealing.iter().filter(|c| c.class == Class::Code);
        for chunk in code() {
            let exec = self.arena.exec_range(chunk);
            // SAFETY: the chunk is mapped code of this object.
            unsafe { icache::flush(exec.start as *const u8, exec.len()) }
                .map_err(os_error(strategy, Op::CacheFlush))?;
        }
        if code().next().is_some() {
            let reused = code().any(|c| c.reused);
            icache::publish(reused).map_err(os_error(strategy, Op::Membarrier))?;
        }
        for chunk in code() {
            ledger::handed_out(self.arena.exec_range(chunk));
        }
        match self.batches {
            Batches::One => self.finalized = true,
            Batches::Many => self.end_batch(),
        }
        bump(&COUNTERS.objects_finalized, 1);
        if let Some(symbols) = &mut self.symbols {
            perf_map::append(symbols);
            symbols.clear();
        }
        Ok(())
    }

    /// After a batch is sealed, the next one starts on a fresh granule of
    /// each reservation (under Mprotect the sealed pages are no longer
    /// writable) and must be placed anew.
    #[link_section = ".text.hot.jitmm"]
    fn end_batch(&mut self) {
        self.batch.clear();
        self.placed = false;
        for reserved in self.reserved.iter_mut().flatten() {
            reserved.used = reserved.used.next_multiple_of(reserved.granule);
        }
    }
}

impl Drop for ObjectCore {
    fn drop(&mut self) {
        for chunk in &self.chunks {
            self.arena.free(chunk, self.protecting);
        }
        self.arena.object_dropped();
    }
}

/// An object being linked: sections can be allocated and written.
#[derive(Debug)]
pub struct Object {
    core: ObjectCore,
    sections: Vec<Section>,
}

/// Index of a section within its [`Object`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SectionId(usize);

impl Object {
    /// A new empty object in the arena `config` selects.
    pub fn new(config: &Config) -> Result<Object> {
        let mut object = Self::in_arena(Arena::for_config(config)?);
        if config.perf_map_enabled() {
            object.core.enable_perf_map();
        }
        Ok(object)
    }

    /// Names `size` bytes of code at `offset` in a section, for the perf map
    /// (written at finalize when the map is on; ignored otherwise).
    pub fn name_function(&mut self, id: SectionId, offset: usize, size: usize, name: &str) {
        let exec = self.sections[id.0].exec as u64 + offset as u64;
        self.core.add_symbol(name.to_string(), exec, size as u64);
    }

    /// A new empty object in a given arena.
    pub fn in_arena(arena: Arc<Arena>) -> Object {
        Object {
            core: ObjectCore::new(arena),
            sections: Vec::new(),
        }
    }

    /// The arena the object lives in.
    pub fn arena(&self) -> &Arc<Arena> {
        self.core.arena()
    }

    /// Reserves contiguous space per class: `(size, align)` for code,
    /// read-only and read-write data, in that order.
    pub fn reserve(&mut self, sizes: [(usize, usize); 3]) -> Result<()> {
        self.core.reserve(sizes)
    }

    /// Allocates a section of `size` bytes aligned to `align` (a power of two
    /// no larger than a page).
    pub fn allocate(&mut self, class: Class, size: usize, align: usize) -> Result<SectionId> {
        let section = self.core.allocate(class, size, align)?;
        self.sections.push(section);
        Ok(SectionId(self.sections.len() - 1))
    }

    /// A section's addresses.
    pub fn section(&self, id: SectionId) -> Section {
        self.sections[id.0]
    }

    /// The writable bytes of a section.
    pub fn bytes_mut(&mut self, id: SectionId) -> &mut [u8] {
        let s = self.sections[id.0];
        // SAFETY: `rw` is a writable view of `len` bytes owned by this object
        // until it is dropped or finalized (both consume or end `&mut self`).
        unsafe { std::slice::from_raw_parts_mut(s.rw, s.len) }
    }

    /// Makes code executable and coherent and data read-only as classed;
    /// consumes the object so no writable access to its code remains.
    /// On error the object is dropped and its memory freed.
    ///
    /// Under DualMap no address changes: code was written through the RW
    /// view and runs at [`Section::exec`], so the linker must already have
    /// used the exec addresses when it resolved relocations (the Rust API
    /// marks the sections placed here, since its user sees both addresses).
    pub fn finalize(mut self) -> Result<FinalizedObject> {
        self.core.sections_placed();
        self.core.finalize()?;
        Ok(FinalizedObject {
            core: self.core,
            sections: self.sections,
        })
    }
}

/// A finalized object: code is executable, nothing is writable but RW data.
#[derive(Debug)]
pub struct FinalizedObject {
    core: ObjectCore,
    sections: Vec<Section>,
}

impl FinalizedObject {
    /// The executable (or readable) address of a section.
    pub fn exec_addr(&self, id: SectionId) -> *const u8 {
        self.sections[id.0].exec
    }

    /// A section's addresses.
    pub fn section(&self, id: SectionId) -> Section {
        self.sections[id.0]
    }

    /// The arena the object lives in.
    pub fn arena(&self) -> &Arc<Arena> {
        self.core.arena()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::Strategy;

    /// Writes a `ret`-like byte and reads it back through the exec view.
    fn write_and_read(section: &Section) -> u8 {
        // SAFETY: a fresh section of at least one byte, writable through
        // `rw` until its batch is finalized, readable at `exec`.
        unsafe {
            section.rw.write(0xc3);
            section.exec.read_volatile()
        }
    }

    /// Batch after batch in one object: each one's sections come from the
    /// same slabs, each finalize seals only its own batch, later batches
    /// stay writable, and freeing the object gives everything back.
    #[test]
    fn a_batched_object_finalizes_batch_after_batch_from_shared_slabs() {
        for strategy in [Strategy::Mprotect, Strategy::DualMap] {
            let Ok(arena) = Arena::new(64 << 20, strategy) else {
                continue; // DualMap refused here
            };
            let mut object = ObjectCore::with_batches(arena.clone(), Batches::Many);
            let mut code = Vec::new();
            for batch in 0..40 {
                object.reserve([(200, 16), (100, 16), (0, 1)]).unwrap();
                let section = object.allocate(Class::Code, 200, 16).unwrap();
                assert_eq!(write_and_read(&section), 0xc3);
                let data = object.allocate(Class::ReadWrite, 8, 8).unwrap();
                object.sections_placed();
                object
                    .finalize()
                    .unwrap_or_else(|e| panic!("{strategy:?} batch {batch}: {e}"));
                code.push(section);
                // RW data stays writable after its batch is finalized.
                assert_eq!(write_and_read(&data), 0xc3);
            }
            let pages: std::collections::BTreeSet<usize> = code
                .iter()
                .map(|s| s.exec as usize / arena.page_size())
                .collect();
            let chunks = object.chunks.len();
            match strategy {
                // Each sealed batch made its pages RX: the next starts on a
                // new page, four to a slab.
                Strategy::Mprotect => {
                    assert_eq!(pages.len(), code.len());
                    assert!(chunks <= 2 * 40 / 4 + 1, "{chunks} chunks");
                }
                // Forty batches, one slab per class.
                _ => {
                    assert!(pages.len() < code.len());
                    assert_eq!(chunks, 3);
                }
            }
            assert_eq!(arena.live_objects(), 1);
            assert!(arena.live_bytes() > 0);
            drop(object);
            assert_eq!(arena.live_objects(), 0);
            assert_eq!(arena.live_bytes(), 0);
        }
    }

    /// A section larger than a slab, and one no reservation announced, are
    /// still carved for a batched object; bad requests are refused.
    #[test]
    fn a_batched_object_takes_unreserved_and_oversized_sections() {
        let arena = Arena::new(64 << 20, Strategy::Mprotect).unwrap();
        let mut object = ObjectCore::with_batches(arena.clone(), Batches::Many);
        let big = object.allocate(Class::ReadOnly, 3 * SLAB, 64).unwrap();
        let small = object.allocate(Class::ReadOnly, 10, 16).unwrap();
        assert_eq!(big.len, 3 * SLAB);
        assert_ne!(big.exec, small.exec);
        assert!(matches!(
            object.allocate(Class::Code, 0, 16),
            Err(Error::ZeroSize)
        ));
        assert!(matches!(
            object.allocate(Class::Code, 16, 3),
            Err(Error::BadAlignment { .. })
        ));
        object.finalize().unwrap();
        let again = object.allocate(Class::ReadOnly, 10, 16).unwrap();
        assert_ne!(again.exec, small.exec);
        drop(object);
        assert_eq!(arena.live_bytes(), 0);
    }
}
