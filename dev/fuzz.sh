#!/usr/bin/env bash
# Fuzzes the bytes a peer controls (frame decoder, request decoding, entry validation) with libFuzzer.
#   dev/fuzz.sh [SECONDS]     default 60; `dev/fuzz.sh 3600` is the soak run
# SwiftPM cannot link a libFuzzer executable (it renames the module's main), so this script
# compiles SwiftProtobuf and OrchLogWire with swiftc, instrumented, into .build-fuzz/, then the
# target in Fuzz/. A crash leaves crash-* files in .build-fuzz/ and exits non-zero; turn each
# into a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
out=.build-fuzz
mkdir -p "$out/corpus"

protobuf=.build/checkouts/swift-protobuf/Sources/SwiftProtobuf
[ -d "$protobuf" ] || swift package resolve
flags=(-O -sanitize=fuzzer,address -parse-as-library -swift-version 6 -I "$out" -L "$out")

# The linker warns about every ASan symbol it cannot export: keep that in a log, show it on failure.
build() {
  if ! "$@" >>"$out/build.log" 2>&1; then
    tail -n 40 "$out/build.log" >&2
    exit 1
  fi
}
: >"$out/build.log"
if [ ! -f "$out/libSwiftProtobuf.a" ]; then
  echo "== compiling SwiftProtobuf for fuzzing (about 2 minutes)"
  build swiftc "${flags[@]}" -swift-version 5 -module-name SwiftProtobuf -package-name swift_protobuf \
    -emit-library -static -emit-module -emit-module-path "$out/SwiftProtobuf.swiftmodule" \
    -o "$out/libSwiftProtobuf.a" "$protobuf"/*.swift
fi
echo "== compiling OrchLogWire and the fuzz target"
build swiftc "${flags[@]}" -module-name OrchLogWire -package-name orchlog \
  -emit-library -static -emit-module -emit-module-path "$out/OrchLogWire.swiftmodule" \
  -o "$out/libOrchLogWire.a" Sources/OrchLogWire/*.swift Sources/OrchLogWire/Generated/*.swift
build swiftc "${flags[@]}" -module-name FrameFuzz -package-name orchlog \
  -lOrchLogWire -lSwiftProtobuf -o "$out/frame-fuzz" Fuzz/FrameFuzz.swift Sources/OrchLogStore/NewEntry.swift

# Seeds: valid frames of every kind the server accepts.
python3 - "$out/corpus" <<'PY'
import struct, sys, os
d = sys.argv[1]
def frame(payload): return struct.pack(">I", len(payload)) + payload
seeds = {
    "hello": bytes([0x12, 0x05, 0x08, 0x01, 0x12, 0x01, 0x78]),
    "ping": bytes([0x4a, 0x04, 0x0a, 0x02, 0x61, 0x62]),
    "credit": bytes([0x08, 0x01, 0x32, 0x02, 0x08, 0x05]),
    "cancel": bytes([0x08, 0x01, 0x3a, 0x00]),
}
method = b"/orchlog.v1.OrchestrationLog/AppendLog"
entry = b"\x0a\x24" + b"0190f3c2-7b1a-7c3e-9a4b-2d5e6f708192" + b"\x22\x02hi"
request = b"\x0a" + bytes([len(entry)]) + entry
start = b"\x0a" + bytes([len(method)]) + method + b"\x2a" + bytes([len(request)]) + request
seeds["start"] = b"\x08\x01\x22" + bytes([len(start)]) + start
method = b"/orchlog.v1.OrchestrationLog/StreamChildren"
start = b"\x0a" + bytes([len(method)]) + method + b"\x10\x88\x27\x20\x40\x2a\x02\x0a\x00"
seeds["start-stream"] = b"\x08\x02\x22" + bytes([len(start)]) + start
for name, payload in seeds.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(frame(payload))
with open(os.path.join(d, "all"), "wb") as f:
    f.write(b"".join(frame(p) for p in seeds.values()))
PY

echo "== fuzzing for ${seconds}s"
cd "$out"
./frame-fuzz -max_total_time="$seconds" -print_final_stats=1 corpus >fuzz.log 2>&1 || {
  tail -n 60 fuzz.log >&2
  echo "fuzz: crash found; see .build-fuzz/fuzz.log and .build-fuzz/crash-*" >&2
  exit 1
}
grep -E "^(Done|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb))" fuzz.log
