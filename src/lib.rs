//! # jitmm — the memory manager an LLVM JIT should have had
//!
//! A drop-in replacement for `llvm::SectionMemoryManager` for MCJIT and ORC:
//! code is never writable and executable at once (dual-mapped memfd, or
//! `mprotect` where that is refused), every object is freed on its own,
//! sub-page objects share pages so VMAs stay few, every section lies within
//! branch range of every other, and instruction caches are made coherent for
//! the writing thread and for all others.
//!
//! The core is Rust; a thin C++ shim (`cshim/`) implements LLVM's
//! `RTDyldMemoryManager` on top of it, exposed through a C API
//! (`cshim/jitmm.h`) that [`ffi`] exports.
//!
//! ```no_run
//! use jitmm::{Class, Config, Object};
//!
//! // Hand-written code for the host: `mov eax, 42; ret` on x86-64.
//! let mut object = Object::new(&Config::new())?;
//! let text = object.allocate(Class::Code, 6, 16)?;
//! object.bytes_mut(text).copy_from_slice(&[0xb8, 42, 0, 0, 0, 0xc3]);
//! let code = object.finalize()?;
//! let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(code.exec_addr(text)) };
//! assert_eq!(f(), 42);
//! # Ok::<(), jitmm::Error>(())
//! ```
//!
//! ## With LLVM
//!
//! **MCJIT through inkwell** ([`inkwell::ModuleExt`]): an ordinary inkwell
//! engine whose memory is jitmm's, freed with the engine.
//!
//! ```no_run
//! use inkwell::{context::Context, OptimizationLevel};
//! use jitmm::inkwell::ModuleExt;
//!
//! let context = Context::create();
//! let module = context.create_module("m");
//! let engine = module.create_jitmm_execution_engine(OptimizationLevel::Default)?;
//! # Ok::<(), jitmm::Error>(())
//! ```
//!
//! **ORC LLJIT with RuntimeDyld** ([`ffi::jitmm_orc_rtdyld_layer`]): one
//! manager per object, freed when its `ResourceTracker` is removed. **ORC
//! LLJIT with JITLink**: the same with [`ffi::jitmm_orc_jitlink_layer`].
//! Both want a position-independent, small-code-model target machine
//! ([`orc::pic_small_jit_target_machine_builder`]).
//!
//! ```no_run
//! use jitmm::llvm_sys::orc2::lljit::*;
//!
//! // SAFETY: LLVM's C API; the native target is initialised beforehand.
//! let jit = unsafe {
//!     let builder = LLVMOrcCreateLLJITBuilder();
//!     let jtmb = jitmm::orc::pic_small_jit_target_machine_builder()?;
//!     LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
//!     // NULL: default config; or a `*mut jitmm_config`.
//!     let layer = jitmm::ffi::jitmm_orc_rtdyld_layer; // or jitmm_orc_jitlink_layer
//!     LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator(builder, layer, std::ptr::null_mut());
//!     let mut jit = std::ptr::null_mut();
//!     assert!(LLVMOrcCreateLLJIT(&mut jit, builder).is_null());
//!     jit
//! };
//! # Ok::<(), jitmm::Error>(())
//! ```
//!
//! C and C++ clients use the same managers through `cshim/jitmm.h` and the
//! header-only `cshim/jitmm.hpp` (`jitmm::createRTDyldMemoryManager()`,
//! `jitmm::createJITLinkMemoryManager()`); see the README.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

// The modules form layers, each using only those below it; the order is in
// `tests/core/layers.rs`, which checks it.
pub mod arena;
mod config;
mod error;
pub mod ffi;
mod handles;
mod icache;
mod ledger;
mod object;
mod os;
pub mod perf_map;
mod probe;
mod registry;
mod stats;
mod strategy;
mod sync;
mod target;

#[cfg(feature = "llvm")]
pub mod compat;
#[cfg(feature = "llvm")]
pub mod inkwell;
#[cfg(feature = "llvm")]
pub mod orc;

pub use arena::{Arena, Class};
pub use config::{Config, DEBUGGER_ENV, PERF_MAP_ENV, STRATEGY_ENV};
pub use error::{Errno, Error, Op, Result};
pub use object::{FinalizedObject, Object, Section, SectionId};
pub use os::Prot;
pub use probe::{probe, Probe};
pub use registry::{stats, trim};
pub use stats::Stats;
pub use strategy::Strategy;

/// What tests and the fuzz target reach that users need not: not part of
/// the API, and not stable.
#[doc(hidden)]
pub mod test_support {
    /// The kernel's page size, without probing (see `tests/wx_policy.rs`).
    pub fn page_size() -> usize {
        crate::os::page_size()
    }

    /// The unit the arena hands its reservation to classes in.
    pub const BLOCK_SIZE: usize = crate::arena::BLOCK_SIZE;

    /// Machine code of `extern "C" fn() -> i32 { value }` for this
    /// architecture.
    pub fn return_value(value: u16) -> Vec<u8> {
        crate::icache::return_value(value)
    }

    /// Makes the core's OS calls fail on demand (cargo feature `fault-injection`).
    #[cfg(feature = "fault-injection")]
    pub use crate::os::fault;
}

#[cfg(all(feature = "llvm19", feature = "llvm22"))]
compile_error!(
    "jitmm: the features `llvm19` and `llvm22` exclude each other (one LLVM per process); \
     for LLVM 22 build with `--no-default-features --features llvm22`"
);
#[cfg(all(feature = "llvm", not(any(feature = "llvm19", feature = "llvm22"))))]
compile_error!("jitmm: `llvm` alone selects no LLVM version: enable `llvm19` or `llvm22`");

/// The llvm-sys crate matching the selected LLVM version.
#[cfg(feature = "llvm19")]
pub use llvm_sys_19 as llvm_sys;
/// The llvm-sys crate matching the selected LLVM version.
#[cfg(all(feature = "llvm22", not(feature = "llvm19")))]
pub use llvm_sys_22 as llvm_sys;

/// The major version of the LLVM this build of jitmm is for.
#[cfg(feature = "llvm19")]
pub const LLVM_VERSION_MAJOR: u32 = 19;
/// The major version of the LLVM this build of jitmm is for.
#[cfg(all(feature = "llvm22", not(feature = "llvm19")))]
pub const LLVM_VERSION_MAJOR: u32 = 22;

// Without an LLVM feature the crate is the core alone (arena, strategies,
// icache, stats, the core half of the C API): what cross-architecture test
// runs build where no LLVM for the target is installed.
