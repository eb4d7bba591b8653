//! MCJIT through LLVM's C API with a jitmm manager in
//! `LLVMMCJITCompilerOptions.MCJMM`.

use crate::common::llvm::*;
use crate::common::*;
use jitmm::Strategy;

#[test]
fn mutual_recursion_constants_and_globals() {
    let _g = shared();
    for strategy in [Strategy::DualMap, Strategy::Mprotect, Strategy::Auto] {
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
    for strategy in [Strategy::DualMap, Strategy::Mprotect] {
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
    for i in 0..50 {
        let tag = format!("free{i}");
        let jit = Mcjit::new(&sample_ir(&tag), Strategy::DualMap);
        check_sample(|n| jit.fn1(n), &tag);
    }
    let after = jitmm::stats();
    assert!(after.objects_finalized >= before.objects_finalized + 50);
    assert_eq!(after.objects_live, before.objects_live);
    assert_eq!(after.bytes_live(), before.bytes_live());
}
