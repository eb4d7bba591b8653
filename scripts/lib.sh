# Sourced by the scripts: installing what is missing, and the toolchain that
# takes unstable flags.

# Runs a command as root (sudo when not root already).
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

_jitmm_apt_updated=0
apt_update() { # once per script run
  [ $_jitmm_apt_updated = 1 ] && return 0
  as_root apt-get update -qq >&2 || echo "jitmm: apt-get update reported errors (continuing)" >&2
  _jitmm_apt_updated=1
}

# Installs the Debian packages that are missing (never upgrades any); the
# package lists are refreshed first when apt does not know one of them.
apt_install() {
  local missing=() p
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  apt-cache show "${missing[0]%%:*}" >/dev/null 2>&1 || apt_update
  echo "jitmm: installing ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || {
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  }
}

# Sets ${toolchain[@]} for `cargo "${toolchain[@]}" …` with unstable flags
# (-Zbuild-std, sanitizers): rustup's nightly when there is one, else the
# default toolchain with RUSTC_BOOTSTRAP=1. With $1 = rust-src, also makes
# sure that component is installed.
unstable_toolchain() {
  toolchain=()
  if command -v rustup >/dev/null && rustup run nightly rustc --version >/dev/null 2>&1; then
    toolchain=(+nightly)
    if [ "${1:-}" = rust-src ]; then
      rustup component list --toolchain nightly --installed | grep -q '^rust-src' ||
        rustup component add rust-src --toolchain nightly
    fi
  else
    export RUSTC_BOOTSTRAP=1
    if [ "${1:-}" = rust-src ] && command -v rustup >/dev/null; then
      rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src
    fi
  fi
}
