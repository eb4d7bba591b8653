//! MCJIT through LLVM's C API with a jitmm manager in
//! `LLVMMCJITCompilerOptions.MCJMM`.

use crate::common::llvm::*;
use crate::common::*;
use jitmm::Strategy;

#[test]
fn mutual_recursion_constants_and_globals() {
    let _g = shared();
    for strategy in strategies().into_iter().chain([Strategy::Auto]) {
        let tag = format!("{strategy:?}");
        let jit = Mcjit::new(&sample_ir(&tag), strategy);
        check_sample(|n| jit.fn1(n), &tag);
        assert_no_wx();
        if strategy != Strategy::Auto {
            assert_in_arena(jit.address(&format!("even_{tag}")), strategy);
        }
    }
}

#[test]
fn several_engines_alive_and_dropped_in_any_order() {
    let _g = shared();
    for strategy in strategies() {
        let mut engines: Vec<(String, Mcjit)> = (0..6)
            .map(|i| {
                let tag = format!("e{i}");
                let jit = Mcjit::new(&sample_ir(&tag), strategy);
                (tag, jit)
            })
            .collect();
        for (tag, jit) in &engines {
            check_sample(|n| jit.fn1(n), tag);
        }
        assert_no_wx();
        // Drop from the middle, then the ends; the rest keep working.
        for idx in [3, 0, 2] {
            let (_tag, jit) = engines.remove(idx);
            drop(jit);
            for (tag, jit) in &engines {
                let lookup = jit.fn1(&format!("lookup_{tag}"));
                assert_eq!(lookup(1), 20);
            }
        }
    }
}

#[test]
fn engine_drop_frees_its_objects() {
    let _g = serial();
    let before = jitmm::stats();
    for (i, strategy) in (0..50).zip(strategies().into_iter().cycle()) {
        let tag = format!("free{i}");
        let jit = Mcjit::new(&sample_ir(&tag), strategy);
        check_sample(|n| jit.fn1(n), &tag);
    }
    let after = jitmm::stats();
    assert!(after.objects_finalized >= before.objects_finalized + 50);
    assert_eq!(after.objects_live, before.objects_live);
    assert_eq!(after.bytes_live(), before.bytes_live());
}

/// VMAs a process may gain or keep apart from the code itself: a new arena
/// block per class, and LLVM's and malloc's own large allocations (MCJIT's
/// section table, the engine's object list), which glibc maps apart.
const VMA_SLACK: usize = 16;

/// Modules after the first share one batched core object: each is sealed
/// on its own under either strategy (Mprotect: on pages of its own), and
/// earlier modules keep running while later ones are written.
#[test]
fn one_engine_seals_module_after_module_under_each_strategy() {
    let _g = serial();
    for strategy in strategies() {
        let before = jitmm::stats();
        let jit = Mcjit::new(&small_module_ir(0), strategy);
        // Each module's global: f(x) adds table entry x (entry 0 is 1,
        // entry 3 the id) to it and returns the sum.
        let mut globals = Vec::new();
        for id in 0..300 {
            if id > 0 {
                jit.add_module(&small_module_ir(id));
            }
            assert_eq!(jit.fn1(&format!("f{id}"))(3), 2 * id as i64);
            globals.push(2 * id as i64);
            if id % 50 == 0 {
                for earlier in (0..=id).step_by(7) {
                    globals[earlier] += 1;
                    assert_eq!(jit.fn1(&format!("f{earlier}"))(0), globals[earlier]);
                }
            }
        }
        assert_no_wx();
        drop(jit);
        let after = jitmm::stats();
        assert_eq!(after.objects_live, before.objects_live, "{strategy:?}");
        assert_eq!(after.bytes_live(), before.bytes_live(), "{strategy:?}");
    }
}

/// 10,000 modules natively (fewer under an emulator, `JITMM_TEST_MODULES`).
#[test]
fn one_engine_many_modules_keeps_vmas_flat_and_frees_everything() {
    let _g = serial();
    let modules = module_count(10_000);
    let checkpoint = modules / 10;
    let before = jitmm::stats();
    let vmas_before = process_vmas();
    let jit = Mcjit::new(&small_module_ir(0), Strategy::Auto);
    let mut vmas_at_checkpoint = 0;
    for id in 0..modules {
        if id > 0 {
            jit.add_module(&small_module_ir(id));
        }
        // Table entry 3 is the id, and the global starts at the id.
        assert_eq!(jit.fn1(&format!("f{id}"))(3), 2 * id as i64);
        if id == checkpoint {
            vmas_at_checkpoint = process_vmas();
        }
    }
    // Every module still runs at the address it was linked for.
    for id in (0..modules).step_by(997) {
        assert_eq!(jit.fn1(&format!("f{id}"))(0), 2 * id as i64 + 1);
    }
    assert_no_wx();
    let live = jitmm::stats();
    // Each module was finalized on its own; after the first, they share one
    // batched core object (the first has one of its own).
    assert!(live.objects_finalized - before.objects_finalized >= modules as u64);
    assert_eq!(live.objects_live - before.objects_live, 2);
    let vmas_live = process_vmas();
    assert!(
        vmas_live <= vmas_at_checkpoint + VMA_SLACK,
        "VMAs grew with modules: {vmas_at_checkpoint} at {checkpoint}, {vmas_live} at {modules}"
    );
    drop(jit);
    let after = jitmm::stats();
    assert_eq!(after.objects_live, before.objects_live);
    assert_eq!(after.bytes_live(), before.bytes_live());
    let vmas_after = process_vmas();
    assert!(
        vmas_after <= vmas_before + VMA_SLACK,
        "{vmas_before} VMAs before the engine, {vmas_after} after it"
    );
}
