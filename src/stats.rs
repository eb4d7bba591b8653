//! Process-wide counters: what jitmm holds and which syscalls it made.
//!
//! Counters are relaxed atomics bumped where the work happens;
//! [`stats`](crate::stats()) takes a snapshot, with the VMAs jitmm owns
//! counted from `/proc/self/maps`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of jitmm's counters, summed over all arenas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Stats {
    /// The size of this struct, in bytes: `jitmm_stats_get` writes only to
    /// a `jitmm_stats` whose `size` says it has this layout.
    pub size: u64,
    /// Address space reserved by arenas.
    pub bytes_reserved: u64,
    /// Bytes of blocks mapped inside reservations (sparse: not all resident).
    pub bytes_committed: u64,
    /// Bytes handed out to live objects for code.
    pub bytes_live_code: u64,
    /// Bytes handed out to live objects for read-only data.
    pub bytes_live_rodata: u64,
    /// Bytes handed out to live objects for read-write data.
    pub bytes_live_rwdata: u64,
    /// Objects allocated and not yet freed.
    pub objects_live: u64,
    /// Finalize operations completed.
    pub objects_finalized: u64,
    /// `mmap` calls.
    pub mmap_calls: u64,
    /// `mprotect` calls.
    pub mprotect_calls: u64,
    /// `munmap` calls.
    pub munmap_calls: u64,
    /// `madvise` calls.
    pub madvise_calls: u64,
    /// `fallocate` calls (hole punching).
    pub fallocate_calls: u64,
    /// Instruction-cache flushes of a range.
    pub icache_flushes: u64,
    /// `membarrier` calls publishing code to other threads.
    pub membarrier_calls: u64,
    /// Mappings in `/proc/self/maps` that lie in jitmm's reservations or
    /// writable views.
    pub vmas: u64,
}

impl Default for Stats {
    fn default() -> Self {
        let zero = ZERO;
        snapshot_of(&zero, 0)
    }
}

impl Stats {
    /// Live bytes of all classes.
    pub fn bytes_live(&self) -> u64 {
        self.bytes_live_code + self.bytes_live_rodata + self.bytes_live_rwdata
    }

    /// System calls that change mappings, summed.
    pub fn syscalls(&self) -> u64 {
        self.mmap_calls
            + self.mprotect_calls
            + self.munmap_calls
            + self.madvise_calls
            + self.fallocate_calls
    }
}

/// The counters themselves.
pub(crate) struct Counters {
    pub bytes_reserved: AtomicU64,
    pub bytes_committed: AtomicU64,
    /// Per class, in `Class` index order (code, rodata, rwdata).
    pub bytes_live: [AtomicU64; 3],
    pub objects_live: AtomicU64,
    pub objects_finalized: AtomicU64,
    pub mmap: AtomicU64,
    pub mprotect: AtomicU64,
    pub munmap: AtomicU64,
    pub madvise: AtomicU64,
    pub fallocate: AtomicU64,
    pub icache_flushes: AtomicU64,
    pub membarrier: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: Counters = Counters {
    bytes_reserved: AtomicU64::new(0),
    bytes_committed: AtomicU64::new(0),
    bytes_live: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    objects_live: AtomicU64::new(0),
    objects_finalized: AtomicU64::new(0),
    mmap: AtomicU64::new(0),
    mprotect: AtomicU64::new(0),
    munmap: AtomicU64::new(0),
    madvise: AtomicU64::new(0),
    fallocate: AtomicU64::new(0),
    icache_flushes: AtomicU64::new(0),
    membarrier: AtomicU64::new(0),
};

pub(crate) static COUNTERS: Counters = ZERO;

/// Adds `n` to a counter.
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
}

/// Subtracts `n` from a gauge.
pub(crate) fn drop_by(counter: &AtomicU64, n: u64) {
    counter.fetch_sub(n, Relaxed);
}

/// Adjusts the live-bytes gauge of one class (by its index).
pub(crate) fn live(class: usize, delta: isize) {
    let gauge = &COUNTERS.bytes_live[class];
    if delta >= 0 {
        bump(gauge, delta as u64);
    } else {
        drop_by(gauge, delta.unsigned_abs() as u64);
    }
}

/// A snapshot of the counters, with `vmas` counted by the caller.
pub(crate) fn snapshot(vmas: u64) -> Stats {
    snapshot_of(&COUNTERS, vmas)
}

fn snapshot_of(c: &Counters, vmas: u64) -> Stats {
    Stats {
        size: std::mem::size_of::<Stats>() as u64,
        bytes_reserved: c.bytes_reserved.load(Relaxed),
        bytes_committed: c.bytes_committed.load(Relaxed),
        bytes_live_code: c.bytes_live[0].load(Relaxed),
        bytes_live_rodata: c.bytes_live[1].load(Relaxed),
        bytes_live_rwdata: c.bytes_live[2].load(Relaxed),
        objects_live: c.objects_live.load(Relaxed),
        objects_finalized: c.objects_finalized.load(Relaxed),
        mmap_calls: c.mmap.load(Relaxed),
        mprotect_calls: c.mprotect.load(Relaxed),
        munmap_calls: c.munmap.load(Relaxed),
        madvise_calls: c.madvise.load(Relaxed),
        fallocate_calls: c.fallocate.load(Relaxed),
        icache_flushes: c.icache_flushes.load(Relaxed),
        membarrier_calls: c.membarrier.load(Relaxed),
        vmas,
    }
}
