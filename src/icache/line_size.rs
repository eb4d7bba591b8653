//! Cache-line sizes reported by the kernel (auxiliary vector on PowerPC),
//! kept free of assembly so that the decoding is unit-tested on every host.

/// Line size used when the reported value is unusable (0 or not a power of
/// two). Smaller than any real line, so stepping by it never skips a line.
pub const FALLBACK_LINE: usize = 32;

/// A usable line size from a reported value: the value itself when it is a
/// power of two of at least 4 bytes, else [`FALLBACK_LINE`].
pub fn from_reported(value: u64) -> usize {
    match usize::try_from(value) {
        Ok(v) if v >= 4 && v.is_power_of_two() => v,
        _ => FALLBACK_LINE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_of_two_values_are_used() {
        assert_eq!(from_reported(128), 128);
        assert_eq!(from_reported(32), 32);
        assert_eq!(from_reported(64), 64);
    }

    #[test]
    fn unusable_values_fall_back_to_the_small_line() {
        assert_eq!(from_reported(0), FALLBACK_LINE);
        assert_eq!(from_reported(96), FALLBACK_LINE);
        assert_eq!(from_reported(2), FALLBACK_LINE);
        assert_eq!(from_reported(u64::MAX), FALLBACK_LINE);
    }
}
