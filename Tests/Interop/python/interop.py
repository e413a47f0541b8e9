#!/usr/bin/env python3
"""orchlog interop driver for the Python client (Tests/Interop/README.md).

interop.py write --server HOST:PORT --writer NAME --scenario FILE
interop.py read --server HOST:PORT --writer NAME --scenario FILE
interop.py follow --server HOST:PORT --parent ID --count N [--timeout S]
interop.py append-children --server HOST:PORT --parent ID --prefix P --count N
interop.py list-children --server HOST:PORT --parent ID
"""

import argparse
import hashlib
import sys
import threading

import orchlog

NULL = "\\N"


# -- scenario format -------------------------------------------------------------------------


def unescape(field):
    if field == NULL:
        return None
    out = []
    i = 0
    while i < len(field):
        ch = field[i]
        if ch == "\\" and i + 1 < len(field):
            nxt = field[i + 1]
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def escape(value):
    if value is None:
        return NULL
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def load_scenario(path):
    ops = []
    with open(path, "rb") as f:
        for raw in f.read().decode("utf-8").split("\n"):
            if raw == "" or raw.startswith("#"):
                continue
            fields = [unescape(x) for x in raw.split("\t")]
            ops.append(fields)
    return ops


def derive_id(writer, label):
    """SHA-256 of "writer/label", first 16 bytes, version 8, variant 10, lower-case 8-4-4-4-12."""
    b = bytearray(hashlib.sha256(f"{writer}/{label}".encode()).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x80
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class Ids:
    def __init__(self, writer):
        self.writer = writer

    def __call__(self, label):
        if label is None:
            return None
        if label.startswith("="):
            return label[1:]
        if label.startswith("^"):
            return derive_id(self.writer, label[1:]).upper()
        return derive_id(self.writer, label)


def append_spec(fields):
    """(label, parent, category, content, order, elaboration) of an append's fields."""
    label, parent, category, content, order, elaboration = fields[:6]
    return label, parent, category, content, (None if order is None else int(order)), elaboration


def stored_labels(ops):
    """Labels of the entries the scenario stores, in scenario order, with their append fields."""
    labels = []
    batch = None
    for op in ops:
        kind = op[0]
        if kind == "append":
            spec = append_spec(op[1:])
            if batch is None:
                labels.append(spec)
            else:
                batch[1].append(spec)
        elif kind == "batch-begin":
            batch = ((op[1] if len(op) > 1 else "OK"), [])
        elif kind == "batch-end":
            if batch[0] == "OK":
                labels.extend(batch[1])
            batch = None
    return labels


# -- modes -----------------------------------------------------------------------------------


def connect(server):
    host, _, port = server.rpartition(":")
    return orchlog.Client(host, int(port), timeout=30.0)


def to_entry(ids, spec):
    label, parent, category, content, order, elaboration = spec
    return orchlog.LogEntry(
        content=content,
        orchestration_session_log_id=ids(label),
        category=category,
        parent_exec_id=ids(parent),
        sibling_order=order,
        elaboration=elaboration,
    )


def do_write(client, writer, ops):
    ids = Ids(writer)
    failures = []
    seqs = {}
    specs = {}

    def fail(msg):
        failures.append(msg)
        print(f"python write {writer}: MISMATCH: {msg}", file=sys.stderr)

    def check_stored(spec, result, created):
        label = spec[0]
        e = result.entry
        if result.created != created:
            fail(f"{label}: created={result.created}, expected {created}")
        want = to_entry(ids, spec)
        for name in (
            "orchestration_session_log_id",
            "category",
            "parent_exec_id",
            "content",
            "elaboration",
        ):
            sent = getattr(want, name)
            if name in ("orchestration_session_log_id", "parent_exec_id") and sent is not None:
                sent = sent.lower()  # the server stores ids in lower case
            if getattr(e, name) != sent:
                fail(f"{label}: stored {name} {getattr(e, name)!r} != sent {getattr(want, name)!r}")
        if want.sibling_order is not None and e.sibling_order != want.sibling_order:
            fail(f"{label}: stored sibling_order {e.sibling_order} != sent {want.sibling_order}")
        if e.sibling_order is None or e.seq is None:
            fail(f"{label}: stored entry without sibling_order or seq")
        if created:
            seqs[label] = e.seq
        elif seqs.get(label) != e.seq:
            fail(f"{label}: retry returned seq {e.seq}, first append had {seqs.get(label)}")

    def expect_error(status, what, call):
        try:
            call()
        except orchlog.OrchLogError as err:
            if err.code.name != status:
                fail(f"{what}: got {err.code.name} ({err.message}), expected {status}")
            return
        fail(f"{what}: succeeded, expected {status}")

    batch = None
    for op in ops:
        kind = op[0]
        if kind == "append":
            spec = append_spec(op[1:])
            specs.setdefault(spec[0], spec)
            if batch is not None:
                batch[1].append(spec)
                continue
            try:
                check_stored(spec, client.append_log(**_kwargs(to_entry(ids, spec))), True)
            except orchlog.OrchLogError as err:
                fail(f"append {spec[0]}: {err.code.name} {err.message}")
        elif kind == "batch-begin":
            batch = ((op[1] if len(op) > 1 else "OK"), [])
        elif kind == "batch-end":
            status, specs_in_batch = batch
            batch = None
            entries = [to_entry(ids, s) for s in specs_in_batch]
            if status == "OK":
                try:
                    results = client.append_logs(entries)
                except orchlog.OrchLogError as err:
                    fail(f"batch: {err.code.name} {err.message}")
                    continue
                if len(results) != len(entries):
                    fail(f"batch: {len(results)} results for {len(entries)} entries")
                for s, r in zip(specs_in_batch, results):
                    check_stored(s, r, True)
            else:
                expect_error(status, "batch", lambda e=entries: client.append_logs(e))
        elif kind == "retry":
            spec = specs[op[1]]
            try:
                check_stored(spec, client.append_log(**_kwargs(to_entry(ids, spec))), False)
            except orchlog.OrchLogError as err:
                fail(f"retry {spec[0]}: {err.code.name} {err.message}")
        elif kind == "error":
            status, what = op[1], op[2]
            target = ids(op[3])
            if what == "append":
                entry = to_entry(ids, append_spec(op[3:]))
                expect_error(
                    status, f"error append {op[3]}", lambda e=entry: client.append_log(**_kwargs(e))
                )
            elif what == "get-log":
                expect_error(status, f"error get-log {op[3]}", lambda i=target: client.get_log(i))
            elif what == "get-tree":
                expect_error(
                    status, f"error get-tree {op[3]}", lambda i=target: list(client.get_tree(i))
                )
            elif what == "children":
                expect_error(
                    status,
                    f"error children {op[3]}",
                    lambda i=target: list(client.stream_children(i)),
                )
            else:
                fail(f"unknown error op {what}")
        else:
            fail(f"unknown op {kind}")
    print(
        f"python write {writer}: {len(ops)} ops, 0 skipped, {len(failures)} mismatches",
        file=sys.stderr,
    )
    return 1 if failures else 0


def _kwargs(entry):
    # content may be None: the "missing content" case (sent without the field).
    return dict(
        content=entry.content,
        orchestration_session_log_id=entry.orchestration_session_log_id,
        category=entry.category,
        parent_exec_id=entry.parent_exec_id,
        sibling_order=entry.sibling_order,
        elaboration=entry.elaboration,
    )


def do_read(client, writer, ops):
    ids = Ids(writer)
    specs = [(s[0].lstrip("^"), *s[1:]) for s in stored_labels(ops)]
    label_of = {ids(s[0]): s[0] for s in specs}
    logs = [client.get_log(ids(s[0])) for s in specs]
    rank = {seq: i + 1 for i, seq in enumerate(sorted(e.seq for e in logs))}

    def ref(id_):
        if id_ is None:
            return NULL
        return escape(label_of.get(id_, "?" + id_))

    def fmt(e):
        return "\t".join(
            [
                ref(e.orchestration_session_log_id),
                ref(e.parent_exec_id),
                escape(e.category),
                escape(e.content),
                NULL if e.sibling_order is None else str(e.sibling_order),
                escape(e.elaboration),
                str(rank[e.seq]) if e.seq in rank else f"?{e.seq}",
            ]
        )

    out = []
    for e in logs:
        out.append("log\t" + fmt(e))
    for e in client.stream_children(None):
        if e.orchestration_session_log_id in label_of:
            out.append("roots\t" + fmt(e))
    for s in specs:
        if s[1] is None:
            for node in client.get_tree(ids(s[0])):
                out.append(f"tree\t{escape(s[0])}\t{node.depth}\t" + fmt(node.entry))
    for s in specs:
        if s[1] is None:
            for node in client.get_tree(ids(s[0]), max_depth=2):
                out.append(f"tree2\t{escape(s[0])}\t{node.depth}\t" + fmt(node.entry))
    for s in specs:
        children = list(client.stream_children(ids(s[0])))
        for e in children:
            out.append(f"children\t{escape(s[0])}\t" + fmt(e))
        if len(children) >= 2:
            # after_seq: the children after the first one
            for e in client.stream_children(ids(s[0]), after_seq=children[0].seq):
                out.append(f"after\t{escape(s[0])}\t" + fmt(e))
    sys.stdout.buffer.write(("\n".join(out) + "\n").encode("utf-8"))
    return 0


def do_follow(client, parent, count, timeout):
    stream = client.stream_children(parent, follow=True)
    timer = threading.Timer(timeout, stream.close)
    timer.daemon = True
    timer.start()
    got = 0
    for e in stream:
        sys.stdout.write(e.id + "\n")
        sys.stdout.flush()
        got += 1
        if got == count:
            break
    timer.cancel()
    stream.close()
    if got != count:
        print(f"python follow: {got} of {count} children within {timeout} s", file=sys.stderr)
        return 1
    return 0


def do_append_children(client, parent, prefix, count):
    for i in range(count):
        r = client.append_log(content=f"{prefix}{i}", parent_exec_id=parent)
        if not r.created:
            print(f"python append-children: {prefix}{i} not created", file=sys.stderr)
            return 1
    return 0


def do_list_children(client, parent):
    for e in client.stream_children(parent):
        sys.stdout.write(e.id + "\n")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="mode", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", required=True)
    for mode in ("write", "read"):
        s = sub.add_parser(mode, parents=[common])
        s.add_argument("--writer", required=True)
        s.add_argument("--scenario", required=True)
    s = sub.add_parser("follow", parents=[common])
    s.add_argument("--parent", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--timeout", type=float, default=60.0)
    s = sub.add_parser("append-children", parents=[common])
    s.add_argument("--parent", required=True)
    s.add_argument("--prefix", required=True)
    s.add_argument("--count", type=int, required=True)
    s = sub.add_parser("list-children", parents=[common])
    s.add_argument("--parent", required=True)
    args = p.parse_args()
    with connect(args.server) as client:
        if args.mode == "write":
            return do_write(client, args.writer, load_scenario(args.scenario))
        if args.mode == "read":
            return do_read(client, args.writer, load_scenario(args.scenario))
        if args.mode == "follow":
            return do_follow(client, args.parent, args.count, args.timeout)
        if args.mode == "append-children":
            return do_append_children(client, args.parent, args.prefix, args.count)
        return do_list_children(client, args.parent)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except orchlog.OrchLogError as err:
        print(f"python interop: {err.code.name}: {err.message}", file=sys.stderr)
        sys.exit(1)
