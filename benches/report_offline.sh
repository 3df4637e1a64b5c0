#!/bin/sh
# An offline report of N targets (default 1000) x 30 days hourly, all answered from the
# cache: the cost of a report that needs no network. Fills the cache once from the
# simulator, then times `report --offline` into an empty directory and again over its own
# previous run (whose unchanged files it leaves alone), under perf stat when available,
# and, in the same run, `bench` drawing N graphs of one target's CSV: the report's CPU
# over the graphs' alone is the ratio to quote. Then the disk writes of a first run, and
# the merge of the report run as two shards.
#
#   benches/report_offline.sh [TARGETS] [BIN]   (BIN: target/release/trafficgraph)
set -eu
N=${1:-1000}
BIN=${2:-${CARGO_TARGET_DIR:-target}/release/trafficgraph}
DIR=${BENCH_DIR:-$(mktemp -d)}
PORT=${PORT:-18931}
mkdir -p "$DIR" "$DIR/runs"
"$BIN" sim --listen 127.0.0.1:$PORT >/dev/null 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null' EXIT
CONF="$DIR/report.toml"
sh "$(dirname "$0")/report_config.sh" "$N" "$PORT" > "$CONF"
sleep 0.5
"$BIN" report --config "$CONF" --out-dir "$DIR/fill" --cache-dir "$DIR/cache" --now 2026-11-01 -q
echo "cache: $(find "$DIR/cache" -type f | wc -l) files, $(du -sb "$DIR/cache" | cut -f1) bytes"
kill $SIM
run() { "$BIN" report --config "$CONF" --out-dir "$DIR/offline" --cache-dir "$DIR/cache" --now 2026-11-01 --offline -q; }
run # warm the page cache
if command -v perf >/dev/null; then
  # A first run: every file is new. Each repetition gets a new empty directory (not one
  # emptied just before: ext4 without a journal then searches past the thousands of
  # inodes it has just freed for every file it creates, which is not the report's cost).
  echo "report into an empty directory:"
  mkdir -p "$DIR/runs"
  perf stat -e task-clock -r 3 \
    --pre "sh -c 'rm -f $DIR/fresh; ln -s \$(mktemp -d -p $DIR/runs) $DIR/fresh'" \
    "$BIN" report --config "$CONF" --out-dir "$DIR/fresh/" --cache-dir "$DIR/cache" \
    --now 2026-11-01 --offline -q 2>&1 | grep -E 'task-clock|elapsed' | tee "$DIR/first.txt"
  # A re-run over the same data: the files already hold these bytes and are left alone.
  echo "report again over its own previous run:"
  perf stat -e task-clock -r 3 "$BIN" report --config "$CONF" --out-dir "$DIR/offline" \
    --cache-dir "$DIR/cache" --now 2026-11-01 --offline -q 2>&1 \
    | grep -E 'task-clock|elapsed' | tee "$DIR/rerun.txt"
  echo "bench, the same number of graphs of one target:"
  perf stat -e task-clock "$BIN" bench -i "$DIR/offline/server-00000.csv" --graphs "$N" 2>&1 \
    | grep -E 'task-clock|graphs of' | tee "$DIR/bench.txt"
  ms() { awk '/task-clock/ { print $1 }' "$1" | tr -d ,; }
  awk -v f="$(ms "$DIR/first.txt")" -v r="$(ms "$DIR/rerun.txt")" -v b="$(ms "$DIR/bench.txt")" \
    'BEGIN { printf "report CPU / bench CPU: first run %.2fx, unchanged re-run %.2fx\n", f / b, r / b }'
else
  /usr/bin/time -f '%e s wall %U+%S s cpu' "$BIN" report --config "$CONF" --out-dir "$DIR/offline" \
    --cache-dir "$DIR/cache" --now 2026-11-01 --offline -q
  /usr/bin/time -f '%e s wall %U+%S s cpu (bench)' "$BIN" bench \
    -i "$DIR/offline/server-00000.csv" --graphs "$N"
fi
/usr/bin/time -f 'peak RSS %M KB' "$BIN" report --config "$CONF" --out-dir "$DIR/offline" \
  --cache-dir "$DIR/cache" --now 2026-11-01 --offline -q
# What a first run asks of the disk: write requests and bytes, from the block device's
# counters (the whole device's, so other programs' writes count too), the batch's
# syncs included.
DEV=$(basename "$(df --output=source "$DIR" | tail -1)")
if [ -r "/sys/class/block/$DEV/stat" ]; then
  sync
  set -- $(cat "/sys/class/block/$DEV/stat")
  W0=$5 S0=$7
  "$BIN" report --config "$CONF" --out-dir "$(mktemp -d -p "$DIR/runs")" \
    --cache-dir "$DIR/cache" --now 2026-11-01 --offline -q
  set -- $(cat "/sys/class/block/$DEV/stat")
  echo "first run's disk writes ($DEV): $(($5 - W0)) requests, $((($7 - S0) / 2048)) MB"
fi
# Two shards of the same report, merged: the merge's CPU and wall.
for i in 0 1; do
  "$BIN" report --config "$CONF" --out-dir "$DIR/shard-$i" --cache-dir "$DIR/cache" \
    --now 2026-11-01 --offline -q --shard $i/2
done
/usr/bin/time -f 'report merge of 2 shards: %e s wall, %U+%S s cpu' "$BIN" report merge \
  "$DIR/shard-0" "$DIR/shard-1" --out-dir "$(mktemp -d -p "$DIR/runs")/merged" -q
