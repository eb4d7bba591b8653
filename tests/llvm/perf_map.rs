//! The perf map on MCJIT: `/tmp/perf-<pid>.map` names JIT-compiled
//! functions at their real executable addresses.

use crate::common::llvm::*;
use crate::common::*;

#[test]
fn mcjit_functions_are_in_the_map() {
    let _g = shared();
    for strategy in strategies() {
        let tag = format!("perf{strategy:?}");
        let mut cfg = config(strategy);
        cfg.perf_map = 1;
        let jit = Mcjit::with_config(&sample_ir(&tag), &cfg);
        for function in ["even", "odd", "lookup", "bump"] {
            let symbol = format!("{function}_{tag}");
            let addr = jit.address(&symbol);
            let found = perf_map_entries(&symbol);
            assert_eq!(found.len(), 1, "{symbol}: {found:?}");
            assert_eq!(found[0].0, addr, "{symbol} named at the wrong address");
            assert!(found[0].1 > 0);
        }
    }
}
