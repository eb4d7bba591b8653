//! How a memory manager obtains and protects memory: the settings, the
//! environment's switches, and the one place `Auto` becomes a strategy.

use crate::error::{Error, Result};
use crate::probe::{dual_map_support, flush_support, probe};
use crate::strategy::Strategy;

/// The environment variable that overrides [`Strategy::Auto`].
pub const STRATEGY_ENV: &str = "JITMM_STRATEGY";

/// The environment variable that turns the perf map on for every manager
/// (`JITMM_PERF_MAP=1`), as [`Config::perf_map`] does for one.
pub const PERF_MAP_ENV: &str = "JITMM_PERF_MAP";

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
    /// default (1 GiB on 64-bit targets, 128 MiB on 32-bit ones: the reach of their
    /// default code model).
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
        self.perf_map || env_switches().perf_map
    }

    /// The strategy after applying `JITMM_STRATEGY` (for `Auto` only).
    /// An unparsable value is reported, never silently ignored.
    pub fn requested_strategy(&self) -> Result<Strategy> {
        if self.strategy != Strategy::Auto {
            return Ok(self.strategy);
        }
        match &env_switches().strategy {
            Some(value) => value.parse().map_err(|_| {
                Error::InvalidArgument("JITMM_STRATEGY must be auto, dualmap or mprotect")
            }),
            None => Ok(Strategy::Auto),
        }
    }

    /// The concrete strategy this config's arena uses (see [`resolve`]).
    pub(crate) fn resolved_strategy(&self) -> Result<Strategy> {
        resolve(self.requested_strategy()?)
    }

    /// The address space of a private arena.
    pub(crate) fn private_reservation_size(&self) -> usize {
        self.reservation_size
            .unwrap_or(crate::target::default_reservation_size())
    }
}

/// The one place a strategy becomes concrete: `Auto` is what the probe
/// found; `DualMap` where the probe found it refused is an error that says
/// why, before any memory is reserved; and where the instruction-cache
/// flush fails, no strategy is offered at all.
pub(crate) fn resolve(strategy: Strategy) -> Result<Strategy> {
    if let Err(errno) = flush_support() {
        return Err(Error::Unsupported {
            strategy,
            reason: format!("the instruction-cache flush is refused: {errno}"),
        });
    }
    match strategy {
        Strategy::Auto => Ok(probe().auto_strategy),
        Strategy::DualMap => match dual_map_support() {
            Ok(()) => Ok(Strategy::DualMap),
            Err((step, errno)) => Err(Error::Unsupported {
                strategy,
                reason: format!("{step} refused: {errno}"),
            }),
        },
        Strategy::Mprotect => Ok(Strategy::Mprotect),
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
            perf_map: on(PERF_MAP_ENV),
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
