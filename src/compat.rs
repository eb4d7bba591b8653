//! What differs between the supported LLVM versions' C APIs, for Rust code
//! (the tests, the REPL, users of [`crate::llvm_sys`]): every `cfg` on the
//! LLVM version outside the feature wiring is here. The C++ shim's
//! counterpart is `cshim/compat.h`, which also lists these.

use std::ptr;

use crate::llvm_sys::orc2::LLVMOrcThreadSafeContextRef;
use crate::llvm_sys::prelude::{LLVMBool, LLVMContextRef, LLVMMemoryBufferRef, LLVMModuleRef};

/// A new ORC `ThreadSafeContext` and the `LLVMContext` it owns.
///
/// Create modules in the context, wrap each with
/// `LLVMOrcCreateNewThreadSafeModule(module, tsc)`, and dispose of `tsc`
/// (`LLVMOrcDisposeThreadSafeContext`) once no more modules are made: the
/// modules keep the context alive.
///
/// LLVM 19 hands out the context of a new ThreadSafeContext
/// (`LLVMOrcThreadSafeContextGetContext`); LLVM 21 removed that, and a
/// ThreadSafeContext is made from a context instead
/// (`LLVMOrcCreateNewThreadSafeContextFromLLVMContext`).
pub fn thread_safe_context() -> (LLVMOrcThreadSafeContextRef, LLVMContextRef) {
    #[cfg(feature = "llvm19")]
    {
        use crate::llvm_sys::orc2::{
            LLVMOrcCreateNewThreadSafeContext, LLVMOrcThreadSafeContextGetContext,
        };
        // SAFETY: no preconditions; the context belongs to the new
        // ThreadSafeContext, which lives as long as a reference to it.
        unsafe {
            let tsc = LLVMOrcCreateNewThreadSafeContext();
            (tsc, LLVMOrcThreadSafeContextGetContext(tsc))
        }
    }
    #[cfg(not(feature = "llvm19"))]
    {
        use crate::llvm_sys::core::LLVMContextCreate;
        use crate::llvm_sys::orc2::LLVMOrcCreateNewThreadSafeContextFromLLVMContext;
        // SAFETY: a fresh context, not yet in any ThreadSafeContext, whose
        // ownership passes to the new ThreadSafeContext.
        unsafe {
            let ctx = LLVMContextCreate();
            (LLVMOrcCreateNewThreadSafeContextFromLLVMContext(ctx), ctx)
        }
    }
}

/// Parses textual IR in `buffer` into a module of `ctx`, consuming `buffer`.
/// Returns 0 on success with the module in `*module`; otherwise nonzero and,
/// in `*message`, a description to free with `LLVMDisposeMessage`.
///
/// LLVM 19's `LLVMParseIRInContext` consumes the buffer; LLVM 22 deprecates
/// it for `LLVMParseIRInContext2`, which leaves the buffer to the caller.
///
/// # Safety
///
/// `ctx` and `buffer` are live, `buffer` is not used afterwards, and
/// `module` and `message` are valid for writes.
pub unsafe fn parse_ir_in_context(
    ctx: LLVMContextRef,
    buffer: LLVMMemoryBufferRef,
    module: *mut LLVMModuleRef,
    message: *mut *mut std::ffi::c_char,
) -> LLVMBool {
    // SAFETY: the caller's guarantees; so no stale value is read on failure.
    unsafe {
        *module = ptr::null_mut();
        *message = ptr::null_mut();
    }
    #[cfg(feature = "llvm19")]
    {
        // SAFETY: the caller's guarantees; the call takes the buffer.
        unsafe { crate::llvm_sys::ir_reader::LLVMParseIRInContext(ctx, buffer, module, message) }
    }
    #[cfg(not(feature = "llvm19"))]
    {
        use crate::llvm_sys::core::LLVMDisposeMemoryBuffer;
        use crate::llvm_sys::ir_reader::LLVMParseIRInContext2;
        // SAFETY: the caller's guarantees; the buffer is ours to dispose of
        // after the call, which only reads it.
        unsafe {
            let failed = LLVMParseIRInContext2(ctx, buffer, module, message);
            LLVMDisposeMemoryBuffer(buffer);
            failed
        }
    }
}
