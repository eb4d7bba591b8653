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

/// Which blocks are taken, by index.
#[derive(Debug)]
pub(super) struct Blocks {
    taken: Vec<bool>,
}

impl Blocks {
    /// A table for `size` bytes (a multiple of [`BLOCK_SIZE`]), all free.
    pub(super) fn new(size: usize) -> Blocks {
        Blocks {
            taken: vec![false; size / BLOCK_SIZE],
        }
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
        let first = first_free_run(&self.taken[zone..], n)
            .map(|i| i + zone)
            .or_else(|| first_free_run(&self.taken, n))?;
        self.taken[first..first + n].fill(true);
        Some(first * BLOCK_SIZE..(first + n) * BLOCK_SIZE)
    }

    /// Frees the blocks of `span` (offsets from [`Blocks::claim`]).
    pub(super) fn release(&mut self, span: Range<usize>) {
        self.taken[span.start / BLOCK_SIZE..span.end / BLOCK_SIZE].fill(false);
    }
}

/// Index of the first run of `n` free (`false`) entries.
fn first_free_run(blocks: &[bool], n: usize) -> Option<usize> {
    let mut run = 0;
    for (i, &taken) in blocks.iter().enumerate() {
        run = if taken { 0 } else { run + 1 };
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
        let mut blocks = Blocks::new(8 * B);
        assert_eq!(blocks.claim(Class::Code, B), Some(0..B));
        assert_eq!(blocks.claim(Class::ReadOnly, 2 * B), Some(4 * B..6 * B));
        assert_eq!(blocks.claim(Class::ReadWrite, B), Some(6 * B..7 * B));
        assert_eq!(blocks.claim(Class::ReadWrite, 2 * B), Some(B..3 * B));
        assert_eq!(blocks.claim(Class::Code, 2 * B), None);
        blocks.release(4 * B..6 * B);
        assert_eq!(blocks.claim(Class::Code, 2 * B), Some(3 * B..5 * B));
    }
}
