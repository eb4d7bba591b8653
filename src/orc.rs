//! ORC helpers: the target machine the jitmm object layers expect.
//!
//! Once an object layer is supplied through
//! `LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator`, LLJIT no longer picks
//! the relocation model and code model its default JITLink setup would. The
//! jitmm layers want position-independent code and the small code model
//! (every section of an arena is within its relocation range); these build
//! such a machine for the host.

use std::ffi::{c_char, c_void, CStr};
use std::ptr;

use crate::error::{Error, Result};
use crate::ffi::{CoreApi, CORE_API};
use crate::llvm_sys::core::LLVMDisposeMessage;
use crate::llvm_sys::orc2::{
    LLVMOrcExecutionSessionRef, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine,
    LLVMOrcJITTargetMachineBuilderRef, LLVMOrcObjectLayerRef,
};
use crate::llvm_sys::target_machine::{
    LLVMCodeGenOptLevel, LLVMCodeModel, LLVMCreateTargetMachine, LLVMGetDefaultTargetTriple,
    LLVMGetHostCPUFeatures, LLVMGetHostCPUName, LLVMGetTargetFromTriple, LLVMRelocMode,
    LLVMTargetMachineRef,
};

/// The relocation model the jitmm layers expect (`JITMM_RELOC_MODEL` in C):
/// [`relocation_model_for`] the host. PIC, except on the 32-bit targets
/// x86 and ARM, where LLVM's RuntimeDyld links no PIC code and absolute
/// 32-bit relocations reach the whole address space anyway.
pub const RELOC_MODEL: LLVMRelocMode = if cfg!(any(target_arch = "x86", target_arch = "arm")) {
    LLVMRelocMode::LLVMRelocStatic
} else {
    LLVMRelocMode::LLVMRelocPIC
};

/// The relocation model the jitmm layers expect of code for `triple`
/// (an LLVM target triple; [`RELOC_MODEL`] is this for the host).
///
/// Static on 32-bit x86 and 32-bit ARM (`i?86-*`, `arm*-*` but `arm64`,
/// `thumb*-*`), PIC elsewhere. On those targets LLVM (19 and later)
/// resolves no PIC relocations in RuntimeDyld: i386 has no GOT there, and
/// ARM's `resolveARMRelocation` has no case for `R_ARM_GOT_PREL` (globals)
/// or `R_ARM_REL32` (constants); in LLVM's release builds either jumps
/// through its switch's table out of bounds and crashes the process while
/// linking, whatever the memory manager. JITLink's i386 backend has no
/// `R_386_GOT32X` either.
pub fn relocation_model_for(triple: &str) -> LLVMRelocMode {
    let arch = triple.split('-').next().unwrap_or("");
    let x86_32 = matches!(arch.as_bytes(), [b'i', b'3'..=b'6', b'8', b'6']);
    let arm_32 =
        (arch.starts_with("arm") && !arch.starts_with("arm64")) || arch.starts_with("thumb");
    if x86_32 || arm_32 {
        LLVMRelocMode::LLVMRelocStatic
    } else {
        LLVMRelocMode::LLVMRelocPIC
    }
}

/// A host `TargetMachine` (host CPU and features) with [`RELOC_MODEL`] (PIC
/// but on i686 and armv7) and the small code model. The native target must be initialised
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

extern "C" {
    fn jitmm_shim_llvm_orc_jitlink_layer(
        api: *const CoreApi,
        es: LLVMOrcExecutionSessionRef,
    ) -> LLVMOrcObjectLayerRef;
}

/// LLVM's own JITLink layer, to compare jitmm's layers with: an
/// `ObjectLinkingLayer` on `jitlink::InProcessMemoryManager` with in-process
/// EH-frame registration, what LLJIT builds itself where it picks JITLink.
/// LLJIT without a layer links with RuntimeDyld on some targets (i686), so
/// leaving the layer to LLJIT does not compare JITLink there. Same type as
/// [`crate::ffi::jitmm_orc_jitlink_layer`], for
/// `LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator`; `ctx` and `triple` are
/// not used. NULL (and a last error) on failure.
// Safe on purpose: LLVM's creator callback type is a safe `extern "C" fn`.
#[allow(clippy::not_unsafe_ptr_arg_deref)]
pub extern "C" fn llvm_jitlink_layer(
    _ctx: *mut c_void,
    es: LLVMOrcExecutionSessionRef,
    _triple: *const c_char,
) -> LLVMOrcObjectLayerRef {
    // SAFETY: LLVM passes its live execution session (or NULL, which the
    // shim refuses); the table is 'static.
    unsafe { jitmm_shim_llvm_orc_jitlink_layer(&CORE_API, es) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocation_model_by_triple() {
        use LLVMRelocMode::{LLVMRelocPIC as Pic, LLVMRelocStatic as Static};
        for (triple, model) in [
            ("x86_64-pc-linux-gnu", Pic),
            ("i686-pc-linux-gnu", Static),
            ("i386-unknown-linux-gnu", Static),
            ("aarch64-unknown-linux-gnu", Pic),
            ("arm64-apple-darwin", Pic),
            ("armv7-unknown-linux-gnueabihf", Static),
            ("arm-linux-gnueabihf", Static),
            ("thumbv7-unknown-linux-gnueabihf", Static),
            ("powerpc64le-unknown-linux-gnu", Pic),
            ("riscv64-unknown-linux-gnu", Pic),
        ] {
            assert_eq!(relocation_model_for(triple), model, "{triple}");
        }
    }
}
