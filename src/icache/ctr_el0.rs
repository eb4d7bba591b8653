//! Decoding of the AArch64 Cache Type Register (CTR_EL0), kept free of
//! assembly so that it is unit-tested on every host.

/// What CTR_EL0 says about cache maintenance for code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheType {
    /// Smallest data-cache line in bytes (DminLine).
    pub dcache_line: usize,
    /// Smallest instruction-cache line in bytes (IminLine).
    pub icache_line: usize,
    /// IDC: data-cache clean to the point of unification is not required.
    pub idc: bool,
    /// DIC: instruction-cache invalidation is not required.
    pub dic: bool,
}

impl CacheType {
    /// Decodes a raw CTR_EL0 value.
    pub fn decode(ctr: u64) -> Self {
        CacheType {
            icache_line: 4 << (ctr & 0xf),
            dcache_line: 4 << ((ctr >> 16) & 0xf),
            idc: ctr & (1 << 28) != 0,
            dic: ctr & (1 << 29) != 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cortex_a53_like() {
        // Cortex-A53: CTR_EL0 = 0x8444c004 (DminLine 4 → 64 B, IminLine 4 → 64 B).
        let t = CacheType::decode(0x8444_c004);
        assert_eq!(t.dcache_line, 64);
        assert_eq!(t.icache_line, 64);
        assert!(!t.idc && !t.dic);
    }

    #[test]
    fn neoverse_n1_like_with_idc_dic() {
        // Neoverse N1 / Apple: IDC and DIC set, 64-byte lines.
        let t = CacheType::decode(0xb444_c004);
        assert!(t.idc && t.dic);
        assert_eq!(t.dcache_line, 64);
    }

    #[test]
    fn different_line_sizes() {
        // ThunderX-like: DminLine 5 → 128 B, IminLine 3 → 32 B.
        let t = CacheType::decode(0x8455_c003);
        assert_eq!(t.dcache_line, 128);
        assert_eq!(t.icache_line, 32);
    }
}
