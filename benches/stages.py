#!/usr/bin/env python3
"""Where a graph's time goes, by stage, from a `perf record` of `trafficgraph bench`.

    TRAFFICGRAPH_SIMD=avx2 perf record -F 4999 -o perf.data \\
        target/release/trafficgraph bench --input traffic_1000000.csv \\
        --value-unit bits-per-second --graphs 3000 --json
    python3 benches/stages.py perf.data MEDIAN_MS

Symbols are grouped into stages by name; the CSV load (once per process) is left out and
the rest is scaled to MEDIAN_MS, the `ms_median` that `bench --json` printed, so each
stage is in microseconds a graph. The shares come from `perf`, the scale from `bench`.
"""
import re
import subprocess
import sys

GROUPS = [
    ("load", r"csv|read_input|file::|StringRecord|ByteRecord|parse_time|NaiveDate|_copy_to_iter|clear_page"),
    ("statistics pass", r"max_bucket|pair_pass"),
    ("sample and selection", r"SpecFromIter|sort::unstable|sort::select|join_percentile"),
    ("statistics, other", r"stats::|LocalKey"),
    ("decimation", r"decimate::|rollup::Figures|Rollup::figures|Bucket::of|try_map|draw_plot::\{\{closure"),
    ("picture", r"deflate::|zlib_rs|adler32|quantize::|__memcmp|ShapeStyle::filled|DrawingArea|"
                r"Rect::truncate|draw_rect|draw_run|Rectangle<Coord>|fill_rect|tiny_skia|fill_inside|"
                r"scan_fill|hairline|hashbrown|ab_glyph|text::|Spans"),
]


def main():
    data, median_ms = sys.argv[1], float(sys.argv[2])
    out = subprocess.run(
        ["perf", "report", "-i", data, "--no-children", "--sort", "sym", "--stdio", "-n",
         "-g", "none", "--percent-limit", "0"],
        capture_output=True, text=True, check=True).stdout
    total = {g: 0 for g, _ in GROUPS}
    rest = 0
    for line in out.splitlines():
        m = re.match(r"\s+([0-9.]+)%\s+(\d+)\s+\[[.k]\]\s+(.*\S)\s*$", line)
        if not m:
            continue
        n, sym = int(m.group(2)), m.group(3)
        for g, pat in GROUPS:
            if re.search(pat, sym):
                total[g] += n
                break
        else:
            rest += n
    per_graph = sum(total.values()) + rest - total["load"]
    for g, _ in GROUPS[1:]:
        print(f"{g:24s} {total[g] / per_graph * median_ms * 1000:7.0f} us")
    print(f"{'rest':24s} {rest / per_graph * median_ms * 1000:7.0f} us")


if __name__ == "__main__":
    main()
