//! A JIT REPL for the Kaleidoscope language of LLVM's tutorial, on jitmm.
//!
//! ```text
//! cargo run --example repl -- [--backend mcjit|orc-rtdyld|orc-jitlink] [--memory-manager jitmm|llvm]
//! ```
//!
//! Numbers are doubles; `+ - * / < >`; `if c then a else b`;
//! `for i = start, cond, step in body`; `def name(args) body`;
//! `extern name(args)` for host functions (libm's `sin`, `cos`, `sqrt`, …,
//! and `putchard`, `printd`); `;` separates entries; `#` starts a comment.
//! Each top-level expression is compiled into its own module, run, and its
//! code freed at once; redefining a function frees the old code.

mod ast;
mod backend;
mod codegen;
mod lexer;
mod parser;
mod session;

use std::io::{BufRead, IsTerminal, Write};

use backend::{Backend, Mcjit, MemoryManager, Orc, OrcLinker};
use session::Session;

const HELP: &str = "\
Kaleidoscope on jitmm. Entries end with ';' (or the end of the line).
  def name(a, b) body      define a function (redefining frees the old code)
  extern name(a)           declare a host function (sin, cos, sqrt, putchard, printd, ...)
  expression               compile, run, print, free
  if c then a else b       for i = start, cond[, step] in body
  :stats   jitmm's counters    :help   this text    :quit   leave
Unbounded recursion overflows the stack and ends the process, as in LLVM's tutorial.";

struct Options {
    backend: String,
    memory: MemoryManager,
    /// Lines to run first (echoed after the prompt), before reading stdin.
    script: Option<String>,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        backend: "mcjit".into(),
        memory: MemoryManager::Jitmm,
        script: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--backend" => options.backend = value("--backend")?,
            "--memory-manager" => {
                options.memory = match value("--memory-manager")?.as_str() {
                    "jitmm" => MemoryManager::Jitmm,
                    "llvm" => MemoryManager::Llvm,
                    other => {
                        return Err(format!("unknown memory manager {other:?}: jitmm or llvm"))
                    }
                }
            }
            "--script" => options.script = Some(value("--script")?),
            "-h" | "--help" => {
                println!("usage: repl [--backend mcjit|orc-rtdyld|orc-jitlink] [--memory-manager jitmm|llvm] [--script FILE]\n\n{HELP}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (see --help)")),
        }
    }
    Ok(options)
}

fn make_backend(options: &Options) -> Result<Box<dyn Backend>, String> {
    // SAFETY: LLVM's one-time native target initialisation.
    unsafe {
        jitmm::llvm_sys::execution_engine::LLVMLinkInMCJIT();
        jitmm::llvm_sys::target::LLVM_InitializeNativeTarget();
        jitmm::llvm_sys::target::LLVM_InitializeNativeAsmPrinter();
    }
    Ok(match options.backend.as_str() {
        "mcjit" => Box::new(Mcjit::new(options.memory)),
        "orc-rtdyld" => Box::new(Orc::new(OrcLinker::RuntimeDyld, options.memory)?),
        "orc-jitlink" => Box::new(Orc::new(OrcLinker::JitLink, options.memory)?),
        other => {
            return Err(format!(
                "unknown backend {other:?}: mcjit, orc-rtdyld or orc-jitlink"
            ))
        }
    })
}

fn process_figures() -> (u64, usize) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0);
    let vmas = std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().count())
        .unwrap_or(0);
    (rss, vmas)
}

fn print_stats() {
    let s = jitmm::stats();
    let (rss, vmas) = process_figures();
    println!(
        "jitmm: objects live {}, bytes live {} (code {}, rodata {}, rwdata {}), committed {}, reserved {}, VMAs {}",
        s.objects_live,
        s.bytes_live(),
        s.bytes_live_code,
        s.bytes_live_rodata,
        s.bytes_live_rwdata,
        s.bytes_committed,
        s.bytes_reserved,
        s.vmas
    );
    println!(
        "jitmm: syscalls {} (mmap {}, mprotect {}, munmap {}, madvise {}, fallocate {}), icache flushes {}, objects finalized {}",
        s.syscalls(),
        s.mmap_calls,
        s.mprotect_calls,
        s.munmap_calls,
        s.madvise_calls,
        s.fallocate_calls,
        s.icache_flushes,
        s.objects_finalized
    );
    println!("process: rss_kib {rss}, vmas {vmas}");
}

/// Handles one line; false when the user asked to leave.
fn handle(session: &mut Session, line: &str) -> bool {
    match line.trim() {
        ":quit" | ":q" => return false,
        ":help" => println!("{HELP}"),
        ":stats" => print_stats(),
        command if command.starts_with(':') => {
            println!("error: unknown command {command} (:help lists them)")
        }
        _ => {
            session.eval_line_with(line, |output| println!("{output}"));
        }
    }
    let _ = std::io::stdout().flush();
    true
}

fn main() {
    let options = parse_args().unwrap_or_else(|e| {
        eprintln!("repl: {e}");
        std::process::exit(2);
    });
    let backend = make_backend(&options).unwrap_or_else(|e| {
        eprintln!("repl: {e}");
        std::process::exit(1);
    });
    let mut session = Session::new(backend);
    if let Some(path) = &options.script {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            eprintln!("repl: {path}: {e}");
            std::process::exit(1);
        });
        for line in text.lines() {
            println!("ready> {line}");
            if !handle(&mut session, line) {
                return;
            }
        }
    }
    if std::io::stdin().is_terminal() {
        println!(
            "Kaleidoscope on jitmm ({} backend). :help for help.",
            options.backend
        );
        let Ok(mut editor) = rustyline::DefaultEditor::new() else {
            eprintln!("repl: cannot open the terminal");
            std::process::exit(1);
        };
        while let Ok(line) = editor.readline("ready> ") {
            let _ = editor.add_history_entry(line.as_str());
            if !handle(&mut session, &line) {
                break;
            }
        }
    } else {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if !handle(&mut session, &line) {
                break;
            }
        }
    }
}
