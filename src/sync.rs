//! The lock every fork-visible part of jitmm uses: a plain futex mutex.
//!
//! The atfork handlers hold every arena lock across `fork()` and unlock them
//! in the child (see `crate::fork`). That needs a lock whose whole state is
//! one word in the lock itself: unlocking in the child must not look at
//! other threads, which do not exist there. parking_lot's mutex fails this:
//! its waiters sit in a process-wide table (whose bucket lock another thread
//! may hold at the fork), and its unlock may hand the lock directly to a
//! parked waiter ("eventual fairness") — in the child, a thread that is gone,
//! so the next `lock()` blocks forever. This mutex is glibc's low-level lock
//! (0 free, 1 locked, 2 locked with waiters; Drepper, "Futexes Are Tricky"):
//! unlocking stores 0 and at most wakes the futex, which in a child wakes
//! nobody and is harmless.

use std::sync::atomic::{AtomicU32, Ordering};

/// A mutex over [`RawFutexMutex`]: `lock()`, guards, `force_unlock`,
/// `data_ptr` as in lock_api.
pub(crate) type Mutex<T> = lock_api::Mutex<RawFutexMutex, T>;
/// The guard of [`Mutex`].
pub(crate) type MutexGuard<'a, T> = lock_api::MutexGuard<'a, RawFutexMutex, T>;

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const CONTENDED: u32 = 2;

/// A futex word; see the module docs for why not parking_lot.
pub struct RawFutexMutex {
    state: AtomicU32,
}

// SAFETY: `lock`/`try_lock` succeed only by moving `state` from UNLOCKED to a
// locked value with Acquire ordering, and `unlock` stores UNLOCKED with
// Release ordering, so at most one holder exists and its writes are seen by
// the next one.
unsafe impl lock_api::RawMutex for RawFutexMutex {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self {
        state: AtomicU32::new(UNLOCKED),
    };
    type GuardMarker = lock_api::GuardSend;

    fn lock(&self) {
        if self
            .state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
    }

    fn try_lock(&self) -> bool {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    unsafe fn unlock(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            futex_wake_one(&self.state);
        }
    }

    fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) != UNLOCKED
    }
}

impl RawFutexMutex {
    #[cold]
    fn lock_contended(&self) {
        let mut state = self.spin();
        if state == UNLOCKED {
            match self.state.compare_exchange(
                UNLOCKED,
                LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
        loop {
            // Mark the lock contended; if it was free, it is now ours (and
            // its holder will wake a waiter that may not exist: harmless).
            if state != CONTENDED && self.state.swap(CONTENDED, Ordering::Acquire) == UNLOCKED {
                return;
            }
            futex_wait(&self.state, CONTENDED);
            state = self.spin();
        }
    }

    /// Spins briefly while the lock is held without waiters: critical
    /// sections here are short, so this usually avoids the syscall.
    fn spin(&self) -> u32 {
        for _ in 0..100 {
            let state = self.state.load(Ordering::Relaxed);
            if state != LOCKED {
                return state;
            }
            std::hint::spin_loop();
        }
        self.state.load(Ordering::Relaxed)
    }
}

fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: FUTEX_WAIT on a live, aligned u32; it returns at once if the
    // word no longer holds `expected`, and spurious wake-ups are re-checked
    // by the caller's loop.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

fn futex_wake_one(word: &AtomicU32) {
    // SAFETY: FUTEX_WAKE on a live, aligned u32 reads nothing but the address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn excludes_across_threads() {
        let counter = Arc::new(Mutex::new(0u64));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    for _ in 0..50_000 {
                        *counter.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*counter.lock(), 200_000);
    }

    #[test]
    fn force_unlock_with_waiters_frees_the_lock() {
        // What a forked child does: the lock is contended (state 2) by a
        // thread that will never run again; unlocking must free it.
        let m = Mutex::new(());
        std::mem::forget(m.lock());
        // SAFETY: only the state word is touched, as a parked waiter would.
        unsafe { m.raw() }.state.store(CONTENDED, Ordering::Relaxed);
        // SAFETY: locked above, guard forgotten.
        unsafe { m.force_unlock() };
        assert!(m.try_lock().is_some());
    }
}
