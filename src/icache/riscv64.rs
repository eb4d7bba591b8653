//! RISC-V 64: `riscv_flush_icache(start, end, 0)`. Flags 0 (not
//! `SYS_RISCV_FLUSH_ICACHE_LOCAL`) makes the kernel's `flush_icache_mm` run
//! `fence.i` now on every hart running this process (SBI remote fence or
//! IPI) and mark every other hart to run it before it next runs the
//! process (`icache_stale_mask`, `flush_icache_deferred`): that covers
//! other threads too, so no membarrier follows. A local `fence.i` would
//! cover only the calling hart, and a thread may migrate.

use super::words;
use crate::os::{self, Errno};

pub const METHOD: &str = "riscv_flush_icache(start, end, 0): fence.i on every hart of the process";
/// `unimp` (c.unimp 0x0000 twice).
pub const TRAP_PATTERN: &[u8] = &[0x00, 0x00, 0x00, 0x00];
pub const NEEDS_CROSS_THREAD_SYNC: bool = false;

/// # Safety
/// `[exec, exec + len)` must be mapped memory of this process.
pub unsafe fn flush(exec: *const u8, len: usize) -> Result<(), Errno> {
    let start = exec as usize;
    os::flush_icache(start..start + len)
}

/// `li a0, value; ret` (`value` < 2048): `extern "C" fn() -> i32`.
pub fn return_value(value: u16) -> Vec<u8> {
    assert!(value < 2048);
    words(&[(u32::from(value) << 20) | (10 << 7) | 0x13, 0x0000_8067])
}
