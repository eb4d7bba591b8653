//! Finds LLVM, compiles the C++ shim against it and links the shared libLLVM.
//!
//! llvm-config is looked up as: the one llvm-sys found
//! (`DEP_LLVM_<major>_CONFIG_PATH`), env `LLVM_CONFIG`, `llvm-config-<major>`,
//! then `llvm-config` (accepted only if its major version matches).
//!
//! Also writes pkg-config files for C and C++ clients next to libjitmm.so
//! (`target/<profile>/jitmm.pc` and `jitmm-static.pc`, see
//! [`write_pkg_config`]).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn llvm_major() -> u32 {
    if env::var_os("CARGO_FEATURE_LLVM22").is_some() {
        22
    } else {
        19
    }
}

fn run(config: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(config)
        .args(args)
        .output()
        .map_err(|e| format!("{config} {}: {e}", args.join(" ")))?;
    if !out.status.success() {
        return Err(format!(
            "{config} {} exited with {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn find_llvm_config(major: u32) -> Result<String, String> {
    let candidates = [
        env::var(format!("DEP_LLVM_{major}_CONFIG_PATH")).ok(),
        env::var("LLVM_CONFIG").ok(),
        Some(format!("llvm-config-{major}")),
        Some("llvm-config".to_string()),
    ];
    let mut tried = Vec::new();
    for candidate in candidates.into_iter().flatten() {
        match run(&candidate, &["--version"]) {
            Ok(v) if v.split('.').next() == Some(&major.to_string()) => return Ok(candidate),
            Ok(v) => tried.push(format!("{candidate} is LLVM {v}")),
            Err(e) => tried.push(e),
        }
    }
    Err(format!(
        "jitmm: LLVM {major} not found — install it with `apt-get install llvm-{major}-dev` \
         (or set LLVM_CONFIG); tried: {}",
        tried.join("; ")
    ))
}

/// Writes `jitmm.pc` (libjitmm.so) and `jitmm-static.pc` (libjitmm.a) for
/// the build tree into OUT_DIR and into the directory cargo puts the
/// libraries in (`target/[<triple>/]<profile>`, three levels above OUT_DIR):
/// `PKG_CONFIG_PATH=target/debug pkg-config --cflags --libs jitmm`.
/// Both link the shared libLLVM, the one the library was built against: one
/// LLVM per process.
fn write_pkg_config(major: u32, llvm_libdir: &str, llvm_includedir: &str, llvm_cflags: &str) {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let lib_dir = out_dir.ancestors().nth(3).unwrap_or(&out_dir);
    let root = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    // LLVM's preprocessor definitions (its -I is llvm_includedir); C and C++
    // alike, so no language level or code-generation flags.
    let defines: Vec<&str> = llvm_cflags
        .split_whitespace()
        .filter(|f| f.starts_with("-D"))
        .collect();
    let variables = format!(
        "prefix={}\nlibdir={}\nincludedir=${{prefix}}/cshim\n\
         llvm_libdir={llvm_libdir}\nllvm_includedir={llvm_includedir}\n\n",
        root.display(),
        lib_dir.display(),
    );
    let common = format!(
        "Version: {}\nCflags: -I${{includedir}} -I${{llvm_includedir}} {}\n",
        env::var("CARGO_PKG_VERSION").unwrap_or_default(),
        defines.join(" "),
    );
    let llvm = format!("-L${{llvm_libdir}} -lLLVM-{major}");
    let shared = format!(
        "{variables}Name: jitmm\n\
         Description: JIT memory manager for LLVM (shared library, build tree)\n\
         {common}Libs: -L${{libdir}} -Wl,-rpath,${{libdir}} -ljitmm {llvm}\n"
    );
    // What a Rust staticlib needs from the system on Linux, plus the shim's
    // C++ runtime.
    let static_ = format!(
        "{variables}Name: jitmm-static\n\
         Description: JIT memory manager for LLVM (static library, build tree)\n\
         {common}Libs: ${{libdir}}/libjitmm.a {llvm} -lstdc++ -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc\n"
    );
    let write = |dir: &Path, name: &str, text: &str| {
        if let Err(e) = std::fs::write(dir.join(name), text) {
            println!(
                "cargo:warning=jitmm: cannot write {}: {e}",
                dir.join(name).display()
            );
        }
    };
    for dir in [out_dir.as_path(), lib_dir] {
        write(dir, "jitmm.pc", &shared);
        write(dir, "jitmm-static.pc", &static_);
    }
}

/// Target architectures for which LLVM (19 and 22) has an ELF JITLink
/// backend (`llvm/ExecutionEngine/JITLink/ELF_*.h`). SystemZ (s390x) and MIPS
/// have none in LLVM 19, so the ORC JITLink layer cannot link objects there.
const JITLINK_ARCHES: &[&str] = &[
    "x86_64",
    "x86",
    "aarch64",
    "arm",
    "powerpc64",
    "riscv64",
    "loongarch64",
];

/// `cfg(jitlink_backend)` for the crate, its tests and examples when LLVM's
/// JITLink can link for the target architecture.
fn emit_jitlink_cfg() {
    println!("cargo:rustc-check-cfg=cfg(jitlink_backend)");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    if JITLINK_ARCHES.contains(&arch.as_str()) {
        println!("cargo:rustc-cfg=jitlink_backend");
    }
}

fn main() {
    emit_jitlink_cfg();
    for var in [
        "LLVM_CONFIG",
        "DEP_LLVM_19_CONFIG_PATH",
        "DEP_LLVM_22_CONFIG_PATH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=cshim");
    if env::var_os("CARGO_FEATURE_LLVM19").is_none()
        && env::var_os("CARGO_FEATURE_LLVM22").is_none()
    {
        // The core alone: no shim, no LLVM.
        return;
    }
    if env::var_os("CARGO_FEATURE_LLVM19").is_some()
        && env::var_os("CARGO_FEATURE_LLVM22").is_some()
    {
        let e = "jitmm: the features `llvm19` and `llvm22` exclude each other (one LLVM per \
                 process); for LLVM 22 build with `--no-default-features --features llvm22`";
        println!("cargo:warning={e}");
        eprintln!("{e}");
        std::process::exit(1);
    }
    let major = llvm_major();
    let config = find_llvm_config(major).unwrap_or_else(|e| {
        println!("cargo:warning={e}");
        eprintln!("{e}");
        std::process::exit(1);
    });
    let query = |args: &[&str]| {
        run(&config, args).unwrap_or_else(|e| {
            eprintln!("jitmm: {e}");
            std::process::exit(1);
        })
    };
    let cxxflags = query(&["--cxxflags"]);
    let cflags = query(&["--cflags"]);
    let libdir = query(&["--libdir"]);
    let includedir = query(&["--includedir"]);

    let mut build = cc::Build::new();
    build.cpp(true).include("cshim");
    // LLVM's headers are not ours to warn about.
    build.flag("-isystem").flag(&includedir);
    for flag in cxxflags.split_whitespace() {
        // Keep LLVM's defines and language level; drop its -I (added above)
        // and optimisation / warning choices.
        if flag.starts_with("-D") || flag.starts_with("-std=") || flag.starts_with("-f") {
            build.flag(flag);
        }
    }
    let shim = PathBuf::from("cshim");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&shim)
        .expect("cshim/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cpp"))
        .collect();
    sources.sort();
    build.files(&sources).warnings(true).compile("jitmm_shim");

    // One LLVM per process: link the shared library, never static archives.
    println!("cargo:rustc-link-search=native={libdir}");
    println!("cargo:rustc-link-lib=dylib=LLVM-{major}");
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!(
        "cargo:include={}",
        env::current_dir().unwrap().join("cshim").display()
    );
    println!("cargo:llvm_config={config}");
    // The per-object path of shim and core sits in `.text.hot.jitmm`;
    // lld merges such sections into `.text` unless told to keep them
    // apart (GNU ld groups them anyway).
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,keep-text-section-prefix");
    write_pkg_config(major, &libdir, &includedir, &cflags);
}
