//! Instruction-cache coherence: after code is written (through any view),
//! make the bytes at its executable address visible to instruction fetch.
//!
//! The protocol, for every finalize:
//! 1. [`flush`] each written code range *through its executable address*
//!    (cleans the data cache to the point of unification and invalidates the
//!    instruction cache where the architecture needs it, then a local
//!    context synchronisation);
//! 2. [`publish`] once per batch: where the architecture needs it, force
//!    every other thread of the process through a context synchronisation
//!    (`membarrier(PRIVATE_EXPEDITED_SYNC_CORE)`), so a thread that later
//!    jumps to the new code cannot run stale prefetched instructions.
//!
//! One file per architecture, selected here and only here; an architecture
//! without a backend fails to compile instead of silently skipping the flush.

#[cfg(any(target_arch = "aarch64", test))]
pub mod ctr_el0;
#[cfg(any(target_arch = "powerpc64", test))]
pub mod line_size;

#[cfg_attr(any(target_arch = "x86", target_arch = "x86_64"), path = "x86.rs")]
#[cfg_attr(target_arch = "s390x", path = "s390x.rs")]
#[cfg_attr(target_arch = "aarch64", path = "aarch64.rs")]
#[cfg_attr(target_arch = "arm", path = "arm.rs")]
#[cfg_attr(target_arch = "riscv64", path = "riscv64.rs")]
#[cfg_attr(
    all(target_arch = "powerpc64", target_endian = "little"),
    path = "ppc64.rs"
)]
#[cfg_attr(target_arch = "mips64", path = "mips64.rs")]
#[cfg_attr(target_arch = "loongarch64", path = "loongarch64.rs")]
mod imp;
mod valgrind;

#[cfg(not(any(
    target_arch = "x86",
    target_arch = "x86_64",
    target_arch = "s390x",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "riscv64",
    all(target_arch = "powerpc64", target_endian = "little"),
    target_arch = "mips64",
    target_arch = "loongarch64",
)))]
compile_error!(
    "jitmm: no instruction-cache backend for this architecture (add src/icache/<arch>.rs)"
);

use crate::os::{self, Errno, OtherThreads};
use crate::stats::{bump, COUNTERS};

/// How this architecture keeps instruction fetch coherent, for `probe()`.
pub const METHOD: &str = imp::METHOD;

/// Bytes that trap when executed, repeated over freed code.
pub const TRAP_PATTERN: &[u8] = imp::TRAP_PATTERN;

/// Whether other threads need a context synchronisation before they may run
/// code written by this thread (beyond what [`flush`] does).
pub const NEEDS_CROSS_THREAD_SYNC: bool = imp::NEEDS_CROSS_THREAD_SYNC;

/// Makes `len` bytes of code at executable address `exec` coherent for the
/// calling thread's instruction fetch (and, where the architecture's
/// maintenance is broadcast, every other core's caches). `Err` when the
/// kernel refused its part (ARM, RISC-V, MIPS): the code must not run.
///
/// # Safety
/// `[exec, exec + len)` must be mapped memory of this process.
pub unsafe fn flush(exec: *const u8, len: usize) -> Result<(), Errno> {
    if len == 0 {
        return Ok(());
    }
    bump(&COUNTERS.icache_flushes, 1);
    // SAFETY: the range is mapped (precondition).
    unsafe { imp::flush(exec, len) }?;
    valgrind::discard_translations(exec, len);
    Ok(())
}

/// Machine code of `extern "C" fn() -> i32 { value }` for this
/// architecture (`value` below 2048): the probe's self-test runs it, and
/// the tests do.
pub fn return_value(value: u16) -> Vec<u8> {
    imp::return_value(value)
}

/// The line-aligned start addresses covering `[start, start+len)`, for the
/// architectures that maintain caches line by line (AArch64, PowerPC).
#[cfg(any(target_arch = "aarch64", target_arch = "powerpc64", test))]
fn lines(start: usize, len: usize, line: usize) -> impl Iterator<Item = usize> {
    let first = start & !(line - 1);
    let end = start + len;
    (first..end).step_by(line)
}

/// Little-endian instruction words as bytes.
#[allow(dead_code)] // not every architecture's encodings use it
fn words(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Publishes freshly flushed code to every thread of the process, once per
/// finalize: where the architecture needs it, every other thread goes
/// through a context synchronisation (membarrier SYNC_CORE, else
/// PRIVATE_EXPEDITED where that is one: MIPS, LoongArch), so a thread that
/// later jumps to the new code cannot run instructions it fetched before.
///
/// Where every membarrier is refused, nothing is sent, and the arena never
/// hands out an address that held code again ([`reuses_code_addresses`]):
/// new code then lies only where no thread ran code before.
///
/// Where fetch is coherent (x86, s390x) nothing is needed for code at a
/// fresh address, but `reused` (the code lies where other code was) asks
/// for the same step: the Intel SDM (Vol. 3A, "Handling Self- and
/// Cross-Modifying Code") wants the executing processor to serialise
/// before it runs code another processor modified, which a membarrier's
/// IPI does (it returns through `iret`, a serialising instruction).
pub fn publish(reused: bool) -> Result<(), Errno> {
    let needed = NEEDS_CROSS_THREAD_SYNC || reused;
    if needed && !matches!(os::other_threads(), OtherThreads::Refused(_)) {
        os::sync_other_threads()?;
    }
    crate::ledger::published();
    Ok(())
}

/// Whether freed code addresses may be handed out again: always where no
/// cross-thread step is needed, else only while [`publish`] has one.
pub fn reuses_code_addresses() -> bool {
    !NEEDS_CROSS_THREAD_SYNC || !matches!(os::other_threads(), OtherThreads::Refused(_))
}

/// How other threads are made to see new code, for `probe()`.
///
/// Registers the process's membarrier on first use, on every architecture
/// (x86 and s390x need it for reused addresses), so that the probe, which
/// the fork handler waits for, leaves no registration half done in another
/// thread when the process forks.
pub fn cross_thread_method() -> &'static str {
    let method = os::other_threads();
    if !NEEDS_CROSS_THREAD_SYNC {
        return "none needed beyond the flush (reused code addresses: membarrier)";
    }
    match method {
        OtherThreads::SyncCore => "membarrier(PRIVATE_EXPEDITED_SYNC_CORE)",
        OtherThreads::Expedited => "membarrier(PRIVATE_EXPEDITED): IPI and exception return",
        OtherThreads::Refused(_) => {
            "none (membarrier refused): freed code addresses are not reused"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_cover_unaligned_range() {
        let v: Vec<usize> = lines(0x1030, 0x60, 64).collect();
        assert_eq!(v, vec![0x1000, 0x1040, 0x1080]);
        assert_eq!(lines(0x1000, 1, 64).count(), 1);
    }
}
