//! The block table of a reservation: which [`BLOCK_SIZE`] blocks belong to
//! a span, and where each class looks for new ones.

use std::ops::Range;

use super::Class;

/// The unit a reservation is handed to classes in. Large enough that a
/// class's spans are few (one VMA per run of adjacent spans) and mapping a
/// new one is rare; small enough that a JIT with little code maps little. A
/// multiple of every page size and cache-colour alignment Linux uses
/// (SHMLBA is at most 64 KiB), so block offsets are aligned for any view.
/// Reservations start at a multiple of it, so every block's views are
/// colour-aligned for `MAP_FIXED | MAP_SHARED` on every architecture.
pub const BLOCK_SIZE: usize = 2 << 20;

const _: () = assert!(BLOCK_SIZE % crate::os::MAX_SHMLBA == 0);

/// Code must not start at an address whose low 32 bits are zero: libgcc's
/// unwinder takes an FDE whose 4-byte `pc_begin` (LLVM's `pcrel|sdata4`, on
/// every 64-bit target) reads as 0 in those bits for one of a removed
/// link-once function and skips it (`classify_object_over_fdes`,
/// `add_fdes` and `linear_search_fdes` in libgcc's `unwind-dw2-fde.c`), so
/// an exception thrown through a function there ends in `std::terminate`.
/// Where pointers are 4 bytes the encoding covers the whole address and
/// only address 0 is affected, which the same test bars.
const FDE_BLIND_ALIGN: u64 = 1 << 32;

/// Which blocks are taken, by index, and which may never hold code.
#[derive(Debug)]
pub(super) struct Blocks {
    taken: Vec<bool>,
    /// Where the reservation starts, for [`Blocks::may_hold_code`].
    base: usize,
}

impl Blocks {
    /// A table for `size` bytes (a multiple of [`BLOCK_SIZE`]) reserved at
    /// `base` (a multiple of it), all free.
    pub(super) fn new(base: usize, size: usize) -> Blocks {
        Blocks {
            taken: vec![false; size / BLOCK_SIZE],
            base,
        }
    }

    /// Whether block `i` may hold code: not if it starts at an address the
    /// unwinder is blind to (see [`FDE_BLIND_ALIGN`]; at most one block per
    /// 4 GiB, still given to data).
    fn may_hold_code(&self, i: usize) -> bool {
        (self.base as u64 + (i * BLOCK_SIZE) as u64) % FDE_BLIND_ALIGN != 0
    }

    /// Claims contiguous free blocks for `len` bytes (a multiple of
    /// [`BLOCK_SIZE`]); returns their offsets.
    ///
    /// Each class starts its search in a zone of its own (code at the
    /// bottom, read-only data from the middle, read-write data from three
    /// quarters up), so the blocks of a class are adjacent and merge into
    /// one VMA; when its zone is full a class takes free blocks anywhere.
    pub(super) fn claim(&mut self, class: Class, len: usize) -> Option<Range<usize>> {
        let n = len / BLOCK_SIZE;
        let total = self.taken.len();
        let zone = match class {
            Class::Code => 0,
            Class::ReadOnly => total / 2,
            Class::ReadWrite => total * 3 / 4,
        };
        let free = |i: usize| !self.taken[i] && (class != Class::Code || self.may_hold_code(i));
        let first =
            first_free_run(zone..total, n, free).or_else(|| first_free_run(0..total, n, free))?;
        self.taken[first..first + n].fill(true);
        Some(first * BLOCK_SIZE..(first + n) * BLOCK_SIZE)
    }

    /// Frees the blocks of `span` (offsets from [`Blocks::claim`]).
    pub(super) fn release(&mut self, span: Range<usize>) {
        self.taken[span.start / BLOCK_SIZE..span.end / BLOCK_SIZE].fill(false);
    }
}

/// Index of the first run of `n` indexes in `within` that are all `free`.
fn first_free_run(within: Range<usize>, n: usize, free: impl Fn(usize) -> bool) -> Option<usize> {
    let mut run = 0;
    for i in within {
        run = if free(i) { run + 1 } else { 0 };
        if run == n {
            return Some(i + 1 - n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: usize = BLOCK_SIZE;

    #[test]
    fn classes_start_in_their_zones_and_overflow_anywhere() {
        let mut blocks = Blocks::new(16 * B, 8 * B);
        assert_eq!(blocks.claim(Class::Code, B), Some(0..B));
        assert_eq!(blocks.claim(Class::ReadOnly, 2 * B), Some(4 * B..6 * B));
        assert_eq!(blocks.claim(Class::ReadWrite, B), Some(6 * B..7 * B));
        assert_eq!(blocks.claim(Class::ReadWrite, 2 * B), Some(B..3 * B));
        assert_eq!(blocks.claim(Class::Code, 2 * B), None);
        blocks.release(4 * B..6 * B);
        assert_eq!(blocks.claim(Class::Code, 2 * B), Some(3 * B..5 * B));
    }

    /// The blocks code may not take.
    fn barred(blocks: &Blocks) -> Vec<usize> {
        let all = 0..blocks.taken.len();
        all.filter(|&i| !blocks.may_hold_code(i)).collect()
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn code_never_takes_a_block_at_a_multiple_of_4_gib() {
        let boundary = 3 * FDE_BLIND_ALIGN as usize;
        let mut blocks = Blocks::new(boundary, 4 * B);
        assert_eq!(blocks.claim(Class::Code, B), Some(B..2 * B));
        assert_eq!(blocks.claim(Class::Code, 2 * B), Some(2 * B..4 * B));
        assert_eq!(blocks.claim(Class::Code, B), None);
        assert_eq!(blocks.claim(Class::ReadWrite, B), Some(0..B));

        // A run of code may not cross it either; data may.
        let mut blocks = Blocks::new(boundary - 2 * B, 4 * B);
        assert_eq!(blocks.claim(Class::Code, 3 * B), None);
        assert_eq!(blocks.claim(Class::Code, 2 * B), Some(0..2 * B));
        assert_eq!(blocks.claim(Class::ReadOnly, 2 * B), Some(2 * B..4 * B));
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn blind_blocks_are_the_multiples_of_4_gib_inside_the_reservation() {
        let g = FDE_BLIND_ALIGN as usize;
        assert_eq!(barred(&Blocks::new(g, B)), vec![0]);
        assert_eq!(barred(&Blocks::new(g + B, g - B)), Vec::<usize>::new());
        assert_eq!(barred(&Blocks::new(g - B, 2 * B)), vec![1]);
        assert_eq!(barred(&Blocks::new(g - B, g + 2 * B)), vec![1, g / B + 1]);
    }
}
