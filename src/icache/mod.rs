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

#[cfg(any(target_arch = "aarch64", target_arch = "powerpc64", test))]
pub mod ctr_el0;
#[cfg(any(target_arch = "powerpc64", target_arch = "mips64", test))]
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

use std::sync::atomic::{AtomicBool, Ordering};

use crate::stats::{bump, COUNTERS};

/// How this architecture keeps instruction fetch coherent, for `probe()`.
pub const METHOD: &str = imp::METHOD;

/// Bytes that trap when executed, repeated over freed code.
pub const TRAP_PATTERN: &[u8] = imp::TRAP_PATTERN;

/// Whether other threads need a context synchronisation before they may run
/// code written by this thread.
pub const NEEDS_CROSS_THREAD_SYNC: bool = imp::NEEDS_CROSS_THREAD_SYNC;

/// Makes `len` bytes of code at executable address `exec` coherent for the
/// calling thread's instruction fetch.
pub fn flush(exec: *const u8, len: usize) {
    if len == 0 {
        return;
    }
    bump(&COUNTERS.icache_flushes, 1);
    imp::flush(exec, len);
    valgrind::discard_translations(exec, len);
}

static PUBLISH_REFUSED: AtomicBool = AtomicBool::new(false);

/// Publishes freshly flushed code to every thread of the process.
///
/// Where `membarrier` is refused (seccomp, gVisor, kernels before 4.16) jitmm
/// falls back to the architecture's broadcast invalidation alone
/// (AArch64 `ic ivau` is inner-shareable; RISC-V `riscv_flush_icache` already
/// covers all harts): correct for code at addresses no other thread has run
/// since they were last freed, which is what jitmm's allocator ensures for
/// new objects. [`publish_refused`] reports the fallback.
pub fn publish() {
    if NEEDS_CROSS_THREAD_SYNC && crate::os::sync_core_all_threads().is_err() {
        PUBLISH_REFUSED.store(true, Ordering::Relaxed);
    }
}

/// True once `membarrier` was refused and the fallback of [`publish`] is in use.
pub fn publish_refused() -> bool {
    PUBLISH_REFUSED.load(Ordering::Relaxed)
}
