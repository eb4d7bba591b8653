//! s390x: the architecture keeps instruction fetch coherent with stores.

use crate::os::Errno;

pub const METHOD: &str = "none needed (coherent instruction cache)";
/// Two zero bytes: an invalid opcode (operation exception).
pub const TRAP_PATTERN: &[u8] = &[0x00, 0x00];
pub const NEEDS_CROSS_THREAD_SYNC: bool = false;

/// # Safety
/// None needed; `unsafe` as every backend's flush.
pub unsafe fn flush(exec: *const u8, len: usize) -> Result<(), Errno> {
    crate::ledger::flushed(exec as usize..exec as usize + len);
    Ok(())
}

/// `lghi %r2, value; br %r14` (`value` < 0x8000): `extern "C" fn() -> i32`.
pub fn return_value(value: u16) -> Vec<u8> {
    assert!(value < 0x8000);
    let mut code = vec![0xa7, 0x29];
    code.extend_from_slice(&value.to_be_bytes());
    code.extend_from_slice(&[0x07, 0xfe]);
    code
}
