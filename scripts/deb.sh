#!/usr/bin/env bash
# scripts/deb.sh [OUTDIR]: the Debian package, OUTDIR/ctlogd_<version>_<arch>.deb
# (default dist-pkg/), built with dpkg-deb from the two tarballs of
# scripts/pack.sh, not from the source tree: it holds what npm users get.
#   /usr/lib/ctlogd              the root package, its production
#                                dependencies (npm, the versions of
#                                package-lock.json) and the addon's package
#                                in node_modules, where the napi loader looks
#   /usr/bin/ctlogd              runs it on /usr/bin/node (Depends: nodejs)
#   /lib/systemd/system/ctlogd.service, not enabled, not started
#   /usr/share/ctlogd/vyos-conntrack-logger.conf  the VyOS drop-in
#   /etc/ctlogd/ctlogd.json      conffile: the embedded default config
# CTLOGD_PKG_DIR names a folder with the tarballs already packed; without it
# pack.sh packs them into OUTDIR first. DEB_HOST_ARCH (default: this
# machine's) picks amd64 or arm64. Needs dpkg-dev, binutils, help2man (and
# what pack.sh needs, when it packs); no registry.
# shellcheck disable=SC2016 # the single-quoted node programs use JavaScript template literals
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/dist-pkg}")
cd "$root"

for tool in dpkg-deb:dpkg dpkg-shlibdeps:dpkg-dev help2man:help2man; do
  command -v "${tool%%:*}" >/dev/null || { echo "deb.sh: needs ${tool%%:*} (Debian package ${tool#*:})" >&2; exit 69; }
done

arch=${DEB_HOST_ARCH:-$(dpkg --print-architecture)}
case "$arch" in
  amd64) platform=linux-x64-gnu gnu=x86_64-linux-gnu ;;
  arm64) platform=linux-arm64-gnu gnu=aarch64-linux-gnu ;;
  *) echo "deb.sh: no ctlogd platform package for Debian architecture $arch (amd64, arm64)" >&2; exit 64 ;;
esac
command -v "$gnu-strip" >/dev/null || { echo "deb.sh: needs $gnu-strip (binutils for $arch)" >&2; exit 69; }
version=$(node -p 'require("./package.json").version')

mkdir -p "$out"
pkgs=${CTLOGD_PKG_DIR:-}
if [ -z "$pkgs" ]; then
  bash scripts/pack.sh "$out" >/dev/null
  pkgs=$out
fi
root_tgz=$pkgs/ctlogd-$version.tgz
addon_tgz=$pkgs/ctlogd-$platform-$version.tgz
for f in "$root_tgz" "$addon_tgz"; do
  [ -f "$f" ] || { echo "deb.sh: $f is missing (scripts/pack.sh makes it)" >&2; exit 66; }
done

# Every timestamp: the commit's (reproducible builds), or the manifest's
# outside a git checkout. help2man and dpkg-deb read it too.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || stat -c %Y package.json)}
export SOURCE_DATE_EPOCH

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 022
deb=$work/deb
lib=$deb/usr/lib/ctlogd
doc=$deb/usr/share/doc/ctlogd
mkdir -p "$lib" "$doc" "$deb/usr/bin" "$deb/lib/systemd/system" "$deb/usr/share/ctlogd" \
  "$deb/etc/ctlogd" "$deb/usr/share/man/man8" "$deb/DEBIAN"

tar xzf "$root_tgz" -C "$lib" --strip-components=1 --no-same-owner
[ "$(node -p 'require(process.argv[1]).version' "$lib/package.json")" = "$version" ] ||
  { echo "deb.sh: $root_tgz is not version $version" >&2; exit 65; }

# package.json's author if it names one, else the commit's.
maintainer=${DEB_MAINTAINER:-$(node -p '
  const a = require(process.argv[1]).author;
  typeof a === "object" && a ? `${a.name} <${a.email}>` : a ?? ""' "$lib/package.json")}
maintainer=${maintainer:-$(git log -1 --format='%an <%ae>' 2>/dev/null || true)}
[[ "$maintainer" =~ ^[^\<]+\ \<[^\>]+@[^\>]+\>$ ]] || { echo "deb.sh: set DEB_MAINTAINER to 'Name <email>': '$maintainer'" >&2; exit 64; }
homepage=$(node -p 'require(process.argv[1]).homepage ?? ""' "$lib/package.json")

# Production dependencies: the root package bundles them (pack.sh, at the
# versions of the repo's lock); the addon's package goes beside them.
node -e '
  for (const d of Object.keys(require(process.argv[1]).dependencies)) require("fs").statSync(`${process.argv[2]}/${d}/package.json`);
' "$lib/package.json" "$lib/node_modules" 2>/dev/null ||
  { echo "deb.sh: $root_tgz does not bundle its dependencies (scripts/pack.sh bundles them)" >&2; exit 65; }
mkdir "$lib/node_modules/ctlogd-$platform"
tar xzf "$addon_tgz" -C "$lib/node_modules/ctlogd-$platform" --strip-components=1 --no-same-owner

# The conffile: the keys of the embedded default (src/config.ts,
# DEFAULT_CONFIG and the schema's defaults), written from the packaged code,
# then read back: it must load to exactly what no --config loads.
node --input-type=module -e '
  import { writeFileSync } from "node:fs";
  import { deepStrictEqual } from "node:assert";
  const { configKeys } = await import(process.argv[1] + "/dist/config.js");
  const { loadConfig } = await import(process.argv[1] + "/dist/index.js");
  const defaults = Object.fromEntries(configKeys().map((k) => [k.key, k.default]));
  const config = { event: defaults.event, format: defaults.format, output: defaults.output };
  writeFileSync(process.argv[2], JSON.stringify(config, null, 2) + "\n");
  deepStrictEqual(loadConfig({ path: process.argv[2], env: {} }), loadConfig({ env: {} }));
' "$lib" "$deb/etc/ctlogd/ctlogd.json"

# The man page, from --help and --version (neither loads the addon), with
# its sections Files, Examples, Exit status and See also.
CTLOGD_JS=$lib/bin/ctlogd.js help2man --no-info --section=8 --name='conntrack event logger' --output="$work/ctlogd.8" scripts/deb/man-help.sh
gzip -9n <"$work/ctlogd.8" >"$deb/usr/share/man/man8/ctlogd.8.gz"

# Every licence notice, ctlogd's and its dependencies', moves there.
node scripts/deb/copyright.mjs "$lib" >"$doc/copyright"

# Where Debian wants what the tarballs carry elsewhere; what runs nothing goes.
mv "$lib/systemd/ctlogd.service" "$deb/lib/systemd/system/"
mv "$lib/systemd/vyos-conntrack-logger.conf" "$deb/usr/share/ctlogd/"
gzip -9n <"$lib/README.md" >"$doc/README.md.gz"
# The pages the README links to, beside it as its links name them.
mkdir "$doc/docs"
for page in "$lib"/docs/*.md; do gzip -9n <"$page" >"$doc/docs/${page##*/}.gz"; done
rm -r "$lib/systemd" "$lib/README.md" "$lib/LICENSE" "$lib/docs"
nm=$lib/node_modules
rm -f "$nm/.package-lock.json" "$nm/ctlogd-$platform/LICENSE" "$nm/ctlogd-$platform/README.md"
find "$nm" -depth -type d \( -name test -o -name tests -o -name example -o -name examples -o -name docs \) -exec rm -r {} +
find "$nm" -type f \( -iname 'readme*' -o -iname 'changelog*' -o -iname 'history*' -o -iname '*.md' \
  -o -iname 'licen[cs]e*' -o -iname 'copying*' \
  -o -name '*.map' -o -name '*.min.js' -o -name '*.ts' -o -name '.*' \) -delete
find "$nm" -depth -type d -empty -delete
"$gnu-strip" --strip-unneeded --remove-section=.comment --remove-section=.note "$nm/ctlogd-$platform/ctlogd.$platform.node"

# What is left still loads: the library with its dependencies, and (where
# this machine can load it) the addon, found by the napi loader.
node --input-type=module -e 'await import(process.argv[1])' "$lib/dist/index.js"
if [ "$arch" = "$(dpkg --print-architecture)" ]; then
  node --input-type=module -e 'await import(process.argv[1])' "$lib/index.js"
fi

# /usr/bin/node even when another node comes first on PATH; the launcher
# (bin/ctlogd) keeps Node's inspector shut.
cat >"$deb/usr/bin/ctlogd" <<'EOF'
#!/bin/sh
PATH=/usr/bin:$PATH exec /usr/lib/ctlogd/bin/ctlogd "$@"
EOF

cp scripts/deb/README.Debian "$doc/"
printf 'ctlogd (%s) unstable; urgency=medium\n\n  * ctlogd %s, from its npm packages.\n\n -- %s  %s\n' \
  "$version" "$version" "$maintainer" "$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")" | gzip -9n >"$doc/changelog.gz"

find "$deb" -type d -exec chmod 755 {} +
find "$deb" -type f -exec chmod 644 {} +
chmod 755 "$deb/usr/bin/ctlogd" "$lib/bin/ctlogd" "$lib/bin/ctlogd.js"

# The control file. nodejs from package.json's engines (">=X.Y"); the
# addon's shared libraries (libc6) as dpkg-shlibdeps reads them from it.
node_min=$(node -p '
  const m = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(require(process.argv[1]).engines.node);
  if (!m) throw new Error(`deb.sh: engines.node must be ">=X.Y" to become a Depends: ${require(process.argv[1]).engines.node}`);
  m[1]' "$lib/package.json")
mkdir -p "$work/src/debian"
printf 'Source: ctlogd\n\nPackage: ctlogd\nArchitecture: %s\n' "$arch" >"$work/src/debian/control"
# Its error said, not swallowed: for another architecture it needs that
# architecture's libc6 installed (dpkg --add-architecture arm64; apt-get
# install libc6:arm64).
if ! shlibs_out=$(cd "$work/src" && dpkg-shlibdeps -O -e "$nm/ctlogd-$platform/ctlogd.$platform.node" 2>"$work/shlibdeps.err"); then
  echo "deb.sh: dpkg-shlibdeps could not read the addon's libraries ($arch): $(tr '\n' ' ' <"$work/shlibdeps.err"); for arch $arch, install libc6:$arch" >&2
  exit 69
fi
shlibs=$(sed -n 's/^shlibs:Depends=//p' <<<"$shlibs_out")
for s in postinst prerm postrm; do install -m 755 "scripts/deb/$s" "$deb/DEBIAN/$s"; done
echo /etc/ctlogd/ctlogd.json >"$deb/DEBIAN/conffiles"
(cd "$deb" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$deb/DEBIAN/md5sums"
chmod 644 "$deb/DEBIAN/conffiles" "$deb/DEBIAN/md5sums"
# As dpkg-gencontrol counts: KiB per file, rounded up, and 1 per directory or link.
size=$(cd "$deb" && find . -path ./DEBIAN -prune -o \( -type f -printf 'f %s\n' \) -o -printf 'o\n' |
  awk '{ n += $1 == "f" ? int(($2 + 1023) / 1024) : 1 } END { print n }')
cat >"$deb/DEBIAN/control" <<EOF
Package: ctlogd
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: nodejs (>= $node_min), $shlibs
Section: net
Priority: optional
${homepage:+Homepage: $homepage
}Description: conntrack event logger for Linux routers
 ctlogd logs every connection tracking event of the Linux kernel (NEW,
 UPDATE, DESTROY) as one line, in the format of VyOS's conntrack logger,
 of conntrack -E, or as JSON, to standard output, a file or syslog. It
 reads the netlink socket on a native thread and counts every event the
 kernel could not deliver.
 .
 The systemd unit ctlogd.service is installed but neither enabled nor
 started; /usr/share/ctlogd holds a drop-in for VyOS's own logger service.
EOF

find "$deb" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
file=$out/ctlogd_${version}_$arch.deb
dpkg-deb --root-owner-group --build "$deb" "$file" >/dev/null
echo "$file"
