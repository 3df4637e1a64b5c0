#!/bin/sh
# An online report of N targets (default 10000) x 30 days hourly against the simulator in
# its own process with LATENCY ms (default 20) a request, no cache: wall time against the
# latency floor (4 requests a target, --concurrency 8 at once) and the report's own peak
# RSS (the simulator's is not counted, as a provider's would not be).
#
#   benches/report_online.sh [TARGETS] [LATENCY_MS] [BIN]   (BIN: target/release/trafficgraph)
set -eu
N=${1:-10000}
LAT=${2:-20}
BIN=${3:-${CARGO_TARGET_DIR:-target}/release/trafficgraph}
DIR=${BENCH_DIR:-$(mktemp -d)}
PORT=${PORT:-18932}
mkdir -p "$DIR"
"$BIN" sim --listen 127.0.0.1:$PORT --latency-ms "$LAT" >/dev/null 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null' EXIT
CONF="$DIR/report.toml"
sh "$(dirname "$0")/report_config.sh" "$N" "$PORT" > "$CONF"
sleep 0.5
awk -v n="$N" -v l="$LAT" 'BEGIN { printf "latency floor: %.2f s\n", n * 4 / 8 * l / 1000 }'
/usr/bin/time -f '%e s wall, %U+%S s cpu, peak RSS %M KB' "$BIN" report --config "$CONF" \
  --out-dir "$DIR/out" --no-cache --now 2026-11-01 -q
