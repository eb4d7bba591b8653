//! Property test: random sequences of object creation, section allocation,
//! finalize and free on a private arena, checked after every step against a
//! model: sections never overlap, alignment is kept, contents survive
//! finalize (read back through the executable view), final protections are
//! right in /proc/self/maps, and the arena's live counts match the model.

use std::sync::Arc;

use jitmm::{Arena, Class, FinalizedObject, Object, SectionId, Strategy as Placement};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// A new open object.
    Open,
    /// A section in the `n`-th open object (modulo their number).
    Alloc {
        n: usize,
        class: Class,
        size: usize,
        align_log2: u32,
    },
    /// Finalize the `n`-th open object.
    Finalize(usize),
    /// Drop the `n`-th object, open or finalized.
    Free(usize),
}

fn class() -> impl proptest::strategy::Strategy<Value = Class> {
    prop_oneof![
        Just(Class::Code),
        Just(Class::ReadOnly),
        Just(Class::ReadWrite)
    ]
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    prop_oneof![
        2 => Just(Op::Open),
        6 => (any::<usize>(), class(), prop_oneof![
                20 => 1usize..512,
                8 => 512usize..20_000,
                1 => 20_000usize..(3 << 20),
            ], 0u32..13)
            .prop_map(|(n, class, size, align_log2)| Op::Alloc { n, class, size, align_log2 }),
        2 => any::<usize>().prop_map(Op::Finalize),
        2 => any::<usize>().prop_map(Op::Free),
    ]
}

/// One section as the model knows it.
#[derive(Debug, Clone, Copy)]
struct Sec {
    id: SectionId,
    class: Class,
    size: usize,
    align: usize,
    seed: u8,
}

enum State {
    Open(Object),
    Done(FinalizedObject),
}

struct Obj {
    state: State,
    secs: Vec<Sec>,
}

fn pattern(seed: u8, i: usize) -> u8 {
    ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8 ^ seed
}

/// Indices of the bytes checked: all of a small section, a sample of a big one.
fn checked(len: usize) -> impl Iterator<Item = usize> {
    let step = if len <= 64 << 10 { 1 } else { 4093 };
    (0..len).step_by(step).chain(len.saturating_sub(64)..len)
}

/// The permissions of the mapping holding `addr`.
fn perms(maps: &str, addr: usize) -> Option<String> {
    maps.lines().find_map(|line| {
        let mut fields = line.split_whitespace();
        let (lo, hi) = fields.next()?.split_once('-')?;
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).ok()?,
            usize::from_str_radix(hi, 16).ok()?,
        );
        (lo <= addr && addr < hi).then(|| fields.next().unwrap_or("").to_string())
    })
}

struct Model {
    arena: Arc<Arena>,
    objects: Vec<Obj>,
}

impl Model {
    fn granule(&self, class: Class) -> usize {
        if self.arena.strategy() == Placement::Mprotect && class != Class::ReadWrite {
            self.arena.page_size()
        } else {
            16
        }
    }

    fn apply(&mut self, op: &Op, seed: u8) {
        let open: Vec<usize> = (0..self.objects.len())
            .filter(|&i| matches!(self.objects[i].state, State::Open(_)))
            .collect();
        match *op {
            Op::Open => {
                if self.objects.len() < 12 {
                    self.objects.push(Obj {
                        state: State::Open(Object::in_arena(self.arena.clone())),
                        secs: Vec::new(),
                    });
                }
            }
            Op::Alloc {
                n,
                class,
                size,
                align_log2,
            } => {
                let Some(&i) = open.get(n % open.len().max(1)) else {
                    return;
                };
                let align = 1usize << align_log2;
                let obj = &mut self.objects[i];
                let State::Open(object) = &mut obj.state else {
                    unreachable!()
                };
                let id = object.allocate(class, size, align).unwrap();
                for (k, b) in object.bytes_mut(id).iter_mut().enumerate() {
                    *b = pattern(seed, k);
                }
                obj.secs.push(Sec {
                    id,
                    class,
                    size,
                    align,
                    seed,
                });
            }
            Op::Finalize(n) => {
                let Some(&i) = open.get(n % open.len().max(1)) else {
                    return;
                };
                let obj = &mut self.objects[i];
                let State::Open(object) = std::mem::replace(
                    &mut obj.state,
                    State::Open(Object::in_arena(self.arena.clone())),
                ) else {
                    unreachable!()
                };
                // The placeholder object is dropped here (it holds nothing).
                obj.state = State::Done(object.finalize().unwrap());
            }
            Op::Free(n) => {
                if !self.objects.is_empty() {
                    let i = n % self.objects.len();
                    self.objects.remove(i);
                }
            }
        }
    }

    /// Every property the model promises.
    fn check(&self) {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let mut exec_ranges = Vec::new();
        let mut rw_ranges = Vec::new();
        let mut expected_live = 0;
        for obj in &self.objects {
            for sec in &obj.secs {
                let (s, finalized) = match &obj.state {
                    State::Open(o) => (o.section(sec.id), false),
                    State::Done(d) => (d.section(sec.id), true),
                };
                let (exec, rw) = (s.exec as usize, s.rw as usize);
                assert_eq!(s.len, sec.size);
                assert_eq!(s.class, sec.class);
                assert_eq!(
                    exec % sec.align,
                    0,
                    "exec {exec:#x} not aligned to {}",
                    sec.align
                );
                assert_eq!(rw % sec.align, 0, "rw {rw:#x} not aligned to {}", sec.align);
                let (base, size) = self.arena.reservation();
                assert!(exec >= base && exec + sec.size <= base + size);
                exec_ranges.push((exec, exec + sec.size));
                if rw != exec {
                    rw_ranges.push((rw, rw + sec.size));
                }
                expected_live +=
                    sec.size.div_ceil(self.granule(sec.class)) * self.granule(sec.class);
                // Contents: through the view the program uses once finalized,
                // through the writable view before.
                let view = if finalized { exec } else { rw };
                // SAFETY: `size` readable bytes of a live section.
                let bytes = unsafe { std::slice::from_raw_parts(view as *const u8, sec.size) };
                for k in checked(sec.size) {
                    assert_eq!(bytes[k], pattern(sec.seed, k), "byte {k} of {sec:?}");
                }
                let p = perms(&maps, exec).expect("section mapped");
                if finalized {
                    let want = match sec.class {
                        Class::Code => "r-x",
                        Class::ReadOnly => "r--",
                        Class::ReadWrite => "rw-",
                    };
                    assert!(p.starts_with(want), "{sec:?} finalized: {p}");
                } else {
                    // Never writable and executable; writable where written.
                    assert!(!(p.contains('w') && p.contains('x')), "{p}");
                    let pw = perms(&maps, rw).expect("writable view mapped");
                    assert!(pw.starts_with("rw-"), "{sec:?} open: {pw}");
                }
            }
        }
        for ranges in [&mut exec_ranges, &mut rw_ranges] {
            ranges.sort_unstable();
            for pair in ranges.windows(2) {
                assert!(pair[0].1 <= pair[1].0, "sections overlap: {pair:?}");
            }
        }
        assert_eq!(self.arena.live_objects(), self.objects.len());
        assert_eq!(self.arena.live_bytes(), expected_live);
        assert!(crate::common::wx_mappings().is_empty());
    }
}

fn run(strategy: Placement, ops: &[(Op, u8)]) {
    let arena = Arena::new(256 << 20, strategy).unwrap();
    let mut model = Model {
        arena: arena.clone(),
        objects: Vec::new(),
    };
    for (op, seed) in ops {
        model.apply(op, *seed);
        model.check();
    }
    model.objects.clear();
    assert_eq!(arena.live_objects(), 0);
    assert_eq!(arena.live_bytes(), 0);
}

/// Cases per strategy: 96, or `PROPTEST_CASES`.
fn model_cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(96)
}

proptest! {
    // PROPTEST_CASES sets fewer where each case is slow (under qemu-user).
    #![proptest_config(ProptestConfig { cases: model_cases(), ..ProptestConfig::default() })]

    #[test]
    fn dual_map_matches_the_model(ops in proptest::collection::vec((op(), any::<u8>()), 1..80)) {
        run(Placement::DualMap, &ops);
    }

    #[test]
    fn mprotect_matches_the_model(ops in proptest::collection::vec((op(), any::<u8>()), 1..80)) {
        run(Placement::Mprotect, &ops);
    }
}
