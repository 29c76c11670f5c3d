#!/usr/bin/env bash
# Prints the path of a Python that can `import communityid` (PyPI's
# reference implementation of the Community ID, the oracle of the ecs
# format's tests), from a virtualenv in the cache (CTLOGD_COMMUNITYID_CACHE,
# default ~/.cache/ctlogd/communityid), installed on first use.
set -euo pipefail
venv=${CTLOGD_COMMUNITYID_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ctlogd/communityid}/communityid-1.5.0
if ! "$venv/bin/python" -c 'import communityid' >/dev/null 2>&1; then
  python3 -c 'import ensurepip' 2>/dev/null || {
    echo "scripts/communityid.sh: python3 cannot make a virtualenv: install Debian's python3-venv" >&2
    exit 1
  }
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check communityid==1.5.0 >&2
fi
echo "$venv/bin/python"
