#!/usr/bin/env bash
# Builds jitmm's core (no LLVM) for other Linux architectures and runs its
# core tests under qemu-user, on Debian 12 (bookworm) x86-64.
#
#   scripts/cross-test.sh ARCH... | all      install what is missing, then test
#   scripts/cross-test.sh --no-install ARCH...
#   scripts/cross-test.sh --install-only ARCH... | all
#   scripts/cross-test.sh --llvm ARCH... | all   the whole crate against the
#        target's LLVM 19: tests/llvm by linker, the C/C++ clients and the
#        REPL, each strategy on its own (scripts/cross-llvm.sh)
#   scripts/cross-test.sh --llvm --strategies mprotect ARCH...   one strategy only
#   scripts/cross-test.sh --page-size BYTES ...   guest page size (qemu -p)
#   scripts/cross-test.sh list
#
# ARCH: aarch64 armv7 i686 riscv64 ppc64le s390x mips64el loongarch64
# (or a full Rust target triple). Extra arguments after `--` go to the test
# binaries (e.g. `-- --nocapture`).
#
# Toolchain: Debian's rustc-web/cargo-web 1.96 with rust-web-src (std is
# rebuilt with -Zbuild-std where Debian ships no prebuilt std for the target),
# the distribution's cross gcc + libc, qemu-user 7.2. loongarch64 has no cross
# gcc in bookworm: zig (PyPI `ziglang`) links it statically against musl.
# Installing needs root (or sudo) and is idempotent.
#
# Env: JITMM_CROSS_TARGET_DIR (default target/cross), JITMM_CROSS_TESTS
# (default "--lib --test core"), JITMM_CROSS_FAULTS=0 to leave out the
# fault-injection run that follows them, JITMM_CROSS_JOBS (architectures run
# at once, default 1), JITMM_CROSS_SUITES (--llvm: only these suites, e.g.
# "orc_rtdyld mcjit"; names in scripts/cross-llvm.sh).
#
# What this proves: the code builds, links and runs on each architecture, the
# protections and W^X hold, and the cache-maintenance instructions/syscalls
# execute without faulting. qemu-user does NOT model stale instruction
# caches: it retranslates code when the guest writes to code pages through
# the executable address or changes their protection, so under Mprotect a
# missing flush goes unnoticed; that needs real hardware.
# Conversely, qemu-user 7.2 keeps running its old translation when code is
# rewritten through a second (writable) mapping, whatever cache maintenance
# follows: jitmm's probe detects that once (probe().dual_map_stale_reuse),
# Auto then picks Mprotect and DualMap arenas re-map code pages at finalize,
# so the DualMap tests at reused addresses run here too. The coherence
# ledger (feature coherence-ledger, on here) checks the flush protocol that
# qemu cannot show.
set -euo pipefail
cd "$(dirname "$0")/.."

# short | triple | gnu prefix (cc prefix, qemu -L root) | qemu | libc dev package | Debian architecture
TABLE='
aarch64     aarch64-unknown-linux-gnu        aarch64-linux-gnu        qemu-aarch64     libc6-dev-arm64-cross    arm64
armv7       armv7-unknown-linux-gnueabihf    arm-linux-gnueabihf      qemu-arm         libc6-dev-armhf-cross    armhf
i686        i686-unknown-linux-gnu           i686-linux-gnu           qemu-i386        libc6-dev-i386-cross     i386
riscv64     riscv64gc-unknown-linux-gnu      riscv64-linux-gnu        qemu-riscv64     libc6-dev-riscv64-cross  riscv64
ppc64le     powerpc64le-unknown-linux-gnu    powerpc64le-linux-gnu    qemu-ppc64le     libc6-dev-ppc64el-cross  ppc64el
s390x       s390x-unknown-linux-gnu          s390x-linux-gnu          qemu-s390x       libc6-dev-s390x-cross    s390x
mips64el    mips64el-unknown-linux-gnuabi64  mips64el-linux-gnuabi64  qemu-mips64el    libc6-dev-mips64el-cross mips64el
loongarch64 loongarch64-unknown-linux-musl   zig                      qemu-loongarch64 -                        loong64
'
# Debian 12 ships LLVM 19 (libllvm19, llvm-19-dev) for these; riscv64 and
# loong64 are not release architectures of Debian 12, so --llvm skips them.
LLVM_ARCHES="aarch64 armv7 i686 ppc64le s390x mips64el"
ZIG_VENV=/opt/jitmm-zig
# qemu 7.2 has no LSX: LP64D (+f,+d) without LSX, in Rust and in zig-built musl.
LA_RUSTFLAGS="-C target-cpu=generic-la64 -C target-feature=+f,+d,-lsx -C link-self-contained=no"

source scripts/lib.sh
log() { echo "cross-test: $*" >&2; }
row() { awk -v a="$1" '$1==a || $2==a' <<<"$TABLE"; }
all_arches() { awk 'NF{print $1}' <<<"$TABLE"; }

install_arch() { # $1 short name
  local short triple gnu qemu libc
  read -r short triple gnu qemu libc debarch <<<"$(row "$1")"
  apt_install rustc-web cargo-web rust-web-src qemu-user
  if [ "$gnu" != zig ]; then
    apt_install "gcc-$gnu" "$libc"
  fi
  if [ "$short" = aarch64 ] && ! pkg_installed libstd-rust-web-dev:arm64; then
    # Debian ships a prebuilt arm64 std of the same version: no -Zbuild-std.
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
      as_root dpkg --add-architecture arm64
      _jitmm_apt_updated=0
      apt_update
    fi
    local v
    v=$(dpkg-query -W -f='${Version}' libstd-rust-web-dev)
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "libstd-rust-web-dev:arm64=$v" >&2 || log "prebuilt arm64 std not installable: using -Zbuild-std"
  fi
  if [ "$short" = loongarch64 ] && [ ! -x "$ZIG_VENV/bin/zcc-loongarch64" ]; then
    apt_install python3-venv
    as_root python3 -m venv "$ZIG_VENV" >&2
    as_root "$ZIG_VENV/bin/pip" install -q ziglang cargo-zigbuild >&2
    # `cargo-zigbuild zig cc` filters rustc's linker arguments for zig.
    as_root sh -c "cat > $ZIG_VENV/bin/zcc-loongarch64" <<EOF
#!/bin/sh
export CARGO_ZIGBUILD_ZIG_COMMAND=$ZIG_VENV/bin/python3 CARGO_ZIGBUILD_ZIG_COMMAND_ARGS='-m ziglang'
exec $ZIG_VENV/bin/cargo-zigbuild zig cc -- -g -fno-sanitize=all -mcpu=generic_la64+f+d -target loongarch64-linux-musl "\$@"
EOF
    as_root sh -c "printf '#!/bin/sh\nexec $ZIG_VENV/bin/python3 -m ziglang ar \"\$@\"\n' > $ZIG_VENV/bin/zar"
    as_root chmod +x "$ZIG_VENV/bin/zcc-loongarch64" "$ZIG_VENV/bin/zar"
  fi
}

# Exports the cross toolchain of $1 for cargo: compilers, linker, qemu runner.
cross_env() { # $1 short name
  local short triple gnu qemu libc debarch U u
  read -r short triple gnu qemu libc debarch <<<"$(row "$1")"
  U=$(tr 'a-z-' 'A-Z_' <<<"$triple")
  u=$(tr '-' '_' <<<"$triple")
  # rustup's proxies may shadow Debian's toolchain on PATH: name all three.
  export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
  export CARGO_TARGET_DIR="${JITMM_CROSS_TARGET_DIR:-target/cross}"
  if [ "$gnu" = zig ]; then
    export "CARGO_TARGET_${U}_RUNNER=$qemu"
    export "CARGO_TARGET_${U}_RUSTFLAGS=$LA_RUSTFLAGS"
    export "CARGO_TARGET_${U}_LINKER=$ZIG_VENV/bin/zcc-loongarch64" \
      "CC_${u}=$ZIG_VENV/bin/zcc-loongarch64" "AR_${u}=$ZIG_VENV/bin/zar"
  else
    # -L alone lets the cross ld.so pick up a host-installed libc of another
    # build (multiarch, /etc/ld.so.cache) and hang in pthread_create.
    export "CARGO_TARGET_${U}_RUNNER=$qemu -L /usr/$gnu -E LD_LIBRARY_PATH=/usr/$gnu/lib"
    export "CARGO_TARGET_${U}_LINKER=$gnu-gcc" "CC_${u}=$gnu-gcc" "AR_${u}=$gnu-ar"
    # MIPS objects without a GNU-stack note make ld mark the stack
    # executable. Debian's mips64el libc.so.6 asks for one all the same (see
    # SECURITY.md), and the tests' W^X check leaves out the stacks then.
    if [ "$short" = mips64el ]; then
      export "CARGO_TARGET_${U}_RUSTFLAGS=-C link-arg=-Wl,-z,noexecstack"
    fi
  fi
  # std is rebuilt where Debian ships no prebuilt std for the target.
  std=(-Zbuild-std)
  if [ -d "/usr/lib/rustlib/$triple/lib" ]; then std=(); fi
}

test_arch() { # $1 short name, rest: test-binary args
  local short triple
  read -r short triple _ <<<"$(row "$1")"
  shift
  cross_env "$short"
  local tests
  read -r -a tests <<<"${JITMM_CROSS_TESTS:---lib --test core}"
  log "=== $short ($triple)"
  # The coherence ledger checks the flush protocol, which qemu cannot show.
  local cargo_test=(/usr/bin/cargo test --no-fail-fast "${std[@]}" --target "$triple" --no-default-features
    --features coherence-ledger)
  # Property tests: fewer cases, each an order of magnitude slower here.
  export PROPTEST_CASES="${PROPTEST_CASES:-16}"
  "${cargo_test[@]}" "${tests[@]}" -- "$@" || return 1
  # Every OS call of the core failing in turn (a refused cache flush among
  # them, where the kernel does the flush), one test at a time.
  [ "${JITMM_CROSS_FAULTS:-1}" = 0 ] ||
    "${cargo_test[@]}" --features coherence-ledger,fault-injection --test fault_injection --test membarrier_refused -- --test-threads=1
}

source scripts/cross-llvm.sh

install=1
test=1
llvm=0
arches=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-install) install=0 ;;
    --install-only) test=0 ;;
    --llvm) llvm=1 ;;
    --page-size) shift; export QEMU_PAGESIZE=$1 ;;
    --strategies) shift; LLVM_STRATEGIES=${1//,/ } ;;
    list) all_arches; exit 0 ;;
    all) mapfile -t arches < <(all_arches) ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,43p' "$0"; exit 0 ;;
    *) [ -n "$(row "$1")" ] || { log "unknown architecture $1 (see: $0 list)"; exit 2; }
       arches+=("$(row "$1" | awk '{print $1}')") ;;
  esac
  shift
done
# Tests run one at a time: several fork children, and qemu-user can deadlock
# a child forked while another guest thread holds one of its internal locks.
[ ${#extra[@]} -gt 0 ] || extra=(--test-threads=1)
[ ${#arches[@]} -gt 0 ] || { sed -n '2,43p' "$0"; exit 2; }
if [ $llvm = 1 ]; then
  with_llvm=()
  for a in "${arches[@]}"; do
    if [[ " $LLVM_ARCHES " == *" $a "* ]]; then with_llvm+=("$a")
    else log "$a: Debian 12 has no LLVM 19 for it (not a release architecture): skipped"; fi
  done
  arches=("${with_llvm[@]}")
fi

if [ $install = 1 ]; then
  for a in "${arches[@]}"; do
    install_arch "$a"
    [ $llvm = 0 ] || install_llvm_sysroot "$a"
  done
fi
[ $test = 1 ] || exit 0

passed=()
failed=()
LLVM_RESULTS=${JITMM_CROSS_TARGET_DIR:-target/cross}/llvm-results.txt
logs=${JITMM_CROSS_TARGET_DIR:-target/cross}/logs
mkdir -p "$logs"
: >"$LLVM_RESULTS"
if [ $llvm = 1 ]; then run=test_llvm_arch; else run=test_arch; fi
# One architecture at a time, or JITMM_CROSS_JOBS at once (each qemu run is
# one busy thread; their logs go to $logs/ARCH.log).
jobs=${JITMM_CROSS_JOBS:-1}
for a in "${arches[@]}"; do
  if [ "$jobs" -gt 1 ]; then
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
    log "$a: log in $logs/$a.log"
    (start=$SECONDS; rc=0; $run "$a" "${extra[@]}" >"$logs/$a.log" 2>&1 || rc=$?
     echo "$rc $((SECONDS - start))" >"$logs/$a.rc") &
  else
    start=$SECONDS; rc=0
    $run "$a" "${extra[@]}" || rc=$?
    echo "$rc $((SECONDS - start))" >"$logs/$a.rc"
  fi
done
wait
for a in "${arches[@]}"; do
  read -r rc seconds <"$logs/$a.rc"
  if [ "$rc" = 0 ]; then passed+=("$a ($seconds s)"); else failed+=("$a ($seconds s)"); fi
done
echo "cross-test summary:"
for p in "${passed[@]}"; do echo "  PASS $p"; done
for f in "${failed[@]}"; do echo "  FAIL $f"; done
[ $llvm = 0 ] || print_llvm_results "${arches[@]}"
[ ${#failed[@]} -eq 0 ]
