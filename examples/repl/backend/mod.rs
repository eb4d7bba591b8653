//! Where compiled modules go: MCJIT (one engine per module) or ORC LLJIT
//! (one resource tracker per module), on jitmm or on LLVM's own manager.

mod mcjit;
mod orc;

use inkwell::module::Module;

pub use mcjit::Mcjit;
pub use orc::{Orc, OrcLinker};

/// Which memory manager the JIT uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryManager {
    /// jitmm.
    Jitmm,
    /// LLVM's own (SectionMemoryManager / JITLink's InProcessMemoryManager),
    /// for comparison.
    Llvm,
}

/// A handle to a loaded module.
pub type Handle = u64;

pub trait Backend {
    /// Loads a module. `imports` are addresses of functions defined by other
    /// modules that this one calls (backends that link by name ignore them).
    fn load(&mut self, module: Module<'_>, imports: &[(String, usize)]) -> Result<Handle, String>;
    /// The address of a function of a loaded module (compiling it if needed).
    fn address(&mut self, handle: Handle, name: &str) -> Result<usize, String>;
    /// Frees a module's code.
    fn unload(&mut self, handle: Handle);
}

/// Host functions JIT code can call besides libm.
pub mod host {
    use std::io::Write;

    /// Prints a character (`putchard(65)` prints `A`).
    pub extern "C" fn putchard(x: f64) -> f64 {
        let mut out = std::io::stdout();
        let _ = out.write_all(&[x as u8]);
        let _ = out.flush();
        0.0
    }

    /// Prints a number on its own line, as the tutorial's does (`%f`).
    /// Write errors are ignored: a panic cannot unwind out of JIT code.
    pub extern "C" fn printd(x: f64) -> f64 {
        let _ = writeln!(std::io::stdout(), "{x:.6}");
        0.0
    }

    /// Name, arity and address of every host function.
    pub fn functions() -> [(&'static str, usize, usize); 2] {
        [
            (
                "putchard",
                1,
                putchard as extern "C" fn(f64) -> f64 as usize,
            ),
            ("printd", 1, printd as extern "C" fn(f64) -> f64 as usize),
        ]
    }
}
