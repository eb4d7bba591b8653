//! An arena across fork(): every lock held while the process forks, and in
//! the child, the strategy's views rebuilt (see `crate::registry`).

use super::{Arena, Class};

impl Arena {
    /// Locks every lock of the arena and keeps them locked (fork prepare).
    pub(crate) fn lock_all(&self) {
        for heap in &self.heaps {
            std::mem::forget(heap.lock());
        }
        std::mem::forget(self.blocks.lock());
    }

    /// Releases what `lock_all` took.
    ///
    /// # Safety
    /// `lock_all` must have been called by this thread (or, in a forked
    /// child, by the thread that forked) and not yet undone.
    pub(crate) unsafe fn unlock_all(&self) {
        // SAFETY: the locks are held with their guards forgotten (precondition).
        unsafe {
            self.blocks.force_unlock();
            for heap in &self.heaps {
                heap.force_unlock();
            }
        }
    }

    /// In a forked child: gives the child its own copy of the arena's
    /// shared blocks (see the strategy's views). On failure the arena
    /// refuses further allocations; code already loaded keeps running.
    ///
    /// # Safety
    /// Only in the child right after fork, with `lock_all` in effect.
    pub(crate) unsafe fn rebuild_after_fork(&self) {
        let mut spans = Vec::new();
        for class in Class::ALL {
            // SAFETY: the heap lock is held by this thread (precondition).
            let heap = unsafe { &*self.heaps[class as usize].data_ptr() };
            spans.extend(heap.spans().map(|span| (class, span)));
        }
        // SAFETY: in the child, every lock held (precondition).
        if let Err(error) = unsafe { self.views.rebuild_after_fork(self.base(), &spans) } {
            let _ = self.broken.set(error);
        }
    }
}
