//! s390x: the architecture keeps instruction fetch coherent with stores.

use crate::os::Errno;

pub const METHOD: &str = "none needed (coherent instruction cache)";
/// Two zero bytes: an invalid opcode (operation exception).
pub const TRAP_PATTERN: &[u8] = &[0x00, 0x00];
pub const NEEDS_CROSS_THREAD_SYNC: bool = false;

/// # Safety
/// None needed; `unsafe` as every backend's flush.
pub unsafe fn flush(_exec: *const u8, _len: usize) -> Result<(), Errno> {
    Ok(())
}
