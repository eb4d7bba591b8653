//! x86 and x86-64: instruction fetch snoops the data caches, so a write is
//! seen by the writing core's fetch after any branch; cross-modifying code on
//! other cores is serialised by the jump to new code at a fresh address.

pub const METHOD: &str = "none needed (coherent instruction cache)";
/// `int3`.
pub const TRAP_PATTERN: &[u8] = &[0xcc];
pub const NEEDS_CROSS_THREAD_SYNC: bool = false;

pub fn flush(_exec: *const u8, _len: usize) {}
