//! GDB's JIT interface: with registration on (`jitmm_config.debugger`,
//! `jitmm::createGDBPlugin`, or `JITMM_GDB=1`), GDB stopped in a host
//! function called from JIT code names the JIT function in its backtrace,
//! on MCJIT, ORC RuntimeDyld and ORC JITLink; with it off, it cannot. And
//! every registration is withdrawn when the code is freed.
//!
//! The program GDB runs is `tests/cxx/gdb_target.cpp`, built against
//! libjitmm.so. Needs `gdb` (Debian package; `scripts/setup.sh` installs it):
//! without it the GDB tests say so and pass without running.
#![cfg(feature = "llvm19")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::cxx::{build_client, run_client};

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

/// Whether a backtrace frame other than #0 names the JIT function.
fn names_probe(backtrace: &str) -> bool {
    backtrace
        .lines()
        .any(|l| l.starts_with('#') && !l.starts_with("#0") && l.contains(" jitmm_gdb_probe_fn "))
}

fn check_backend(backend: &str) {
    if !gdb_installed() {
        return;
    }
    assert!(
        names_probe(&backtrace(backend, "on", false)),
        "{backend}: registration on, but the backtrace does not name jitmm_gdb_probe_fn"
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
/// code is freed (the target checks this and exits non-zero otherwise).
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
                out.status.success() && stdout.contains("probe(13) = 42"),
                "{backend} {registration}: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let _ = run_client;
}
