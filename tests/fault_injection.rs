//! Fault injection: every OS call the core makes (reserve, memfd_create,
//! ftruncate, mmap of each view, mprotect, madvise, fallocate, munmap) is
//! made to fail in turn. Each failing operation returns a typed error (or,
//! for clean-up calls whose failure jitmm tolerates, completes), the arena
//! stays consistent, a later allocation succeeds once the fault is gone, and
//! when the arena is dropped the process has as many mappings as before.
//!
//! Needs the test-only feature:
//! `cargo test --features fault-injection --test fault_injection`.

mod common;

use std::sync::Arc;

use common::*;
use jitmm::test_support::fault::{self, Op, Prot};
use jitmm::{Arena, Class, Errno, Error, FinalizedObject, Object, Strategy};

/// One step of the scenario each trial replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A private arena of 16 MiB.
    NewArena,
    /// An object with code, read-only and read-write data, finalized and run.
    LoadSmall,
    /// An object whose code spans two blocks (a span of its own).
    LoadBig,
    /// Dropping the big object (its span is unmapped).
    FreeBig,
    /// Dropping the small object.
    FreeSmall,
    /// Returning every free page to the OS.
    Trim,
}

const STEPS: [Step; 6] = [
    Step::NewArena,
    Step::LoadSmall,
    Step::LoadBig,
    Step::FreeBig,
    Step::FreeSmall,
    Step::Trim,
];

const ARENA_SIZE: usize = 16 << 20;
const BIG: usize = 3 << 20;

#[derive(Default)]
struct World {
    arena: Option<Arc<Arena>>,
    small: Option<FinalizedObject>,
    big: Option<FinalizedObject>,
}

/// Loads code returning `value`, 64 bytes of read-only data filled with
/// `value as u8` and 64 bytes of read-write data; checks all three through
/// their final addresses.
fn load_small(arena: &Arc<Arena>, value: u16) -> Result<FinalizedObject, Error> {
    let mut object = Object::in_arena(arena.clone());
    let text = object.allocate(Class::Code, 16, 16)?;
    let ro = object.allocate(Class::ReadOnly, 64, 16)?;
    let rw = object.allocate(Class::ReadWrite, 64, 16)?;
    let code = return_const(value);
    object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
    object.bytes_mut(ro).fill(value as u8);
    object.bytes_mut(rw).fill(!(value as u8));
    let done = object.finalize()?;
    // SAFETY: a complete `fn() -> i32` at the section's executable address.
    assert_eq!(unsafe { call(done.exec_addr(text)) }, i32::from(value));
    // SAFETY: 64 readable bytes at each data section's final address.
    let (ro_bytes, rw_bytes) = unsafe {
        (
            std::slice::from_raw_parts(done.exec_addr(ro), 64),
            std::slice::from_raw_parts(done.exec_addr(rw), 64),
        )
    };
    assert!(ro_bytes.iter().all(|&b| b == value as u8));
    assert!(rw_bytes.iter().all(|&b| b == !(value as u8)));
    Ok(done)
}

fn load_big(arena: &Arc<Arena>) -> Result<FinalizedObject, Error> {
    let mut object = Object::in_arena(arena.clone());
    let text = object.allocate(Class::Code, BIG, 16)?;
    let code = return_const(99);
    object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
    let done = object.finalize()?;
    // SAFETY: a complete `fn() -> i32` at the start of the section.
    assert_eq!(unsafe { call(done.exec_addr(text)) }, 99);
    Ok(done)
}

fn run(world: &mut World, step: Step, strategy: Strategy) -> Result<(), Error> {
    match step {
        Step::NewArena => world.arena = Some(Arena::new(ARENA_SIZE, strategy)?),
        Step::LoadSmall => {
            if let Some(arena) = &world.arena {
                world.small = Some(load_small(arena, 7)?);
            }
        }
        Step::LoadBig => {
            if let Some(arena) = &world.arena {
                world.big = Some(load_big(arena)?);
            }
        }
        Step::FreeBig => drop(world.big.take()),
        Step::FreeSmall => drop(world.small.take()),
        Step::Trim => {
            if let Some(arena) = &world.arena {
                arena.trim();
            }
        }
    }
    Ok(())
}

/// Whether a step reports failures (the others are clean-up, which cannot
/// fail from the caller's point of view).
fn fallible(step: Step) -> bool {
    matches!(step, Step::NewArena | Step::LoadSmall | Step::LoadBig)
}

fn errno_for(trial: usize) -> Errno {
    Errno([libc::ENOMEM, libc::EACCES, libc::EPERM][trial % 3])
}

/// The OS calls each step makes, recorded without faults.
fn record(strategy: Strategy) -> Vec<Vec<Op>> {
    let mut world = World::default();
    let calls = STEPS
        .iter()
        .map(|&step| {
            fault::arm(None);
            run(&mut world, step, strategy).unwrap();
            fault::disarm()
        })
        .collect();
    drop(world);
    calls
}

fn inject_each(strategy: Strategy) {
    let _g = serial();
    jitmm::probe(); // cached before any fault, so it sees the real kernel
    let calls = record(strategy);
    let mut trials = 0;
    let mut seen = Vec::new();
    for (k, &step) in STEPS.iter().enumerate() {
        for (i, &op) in calls[k].iter().enumerate() {
            let errno = errno_for(trials);
            trials += 1;
            let vmas_before = process_vmas();
            let objects_before = jitmm::stats().objects_live;
            let mut world = World::default();
            for &earlier in &STEPS[..k] {
                run(&mut world, earlier, strategy).unwrap();
            }
            let live = world
                .arena
                .as_ref()
                .map(|a| (a.live_bytes(), a.live_objects()));

            fault::arm(Some((i, errno)));
            let result = run(&mut world, step, strategy);
            let trace = fault::disarm();
            assert_eq!(
                trace.get(i),
                Some(&op),
                "{strategy:?} {step:?}: the replay made other calls: {trace:?}"
            );
            let what = format!("{strategy:?} {step:?} call {i} ({op:?}) failing with {errno}");
            match &result {
                Err(Error::Os {
                    op: name, errno: e, ..
                }) if fallible(step) => {
                    assert_eq!(*e, errno, "{what}: {result:?}");
                    assert!(!name.to_string().is_empty());
                    seen.push(format!("{step:?}/{op:?} -> Os {{ op: {name:?} }}"));
                }
                Ok(()) if !fallible(step) => {
                    seen.push(format!("{step:?}/{op:?} -> tolerated"));
                }
                other => panic!("{what}: unexpected outcome {other:?}"),
            }

            // The arena is as it was before the failed step.
            if fallible(step) {
                let now = world
                    .arena
                    .as_ref()
                    .map(|a| (a.live_bytes(), a.live_objects()));
                assert_eq!(now, live, "{what}: arena changed by a failed step");
            }
            assert_no_wx();

            // With the fault gone, a new object loads and runs: possibly in
            // the very chunks the failed step held.
            if world.arena.is_none() {
                world.arena = Some(Arena::new(ARENA_SIZE, strategy).unwrap());
            }
            let arena = world.arena.clone().unwrap();
            let again = load_small(&arena, 300 + i as u16)
                .unwrap_or_else(|e| panic!("{what}: later allocation failed: {e}"));
            drop(again);
            for &later in &STEPS[k + 1..] {
                run(&mut world, later, strategy).unwrap();
            }
            drop(arena);
            drop(world);
            assert_eq!(jitmm::stats().objects_live, objects_before, "{what}");
            assert_eq!(process_vmas(), vmas_before, "{what}: mappings leaked");
        }
    }
    println!("{strategy:?}: {trials} faults injected, one per OS call of the scenario");
    for line in seen {
        println!("  {line}");
    }
    assert!(
        trials >= 5,
        "{strategy:?}: the scenario made too few OS calls"
    );
}

/// One test for the whole file: the leak check counts the process's
/// mappings, and the test harness maps and unmaps a thread stack whenever
/// it starts or ends a test, which a second test in this binary could do
/// in the middle of a trial.
#[test]
fn every_os_call_fails_in_turn() {
    inject_each(Strategy::DualMap);
    inject_each(Strategy::Mprotect);
    every_op_of_the_core_is_reached();
}

fn every_op_of_the_core_is_reached() {
    // The scenarios above cover every OS call of the core except the fork
    // rebuild (tested in tests/fork.rs).
    let _g = serial();
    jitmm::probe();
    let mut ops: Vec<Op> = [Strategy::DualMap, Strategy::Mprotect]
        .into_iter()
        .flat_map(record)
        .flatten()
        .collect();
    // Dropping an arena unmaps its views and reservation.
    fault::arm(None);
    drop(Arena::new(ARENA_SIZE, Strategy::DualMap).unwrap());
    ops.extend(fault::disarm());
    for op in [
        Op::Reserve,
        Op::Decommit,
        Op::Unmap,
        Op::MapAnonFixed,
        // Views are mapped at fixed places (the RW mirror included).
        Op::MapSharedFixed(Prot::ReadWrite),
        Op::MapSharedFixed(Prot::ReadExec),
        Op::Protect(Prot::ReadExec),
        Op::DontFork,
        Op::DiscardAnon,
        Op::PunchHole,
        Op::MemfdCreate,
        Op::Ftruncate,
    ] {
        assert!(ops.contains(&op), "{op:?} never called: {ops:?}");
    }
}

/// Where the kernel does the instruction-cache flush (ARM, RISC-V, MIPS),
/// its refusal fails finalize with an error naming the flush, and no code
/// is handed out.
#[cfg(any(target_arch = "arm", target_arch = "riscv64", target_arch = "mips64"))]
#[test]
fn a_refused_flush_fails_finalize() {
    let _g = serial();
    jitmm::probe(); // cached before any fault, so it sees the real kernel
    for strategy in [Strategy::DualMap, Strategy::Mprotect] {
        let arena = Arena::new(ARENA_SIZE, strategy).unwrap();
        drop(load_small(&arena, 1).unwrap()); // spans mapped: same calls from now on
        fault::arm(None);
        drop(load_small(&arena, 2).unwrap());
        let calls = fault::disarm();
        let flush = calls.iter().position(|&op| op == Op::CacheFlush);
        let flush = flush.expect("finalize asks the kernel to flush");
        fault::arm(Some((flush, Errno(libc::EPERM))));
        let result = load_small(&arena, 3);
        fault::disarm();
        match result {
            Err(Error::Os { op, errno, .. }) => {
                assert_eq!(
                    (op, errno),
                    (Op::CacheFlush, Errno(libc::EPERM)),
                    "{strategy:?}"
                )
            }
            other => panic!("{strategy:?}: finalize with a refused flush gave {other:?}"),
        }
        assert_eq!(arena.live_objects(), 0, "{strategy:?}");
        assert!(load_small(&arena, 4).is_ok(), "{strategy:?}: no recovery");
    }
}
