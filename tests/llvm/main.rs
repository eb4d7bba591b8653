//! The LLVM linkers on jitmm, in this process: MCJIT and ORC (RuntimeDyld,
//! JITLink) through LLVM's C API, inkwell and the perf map. (Strict W^X
//! policies have a binary of their own, `tests/wx_policy.rs`: its children
//! probe under their policy, so the process they fork from must never have
//! used jitmm.)
#![cfg(feature = "llvm")]

#[path = "../common/mod.rs"]
mod common;

mod branch_range;
mod exceptions;
mod inkwell;
mod mcjit;
// LLVM 19 has no JITLink backend for s390x or MIPS (build.rs).
#[cfg(jitlink_backend)]
mod orc_jitlink;
mod orc_rtdyld;
mod perf_map;
