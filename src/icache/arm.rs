//! 32-bit ARM: the kernel's `cacheflush` system call (cleans the data cache
//! and invalidates the instruction cache and branch predictor for the range,
//! broadcast to every core: `v7_coherent_user_range`; user space cannot do
//! it itself). Other threads: membarrier SYNC_CORE (arm selects it).

use super::words;
use crate::os::{self, Errno};

pub const METHOD: &str = "cacheflush syscall (__ARM_NR_cacheflush)";
/// `udf #0xfdee` in ARM state (`e7ffdefe`, what LLVM emits for a trap),
/// which in Thumb state reads as `udf #0xfe` then `b` to the next `udf`:
/// a stale call traps in either state instead of sliding into the
/// neighbouring chunk.
pub const TRAP_PATTERN: &[u8] = &[0xfe, 0xde, 0xff, 0xe7];
pub const NEEDS_CROSS_THREAD_SYNC: bool = true;

/// # Safety
/// `[exec, exec + len)` must be mapped memory of this process.
pub unsafe fn flush(exec: *const u8, len: usize) -> Result<(), Errno> {
    let start = exec as usize;
    os::flush_icache(start..start + len)
}

/// `movw r0, #value; bx lr` (ARM state): `extern "C" fn() -> i32`.
pub fn return_value(value: u16) -> Vec<u8> {
    let v = u32::from(value);
    words(&[
        0xe300_0000 | ((v & 0xf000) << 4) | (v & 0x0fff),
        0xe12f_ff1e,
    ])
}
