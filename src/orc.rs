//! ORC helpers: the target machine the jitmm object layers expect.
//!
//! Once an object layer is supplied through
//! `LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator`, LLJIT no longer picks
//! the relocation model and code model its default JITLink setup would. The
//! jitmm layers want position-independent code and the small code model
//! (every section of an arena is within its relocation range); these build
//! such a machine for the host.

use std::ffi::CStr;
use std::ptr;

use crate::error::{Error, Result};
use crate::llvm_sys::core::LLVMDisposeMessage;
use crate::llvm_sys::orc2::{
    LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine, LLVMOrcJITTargetMachineBuilderRef,
};
use crate::llvm_sys::target_machine::{
    LLVMCodeGenOptLevel, LLVMCodeModel, LLVMCreateTargetMachine, LLVMGetDefaultTargetTriple,
    LLVMGetHostCPUFeatures, LLVMGetHostCPUName, LLVMGetTargetFromTriple, LLVMRelocMode,
    LLVMTargetMachineRef,
};

/// The relocation model the jitmm layers expect (`JITMM_RELOC_MODEL` in C):
/// PIC, except on 32-bit x86, where LLVM 19 links no PIC code (RuntimeDyld
/// has no i386 GOT, JITLink no `R_386_GOT32X`) and absolute 32-bit
/// relocations reach the whole address space anyway.
pub const RELOC_MODEL: LLVMRelocMode = if cfg!(target_arch = "x86") {
    LLVMRelocMode::LLVMRelocStatic
} else {
    LLVMRelocMode::LLVMRelocPIC
};

/// A host `TargetMachine` (host CPU and features) with [`RELOC_MODEL`] (PIC
/// but on i686) and the small code model. The native target must be initialised
/// (`LLVM_InitializeNativeTarget`). The caller owns the machine.
pub fn pic_small_target_machine() -> Result<LLVMTargetMachineRef> {
    // SAFETY: target lookup and machine creation through LLVM's C API; every
    // string LLVM returns is disposed once.
    unsafe {
        let triple = LLVMGetDefaultTargetTriple();
        let mut target = ptr::null_mut();
        let mut message = ptr::null_mut();
        if LLVMGetTargetFromTriple(triple, &mut target, &mut message) != 0 {
            let text = CStr::from_ptr(message).to_string_lossy().into_owned();
            LLVMDisposeMessage(message);
            LLVMDisposeMessage(triple);
            return Err(Error::Llvm(text));
        }
        let cpu = LLVMGetHostCPUName();
        let features = LLVMGetHostCPUFeatures();
        let machine = LLVMCreateTargetMachine(
            target,
            triple,
            cpu,
            features,
            LLVMCodeGenOptLevel::LLVMCodeGenLevelDefault,
            RELOC_MODEL,
            LLVMCodeModel::LLVMCodeModelSmall,
        );
        LLVMDisposeMessage(triple);
        LLVMDisposeMessage(cpu);
        LLVMDisposeMessage(features);
        if machine.is_null() {
            return Err(Error::Llvm(
                "cannot create a target machine for the host".into(),
            ));
        }
        Ok(machine)
    }
}

/// A `JITTargetMachineBuilder` for [`pic_small_target_machine`], for
/// `LLVMOrcLLJITBuilderSetJITTargetMachineBuilder` (which takes ownership).
pub fn pic_small_jit_target_machine_builder() -> Result<LLVMOrcJITTargetMachineBuilderRef> {
    let machine = pic_small_target_machine()?;
    // SAFETY: the builder takes ownership of the machine made above.
    Ok(unsafe { LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(machine) })
}
