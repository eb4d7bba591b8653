//! ORC LLJIT with `jitmm_orc_rtdyld_layer`: one manager per object, freed
//! when its ResourceTracker is removed.

use crate::common::llvm::*;
use crate::common::*;

#[test]
fn modules_calling_each_other_and_the_host() {
    let _g = serial();
    for strategy in strategies() {
        let jit = Lljit::new(Layer::JitmmRtdyld, strategy);
        let tag = format!("orc{strategy:?}");
        let rt = jit.add(&sample_ir(&tag));
        check_sample(|n| jit.fn1(n), &tag);
        assert_in_arena(jit.lookup(&format!("even_{tag}")), strategy);
        // A second module calling into the first and into libc (llabs: i64 on
        // 32-bit targets too, where labs takes a 32-bit long).
        let caller = format!(
            "declare i64 @lookup_{tag}(i64)\ndeclare i64 @llabs(i64)\n\
             define i64 @caller_{tag}(i64 %x) {{\n  %a = call i64 @lookup_{tag}(i64 %x)\n  \
             %n = sub i64 0, %a\n  %b = call i64 @llabs(i64 %n)\n  ret i64 %b\n}}\n"
        );
        let rt2 = jit.add(&caller);
        assert_eq!(jit.fn1(&format!("caller_{tag}"))(2), 30);
        assert_no_wx();
        jit.remove(rt2);
        jit.remove(rt);
    }
}

#[test]
fn thousand_modules_added_and_removed_free_everything() {
    let _g = serial();
    for strategy in strategies() {
        let jit = Lljit::new(Layer::JitmmRtdyld, strategy);
        // Warm up: the arena and LLJIT's own structures are made once.
        let rt = jit.add(&sample_ir(&format!("warm{strategy:?}")));
        jit.fn1(&format!("lookup_warm{strategy:?}"));
        jit.remove(rt);
        let before = jitmm::stats();
        let vmas_before = process_vmas();
        let mut vmas_max = 0;
        let modules = module_count(1000);
        for i in 0..modules {
            let tag = format!("m{i}");
            let rt = jit.add(&sample_ir(&tag));
            assert_eq!(jit.fn1(&format!("lookup_{tag}"))(2), 30);
            if i % 100 == 0 {
                assert_no_wx();
            }
            jit.remove(rt);
            vmas_max = vmas_max.max(process_vmas());
        }
        let after = jitmm::stats();
        println!(
            "{strategy:?}: {modules} modules: objects_live {} -> {}, bytes_live {} -> {}, \
             process VMAs {} -> {} (max {}), jitmm VMAs {}, syscalls {}",
            before.objects_live,
            after.objects_live,
            before.bytes_live(),
            after.bytes_live(),
            vmas_before,
            process_vmas(),
            vmas_max,
            after.vmas,
            after.syscalls() - before.syscalls(),
        );
        assert_eq!(after.objects_live, before.objects_live, "{strategy:?}");
        assert_eq!(after.bytes_live(), before.bytes_live(), "{strategy:?}");
        assert!(after.objects_finalized >= before.objects_finalized + modules as u64);
        assert!(
            vmas_max <= vmas_before + 16,
            "{strategy:?}: VMAs grew to {vmas_max} from {vmas_before}"
        );
    }
}

/// The relocation types LLVM's RuntimeDyld resolves (RuntimeDyldELF.cpp:
/// `resolveARMRelocation`, `resolveX86Relocation`) on the 32-bit targets
/// where jitmm asks for the static model: any other type is a crash (ARM:
/// an out-of-bounds jump through the switch's table in a release build) or
/// a fatal error while linking.
const RTDYLD_RELOCATIONS: &[(&str, &[(u64, &str)])] = &[
    (
        "armv7-unknown-linux-gnueabihf",
        &[
            (0, "R_ARM_NONE"),
            (1, "R_ARM_PC24"),
            (2, "R_ARM_ABS32"),
            (28, "R_ARM_CALL"),
            (29, "R_ARM_JUMP24"),
            (38, "R_ARM_TARGET1"),
            (42, "R_ARM_PREL31"),
            (43, "R_ARM_MOVW_ABS_NC"),
            (44, "R_ARM_MOVT_ABS"),
        ],
    ),
    (
        "i686-unknown-linux-gnu",
        &[(1, "R_386_32"), (2, "R_386_PC32"), (4, "R_386_PLT32")],
    ),
];

/// The relocation types of `ir` compiled for `triple` with the relocation
/// model jitmm expects there and the small code model.
fn relocation_types(triple: &str, ir: &str) -> Vec<u64> {
    use jitmm::llvm_sys::core::*;
    use jitmm::llvm_sys::object::*;
    use jitmm::llvm_sys::target::*;
    use jitmm::llvm_sys::target_machine::*;
    use std::ffi::{CStr, CString};
    use std::ptr;

    let c_triple = CString::new(triple).unwrap();
    let mut types = Vec::new();
    // SAFETY: LLVM's C API on objects created here and disposed once: the
    // binary borrows the buffer, the iterators the binary.
    unsafe {
        LLVMInitializeARMTargetInfo();
        LLVMInitializeARMTarget();
        LLVMInitializeARMTargetMC();
        LLVMInitializeARMAsmPrinter();
        LLVMInitializeX86TargetInfo();
        LLVMInitializeX86Target();
        LLVMInitializeX86TargetMC();
        LLVMInitializeX86AsmPrinter();
        let mut target = ptr::null_mut();
        let mut message = ptr::null_mut();
        if LLVMGetTargetFromTriple(c_triple.as_ptr(), &mut target, &mut message) != 0 {
            panic!("{triple}: {}", CStr::from_ptr(message).to_string_lossy());
        }
        let machine = LLVMCreateTargetMachine(
            target,
            c_triple.as_ptr(),
            c"generic".as_ptr(),
            c"".as_ptr(),
            LLVMCodeGenOptLevel::LLVMCodeGenLevelDefault,
            jitmm::orc::relocation_model_for(triple),
            LLVMCodeModel::LLVMCodeModelSmall,
        );
        assert!(!machine.is_null(), "{triple}: no target machine");
        let buffer = compile(machine, ir);
        let binary = LLVMCreateBinary(buffer, ptr::null_mut(), &mut message);
        assert!(!binary.is_null(), "{triple}: not an object file");
        let sections = LLVMObjectFileCopySectionIterator(binary);
        while LLVMObjectFileIsSectionIteratorAtEnd(binary, sections) == 0 {
            let relocations = LLVMGetRelocations(sections);
            while LLVMIsRelocationIteratorAtEnd(sections, relocations) == 0 {
                types.push(LLVMGetRelocationType(relocations));
                LLVMMoveToNextRelocation(relocations);
            }
            LLVMDisposeRelocationIterator(relocations);
            LLVMMoveToNextSection(sections);
        }
        LLVMDisposeSectionIterator(sections);
        LLVMDisposeBinary(binary);
        LLVMDisposeMemoryBuffer(buffer);
        LLVMDisposeTargetMachine(machine);
    }
    types
}

/// Whatever the host: the code the jitmm layers expect on 32-bit ARM and
/// x86 (globals, a constant table, calls between functions and out to
/// libc, unwind tables) uses only relocations RuntimeDyld resolves there.
/// With PIC on ARM, globals come through `R_ARM_GOT_PREL` and constants
/// through `R_ARM_REL32`, and linking such an object crashed the process
/// (with any memory manager).
#[test]
fn relocation_model_on_32_bit_targets_links_with_rtdyld() {
    let ir = format!(
        "{}\ndeclare i64 @llabs(i64)\n\
         define i64 @caller(i64 %x) {{\n  %a = call i64 @lookup_r(i64 %x)\n  \
         %b = call i64 @llabs(i64 %a)\n  ret i64 %b\n}}\n",
        sample_ir("r")
    );
    for (triple, supported) in RTDYLD_RELOCATIONS {
        let types = relocation_types(triple, &ir);
        assert!(!types.is_empty(), "{triple}: no relocations");
        let unsupported: Vec<u64> = types
            .into_iter()
            .filter(|t| !supported.iter().any(|(s, _)| s == t))
            .collect();
        assert!(
            unsupported.is_empty(),
            "{triple} with {:?}: relocation types {unsupported:?} are none of RuntimeDyld's {supported:?}",
            jitmm::orc::relocation_model_for(triple)
        );
    }
}

/// `jitmm::orc::RELOC_MODEL` is `relocation_model_for` the host.
#[test]
fn reloc_model_is_the_hosts() {
    init();
    // SAFETY: the default triple is LLVM's string, disposed once.
    let triple = unsafe {
        let t = jitmm::llvm_sys::target_machine::LLVMGetDefaultTargetTriple();
        let s = std::ffi::CStr::from_ptr(t).to_string_lossy().into_owned();
        jitmm::llvm_sys::core::LLVMDisposeMessage(t);
        s
    };
    assert_eq!(
        jitmm::orc::RELOC_MODEL,
        jitmm::orc::relocation_model_for(&triple),
        "{triple}"
    );
}

/// What the session's error reporter was given (see `pic_on_arm_...`).
#[cfg(target_arch = "arm")]
static REPORTED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[cfg(target_arch = "arm")]
extern "C" fn report(_ctx: *mut std::ffi::c_void, err: jitmm::llvm_sys::error::LLVMErrorRef) {
    use jitmm::llvm_sys::error::*;
    // SAFETY: the session hands over its error, consumed here.
    let message = unsafe {
        let m = LLVMGetErrorMessage(err);
        let s = std::ffi::CStr::from_ptr(m).to_string_lossy().into_owned();
        LLVMDisposeErrorMessage(m);
        s
    };
    REPORTED.lock().unwrap().push(message);
}

/// 32-bit ARM: PIC code, against the model jitmm expects there, fails to
/// link on the jitmm RuntimeDyld layer with an error naming the relocation
/// RuntimeDyld has no case for, where RuntimeDyld itself crashed the process.
#[cfg(target_arch = "arm")]
#[test]
fn pic_on_arm_fails_to_link_with_an_error() {
    use jitmm::llvm_sys::core::LLVMDisposeMessage;
    use jitmm::llvm_sys::orc2::lljit::LLVMOrcLLJITGetExecutionSession;
    use jitmm::llvm_sys::orc2::*;
    use jitmm::llvm_sys::target_machine::*;
    use std::ptr;

    let _g = serial();
    for strategy in strategies() {
        init();
        // SAFETY: a target machine for the default triple, handed to the
        // builder (which owns it); LLVM's strings disposed once.
        let jtmb = unsafe {
            let triple = LLVMGetDefaultTargetTriple();
            let mut target = ptr::null_mut();
            let mut message = ptr::null_mut();
            assert_eq!(
                LLVMGetTargetFromTriple(triple, &mut target, &mut message),
                0
            );
            let machine = LLVMCreateTargetMachine(
                target,
                triple,
                c"generic".as_ptr(),
                c"".as_ptr(),
                LLVMCodeGenOptLevel::LLVMCodeGenLevelDefault,
                LLVMRelocMode::LLVMRelocPIC,
                LLVMCodeModel::LLVMCodeModelSmall,
            );
            LLVMDisposeMessage(triple);
            assert!(!machine.is_null());
            LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(machine)
        };
        let jit = Lljit::with_machine(Layer::JitmmRtdyld, strategy, jtmb);
        REPORTED.lock().unwrap().clear();
        // SAFETY: the LLJIT's live session; the reporter is a plain function.
        unsafe {
            LLVMOrcExecutionSessionSetErrorReporter(
                LLVMOrcLLJITGetExecutionSession(jit.jit),
                report,
                ptr::null_mut(),
            )
        };
        let tag = format!("pic{strategy:?}");
        let rt = jit.add(&sample_ir(&tag));
        let err = jit.try_lookup(&format!("bump_{tag}")).unwrap_err();
        assert!(err.contains("Failed to materialize"), "{strategy:?}: {err}");
        let reported = REPORTED.lock().unwrap().join("\n");
        assert!(
            reported.contains("R_ARM_GOT_PREL") || reported.contains("R_ARM_REL32"),
            "{strategy:?}: {reported}"
        );
        jit.remove(rt);
    }
}
