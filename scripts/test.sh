#!/usr/bin/env bash
# Everything CI runs, from a fresh clone: installs what the tests need,
# builds, lints, packs, and runs the Rust tests, the fuzz targets, the unit
# tests and the end-to-end tests (the packages installed as users install
# them among them), and both again on the oldest Node supported.
# Needs root (the end-to-end tests make network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in conntrack:conntrack nft:nftables ip:iproute2 ping:iputils-ping systemd-analyze:systemd setpriv:util-linux rsyslogd:rsyslog openssl:openssl objdump:binutils lintian:lintian help2man:help2man dpkg-shlibdeps:dpkg-dev nfcapd:nfdump nfacctd:pmacct ipfix2csv:python3-ipfix ipfixDump:libfixbuf-tools promtool:prometheus; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
# rsyslog's TLS driver is a module, no command.
dpkg -s rsyslog-gnutls >/dev/null 2>&1 || need+=(rsyslog-gnutls)
# The test of a kernel without conntrack netlink fails the socket with libseccomp.
/usr/bin/python3 -c 'import seccomp' >/dev/null 2>&1 || need+=(python3-seccomp)
# The Community ID's reference runs in a virtualenv (scripts/communityid.sh).
python3 -c 'import ensurepip' >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# npm ci runs `prepare`: the native addon (cargo, release) and the TypeScript.
npm ci --no-audit --no-fund

# The generated binding files are committed; a build must not change them.
git diff --exit-code -- index.js index.d.ts || {
  echo "index.js / index.d.ts differ from what napi-rs generates: commit the regenerated files" >&2
  exit 1
}

npx tsc -p tsconfig.json --noEmit
npx tsc -p __test__/tsconfig.json --noEmit
npx biome ci --colors=off .
cargo fmt --all --check
cargo fmt --check --manifest-path fuzz/Cargo.toml
cargo clippy --workspace --all-targets --quiet -- -D warnings

# The Node binaries of the version matrix (cached), and the packages a user
# installs, packed once for the tests that install them.
scripts/nodes.sh
CTLOGD_PKG_DIR=$(mktemp -d)
export CTLOGD_PKG_DIR
trap 'rm -rf "$CTLOGD_PKG_DIR"' EXIT
scripts/pack.sh "$CTLOGD_PKG_DIR"
# PyPI's communityid, the reference the Community ID tests compare with (cached).
CTLOGD_COMMUNITYID_PYTHON=$(scripts/communityid.sh)
export CTLOGD_COMMUNITYID_PYTHON
# DuckDB and ClickHouse's engine (chdb), which read the store's files in
# __test__/store-readers.test.ts (cached), and the generator of that store.
CTLOGD_STORE_READERS_PYTHON=$(scripts/store-readers.sh)
export CTLOGD_STORE_READERS_PYTHON
cargo build --release --quiet -p store-gen

status=0
cargo test --workspace || status=1
# The fuzz targets of the decoder and the read path, a minute each.
scripts/fuzz.sh 60 || status=1
# The unit tests (every __test__/*.test.ts but e2e-*: no root, no namespace),
# then the end-to-end tests (__test__/e2e-*.test.ts).
npm run test:unit || status=1
npm run test:e2e || status=1
# The suite again on the oldest Node supported (Debian 12's 18.19), less the
# tests of the installed packages, which choose their Node themselves.
node18=$(scripts/nodes.sh | awk '$1 ~ /^18\./ { print $2 }')
"$node18" --import tsx --test --test-concurrency=1 $(ls __test__/*.test.ts | grep -v -e e2e-install -e e2e-deb) || status=1
exit $status
