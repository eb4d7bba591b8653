#!/usr/bin/env bash
# ThreadSanitizer over jitmm's concurrency tests, core only (no LLVM):
#   tests/soak.rs              eight_threads_at_once (8 threads on one arena)
#   tests/core/stale_code.rs   a writer replacing code while readers call it
#   tests/core/c_boundary.rs   the C boundary from several threads
# std is rebuilt instrumented (-Zbuild-std), so races inside std's and
# parking_lot's primitives are seen as such rather than false positives;
# no suppressions are used. Any report fails the run.
#
# Toolchain: nightly when rustup has one, else the default toolchain with
# RUSTC_BOOTSTRAP=1. Either needs the rust-src component (installed here
# with rustup when missing).
#
# Env: JITMM_TSAN_TARGET_DIR (default target/tsan); arguments go to the
# test binaries (e.g. `-- --nocapture`).
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib.sh
triple=$(rustc -vV | sed -n 's/^host: //p')
unstable_toolchain rust-src

export RUSTFLAGS="-Zsanitizer=thread"
export RUSTDOCFLAGS="-Zsanitizer=thread"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
# Short runs: TSan slows the workloads some 10x.
export JITMM_STALE_SECS="${JITMM_STALE_SECS:-3}" JITMM_STALE_ITERS="${JITMM_STALE_ITERS:-200}"
export CARGO_TARGET_DIR="${JITMM_TSAN_TARGET_DIR:-target/tsan}"

cargo "${toolchain[@]}" test -Zbuild-std --target "$triple" --no-default-features \
  --test soak --test core -- \
  eight_threads_at_once stale_code:: c_boundary:: "$@"
