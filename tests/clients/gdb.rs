//! GDB's JIT interface: with registration on (`jitmm_config.debugger`,
//! `jitmm::createGDBPlugin`, or `JITMM_GDB=1`), GDB stopped in a host
//! function called from JIT code names the JIT function in its backtrace,
//! on MCJIT, ORC RuntimeDyld and ORC JITLink; with it off, it cannot. And
//! every registration is withdrawn when the code is freed.
//!
//! The program GDB runs is `tests/cxx/gdb_target.cpp`, built against
//! libjitmm.so. Needs `gdb` (Debian package; `scripts/setup.sh` installs it):
//! without it the GDB tests say so and pass without running.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::cxx::build_client;
use inkwell::context::Context;
use inkwell::OptimizationLevel;
use jitmm::inkwell::ModuleExt;
use jitmm::Config;

/// The target program, built once per test binary.
fn target() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cxx/gdb_target.cpp");
        build_client("c++", &source, "--cxxflags", &[])
    })
}

fn gdb_installed() -> bool {
    let found = Command::new("gdb")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        println!("SKIPPED: gdb is not installed (apt-get install gdb; scripts/setup.sh does)");
    }
    found
}

/// Runs the target under `gdb -batch` with a breakpoint on the host function
/// the JIT code calls, and returns what GDB printed.
fn backtrace(backend: &str, registration: &str, env_gdb: bool) -> String {
    let mut command = Command::new("timeout");
    command
        .args(["120", "gdb", "-nx", "-batch"])
        .args(["-iex", "set debuginfod enabled off"])
        .args(["-ex", "break jitmm_gdb_break", "-ex", "run", "-ex", "bt"])
        .arg("--args")
        .arg(target())
        .args([backend, registration])
        .env_remove("JITMM_GDB")
        .env_remove("DEBUGINFOD_URLS");
    if env_gdb {
        command.env("JITMM_GDB", "1");
    }
    let out = command.output().expect("gdb runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("--- gdb, {backend} {registration}:\n{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("#0") && l.contains("jitmm_gdb_break")),
        "gdb did not stop in jitmm_gdb_break ({backend} {registration}):\n{text}"
    );
    text
}

/// Whether a backtrace frame names `function`.
fn names(backtrace: &str, function: &str) -> bool {
    backtrace
        .lines()
        .any(|l| l.starts_with('#') && l.contains(&format!(" {function} ")))
}

/// Whether a backtrace frame names the JIT function.
fn names_probe(backtrace: &str) -> bool {
    names(backtrace, "jitmm_gdb_probe_fn")
}

fn check_backend(backend: &str) {
    if !gdb_installed() {
        return;
    }
    let on = backtrace(backend, "on", false);
    assert!(
        names_probe(&on),
        "{backend}: registration on, but the backtrace does not name jitmm_gdb_probe_fn"
    );
    // The function freed before jitmm_gdb_probe_fn took its addresses.
    assert!(
        !names(&on, "jitmm_gdb_old_fn"),
        "{backend}: a freed function's registration is still in GDB"
    );
    assert!(
        !names_probe(&backtrace(backend, "off", false)),
        "{backend}: registration off, yet the backtrace names jitmm_gdb_probe_fn"
    );
}

#[test]
fn gdb_names_mcjit_functions() {
    check_backend("mcjit");
}

#[test]
fn gdb_names_orc_rtdyld_functions() {
    check_backend("rtdyld");
}

#[test]
fn gdb_names_orc_jitlink_functions() {
    check_backend("jitlink");
}

#[test]
fn gdb_names_functions_of_a_cxx_jitlink_layer_with_the_gdb_plugin() {
    check_backend("jitlink-cxx");
}

#[test]
fn jitmm_gdb_env_turns_registration_on() {
    if !gdb_installed() {
        return;
    }
    assert!(names_probe(&backtrace("jitlink", "off", true)));
    assert!(names_probe(&backtrace("mcjit", "off", true)));
}

/// Without a debugger: GDB's list gains one entry per loaded object with
/// registration on, none with it off, and is back where it was once the
/// code is freed (the target checks this and exits non-zero otherwise);
/// and the second function's code reuses the first one's freed addresses,
/// which the GDB tests rely on.
#[test]
fn registrations_are_withdrawn_when_code_is_freed() {
    for backend in ["mcjit", "rtdyld", "jitlink", "jitlink-cxx"] {
        for registration in ["on", "off"] {
            let out = Command::new(target())
                .args([backend, registration])
                .env_remove("JITMM_GDB")
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            println!("{backend} {registration}: {stdout}");
            assert!(
                out.status.success()
                    && stdout.contains("probe(13) = 42, code at the freed address: yes"),
                "{backend} {registration}: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `struct jit_code_entry` of GDB's JIT interface.
#[repr(C)]
struct JitCodeEntry {
    next: *const JitCodeEntry,
    prev: *const JitCodeEntry,
    symfile: *const u8,
    size: u64,
}

/// `struct jit_descriptor`.
#[repr(C)]
struct JitDescriptor {
    version: u32,
    action: u32,
    relevant: *const JitCodeEntry,
    first: *const JitCodeEntry,
}

extern "C" {
    // libLLVM's; GDB reads it by name.
    static __jit_debug_descriptor: JitDescriptor;
}

/// Entries in this process's GDB registration list.
fn entries() -> usize {
    // SAFETY: no other test of this binary JIT-compiles in this process, so
    // the list does not change while it is walked.
    unsafe {
        let mut n = 0;
        let mut entry = std::ptr::addr_of!(__jit_debug_descriptor)
            .read_volatile()
            .first;
        while !entry.is_null() {
            n += 1;
            entry = (*entry).next;
        }
        n
    }
}

/// The Rust API: an inkwell engine made with `Config::debugger(true)` has
/// its object registered exactly once (LLVM 19's MCJIT adds its own GDB
/// listener too; jitmm makes sure it is not there twice), and withdrawn when
/// the engine goes.
#[test]
fn inkwell_engine_registers_each_object_once() {
    let context = Context::create();
    let before = entries();
    {
        let module = context.create_module("gdb_rust");
        let i32_type = context.i32_type();
        let function = module.add_function("jitmm_gdb_rust_fn", i32_type.fn_type(&[], false), None);
        let builder = context.create_builder();
        builder.position_at_end(context.append_basic_block(function, "entry"));
        builder
            .build_return(Some(&i32_type.const_int(7, false)))
            .unwrap();
        let engine = module
            .create_jitmm_execution_engine_with(
                OptimizationLevel::Default,
                &Config::new().debugger(true),
            )
            .unwrap();
        // SAFETY: the function has this signature.
        let f =
            unsafe { engine.get_function::<unsafe extern "C" fn() -> i32>("jitmm_gdb_rust_fn") }
                .unwrap();
        // SAFETY: calling JIT code of the declared signature.
        assert_eq!(unsafe { f.call() }, 7);
        assert_eq!(entries(), before + 1);
        // The engine goes with the module that owns it.
        drop(engine);
        drop(module);
    }
    assert_eq!(entries(), before);
}
