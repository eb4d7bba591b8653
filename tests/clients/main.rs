//! Programs built on jitmm as its users build them, run as child
//! processes: the C and C++ clients, GDB on JIT code, and the REPL
//! (on its own and with the examples of LLVM's Kaleidoscope tutorial).
#![cfg(feature = "llvm")]

#[path = "../common/mod.rs"]
mod common;

mod cxx;
mod gdb;
mod repl;
mod tutorial;
