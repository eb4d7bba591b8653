//! x86 and x86-64: instruction fetch snoops the data caches, so a write is
//! seen by the writing core's fetch after any branch (Intel SDM Vol. 3A,
//! 11.6 "Self-Modifying Code"). Other cores: see `NEEDS_CROSS_THREAD_SYNC`.

use crate::os::Errno;

pub const METHOD: &str = "none needed (coherent instruction cache)";
/// `int3`.
pub const TRAP_PATTERN: &[u8] = &[0xcc];
pub const NEEDS_CROSS_THREAD_SYNC: bool = false;

/// # Safety
/// None needed; `unsafe` as every backend's flush.
pub unsafe fn flush(exec: *const u8, len: usize) -> Result<(), Errno> {
    crate::ledger::flushed(exec as usize..exec as usize + len);
    Ok(())
}

/// `mov eax, value; ret`: `extern "C" fn() -> i32` returning `value`.
pub fn return_value(value: u16) -> Vec<u8> {
    let mut code = vec![0xb8];
    code.extend_from_slice(&u32::from(value).to_le_bytes());
    code.push(0xc3);
    code
}
