#!/usr/bin/env bash
# scripts/nodes.sh: the Node.js versions the packages are tested on, one
# line each, "VERSION PATH-TO-NODE". Each binary comes once from the npm
# registry's node-linux-<arch> package and is kept in a cache
# (CTLOGD_NODE_CACHE, default ~/.cache/ctlogd/node), so a test run
# downloads nothing the next time. 18.19 is Debian 12's nodejs (VyOS 1.4
# and 1.5), the oldest that package.json's engines accepts.
set -euo pipefail
versions=(18.19.0 20.20.2 22.23.5 24.22.3)
cache=${CTLOGD_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ctlogd/node}
arch=$(node -p process.arch)
for v in "${versions[@]}"; do
  dir=$cache/$v
  if [ ! -x "$dir/bin/node" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$v" >/dev/null)
    mkdir -p "$tmp/x"
    tar xzf "$tmp"/node-linux-*.tgz -C "$tmp/x" --strip-components=1 package/bin/node
    mkdir -p "$dir/bin"
    mv "$tmp/x/bin/node" "$dir/bin/node"
    rm -rf "$tmp"
  fi
  echo "$v $dir/bin/node"
done
