#!/usr/bin/env bash
# Fuzzes the C boundary (fuzz/fuzz_targets/c_api.rs) for JITMM_FUZZ_SECS
# seconds (default 45), under AddressSanitizer, with cargo-fuzz (installed
# when missing). Uses rustup's nightly when there is one, else the default
# toolchain with RUSTC_BOOTSTRAP=1. The corpus grows in fuzz/corpus/c_api
# (not committed); a failing input lands in fuzz/artifacts/c_api and is
# replayed with `cargo +nightly fuzz run c_api <file>` from fuzz/.
# Extra arguments go to libFuzzer (e.g. -jobs=2).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
source ../scripts/lib.sh

command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
unstable_toolchain
# Freed code is overwritten with traps, so a section as large as the
# arena briefly makes 1 GiB resident: leave room above libFuzzer's 2 GiB.
cargo "${toolchain[@]}" fuzz run c_api -- \
  -max_total_time="${JITMM_FUZZ_SECS:-45}" -rss_limit_mb=4096 "$@"
