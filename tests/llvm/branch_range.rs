//! Every section reaches every other: objects at the two ends of the default
//! reservation call each other and use each other's data, on ORC's
//! RuntimeDyld and JITLink layers. On architectures whose direct calls reach
//! less than the reservation (AArch64 `BL` ±128 MiB, ARMv7 and PowerPC `bl`
//! ±32 MiB), this is the linkers' stubs at work; where they reach all of it
//! (x86 rel32, s390x `BRASL`) the call is direct.
//!
//! Placement, through the public API only: the shared arena is filled with
//! block-sized padding objects up to exhaustion (two small data anchors keep
//! spans with room in the read-only and read-write zones), then the lowest
//! padding block and the two highest are freed. The first module's code
//! lands in the lowest block (the class's spare span); the second module
//! carries more than a block of code, so it cannot share that block and
//! takes the two highest; a third module, loaded last, packs in next to the
//! first and calls the second.

use crate::common::llvm::*;
use crate::common::*;
use jitmm::arena::BLOCK_SIZE;
use jitmm::{Arena, Class, Config, Object, Strategy};

const NEAR: &str = r#"
@near_data = global i64 1000

define i64 @near_fn(i64 %x) {
  %d = load i64, ptr @near_data
  %r = add i64 %x, %d
  ret i64 %r
}
"#;

/// Calls back to the first module, reads its data and its own; more than a
/// block of code (the never-called `far_padding`) so that it gets a span of
/// its own.
fn far_ir() -> String {
    format!(
        r#"
@far_data = global i64 20
@near_data = external global i64
declare i64 @near_fn(i64)

define i64 @far_fn(i64 %x) {{
  %a = call i64 @near_fn(i64 %x)
  %f = load i64, ptr @far_data
  %n = load i64, ptr @near_data
  %b = add i64 %a, %f
  %r = add i64 %b, %n
  ret i64 %r
}}

define void @far_padding() {{
  call void asm sideeffect ".skip {}", ""()
  ret void
}}
"#,
        BLOCK_SIZE + (64 << 10)
    )
}

const NEAR2: &str = r#"
@far_data = external global i64
declare i64 @far_fn(i64)

define i64 @near2_fn(i64 %x) {
  %a = call i64 @far_fn(i64 %x)
  %f = load i64, ptr @far_data
  %r = add i64 %a, %f
  ret i64 %r
}
"#;

/// The arena filled with block-sized code padding, but for its lowest block
/// and its two highest, plus the two data anchors.
struct Filled {
    _padding: Vec<Object>,
    _anchors: Vec<Object>,
}

fn fill_but_the_ends(strategy: Strategy) -> Filled {
    let config = Config::new().strategy(strategy);
    let mut anchors = Vec::new();
    for class in [Class::ReadOnly, Class::ReadWrite] {
        let mut anchor = Object::new(&config).unwrap();
        anchor.allocate(class, 64, 8).unwrap();
        anchors.push(anchor);
    }
    let mut padding = Vec::new();
    loop {
        let mut block = Object::new(&config).unwrap();
        match block.allocate(Class::Code, BLOCK_SIZE, 16) {
            Ok(id) => {
                let at = block.section(id).exec as usize;
                padding.push((at, block));
            }
            Err(jitmm::Error::ReservationExhausted { .. }) => break,
            Err(e) => panic!("padding: {e}"),
        }
    }
    padding.sort_by_key(|(at, _)| *at);
    assert!(padding.len() >= 4, "only {} padding blocks", padding.len());
    // Dropping an object frees its blocks. The first span of a class to
    // empty stays mapped as its spare: that must be the lowest, for the first
    // module, so that the two highest blocks are free and adjacent.
    let lowest = padding.remove(0);
    let highest = [padding.pop(), padding.pop()];
    drop(lowest);
    drop(highest);
    jitmm::trim();
    Filled {
        _padding: padding.into_iter().map(|(_, o)| o).collect(),
        _anchors: anchors,
    }
}

fn distance(a: u64, b: u64) -> u64 {
    a.abs_diff(b)
}

fn far_ends(layer: Layer, strategy: Strategy) {
    let arena = Arena::for_config(&Config::new().strategy(strategy)).unwrap();
    let (base, size) = arena.reservation();
    jitmm::trim();
    let jit = Lljit::new(layer, strategy);
    let filled = fill_but_the_ends(strategy);
    let near = jit.add(NEAR);
    let near_fn = jit.lookup("near_fn");
    let far = jit.add(&far_ir());
    let far_fn = jit.lookup("far_fn");
    let near2 = jit.add(NEAR2);
    let near2_fn = jit.lookup("near2_fn");
    let near_data = jit.lookup("near_data");
    let far_data = jit.lookup("far_data");

    assert_eq!(jit.fn1("near_fn")(1), 1001);
    assert_eq!(jit.fn1("far_fn")(1), 1 + 1000 + 20 + 1000);
    assert_eq!(jit.fn1("near2_fn")(1), 2021 + 20);
    for addr in [near_fn, far_fn, near2_fn, near_data, far_data] {
        assert_in_arena(addr, strategy);
    }
    let mib = |d: u64| d as f64 / (1 << 20) as f64;
    println!(
        "{} {layer:?} {strategy:?}: reservation {:.0} MiB at {base:#x}; code near {:#x} / far {:#x} / \
         near2 {:#x}: near2 -> far {:.1} MiB, far -> near {:.1} MiB; data far {:.1} MiB from near2, \
         near {:.1} MiB from far",
        std::env::consts::ARCH,
        mib(size as u64),
        near_fn,
        far_fn,
        near2_fn,
        mib(distance(near2_fn, far_fn)),
        mib(distance(far_fn, near_fn)),
        mib(distance(near2_fn, far_data)),
        mib(distance(far_fn, near_data)),
    );
    // The code sits at the two ends of the reservation, whatever the
    // architecture's direct branch reaches.
    let low = (near_fn as usize - base, near2_fn as usize - base);
    assert!(low.0 < BLOCK_SIZE && low.1 < BLOCK_SIZE, "{low:?}");
    assert!(far_fn as usize - base >= size - 2 * BLOCK_SIZE);
    assert_no_wx();

    jit.remove(near2);
    jit.remove(far);
    jit.remove(near);
    drop(jit);
    drop(filled);
    jitmm::trim();
}

#[test]
fn rtdyld_objects_at_the_ends_of_the_reservation_reach_each_other() {
    let _g = serial();
    for strategy in strategies() {
        far_ends(Layer::JitmmRtdyld, strategy);
    }
}

// LLVM 19 has no JITLink backend for s390x or MIPS (build.rs).
#[cfg(jitlink_backend)]
#[test]
fn jitlink_objects_at_the_ends_of_the_reservation_reach_each_other() {
    let _g = serial();
    for strategy in strategies() {
        far_ends(Layer::JitmmJitlink, strategy);
    }
}
