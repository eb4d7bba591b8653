//! The Rust core on its own: allocate, write code, finalize, call, free —
//! under each strategy, with protections checked by real page faults.

use crate::common::*;
use jitmm::{Arena, Class, Config, Error, Object, Strategy};

const STRATEGIES: [Strategy; 2] = [Strategy::DualMap, Strategy::Mprotect];

fn config(strategy: Strategy) -> Config {
    Config::new().strategy(strategy)
}

#[test]
fn code_runs_and_is_patched_by_a_new_object() {
    for strategy in STRATEGIES {
        let mut object = Object::new(&config(strategy)).unwrap();
        let text = object.allocate(Class::Code, 16, 16).unwrap();
        let code = return_const(42);
        object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
        let done = object.finalize().unwrap();
        assert_no_wx();
        // SAFETY: the section holds a complete `fn() -> i32`.
        assert_eq!(unsafe { call(done.exec_addr(text)) }, 42, "{strategy:?}");
        drop(done);

        let mut object = Object::new(&config(strategy)).unwrap();
        let text = object.allocate(Class::Code, 16, 16).unwrap();
        let code = return_const(7);
        object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
        let done = object.finalize().unwrap();
        // SAFETY: as above.
        assert_eq!(unsafe { call(done.exec_addr(text)) }, 7, "{strategy:?}");
    }
}

#[test]
fn dual_map_executes_at_a_different_address_than_it_writes() {
    let mut object = Object::new(&config(Strategy::DualMap)).unwrap();
    let text = object.allocate(Class::Code, 64, 16).unwrap();
    let data = object.allocate(Class::ReadWrite, 64, 16).unwrap();
    let s = object.section(text);
    assert_ne!(s.rw, s.exec);
    let d = object.section(data);
    assert_eq!(d.rw, d.exec, "read-write data has one view");

    let mut object = Object::new(&config(Strategy::Mprotect)).unwrap();
    let text = object.allocate(Class::Code, 64, 16).unwrap();
    let s = object.section(text);
    assert_eq!(s.rw, s.exec, "Mprotect executes in place");
}

#[test]
fn writing_finalized_code_faults_in_a_child() {
    for strategy in STRATEGIES {
        let mut object = Object::new(&config(strategy)).unwrap();
        let text = object.allocate(Class::Code, 16, 16).unwrap();
        let ro = object.allocate(Class::ReadOnly, 16, 16).unwrap();
        let code = return_const(1);
        object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
        let done = object.finalize().unwrap();
        let exec = done.exec_addr(text) as usize;
        let rodata = done.exec_addr(ro) as usize;
        let sig = signal_in_child(|| {
            // SAFETY: deliberately invalid: must fault.
            unsafe { std::ptr::write_volatile(exec as *mut u8, 0x90) };
        });
        assert!(is_fault(sig), "{strategy:?}: write to code gave {sig:?}");
        let sig = signal_in_child(|| {
            // SAFETY: deliberately invalid: must fault.
            unsafe { std::ptr::write_volatile(rodata as *mut u8, 1) };
        });
        assert!(is_fault(sig), "{strategy:?}: write to rodata gave {sig:?}");
        // The parent is unharmed.
        // SAFETY: the section holds a complete `fn() -> i32`.
        assert_eq!(unsafe { call(done.exec_addr(text)) }, 1);
    }
}

#[test]
fn executing_the_writable_view_faults_in_a_child() {
    let mut object = Object::new(&config(Strategy::DualMap)).unwrap();
    let text = object.allocate(Class::Code, 16, 16).unwrap();
    let code = return_const(3);
    object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
    let rw = object.section(text).rw as usize;
    let done = object.finalize().unwrap();
    let sig = signal_in_child(|| {
        // SAFETY: deliberately invalid: the RW view is not executable.
        unsafe { call(rw as *const u8) };
    });
    assert!(is_fault(sig), "executing RW view gave {sig:?}");
    // SAFETY: the exec view holds the code.
    assert_eq!(unsafe { call(done.exec_addr(text)) }, 3);

    // Under Mprotect, code that is not finalized is not executable.
    let mut object = Object::new(&config(Strategy::Mprotect)).unwrap();
    let text = object.allocate(Class::Code, 16, 16).unwrap();
    object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
    let addr = object.section(text).exec as usize;
    let sig = signal_in_child(|| {
        // SAFETY: deliberately invalid: not yet executable.
        unsafe { call(addr as *const u8) };
    });
    assert!(is_fault(sig), "executing unfinalized code gave {sig:?}");
}

#[test]
fn freed_code_no_longer_runs() {
    for strategy in STRATEGIES {
        let mut object = Object::new(&config(strategy)).unwrap();
        let text = object.allocate(Class::Code, 16, 16).unwrap();
        let code = return_const(5);
        object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
        let done = object.finalize().unwrap();
        let addr = done.exec_addr(text) as usize;
        drop(done);
        let sig = signal_in_child(|| {
            // SAFETY: deliberately invalid: the code was freed.
            unsafe { call(addr as *const u8) };
        });
        assert!(sig.is_some(), "{strategy:?}: freed code still ran");
    }
}

/// 32-bit ARM: freed code traps in Thumb state too. The trap pattern's
/// halfwords are `udf` and a branch to the next `udf` there, where an
/// ARM-only `udf` would decode as an ordinary instruction and a branch back
/// into the neighbouring chunk.
#[cfg(target_arch = "arm")]
#[test]
fn freed_code_traps_in_thumb_state() {
    for strategy in STRATEGIES {
        let mut object = Object::new(&config(strategy)).unwrap();
        let text = object.allocate(Class::Code, 64, 16).unwrap();
        // movs r0, #42; bx lr (Thumb)
        object.bytes_mut(text)[..4].copy_from_slice(&[0x2a, 0x20, 0x70, 0x47]);
        let done = object.finalize().unwrap();
        let thumb = done.exec_addr(text) as usize | 1;
        // SAFETY: a Thumb function just finalized, entered with the Thumb bit.
        let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(thumb) };
        assert_eq!(f(), 42, "{strategy:?}");
        drop(done);
        let sig = signal_in_child(|| {
            // A call that slides on instead of trapping ends here.
            // SAFETY: alarm has no memory-safety preconditions.
            unsafe { libc::alarm(5) };
            // SAFETY: deliberately invalid: the code was freed.
            let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(thumb) };
            f();
        });
        // DualMap traps (`udf`); Mprotect's freed pages are not executable.
        let expected = match strategy {
            Strategy::DualMap => Some(libc::SIGILL),
            _ => Some(libc::SIGSEGV),
        };
        assert_eq!(
            sig, expected,
            "{strategy:?}: a stale Thumb call did not trap"
        );
    }
}

/// x86, i686, s390x: a finalize whose code lies where freed code was
/// serialises the other threads (membarrier), as the Intel SDM asks of
/// cross-modified code; code at a fresh address needs nothing.
#[cfg(any(target_arch = "x86_64", target_arch = "x86", target_arch = "s390x"))]
#[test]
fn reusing_a_code_address_serialises_other_threads() {
    for strategy in STRATEGIES {
        let arena = Arena::new(8 << 20, strategy).unwrap();
        let load = |value| {
            let mut object = Object::in_arena(arena.clone());
            let text = object.allocate(Class::Code, 16, 16).unwrap();
            let code = return_const(value);
            object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
            let done = object.finalize().unwrap();
            done.exec_addr(text) as usize
        };
        let first = load(1);
        let before = jitmm::stats().membarrier_calls;
        let again = load(2);
        assert_eq!(first, again, "{strategy:?}: the freed address is reused");
        assert!(
            jitmm::stats().membarrier_calls > before,
            "{strategy:?}: code reused without serialising other threads"
        );
    }
}

/// A size no reservation can hold that still fits in `usize` (1 TiB on
/// 64-bit targets, 3 GiB on 32-bit ones).
fn beyond_any_reservation() -> usize {
    if cfg!(target_pointer_width = "64") {
        (1u64 << 40) as usize
    } else {
        3 << 30
    }
}

#[test]
fn bad_input_gives_typed_errors_and_leaves_nothing_behind() {
    for strategy in STRATEGIES {
        let arena = Arena::new(8 << 20, strategy).unwrap();
        let page = arena.page_size();
        let mut object = Object::in_arena(arena.clone());
        assert_eq!(object.allocate(Class::Code, 0, 16), Err(Error::ZeroSize));
        assert!(matches!(
            object.allocate(Class::Code, 16, 3),
            Err(Error::BadAlignment { align: 3, .. })
        ));
        assert!(matches!(
            object.allocate(Class::ReadOnly, 16, page * 2),
            Err(Error::BadAlignment { .. })
        ));
        assert!(matches!(
            object.allocate(Class::Code, usize::MAX, 16),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            object.allocate(Class::ReadWrite, beyond_any_reservation(), 16),
            Err(Error::TooLarge { .. })
        ));
        // Fill the 8 MiB reservation, then ask for more.
        let a = object.allocate(Class::Code, 6 << 20, 16).unwrap();
        assert!(matches!(
            object.allocate(Class::ReadWrite, 4 << 20, 16),
            Err(Error::ReservationExhausted { .. })
        ));
        let _ = a;
        drop(object);
        assert_eq!(arena.live_bytes(), 0, "{strategy:?}");
        assert_eq!(arena.live_objects(), 0, "{strategy:?}");
    }
}

#[test]
fn sections_are_aligned_and_disjoint() {
    for strategy in STRATEGIES {
        let mut object = Object::new(&config(strategy)).unwrap();
        let mut ids = Vec::new();
        for (i, class) in Class::ALL.iter().cycle().take(60).enumerate() {
            let align = 1 << (i % 12);
            let size = 1 + (i * 37) % 3000;
            let id = object.allocate(*class, size, align).unwrap();
            let s = object.section(id);
            assert_eq!(s.rw as usize % align, 0);
            assert_eq!(s.exec as usize % align, 0);
            object.bytes_mut(id).fill(i as u8);
            ids.push(id);
        }
        for (i, &id) in ids.iter().enumerate() {
            assert!(
                object.bytes_mut(id).iter().all(|&b| b == i as u8),
                "{strategy:?}: section {i} overwritten"
            );
        }
    }
}

#[test]
fn reservation_stays_within_branch_range() {
    let arena = Arena::for_config(&Config::new()).unwrap();
    let (_, size) = arena.reservation();
    assert!(
        size <= 2 << 30,
        "reservation {size} exceeds ±2 GiB rel32 range"
    );
}

#[test]
fn probe_reports_a_usable_strategy() {
    let p = jitmm::probe();
    assert!(p.page_size >= 4096 && p.page_size.is_power_of_two());
    assert_ne!(p.auto_strategy, Strategy::Auto);
    // Auto takes DualMap wherever it works and runs no stale code (an
    // emulator keeping translations of rewritten code gets Mprotect).
    assert_eq!(
        p.dual_map && !p.dual_map_stale_reuse,
        p.auto_strategy == Strategy::DualMap
    );
    assert!(!p.icache_method.is_empty());
}

/// Pages of `addr..addr + len` resident in memory, from mincore(2): one
/// call per page, each asking about one byte of it, so the kernel writes
/// exactly one status byte. (A single call over the range writes one byte
/// per page of the kernel that runs it: qemu-user with guest pages larger
/// than the host's, 16 KiB on 4 KiB for loongarch64, hands it to the host
/// unchanged, which then writes four bytes per guest page, past the end of
/// a vector sized for the guest's pages.)
fn resident_pages(addr: *const u8, len: usize) -> usize {
    let page = jitmm::test_support::page_size();
    (0..len.div_ceil(page))
        .filter(|i| {
            let mut status = 0u8;
            // SAFETY: a page-aligned address of a live reservation, and one
            // status byte for the one page of a one-byte range.
            let rc = unsafe {
                libc::mincore(
                    addr.wrapping_add(i * page) as *mut libc::c_void,
                    1,
                    &mut status,
                )
            };
            assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
            status & 1 != 0
        })
        .count()
}

/// Freed pages go back to the OS, except those of the last object freed
/// (reloaded at once by JITs that replace an object), until `trim`.
#[test]
fn freed_pages_return_except_the_last_freed_objects() {
    const BIG: usize = 512 << 10;
    for strategy in STRATEGIES {
        let arena = Arena::new(64 << 20, strategy).unwrap();
        let page = arena.page_size();
        let load = |len: usize| {
            let mut object = Object::in_arena(arena.clone());
            let text = object.allocate(Class::Code, len, page).unwrap();
            object.bytes_mut(text).fill(0xc3);
            let done = object.finalize().unwrap();
            (done.exec_addr(text), done)
        };
        let (big, object) = load(BIG);
        drop(object);
        assert_eq!(resident_pages(big, BIG), BIG / page, "{strategy:?}: kept");

        // A small object takes the big one's place, and is freed in turn:
        // now it is the last one freed, and the rest of the big one goes.
        let (small, object) = load(page);
        assert_eq!(small, big, "{strategy:?}: the freed place");
        drop(object);
        assert_eq!(resident_pages(big, BIG), 1, "{strategy:?}: released");

        // One arena, or (the C API's `jitmm_trim`) every arena of the process.
        match strategy {
            Strategy::DualMap => arena.trim(),
            _ => jitmm::trim(),
        }
        assert_eq!(resident_pages(big, BIG), 0, "{strategy:?}: trimmed");
    }
}

/// A freed code section too large to keep resident leaves none of its pages
/// resident, even while other objects keep its span mapped.
#[test]
fn freed_huge_code_sections_leave_nothing_resident() {
    const HUGE: usize = 3 << 20;
    for strategy in STRATEGIES {
        let arena = Arena::new(64 << 20, strategy).unwrap();
        let page = arena.page_size();
        let mut object = Object::in_arena(arena.clone());
        let text = object.allocate(Class::Code, HUGE, page).unwrap();
        object.bytes_mut(text)[..4].fill(0xc3);
        let huge = object.finalize().unwrap();
        let addr = huge.exec_addr(text);
        // A small object in the same span keeps the span mapped.
        let mut object = Object::in_arena(arena.clone());
        let small = object.allocate(Class::Code, 16, 16).unwrap();
        let small = (object.finalize().unwrap(), small);
        assert_eq!(
            small.0.exec_addr(small.1),
            addr.wrapping_add(HUGE),
            "{strategy:?}: placed after the huge section"
        );
        drop(huge);
        assert_eq!(resident_pages(addr, HUGE), 0, "{strategy:?}");
    }
}
