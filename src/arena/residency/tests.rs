//! The policy against a model of one span's pages: random takes, frees,
//! unused tails and trims, with the real free list, checking what stays
//! resident, what is returned, and when.

use std::ops::Range;

use proptest::prelude::*;

use super::*;
use crate::arena::free_list::FreeList;

const PAGE: usize = 4096;
const PAGES: usize = 48;
const SPAN: Range<usize> = 0..PAGES * PAGE;
const SMALL: Limits = Limits {
    sweep: 8 * PAGE,
    empty_sweep: 2 * PAGE,
    hot: 4 * PAGE,
};

impl FreeRuns for FreeList {
    fn mark_dirty(&mut self, range: &Range<usize>) -> bool {
        FreeList::mark_dirty(self, range)
    }
}

/// One span under the policy, and the model's view of its pages.
struct World {
    free: FreeList,
    policy: Residency,
    live: Vec<Range<usize>>,
    resident: Vec<bool>,
    /// The chunk the model expects to be hot.
    hot: Option<Range<usize>>,
    sweeps: usize,
}

fn pages_of(range: &Range<usize>) -> Range<usize> {
    range.start / PAGE..range.end.div_ceil(PAGE)
}

impl World {
    fn new() -> World {
        World {
            free: FreeList::new(SPAN),
            policy: Residency::new(PAGE, SMALL),
            live: Vec::new(),
            resident: vec![false; PAGES],
            hot: None,
            sweeps: 0,
        }
    }

    fn live_bytes(&self) -> usize {
        self.live.iter().map(|c| c.len()).sum()
    }

    fn holds_live(&self, page: usize) -> bool {
        let bytes = page * PAGE..(page + 1) * PAGE;
        self.live
            .iter()
            .any(|c| c.start < bytes.end && bytes.start < c.end)
    }

    fn touches_hot(&self, page: usize) -> bool {
        self.hot
            .as_ref()
            .is_some_and(|h| pages_of(h).contains(&page))
    }

    /// Returns pages to the OS; never one that holds a live byte.
    fn release(&mut self, pages: Range<usize>) -> Result<(), TestCaseError> {
        for page in pages.start / PAGE..pages.end / PAGE {
            prop_assert!(!self.holds_live(page), "page {page} released while live");
            self.resident[page] = false;
        }
        Ok(())
    }

    fn sweep(&mut self) -> Result<(), TestCaseError> {
        self.sweeps += 1;
        let runs: Vec<_> = self.free.take_dirty().collect();
        for run in runs {
            for pages in self.policy.releasable(&run) {
                if !pages.is_empty() {
                    self.release(pages)?;
                }
            }
        }
        // What stays resident after a sweep: pages holding live bytes, and
        // the hot chunk's.
        for page in 0..PAGES {
            prop_assert!(
                !self.resident[page] || self.holds_live(page) || self.touches_hot(page),
                "free page {page} left resident by a sweep (hot {:?})",
                self.hot
            );
        }
        Ok(())
    }

    fn take(&mut self, granules: usize) -> Result<(), TestCaseError> {
        let Some((start, _)) = self.free.take(granules * 16, 16) else {
            return Ok(());
        };
        let chunk = start..start + granules * 16;
        self.policy.on_take(&chunk, &mut self.free);
        for page in pages_of(&chunk) {
            self.resident[page] = true; // the linker writes it
        }
        self.live.push(chunk);
        self.hot = None;
        Ok(())
    }

    fn free(&mut self, pick: usize) -> Result<(), TestCaseError> {
        let chunk = self.live.swap_remove(pick % self.live.len());
        self.free.insert(chunk.clone(), false);
        let mut released = 0;
        if !self.policy.keeps_resident(chunk.len()) {
            // Too long to stay: its whole pages go back at once.
            let pages = whole_pages(&chunk, PAGE);
            released = pages.len();
            self.release(pages)?;
        }
        self.hot = self
            .policy
            .keeps_resident(chunk.len())
            .then(|| chunk.clone());
        self.policy.on_free(chunk, released, &mut self.free);
        if self.policy.sweep_due(self.live_bytes()) {
            self.policy.begin_sweep();
            self.sweep()?;
            // The chunk freed last survives the sweep it caused.
            if let Some(hot) = &self.hot {
                for page in pages_of(hot) {
                    prop_assert!(self.resident[page], "hot page {page} returned");
                }
            }
        }
        Ok(())
    }

    /// The unused tail of a live chunk comes back.
    fn unused_tail(&mut self, pick: usize) -> Result<(), TestCaseError> {
        let i = pick % self.live.len();
        let chunk = self.live[i].clone();
        let keep = (chunk.len() / 32).max(1) * 16;
        if keep >= chunk.len() {
            return Ok(());
        }
        let tail = chunk.start + keep..chunk.end;
        self.live[i] = chunk.start..chunk.start + keep;
        self.free.insert(tail.clone(), false);
        self.policy.on_unused(&tail);
        if self.policy.sweep_due(self.live_bytes()) {
            self.policy.begin_sweep();
            self.sweep()?;
        }
        Ok(())
    }

    fn trim(&mut self) -> Result<(), TestCaseError> {
        self.policy.begin_trim(&mut self.free);
        self.hot = None;
        self.sweep()
    }
}

#[derive(Debug, Clone)]
enum Step {
    Take(usize),
    Free(usize),
    UnusedTail(usize),
    Trim,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1usize..1536).prop_map(Step::Take),
        4 => any::<usize>().prop_map(Step::Free),
        1 => any::<usize>().prop_map(Step::UnusedTail),
        1 => Just(Step::Trim),
    ]
}

proptest! {
    /// No sweep returns a live page or the hot chunk's; after every sweep
    /// nothing free stays resident but the hot chunk; after a trim, nothing
    /// free at all.
    #[test]
    fn agrees_with_a_page_model(steps in proptest::collection::vec(step(), 1..120)) {
        let mut world = World::new();
        for step in steps {
            match step {
                Step::Take(granules) => world.take(granules)?,
                Step::Free(pick) if !world.live.is_empty() => world.free(pick)?,
                Step::UnusedTail(pick) if !world.live.is_empty() => world.unused_tail(pick)?,
                Step::Trim => world.trim()?,
                _ => {}
            }
        }
    }
}

#[test]
fn an_object_reloaded_at_the_same_size_never_sweeps() {
    let mut world = World::new();
    world.take(100).unwrap(); // something else stays live
    for _ in 0..1000 {
        world.take(1000).unwrap();
        let last = world.live.len() - 1;
        world.free(last).unwrap();
    }
    assert_eq!(world.sweeps, 0);
    assert_eq!(world.resident.iter().filter(|&&r| r).count(), 5);
}

#[test]
fn freed_bytes_sweep_at_the_threshold_and_sooner_once_empty() {
    let mut world = World::new();
    // Eight single-page chunks stay live while seven others are freed: one
    // hot, the six before it count 6 pages < 8, no sweep.
    for _ in 0..15 {
        world.take(PAGE / 16).unwrap();
    }
    for _ in 0..7 {
        world.free(0).unwrap();
    }
    assert_eq!(world.sweeps, 0);
    // The eighth puts 7 pages on the count: still none; the ninth, 8.
    world.free(0).unwrap();
    assert_eq!(world.sweeps, 0);
    world.free(0).unwrap();
    assert_eq!(world.sweeps, 1);
    // Once the class is empty, two pages are enough.
    while world.live.len() > 1 {
        world.free(0).unwrap();
    }
    let before = world.sweeps;
    world.free(0).unwrap();
    world.take(PAGE / 16).unwrap();
    world.free(0).unwrap();
    world.take(PAGE / 16).unwrap();
    world.free(0).unwrap();
    assert!(world.sweeps > before, "an empty class sweeps from 2 pages");
}
