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

/// Space reserved up front for one class (`reserveAllocationSpace`).
#[derive(Debug, Clone, Copy)]
struct Reserved {
    chunk: usize,
    used: usize,
}

/// The shared state of an object, finalized or not.
#[derive(Debug)]
pub struct ObjectCore {
    arena: Arc<Arena>,
    /// Inline for the usual object (a chunk per class, or a few sections).
    chunks: SmallVec<[Chunk; 4]>,
    reserved: [Option<Reserved>; 3],
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
        arena.object_created();
        ObjectCore {
            arena,
            chunks: SmallVec::new(),
            reserved: [None; 3],
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
    /// is left of an earlier one (its unused tail goes back to the arena).
    pub(crate) fn reserve(&mut self, sizes: [(usize, usize); 3]) -> Result<()> {
        if self.finalized {
            return Err(Error::AlreadyFinalized);
        }
        // An earlier reservation would otherwise stay whole until the object
        // is freed, and (code / rodata) make an object without such sections
        // need mapping before finalize.
        self.trim_reservations();
        let mut taken: SmallVec<[(Class, Chunk); 3]> = SmallVec::new();
        for (class, (size, align)) in Class::ALL.into_iter().zip(sizes) {
            if size == 0 {
                continue;
            }
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
            self.chunks.push(chunk);
            self.reserved[class as usize] = Some(Reserved {
                chunk: self.chunks.len() - 1,
                used: 0,
            });
        }
        Ok(())
    }

    /// Allocates one section. An alignment of 0 means 16 (LLVM's default).
    pub(crate) fn allocate(&mut self, class: Class, size: usize, align: usize) -> Result<Section> {
        if self.finalized {
            return Err(Error::AlreadyFinalized);
        }
        let align = if align == 0 { 16 } else { align };
        let (len, chunk_align) = self.arena.layout(class, size, align)?;
        if let Some(section) = self.take_reserved(class, size, align) {
            return Ok(section);
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

    fn take_reserved(&mut self, class: Class, size: usize, align: usize) -> Option<Section> {
        let reserved = self.reserved[class as usize].as_mut()?;
        let chunk = &self.chunks[reserved.chunk];
        // Alignment holds in the executable view (the writable one is at a
        // block-aligned distance).
        let (exec, _) = self.arena.addresses(class, chunk.range.start);
        let aligned = (exec + reserved.used).checked_add(align - 1)? & !(align - 1);
        let start = aligned - exec;
        if start.checked_add(size)? > chunk.range.len() {
            return None;
        }
        reserved.used = start + size;
        let chunk = chunk.clone();
        Some(self.section_at(&chunk, start, size))
    }

    /// The linker has placed every section and knows their executable
    /// addresses (`notifyObjectLoaded`, JITLink's allocation done): what
    /// was reserved and not used goes back to the arena.
    pub(crate) fn sections_placed(&mut self) {
        self.placed = true;
        self.trim_reservations();
    }

    /// Gives back the unused tail of each chunk reserved up front: once the
    /// linker has placed every section (it tells us, or finalizes), nothing
    /// more is allocated from it.
    fn trim_reservations(&mut self) {
        for class in Class::ALL {
            let Some(reserved) = self.reserved[class as usize].take() else {
                continue;
            };
            let chunk = &mut self.chunks[reserved.chunk];
            let granule = self.arena.granule(class);
            let end = chunk.range.start + reserved.used.div_ceil(granule) * granule;
            if end >= chunk.range.end {
                continue;
            }
            let tail = Chunk {
                class,
                range: end..chunk.range.end,
                reused: chunk.reused,
            };
            chunk.range.end = end;
            self.arena.free_unused(&tail);
        }
        self.chunks.retain(|c| !c.range.is_empty());
    }

    /// Protections and instruction-cache coherence, in this order: the
    /// final protection of every chunk (Mprotect: `mprotect` code to RX and
    /// rodata to R); flush every code chunk through its executable address;
    /// publish to other threads once. A refused flush or publish is an
    /// error: the code must not run.
    pub(crate) fn finalize(&mut self) -> Result<()> {
        if self.finalized {
            return Err(Error::AlreadyFinalized);
        }
        self.trim_reservations();
        let unplaced = |c: &Chunk| self.arena.needs_placement(c.class);
        if !self.placed && self.chunks.iter().any(unplaced) {
            return Err(Error::NotMapped);
        }
        self.protecting = true;
        for chunk in &self.chunks {
            self.arena.protect_final(chunk)?;
        }
        let strategy = self.arena.strategy();
        let code = || self.chunks.iter().filter(|c| c.class == Class::Code);
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
        self.finalized = true;
        bump(&COUNTERS.objects_finalized, 1);
        if let Some(symbols) = &self.symbols {
            perf_map::append(symbols);
        }
        Ok(())
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
