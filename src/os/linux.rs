//! Linux: anonymous reservations, memfd dual views, hole punching, membarrier.

use std::ffi::CStr;
use std::ops::Range;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr;
use std::sync::OnceLock;

use super::fault::{self, Op};
use super::{Errno, Prot, Reservation, MAX_SHMLBA};
use crate::stats::{bump, COUNTERS};

fn prot_bits(prot: Prot) -> libc::c_int {
    match prot {
        Prot::None => libc::PROT_NONE,
        Prot::Read => libc::PROT_READ,
        Prot::ReadWrite => libc::PROT_READ | libc::PROT_WRITE,
        Prot::ReadExec => libc::PROT_READ | libc::PROT_EXEC,
    }
}

/// The kernel's page size, read once.
pub(crate) fn page_size() -> usize {
    static PAGE: OnceLock<usize> = OnceLock::new();
    // SAFETY: sysconf has no preconditions.
    *PAGE.get_or_init(|| unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize)
}

fn check_map(addr: *mut libc::c_void) -> Result<*mut u8, Errno> {
    bump(&COUNTERS.mmap, 1);
    if addr == libc::MAP_FAILED {
        Err(Errno::last())
    } else {
        Ok(addr.cast())
    }
}

fn check(rc: libc::c_int) -> Result<(), Errno> {
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Reserves `len` bytes of address space: no access, no commit charge.
pub(crate) fn reserve(len: usize) -> Result<*mut u8, Errno> {
    fault::check(Op::Reserve)?;
    // SAFETY: a fresh anonymous mapping at a kernel-chosen address touches no
    // existing memory.
    check_map(unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    })
}

/// Returns `[addr, addr+len)` to the reservation: no access, contents gone.
///
/// # Safety
/// The range must lie inside a reservation owned by the caller, and nothing
/// may use memory in it afterwards.
pub(crate) unsafe fn decommit(addr: *mut u8, len: usize) -> Result<(), Errno> {
    fault::check(Op::Decommit)?;
    // SAFETY: MAP_FIXED replaces only the caller-owned range (precondition).
    check_map(unsafe {
        libc::mmap(
            addr.cast(),
            len,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
            -1,
            0,
        )
    })
    .map(drop)
}

/// Unmaps a range.
///
/// # Safety
/// The range must be a mapping owned by the caller that nothing uses any more.
pub(crate) unsafe fn unmap(addr: *mut u8, len: usize) -> Result<(), Errno> {
    fault::check(Op::Unmap)?;
    bump(&COUNTERS.munmap, 1);
    // SAFETY: the caller owns the range and nothing refers to it (precondition).
    check(unsafe { libc::munmap(addr.cast(), len) })
}

/// Maps private anonymous memory over a range of a reservation.
///
/// # Safety
/// The range must lie inside a reservation owned by the caller and hold no
/// live data.
pub(crate) unsafe fn map_anon_fixed(addr: *mut u8, len: usize, prot: Prot) -> Result<(), Errno> {
    fault::check(Op::MapAnonFixed)?;
    // SAFETY: MAP_FIXED replaces only the caller-owned range (precondition).
    check_map(unsafe {
        libc::mmap(
            addr.cast(),
            len,
            prot_bits(prot),
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
            -1,
            0,
        )
    })
    .map(drop)
}

/// Maps `len` bytes of `fd` at `offset` over a range of a reservation, shared.
///
/// # Safety
/// The range must lie inside a reservation owned by the caller and hold no
/// live data; `fd` must be at least `offset + len` long.
pub(crate) unsafe fn map_shared_fixed(
    addr: *mut u8,
    len: usize,
    prot: Prot,
    fd: BorrowedFd<'_>,
    offset: usize,
) -> Result<(), Errno> {
    fault::check(Op::MapSharedFixed(prot))?;
    // SAFETY: MAP_FIXED replaces only the caller-owned range (precondition).
    check_map(unsafe {
        libc::mmap(
            addr.cast(),
            len,
            prot_bits(prot),
            libc::MAP_SHARED | libc::MAP_FIXED,
            fd.as_raw_fd(),
            offset as libc::off_t,
        )
    })
    .map(drop)
}

/// Changes the protection of a range.
///
/// # Safety
/// The range must be mapped and owned by the caller; removing access from
/// memory that is still in use makes later accesses fault.
pub(crate) unsafe fn protect(addr: *mut u8, len: usize, prot: Prot) -> Result<(), Errno> {
    fault::check(Op::Protect(prot))?;
    bump(&COUNTERS.mprotect, 1);
    // SAFETY: the caller owns the range (precondition).
    check(unsafe { libc::mprotect(addr.cast(), len, prot_bits(prot)) })
}

/// Keeps a range out of forked children (they get no mapping there).
///
/// # Safety
/// The range must be mapped and owned by the caller.
pub(crate) unsafe fn dont_fork(addr: *mut u8, len: usize) -> Result<(), Errno> {
    fault::check(Op::DontFork)?;
    bump(&COUNTERS.madvise, 1);
    // SAFETY: advice on a caller-owned mapping (precondition).
    check(unsafe { libc::madvise(addr.cast(), len, libc::MADV_DONTFORK) })
}

/// Drops the pages of a private anonymous range: they read as zero afterwards.
///
/// # Safety
/// The range must be a private anonymous mapping owned by the caller whose
/// contents are no longer needed.
pub(crate) unsafe fn discard_anon(addr: *mut u8, len: usize) -> Result<(), Errno> {
    fault::check(Op::DiscardAnon)?;
    bump(&COUNTERS.madvise, 1);
    // SAFETY: the caller owns the range and gives up its contents (precondition).
    check(unsafe { libc::madvise(addr.cast(), len, libc::MADV_DONTNEED) })
}

/// Frees the file pages behind `range` (file offsets) of `fd`; every view
/// of them then reads as zero.
pub(crate) fn punch_hole(fd: BorrowedFd<'_>, range: Range<usize>) -> Result<(), Errno> {
    fault::check(Op::PunchHole)?;
    bump(&COUNTERS.fallocate, 1);
    // SAFETY: fallocate on a file descriptor touches no process memory.
    check(unsafe {
        libc::fallocate(
            fd.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            range.start as libc::off_t,
            range.len() as libc::off_t,
        )
    })
}

/// A new anonymous memory file of `len` bytes (sparse), close-on-exec.
pub(crate) fn memfd(name: &CStr, len: usize) -> Result<OwnedFd, Errno> {
    fault::check(Op::MemfdCreate)?;
    // SAFETY: `name` is a valid C string.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `fd` was just created and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    fault::check(Op::Ftruncate)?;
    // SAFETY: ftruncate on the descriptor just created touches no memory.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) })?;
    Ok(fd)
}

/// One page of a memfd mapped twice, executable and writable, the way an
/// arena maps a span: each view `MAP_FIXED` into a reservation aligned to
/// [`MAX_SHMLBA`], at a nonzero file offset and the same distance from the
/// reservation's start. What the DualMap probe and self-test use.
pub(crate) struct DualViews {
    _fd: OwnedFd,
    rx: Reservation,
    rw: Reservation,
    offset: usize,
}

impl DualViews {
    /// Maps the views; `Err` says which step the kernel or policy refused.
    pub(crate) fn new() -> Result<DualViews, (&'static str, Errno)> {
        let page = page_size();
        let (len, offset) = (2 * page, page);
        let fd = memfd(c"jitmm-probe", len).map_err(|e| ("memfd_create", e))?;
        let reserve =
            || Reservation::aligned(len, MAX_SHMLBA).map_err(|(_, e)| ("mmap (reserve)", e));
        let views = DualViews {
            rx: reserve()?,
            rw: reserve()?,
            _fd: fd,
            offset,
        };
        for (view, prot, step) in [
            (views.exec(), Prot::ReadExec, "mmap RX view"),
            (views.writable(), Prot::ReadWrite, "mmap RW view"),
        ] {
            // SAFETY: a page inside our own fresh reservation, holding
            // nothing; the memfd is `len` bytes long.
            unsafe { map_shared_fixed(view, page, prot, views._fd.as_fd(), offset) }
                .map_err(|e| (step, e))?;
        }
        Ok(views)
    }

    /// The executable view's page.
    pub(crate) fn exec(&self) -> *mut u8 {
        (self.rx.start() + self.offset) as *mut u8
    }

    /// The writable view's page.
    pub(crate) fn writable(&self) -> *mut u8 {
        (self.rw.start() + self.offset) as *mut u8
    }
}

/// Whether a memfd can be mapped both executable and writable as an arena
/// maps it (see [`DualViews`]).
pub(crate) fn probe_dual_map() -> Result<(), (&'static str, Errno)> {
    DualViews::new().map(drop) // both reservations, views and all, unmap on drop
}

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;
const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_int = 1 << 5;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_int = 1 << 6;

fn membarrier(cmd: libc::c_int) -> Result<(), Errno> {
    fault::check(Op::Membarrier)?;
    // SAFETY: membarrier takes integers only and touches no process memory.
    let rc = unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// How this process can make every other thread go through a context
/// synchronisation (see `crate::icache::publish`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OtherThreads {
    /// `membarrier(PRIVATE_EXPEDITED_SYNC_CORE)`: the kernel serialises the
    /// core of every CPU running a thread of the process before it returns
    /// to user mode there.
    SyncCore,
    /// `membarrier(PRIVATE_EXPEDITED)`, where SYNC_CORE is not offered: an
    /// IPI to every CPU running a thread of the process, which returns to it
    /// through an exception return.
    Expedited,
    /// Neither is allowed (seccomp, gVisor, kernels before 4.14), with the
    /// errno of the last registration tried.
    Refused(Errno),
}

/// Registers for the strongest membarrier the kernel offers, once per
/// process, and says which it was.
pub(crate) fn other_threads() -> OtherThreads {
    static METHOD: OnceLock<OtherThreads> = OnceLock::new();
    *METHOD.get_or_init(
        || match membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) {
            Ok(()) => OtherThreads::SyncCore,
            Err(_) => match membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) {
                Ok(()) => OtherThreads::Expedited,
                Err(errno) => OtherThreads::Refused(errno),
            },
        },
    )
}

/// Sends the membarrier registered by [`other_threads`]. `Err` when there
/// is none, or the call failed (then it may work the next time: a failure
/// after registration, such as ENOMEM, is not remembered).
pub(crate) fn sync_other_threads() -> Result<(), Errno> {
    let cmd = match other_threads() {
        OtherThreads::SyncCore => MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE,
        OtherThreads::Expedited => MEMBARRIER_CMD_PRIVATE_EXPEDITED,
        OtherThreads::Refused(errno) => return Err(errno),
    };
    membarrier(cmd)?;
    bump(&COUNTERS.membarrier, 1);
    Ok(())
}

/// The kernel's instruction-cache maintenance of a code range, on the
/// architectures where user space cannot do it alone: ARM `cacheflush`,
/// RISC-V `riscv_flush_icache` (flags 0: every hart of the process), MIPS
/// `cacheflush(BCACHE)`. The kernel's refusal is returned, never ignored.
#[cfg(any(target_arch = "arm", target_arch = "riscv64", target_arch = "mips64"))]
pub(crate) fn flush_icache(range: Range<usize>) -> Result<(), Errno> {
    fault::check(Op::CacheFlush)?;
    // SAFETY (each call): cache maintenance on a range of this process's
    // memory; the kernel checks the range and changes no memory.
    // `__ARM_NR_cacheflush(start, end, flags 0)`.
    #[cfg(target_arch = "arm")]
    // SAFETY: see above.
    let rc = unsafe { libc::syscall(0x0f0002, range.start, range.end, 0) };
    // `riscv_flush_icache(start, end, flags 0)`: flags 0, not
    // SYS_RISCV_FLUSH_ICACHE_LOCAL, so every hart of the process.
    #[cfg(target_arch = "riscv64")]
    // SAFETY: see above.
    let rc = unsafe { libc::syscall(259, range.start, range.end, 0) };
    // `cacheflush(addr, len, BCACHE)`.
    #[cfg(target_arch = "mips64")]
    // SAFETY: see above.
    let rc = unsafe { libc::syscall(libc::SYS_cacheflush, range.start, range.len(), 3) };
    if rc != 0 {
        return Err(Errno::last());
    }
    crate::ledger::flushed(range);
    Ok(())
}

/// Counts the mappings in `/proc/self/maps` that overlap any of `ranges`.
pub(crate) fn count_vmas(ranges: &[Range<usize>]) -> usize {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    maps.lines()
        .filter_map(parse_maps_range)
        .filter(|vma| {
            ranges
                .iter()
                .any(|r| vma.start < r.end && r.start < vma.end)
        })
        .count()
}

/// The address range of one `/proc/self/maps` line.
fn parse_maps_range(line: &str) -> Option<Range<usize>> {
    let range = line.split_whitespace().next()?;
    let (start, end) = range.split_once('-')?;
    Some(usize::from_str_radix(start, 16).ok()?..usize::from_str_radix(end, 16).ok()?)
}

/// Copies the data regions (holes stay holes) of `range` (file offsets) of
/// file `from` into file `to` at the same offsets, reading the bytes through
/// `view`, a readable mapping of that range of `from`.
///
/// # Safety
/// `view` must be a readable mapping of `range.len()` bytes showing `from`
/// at `range.start`.
pub(crate) unsafe fn copy_file_range_from_view(
    from: BorrowedFd<'_>,
    to: BorrowedFd<'_>,
    view: *const u8,
    range: Range<usize>,
) -> Result<(), Errno> {
    fault::check(Op::CopyFile)?;
    let (offset, end) = (range.start, range.end);
    let (from, to) = (from.as_raw_fd(), to.as_raw_fd());
    let mut pos = offset;
    while pos < end {
        // SAFETY: lseek on a descriptor we own.
        let data = unsafe { libc::lseek(from, pos as libc::off_t, libc::SEEK_DATA) };
        if data < 0 {
            let errno = Errno::last();
            return if errno.0 == libc::ENXIO {
                Ok(())
            } else {
                Err(errno)
            };
        }
        let data = data as usize;
        if data >= end {
            return Ok(());
        }
        // SAFETY: as above.
        let hole = unsafe { libc::lseek(from, data as libc::off_t, libc::SEEK_HOLE) };
        if hole < 0 {
            return Err(Errno::last());
        }
        let stop = (hole as usize).min(end);
        let mut at = data;
        while at < stop {
            // SAFETY: `view + (at - offset)` lies in the readable mapping of
            // the range (precondition), and `stop - at` bytes of it follow.
            let n = unsafe {
                libc::pwrite(
                    to,
                    view.add(at - offset).cast(),
                    stop - at,
                    at as libc::off_t,
                )
            };
            if n <= 0 {
                return Err(Errno::last());
            }
            at += n as usize;
        }
        pos = stop;
    }
    Ok(())
}
