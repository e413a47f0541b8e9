#!/usr/bin/env python3
"""Generates Tests/Interop/scenario.tsv (deterministic; run it again only to change the scenario).

    python3 Tests/Interop/make_scenario.py > Tests/Interop/scenario.tsv

The format is described in Tests/Interop/README.md.
"""

# ruff: noqa: RUF001 - look-alike characters are test data

import random
import sys

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

lines = []


def esc(value):
    if value is None:
        return "\\N"
    value = str(value)
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def emit(*fields):
    lines.append("\t".join(esc(f) for f in fields))


def append(label, parent, content, category=None, order=None, elaboration=None):
    emit("append", label, parent, category, content, order, elaboration)


def error(status, op, *fields):
    emit("error", status, op, *fields)


# --- r1: a chain 30 deep, with a side branch ------------------------------------------------
append(
    "r1",
    None,
    "session one",
    category="session",
    order=1,
    elaboration='{"run": 1, "tags": ["a", "b"]}',
)
parent = "r1"
for depth in range(1, 31):
    label = f"r1.d{depth}"
    append(
        label,
        parent,
        f"depth {depth}",
        category="step" if depth % 3 else None,
        order=None if depth % 2 else depth,
        elaboration=None if depth % 4 else f'{{"depth": {depth}}}',
    )
    parent = label
append("r1.side", "r1", "side branch", category="", order=0)

# "^label": the same derived id sent in upper case (the server stores lower case); as parent too.
append("^r1.side.up", "r1.side", "upper-case id", category="case")
append("r1.side.up.c", "^r1.side.up", "child of an upper-case parent id")

# --- r2: a node with 100 children: explicit orders, ties, absent orders, negatives ----------
append("r2", None, "fan-out", category="fan", order=2)
for i in range(100):
    kind = i % 5
    if kind == 0:
        order = None  # assigned: 1 + the highest so far
    elif kind == 1:
        order = 5  # ties, ordered by seq
    elif kind == 2:
        order = 1000 - i
    elif kind == 3:
        order = -i
    else:
        order = None
    category = [None, "", "fan", "扇", None][i % 5]
    elaboration = [
        None,
        "null",
        "[]",
        f'{{"i": {i}, "s": "x\\ty"}}',
        '"str"',
        '  {"sp" : true }  ',
    ][i % 6]
    append(f"r2.f{i}", "r2", f"child {i}", category=category, order=order, elaboration=elaboration)
# two grandchildren under one of the fan-out children
append("r2.f7.g1", "r2.f7", "grandchild 1")
append("r2.f7.g2", "r2.f7", "grandchild 2", order=-1)

# --- r3: unicode and large contents ----------------------------------------------------------
append("r3", None, "unicode ☃", category="ユニコード", order=3, elaboration='{"k": "värde ✓"}')
unicode_contents = [
    "中文内容：日志条目",
    "日本語のテキストと한국어",
    "emoji 🎉🚀👩‍👩‍👧‍👦 🏳️‍🌈",
    "combining: e\u0301 a\u0308 o\u0302\u0323 (NFD) vs é (NFC)",
    "Zalgo: Z\u0351\u036b\u0343a\u0352\u0301l\u0357g\u0344o",
    "RTL: עברית العربية",
    "tab\there, newline\nthere, CR\rLF\r\n, backslash \\ and \\t literally",
    "\\N",
    "",
    " leading and trailing spaces ",
    "\U0001f600" * 50,
    "astral 𝕏𝔸 and BMP edge \uffff\ue000",
]
for i, content in enumerate(unicode_contents):
    append(
        f"r3.u{i}",
        "r3",
        content,
        category=None if i % 2 else "uni",
        elaboration='{"emoji": "😀"}' if i == 2 else None,
    )
# 4 KB contents: ASCII, 3-byte (4095 + 1 bytes), 4-byte (1024 x 4 bytes)
append("r3.big1", "r3", ("0123456789abcdef" * 256), category="big")
append("r3.big2", "r3", "あ" * 1365 + "!", category="big", order=100)
append("r3.big3", "r3", "𝄞" * 1024, category="big", order=100)
append("r3.big4", "r3.big1", ("x\ty\n" * 1024), elaboration='{"size": 4096}')

# --- r4: a batch with parents earlier in the batch --------------------------------------------
emit("batch-begin")
append("r4", None, "batch root", category="batch", order=4)
append("r4.b1", "r4", "batch child 1")
append("r4.b2", "r4", "batch child 2", order=7)
append("r4.b3", "r4", "batch child 3")  # assigned 8: counts earlier siblings of the batch
append("r4.b1.x", "r4.b1", "batch grandchild", category="", elaboration="{}")
append("r4.b1.y", "r4.b1", "batch grandchild 2", order=-5)
append("r4.b1.x.z", "r4.b1.x", "batch great-grandchild")
emit("batch-end")
# a batch under an existing parent, one entry per existing node kind
emit("batch-begin")
append("r2.f3.h1", "r2.f3", "second batch, first")
append("r2.f3.h2", "r2.f3.h1", "second batch, second", category="cat")
emit("batch-end")

# --- r5: sibling order extremes ---------------------------------------------------------------
append("r5", None, "orders", order=5)
append("r5.min", "r5", "int64 min", order=INT64_MIN)
append("r5.zero", "r5", "zero", order=0)
append("r5.auto", "r5", "assigned after zero")
append("r5.max", "r5", "int64 max", order=INT64_MAX)

# --- r6: a deterministic random tree ----------------------------------------------------------
rng = random.Random(20261127)
append("r6", None, "random tree", order=6, elaboration='{"seed": 20261127}')
nodes = ["r6"]
for i in range(110):
    parent = rng.choice(nodes)
    label = f"r6.n{i}"
    order = rng.choice([None, None, 1, 2, 3, rng.randint(-1000, 1000)])
    category = rng.choice([None, "", "alpha", "βeta"])
    elaboration = rng.choice(
        [None, None, "1", "true", f'{{"n": {i}}}', '{"nested": {"a": [1, 2, {"b": null}]}}']
    )
    append(
        label,
        parent,
        f"node {i} " + "é" * rng.randint(0, 40),
        category=category,
        order=order,
        elaboration=elaboration,
    )
    nodes.append(label)

# roots without explicit order would get 1 + the highest root order in the whole table, which
# depends on what the other writers stored before: every root here has an explicit order.
append("r7", None, "last root, no children", category=None, order=7)

# --- idempotent retries: the same entry again -> created=false --------------------------------
for label in [
    "^r1.side.up",
    "r1",
    "r1.d1",
    "r1.d2",
    "r2.f0",
    "r2.f1",
    "r3.u2",
    "r3.big2",
    "r4.b3",
    "r4.b1.x.z",
    "r5.auto",
    "r6.n5",
]:
    emit("retry", label)

# --- error cases ------------------------------------------------------------------------------
# error STATUS append LABEL PARENT CATEGORY CONTENT ORDER ELABORATION; "=text" is a raw id text.
error("INVALID_ARGUMENT", "append", "=not-a-uuid", None, None, "malformed id", None, None)
error(
    "INVALID_ARGUMENT",
    "append",
    "=01234567-89ab-cdef-0123-456789abcdefg",
    None,
    None,
    "id too long",
    None,
    None,
)
error(
    "INVALID_ARGUMENT",
    "append",
    "e.badparent",
    "={01234567-89ab-cdef-0123-456789abcdef}",
    None,
    "malformed parent",
    None,
    None,
)
error("INVALID_ARGUMENT", "append", "e.self", "e.self", None, "self parent", None, None)
error("INVALID_ARGUMENT", "append", "e.nocontent", "r1", None, None, None, None)
error("INVALID_ARGUMENT", "append", "e.json1", "r1", None, "bad json", None, "{not json")
error("INVALID_ARGUMENT", "append", "e.json2", "r1", None, "empty json", None, "")
error(
    "FAILED_PRECONDITION",
    "append",
    "e.orphan",
    "e.nosuchparent",
    None,
    "missing parent",
    None,
    None,
)
error("ALREADY_EXISTS", "append", "r2.f1", "r2", "", "other content", 5, "[]")
error("ALREADY_EXISTS", "append", "r1.d3", "r1.d2", "step", "depth 3", 99, None)
error("ALREADY_EXISTS", "append", "r3.u1", "r3", "uni", "日本語のテキストと한국어", None, None)
error("OUT_OF_RANGE", "append", "e.toolarge", "r5", None, "no order after int64 max", None, None)
error("NOT_FOUND", "get-log", "e.orphan")
error("NOT_FOUND", "get-log", "e.nosuchparent")
error("INVALID_ARGUMENT", "get-log", "=xyz")
error("NOT_FOUND", "get-tree", "e.nosuchroot")
error("NOT_FOUND", "children", "e.nosuchparent")
error("INVALID_ARGUMENT", "get-tree", "=xyz")
error("INVALID_ARGUMENT", "children", "=")  # an empty parent id is malformed, not "the roots"
error("INVALID_ARGUMENT", "children", "=01234567-89AB-CDEF-0123-456789ABCDEF ")
# a failing batch is all or nothing: its first entry is not stored
emit("batch-begin", "FAILED_PRECONDITION")
append("e.b1", "r7", "batch entry that must be rolled back")
append("e.b2", "e.b3", "parent later in the batch")
append("e.b3", "r7", "never reached")
emit("batch-end")
error("NOT_FOUND", "get-log", "e.b1")
emit("batch-begin", "ALREADY_EXISTS")
append("e.b4", "r7", "rolled back too")
append("r7", None, "last root, changed", None, 7, None)
emit("batch-end")
error("NOT_FOUND", "get-log", "e.b4")

sys.stdout.write(
    "# orchlog interop scenario, generated by Tests/Interop/make_scenario.py; do not edit\n"
)
sys.stdout.write("\n".join(lines) + "\n")
