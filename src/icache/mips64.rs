//! MIPS 64: the kernel's `cacheflush(addr, len, BCACHE)` system call, which
//! writes back the data cache and invalidates the instruction cache on every
//! CPU (user-mode `synci` would cover only the calling CPU).

pub const METHOD: &str = "cacheflush(addr, len, BCACHE) syscall (all CPUs)";
/// `break 0`, little-endian.
pub const TRAP_PATTERN: &[u8] = &[0x0d, 0x00, 0x00, 0x00];
pub const NEEDS_CROSS_THREAD_SYNC: bool = true;

const BCACHE: libc::c_int = 3;

pub fn flush(exec: *const u8, len: usize) {
    // SAFETY: cacheflush only performs cache maintenance on the given range.
    unsafe { libc::syscall(libc::SYS_cacheflush, exec, len as libc::c_long, BCACHE) };
}
