#!/usr/bin/env bash
# GetTree memory: orchlogd's peak RSS (VmHWM) after reading two trees another tool wrote: a spine
# of 2,000 with an 8 KB leaf after each spine child, then a chain of 20,000 entries of 4 KB.
# Reads them with the Python client (Clients/python/run-tests.sh creates its .venv).
#   dev/tree-memory.sh [ORCHLOGD]   (default: .build/release/orchlogd)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/.build/release/orchlogd}
python=$root/Clients/python/.venv/bin/python
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# orchlogd creates the table (its verbatim DDL lives in Sources/OrchLogStore/Schema.swift); then
# sqlite3, another tool, fills it.
port=$((20000 + RANDOM % 20000))
"$bin" --db "$dir/t.db" --listen "127.0.0.1:$port" > "$dir/log" 2>&1 &
pid=$!
until grep -q "listening on" "$dir/log"; do sleep 0.1; done
kill -TERM $pid && wait $pid
sqlite3 "$dir/t.db" <<'SQL'
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO orchestration_session_log SELECT printf('00000000-0000-4000-8000-%012d', i), NULL,
  CASE i WHEN 1 THEN NULL ELSE printf('00000000-0000-4000-8000-%012d', i - 1) END,
  replace(hex(zeroblob(2048)), '0', 'c'), NULL, NULL FROM n;
WITH RECURSIVE n(i) AS (SELECT 100001 UNION ALL SELECT i + 1 FROM n WHERE i < 102000)
INSERT INTO orchestration_session_log SELECT printf('00000000-0000-4000-8000-%012d', i), NULL,
  CASE i WHEN 100001 THEN NULL ELSE printf('00000000-0000-4000-8000-%012d', i - 1) END, 'spine', 1, NULL FROM n;
WITH RECURSIVE n(i) AS (SELECT 100001 UNION ALL SELECT i + 1 FROM n WHERE i < 101999)
INSERT INTO orchestration_session_log SELECT printf('00000000-0000-4000-8000-%012d', i + 100000), NULL,
  printf('00000000-0000-4000-8000-%012d', i), replace(hex(zeroblob(4096)), '0', 'L'), 2, NULL FROM n;
SQL

"$bin" --db "$dir/t.db" --listen "127.0.0.1:$port" > "$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
sleep 1.5
peak() { awk '/VmHWM/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$pid/status"; }
echo "orchlogd started: peak RSS $(peak)"
for tree in 00000000-0000-4000-8000-000000100001 00000000-0000-4000-8000-000000000001; do
  "$python" - "$port" "$tree" <<'PY'
import sys, time, orchlog
with orchlog.Client("127.0.0.1", int(sys.argv[1])) as client:
    started = time.monotonic()
    nodes = sum(1 for _ in client.get_tree(sys.argv[2]))
    print(f"GetTree {sys.argv[2]}: {nodes} nodes in {time.monotonic() - started:.2f} s", end="")
PY
  echo ", then peak RSS $(peak)"
done
