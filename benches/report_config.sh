#!/bin/sh
# Prints a report config of N targets (default 1000) x 30 days hourly (September 2026)
# against the simulator on 127.0.0.1:PORT: the input of report_offline.sh and
# report_online.sh.
#
#   benches/report_config.sh [TARGETS] [PORT] > report.toml
set -eu
N=${1:-1000}
PORT=${2:-18931}
printf '[defaults]\nbase_url = "http://127.0.0.1:%s/"\nrange = "specified_range"\n' "$PORT"
printf 'date = 2026-09-01\nend_date = 2026-09-30\n'
i=0
while [ $i -lt "$N" ]; do
  printf '\n[[target]]\nname = "server-%05d"\naccount = "acme"\nserver = "srv-%s"\nips = ["10.%d.%d.1"]\n' \
    $i "$(printf %d $i | tr 0-9 a-j)" $((i / 256 % 256)) $((i % 256))
  i=$((i + 1))
done
