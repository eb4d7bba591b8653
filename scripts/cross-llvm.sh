# Sourced by scripts/cross-test.sh for `--llvm`: the target architecture's
# LLVM 19 in a sysroot of its own, and the environment that builds the whole
# crate (shim included) against it and runs its LLVM suites under qemu-user.
#
# The sysroot holds Debian's libllvm19:<arch> with the libraries it needs,
# and the headers and libLLVM links of llvm-19-dev:<arch>, unpacked with
# dpkg-deb, never installed: the host's LLVM and its dpkg architectures stay
# as they are (the package lists of <arch> live in the sysroot too).
# llvm-config is the host's llvm-config-19 of the very same Debian version
# (so the same build options) with its paths moved into the sysroot, where
# llvm-config.h names the target as the native one.

LLVM_SYSROOTS=${JITMM_LLVM_SYSROOTS:-/opt/jitmm-llvm}
# Each suite runs once per strategy (--strategies dualmap,mprotect).
LLVM_STRATEGIES="dualmap mprotect"
# LLVM 19 has no JITLink backend for SystemZ or MIPS (build.rs: JITLINK_ARCHES).
NO_JITLINK_ARCHES="s390x mips64el"
# The cross toolchain brings the C and C++ runtime (/usr/<gnu>/lib); a second
# glibc or libstdc++ next to it would be loaded instead of the one that
# matches its ld.so.
LLVM_SYSROOT_SKIP=" libc6 libgcc-s1 libstdc++6 gcc-12-base "

llvm_sysroot() { echo "$LLVM_SYSROOTS/$1"; } # $1 Debian architecture

# apt for Debian architecture $1 with lists, status and cache in sysroot $2.
sysroot_apt() {
  local debarch=$1 dir=$2 tool=$3
  shift 3
  as_root "$tool" -qq -o Dir::State::Lists="$dir/apt/lists" -o Dir::State::Status="$dir/apt/status" \
    -o Dir::Cache="$dir/apt/cache" -o APT::Architecture="$debarch" -o APT::Architectures::="$debarch" "$@"
}

install_llvm_sysroot() { # $1 short name
  local short triple gnu qemu libc debarch
  read -r short triple gnu qemu libc debarch <<<"$(row "$1")"
  apt_install llvm-19-dev g++-"$gnu"
  local version dir multiarch
  version=$(dpkg-query -W -f='${Version}' llvm-19-dev)
  dir=$(llvm_sysroot "$debarch")
  multiarch=$(dpkg-architecture -a "$debarch" -qDEB_HOST_MULTIARCH 2>/dev/null)
  if [ "$(cat "$dir/complete" 2>/dev/null)" != "$version" ]; then
    log "LLVM $version for $debarch: unpacking into $dir"
    as_root rm -rf "$dir/root" "$dir/debs"
    as_root mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/debs" "$dir/root" "$dir/bin"
    as_root touch "$dir/apt/status"
    sysroot_apt "$debarch" "$dir" apt-get update
    local candidate
    candidate=$(sysroot_apt "$debarch" "$dir" apt-cache policy libllvm19 | awk '/Candidate:/{print $2}')
    [ "$candidate" = "$version" ] || {
      log "$debarch has LLVM 19 $candidate, the host $version: one version for both"
      return 1
    }
    local deps=() p
    for p in $(sysroot_apt "$debarch" "$dir" apt-cache depends --recurse --no-recommends --no-suggests \
      --no-conflicts --no-breaks --no-replaces --no-enhances libllvm19 | grep -v '^[ <]' | sort -u); do
      [[ "$LLVM_SYSROOT_SKIP" == *" $p "* ]] || deps+=("$p")
    done
    (cd "$dir/debs" && sysroot_apt "$debarch" "$dir" apt-get download "${deps[@]}" "llvm-19-dev=$version")
    local deb
    for deb in "$dir"/debs/*.deb; do
      case "$deb" in
        */llvm-19-dev_*) # headers and the libLLVM links; not its static archives
          dpkg-deb --fsys-tarfile "$deb" | as_root tar -x -C "$dir/root" --wildcards \
            './usr/include/*' './usr/lib/llvm-19/include/*' './usr/lib/llvm-19/lib/libLLVM.so*' \
            './usr/lib/llvm-19/lib/libLLVM-19.so' ;;
        *) as_root dpkg-deb -x "$deb" "$dir/root" ;;
      esac
    done
    as_root rm -rf "$dir/debs" "$dir/apt/cache"
    # The link names (libffi.so, …) are in the -dev packages: llvm-config
    # --system-libs names some of these libraries for the link.
    local lib
    for lib in "$dir"/root/{usr/,}lib/"$multiarch"/lib*.so.*; do
      [ -e "${lib%%.so.*}.so" ] || as_root ln -s "$(basename "$lib")" "${lib%%.so.*}.so"
    done
  fi
  write_llvm_wrappers "$short" "$dir" "$multiarch"
  echo "$version" | as_root tee "$dir/complete" >/dev/null
}

# $dir/bin: llvm-config answering for the target, and cc / c++ that link
# against the sysroot's libraries (libLLVM's own dependencies resolve there).
write_llvm_wrappers() { # $1 short name, $2 sysroot, $3 Debian multiarch directory
  local short triple gnu qemu libc debarch dir=$2 multiarch=$3
  read -r short triple gnu qemu libc debarch <<<"$(row "$1")"
  local llvm=$dir/root/usr/lib/llvm-19 native
  native=$(sed -n 's/^#define LLVM_DEFAULT_TARGET_TRIPLE "\(.*\)"/\1/p' "$llvm/include/llvm/Config/llvm-config.h")
  as_root tee "$dir/bin/llvm-config" >/dev/null <<EOF
#!/bin/sh
# llvm-config for $native: the host's llvm-config-19 (same version), its paths in the sysroot.
case "\$*" in --host-target) echo $native; exit 0 ;; esac
out=\$(llvm-config-19 "\$@") || exit \$?
printf '%s\n' "\$out" | sed 's#/usr/lib/llvm-19#$llvm#g'
EOF
  local libs="$dir/root/usr/lib/$multiarch:$dir/root/lib/$multiarch"
  local link="-L$dir/root/usr/lib/$multiarch -L$dir/root/lib/$multiarch -Wl,-rpath-link,$libs"
  # MIPS objects without a GNU-stack note make ld mark every stack executable.
  if [ "$short" = mips64el ]; then link="$link -Wl,-z,noexecstack"; fi
  local tool
  for tool in cc:gcc c++:g++; do
    printf '#!/bin/sh\nexec %s-%s %s "$@"\n' "$gnu" "${tool#*:}" "$link" | as_root tee "$dir/bin/${tool%%:*}" >/dev/null
  done
  as_root chmod +x "$dir/bin/llvm-config" "$dir/bin/cc" "$dir/bin/c++"
}

# Exports what cargo and the tests need for the LLVM build of $1 (after the
# core's cross environment): llvm-sys and build.rs find the wrapper, rustc
# links with the wrapper cc, the test binaries compile clients with the cross
# compilers and run them (and the REPL) under the same qemu.
llvm_env() { # $1 short name
  local short triple gnu qemu libc debarch U u dir multiarch
  read -r short triple gnu qemu libc debarch <<<"$(row "$1")"
  U=$(tr 'a-z-' 'A-Z_' <<<"$triple")
  u=$(tr '-' '_' <<<"$triple")
  dir=$(llvm_sysroot "$debarch")
  multiarch=$(dpkg-architecture -a "$debarch" -qDEB_HOST_MULTIARCH 2>/dev/null)
  export LLVM_SYS_191_PREFIX=$dir LLVM_CONFIG=$dir/bin/llvm-config
  export "CARGO_TARGET_${U}_LINKER=$dir/bin/cc" "CXX_${u}=$gnu-g++"
  local libs=/usr/$gnu/lib:$dir/root/usr/lib/$multiarch:$dir/root/lib/$multiarch
  export "CARGO_TARGET_${U}_RUNNER=$qemu -L /usr/$gnu -E LD_LIBRARY_PATH=$libs"
  export JITMM_TEST_CC=$dir/bin/cc JITMM_TEST_CXX=$dir/bin/c++
  export JITMM_TEST_RUNNER="$qemu -L /usr/$gnu -E LD_LIBRARY_PATH=$libs"
}

# The suites of the LLVM run: name, test binary, filter. tests/llvm by
# linker, tests/clients by kind of program. JITMM_CROSS_SUITES (names, space
# separated) runs only those.
LLVM_SUITES='
mcjit        llvm    mcjit::
orc_rtdyld   llvm    orc_rtdyld::
orc_jitlink  llvm    orc_jitlink::
inkwell      llvm    inkwell::
exceptions   llvm    exceptions::
perf_map     llvm    perf_map::
branch_range llvm    branch_range::
c_cpp        clients cxx::
repl         clients repl::
'
# Left out under qemu-user, and why:
# - gdb::  the host's gdb cannot trace a guest process of another
#          architecture (no binfmt here; through qemu's gdbstub GDB's JIT
#          interface breakpoints are not what the tests check).
# - the REPL's 100,000-expression soak: about an hour per strategy under
#   emulation; the in-process soaks (tests/soak.rs) cover it natively.
LLVM_SKIPS=(--skip gdb:: --skip soak_100k_expressions_keep_memory_flat)

# Builds the whole crate for $1 against its LLVM 19 and runs each suite
# under qemu-user once per strategy; appends "arch suite strategy result
# seconds" lines to $LLVM_RESULTS.
test_llvm_arch() { # $1 short name, rest: test-binary args
  local short triple
  read -r short triple _ <<<"$(row "$1")"
  shift
  cross_env "$short"
  llvm_env "$short"
  log "=== $short ($triple): LLVM 19 end to end"
  local cargo=(/usr/bin/cargo)
  local build_log
  build_log=$(mktemp)
  if ! "${cargo[@]}" build "${std[@]}" --target "$triple" --lib --example repl ||
    ! "${cargo[@]}" test "${std[@]}" --target "$triple" --no-run --test llvm --test clients 2>&1 | tee "$build_log" >&2; then
    echo "$short build dualmap FAIL 0" >>"$LLVM_RESULTS"; echo "$short build mprotect FAIL 0" >>"$LLVM_RESULTS"
    rm -f "$build_log"
    return 1
  fi
  local -A exe
  local kind path
  while read -r kind path; do exe[$kind]=$path; done < <(
    sed -n 's#.*Executable tests/\(llvm\|clients\)/main.rs (\(.*\))#\1 \2#p' "$build_log")
  rm -f "$build_log"
  local name binary filter strategy start result ok=0
  while read -r name binary filter; do
    [ -n "$name" ] || continue
    [ -z "${JITMM_CROSS_SUITES:-}" ] || [[ " $JITMM_CROSS_SUITES " == *" $name "* ]] || continue
    if [ "$name" = orc_jitlink ] && [[ " $NO_JITLINK_ARCHES " == *" $short "* ]]; then
      for strategy in $LLVM_STRATEGIES; do
        echo "$short $name $strategy n/a 0" >>"$LLVM_RESULTS"
      done
      continue
    fi
    for strategy in $LLVM_STRATEGIES; do
      start=$SECONDS
      log "--- $short $name ($strategy)"
      # 200 modules where the add-and-remove tests load 1,000 and 10,000
      # natively: LLVM runs some 30 times slower under emulation.
      if JITMM_TEST_STRATEGIES=$strategy JITMM_STRATEGY=$strategy JITMM_TEST_MODULES=${JITMM_TEST_MODULES:-200} \
        timeout "${JITMM_CROSS_SUITE_TIMEOUT:-900}" $JITMM_TEST_RUNNER "${exe[$binary]}" \
        "$filter" "${LLVM_SKIPS[@]}" "$@"; then
        result=PASS
      else
        [ $? = 124 ] && result=TIMEOUT || result=FAIL
        ok=1
      fi
      echo "$short $name $strategy $result $((SECONDS - start))" >>"$LLVM_RESULTS"
    done
  done <<<"$LLVM_SUITES"
  return $ok
}

# The results as a table: one row per architecture ($@, in that order) and
# suite, one column per strategy.
print_llvm_results() {
  local arch
  for arch in "$@"; do grep "^$arch " "$LLVM_RESULTS"; done |
    awk '{ key = $1 " " $2; if (!(key in seen)) { seen[key] = 1; order[n++] = key }
           cell[key, $3] = $4 ($5 > 0 ? " (" $5 " s)" : "") }
         END { printf "%-10s %-13s %-18s %-18s\n", "arch", "suite", "dualmap", "mprotect"
               for (i = 0; i < n; i++) { split(order[i], k, " ")
                 printf "%-10s %-13s %-18s %-18s\n", k[1], k[2], cell[order[i], "dualmap"], cell[order[i], "mprotect"] } }'
}
