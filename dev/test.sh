#!/usr/bin/env bash
# Runs every test suite of orchlog, installing what a fresh machine lacks first:
#   0. A source check: no Synchronization.Mutex, which ThreadSanitizer cannot see (use Locked)
#   1. Swift: wire, store, server (end to end, and orchlogd as a process), client and CLI;
#      then all of it again under ThreadSanitizer and under AddressSanitizer
#   2. C client: unit and live-server tests, normal and under ASan/UBSan
#   3. Python client: pytest in Clients/python/.venv
#   4. Benchmark smoke run: every orchlog-bench scenario at tiny sizes (checks, never timings)
#   5. Fuzzing: 60 s of libFuzzer over the frame decoder and request decoding (dev/fuzz.sh)
#   6. Interop: one scenario written and read back through all three clients, compared
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

dev/setup.sh

# Synchronization.Mutex waits on a futex TSan cannot see, so whatever it guards shows up as a
# race, but only when the timing lets TSan catch it (it did once in CI): shared state goes behind
# Locked instead.
if grep -rnE '\bMutex[(<]' Sources Tests --include='*.swift'; then
  echo "error: use OrchLogWire's Locked, not Synchronization.Mutex (see Sources/OrchLogWire/Locked.swift)" >&2
  exit 1
fi

echo "== swift build (debug: orchlogd and orchlog for the process and CLI tests)"
swift build
echo "== swift test"
# Serially: many server tests block a thread on a raw socket, and on a 2-core machine parallel
# runs starve Swift's cooperative pool, which skews the client's deadline and retry tests.
swift test --no-parallel

# Each sanitizer needs its own instrumented build (about 1.5 minutes each here); the tests start
# the instrumented orchlogd too. TSan stops at its first report; LeakSanitizer is off because it
# reports Swift's weak-reference side tables as leaks (docs/RELIABILITY.md). ORCHLOG_SANITIZER
# skips the tests that measure how little orchlogd's memory grows: ASan's quarantine keeps freed
# memory resident.
echo "== swift test under ThreadSanitizer"
swift build --build-tests --scratch-path .build-tsan --sanitize=thread
TSAN_OPTIONS=halt_on_error=1 ORCHLOG_HOSTILE_RSS_MIB=1024 ORCHLOG_SANITIZER=thread swift test --skip-build --scratch-path .build-tsan --sanitize=thread --no-parallel
echo "== swift test under AddressSanitizer"
# gold warns once per ASan helper symbol it cannot export: noise, filtered out.
swift build --build-tests --scratch-path .build-asan --sanitize=address 2>&1 \
  | grep -v "warning: Cannot export local symbol '__asan_"
ASAN_OPTIONS=detect_leaks=0 ORCHLOG_HOSTILE_RSS_MIB=1024 ORCHLOG_SANITIZER=address swift test --skip-build --scratch-path .build-asan --sanitize=address --no-parallel

echo "== C client"
make --no-print-directory -C Clients/c test ORCHLOGD="$root/.build/debug/orchlogd"

echo "== Python client"
ORCHLOGD="$root/.build/debug/orchlogd" Clients/python/run-tests.sh

echo "== Benchmark smoke run (orchlog-bench --smoke; the full run is in docs/PERFORMANCE.md)"
ORCHLOGD="$root/.build/debug/orchlogd" .build/debug/orchlog-bench --smoke

echo "== Fuzzing the decoders (60 s; dev/fuzz.sh 3600 for a soak)"
dev/fuzz.sh 60

echo "== Interop: Swift, C and Python clients read back identical data"
ORCHLOGD="$root/.build/debug/orchlogd" ORCHLOG_INTEROP_SWIFT="$root/.build/debug/orchlog-interop" \
  PYTHON="$root/Clients/python/.venv/bin/python" python3 Tests/Interop/run.py
