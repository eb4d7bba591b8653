//! MIPS 64: the kernel's `cacheflush(addr, len, BCACHE)` system call, which
//! writes back the data cache and invalidates the instruction cache on every
//! CPU (user-mode `synci` would cover only the calling CPU). The kernel has
//! no membarrier SYNC_CORE for MIPS: other threads get
//! `membarrier(PRIVATE_EXPEDITED)`, an IPI whose return to user mode is an
//! `eret`, one of the instruction hazard barriers the MIPS64 manual names
//! after `synci` (with `jr.hb` and `jalr.hb`), so no stale fetch survives.

use super::words;
use crate::os::{self, Errno};

pub const METHOD: &str = "cacheflush(addr, len, BCACHE) syscall (all CPUs)";
/// `break 0`, little-endian.
pub const TRAP_PATTERN: &[u8] = &[0x0d, 0x00, 0x00, 0x00];
pub const NEEDS_CROSS_THREAD_SYNC: bool = true;

/// # Safety
/// `[exec, exec + len)` must be mapped memory of this process.
pub unsafe fn flush(exec: *const u8, len: usize) -> Result<(), Errno> {
    os::flush_icache(exec as usize..exec as usize + len)
}

/// `addiu $v0, $zero, value; jr $ra; nop` (`value` < 0x8000):
/// `extern "C" fn() -> i32`.
pub fn return_value(value: u16) -> Vec<u8> {
    assert!(value < 0x8000);
    words(&[0x2402_0000 | u32::from(value), 0x03e0_0008, 0])
}
