//! The process's arenas: the shared ones a config selects, every one for
//! [`trim`] and [`stats`], and fork().
//!
//! fork(): a child must neither write the parent's code nor see code the
//! parent writes later (and the other way round), and must be able to keep
//! JIT-compiling. Private anonymous memory is copy-on-write already; for the
//! rest the child handler has each arena rebuild its views
//! (`Arena::rebuild_after_fork`). Around the fork every lock a child could
//! otherwise inherit held by a thread it lacks is taken, in one order: the
//! shared-arena table, the registry, each arena, then the C boundary's
//! handle table.

use std::sync::{Arc, Once, Weak};

use crate::arena::Arena;
use crate::config::{self, Config};
use crate::error::Result;
use crate::handles;
use crate::ledger;
use crate::os;
use crate::stats::{self, Stats};
use crate::strategy::Strategy;
use crate::sync::{Mutex, MutexGuard};

/// The process-wide arenas, at most one per concrete strategy.
static SHARED: Mutex<Vec<Arc<Arena>>> = Mutex::new(Vec::new());

/// Every arena of the process.
static ALL: Mutex<Vec<Weak<Arena>>> = Mutex::new(Vec::new());

/// Arenas locked by the fork prepare handler, until the parent / child one.
static HELD: Mutex<Vec<Arc<Arena>>> = Mutex::new(Vec::new());

impl Arena {
    /// Reserves a new arena of `size` bytes (rounded up to blocks); `Auto`
    /// is resolved as for a [`Config`].
    pub fn new(size: usize, strategy: Strategy) -> Result<Arc<Arena>> {
        let arena = Arc::new(Arena::create(size, config::resolve(strategy)?)?);
        install_fork_handlers();
        all().push(Arc::downgrade(&arena));
        Ok(arena)
    }

    /// The arena a config asks for: a new private one, or the process-wide
    /// arena of its strategy (created on first use).
    pub fn for_config(config: &Config) -> Result<Arc<Arena>> {
        let strategy = config.resolved_strategy()?;
        if config.private_arena {
            return Arena::new(config.private_reservation_size(), strategy);
        }
        let mut shared = SHARED.lock();
        if let Some(arena) = shared.iter().find(|a| a.strategy() == strategy) {
            return Ok(arena.clone());
        }
        let arena = Arena::new(crate::target::default_reservation_size(), strategy)?;
        shared.push(arena.clone());
        Ok(arena)
    }
}

/// The registry, without arenas that are gone.
fn all() -> MutexGuard<'static, Vec<Weak<Arena>>> {
    let mut arenas = ALL.lock();
    arenas.retain(|a| a.strong_count() > 0);
    arenas
}

fn live_arenas() -> Vec<Arc<Arena>> {
    all().iter().filter_map(Weak::upgrade).collect()
}

/// Returns every free page of every arena to the OS now (see [`Arena::trim`]).
pub fn trim() {
    for arena in live_arenas() {
        arena.trim();
    }
}

/// A snapshot of the process-wide counters, with the VMAs of every live
/// arena counted from `/proc/self/maps`.
pub fn stats() -> Stats {
    let ranges: Vec<_> = live_arenas().iter().flat_map(|a| a.ranges()).collect();
    stats::snapshot(os::count_vmas(&ranges) as u64)
}

/// Registers the fork handlers once per process.
fn install_fork_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers three `extern "C"` functions that never unwind.
        unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    });
}

extern "C" fn prepare() {
    // One-time initialisations another thread may be running: wait for them
    // here, or the child would wait for a thread it does not have (both are
    // cached after their first run).
    config::env_switches();
    crate::probe::probe();
    std::mem::forget(SHARED.lock());
    let registry = ALL.lock();
    let arenas: Vec<Arc<Arena>> = registry.iter().filter_map(Weak::upgrade).collect();
    std::mem::forget(registry);
    for arena in &arenas {
        arena.lock_all();
    }
    handles::lock_for_fork();
    ledger::lock_for_fork();
    *HELD.lock() = arenas;
}

/// Releases the locks taken by `prepare`.
///
/// # Safety
/// Only after `prepare`, in the process (parent or child) that ran it.
unsafe fn release(arenas: &[Arc<Arena>]) {
    // SAFETY: `prepare` locked the handle table and the ledger (precondition).
    unsafe {
        ledger::unlock_after_fork();
        handles::unlock_after_fork();
    }
    for arena in arenas {
        // SAFETY: `prepare` locked every arena in `HELD` (precondition).
        unsafe { arena.unlock_all() };
    }
    // SAFETY: `prepare` locked both tables and forgot their guards.
    unsafe {
        ALL.force_unlock();
        SHARED.force_unlock();
    }
}

extern "C" fn parent() {
    let arenas = std::mem::take(&mut *HELD.lock());
    // SAFETY: runs after `prepare` in the forking process.
    unsafe { release(&arenas) };
}

extern "C" fn child() {
    let arenas = std::mem::take(&mut *HELD.lock());
    for arena in &arenas {
        // SAFETY: in the child right after fork, every arena lock held.
        unsafe { arena.rebuild_after_fork() };
    }
    // SAFETY: runs after `prepare`, in the child.
    unsafe { release(&arenas) };
}
