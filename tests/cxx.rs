//! C and C++ clients: programs built against `cshim/jitmm.h` /
//! `cshim/jitmm.hpp` and `libjitmm.so` (as an outside user would build
//! them), run as child processes.
#![cfg(feature = "llvm")]

mod common;

use std::path::Path;

use common::cxx::{build_and_run, build_client, run_client};

/// Compiles `examples/c_client.c` with the C compiler against libjitmm.so and
/// runs it, as the comment at its top tells users to.
#[test]
fn c_client_example() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/c_client.c");
    let stdout = run_client(&build_client("cc", &source, "--cflags", &[]));
    assert!(stdout.contains("MCJIT:      triple(14) = 42"));
    assert!(stdout.contains("ORC RTDyld: triple(14) = 42"));
    assert!(stdout.contains("after removal: 0 object(s) live"));
}

#[test]
fn rtdyld_memory_manager_interface() {
    let out = build_and_run("memory_manager_test", &[]);
    assert!(out.contains(" 0 failed"));
}
