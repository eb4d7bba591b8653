#!/usr/bin/env bash
# Sets up LLVM if needed, then runs jitmm's whole test suite against it:
# LLVM 19 by default, JITMM_LLVM=22 for LLVM 22 (feature llvm22).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/llvm-version.sh
JITMM_LLVM="$major" bash scripts/setup.sh
# The C and C++ client tests link the shared library: build it first
# (`cargo test` alone builds only the rlib).
# The coherence ledger (src/ledger.rs) checks the flush protocol in every test.
cargo build --locked --lib "${features[@]}" --features coherence-ledger
cargo test --locked "${features[@]}" --features coherence-ledger "$@"
# The REPL's own lexer/parser unit tests (examples' tests do not run above).
cargo test --locked --example repl "${features[@]}" --features coherence-ledger
