#!/usr/bin/env bash
# Replication throughput (issue 15, issue 25 item 16), outside `cargo test`: three kfk
# processes vs three Apache Kafka processes (the pinned reference jars, combined
# broker+controller nodes, -Xmx1G G1) on this machine, alternating kfk and Kafka, RUNS rounds
# (default 3). The same client for both: Kafka's ProducerPerformance, acks=all into a topic of
# 3 partitions, replication factor 3, min.insync.replicas 2, 100 B and 1 KiB records, linger
# 5 ms. Reports the three brokers' CPU seconds (user+system, /proc) per GB of payload,
# records/s with what limited them (the cores the client and the brokers used), and kfk's own
# RF 1 acks=1 on the same cluster. Prints medians as a Markdown table.
#
# Each cluster first takes one unrecorded pass of the very same workloads (its own topics), so
# the JVM brokers are measured after their JIT compilation, as a long-running Kafka is; kfk
# gets the same pass.
#
# Usage: scripts/bench-replication.sh [runs]   Env: SMALL (100 B records, default 1000000),
# LARGE (1 KiB records, default 200000).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
small=${SMALL:-1000000}
large=${LARGE:-200000}
ref=scripts/kafka-reference.sh
work=target/bench-replication
rm -rf "$work" && mkdir -p "$work"
cargo build --release -q
kfk=$(pwd)/target/release/kfk
$ref fetch >/dev/null
libs=$($ref classpath)
tick=$(getconf CLK_TCK)
pids=()
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
load_note >&2

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu() { local t=0 p; for p in "${pids[@]}"; do t=$(echo "$t + $(awk -v t="$tick" '{print ($14+$15)/t}' "/proc/$p/stat")" | bc -l); done; echo "$t"; }

start_cluster() { # kind dir -> sets pids, bs
  local dir=$2 i ports=() cports=() voters="" cluster
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  for i in 1 2 3; do ports+=("$(free_port)"); cports+=("$(free_port)"); done
  for i in 1 2 3; do voters+="${voters:+,}$i@127.0.0.1:${cports[$((i-1))]}"; done
  bs=127.0.0.1:${ports[0]},127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}
  pids=()
  if [ "$1" = kfk ]; then cluster=$("$kfk" storage random-uuid); else
    cluster=$(java -cp "$libs" kafka.tools.StorageTool random-uuid 2>/dev/null); fi
  for i in 1 2 3; do
    cat >"$dir/node-$i.properties" <<EOF
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:${ports[$((i-1))]},CONTROLLER://127.0.0.1:${cports[$((i-1))]}
advertised.listeners=PLAINTEXT://127.0.0.1:${ports[$((i-1))]}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data-$i
EOF
    if [ "$1" = kfk ]; then
      "$kfk" storage format --cluster-id="$cluster" -c "$dir/node-$i.properties" >/dev/null
      "$kfk" broker start --config "$dir/node-$i.properties" 2>"$dir/node-$i.log" &
      pids+=($!)
    else
      cat >"$dir/log4j2-$i.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = $dir/node-$i.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
EOF
      java -cp "$libs" -Dlog4j2.configurationFile="$dir/log4j2-$i.properties" \
        kafka.tools.StorageTool format -t "$cluster" -c "$dir/node-$i.properties" >/dev/null 2>&1
      # shellcheck disable=SC2086
      java -Xms1G -Xmx1G -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -Dlog4j2.configurationFile="$dir/log4j2-$i.properties" -cp "$libs" kafka.Kafka \
        "$dir/node-$i.properties" >"$dir/stdout-$i.log" 2>&1 &
      pids+=($!)
    fi
  done
  # Ready once a topic of replication factor 3 can be created.
  for _ in $(seq 600); do
    if $ref tool kafka-topics --bootstrap-server "$bs" --create --topic ready \
      --replication-factor 3 --partitions 1 >/dev/null 2>&1; then return; fi
    sleep 0.5
  done
  echo "bench-replication: the $1 cluster did not start; see $dir" >&2
  exit 1
}

stop_cluster() { # kind: records the largest broker peak RSS (VmHWM) first
  local p
  record rss "$1" "$(for p in "${pids[@]}"; do awk '/VmHWM/ {print $2/1024}' "/proc/$p/status"; done | sort -g | tail -1)"
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}

produce() { # kind label topic rf count size acks
  local out
  $ref tool kafka-topics --bootstrap-server "$bs" --create --topic "$3" --partitions 3 \
    --replication-factor "$4" --config min.insync.replicas="$(( $4 < 2 ? 1 : 2 ))" >/dev/null
  out=$(client "$2" "$1" "$(($5 * $6))" \
    "$ref" tool kafka-producer-perf-test --topic "$3" --num-records "$5" --record-size "$6" \
    --throughput -1 --producer-props "bootstrap.servers=$bs" "acks=$7" linger.ms=5 2>/dev/null | tail -1)
  record "$2-rps" "$1" "$(echo "$out" | awk -F'[ ,(]+' '{print $4}')"
}

pass() { # kind topic-prefix
  produce "$1" rf3-100 "$2rf3-small" 3 "$small" 100 all
  produce "$1" rf3-1024 "$2rf3-large" 3 "$large" 1024 all
  if [ "$1" = kfk ]; then
    produce "$1" rf1-100 "$2rf1-small" 1 "$small" 100 1
    produce "$1" rf1-1024 "$2rf1-large" 1 "$large" 1024 1
  fi
}

for round in $(seq "$runs"); do
  for kind in kfk kafka; do
    start_cluster "$kind" "$work/$kind-$round"
    recording=0
    pass "$kind" warm-
    recording=1
    pass "$kind" ""
    stop_cluster "$kind"
    echo "round $round: $kind done" >&2
  done
done

echo "| median of $runs rounds after a warm-up pass, 3 brokers, RF 3, acks=all | kfk | Apache Kafka | kfk / Kafka | what limited records/s |"
echo "| --- | --- | --- | --- | --- |"
row "brokers' CPU s/GB, 100 B" rf3-100-cpu "%.2f"
row "brokers' CPU s/GB, 1 KiB" rf3-1024-cpu "%.2f"
row "largest broker peak RSS, MiB" rss "%.1f"
row "produce 100 B, records/s" rf3-100-rps "%.0f" limits
row "produce 1 KiB, records/s" rf3-1024-rps "%.0f" limits
echo
echo "| kfk, median of $runs | RF 3 acks=all | RF 1 acks=1 | RF3 / RF1 |"
echo "| --- | --- | --- | --- |"
for size in 100 1024; do
  a=$(median "$work/rf3-$size-rps.kfk")
  b=$(median "$work/rf1-$size-rps.kfk")
  printf "| produce %s B, records/s | %.0f | %.0f | %.2f |\n" "$size" "$a" "$b" "$(echo "$a/$b" | bc -l)"
done
