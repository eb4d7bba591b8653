//! LoongArch 64: hardware keeps the instruction cache coherent with stores;
//! `ibar 0` orders this core's instruction fetch after its earlier stores.
//! The kernel has no membarrier SYNC_CORE for LoongArch: other threads get
//! `membarrier(PRIVATE_EXPEDITED)`, an IPI that returns to user mode with
//! `ertn` (whether `ertn` orders instruction fetch as `ibar` does is not
//! stated in the manual; see the README's support table).

use std::arch::asm;

use crate::os::Errno;

pub const METHOD: &str = "ibar 0; membarrier for other threads";
/// `break 0`, little-endian.
pub const TRAP_PATTERN: &[u8] = &[0x00, 0x00, 0x2a, 0x00];
pub const NEEDS_CROSS_THREAD_SYNC: bool = true;

/// # Safety
/// None beyond the barrier's; `unsafe` as every backend's flush.
pub unsafe fn flush(_exec: *const u8, _len: usize) -> Result<(), Errno> {
    // SAFETY: an instruction barrier has no memory-safety preconditions.
    unsafe { asm!("ibar 0", options(nostack, preserves_flags)) };
    Ok(())
}
