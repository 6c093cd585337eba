#!/usr/bin/env bash
# Reads beside appends on one partition (issue 26, first bar), outside `cargo test`: one
# topic of one partition on a release broker; each round, for each broker binary in turn
# (alternating), on a fresh data dir:
#   1. `kfk producer-perf-test` alone writes PRE records (the produce p99 without readers);
#   2. the same producer writes RECORDS more at full speed while three `kfk consumer-perf-test`
#      (groups of their own) read the partition from its start to the last of them.
# It reports, per binary, medians over the rounds of: the total bytes per second of step 2
# (payload produced + payload the three readers got, over the time until the last one is
# done), the broker's CPU (user+system, /proc) per GB of that payload, and the produce p99
# with and without the readers; and the ratios of the first binary's medians to the second's.
# Two copies of one binary (an A/A run) show the noise of this machine for the bar's ratios.
#
# Usage: scripts/bench-readers.sh NEW_KFK OLD_KFK [runs, default 5]
#   e.g. scripts/bench-readers.sh target/release/kfk /tmp/kfk-main/target/release/kfk 5
# Env: RECORDS (default 3000000), PRE (default 1000000), SIZE (record bytes, default 100).
# The clients are always target/release/kfk, so only the broker differs.
set -euo pipefail
cd "$(dirname "$0")/.."
new=${1:?usage: scripts/bench-readers.sh NEW_KFK OLD_KFK [runs]}
old=${2:?usage: scripts/bench-readers.sh NEW_KFK OLD_KFK [runs]}
runs=${3:-5}
records=${RECORDS:-3000000}
pre=${PRE:-1000000}
size=${SIZE:-100}
cargo build --release -q
client=target/release/kfk
work=target/bench-readers
rm -rf "$work" && mkdir -p "$work"
tick=$(getconf CLK_TCK)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null || true' EXIT
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
load_note >&2

cpu() { awk -v t="$tick" '{print ($14+$15)/t}' "/proc/$pid/stat"; }
now() { date +%s.%N; }
p99() { awk -F', *' '{for (i=1;i<=NF;i++) if ($i ~ /99th$/) {split($i, a, " "); print a[1]}}'; }

start() { # binary dir -> sets pid, bs
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$1" broker start --data-dir "$2/data" --listeners "PLAINTEXT://127.0.0.1:$port" \
    2>"$2/broker.log" &
  pid=$!
  bs=127.0.0.1:$port
  until "$client" topics --bootstrap-server "$bs" --list >/dev/null 2>&1; do sleep 0.05; done
}

produce() { # count -> the tool's summary line
  "$client" producer-perf-test --topic readers --num-records "$1" --record-size "$size" \
    --throughput -1 --producer-props "bootstrap.servers=$bs" acks=1 linger.ms=5 | tail -1
}

round() { # kind binary round
  local dir=$work/$1-$3 c0 c1 t0 t1 out readers=() r total
  mkdir -p "$dir"
  start "$2" "$dir"
  "$client" topics --bootstrap-server "$bs" --create --topic readers --partitions 1 >/dev/null
  record p99-alone "$1" "$(produce "$pre" | p99)"
  c0=$(cpu)
  t0=$(now)
  for r in 1 2 3; do
    "$client" consumer-perf-test --bootstrap-server "$bs" --topic readers --group "r$r-$3" \
      --messages "$((pre + records))" --timeout 60000 --hide-header >"$dir/reader-$r" &
    readers+=($!)
  done
  out=$(produce "$records")
  for r in "${readers[@]}"; do wait "$r"; done
  t1=$(now)
  c1=$(cpu)
  record p99-readers "$1" "$(echo "$out" | p99)"
  total=$(((records + 3 * (pre + records)) * size))
  record bytes-per-s "$1" "$(echo "$total / ($t1 - $t0)" | bc -l)"
  record cpu-per-gb "$1" "$(echo "($c1 - $c0) / ($total / 1000000000)" | bc -l)"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
  rm -rf "$dir/data"
}

# ABBA order: which binary goes first alternates too (the first of a pair ran measurably
# differently in A/A runs).
for i in $(seq "$runs"); do
  if [ $((i % 2)) = 1 ]; then
    round new "$new" "$i"
    round old "$old" "$i"
  else
    round old "$old" "$i"
    round new "$new" "$i"
  fi
  echo "round $i done" >&2
done

echo "| median of $runs rounds | $new | $old | ratio |"
echo "| --- | --- | --- | --- |"
for m in "bytes-per-s:total MB/s (produce + 3 readers)" "cpu-per-gb:broker CPU s/GB" \
  "p99-alone:produce p99 alone, ms" "p99-readers:produce p99 with 3 readers, ms"; do
  a=$(median "$work/${m%%:*}.new")
  b=$(median "$work/${m%%:*}.old")
  if [ "${m%%:*}" = bytes-per-s ]; then a=$(echo "$a/1000000" | bc -l); b=$(echo "$b/1000000" | bc -l); fi
  awk -v l="${m#*:}" -v a="$a" -v b="$b" \
    'BEGIN { printf "| %s | %.2f | %.2f | %s |\n", l, a, b, (b == 0 ? "—" : sprintf("%.3f", a / b)) }'
done
