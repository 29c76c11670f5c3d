#!/usr/bin/env bash
# Prints the path of a Python that can `import duckdb, chdb` (DuckDB, and
# ClickHouse's engine in-process: the two readers the store's files are
# checked against), from a virtualenv in the cache (CTLOGD_STORE_READERS_CACHE,
# default ~/.cache/ctlogd/store-readers), installed on first use.
set -euo pipefail
duckdb=2.0.0 chdb=4.4.0 chdb_core=26.9.0
cache=${CTLOGD_STORE_READERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ctlogd/store-readers}
python=$cache/duckdb-$duckdb-chdb-$chdb/bin/python
ready() { "$python" -c 'import duckdb, chdb' >/dev/null 2>&1; }
if ! ready; then
  if ! python3 -c 'import ensurepip' 2>/dev/null; then
    echo "scripts/store-readers.sh: python3 cannot make a virtualenv: install Debian's python3-venv" >&2
    exit 1
  fi
  # --clear: a half-made virtualenv left by an interrupted install starts over.
  python3 -m venv --clear "${python%/bin/python}" >&2
  "$python" -m pip install --quiet --disable-pip-version-check \
    "duckdb==$duckdb" "chdb==$chdb" "chdb-core==$chdb_core" >&2
  ready || { echo "scripts/store-readers.sh: duckdb or chdb does not import after installing" >&2; exit 1; }
fi
echo "$python"
