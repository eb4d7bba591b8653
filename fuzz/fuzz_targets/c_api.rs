//! Sequences of calls across jitmm's C boundary — the `extern "C"` table the
//! C++ shim drives (`cshim/core.h`) and the C API of `cshim/jitmm.h` that
//! the core implements — decoded from the fuzzer's input and checked
//! against a model:
//!
//! - every failure is -1 / NULL with a non-empty `jitmm_last_error()` whose
//!   text names the expected cause (and every success was expected);
//! - live sections never overlap (executable and writable views), keep
//!   their alignment, and keep their contents (a pattern written at
//!   allocation is verified through the executable view, also after
//!   finalize, and again before the object is freed);
//! - `jitmm_stats_get` agrees with the model: live objects and finalize
//!   counts exactly, live bytes per class within the bounds the allocation
//!   rules allow (exactly, for objects without reservations), and back to
//!   the starting point once everything is freed;
//! - misuse — double frees, foreign and wrong-kind handles, NULL — is an
//!   error, never a crash.
#![no_main]

use std::collections::BTreeMap;
use std::ffi::{c_int, CStr};
use std::ptr::{null, null_mut};
use std::sync::OnceLock;

use jitmm::ffi::{
    jitmm_config, jitmm_config_init, jitmm_last_error, jitmm_stats_get, CoreArena, CoreSection,
    CORE_API,
};
use jitmm::Stats;
use libfuzzer_sys::fuzz_target;

const BLOCK: usize = 2 << 20;
const DEFAULT_RESERVATION: usize = 1 << 30;
/// At most this many arena handles and objects per input (keeps runs fast).
const MAX_ARENAS: usize = 6;
const MAX_OBJECTS: usize = 24;
/// Sections larger than this get the pattern on a head, a middle and a tail
/// window only (a full write would commit hundreds of MiB).
const FULL_PATTERN: usize = 16 << 10;
/// The least a batched object takes from the arena for a class at a time
/// (`SLAB` in src/object.rs).
const SLAB: usize = 16 << 10;
const WINDOW: usize = 4096;

/// The fuzzer's bytes, read front to back; zeros once exhausted.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn page() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

fn round_up(x: usize, to: usize) -> Option<usize> {
    Some(x.checked_add(to - 1)? & !(to - 1))
}

fn last_error() -> String {
    // SAFETY: jitmm_last_error returns a valid C string of this thread.
    unsafe { CStr::from_ptr(jitmm_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn clear_error() {
    // SAFETY: a NUL-terminated string.
    unsafe { (CORE_API.set_last_error)(c"".as_ptr()) };
}

/// The call failed: its message must be set and name one of `causes`.
fn expect_error(call: &str, causes: &[&str]) {
    let message = last_error();
    assert!(!message.is_empty(), "{call}: failed without a last error");
    assert!(
        causes.iter().any(|c| message.contains(c)),
        "{call}: unexpected error {message:?} (expected one of {causes:?})"
    );
}

fn pattern(seed: u8, i: usize) -> u8 {
    seed.wrapping_add((i as u8).wrapping_mul(131)) ^ (i >> 8) as u8
}

/// The byte ranges of a section that carry the pattern.
fn windows(size: usize) -> Vec<(usize, usize)> {
    if size <= FULL_PATTERN {
        vec![(0, size)]
    } else {
        vec![
            (0, WINDOW),
            (size / 2, size / 2 + WINDOW),
            (size - WINDOW, size),
        ]
    }
}

#[derive(Debug, Clone)]
struct Sec {
    class: usize,
    rw: usize,
    exec: usize,
    size: usize,
    seed: u8,
}

impl Sec {
    fn write(&self) {
        for (start, end) in windows(self.size) {
            for i in start..end {
                // SAFETY: `rw` is the section's writable view of `size` bytes,
                // still writable (before finalize, or read-write data).
                unsafe { *((self.rw + i) as *mut u8) = pattern(self.seed, i) };
            }
        }
    }

    fn verify(&self, why: &str) {
        for (start, end) in windows(self.size) {
            for i in start..end {
                // SAFETY: `exec` is the section's readable view of `size`
                // bytes (code is R-X, read-only data R, read-write data RW).
                let got = unsafe { *((self.exec + i) as *const u8) };
                assert_eq!(
                    got,
                    pattern(self.seed, i),
                    "{why}: section {self:x?} lost its contents at offset {i}"
                );
            }
        }
    }
}

struct ArenaModel {
    handle: usize,
    live: bool,
    dual: bool,
    size: usize,
}

struct ObjModel {
    handle: usize,
    live: bool,
    dual: bool,
    /// Reservation size of its arena (the TooLarge limit).
    arena_size: usize,
    finalized: bool,
    mapped: bool,
    secs: Vec<Sec>,
    /// Bytes reserved up front per class (upper bound of what they hold).
    reserved: [usize; 3],
    /// From `object_new_batched`: finalized after each batch, never for good.
    batched: bool,
    /// Batched: where in `secs` the open batch starts.
    batch_start: usize,
    /// Batched: an upper bound of the slab bytes taken per class.
    slabs: [usize; 3],
}

impl ObjModel {
    fn granule(&self, class: usize) -> usize {
        if !self.dual && class != 2 {
            page()
        } else {
            16
        }
    }
}

/// What a handle argument is.
#[derive(Clone, Copy, Debug)]
enum Target {
    Null,
    LiveArena(usize),
    LiveObject(usize),
    /// Freed, foreign or otherwise never handed out.
    Unknown(usize),
}

struct Run {
    arenas: Vec<ArenaModel>,
    objects: Vec<ObjModel>,
    /// Start -> (end, object index): executable and writable views of live sections.
    ranges: BTreeMap<usize, (usize, usize)>,
    finalized: u64,
    base: Stats,
    foreign: [usize; 3],
    seed: u8,
}

fn stats() -> Stats {
    let mut stats = Stats::default();
    // SAFETY: a valid out pointer.
    assert_eq!(unsafe { jitmm_stats_get(&mut stats) }, 0);
    stats
}

impl Run {
    fn resolve(&self, addr: usize) -> Target {
        if addr == 0 {
            return Target::Null;
        }
        if let Some(i) = self.arenas.iter().position(|a| a.live && a.handle == addr) {
            return Target::LiveArena(i);
        }
        if let Some(i) = self.objects.iter().position(|o| o.live && o.handle == addr) {
            return Target::LiveObject(i);
        }
        Target::Unknown(addr)
    }

    /// A handle argument: live, dead (freed earlier; the address may have
    /// been reused), foreign, NULL, or of the other kind.
    fn pick(&self, input: &mut Input, want_object: bool) -> Target {
        let (mine, other): (Vec<usize>, Vec<usize>) = if want_object {
            (
                self.objects.iter().map(|o| o.handle).collect(),
                self.arenas.iter().map(|a| a.handle).collect(),
            )
        } else {
            (
                self.arenas.iter().map(|a| a.handle).collect(),
                self.objects.iter().map(|o| o.handle).collect(),
            )
        };
        let k = input.byte();
        let addr = match k % 16 {
            0 => 0,
            1 => self.foreign[usize::from(k / 16) % 3],
            2 if !other.is_empty() => other[usize::from(k / 16) % other.len()],
            3 if !mine.is_empty() => mine[usize::from(k / 16) % mine.len()] + 8,
            _ if !mine.is_empty() => {
                // Prefer live handles; dead ones come up as often as the
                // input asks for them.
                let live: Vec<usize> = mine
                    .iter()
                    .copied()
                    .filter(|&h| !matches!(self.resolve(h), Target::Unknown(_)))
                    .collect();
                if k % 16 < 12 && !live.is_empty() {
                    live[usize::from(k / 16) % live.len()]
                } else {
                    mine[usize::from(k / 16) % mine.len()]
                }
            }
            _ => 0,
        };
        self.resolve(addr)
    }

    fn arena_ptr(t: Target, run: &Run) -> *mut CoreArena {
        match t {
            Target::Null => null_mut(),
            Target::LiveArena(i) => run.arenas[i].handle as *mut CoreArena,
            Target::LiveObject(i) => run.objects[i].handle as *mut CoreArena,
            Target::Unknown(a) => a as *mut CoreArena,
        }
    }

    fn object_addr(t: Target, run: &Run) -> usize {
        match t {
            Target::Null => 0,
            Target::LiveArena(i) => run.arenas[i].handle,
            Target::LiveObject(i) => run.objects[i].handle,
            Target::Unknown(a) => a,
        }
    }

    fn acquire(&mut self, input: &mut Input) {
        if self.arenas.len() >= MAX_ARENAS {
            return;
        }
        let k = input.byte();
        let strategy: c_int = [0, 1, 2, 1, 2, 3, -1, 0x7fff_ffff][usize::from(k % 8)];
        let private = k & 0x10 != 0;
        let reservation: usize = match input.byte() % 10 {
            0..=2 => 0,
            3 => 1,
            4 => BLOCK,
            5 => 2 * BLOCK + 1,
            6 => 8 * BLOCK,
            7 => 1 << 40,
            8 => usize::MAX,
            _ => usize::MAX - BLOCK + 2,
        };
        let null_config = k & 0x20 != 0;
        let config = jitmm_config {
            strategy,
            private_arena: c_int::from(private),
            reservation_size: reservation,
            ..jitmm_config::default()
        };
        clear_error();
        // SAFETY: NULL or a valid config.
        let handle =
            unsafe { (CORE_API.arena_acquire)(if null_config { null() } else { &config }) };
        // A reservation size implies a private arena.
        let (strategy, private) = if null_config {
            (0, false)
        } else {
            (strategy, private || reservation != 0)
        };
        if !(0..=2).contains(&strategy) {
            assert!(handle.is_null(), "strategy {strategy} accepted");
            return expect_error("arena_acquire", &["strategy"]);
        }
        let size = if !private || reservation == 0 {
            Some(DEFAULT_RESERVATION)
        } else {
            round_up(reservation.max(BLOCK), BLOCK)
        };
        if handle.is_null() {
            // Only a reservation the OS cannot give may be refused.
            assert!(
                private && size.is_none_or(|s| s >= 1 << 40),
                "arena_acquire({config:?}) failed: {}",
                last_error()
            );
            return expect_error("arena_acquire", &["exceeds", "failed under strategy"]);
        }
        let size = size.expect("a reservation that cannot be rounded was accepted");
        // SAFETY: a live handle.
        let dual = unsafe { (CORE_API.arena_is_dual_mapped)(handle) } != 0;
        match strategy {
            1 => assert!(dual, "strategy DualMap gave a single-mapped arena"),
            2 => assert!(!dual, "strategy Mprotect gave a dual-mapped arena"),
            _ => {}
        }
        assert!(
            matches!(self.resolve(handle as usize), Target::Unknown(_)),
            "arena_acquire returned a live handle again"
        );
        self.arenas.push(ArenaModel {
            handle: handle as usize,
            live: true,
            dual,
            size,
        });
    }

    fn release(&mut self, input: &mut Input) {
        let target = self.pick(input, false);
        clear_error();
        // SAFETY: live handles are valid; the rest is misuse the API must
        // reject without touching memory.
        unsafe { (CORE_API.arena_release)(Self::arena_ptr(target, self)) };
        match target {
            Target::LiveArena(i) => self.arenas[i].live = false,
            Target::Null => {}
            _ => expect_error("arena_release of a bad handle", &["handle"]),
        }
    }

    fn object_new(&mut self, input: &mut Input) {
        if self.objects.len() >= MAX_OBJECTS {
            return;
        }
        let batched = input.byte().is_multiple_of(3);
        let target = self.pick(input, false);
        clear_error();
        let new = if batched {
            CORE_API.object_new_batched
        } else {
            CORE_API.object_new
        };
        // SAFETY: as in `release`.
        let handle = unsafe { new(Self::arena_ptr(target, self)) };
        let Target::LiveArena(a) = target else {
            assert!(handle.is_null(), "object_new on {target:?} succeeded");
            return expect_error("object_new", &["null arena", "handle"]);
        };
        assert!(!handle.is_null(), "object_new failed: {}", last_error());
        assert!(
            matches!(self.resolve(handle as usize), Target::Unknown(_)),
            "object_new returned a live handle again"
        );
        let arena = &self.arenas[a];
        self.objects.push(ObjModel {
            handle: handle as usize,
            live: true,
            dual: arena.dual,
            arena_size: arena.size,
            finalized: false,
            mapped: false,
            secs: Vec::new(),
            reserved: [0; 3],
            batched,
            batch_start: 0,
            slabs: [0; 3],
        });
    }

    /// The error a bad object handle must give, or the live object.
    fn live_object(&self, target: Target, call: &str, failed: bool) -> Option<usize> {
        match target {
            Target::LiveObject(i) => Some(i),
            _ => {
                assert!(failed, "{call} on {target:?} succeeded");
                expect_error(call, &["null object", "handle"]);
                None
            }
        }
    }

    /// Predicts `layout`: Err(cause) or the chunk length.
    fn layout(
        o: &ObjModel,
        class: usize,
        size: usize,
        align: usize,
    ) -> Result<usize, &'static str> {
        if size == 0 {
            return Err("zero-sized");
        }
        if !align.is_power_of_two() || align > page() {
            return Err("bad alignment");
        }
        match round_up(size, o.granule(class)) {
            Some(len) if len <= o.arena_size => Ok(len),
            _ => Err("exceeds the arena"),
        }
    }

    fn size(input: &mut Input) -> usize {
        let k = input.byte();
        let fine = input.byte() as usize;
        match k % 10 {
            0 => 0,
            1..=4 => 1 + input.u16() as usize % 512,
            5 => 1 + input.u32() as usize % (64 << 10),
            6 => ((1 + fine % 4) * page() + fine % 3).saturating_sub(1),
            7 => ((1 + fine % 8) << 20) + fine % 3 - 1,
            8 => [
                usize::MAX,
                usize::MAX - 15,
                1 << 40,
                DEFAULT_RESERVATION,
                DEFAULT_RESERVATION + 1,
                isize::MAX as usize,
            ][fine % 6],
            _ => (BLOCK + fine % 3).saturating_sub(1),
        }
    }

    fn align(input: &mut Input) -> usize {
        let k = input.byte();
        match k % 8 {
            0 => 0,
            1..=4 => 1 << (k / 8 % 13),
            5 => [3, 6, 12, 24, 48, 100, 4095, 4097][usize::from(k / 8 % 8)],
            6 => [8192, 1 << 20, usize::MAX, 1 << 63][usize::from(k / 8 % 4)],
            _ => 16,
        }
    }

    fn reserve(&mut self, input: &mut Input) {
        let target = self.pick(input, true);
        let mut req = [(0, 0); 3];
        for r in &mut req {
            *r = if input.byte().is_multiple_of(2) {
                (0, 0)
            } else {
                (Self::size(input), Self::align(input))
            };
        }
        clear_error();
        // SAFETY: as in `release`.
        let rc = unsafe {
            (CORE_API.object_reserve)(
                Self::object_addr(target, self) as *mut _,
                req[0].0,
                req[0].1,
                req[1].0,
                req[1].1,
                req[2].0,
                req[2].1,
            )
        };
        let Some(i) = self.live_object(target, "object_reserve", rc == -1) else {
            return;
        };
        let o = &self.objects[i];
        // Classes are placed in order, each checked just before: a class
        // placed earlier may run out of room before a later one's bad
        // request is seen.
        let mut lens = Vec::new();
        let mut expected = Ok(());
        if o.finalized {
            expected = Err("already finalized");
        }
        for (c, &(size, align)) in req.iter().enumerate().filter(|(_, r)| r.0 != 0) {
            if expected.is_err() {
                break;
            }
            match Self::layout(o, c, size, align.max(1)) {
                Ok(len) => lens.push((c, len)),
                Err(cause) => expected = Err(cause),
            }
        }
        let room = ["exhausted", "failed under strategy"];
        if o.batched {
            // Slabs for the classes before a failure stay taken.
            for &(c, len) in &lens {
                self.objects[i].slabs[c] += len.max(SLAB);
            }
        }
        match (expected, rc) {
            (Ok(()), 0) => {
                for (c, len) in lens {
                    self.objects[i].reserved[c] += len;
                }
            }
            (Ok(()), -1) => expect_error("object_reserve", &room),
            (Err(cause), -1) if lens.is_empty() => expect_error("object_reserve", &[cause]),
            (Err(cause), -1) => expect_error("object_reserve", &[cause, room[0], room[1]]),
            (e, rc) => panic!("object_reserve {req:?}: expected {e:?}, got {rc}"),
        }
    }

    fn allocate(&mut self, input: &mut Input) {
        let target = self.pick(input, true);
        let k = input.byte();
        let class: c_int = if k % 16 == 15 {
            [-1, 3, 7, c_int::MIN][usize::from(k / 16 % 4)]
        } else {
            c_int::from(k % 3)
        };
        let null_out = k % 16 == 14;
        let size = Self::size(input);
        let align = Self::align(input);
        let mut out = CoreSection {
            rw: null_mut(),
            exec: null_mut(),
        };
        clear_error();
        // SAFETY: as in `release`; `out` is NULL or valid.
        let rc = unsafe {
            (CORE_API.object_allocate)(
                Self::object_addr(target, self) as *mut _,
                class,
                size,
                align,
                if null_out { null_mut() } else { &mut out },
            )
        };
        let Some(i) = self.live_object(target, "object_allocate", rc == -1) else {
            return;
        };
        let call = format!("object_allocate(class {class}, size {size}, align {align})");
        let o = &mut self.objects[i];
        if o.batched && (0..3).contains(&class) && !null_out {
            // A new batch is not placed until the linker says so.
            o.mapped = false;
        }
        let expected = if !(0..3).contains(&class) {
            Err("class")
        } else if null_out {
            Err("null out")
        } else if o.finalized {
            Err("already finalized")
        } else {
            let a = if align == 0 { 16 } else { align };
            Self::layout(o, class as usize, size, a).map(|_| a)
        };
        let align = match (expected, rc) {
            (Ok(a), 0) => {
                if o.batched {
                    let len = round_up(size, o.granule(class as usize)).unwrap();
                    o.slabs[class as usize] += len.max(SLAB);
                }
                a
            }
            (Ok(_), -1) => {
                return expect_error(&call, &["exhausted", "failed under strategy"]);
            }
            (Err(cause), -1) => return expect_error(&call, &[cause]),
            (e, rc) => panic!("{call}: expected {e:?}, got {rc}"),
        };
        let (rw, exec) = (out.rw as usize, out.exec as usize);
        assert!(rw != 0 && exec != 0, "{call}: NULL section");
        assert_eq!(
            exec % align,
            0,
            "{call}: executable address {exec:#x} misaligned"
        );
        assert_eq!(rw % align, 0, "{call}: writable address {rw:#x} misaligned");
        if o.dual && class != 2 {
            assert_ne!(rw, exec, "{call}: DualMap section with one view");
        } else {
            assert_eq!(rw, exec, "{call}: single-view section with two addresses");
        }
        let mut views = vec![exec];
        if rw != exec {
            views.push(rw);
        }
        for start in views {
            let end = start + size;
            if let Some((&s, &(e, owner))) = self.ranges.range(..end).next_back() {
                assert!(
                    e <= start,
                    "{call}: [{start:#x}, {end:#x}) overlaps live [{s:#x}, {e:#x}) of object {owner}"
                );
            }
            self.ranges.insert(start, (end, i));
        }
        self.seed = self.seed.wrapping_add(37);
        let sec = Sec {
            class: class as usize,
            rw,
            exec,
            size,
            seed: self.seed,
        };
        sec.write();
        sec.verify(&call);
        self.objects[i].secs.push(sec);
    }

    fn mark_mapped(&mut self, input: &mut Input) {
        let target = self.pick(input, true);
        clear_error();
        // SAFETY: as in `release`.
        unsafe { (CORE_API.object_placed)(Self::object_addr(target, self) as *mut _) };
        match target {
            Target::LiveObject(i) => self.objects[i].mapped = true,
            Target::Null => {}
            _ => expect_error("object_placed of a bad handle", &["handle"]),
        }
    }

    fn finalize(&mut self, input: &mut Input) {
        let target = self.pick(input, true);
        clear_error();
        // SAFETY: as in `release`.
        let rc = unsafe { (CORE_API.object_finalize)(Self::object_addr(target, self) as *mut _) };
        let Some(i) = self.live_object(target, "object_finalize", rc == -1) else {
            return;
        };
        let o = &mut self.objects[i];
        let batch = &o.secs[o.batch_start..];
        let expected = if o.finalized {
            Err("already finalized")
        } else if o.dual && !o.mapped && batch.iter().any(|s| s.class != 2) {
            Err("notifyObjectLoaded")
        } else {
            Ok(())
        };
        match (expected, rc) {
            (Ok(()), 0) => {
                if o.batched {
                    // The next batch starts afresh, to be placed anew.
                    (o.batch_start, o.mapped) = (o.secs.len(), false);
                } else {
                    o.finalized = true;
                }
                self.finalized += 1;
                for sec in &o.secs {
                    sec.verify("after finalize");
                }
            }
            (Err(cause), -1) => expect_error("object_finalize", &[cause]),
            (e, rc) => panic!(
                "object_finalize: expected {e:?}, got {rc} ({})",
                last_error()
            ),
        }
    }

    fn free_object(&mut self, i: usize) {
        let o = &mut self.objects[i];
        for sec in &o.secs {
            sec.verify("before free");
            self.ranges.remove(&sec.exec);
            self.ranges.remove(&sec.rw);
        }
        o.live = false;
        o.secs.clear();
        o.reserved = [0; 3];
        // SAFETY: a live handle, freed once.
        unsafe { (CORE_API.object_free)(o.handle as *mut _) };
    }

    fn free(&mut self, input: &mut Input) {
        match self.pick(input, true) {
            Target::LiveObject(i) => self.free_object(i),
            target => {
                clear_error();
                // SAFETY: not a live object: the API must reject it without
                // touching memory.
                unsafe { (CORE_API.object_free)(Self::object_addr(target, self) as *mut _) };
                if !matches!(target, Target::Null) {
                    expect_error("object_free of a bad handle", &["handle"]);
                }
            }
        }
    }

    fn check_stats(&self) {
        let now = stats();
        let live: Vec<&ObjModel> = self.objects.iter().filter(|o| o.live).collect();
        assert_eq!(
            now.objects_live - self.base.objects_live,
            live.len() as u64,
            "objects_live"
        );
        assert_eq!(
            now.objects_finalized - self.base.objects_finalized,
            self.finalized,
            "objects_finalized"
        );
        let got = [
            now.bytes_live_code - self.base.bytes_live_code,
            now.bytes_live_rodata - self.base.bytes_live_rodata,
            now.bytes_live_rwdata - self.base.bytes_live_rwdata,
        ];
        for (class, &got) in got.iter().enumerate() {
            let (mut lo, mut hi) = (0u64, 0u64);
            for o in &live {
                let g = o.granule(class);
                let sizes = || o.secs.iter().filter(|s| s.class == class).map(|s| s.size);
                let exact: u64 = sizes().map(|n| n as u64).sum();
                let rounded: u64 = sizes().map(|n| round_up(n, g).unwrap() as u64).sum();
                if o.batched {
                    // Sections share slabs, trimmed to what was used when
                    // the next one is taken.
                    lo += exact;
                    hi += o.slabs[class] as u64;
                } else {
                    lo += if o.reserved == [0; 3] { rounded } else { exact };
                    hi += rounded + o.reserved[class] as u64;
                }
            }
            assert!(
                (lo..=hi).contains(&got),
                "live bytes of class {class}: {got}, model allows {lo}..={hi}"
            );
        }
    }

    fn stats_op(&mut self, input: &mut Input) {
        if input.byte().is_multiple_of(8) {
            clear_error();
            // SAFETY: NULL is the case under test.
            assert_eq!(unsafe { jitmm_stats_get(null_mut()) }, -1);
            expect_error("jitmm_stats_get(NULL)", &["NULL"]);
        } else {
            self.check_stats();
        }
    }

    fn misc(&mut self, input: &mut Input) {
        match input.byte() % 5 {
            0 => {
                let target = self.pick(input, false);
                // SAFETY: as in `release`.
                let dual =
                    unsafe { (CORE_API.arena_is_dual_mapped)(Self::arena_ptr(target, self)) };
                match target {
                    Target::LiveArena(i) => assert_eq!(dual != 0, self.arenas[i].dual),
                    _ => assert_eq!(dual, 0, "is_dual_mapped of {target:?}"),
                }
            }
            1 => {
                let mut config = jitmm_config {
                    strategy: 9,
                    private_arena: 1,
                    reservation_size: 77,
                    perf_map: 1,
                    debugger: 1,
                    size: 3,
                };
                // SAFETY: NULL, then a valid config.
                unsafe {
                    jitmm_config_init(null_mut());
                    jitmm_config_init(&mut config);
                }
                assert_eq!(
                    (
                        config.strategy,
                        config.private_arena,
                        config.reservation_size,
                        config.perf_map,
                        config.size
                    ),
                    (0, 0, 0, 0, std::mem::size_of::<jitmm_config>())
                );
            }
            2 => {
                let target = self.pick(input, true);
                let addr = Self::object_addr(target, self);
                // SAFETY: as in `release`; the name is valid for its length.
                unsafe {
                    let wants = (CORE_API.object_wants_symbols)(addr as *const _);
                    assert_eq!(wants, 0, "perf map is off, yet symbols wanted");
                    (CORE_API.object_add_symbol)(addr as *mut _, c"f".as_ptr(), 1, 0x1000, 16);
                    (CORE_API.object_add_symbol)(addr as *mut _, null(), 5, 0x1000, 16);
                }
            }
            3 => {
                // Read-write data stays writable after finalize.
                let live: Vec<usize> = (0..self.objects.len())
                    .filter(|&i| self.objects[i].live)
                    .collect();
                if let Some(&i) = live.get(usize::from(input.byte()) % live.len().max(1)) {
                    self.seed = self.seed.wrapping_add(11);
                    let seed = self.seed;
                    for sec in self.objects[i].secs.iter_mut().filter(|s| s.class == 2) {
                        sec.seed = seed;
                        sec.write();
                        sec.verify("rewritten read-write data");
                    }
                }
            }
            _ => {
                for o in self.objects.iter().filter(|o| o.live) {
                    for sec in &o.secs {
                        sec.verify("check of every live section");
                    }
                }
            }
        }
    }

    fn cleanup(&mut self) {
        for i in 0..self.objects.len() {
            if self.objects[i].live {
                self.free_object(i);
            }
        }
        for a in self.arenas.iter_mut().filter(|a| a.live) {
            // SAFETY: a live handle, released once.
            unsafe { (CORE_API.arena_release)(a.handle as *mut CoreArena) };
            a.live = false;
        }
        assert!(self.ranges.is_empty());
        self.check_stats();
        let now = stats();
        assert_eq!(
            now.bytes_reserved, self.base.bytes_reserved,
            "private arenas' reservations not released"
        );
    }
}

/// Foreign addresses: heap and static memory jitmm never handed out.
fn foreign() -> [usize; 3] {
    static BUFFER: OnceLock<usize> = OnceLock::new();
    static STATIC: [u64; 8] = [0; 8];
    let heap = *BUFFER.get_or_init(|| Box::leak(Box::new([0u64; 16])).as_ptr() as usize);
    [heap, STATIC.as_ptr() as usize, 0xdead_b000]
}

/// Both process-wide arenas exist before the first input, so the
/// reservation counter only moves with private arenas.
fn shared_arenas() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        for strategy in [1, 2] {
            let config = jitmm_config {
                strategy,
                ..Default::default()
            };
            // SAFETY: a valid config; the handle is kept for the process.
            assert!(!unsafe { (CORE_API.arena_acquire)(&config) }.is_null());
        }
    });
}

fuzz_target!(|data: &[u8]| {
    shared_arenas();
    let mut input = Input(data);
    let mut run = Run {
        arenas: Vec::new(),
        objects: Vec::new(),
        ranges: BTreeMap::new(),
        finalized: 0,
        base: stats(),
        foreign: foreign(),
        seed: 0,
    };
    let mut steps = 0;
    while !input.is_empty() && steps < 200 {
        steps += 1;
        match input.byte() % 12 {
            0 => run.acquire(&mut input),
            1 => run.release(&mut input),
            2 | 3 => run.object_new(&mut input),
            4 => run.reserve(&mut input),
            5 | 6 => run.allocate(&mut input),
            7 => run.mark_mapped(&mut input),
            8 => run.finalize(&mut input),
            9 => run.free(&mut input),
            10 => run.stats_op(&mut input),
            _ => run.misc(&mut input),
        }
    }
    run.cleanup();
});
