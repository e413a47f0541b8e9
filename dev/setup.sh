#!/usr/bin/env bash
# Installs the Debian packages orchlog needs, if missing. Idempotent; needs root (or sudo).
#   libsqlite3-dev, sqlite3   the server's storage, and the tests' second SQLite tool
#   libprotobuf-c-dev, gcc, make   the C client
#   python3-venv (Debian's python only)   the Python client's virtual environment
#   redis-server   orchlog-bench's rpc-ceiling baseline (the bench starts and stops its own)
set -euo pipefail

packages=(libsqlite3-dev sqlite3 libprotobuf-c-dev gcc make redis-server)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then missing+=(python3-venv); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
