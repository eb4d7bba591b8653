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
        // Fill the 8 MiB reservation, then ask for more. (Data fills it:
        // code may not take a block at a multiple of 4 GiB.)
        let a = object.allocate(Class::ReadWrite, 6 << 20, 16).unwrap();
        assert!(matches!(
            object.allocate(Class::Code, 4 << 20, 16),
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

/// libgcc's unwinder skips the unwind info of a function whose address has
/// zero low 32 bits (see `src/arena/blocks.rs`), so no code may lie at a
/// multiple of 4 GiB; read-write data may.
#[cfg(target_pointer_width = "64")]
#[test]
fn no_code_lies_at_a_multiple_of_4_gib() {
    const FOUR_GIB: usize = 1 << 32;
    const ARENA: usize = 1 << 30;
    let block = jitmm::test_support::BLOCK_SIZE;
    for strategy in STRATEGIES {
        // The kernel places reservations next to each other, so one of the
        // first few 1 GiB arenas holds a multiple of 4 GiB. A 256 MiB
        // spacer after each miss keeps the next one from landing in the
        // same place modulo 4 GiB (as DualMap's 1 GiB mirrors would make it).
        let mut misses = Vec::new();
        let (arena, boundary) = loop {
            let arena = Arena::new(ARENA, strategy).unwrap();
            let (start, len) = arena.reservation();
            let boundary = start.next_multiple_of(FOUR_GIB);
            if boundary < start + len {
                break (arena, boundary);
            }
            assert!(misses.len() < 64, "no reservation held a multiple of 4 GiB");
            misses.push(arena);
            misses.push(Arena::new(ARENA / 4, Strategy::Mprotect).unwrap());
        };
        drop(misses);
        let (start, len) = arena.reservation();
        // Code fills the arena below and above the block at the boundary.
        let mut objects = Vec::new();
        for size in [boundary - start, start + len - boundary - block] {
            if size == 0 {
                continue;
            }
            let mut object = Object::in_arena(arena.clone());
            let text = object.allocate(Class::Code, size, 16).unwrap();
            let exec = object.section(text).exec as usize;
            assert!(
                !(exec..exec + size).contains(&boundary),
                "{strategy:?}: code at {exec:#x}..{:#x} covers {boundary:#x}",
                exec + size
            );
            objects.push(object);
        }
        let mut object = Object::in_arena(arena.clone());
        let more = object.allocate(Class::Code, 16, 16);
        assert!(
            matches!(more, Err(Error::ReservationExhausted { .. })),
            "{strategy:?}: code in the block at {boundary:#x}: {more:?}"
        );
        let data = object.allocate(Class::ReadWrite, 4096, 16).unwrap();
        assert_eq!(object.section(data).exec as usize, boundary, "{strategy:?}");
        #[cfg(target_env = "gnu")]
        {
            // Why: the unwinder finds a function 64 bytes past the boundary
            // but not one at it.
            let bytes = object.bytes_mut(data);
            assert!(libgcc::finds_fde(bytes, 64));
            assert!(!libgcc::finds_fde(bytes, 0));
        }
        drop((objects, object));
        assert_eq!(arena.live_bytes(), 0, "{strategy:?}");
    }
}

/// libgcc's registry of unwind info, asked about a made-up function.
#[cfg(all(target_pointer_width = "64", target_env = "gnu"))]
mod libgcc {
    extern "C" {
        fn __register_frame(begin: *const u8);
        fn __deregister_frame(begin: *const u8);
        fn _Unwind_Find_FDE(pc: *const u8, bases: *mut [usize; 3]) -> *const u8;
    }

    /// Writes an `.eh_frame` (a CIE, an FDE for a 16-byte function at
    /// `buf[function..]` with LLVM's `pcrel|sdata4` encoding, the
    /// terminator) at `buf[256..]`, registers it, and asks the unwinder for
    /// the FDE of an address inside the function.
    pub fn finds_fde(buf: &mut [u8], function: usize) -> bool {
        const CIE: [u8; 24] = [
            0x14, 0, 0, 0, // length
            0, 0, 0, 0, // CIE id
            1, b'z', b'R', 0, // version, augmentation
            1, 0x78, 16, // code and data alignment, return register
            1, 0x1b, // augmentation data: FDE pointers are pcrel|sdata4
            0x0c, 7, 8, 0x90, 1, 0, 0, // initial instructions, padding
        ];
        let eh = 256;
        let fde = eh + CIE.len();
        buf[eh..fde].copy_from_slice(&CIE);
        let base = buf.as_ptr() as isize;
        let pc_begin = (function as isize - (fde as isize + 8)) as i32;
        buf[fde..fde + 4].copy_from_slice(&0x14u32.to_ne_bytes());
        buf[fde + 4..fde + 8].copy_from_slice(&(CIE.len() as u32 + 4).to_ne_bytes());
        buf[fde + 8..fde + 12].copy_from_slice(&pc_begin.to_ne_bytes());
        buf[fde + 12..fde + 16].copy_from_slice(&16i32.to_ne_bytes());
        buf[fde + 16..fde + 28].fill(0); // no augmentation data, padding, terminator
        let begin = buf[eh..].as_ptr();
        let mut bases = [0usize; 3];
        // SAFETY: `begin` is a well-formed, terminated `.eh_frame` that
        // stays alive and unchanged until it is deregistered below; the
        // lookup only reads the registered tables.
        unsafe {
            __register_frame(begin);
            let found = !_Unwind_Find_FDE((base + function as isize + 4) as *const u8, &mut bases)
                .is_null();
            __deregister_frame(begin);
            found
        }
    }
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
