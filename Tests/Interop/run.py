#!/usr/bin/env python3
"""Cross-language interop suite of orchlog (Tests/Interop/README.md). Python 3 stdlib only.

Environment (paths relative to the repository root):
    ORCHLOGD               the server binary        (default .build/debug/orchlogd)
    ORCHLOG_INTEROP_SWIFT  the Swift driver         (default .build/debug/orchlog-interop)
    PYTHON                 the Python interpreter with the orchlog package
                                                    (default Clients/python/.venv/bin/python)
    INTEROP_FOLLOW_COUNT   children each client appends in the follow test (default 100)
The C driver is built here with `make -C Tests/Interop/c`.

Prints one line per check and, last, "N passed, M failed"; exits 1 on any failure.
"""

import difflib
import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCENARIO = os.path.join(HERE, "scenario.tsv")
CLIENTS = ("swift", "c", "python")
STEP_TIMEOUT = 60  # seconds, any single driver run
SUITE_TIMEOUT = 110  # seconds, the whole suite

passed = 0
failed = 0
started = time.monotonic()


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)
    return ok


def path_from_env(var, default):
    value = os.environ.get(var) or default
    return value if os.path.isabs(value) else os.path.join(ROOT, value)


def derive_id(writer, label):
    b = bytearray(hashlib.sha256(f"{writer}/{label}".encode()).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x80
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def time_left():
    return max(1.0, min(STEP_TIMEOUT, SUITE_TIMEOUT - (time.monotonic() - started)))


class Server:
    def __init__(self, binary, tmp):
        self.log = []
        self.proc = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--db", os.path.join(tmp, "interop.db")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.port = None
        found = threading.Event()

        def pump():
            for raw in self.proc.stderr:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.log.append(line)
                m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    found.set()
            found.set()

        threading.Thread(target=pump, daemon=True).start()
        found.wait(15)
        if self.port is None:
            self.stop()
            raise RuntimeError("orchlogd did not report its port:\n" + "\n".join(self.log))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def main():
    orchlogd = path_from_env("ORCHLOGD", ".build/debug/orchlogd")
    swift = path_from_env("ORCHLOG_INTEROP_SWIFT", ".build/debug/orchlog-interop")
    python = path_from_env("PYTHON", "Clients/python/.venv/bin/python")
    k = int(os.environ.get("INTEROP_FOLLOW_COUNT", "100"))

    build = subprocess.run(
        ["make", "--no-print-directory", "-C", os.path.join(HERE, "c")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=120,
    )
    if not check(
        "build the C driver", build.returncode == 0, build.stdout.decode(errors="replace")[-2000:]
    ):
        return
    for name, binary in (("orchlogd", orchlogd), ("Swift driver", swift), ("python", python)):
        if not check(f"{name} exists", os.access(binary, os.X_OK), binary):
            return

    drivers = {
        "swift": [swift],
        "c": [os.path.join(HERE, "c", "interop")],
        "python": [python, os.path.join(HERE, "python", "interop.py")],
    }

    with tempfile.TemporaryDirectory(prefix="orchlog-interop-") as tmp:
        server = Server(orchlogd, tmp)
        procs = []
        try:
            addr = f"127.0.0.1:{server.port}"

            def command(client, mode, *args):
                return drivers[client] + [mode, "--server", addr, *args]

            def run(client, mode, *args):
                return subprocess.run(
                    command(client, mode, *args),
                    capture_output=True,
                    timeout=time_left(),
                )

            # 1. Each client writes the scenario as its own writer.
            for client in CLIENTS:
                r = run(client, "write", "--writer", client, "--scenario", SCENARIO)
                err = r.stderr.decode("utf-8", "replace").strip()
                check(f"write scenario with {client}", r.returncode == 0, err[-3000:])
                summary = err.splitlines()[-1] if err else ""
                if summary:
                    print(f"     {summary}")

            # 2. Each client reads what each writer wrote: 9 dumps.
            dumps = {}
            for writer in CLIENTS:
                for reader in CLIENTS:
                    r = run(reader, "read", "--writer", writer, "--scenario", SCENARIO)
                    lines = r.stdout.count(b"\n")
                    check(
                        f"read {writer}'s entries with {reader}",
                        r.returncode == 0 and lines > 100,
                        f"rc={r.returncode}, {lines} lines; "
                        + r.stderr.decode("utf-8", "replace")[-2000:],
                    )
                    dumps[(reader, writer)] = r.stdout if r.returncode == 0 else None

            def compare(name, a_name, a, b_name, b):
                if a is None or b is None:
                    return check(name, False, "a dump is missing")
                if a == b:
                    return check(name, True)
                diff = difflib.unified_diff(
                    a.decode("utf-8", "replace").splitlines(),
                    b.decode("utf-8", "replace").splitlines(),
                    a_name,
                    b_name,
                    lineterm="",
                    n=0,
                )
                return check(name, False, "\n" + "\n".join(list(diff)[:40]))

            # 3. The readers agree on each writer's data.
            for writer in CLIENTS:
                for reader in CLIENTS:
                    if reader != writer:
                        compare(
                            f"{writer}'s data: {writer} and {reader} read the same",
                            f"{writer} reads {writer}",
                            dumps[(writer, writer)],
                            f"{reader} reads {writer}",
                            dumps[(reader, writer)],
                        )
            # 4. The writers stored the same data (normalised: labels and seq ranks).
            for writer in CLIENTS[1:]:
                compare(
                    f"swift and {writer} stored the same scenario",
                    "swift's data",
                    dumps[("swift", "swift")],
                    f"{writer}'s data",
                    dumps[(writer, writer)],
                )

            # 5. Followers in each language receive children appended by all three, in seq order.
            follow_scenario = os.path.join(tmp, "follow.tsv")
            with open(follow_scenario, "w", encoding="utf-8") as f:
                f.write("append\tparent\t\\N\tfollow\tfollow test parent\t100\t\\N\n")
            r = run("python", "write", "--writer", "follow", "--scenario", follow_scenario)
            if not check(
                "create the follow parent", r.returncode == 0, r.stderr.decode(errors="replace")
            ):
                return
            parent = derive_id("follow", "parent")
            total = 3 * k
            outputs = {}
            for client in CLIENTS:
                out = open(os.path.join(tmp, f"follow-{client}.out"), "w+b")  # noqa: SIM115
                err = open(os.path.join(tmp, f"follow-{client}.err"), "w+b")  # noqa: SIM115
                p = subprocess.Popen(
                    command(
                        client,
                        "follow",
                        "--parent",
                        parent,
                        "--count",
                        str(total),
                        "--timeout",
                        "45",
                    ),
                    stdout=out,
                    stderr=err,
                )
                procs.append(p)
                outputs[client] = (p, out, err)
            time.sleep(1.5)  # let the followers subscribe (correctness does not depend on it)
            appenders = []
            for client in CLIENTS:
                p = subprocess.Popen(
                    command(
                        client,
                        "append-children",
                        "--parent",
                        parent,
                        "--prefix",
                        f"{client}-",
                        "--count",
                        str(k),
                    ),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
                procs.append(p)
                appenders.append((client, p))
            for client, p in appenders:
                try:
                    _, err = p.communicate(timeout=time_left())
                    check(
                        f"{client} appends {k} children",
                        p.returncode == 0,
                        err.decode(errors="replace"),
                    )
                except subprocess.TimeoutExpired:
                    p.kill()
                    check(f"{client} appends {k} children", False, "timed out")
            r = run("c", "list-children", "--parent", parent)
            order = r.stdout.decode().split()
            check(
                f"the parent has {total} distinct children",
                r.returncode == 0 and len(order) == total and len(set(order)) == total,
                f"rc={r.returncode}, {len(order)} ids",
            )
            for client in CLIENTS:
                p, out, err = outputs[client]
                try:
                    p.wait(timeout=time_left())
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                out.seek(0)
                err.seek(0)
                got = out.read().decode().split()
                detail = (
                    f"rc={p.returncode}, {len(got)} ids; "
                    + err.read().decode(errors="replace")[-1000:]
                )
                if p.returncode == 0 and got != order:
                    first = next(
                        (i for i, (a, b) in enumerate(zip(got, order)) if a != b),
                        min(len(got), len(order)),
                    )
                    detail += f"first difference at position {first}"
                check(
                    f"{client} follower got the {total} children in seq order",
                    p.returncode == 0 and got == order,
                    detail,
                )
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            rc = server.stop()
            check(
                "orchlogd stopped cleanly on SIGTERM",
                rc == 0,
                f"exit {rc}\n" + "\n".join(server.log[-20:]),
            )


if __name__ == "__main__":
    # SIGTERM (e.g. an outer timeout) unwinds like Ctrl-C, so the server and drivers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        main()
    except Exception as error:
        check("runner", False, f"{type(error).__name__}: {error}")
    print(
        f"{passed} passed, {failed} failed  ({time.monotonic() - started:.1f} s)"
        if os.environ.get("INTEROP_TIMING")
        else f"{passed} passed, {failed} failed"
    )
    sys.exit(1 if failed or passed == 0 else 0)
