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
    jitmm::test_support::return_value(value)
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

/// A command that runs `program`, a binary built for the target like the
/// tests themselves: under `JITMM_TEST_RUNNER` (e.g. `qemu-aarch64 -L …`,
/// split at whitespace) when that is set, as it is when the tests run under
/// an emulator, else directly.
pub fn target_command(program: &std::path::Path) -> std::process::Command {
    let runner = std::env::var("JITMM_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(emulator) => {
            let mut command = std::process::Command::new(emulator);
            command.args(words).arg(program);
            command
        }
        None => std::process::Command::new(program),
    }
}

/// Lines of /proc/self/maps that are writable and executable at once.
///
/// Stacks are left out when the loader made them executable because a
/// library asked for it (`PT_GNU_STACK` RWE, e.g. Debian's mips64el
/// libLLVM.so.19.1): the main stack is then `rwx`, and so is every thread
/// stack (an anonymous mapping right above glibc's one-page `---p` guard).
pub fn wx_mappings() -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let lines: Vec<&str> = maps.lines().collect();
    let perms = |l: &str| l.split_whitespace().nth(1).unwrap_or("").to_string();
    let wx = |l: &str| perms(l).contains('w') && perms(l).contains('x');
    let range = |l: &str| {
        let (lo, hi) = l.split_whitespace().next()?.split_once('-')?;
        Some((
            usize::from_str_radix(lo, 16).ok()?,
            usize::from_str_radix(hi, 16).ok()?,
        ))
    };
    let stacks_executable = lines.iter().any(|l| l.ends_with("[stack]") && wx(l));
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    let thread_stack = |i: usize| {
        let anonymous = lines[i].split_whitespace().count() == 5;
        let guard = i.checked_sub(1).map(|g| lines[g]);
        anonymous
            && guard.is_some_and(|g| {
                perms(g) == "---p"
                    && matches!((range(g), range(lines[i])),
                        (Some((lo, hi)), Some((start, _))) if hi - lo == page && hi == start)
            })
    };
    lines
        .iter()
        .enumerate()
        .filter(|(i, l)| {
            wx(l) && !(stacks_executable && (l.ends_with("[stack]") || thread_stack(*i)))
        })
        .map(|(_, l)| l.to_string())
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
