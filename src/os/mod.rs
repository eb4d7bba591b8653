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

#[cfg(feature = "fault-injection")]
pub mod fault;

/// Without the `fault-injection` feature every check passes and compiles
/// away; the names mirror `fault.rs`.
#[cfg(not(feature = "fault-injection"))]
mod fault {
    #[allow(dead_code)]
    #[derive(Clone, Copy)]
    pub(crate) enum Op {
        Reserve,
        Unreserve,
        Unmap,
        MapAnonFixed,
        MapSharedFixed,
        MapShared,
        Protect,
        DontFork,
        DiscardAnon,
        PunchHole,
        MemfdCreate,
        Ftruncate,
        CopyFile,
    }

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
