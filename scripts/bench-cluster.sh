#!/usr/bin/env bash
# Control-plane figures of a 3-node kfk cluster on this machine (a report, not a test):
# CreateTopics latency p50/p99 (one topic of one partition at a time, acknowledged once the
# quorum committed it), topic creations per second, and each broker's RSS once the image
# holds 10,000 partitions.
# Usage: scripts/bench-cluster.sh [path/to/kfk] [creates]   (needs python3 with confluent_kafka)
set -euo pipefail
KFK=${1:-target/release/kfk}
CREATES=${2:-500}
DIR=$(mktemp -d)
PORT=29092
trap 'kill $CLUSTER 2>/dev/null; wait $CLUSTER 2>/dev/null; rm -rf "$DIR"' EXIT
"$KFK" dev cluster --nodes 3 --data-dir "$DIR" --port $PORT > "$DIR/cluster.out" 2>"$DIR/cluster.err" &
CLUSTER=$!
for _ in $(seq 1 120); do grep -q "bootstrap servers" "$DIR/cluster.out" 2>/dev/null && break; sleep 0.5; done
BOOT="127.0.0.1:$PORT,127.0.0.1:$((PORT+1)),127.0.0.1:$((PORT+2))"
python3 - "$BOOT" "$CREATES" <<'PY'
import sys, time
from confluent_kafka.admin import AdminClient, NewTopic
boot, n = sys.argv[1], int(sys.argv[2])
a = AdminClient({'bootstrap.servers': boot})
lat = []
start = time.time()
for i in range(n):
    t0 = time.time()
    for f in a.create_topics([NewTopic(f'bench-{i}', 1, 1)], operation_timeout=30).values():
        f.result()
    lat.append((time.time() - t0) * 1000)
took = time.time() - start
lat.sort()
print(f"CreateTopics (1 topic, 1 partition, sequential, {n}): p50 {lat[len(lat)//2]:.1f} ms, p99 {lat[int(len(lat)*0.99)]:.1f} ms, {n/took:.0f} creations/s")
for i in range(10):
    for f in a.create_topics([NewTopic(f'wide-{i}', 1000, 1)], operation_timeout=60).values():
        f.result()
md = a.list_topics(timeout=30)
print(f"partitions in the image: {sum(len(t.partitions) for t in md.topics.values())}")
PY
sleep 3
for pid in $(pgrep -P $CLUSTER); do
  echo "broker pid $pid RSS $(awk '/VmRSS/{print $2/1024 " MiB"}' /proc/$pid/status)"
done
