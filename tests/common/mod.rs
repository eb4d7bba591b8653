//! Helpers shared by the integration tests: hand-assembled code, W^X checks
//! on /proc/self/maps, and fault checks in forked children.
#![allow(dead_code)]

#[cfg(feature = "llvm")]
pub mod cxx;
#[cfg(feature = "llvm")]
pub mod llvm;

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The tests of one binary run on parallel threads. A test that compares
/// process-wide counters or VMA counts holds [`serial`] (alone); every other
/// test that makes objects in this process holds [`shared`], so none of
/// them runs while a comparison is under way.
pub static GLOBAL: RwLock<()> = RwLock::new(());

pub fn serial() -> RwLockWriteGuard<'static, ()> {
    GLOBAL.write().unwrap_or_else(|p| p.into_inner())
}

pub fn shared() -> RwLockReadGuard<'static, ()> {
    GLOBAL.read().unwrap_or_else(|p| p.into_inner())
}

/// Machine code of `fn() -> i32 { value }` for the host architecture.
pub fn return_const(value: u16) -> Vec<u8> {
    let v = value as u32;
    if cfg!(any(target_arch = "x86_64", target_arch = "x86")) {
        // mov eax, imm32; ret
        let mut code = vec![0xb8];
        code.extend_from_slice(&v.to_le_bytes());
        code.push(0xc3);
        code
    } else if cfg!(target_arch = "aarch64") {
        // movz w0, #v; ret
        [0x5280_0000 | (v << 5), 0xd65f_03c0]
            .iter()
            .flat_map(|w: &u32| w.to_le_bytes())
            .collect()
    } else if cfg!(target_arch = "riscv64") {
        // li a0, v (v < 2048: addi a0, zero, v); ret
        assert!(v < 2048);
        [(v << 20) | (10 << 7) | 0x13, 0x0000_8067]
            .iter()
            .flat_map(|w: &u32| w.to_le_bytes())
            .collect()
    } else if cfg!(target_arch = "arm") {
        // movw r0, #v; bx lr
        let movw = 0xe300_0000 | ((v & 0xf000) << 4) | (v & 0x0fff);
        [movw, 0xe12f_ff1e]
            .iter()
            .flat_map(|w: &u32| w.to_le_bytes())
            .collect()
    } else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
        // li r3, v (addi r3, 0, v); blr
        assert!(v < 0x8000);
        [0x3860_0000 | v, 0x4e80_0020]
            .iter()
            .flat_map(|w: &u32| w.to_le_bytes())
            .collect()
    } else if cfg!(target_arch = "s390x") {
        // lghi %r2, v; br %r14
        assert!(v < 0x8000);
        let mut code = vec![0xa7, 0x29];
        code.extend_from_slice(&(v as u16).to_be_bytes());
        code.extend_from_slice(&[0x07, 0xfe]);
        code
    } else if cfg!(all(target_arch = "mips64", target_endian = "little")) {
        // addiu $v0, $zero, v; jr $ra; nop (delay slot)
        assert!(v < 0x8000);
        [0x2402_0000 | v, 0x03e0_0008, 0x0000_0000]
            .iter()
            .flat_map(|w: &u32| w.to_le_bytes())
            .collect()
    } else if cfg!(target_arch = "loongarch64") {
        // addi.w $a0, $zero, v; jirl $zero, $ra, 0 (ret)
        assert!(v < 2048);
        [0x0280_0000 | (v << 10) | 4, 0x4c00_0020]
            .iter()
            .flat_map(|w: &u32| w.to_le_bytes())
            .collect()
    } else {
        panic!("no hand-assembled test code for this architecture")
    }
}

/// Calls code at `addr` as `extern "C" fn() -> i32`.
///
/// # Safety
/// `addr` must point at executable code of that signature.
pub unsafe fn call(addr: *const u8) -> i32 {
    // SAFETY: guaranteed by the caller.
    let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(addr) };
    f()
}

/// Lines of /proc/self/maps that are writable and executable at once.
pub fn wx_mappings() -> Vec<String> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| {
            let perms = l.split_whitespace().nth(1).unwrap_or("");
            perms.contains('w') && perms.contains('x')
        })
        .map(str::to_string)
        .collect()
}

/// Whether the process runs under valgrind, whose own translation cache
/// and tool memory are writable and executable mappings of the process.
pub fn under_valgrind() -> bool {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .contains("/vgpreload_")
}

pub fn assert_no_wx() {
    if under_valgrind() {
        // valgrind's mappings would be reported; the check runs without it.
        return;
    }
    let wx = wx_mappings();
    assert!(wx.is_empty(), "writable+executable mappings: {wx:#?}");
}

/// Number of mappings in the process.
pub fn process_vmas() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

/// Resident set size in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Runs `f` in a forked child and returns the signal that killed it (None if
/// it exited normally).
pub fn signal_in_child(f: impl FnOnce()) -> Option<i32> {
    // SAFETY: the child only runs `f` (memory accesses of the test) and
    // `_exit`; it never returns into the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // No core dumps from the expected crash.
        let limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit with a valid struct.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &limit) };
        f();
        // SAFETY: leaving the child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFSIGNALED(status) {
        Some(libc::WTERMSIG(status))
    } else {
        None
    }
}

pub fn is_fault(signal: Option<i32>) -> bool {
    matches!(signal, Some(libc::SIGSEGV) | Some(libc::SIGBUS))
}

/// `(start, size)` of every map line naming `name`.
pub fn perf_map_entries(name: &str) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(jitmm::perf_map::path()).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ' ');
            let start = u64::from_str_radix(parts.next()?, 16).ok()?;
            let size = u64::from_str_radix(parts.next()?, 16).ok()?;
            (parts.next()? == name).then_some((start, size))
        })
        .collect()
}
