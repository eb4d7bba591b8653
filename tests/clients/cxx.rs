//! C and C++ clients: programs built against `cshim/jitmm.h` /
//! `cshim/jitmm.hpp` and `libjitmm.so` (as an outside user would build
//! them), run as child processes.

use std::path::Path;

use crate::common::cxx::{build_and_run, build_client, build_with_pkg_config, run_client};

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

/// `examples/c_client.c` built with nothing but
/// `pkg-config --cflags --libs jitmm` (libjitmm.so) and
/// `pkg-config --cflags --libs jitmm-static` (libjitmm.a), as the README
/// shows, and run.
#[test]
fn c_client_via_pkg_config() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/c_client.c");
    for package in ["jitmm", "jitmm-static"] {
        let exe = build_with_pkg_config("cc", &source, package);
        let stdout = run_client(&exe);
        assert!(stdout.contains("MCJIT:      triple(14) = 42"), "{package}");
        assert!(stdout.contains("ORC RTDyld: triple(14) = 42"), "{package}");
        assert!(
            stdout.contains("after removal: 0 object(s) live"),
            "{package}"
        );
    }
}

/// Compiles `examples/cpp_client.cpp` (the C++ API: MCJIT through
/// EngineBuilder, ORC through an ObjectLinkingLayer on jitmm's
/// JITLinkMemoryManager) against libjitmm.so and runs it.
#[test]
fn cpp_client_example() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cpp_client.cpp");
    let stdout = run_client(&build_client("c++", &source, "--cxxflags", &[]));
    assert!(stdout.contains("MCJIT:       triple(14) = 42"));
    if cfg!(jitlink_backend) {
        assert!(stdout.contains("ORC JITLink: triple(14) = 42"));
        assert!(stdout.contains("after removal: 0 object(s) live"));
    } else {
        assert!(stdout.contains("ORC JITLink: no JITLink backend for this architecture"));
    }
    assert!(stdout.trim_end().ends_with("ok"));
}

#[test]
fn rtdyld_memory_manager_interface() {
    let out = build_and_run("memory_manager_test", &[]);
    assert!(out.contains(" 0 failed"));
}
