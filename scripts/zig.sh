# Sourced by scripts/pack.sh: puts cargo-zigbuild and zig (through the
# ziglang package, `python3 -m ziglang`) on PATH, from PyPI wheels kept in
# a virtualenv in the cache (CTLOGD_ZIG_CACHE, default ~/.cache/ctlogd/zig),
# installed on first use. zig links the glibc addons against glibc 2.17's
# symbol versions, and cross-compiles musl and arm64 targets.
zig_env=${CTLOGD_ZIG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ctlogd/zig}/cargo-zigbuild-0.24.1-ziglang-0.15.2
if [ ! -x "$zig_env/bin/cargo-zigbuild" ]; then
  rm -rf "$zig_env"
  python3 -m venv "$zig_env"
  "$zig_env/bin/pip" install --quiet --disable-pip-version-check cargo-zigbuild==0.24.1 ziglang==0.15.2
fi
PATH=$zig_env/bin:$PATH
export PATH
