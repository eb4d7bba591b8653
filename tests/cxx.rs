//! C++ clients: programs built against `cshim/jitmm.hpp` and `libjitmm.so`
//! (as an outside user would build them), run as child processes.

#![cfg(feature = "llvm19")]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>`, where cargo put libjitmm.so.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn llvm_config() -> String {
    std::env::var("LLVM_CONFIG").unwrap_or_else(|_| "llvm-config-19".to_string())
}

fn query(args: &[&str]) -> String {
    let out = Command::new(llvm_config()).args(args).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Compiles `tests/cxx/<name>.cpp` against libjitmm.so and runs it.
fn build_and_run(name: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib_dir = target_dir();
    assert!(
        lib_dir.join("libjitmm.so").exists(),
        "libjitmm.so is not built in {lib_dir:?}: run `cargo build --lib` before \
         `cargo test` (scripts/test.sh does)"
    );
    let exe = lib_dir.join(format!("cxx-{name}"));
    let mut cmd = Command::new("c++");
    cmd.arg(root.join("tests/cxx").join(format!("{name}.cpp")))
        .arg("-o")
        .arg(&exe)
        .arg("-I")
        .arg(root.join("cshim"))
        .args(query(&["--cxxflags"]).split_whitespace())
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-ljitmm")
        .arg(format!("-L{}", query(&["--libdir"])))
        .arg(format!(
            "-lLLVM-{}",
            query(&["--version"]).split('.').next().unwrap()
        ));
    let out = cmd.output().expect("c++ runs");
    assert!(
        out.status.success(),
        "compiling {name}.cpp failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{name} failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Compiles `examples/c_client.c` with the C compiler against libjitmm.so and
/// runs it, as the comment at its top tells users to.
#[test]
fn c_client_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib_dir = target_dir();
    let exe = lib_dir.join("c_client");
    let out = Command::new("cc")
        .arg(root.join("examples/c_client.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-I")
        .arg(root.join("cshim"))
        .args(query(&["--cflags"]).split_whitespace())
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-ljitmm")
        .arg(format!("-L{}", query(&["--libdir"])))
        .arg(format!(
            "-lLLVM-{}",
            query(&["--version"]).split('.').next().unwrap()
        ))
        .output()
        .expect("cc runs");
    assert!(
        out.status.success(),
        "compiling c_client.c failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(&exe).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "c_client failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("MCJIT:      triple(14) = 42"));
    assert!(stdout.contains("ORC RTDyld: triple(14) = 42"));
    assert!(stdout.contains("after removal: 0 object(s) live"));
}

#[test]
fn rtdyld_memory_manager_interface() {
    let out = build_and_run("memory_manager_test");
    assert!(out.contains(" 0 failed"));
}
