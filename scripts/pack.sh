#!/usr/bin/env bash
# scripts/pack.sh [OUTDIR]: the packages a user installs, in OUTDIR
# (default dist-pkg/):
#   ctlogd-<version>.tgz             the root package: JavaScript, types,
#                                    schema, systemd files; no addon, no
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

# The Rust triple and napi-rs's platform name of each target package.json lists.
host_target() {
  local arch libc
  case "$(uname -m)" in
    x86_64) arch=x86_64 ;;
    aarch64) arch=aarch64 ;;
    *) echo "pack.sh: no ctlogd target for $(uname -m) (x86_64, aarch64)" >&2; exit 64 ;;
  esac
  if ldd --version 2>&1 | grep -qi musl; then libc=musl; else libc=gnu; fi
  echo "$arch-unknown-linux-$libc"
}
target=${TARGET:-$(host_target)}
node -e 'const t = require("./package.json").napi.targets; if (!t.includes(process.argv[1])) { console.error(`pack.sh: ${process.argv[1]} is not a target of package.json (napi.targets: ${t.join(", ")})`); process.exit(64) }' "$target"
case "$target" in
  x86_64-*) arch=x64 ;;
  aarch64-*) arch=arm64 ;;
esac
platform="linux-$arch-${target##*-}"
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
# manifest that has no build scripts and no devDependencies.
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
node -e '
  const pkg = require("./package.json");
  delete pkg.scripts;
  delete pkg.devDependencies;
  require("fs").writeFileSync(process.argv[1], JSON.stringify(pkg, null, 2) + "\n");
' "$work/root/package.json"
npm pack --silent --ignore-scripts --pack-destination "$out" "$work/root" >/dev/null

echo "$out/ctlogd-$version.tgz"
echo "$out/ctlogd-$platform-$version.tgz"
