//! s390x: the architecture keeps instruction fetch coherent with stores.

pub const METHOD: &str = "none needed (coherent instruction cache)";
/// Two zero bytes: an invalid opcode (operation exception).
pub const TRAP_PATTERN: &[u8] = &[0x00, 0x00];
pub const NEEDS_CROSS_THREAD_SYNC: bool = false;

pub fn flush(_exec: *const u8, _len: usize) {}
