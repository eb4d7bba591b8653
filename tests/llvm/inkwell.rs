//! inkwell: the extension trait and the McjitMemoryManager implementation.

use crate::common::llvm::strategies;
use crate::common::*;
use inkwell::context::Context;
use inkwell::execution_engine::ExecutionEngine;
use inkwell::module::Module;
use inkwell::targets::{CodeModel, InitializationConfig, Target};
use inkwell::OptimizationLevel;
use jitmm::inkwell::{MemoryManager, ModuleExt};
use jitmm::{Config, Strategy};

/// Adds `scale(x) = x * factor + counter++` with a mutable global.
fn build<'ctx>(context: &'ctx Context, name: &str, factor: u64) -> Module<'ctx> {
    build_named(context, name, "scale", factor)
}

/// A module whose function `function` returns `x * factor` plus how often
/// it was called before.
fn build_named<'ctx>(
    context: &'ctx Context,
    name: &str,
    function: &str,
    factor: u64,
) -> Module<'ctx> {
    let module = context.create_module(name);
    let i64_type = context.i64_type();
    let counter = module.add_global(i64_type, None, &format!("{function}_counter"));
    counter.set_initializer(&i64_type.const_zero());
    let function = module.add_function(function, i64_type.fn_type(&[i64_type.into()], false), None);
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(function, "entry"));
    let x = function.get_nth_param(0).unwrap().into_int_value();
    let product = builder
        .build_int_mul(x, i64_type.const_int(factor, false), "p")
        .unwrap();
    let old = builder
        .build_load(i64_type, counter.as_pointer_value(), "c")
        .unwrap()
        .into_int_value();
    let new = builder
        .build_int_add(old, i64_type.const_int(1, false), "n")
        .unwrap();
    builder
        .build_store(counter.as_pointer_value(), new)
        .unwrap();
    let sum = builder.build_int_add(product, old, "s").unwrap();
    builder.build_return(Some(&sum)).unwrap();
    module
}

type Scale = unsafe extern "C" fn(i64) -> i64;

#[test]
fn extension_trait_gives_a_working_engine_under_each_strategy() {
    let _g = shared();
    for strategy in strategies().into_iter().chain([Strategy::Auto]) {
        let context = Context::create();
        let module = build(&context, "m", 3);
        let engine = module
            .create_jitmm_execution_engine_with(
                OptimizationLevel::Default,
                &Config::new().strategy(strategy),
            )
            .unwrap();
        // SAFETY: `scale` has this signature.
        let scale = unsafe { engine.get_function::<Scale>("scale").unwrap() };
        // SAFETY: calling JIT code of the declared signature.
        assert_eq!(unsafe { scale.call(5) }, 15);
        // SAFETY: as above.
        assert_eq!(unsafe { scale.call(5) }, 16);
        assert_no_wx();
        if strategy != Strategy::Auto {
            let addr = engine.get_function_address("scale").unwrap() as u64;
            crate::common::llvm::assert_in_arena(addr, strategy);
        }
    }
}

#[test]
fn module_owned_by_another_engine_is_refused() {
    let _g = shared();
    let context = Context::create();
    let module = build(&context, "owned", 2);
    let _first = module
        .create_jitmm_execution_engine(OptimizationLevel::None)
        .unwrap();
    assert!(module
        .create_jitmm_execution_engine(OptimizationLevel::None)
        .is_err());
}

#[test]
fn engines_free_their_code_when_dropped() {
    let _g = serial();
    let before = jitmm::stats();
    for i in 0..100 {
        let context = Context::create();
        let module = build(&context, "loop", i);
        let engine = module
            .create_jitmm_execution_engine(OptimizationLevel::None)
            .unwrap();
        // SAFETY: `scale` has this signature.
        let scale = unsafe { engine.get_function::<Scale>("scale").unwrap() };
        // SAFETY: calling JIT code of the declared signature.
        assert_eq!(unsafe { scale.call(2) }, 2 * i as i64);
    }
    let after = jitmm::stats();
    assert_eq!(after.objects_live, before.objects_live);
    assert_eq!(after.bytes_live(), before.bytes_live());
}

/// An MCJIT engine on inkwell's own memory-manager path, with jitmm's
/// [`MemoryManager`] behind it.
fn trait_engine<'ctx>(module: &Module<'ctx>) -> ExecutionEngine<'ctx> {
    module
        .create_mcjit_execution_engine_with_memory_manager(
            MemoryManager::new().unwrap(),
            OptimizationLevel::Default,
            CodeModel::JITDefault,
            false,
            false,
        )
        .unwrap()
}

#[test]
fn inkwell_memory_manager_trait_path() {
    let _g = shared();
    Target::initialize_native(&InitializationConfig::default()).unwrap();
    let context = Context::create();
    let engine = trait_engine(&build(&context, "trait", 7));
    // SAFETY: `scale` has this signature.
    let scale = unsafe { engine.get_function::<Scale>("scale").unwrap() };
    // SAFETY: calling JIT code of the declared signature.
    assert_eq!(unsafe { scale.call(6) }, 42);
    crate::common::llvm::assert_in_arena(
        engine.get_function_address("scale").unwrap() as u64,
        Strategy::Mprotect,
    );
    assert_no_wx();
}

/// Module after module into one engine on the trait path: each finalized
/// on its own pages while the earlier ones keep running.
#[test]
fn inkwell_memory_manager_trait_path_many_modules() {
    let _g = shared();
    Target::initialize_native(&InitializationConfig::default()).unwrap();
    let context = Context::create();
    let engine = trait_engine(&build_named(&context, "m0", "scale0", 1));
    let mut calls = vec![0i64];
    for id in 1..40u64 {
        let module = build_named(&context, &format!("m{id}"), &format!("scale{id}"), id + 1);
        engine.add_module(&module).unwrap();
        calls.push(0);
        for earlier in 0..=id {
            // SAFETY: `scale{earlier}` has this signature.
            let f = unsafe { engine.get_function::<Scale>(&format!("scale{earlier}")) }.unwrap();
            let i = earlier as usize;
            // SAFETY: calling JIT code of the declared signature.
            assert_eq!(unsafe { f.call(3) }, 3 * (earlier as i64 + 1) + calls[i]);
            calls[i] += 1;
        }
    }
    assert_no_wx();
}
