//! LoongArch 64: hardware keeps the instruction cache coherent with stores;
//! `ibar 0` orders this core's instruction fetch after its earlier stores.
//! Other threads get a context synchronisation through membarrier where the
//! kernel offers it (documented fallback otherwise, see `publish`).

use std::arch::asm;

pub const METHOD: &str = "ibar 0; membarrier for other threads";
/// `break 0`, little-endian.
pub const TRAP_PATTERN: &[u8] = &[0x00, 0x00, 0x2a, 0x00];
pub const NEEDS_CROSS_THREAD_SYNC: bool = true;

pub fn flush(_exec: *const u8, _len: usize) {
    // SAFETY: an instruction barrier has no memory-safety preconditions.
    unsafe { asm!("ibar 0", options(nostack, preserves_flags)) };
}
