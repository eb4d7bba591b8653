//! The perf map: `/tmp/perf-<pid>.map` names JIT functions at their real
//! executable addresses.

use crate::common::*;
use jitmm::{Class, Config, Object, Strategy};

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
        assert!(
            perf_map_entries(&name).is_empty(),
            "written before finalize"
        );
        let done = object.finalize().unwrap();
        assert_eq!(
            perf_map_entries(&name),
            vec![(done.exec_addr(text) as u64, code.len() as u64)]
        );
    }
}
