//! 32-bit ARM: the kernel's `cacheflush` system call (cleans and invalidates
//! for all cores; user space cannot do it itself).

pub const METHOD: &str = "cacheflush syscall (__ARM_NR_cacheflush)";
/// `udf #0` (ARM encoding), little-endian.
pub const TRAP_PATTERN: &[u8] = &[0xf0, 0x00, 0xf0, 0xe7];
pub const NEEDS_CROSS_THREAD_SYNC: bool = true;

const ARM_NR_CACHEFLUSH: libc::c_long = 0x0f0002;

pub fn flush(exec: *const u8, len: usize) {
    let start = exec as usize;
    // SAFETY: cacheflush only performs cache maintenance on the given range.
    unsafe { libc::syscall(ARM_NR_CACHEFLUSH, start, start + len, 0) };
}
