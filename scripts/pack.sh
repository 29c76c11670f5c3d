#!/usr/bin/env bash
# scripts/pack.sh [OUTDIR]: the packages a user installs, in OUTDIR
# (default dist-pkg/):
#   ctlogd-<version>.tgz             the root package: JavaScript, types,
#                                    schema, systemd files, its production
#                                    dependencies bundled; no addon, no
#                                    build step (installing it runs nothing)
#   ctlogd-<platform>-<version>.tgz  the addon for this machine (or for
#                                    TARGET=<rust triple>), release build,
#                                    stripped
# Uses what `npm ci` installed (napi-rs, tsc, esbuild) and cargo. glibc
# targets are linked against glibc 2.17 with cargo-zigbuild and zig, so the
# addon loads on any glibc from 2.17 on (scripts/zig.sh provides them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/dist-pkg}")
cd "$root"

# This machine's Rust target triple (platforms.mjs refuses one that
# package.json's napi.targets does not list).
host_target() {
  if ldd --version 2>&1 | grep -qi musl; then echo "$(uname -m)-unknown-linux-musl"; else echo "$(uname -m)-unknown-linux-gnu"; fi
}
target=${TARGET:-$(host_target)}
platform=$(node scripts/platforms.mjs "$target")
version=$(node -p 'require("./package.json").version')

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# The addon. glibc: the symbol versions of glibc 2.17 (zig links against
# them), not those of the machine it is built on.
cross=()
build_target=$target
if [ "${target##*-}" = gnu ]; then
  source scripts/zig.sh
  cross=(--cross-compile)
  build_target=$target.2.17
elif [ "$target" != "$(host_target)" ]; then
  source scripts/zig.sh
  cross=(--cross-compile)
fi
npx napi build --platform --release --strip --target "$build_target" "${cross[@]}" \
  --manifest-path crates/ctlog-napi/Cargo.toml --package-json-path package.json \
  --output-dir "$work/addon" --no-js --dts "$work/addon/index.d.ts"
mkdir -p "$work/platform"
cp "npm/$platform/package.json" "npm/$platform/README.md" LICENSE "$work/platform/"
cp "$work/addon/ctlogd.$platform.node" "$work/platform/"
npm pack --silent --ignore-scripts --pack-destination "$out" "$work/platform" >/dev/null

# The root package: the files package.json names, built afresh, with a
# manifest that has no build scripts and no devDependencies, lists every
# platform package as optional (scripts/platforms.mjs), and bundles its
# production dependencies at the versions of package-lock.json: the two
# tarballs install with no registry at all (`npm i -g --offline ROOT
# PLATFORM`, which does not look the other platform packages up either).
rm -rf dist
npm run --silent build:ts
npm run --silent build:bundle
mkdir -p "$work/root"
npm pack --dry-run --json --ignore-scripts | node -e '
  const files = JSON.parse(require("fs").readFileSync(0, "utf8"))[0].files.map((f) => f.path);
  console.log(files.filter((f) => f !== "package.json").join("\n"));
' | while IFS= read -r f; do
  mkdir -p "$work/root/$(dirname "$f")"
  cp "$f" "$work/root/$f"
done
mkdir "$work/deps"
node -e '
  const { name, version, dependencies } = require(process.argv[1]);
  require("fs").writeFileSync(process.argv[2], JSON.stringify({ name, version, private: true, dependencies }));
' "$root/package.json" "$work/deps/package.json"
cp package-lock.json "$work/deps/"
(cd "$work/deps" && npm install --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --no-update-notifier --loglevel=error >/dev/null)
mv "$work/deps/node_modules" "$work/root/node_modules"
node --input-type=module -e '
  import { readFileSync, writeFileSync } from "node:fs";
  import { optionalDependencies } from "./scripts/platforms.mjs";
  const pkg = JSON.parse(readFileSync("package.json", "utf8"));
  delete pkg.scripts;
  delete pkg.devDependencies;
  pkg.optionalDependencies = optionalDependencies(pkg);
  pkg.bundleDependencies = Object.keys(pkg.dependencies);
  writeFileSync(process.argv[1], JSON.stringify(pkg, null, 2) + "\n");
' "$work/root/package.json"
npm pack --silent --ignore-scripts --pack-destination "$out" "$work/root" >/dev/null

echo "$out/ctlogd-$version.tgz"
echo "$out/ctlogd-$platform-$version.tgz"
