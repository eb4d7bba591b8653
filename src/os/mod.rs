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

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(not(target_os = "linux"))]
compile_error!(
    "jitmm has an OS backend for Linux only; macOS (MAP_JIT) and Windows backends are not written yet"
);
