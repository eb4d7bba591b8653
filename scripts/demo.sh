#!/usr/bin/env bash
# Sets up LLVM if needed, then runs the Kaleidoscope REPL on jitmm: first the
# demo session script, then (when stdin is a terminal) an interactive prompt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked --example repl
repl=target/release/examples/repl
"$repl" "$@" < examples/demo.txt
if [ -t 0 ]; then
  echo
  echo "Your turn (:help for commands, :quit to leave)."
  exec "$repl" "$@"
fi
