#!/usr/bin/env bash
# kfk side by side with Apache Kafka (issue 13 item 6, issue 25 item 16), outside `cargo test`:
# the same machine, the same run, the same clients, against a release kfk broker and the pinned
# Apache Kafka (scripts/kafka-reference.sh start: default settings but for the
# group.initial.rebalance.delay.ms=0 of Kafka's shipped server.properties, also kfk's default;
# KRaft single node, -Xmx1G G1), each on a fresh data dir, alternating kfk and Kafka, RUNS rounds (default 3); prints
# medians as a Markdown table.
#
# Each broker first takes one unrecorded pass of the very same workloads (its own topics), so
# the JVM broker is measured after its JIT compilation, as a long-running Kafka is; kfk gets
# the same pass (page cache, allocator).
#
#   produce  Kafka's ProducerPerformance, 100 B and 1 KiB records, acks=1 and acks=all
#            (records/s; broker CPU seconds per GB of payload)
#   consume  kfk consumer-perf-test and kcat reading the 100 B topic from page cache (kcat's
#            time includes its start and the 500 ms fetch wait that tells it the end is reached)
#   latency  Kafka's EndToEndLatency (one record in flight, acks=1, 100 B): p50 / p99 ms
#   memory   broker peak RSS (VmHWM) after all of it; start: time until it answers
#
# For every client run it also records the cores the client and the broker used, and the
# table says which side limited records/s (scripts/bench-lib.sh, `limit`).
#
# Usage: scripts/bench-vs-kafka.sh [runs]   Env: SMALL (100 B records, default 2000000),
# LARGE (1 KiB records, default 400000), LAT (latency round trips, default 5000).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
small=${SMALL:-2000000}
large=${LARGE:-400000}
lat=${LAT:-5000}
ref=scripts/kafka-reference.sh
work=target/bench-vs-kafka
rm -rf "$work" && mkdir -p "$work"
cargo build --release -q
kfk=target/release/kfk
$ref fetch >/dev/null
command -v kcat >/dev/null || { echo "needs kcat"; exit 1; }
tick=$(getconf CLK_TCK)
pid=
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
load_note >&2

cpu() { awk -v t="$tick" '{print ($14+$15)/t}' "/proc/$pid/stat"; }
now() { date +%s.%N; }

start_broker() { # kind dir -> sets pid, bs; records start time
  local t0 port
  t0=$(now)
  if [ "$1" = kfk ]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$kfk" broker start --data-dir "$2/data" --listeners "PLAINTEXT://127.0.0.1:$port" \
      2>"$2/broker.log" &
    pid=$!
    bs=127.0.0.1:$port
    until "$kfk" topics --bootstrap-server "$bs" --list >/dev/null 2>&1; do sleep 0.02; done
  else
    bs=$(KAFKA_REFERENCE_PROPS=group.initial.rebalance.delay.ms=0 $ref start "$2" $$)
    pid=$(cat "$2/pid")
  fi
  record start "$1" "$(echo "$(now)-$t0" | bc -l)"
}

stop_broker() { # kind dir
  record rss "$1" "$(awk '/VmHWM/ {print $2/1024}' "/proc/$pid/status")"
  if [ "$1" = kfk ]; then kill "$pid"; wait "$pid" 2>/dev/null || true; else $ref stop "$2"; fi
}

produce() { # kind topic count size acks
  local out
  out=$(client "produce-$4-$5" "$1" "$(($3 * $4))" \
    "$ref" tool kafka-producer-perf-test --topic "$2" --num-records "$3" --record-size "$4" \
    --throughput -1 --producer-props "bootstrap.servers=$bs" "acks=$5" linger.ms=5 2>/dev/null | tail -1)
  record "produce-$4-$5-rps" "$1" "$(echo "$out" | awk -F'[ ,(]+' '{print $4}')"
}

consume() { # kind topic count size
  local out
  # fetch.nMsg.sec: records/s once the group has formed.
  out=$(client consume-perf "$1" "$(($3 * $4))" "$kfk" consumer-perf-test --bootstrap-server "$bs" \
    --topic "$2" --messages "$3" --hide-header | tail -1)
  record consume-perf-rps "$1" "$(echo "$out" | awk -F', *' '{print $10}')"
  # librdkafka 2.0.2 stops fetching once its queue holds queued.min.messages (100000 by
  # default) and looks again only on its 1 s timer: with the default, kcat's time is mostly
  # those pauses (more of them the faster a broker answers). Both brokers get the same value.
  client consume-kcat "$1" "$(($3 * $4))" kcat -b "$bs" -C -t "$2" -o beginning -e -q \
    -X queued.min.messages=10000000 >/dev/null
  record consume-kcat-rps "$1" "$(echo "$3/$(tail -1 "$work/consume-kcat-secs.$1" 2>/dev/null || echo 1)" | bc -l)"
}

latency() { # kind topic
  local out
  "$kfk" topics --bootstrap-server "$bs" --create --topic "$2" --partitions 1 >/dev/null 2>&1 || true
  out=$($ref tool kafka-e2e-latency "$bs" "$2" "$lat" 1 100 2>/dev/null)
  record latency-p50 "$1" "$(echo "$out" | awk '/Percentiles/ {gsub(",", ""); for (i=1;i<=NF;i++) if ($i=="50th") print $(i+2)}')"
  record latency-p99 "$1" "$(echo "$out" | awk '/Percentiles/ {gsub(",", ""); for (i=1;i<=NF;i++) if ($i=="99th") print $(i+2)}')"
}

pass() { # kind topic-prefix
  produce "$1" "$2small-1" "$small" 100 1
  produce "$1" "$2small-all" "$small" 100 all
  produce "$1" "$2large-1" "$large" 1024 1
  produce "$1" "$2large-all" "$large" 1024 all
  consume "$1" "$2small-1" "$small" 100
  latency "$1" "$2e2e"
}

for round in $(seq "$runs"); do
  for kind in kfk kafka; do
    dir="$work/$kind-$round"
    mkdir -p "$dir"
    start_broker "$kind" "$dir"
    recording=0
    pass "$kind" warm-
    recording=1
    pass "$kind" ""
    stop_broker "$kind" "$dir"
    echo "round $round: $kind done" >&2
  done
done

echo "| median of $runs rounds, after a warm-up pass | kfk | Apache Kafka | kfk / Kafka | what limited records/s |"
echo "| --- | --- | --- | --- | --- |"
row "broker CPU s/GB, produce 100 B acks=1" produce-100-1-cpu "%.2f"
row "broker CPU s/GB, produce 100 B acks=all" produce-100-all-cpu "%.2f"
row "broker CPU s/GB, produce 1 KiB acks=1" produce-1024-1-cpu "%.2f"
row "broker CPU s/GB, produce 1 KiB acks=all" produce-1024-all-cpu "%.2f"
row "broker CPU s/GB, consume (kfk consumer-perf-test)" consume-perf-cpu "%.2f"
row "broker CPU s/GB, consume (kcat)" consume-kcat-cpu "%.2f"
row "broker peak RSS, MiB" rss "%.1f"
row "produce 100 B acks=1, records/s" produce-100-1-rps "%.0f" limits
row "produce 100 B acks=all, records/s" produce-100-all-rps "%.0f" limits
row "produce 1 KiB acks=1, records/s" produce-1024-1-rps "%.0f" limits
row "produce 1 KiB acks=all, records/s" produce-1024-all-rps "%.0f" limits
row "consume 100 B (kfk consumer-perf-test), records/s" consume-perf-rps "%.0f" limits
row "consume 100 B (kcat), records/s" consume-kcat-rps "%.0f" limits
row "end-to-end latency p50, ms" latency-p50 "%.2f"
row "end-to-end latency p99, ms" latency-p99 "%.2f"
row "start until it answers, s" start "%.2f"
