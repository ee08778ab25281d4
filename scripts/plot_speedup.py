#!/usr/bin/env python3
"""plot_speedup.py - draws the README's chart: speedup of the cuda backend
over cuBLAS bf16 (measured in the same run) against M, for int4, int8 and
bf16 weights, from the CSV files that bench/run-h200.sh writes.

Each series is the geometric mean over the layer shapes in its CSV, with a
band from the slowest to the fastest shape; a dashed line marks 1.0 (parity
with cuBLAS). The output is a self-contained SVG (Python standard library
only, no plotting package).

Usage: scripts/plot_speedup.py [RESULTS_DIR] [OUTPUT_SVG]
       (defaults: bench/results, docs/h200-speedup.svg)
"""
import csv
import math
import os
import sys

SERIES = (  # file, label, colour
    ("h200-uint4.csv", "int4 g128 (uint4, scale_zero)", "#1f77b4"),
    ("h200-uint8.csv", "int8 g128 (uint8, scale_zero)", "#2ca02c"),
    ("h200-bf16.csv", "bf16 weights", "#d62728"),
)
WIDTH, HEIGHT = 760, 440
LEFT, RIGHT, TOP, BOTTOM = 70, 250, 40, 60


def read_series(path):
    """{m: [speedup per shape]} from one bench CSV."""
    by_m = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            by_m.setdefault(int(row["m"]), []).append(float(row["speedup_vs_baseline"]))
    return by_m


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    results = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "bench/results")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "docs/h200-speedup.svg")
    data = [(read_series(os.path.join(results, f)), label, colour) for f, label, colour in SERIES]
    ms = sorted({m for d, _, _ in data for m in d})
    values = [v for d, _, _ in data for vs in d.values() for v in vs]
    y_max = max(1.6, math.ceil(max(values) * 5) / 5)
    x_lo, x_hi = math.log2(ms[0]), math.log2(ms[-1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(m):
        return LEFT + (math.log2(m) - x_lo) / (x_hi - x_lo) * plot_w

    def py(v):
        return TOP + (1 - v / y_max) * plot_h

    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (WIDTH, HEIGHT),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="14">unigemm cuda backend on one H200: speedup over '
           'cuBLAS bf16 (same run)</text>' % LEFT]
    step = 0.2
    v = 0.0
    while v <= y_max + 1e-9:
        svg.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>'
                   % (LEFT, LEFT + plot_w, py(v), py(v)))
        svg.append('<text x="%d" y="%.1f" text-anchor="end">%.1f</text>' % (LEFT - 6, py(v) + 4, v))
        v += step
    for m in ms:
        svg.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/>'
                   % (px(m), px(m), TOP, TOP + plot_h))
        svg.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>'
                   % (px(m), TOP + plot_h + 16, m))
    svg.append('<text x="%.1f" y="%d" text-anchor="middle">M (tokens)</text>'
               % (LEFT + plot_w / 2, HEIGHT - 18))
    svg.append('<text x="18" y="%.1f" text-anchor="middle" transform="rotate(-90 18 %.1f)">'
               'time of cuBLAS bf16 / time of unigemm</text>' % (TOP + plot_h / 2, TOP + plot_h / 2))
    svg.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="black" stroke-dasharray="6,4"/>'
               % (LEFT, LEFT + plot_w, py(1.0), py(1.0)))
    for i, (d, label, colour) in enumerate(data):
        pts = sorted(d)
        lo = [(px(m), py(min(d[m]))) for m in pts]
        hi = [(px(m), py(max(d[m]))) for m in pts]
        band = " ".join("%.1f,%.1f" % p for p in lo + hi[::-1])
        svg.append('<polygon points="%s" fill="%s" fill-opacity="0.15" stroke="none"/>'
                   % (band, colour))
        mean = [(px(m), py(math.exp(sum(math.log(x) for x in d[m]) / len(d[m])))) for m in pts]
        svg.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>'
                   % (" ".join("%.1f,%.1f" % p for p in mean), colour))
        for x, y in mean:
            svg.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (x, y, colour))
        ly = TOP + 20 + 22 * i
        lx = LEFT + plot_w + 16
        svg.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>'
                   % (lx, lx + 22, ly, ly, colour))
        svg.append('<text x="%d" y="%d">%s</text>' % (lx + 28, ly + 4, label))
    shapes = len(next(iter(data[0][0].values())))
    svg.append('<text x="%d" y="%d" fill="#555">lines: geometric mean over %d layer</text>'
               % (LEFT + plot_w + 16, TOP + 100, shapes))
    svg.append('<text x="%d" y="%d" fill="#555">shapes; bands: slowest to fastest</text>'
               % (LEFT + plot_w + 16, TOP + 116))
    svg.append('<text x="%d" y="%d" fill="#555">dashed: parity with cuBLAS</text>'
               % (LEFT + plot_w + 16, TOP + 132))
    svg.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
