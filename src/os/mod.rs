//! The operating-system layer: reserve, map, protect, discard, probe.
//!
//! One file per OS, chosen here and only here. Every backend exports the same
//! functions; checks on sizes and alignment live in the portable layers
//! above, so these functions are thin wrappers over system calls that count
//! what they do in [`crate::stats`].

/// Final (or current) access rights of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prot {
    /// No access: reserved address space.
    None,
    /// Read-only data.
    Read,
    /// Writable data (and views that the linker writes through).
    ReadWrite,
    /// Code.
    ReadExec,
}

/// An OS call the core makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
pub enum Op {
    /// `mmap` of the PROT_NONE reservation.
    Reserve,
    /// `mmap(MAP_FIXED)` of PROT_NONE over a range of the reservation.
    Unreserve,
    /// `munmap`.
    Unmap,
    /// `mmap(MAP_FIXED)` of private anonymous memory (RW data, Mprotect blocks).
    MapAnonFixed,
    /// `mmap(MAP_FIXED | MAP_SHARED)` of the memfd (exec / read views, and
    /// RW views in the mirror reservation).
    MapSharedFixed,
    /// `mmap(MAP_SHARED)` of a memfd at a kernel-chosen address (the probe).
    MapShared,
    /// `mprotect`.
    Protect,
    /// `madvise(MADV_DONTFORK)`.
    DontFork,
    /// `madvise(MADV_DONTNEED)`.
    DiscardAnon,
    /// `fallocate(PUNCH_HOLE)`.
    PunchHole,
    /// `memfd_create`.
    MemfdCreate,
    /// `ftruncate` of a new memfd.
    Ftruncate,
    /// Copying a memfd's data into a new one (fork rebuild).
    CopyFile,
}

#[cfg(feature = "fault-injection")]
pub mod fault;

/// Without the `fault-injection` feature every check passes and compiles
/// away.
#[cfg(not(feature = "fault-injection"))]
mod fault {
    pub(crate) use super::Op;

    #[inline(always)]
    pub(crate) fn check(_op: Op) -> Result<(), crate::error::Errno> {
        Ok(())
    }
}

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(not(target_os = "linux"))]
compile_error!(
    "jitmm has an OS backend for Linux only; macOS (MAP_JIT) and Windows backends are not written yet"
);
