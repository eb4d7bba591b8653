# Sourced by the scripts: the LLVM major version to build against (JITMM_LLVM,
# 19 by default) in $major, and the cargo feature flags selecting it in
# ${features[@]}.
major="${JITMM_LLVM:-19}"
case "$major" in
  19) features=() ;;
  22) features=(--no-default-features --features llvm22) ;;
  *)
    echo "jitmm: JITMM_LLVM must be 19 or 22, not '$major'" >&2
    exit 1
    ;;
esac
