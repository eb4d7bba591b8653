//! Linux: anonymous reservations, memfd dual views, hole punching, membarrier.

use std::ffi::CStr;
use std::os::fd::RawFd;
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use super::fault::{self, Op};
use super::Prot;
use crate::error::Errno;
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
pub fn page_size() -> usize {
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
pub fn reserve(len: usize) -> Result<*mut u8, Errno> {
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
pub unsafe fn unreserve(addr: *mut u8, len: usize) -> Result<(), Errno> {
    fault::check(Op::Unreserve)?;
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
pub unsafe fn unmap(addr: *mut u8, len: usize) -> Result<(), Errno> {
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
pub unsafe fn map_anon_fixed(addr: *mut u8, len: usize, prot: Prot) -> Result<(), Errno> {
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
pub unsafe fn map_shared_fixed(
    addr: *mut u8,
    len: usize,
    prot: Prot,
    fd: RawFd,
    offset: usize,
) -> Result<(), Errno> {
    fault::check(Op::MapSharedFixed)?;
    // SAFETY: MAP_FIXED replaces only the caller-owned range (precondition).
    check_map(unsafe {
        libc::mmap(
            addr.cast(),
            len,
            prot_bits(prot),
            libc::MAP_SHARED | libc::MAP_FIXED,
            fd,
            offset as libc::off_t,
        )
    })
    .map(drop)
}

/// Maps `len` bytes of `fd` at `offset` shared, at an address the kernel picks.
pub fn map_shared(len: usize, prot: Prot, fd: RawFd, offset: usize) -> Result<*mut u8, Errno> {
    fault::check(Op::MapShared)?;
    // SAFETY: a new mapping at a kernel-chosen address touches no existing memory.
    check_map(unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            prot_bits(prot),
            libc::MAP_SHARED,
            fd,
            offset as libc::off_t,
        )
    })
}

/// Changes the protection of a range.
///
/// # Safety
/// The range must be mapped and owned by the caller; removing access from
/// memory that is still in use makes later accesses fault.
pub unsafe fn protect(addr: *mut u8, len: usize, prot: Prot) -> Result<(), Errno> {
    fault::check(Op::Protect)?;
    bump(&COUNTERS.mprotect, 1);
    // SAFETY: the caller owns the range (precondition).
    check(unsafe { libc::mprotect(addr.cast(), len, prot_bits(prot)) })
}

/// Keeps a range out of forked children (they get no mapping there).
///
/// # Safety
/// The range must be mapped and owned by the caller.
pub unsafe fn dont_fork(addr: *mut u8, len: usize) -> Result<(), Errno> {
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
pub unsafe fn discard_anon(addr: *mut u8, len: usize) -> Result<(), Errno> {
    fault::check(Op::DiscardAnon)?;
    bump(&COUNTERS.madvise, 1);
    // SAFETY: the caller owns the range and gives up its contents (precondition).
    check(unsafe { libc::madvise(addr.cast(), len, libc::MADV_DONTNEED) })
}

/// Frees the file pages behind `[offset, offset+len)` of `fd`; every view of
/// them then reads as zero.
pub fn punch_hole(fd: RawFd, offset: usize, len: usize) -> Result<(), Errno> {
    fault::check(Op::PunchHole)?;
    bump(&COUNTERS.fallocate, 1);
    // SAFETY: fallocate on a file descriptor touches no process memory.
    check(unsafe {
        libc::fallocate(
            fd,
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            offset as libc::off_t,
            len as libc::off_t,
        )
    })
}

/// A new anonymous memory file of `len` bytes (sparse), close-on-exec.
pub fn memfd(name: &CStr, len: usize) -> Result<RawFd, Errno> {
    fault::check(Op::MemfdCreate)?;
    // SAFETY: `name` is a valid C string.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Errno::last());
    }
    let sized = fault::check(Op::Ftruncate).and_then(|()| {
        // SAFETY: `fd` is the descriptor just created.
        check(unsafe { libc::ftruncate(fd, len as libc::off_t) })
    });
    if let Err(errno) = sized {
        close(fd);
        return Err(errno);
    }
    Ok(fd)
}

/// Closes a descriptor jitmm owns.
pub fn close(fd: RawFd) {
    // SAFETY: the caller owns `fd`; an error leaves nothing to clean up.
    unsafe { libc::close(fd) };
}

/// Whether a memfd can be mapped both executable and writable (in two
/// views); `Err` says which step the kernel or policy refused.
pub fn probe_dual_map() -> Result<(), (&'static str, Errno)> {
    let page = page_size();
    let fd = memfd(c"jitmm-probe", page).map_err(|e| ("memfd_create", e))?;
    let result = (|| {
        let rx = map_shared(page, Prot::ReadExec, fd, 0).map_err(|e| ("mmap RX view", e))?;
        let rw = map_shared(page, Prot::ReadWrite, fd, 0);
        // SAFETY: `rx` was mapped just above and nothing else uses it.
        let _ = unsafe { unmap(rx, page) };
        let rw = rw.map_err(|e| ("mmap RW view", e))?;
        // SAFETY: as above, for `rw`.
        let _ = unsafe { unmap(rw, page) };
        Ok(())
    })();
    close(fd);
    result
}

const MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_int = 1 << 5;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: libc::c_int = 1 << 6;

fn membarrier(cmd: libc::c_int) -> Result<(), Errno> {
    // SAFETY: membarrier takes integers only and touches no process memory.
    let rc = unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Serialises the instruction stream of every thread of this process
/// (`membarrier(PRIVATE_EXPEDITED_SYNC_CORE)`, registered on first use).
/// `Err` when the kernel or a sandbox refuses (ENOSYS, EINVAL, EPERM).
pub fn sync_core_all_threads() -> Result<(), Errno> {
    // 0: not tried, 1: registered, 2: refused
    static STATE: AtomicU8 = AtomicU8::new(0);
    static REFUSAL: OnceLock<Errno> = OnceLock::new();
    match STATE.load(Ordering::Acquire) {
        1 => {}
        2 => return Err(*REFUSAL.get().unwrap_or(&Errno(libc::ENOSYS))),
        _ => {
            if let Err(errno) = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) {
                let _ = REFUSAL.set(errno);
                STATE.store(2, Ordering::Release);
                return Err(errno);
            }
            STATE.store(1, Ordering::Release);
        }
    }
    bump(&COUNTERS.membarrier, 1);
    membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)
}

/// Counts the mappings in `/proc/self/maps` that overlap any of `ranges`
/// (`(start, end)` pairs).
pub fn count_vmas(ranges: &[(usize, usize)]) -> usize {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return 0;
    };
    maps.lines()
        .filter_map(parse_maps_range)
        .filter(|&(start, end)| ranges.iter().any(|&(lo, hi)| start < hi && lo < end))
        .count()
}

/// The `(start, end)` of one `/proc/self/maps` line.
pub fn parse_maps_range(line: &str) -> Option<(usize, usize)> {
    let range = line.split_whitespace().next()?;
    let (start, end) = range.split_once('-')?;
    Some((
        usize::from_str_radix(start, 16).ok()?,
        usize::from_str_radix(end, 16).ok()?,
    ))
}

/// Copies the data regions (holes stay holes) of `[offset, offset+len)` of
/// file `from` into file `to` at the same offsets, reading the bytes through
/// `view`, a readable mapping of that range of `from`.
///
/// # Safety
/// `view` must be a readable mapping of `len` bytes showing `from` at `offset`.
pub unsafe fn copy_file_range_from_view(
    from: RawFd,
    to: RawFd,
    view: *const u8,
    offset: usize,
    len: usize,
) -> Result<(), Errno> {
    fault::check(Op::CopyFile)?;
    let end = offset + len;
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
