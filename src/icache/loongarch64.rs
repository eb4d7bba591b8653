//! LoongArch 64: hardware keeps the instruction cache coherent with stores;
//! `ibar 0` orders this core's instruction fetch after its earlier stores.
//! The kernel has no membarrier SYNC_CORE for LoongArch: other threads get
//! `membarrier(PRIVATE_EXPEDITED)`, an IPI that returns to user mode with
//! `ertn` (whether `ertn` orders instruction fetch as `ibar` does is not
//! stated in the manual; see the README's support table).

use std::arch::asm;

use super::words;
use crate::os::Errno;

pub const METHOD: &str = "ibar 0; membarrier for other threads";
/// `break 0`, little-endian.
pub const TRAP_PATTERN: &[u8] = &[0x00, 0x00, 0x2a, 0x00];
pub const NEEDS_CROSS_THREAD_SYNC: bool = true;

/// # Safety
/// None beyond the barrier's; `unsafe` as every backend's flush.
pub unsafe fn flush(exec: *const u8, len: usize) -> Result<(), Errno> {
    // SAFETY: an instruction barrier has no memory-safety preconditions.
    unsafe { asm!("ibar 0", options(nostack, preserves_flags)) };
    crate::ledger::flushed(exec as usize..exec as usize + len);
    Ok(())
}

/// `addi.w $a0, $zero, value; jirl $zero, $ra, 0` (`value` < 2048):
/// `extern "C" fn() -> i32`.
pub fn return_value(value: u16) -> Vec<u8> {
    assert!(value < 2048);
    words(&[0x0280_0000 | (u32::from(value) << 10) | 4, 0x4c00_0020])
}
