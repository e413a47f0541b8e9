#!/usr/bin/env bash
# Runs every test suite of orchlog, installing what a fresh machine lacks first.
#   dev/test.sh            all suites
# Swift: the wire, store and server suites (the server suites also run the built orchlogd).
set -euo pipefail
cd "$(dirname "$0")/.."

dev/setup.sh

echo "== swift build (debug: orchlogd for the process tests)"
swift build
echo "== swift test"
swift test
