//! C++ exceptions unwinding through JIT-compiled frames
//! (`tests/cxx/jitlink_lljit_test.cpp`): MCJIT and ORC's RuntimeDyld layer
//! everywhere, ORC's JITLink layer (C++ manager and C layer) where LLVM has a
//! JITLink backend for the target (`cfg(jitlink_backend)`, build.rs).

use crate::common::cxx::build_and_run;

#[test]
fn cxx_exceptions_unwind_through_jit_frames() {
    // llvm-config's flags contain -fno-exceptions; the client turns them on.
    // -rdynamic: MCJIT finds the host functions with dlsym.
    let (jitlink, expected) = if cfg!(jitlink_backend) {
        ("-DJITMM_TEST_JITLINK=1", "12 passed, 0 failed")
    } else {
        ("-DJITMM_TEST_JITLINK=0", "4 passed, 0 failed")
    };
    let out = build_and_run("jitlink_lljit_test", &["-fexceptions", "-rdynamic", jitlink]);
    assert!(out.contains(expected), "{out}");
}
