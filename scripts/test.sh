#!/usr/bin/env bash
# Sets up LLVM if needed, then runs jitmm's whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test --locked "$@"
