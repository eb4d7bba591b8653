//! The C boundary's handle table: every arena and object handle handed out
//! and not yet taken back, so that NULL, a handle released or freed before,
//! a pointer jitmm never returned and an object passed as an arena (or the
//! reverse) are all `Error::InvalidArgument` without touching the memory
//! they point to.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashSet;

use crate::error::Error;
use crate::sync::Mutex;

/// What a live handle points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
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
/// taken or held, and across `fork()` (see [`lock_for_fork`]: the registry's fork handlers
/// take it, installed with the first arena, which every handle follows); a
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
pub(crate) fn register<T>(handle: *mut T, kind: Kind) -> *mut T {
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
#[link_section = ".text.hot.jitmm"]
pub(crate) fn check<T>(handle: *const T, kind: Kind) -> Result<(), Error> {
    if handle.is_null() {
        return Err(errors(kind).0);
    }
    let address = handle as usize;
    // Read before the lookup: a release after it makes the entry stale.
    let releases = RELEASES.load(Ordering::Acquire);
    if LAST_CHECKED.get()[kind as usize] == (address, releases) {
        return Ok(());
    }
    look_up(handle, kind, releases)
}

/// [`check`] past the per-thread cache: the table.
#[inline(never)]
fn look_up<T>(handle: *const T, kind: Kind, releases: u64) -> Result<(), Error> {
    let (_, unknown) = errors(kind);
    let entry = tagged(handle, kind).ok_or(unknown.clone())?;
    if !handles(&mut HANDLES.lock()).contains(&entry) {
        return Err(unknown);
    }
    remember_live(handle as usize, kind, releases);
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
pub(crate) fn unregister<T>(handle: *mut T, kind: Kind) -> Result<(), Error> {
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

/// Takes the table's lock and keeps it (fork prepare), so that a child
/// never inherits it locked by a thread that does not exist there.
pub(crate) fn lock_for_fork() {
    std::mem::forget(HANDLES.lock());
}

/// Releases what [`lock_for_fork`] took.
///
/// # Safety
/// Only after `lock_for_fork`, once, in the parent or in the child.
pub(crate) unsafe fn unlock_after_fork() {
    // SAFETY: `lock_for_fork` took the lock and forgot its guard.
    unsafe { HANDLES.force_unlock() };
}
