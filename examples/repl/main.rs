//! A JIT REPL for the Kaleidoscope language of LLVM's tutorial, on jitmm.
//!
//! ```text
//! cargo run --example repl -- [--backend mcjit|orc-rtdyld|orc-jitlink] [--memory-manager jitmm|llvm]
//! ```
//!
//! The language of chapters 2 to 7 of the tutorial: numbers are doubles;
//! `+ - * / < >`; `if c then a else b`; `for i = start, cond, step in body`;
//! `def name(a b) body`; `extern name(a b)` for host functions (libm's
//! `sin`, `cos`, `sqrt`, …, and `putchard`, `printd`); user-defined
//! operators (`def binary| 5 (a b) …`, `def unary!(v) …`); `var a = 1 in …`
//! and assignment `=`. Entries end at `;` or at the end of a line where they
//! are complete, so the tutorial's definitions over several lines paste as
//! they are; `#` starts a comment. Each top-level expression is compiled
//! into its own module, run, and its code freed at once; redefining a
//! function or an operator frees the old code.

mod ast;
mod backend;
mod codegen;
mod diagnostic;
mod input;
mod lexer;
mod operators;
mod parser;
mod session;

use std::io::{BufRead, IsTerminal, Write};

use backend::{Backend, Mcjit, MemoryManager, Orc, OrcLinker};
use rustyline::error::ReadlineError;
use session::Session;

const HELP: &str = "\
Kaleidoscope on jitmm: the language of LLVM's tutorial, chapters 2-7.
An entry ends with ';' or with a line where it is complete; an unfinished
entry continues on the next line (a lone ';' or Ctrl-C drops it).
  def name(a b) body         define a function (redefining frees the old code)
  extern name(a)             declare a host function (sin, cos, sqrt, putchard, printd, ...)
  expression                 compile, run, print, free
  if c then a else b         for i = start, cond[, step] in body
  var a = 1, b in body       x = value (assignment; yields the value)
  def binary| 5 (a b) body   define a binary operator (precedence 1-100, default 30)
  def unary!(v) body         define a unary operator
  :stats   counters (jitmm's, the REPL's)    :help   this text    :quit   leave
Unbounded recursion overflows the stack and ends the process, as in LLVM's tutorial.";

/// The prompt for a new entry, and for the next line of an unfinished one.
const PROMPT: &str = "ready> ";
const CONTINUE: &str = "  ...> ";

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

fn print_counts(session: &Session) {
    let (definitions, expressions) = session.counts();
    println!(
        "repl: definitions live {definitions} (an object each), top-level expressions run {expressions} (each freed on return)"
    );
}

fn prompt(session: &Session) -> &'static str {
    if session.is_pending() {
        CONTINUE
    } else {
        PROMPT
    }
}

/// Whether `line` is a command (`:stats`) rather than Kaleidoscope: a
/// colon and a letter, between entries. Inside an entry a line may well
/// start with `:` (the tutorial's sequencing operator), and `:1` may be a
/// user-defined unary operator's use.
fn is_command(session: &Session, line: &str) -> bool {
    let mut chars = line.trim_start().chars();
    !session.is_pending()
        && chars.next() == Some(':')
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// Handles one line; false when the user asked to leave.
fn handle(session: &mut Session, line: &str) -> bool {
    let command = line.trim();
    if !is_command(session, line) {
        session.feed_line(line, |output| println!("{output}"));
    } else {
        match command {
            ":quit" | ":q" => return false,
            ":help" => println!("{HELP}"),
            ":stats" => {
                print_stats();
                print_counts(session);
            }
            _ => println!("error: unknown command {command} (:help lists them)"),
        }
    }
    let _ = std::io::stdout().flush();
    true
}

/// The end of a run of input: an unfinished entry is an error.
fn end_of_input(session: &mut Session) {
    session.end_of_input(|output| println!("{output}"));
    let _ = std::io::stdout().flush();
}

fn main() {
    // SAFETY: restores the default action, so that a closed pipe ends the
    // process quietly (`repl < script | head`) as it does other tools.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
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
            println!("{}{line}", prompt(&session));
            if !handle(&mut session, line) {
                return;
            }
        }
        end_of_input(&mut session);
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
        loop {
            match editor.readline(prompt(&session)) {
                Ok(line) => {
                    let _ = editor.add_history_entry(line.as_str());
                    if !handle(&mut session, &line) {
                        return;
                    }
                }
                Err(ReadlineError::Interrupted) if session.is_pending() => {
                    session.discard_pending()
                }
                Err(_) => break,
            }
        }
    } else {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if !handle(&mut session, &line) {
                return;
            }
        }
    }
    end_of_input(&mut session);
}
