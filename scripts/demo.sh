#!/usr/bin/env bash
# Sets up LLVM if needed, then runs the Kaleidoscope REPL on jitmm: first the
# demo session script, then (when stdin is a terminal) an interactive prompt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked --example repl
repl=target/release/examples/repl
# The demo session, then the same session goes on at your prompt (when
# stdin is a terminal; piped input is read after the script).
exec "$repl" --script examples/demo.txt "$@"
