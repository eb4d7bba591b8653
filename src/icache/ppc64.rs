//! PowerPC 64 (little-endian, ELFv2): `dcbst` every data-cache line, `sync`,
//! `icbi` every instruction-cache line, `sync`, `isync`, with the real line
//! sizes the kernel reports in the auxiliary vector (AT_DCACHEBSIZE,
//! AT_ICACHEBSIZE). `icbi` is broadcast to all processors; other threads
//! also get a context synchronisation through membarrier.

use std::arch::asm;
use std::sync::OnceLock;

use super::line_size::from_reported;
use super::{lines, words};
use crate::os::Errno;

pub const METHOD: &str =
    "dcbst / sync / icbi / isync by AT_DCACHEBSIZE/AT_ICACHEBSIZE; membarrier for other threads";
/// `trap` (tw 31,0,0), little-endian.
pub const TRAP_PATTERN: &[u8] = &[0x08, 0x00, 0xe0, 0x7f];
pub const NEEDS_CROSS_THREAD_SYNC: bool = true;

const AT_DCACHEBSIZE: libc::c_ulong = 19;
const AT_ICACHEBSIZE: libc::c_ulong = 20;

/// (data-cache line, instruction-cache line) in bytes, read once.
fn line_sizes() -> (usize, usize) {
    static SIZES: OnceLock<(usize, usize)> = OnceLock::new();
    *SIZES.get_or_init(|| {
        // SAFETY: getauxval only reads the process's auxiliary vector.
        let (d, i) = unsafe {
            (
                libc::getauxval(AT_DCACHEBSIZE),
                libc::getauxval(AT_ICACHEBSIZE),
            )
        };
        (from_reported(d as u64), from_reported(i as u64))
    })
}

/// # Safety
/// `[exec, exec + len)` must be mapped memory of this process.
pub unsafe fn flush(exec: *const u8, len: usize) -> Result<(), Errno> {
    let (dline, iline) = line_sizes();
    let start = exec as usize;
    for line in lines(start, len, dline) {
        // SAFETY: cache maintenance by address on mapped, readable code
        // memory (the caller's range) does not change its contents.
        unsafe { asm!("dcbst 0, {}", in(reg) line, options(nostack, preserves_flags)) };
    }
    // SAFETY: a barrier has no memory-safety preconditions.
    unsafe { asm!("sync", options(nostack, preserves_flags)) };
    for line in lines(start, len, iline) {
        // SAFETY: as for `dcbst` above.
        unsafe { asm!("icbi 0, {}", in(reg) line, options(nostack, preserves_flags)) };
    }
    // SAFETY: barriers have no memory-safety preconditions.
    unsafe { asm!("sync", "isync", options(nostack, preserves_flags)) };
    crate::ledger::flushed(start..start + len);
    Ok(())
}

/// `li r3, value; blr` (`value` < 0x8000): `extern "C" fn() -> i32`.
pub fn return_value(value: u16) -> Vec<u8> {
    assert!(value < 0x8000);
    words(&[0x3860_0000 | u32::from(value), 0x4e80_0020])
}
