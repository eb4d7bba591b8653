//! C++ exceptions unwinding through JIT-compiled frames
//! (`tests/cxx/jitlink_lljit_test.cpp`): MCJIT and ORC's RuntimeDyld layer
//! everywhere, ORC's JITLink layer (C++ manager and C layer) where LLVM has a
//! JITLink backend for the target (`cfg(jitlink_backend)`, build.rs).

use crate::common::cxx::build_and_run;
use crate::common::llvm::strategies;

#[test]
fn cxx_exceptions_unwind_through_jit_frames() {
    // llvm-config's flags contain -fno-exceptions; the client turns them on.
    // -rdynamic: MCJIT finds the host functions with dlsym.
    // Per strategy: exceptions and threads on both JITLink paths, exceptions
    // on the RuntimeDyld layer and on MCJIT.
    let (jitlink, cases) = if cfg!(jitlink_backend) {
        ("-DJITMM_TEST_JITLINK=1", 6)
    } else {
        ("-DJITMM_TEST_JITLINK=0", 2)
    };
    let out = build_and_run(
        "jitlink_lljit_test",
        &["-fexceptions", "-rdynamic", jitlink],
    );
    let expected = format!("{} passed, 0 failed", cases * strategies().len());
    assert!(out.contains(&expected), "{out}");
}
