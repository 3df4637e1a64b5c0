#!/usr/bin/env bash
# Remakes docs/report.png: a report of five servers and a pool against the simulator,
# opened in headless Chromium. Needs a release build and Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/trafficgraph
work=$(mktemp -d)
trap 'kill $sim 2>/dev/null || true; rm -rf "$work"' EXIT
$bin sim --listen 127.0.0.1:18080 2>/dev/null &
sim=$!
sleep 0.5
cat > "$work/report.toml" <<'TOML'
[defaults]
base_url = "http://127.0.0.1:18080"
range = "previous_calendar_month"

[[target]]
name = "web-01"
account = "100234"
server = "5501"
ips = ["203.0.113.10", "203.0.113.11"]

[[target]]
name = "web-02"
account = "100234"
server = "5502"
ips = ["203.0.113.12"]

[[target]]
name = "db-01"
account = "100234"
server = "5601"
ips = ["198.51.100.7"]

[[target]]
name = "cache-01"
account = "100234"
server = "5701"
ips = ["198.51.100.20"]

[[target]]
name = "legacy-01"
account = "100234"
server = "missing-5801"
ips = ["198.51.100.99"]

[[pool]]
name = "web pool"
targets = ["web-01", "web-02"]
TOML
$bin report --config "$work/report.toml" --out-dir "$work/out" --now 2026-11-15 --no-cache --quiet || true
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
  --user-data-dir="$work/profile" --window-size=1280,1600 \
  --screenshot="$PWD/docs/report.png" "file://$work/out/index.html" 2>/dev/null
echo "wrote docs/report.png"
