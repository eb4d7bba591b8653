//! inkwell integration.
//!
//! Two ways in:
//!
//! * [`ModuleExt::create_jitmm_execution_engine`] — one call giving a normal
//!   `inkwell::execution_engine::ExecutionEngine` backed by jitmm's full
//!   `RTDyldMemoryManager` (dual mapping, unwind tables, per-engine freeing).
//! * [`MemoryManager`] — an implementation of inkwell's
//!   [`McjitMemoryManager`] for code that stays on inkwell's own
//!   `create_mcjit_execution_engine_with_memory_manager`. That path goes
//!   through LLVM's simple-callback wrapper, which never calls
//!   `notifyObjectLoaded`, so sections must run where they were written:
//!   it always uses [`Strategy::Mprotect`]. Its error messages are handed to
//!   LLVM by inkwell as Rust-allocated strings that LLVM releases with
//!   `free()`; that is only sound while the global allocator is the system
//!   malloc (the default). Prefer the extension trait.
//!
//! ```no_run
//! use inkwell::{context::Context, OptimizationLevel};
//! use jitmm::inkwell::ModuleExt;
//!
//! let context = Context::create();
//! let module = context.create_module("demo");
//! // ... build functions ...
//! let engine = module.create_jitmm_execution_engine(OptimizationLevel::Default)?;
//! # Ok::<(), jitmm::Error>(())
//! ```

use std::ffi::{CStr, CString};
use std::rc::Rc;

use inkwell::execution_engine::{ExecutionEngine, RemoveModuleError};
use inkwell::memory_manager::McjitMemoryManager;
use inkwell::module::Module;
use inkwell::targets::{InitializationConfig, Target};
use inkwell::OptimizationLevel;

use crate::arena::{Arena, Class};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::llvm_sys::core::{
    LLVMDisposeMessage, LLVMGetDataLayoutStr, LLVMGetTarget, LLVMModuleCreateWithNameInContext,
    LLVMSetDataLayout, LLVMSetTarget,
};
use crate::llvm_sys::execution_engine::{
    LLVMCreateMCJITCompilerForModule, LLVMInitializeMCJITCompilerOptions, LLVMLinkInMCJIT,
    LLVMMCJITCompilerOptions,
};
use crate::object::{Batches, ObjectCore};
use crate::strategy::Strategy;

/// Creates MCJIT engines on jitmm for an inkwell [`Module`].
pub trait ModuleExt<'ctx> {
    /// An MCJIT engine for this module on jitmm's default configuration.
    fn create_jitmm_execution_engine(
        &self,
        opt_level: OptimizationLevel,
    ) -> Result<ExecutionEngine<'ctx>>;

    /// An MCJIT engine for this module on a given configuration.
    fn create_jitmm_execution_engine_with(
        &self,
        opt_level: OptimizationLevel,
        config: &Config,
    ) -> Result<ExecutionEngine<'ctx>>;
}

impl<'ctx> ModuleExt<'ctx> for Module<'ctx> {
    fn create_jitmm_execution_engine(
        &self,
        opt_level: OptimizationLevel,
    ) -> Result<ExecutionEngine<'ctx>> {
        self.create_jitmm_execution_engine_with(opt_level, &Config::new())
    }

    fn create_jitmm_execution_engine_with(
        &self,
        opt_level: OptimizationLevel,
        config: &Config,
    ) -> Result<ExecutionEngine<'ctx>> {
        // SAFETY: registers MCJIT with LLVM's engine builder; idempotent.
        unsafe { LLVMLinkInMCJIT() };
        Target::initialize_native(&InitializationConfig::default()).map_err(Error::Llvm)?;
        let manager = crate::ffi::manager_for(config)?;

        // MCJIT takes ownership of the module it is created with, but an
        // inkwell Module disposes itself unless inkwell knows an engine owns
        // it. So the engine is created on an empty anchor module (owned by
        // LLVM alone) and the user's module is added through inkwell, which
        // records the ownership: nothing is freed twice.
        let name = CString::new("jitmm.anchor").expect("no NUL");
        // SAFETY: the context outlives 'ctx; the new module belongs to it.
        let anchor =
            unsafe { LLVMModuleCreateWithNameInContext(name.as_ptr(), self.get_context().raw()) };
        // SAFETY: copying triple and data layout strings between live modules;
        // MCJIT picks its target from the first module.
        unsafe {
            LLVMSetTarget(anchor, LLVMGetTarget(self.as_mut_ptr()));
            LLVMSetDataLayout(anchor, LLVMGetDataLayoutStr(self.as_mut_ptr()));
        }
        let size = std::mem::size_of::<LLVMMCJITCompilerOptions>();
        // SAFETY: zeroed options are then initialised by LLVM.
        let mut options: LLVMMCJITCompilerOptions = unsafe { std::mem::zeroed() };
        // SAFETY: `options` is a valid struct of `size` bytes.
        unsafe { LLVMInitializeMCJITCompilerOptions(&mut options, size) };
        options.OptLevel = opt_level as u32;
        options.MCJMM = manager;
        let mut raw = std::ptr::null_mut();
        let mut message = std::ptr::null_mut();
        // SAFETY: LLVM takes ownership of `anchor` and `manager` whether or
        // not creation succeeds.
        let failed = unsafe {
            LLVMCreateMCJITCompilerForModule(&mut raw, anchor, &mut options, size, &mut message)
        };
        if failed != 0 {
            // SAFETY: on failure LLVM returns an error message we must dispose.
            let text = unsafe { CStr::from_ptr(message) }
                .to_string_lossy()
                .into_owned();
            // SAFETY: as above.
            unsafe { LLVMDisposeMessage(message) };
            return Err(Error::Llvm(text));
        }
        // SAFETY: `raw` is a live MCJIT engine, handed to inkwell's wrapper.
        let engine = unsafe { ExecutionEngine::new(Rc::new(raw), true) };
        // inkwell's add_module does not check ownership before adding, but
        // remove_module does, without touching LLVM when it fails.
        match engine.remove_module(self) {
            Err(RemoveModuleError::ModuleNotOwned) => {}
            _ => {
                return Err(Error::Llvm(
                    "this module already belongs to an execution engine".into(),
                ))
            }
        }
        engine
            .add_module(self)
            .map_err(|()| Error::Llvm("the module could not be added to the engine".into()))?;
        Ok(engine)
    }
}

/// jitmm behind inkwell's [`McjitMemoryManager`] trait (always Mprotect; see
/// the module docs).
#[derive(Debug)]
pub struct MemoryManager {
    arena: std::sync::Arc<Arena>,
    /// The object sections go into now: the first module's own, then one
    /// batched object for every later module (see `Batches::Many`).
    current: Option<ObjectCore>,
    finalized: Vec<ObjectCore>,
}

impl MemoryManager {
    /// A manager in the shared Mprotect arena.
    pub fn new() -> Result<MemoryManager> {
        Self::with_config(&Config::new())
    }

    /// A manager for a config; its strategy is forced to Mprotect.
    pub fn with_config(config: &Config) -> Result<MemoryManager> {
        let config = config.clone().strategy(Strategy::Mprotect);
        Ok(MemoryManager {
            arena: Arena::for_config(&config)?,
            current: None,
            finalized: Vec::new(),
        })
    }

    fn allocate(&mut self, class: Class, size: usize, align: u32) -> *mut u8 {
        let arena = &self.arena;
        let batches = match self.finalized.is_empty() {
            true => Batches::One,
            false => Batches::Many,
        };
        let object = self
            .current
            .get_or_insert_with(|| ObjectCore::with_batches(arena.clone(), batches));
        match object.allocate(class, size.max(1), align as usize) {
            Ok(section) => section.rw,
            Err(_) => std::ptr::null_mut(),
        }
    }
}

impl McjitMemoryManager for MemoryManager {
    fn allocate_code_section(
        &mut self,
        size: libc::uintptr_t,
        alignment: libc::c_uint,
        _section_id: libc::c_uint,
        _section_name: &str,
    ) -> *mut u8 {
        self.allocate(Class::Code, size, alignment)
    }

    fn allocate_data_section(
        &mut self,
        size: libc::uintptr_t,
        alignment: libc::c_uint,
        _section_id: libc::c_uint,
        _section_name: &str,
        is_read_only: bool,
    ) -> *mut u8 {
        let class = if is_read_only {
            Class::ReadOnly
        } else {
            Class::ReadWrite
        };
        self.allocate(class, size, alignment)
    }

    fn finalize_memory(&mut self) -> std::result::Result<(), String> {
        let Some(mut object) = self.current.take() else {
            return Ok(());
        };
        // Under Mprotect, code runs where it was written: mark it mapped.
        object.sections_placed();
        let result = object.finalize().map_err(|e| format!("jitmm: {e}"));
        match self.finalized.is_empty() {
            // The first module's own object (see `allocate`).
            true => self.finalized.push(object),
            // The batched object takes the next modules' sections too.
            false => self.current = Some(object),
        }
        result
    }

    fn destroy(&mut self) {
        self.current = None;
        self.finalized.clear();
    }
}
