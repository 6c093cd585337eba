#!/usr/bin/env bash
# Produce p99 latency on one connection with and without 600 idle long-polling fetches on
# another topic, on one fresh release broker, alternating runs (issue 11's bar: <= 1.2x).
#   scripts/bench-longpoll-latency.sh [RUNS] [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
count=${2:-5000}
cargo build --release --quiet --bin kfk --example produce_latency
dir=$(mktemp -d)
ulimit -n "$(ulimit -Hn)"
target/release/kfk broker start --listeners PLAINTEXT://127.0.0.1:0 --data-dir "$dir/data" \
  2> "$dir/broker.log" &
broker=$!
trap 'kill $broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do
  addr=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$dir/broker.log" | head -1 | cut -d' ' -f3) || true
  [ -n "${addr:-}" ] && break
  sleep 0.1
done
for run in $(seq "$runs"); do
  for parked in 0 600; do
    target/release/examples/produce_latency "$addr" "$parked" "$count" | sed "s/^/run=$run /"
  done
done
