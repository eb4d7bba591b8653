//! The smallest complete inkwell program on jitmm: build `sum(a, b) = a + b`,
//! JIT-compile it with MCJIT on jitmm's memory manager, call it.

use inkwell::context::Context;
use inkwell::OptimizationLevel;
use jitmm::inkwell::ModuleExt;

fn main() -> anyhow::Result<()> {
    let context = Context::create();
    let module = context.create_module("sum");
    let i64_type = context.i64_type();
    let function = module.add_function(
        "sum",
        i64_type.fn_type(&[i64_type.into(), i64_type.into()], false),
        None,
    );
    let builder = context.create_builder();
    builder.position_at_end(context.append_basic_block(function, "entry"));
    let a = function.get_nth_param(0).unwrap().into_int_value();
    let b = function.get_nth_param(1).unwrap().into_int_value();
    builder.build_return(Some(&builder.build_int_add(a, b, "sum")?))?;

    // The one jitmm-specific line: instead of module.create_jit_execution_engine(..).
    let engine = module.create_jitmm_execution_engine(OptimizationLevel::Default)?;

    // SAFETY: `sum` was defined above with exactly this signature.
    let sum = unsafe { engine.get_function::<unsafe extern "C" fn(i64, i64) -> i64>("sum")? };
    // SAFETY: calling JIT-compiled code of the declared signature.
    let result = unsafe { sum.call(40, 2) };
    println!("sum(40, 2) = {result}");
    let stats = jitmm::stats();
    println!(
        "jitmm: {} object(s) live, {} bytes of code live, strategy {:?}",
        stats.objects_live,
        stats.bytes_live_code,
        jitmm::probe().auto_strategy
    );
    assert_eq!(result, 42);
    Ok(())
}
