//! The `extern "C"` boundary: the core table the C++ shim calls through, and
//! the C API of `cshim/jitmm.h` (exported from libjitmm.so / libjitmm.a).
//!
//! No panic crosses this boundary: every entry runs inside
//! [`catch_unwind`] and turns failures into a NULL / -1 return plus a
//! message for [`jitmm_last_error`].
//!
//! Handles are checked before use, against the table of those handed out
//! (`crate::handles`).
//!
//! What a linker calls for every object file (allocate, placed, finalize,
//! and what they call) sits in section `.text.hot.jitmm` with the shim's
//! side of it (`JITMM_HOT` in `cshim/shim.h`): it runs with caches and TLBs
//! cold from compiling, where every page it touches costs more than its
//! work, and error paths stay out of line.

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::mem::size_of;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::arena::{Arena, Class};
use crate::config::Config;
use crate::error::Error;
use crate::handles::{check, register, unregister, Kind};
use crate::object::{Batches, ObjectCore};
use crate::registry;
use crate::stats::Stats;
use crate::strategy::Strategy;

#[cfg(feature = "llvm")]
mod llvm;
#[cfg(feature = "llvm")]
pub use llvm::*;

/// `jitmm_config` of `cshim/jitmm.h`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct jitmm_config {
    /// `sizeof(jitmm_config)`, set by `jitmm_config_init` (and [`Default`]):
    /// a client built against another layout is refused, not misread.
    pub size: usize,
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

impl Default for jitmm_config {
    fn default() -> Self {
        jitmm_config {
            size: size_of::<jitmm_config>(),
            strategy: 0,
            private_arena: 0,
            reservation_size: 0,
            perf_map: 0,
            debugger: 0,
        }
    }
}

// The layout `cshim/jitmm.h` declares (the shim asserts the same).
const _: () = assert!(size_of::<jitmm_config>() == 2 * size_of::<usize>() + 4 * size_of::<c_int>());
// `jitmm_stats`: a size field and 15 counters.
const _: () = assert!(size_of::<Stats>() == 16 * size_of::<u64>());

/// The C API's number for a strategy (`jitmm_strategy`).
fn strategy_to_c(strategy: Strategy) -> c_int {
    match strategy {
        Strategy::Auto => 0,
        Strategy::DualMap => 1,
        Strategy::Mprotect => 2,
    }
}

impl From<&Config> for jitmm_config {
    fn from(config: &Config) -> jitmm_config {
        jitmm_config {
            strategy: strategy_to_c(config.strategy),
            private_arena: c_int::from(config.private_arena),
            reservation_size: config.reservation_size.unwrap_or(0),
            perf_map: c_int::from(config.perf_map),
            debugger: c_int::from(config.debugger),
            ..jitmm_config::default()
        }
    }
}

impl TryFrom<&jitmm_config> for Config {
    type Error = Error;

    fn try_from(c: &jitmm_config) -> Result<Config, Error> {
        if c.size != size_of::<jitmm_config>() {
            return Err(Error::InvalidArgument(
                "jitmm_config.size is not sizeof(jitmm_config): initialise it with jitmm_config_init",
            ));
        }
        let strategy = [Strategy::Auto, Strategy::DualMap, Strategy::Mprotect]
            .into_iter()
            .find(|&s| strategy_to_c(s) == c.strategy)
            .ok_or(Error::InvalidArgument("jitmm_config.strategy out of range"))?;
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
    /// `sizeof(jitmm_core_api)`: the shim refuses a table of another layout.
    pub size: usize,
    /// Resolves a config (NULL: defaults) to an arena handle; NULL on error.
    pub arena_acquire: unsafe extern "C" fn(*const jitmm_config) -> *mut CoreArena,
    /// Releases a handle from `arena_acquire`.
    pub arena_release: unsafe extern "C" fn(*mut CoreArena),
    /// Nonzero when code and rodata have a writable view apart (DualMap).
    pub arena_is_dual_mapped: unsafe extern "C" fn(*const CoreArena) -> c_int,
    /// A new empty object in an arena; NULL on error.
    pub object_new: unsafe extern "C" fn(*mut CoreArena) -> *mut ObjectCore,
    /// A new empty object finalized after each batch of sections (every
    /// object file one MCJIT engine loads); NULL on error.
    pub object_new_batched: unsafe extern "C" fn(*mut CoreArena) -> *mut ObjectCore,
    /// Reserves one chunk per class: (size, align) for code, rodata, rwdata.
    pub object_reserve:
        unsafe extern "C" fn(*mut ObjectCore, usize, usize, usize, usize, usize, usize) -> c_int,
    /// Allocates a section of a class (0 code, 1 rodata, 2 rwdata).
    pub object_allocate:
        unsafe extern "C" fn(*mut ObjectCore, c_int, usize, usize, *mut CoreSection) -> c_int,
    /// Records that the linker has placed every section and knows its
    /// executable address; what was reserved and not used goes back.
    pub object_placed: unsafe extern "C" fn(*mut ObjectCore),
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

// One size field and 15 entries, as `cshim/core.h` declares (the shim
// asserts the same).
const _: () = assert!(size_of::<CoreApi>() == 16 * size_of::<usize>());

/// The one table handed to the shim.
pub static CORE_API: CoreApi = CoreApi {
    size: size_of::<CoreApi>(),
    arena_acquire: core_arena_acquire,
    arena_release: core_arena_release,
    arena_is_dual_mapped: core_arena_is_dual_mapped,
    object_new: core_object_new,
    object_new_batched: core_object_new_batched,
    object_reserve: core_object_reserve,
    object_allocate: core_object_allocate,
    object_placed: core_object_placed,
    object_finalize: core_object_finalize,
    object_free: core_object_free,
    last_error: jitmm_last_error,
    set_last_error: core_set_last_error,
    object_wants_symbols: core_object_wants_symbols,
    object_add_symbol: core_object_add_symbol,
    arena_debugger: core_arena_debugger,
};

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
            report(&error);
            fallback
        }
        Err(_) => {
            report_panic();
            fallback
        }
    }
}

/// Out of line: the entries' code stays small (see the module docs).
#[cold]
#[inline(never)]
fn report(error: &Error) {
    set_error(error.to_string());
}

#[cold]
#[inline(never)]
fn report_panic() {
    set_error("internal error: panic inside jitmm");
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
        Ok(c_int::from(arena.arena.strategy() == Strategy::DualMap))
    })
}

unsafe extern "C" fn core_arena_debugger(arena: *const CoreArena) -> c_int {
    guard(0, || {
        check(arena, Kind::Arena)?;
        // SAFETY: a live handle from `core_arena_acquire` (checked above).
        Ok(c_int::from(unsafe { &*arena }.debugger))
    })
}

unsafe extern "C" fn core_object_new(arena: *mut CoreArena) -> *mut ObjectCore {
    // SAFETY: passed on as received.
    unsafe { new_object(arena, Batches::One) }
}

unsafe extern "C" fn core_object_new_batched(arena: *mut CoreArena) -> *mut ObjectCore {
    // SAFETY: passed on as received.
    unsafe { new_object(arena, Batches::Many) }
}

/// A new object handle in an arena handle; NULL (and the error) when the
/// arena handle is not live.
///
/// # Safety
/// `arena` is NULL or was returned by `core_arena_acquire`.
unsafe fn new_object(arena: *mut CoreArena, batches: Batches) -> *mut ObjectCore {
    guard(std::ptr::null_mut(), || {
        check(arena, Kind::Arena)?;
        // SAFETY: a live handle from `core_arena_acquire` (checked above).
        let arena = unsafe { &*arena };
        let mut object = ObjectCore::with_batches(arena.arena.clone(), batches);
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

#[link_section = ".text.hot.jitmm"]
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

#[link_section = ".text.hot.jitmm"]
unsafe extern "C" fn core_object_placed(object: *mut ObjectCore) {
    if object.is_null() {
        return;
    }
    guard((), || {
        // SAFETY: see `object_mut`.
        unsafe { object_mut(object) }?.sections_placed();
        Ok(())
    })
}

#[link_section = ".text.hot.jitmm"]
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

/// Copies the process-wide counters; 0 on success, -1 if `out` is NULL or
/// `out->size` is not `sizeof(jitmm_stats)` (then nothing else is written).
///
/// # Safety
/// `out` must be NULL or point to writable memory for a `jitmm_stats` whose
/// `size` field is set.
#[no_mangle]
pub unsafe extern "C" fn jitmm_stats_get(out: *mut Stats) -> c_int {
    // SAFETY: guaranteed by the caller.
    match unsafe { out.as_mut() } {
        None => {
            set_error("jitmm_stats_get: out is NULL");
            -1
        }
        Some(out) if out.size != size_of::<Stats>() as u64 => {
            set_error("jitmm_stats_get: out->size is not sizeof(jitmm_stats)");
            -1
        }
        Some(out) => guard(-1, || {
            *out = registry::stats();
            Ok(0)
        }),
    }
}

/// Returns every free page of every arena to the OS now, including those
/// kept resident for quick reuse.
#[no_mangle]
pub extern "C" fn jitmm_trim() {
    let _ = guard(-1, || {
        registry::trim();
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
            (CORE_API.object_placed)(object);
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
        if !crate::probe::probe().dual_map {
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
        stats.size += 8;
        // SAFETY: as above; a size of another layout is the case under test.
        assert_eq!(unsafe { jitmm_stats_get(&mut stats) }, -1);
    }
}
