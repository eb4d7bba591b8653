//! The LLVM-facing part of the C API: constructors of the shim's
//! `RTDyldMemoryManager` and ORC object layers.

use std::ffi::{c_char, c_void, CStr};

use super::{jitmm_config, jitmm_last_error, CoreApi, CORE_API};
use crate::arena::Arena;
use crate::config::Config;
use crate::error::Error;

extern "C" {
    fn jitmm_shim_mcjit_memory_manager_create(
        api: *const CoreApi,
        config: *const jitmm_config,
    ) -> LLVMMCJITMemoryManagerRef;
    fn jitmm_shim_orc_rtdyld_layer(
        api: *const CoreApi,
        config: *const jitmm_config,
        es: LLVMOrcExecutionSessionRef,
        triple: *const c_char,
    ) -> LLVMOrcObjectLayerRef;
}

pub use crate::llvm_sys::execution_engine::LLVMMCJITMemoryManagerRef;
pub use crate::llvm_sys::orc2::{LLVMOrcExecutionSessionRef, LLVMOrcObjectLayerRef};

/// A jitmm `RTDyldMemoryManager` for a Rust config.
pub(crate) fn manager_for(config: &Config) -> Result<LLVMMCJITMemoryManagerRef, Error> {
    if !config.private_arena {
        // Surface the typed error (the shim would only carry its message).
        Arena::for_config(config)?;
    }
    let c = jitmm_config::from(config);
    // SAFETY: `c` is a valid config for the duration of the call.
    let manager = unsafe { jitmm_mcjit_memory_manager_create_with(&c) };
    if manager.is_null() {
        // SAFETY: the last error is a valid C string of this thread.
        let message = unsafe { CStr::from_ptr(jitmm_last_error()) };
        return Err(Error::Llvm(message.to_string_lossy().into_owned()));
    }
    Ok(manager)
}

/// A jitmm `RTDyldMemoryManager` with default settings, for
/// `LLVMMCJITCompilerOptions.MCJMM`. NULL on error.
#[no_mangle]
pub extern "C" fn jitmm_mcjit_memory_manager_create() -> LLVMMCJITMemoryManagerRef {
    // SAFETY: NULL is an accepted config.
    unsafe { jitmm_mcjit_memory_manager_create_with(std::ptr::null()) }
}

/// A jitmm `RTDyldMemoryManager` with the given settings. NULL on error.
///
/// # Safety
/// `config` must be NULL or point to a valid `jitmm_config` (read during the call only).
#[no_mangle]
pub unsafe extern "C" fn jitmm_mcjit_memory_manager_create_with(
    config: *const jitmm_config,
) -> LLVMMCJITMemoryManagerRef {
    // SAFETY: the shim validates nothing the caller did not promise; the
    // table is 'static.
    unsafe { jitmm_shim_mcjit_memory_manager_create(&CORE_API, config) }
}

/// An `RTDyldObjectLinkingLayer` whose objects each get a jitmm memory
/// manager. It has exactly the type of llvm-sys's
/// `LLVMOrcLLJITBuilderObjectLinkingLayerCreatorFunction`, so it is passed to
/// `LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator` as is; LLVM calls it with
/// the `ctx` given there, which must be NULL or point to a `jitmm_config`
/// that lives until the LLJIT is built. NULL (and a last error) on failure.
// Safe on purpose: LLVM's creator callback type is a safe `extern "C" fn`.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
#[no_mangle]
pub extern "C" fn jitmm_orc_rtdyld_layer(
    ctx: *mut c_void,
    es: LLVMOrcExecutionSessionRef,
    triple: *const c_char,
) -> LLVMOrcObjectLayerRef {
    // SAFETY: LLVM passes the ctx registered with the creator (NULL or a
    // jitmm_config, as documented) and its live execution session.
    unsafe { jitmm_shim_orc_rtdyld_layer(&CORE_API, ctx.cast(), es, triple) }
}

extern "C" {
    fn jitmm_shim_orc_jitlink_layer(
        api: *const CoreApi,
        config: *const jitmm_config,
        es: LLVMOrcExecutionSessionRef,
        triple: *const c_char,
    ) -> LLVMOrcObjectLayerRef;
    fn jitmm_shim_jitlink_memory_manager_create(
        api: *const CoreApi,
        config: *const jitmm_config,
    ) -> *mut c_void;
}

/// An `ObjectLinkingLayer` (JITLink) whose link graphs are placed by jitmm,
/// with in-process EH-frame registration. Same type and `ctx` contract as
/// [`jitmm_orc_rtdyld_layer`]: pass it to
/// `LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator` with NULL or a
/// `jitmm_config` that lives until the LLJIT is built. NULL (and a last
/// error) on failure.
// Safe on purpose: LLVM's creator callback type is a safe `extern "C" fn`.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
#[no_mangle]
pub extern "C" fn jitmm_orc_jitlink_layer(
    ctx: *mut c_void,
    es: LLVMOrcExecutionSessionRef,
    triple: *const c_char,
) -> LLVMOrcObjectLayerRef {
    // SAFETY: LLVM passes the ctx registered with the creator (NULL or a
    // jitmm_config, as documented) and its live execution session.
    unsafe { jitmm_shim_orc_jitlink_layer(&CORE_API, ctx.cast(), es, triple) }
}

/// A new `llvm::jitlink::JITLinkMemoryManager *` (as `void *`), owned by the
/// caller; what `jitmm::createJITLinkMemoryManager` in `jitmm.hpp` wraps.
/// NULL (and a last error) on failure.
///
/// # Safety
/// `config` must be NULL or point to a valid `jitmm_config` (read during the call only).
#[no_mangle]
pub unsafe extern "C" fn jitmm_jitlink_memory_manager_create(
    config: *const jitmm_config,
) -> *mut c_void {
    // SAFETY: `config` is NULL or valid (the caller's promise); the table is
    // 'static.
    unsafe { jitmm_shim_jitlink_memory_manager_create(&CORE_API, config) }
}

extern "C" {
    fn jitmm_shim_gdb_jitlink_plugin_create(
        api: *const CoreApi,
        es: LLVMOrcExecutionSessionRef,
    ) -> *mut c_void;
}

/// A new `llvm::orc::ObjectLinkingLayer::Plugin *` (as `void *`, owned by
/// the caller) registering each linked object with GDB, for a layer whose
/// memory manager is jitmm's (which withdraws the registrations before it
/// frees their memory). NULL (and a last error) on failure.
///
/// # Safety
/// `es` must be NULL or a live `ExecutionSession` that outlives the plugin.
#[no_mangle]
pub unsafe extern "C" fn jitmm_gdb_jitlink_plugin_create(
    es: LLVMOrcExecutionSessionRef,
) -> *mut c_void {
    // SAFETY: `es` is NULL (rejected by the shim) or live (the caller's
    // promise); the table is 'static.
    unsafe { jitmm_shim_gdb_jitlink_plugin_create(&CORE_API, es) }
}
