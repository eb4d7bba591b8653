//! fork(): the child cannot write the parent's code, does not see code the
//! parent writes later (nor the parent the child's), and keeps JIT-compiling.

use crate::common::*;
use jitmm::{Class, Config, FinalizedObject, Object, SectionId, Strategy};

fn load(strategy: Strategy, value: u16) -> (FinalizedObject, SectionId) {
    let mut object = Object::new(&Config::new().strategy(strategy)).unwrap();
    let text = object.allocate(Class::Code, 16, 16).unwrap();
    let code = return_const(value);
    object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
    (object.finalize().unwrap(), text)
}

fn pipe() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: a valid two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

// Addresses cross the pipe as 8 bytes on every architecture (32-bit ones too).
fn send(fd: i32, value: usize) {
    let bytes = (value as u64).to_ne_bytes();
    // SAFETY: writing a local buffer to our pipe.
    assert_eq!(
        unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) },
        8
    );
}

fn receive(fd: i32) -> usize {
    let mut bytes = [0u8; 8];
    // SAFETY: reading into a local buffer from our pipe.
    let n = unsafe { libc::read(fd, bytes.as_mut_ptr().cast(), 8) };
    assert_eq!(n, 8, "the other process died before answering");
    usize::try_from(u64::from_ne_bytes(bytes)).expect("an address of this process")
}

#[test]
fn parent_and_child_keep_their_code_apart() {
    for strategy in [Strategy::DualMap, Strategy::Mprotect] {
        let (before, before_text) = load(strategy, 1);
        let before_addr = before.exec_addr(before_text) as usize;
        let (to_parent_r, to_parent_w) = pipe();
        let (to_child_r, to_child_w) = pipe();
        // SAFETY: the child runs only jitmm and plain memory operations, then
        // `_exit`s without returning into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: closing the parent's ends in the child.
            unsafe {
                libc::close(to_parent_r);
                libc::close(to_child_w);
            }
            let ok = std::panic::catch_unwind(|| {
                // Code loaded before the fork still runs in the child.
                // SAFETY: a complete `fn() -> i32`.
                assert_eq!(unsafe { call(before_addr as *const u8) }, 1);
                // The child keeps JIT-compiling.
                let (mine, text) = load(strategy, 55);
                let addr = mine.exec_addr(text) as usize;
                // SAFETY: as above.
                assert_eq!(unsafe { call(addr as *const u8) }, 55);
                send(to_parent_w, addr);
                // The parent now loads its own code, maybe at the same address.
                let theirs = receive(to_child_r);
                let parents = return_const(77);
                // SAFETY: reading bytes of mapped code.
                let seen =
                    unsafe { std::slice::from_raw_parts(theirs as *const u8, parents.len()) };
                assert_ne!(seen, &parents[..], "the child sees the parent's new code");
                // SAFETY: our own code is untouched by the parent.
                assert_eq!(unsafe { call(addr as *const u8) }, 55);
            })
            .is_ok();
            // SAFETY: leave the child at once.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        // SAFETY: closing the child's ends, so a dead child gives EOF, not a hang.
        unsafe {
            libc::close(to_parent_w);
            libc::close(to_child_r);
        }
        let child_addr = receive(to_parent_r);
        let (theirs, text) = load(strategy, 77);
        let addr = theirs.exec_addr(text) as usize;
        // SAFETY: a complete `fn() -> i32`.
        assert_eq!(unsafe { call(addr as *const u8) }, 77, "{strategy:?}");
        if addr == child_addr {
            println!("{strategy:?}: parent and child placed code at the same address {addr:#x}");
        }
        send(to_child_w, addr);
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{strategy:?}: child failed (status {status:#x})"
        );
        // SAFETY: parent code unchanged by the child.
        assert_eq!(unsafe { call(before_addr as *const u8) }, 1);
        for fd in [to_parent_r, to_child_w] {
            // SAFETY: closing our own pipe ends.
            unsafe { libc::close(fd) };
        }
    }
}

#[test]
fn child_cannot_write_the_parents_code() {
    for strategy in [Strategy::DualMap, Strategy::Mprotect] {
        let (code, text) = load(strategy, 9);
        let addr = code.exec_addr(text) as usize;
        let sig = signal_in_child(|| {
            // SAFETY: deliberately invalid: must fault.
            unsafe { std::ptr::write_volatile(addr as *mut u8, 0) };
        });
        assert!(is_fault(sig), "{strategy:?}: {sig:?}");
    }
}

/// Forks again and again while other threads allocate, finalize and free
/// through the same arenas (and contend for their locks): every child must
/// be able to JIT at once. A child that hangs on a lock inherited from the
/// parent is killed by its alarm and fails the test.
#[test]
fn children_forked_during_allocation_never_hang() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let strategy = [Strategy::DualMap, Strategy::Mprotect][i % 2];
                while !stop.load(Ordering::Relaxed) {
                    drop(load(strategy, 3));
                }
            })
        })
        .collect();
    for round in 0..200 {
        // SAFETY: the child runs only jitmm and plain memory operations,
        // then `_exit`s without returning into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            // SAFETY: arms SIGALRM, whose default action ends the process.
            unsafe { libc::alarm(10) };
            let ok = std::panic::catch_unwind(|| {
                for strategy in [Strategy::DualMap, Strategy::Mprotect] {
                    let (code, text) = load(strategy, 5);
                    // SAFETY: a complete `fn() -> i32`.
                    assert_eq!(unsafe { call(code.exec_addr(text)) }, 5);
                }
            })
            .is_ok();
            // SAFETY: leave the child at once.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "round {round}: child failed or hung (status {status:#x})"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
}
