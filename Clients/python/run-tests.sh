#!/usr/bin/env bash
# Creates or updates Clients/python/.venv and runs the Python client's tests.
#   ORCHLOGD=/path/to/orchlogd Clients/python/run-tests.sh [pytest args...]
# Works from any directory; exits with pytest's status.
set -euo pipefail

# Resolve a relative ORCHLOGD against the caller's directory before moving.
if [[ -n "${ORCHLOGD:-}" && "${ORCHLOGD}" != /* ]]; then
    ORCHLOGD="$(pwd)/${ORCHLOGD}"
    export ORCHLOGD
fi

cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
# The build backend first, so that the editable install needs no isolated build environment
# (and no network once everything is installed).
.venv/bin/python -m pip install -q 'setuptools>=70.1'
.venv/bin/python -m pip install -q --no-build-isolation -e '.[test]'

set +e
.venv/bin/python -m pytest -q "$@"
status=$?
set -e
exit "${status}"
