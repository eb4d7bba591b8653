//! The Rust core and the core half of the C boundary, without LLVM: what
//! the cross-architecture runs build for every target.

#[path = "../common/mod.rs"]
mod common;

mod c_boundary;
mod fork;
mod layers;
mod model;
mod objects;
mod perf_map;
mod stale_code;
