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
  [ "$short" = mips64el ] && link="$link -Wl,-z,noexecstack"
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
