#!/usr/bin/env bash
# Fuzzes the decoder and the whole read path with cargo-fuzz (libFuzzer,
# nightly): each target for SECONDS (default 60), one after the other.
#   decode_message     one netlink message into the decoder
#   decode_buffer      a whole receive buffer, as the reader decodes it
#   batch_roundtrip    decode, write into the batch format, read it back
#   filter_vs_decoder  the kernel's socket filter (run in bpf::vm) beside
#                      the decoder
# Seeded with the captured messages (written by an ignored test of
# crates/ctlog-core/tests/decode_captured.rs, so the bytes live there only)
# and the fuzzers' earlier findings in testdata/. Each corpus grows in
# fuzz/corpus/TARGET across runs; a crash, timeout or OOM leaves its input
# in fuzz/artifacts/TARGET and makes this exit 1. Prints, per target,
# libFuzzer's last line: executions (#N), coverage (cov: edges, ft:
# features), corpus size (corp: inputs/bytes).
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
targets=(decode_message decode_buffer batch_roundtrip filter_vs_decoder)

rustup run nightly rustc --version >/dev/null 2>&1 ||
  rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

rm -rf fuzz/seeds
CTLOG_FUZZ_SEEDS="$PWD/fuzz/seeds" cargo test -q -p ctlog-core --test decode_captured \
  write_fuzz_seeds -- --ignored >/dev/null
cargo +nightly fuzz build

mkdir -p fuzz/logs
status=0
for t in "${targets[@]}"; do
  seeds=fuzz/seeds/messages
  [ "$t" = filter_vs_decoder ] && seeds=fuzz/seeds/filter
  mkdir -p "fuzz/corpus/$t"
  log="fuzz/logs/$t.log"
  # The corpus first: libFuzzer adds what it finds to the first directory.
  if cargo +nightly fuzz run "$t" "fuzz/corpus/$t" "$seeds" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 >"$log" 2>&1; then
    echo "$t: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)"
  else
    status=1
    echo "$t: FAILED, input in fuzz/artifacts/$t (log: $log)" >&2
    tail -n 40 "$log" >&2
  fi
done
exit $status
