#!/usr/bin/env bash
# scripts/smoke.sh PKGDIR [PLATFORM]: installs pack.sh's tarballs from PKGDIR
# into an empty project, as a user would, and checks that the command runs
# and that the addon of PLATFORM (default: all in PKGDIR) loads and decodes.
# Needs only node and npm: the build workflow runs it on each target's own
# system (Alpine for musl, arm64 under QEMU) before anything is published.
set -euo pipefail
pkgdir=$(realpath "$1")
version=$(tar xzf "$pkgdir"/ctlogd-[0-9]*.tgz -O package/package.json | node -p 'JSON.parse(require("fs").readFileSync(0, "utf8")).version')
app=$(mktemp -d)
trap 'rm -rf "$app"' EXIT
cd "$app"
npm init -y >/dev/null
npm install --no-audit --no-fund "$pkgdir/ctlogd-$version.tgz" "$pkgdir"/ctlogd-linux-*-"$version".tgz >/dev/null
test "$(npx --no-install ctlogd --version)" = "ctlogd $version"
npx --no-install ctlogd --help >/dev/null
for dir in node_modules/ctlogd-linux-*; do
  platform=${dir#node_modules/ctlogd-}
  [ -z "${2:-}" ] || [ "$platform" = "$2" ] || continue
  # An empty receive buffer decodes to an empty batch: the addon loaded and ran.
  node -e '
    const b = require(process.argv[1]);
    const batch = b.decodeMessages(Buffer.alloc(0));
    if (!Buffer.isBuffer(batch) || batch.length === 0) throw new Error("no batch from decodeMessages");
  ' "ctlogd-$platform"
  echo "smoke: ctlogd $version, ctlogd-$platform loads on node $(node --version)"
done
node --input-type=module -e 'import { Capture } from "ctlogd"; if (typeof Capture.start !== "function") process.exit(1);'
