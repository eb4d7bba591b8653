//! The two ways jitmm makes code executable, and `Auto`, which leaves the
//! choice to [`probe`](crate::probe()).

use std::str::FromStr;

/// How code is made executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// Let [`probe`](crate::probe) decide: [`Strategy::DualMap`] where shared
    /// executable mappings work, else [`Strategy::Mprotect`]. The environment
    /// variable `JITMM_STRATEGY=auto|dualmap|mprotect` overrides this choice,
    /// and only this one: an explicit strategy in a [`Config`](crate::Config) wins.
    #[default]
    Auto,
    /// A memfd mapped twice: the linker writes through an RW view, code runs
    /// from an RX view inside the reservation. Finalize is an icache flush,
    /// never a syscall, and no page is ever writable and executable.
    DualMap,
    /// Sections are written in place and `mprotect`ed to RX / R at finalize;
    /// code executes at the address it was written to. Code and read-only
    /// data are page-granular per object.
    Mprotect,
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Strategy::Auto),
            "dualmap" | "dual-map" | "dual_map" => Ok(Strategy::DualMap),
            "mprotect" => Ok(Strategy::Mprotect),
            other => Err(format!(
                "unknown strategy {other:?}: expected auto, dualmap or mprotect"
            )),
        }
    }
}
