//! MCJIT through inkwell: one execution engine per module, so dropping the
//! engine frees exactly that module's code.

use std::collections::HashMap;
use std::mem::ManuallyDrop;

use inkwell::context::Context;
use inkwell::execution_engine::ExecutionEngine;
use inkwell::module::Module;
use inkwell::OptimizationLevel;
use jitmm::inkwell::ModuleExt;

use super::{host, Backend, Handle, MemoryManager};

/// An engine with the module it owns, re-parsed into a context of its own.
struct Loaded {
    engine: ManuallyDrop<ExecutionEngine<'static>>,
    module: ManuallyDrop<Module<'static>>,
    context: *mut Context,
}

impl Drop for Loaded {
    fn drop(&mut self) {
        // SAFETY: engine and module borrow the context; they go first, then
        // the context leaked in `Mcjit::load` is reclaimed exactly once.
        unsafe {
            ManuallyDrop::drop(&mut self.engine);
            ManuallyDrop::drop(&mut self.module);
            drop(Box::from_raw(self.context));
        }
    }
}

pub struct Mcjit {
    memory: MemoryManager,
    loaded: HashMap<Handle, Loaded>,
    next: Handle,
}

impl Mcjit {
    pub fn new(memory: MemoryManager) -> Self {
        Mcjit {
            memory,
            loaded: HashMap::new(),
            next: 0,
        }
    }
}

impl Backend for Mcjit {
    fn load(&mut self, module: Module<'_>, imports: &[(String, usize)]) -> Result<Handle, String> {
        // The engine must own its module for as long as it lives; give it a
        // context of its own so that nothing outlives what it borrows.
        let bitcode = module.write_bitcode_to_memory();
        let context: &'static Context = Box::leak(Box::new(Context::create()));
        let reclaim = |context: &'static Context| {
            // SAFETY: leaked just above and not yet shared.
            drop(unsafe { Box::from_raw(context as *const Context as *mut Context) })
        };
        let module = match Module::parse_bitcode_from_buffer(&bitcode, context) {
            Ok(module) => module,
            Err(e) => {
                reclaim(context);
                return Err(format!("LLVM: {e}"));
            }
        };
        let engine = match self.memory {
            MemoryManager::Jitmm => module
                .create_jitmm_execution_engine(OptimizationLevel::Default)
                .map_err(|e| e.to_string()),
            MemoryManager::Llvm => module
                .create_jit_execution_engine(OptimizationLevel::Default)
                .map_err(|e| e.to_string()),
        };
        let engine = match engine {
            Ok(engine) => engine,
            Err(e) => {
                drop(module);
                reclaim(context);
                return Err(e);
            }
        };
        let hosts = host::functions();
        let mapped = imports
            .iter()
            .map(|(name, addr)| (name.as_str(), *addr))
            .chain(hosts.iter().map(|&(name, _, addr)| (name, addr)));
        for (name, addr) in mapped {
            if let Some(decl) = module.get_function(name) {
                if decl.count_basic_blocks() == 0 {
                    engine.add_global_mapping(&decl, addr);
                }
            }
        }
        let handle = self.next;
        self.next += 1;
        self.loaded.insert(
            handle,
            Loaded {
                engine: ManuallyDrop::new(engine),
                module: ManuallyDrop::new(module),
                context: context as *const Context as *mut Context,
            },
        );
        Ok(handle)
    }

    fn address(&mut self, handle: Handle, name: &str) -> Result<usize, String> {
        let loaded = self.loaded.get(&handle).ok_or("no such module")?;
        loaded
            .engine
            .get_function_address(name)
            .map_err(|e| format!("{name}: {e}"))
    }

    fn unload(&mut self, handle: Handle) {
        self.loaded.remove(&handle);
    }
}
