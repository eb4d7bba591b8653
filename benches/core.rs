//! The core's own cost per object, through the Rust API and without LLVM:
//! reserve, allocate code + read-only + read-write data, write them,
//! finalize, free — as a linker does. What the C++ shim adds, side by side
//! with LLVM's own managers, is `benches/compare.rs`.
//!
//! `cargo bench --bench core` (criterion; `-- --test` runs each case once).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use jitmm::{Arena, Class, Object, Strategy};

/// Section sizes (code, read-only, read-write) of the object sizes that
/// `benches/compare.rs` also uses.
const SIZES: [(&str, [usize; 3]); 3] = [
    ("small", [256, 128, 64]),
    ("medium", [8 << 10, 4 << 10, 4 << 10]),
    ("large", [512 << 10, 256 << 10, 256 << 10]),
];

/// One object's life in `arena`.
fn load_and_free(arena: &Arc<Arena>, sizes: [usize; 3]) {
    let mut object = Object::in_arena(arena.clone());
    object
        .reserve(sizes.map(|size| (size, 16)))
        .expect("reserve");
    for (class, size) in Class::ALL.into_iter().zip(sizes) {
        let id = object.allocate(class, size, 16).expect("allocate");
        object.bytes_mut(id).fill(0xc3);
    }
    drop(object.finalize().expect("finalize"));
}

fn object_life(c: &mut Criterion) {
    let mut group = c.benchmark_group("object");
    for strategy in [Strategy::DualMap, Strategy::Mprotect] {
        // DualMap needs memfd_create and shared executable mappings.
        let Ok(arena) = Arena::new(64 << 20, strategy) else {
            eprintln!("{strategy:?}: not available here, skipped");
            continue;
        };
        for (name, sizes) in SIZES {
            let id = BenchmarkId::new(format!("{strategy:?}"), name);
            group.bench_with_input(id, &sizes, |b, &sizes| {
                b.iter(|| load_and_free(&arena, sizes))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, object_life);
criterion_main!(benches);
