#!/usr/bin/env bash
# Installs what jitmm needs on Debian/Ubuntu: LLVM (19 by default, or
# JITMM_LLVM=22) from the distribution's packages, a C++ compiler, pkg-config
# and gdb (tests/clients/gdb.rs runs it on JIT code).
# Idempotent: installs only what is missing.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

major="${JITMM_LLVM:-19}"
packages=("llvm-${major}-dev" "libpolly-${major}-dev" g++ pkg-config zlib1g-dev libzstd-dev gdb)

apt_install "${packages[@]}"

command -v "llvm-config-${major}" >/dev/null || {
  echo "jitmm setup: llvm-config-${major} still missing after installing llvm-${major}-dev" >&2
  exit 1
}
command -v cargo >/dev/null || {
  echo "jitmm setup: cargo not found — install Rust (https://rustup.rs or apt-get install cargo)" >&2
  exit 1
}
