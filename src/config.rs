//! How a memory manager obtains and protects memory.

use std::str::FromStr;

/// How code is made executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// Let [`probe`](crate::probe) decide: [`Strategy::DualMap`] where shared
    /// executable mappings work, else [`Strategy::Mprotect`]. The environment
    /// variable `JITMM_STRATEGY=auto|dualmap|mprotect` overrides this choice,
    /// and only this one: an explicit strategy in a [`Config`] wins.
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

/// The environment variable that overrides [`Strategy::Auto`].
pub const STRATEGY_ENV: &str = "JITMM_STRATEGY";

/// The environment variable that turns GDB JIT registration on for every
/// manager and layer (`JITMM_GDB=1`), as [`Config::debugger`] does for one.
pub const DEBUGGER_ENV: &str = "JITMM_GDB";

/// Settings of a memory manager.
///
/// ```
/// let config = jitmm::Config::new().strategy(jitmm::Strategy::Mprotect).private_arena(true);
/// assert_eq!(config.strategy, jitmm::Strategy::Mprotect);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Config {
    /// How code is made executable.
    pub strategy: Strategy,
    /// A reservation of its own instead of the process-wide arena.
    pub private_arena: bool,
    /// Address space for a private arena; `None` picks the architecture's
    /// default (see [`crate::arena::default_reservation_size`]).
    pub reservation_size: Option<usize>,
    /// Append `start size name` lines for finalized functions to
    /// `/tmp/perf-<pid>.map` (also on for every manager with `JITMM_PERF_MAP=1`).
    pub perf_map: bool,
    /// Register JIT-compiled objects with GDB's JIT interface, so a debugger
    /// names JIT functions in backtraces (also on for every manager with
    /// `JITMM_GDB=1`). Registrations are withdrawn before their memory is
    /// freed or reused.
    pub debugger: bool,
}

impl Config {
    /// The defaults: [`Strategy::Auto`], the shared process-wide arena.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the strategy.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Asks for a private arena.
    pub fn private_arena(mut self, private: bool) -> Self {
        self.private_arena = private;
        self
    }

    /// Sets the reservation size of a private arena (implies `private_arena`).
    pub fn reservation_size(mut self, bytes: usize) -> Self {
        self.reservation_size = Some(bytes);
        self.private_arena = true;
        self
    }

    /// Turns the perf map on or off for managers made from this config.
    pub fn perf_map(mut self, enabled: bool) -> Self {
        self.perf_map = enabled;
        self
    }

    /// Turns GDB JIT registration on or off for managers and layers made
    /// from this config.
    pub fn debugger(mut self, enabled: bool) -> Self {
        self.debugger = enabled;
        self
    }

    /// Whether GDB JIT registration is on (the config or `JITMM_GDB=1`).
    pub fn debugger_enabled(&self) -> bool {
        self.debugger || env_switches().debugger
    }

    /// Whether the perf map is on (the config or `JITMM_PERF_MAP=1`).
    pub fn perf_map_enabled(&self) -> bool {
        self.perf_map || crate::perf_map::env_enabled()
    }

    /// The strategy after applying `JITMM_STRATEGY` (for `Auto` only).
    /// An unparsable value is reported, never silently ignored.
    pub fn requested_strategy(&self) -> crate::Result<Strategy> {
        if self.strategy != Strategy::Auto {
            return Ok(self.strategy);
        }
        match &env_switches().strategy {
            Some(value) => value.parse().map_err(|_| {
                crate::Error::InvalidArgument("JITMM_STRATEGY must be auto, dualmap or mprotect")
            }),
            None => Ok(Strategy::Auto),
        }
    }
}

/// The environment's switches, read once at first use: every manager of the
/// process sees the same settings, and creating one (once per object for
/// ORC's RuntimeDyld layer) scans no environment.
pub(crate) struct EnvSwitches {
    /// `JITMM_STRATEGY`, unparsed (a bad value is reported at each use).
    pub strategy: Option<String>,
    /// `JITMM_PERF_MAP=1`.
    pub perf_map: bool,
    /// `JITMM_GDB=1`.
    pub debugger: bool,
}

pub(crate) fn env_switches() -> &'static EnvSwitches {
    static SWITCHES: std::sync::OnceLock<EnvSwitches> = std::sync::OnceLock::new();
    SWITCHES.get_or_init(|| {
        let on =
            |name| std::env::var(name).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        EnvSwitches {
            strategy: std::env::var(STRATEGY_ENV).ok(),
            perf_map: on(crate::perf_map::PERF_MAP_ENV),
            debugger: on(DEBUGGER_ENV),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategy_names_parse() {
        assert_eq!("DualMap".parse::<Strategy>(), Ok(Strategy::DualMap));
        assert_eq!("mprotect".parse::<Strategy>(), Ok(Strategy::Mprotect));
        assert_eq!("auto".parse::<Strategy>(), Ok(Strategy::Auto));
        assert!("rwx".parse::<Strategy>().is_err());
    }

    #[test]
    fn explicit_strategy_beats_environment() {
        let config = Config::new().strategy(Strategy::Mprotect);
        assert_eq!(config.requested_strategy(), Ok(Strategy::Mprotect));
    }
}
