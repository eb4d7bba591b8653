//! Stale-code stress test, meant for real hardware (AArch64, RISC-V, …):
//! one thread repeatedly replaces a function — a new object with a new
//! constant, published through an atomic, the old object freed once every
//! reader has moved on, so freed addresses are reused — while reader threads
//! call the published function and check that it returns exactly the value
//! published with it. A missing or wrong instruction-cache flush shows up as
//! a reader running the previous occupant of a reused address.
//!
//! Knobs (environment): `JITMM_STALE_ITERS` (generations, default 300),
//! `JITMM_STALE_SECS` (time cap, default 3), `JITMM_STALE_READERS` (default
//! 3), `JITMM_STALE_STRATEGIES` (comma list of `dualmap`, `mprotect`;
//! default both).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use jitmm::{Class, Config, Object, Strategy};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The constant generation `g` returns (fits every architecture's immediate).
fn value_of(generation: u64) -> u16 {
    1 + (generation % 2000) as u16
}

/// A reader's announcement: the generation it may be using.
const IDLE: u64 = u64::MAX;

struct Shared {
    /// The published generation.
    current: AtomicU64,
    /// Executable address of generation `g` is in `slots[g % 2]`.
    slots: [AtomicUsize; 2],
    /// Per reader: the generation it announced (IDLE when finished).
    seen: Vec<AtomicU64>,
    stop: AtomicBool,
    calls: AtomicU64,
}

fn make(strategy: Strategy, value: u16) -> (jitmm::FinalizedObject, usize) {
    let mut object = Object::new(&Config::new().strategy(strategy)).unwrap();
    let text = object.allocate(Class::Code, 16, 16).unwrap();
    let code = return_const(value);
    object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
    let done = object.finalize().unwrap();
    let addr = done.exec_addr(text) as usize;
    (done, addr)
}

fn reader(shared: &Shared, me: usize) -> Result<(), String> {
    let result = (|| {
        while !shared.stop.load(SeqCst) {
            let g = shared.current.load(SeqCst);
            shared.seen[me].store(g, SeqCst);
            if shared.current.load(SeqCst) != g {
                continue; // republished meanwhile: announce again
            }
            // The writer frees generation g only after this reader announced
            // a later one, so the code at `addr` stays live for this call.
            let addr = shared.slots[(g % 2) as usize].load(SeqCst);
            // SAFETY: `addr` is generation g's finalized `fn() -> i32`, kept
            // alive by the announcement above.
            let got = unsafe { call(addr as *const u8) };
            shared.calls.fetch_add(1, SeqCst);
            let want = i32::from(value_of(g));
            if got != want {
                return Err(format!(
                    "reader {me}: generation {g} at {addr:#x} returned {got}, expected {want} \
                     (stale code of an earlier occupant of the address)"
                ));
            }
        }
        Ok(())
    })();
    shared.seen[me].store(IDLE, SeqCst);
    if result.is_err() {
        shared.stop.store(true, SeqCst);
    }
    result
}

fn stress(strategy: Strategy) {
    let iters = env_or("JITMM_STALE_ITERS", 300);
    let secs = env_or("JITMM_STALE_SECS", 3);
    let readers = env_or("JITMM_STALE_READERS", 3) as usize;

    let (first, addr) = make(strategy, value_of(0));
    let shared = Arc::new(Shared {
        current: AtomicU64::new(0),
        slots: [AtomicUsize::new(addr), AtomicUsize::new(0)],
        seen: (0..readers).map(|_| AtomicU64::new(IDLE)).collect(),
        stop: AtomicBool::new(false),
        calls: AtomicU64::new(0),
    });
    let handles: Vec<_> = (0..readers)
        .map(|me| {
            let shared = shared.clone();
            std::thread::spawn(move || reader(&shared, me))
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut live = first;
    let mut addresses = std::collections::HashSet::new();
    addresses.insert(addr);
    let mut generations = 0;
    for g in 1..=iters {
        if Instant::now() >= deadline || shared.stop.load(SeqCst) {
            break;
        }
        let (next, addr) = make(strategy, value_of(g));
        addresses.insert(addr);
        shared.slots[(g % 2) as usize].store(addr, SeqCst);
        shared.current.store(g, SeqCst);
        // Wait until no reader can still be inside generation g - 1.
        for seen in &shared.seen {
            while !shared.stop.load(SeqCst) {
                let s = seen.load(SeqCst);
                if s == IDLE || s >= g {
                    break;
                }
                std::thread::yield_now();
            }
        }
        drop(std::mem::replace(&mut live, next));
        generations = g;
    }
    shared.stop.store(true, SeqCst);
    let errors: Vec<String> = handles
        .into_iter()
        .filter_map(|h| h.join().unwrap().err())
        .collect();
    drop(live);
    let calls = shared.calls.load(SeqCst);
    eprintln!(
        "{strategy:?}: {generations} generations, {} distinct addresses, {calls} calls by {readers} readers",
        addresses.len()
    );
    assert!(errors.is_empty(), "{strategy:?}: {errors:#?}");
    assert!(generations > 0, "{strategy:?}: no generation was published");
}

fn strategies() -> Vec<Strategy> {
    let list =
        std::env::var("JITMM_STALE_STRATEGIES").unwrap_or_else(|_| "dualmap,mprotect".into());
    list.split(',')
        .filter_map(|s| match s.trim() {
            "dualmap" => Some(Strategy::DualMap),
            "mprotect" => Some(Strategy::Mprotect),
            "" => None,
            other => panic!("JITMM_STALE_STRATEGIES: unknown strategy {other}"),
        })
        .collect()
}

#[test]
fn readers_never_run_stale_code_while_a_function_is_replaced() {
    for strategy in strategies() {
        stress(strategy);
    }
}
