#!/usr/bin/env bash
# Group coordinator scale check (issue 6): 200 kfk consumers in 20 groups heartbeat against one
# broker for 5 minutes (broker CPU and memory reported), then a Stable 50-member group where one
# member leaves (time from its LeaveGroup to the last member's SyncGroup answer).
# Usage: scripts/group-scale.sh [GROUPS MEMBERS SECONDS]  (defaults 20 10 300)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -j2 --release --bin kfk --example group_scale >/dev/null
groups=${1:-20}; members=${2:-10}; seconds=${3:-300}
dir=$(mktemp -d); trap 'kill $broker 2>/dev/null; rm -rf "$dir"' EXIT
target/release/kfk broker start --listeners PLAINTEXT://127.0.0.1:0 --data-dir "$dir/data" 2>"$dir/broker.log" &
broker=$!
for _ in $(seq 100); do grep -q "listening on" "$dir/broker.log" && break; sleep 0.1; done
port=$(grep -o "listening on 127.0.0.1:[0-9]*" "$dir/broker.log" | grep -o "[0-9]*$")
bootstrap=127.0.0.1:$port
ticks=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$broker/stat"; }
mem() { awk '/^VmRSS|^VmHWM/ {printf "%s %s MiB  ", $1, int($2/1024)}' "/proc/$broker/status"; }

echo "== $((groups * members)) consumers in $groups groups for $seconds s (broker at $bootstrap)"
target/release/examples/group_scale "$bootstrap" heartbeat "$groups" "$members" "$seconds" > "$dir/hb.out" 2>&1 &
client=$!
for _ in $(seq 1200); do grep -q READY "$dir/hb.out" && break; sleep 0.1; done
grep settled "$dir/hb.out"
c0=$(cpu); t0=$(date +%s.%N)
wait $client
c1=$(cpu); t1=$(date +%s.%N)
grep "after" "$dir/hb.out"
awk -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" \
  'BEGIN { s = (c1 - c0) / hz; w = t1 - t0; printf "broker CPU: %.2f s over %.0f s = %.2f%% of one core\n", s, w, 100 * s / w }'
echo "broker memory: $(mem)"

echo "== one member of a Stable 50-member group leaves"
target/release/examples/group_scale "$bootstrap" leave 50 2>&1 | grep -E "stable|LeaveGroup"
