//! Where every membarrier is refused (and the architecture needs one to
//! publish code to other threads), freed code addresses are never handed
//! out again, and the probe says so. A binary of its own with one test: the
//! refusal must come before the process first registers (at its first
//! probe), and is then fixed for the process.
//!
//! Needs the test-only feature:
//! `cargo test --features fault-injection --test membarrier_refused`.

mod common;

use std::sync::Arc;

use common::*;
use jitmm::test_support::fault::{self, Op};
use jitmm::{Arena, Class, Errno, Object, Strategy};

const ARENA_SIZE: usize = 16 << 20;

#[test]
fn refused_membarrier_quarantines_freed_code() {
    fault::refuse(Op::Membarrier, Errno(libc::EPERM));
    let probe = jitmm::probe();
    let needs_membarrier = !probe.cross_thread_method.starts_with("none needed beyond");
    assert!(!probe.cross_thread_sync, "{probe:?}");
    // Code at an address, finalized, run; returns the address.
    let load = |arena: &Arc<Arena>, value: u16| {
        let mut object = Object::in_arena(arena.clone());
        let text = object.allocate(Class::Code, 16, 16).unwrap();
        let code = return_const(value);
        object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
        let done = object.finalize().unwrap();
        // SAFETY: a complete `fn() -> i32` at the section's executable address.
        assert_eq!(unsafe { call(done.exec_addr(text)) }, i32::from(value));
        done.exec_addr(text) as usize
    };
    for strategy in [Strategy::DualMap, Strategy::Mprotect] {
        let arena = Arena::new(ARENA_SIZE, strategy).unwrap();
        let first = load(&arena, 1);
        let again = load(&arena, 2);
        // Reused at once where publishing needs nothing (x86, s390x,
        // RISC-V); never where it would need the refused membarrier.
        assert_eq!(first == again, !needs_membarrier, "{strategy:?}: {probe:?}");
    }
    fault::disarm();
}
