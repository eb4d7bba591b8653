//! Valgrind keeps translations of the code it has run, keyed by address,
//! and notices new code only when a mapping changes or code is written
//! through the address it runs at. Code written through DualMap's second
//! (writable) view at an address whose old code it has already translated
//! would run stale. [`discard_translations`] tells it to drop them — the
//! `VALGRIND_DISCARD_TRANSLATIONS` client request of `valgrind.h`, issued
//! with every instruction-cache flush.
//!
//! A client request is a magic instruction sequence that does nothing
//! outside valgrind (the four rotations of `rdi` add up to 128 bits, and
//! `xchg rbx, rbx` leaves `rbx` alone), so it is issued unconditionally.
//! Written here for x86-64, copied from `valgrind.h` (valgrind 3.x, whose
//! sequence is a stable ABI); on other architectures this is a no-op.

/// `VG_USERREQ__DISCARD_TRANSLATIONS` of `valgrind.h`'s `Vg_ClientRequest`.
#[cfg(target_arch = "x86_64")]
const DISCARD_TRANSLATIONS: usize = 0x1002;

/// Makes valgrind (when the process runs under it) forget its translations
/// of `[exec, exec + len)`.
#[cfg(target_arch = "x86_64")]
pub fn discard_translations(exec: *const u8, len: usize) {
    let args: [usize; 6] = [DISCARD_TRANSLATIONS, exec as usize, len, 0, 0, 0];
    let mut result: usize = 0;
    // SAFETY: valgrind.h's x86-64 client-request sequence. Outside valgrind
    // it changes no register (rdi is rotated by 3 + 13 + 61 + 51 = 128 bits,
    // back to its value; `xchg rbx, rbx` swaps rbx with itself) and touches
    // no memory; under valgrind it reads the six-word argument block at rax
    // and writes the result to rdx. Flags are clobbered (the default).
    unsafe {
        std::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") args.as_ptr(),
            inout("rdx") result,
            options(nostack, readonly),
        );
    }
    let _ = result;
}

/// No client request on this architecture (not written yet).
#[cfg(not(target_arch = "x86_64"))]
pub fn discard_translations(_exec: *const u8, _len: usize) {}
