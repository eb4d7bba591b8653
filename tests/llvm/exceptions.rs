//! C++ exceptions unwinding through JIT-compiled frames
//! (`tests/cxx/jitlink_lljit_test.cpp`): MCJIT and ORC's RuntimeDyld layer
//! everywhere, ORC's JITLink layer (C++ manager and C layer) where LLVM has a
//! JITLink backend for the target (`cfg(jitlink_backend)`, build.rs).
//! `JITMM_TEST_MEMORY_MANAGER=llvm` runs the same cases on LLVM's own
//! managers, for comparison.

use crate::common::cxx::build_and_run;
use crate::common::llvm::strategies;

#[test]
fn cxx_exceptions_unwind_through_jit_frames() {
    // llvm-config's flags contain -fno-exceptions; the client turns them on.
    // -rdynamic: MCJIT finds the host functions with dlsym.
    // Per strategy: exceptions and threads on both JITLink paths, exceptions
    // on the RuntimeDyld layer and on MCJIT.
    // On LLVM's managers: once, and one JITLink way (both are the same layer).
    let llvm = std::env::var("JITMM_TEST_MEMORY_MANAGER").as_deref() == Ok("llvm");
    let (jitlink, cases) = match (cfg!(jitlink_backend), llvm) {
        (true, false) => ("-DJITMM_TEST_JITLINK=1", 6 * strategies().len()),
        (true, true) => ("-DJITMM_TEST_JITLINK=1", 4),
        (false, false) => ("-DJITMM_TEST_JITLINK=0", 2 * strategies().len()),
        (false, true) => ("-DJITMM_TEST_JITLINK=0", 2),
    };
    let out = build_and_run(
        "jitlink_lljit_test",
        &["-fexceptions", "-rdynamic", jitlink],
    );
    let expected = format!("{cases} passed, 0 failed");
    assert!(out.contains(&expected), "{out}");
}
