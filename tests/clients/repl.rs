//! The Kaleidoscope REPL (examples/repl) driven through a pipe, as scripts
//! and users drive it: every construct, errors that do not end the session,
//! and a soak of 100,000 expressions whose code must not accumulate.
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

use crate::common::target_command;

/// `target/<profile>/examples/repl`, built by `cargo test` before the tests.
fn repl_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let binary = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/repl");
    assert!(
        binary.exists(),
        "{binary:?} missing: cargo test builds examples first"
    );
    binary
}

/// The REPL's backends: every test of the language runs on each. No
/// `orc-jitlink` where LLVM has no JITLink backend (`cfg(jitlink_backend)`,
/// build.rs).
#[cfg(jitlink_backend)]
pub const BACKENDS: [&str; 3] = ["mcjit", "orc-rtdyld", "orc-jitlink"];
#[cfg(not(jitlink_backend))]
pub const BACKENDS: [&str; 2] = ["mcjit", "orc-rtdyld"];

/// The REPL's output for `script` on its stdin.
pub fn run(args: &[&str], script: &str) -> String {
    let mut child = target_command(&repl_binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let script = script.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "repl {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const SCRIPT: &str = "\
# every construct
def fib(n) if n < 2 then n else fib(n - 1) + fib(n - 2);
fib(15)
extern sqrt(x); extern sin(x)
sqrt(16) + sin(0)
1 + 2 * 3 - 4 / 2
(1 + 2) * 3
3 > 2; 2 > 3; 1 < 2
-5 + 1
def count(n) for i = 0, i < n, 2 in printd(i);
count(5)
def twice(x) x * 2;
def quad(x) twice(twice(x));
quad(3)
def twice(x) x * 10;
quad(3)
putchard(72) + putchard(105) + putchard(10)
# errors, then the session goes on
nosuch(1)
twice(1, 2)
def bad(x) x +;
foo
y + 1
extern not_a_symbol_anywhere(x)
1; 1.2.3; 2)
def printd(x) x
7 / 2
";

const EXPECTED: &str = "\
defined fib(n)
=> 610
extern sqrt(x)
extern sin(x)
=> 4
=> 5
=> 9
=> 1
=> 0
=> 1
=> -4
defined count(n)
0.000000
2.000000
4.000000
6.000000
=> 0
defined twice(x)
defined quad(x)
=> 12
defined twice(x)
=> 300
Hi
=> 0
error: col 1: unknown function 'nosuch'
error: col 1: twice takes 1 argument(s), 2 given
error: col 15: expected an expression, found ';'
error: col 1: unknown variable 'foo'
error: col 1: unknown variable 'y'
error: col 8: no host function 'not_a_symbol_anywhere'
=> 1
error: col 4: bad number \"1.2.3\"
=> 2
error: col 12: expected an expression, found ')'
error: col 5: printd is a host function and cannot be redefined
=> 3.5
";

/// Runs `script` on each backend and checks its whole output.
pub fn run_on_each_backend(script: &str, expected: &str) {
    for backend in BACKENDS {
        let out = run(&["--backend", backend], script);
        assert_eq!(out, expected, "backend {backend}");
    }
}

/// At the last `:stats` of `out`, jitmm holds one object for each live
/// definition and nothing else: the code of every top-level expression run
/// so far has been freed.
pub fn assert_only_definitions_live(out: &str) {
    let last = |prefix: &str| {
        out.lines()
            .rev()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {out}"))
    };
    let objects = number_after(last("jitmm: objects live"), "objects live");
    let counts = last("repl: definitions live");
    let definitions = number_after(counts, "definitions live");
    assert!(number_after(counts, "expressions run") > 0, "{counts}");
    assert_eq!(objects, definitions, "{out}");
}

#[test]
fn script_covering_every_construct_on_each_backend() {
    run_on_each_backend(SCRIPT, EXPECTED);
}

/// The same on LLVM's own managers (`--memory-manager llvm`), which the
/// REPL offers for comparison: the same transcript on each backend, JITLink
/// included (an explicit layer on InProcessMemoryManager, see
/// `jitmm::orc::llvm_jitlink_layer`).
#[test]
fn script_on_llvms_own_managers_on_each_backend() {
    for backend in BACKENDS {
        let out = run(&["--backend", backend, "--memory-manager", "llvm"], SCRIPT);
        assert_eq!(out, EXPECTED, "backend {backend} on LLVM's managers");
    }
}

/// The tutorial's chapters 6 and 7 beyond its own examples: operators,
/// `var`, assignment, entries over several lines and their mistakes.
/// `sum` shows the tutorial's `for`: the body runs for i = 1 .. n - 1, then
/// once more for the value that ends the loop.
const LANGUAGE: &str = "\
# operators, variables, entries over several lines
def binary| 5 (a b) if a then 1 else if b then 1 else 0;
def unary!(v) if v then 0 else 1;
1 | 0 * 5; !0 + !5; 0 | 1 < 0
-(2); def unary-(v) v * 10; -(2)
def binary> 10 (a b) b < a;
3 > 2; 2 > 3
var a = 2, b = a * 3 in a + b
var a = 1 in (var a = a + 10 in a) + a
def sum(n) var s = 0 in (for i = 1, i < n in s = s + i) + s;
sum(100)
def sum3(a b c)
  a +
  b + c;
sum3(1, 2, 3)
def bump(x) x = x + 1;
bump(41)
# errors, then the session goes on
1 = 2
y = 3
def binary+ (a b) a
def binary~ 101 (a b) a
def unary^(a b) a
1 ~ 2
*2
var in 1
var a = 1 a
extern binary^(a b)
(1 +
  ) + 2
def unfinished(x)
;
4
def last(x)
";

const LANGUAGE_EXPECTED: &str = "\
defined binary|(a, b), precedence 5
defined unary!(v)
=> 1
=> 1
=> 0
=> -2
defined unary-(v)
=> 20
defined binary>(a, b), precedence 10
=> 1
=> 0
=> 8
=> 12
defined sum(n)
=> 5050
defined sum3(a, b, c)
=> 6
defined bump(x)
=> 42
error: col 3: the destination of '=' must be a variable
error: col 1: unknown variable 'y'
error: col 11: '+' is a built-in operator and cannot be redefined
error: col 13: precedence must be a whole number from 1 to 100
error: col 5: unary^ takes 1 operand(s), 2 given
=> 1
error: col 3: unknown operator '~'
error: col 1: '*' is not a unary operator
error: col 5: expected a variable name, found 'in'
error: col 11: expected 'in', found 'a'
error: col 8: extern declares a host function; operators are defined with def
error: col 3: expected an expression, found ')'
error: col 1: expected an expression, found ';'
=> 4
error: unexpected end of input: expected an expression
";

#[test]
fn operators_variables_and_entries_over_lines_on_each_backend() {
    run_on_each_backend(LANGUAGE, LANGUAGE_EXPECTED);
}

/// Every character that can name an operator does, as a binary and as a
/// unary one, on each backend: the functions that define them have names
/// such as `binary@` and `unary"`, which every linker must take.
#[test]
fn every_operator_character_on_each_backend() {
    let chars: Vec<char> = "!\"$%&'/:>?@[\\]^`{|}~".chars().collect();
    let mut script = String::new();
    let mut expected = String::new();
    for c in &chars {
        script += &format!("def binary{c} 7 (a b) a * 10 + b;\n3 {c} 4\n");
        script += &format!("def unary{c}(v) v + 0.5;\n{c}1\n");
        expected += &format!("defined binary{c}(a, b), precedence 7\n=> 34\n");
        expected += &format!("defined unary{c}(v)\n=> 1.5\n");
    }
    run_on_each_backend(&script, &expected);
}

/// Redefining an operator recompiles its users and frees the old code:
/// the objects live stay one per definition.
#[test]
fn redefining_an_operator_frees_the_old_code() {
    let script = "\
def binary| 5 (a b) if a then 1 else if b then 1 else 0;
def either(a b) a | b;
either(0, 3)
:stats
def binary| 5 (a b) a + b;
either(0, 3)
:stats
";
    for backend in BACKENDS {
        let out = run(&["--backend", backend], script);
        // The second definition of `|` splits the two halves.
        let (before, after) = out.split_at(out.rfind("defined binary|").unwrap());
        assert!(before.contains("=> 1\n"), "{backend}: {out}");
        assert!(
            after.contains("=> 3\n"),
            "{backend}: either uses the new |: {out}"
        );
        assert_only_definitions_live(before);
        assert_only_definitions_live(after);
        assert!(after.contains("repl: definitions live 2"), "{out}");
    }
}

/// `examples/demo.txt` prints on every backend exactly the transcript it
/// prints on x86-64 (`demo.x86_64.txt`), but for jitmm's and the process's
/// figures in `:stats`, which are the machine's.
#[test]
fn demo_script_prints_the_x86_64_transcript() {
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.txt");
    for backend in BACKENDS {
        let out: String = run(&["--backend", backend, "--script", demo], "")
            .lines()
            .filter(|l| !l.starts_with("jitmm: ") && !l.starts_with("process: "))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(out, include_str!("demo.x86_64.txt"), "backend {backend}");
    }
}

#[test]
fn commands_and_bad_arguments() {
    let out = run(&[], ":help\n:stats\n:nope\n1 + 1\n:quit\n2 + 2\n");
    assert!(out.contains("Kaleidoscope on jitmm"));
    assert!(out.contains("jitmm: objects live"));
    assert!(out.contains("error: unknown command :nope"));
    assert!(out.contains("=> 2\n"));
    assert!(!out.contains("=> 4"), ":quit ends the session");
    // The demo script runs first, then the same session reads stdin.
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.txt");
    let out = run(&["--script", demo], "apply(1)\n");
    assert!(out.contains("ready> def scale(x) x * 100;"));
    assert!(out.contains("=> 1001\n"));
    assert!(out.ends_with("=> 101\n"), "{out}");
    let status = target_command(&repl_binary())
        .args(["--backend", "interpreter"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!status.status.success());
    assert!(String::from_utf8_lossy(&status.stderr).contains("unknown backend"));
}

/// Figures printed by `:stats`.
#[derive(Debug, Clone, Copy)]
struct Figures {
    bytes_live: u64,
    jitmm_vmas: u64,
    rss_kib: u64,
    process_vmas: u64,
}

fn number_after(line: &str, key: &str) -> u64 {
    let rest = &line[line.find(key).unwrap_or_else(|| panic!("{key} in {line}")) + key.len()..];
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn figures(out: &str) -> Vec<Figures> {
    let lines: Vec<&str> = out.lines().collect();
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("jitmm: objects live"))
        .map(|(i, l)| {
            let process = lines[i + 2];
            Figures {
                bytes_live: number_after(l, "bytes live"),
                jitmm_vmas: number_after(l, "VMAs"),
                rss_kib: number_after(process, "rss_kib"),
                process_vmas: number_after(process, "vmas"),
            }
        })
        .collect()
}

/// 100,000 top-level expressions, `:stats` after 10,000 and 100,000.
fn soak_script() -> String {
    let mut script = String::from("def poly(x) x * x + 3 * x + 1;\n");
    for i in 0..100_000u32 {
        script.push_str(&format!("poly({}) - {}\n", i % 1000, i % 7));
        if i + 1 == 10_000 || i + 1 == 100_000 {
            script.push_str(":stats\n");
        }
    }
    script
}

#[test]
fn soak_100k_expressions_keep_memory_flat() {
    let script = soak_script();
    let llvm_script = script.clone();
    // LLVM's SectionMemoryManager, side by side (run concurrently).
    let llvm = std::thread::spawn(move || run(&["--memory-manager", "llvm"], &llvm_script));
    let out = run(&[], &script);
    let values = out.lines().filter(|l| l.starts_with("=> ")).count();
    assert_eq!(values, 100_000);
    assert!(out.contains("=> 5\n"), "poly(1) - 0");
    let f = figures(&out);
    assert_eq!(f.len(), 2);
    let growth = f[1].rss_kib as i64 - f[0].rss_kib as i64;
    let l = figures(&llvm.join().unwrap());
    let llvm_growth = l[1].rss_kib as i64 - l[0].rss_kib as i64;
    println!(
        "jitmm: at 10k / 100k expressions: bytes live {} / {}, jitmm VMAs {} / {}, \
         process VMAs {} / {}, RSS {} / {} KiB (growth {growth} KiB)",
        f[0].bytes_live,
        f[1].bytes_live,
        f[0].jitmm_vmas,
        f[1].jitmm_vmas,
        f[0].process_vmas,
        f[1].process_vmas,
        f[0].rss_kib,
        f[1].rss_kib
    );
    println!(
        "SectionMemoryManager: process VMAs {} / {}, RSS {} / {} KiB (growth {llvm_growth} KiB)",
        l[0].process_vmas, l[1].process_vmas, l[0].rss_kib, l[1].rss_kib
    );
    assert_eq!(f[0].bytes_live, f[1].bytes_live, "live bytes flat");
    assert_eq!(f[0].jitmm_vmas, f[1].jitmm_vmas, "VMAs flat");
    assert!(growth < 5 * 1024, "RSS grew by {growth} KiB");
}
