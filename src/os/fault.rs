//! Test-only fault injection (cargo feature `fault-injection`, never in a
//! release build): makes a chosen OS call of the core fail with a chosen
//! errno, without making the call, so tests can walk every failure path.
//!
//! State is per thread: a test arms its own thread, and only the OS calls
//! that thread makes count, so tests running in parallel do not disturb
//! one another. Every wrapper in the OS backend starts with [`check`].
//!
//! ```ignore
//! fault::arm(None);                 // record only
//! run_scenario();
//! let calls = fault::disarm();      // the OS calls it made, in order
//! for i in 0..calls.len() {
//!     fault::arm(Some((i, Errno(libc::ENOMEM))));  // the i-th call fails
//!     run_scenario();               // must return a typed error
//!     fault::disarm();
//! }
//! ```

use std::cell::RefCell;

pub use super::{Errno, Op, Prot};

#[derive(Default)]
struct State {
    armed: bool,
    calls: Vec<Op>,
    fail: Option<(usize, Errno)>,
    /// Every call of this kind fails (see [`refuse`]).
    refused: Option<(Op, Errno)>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Starts recording this thread's OS calls from index 0; with
/// `Some((at, errno))` the call at index `at` fails with `errno` (once).
pub fn arm(fail: Option<(usize, Errno)>) {
    STATE.with(|s| {
        *s.borrow_mut() = State {
            armed: true,
            calls: Vec::new(),
            fail,
            refused: None,
        }
    });
}

/// Makes every call of `op` on this thread fail with `errno` from now on,
/// as a kernel or sandbox that refuses it would (until [`disarm`]).
pub fn refuse(op: Op, errno: Errno) {
    arm(None);
    STATE.with(|s| s.borrow_mut().refused = Some((op, errno)));
}

/// Stops recording and injecting; returns the calls made since [`arm`],
/// including the one that was made to fail.
pub fn disarm() -> Vec<Op> {
    STATE.with(|s| std::mem::take(&mut *s.borrow_mut()).calls)
}

/// Called first by every OS wrapper: `Err` when this call is the one to fail.
pub(crate) fn check(op: Op) -> Result<(), Errno> {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if !s.armed {
            return Ok(());
        }
        let index = s.calls.len();
        s.calls.push(op);
        match (s.fail, s.refused) {
            (Some((at, errno)), _) if at == index => Err(errno),
            (_, Some((refused, errno))) if refused == op => Err(errno),
            _ => Ok(()),
        }
    })
}
