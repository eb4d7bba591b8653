//! The operating-system layer: reserve, map, protect, discard, probe.
//!
//! One file per OS, chosen here and only here. Every backend exports the same
//! functions; checks on sizes and alignment live in the portable layers
//! above, so these functions are thin wrappers over system calls that count
//! what they do in [`crate::stats`]. Descriptors are `OwnedFd` /
//! `BorrowedFd`, so no call here can close or use a descriptor jitmm does
//! not own.

use std::fmt;
use std::ops::Range;

mod errno;
pub use errno::Errno;

/// Final (or current) access rights of a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

/// An OS call the core makes: what [`Error::Os`](crate::Error::Os) names,
/// and what fault injection makes fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// `mmap` of the PROT_NONE reservation (or of its RW mirror).
    Reserve,
    /// `mmap(MAP_FIXED)` of PROT_NONE over a range of the reservation.
    Decommit,
    /// `munmap`.
    Unmap,
    /// `mmap(MAP_FIXED)` of private anonymous memory (RW data, Mprotect blocks).
    MapAnonFixed,
    /// `mmap(MAP_FIXED | MAP_SHARED)` of the memfd with this protection: the
    /// executable or read-only view, or (RW) the writable view in the mirror.
    MapSharedFixed(Prot),
    /// `mmap(MAP_SHARED)` of a memfd at a kernel-chosen address (the probe).
    MapShared,
    /// `mprotect` to this protection.
    Protect(Prot),
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
    /// Copying a memfd's data into a new one (the rebuild after fork).
    CopyFile,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let view = |prot| match prot {
            Prot::ReadExec => "exec view",
            Prot::Read => "read-only view",
            Prot::ReadWrite => "RW view",
            Prot::None => "empty view",
        };
        let prot = |prot| match prot {
            Prot::ReadExec => "RX",
            Prot::Read => "R",
            Prot::ReadWrite => "RW",
            Prot::None => "none",
        };
        match *self {
            Op::Reserve => f.write_str("mmap (reserve)"),
            Op::Decommit => f.write_str("mmap (decommit)"),
            Op::Unmap => f.write_str("munmap"),
            Op::MapAnonFixed => f.write_str("mmap (block)"),
            Op::MapSharedFixed(p) => write!(f, "mmap ({})", view(p)),
            Op::MapShared => f.write_str("mmap (probe view)"),
            Op::Protect(p) => write!(f, "mprotect ({})", prot(p)),
            Op::DontFork => f.write_str("madvise (DONTFORK)"),
            Op::DiscardAnon => f.write_str("madvise (DONTNEED)"),
            Op::PunchHole => f.write_str("fallocate (PUNCH_HOLE)"),
            Op::MemfdCreate => f.write_str("memfd_create"),
            Op::Ftruncate => f.write_str("ftruncate"),
            Op::CopyFile => f.write_str("copy of the memfd (rebuild after fork)"),
        }
    }
}

/// Address space reserved with no access, unmapped when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    range: Range<usize>,
}

impl Reservation {
    /// Reserves `len` bytes at an address the kernel picks.
    pub(crate) fn new(len: usize) -> Result<Reservation, Errno> {
        let start = reserve(len)? as usize;
        Ok(Reservation {
            range: start..start + len,
        })
    }

    /// The reserved addresses.
    pub(crate) fn range(&self) -> Range<usize> {
        self.range.clone()
    }

    /// The first reserved address.
    pub(crate) fn start(&self) -> usize {
        self.range.start
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        // SAFETY: the reservation is ours and, being dropped, used by nobody
        // (every mapping inside it belongs to its owner, which is going).
        // An error leaves an inaccessible range behind: nothing to undo.
        let _ = unsafe { unmap(self.range.start as *mut u8, self.range.len()) };
    }
}

#[cfg(feature = "fault-injection")]
pub mod fault;

/// Without the `fault-injection` feature every check passes and compiles
/// away.
#[cfg(not(feature = "fault-injection"))]
mod fault {
    pub(crate) use super::Op;

    #[inline(always)]
    pub(crate) fn check(_op: Op) -> Result<(), super::Errno> {
        Ok(())
    }
}

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub(crate) use linux::*;

#[cfg(not(target_os = "linux"))]
compile_error!(
    "jitmm has an OS backend for Linux only; macOS (MAP_JIT) and Windows backends are not written yet"
);
