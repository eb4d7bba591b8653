//! Linux `perf` map: `/tmp/perf-<pid>.map` lines `START SIZE name` (hex, no
//! prefix) for each finalized function, so `perf report` can name JIT code.
//!
//! Enabled per manager by [`Config::perf_map`](crate::Config::perf_map) or
//! for the whole process by `JITMM_PERF_MAP=1` ([`PERF_MAP_ENV`](crate::PERF_MAP_ENV)).

use std::fs::OpenOptions;
use std::io::Write;

/// A function to name in the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Symbol {
    pub addr: u64,
    pub size: u64,
    pub name: String,
}

/// The map file of this process (the pid is read each time: a forked child
/// writes its own map).
pub fn path() -> String {
    format!("/tmp/perf-{}.map", std::process::id())
}

/// One map line.
fn line(symbol: &Symbol) -> String {
    // Names may not contain newlines; perf reads to the end of the line.
    let name: String = symbol
        .name
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    format!("{:x} {:x} {}\n", symbol.addr, symbol.size, name)
}

/// Appends symbols to the map; I/O errors are ignored (profiling aid only).
pub(crate) fn append(symbols: &[Symbol]) {
    if symbols.is_empty() {
        return;
    }
    // One write with O_APPEND: Linux serialises writes to a regular file,
    // so lines of concurrent appends never interleave, and no lock is held
    // that a forked child could inherit locked.
    let text: String = symbols.iter().map(line).collect();
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path()) {
        let _ = file.write_all(text.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_hex_without_prefix() {
        let s = Symbol {
            addr: 0x7f00_1234,
            size: 0x40,
            name: "fib\nx".into(),
        };
        assert_eq!(line(&s), "7f001234 40 fib x\n");
    }
}
