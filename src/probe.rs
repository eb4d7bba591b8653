//! What this OS and CPU allow, found out once per process.

use std::sync::OnceLock;

use crate::icache;
use crate::os::{self, Errno};
use crate::strategy::Strategy;

/// The result of [`probe`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Probe {
    /// The kernel's page size.
    pub page_size: usize,
    /// Whether a memfd can be mapped executable in one view and writable in
    /// another (needed by [`Strategy::DualMap`]).
    pub dual_map: bool,
    /// Why dual mapping is refused, if it is (step and errno).
    pub dual_map_refusal: Option<String>,
    /// Code rewritten through the writable view at an address that already
    /// ran, then flushed, still runs the old bytes: an emulator (qemu-user,
    /// valgrind off x86-64) keeps its translations of it. Auto then picks
    /// [`Strategy::Mprotect`], and an explicit DualMap arena re-maps the
    /// executable pages of code at every finalize, which drops them.
    pub dual_map_stale_reuse: bool,
    /// The strategy [`Strategy::Auto`] resolves to (before `JITMM_STRATEGY`).
    pub auto_strategy: Strategy,
    /// How instruction caches are kept coherent on this architecture.
    pub icache_method: &'static str,
    /// Whether other threads are synchronised with `membarrier` after a
    /// finalize (false where the architecture needs no such step, or where
    /// every membarrier is refused: freed code addresses are then never
    /// handed out again).
    pub cross_thread_sync: bool,
    /// How other threads are made to see new code.
    pub cross_thread_method: &'static str,
    /// Why the instruction-cache flush failed when tried (ARM, RISC-V and
    /// MIPS ask the kernel; seccomp may refuse): no strategy can work then,
    /// and making an arena fails with this reason.
    pub flush_refusal: Option<String>,
    /// The default reservation size of an arena.
    pub reservation_size: usize,
}

pub(crate) fn dual_map_support() -> Result<(), (&'static str, Errno)> {
    static RESULT: OnceLock<Result<(), (&'static str, Errno)>> = OnceLock::new();
    *RESULT.get_or_init(os::probe_dual_map)
}

/// Whether the instruction-cache flush works here, tried once on a few
/// bytes of this function's own code (flushing code leaves it as it is).
pub(crate) fn flush_support() -> Result<(), Errno> {
    static RESULT: OnceLock<Result<(), Errno>> = OnceLock::new();
    *RESULT.get_or_init(|| {
        let code = flush_support as *const u8;
        // SAFETY: this function's code is mapped and readable.
        unsafe { icache::flush(code, 4) }
    })
}

/// Whether an emulator runs stale code after a rewrite through DualMap's
/// writable view (see [`Probe::dual_map_stale_reuse`]), found out once by
/// running a function, rewriting it through the other view, flushing, and
/// running it again.
pub(crate) fn dual_map_stale_reuse() -> bool {
    static STALE: OnceLock<bool> = OnceLock::new();
    *STALE.get_or_init(|| {
        let Ok(views) = os::DualViews::new() else {
            return false; // no DualMap here at all
        };
        let run = |value| {
            let code = icache::return_value(value);
            // SAFETY: the writable view's page, ours, longer than the code.
            unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), views.writable(), code.len()) };
            // SAFETY: the executable view's page is mapped; on failure the
            // code is not run (and DualMap is not used: arenas need the flush).
            if unsafe { icache::flush(views.exec(), code.len()) }.is_err() {
                return None;
            }
            // SAFETY: a complete `extern "C" fn() -> i32` was just written
            // and flushed at this executable address.
            let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(views.exec()) };
            Some(f())
        };
        matches!((run(1), run(2)), (Some(1), Some(1)))
    })
}

/// Probes the OS and CPU once; later calls return the same facts.
pub fn probe() -> Probe {
    static PROBE: OnceLock<Probe> = OnceLock::new();
    PROBE.get_or_init(probe_now).clone()
}

fn probe_now() -> Probe {
    let dual = dual_map_support();
    Probe {
        page_size: os::page_size(),
        dual_map: dual.is_ok(),
        dual_map_refusal: dual.err().map(|(step, errno)| format!("{step}: {errno}")),
        dual_map_stale_reuse: dual.is_ok() && dual_map_stale_reuse(),
        auto_strategy: if dual.is_ok() && !dual_map_stale_reuse() {
            Strategy::DualMap
        } else {
            Strategy::Mprotect
        },
        icache_method: icache::METHOD,
        cross_thread_sync: icache::NEEDS_CROSS_THREAD_SYNC && icache::reuses_code_addresses(),
        cross_thread_method: icache::cross_thread_method(),
        flush_refusal: flush_support()
            .err()
            .map(|errno| format!("cacheflush: {errno}")),
        reservation_size: crate::target::default_reservation_size(),
    }
}
