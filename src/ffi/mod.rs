//! The `extern "C"` boundary: the core table the C++ shim calls through, and
//! the C API of `cshim/jitmm.h` (exported from libjitmm.so / libjitmm.a).
//!
//! No panic crosses this boundary: every entry runs inside
//! [`catch_unwind`] and turns failures into a NULL / -1 return plus a
//! message for [`jitmm_last_error`].
//!
//! Handles are checked before use: the boundary keeps the set of arena and
//! object handles it handed out and not yet took back, so NULL, a handle
//! released or freed before, a pointer jitmm never returned and an object
//! passed as an arena (or the reverse) are all `Error::InvalidArgument`
//! without touching the memory they point to.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};

use crate::arena::{Arena, Class};
use crate::config::{Config, Strategy};
use crate::error::Error;
use crate::object::ObjectCore;
use crate::stats::Stats;
use crate::sync::Mutex;
use rustc_hash::FxHashSet;

#[cfg(feature = "llvm")]
mod llvm;
#[cfg(feature = "llvm")]
pub use llvm::*;

/// `jitmm_config` of `cshim/jitmm.h`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct jitmm_config {
    /// 0 auto, 1 dualmap, 2 mprotect.
    pub strategy: c_int,
    /// Nonzero: a private arena.
    pub private_arena: c_int,
    /// Reservation of a private arena; 0 for the default.
    pub reservation_size: usize,
    /// Nonzero: append finalized functions to `/tmp/perf-<pid>.map`.
    pub perf_map: c_int,
    /// Nonzero: register JIT-compiled objects with GDB's JIT interface.
    pub debugger: c_int,
}

impl TryFrom<&jitmm_config> for Config {
    type Error = Error;

    fn try_from(c: &jitmm_config) -> Result<Config, Error> {
        let strategy = match c.strategy {
            0 => Strategy::Auto,
            1 => Strategy::DualMap,
            2 => Strategy::Mprotect,
            _ => return Err(Error::InvalidArgument("jitmm_config.strategy out of range")),
        };
        let mut config = Config::new()
            .strategy(strategy)
            .private_arena(c.private_arena != 0);
        if c.reservation_size != 0 {
            config = config.reservation_size(c.reservation_size);
        }
        Ok(config.perf_map(c.perf_map != 0).debugger(c.debugger != 0))
    }
}

/// `jitmm_core_section`.
#[repr(C)]
#[derive(Debug)]
pub struct CoreSection {
    /// Where the linker writes.
    pub rw: *mut u8,
    /// Where the section lives when it runs.
    pub exec: *mut u8,
}

/// An arena handle owned by the shim, with the per-manager settings that
/// objects inherit.
pub struct CoreArena {
    arena: Arc<Arena>,
    perf_map: bool,
    debugger: bool,
}

/// `jitmm_core_api`: the table the shim calls the core through (see
/// `cshim/core.h` for each entry's contract). Public so that programs
/// outside the crate (the fuzz target in `fuzz/`) can drive the same
/// boundary the shim does.
#[repr(C)]
pub struct CoreApi {
    /// Resolves a config (NULL: defaults) to an arena handle; NULL on error.
    pub arena_acquire: unsafe extern "C" fn(*const jitmm_config) -> *mut CoreArena,
    /// Releases a handle from `arena_acquire`.
    pub arena_release: unsafe extern "C" fn(*mut CoreArena),
    /// Nonzero when code and rodata have a writable view apart (DualMap).
    pub arena_is_dual_mapped: unsafe extern "C" fn(*const CoreArena) -> c_int,
    /// A new empty object in an arena; NULL on error.
    pub object_new: unsafe extern "C" fn(*mut CoreArena) -> *mut ObjectCore,
    /// Reserves one chunk per class: (size, align) for code, rodata, rwdata.
    pub object_reserve:
        unsafe extern "C" fn(*mut ObjectCore, usize, usize, usize, usize, usize, usize) -> c_int,
    /// Allocates a section of a class (0 code, 1 rodata, 2 rwdata).
    pub object_allocate:
        unsafe extern "C" fn(*mut ObjectCore, c_int, usize, usize, *mut CoreSection) -> c_int,
    /// Records that the linker knows every section's executable address.
    pub object_mark_mapped: unsafe extern "C" fn(*mut ObjectCore),
    /// Protections and icache coherence; -1 on error (also when repeated).
    pub object_finalize: unsafe extern "C" fn(*mut ObjectCore) -> c_int,
    /// Frees an object and all its sections.
    pub object_free: unsafe extern "C" fn(*mut ObjectCore),
    /// The calling thread's last error ("" if none).
    pub last_error: unsafe extern "C" fn() -> *const c_char,
    /// Replaces the calling thread's last error.
    pub set_last_error: unsafe extern "C" fn(*const c_char),
    /// Nonzero when the object collects symbols for the perf map.
    pub object_wants_symbols: unsafe extern "C" fn(*const ObjectCore) -> c_int,
    /// Names a function at an executable address for the perf map.
    pub object_add_symbol: unsafe extern "C" fn(*mut ObjectCore, *const c_char, usize, u64, u64),
    /// Nonzero when objects of the arena register with GDB.
    pub arena_debugger: unsafe extern "C" fn(*const CoreArena) -> c_int,
}

/// The one table handed to the shim.
pub static CORE_API: CoreApi = CoreApi {
    arena_acquire: core_arena_acquire,
    arena_release: core_arena_release,
    arena_is_dual_mapped: core_arena_is_dual_mapped,
    object_new: core_object_new,
    object_reserve: core_object_reserve,
    object_allocate: core_object_allocate,
    object_mark_mapped: core_object_mark_mapped,
    object_finalize: core_object_finalize,
    object_free: core_object_free,
    last_error: jitmm_last_error,
    set_last_error: core_set_last_error,
    object_wants_symbols: core_object_wants_symbols,
    object_add_symbol: core_object_add_symbol,
    arena_debugger: core_arena_debugger,
};

/// What a live handle points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Arena,
    Object,
}

/// A handle as the table holds it: its address with its kind in the low
/// bit, free in both (`CoreArena` and `ObjectCore` are word-aligned). None
/// for an address no handle of either kind can have.
fn tagged<T>(handle: *const T, kind: Kind) -> Option<usize> {
    let address = handle as usize;
    (address % std::mem::align_of::<T>() == 0 && address & 1 == 0)
        .then_some(address | kind as usize)
}

/// Every arena and object handle handed out and not yet released or freed.
/// Held only for a lookup or an update, never while other jitmm locks are
/// taken or held, and across `fork()` (see [`install_fork_handlers`]); a
/// [`crate::sync::Mutex`], which a forked child can unlock.
/// A hash map (created on first use) rather than a B-tree: it keeps some
/// capacity when it empties, where a B-tree going between zero and a few
/// entries allocates and frees a node on every object; Fx hashing, since
/// every call of the table looks a handle up. Entries are [`tagged`]
/// addresses, 8 bytes each (a JIT with an engine per module holds two
/// handles per live object).
static HANDLES: Mutex<Option<FxHashSet<usize>>> = Mutex::new(None);

fn handles(table: &mut Option<FxHashSet<usize>>) -> &mut FxHashSet<usize> {
    table.get_or_insert_with(FxHashSet::default)
}

const NULL_ARENA: Error = Error::InvalidArgument("null arena");
const NULL_OBJECT: Error = Error::InvalidArgument("null object");
const BAD_ARENA: Error =
    Error::InvalidArgument("unknown arena handle (released already, or not from arena_acquire)");
const BAD_OBJECT: Error =
    Error::InvalidArgument("unknown object handle (freed already, or not from object_new)");

fn errors(kind: Kind) -> (Error, Error) {
    match kind {
        Kind::Arena => (NULL_ARENA, BAD_ARENA),
        Kind::Object => (NULL_OBJECT, BAD_OBJECT),
    }
}

/// Records a handle just handed out (and notes it live for this thread, which
/// uses it next).
fn register<T>(handle: *mut T, kind: Kind) -> *mut T {
    install_fork_handlers();
    let entry = tagged(handle, kind).expect("a Box is aligned");
    let mut table = HANDLES.lock();
    handles(&mut table).insert(entry);
    let releases = RELEASES.load(Ordering::Acquire);
    drop(table);
    remember_live(handle as usize, kind, releases);
    handle
}

/// Bumped whenever a handle is taken back: a handle a thread has seen live
/// since the last bump is live still, with no need to look again.
static RELEASES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Per kind, the last handle this thread found live and `RELEASES` then
    /// (a linker's calls alternate between its arena and its object).
    static LAST_CHECKED: Cell<[(usize, u64); 2]> = const { Cell::new([(0, u64::MAX); 2]) };
}

/// Fails unless `handle` is a live handle of `kind`. The per-thread cache
/// spares the lock for the run of calls a linker makes on one object.
fn check<T>(handle: *const T, kind: Kind) -> Result<(), Error> {
    let (null, unknown) = errors(kind);
    if handle.is_null() {
        return Err(null);
    }
    let address = handle as usize;
    // Read before the lookup: a release after it makes the entry stale.
    let releases = RELEASES.load(Ordering::Acquire);
    if LAST_CHECKED.get()[kind as usize] == (address, releases) {
        return Ok(());
    }
    let entry = tagged(handle, kind).ok_or(unknown.clone())?;
    if !handles(&mut HANDLES.lock()).contains(&entry) {
        return Err(unknown);
    }
    remember_live(address, kind, releases);
    Ok(())
}

/// Notes in this thread's cache that `address` was a live handle of `kind`
/// when `RELEASES` read `releases`.
fn remember_live(address: usize, kind: Kind, releases: u64) {
    let mut last = LAST_CHECKED.get();
    last[kind as usize] = (address, releases);
    LAST_CHECKED.set(last);
}

/// Takes a live handle of `kind` back (it is invalid from then on).
fn unregister<T>(handle: *mut T, kind: Kind) -> Result<(), Error> {
    let (null, unknown) = errors(kind);
    if handle.is_null() {
        return Err(null);
    }
    let entry = tagged(handle, kind).ok_or(unknown.clone())?;
    let mut table = HANDLES.lock();
    let handles = handles(&mut table);
    if !handles.remove(&entry) {
        return Err(unknown);
    }
    // Give memory back once mostly empty (amortised: the table has shrunk
    // eightfold since it last grew), keeping a little.
    if handles.capacity() > 1024 && handles.len() < handles.capacity() / 8 {
        handles.shrink_to(handles.len() * 2);
    }
    RELEASES.fetch_add(1, Ordering::Release);
    Ok(())
}

/// Holds the handle table across `fork()`, so that a child never inherits
/// it locked by a thread that does not exist there.
fn install_fork_handlers() {
    static ONCE: Once = Once::new();
    extern "C" fn prepare() {
        std::mem::forget(HANDLES.lock());
    }
    extern "C" fn release() {
        // SAFETY: `prepare` took the lock and forgot its guard; this
        // runs once after it, in the parent or in the child.
        unsafe { HANDLES.force_unlock() };
    }
    ONCE.call_once(|| {
        // SAFETY: registers `extern "C"` functions that never unwind.
        unsafe { libc::pthread_atfork(Some(prepare), Some(release), Some(release)) };
    });
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(message: impl Into<Vec<u8>>) {
    let mut bytes = message.into();
    bytes.retain(|&b| b != 0);
    let message = CString::new(bytes).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

/// Runs `f`, turning an `Err` or a panic into `fallback` plus a last error.
fn guard<T>(fallback: T, f: impl FnOnce() -> Result<T, Error>) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => value,
        Ok(Err(error)) => {
            set_error(error.to_string());
            fallback
        }
        Err(_) => {
            set_error("internal error: panic inside jitmm");
            fallback
        }
    }
}

fn config_from(config: *const jitmm_config) -> Result<Config, Error> {
    // SAFETY: the C API documents `config` as NULL or a valid jitmm_config.
    match unsafe { config.as_ref() } {
        None => Ok(Config::new()),
        Some(c) => Config::try_from(c),
    }
}

unsafe extern "C" fn core_arena_acquire(config: *const jitmm_config) -> *mut CoreArena {
    guard(std::ptr::null_mut(), || {
        let config = config_from(config)?;
        let arena = Arena::for_config(&config)?;
        let handle = Box::into_raw(Box::new(CoreArena {
            arena,
            perf_map: config.perf_map_enabled(),
            debugger: config.debugger_enabled(),
        }));
        Ok(register(handle, Kind::Arena))
    })
}

/// Takes a handle back from the table and drops what it owns; NULL does
/// nothing, an unknown handle is an error.
///
/// # Safety
/// Every handle the table holds as `kind` came from `Box::into_raw` of a `T`.
unsafe fn release_handle<T>(handle: *mut T, kind: Kind) {
    if handle.is_null() {
        return;
    }
    guard((), || {
        unregister(handle, kind)?;
        // SAFETY: a live handle of `kind`, so a `Box<T>` (precondition),
        // just taken back from the table, so dropped exactly once.
        drop(unsafe { Box::from_raw(handle) });
        Ok(())
    })
}

unsafe extern "C" fn core_arena_release(arena: *mut CoreArena) {
    // SAFETY: arena handles are registered by `core_arena_acquire` from a
    // `Box<CoreArena>`.
    unsafe { release_handle(arena, Kind::Arena) }
}

unsafe extern "C" fn core_arena_is_dual_mapped(arena: *const CoreArena) -> c_int {
    guard(0, || {
        check(arena, Kind::Arena)?;
        // SAFETY: a live handle from `core_arena_acquire` (checked above).
        let arena = unsafe { &*arena };
        Ok(c_int::from(arena.arena.is_dual_mapped()))
    })
}

unsafe extern "C" fn core_arena_debugger(arena: *const CoreArena) -> c_int {
    // SAFETY: the shim passes a live handle from `core_arena_acquire`.
    unsafe { arena.as_ref() }.map_or(0, |a| c_int::from(a.debugger))
}

unsafe extern "C" fn core_object_new(arena: *mut CoreArena) -> *mut ObjectCore {
    guard(std::ptr::null_mut(), || {
        check(arena, Kind::Arena)?;
        // SAFETY: a live handle from `core_arena_acquire` (checked above).
        let arena = unsafe { &*arena };
        let mut object = ObjectCore::new(arena.arena.clone());
        if arena.perf_map {
            object.enable_perf_map();
        }
        Ok(register(Box::into_raw(Box::new(object)), Kind::Object))
    })
}

/// Borrows an object handle after checking it is live.
///
/// # Safety
/// A live `object` must not be used concurrently (the shim serialises calls
/// per object) nor freed while the borrow lasts.
unsafe fn object_mut<'a>(object: *mut ObjectCore) -> Result<&'a mut ObjectCore, Error> {
    check(object, Kind::Object)?;
    // SAFETY: a live handle from `core_object_new` (checked above), used by
    // one thread at a time (guaranteed by the caller).
    Ok(unsafe { &mut *object })
}

unsafe extern "C" fn core_object_reserve(
    object: *mut ObjectCore,
    code: usize,
    code_align: usize,
    ro: usize,
    ro_align: usize,
    rw: usize,
    rw_align: usize,
) -> c_int {
    guard(-1, || {
        // SAFETY: see `object_mut`; the shim passes its own live handle.
        let object = unsafe { object_mut(object) }?;
        object.reserve([(code, code_align), (ro, ro_align), (rw, rw_align)])?;
        Ok(0)
    })
}

unsafe extern "C" fn core_object_allocate(
    object: *mut ObjectCore,
    class: c_int,
    size: usize,
    align: usize,
    out: *mut CoreSection,
) -> c_int {
    guard(-1, || {
        // SAFETY: see `object_mut`.
        let object = unsafe { object_mut(object) }?;
        let class = Class::from_index(class).ok_or(Error::InvalidArgument("bad section class"))?;
        // SAFETY: the shim passes NULL or a pointer to a writable CoreSection.
        let out = unsafe { out.as_mut() }.ok_or(Error::InvalidArgument("null out"))?;
        let section = object.allocate(class, size, align)?;
        *out = CoreSection {
            rw: section.rw,
            exec: section.exec,
        };
        Ok(0)
    })
}

unsafe extern "C" fn core_object_mark_mapped(object: *mut ObjectCore) {
    if object.is_null() {
        return;
    }
    guard((), || {
        // SAFETY: see `object_mut`.
        unsafe { object_mut(object) }?.mark_mapped();
        Ok(())
    })
}

unsafe extern "C" fn core_object_finalize(object: *mut ObjectCore) -> c_int {
    guard(-1, || {
        // SAFETY: see `object_mut`.
        unsafe { object_mut(object) }?.finalize()?;
        Ok(0)
    })
}

unsafe extern "C" fn core_object_free(object: *mut ObjectCore) {
    // SAFETY: object handles are registered by `core_object_new` from a
    // `Box<ObjectCore>`.
    unsafe { release_handle(object, Kind::Object) }
}

unsafe extern "C" fn core_object_wants_symbols(object: *const ObjectCore) -> c_int {
    guard(0, || {
        check(object, Kind::Object)?;
        // SAFETY: a live handle from `core_object_new` (checked above).
        Ok(c_int::from(unsafe { &*object }.wants_symbols()))
    })
}

unsafe extern "C" fn core_object_add_symbol(
    object: *mut ObjectCore,
    name: *const c_char,
    name_len: usize,
    addr: u64,
    size: u64,
) {
    guard((), || {
        // SAFETY: see `object_mut`.
        let object = unsafe { object_mut(object) }?;
        if name.is_null() {
            return Err(Error::InvalidArgument("null symbol name"));
        }
        // SAFETY: the shim passes `name_len` readable bytes at `name`.
        let bytes = unsafe { std::slice::from_raw_parts(name.cast::<u8>(), name_len) };
        object.add_symbol(String::from_utf8_lossy(bytes).into_owned(), addr, size);
        Ok(())
    })
}

unsafe extern "C" fn core_set_last_error(message: *const c_char) {
    if !message.is_null() {
        // SAFETY: the shim passes a NUL-terminated string.
        set_error(unsafe { CStr::from_ptr(message) }.to_bytes());
    }
}

/// Fills `*config` with the defaults.
///
/// # Safety
/// `config` must be NULL or point to writable memory for a `jitmm_config`.
#[no_mangle]
pub unsafe extern "C" fn jitmm_config_init(config: *mut jitmm_config) {
    // SAFETY: guaranteed by the caller.
    if let Some(config) = unsafe { config.as_mut() } {
        *config = jitmm_config::default();
    }
}

/// Copies the process-wide counters; 0 on success, -1 if `out` is NULL.
///
/// # Safety
/// `out` must be NULL or point to writable memory for a `jitmm_stats`.
#[no_mangle]
pub unsafe extern "C" fn jitmm_stats_get(out: *mut Stats) -> c_int {
    // SAFETY: guaranteed by the caller.
    match unsafe { out.as_mut() } {
        None => {
            set_error("jitmm_stats_get: out is NULL");
            -1
        }
        Some(out) => guard(-1, || {
            *out = crate::stats();
            Ok(0)
        }),
    }
}

/// Returns every free page of every arena to the OS now, including those
/// kept resident for quick reuse.
#[no_mangle]
pub extern "C" fn jitmm_trim() {
    let _ = guard(-1, || {
        crate::trim();
        Ok(0)
    });
}

/// The last error message of this thread ("" if none).
#[no_mangle]
pub extern "C" fn jitmm_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_error() -> String {
        // SAFETY: the thread's last error is a valid C string.
        unsafe { CStr::from_ptr(jitmm_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn core_table_reports_misuse_as_errors() {
        let config = jitmm_config {
            strategy: 2,
            ..Default::default()
        };
        // SAFETY: exercising the table as the shim does, with valid handles
        // except where a NULL is the point of the check.
        unsafe {
            let arena = (CORE_API.arena_acquire)(&config);
            assert!(!arena.is_null());
            assert_eq!((CORE_API.arena_is_dual_mapped)(arena), 0);
            let object = (CORE_API.object_new)(arena);
            let mut section = CoreSection {
                rw: std::ptr::null_mut(),
                exec: std::ptr::null_mut(),
            };
            assert_eq!(
                (CORE_API.object_allocate)(object, 0, 16, 16, &mut section),
                0
            );
            assert_eq!(section.rw, section.exec);
            assert_eq!(
                (CORE_API.object_allocate)(object, 7, 16, 16, &mut section),
                -1
            );
            assert!(last_error().contains("class"));
            assert_eq!(
                (CORE_API.object_allocate)(object, 0, 0, 16, &mut section),
                -1
            );
            assert!(last_error().contains("zero"));
            assert_eq!((CORE_API.object_finalize)(object), 0);
            assert_eq!((CORE_API.object_finalize)(object), -1);
            assert!(last_error().contains("already finalized"));
            assert_eq!(
                (CORE_API.object_allocate)(object, 0, 16, 16, &mut section),
                -1
            );
            (CORE_API.object_free)(object);
            assert_eq!((CORE_API.object_finalize)(std::ptr::null_mut()), -1);
            assert!(last_error().contains("null"));
            (CORE_API.object_free)(std::ptr::null_mut());
            (CORE_API.arena_release)(arena);
        }
        let bad = jitmm_config {
            strategy: 9,
            ..Default::default()
        };
        // SAFETY: a valid config pointer.
        assert!(unsafe { (CORE_API.arena_acquire)(&bad) }.is_null());
        assert!(last_error().contains("strategy"));
    }

    #[test]
    fn stale_foreign_and_wrong_kind_handles_are_errors() {
        let config = jitmm_config {
            strategy: 2,
            ..Default::default()
        };
        let mut foreign = [0u64; 8];
        let foreign = foreign.as_mut_ptr();
        // SAFETY: valid handles where the call needs one; every other
        // pointer is one the boundary must reject without dereferencing.
        unsafe {
            let arena = (CORE_API.arena_acquire)(&config);
            let object = (CORE_API.object_new)(arena);
            assert!(!object.is_null());
            // An object passed as an arena and the reverse.
            assert!((CORE_API.object_new)(object.cast()).is_null());
            assert!(last_error().contains("unknown arena handle"));
            assert_eq!((CORE_API.object_finalize)(arena.cast()), -1);
            assert!(last_error().contains("unknown object handle"));
            // Inside a live handle: an object's address plus one byte (its
            // tag in the table would be the object's) and plus a word.
            for inside in [object.cast::<u8>().add(1), object.cast::<u8>().add(8)] {
                assert!((CORE_API.object_new)(inside.cast()).is_null());
                assert!(last_error().contains("unknown arena handle"));
                assert_eq!((CORE_API.object_finalize)(inside.cast()), -1);
                assert!(last_error().contains("unknown object handle"));
            }
            // Foreign pointers.
            assert_eq!((CORE_API.object_finalize)(foreign.cast()), -1);
            (CORE_API.object_free)(foreign.cast());
            assert!(last_error().contains("unknown object handle"));
            (CORE_API.arena_release)(foreign.cast());
            assert!(last_error().contains("unknown arena handle"));
            // Double free and use after free.
            (CORE_API.object_free)(object);
            core_set_last_error(c"".as_ptr());
            (CORE_API.object_free)(object);
            assert!(last_error().contains("unknown object handle"));
            (CORE_API.object_mark_mapped)(object);
            assert_eq!((CORE_API.object_wants_symbols)(object), 0);
            let mut section = CoreSection {
                rw: std::ptr::null_mut(),
                exec: std::ptr::null_mut(),
            };
            assert_eq!(
                (CORE_API.object_allocate)(object, 0, 16, 16, &mut section),
                -1
            );
            assert!(last_error().contains("unknown object handle"));
            // Double release.
            (CORE_API.arena_release)(arena);
            assert_eq!((CORE_API.arena_is_dual_mapped)(arena), 0);
            core_set_last_error(c"".as_ptr());
            (CORE_API.arena_release)(arena);
            assert!(last_error().contains("unknown arena handle"));
        }
    }

    #[test]
    fn a_second_reservation_replaces_the_first() {
        if !crate::probe().dual_map {
            return;
        }
        let config = jitmm_config {
            strategy: 1,
            private_arena: 1,
            ..Default::default()
        };
        // SAFETY: valid handles and out pointers throughout.
        unsafe {
            let arena = (CORE_API.arena_acquire)(&config);
            let object = (CORE_API.object_new)(arena);
            assert_eq!((CORE_API.object_reserve)(object, 64, 16, 0, 0, 0, 0), 0);
            assert_eq!((CORE_API.object_reserve)(object, 64, 16, 0, 0, 0, 0), 0);
            let mut section = CoreSection {
                rw: std::ptr::null_mut(),
                exec: std::ptr::null_mut(),
            };
            assert_eq!(
                (CORE_API.object_allocate)(object, 2, 16, 16, &mut section),
                0
            );
            // No code was placed: nothing of either reservation stays, and
            // read-write data alone needs no mapping before finalize.
            assert_eq!((CORE_API.object_finalize)(object), 0, "{}", last_error());
            assert_eq!((*arena).arena.live_bytes(), 16);
            (CORE_API.object_free)(object);
            (CORE_API.arena_release)(arena);
        }
    }

    #[test]
    fn stats_get_rejects_null() {
        // SAFETY: NULL is the case under test.
        assert_eq!(unsafe { jitmm_stats_get(std::ptr::null_mut()) }, -1);
        let mut stats = Stats::default();
        // SAFETY: a valid out pointer.
        assert_eq!(unsafe { jitmm_stats_get(&mut stats) }, 0);
    }
}
