//! Soak and concurrency.
//!
//! - 1,000,000 allocate / write / finalize / free cycles of mixed sizes per
//!   strategy, with a window of live objects so the free lists fragment:
//!   no error, and the process's mappings and resident memory stay flat
//!   (printed at every tenth of the run).
//! - 8 threads allocating, finalizing, running and freeing at once on one
//!   arena, each checking that its code and data hold what it wrote.
//!
//! `cargo test --test soak -- --nocapture` prints the figures (about 30 s
//! per strategy in a debug build; `--release` is several times faster and
//! runs ten times more concurrent operations).

mod common;

use std::sync::{Arc, Barrier};

use common::*;
use jitmm::{Arena, Class, FinalizedObject, Object, SectionId, Strategy};

const CYCLES: usize = 1_000_000;

/// Live objects kept at once.
const WINDOW: usize = 64;

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Mixed sizes: mostly small, some pages, a rare multi-block span.
fn size(rng: &mut Rng, cycle: usize) -> usize {
    if cycle % 50_000 == 49_999 {
        return 3 << 20;
    }
    match rng.below(100) {
        0..=69 => 16 + rng.below(496),
        70..=94 => 512 + rng.below(7 * 1024),
        _ => 8 * 1024 + rng.below(56 * 1024),
    }
}

/// Loads code returning `value` plus data of `size` bytes filled with `fill`.
fn load(
    arena: &Arc<Arena>,
    value: u16,
    class: Class,
    size: usize,
    fill: u8,
) -> (FinalizedObject, SectionId, SectionId) {
    let mut object = Object::in_arena(arena.clone());
    let code = return_const(value);
    let text = object.allocate(Class::Code, code.len(), 16).unwrap();
    object.bytes_mut(text).copy_from_slice(&code);
    let data = object.allocate(class, size, 16).unwrap();
    object.bytes_mut(data).fill(fill);
    let done = object.finalize().unwrap();
    (done, text, data)
}

fn check(done: &FinalizedObject, text: SectionId, data: SectionId, value: u16, fill: u8) {
    // SAFETY: a complete `fn() -> i32` at the section's executable address.
    assert_eq!(unsafe { call(done.exec_addr(text)) }, i32::from(value));
    let s = done.section(data);
    // SAFETY: `len` readable bytes at the data section's final address.
    let bytes = unsafe { std::slice::from_raw_parts(s.exec, s.len) };
    assert_eq!(bytes[0], fill);
    assert_eq!(bytes[s.len / 2], fill);
    assert_eq!(bytes[s.len - 1], fill);
}

fn soak(strategy: Strategy) {
    let _g = serial();
    let arena = Arena::new(jitmm::probe().reservation_size, strategy).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ strategy as u64);
    let mut live: Vec<(FinalizedObject, SectionId, SectionId, u16, u8)> = Vec::new();
    let mut samples = Vec::new();
    let start = std::time::Instant::now();
    println!("{strategy:?}: {CYCLES} cycles, window {WINDOW}");
    println!("  cycle      process VMAs  arena VMAs  RSS KiB  live objects");
    for cycle in 0..CYCLES {
        let class = [Class::Code, Class::ReadOnly, Class::ReadWrite][rng.below(3)];
        let value = (cycle % 2000) as u16;
        let fill = rng.next() as u8;
        let (done, text, data) = load(&arena, value, class, size(&mut rng, cycle), fill);
        if cycle % 97 == 0 {
            check(&done, text, data, value, fill);
        }
        live.push((done, text, data, value, fill));
        if live.len() > WINDOW {
            let (done, text, data, value, fill) = live.swap_remove(rng.below(live.len()));
            check(&done, text, data, value, fill);
        }
        if (cycle + 1) % (CYCLES / 10) == 0 {
            let sample = (
                process_vmas(),
                jitmm::stats().vmas as usize,
                rss_kib(),
                arena.live_objects(),
            );
            println!(
                "  {:>9}  {:>12}  {:>10}  {:>7}  {:>12}",
                cycle + 1,
                sample.0,
                sample.1,
                sample.2,
                sample.3
            );
            samples.push(sample);
        }
    }
    live.clear();
    assert_eq!(arena.live_objects(), 0);
    assert_eq!(arena.live_bytes(), 0);
    println!(
        "  {:.1} s, {:.2} µs per cycle",
        start.elapsed().as_secs_f64(),
        start.elapsed().as_secs_f64() * 1e6 / CYCLES as f64
    );
    // Flat: after the first tenth (warm-up), no sample exceeds the first by
    // more than a little.
    let (vmas0, arena_vmas0, rss0, _) = samples[0];
    let peak_vmas = samples.iter().map(|s| s.0).max().unwrap();
    let peak_arena_vmas = samples.iter().map(|s| s.1).max().unwrap();
    let peak_rss = samples.iter().map(|s| s.2).max().unwrap();
    assert!(
        peak_vmas <= vmas0 + vmas0 / 5 + 16,
        "{strategy:?}: process VMAs grew {vmas0} -> {peak_vmas}"
    );
    assert!(
        peak_arena_vmas <= arena_vmas0 + arena_vmas0 / 5 + 16,
        "{strategy:?}: arena VMAs grew {arena_vmas0} -> {peak_arena_vmas}"
    );
    assert!(
        peak_rss <= rss0 + 16 * 1024,
        "{strategy:?}: RSS grew {rss0} KiB -> {peak_rss} KiB"
    );
}

#[test]
fn soak_dual_map() {
    soak(Strategy::DualMap);
}

#[test]
fn soak_mprotect() {
    soak(Strategy::Mprotect);
}

const THREADS: usize = 8;
const OPS_PER_THREAD: usize = if cfg!(debug_assertions) {
    20_000
} else {
    200_000
};

fn concurrent(arena: Arc<Arena>) {
    let barrier = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let arena = arena.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0x1234_5678_9abc_def1 ^ ((t as u64 + 1) * 0x9e37_79b9));
                let mut live = Vec::new();
                barrier.wait();
                for op in 0..OPS_PER_THREAD {
                    // Values and fills unique to the thread, so a section
                    // handed to two threads shows up as wrong contents.
                    let value = (t * 1000 + op % 1000) as u16;
                    let fill = (t as u8) << 5 | (op % 31) as u8;
                    let class = [Class::ReadOnly, Class::ReadWrite][op % 2];
                    let size = 16 + rng.below(4096);
                    let (done, text, data) = load(&arena, value, class, size, fill);
                    check(&done, text, data, value, fill);
                    live.push((done, text, data, value, fill));
                    if live.len() > 16 {
                        let (done, text, data, value, fill) =
                            live.swap_remove(rng.below(live.len()));
                        check(&done, text, data, value, fill);
                    }
                }
                for (done, text, data, value, fill) in &live {
                    check(done, *text, *data, *value, *fill);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a worker thread failed");
    }
    assert_eq!(arena.live_objects(), 0);
    assert_eq!(arena.live_bytes(), 0);
}

#[test]
fn eight_threads_at_once() {
    for strategy in [Strategy::DualMap, Strategy::Mprotect] {
        let start = std::time::Instant::now();
        concurrent(Arena::new(jitmm::probe().reservation_size, strategy).unwrap());
        println!(
            "{strategy:?}: {THREADS} threads x {OPS_PER_THREAD} objects in {:.2} s",
            start.elapsed().as_secs_f64()
        );
        assert_no_wx();
    }
}
