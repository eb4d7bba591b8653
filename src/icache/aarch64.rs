//! AArch64: `dc cvau` + `dsb ish` + `ic ivau` + `dsb ish` + `isb`, with the
//! real line sizes from CTR_EL0 (read once; honours IDC and DIC).

use std::arch::asm;
use std::sync::OnceLock;

use super::ctr_el0::CacheType;
use super::{lines, words};
use crate::os::Errno;

pub const METHOD: &str =
    "dc cvau / ic ivau by CTR_EL0 line size, isb; membarrier for other threads";
/// `brk #0`, little-endian.
pub const TRAP_PATTERN: &[u8] = &[0x00, 0x00, 0x20, 0xd4];
pub const NEEDS_CROSS_THREAD_SYNC: bool = true;

fn cache_type() -> CacheType {
    static TYPE: OnceLock<CacheType> = OnceLock::new();
    *TYPE.get_or_init(|| {
        let ctr: u64;
        // SAFETY: reading CTR_EL0 has no side effects; Linux emulates the read
        // when user access is disabled (SCTLR_EL1.UCT = 0).
        unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
        CacheType::decode(ctr)
    })
}

/// # Safety
/// `[exec, exec + len)` must be mapped memory of this process.
pub unsafe fn flush(exec: *const u8, len: usize) -> Result<(), Errno> {
    let t = cache_type();
    let start = exec as usize;
    // The code was stored through another alias (DualMap's writable view):
    // complete those stores before the maintenance by the executable VA.
    // The ARM ARM orders DC by VA after earlier stores to the same
    // location; whether "the same location" covers another VA of the same
    // physical page is not plainly said, and the barrier costs little.
    // SAFETY: a barrier has no memory-safety preconditions.
    unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
    if !t.idc {
        for line in lines(start, len, t.dcache_line) {
            // SAFETY: cache maintenance by VA on mapped, readable code memory
            // (the caller's range) does not change its contents.
            unsafe { asm!("dc cvau, {}", in(reg) line, options(nostack, preserves_flags)) };
        }
        // SAFETY: a barrier has no memory-safety preconditions.
        unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
    }
    if !t.dic {
        for line in lines(start, len, t.icache_line) {
            // SAFETY: as for `dc cvau` above.
            unsafe { asm!("ic ivau, {}", in(reg) line, options(nostack, preserves_flags)) };
        }
        // SAFETY: a barrier has no memory-safety preconditions.
        unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
    }
    // SAFETY: a context synchronisation has no memory-safety preconditions.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
    crate::ledger::flushed(start..start + len);
    Ok(())
}

/// `movz w0, #value; ret`: `extern "C" fn() -> i32` returning `value`.
pub fn return_value(value: u16) -> Vec<u8> {
    words(&[0x5280_0000 | (u32::from(value) << 5), 0xd65f_03c0])
}
