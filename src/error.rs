//! Typed errors: what was attempted, under which strategy, and why it failed.

pub use crate::os::{Errno, Op};
use crate::strategy::Strategy;

/// Everything that can go wrong in jitmm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    #[error("{op} failed under strategy {strategy:?}: {errno}")]
    Os {
        /// The call that failed.
        op: Op,
        /// The strategy the arena uses.
        strategy: Strategy,
        /// Why the kernel refused.
        errno: Errno,
    },
    /// A section of zero bytes was requested.
    #[error("zero-sized allocation")]
    ZeroSize,
    /// An alignment that is not a power of two or exceeds a page.
    #[error("bad alignment {align}: must be a power of two no larger than the page size {page}")]
    BadAlignment {
        /// The requested alignment.
        align: usize,
        /// The page size.
        page: usize,
    },
    /// A size that cannot fit the arena at all (or overflows).
    #[error("allocation of {size} bytes exceeds the arena's reservation of {limit} bytes")]
    TooLarge {
        /// The requested size.
        size: usize,
        /// The reservation size.
        limit: usize,
    },
    /// Every block of the reservation is taken: no section can be placed within
    /// branch range of the others.
    #[error("arena reservation exhausted: {requested} bytes requested, {reserved} bytes reserved in all")]
    ReservationExhausted {
        /// Bytes asked for.
        requested: usize,
        /// Size of the reservation.
        reserved: usize,
    },
    /// `finalize` on an object that is already finalized.
    #[error("object already finalized")]
    AlreadyFinalized,
    /// A dual-mapped object reached finalize before the linker was told the
    /// executable addresses of its sections (`notifyObjectLoaded` was not called).
    #[error("dual-mapped object finalized before its sections were mapped to their executable addresses (notifyObjectLoaded was not called)")]
    NotMapped,
    /// The strategy cannot work on this OS or under this policy.
    #[error("strategy {strategy:?} unsupported here: {reason}")]
    Unsupported {
        /// The strategy asked for.
        strategy: Strategy,
        /// What the probe found.
        reason: String,
    },
    /// LLVM refused (engine creation, target initialisation).
    #[error("LLVM: {0}")]
    Llvm(String),
    /// A null pointer or a handle that jitmm did not hand out.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Turns an errno of `op` into the error of an arena of `strategy`.
pub(crate) fn os_error(strategy: Strategy, op: Op) -> impl Fn(Errno) -> Error {
    move |errno| Error::Os {
        op,
        strategy,
        errno,
    }
}
