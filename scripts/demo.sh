#!/usr/bin/env bash
# Sets up LLVM if needed, then runs the Kaleidoscope REPL on jitmm: first the
# demo session script, then (when stdin is a terminal) an interactive prompt.
set -euo pipefail
cd "$(dirname "$0")/.."
# LLVM 19 by default, JITMM_LLVM=22 for LLVM 22 (feature llvm22).
source scripts/llvm-version.sh
JITMM_LLVM="$major" bash scripts/setup.sh
cargo build --release --locked --example repl "${features[@]}"
repl="${CARGO_TARGET_DIR:-target}/release/examples/repl"
# The demo session, then the same session goes on at your prompt (when
# stdin is a terminal; piped input is read after the script).
exec "$repl" --script examples/demo.txt "$@"
