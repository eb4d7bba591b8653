#!/usr/bin/env bash
# The C example and an MCJIT end-to-end test under valgrind (memcheck):
# no errors, and no definite leaks. Installs valgrind (and LLVM, through
# setup.sh) when missing.
#
#   examples/c_client.c       MCJIT and ORC LLJIT (RuntimeDyld layer) from C,
#                             once per strategy (JITMM_STRATEGY)
#   tests/llvm/mcjit.rs       MCJIT through LLVM's C API, both strategies
#                             (all but the 10,000-module engine)
#   tests/core/objects.rs     code replaced at a reused address (DualMap
#                             rewrites it through the second view: jitmm's
#                             flush tells valgrind to drop its translations)
#
# No suppressions are needed. DualMap is used as is: jitmm's
# instruction-cache flush also tells valgrind to drop its translations of
# the range (src/icache/valgrind.rs), without which valgrind would keep
# running the old code at a reused address. Extra arguments go to valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/lib.sh
source scripts/llvm-version.sh
apt_install valgrind
JITMM_LLVM="$major" bash scripts/setup.sh

target=$(cargo metadata --no-deps --format-version 1 | grep -o '"target_directory":"[^"]*"' | cut -d'"' -f4)
llvm_config="${LLVM_CONFIG:-llvm-config-$major}"
cargo build --locked --lib "${features[@]}"
cc examples/c_client.c -o "$target/debug/c_client-valgrind" -Icshim \
  $("$llvm_config" --cflags) -L"$target/debug" -Wl,-rpath,"$target/debug" -ljitmm \
  -L"$("$llvm_config" --libdir)" -lLLVM-"$("$llvm_config" --version | cut -d. -f1)"

# The test binaries cargo builds, by target name.
test_binary() {
  cargo test --locked --no-run --message-format=json "${features[@]}" --test "$1" 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n1
}
llvm=$(test_binary llvm)
core=$(test_binary core)

vg() {
  echo "valgrind.sh: $*" >&2
  valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite "${extra[@]}" "$@"
}
extra=("$@")

for strategy in dualmap mprotect; do
  JITMM_STRATEGY=$strategy vg "$target/debug/c_client-valgrind"
done
# The 10,000-module engine test would take an hour under memcheck.
vg "$llvm" --test-threads=1 mcjit:: --skip one_engine_many_modules
vg "$core" --test-threads=1 --exact objects::code_runs_and_is_patched_by_a_new_object
echo "valgrind.sh: no errors, no definite leaks"
