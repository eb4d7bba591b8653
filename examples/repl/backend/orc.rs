//! ORC LLJIT through LLVM's C API: one resource tracker per module, so
//! removing the tracker frees exactly that module's code.

use std::collections::HashMap;
use std::ffi::{c_void, CStr, CString};
use std::ptr;

use inkwell::module::Module;
use jitmm::llvm_sys::bit_reader::LLVMParseBitcodeInContext2;
use jitmm::llvm_sys::error::*;
use jitmm::llvm_sys::orc2::ee::LLVMOrcCreateRTDyldObjectLinkingLayerWithSectionMemoryManager;
use jitmm::llvm_sys::orc2::lljit::*;
use jitmm::llvm_sys::orc2::*;

use super::{host, Backend, Handle, MemoryManager};

/// The object linker under LLJIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrcLinker {
    RuntimeDyld,
    JitLink,
}

pub struct Orc {
    jit: LLVMOrcLLJITRef,
    trackers: HashMap<Handle, LLVMOrcResourceTrackerRef>,
    next: Handle,
}

fn take(err: LLVMErrorRef) -> Result<(), String> {
    if err.is_null() {
        return Ok(());
    }
    // SAFETY: an error returned by LLVM, consumed here.
    unsafe {
        let message = LLVMGetErrorMessage(err);
        let text = CStr::from_ptr(message).to_string_lossy().into_owned();
        LLVMDisposeErrorMessage(message);
        Err(text)
    }
}

impl Orc {
    pub fn new(linker: OrcLinker, memory: MemoryManager) -> Result<Orc, String> {
        // SAFETY: LLJIT construction through the C API; the builder is
        // consumed by LLVMOrcCreateLLJIT.
        unsafe {
            let builder = LLVMOrcCreateLLJITBuilder();
            // The jitmm layers expect jitmm::orc::RELOC_MODEL (PIC but on
            // 32-bit x86 and ARM) and the small code model, which
            // LLJIT does not choose itself once a layer is supplied.
            let machine =
                jitmm::orc::pic_small_jit_target_machine_builder().map_err(|e| e.to_string())?;
            LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, machine);
            let creator: Option<LLVMOrcLLJITBuilderObjectLinkingLayerCreatorFunction> =
                match (memory, linker) {
                    (MemoryManager::Jitmm, OrcLinker::RuntimeDyld) => {
                        Some(jitmm::ffi::jitmm_orc_rtdyld_layer)
                    }
                    (MemoryManager::Jitmm, OrcLinker::JitLink) => {
                        Some(jitmm::ffi::jitmm_orc_jitlink_layer)
                    }
                    (MemoryManager::Llvm, OrcLinker::RuntimeDyld) => Some(llvm_rtdyld_layer),
                    // Not LLJIT's default: that is RuntimeDyld on some
                    // targets (i686).
                    (MemoryManager::Llvm, OrcLinker::JitLink) => {
                        Some(jitmm::orc::llvm_jitlink_layer)
                    }
                };
            if let Some(creator) = creator {
                LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator(builder, creator, ptr::null_mut());
            }
            let mut jit = ptr::null_mut();
            take(LLVMOrcCreateLLJIT(&mut jit, builder))?;
            let orc = Orc {
                jit,
                trackers: HashMap::new(),
                next: 0,
            };
            let dylib = LLVMOrcLLJITGetMainJITDylib(jit);
            let mut generator = ptr::null_mut();
            take(LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
                &mut generator,
                LLVMOrcLLJITGetGlobalPrefix(jit),
                None,
                ptr::null_mut(),
            ))?;
            LLVMOrcJITDylibAddGenerator(dylib, generator);
            let mut symbols: Vec<LLVMOrcCSymbolMapPair> = host::functions()
                .iter()
                .map(|&(name, _, addr)| {
                    let name = CString::new(name).expect("no NUL");
                    LLVMOrcCSymbolMapPair {
                        Name: LLVMOrcLLJITMangleAndIntern(jit, name.as_ptr()),
                        Sym: LLVMJITEvaluatedSymbol {
                            Address: addr as u64,
                            Flags: LLVMJITSymbolFlags {
                                GenericFlags: LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsExported
                                    as u8
                                    | LLVMJITSymbolGenericFlags::LLVMJITSymbolGenericFlagsCallable
                                        as u8,
                                TargetFlags: 0,
                            },
                        },
                    }
                })
                .collect();
            let unit = LLVMOrcAbsoluteSymbols(symbols.as_mut_ptr(), symbols.len());
            take(LLVMOrcJITDylibDefine(dylib, unit))?;
            Ok(orc)
        }
    }
}

/// LLVM's default RTDyld layer on SectionMemoryManager, for comparison
/// (the C API's own constructor).
extern "C" fn llvm_rtdyld_layer(
    _ctx: *mut c_void,
    es: LLVMOrcExecutionSessionRef,
    _triple: *const std::ffi::c_char,
) -> LLVMOrcObjectLayerRef {
    // SAFETY: LLVM passes its live execution session.
    unsafe { LLVMOrcCreateRTDyldObjectLinkingLayerWithSectionMemoryManager(es) }
}

impl Backend for Orc {
    fn load(&mut self, module: Module<'_>, _imports: &[(String, usize)]) -> Result<Handle, String> {
        // LLJIT needs the module in a thread-safe context of its own: move
        // it there as bitcode.
        let bitcode = module.write_bitcode_to_memory();
        // SAFETY: the buffer outlives the parse; the parsed module is handed
        // to LLJIT with its context.
        unsafe {
            let (tsc, ctx) = jitmm::compat::thread_safe_context();
            let mut parsed = ptr::null_mut();
            if LLVMParseBitcodeInContext2(ctx, bitcode.as_mut_ptr(), &mut parsed) != 0 {
                LLVMOrcDisposeThreadSafeContext(tsc);
                return Err("LLVM: cannot re-read the module's bitcode".into());
            }
            let tsm = LLVMOrcCreateNewThreadSafeModule(parsed, tsc);
            LLVMOrcDisposeThreadSafeContext(tsc);
            let dylib = LLVMOrcLLJITGetMainJITDylib(self.jit);
            let tracker = LLVMOrcJITDylibCreateResourceTracker(dylib);
            if let Err(e) = take(LLVMOrcLLJITAddLLVMIRModuleWithRT(self.jit, tracker, tsm)) {
                LLVMOrcReleaseResourceTracker(tracker);
                return Err(e);
            }
            let handle = self.next;
            self.next += 1;
            self.trackers.insert(handle, tracker);
            Ok(handle)
        }
    }

    fn address(&mut self, _handle: Handle, name: &str) -> Result<usize, String> {
        let name = CString::new(name).map_err(|e| e.to_string())?;
        let mut address = 0;
        // SAFETY: a live LLJIT; the lookup materialises and finalizes the code.
        take(unsafe { LLVMOrcLLJITLookup(self.jit, &mut address, name.as_ptr()) })?;
        Ok(address as usize)
    }

    fn unload(&mut self, handle: Handle) {
        if let Some(tracker) = self.trackers.remove(&handle) {
            // SAFETY: a tracker made in `load`, removed and released once.
            unsafe {
                let _ = take(LLVMOrcResourceTrackerRemove(tracker));
                LLVMOrcReleaseResourceTracker(tracker);
            }
        }
    }
}

impl Drop for Orc {
    fn drop(&mut self) {
        for handle in self.trackers.keys().copied().collect::<Vec<_>>() {
            self.unload(handle);
        }
        // SAFETY: disposing the LLJIT once, after its trackers.
        let _ = take(unsafe { LLVMOrcDisposeLLJIT(self.jit) });
    }
}
