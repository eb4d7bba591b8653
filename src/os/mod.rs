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
    /// The kernel's instruction-cache flush of a code range (ARM, RISC-V,
    /// MIPS).
    CacheFlush,
    /// `membarrier`, registering or publishing code to other threads.
    Membarrier,
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
            Op::Protect(p) => write!(f, "mprotect ({})", prot(p)),
            Op::DontFork => f.write_str("madvise (DONTFORK)"),
            Op::DiscardAnon => f.write_str("madvise (DONTNEED)"),
            Op::PunchHole => f.write_str("fallocate (PUNCH_HOLE)"),
            Op::MemfdCreate => f.write_str("memfd_create"),
            Op::Ftruncate => f.write_str("ftruncate"),
            Op::CopyFile => f.write_str("copy of the memfd (rebuild after fork)"),
            Op::CacheFlush => f.write_str("instruction-cache flush (cacheflush)"),
            Op::Membarrier => f.write_str("membarrier"),
        }
    }
}

/// The largest alignment Linux requires of `addr - offset` for a
/// `MAP_FIXED | MAP_SHARED` mapping (SHMLBA: 64 KiB on LoongArch, up to
/// that on MIPS with aliasing data caches, 16 KiB on ARMv6; a page
/// elsewhere). Shared views at the same file offset and an address aligned
/// to it have the same cache colour, which is also what makes flushing
/// through one view correct for the other.
pub(crate) const MAX_SHMLBA: usize = 64 << 10;

/// Address space reserved with no access, unmapped when dropped.
#[derive(Debug)]
pub(crate) struct Reservation {
    range: Range<usize>,
}

impl Reservation {
    /// Reserves `len` bytes starting at a multiple of `align` (a power of
    /// two at least a page), at an address the kernel picks: `align` and a
    /// page more are reserved, then the ends beyond the aligned range are
    /// unmapped. Both ends are at least a page wherever the kernel puts the
    /// reservation, so the calls made (reserve, unmap, unmap) do not depend
    /// on its address: placement varies between kernels and emulators
    /// (qemu-user picks 32-bit guests' addresses itself), and fault
    /// injection replays the same calls on each of them.
    /// `Err` names the call that failed; nothing stays reserved then.
    pub(crate) fn aligned(len: usize, align: usize) -> Result<Reservation, (Op, Errno)> {
        let over = len
            .checked_add(align)
            .and_then(|n| n.checked_add(page_size()))
            .ok_or((Op::Reserve, Errno(libc::ENOMEM)))?;
        let start = reserve(over).map_err(|e| (Op::Reserve, e))? as usize;
        let range = aligned_within(start..start + over, len, align);
        for end in [start..range.start, range.end..start + over] {
            debug_assert!(end.len() >= page_size());
            // SAFETY: an end of our own fresh reservation, unused.
            if let Err(errno) = unsafe { unmap(end.start as *mut u8, end.len()) } {
                // SAFETY: the whole reservation, ours and unused; a failure
                // here too leaves inaccessible address space, nothing worse.
                let _ = unsafe { unmap(start as *mut u8, over) };
                return Err((Op::Unmap, errno));
            }
        }
        Ok(Reservation { range })
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

/// The `len` bytes of `space` that start at the first multiple of `align`
/// above its start (never at it: the space below stays non-empty).
fn aligned_within(space: Range<usize>, len: usize, align: usize) -> Range<usize> {
    let start = (space.start + 1).next_multiple_of(align);
    debug_assert!(start + len <= space.end);
    start..start + len
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Range { start, end } = self.range;
        // SAFETY: the reservation is ours and, being dropped, used by nobody
        // (every mapping inside it belongs to its owner, which is going).
        // An error leaves an inaccessible range behind: nothing to undo.
        let _ = unsafe { unmap(start as *mut u8, end - start) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_start_colour_aligned() {
        // A 64 KiB SHMLBA (LoongArch): both views of a span then share the
        // colour of its file offset, as `MAP_FIXED | MAP_SHARED` requires.
        assert_eq!(
            aligned_within(0x1000..0x32000, 0x20000, MAX_SHMLBA),
            0x10000..0x30000
        );
        // An aligned start keeps a whole `align` below the range.
        assert_eq!(
            aligned_within(0x10000..0x41000, 0x20000, MAX_SHMLBA),
            0x20000..0x40000
        );
        let page = page_size();
        let r = Reservation::aligned(4 * page, MAX_SHMLBA).unwrap();
        assert_eq!(r.start() % MAX_SHMLBA, 0);
        assert_eq!(r.range().len(), 4 * page);
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
