//! Driving real LLVM JITs through its C API (llvm-sys).
#![allow(dead_code)]

use std::ffi::{CStr, CString};
use std::ptr;
use std::sync::Once;

use jitmm::ffi::jitmm_config;
use jitmm::llvm_sys::core::*;
use jitmm::llvm_sys::error::*;
use jitmm::llvm_sys::execution_engine::*;
use jitmm::llvm_sys::orc2::lljit::*;
use jitmm::llvm_sys::orc2::*;
use jitmm::llvm_sys::prelude::*;
use jitmm::llvm_sys::target::*;
use jitmm::llvm_sys::target_machine::*;
use jitmm::Strategy;

pub fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // SAFETY: LLVM's one-time target initialisation.
        unsafe {
            LLVMLinkInMCJIT();
            assert_eq!(LLVM_InitializeNativeTarget(), 0);
            assert_eq!(LLVM_InitializeNativeAsmPrinter(), 0);
            assert_eq!(LLVM_InitializeNativeAsmParser(), 0);
        }
    });
}

/// The strategies each LLVM test runs its cases under:
/// `JITMM_TEST_STRATEGIES` (comma list of `dualmap`, `mprotect`), both by
/// default — so a run can report each strategy on its own.
pub fn strategies() -> Vec<Strategy> {
    let list = std::env::var("JITMM_TEST_STRATEGIES").unwrap_or_else(|_| "dualmap,mprotect".into());
    list.split(',')
        .map(|name| match name.trim() {
            "dualmap" => Strategy::DualMap,
            "mprotect" => Strategy::Mprotect,
            other => panic!("JITMM_TEST_STRATEGIES: unknown strategy {other:?}"),
        })
        .collect()
}

/// How many modules the add-and-remove tests load: `JITMM_TEST_MODULES`
/// when set (an emulator runs LLVM some 30 times slower), else `default`.
pub fn module_count(default: usize) -> usize {
    std::env::var("JITMM_TEST_MODULES")
        .ok()
        .map(|n| n.parse().expect("JITMM_TEST_MODULES: a number"))
        .unwrap_or(default)
}

pub fn config(strategy: Strategy) -> jitmm_config {
    jitmm_config::from(&jitmm::Config::new().strategy(strategy))
}

/// Parses textual IR into a module of `ctx`.
pub fn parse_ir(ctx: LLVMContextRef, ir: &str) -> LLVMModuleRef {
    let name = CString::new("ir").unwrap();
    // SAFETY: the buffer copies the text; the parse consumes it.
    unsafe {
        let buf =
            LLVMCreateMemoryBufferWithMemoryRangeCopy(ir.as_ptr().cast(), ir.len(), name.as_ptr());
        let mut module = ptr::null_mut();
        let mut err = ptr::null_mut();
        if jitmm::compat::parse_ir_in_context(ctx, buf, &mut module, &mut err) != 0 {
            panic!("bad IR: {}", CStr::from_ptr(err).to_string_lossy());
        }
        module
    }
}

/// Compiles `ir` to a relocatable object for `tm`'s target (one machine per
/// thread: a TargetMachine compiles one module at a time). The caller owns
/// the buffer.
pub fn compile(tm: LLVMTargetMachineRef, ir: &str) -> LLVMMemoryBufferRef {
    // SAFETY: a private context and module, disposed here; the object buffer
    // goes to the caller.
    unsafe {
        let ctx = LLVMContextCreate();
        let module = parse_ir(ctx, ir);
        let triple = LLVMGetTargetMachineTriple(tm);
        LLVMSetTarget(module, triple);
        LLVMDisposeMessage(triple);
        let layout = LLVMCreateTargetDataLayout(tm);
        LLVMSetModuleDataLayout(module, layout);
        LLVMDisposeTargetData(layout);
        let mut buf = ptr::null_mut();
        let mut err = ptr::null_mut();
        if LLVMTargetMachineEmitToMemoryBuffer(
            tm,
            module,
            LLVMCodeGenFileType::LLVMObjectFile,
            &mut err,
            &mut buf,
        ) != 0
        {
            panic!("codegen: {}", CStr::from_ptr(err).to_string_lossy());
        }
        LLVMDisposeModule(module);
        LLVMContextDispose(ctx);
        buf
    }
}

/// An MCJIT engine on a jitmm memory manager; owns its context.
pub struct Mcjit {
    pub ee: LLVMExecutionEngineRef,
    ctx: LLVMContextRef,
}

impl Mcjit {
    pub fn new(ir: &str, strategy: Strategy) -> Mcjit {
        Self::with_config(ir, &config(strategy))
    }

    pub fn with_config(ir: &str, cfg: &jitmm_config) -> Mcjit {
        Self::with_manager(ir, Some(cfg))
    }

    /// MCJIT on a jitmm manager made from `cfg`, or on LLVM's default
    /// (SectionMemoryManager) when `cfg` is `None`.
    pub fn with_manager(ir: &str, cfg: Option<&jitmm_config>) -> Mcjit {
        init();
        // SAFETY: standard MCJIT creation through the C API; the module is
        // handed to the engine, which owns and disposes it.
        unsafe {
            let ctx = LLVMContextCreate();
            let module = parse_ir(ctx, ir);
            let mut opts: LLVMMCJITCompilerOptions = std::mem::zeroed();
            let size = std::mem::size_of::<LLVMMCJITCompilerOptions>();
            LLVMInitializeMCJITCompilerOptions(&mut opts, size);
            if let Some(cfg) = cfg {
                opts.MCJMM = jitmm::ffi::jitmm_mcjit_memory_manager_create_with(cfg);
                assert!(!opts.MCJMM.is_null());
            }
            let mut ee = ptr::null_mut();
            let mut err = ptr::null_mut();
            if LLVMCreateMCJITCompilerForModule(&mut ee, module, &mut opts, size, &mut err) != 0 {
                panic!("MCJIT: {}", CStr::from_ptr(err).to_string_lossy());
            }
            Mcjit { ee, ctx }
        }
    }

    /// Adds a module to the engine (LLVMAddModule), parsed in its context;
    /// the engine compiles it at the next lookup of one of its symbols.
    pub fn add_module(&self, ir: &str) {
        let module = parse_ir(self.ctx, ir);
        // SAFETY: a live engine takes ownership of a module of its context.
        unsafe { LLVMAddModule(self.ee, module) };
    }

    pub fn address(&self, name: &str) -> u64 {
        let name = CString::new(name).unwrap();
        // SAFETY: a live engine; the lookup finalizes the code.
        unsafe { LLVMGetFunctionAddress(self.ee, name.as_ptr()) }
    }

    pub fn fn1(&self, name: &str) -> extern "C" fn(i64) -> i64 {
        let addr = self.address(name);
        assert_ne!(addr, 0, "{name} not found");
        // SAFETY: the IR defines `name` as i64(i64).
        unsafe { std::mem::transmute(addr as usize) }
    }
}

impl Drop for Mcjit {
    fn drop(&mut self) {
        // SAFETY: disposing the engine (and with it the module and the memory
        // manager), then the context it was built in.
        unsafe {
            LLVMDisposeExecutionEngine(self.ee);
            LLVMContextDispose(self.ctx);
        }
    }
}

fn check(err: LLVMErrorRef) {
    if !err.is_null() {
        // SAFETY: an error returned by LLVM, consumed here.
        let msg = unsafe {
            let m = LLVMGetErrorMessage(err);
            let s = CStr::from_ptr(m).to_string_lossy().into_owned();
            LLVMDisposeErrorMessage(m);
            s
        };
        panic!("LLVM error: {msg}");
    }
}

/// Which object layer an LLJIT uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    JitmmRtdyld,
    JitmmJitlink,
    Default,
}

/// An ORC LLJIT; each module added under its own resource tracker.
pub struct Lljit {
    pub jit: LLVMOrcLLJITRef,
    _config: Box<jitmm_config>,
}

/// A host TargetMachine builder with `jitmm::orc::RELOC_MODEL` (PIC but on
/// 32-bit x86 and ARM) and the small code model — what the jitmm layers expect.
pub fn pic_small_jtmb() -> LLVMOrcJITTargetMachineBuilderRef {
    jitmm::orc::pic_small_jit_target_machine_builder().unwrap()
}

impl Lljit {
    pub fn new(layer: Layer, strategy: Strategy) -> Lljit {
        init();
        Self::with_machine(layer, strategy, pic_small_jtmb())
    }

    /// The same on a machine builder of the caller's (consumed).
    pub fn with_machine(
        layer: Layer,
        strategy: Strategy,
        jtmb: LLVMOrcJITTargetMachineBuilderRef,
    ) -> Lljit {
        init();
        let config = Box::new(config(strategy));
        // SAFETY: LLJIT creation through the C API; the builder is consumed.
        unsafe {
            let builder = LLVMOrcCreateLLJITBuilder();
            LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, jtmb);
            let creator: Option<LLVMOrcLLJITBuilderObjectLinkingLayerCreatorFunction> = match layer
            {
                Layer::JitmmRtdyld => Some(jitmm::ffi::jitmm_orc_rtdyld_layer),
                Layer::JitmmJitlink => Some(jitmm::ffi::jitmm_orc_jitlink_layer),
                Layer::Default => None,
            };
            if let Some(creator) = creator {
                LLVMOrcLLJITBuilderSetObjectLinkingLayerCreator(
                    builder,
                    creator,
                    &*config as *const jitmm_config as *mut _,
                );
            }
            let mut jit = ptr::null_mut();
            check(LLVMOrcCreateLLJIT(&mut jit, builder));
            let jd = LLVMOrcLLJITGetMainJITDylib(jit);
            let mut gen = ptr::null_mut();
            check(LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
                &mut gen,
                LLVMOrcLLJITGetGlobalPrefix(jit),
                None,
                ptr::null_mut(),
            ));
            LLVMOrcJITDylibAddGenerator(jd, gen);
            Lljit {
                jit,
                _config: config,
            }
        }
    }

    /// Adds a module under a new resource tracker, returned to the caller.
    pub fn add(&self, ir: &str) -> LLVMOrcResourceTrackerRef {
        // SAFETY: the module is created in the thread-safe context and handed
        // to LLJIT with it.
        unsafe {
            let (tsc, ctx) = jitmm::compat::thread_safe_context();
            let module = parse_ir(ctx, ir);
            let tsm = LLVMOrcCreateNewThreadSafeModule(module, tsc);
            LLVMOrcDisposeThreadSafeContext(tsc);
            let jd = LLVMOrcLLJITGetMainJITDylib(self.jit);
            let rt = LLVMOrcJITDylibCreateResourceTracker(jd);
            check(LLVMOrcLLJITAddLLVMIRModuleWithRT(self.jit, rt, tsm));
            rt
        }
    }

    pub fn lookup(&self, name: &str) -> u64 {
        self.try_lookup(name)
            .unwrap_or_else(|msg| panic!("LLVM error: {msg}"))
    }

    /// A lookup that may fail: LLVM's message then.
    pub fn try_lookup(&self, name: &str) -> Result<u64, String> {
        let name = CString::new(name).unwrap();
        let mut addr = 0;
        // SAFETY: a live LLJIT; lookup materialises and finalizes the code.
        let err = unsafe { LLVMOrcLLJITLookup(self.jit, &mut addr, name.as_ptr()) };
        if err.is_null() {
            return Ok(addr);
        }
        // SAFETY: an error returned by LLVM, consumed here.
        Err(unsafe {
            let m = LLVMGetErrorMessage(err);
            let s = CStr::from_ptr(m).to_string_lossy().into_owned();
            LLVMDisposeErrorMessage(m);
            s
        })
    }

    pub fn fn1(&self, name: &str) -> extern "C" fn(i64) -> i64 {
        let addr = self.lookup(name);
        // SAFETY: the IR defines `name` as i64(i64).
        unsafe { std::mem::transmute(addr as usize) }
    }

    pub fn remove(&self, rt: LLVMOrcResourceTrackerRef) {
        // SAFETY: a tracker returned by `add`, released once.
        unsafe {
            check(LLVMOrcResourceTrackerRemove(rt));
            LLVMOrcReleaseResourceTracker(rt);
        }
    }
}

impl Drop for Lljit {
    fn drop(&mut self) {
        // SAFETY: disposing the LLJIT once.
        check(unsafe { LLVMOrcDisposeLLJIT(self.jit) });
    }
}

/// A module with mutually recursive functions, a constant table and a
/// mutable global, all names suffixed with `tag`.
pub fn sample_ir(tag: &str) -> String {
    format!(
        r#"
@table_{tag} = private unnamed_addr constant [4 x i64] [i64 10, i64 20, i64 30, i64 40]
@counter_{tag} = global i64 0

define i64 @even_{tag}(i64 %n) {{
  %z = icmp eq i64 %n, 0
  br i1 %z, label %yes, label %rec
yes:
  ret i64 1
rec:
  %m = sub i64 %n, 1
  %r = call i64 @odd_{tag}(i64 %m)
  ret i64 %r
}}

define i64 @odd_{tag}(i64 %n) {{
  %z = icmp eq i64 %n, 0
  br i1 %z, label %no, label %rec
no:
  ret i64 0
rec:
  %m = sub i64 %n, 1
  %r = call i64 @even_{tag}(i64 %m)
  ret i64 %r
}}

define i64 @lookup_{tag}(i64 %i) {{
  %p = getelementptr [4 x i64], ptr @table_{tag}, i64 0, i64 %i
  %v = load i64, ptr %p
  ret i64 %v
}}

define i64 @bump_{tag}(i64 %by) {{
  %c = load i64, ptr @counter_{tag}
  %n = add i64 %c, %by
  store i64 %n, ptr @counter_{tag}
  ret i64 %n
}}
"#
    )
}

/// A small module: `f{id}(x)` adds entry `x & 3` of a read-only table
/// (1, 2, 3, id) to a global that starts at `id`, stores and returns the sum.
pub fn small_module_ir(id: usize) -> String {
    format!(
        r#"
@g{id} = global i64 {id}
@t{id} = private unnamed_addr constant [4 x i64] [i64 1, i64 2, i64 3, i64 {id}]
define i64 @f{id}(i64 %x) {{
  %i = and i64 %x, 3
  %p = getelementptr [4 x i64], ptr @t{id}, i64 0, i64 %i
  %v = load i64, ptr %p
  %c = load i64, ptr @g{id}
  %s = add i64 %v, %c
  store i64 %s, ptr @g{id}
  ret i64 %s
}}
"#
    )
}

/// Asserts that `addr` lies in the reservation of the shared arena of `strategy`.
pub fn assert_in_arena(addr: u64, strategy: Strategy) {
    let arena = jitmm::Arena::for_config(&jitmm::Config::new().strategy(strategy)).unwrap();
    let (base, size) = arena.reservation();
    let addr = addr as usize;
    assert!(
        addr >= base && addr < base + size,
        "{addr:#x} is not in jitmm's {strategy:?} arena {base:#x}+{size:#x}"
    );
}

/// Checks the functions of `sample_ir(tag)` through a lookup function.
pub fn check_sample(lookup: impl Fn(&str) -> extern "C" fn(i64) -> i64, tag: &str) {
    let even = lookup(&format!("even_{tag}"));
    let odd = lookup(&format!("odd_{tag}"));
    assert_eq!(even(10), 1);
    assert_eq!(even(7), 0);
    assert_eq!(odd(7), 1);
    let table = lookup(&format!("lookup_{tag}"));
    assert_eq!(table(0) + table(3), 50);
    let bump = lookup(&format!("bump_{tag}"));
    assert_eq!(bump(5), 5);
    assert_eq!(bump(2), 7);
}
