//! Strict W^X kernels: a seccomp filter in a forked child refuses what
//! SELinux `deny_execmem` or PaX MPROTECT refuse (making private or anonymous
//! memory executable), and a stricter one also refuses shared executable
//! mappings (noexec shared memory).
//!
//! Every jitmm call happens in a child, after its filter is in place, so
//! [`jitmm::probe`] runs under the policy it reports on (its result is cached
//! per process; the parent test process never probes).

#![cfg(all(
    feature = "llvm",
    target_os = "linux",
    any(
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "riscv64"
    )
))]

mod common;

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::ptr;

use common::llvm::*;
use common::*;
use jitmm::{Arena, Class, Config, Errno, Error, Object, Op, Prot, Strategy};
use seccompiler::{
    SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter, SeccompRule,
};

/// What the child's kernel refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// `mprotect` adding PROT_EXEC, and `mmap` with PROT_EXEC of private or
    /// anonymous memory (no MAP_SHARED): SELinux deny_execmem, PaX MPROTECT.
    DenyExecmem,
    /// The above, and shared executable mappings as well.
    DenyAllExecMappings,
}

fn masked(arg: u8, mask: u64, value: u64) -> SeccompCondition {
    SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(mask),
        value,
    )
    .unwrap()
}

/// Installs the policy's filter on the calling process (no way back).
fn install(policy: Policy) {
    let exec = libc::PROT_EXEC as u64;
    let shared = libc::MAP_SHARED as u64;
    // mprotect(addr, len, prot) / pkey_mprotect(addr, len, prot, pkey):
    // refuse any request that includes PROT_EXEC.
    let protect_exec = vec![SeccompRule::new(vec![masked(2, exec, exec)]).unwrap()];
    // mmap(addr, len, prot, flags, fd, off)
    let mut mmap_exec =
        vec![SeccompRule::new(vec![masked(2, exec, exec), masked(3, shared, 0)]).unwrap()];
    if policy == Policy::DenyAllExecMappings {
        mmap_exec.push(
            SeccompRule::new(vec![masked(2, exec, exec), masked(3, shared, shared)]).unwrap(),
        );
    }
    let rules: BTreeMap<i64, Vec<SeccompRule>> = [
        (libc::SYS_mprotect, protect_exec.clone()),
        (libc::SYS_pkey_mprotect, protect_exec),
        (libc::SYS_mmap, mmap_exec),
    ]
    .into_iter()
    .collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        std::env::consts::ARCH.try_into().unwrap(),
    )
    .unwrap();
    let program: seccompiler::BpfProgram = filter.try_into().unwrap();
    // apply_filter sets PR_SET_NO_NEW_PRIVS itself.
    seccompiler::apply_filter(&program).unwrap();
}

/// A raw mmap of one page; the errno on refusal.
fn raw_mmap(prot: libc::c_int, flags: libc::c_int, fd: i32) -> Result<(), i32> {
    let page = jitmm::test_support::page_size();
    // SAFETY: a new mapping at a kernel-chosen address, unmapped right away.
    let p = unsafe { libc::mmap(ptr::null_mut(), page, prot, flags, fd, 0) };
    if p == libc::MAP_FAILED {
        return Err(Errno::last().0);
    }
    // SAFETY: the mapping made above.
    unsafe { libc::munmap(p, page) };
    Ok(())
}

/// Checks that the kernel applies `policy` in this process, so that the
/// tests below cannot pass because the filter silently did nothing.
fn assert_policy_in_force(policy: Policy) {
    let page = jitmm::test_support::page_size();
    let anon = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    assert_eq!(
        raw_mmap(libc::PROT_READ | libc::PROT_EXEC, anon, -1),
        Err(libc::EACCES)
    );
    assert_eq!(
        raw_mmap(libc::PROT_READ | libc::PROT_WRITE, anon, -1),
        Ok(())
    );
    // SAFETY: a fresh RW page, protected and unmapped by us only.
    unsafe {
        let p = libc::mmap(
            ptr::null_mut(),
            page,
            libc::PROT_READ | libc::PROT_WRITE,
            anon,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        assert_eq!(
            libc::mprotect(p, page, libc::PROT_READ | libc::PROT_EXEC),
            -1
        );
        assert_eq!(Errno::last().0, libc::EACCES);
        assert_eq!(libc::mprotect(p, page, libc::PROT_READ), 0);
        libc::munmap(p, page);
    }
    // SAFETY: a memfd of one page, closed below.
    let fd = unsafe { libc::memfd_create(c"wx-policy".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0);
    // SAFETY: sizing our own memfd.
    assert_eq!(unsafe { libc::ftruncate(fd, page as libc::off_t) }, 0);
    let shared_rx = raw_mmap(libc::PROT_READ | libc::PROT_EXEC, libc::MAP_SHARED, fd);
    match policy {
        Policy::DenyExecmem => assert_eq!(shared_rx, Ok(())),
        Policy::DenyAllExecMappings => assert_eq!(shared_rx, Err(libc::EACCES)),
    }
    // SAFETY: our own descriptor.
    unsafe { libc::close(fd) };
}

/// Runs `f` in a forked child under `policy` and returns what it reports;
/// a panic in the child fails the test with the child's message.
fn in_child(policy: Policy, f: impl FnOnce() -> String) -> String {
    in_child_with_setup(policy, || {}, f)
}

/// Like [`in_child`], with `setup` run in the child before the policy.
fn in_child_with_setup(policy: Policy, setup: impl FnOnce(), f: impl FnOnce() -> String) -> String {
    let _g = serial();
    let mut fds = [0; 2];
    // SAFETY: a valid two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_fd, write_fd) = (fds[0], fds[1]);
    // SAFETY: the child runs the test body and `_exit`s; it never returns into
    // the test harness.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: closing the parent's end in the child.
        unsafe { libc::close(read_fd) };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            setup();
            install(policy);
            assert_policy_in_force(policy);
            f()
        }));
        let (code, message) = match result {
            Ok(report) => (0, report),
            Err(payload) => {
                let text = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".to_string());
                (1, format!("child panicked: {text}"))
            }
        };
        // SAFETY: writing a local buffer to our pipe, then leaving at once.
        unsafe {
            libc::write(write_fd, message.as_ptr().cast(), message.len());
            libc::_exit(code);
        }
    }
    // SAFETY: closing the child's end, so a dead child gives EOF.
    unsafe { libc::close(write_fd) };
    let mut report = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: reading into a local buffer from our pipe.
        let n = unsafe { libc::read(read_fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        report.extend_from_slice(&buf[..n as usize]);
    }
    // SAFETY: our own descriptor.
    unsafe { libc::close(read_fd) };
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let report = String::from_utf8_lossy(&report).into_owned();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{policy:?} child failed (status {status:#x}): {report}"
    );
    println!("{policy:?}: {report}");
    report
}

/// Builds MCJIT for `ir` with LLVM's default memory manager
/// (SectionMemoryManager) and returns the address of `name` (0: not found).
/// The engine is leaked: the caller runs in a child that exits without
/// tearing it down.
fn mcjit_default_manager_lookup(ir: &str, name: &str) -> u64 {
    let jit = std::mem::ManuallyDrop::new(Mcjit::with_manager(ir, None));
    jit.address(name)
}

/// Exit codes of the grandchild running SectionMemoryManager.
const NOT_FOUND: i32 = 3;
const RETURNED: i32 = 4;

#[test]
fn section_memory_manager_crashes_under_deny_execmem() {
    let report = in_child(Policy::DenyExecmem, || {
        // SAFETY: the grandchild compiles and calls JIT code, then `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let limit = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: no core dump from the expected crash.
            unsafe { libc::setrlimit(libc::RLIMIT_CORE, &limit) };
            let code = std::panic::catch_unwind(|| {
                let addr = mcjit_default_manager_lookup(&sample_ir("smm"), "even_smm");
                if addr == 0 {
                    return NOT_FOUND;
                }
                // SAFETY: `even_smm` is i64(i64) in the sample IR; under the
                // policy its page never became executable, so this faults.
                let even: extern "C" fn(i64) -> i64 = unsafe { std::mem::transmute(addr) };
                assert_eq!(even(4), 1);
                RETURNED
            })
            .unwrap_or(1);
            // SAFETY: leave the grandchild at once.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        // LLVM's SectionMemoryManager gets EACCES from mprotect(RX), MCJIT
        // ignores finalizeMemory's result, and the first call faults.
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSEGV,
            "SectionMemoryManager under deny_execmem: expected SIGSEGV on the first call, got status {status:#x}"
        );
        "SectionMemoryManager: mprotect(RX) refused, first call into JIT code killed by SIGSEGV"
            .to_string()
    });
    assert!(report.contains("SIGSEGV"));
}

#[test]
fn dual_map_jit_compiles_and_runs_under_deny_execmem() {
    in_child(Policy::DenyExecmem, || {
        let probe = jitmm::probe();
        assert!(probe.dual_map, "{probe:?}");
        assert_eq!(probe.dual_map_refusal, None);
        assert_eq!(probe.auto_strategy, Strategy::DualMap);

        // MCJIT through the C API with a jitmm manager, Auto and DualMap.
        for strategy in [Strategy::Auto, Strategy::DualMap] {
            let tag = format!("wx{strategy:?}");
            let jit = Mcjit::new(&sample_ir(&tag), strategy);
            check_sample(|n| jit.fn1(n), &tag);
            assert_no_wx();
        }

        // The Rust API: hand-written code runs.
        let mut object = Object::new(&Config::new()).unwrap();
        assert_eq!(object.arena().strategy(), Strategy::DualMap);
        let text = object.allocate(Class::Code, 16, 16).unwrap();
        let code = return_const(321);
        object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
        let done = object.finalize().unwrap();
        // SAFETY: the section holds a complete `fn() -> i32`.
        assert_eq!(unsafe { call(done.exec_addr(text)) }, 321);
        assert_no_wx();

        // Mprotect, forced, cannot work here and says so at finalize.
        let mut object = Object::new(&Config::new().strategy(Strategy::Mprotect)).unwrap();
        let text = object.allocate(Class::Code, 16, 16).unwrap();
        object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
        match object.finalize() {
            Err(Error::Os {
                op: Op::Protect(Prot::ReadExec),
                strategy: Strategy::Mprotect,
                errno: Errno(libc::EACCES),
            }) => {}
            other => panic!("Mprotect finalize under deny_execmem: {other:?}"),
        }
        format!(
            "probe: dual_map={} auto={:?}; MCJIT on jitmm DualMap ran; Mprotect finalize refused cleanly",
            probe.dual_map, probe.auto_strategy
        )
    });
}

#[test]
fn no_exec_mappings_at_all_gives_clear_errors() {
    in_child(Policy::DenyAllExecMappings, || {
        let probe = jitmm::probe();
        assert!(!probe.dual_map, "{probe:?}");
        assert_eq!(probe.auto_strategy, Strategy::Mprotect);
        let refusal = probe.dual_map_refusal.clone().unwrap();
        assert!(
            refusal.contains("mmap RX view") && refusal.contains("Permission denied"),
            "{refusal}"
        );

        // DualMap asked for explicitly: Unsupported, naming the refused step.
        let err = Arena::new(4 << 20, Strategy::DualMap).unwrap_err();
        match &err {
            Error::Unsupported {
                strategy: Strategy::DualMap,
                reason,
            } => assert!(reason.contains("mmap RX view refused"), "{reason}"),
            other => panic!("{other:?}"),
        }
        let err2 = Object::new(&Config::new().strategy(Strategy::DualMap)).unwrap_err();
        assert_eq!(err2, err);

        // Through the C API: NULL and a last error naming the refusal.
        let manager =
            // SAFETY: a valid config, read during the call only.
            unsafe { jitmm::ffi::jitmm_mcjit_memory_manager_create_with(&config(Strategy::DualMap)) };
        assert!(manager.is_null());
        // SAFETY: the last error is a valid C string of this thread.
        let message = unsafe { CStr::from_ptr(jitmm::ffi::jitmm_last_error()) }
            .to_string_lossy()
            .into_owned();
        assert!(message.contains("mmap RX view refused"), "{message}");

        // Auto falls back to Mprotect: data works, code is refused at finalize.
        let mut object = Object::new(&Config::new()).unwrap();
        assert_eq!(object.arena().strategy(), Strategy::Mprotect);
        let data = object.allocate(Class::ReadWrite, 64, 16).unwrap();
        object.bytes_mut(data).fill(7);
        let rodata = object.allocate(Class::ReadOnly, 64, 16).unwrap();
        object.bytes_mut(rodata).fill(8);
        let done = object.finalize().unwrap();
        // SAFETY: 64 readable bytes of a finalized read-only section.
        let ro = unsafe { std::slice::from_raw_parts(done.exec_addr(rodata), 64) };
        assert!(ro.iter().all(|&b| b == 8));
        drop(done);
        let mut object = Object::new(&Config::new()).unwrap();
        let text = object.allocate(Class::Code, 16, 16).unwrap();
        let code = return_const(5);
        object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
        let err3 = object.finalize().unwrap_err();
        assert_eq!(
            err3,
            Error::Os {
                op: Op::Protect(Prot::ReadExec),
                strategy: Strategy::Mprotect,
                errno: Errno(libc::EACCES)
            }
        );
        assert_no_wx();
        format!("probe: {refusal}; DualMap: {err}; C API: {message}; Mprotect: {err3}")
    });
}

#[test]
fn policy_tightened_after_the_arena_was_made() {
    // A DualMap arena made before the policy (the probe passed then) meets
    // the refusal when it maps a new block: a typed error naming the view,
    // nothing left mapped, the arena still usable for what is allowed.
    let arena = std::cell::RefCell::new(None);
    let report = in_child_with_setup(
        Policy::DenyAllExecMappings,
        || *arena.borrow_mut() = Some(Arena::new(8 << 20, Strategy::DualMap).unwrap()),
        || {
            let arena = arena.borrow_mut().take().unwrap();
            let vmas = jitmm::stats().vmas;
            let mut object = Object::in_arena(arena.clone());
            let err = object.allocate(Class::Code, 64, 16).unwrap_err();
            assert_eq!(
                err,
                Error::Os {
                    op: Op::MapSharedFixed(Prot::ReadExec),
                    strategy: Strategy::DualMap,
                    errno: Errno(libc::EACCES)
                }
            );
            assert_eq!(jitmm::stats().vmas, vmas, "a refused block left mappings");
            assert_eq!(arena.live_bytes(), 0);
            // Read-write data needs no exec mapping and still works.
            let data = object.allocate(Class::ReadWrite, 64, 16).unwrap();
            object.bytes_mut(data).fill(1);
            drop(object.finalize().unwrap());
            assert_eq!(arena.live_objects(), 0);
            format!("existing DualMap arena, new code block: {err}")
        },
    );
    assert!(report.contains("mmap (exec view)"), "{report}");
}
