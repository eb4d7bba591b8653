//! The `extern "C"` boundary: the core table the C++ shim calls through, and
//! the C API of `cshim/jitmm.h` (exported from libjitmm.so / libjitmm.a).
//!
//! No panic crosses this boundary: every entry runs inside
//! [`catch_unwind`] and turns failures into a NULL / -1 return plus a
//! message for [`jitmm_last_error`].

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::arena::{Arena, Class};
use crate::config::{Config, Strategy};
use crate::error::Error;
use crate::object::ObjectCore;
use crate::stats::Stats;

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
        Ok(config.perf_map(c.perf_map != 0))
    }
}

/// `jitmm_core_section`.
#[repr(C)]
#[derive(Debug)]
pub struct CoreSection {
    rw: *mut u8,
    exec: *mut u8,
}

/// An arena handle owned by the shim, with the per-manager settings that
/// objects inherit.
pub struct CoreArena {
    arena: Arc<Arena>,
    perf_map: bool,
}

/// `jitmm_core_api`: the table the shim calls the core through.
#[repr(C)]
pub struct CoreApi {
    arena_acquire: unsafe extern "C" fn(*const jitmm_config) -> *mut CoreArena,
    arena_release: unsafe extern "C" fn(*mut CoreArena),
    arena_is_dual_mapped: unsafe extern "C" fn(*const CoreArena) -> c_int,
    object_new: unsafe extern "C" fn(*mut CoreArena) -> *mut ObjectCore,
    object_reserve:
        unsafe extern "C" fn(*mut ObjectCore, usize, usize, usize, usize, usize, usize) -> c_int,
    object_allocate:
        unsafe extern "C" fn(*mut ObjectCore, c_int, usize, usize, *mut CoreSection) -> c_int,
    object_mark_mapped: unsafe extern "C" fn(*mut ObjectCore),
    object_finalize: unsafe extern "C" fn(*mut ObjectCore) -> c_int,
    object_free: unsafe extern "C" fn(*mut ObjectCore),
    last_error: unsafe extern "C" fn() -> *const c_char,
    set_last_error: unsafe extern "C" fn(*const c_char),
    object_wants_symbols: unsafe extern "C" fn(*const ObjectCore) -> c_int,
    object_add_symbol: unsafe extern "C" fn(*mut ObjectCore, *const c_char, usize, u64, u64),
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
        Ok(Box::into_raw(Box::new(CoreArena {
            arena,
            perf_map: config.perf_map_enabled(),
        })))
    })
}

unsafe extern "C" fn core_arena_release(arena: *mut CoreArena) {
    if !arena.is_null() {
        // SAFETY: `arena` came from `core_arena_acquire` and is released once.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(arena) })));
    }
}

unsafe extern "C" fn core_arena_is_dual_mapped(arena: *const CoreArena) -> c_int {
    // SAFETY: the shim passes a live handle from `core_arena_acquire`.
    unsafe { arena.as_ref() }.map_or(0, |a| c_int::from(a.arena.is_dual_mapped()))
}

unsafe extern "C" fn core_object_new(arena: *mut CoreArena) -> *mut ObjectCore {
    guard(std::ptr::null_mut(), || {
        // SAFETY: the shim passes a live handle from `core_arena_acquire`.
        let arena = unsafe { arena.as_ref() }.ok_or(Error::InvalidArgument("null arena"))?;
        let mut object = ObjectCore::new(arena.arena.clone());
        if arena.perf_map {
            object.enable_perf_map();
        }
        Ok(Box::into_raw(Box::new(object)))
    })
}

/// Borrows an object handle.
///
/// # Safety
/// `object` must be NULL or a live handle from `core_object_new`, not used
/// concurrently (the shim serialises calls per object).
unsafe fn object_mut<'a>(object: *mut ObjectCore) -> Result<&'a mut ObjectCore, Error> {
    // SAFETY: guaranteed by the caller.
    unsafe { object.as_mut() }.ok_or(Error::InvalidArgument("null object"))
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
    // SAFETY: see `object_mut`.
    if let Ok(object) = unsafe { object_mut(object) } {
        object.mark_mapped();
    }
}

unsafe extern "C" fn core_object_finalize(object: *mut ObjectCore) -> c_int {
    guard(-1, || {
        // SAFETY: see `object_mut`.
        unsafe { object_mut(object) }?.finalize()?;
        Ok(0)
    })
}

unsafe extern "C" fn core_object_free(object: *mut ObjectCore) {
    if !object.is_null() {
        // SAFETY: `object` came from `core_object_new` and is freed once.
        let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { Box::from_raw(object) })));
    }
}

unsafe extern "C" fn core_object_wants_symbols(object: *const ObjectCore) -> c_int {
    // SAFETY: the shim passes NULL or its own live handle.
    unsafe { object.as_ref() }.map_or(0, |o| c_int::from(o.wants_symbols()))
}

unsafe extern "C" fn core_object_add_symbol(
    object: *mut ObjectCore,
    name: *const c_char,
    name_len: usize,
    addr: u64,
    size: u64,
) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: see `object_mut`.
        let Ok(object) = (unsafe { object_mut(object) }) else {
            return;
        };
        if name.is_null() {
            return;
        }
        // SAFETY: the shim passes `name_len` readable bytes at `name`.
        let bytes = unsafe { std::slice::from_raw_parts(name.cast::<u8>(), name_len) };
        object.add_symbol(String::from_utf8_lossy(bytes).into_owned(), addr, size);
    }));
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
    fn stats_get_rejects_null() {
        // SAFETY: NULL is the case under test.
        assert_eq!(unsafe { jitmm_stats_get(std::ptr::null_mut()) }, -1);
        let mut stats = Stats::default();
        // SAFETY: a valid out pointer.
        assert_eq!(unsafe { jitmm_stats_get(&mut stats) }, 0);
    }
}
