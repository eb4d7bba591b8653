//! jitmm side by side with LLVM's own memory managers, in one table.
//!
//! Builds `benches/cxx/mm_bench.cpp` against libjitmm.so and LLVM, runs it
//! (one process for the per-object, end-to-end and thread figures, one
//! process per manager for the many-live-objects figures) and prints one
//! markdown table with the command, the CPU and the date.
//!
//! ```sh
//! cargo bench --bench compare               # full run (about a quarter of an hour)
//! cargo bench --bench compare -- --smoke    # tiny counts, seconds
//! cargo bench --bench compare -- --scaling  # only 6. and 7. (modules loaded)
//! cargo bench --bench compare -- --one-engine  # only 6.
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

/// Iteration counts handed to the driver.
struct Counts {
    small: u32,
    medium: u32,
    large: u32,
    modules: u32,
    thread_modules: u32,
    live: u32,
    /// 6.: modules in one MCJIT engine at which its cost is reported, and
    /// rounds (interleaved across managers; the median is reported).
    one_engine: [u32; 3],
    one_engine_rounds: usize,
    /// 7.: modules loaded (and kept) at which each path's cost is reported.
    scaling: [u32; 3],
}

const FULL: Counts = Counts {
    small: 20_000,
    medium: 2_000,
    large: 200,
    modules: 1_000,
    thread_modules: 1_000,
    live: 100_000,
    one_engine: [1_000, 8_000, 20_000],
    one_engine_rounds: 3,
    scaling: [1_000, 10_000, 50_000],
};

const SMOKE: Counts = Counts {
    small: 50,
    medium: 10,
    large: 3,
    modules: 4,
    thread_modules: 4,
    live: 500,
    one_engine: [4, 8, 12],
    one_engine_rounds: 1,
    scaling: [10, 20, 30],
};

/// A JIT path of 7.
struct ScalingPath {
    /// The driver's name for it.
    driver: &'static str,
    label: &'static str,
    /// LLVM's manager on this path: the driver's name, the table's.
    llvm: (&'static str, &'static str),
    /// Counts divided by ten: each live MCJIT engine holds about half a MiB
    /// of LLVM's own memory.
    tenth: bool,
}

const SMM: (&str, &str) = ("smm", "SectionMemoryManager");

const SCALING_PATHS: [ScalingPath; 4] = [
    ScalingPath {
        driver: "mcjit_one",
        label: "MCJIT, one engine",
        llvm: SMM,
        tenth: false,
    },
    ScalingPath {
        driver: "mcjit",
        label: "MCJIT, an engine per module",
        llvm: SMM,
        tenth: true,
    },
    ScalingPath {
        driver: "orc_rtdyld",
        label: "ORC RTDyld",
        llvm: SMM,
        tenth: false,
    },
    ScalingPath {
        driver: "orc_jitlink",
        label: "ORC JITLink",
        llvm: ("ipmm", "InProcessMemoryManager"),
        tenth: false,
    },
];
/// `target/<profile>/deps`, where the bench binary lives and cargo builds
/// libjitmm.so for it (`target/<profile>` holds a copy only after `cargo
/// build --lib`, and it may be stale).
fn deps_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent().expect("deps dir").to_path_buf()
}

/// `LLVM_CONFIG`, else the llvm-config of the LLVM version jitmm is built for.
fn llvm_config() -> String {
    let major = if cfg!(feature = "llvm22") { 22 } else { 19 };
    std::env::var("LLVM_CONFIG").unwrap_or_else(|_| format!("llvm-config-{major}"))
}

fn query(args: &[&str]) -> String {
    let out = Command::new(llvm_config())
        .args(args)
        .output()
        .expect("llvm-config runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn modified(path: &Path) -> Option<SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// Compiles the driver with -O2 unless an up-to-date one exists.
fn build_driver(root: &Path, lib_dir: &Path) -> PathBuf {
    let exe = lib_dir.parent().unwrap_or(lib_dir).join("mm_bench");
    let source = root.join("benches/cxx/mm_bench.cpp");
    let inputs = [
        source.clone(),
        root.join("cshim/jitmm.h"),
        root.join("cshim/jitmm.hpp"),
        lib_dir.join("libjitmm.so"),
    ];
    let newest = inputs.iter().filter_map(|p| modified(p)).max();
    if let (Some(built), Some(newest)) = (modified(&exe), newest) {
        if built >= newest {
            return exe;
        }
    }
    eprintln!("compiling {} ...", source.display());
    let major = query(&["--version"])
        .split('.')
        .next()
        .unwrap_or("19")
        .to_string();
    let out = Command::new("c++")
        .arg("-O2")
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .arg("-I")
        .arg(root.join("cshim"))
        .args(query(&["--cxxflags"]).split_whitespace())
        // Exports the driver's mmap/mprotect/... so that libLLVM's and
        // libjitmm's calls go through the counting definitions.
        .arg("-rdynamic")
        .arg(format!("-L{}", lib_dir.display()))
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        // DT_RPATH, searched before LD_LIBRARY_PATH: cargo puts
        // target/<profile> there, whose libjitmm.so may be a stale copy.
        .arg("-Wl,--disable-new-dtags")
        .arg("-ljitmm")
        .arg(format!("-L{}", query(&["--libdir"])))
        .arg(format!("-lLLVM-{major}"))
        .output()
        .expect("c++ runs");
    if !out.status.success() {
        panic!(
            "compiling mm_bench.cpp failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    exe
}

/// Runs the driver and collects its `R key value` lines.
fn run(exe: &Path, args: &[String], results: &mut BTreeMap<String, f64>) {
    eprintln!("running mm_bench {}", args.join(" "));
    let out = Command::new(exe)
        .args(args)
        .output()
        .expect("mm_bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines() {
        let mut fields = line.split_whitespace();
        if let (Some("R"), Some(key), Some(value)) = (fields.next(), fields.next(), fields.next()) {
            if let Ok(value) = value.parse() {
                results.insert(key.to_string(), value);
            }
        }
    }
    if !out.status.success() {
        panic!(
            "mm_bench {} failed ({}):\n{stdout}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// A number with about three significant digits.
fn num(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// How a row's ratio jitmm ÷ LLVM reads.
#[derive(Clone, Copy)]
enum Better {
    /// Smaller is better and the ratio also says "N× faster".
    LowerTime,
    Lower,
    Higher,
    /// No ratio (values near zero, or differences).
    None,
}

struct Table {
    rows: Vec<String>,
    /// Keys of the object counts to divide by before taking ratios (the
    /// LLVM managers may stop short of the requested number of live objects).
    per_object: Option<[String; 3]>,
}

impl Table {
    fn row(
        &mut self,
        r: &BTreeMap<String, f64>,
        what: &str,
        llvm_name: &str,
        keys: [&str; 3],
        better: Better,
        core: Option<[&str; 2]>,
    ) {
        let get = |k: &str| r.get(k).copied();
        let llvm = get(keys[0]);
        let norm = |i: usize, v: Option<f64>| match &self.per_object {
            Some(n) => v.zip(get(&n[i])).map(|(v, n)| v / n.max(1.0)),
            None => v,
        };
        let llvm_norm = norm(0, llvm);
        let mut cells = vec![
            what.to_string(),
            llvm_name.to_string(),
            llvm.map(num).unwrap_or_else(|| "—".into()),
        ];
        for (i, key) in keys[1..].iter().enumerate() {
            let v = get(key);
            let mut cell = v.map(num).unwrap_or_else(|| "—".into());
            if let (Some(core), Some(_)) = (core, v) {
                if let Some(c) = get(core[i]) {
                    cell.push_str(&format!(" (core: {})", num(c)));
                }
            }
            cells.push(cell);
            let ratio = match (llvm_norm, norm(i + 1, v), better) {
                (_, _, Better::None) => "—".to_string(),
                (Some(l), Some(j), _) if l > 0.0 && j >= 0.0 => {
                    let q = j / l;
                    match better {
                        Better::LowerTime if q > 0.0 && q <= 1.0 => {
                            format!("{} ({}× faster)", num(q), num(1.0 / q))
                        }
                        Better::LowerTime => format!("{} ({}× slower)", num(q), num(q)),
                        _ => num(q),
                    }
                }
                _ => "—".to_string(),
            };
            cells.push(ratio);
        }
        self.rows.push(format!("| {} |", cells.join(" | ")));
    }
}

/// Runs `mm_bench scale <path> <manager> <counts>` and returns its figures.
fn scale(exe: &Path, path: &str, manager: &str, at: &[u32]) -> BTreeMap<String, f64> {
    let list: Vec<String> = at.iter().map(u32::to_string).collect();
    let mut r = BTreeMap::new();
    run(
        exe,
        &[
            "scale".to_string(),
            path.to_string(),
            manager.to_string(),
            list.join(","),
        ],
        &mut r,
    );
    r
}

/// The median of each key over rounds (keys missing from a round are left
/// out of that key's median).
fn median_by_key(rounds: &[BTreeMap<String, f64>]) -> BTreeMap<String, f64> {
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for round in rounds {
        for (key, value) in round {
            values.entry(key.clone()).or_default().push(*value);
        }
    }
    values
        .into_iter()
        .map(|(key, mut v)| {
            v.sort_by(f64::total_cmp);
            let n = v.len();
            let median = if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            };
            (key, median)
        })
        .collect()
}

/// A ratio cell, or "—" when either side is missing.
fn ratio(num: Option<f64>, den: Option<f64>) -> String {
    match (num, den) {
        (Some(n), Some(d)) if d > 0.0 => format!("{}×", self::num(n / d)),
        _ => "—".to_string(),
    }
}

fn cell(v: Option<f64>) -> String {
    v.map(num).unwrap_or_else(|| "—".into())
}

/// 6.: jitmm, SectionMemoryManager and the driver's floor manager (a bump
/// allocator in one RWX mapping: what the callbacks cost by themselves) in
/// one MCJIT engine each, rounds interleaved across the three.
fn one_engine_table(exe: &Path, counts: &Counts) -> Vec<String> {
    let managers = ["smm", "dualmap", "floor"];
    let mut rounds: Vec<Vec<BTreeMap<String, f64>>> = vec![Vec::new(); managers.len()];
    for _ in 0..counts.one_engine_rounds {
        for (i, manager) in managers.iter().enumerate() {
            rounds[i].push(scale(exe, "mcjit_one", manager, &counts.one_engine));
        }
    }
    let mut r = BTreeMap::new();
    for per_manager in &rounds {
        r.extend(median_by_key(per_manager));
    }
    let get = |m: &str, n: u32, f: &str| r.get(&format!("scale.mcjit_one.{m}.{n}.{f}")).copied();
    let us = |v: Option<f64>| v.map(|ns| ns / 1000.0);
    let first = counts.one_engine[0];
    counts
        .one_engine
        .iter()
        .map(|&n| {
            let jitmm = us(get("dualmap", n, "manager_ns"));
            let smm = us(get("smm", n, "manager_ns"));
            let floor = us(get("floor", n, "manager_ns"));
            let (jr, sr) = (
                get("dualmap", n, "modules_per_s"),
                get("smm", n, "modules_per_s"),
            );
            format!(
                "| {n} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(jitmm),
                ratio(jitmm, us(get("dualmap", first, "manager_ns"))),
                cell(smm),
                ratio(smm, jitmm),
                cell(floor),
                ratio(jitmm, floor),
                cell(jr),
                cell(sr),
                ratio(jr, sr),
            )
        })
        .collect()
}

/// One row of 7. per path and manager: a driver figure at each count, as a
/// value per module, and the driver figure for freeing (none: "").
struct Measure {
    what: &'static str,
    field: &'static str,
    per_module: fn(f64) -> f64,
    free_field: &'static str,
}

/// 7.: every path, LLVM's manager, DualMap and DualMap with GDB
/// registration and the perf map on; one run each up to the largest count.
fn scaling_table(exe: &Path, counts: &Counts) -> Vec<String> {
    let mut rows = Vec::new();
    for p in SCALING_PATHS {
        let at_counts = counts
            .scaling
            .map(|n| if p.tenth { (n / 10).max(1) } else { n });
        let path = p.driver;
        let label = format!(
            "{} ({})",
            p.label,
            at_counts.map(|n| n.to_string()).join(" / ")
        );
        let (llvm, llvm_label) = p.llvm;
        for (manager, manager_label) in [
            (llvm, llvm_label),
            ("dualmap", "jitmm DualMap"),
            ("dualmap_debug", "jitmm DualMap, GDB + perf map on"),
        ] {
            let r = scale(exe, path, manager, &at_counts);
            let key = |f: &str| format!("scale.{path}.{manager}.{f}");
            let get = |f: &str| r.get(&key(f)).copied();
            let loaded = get("loaded").unwrap_or(0.0);
            let stopped = at_counts.iter().any(|&n| f64::from(n) > loaded);
            let measures = [
                Measure {
                    what: "manager µs",
                    field: "manager_ns",
                    per_module: |ns| ns / 1000.0,
                    free_field: "free_manager_ns",
                },
                Measure {
                    what: "JIT CPU µs",
                    field: "modules_per_s",
                    per_module: |rate| 1e6 / rate,
                    free_field: "free_cpu_ns",
                },
                Measure {
                    what: "VMAs in all",
                    field: "vmas",
                    per_module: |v| v,
                    free_field: "",
                },
            ];
            for Measure {
                what,
                field,
                per_module,
                free_field,
            } in measures
            {
                let at: Vec<Option<f64>> = at_counts
                    .iter()
                    .map(|n| get(&format!("{n}.{field}")).map(per_module))
                    .collect();
                let free = get(free_field).map(|ns| ns / 1000.0);
                let mut manager_cell = manager_label.to_string();
                if stopped {
                    manager_cell
                        .push_str(&format!(" (stopped at {loaded} modules: vm.max_map_count)"));
                }
                rows.push(format!(
                    "| {label} | {manager_cell} | {what} | {} | {} | {} | {} | {} |",
                    cell(at[0]),
                    cell(at[1]),
                    cell(at[2]),
                    if what.starts_with("VMAs") {
                        "—".to_string()
                    } else {
                        ratio(at[2], at[0])
                    },
                    free.map_or_else(|| "—".to_string(), |us| format!("{} µs", num(us))),
                ));
            }
        }
    }
    rows
}

/// 1. to 5.: one row each, jitmm's two strategies against LLVM's manager.
fn main_table(exe: &Path, counts: &Counts) -> Vec<String> {
    let mut r = BTreeMap::new();
    run(
        exe,
        &[
            "main".to_string(),
            counts.small.to_string(),
            counts.medium.to_string(),
            counts.large.to_string(),
            counts.modules.to_string(),
            counts.thread_modules.to_string(),
        ],
        &mut r,
    );
    for iface in ["rtdyld", "jitlink"] {
        let llvm = if iface == "rtdyld" { "smm" } else { "ipmm" };
        for kind in [llvm, "dualmap", "mprotect"] {
            run(
                exe,
                &[
                    "live".to_string(),
                    iface.to_string(),
                    kind.to_string(),
                    counts.live.to_string(),
                ],
                &mut r,
            );
        }
    }

    let mut t = Table {
        rows: Vec::new(),
        per_object: None,
    };
    let smm = "SectionMemoryManager";
    let ipmm = "InProcessMemoryManager";
    for (iface, llvm, name) in [("rtdyld", "smm", smm), ("jitlink", "ipmm", ipmm)] {
        let via = if iface == "rtdyld" {
            "RuntimeDyld"
        } else {
            "JITLink"
        };
        for size in ["small", "medium", "large"] {
            let k = |m: &str| format!("micro.{iface}.{size}.{m}.ns");
            t.row(
                &r,
                &format!("1. manager ns/object, {size}, {via}"),
                name,
                [&k(llvm), &k("dualmap"), &k("mprotect")],
                Better::LowerTime,
                None,
            );
        }
        for size in ["small", "large"] {
            let k = |m: &str| format!("micro.{iface}.{size}.{m}.syscalls");
            let c = |m: &str| format!("micro.{iface}.{size}.{m}.core_syscalls");
            t.row(
                &r,
                &format!("2. syscalls/object, {size}, {via}"),
                name,
                [&k(llvm), &k("dualmap"), &k("mprotect")],
                Better::Lower,
                Some([&c("dualmap"), &c("mprotect")]),
            );
        }
    }
    for (iface, llvm, name) in [("rtdyld", "smm", smm), ("jitlink", "ipmm", ipmm)] {
        let via = if iface == "rtdyld" {
            "RuntimeDyld"
        } else {
            "JITLink"
        };
        let live = counts.live;
        let k = |m: &str, f: &str| format!("live.{iface}.{m}.{f}");
        let rows: [(&str, &str, Better, bool); 8] = [
            ("objects", "objects live", Better::Higher, false),
            ("vmas", "VMAs added (ratio per object)", Better::Lower, true),
            ("mapped_ratio", "mapped ÷ requested", Better::Lower, false),
            (
                "rss_live_mib",
                "RSS added, MiB (ratio per object)",
                Better::Lower,
                false,
            ),
            ("requested_mib", "bytes requested, MiB", Better::None, false),
            (
                "vmas_after_free",
                "VMAs after freeing − start",
                Better::None,
                false,
            ),
            (
                "rss_after_free_mib",
                "RSS after freeing − start, MiB",
                Better::None,
                false,
            ),
            (
                "manager_rss_after_free_mib",
                "of which in the manager's own mappings, MiB",
                Better::None,
                false,
            ),
        ];
        for (field, label, better, core) in rows {
            t.per_object = (field == "vmas" || field == "rss_live_mib").then(|| {
                [
                    k(llvm, "objects"),
                    k("dualmap", "objects"),
                    k("mprotect", "objects"),
                ]
            });
            t.row(
                &r,
                &format!("3. {live} small live, {via}: {label}"),
                name,
                [&k(llvm, field), &k("dualmap", field), &k("mprotect", field)],
                better,
                core.then(|| [k("dualmap", "core_vmas"), k("mprotect", "core_vmas")])
                    .as_ref()
                    .map(|[a, b]| [a.as_str(), b.as_str()]),
            );
        }
    }
    t.per_object = None;
    for (path, label, llvm, name) in [
        ("mcjit", "MCJIT", "smm", smm),
        ("orc_rtdyld", "ORC RTDyld", "smm", smm),
        ("orc_jitlink", "ORC JITLink", "ipmm", ipmm),
    ] {
        let k = |m: &str, f: &str| format!("e2e.{path}.{m}.{f}");
        t.row(
            &r,
            &format!("4. {label}: modules per CPU-second"),
            name,
            [
                &k(llvm, "modules_per_s"),
                &k("dualmap", "modules_per_s"),
                &k("mprotect", "modules_per_s"),
            ],
            Better::Higher,
            None,
        );
        let pct = |m: &str| r.get(&k(m, "share")).map(|v| v * 100.0);
        let mut shares = BTreeMap::new();
        for m in [llvm, "dualmap", "mprotect"] {
            if let Some(v) = pct(m) {
                shares.insert(format!("share.{m}"), v);
            }
        }
        t.row(
            &shares,
            &format!("4. {label}: % of JIT time in the manager"),
            name,
            [&format!("share.{llvm}"), "share.dualmap", "share.mprotect"],
            Better::Lower,
            None,
        );
    }
    for threads in [1, 2] {
        let k = |m: &str| format!("threads.{threads}.{m}.modules_per_s");
        t.row(
            &r,
            &format!("5. ORC JITLink, {threads} thread(s): modules/s (wall)"),
            ipmm,
            [&k("ipmm"), &k("dualmap"), &k("mprotect")],
            Better::Higher,
            None,
        );
    }

    t.rows
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    let scaling_only = args.iter().any(|a| a == "--scaling");
    let one_engine_only = args.iter().any(|a| a == "--one-engine");
    let counts = if smoke { &SMOKE } else { &FULL };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lib_dir = deps_dir();
    assert!(
        lib_dir.join("libjitmm.so").exists(),
        "libjitmm.so is not in {lib_dir:?}, next to the bench binary"
    );
    let exe = build_driver(root, &lib_dir);

    let main_rows = if scaling_only || one_engine_only {
        Vec::new()
    } else {
        main_table(&exe, counts)
    };
    let one_engine_rows = one_engine_table(&exe, counts);
    let scaling_rows = if one_engine_only {
        Vec::new()
    } else {
        scaling_table(&exe, counts)
    };

    let mut command = String::new();
    if let Ok(dir) = std::env::var("CARGO_TARGET_DIR") {
        command.push_str(&format!("CARGO_TARGET_DIR={dir} "));
    }
    command.push_str("cargo bench --bench compare");
    let flags: Vec<&str> = [
        (smoke, "--smoke"),
        (scaling_only, "--scaling"),
        (one_engine_only, "--one-engine"),
    ]
    .into_iter()
    .filter_map(|(on, flag)| on.then_some(flag))
    .collect();
    if !flags.is_empty() {
        command.push_str(&format!(" -- {}", flags.join(" ")));
    }
    println!();
    println!(
        "- Command: `{command}`{}",
        if smoke {
            " (smoke: tiny counts, figures meaningless)"
        } else {
            ""
        }
    );
    println!(
        "- CPU: {} ({} logical CPUs)",
        cpu(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("- Date: {}", date());
    println!("- LLVM: {}", query(&["--version"]));
    println!(
        "- Counts: {} small / {} medium / {} large objects per manager, {} modules per JIT path and {} per thread case (median of 3 rounds, interleaved across managers), {} live objects",
        counts.small, counts.medium, counts.large, counts.modules, counts.thread_modules, counts.live
    );
    if !main_rows.is_empty() {
        println!();
        println!("| Measurement | LLVM manager | LLVM | jitmm DualMap | DualMap ÷ LLVM | jitmm Mprotect | Mprotect ÷ LLVM |");
        println!("|---|---|---:|---:|---:|---:|---:|");
        for row in &main_rows {
            println!("{row}");
        }
    }
    println!();
    println!(
        "6. MCJIT, one engine for every module (median of {} rounds, interleaved); manager time: median of ten slices of the 500 modules before the count",
        counts.one_engine_rounds
    );
    println!();
    println!("| Modules in the engine | jitmm DualMap, manager µs/module | ÷ own at {} | SectionMemoryManager, manager µs/module | SMM ÷ jitmm | floor (RWX bump), manager µs/module | jitmm ÷ floor | jitmm modules/s | SMM modules/s | jitmm ÷ SMM |", counts.one_engine[0]);
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &one_engine_rows {
        println!("{row}");
    }
    if scaling_rows.is_empty() {
        return;
    }
    println!();
    println!("7. Cost per module against modules loaded and kept (one run each), at the counts after each path; freeing: all modules at the end, in load order");
    println!();
    println!("| Path (modules loaded) | Manager | Per module | at the first | second | third count | third ÷ first | freeing, per module |");
    println!("|---|---|---|---:|---:|---:|---:|---:|");
    for row in &scaling_rows {
        println!("{row}");
    }
}
