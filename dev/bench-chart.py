#!/usr/bin/env python3
"""Draws docs/bench-chart.svg from an orchlog-bench JSON report: throughput and p99 latency
against connections (one call in flight per connection), one line per call kind.

    dev/bench-chart.py REPORT.json [OUT.svg]

Plain SVG from the standard library, so the chart needs nothing installed.
"""
import json
import math
import re
import sys

SERIES = [
    # (label, key pattern with {c} for the connection count, colour)
    ("AppendLog v7 (durable)", "append-durable/orchlog/{c}c-1x/v7", "#1f77b4"),
    ("AppendLog v4 (durable)", "append-durable/orchlog/{c}c-1x/v4", "#aec7e8"),
    ("Health", "rpc-ceiling/orchlog/health/{c}c-1x", "#2ca02c"),
    ("GetLog", "rpc-ceiling/orchlog/get/{c}c-1x", "#98df8a"),
    ("grpc-swift 2 peer AppendLog", "peer/grpc/append/{c}c-1x", "#d62728"),
    ("grpc-swift 2 peer Health", "peer/grpc/health/{c}c-1x", "#ff9896"),
]
W, H = 960, 420
PANEL_W, PANEL_H = 380, 300
LEFT = [70, 560]
TOP = 60


def points(measurements, pattern):
    regex = re.compile("^" + re.escape(pattern).replace(r"\{c\}", r"(\d+)") + "$")
    found = []
    for m in measurements:
        match = regex.match(m["key"])
        if match:
            found.append((int(match.group(1)), m["value"], (m.get("p99Micros") or 0) / 1000))
    return sorted(found)


def nice_ticks(lo, hi):
    """Powers of ten with 2 and 5 between them, covering lo..hi (log axis)."""
    ticks = []
    exp = math.floor(math.log10(lo))
    while 10 ** exp <= hi * 1.0001:
        for m in (1, 2, 5):
            v = m * 10 ** exp
            if lo / 1.0001 <= v <= hi * 1.0001:
                ticks.append(v)
        exp += 1
    return ticks


def fmt(v):
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def panel(out, x0, title, unit, series, xs, index):
    values = [p[index] for _, pts, _ in series for p in pts if p[index] > 0]
    if not values:
        return
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    xlo, xhi = min(xs), max(xs)

    def sx(c):
        return x0 + (0 if xhi == xlo else (math.log(c) - math.log(xlo)) / (math.log(xhi) - math.log(xlo)) * PANEL_W)

    def sy(v):
        return TOP + PANEL_H - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * PANEL_H

    out.append(f'<text x="{x0 + PANEL_W / 2}" y="{TOP - 20}" text-anchor="middle" font-weight="bold">{title}</text>')
    out.append(f'<rect x="{x0}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="none" stroke="#999"/>')
    for t in nice_ticks(lo, hi):
        y = sy(t)
        out.append(f'<line x1="{x0}" x2="{x0 + PANEL_W}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{fmt(t)}</text>')
    for c in xs:
        out.append(f'<text x="{sx(c):.1f}" y="{TOP + PANEL_H + 16}" text-anchor="middle" font-size="11">{c}</text>')
    out.append(f'<text x="{x0 + PANEL_W / 2}" y="{TOP + PANEL_H + 34}" text-anchor="middle" font-size="12">'
               f'connections (1 call in flight each)</text>')
    out.append(f'<text x="{x0 - 48}" y="{TOP + PANEL_H / 2}" text-anchor="middle" font-size="12" '
               f'transform="rotate(-90 {x0 - 48} {TOP + PANEL_H / 2})">{unit}</text>')
    for _, pts, colour in series:
        pts = [p for p in pts if p[index] > 0]
        if not pts:
            continue
        path = " ".join(f"{'M' if i == 0 else 'L'}{sx(p[0]):.1f},{sy(p[index]):.1f}" for i, p in enumerate(pts))
        out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p in pts:
            out.append(f'<circle cx="{sx(p[0]):.1f}" cy="{sy(p[index]):.1f}" r="3" fill="{colour}"/>')


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    report = json.load(open(sys.argv[1]))
    out_path = sys.argv[2] if len(sys.argv) > 2 else "docs/bench-chart.svg"
    measurements = report["measurements"]
    series = [(label, points(measurements, pattern), colour) for label, pattern, colour in SERIES]
    series = [s for s in series if s[1]]
    if not series:
        sys.exit("no append-durable or rpc-ceiling figures in the report")
    xs = sorted({p[0] for _, pts, _ in series for p in pts})
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H + 24 * ((len(series) + 2) // 3)}" '
           f'font-family="sans-serif" font-size="13">', f'<rect width="100%" height="100%" fill="white"/>']
    panel(out, LEFT[0], "Throughput", "calls/s (log)", series, xs, 1)
    panel(out, LEFT[1], "p99 latency", "ms (log)", series, xs, 2)
    for i, (label, _, colour) in enumerate(series):
        x = 70 + (i % 3) * 300
        y = H + 24 * (i // 3)
        out.append(f'<rect x="{x}" y="{y - 10}" width="14" height="4" fill="{colour}"/>')
        out.append(f'<text x="{x + 20}" y="{y - 4}" font-size="12">{label}</text>')
    machine = report.get("machine", {})
    out.append(f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="12" fill="#555">orchlog-bench '
               f'{report.get("mode", "")} run, {report.get("startedAt", "")}, {machine.get("cores", "?")} cores '
               f'{machine.get("cpu", "")}</text>')
    out.append("</svg>")
    with open(out_path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
