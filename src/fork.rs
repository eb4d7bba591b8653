//! fork(): a child must neither write the parent's code nor see code the
//! parent writes later (and the other way round), and must be able to keep
//! JIT-compiling.
//!
//! Private anonymous memory (read-write data, every Mprotect block) is
//! copy-on-write already. DualMap code and read-only blocks are shared file
//! mappings, so: writable views carry MADV_DONTFORK (the child inherits no
//! way to write), and an atfork child handler gives the child private copies
//! of those blocks in a new memfd, with new writable views. Around the fork
//! every arena lock is held, so the child never sees an allocator mid-update.

use std::sync::{Arc, Once, Weak};

use crate::sync::Mutex;

use crate::arena::{Arena, ARENAS, SHARED_ARENAS};

/// Arenas locked by the prepare handler, until the parent / child handler.
static HELD: Mutex<Vec<Arc<Arena>>> = Mutex::new(Vec::new());

/// Registers the handlers once per process.
pub(crate) fn install_handlers() {
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
    crate::config::env_switches();
    crate::probe();
    // The lock order used everywhere: shared-arena table, registry, arenas.
    std::mem::forget(SHARED_ARENAS.lock());
    let registry = ARENAS.lock();
    let arenas: Vec<Arc<Arena>> = registry.iter().filter_map(Weak::upgrade).collect();
    std::mem::forget(registry);
    for arena in &arenas {
        arena.lock_all();
    }
    *HELD.lock() = arenas;
}

/// Releases the locks taken by `prepare`.
///
/// # Safety
/// Only after `prepare`, in the process (parent or child) that ran it.
unsafe fn release(arenas: &[Arc<Arena>]) {
    for arena in arenas {
        // SAFETY: `prepare` locked every arena in `HELD` (precondition).
        unsafe { arena.unlock_all() };
    }
    // SAFETY: `prepare` locked both tables and forgot their guards.
    unsafe {
        ARENAS.force_unlock();
        SHARED_ARENAS.force_unlock();
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
