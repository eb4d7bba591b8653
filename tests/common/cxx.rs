//! Building and running C and C++ clients against libjitmm.so and the
//! headers in `cshim/`, as an outside user would.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>`, where cargo put libjitmm.so.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Output of `llvm-config` (`LLVM_CONFIG`, else `llvm-config-<N>` for the
/// LLVM version jitmm is built for).
pub fn llvm_config(args: &[&str]) -> String {
    let config = std::env::var("LLVM_CONFIG")
        .unwrap_or_else(|_| format!("llvm-config-{}", jitmm::LLVM_VERSION_MAJOR));
    let out = Command::new(config).args(args).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The compiler a client is built with for `name` (`cc` or `c++`):
/// `JITMM_TEST_CC` / `JITMM_TEST_CXX` when set (the target's cross compilers
/// when the tests run under an emulator), else `name` itself.
fn compiler_for(name: &str) -> String {
    let var = match name {
        "cc" => "JITMM_TEST_CC",
        "c++" => "JITMM_TEST_CXX",
        other => return other.to_string(),
    };
    std::env::var(var).unwrap_or_else(|_| name.to_string())
}

/// Compiles `source` with `compiler` (see [`compiler_for`]), llvm-config's `llvm_flags` (`--cflags`
/// or `--cxxflags`) followed by `extra_flags`, and links it with libjitmm.so
/// and the shared libLLVM. Returns the executable.
pub fn build_client(
    compiler: &str,
    source: &Path,
    llvm_flags: &str,
    extra_flags: &[&str],
) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib_dir = target_dir();
    assert!(
        lib_dir.join("libjitmm.so").exists(),
        "libjitmm.so is not built in {lib_dir:?}: run `cargo build --lib` before \
         `cargo test` (scripts/test.sh does)"
    );
    let stem = source.file_stem().unwrap().to_string_lossy();
    let exe = lib_dir.join(format!("client-{stem}"));
    let out = Command::new(compiler_for(compiler))
        .arg(source)
        .arg("-o")
        .arg(&exe)
        .arg("-I")
        .arg(root.join("cshim"))
        .args(llvm_config(&[llvm_flags]).split_whitespace())
        .args(extra_flags)
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .arg("-ljitmm")
        .arg(format!("-L{}", llvm_config(&["--libdir"])))
        .arg(format!(
            "-lLLVM-{}",
            llvm_config(&["--version"]).split('.').next().unwrap()
        ))
        .output();
    check_compiled(out, compiler, || format!("compiling {source:?}"));
    exe
}

/// Fails the test unless a compiler run succeeded, with its diagnostics.
fn check_compiled(
    out: std::io::Result<std::process::Output>,
    compiler: &str,
    what: impl FnOnce() -> String,
) {
    let out = out.unwrap_or_else(|e| panic!("{compiler} does not run: {e}"));
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        what(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compiles `source` with `compiler` and nothing but what
/// `pkg-config --cflags --libs <package>` prints for the `.pc` files the
/// build script wrote next to the libraries (`PKG_CONFIG_PATH` set to that
/// directory only). Returns the executable.
pub fn build_with_pkg_config(compiler: &str, source: &Path, package: &str) -> PathBuf {
    let lib_dir = target_dir();
    assert!(
        lib_dir.join(format!("{package}.pc")).exists(),
        "{package}.pc is not in {lib_dir:?}: run `cargo build --lib` first"
    );
    let pkg = Command::new("pkg-config")
        .args(["--cflags", "--libs", package])
        .env("PKG_CONFIG_PATH", &lib_dir)
        .env_remove("PKG_CONFIG_LIBDIR")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "pkg-config does not run ({e}): apt-get install pkg-config (scripts/setup.sh does)"
            )
        });
    assert!(
        pkg.status.success(),
        "pkg-config {package} failed:\n{}",
        String::from_utf8_lossy(&pkg.stderr)
    );
    let flags = String::from_utf8(pkg.stdout).unwrap();
    let stem = source.file_stem().unwrap().to_string_lossy();
    let exe = lib_dir.join(format!("client-{stem}-{package}"));
    let out = Command::new(compiler_for(compiler))
        .arg(source)
        .arg("-o")
        .arg(&exe)
        .args(flags.split_whitespace())
        .output();
    check_compiled(out, compiler, || {
        format!("compiling {source:?} with `pkg-config {package}` flags ({flags})")
    });
    exe
}

/// Runs a client, prints and returns its output; it must exit with 0.
pub fn run_client(exe: &Path) -> String {
    let out = super::target_command(exe).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{exe:?} failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Builds `tests/cxx/<name>.cpp` as a C++ client and runs it.
pub fn build_and_run(name: &str, extra_flags: &[&str]) -> String {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cxx")
        .join(format!("{name}.cpp"));
    run_client(&build_client("c++", &source, "--cxxflags", extra_flags))
}
