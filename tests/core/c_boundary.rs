//! The C boundary (the table the shim calls, `jitmm_stats_get`) used from
//! several threads at once, as LLVM JITs on several threads use it: objects
//! made, filled, finalized, checked and freed concurrently on shared and
//! private arenas while other threads read the counters; and two threads
//! racing to free the same handles, of which exactly one wins each time.
//! Also the workload `scripts/tsan.sh` runs under ThreadSanitizer.

use std::ffi::CStr;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use jitmm::ffi::{
    jitmm_config, jitmm_last_error, jitmm_stats_get, CoreArena, CoreSection, CORE_API,
};
use jitmm::Stats;

const THREADS: usize = 4;
const ROUNDS: usize = if cfg!(debug_assertions) { 1000 } else { 5000 };

fn last_error() -> String {
    // SAFETY: jitmm_last_error returns a valid C string of this thread.
    unsafe { CStr::from_ptr(jitmm_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// An arena handle that may be used from every thread.
#[derive(Clone, Copy)]
struct Handle(usize);

fn acquire(strategy: i32, private: bool) -> Handle {
    let config = jitmm_config {
        strategy,
        private_arena: i32::from(private),
        reservation_size: if private { 64 << 20 } else { 0 },
        ..jitmm_config::default()
    };
    // SAFETY: a valid config.
    let arena = unsafe { (CORE_API.arena_acquire)(&config) };
    assert!(!arena.is_null(), "arena_acquire: {}", last_error());
    Handle(arena as usize)
}

/// One object: a section of each class, filled with `fill`, finalized,
/// checked through the executable view; returns its handle, still live.
fn load(arena: Handle, fill: u8, size: usize) -> usize {
    // SAFETY: `arena` is live until every thread is done; `object` is this
    // thread's own; every section is written within its size before
    // finalize and read through its readable view after.
    unsafe {
        let object = (CORE_API.object_new)(arena.0 as *mut CoreArena);
        assert!(!object.is_null(), "object_new: {}", last_error());
        let mut sections = Vec::new();
        for class in 0..3 {
            let mut out = CoreSection {
                rw: null_mut(),
                exec: null_mut(),
            };
            let rc = (CORE_API.object_allocate)(object, class, size, 16, &mut out);
            assert_eq!(rc, 0, "object_allocate: {}", last_error());
            std::ptr::write_bytes(out.rw, fill, size);
            sections.push(out.exec);
        }
        (CORE_API.object_placed)(object);
        assert_eq!((CORE_API.object_finalize)(object), 0, "{}", last_error());
        for exec in sections {
            let bytes = std::slice::from_raw_parts(exec, size);
            assert!(
                bytes.iter().all(|&b| b == fill),
                "a section lost its contents (another thread wrote it?)"
            );
        }
        object as usize
    }
}

#[test]
fn objects_made_and_freed_on_many_threads() {
    let arenas = [
        acquire(1, false),
        acquire(2, false),
        acquire(1, true),
        acquire(2, true),
    ];
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let done = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let mut live = Vec::new();
                for round in 0..ROUNDS {
                    let arena = arenas[(t + round) % arenas.len()];
                    let fill = (t * 64 + round % 64) as u8;
                    let size = 16 + (round * 7919 + t * 104_729) % 6000;
                    live.push(load(arena, fill, size));
                    if live.len() > 8 {
                        let object = live.swap_remove(round % live.len());
                        // SAFETY: this thread's own live object, freed once.
                        unsafe { (CORE_API.object_free)(object as *mut _) };
                    }
                }
                for object in live {
                    // SAFETY: as above.
                    unsafe { (CORE_API.object_free)(object as *mut _) };
                }
            })
        })
        .collect();
    // Meanwhile: the counters, read over and over.
    let reader = {
        let barrier = barrier.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            barrier.wait();
            let mut reads = 0;
            while !done.load(Ordering::Relaxed) {
                let mut stats = Stats::default();
                // SAFETY: a valid out pointer.
                assert_eq!(unsafe { jitmm_stats_get(&mut stats) }, 0);
                reads += 1;
            }
            reads
        })
    };
    for worker in workers {
        worker.join().expect("a worker failed");
    }
    done.store(true, Ordering::Relaxed);
    assert!(reader.join().expect("the stats reader failed") > 0);
    for arena in arenas {
        // SAFETY: live handles, released once, after every user is done.
        unsafe { (CORE_API.arena_release)(arena.0 as *mut CoreArena) };
    }
}

#[test]
fn racing_frees_of_one_handle_free_it_once() {
    let arena = acquire(2, true);
    let objects: Arc<Vec<usize>> = Arc::new((0..200).map(|i| load(arena, i as u8, 64)).collect());
    let freed = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(2));
    let racers: Vec<_> = (0..2)
        .map(|_| {
            let (objects, freed, barrier) = (objects.clone(), freed.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for &object in objects.iter() {
                    // SAFETY: the boundary checks the handle: one of the two
                    // calls frees it, the other is rejected without touching it.
                    unsafe {
                        (CORE_API.set_last_error)(c"".as_ptr());
                        (CORE_API.object_free)(object as *mut _);
                    }
                    if last_error().is_empty() {
                        freed.fetch_add(1, Ordering::Relaxed);
                    } else {
                        assert!(last_error().contains("unknown object handle"));
                    }
                }
            })
        })
        .collect();
    for racer in racers {
        racer.join().expect("a racer failed");
    }
    assert_eq!(freed.load(Ordering::Relaxed), objects.len());
    // SAFETY: a live handle, released once.
    unsafe { (CORE_API.arena_release)(arena.0 as *mut CoreArena) };
}
