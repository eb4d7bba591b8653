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
    /// The strategy [`Strategy::Auto`] resolves to (before `JITMM_STRATEGY`).
    pub auto_strategy: Strategy,
    /// How instruction caches are kept coherent on this architecture.
    pub icache_method: &'static str,
    /// Whether other threads are synchronised with `membarrier` (false: the
    /// documented fallback of `publish` in the icache module is in use, or the
    /// architecture does not need it).
    pub cross_thread_sync: bool,
    /// The default reservation size of an arena.
    pub reservation_size: usize,
}

pub(crate) fn dual_map_support() -> Result<(), (&'static str, Errno)> {
    static RESULT: OnceLock<Result<(), (&'static str, Errno)>> = OnceLock::new();
    *RESULT.get_or_init(os::probe_dual_map)
}

/// Probes the OS once (later calls return the cached facts, except
/// `cross_thread_sync`, which turns false once `membarrier` is refused).
pub fn probe() -> Probe {
    let dual = dual_map_support();
    Probe {
        page_size: os::page_size(),
        dual_map: dual.is_ok(),
        dual_map_refusal: dual.err().map(|(step, errno)| format!("{step}: {errno}")),
        auto_strategy: if dual.is_ok() {
            Strategy::DualMap
        } else {
            Strategy::Mprotect
        },
        icache_method: icache::METHOD,
        cross_thread_sync: icache::NEEDS_CROSS_THREAD_SYNC && !icache::publish_refused(),
        reservation_size: crate::target::default_reservation_size(),
    }
}
