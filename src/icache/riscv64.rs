//! RISC-V 64: `riscv_flush_icache(start, end, 0)` — flags 0 asks the kernel
//! to make the range coherent on all harts (a local `fence.i` would cover
//! only the calling hart, and a thread may migrate).

pub const METHOD: &str = "riscv_flush_icache(start, end, 0) (all harts)";
/// `unimp` (c.unimp 0x0000 twice).
pub const TRAP_PATTERN: &[u8] = &[0x00, 0x00, 0x00, 0x00];
pub const NEEDS_CROSS_THREAD_SYNC: bool = true;

const SYS_RISCV_FLUSH_ICACHE: libc::c_long = 259;

pub fn flush(exec: *const u8, len: usize) {
    let start = exec as usize;
    // SAFETY: riscv_flush_icache performs cache maintenance only.
    unsafe { libc::syscall(SYS_RISCV_FLUSH_ICACHE, start, start + len, 0) };
}
