#!/usr/bin/env bash
# Sets up LLVM if needed, then runs jitmm's whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The C and C++ client tests link the shared library: build it first
# (`cargo test` alone builds only the rlib).
cargo build --locked --lib
cargo test --locked "$@"
# The REPL's own lexer/parser unit tests (examples' tests do not run above).
cargo test --locked --example repl
