//! The perf map: `/tmp/perf-<pid>.map` names JIT functions at their real
//! executable addresses.

mod common;

use common::*;
use jitmm::{Class, Config, Object, Strategy};

/// `(start, size)` of every map line naming `name`.
fn entries(name: &str) -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string(jitmm::perf_map::path()).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ' ');
            let start = u64::from_str_radix(parts.next()?, 16).ok()?;
            let size = u64::from_str_radix(parts.next()?, 16).ok()?;
            (parts.next()? == name).then_some((start, size))
        })
        .collect()
}

#[test]
fn rust_api_names_functions_at_exec_addresses() {
    for strategy in [Strategy::DualMap, Strategy::Mprotect] {
        let name = format!("hand_written_{strategy:?}");
        let config = Config::new().strategy(strategy).perf_map(true);
        let mut object = Object::new(&config).unwrap();
        let text = object.allocate(Class::Code, 16, 16).unwrap();
        let code = return_const(11);
        object.bytes_mut(text)[..code.len()].copy_from_slice(&code);
        object.name_function(text, 0, code.len(), &name);
        assert!(entries(&name).is_empty(), "written before finalize");
        let done = object.finalize().unwrap();
        assert_eq!(
            entries(&name),
            vec![(done.exec_addr(text) as u64, code.len() as u64)]
        );
    }
}

#[cfg(feature = "llvm")]
#[test]
fn mcjit_functions_are_in_the_map() {
    use common::llvm::*;
    for strategy in [Strategy::DualMap, Strategy::Mprotect] {
        let tag = format!("perf{strategy:?}");
        let mut cfg = config(strategy);
        cfg.perf_map = 1;
        let jit = Mcjit::with_config(&sample_ir(&tag), &cfg);
        for function in ["even", "odd", "lookup", "bump"] {
            let symbol = format!("{function}_{tag}");
            let addr = jit.address(&symbol);
            let found = entries(&symbol);
            assert_eq!(found.len(), 1, "{symbol}: {found:?}");
            assert_eq!(found[0].0, addr, "{symbol} named at the wrong address");
            assert!(found[0].1 > 0);
        }
    }
}
